"""The one forward path shared by `Learner.predict` and `Predictor`: length-sorted batches through
a compiled function, results put back in input order, logits turned into probabilities."""

from __future__ import annotations

import numpy as np

from tfclf.data import TextDataset
from tfclf.labels import MULTILABEL, REGRESSION


class LogitsFunction:
    """A `tf.function` around ``model(...).logits``, traced once for any batch size and length;
    with ``pooled=True``, around the vector the head reads instead (`tfclf.pooling.pooled_vector`)."""

    def __init__(self, model, pooled: bool = False):
        from tfclf._compat import tf
        from tfclf.classic_models import BAG_MODELS, is_classic
        from tfclf.pooling import pooled_vector

        self.model = model
        spec = tf.TensorSpec((None, None), tf.int32)

        classic = is_classic(model)
        if pooled and classic and model.config.model_type in BAG_MODELS:
            raise ValueError(f"a {model.config.model_type} model is linear in its features and has no vector "
                             "to embed; embed with a fasttext, bigru or standard_gru model, or a transformer")

        @tf.function(input_signature=[spec, spec])
        def logits(input_ids, attention_mask):
            inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
            if pooled:
                vector = (model.features(inputs, training=False) if classic
                          else pooled_vector(model, input_ids, attention_mask))
                return tf.cast(vector, tf.float32)
            out = model(inputs, training=False)
            # transformers models return an output object, the classic models their logits
            return tf.cast(getattr(out, "logits", out), tf.float32)

        self._fn = logits

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        return self._fn(input_ids, attention_mask).numpy()


def predict_logits(fn: LogitsFunction, data: TextDataset, batch_size: int) -> np.ndarray:
    """Logits for every document of `data`, in `data`'s order."""
    out = None
    for index in data.batch_order(batch_size, shuffle=False, seed=None):
        ids, mask = data.pad_batch(index)
        logits = fn(ids, mask)
        if out is None:
            out = np.empty((len(data), logits.shape[1]), dtype=np.float32)
        out[index] = logits
    return out


def predict_documents(fn: LogitsFunction, data: TextDataset, batch_size: int, temperature: float = 1.0) -> np.ndarray:
    """Probabilities (or regression values) per document of `data`, in its order (see
    `document_probabilities`)."""
    return document_probabilities(predict_logits(fn, data, batch_size), data.mode, temperature,
                                  doc_ids=data.doc_ids, n_docs=data.n_docs, aggregate=data.aggregate)


def document_probabilities(logits: np.ndarray, mode: str, temperature: float = 1.0, *, doc_ids=None,
                           n_docs: int | None = None, aggregate: str = "mean_logits") -> np.ndarray:
    """Per-document probabilities from per-row logits divided by `temperature` (1: as trained;
    `tfclf.calibration` fits it). Rows that are windows (`doc_ids` given) are averaged per
    document: the logits, then the softmax / sigmoid ("mean_logits"), or the probabilities
    ("mean_probs"). Regression values are never scaled.
    """
    from tfclf.reading import MEAN_PROBS
    from tfclf.reading import aggregate as per_document

    z = np.asarray(logits, dtype=np.float64)
    if mode != REGRESSION and temperature != 1.0:
        z = z / temperature
    if doc_ids is None:
        return to_probabilities(z, mode)
    if aggregate == MEAN_PROBS:
        return per_document(to_probabilities(z, mode), doc_ids, n_docs)
    return to_probabilities(per_document(z, doc_ids, n_docs), mode)


def to_probabilities(logits: np.ndarray, mode: str) -> np.ndarray:
    """Softmax (single-label), sigmoid (multi-label) or the raw value (regression), in float64."""
    z = np.asarray(logits, dtype=np.float64)
    if mode == REGRESSION:
        return z
    if mode == MULTILABEL:
        return 1.0 / (1.0 + np.exp(-z))
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def per_example_loss(probs: np.ndarray, targets: np.ndarray, mode: str) -> np.ndarray:
    """The loss the model was trained with, per example (used to rank top losses)."""
    eps = 1e-12
    if mode == REGRESSION:
        return (probs.reshape(len(probs), -1)[:, 0] - targets.astype(np.float64)) ** 2
    if mode == MULTILABEL:
        t = targets.astype(np.float64)
        p = np.clip(probs, eps, 1 - eps)
        return -(t * np.log(p) + (1 - t) * np.log(1 - p)).mean(axis=1)
    return -np.log(np.clip(probs[np.arange(len(probs)), targets.astype(int)], eps, 1.0))
