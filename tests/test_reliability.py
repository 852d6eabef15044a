"""Bad input gets a clear error of the right type before any TensorFlow work; faults lose nothing;
training is repeatable. Each row of the tables below is one bad input and what it must get."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import helpers

import tfclf
from tfclf import text


@pytest.fixture(scope="module")
def fitted(tiny_distilbert_dir):
    """A Transformer with labels learned (no model needed for input checks)."""
    t = text.Transformer(str(tiny_distilbert_dir), maxlen=32)
    t.preprocess_train(*helpers.toy_sentiment(16, seed=0), verbose=0)
    return t


# -- Transformer and preprocessing ----------------------------------------------------------------
TRANSFORMER_ARGS = [
    ({"maxlen": 1}, ValueError, "maxlen"),
    ({"maxlen": 0}, ValueError, "maxlen"),
    ({"maxlen": "128"}, TypeError, "maxlen"),
    ({"maxlen": 12.5}, TypeError, "maxlen"),
    ({"batch_size": 0}, ValueError, "batch_size"),
    ({"class_names": ["a"], "classes": ["b"]}, ValueError, "class_names"),
    ({"class_names": "ab"}, TypeError, "class_names"),
    ({"class_names": ["a", 1]}, TypeError, "class_names"),
    ({"class_names": ["a", "a"]}, ValueError, "duplicates"),
    ({"multilabel": "yes"}, TypeError, "multilabel"),
]


@pytest.mark.parametrize("name", [None, "", "   ", 42])
def test_transformer_rejects_a_bad_model_name_at_once(name):
    with pytest.raises(TypeError, match="model_name"):
        text.Transformer(name)


@pytest.mark.parametrize("kwargs, error, word", TRANSFORMER_ARGS)
def test_transformer_rejects_bad_arguments(tiny_distilbert_dir, kwargs, error, word):
    with pytest.raises(error, match=word):
        text.Transformer(str(tiny_distilbert_dir), **kwargs)


def test_maxlen_beyond_the_model_is_refused(tiny_distilbert_dir):
    with pytest.raises(ValueError, match="maxlen=65 is more than"):
        text.Transformer(str(tiny_distilbert_dir), maxlen=65).preprocess_train(["good", "bad"], ["p", "n"])


# A model folder without weights and an unresolvable model name: test_models.py.


TRAIN_INPUTS = [
    ([], [], ValueError, "empty"),
    (None, ["a"], TypeError, "texts"),
    ("one string", ["a"], TypeError, "list of strings"),
    (["ok", None], ["a", "b"], TypeError, r"texts\[1\]"),
    (["ok", b"bytes"], ["a", "b"], TypeError, "decode"),
    (["ok", 3], ["a", "b"], TypeError, r"texts\[1\]"),
    (["a", "b", "c"], ["x", "y"], ValueError, "different lengths"),
    (["a", "b"], None, ValueError, "labels"),
    (["a", "b"], ["x", "x"], ValueError, "at least 2 classes"),
    (["a", "b"], [0, float("nan")], ValueError, "finite"),
    (["a", "b"], [0, -1], ValueError, ">= 0"),
    (["a", "b"], [[0, 0], [0, 0]], ValueError, "one-hot|all zeros"),
    (["a", "b"], ["x", 1], TypeError, "mix"),
]


@pytest.mark.parametrize("texts, y, error, word", TRAIN_INPUTS)
def test_preprocess_train_rejects_bad_input(tiny_distilbert_dir, texts, y, error, word):
    t = text.Transformer(str(tiny_distilbert_dir), maxlen=16)
    with pytest.raises(error, match=word):
        t.preprocess_train(texts, y, verbose=0)


def test_label_not_in_class_names(tiny_distilbert_dir):
    t = text.Transformer(str(tiny_distilbert_dir), maxlen=16, class_names=["neg", "pos"])
    with pytest.raises(ValueError, match="'maybe'.*not one of the classes"):
        t.preprocess_train(["a", "b", "c"], ["pos", "neg", "maybe"], verbose=0)


def test_training_labels_from_one_class_of_several(tiny_distilbert_dir):
    t = text.Transformer(str(tiny_distilbert_dir), maxlen=16, class_names=["neg", "pos"])
    with pytest.raises(ValueError, match="only one class \\('pos'\\)"):
        t.preprocess_train(["a", "b"], ["pos", "pos"], verbose=0)


def test_out_of_range_id_with_class_names(tiny_distilbert_dir):
    t = text.Transformer(str(tiny_distilbert_dir), maxlen=16, class_names=["neg", "pos"])
    with pytest.raises(ValueError, match="out of range"):
        t.preprocess_train(["a", "b", "c"], [0, 1, 2], verbose=0)


def test_all_zero_multi_hot_rows(tiny_distilbert_dir):
    t = text.Transformer(str(tiny_distilbert_dir), maxlen=16, multilabel=True)
    with pytest.raises(ValueError, match="all zeros"):
        t.preprocess_train(["a", "b"], np.zeros((2, 3)), verbose=0)


def test_preprocess_test_rejects_unknown_label(fitted):
    with pytest.raises(ValueError, match="not one of the classes"):
        fitted.preprocess_test(["a"], ["unknown"], verbose=0)


def test_a_one_megabyte_document_is_truncated_fast(fitted):
    doc = ("good " * 200_000)[:1_000_000]
    fitted.encode(["warm up"])
    start = time.perf_counter()
    ids = fitted.encode([doc])[0]
    elapsed = time.perf_counter() - start
    assert len(ids) == fitted.maxlen
    # The whole megabyte through the tokenizer takes ~0.3 s here; the cut text a few ms.
    assert elapsed < 0.1, elapsed
    # Same tokens as tokenizing the whole document and truncating.
    full = fitted.get_tokenizer()(doc, truncation=True, max_length=fitted.maxlen)["input_ids"]
    assert ids == full


def test_long_whitespace_runs_fall_back_to_the_whole_text(fitted):
    doc = "good" + " " * 5000 + " ".join(["bad"] * 100)
    full = fitted.get_tokenizer()(doc, truncation=True, max_length=fitted.maxlen)["input_ids"]
    assert fitted.encode([doc])[0] == full


# -- Learner --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_learner(tiny_distilbert_dir):
    tfclf.set_seed(0)
    t = text.Transformer(str(tiny_distilbert_dir), maxlen=32)
    trn = t.preprocess_train(*helpers.toy_sentiment(64, seed=3), verbose=0)
    val = t.preprocess_test(*helpers.toy_sentiment(16, seed=4), verbose=0)
    return t, trn, val, t.get_classifier()


LEARNER_ARGS = [
    ({"batch_size": 0}, ValueError, "batch_size"),
    ({"batch_size": -3}, ValueError, "batch_size"),
    ({"batch_size": 2.5}, ValueError, "batch_size"),
    ({"eval_batch_size": 0}, ValueError, "eval_batch_size"),
]


@pytest.mark.parametrize("kwargs, error, word", LEARNER_ARGS)
def test_get_learner_rejects_bad_arguments(small_learner, kwargs, error, word):
    _, trn, val, model = small_learner
    with pytest.raises(error, match=word):
        tfclf.get_learner(model, trn, val, **kwargs)


def test_get_learner_rejects_wrong_data_types(small_learner):
    _, trn, _, model = small_learner
    with pytest.raises(TypeError, match="train_data must be a TextDataset"):
        tfclf.get_learner(model, (["a"], [0]))
    with pytest.raises(TypeError, match="model must be a tf.keras Model"):
        tfclf.get_learner("model", trn)


FIT_ARGS = [
    ("fit_onecycle", (0, 1), ValueError, "lr"),
    ("fit_onecycle", (-1e-3, 1), ValueError, "lr"),
    ("fit_onecycle", (float("nan"), 1), ValueError, "lr"),
    ("fit_onecycle", ("1e-3", 1), TypeError, "lr"),
    ("fit_onecycle", (1e-3, 0), ValueError, "epochs"),
    ("fit", (1e-3, 0), ValueError, "n_cycles"),
    ("autofit", (0,), ValueError, "lr"),
    ("lr_find", (), None, None),
]


@pytest.mark.parametrize("method, args, error, word", [row for row in FIT_ARGS if row[2] is not None])
def test_fit_methods_reject_bad_arguments_before_training(small_learner, method, args, error, word):
    _, trn, val, model = small_learner
    learner = tfclf.get_learner(model, trn, val, batch_size=8)
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(error, match=word):
        getattr(learner, method)(*args)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


@pytest.mark.parametrize("kwargs, word", [({"start_lr": 0}, "start_lr"), ({"start_lr": 1.0, "end_lr": 0.1}, "start_lr"),
                                          ({"max_steps": 0}, "max_steps")])
def test_lr_find_rejects_bad_arguments(small_learner, kwargs, word):
    _, trn, _, model = small_learner
    with pytest.raises(ValueError, match=word):
        tfclf.get_learner(model, trn, batch_size=8).lr_find(verbose=0, **kwargs)


# -- Predictor ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def predictor(trained):
    return tfclf.get_predictor(trained.learner.model, trained.t)


PREDICT_INPUTS = [
    ([], ValueError, "empty"),
    (None, TypeError, "None"),
    (b"bytes", TypeError, "bytes"),
    ([b"bytes"], TypeError, "decode"),
    (["ok", None], TypeError, r"texts\[1\]"),
    (42, TypeError, "list of strings"),
]


@pytest.mark.parametrize("texts, error, word", PREDICT_INPUTS)
def test_predict_rejects_bad_input(predictor, texts, error, word):
    with pytest.raises(error, match=word):
        predictor.predict(texts)
    with pytest.raises(error, match=word):
        predictor.predict_proba(texts)


def test_empty_and_whitespace_texts_have_a_defined_prediction(predictor):
    # Documented: classified from the special tokens alone, like any other text.
    probs = predictor.predict_proba(["", "   ", "\n\t"])
    np.testing.assert_allclose(probs, np.repeat(probs[:1], 3, axis=0), atol=1e-6)
    assert predictor.predict("") in predictor.get_classes()


# Bad input to explain: EXPLAIN_INPUTS in test_explain.py.


def test_load_predictor_on_a_missing_folder_or_a_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        tfclf.load_predictor(tmp_path / "nothing-here")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(FileNotFoundError, match="is a file"):
        tfclf.load_predictor(tmp_path / "file.txt")
    with pytest.raises(TypeError, match="path"):
        tfclf.load_predictor(None)


def test_save_never_replaces_a_file_or_a_folder_that_is_not_a_predictor(predictor, tmp_path):
    (tmp_path / "notes.txt").write_text("precious")
    with pytest.raises(FileExistsError, match="not a folder"):
        predictor.save(tmp_path / "notes.txt")
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "thesis.tex").write_text("precious")
    with pytest.raises(FileExistsError, match="not a tfclf predictor"):
        predictor.save(tmp_path / "work")
    assert (tmp_path / "work" / "thesis.tex").read_text() == "precious"
    assert (tmp_path / "notes.txt").read_text() == "precious"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(max_size=300), min_size=1, max_size=6))
def test_any_unicode_gives_finite_probabilities_that_sum_to_one(predictor, texts):
    probs = predictor.predict_proba(texts)
    assert probs.shape == (len(texts), 2)
    assert np.all(np.isfinite(probs))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=2000))
def test_tokenizer_path_handles_any_unicode(predictor, doc):
    ids = predictor.preproc.encode([doc])[0]
    assert 2 <= len(ids) <= predictor.preproc.maxlen


def test_emoji_rtl_and_control_characters(predictor):
    texts = ["good 😀🎉", "שלום עולם مرحبا بالعالم", "bad\x00\x01\x1b[31m\u200b\ufeff", "\U0010ffff" * 50]
    probs = predictor.predict_proba(texts)
    assert np.all(np.isfinite(probs)) and probs.shape == (4, 2)


# -- faults during training -----------------------------------------------------------------------
class _PoisonAt:
    """Makes the loss NaN from a given step on by poisoning a weight (a real numerical blow-up)."""

    def __init__(self, step: int):
        from tfclf._compat import keras

        outer = self

        class Cb(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.seen = 0

            def on_train_batch_begin(self, batch, logs=None):
                self.seen += 1
                if self.seen == outer.step:
                    w = self.model.classifier.kernel
                    w.assign(np.full(w.shape, np.nan, dtype=np.float32))

        self.step = step
        self.callback = Cb()


def test_nan_loss_stops_training_and_restores_the_best_weights(small_learner, capsys):
    _, trn, val, _ = small_learner
    t = small_learner[0]
    tfclf.set_seed(1)
    learner = tfclf.get_learner(t.get_classifier(), trn, val, batch_size=8, seed=0)
    learner.fit_onecycle(5e-3, 1, verbose=0)
    good = [w.copy() for w in learner.model.get_weights()]
    poison = _PoisonAt(step=3)
    learner.fit_onecycle(5e-3, 2, callbacks=[poison.callback], verbose=0)
    out = capsys.readouterr().out
    assert "training stopped: the loss became nan" in out
    # Stopped in the first epoch of the new fit: the best weights seen are those it started from.
    assert all(np.array_equal(a, b) for a, b in zip(good, learner.model.get_weights()))
    assert len(learner.history.history["lr"]) == 3
    assert all(np.all(np.isfinite(v.numpy())) for v in learner.model.optimizer.variables)
    assert np.all(np.isfinite(learner.predict(val)))
    learner.fit_onecycle(1e-3, 1, verbose=0)  # and training goes on
    assert math.isfinite(learner.history.history["loss"][-1])


def test_ctrl_c_during_fit_leaves_the_learner_usable(small_learner):
    from tfclf._compat import keras

    t, trn, val, _ = small_learner
    learner = tfclf.get_learner(t.get_classifier(), trn, val, batch_size=8, seed=0)

    class Interrupt(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 2:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        learner.fit_onecycle(1e-3, 2, callbacks=[Interrupt()], verbose=0)
    assert len(learner.history.history["lr"]) == 3  # the steps that ran are recorded
    assert np.all(np.isfinite(learner.predict(val)))
    learner.fit_onecycle(1e-3, 1, verbose=0)
    assert learner.history.history["loss"]




def test_interrupted_training_resumes_to_the_same_result(tiny_distilbert_dir, tmp_path):
    from tfclf._compat import keras

    def build():
        tfclf.set_seed(7)
        t = text.Transformer(str(tiny_distilbert_dir), maxlen=32)
        trn = t.preprocess_train(*helpers.toy_sentiment(48, seed=5), verbose=0)
        from tfclf.classifier import compile_classifier

        model = t.get_classifier()
        for layer in model.submodules:  # dropout off: its masks are not part of a checkpoint
            if isinstance(layer, keras.layers.Dropout):
                layer.rate = 0.0
        compile_classifier(model, "multiclass")
        return tfclf.get_learner(model, trn, batch_size=8, seed=11)

    straight = build()
    straight.fit_onecycle(3e-3, 3, verbose=0)
    expected = straight.model.get_weights()

    folder = tmp_path / "ckpt"
    first = build()

    class CtrlCInEpoch2(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            if self.epoch == 1 and batch == 2:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        first.fit_onecycle(3e-3, 3, checkpoint_folder=folder, callbacks=[CtrlCInEpoch2()], verbose=0)
    assert sorted(p.name for p in folder.glob("state-*.json")) == ["state-01.json"]

    resumed = build()  # a fresh process would rebuild the same way
    resumed.fit_onecycle(3e-3, 3, checkpoint_folder=folder, resume=True, verbose=0)
    for a, b in zip(expected, resumed.model.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert (folder / "state-03.json").is_file()


def test_resume_refuses_a_checkpoint_from_other_settings(small_learner, tmp_path):
    t, trn, _, _ = small_learner
    learner = tfclf.get_learner(t.get_classifier(), trn, batch_size=8, seed=0)
    learner.fit_onecycle(1e-3, 1, checkpoint_folder=tmp_path, verbose=0)
    with pytest.raises(FileNotFoundError, match="same lr, epochs"):
        learner.fit_onecycle(2e-3, 1, checkpoint_folder=tmp_path, resume=True, verbose=0)


# -- reproducibility ------------------------------------------------------------------------------
def test_same_seed_same_weights_on_cpu(tiny_distilbert_dir):
    def run():
        tfclf.set_seed(123)
        t = text.Transformer(str(tiny_distilbert_dir), maxlen=32)
        trn = t.preprocess_train(*helpers.toy_sentiment(48, seed=5), verbose=0)
        learner = tfclf.get_learner(t.get_classifier(), trn, batch_size=8, seed=123)
        learner.fit_onecycle(3e-3, 2, verbose=0)
        return learner.model.get_weights()

    first, second = run(), run()
    # Documented tolerance: identical up to float32 reduction order (here: bit-identical).
    for a, b in zip(first, second):
        np.testing.assert_allclose(a, b, atol=1e-6)
