"""Texts shared between a training and a test set: exact copies and near-duplicates.

A test text that also sits in the training set (a forwarded message, a re-posted article) inflates
the test score. `find_overlap` reports exact copies (the same words after case folding and
whitespace collapsing) and, given a predictor, near-duplicates: a test text's nearest training
text by the embeddings (`predictor.embed`, the vector the classification head reads), when their
cosine similarity reaches `threshold` and they share at least `min_jaccard` of their words (the
Jaccard index of their word sets). The second test is needed because a fine-tuned classifier
gathers each class's texts close together: on the 20 Newsgroups tutorial most test texts have a
training text of their class at cosine >= 0.98 without being a copy of it
(benchmarks/RESULTS.md). Each test text is reported with its nearest training text only.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np


def normalize(text: str) -> str:
    """The form two texts must share to count as exact copies."""
    return " ".join(text.casefold().split())


@dataclass
class Overlap:
    """What `find_overlap` found.

    Attributes:
        exact: ``(train_index, test_index)`` pairs of identical texts (after `normalize`).
        near: ``(train_index, test_index, cosine, jaccard)`` for test texts whose nearest training
            text reaches both thresholds without being an exact copy, most similar first.
        threshold: the cosine similarity a near-duplicate reaches.
        min_jaccard: the share of words (Jaccard index of the word sets) it shares.
        n_train, n_test: the sizes of the two sets.
    """

    exact: list[tuple[int, int]]
    near: list[tuple[int, int, float, float]] = field(default_factory=list)
    threshold: float | None = None
    min_jaccard: float | None = None
    n_train: int = 0
    n_test: int = 0

    def test_indices(self) -> list[int]:
        """Test texts with an exact or near copy in the training set (to drop them, say)."""
        return sorted({j for _, j in self.exact} | {j for _, j, _, _ in self.near})

    def summary(self) -> str:
        near = ("" if self.threshold is None else
                f", {len(self.near)} near-duplicates (cosine >= {self.threshold}, word Jaccard >= {self.min_jaccard})")
        return (f"{len({j for _, j in self.exact})} of {self.n_test} test texts have an exact copy in the "
                f"{self.n_train} training texts{near}")

    def view(self, train_texts: Sequence[str], test_texts: Sequence[str], n: int = 5, max_chars: int = 200) -> None:
        """Prints up to `n` near-duplicate pairs, most similar first, side by side."""
        for i, j, sim, jaccard in self.near[:n]:
            print("-" * 78)
            print(f"train:{i} ~ test:{j} | cosine:{sim:.4f} | word Jaccard:{jaccard:.3f}")
            for name, text in (("train", train_texts[i]), ("test", test_texts[j])):
                snippet = " ".join(str(text).split())[:max_chars]
                print(textwrap.fill(f"[{name}] {snippet}", width=78))
        print("-" * 78)


def find_overlap(train_texts: Sequence[str], test_texts: Sequence[str], predictor=None,
                 threshold: float = 0.95, min_jaccard: float = 0.5, chunk_size: int = 1024) -> Overlap:
    """Exact copies of training texts in the test set and, with a `predictor`, near-duplicates.

    Args:
        train_texts, test_texts: the two sets.
        predictor: a `tfclf.Predictor` whose `embed` gives the vectors compared (None: exact only).
        threshold: the cosine similarity (0 to 1) a test text's nearest training text must reach.
        min_jaccard: the Jaccard index of their word sets (0 to 1) it must reach too.
        chunk_size: test texts compared at a time (memory: chunk_size x len(train_texts) floats).

    Example:
        >>> find_overlap(["A cat.", "A dog."], ["a  CAT.", "A bird."]).exact
        [(0, 0)]
    """
    from tfclf._util import positive_int
    from tfclf.texts import check_texts

    train, test = check_texts(train_texts), check_texts(test_texts)
    positive_int(chunk_size, "chunk_size")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold <= 1:
        raise ValueError(f"threshold must be a cosine similarity in (0, 1], got {threshold!r}")
    if isinstance(min_jaccard, bool) or not isinstance(min_jaccard, (int, float)) or not 0 <= min_jaccard <= 1:
        raise ValueError(f"min_jaccard must be a share of words in [0, 1], got {min_jaccard!r}")
    seen: dict[str, list[int]] = {}
    for i, text in enumerate(train):
        seen.setdefault(normalize(text), []).append(i)
    exact = [(i, j) for j, text in enumerate(test) for i in seen.get(normalize(text), [])]
    result = Overlap(exact=exact, threshold=None if predictor is None else float(threshold),
                     min_jaccard=None if predictor is None else float(min_jaccard), n_train=len(train), n_test=len(test))
    if predictor is None:
        return result
    copied = {j for _, j in exact}
    a = _unit_rows(predictor.embed(train))
    b = _unit_rows(predictor.embed(test))
    for start in range(0, len(test), chunk_size):
        sims = b[start:start + chunk_size] @ a.T
        best = sims.argmax(axis=1)
        for offset, i in enumerate(best):
            j, sim = start + offset, float(sims[offset, i])
            if sim >= threshold and j not in copied:
                jaccard = _jaccard(train[i], test[j])
                if jaccard >= min_jaccard:
                    result.near.append((int(i), j, sim, jaccard))
    result.near.sort(key=lambda pair: -pair[2])
    return result


def _jaccard(a: str, b: str) -> float:
    x, y = set(normalize(a).split()), set(normalize(b).split())
    return len(x & y) / len(x | y) if x | y else 1.0


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    v = np.asarray(vectors, dtype=np.float32)
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
