"""Knowledge distillation (Hinton et al. 2015): a student model trained towards a trained teacher's
softened probabilities as well as the labels, so that a small fast model gets part of a strong
model's accuracy.

``get_learner(student, trn, val, teacher=teacher_predictor, distill_temperature=T, distill_alpha=a)``
trains the student on

    a * T^2 * KL(softmax(teacher / T) || softmax(student / T)) + (1 - a) * CE(labels, student)

(multi-label: binary cross-entropies against ``sigmoid(teacher / T)``, T^2-scaled, beside the
plain ones). ``a = 0`` is plain training; ``T^2`` keeps the soft term's gradients the size of the
hard term's as T grows.

- **The teacher runs once.** Its logits for the training texts are computed when the Learner is
  made, reading each text with the teacher's own preprocessor (its tokenizer, maxlen and windows:
  any saved or exported classifier predictor), and travel as extra target columns of the training
  data: every epoch, the LR finder, a resumed run and a distribution strategy see them without
  calling the teacher again. A text read as several windows gives each window its text's
  soft targets.
- **Validation is unchanged**: the validation data keeps its plain labels, so ``val_loss`` and the
  metrics are the task's own.
- The teacher's raw logits are divided by T (its calibration temperature, if any, is not applied).
"""

from __future__ import annotations

import functools

import numpy as np

from tfclf._util import positive_number
from tfclf.data import TextDataset
from tfclf.labels import MULTILABEL, REGRESSION

DEFAULT_TEMPERATURE = 2.0
DEFAULT_ALPHA = 0.5


def check_settings(temperature, alpha) -> tuple[float, float]:
    temperature = positive_number(temperature, "distill_temperature")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 <= alpha <= 1:
        raise ValueError(f"distill_alpha must be a number in [0, 1] (the soft targets' weight), got {alpha!r}")
    return float(temperature), float(alpha)


def teacher_soft_targets(teacher, data: TextDataset, temperature: float) -> np.ndarray:
    """The teacher's probabilities at `temperature` for every row of `data` (float32)."""
    from tfclf.inference import predict_documents

    if data.texts is None:
        raise ValueError("distillation needs the training texts: make the training data with preprocess_train")
    if not hasattr(teacher, "_logits_fn") or not hasattr(teacher, "get_classes"):
        raise TypeError(f"teacher must be a tfclf predictor (load_predictor / get_predictor), "
                        f"got {type(teacher).__name__}")
    if teacher.mode == REGRESSION or data.mode == REGRESSION:
        raise ValueError("distillation needs class probabilities; this is a regression task")
    if teacher.mode != data.mode:
        raise ValueError(f"the teacher is {teacher.mode} and the training data {data.mode}")
    probs = predict_documents(teacher._logits_fn(), teacher._dataset(list(data.texts)), teacher.batch_size,
                              temperature=temperature)
    rows = probs if data.doc_ids is None else probs[data.doc_ids]
    return rows.astype(np.float32)


def student_classes(model, n: int) -> list[str] | None:
    """The class names the student's configuration records (None when it records none)."""
    id2label = getattr(getattr(model, "config", None), "id2label", None) or {}
    names = [id2label.get(i, id2label.get(str(i))) for i in range(n)]
    if None in names or all(str(name) == f"LABEL_{i}" for i, name in enumerate(names)):
        return None  # transformers' placeholders: nothing to compare
    return [str(name) for name in names]


def with_soft_targets(data: TextDataset, soft: np.ndarray) -> TextDataset:
    """A copy of `data` whose targets are ``[labels, soft targets]`` side by side (float32)."""
    hard = data.targets.astype(np.float32)
    hard = hard[:, None] if hard.ndim == 1 else hard
    out = TextDataset.__new__(TextDataset)
    out.__dict__.update(data.__dict__)
    out.targets = np.concatenate([hard, soft], axis=1)
    return out


