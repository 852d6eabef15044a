"""Learner on tiny models: it really learns, the LR policies are applied, and the inspection tools
(validate, top losses, plots, save/load, checkpoints) report what happened."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

import helpers
import tfclf
from tfclf import schedules, text
from tfclf.labels import MULTILABEL, REGRESSION


@pytest.fixture(scope="module")
def scratch(trained):
    """A second tiny model for the tests that train (the shared `trained` one must stay as is)."""
    tfclf.set_seed(1)
    t = trained.t
    return t.get_classifier()


def _learner(model, trained, val=None):
    return tfclf.get_learner(model, trained.trn, trained.val if val is None else val, batch_size=16, seed=0)


def _accuracy(learner, data):
    return float((learner.predict(data).argmax(axis=1) == data.targets).mean())


# --------------------------------------------------------------------------- it learns


def test_fit_onecycle_learns_the_toy_task(trained):
    # Before training the tiny model is at chance; after 3 epochs of 1cycle it separates the
    # sentiment words (measured: 100% validation accuracy; 0.95 leaves room for platform noise).
    assert trained.acc_before < 0.75
    assert _accuracy(trained.learner, trained.val) >= 0.95
    history = trained.learner.history.history
    assert len(history["loss"]) == trained.epochs
    assert history["val_loss"][-1] < 0.5 * history["val_loss"][0]


def test_fit_constant_lr_with_checkpoints(scratch, trained, tmp_path):
    learner = _learner(scratch, trained)
    learner.fit(2e-3, 2, checkpoint_folder=tmp_path / "ckpt", verbose=0)
    spe = trained.trn.num_batches(16)
    assert len(learner.recorder.lrs) == 2 * spe
    np.testing.assert_allclose(learner.recorder.lrs, 2e-3, rtol=1e-6)  # constant, every step
    assert len(set(learner.recorder.momentums)) == 1  # fit leaves beta_1 alone
    assert len(learner.recorder.losses) == 2 * spe and np.all(np.isfinite(learner.recorder.losses))
    # One weights file per epoch, and the last one is the model as it ended.
    assert sorted(p.name for p in (tmp_path / "ckpt").glob("weights-*")) == ["weights-01.h5", "weights-02.h5"]
    assert sorted(p.name for p in (tmp_path / "ckpt").glob("state-*")) == ["state-01.json", "state-02.json"]
    probs = learner.predict()
    other = _learner(trained.t.get_classifier(), trained)
    assert not np.allclose(other.predict(), probs, atol=1e-3)
    other.load_model(tmp_path / "ckpt" / "weights-02.h5")
    np.testing.assert_allclose(other.predict(), probs, atol=1e-6)


def test_fit_sgdr_applies_the_cosine_restarts(scratch, trained):
    learner = _learner(scratch, trained)
    learner.fit(1e-3, 2, cycle_len=1, cycle_mult=2, verbose=0)  # cycles of 1 and 2 epochs
    spe = trained.trn.num_batches(16)
    assert len(learner.history.history["loss"]) == 3
    expected = [schedules.sgdr_lr(s, spe, 1e-3, cycle_len=1, cycle_mult=2) for s in range(3 * spe)]
    np.testing.assert_allclose(learner.recorder.lrs, expected, rtol=1e-6)
    assert learner.recorder.lrs[spe] == pytest.approx(1e-3, rel=1e-6)  # the restart


def test_fit_onecycle_without_momentum_cycling(scratch, trained):
    learner = _learner(scratch, trained)
    beta = float(scratch.optimizer.beta_1.numpy())
    learner.fit_onecycle(1e-3, 1, cycle_momentum=False, verbose=0)
    np.testing.assert_allclose(learner.recorder.momentums, beta)
    np.testing.assert_allclose(learner.recorder.lrs, schedules.OneCycle(1e-3, len(learner.recorder.lrs)).lrs(),
                               rtol=1e-6)


def test_autofit_early_stopping_restores_the_best_epoch(scratch, trained):
    # Validation labels inverted: the better the model learns the training data, the worse its
    # validation loss, so early stopping must fire and bring back the best epoch's weights.
    t = trained.t
    x, y = helpers.toy_sentiment(64, seed=2)
    flipped = t.preprocess_test(x, ["neg" if v == "pos" else "pos" for v in y], verbose=0)
    learner = _learner(scratch, trained, val=flipped)
    lr, patience = 2e-3, 2
    learner.autofit(lr, epochs=None, early_stopping=patience, reduce_on_plateau=1, verbose=0)
    val_losses = learner.history.history["val_loss"]
    best = int(np.argmin(val_losses))
    assert len(val_losses) == best + patience + 1 < 20  # stopped `patience` epochs after the best
    restored = learner.model.evaluate(flipped.to_tf(32), verbose=0, return_dict=True)["loss"]
    assert restored == pytest.approx(min(val_losses), rel=1e-4)
    # The triangular policy, one cycle per epoch, its peak halved after each epoch without
    # improvement (reduce_on_plateau=1): replay that rule on the recorded validation losses.
    spe = trained.trn.num_batches(16)
    peak, best_loss, wait, expected = lr, np.inf, 0, []
    for v in val_losses:
        expected.extend(schedules.triangular_lr(s, spe, peak) for s in range(spe))
        if v < best_loss:
            best_loss, wait = v, 0
        else:
            wait += 1
            if wait >= 1:
                peak, wait = peak / 2, 0
    np.testing.assert_allclose(learner.recorder.lrs, expected, rtol=1e-6)
    assert peak < lr  # the reduction really happened


# --------------------------------------------------------------------------- inspection


def test_validate_prints_the_report_and_returns_the_confusion_matrix(trained, capsys, tmp_path):
    cm = trained.learner.validate(save_path=tmp_path / "report.txt")
    out = capsys.readouterr().out
    assert cm.shape == (2, 2) and cm.sum() == 64
    probs = trained.learner.predict()
    assert np.trace(cm) == int((probs.argmax(1) == trained.val.targets).sum())
    assert "precision" in out and "recall" in out and "neg" in out and "pos" in out  # names from config
    assert "precision" in (tmp_path / "report.txt").read_text()
    trained.learner.validate(class_names=["NEGATIVE", "POSITIVE"])
    assert "NEGATIVE" in capsys.readouterr().out
    with pytest.raises(ValueError, match="class_names has 3 names"):
        trained.learner.validate(class_names=["a", "b", "c"], print_report=False)


def test_top_losses(trained):
    learner = trained.learner
    probs = learner.predict()
    expected_loss = -np.log(probs[np.arange(len(probs)), trained.val.targets])
    top = learner.top_losses(n=5)
    assert len(top) == 5
    losses = [row[1] for row in top]
    assert losses == sorted(losses, reverse=True)  # worst first
    assert losses[0] == pytest.approx(expected_loss.max(), rel=1e-6)
    for idx, loss, truth, pred in top:
        assert isinstance(idx, int) and 0 <= idx < len(trained.val)
        assert loss == pytest.approx(expected_loss[idx], rel=1e-6, abs=1e-9)
        assert truth == int(trained.val.targets[idx]) and pred == int(probs[idx].argmax())
    named = learner.top_losses(n=5, preproc=trained.t)
    assert [r[:2] for r in named] == [r[:2] for r in top]
    assert all(r[2] == ["neg", "pos"][t[2]] and r[3] == ["neg", "pos"][t[3]] for r, t in zip(named, top))
    assert learner.top_losses(n=(1, 3)) == top[1:3]  # a range of ranks
    with pytest.raises(ValueError):
        learner.top_losses(n=(3, 1))


def test_view_top_losses_prints_the_text(trained, capsys):
    trained.learner.view_top_losses(n=2, preproc=trained.t)
    out = capsys.readouterr().out
    (i0, loss0, truth0, pred0), (i1, *_) = trained.learner.top_losses(n=2, preproc=trained.t)
    assert f"id:{i0} | loss:{loss0:.4f} | true:{truth0} | pred:{pred0}" in out
    assert trained.val.texts[i0] in out and trained.val.texts[i1] in out


def test_view_top_losses_truncates_long_texts(trained, capsys):
    t = trained.t
    long_text = " ".join(["good"] * 200)
    data = t.preprocess_test([long_text, "bad"], ["neg", "neg"], verbose=0)
    trained.learner.view_top_losses(n=1, val_data=data, max_chars=50)
    out = capsys.readouterr().out
    assert "good good" in out and " ..." in out and long_text not in out


@pytest.mark.parametrize("kind", ["lr", "momentum", "loss"])
def test_plot_returns_a_figure(trained, kind):
    import matplotlib.pyplot as plt

    fig = trained.learner.plot(kind, show=False)
    assert isinstance(fig, matplotlib.figure.Figure)
    line = fig.axes[0].get_lines()[0]
    # The first line is the recorded series, one point per step.
    assert len(line.get_xdata()) == len(trained.learner.recorder.lrs)
    if kind == "lr":
        np.testing.assert_allclose(line.get_ydata(), trained.learner.recorder.lrs)
    plt.close(fig)


def test_learning_curves_have_one_point_per_epoch(trained, tmp_path):
    import matplotlib.pyplot as plt

    history = trained.learner.history.history
    fig = trained.learner.plot("accuracy", show=False, save_path=tmp_path / "curves.png")
    train_line, val_line = fig.axes[0].get_lines()
    np.testing.assert_allclose(train_line.get_ydata(), history["accuracy"])
    np.testing.assert_allclose(val_line.get_ydata(), history["val_accuracy"])
    assert list(val_line.get_xdata()) == list(range(1, len(history["val_accuracy"]) + 1))
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    plt.close(fig)


def test_confusion_matrix_plot_shows_the_validation_counts(trained, tmp_path):
    import matplotlib.pyplot as plt

    cm = trained.learner.validate(print_report=False)
    fig = trained.learner.plot_confusion_matrix(show=False, save_path=tmp_path / "cm.svg")
    ax = fig.axes[0]
    cells = [int(t.get_text()) for t in ax.texts]
    assert cells == cm.ravel().tolist() and sum(cells) == len(trained.val)
    assert [t.get_text() for t in ax.get_xticklabels()] == trained.t.get_classes()
    assert f"{np.trace(cm) / cm.sum():.4f}" in ax.get_title()
    assert (tmp_path / "cm.svg").read_text().lstrip().startswith("<?xml")
    normalized = trained.learner.plot_confusion_matrix(show=False, normalize=True)
    rows = np.array([float(t.get_text()) for t in normalized.axes[0].texts]).reshape(cm.shape)
    np.testing.assert_allclose(rows.sum(axis=1), 1.0, atol=0.011)  # printed with 2 decimals
    plt.close("all")


def test_plot_errors(trained):
    with pytest.raises(ValueError, match="plot_type"):
        trained.learner.plot("f1_score", show=False)
    # a confusion matrix of the wrong shape: test_plots.py
    fresh = _learner(trained.learner.model, trained)  # a new Learner has recorded nothing
    with pytest.raises(RuntimeError, match="train first"):
        fresh.plot("lr", show=False)


def test_save_model_load_model_round_trip(trained, tmp_path):
    trained.learner.save_model(tmp_path / "saved")
    assert (tmp_path / "saved" / "tf_model.h5").is_file() and (tmp_path / "saved" / "config.json").is_file()
    other = _learner(trained.t.get_classifier(), trained)
    before = other.predict()
    other.load_model(tmp_path / "saved")
    expected = trained.learner.predict()
    assert not np.allclose(before, expected, atol=1e-3)  # a new model really differs
    np.testing.assert_allclose(other.predict(), expected, atol=1e-6)
    with pytest.raises(FileNotFoundError, match="no saved model"):
        other.load_model(tmp_path / "nothing-here")


def test_learner_argument_checks(trained):
    with pytest.raises(TypeError, match="tf.keras Model"):
        tfclf.get_learner("model", trained.trn)
    unlabeled = trained.t.preprocess_test(["good"], verbose=0)
    with pytest.raises(ValueError, match="has no labels"):
        tfclf.get_learner(trained.learner.model, unlabeled)
    with pytest.raises(TypeError, match="TextDataset"):
        tfclf.get_learner(trained.learner.model, (["x"], ["y"]))
    with pytest.raises(ValueError, match="batch_size"):
        tfclf.get_learner(trained.learner.model, trained.trn, batch_size=0)
    learner = tfclf.get_learner(trained.learner.model, trained.trn)
    with pytest.raises(ValueError, match="lr must be a positive"):
        learner.fit_onecycle(-1e-3, 1)
    with pytest.raises(ValueError, match="epochs"):
        learner.fit_onecycle(1e-3, 0)
    with pytest.raises(ValueError, match="no validation data"):
        learner.validate()
    from tfclf._compat import keras

    uncompiled = keras.Sequential([keras.layers.Dense(1, input_shape=(2,))])
    with pytest.raises(ValueError, match="not compiled"):
        tfclf.get_learner(uncompiled, trained.trn)


# --------------------------------------------------------------------------- multi-label


def test_multilabel_end_to_end(tiny_distilbert_dir, capsys, tmp_path):
    x, y = helpers.toy_multilabel(256, seed=3)
    vx, vy = helpers.toy_multilabel(64, seed=4)
    t = text.Transformer(str(tiny_distilbert_dir), maxlen=32, class_names=helpers.MULTILABEL_CLASSES)
    trn = t.preprocess_train(x, y, verbose=0)
    val = t.preprocess_test(vx, vy, verbose=0)
    assert t.mode_ == MULTILABEL and trn.targets.dtype == np.float32 and trn.targets.shape == (256, 3)
    tfclf.set_seed(0)
    learner = tfclf.get_learner(t.get_classifier(), trn, val, batch_size=16, seed=0)
    assert type(learner.model.loss.inner).__name__ == "BinaryCrossentropy"
    # Measured: 100% exact match after 3 epochs for seeds 0-4.
    learner.fit_onecycle(5e-3, 3, verbose=0)
    probs = learner.predict()
    assert probs.shape == (64, 3) and np.all((probs >= 0) & (probs <= 1))
    assert np.abs(probs.sum(axis=1) - 1).max() > 0.5  # sigmoid columns, not a softmax
    exact = float(np.all((probs >= 0.5) == vy.astype(bool), axis=1).mean())
    assert exact >= 0.95  # all three columns right (an untrained model gets about 1 in 8)
    cm = learner.validate()
    assert cm.shape == (3, 2, 2)  # one 2x2 matrix per label
    assert cm[:, 0, 0].sum() + cm[:, 1, 1].sum() >= 0.95 * 3 * 64
    assert "recommended" in capsys.readouterr().out
    # Thresholded predictions: lists of class names, here with two names or one.
    predictor = tfclf.get_predictor(learner.model, t)
    assert predictor.predict(["a good film i love", "awful and boring"]) == [["positive", "recommended"], ["negative"]]
    assert predictor.predict("great", return_proba=True).shape == (3,)
    predictor.threshold = float(predictor.predict_proba("great").max()) + 1e-6  # above every column
    assert predictor.predict(["great"]) == [[]]
    top = learner.top_losses(n=3, preproc=t)
    assert all(isinstance(r[2], list) and set(r[2]) <= set(helpers.MULTILABEL_CLASSES) for r in top)
    # The multi-label predictor survives a save / load with its mode and threshold.
    predictor.threshold = 0.5
    loaded = tfclf.load_predictor(predictor.save(tmp_path / "multilabel"))
    assert loaded.mode == MULTILABEL and loaded.get_classes() == helpers.MULTILABEL_CLASSES
    np.testing.assert_allclose(loaded.predict_proba(vx[:8]), predictor.predict_proba(vx[:8]), atol=1e-6)
    assert loaded.predict(vx[:8]) == predictor.predict(vx[:8])


# --------------------------------------------------------------------------- regression


def test_regression_end_to_end(tiny_distilbert_dir, toy_data, capsys, tmp_path):
    # Non-integer floats are regression targets: +0.75 for positive texts, -0.75 for negative.
    # (Centred on purpose: with targets 2.5 / 0.5 the tiny model spends 3 epochs learning the
    # mean and stops there, measured MAE 0.95.)
    x, y = toy_data["train"]
    vx, vy = toy_data["val"]
    score = {"pos": 0.75, "neg": -0.75}
    t = text.Transformer(str(tiny_distilbert_dir), maxlen=32)
    trn = t.preprocess_train(x, [score[v] for v in y], verbose=0)
    val = t.preprocess_test(vx, [score[v] for v in vy], verbose=0)
    assert t.mode_ == REGRESSION and t.get_classes() == ["target"]
    tfclf.set_seed(0)
    learner = tfclf.get_learner(t.get_classifier(), trn, val, batch_size=16, seed=0)
    before = learner.validate(print_report=False)
    learner.fit_onecycle(5e-3, 4, verbose=0)
    result = learner.validate()
    assert set(result) == {"mae", "mse"} and "MAE:" in capsys.readouterr().out
    # Measured MAE 0.02-0.06 for seeds 0-3; predicting 0 everywhere gives 0.75.
    assert result["mae"] < 0.25 < before["mae"]
    top = learner.top_losses(n=2)
    assert all(isinstance(r[2], float) and isinstance(r[3], float) for r in top)
    assert top[0][1] == pytest.approx((top[0][2] - top[0][3]) ** 2, rel=1e-5)  # squared error
    predictor = tfclf.get_predictor(learner.model, t)
    value = predictor.predict("good great love")
    assert isinstance(value, float) and abs(value - 0.75) < 0.3
    with pytest.raises(ValueError, match="regression"):
        predictor.explain("good movie", num_samples=20)
    loaded = tfclf.load_predictor(predictor.save(tmp_path / "regression"))
    assert loaded.predict(["bad awful"]) == pytest.approx(predictor.predict(["bad awful"]), abs=1e-5)


def test_ktrain_keyword_arguments_are_accepted(tiny_distilbert_dir, toy_data):
    # Ported ktrain scripts pass these; they must work, not raise TypeError.
    import tfclf
    from tfclf import text

    t = text.Transformer(str(tiny_distilbert_dir), maxlen=32)
    trn = t.preprocess_train(*toy_data["train"], verbose=0)
    val = t.preprocess_test(*toy_data["val"], verbose=0)
    learner = tfclf.get_learner(t.get_classifier(metrics=["accuracy"]), train_data=trn, val_data=val,
                                batch_size=32, eval_batch_size=32, workers=1, use_multiprocessing=False)
    learner.autofit(1e-3, 1, cycle_momentum=True, max_momentum=0.95, min_momentum=0.85,
                    class_weight={0: 1.0, 1: 2.0}, verbose=0)
    moms = learner.history.history["momentum"]
    lrs = learner.history.history["lr"]
    # momentum mirrors the triangular LR: lowest where the LR peaks
    assert int(np.argmin(moms)) == int(np.argmax(lrs))
    assert min(moms) >= 0.85 - 1e-6 and max(moms) <= 0.95 + 1e-6
    learner.fit_onecycle(lr=1e-3, epochs=1, class_weight={0: 1.0, 1: 1.0}, verbose=0)
    cm = learner.evaluate(test_data=val, print_report=False)
    assert cm.shape == (2, 2)
    with pytest.raises(ValueError, match="class_weight"):
        learner.fit(1e-3, 1, class_weight={"pos": 1.0}, verbose=0)
