"""Distillation (issue 29) on tiny models: the loss, the teacher called once, the student moving
towards the teacher, alpha 0 as plain training, multi-label and windows, and the errors."""

from __future__ import annotations

import numpy as np
import pytest

import helpers

import tfclf
from tfclf import text
from tfclf.distillation import _classes, teacher_soft_targets


@pytest.fixture(scope="module")
def toy():
    texts, labels = helpers.toy_sentiment(48, seed=11)
    return texts[:40], labels[:40], texts[40:], labels[40:]


@pytest.fixture(scope="module")
def teacher(tiny_distilbert_dir, toy):
    tfclf.set_seed(0)
    t = text.Transformer(str(tiny_distilbert_dir), maxlen=32)
    trn = t.preprocess_train(toy[0], toy[1], verbose=0)
    learner = tfclf.get_learner(t.get_classifier(), trn, batch_size=8, seed=0)
    learner.fit_onecycle(5e-3, 3, verbose=0)
    return tfclf.get_predictor(learner.model, t)


def _student(folder, toy, maxlen: int = 32, **reading):
    tfclf.set_seed(1)
    t = text.Transformer(str(folder), maxlen=maxlen, **reading)
    return t, t.preprocess_train(toy[0], toy[1], verbose=0), t.preprocess_test(toy[2], toy[3], verbose=0)


def _kl(p, q):
    p, q = np.clip(p, 1e-12, 1), np.clip(q, 1e-12, 1)
    return float(np.mean(np.sum(p * np.log(p / q), axis=1)))


def test_the_loss_is_plain_at_alpha_0_and_zero_soft_term_on_its_own_targets():
    from tfclf._compat import keras, tf

    loss_class, _ = _classes()
    inner = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    logits = tf.constant([[2.0, -1.0, 0.5], [0.1, 0.2, 3.0]])
    ids = np.array([[0.0], [2.0]], dtype=np.float32)
    soft = tf.nn.softmax(logits / 3.0).numpy()
    y = tf.constant(np.concatenate([ids, soft], axis=1))
    plain = inner.call(tf.constant(ids, tf.int64), logits).numpy()
    np.testing.assert_allclose(loss_class(inner, "multiclass", 3, 3.0, 0.0).call(y, logits).numpy(), plain, rtol=1e-6)
    # the student already matches the soft targets: only the hard term is left, scaled by 1 - alpha
    np.testing.assert_allclose(loss_class(inner, "multiclass", 3, 3.0, 0.7).call(y, logits).numpy(), 0.3 * plain,
                               rtol=1e-5, atol=1e-6)
    # validation targets carry no soft columns: the plain loss
    np.testing.assert_allclose(loss_class(inner, "multiclass", 3, 3.0, 0.7).call(tf.constant(ids), logits).numpy(),
                               plain, rtol=1e-6)


def test_the_student_moves_towards_the_teacher_which_runs_once(tiny_distilbert_dir, teacher, toy):
    t, trn, val = _student(tiny_distilbert_dir, toy)
    learner = tfclf.get_learner(t.get_classifier(), trn, val, batch_size=8, seed=0, teacher=teacher,
                                distill_temperature=2.0, distill_alpha=1.0)
    target = teacher.predict_proba(toy[0])
    before = _kl(target, tfclf.get_predictor(learner.model, t).predict_proba(toy[0]))

    def refuse(*_):
        raise AssertionError("the teacher ran again during training")

    teacher._fn = refuse  # the cached forward pass: any further call fails
    try:
        learner.fit_onecycle(5e-3, 3, verbose=0)
    finally:
        teacher._fn = None
    after = _kl(target, tfclf.get_predictor(learner.model, t).predict_proba(toy[0]))
    assert after < 0.5 * before, (before, after)
    history = learner.history.history
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(history)
    assert learner.distillation_["temperature"] == 2.0 and learner.distillation_["teacher_classes"] == ["neg", "pos"]
    assert learner.train_data.targets.shape == (40, 3) and trn.targets.ndim == 1  # the user's data untouched
    learner.set_weight_decay(0.01)  # a recompile keeps the distillation loss
    learner.fit_onecycle(1e-3, 1, verbose=0)
    assert np.isfinite(learner.history.history["loss"]).all()


