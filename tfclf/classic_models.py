"""The classic text models over word ids (ktrain's ``text_classifier`` names that are not
transformers): NBSVM, logistic / linear regression, a fastText-like model and two GRUs.

Each is a small Keras model with the transformers models' interface, so the Learner, the
predictors and `tfclf.classifier.compile_classifier` treat both alike: it reads
``{"input_ids", "attention_mask"}`` (from `tfclf.standard.StandardPreprocessor`) and returns
logits, keeps what rebuilds it in ``model.config`` (a `ClassicConfig`, saved as config.json: model
type, vocabulary size, labels, training options, thresholds, temperature) and saves with
``save_pretrained`` (config.json + tf_model.h5). Feature ids the model does not know (from a larger
vocabulary) are ignored like padding.

- nbsvm: Wang & Manning's NB-weighted linear model (2012). The log-count ratios of the features
  (`nb_ratios`, one column per class, one-vs-rest) are computed once from the training data and
  frozen; a weight per feature (starting at 0: on the tutorial a start at 1, plain Naive Bayes,
  gave over-confident logits and 92% instead of 94%) and a bias per class are trained.
  Features count once per text (binarized), as in the paper.
- logreg / linreg: a weight per feature and class (binarized features), a bias.
- fasttext: the mean of 64-d feature embeddings, a 64-unit ReLU layer, dropout, the output layer.
- bigru: 300-d embeddings (random: ktrain downloads fastText crawl vectors, tfclf never downloads),
  a bidirectional GRU of 80 units, its mean and max over time, the output layer.
- standard_gru: 256-d embeddings and two GRU layers of 256 units.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np

from tfclf.labels import MULTICLASS, MULTILABEL, REGRESSION

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "tf_model.h5"
BAG_MODELS = ("nbsvm", "logreg", "linreg")  # read each text's features as a set
SEQUENCE_MODELS = ("bigru", "standard_gru")  # read the words in order: no n-gram features
CLASSIC_TYPES = (*BAG_MODELS, "fasttext", *SEQUENCE_MODELS)
_PROBLEM_TYPES = {MULTICLASS: "single_label_classification", MULTILABEL: "multi_label_classification",
                  REGRESSION: "regression"}


class ClassicConfig:
    """A classic model's settings, as JSON (what transformers' configurations are for theirs).

    Any attribute set on it (tuned thresholds, a temperature, training options) is saved with it.
    """

    def __init__(self, model_type: str, vocab_size: int, num_labels: int, problem_type: str,
                 id2label: dict | None = None, **extra):
        if model_type not in CLASSIC_TYPES:
            raise ValueError(f"unknown classic model type {model_type!r}; expected one of {CLASSIC_TYPES}")
        self.model_type = model_type
        self.vocab_size = int(vocab_size)
        self.num_labels = int(num_labels)
        self.problem_type = problem_type
        self.id2label = {int(k): v for k, v in (id2label or {}).items()}
        self.label2id = {v: k for k, v in self.id2label.items()}
        for key, value in extra.items():
            setattr(self, key, value)

    def to_dict(self) -> dict:
        return {k: v for k, v in vars(self).items() if k != "label2id"}

    def save(self, folder: Path) -> None:
        (Path(folder) / CONFIG_FILE).write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n")

    @classmethod
    def load(cls, folder: Path) -> "ClassicConfig":
        return cls(**json.loads((Path(folder) / CONFIG_FILE).read_text(encoding="utf-8")))


def config_for(model_type: str, vocab_size: int, codec) -> ClassicConfig:
    """The configuration of a `model_type` model for `vocab_size` feature ids and `codec`'s labels."""
    return ClassicConfig(model_type, vocab_size, codec.num_outputs, _PROBLEM_TYPES[codec.mode_],
                         id2label=dict(enumerate(codec.classes_)))


def nb_ratios(ids: list[np.ndarray], targets: np.ndarray, mode: str, vocab_size: int, num_classes: int,
              alpha: float = 1.0) -> np.ndarray:
    """NBSVM's log-count ratios, shape (vocab_size, classes): for each class c (one-vs-rest),
    log((p_c / |p_c|_1) / (q_c / |q_c|_1)) with p_c (q_c) the number of texts of (not of) class c
    holding each feature, plus `alpha`. Padding (id 0) gets 0."""
    if mode == REGRESSION:
        raise ValueError("NBSVM needs class labels; for numbers (regression) use 'linreg'")
    y = (np.eye(num_classes)[np.asarray(targets, dtype=np.int64)] if mode == MULTICLASS
         else np.asarray(targets, dtype=np.float64))
    rows = np.repeat(np.arange(len(ids)), [len(r) for r in ids])
    feats = np.concatenate(ids).astype(np.int64) if ids else np.empty(0, dtype=np.int64)
    keep = (feats > 0) & (feats < vocab_size)
    unique = np.unique(rows[keep] * vocab_size + feats[keep])  # each feature once per text
    rows, feats = unique // vocab_size, unique % vocab_size
    df = np.bincount(feats, minlength=vocab_size).astype(np.float64)
    ratios = np.zeros((vocab_size, y.shape[1]), dtype=np.float64)
    for c in range(y.shape[1]):
        p = np.bincount(feats, weights=y[rows, c], minlength=vocab_size) + alpha
        q = df - (p - alpha) + alpha
        ratios[:, c] = np.log(p / p.sum()) - np.log(q / q.sum())
    ratios[0] = 0.0
    return ratios.astype(np.float32)


