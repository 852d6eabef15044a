"""`LabelCodec`: turns the label forms users have into training targets, and predictions back.

Accepted label forms (decided by `fit`, never guessed per call):

* strings, e.g. ``["sci.med", "comp.graphics"]``: single-label; the classes are the sorted unique
  strings unless ``class_names`` fixes them (and their order);
* integer ids with ``class_names``: single-label, ``class_names[i]`` names id ``i``;
* one-hot rows ``(n, k)``: single-label;
* multi-hot rows ``(n, k)`` with some rows having zero or several ones: multi-label (sigmoid
  outputs, binary cross-entropy, a per-label threshold of 0.5);
* floats that are not integers: regression (one output, mean squared error).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from tfclf._util import class_names as check_class_names

MULTICLASS = "multiclass"
MULTILABEL = "multilabel"
REGRESSION = "regression"
MODES = (MULTICLASS, MULTILABEL, REGRESSION)


def _as_label_array(y: Any) -> np.ndarray:
    if y is None:
        raise ValueError("y is required: pass one label per text")
    if isinstance(y, (str, bytes)):
        raise TypeError("y must be a sequence of labels (one per text), not a single string")
    if hasattr(y, "to_numpy"):  # pandas Series / DataFrame without importing pandas
        y = y.to_numpy()
    arr = np.asarray(y, dtype=object) if not isinstance(y, np.ndarray) else y
    if arr.ndim == 2 and arr.dtype == object:
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as err:
            raise TypeError("2-D labels must be numeric one-hot / multi-hot rows") from err
    if arr.ndim not in (1, 2):
        raise ValueError(f"y must be 1-D (labels) or 2-D (one-hot / multi-hot rows), got shape {arr.shape}")
    if len(arr) == 0:
        raise ValueError("y is empty: pass one label per text")
    return arr


def _is_table(y: Any) -> bool:
    """A 2-D pandas DataFrame (or alike), told by its attributes so that pandas stays optional."""
    return hasattr(y, "to_numpy") and hasattr(y, "columns") and getattr(y, "ndim", 0) == 2


def _label_lists(y: Any) -> list[list[str]] | None:
    """`y` as lists of class names when it is one (multi-label: ``[["a", "b"], [], ...]``), else None."""
    if isinstance(y, (str, bytes)) or (isinstance(y, np.ndarray) and y.ndim != 1) or not hasattr(y, "__len__"):
        return None
    if hasattr(y, "to_numpy"):
        y = y.to_numpy()
    rows = list(y)
    if not rows or not all(isinstance(r, (list, tuple, set, frozenset)) for r in rows):
        return None
    if not all(isinstance(v, str) for r in rows for v in r):
        return None
    return [list(r) for r in rows]


def _rows_from_lists(lists: list[list[str]], classes: list[str]) -> np.ndarray:
    index = {c: j for j, c in enumerate(classes)}
    out = np.zeros((len(lists), len(classes)), dtype=np.float32)
    for i, names in enumerate(lists):
        for name in names:
            if name not in index:
                raise ValueError(f"unknown label {name!r} (y[{i}]); the classes are {classes}")
            out[i, index[name]] = 1.0
    return out


def _is_string_labels(arr: np.ndarray) -> bool:
    return arr.ndim == 1 and all(isinstance(v, str) for v in arr.tolist())


def _numeric_1d(arr: np.ndarray) -> np.ndarray:
    values = arr.tolist()
    strings = [i for i, v in enumerate(values) if isinstance(v, str)]
    if strings and len(strings) < len(values):  # name both kinds, not just the first item
        j = next(i for i, v in enumerate(values) if not isinstance(v, str))
        raise TypeError(
            f"y mixes strings and other values (y[{strings[0]}] is {values[strings[0]]!r}, y[{j}] is "
            f"{values[j]!r}): labels must be all strings, all integer ids, or all floats (regression)"
        )
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise TypeError(
                f"y[{i}] is {v!r} ({type(v).__name__}): labels must be all strings, all integer ids, "
                "or all floats (regression)"
            )
    out = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(out)):
        bad = int(np.flatnonzero(~np.isfinite(out))[0])
        raise ValueError(f"y[{bad}] is {values[bad]!r}: labels must be finite numbers")
    return out


class LabelCodec:
    """Maps user labels to model targets and model outputs back to labels.

    Args:
        class_names: the class names, in output-column order. Optional for string labels (then
            the sorted unique labels), required to name integer ids (else ids are named "0".."k-1").
        multilabel: force (True) or forbid (False) multi-label; None decides from 2-D labels.
        regression: the labels are numbers to predict, even whole ones (otherwise whole numbers
            are class ids and only fractional ones mean regression).

    Attributes (set by `fit`):
        classes_: class names, in the order of `predict_proba`'s columns.
        mode_: "multiclass", "multilabel" or "regression".

    Example:
        >>> codec = LabelCodec().fit(["b", "a", "b"])
        >>> codec.classes_, codec.encode(["a", "b"]).tolist()
        (['a', 'b'], [0, 1])
    """

    def __init__(self, class_names: Sequence[str] | None = None, multilabel: bool | None = None,
                 regression: bool = False):
        self.class_names = class_names
        self.multilabel = multilabel
        self.regression = regression

    # -- fitting ---------------------------------------------------------------------------------
    def fit(self, y: Any) -> "LabelCodec":
        lists = _label_lists(y)
        if lists is not None:
            # Lists of class names per text: multi-label, classes from class_names or the union.
            if self.multilabel is False:
                raise ValueError("multilabel=False but y holds lists of labels per text")
            names = self._checked_class_names() or sorted({v for r in lists for v in r})
            if not names:
                raise ValueError("every label list is empty: there are no classes to learn")
            self.mode_, self.classes_ = MULTILABEL, list(names)
            self._check_trainable(self.encode(lists))
            return self
        names = self._checked_class_names()
        if names is None and _is_table(y):
            # A DataFrame with one 0/1 column per label (ktrain's habit): its columns name the classes.
            names = [str(c) for c in y.columns]
        arr = _as_label_array(y)
        if self.regression:
            # numbers to predict, whole or not (ktrain's is_regression=True)
            if self.multilabel or arr.ndim != 1 or _is_string_labels(arr):
                raise ValueError("regression needs one number per text")
            self.mode_, self.classes_ = REGRESSION, list(names or ["target"])[:1]
            self._check_trainable(self.encode(arr))
            return self
        if arr.ndim == 2:
            self._fit_rows(arr, names)
        elif _is_string_labels(arr):
            if self.multilabel:
                raise ValueError("multilabel=True needs multi-hot rows (n, k), not one string per text")
            classes = names if names is not None else sorted(set(arr.tolist()))
            self.mode_, self.classes_ = MULTICLASS, list(classes)
        else:
            values = _numeric_1d(arr)
            if np.all(values == np.round(values)):
                if self.multilabel:
                    raise ValueError("multilabel=True needs multi-hot rows (n, k), not one id per text")
                if values.min() < 0:
                    raise ValueError(f"label ids must be >= 0, got {int(values.min())}")
                k = int(values.max()) + 1
                if names is None:
                    names = [str(i) for i in range(k)]
                self.mode_, self.classes_ = MULTICLASS, list(names)
            else:
                self.mode_, self.classes_ = REGRESSION, list(names or ["target"])[:1]
        if self.mode_ == MULTICLASS and len(self.classes_) < 2:
            raise ValueError(
                f"a classifier needs at least 2 classes; got {self.classes_!r}. Pass class_names with "
                "every class, or training labels from more than one class"
            )
        encoded = self.encode(arr)  # validates every label against the classes just learned
        self._check_trainable(encoded)
        return self

    def _check_trainable(self, encoded: np.ndarray) -> None:
        """Training labels that cannot teach a classifier anything are an error, not a warning."""
        if self.mode_ == MULTICLASS:
            present = np.unique(encoded)
            if len(present) < 2:
                raise ValueError(
                    f"the training labels hold only one class ({self.classes_[int(present[0])]!r}); a "
                    "classifier needs examples of at least two classes"
                )
        elif self.mode_ == MULTILABEL and not encoded.any():
            raise ValueError("every multi-hot label row is all zeros: the training data has no positive label")
        elif self.mode_ == REGRESSION and len(encoded) > 1 and np.all(encoded == encoded[0]):
            raise ValueError(f"every regression target is {encoded[0]:g}: there is nothing to learn")

    def _checked_class_names(self) -> list[str] | None:
        return check_class_names(self.class_names)

    def _fit_rows(self, arr: np.ndarray, names: list[str] | None) -> None:
        rows = np.asarray(arr, dtype=np.float64)
        if not np.all(np.isfinite(rows)):
            raise ValueError("label rows contain NaN or infinite values")
        if not np.all((rows == 0) | (rows == 1)):
            raise ValueError("2-D labels must be 0/1 one-hot or multi-hot rows")
        k = rows.shape[1]
        if names is not None and len(names) != k:
            raise ValueError(f"labels have {k} columns but class_names has {len(names)} names")
        one_hot = bool(np.all(rows.sum(axis=1) == 1))
        multilabel = (not one_hot) if self.multilabel is None else bool(self.multilabel)
        if not multilabel and not one_hot:
            raise ValueError("multilabel=False but some label rows do not have exactly one 1")
        self.mode_ = MULTILABEL if multilabel else MULTICLASS
        self.classes_ = names if names is not None else [str(i) for i in range(k)]
        if self.mode_ == MULTICLASS and k < 2:
            raise ValueError("a classifier needs at least 2 classes (columns)")

    # -- encoding --------------------------------------------------------------------------------
    @property
    def num_outputs(self) -> int:
        self._check_fitted()
        return 1 if self.mode_ == REGRESSION else len(self.classes_)

    def _check_fitted(self) -> None:
        if not hasattr(self, "mode_"):
            raise RuntimeError("LabelCodec is not fitted yet: call fit(y) (preprocess_train does)")

    def encode(self, y: Any) -> np.ndarray:
        """Returns int32 ids (multiclass), float32 rows (multilabel) or float32 values (regression)."""
        self._check_fitted()
        lists = _label_lists(y)
        if lists is not None:
            if self.mode_ != MULTILABEL:
                raise ValueError(f"lists of labels per text are multi-label targets; this codec is {self.mode_}")
            return _rows_from_lists(lists, self.classes_)
        arr = _as_label_array(y)
        k = len(self.classes_)
        if self.mode_ == REGRESSION:
            if arr.ndim != 1:
                raise ValueError("regression labels must be 1-D numbers")
            return _numeric_1d(arr).astype(np.float32)
        if arr.ndim == 2:
            rows = np.asarray(arr, dtype=np.float64)
            if rows.shape[1] != k:
                raise ValueError(f"label rows have {rows.shape[1]} columns; the classes are {k}: {self.classes_}")
            if not np.all(np.isfinite(rows)) or not np.all((rows == 0) | (rows == 1)):
                raise ValueError("label rows must hold only 0 and 1")
            if self.mode_ == MULTILABEL:
                return rows.astype(np.float32)
            if not np.all(rows.sum(axis=1) == 1):
                bad = int(np.flatnonzero(rows.sum(axis=1) != 1)[0])
                raise ValueError(f"label row {bad} is not one-hot (single-label data needs exactly one 1)")
            return rows.argmax(axis=1).astype(np.int32)
        if self.mode_ == MULTILABEL:
            raise ValueError("this codec is multi-label: pass multi-hot rows (n, k)")
        if _is_string_labels(arr):
            index = {c: i for i, c in enumerate(self.classes_)}
            out = np.empty(len(arr), dtype=np.int32)
            for i, v in enumerate(arr.tolist()):
                if v not in index:
                    raise ValueError(f"label {v!r} (y[{i}]) is not one of the classes {self.classes_}")
                out[i] = index[v]
            return out
        values = _numeric_1d(arr)
        if not np.all(values == np.round(values)):
            raise ValueError("single-label ids must be whole numbers")
        bad = np.flatnonzero((values < 0) | (values >= k))
        if len(bad):
            i = int(bad[0])
            raise ValueError(f"label id {values[i]:g} (y[{i}]) is out of range: ids go from 0 to {k - 1}")
        return values.astype(np.int32)

    def decode(self, outputs: np.ndarray, threshold=0.5) -> list:
        """Turns probabilities (or regression values) into labels: a name, a list of names, or a float.

        For multi-label outputs `threshold` is one number or one per class. For a binary
        single-label model, a `threshold` other than 0.5 is the positive class's (the second
        class's): it is predicted when its probability reaches the threshold (0.5 is argmax).
        """
        self._check_fitted()
        outputs = np.asarray(outputs)
        if self.mode_ == REGRESSION:
            return [float(v) for v in outputs.reshape(len(outputs), -1)[:, 0]]
        if self.mode_ == MULTILABEL:
            cut = np.broadcast_to(np.asarray(threshold, dtype=np.float64), (len(self.classes_),))
            return [[c for c, p, t in zip(self.classes_, row, cut) if p >= t] for row in outputs]
        if len(self.classes_) == 2 and np.ndim(threshold) == 0 and float(threshold) != 0.5:
            return [self.classes_[int(p >= threshold)] for p in outputs[:, 1]]
        return [self.classes_[i] for i in outputs.argmax(axis=1)]

    def decode_targets(self, targets: np.ndarray) -> list:
        """Turns encoded targets back into labels (used for reports and top losses)."""
        self._check_fitted()
        targets = np.asarray(targets)
        if self.mode_ == MULTICLASS:
            return [self.classes_[int(i)] for i in targets]
        return self.decode(targets)

    # -- JSON ------------------------------------------------------------------------------------
    def to_json(self) -> dict:
        self._check_fitted()
        return {"mode": self.mode_, "classes": list(self.classes_)}

    @classmethod
    def from_json(cls, data: dict) -> "LabelCodec":
        mode = data.get("mode")
        if mode not in MODES:
            raise ValueError(f"unknown label mode {mode!r}; expected one of {MODES}")
        codec = cls(class_names=list(data["classes"]), multilabel=mode == MULTILABEL)
        codec.mode_, codec.classes_ = mode, list(data["classes"])
        return codec


class LearnedLabels:
    """Mixed into the preprocessors (`Transformer`, `StandardPreprocessor`): the labels their
    ``preprocess_train`` learned (``codec_``), or the ``class_names`` / ``classes`` they were given."""

    class_names: Sequence[str] | None
    classes: Sequence[str] | None
    multilabel: bool | None
    regression: bool

    def _learn_labels(self, texts: Any, y: Any) -> list[str]:
        """Checks training texts and their labels, learns the labels (``codec_``), returns the texts."""
        from tfclf.encoding import check_label_count
        from tfclf.texts import check_texts

        texts = check_texts(texts)
        if y is None:
            raise ValueError("preprocess_train needs labels: preprocess_train(texts, y)")
        check_label_count(texts, y)
        self.codec_ = LabelCodec(class_names=self.class_names or self.classes or None, multilabel=self.multilabel,
                                 regression=self.regression).fit(y)
        return texts

    def _codec(self) -> LabelCodec:
        if not hasattr(self, "codec_"):
            raise RuntimeError("labels are not known yet: call preprocess_train(texts, y) first")
        return self.codec_

    def get_classes(self) -> list[str]:
        """Class names in the order of the model's outputs (``predict_proba``'s columns)."""
        if hasattr(self, "codec_"):
            return list(self.codec_.classes_)
        return list(self.class_names or self.classes or [])

    @property
    def classes_(self) -> list[str]:
        return list(self._codec().classes_)

    @property
    def mode_(self) -> str:
        return self._codec().mode_
