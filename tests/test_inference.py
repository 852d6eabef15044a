"""tfclf.inference: logits -> probabilities per mode, the per-example loss, and the forward path
(`LogitsFunction`, `predict_logits`, `predict_documents`) that sorts documents by length into
batches and must give every row back in input order."""

from __future__ import annotations

import math
import random
from types import SimpleNamespace

import numpy as np
import pytest

import helpers

from tfclf.data import TextDataset
from tfclf.inference import LogitsFunction, per_example_loss, predict_documents, predict_logits, to_probabilities
from tfclf.labels import MULTICLASS, MULTILABEL, REGRESSION

CLS, SEP = helpers.VOCAB.index("[CLS]"), helpers.VOCAB.index("[SEP]")


def _softmax(z):
    e = np.exp(np.asarray(z, dtype=np.float64))
    return e / e.sum(axis=1, keepdims=True)


# --------------------------------------------------------------------------- to_probabilities


def test_multiclass_probabilities_are_a_softmax_whose_rows_sum_to_one():
    logits = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [-5.0, 10.0, 0.5]], dtype=np.float32)
    probs = to_probabilities(logits, MULTICLASS)
    assert probs.dtype == np.float64 and probs.shape == (3, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(probs, _softmax(logits), rtol=1e-12)
    np.testing.assert_allclose(probs[1], [1 / 3] * 3, rtol=1e-12)
    assert (probs.argmax(axis=1) == logits.argmax(axis=1)).all()
    # shifting a row's logits changes nothing; huge logits neither overflow nor give NaN
    np.testing.assert_allclose(to_probabilities(logits + 100.0, MULTICLASS), probs, rtol=1e-9)
    extreme = to_probabilities(np.array([[1000.0, -1000.0], [-1e30, 1e30]]), MULTICLASS)
    np.testing.assert_array_equal(extreme, [[1.0, 0.0], [0.0, 1.0]])


def test_multilabel_probabilities_are_independent_sigmoids():
    logits = np.array([[0.0, 2.0, -2.0], [5.0, 5.0, 5.0]])
    probs = to_probabilities(logits, MULTILABEL)
    np.testing.assert_allclose(probs, 1.0 / (1.0 + np.exp(-logits)), rtol=1e-12)
    assert probs[0, 0] == 0.5 and probs[0, 1] == pytest.approx(1 - probs[0, 2])
    assert probs[1].sum() > 2  # not normalised per row: each class on its own


def test_regression_values_pass_through():
    values = np.array([[0.5], [-3.25], [1e6]], dtype=np.float32)
    out = to_probabilities(values, REGRESSION)
    assert out.dtype == np.float64 and out.shape == (3, 1)
    np.testing.assert_array_equal(out, values.astype(np.float64))
    assert to_probabilities([[2.0]], REGRESSION).tolist() == [[2.0]]  # any array-like


# --------------------------------------------------------------------------- per_example_loss


def test_multiclass_loss_is_the_cross_entropy_of_the_true_class():
    probs = np.array([[0.7, 0.2, 0.1], [0.25, 0.25, 0.5], [0.0, 1.0, 0.0]])
    targets = np.array([0, 2, 0])
    loss = per_example_loss(probs, targets, MULTICLASS)
    np.testing.assert_allclose(loss[:2], [-math.log(0.7), -math.log(0.5)], rtol=1e-12)
    # a zero probability for the true class is clipped: a large, finite loss
    assert loss[2] == pytest.approx(-math.log(1e-12)) and math.isfinite(loss[2])
    assert per_example_loss(probs, targets.astype(np.float32), MULTICLASS).tolist() == loss.tolist()


def test_multiclass_loss_matches_keras():
    from tfclf._compat import keras

    rng = np.random.default_rng(0)
    probs = _softmax(rng.normal(size=(8, 4)))
    targets = rng.integers(0, 4, size=8)
    expected = keras.losses.sparse_categorical_crossentropy(targets, probs).numpy()
    np.testing.assert_allclose(per_example_loss(probs, targets, MULTICLASS), expected, rtol=1e-5)


def test_multilabel_loss_is_the_mean_binary_cross_entropy():
    probs = np.array([[0.9, 0.2, 0.6], [0.5, 0.5, 0.5]])
    targets = np.array([[1, 0, 0], [0, 1, 1]])
    by_hand = [-(math.log(0.9) + math.log(0.8) + math.log(0.4)) / 3, -math.log(0.5)]
    loss = per_example_loss(probs, targets, MULTILABEL)
    np.testing.assert_allclose(loss, by_hand, rtol=1e-12)
    from tfclf._compat import keras

    np.testing.assert_allclose(loss, keras.losses.binary_crossentropy(targets.astype(float), probs).numpy(),
                               rtol=1e-5)
    # certain and right: no loss; certain and wrong: clipped, large and finite
    sure = per_example_loss(np.array([[1.0, 0.0], [1.0, 0.0]]), np.array([[1, 0], [0, 1]]), MULTILABEL)
    assert sure[0] == pytest.approx(0.0, abs=1e-11)
    assert sure[1] == pytest.approx(-math.log(1e-12)) and math.isfinite(sure[1])


def test_regression_loss_is_the_squared_error():
    targets = np.array([1, 2, 0])
    for values in (np.array([[1.5], [0.0], [-3.0]]), np.array([1.5, 0.0, -3.0])):
        np.testing.assert_allclose(per_example_loss(values, targets, REGRESSION), [0.25, 4.0, 9.0])


# --------------------------------------------------------------------------- the forward path


def _dataset(lengths, *, seed=0, **kwargs) -> TextDataset:
    """Rows of the tiny vocabulary's ids, [CLS] ... [SEP], of the given lengths (in that order)."""
    rng = random.Random(seed)
    words = range(len(helpers.SPECIAL), len(helpers.VOCAB))
    rows = [[CLS] + [rng.choice(words) for _ in range(n - 2)] + [SEP] for n in lengths]
    return TextDataset(rows, None, maxlen=helpers.MAX_POSITIONS, **kwargs)


class RowEcho:
    """A stand-in for `LogitsFunction`: each row's logits are (its second token, its length), so
    every output row says which input row it came from. Records the batches it was given."""

    def __init__(self):
        self.batches = []

    def __call__(self, ids, mask):
        self.batches.append((ids.copy(), mask.copy()))
        return np.stack([ids[:, 1], mask.sum(axis=1)], axis=1).astype(np.float32)


LENGTHS = [12, 3, 40, 7, 7, 25, 3, 60, 18, 5]  # unsorted, with ties


@pytest.mark.parametrize("batch_size", [1, 3, 4, 100])
def test_predict_logits_gives_rows_in_input_order(batch_size):
    data = _dataset(LENGTHS)
    fn = RowEcho()
    out = predict_logits(fn, data, batch_size)
    assert out.dtype == np.float32 and out.shape == (len(LENGTHS), 2)
    np.testing.assert_array_equal(out[:, 0], [data.token_ids(i)[1] for i in range(len(data))])
    np.testing.assert_array_equal(out[:, 1], LENGTHS)
    # the batches really were sorted by length (so the order had to be restored), at most
    # batch_size rows each, every row whole
    seen = [n for _, mask in fn.batches for n in mask.sum(axis=1)]
    assert seen == sorted(LENGTHS) and seen != LENGTHS
    assert all(len(ids) <= batch_size for ids, _ in fn.batches)
    assert all(ids.shape[1] >= mask.sum(axis=1).max() for ids, mask in fn.batches)


def test_logits_function_is_traced_once_for_any_shape():
    from tfclf._compat import tf

    traces = []

    def model(inputs, training):
        traces.append(training)  # Python runs only while tracing
        ids = tf.cast(inputs["input_ids"], tf.float64)  # not float32: the output is cast
        mask = tf.cast(inputs["attention_mask"], tf.float64)
        return SimpleNamespace(logits=tf.stack([tf.reduce_sum(ids * mask, axis=1), tf.reduce_sum(mask, axis=1)], 1))

    fn = LogitsFunction(model)
    assert fn.model is model
    for rows, width in ((2, 5), (7, 32), (1, 3), (16, 64)):
        ids = np.arange(rows * width, dtype=np.int32).reshape(rows, width)
        mask = np.ones((rows, width), dtype=np.int32)
        mask[:, width // 2 + 1:] = 0
        out = fn(ids, mask)
        assert isinstance(out, np.ndarray) and out.dtype == np.float32 and out.shape == (rows, 2)
        np.testing.assert_allclose(out, np.stack([(ids * mask).sum(1), mask.sum(1)], 1))
    assert traces == [False]  # one trace, in inference mode


@pytest.fixture(scope="module")
def tiny_bert_3():
    """A tiny 3-label BERT classifier whose logits differ from text to text (large initial weights:
    at transformers' default initializer range every text gets nearly the same logits)."""
    import tfclf
    from tfclf._compat import transformers

    tfclf.set_seed(4)
    model = transformers.TFBertForSequenceClassification(helpers.tiny_bert_config(num_labels=3,
                                                                                  initializer_range=0.5))
    model(model.dummy_inputs, training=False)
    return model


def test_predict_logits_of_a_real_model_match_one_row_at_a_time(tiny_bert_3):
    from tfclf._compat import tf

    data = _dataset(LENGTHS, seed=1)
    alone = np.concatenate([
        tiny_bert_3({"input_ids": tf.constant([data.token_ids(i)], tf.int32),
                     "attention_mask": tf.ones((1, LENGTHS[i]), tf.int32)}, training=False).logits.numpy()
        for i in range(len(data))
    ])
    assert np.ptp(alone, axis=0).min() > 0.1  # rows differ, so a wrong order would show
    fn = LogitsFunction(tiny_bert_3)
    for batch_size in (1, 3, 16):  # padded, in length-sorted batches: the same logits, in input order
        np.testing.assert_allclose(predict_logits(fn, data, batch_size), alone, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mode", [MULTICLASS, MULTILABEL, REGRESSION])
def test_predict_documents_without_windows_is_to_probabilities(mode):
    data = _dataset(LENGTHS, mode=mode)
    expected = to_probabilities(predict_logits(RowEcho(), data, 4) / 10.0, mode)
    scaled = lambda ids, mask: RowEcho()(ids, mask) / 10.0  # noqa: E731 - logits of a sensible size
    np.testing.assert_allclose(predict_documents(scaled, data, 4), expected, rtol=1e-12)


def test_predict_documents_averages_windows_per_document():
    # 3 documents split in 2, 1 and 3 windows, the windows' rows interleaved
    doc_ids = [0, 2, 1, 0, 2, 2]
    lengths = [10, 4, 30, 6, 20, 8]
    fn = lambda ids, mask: RowEcho()(ids, mask) / 10.0  # noqa: E731
    per_row = predict_logits(fn, _dataset(lengths), 2)
    docs = [np.flatnonzero(np.array(doc_ids) == d) for d in range(3)]

    data = _dataset(lengths, doc_ids=doc_ids, aggregate="mean_logits")
    mean_logits = _softmax(np.stack([per_row[rows].mean(axis=0) for rows in docs]))
    got = predict_documents(fn, data, 2)
    assert got.shape == (3, 2)
    np.testing.assert_allclose(got, mean_logits, rtol=1e-6)

    data = _dataset(lengths, doc_ids=doc_ids, aggregate="mean_probs")
    probs = _softmax(per_row)
    mean_probs = np.stack([probs[rows].mean(axis=0) for rows in docs])
    np.testing.assert_allclose(predict_documents(fn, data, 2), mean_probs, rtol=1e-6)
    assert np.abs(mean_probs - mean_logits).max() > 1e-3  # the two aggregates really differ here