@functools.lru_cache(maxsize=None)
def _classes():
    from tfclf._compat import keras, tf

    class DistillationLoss(keras.losses.Loss):
        """`inner` on the label columns, plus the soft term when the targets carry soft columns
        (validation targets do not: there it is `inner` alone)."""

        def __init__(self, inner, mode: str, n_classes: int, temperature: float, alpha: float, **kwargs):
            kwargs.setdefault("name", "distillation")
            kwargs.setdefault("reduction", inner.reduction)
            super().__init__(**kwargs)
            self.inner, self.mode, self.k = inner, mode, n_classes
            self.temperature, self.alpha = temperature, alpha

        def call(self, y_true, y_pred):
            y_pred = tf.cast(y_pred, tf.float32)
            width = self.k if self.mode == MULTILABEL else 1
            hard = y_true[..., :width]
            plain = self.inner.call(hard if self.mode == MULTILABEL else tf.cast(hard, tf.int64), y_pred)
            if y_true.shape[-1] == width:  # labels only (validation)
                return plain
            soft = tf.cast(y_true[..., width:], tf.float32)
            scaled = y_pred / self.temperature
            eps = 1e-12
            if self.mode == MULTILABEL:  # KL per label between two Bernoullis, averaged
                kl = (soft * (tf.math.log(soft + eps) - tf.math.log_sigmoid(scaled))
                      + (1.0 - soft) * (tf.math.log(1.0 - soft + eps) - tf.math.log_sigmoid(-scaled)))
                term = tf.reduce_mean(kl, axis=-1)
            else:
                term = tf.reduce_sum(soft * (tf.math.log(soft + eps) - tf.nn.log_softmax(scaled, axis=-1)), axis=-1)
            return self.alpha * self.temperature ** 2 * term + (1.0 - self.alpha) * plain

    class LabelColumns(keras.metrics.Metric):
        """`inner` on the label columns of the targets (the rest are the teacher's)."""

        def __init__(self, inner, width: int, **kwargs):
            super().__init__(name=inner.name, **kwargs)
            self.inner, self.width = inner, width

        def update_state(self, y_true, y_pred, sample_weight=None):
            return self.inner.update_state(y_true[..., :self.width], y_pred, sample_weight)

        def result(self):
            return self.inner.result()

        def reset_state(self):
            self.inner.reset_state()

    return DistillationLoss, LabelColumns


def distillation_loss_and_metrics(loss, metrics: list, mode: str, n_classes: int, temperature: float, alpha: float):
    """`compile_classifier`'s loss and metrics made to read targets ``[labels, soft targets]``."""
    loss_class, metric_class = _classes()
    width = n_classes if mode == MULTILABEL else 1
    return loss_class(loss, mode, n_classes, temperature, alpha), [metric_class(m, width) for m in metrics]


def compile_settings(settings: dict) -> tuple[int, float, float]:
    """What `compile_classifier(distillation=...)` takes, from the Learner's ``distillation_``."""
    return settings["n_classes"], settings["temperature"], settings["alpha"]


def prepare(model, data: TextDataset, teacher, temperature, alpha) -> tuple[TextDataset, dict]:
    """The training data with the teacher's soft targets, and the settings the Learner keeps as
    ``distillation_`` (it recompiles the student with them: `compile_classifier(distillation=...)`)."""
    temperature, alpha = check_settings(temperature, alpha)
    soft = teacher_soft_targets(teacher, data, temperature)
    teacher_classes = list(teacher.get_classes())
    n = soft.shape[1]
    outputs = model.outputs[0].shape[-1] if getattr(model, "outputs", None) else getattr(model.config, "num_labels", n)
    names = student_classes(model, n)
    if outputs != n or (names is not None and names != teacher_classes):
        raise ValueError(f"the teacher's classes {teacher_classes} are not the student's "
                         f"{names if names is not None else f'{outputs} outputs'} (same names in the same order): "
                         "train both on the same labels")
    settings = {"temperature": temperature, "alpha": alpha, "n_classes": n, "teacher_classes": teacher_classes}
    return with_soft_targets(data, soft), settings