@functools.lru_cache(maxsize=None)
def _model_class():
    from tfclf._compat import keras, tf

    layers = keras.layers

    class ClassicClassifier(keras.Model):
        """One of the classic models (see `tfclf.classic_models`), built from its `ClassicConfig`."""

        def __init__(self, config: ClassicConfig, **kwargs):
            super().__init__(name=config.model_type, **kwargs)
            self.config = config
            kind, v, k = config.model_type, config.vocab_size, config.num_labels
            if kind == "nbsvm":
                self.ratios = layers.Embedding(v, k, trainable=False, name="nb_ratios")
                self.feature_weight = layers.Embedding(v, 1, embeddings_initializer="zeros", name="feature_weight")
            elif kind in ("logreg", "linreg"):
                self.feature_weight = layers.Embedding(v, k, embeddings_initializer="zeros", name="feature_weight")
            else:
                dim = {"fasttext": 64, "bigru": 300, "standard_gru": 256}[kind]
                self.embedding = layers.Embedding(v, dim, name="embedding")
                if kind == "fasttext":
                    self.hidden = layers.Dense(64, activation="relu", name="hidden")
                    self.dropout = layers.Dropout(0.25)
                elif kind == "bigru":
                    self.dropout = layers.SpatialDropout1D(0.2)
                    self.gru = layers.Bidirectional(layers.GRU(80, return_sequences=True), name="bigru")
                else:
                    self.gru = layers.GRU(256, return_sequences=True, dropout=0.2, name="gru_1")
                    self.gru2 = layers.GRU(256, dropout=0.2, name="gru_2")
            self.out = layers.Dense(k, name="classifier") if kind not in BAG_MODELS else None
            if kind in BAG_MODELS:
                self.bias = self.add_weight(name="bias", shape=(k,), initializer="zeros")

        @property
        def dummy_inputs(self) -> dict:
            return {"input_ids": tf.constant([[1, 2, 0]], tf.int32), "attention_mask": tf.constant([[1, 1, 0]], tf.int32)}

        def _ids_and_mask(self, inputs):
            ids = tf.cast(inputs["input_ids"], tf.int32)
            mask = (tf.cast(inputs["attention_mask"], tf.int32) > 0) & (ids > 0) & (ids < self.config.vocab_size)
            return tf.where(mask, ids, 0), mask

        def features(self, inputs, training=False):
            """The vector the output layer reads (None for the linear models)."""
            ids, mask = self._ids_and_mask(inputs)
            kind = self.config.model_type
            if kind in BAG_MODELS:
                return None
            x = self.embedding(ids)
            m = tf.cast(mask, x.dtype)[..., None]
            if kind == "fasttext":
                mean = tf.reduce_sum(x * m, axis=1) / tf.maximum(tf.reduce_sum(m, axis=1), 1.0)
                return self.dropout(self.hidden(mean), training=training)
            if kind == "bigru":
                h = self.gru(self.dropout(x, training=training), mask=mask, training=training)
                mean = tf.reduce_sum(h * m, axis=1) / tf.maximum(tf.reduce_sum(m, axis=1), 1.0)
                top = tf.reduce_max(h * m - (1.0 - m) * 1e9, axis=1)
                top = tf.where(tf.reduce_any(mask, axis=1, keepdims=True), top, 0.0)
                return tf.concat([mean, top], axis=1)
            return self.gru2(self.gru(x, mask=mask, training=training), mask=mask, training=training)

        def call(self, inputs, training=False):
            if self.config.model_type not in BAG_MODELS:
                return self.out(self.features(inputs, training=training))
            ids, mask = self._ids_and_mask(inputs)
            # Binarized features: sort each row and count a feature at its first occurrence only.
            ids = tf.sort(tf.where(mask, ids, 0), axis=1)
            first = tf.concat([tf.ones_like(ids[:, :1], tf.bool), ids[:, 1:] != ids[:, :-1]], axis=1) & (ids > 0)
            f = tf.cast(first, tf.float32)[..., None]
            per_feature = self.feature_weight(ids)
            if self.config.model_type == "nbsvm":
                per_feature = per_feature * self.ratios(ids)
            return tf.reduce_sum(f * per_feature, axis=1) + self.bias

        def save_pretrained(self, folder) -> None:
            """config.json + tf_model.h5, as transformers models save (`load_classic` reads them)."""
            folder = Path(folder)
            folder.mkdir(parents=True, exist_ok=True)
            self.config.save(folder)
            self.save_weights(str(folder / WEIGHTS_FILE))

    return ClassicClassifier


def is_classic(model) -> bool:
    return isinstance(getattr(model, "config", None), ClassicConfig)


def build_classic(config: ClassicConfig, ratios: np.ndarray | None = None, weights_file: str | None = None):
    """A classic model for `config`, its variables created (float32: these models gain nothing
    from bfloat16), NBSVM's ratios set, and weights loaded from `weights_file` when given."""
    from tfclf.precision import policy_scope

    with policy_scope("float32"):
        model = _model_class()(config)
        model(model.dummy_inputs, training=False)
    if ratios is not None:
        if ratios.shape != (config.vocab_size, config.num_labels):
            raise ValueError(f"NB ratios of shape {ratios.shape} do not fit {config.vocab_size} features "
                             f"and {config.num_labels} classes")
        model.ratios.set_weights([ratios])
    if weights_file is not None:
        model.load_weights(weights_file)
    return model


def load_classic(folder: Path):
    """The classic model a folder from ``save_pretrained`` holds."""
    return build_classic(ClassicConfig.load(folder), weights_file=str(Path(folder) / WEIGHTS_FILE))