def test_alpha_0_trains_like_plain_training(tiny_distilbert_dir, teacher, toy):
    from tfclf._compat import transformers

    def run(**distill):
        t, trn, val = _student(tiny_distilbert_dir, toy)
        model = t.get_classifier()
        for layer in model.submodules:  # no dropout: the two runs draw no random masks
            if isinstance(layer, transformers.modeling_tf_utils.keras.layers.Dropout):
                layer.rate = 0.0
        start = [w.copy() for w in START] if START else None
        if start is None:
            START.extend(w.copy() for w in model.get_weights())
        else:
            model.set_weights(start)
        learner = tfclf.get_learner(model, trn, val, batch_size=8, seed=0, **distill)
        learner.fit_onecycle(5e-3, 1, verbose=0)
        return learner.model.get_weights(), learner.history.history["loss"]

    START: list = []
    plain_weights, plain_loss = run()
    distilled_weights, distilled_loss = run(teacher=teacher, distill_alpha=0.0)
    np.testing.assert_allclose(distilled_loss, plain_loss, rtol=1e-5)
    for a, b in zip(plain_weights, distilled_weights):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_windows_and_multilabel(tiny_distilbert_dir, teacher, toy):
    t, trn, _ = _student(tiny_distilbert_dir, toy, maxlen=8, max_windows=3)
    assert len(trn) > trn.n_docs  # some texts are read as several windows
    soft = teacher_soft_targets(teacher, trn, 2.0)
    assert soft.shape == (len(trn), 2)
    for doc in np.unique(trn.doc_ids):  # a text's windows share its soft targets
        rows = soft[trn.doc_ids == doc]
        assert np.allclose(rows, rows[0])

    texts, tags = helpers.toy_multilabel(40, seed=3)
    mt = text.Transformer(str(tiny_distilbert_dir), maxlen=32)
    mtrn = mt.preprocess_train(texts, tags, verbose=0)
    mlearner = tfclf.get_learner(mt.get_classifier(), mtrn, batch_size=8, seed=0)
    mlearner.fit_onecycle(5e-3, 1, verbose=0)
    mteacher = tfclf.get_predictor(mlearner.model, mt)
    student = tfclf.get_learner(mt.get_classifier(), mtrn, batch_size=8, seed=0, teacher=mteacher, distill_alpha=0.5)
    assert student.train_data.targets.shape == (40, 2 * len(mt.get_classes()))
    student.fit_onecycle(5e-3, 1, verbose=0)
    assert np.isfinite(student.history.history["loss"]).all()


def test_bad_teachers_and_settings_get_clear_errors(tiny_distilbert_dir, teacher, toy):
    t, trn, _ = _student(tiny_distilbert_dir, toy)
    with pytest.raises(ValueError, match="distill_alpha must be a number in"):
        tfclf.get_learner(t.get_classifier(), trn, teacher=teacher, distill_alpha=1.5)
    with pytest.raises(ValueError, match="distill_temperature"):
        tfclf.get_learner(t.get_classifier(), trn, teacher=teacher, distill_temperature=0)
    with pytest.raises(TypeError, match="teacher must be a tfclf predictor"):
        tfclf.get_learner(t.get_classifier(), trn, teacher="a folder")
    other = text.Transformer(str(tiny_distilbert_dir), maxlen=32)
    otrn = other.preprocess_train(["good", "bad", "fine"], ["a", "b", "c"], verbose=0)
    with pytest.raises(ValueError, match="are not the student's"):
        tfclf.get_learner(other.get_classifier(), otrn, teacher=teacher)
    learner = tfclf.get_learner(t.get_classifier(), trn, batch_size=8, teacher=teacher)
    with pytest.raises(ValueError, match="class_weight and a teacher do not combine"):
        learner.fit_onecycle(1e-3, 1, verbose=0, class_weight={0: 1.0, 1: 2.0})
