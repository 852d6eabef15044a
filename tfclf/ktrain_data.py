"""What ktrain's ``texts_from_*`` functions return, and how the rest of tfclf reads it back.

ktrain's loaders return ``(x_train, y_train), (x_test, y_test), preproc``. In tfclf ``x`` is the
`TextDataset` the preprocessor made (it keeps the texts, so top losses can show them) and ``y``
the targets as ktrain gives them: one-hot rows for single-label data, multi-hot rows for
multi-label, numbers for regression. `as_dataset` turns such a pair (or a dataset) back into the
`TextDataset` the Learner trains on; `prepare` is the one path from texts to that return value.
"""

from __future__ import annotations

import copy
import os
from typing import Any

import numpy as np

from tfclf.data import TextDataset
from tfclf.labels import MULTICLASS, REGRESSION, LabelCodec

PREPROCESS_MODES = ("standard", "bert", "distilbert")
# The Hugging Face checkpoints ktrain's transformer modes stand for, and the environment variables
# that point them at a local folder (a machine without access to the model hub).
TRANSFORMER_MODELS = {"bert": ("bert-base-uncased", "TFCLF_BERT_MODEL"),
                      "distilbert": ("distilbert-base-uncased", "TFCLF_DISTILBERT_MODEL")}


def ktrain_targets(data: TextDataset, num_classes: int) -> np.ndarray:
    """`data`'s targets as ktrain returns them: one-hot float32 rows for single-label data."""
    targets = data.doc_targets  # one row per text, also when texts are read as windows
    if data.mode == MULTICLASS:
        return np.eye(num_classes, dtype=np.float32)[targets]
    return np.asarray(targets, dtype=np.float32)


def as_dataset(data: Any, name: str = "train_data") -> TextDataset | None:
    """A `TextDataset` from a dataset, or from ktrain's ``(x, y)`` pair whose ``x`` is one.

    A ``y`` other than the dataset's own targets (in ktrain's form or as encoded targets)
    replaces them, so ``(x_train, y_train)`` with a changed ``y_train`` trains on the change.
    """
    if data is None or isinstance(data, TextDataset):
        return data
    if isinstance(data, (tuple, list)) and len(data) == 2 and isinstance(data[0], TextDataset):
        x, y = data
        if y is None:
            return x
        return with_targets(x, y, name)
    if isinstance(data, (tuple, list)) and len(data) == 2:
        raise TypeError(
            f"{name} must be a TextDataset from preprocess_train / preprocess_test or the (x, y) pair "
            f"text.texts_from_* returns; this (x, y) pair's x is {type(data[0]).__name__}: raw texts or raw "
            "arrays must be preprocessed first")
    raise TypeError(f"{name} must be a TextDataset from preprocess_train / preprocess_test or an (x, y) pair "
                    f"from text.texts_from_*, got {type(data).__name__}")


def with_targets(x: TextDataset, y: Any, name: str) -> TextDataset:
    """`x` with the targets `y` (ktrain's form, or encoded ones), checked against its label mode
    by a `LabelCodec` of that mode."""
    y = np.asarray(y)
    if len(y) != x.n_docs:
        raise ValueError(f"{name}: x has {x.n_docs} texts but y has {len(y)} labels")
    if x.mode == REGRESSION and y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    width = y.shape[1] if y.ndim == 2 else 1 if x.mode == REGRESSION or not len(y) else int(np.max(y)) + 1
    codec = LabelCodec.from_json({"mode": x.mode, "classes": [str(i) for i in range(max(width, 1))]})
    try:
        y = codec.encode(y)
    except ValueError as err:
        raise ValueError(f"{name}: {err}") from None
    if x.targets is not None and y.shape == x.doc_targets.shape and np.array_equal(y, x.doc_targets):
        return x
    out = copy.copy(x)
    out.targets = y if x.doc_ids is None else y[x.doc_ids]
    return out


