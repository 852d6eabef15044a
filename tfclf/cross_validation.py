"""k-fold cross-validation through the usual Transformer / Learner / Predictor steps.

Each fold trains a fresh model (the pretrained weights reloaded, a new head) on the other folds
and scores its held-out fold; the fold's model is released before the next one is built, so
memory does not grow with the number of folds.
"""

from __future__ import annotations

import gc
import inspect
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tfclf._util import positive_int

# The metric that each label mode reports, in the order printed.
_HEADLINE = {
    "multiclass": ("accuracy", "macro_f1", "log_loss"),
    "multilabel": ("micro_f1", "macro_f1", "hamming_loss"),
    "regression": ("mae", "mse", "rmse"),
}


@dataclass
class CVResult:
    """What `cross_validate` measured.

    Attributes:
        folds: one dict per fold: its index, train and held-out sizes, training seconds and scores.
        mean: the mean of each score over the folds.
        std: the sample standard deviation of each score over the folds (0 for one fold).
        oof_proba: out-of-fold predictions: row i comes from the model that did not train on
            text i (probabilities; regression values for regression).
        fold_of: the fold that held out each text.
        classes_: the column order of `oof_proba`.
        mode: "multiclass", "multilabel" or "regression".
        targets: the given labels, encoded (class indices for single-label data), in text order.
    """

    folds: list[dict]
    mean: dict
    std: dict
    oof_proba: np.ndarray
    fold_of: np.ndarray
    classes_: list[str]
    mode: str
    settings: dict = field(default_factory=dict)
    targets: np.ndarray | None = None

    def summary(self) -> str:
        """One line per score: mean ± std over the folds."""
        return "\n".join(f"{k}: {self.mean[k]:.4f} ± {self.std[k]:.4f}" for k in self.mean)

    def label_issues(self):
        """The training texts most likely mislabeled, judged from the out-of-fold probabilities
        (confident learning: `tfclf.label_issues`). Single-label data only.

        Example:
            >>> issues = cv.label_issues()          # doctest: +SKIP
            >>> issues.view(texts, n=5)             # doctest: +SKIP
        """
        from tfclf.label_issues import find_label_issues

        if self.mode != "multiclass":
            raise ValueError(f"label issues are found for single-label data; this result is {self.mode}")
        if self.targets is None:
            raise ValueError("this CVResult holds no labels; it was not made by cross_validate")
        return find_label_issues(self.oof_proba, self.targets, self.classes_)

    def to_json(self) -> dict:
        """The scores (not the out-of-fold predictions) as JSON-ready data."""
        return {"mode": self.mode, "classes": self.classes_, "folds": self.folds, "mean": self.mean,
                "std": self.std, "settings": self.settings}


def _fold_splits(labels, n: int, n_splits: int, stratified: bool, seed: int | None, multilabel: bool):
    from sklearn.model_selection import KFold, StratifiedKFold

    if stratified and not multilabel:
        values = np.asarray([str(v) for v in labels])
        _, counts = np.unique(values, return_counts=True)
        if counts.min() < n_splits:
            raise ValueError(
                f"a class has only {counts.min()} example(s), fewer than n_splits={n_splits}: "
                "lower n_splits or pass stratified=False"
            )
        return list(StratifiedKFold(n_splits, shuffle=True, random_state=seed).split(np.zeros(n), values))
    if stratified and multilabel:
        return _multilabel_folds(labels, n, n_splits, seed)
    return list(KFold(n_splits, shuffle=True, random_state=seed).split(np.zeros(n)))


def _multilabel_folds(labels, n: int, n_splits: int, seed: int | None):
    """Folds by iterative stratification: each fold is peeled off the rows not yet held out."""
    from tfclf.datasets.split import _multi_hot, iterative_stratification

    target = _multi_hot(labels)
    left = np.arange(n)
    fold_of = np.empty(n, dtype=int)
    for fold in range(n_splits - 1):
        size = int(round(len(left) / (n_splits - fold)))
        held = iterative_stratification(target[left], size, None if seed is None else seed + fold)
        fold_of[left[held]] = fold
        left = left[~held]
    fold_of[left] = n_splits - 1
    return [(np.flatnonzero(fold_of != f), np.flatnonzero(fold_of == f)) for f in range(n_splits)]


def _split_kwargs(kwargs: dict) -> tuple[dict, dict]:
    from tfclf.learner import Learner
    from tfclf.preprocess import Transformer

    transformer_params = set(inspect.signature(Transformer.__init__).parameters) - {"self", "model_name"}
    fit_params = set(inspect.signature(Learner.fit_onecycle).parameters) - {"self", "lr", "epochs"}
    t_args, fit_args = {}, {}
    for key, value in kwargs.items():
        if key in transformer_params:
            t_args[key] = value
        elif key in fit_params:
            fit_args[key] = value
        else:
            raise TypeError(
                f"cross_validate got an unexpected argument {key!r}: it takes Transformer options "
                f"({', '.join(sorted(transformer_params))}) and fit_onecycle options ({', '.join(sorted(fit_params))})"
            )
    return t_args, fit_args


def _take(seq, idx):
    return seq[idx] if isinstance(seq, np.ndarray) else [seq[i] for i in idx]


