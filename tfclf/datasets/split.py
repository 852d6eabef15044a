"""Stratified train/test splits for single-label and multi-label texts.

Single-label data is split with scikit-learn's stratified `train_test_split`. Multi-label data is
split by iterative stratification (Sechidis, Tsoumakas and Vlahavas 2011, "On the stratification
of multi-label data"): the rarest label's examples are placed first, each in the part that still
wants most of that label, so every label's share in the test part stays close to `test_size`.

In both, a class (or label) with a single example cannot be in both parts; its example goes to
training, where the model can at least learn from it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _is_multilabel(labels) -> bool:
    if isinstance(labels, np.ndarray):
        return labels.ndim == 2
    return len(labels) > 0 and all(isinstance(y, (list, tuple, set, frozenset, np.ndarray)) for y in labels)


def _multi_hot(labels) -> np.ndarray:
    if isinstance(labels, np.ndarray) and labels.ndim == 2:
        return (labels >= 0.5).astype(np.int8)
    rows = [list(y) for y in labels]
    if rows and all(len(r) and all(isinstance(v, (int, np.integer, float, np.floating)) for v in r) for r in rows) \
            and len({len(r) for r in rows}) == 1 and all(set(np.asarray(r).tolist()) <= {0, 1} for r in rows):
        return np.asarray(rows, dtype=np.int8)  # lists of 0/1 flags
    names = sorted({str(v) for r in rows for v in r})
    index = {n: j for j, n in enumerate(names)}
    out = np.zeros((len(rows), len(names)), dtype=np.int8)
    for i, r in enumerate(rows):
        for v in r:
            out[i, index[str(v)]] = 1
    return out


def _n_test(n: int, test_size: float | int) -> int:
    if isinstance(test_size, bool):
        raise TypeError("test_size must be a fraction in (0, 1) or a number of examples")
    if isinstance(test_size, (int, np.integer)):
        if not 1 <= test_size < n:
            raise ValueError(f"test_size={test_size} examples must be between 1 and {n - 1} (there are {n})")
        return int(test_size)
    if not 0 < float(test_size) < 1:
        raise ValueError(f"test_size must be a fraction in (0, 1) or a number of examples, got {test_size!r}")
    n_test = int(round(float(test_size) * n))
    if not 1 <= n_test < n:
        raise ValueError(f"test_size={test_size} of {n} examples leaves an empty part; use more data")
    return n_test


def iterative_stratification(target: np.ndarray, n_test: int, seed: int | None = 0) -> np.ndarray:
    """A boolean mask of the test rows for multi-hot `target`, by iterative stratification.

    Rows whose labels include one that occurs only once are kept out of the test part.
    """
    y = np.asarray(target).astype(bool)
    n, k = y.shape
    rng = np.random.default_rng(seed)
    counts = y.sum(axis=0)
    forced_train = y[:, counts == 1].any(axis=1)
    ratio = n_test / n
    # Desired counts per part (0 = test, 1 = train), overall and per label.
    want = np.array([n_test, n - n_test], dtype=float)
    want_label = np.stack([counts * ratio, counts * (1 - ratio)]).astype(float)
    part = np.full(n, -1)
    for i in np.flatnonzero(forced_train):
        part[i] = 1
        want[1] -= 1
        want_label[1] -= y[i]
    remaining = y & (part < 0)[:, None]
    while remaining.any():
        left = remaining.sum(axis=0)
        label = int(np.argmin(np.where(left > 0, left, np.iinfo(np.int64).max)))
        rows = np.flatnonzero(remaining[:, label])
        for i in rng.permutation(rows):
            wl = want_label[:, label]
            if wl[0] != wl[1]:
                choice = int(np.argmax(wl))
            elif want[0] != want[1]:
                choice = int(np.argmax(want))
            else:
                choice = int(rng.integers(2))
            if want[choice] <= 0 and want[1 - choice] > 0:
                choice = 1 - choice
            part[i] = choice
            want[choice] -= 1
            want_label[choice] -= y[i]
            remaining[i] = False
    # Rows with no label at all fill what each part still wants.
    for i in rng.permutation(np.flatnonzero(part < 0)):
        choice = int(np.argmax(want)) if want[0] != want[1] else int(rng.integers(2))
        part[i] = choice
        want[choice] -= 1
    return part == 0


def split_indices(labels, test_size: float | int = 0.2, seed: int | None = 0,
                  stratify: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Train and test row indices (each sorted) for `labels`; see `train_test_split`."""
    n = len(labels)
    if n < 2:
        raise ValueError(f"cannot split {n} example(s): need at least 2")
    n_test = _n_test(n, test_size)
    if not stratify:
        order = np.random.default_rng(seed).permutation(n)
        return np.sort(order[n_test:]), np.sort(order[:n_test])
    if _is_multilabel(labels):
        test = iterative_stratification(_multi_hot(labels), n_test, seed)
        return np.flatnonzero(~test), np.flatnonzero(test)
    from sklearn.model_selection import train_test_split as sk_split

    values = np.asarray([str(v) for v in labels])
    names, counts = np.unique(values, return_counts=True)
    singles = np.isin(values, names[counts == 1])
    rest = np.flatnonzero(~singles)
    if n_test > len(rest) - len(np.unique(values[rest])):
        raise ValueError(
            f"test_size={test_size} asks for {n_test} test examples, too many to leave every class "
            "one training example; use a smaller test_size"
        )
    # Every class left has >= 2 examples, so scikit-learn can stratify; the test part keeps its size.
    stratify_by = values[rest] if len(np.unique(values[rest])) <= n_test else None
    train, test = sk_split(rest, test_size=n_test, random_state=seed, stratify=stratify_by)
    return np.sort(np.concatenate([train, np.flatnonzero(singles)])), np.sort(test)


def _take(seq, idx: np.ndarray):
    if isinstance(seq, np.ndarray):
        return seq[idx]
    try:
        import pandas as pd

        if isinstance(seq, (pd.Series, pd.DataFrame)):
            return seq.iloc[idx]
    except ImportError:  # pragma: no cover - pandas is optional
        pass
    return [seq[i] for i in idx]


def train_test_split(texts: Sequence[str], labels, test_size: float | int = 0.2, seed: int | None = 0,
                     stratify: bool = True):
    """Splits texts and labels into train and test parts, stratified by label.

    Args:
        texts: the documents.
        labels: one label per text (names or ids), or, for multi-label data, a list of label
            lists per text (``[["toxic", "insult"], [], ...]``) or an (n, k) 0/1 array.
        test_size: the test part's fraction (0 < f < 1) or number of examples.
        seed: the random seed (the same seed gives the same split).
        stratify: keep each class's (each label's) share equal in both parts.

    Returns:
        ``(x_train, x_test, y_train, y_test)``, in scikit-learn's order, each in its input's type
        (lists stay lists, arrays stay arrays).

    Example:
        >>> x = [f"doc {i}" for i in range(10)]
        >>> y = [["a"], ["a", "b"], ["b"], ["a"], ["b"], ["a", "b"], ["a"], ["b"], ["c"], []]
        >>> x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.3, seed=1)
        >>> len(x_tr), len(x_te), "doc 8" in x_tr   # "c" occurs once: its text trains
        (7, 3, True)
    """
    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels: give one label (row) per text")
    train, test = split_indices(labels, test_size=test_size, seed=seed, stratify=stratify)
    return _take(texts, train), _take(texts, test), _take(labels, train), _take(labels, test)