def check_mode(preprocess_mode: Any) -> str:
    if preprocess_mode not in PREPROCESS_MODES:
        raise ValueError(f"unknown preprocess_mode {preprocess_mode!r}; use one of {PREPROCESS_MODES}: "
                         "'standard' for the classic models (nbsvm, logreg, fasttext, bigru, standard_gru), "
                         "'bert' or 'distilbert' for those transformers")
    return preprocess_mode


def transformer_model(preprocess_mode: str, model_name: str | os.PathLike | None = None) -> str:
    """The checkpoint a transformer mode uses: `model_name` if given, else the folder in
    ``$TFCLF_BERT_MODEL`` / ``$TFCLF_DISTILBERT_MODEL``, else the hub name ktrain uses."""
    if model_name is not None:
        return str(model_name)
    default, variable = TRANSFORMER_MODELS[preprocess_mode]
    return os.environ.get(variable) or default


def make_preprocessor(preprocess_mode: str, *, maxlen: int, max_features: int, ngram_range: int,
                      class_names: list[str] | None, lang: str | None, regression: bool,
                      model_name: str | os.PathLike | None = None):
    """ktrain's preprocessor for `preprocess_mode`: a `StandardPreprocessor` or a `Transformer`."""
    check_mode(preprocess_mode)
    if preprocess_mode == "standard":
        if model_name is not None:
            raise ValueError("model_name is for preprocess_mode='bert' or 'distilbert'")
        from tfclf.standard import StandardPreprocessor

        return StandardPreprocessor(maxlen=maxlen, max_features=max_features, class_names=class_names, lang=lang,
                                    ngram_range=ngram_range, regression=regression)
    if ngram_range != 1:
        raise ValueError(f"ngram_range is for preprocess_mode='standard'; {preprocess_mode!r} reads subword tokens")
    from tfclf.preprocess import Transformer

    return Transformer(transformer_model(preprocess_mode, model_name), maxlen=maxlen, class_names=class_names,
                       regression=regression)


def check_val_pct(val_pct: Any) -> float:
    if isinstance(val_pct, bool) or not isinstance(val_pct, (int, float)) or not 0 < val_pct < 1:
        raise ValueError(f"val_pct must be a fraction between 0 and 1, got {val_pct!r}")
    return float(val_pct)


def prepare(x_train, y_train, x_val, y_val, *, preprocess_mode: str, maxlen: int, max_features: int,
            ngram_range: int, class_names: list[str] | None, lang: str | None, val_pct: float,
            random_state: int | None, regression: bool, verbose: int, model_name=None):
    """``(x_train, y_train), (x_val, y_val), preproc`` as ktrain's loaders return them. Without
    validation texts, `val_pct` of the training texts are held out (stratified by class)."""
    from tfclf.datasets.split import split_indices
    from tfclf.texts import check_texts

    x_train = check_texts(x_train, "x_train")
    preproc = make_preprocessor(preprocess_mode, maxlen=maxlen, max_features=max_features, ngram_range=ngram_range,
                                class_names=class_names, lang=lang, regression=regression, model_name=model_name)
    if x_val is None:
        labels = list(y_train) if not isinstance(y_train, np.ndarray) else y_train
        train, val = split_indices(labels, test_size=check_val_pct(val_pct), seed=random_state,
                                   stratify=not regression)
        pick = (lambda seq, idx: seq[idx]) if isinstance(y_train, np.ndarray) else \
            (lambda seq, idx: [seq[i] for i in idx])
        x_val, y_val = [x_train[i] for i in val], pick(y_train, val)
        x_train, y_train = [x_train[i] for i in train], pick(y_train, train)
        if verbose:
            print(f"held out {len(val)} of {len(train) + len(val)} training texts for validation (val_pct={val_pct})")
    trn = preproc.preprocess_train(x_train, y_train, verbose=verbose)
    val_ds = preproc.preprocess_test(check_texts(x_val, "x_test"), y_val, verbose=verbose)
    k = len(preproc.get_classes())
    return (trn, ktrain_targets(trn, k)), (val_ds, ktrain_targets(val_ds, k)), preproc