def cross_validate(texts: Sequence[str], labels, model_name, n_splits: int = 5, stratified: bool = True,
                   seed: int | None = 0, lr: float = 5e-5, epochs: int = 1, batch_size: int = 8,
                   maxlen: int = 128, verbose: int = 1, **kwargs: Any) -> CVResult:
    """Trains and scores a fresh model on each of `n_splits` folds.

    Args:
        texts: the documents.
        labels: one label per text (or multi-label rows / float targets), as for `preprocess_train`.
        model_name: the pretrained model (name or folder), as for `text.Transformer`.
        n_splits: the number of folds (>= 2).
        stratified: keep each class's share equal across folds (iterative stratification for
            multi-label data; ignored for regression).
        seed: fixes the folds, the models' initial heads and the batch order.
        lr: the 1cycle maximum learning rate.
        epochs: epochs per fold.
        batch_size: training batch size.
        maxlen: tokens per text.
        verbose: 1 prints a line per fold; 2 also shows Keras' progress bars.
        **kwargs: `text.Transformer` options (e.g. ``class_names``, ``precision``,
            ``max_windows``) and `Learner.fit_onecycle` options (e.g. ``class_weight``).

    Returns:
        `CVResult`: per-fold scores, their mean and standard deviation, and out-of-fold
        predictions. Single-label scores are accuracy, macro-F1 and log loss (scikit-learn's
        ``log_loss`` on the softmax probabilities); multi-label: micro-/macro-F1 and Hamming
        loss at 0.5; regression: MAE, MSE, RMSE.

    Example:
        >>> cv = tfclf.cross_validate(texts, labels, "distilbert-base-uncased", n_splits=5,
        ...                           lr=5e-5, epochs=2, maxlen=256)      # doctest: +SKIP
        >>> print(cv.summary())                                             # doctest: +SKIP
        accuracy: 0.9512 ± 0.0071 ...
    """
    import tfclf
    from tfclf._compat import keras
    from tfclf.labels import LabelCodec
    from tfclf.preprocess import Transformer
    from tfclf.texts import check_texts

    texts = check_texts(texts)
    if hasattr(labels, "to_numpy"):  # a pandas Series / DataFrame: index by position, not by label
        labels = labels.to_numpy()
    if len(labels) != len(texts):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels: give one label per text")
    n_splits = positive_int(n_splits, "n_splits")
    if n_splits < 2 or n_splits > len(texts):
        raise ValueError(f"n_splits must be between 2 and the number of texts ({len(texts)}), got {n_splits}")
    t_args, fit_args = _split_kwargs(kwargs)
    # Learn the label mode once, on all labels, so every fold uses the same classes and order.
    codec = LabelCodec(class_names=t_args.get("class_names") or t_args.get("classes"),
                       multilabel=t_args.get("multilabel"))
    codec.fit(labels)
    mode, classes = codec.mode_, list(codec.classes_)
    if mode != "regression" and not (t_args.get("class_names") or t_args.get("classes")):
        # Every fold gets every class, in one order, even a fold whose training part lacks one.
        t_args["class_names"] = classes
    if mode == "multilabel":
        t_args["multilabel"] = True  # a fold of one-hot rows only must stay multi-label
    splits = _fold_splits(labels, len(texts), n_splits, stratified and mode != "regression", seed,
                          multilabel=mode == "multilabel")
    width = 1 if mode == "regression" else len(classes)
    oof = np.full((len(texts), width), np.nan, dtype=np.float64)
    fold_of = np.full(len(texts), -1, dtype=int)
    folds = []
    for fold, (train_idx, test_idx) in enumerate(splits):
        if seed is not None:
            tfclf.set_seed(seed + fold)
        t = Transformer(model_name, maxlen=maxlen, batch_size=batch_size, **t_args)
        trn = t.preprocess_train(_take(texts, train_idx), _take(labels, train_idx), verbose=0)
        val = t.preprocess_test(_take(texts, test_idx), _take(labels, test_idx), verbose=0)
        learner = tfclf.get_learner(t.get_classifier(), trn, val, batch_size=batch_size,
                                    seed=None if seed is None else seed + fold)
        t0 = time.perf_counter()
        learner.fit_onecycle(lr, epochs, verbose=1 if verbose >= 2 else 0, **fit_args)
        train_s = time.perf_counter() - t0
        evaluation = learner.evaluation(val)
        scores, probs = evaluation.metrics, evaluation.probs
        oof[test_idx] = np.asarray(probs, dtype=np.float64).reshape(len(test_idx), -1)
        fold_of[test_idx] = fold
        row = {"fold": fold, "n_train": len(train_idx), "n_val": len(test_idx), "train_s": round(train_s, 2),
               **{k: scores[k] for k in _HEADLINE[mode]}}
        folds.append(row)
        if verbose:
            print(f"fold {fold + 1}/{n_splits}: " + ", ".join(f"{k} {row[k]:.4f}" for k in _HEADLINE[mode])
                  + f" ({len(train_idx)} train / {len(test_idx)} held out, {train_s:.0f} s)", flush=True)
        # Release the fold's model and graphs before building the next one.
        del learner, trn, val, t, probs, evaluation
        keras.backend.clear_session()
        gc.collect()
    names = _HEADLINE[mode]
    mean = {k: statistics.fmean(f[k] for f in folds) for k in names}
    std = {k: statistics.stdev([f[k] for f in folds]) if len(folds) > 1 else 0.0 for k in names}
    result = CVResult(folds=folds, mean=mean, std=std, oof_proba=oof if mode != "regression" else oof[:, 0],
                      fold_of=fold_of, classes_=classes, mode=mode, targets=codec.encode(labels),
                      settings={"model_name": str(model_name), "n_splits": n_splits, "stratified": stratified,
                                "seed": seed, "lr": lr, "epochs": epochs, "batch_size": batch_size,
                                "maxlen": maxlen})
    if verbose:
        print(result.summary())
    return result
