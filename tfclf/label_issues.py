"""Training texts whose given label is probably wrong, from out-of-fold probabilities.

The rule is confident learning's (Northcutt, Jiang and Chuang, 2021, "Confident Learning:
Estimating Uncertainty in Dataset Labels"), computed from `cross_validate`'s out-of-fold
probabilities, so that no text is judged by a model that trained on it:

1. Each class j gets a threshold t_j: the mean probability of class j over the texts labeled j
   (how confident the models are, on average, about texts that really carry that label).
2. A text is *flagged* when some class j other than its given label y reaches its own threshold
   (p_j >= t_j) and is the most probable of the classes that do: it confidently belongs elsewhere.
3. Texts are *ranked* by the normalized margin ``max_{j != y} p_j - p_y`` (largest first): how much
   more probable the best other class is than the given label. The flagged texts come first.

The number flagged is the data's own estimate of how many labels are wrong; ``LabelIssues.top(k)``
takes the k most suspicious whether flagged or not.

Example:
    >>> import numpy as np
    >>> probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.2, 0.8], [0.1, 0.9], [0.95, 0.05]])
    >>> issues = find_label_issues(probs, np.array([0, 0, 1, 1, 1]), ["a", "b"])
    >>> issues.flagged.tolist(), issues.top(1).tolist()
    ([4], [4])
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from collections.abc import Sequence

import numpy as np


@dataclass
class LabelIssues:
    """Texts ranked from most to least likely mislabeled.

    Attributes:
        order: text indices, most suspicious first (every text appears once).
        margin: each text's normalized margin (indexed by text, not by rank).
        flagged: indices of the texts the confident-learning rule flags, most suspicious first.
        given: each text's given label (a class name).
        likely: each text's most probable other class (a class name).
        thresholds: the per-class confidence thresholds t_j.
        classes_: the class names, in the probabilities' column order.
    """

    order: np.ndarray
    margin: np.ndarray
    flagged: np.ndarray
    given: list[str]
    likely: list[str]
    thresholds: np.ndarray
    classes_: list[str]

    def __len__(self) -> int:
        return len(self.flagged)

    def top(self, k: int) -> np.ndarray:
        """The `k` most suspicious text indices."""
        return self.order[: int(k)]

    def precision_recall(self, truly_wrong: Sequence[int], k: int | None = None) -> dict:
        """Precision and recall of the `k` most suspicious texts (default: the flagged ones) among
        the indices known to be mislabeled (for studies with labels flipped on purpose)."""
        wrong = set(int(i) for i in truly_wrong)
        picked = self.flagged if k is None else self.top(k)
        hits = sum(int(i) in wrong for i in picked)
        return {"k": len(picked), "hits": hits, "precision": hits / len(picked) if len(picked) else float("nan"),
                "recall": hits / len(wrong) if wrong else float("nan")}

    def view(self, texts: Sequence[str], n: int = 5, max_chars: int = 300) -> None:
        """Prints the `n` most suspicious texts as `view_top_losses` prints its documents: index,
        margin, given label, likely label, and the start of the text."""
        if len(texts) != len(self.margin):
            raise ValueError(f"{len(texts)} texts for {len(self.margin)} probability rows: pass the texts "
                             "given to cross_validate, in their order")
        for i in self.top(n):
            print("-" * 78)
            mark = " (flagged)" if i in set(self.flagged.tolist()) else ""
            print(f"id:{i} | margin:{self.margin[i]:+.4f}{mark} | given:{self.given[i]} | likely:{self.likely[i]}")
            snippet = " ".join(str(texts[i]).split())
            if len(snippet) > max_chars:
                snippet = snippet[:max_chars].rstrip() + " ..."
            print(textwrap.fill(snippet, width=78) if snippet else "(empty text)")
        print("-" * 78)


def find_label_issues(probs: np.ndarray, labels: np.ndarray, classes: Sequence[str]) -> LabelIssues:
    """Ranks texts by how likely their given label is wrong (see the module's rule).

    Args:
        probs: out-of-fold class probabilities, one row per text (`CVResult.oof_proba`).
        labels: each text's given class, as an index into `classes`.
        classes: the class names, in `probs`' column order.
    """
    from tfclf.probability_checks import check_probs

    probs = check_probs(probs, "multiclass")
    labels = np.asarray(labels)
    classes = list(classes)
    if probs.ndim != 2 or probs.shape[1] != len(classes) or len(classes) < 2:
        raise ValueError(f"probs must have one column per class ({len(classes)} classes, at least 2), "
                         f"got shape {probs.shape}")
    if labels.shape != (len(probs),) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be {len(probs)} class indices, one per row of probs")
    if labels.min() < 0 or labels.max() >= len(classes):
        raise ValueError(f"label indices must be between 0 and {len(classes) - 1}")
    n, k = probs.shape
    thresholds = np.array([probs[labels == j, j].mean() if (labels == j).any() else 1.0 for j in range(k)])
    rows = np.arange(n)
    others = probs.copy()
    others[rows, labels] = -np.inf
    likely = others.argmax(axis=1)
    margin = others[rows, likely] - probs[rows, labels]
    # confident joint: the most probable class among those at or above their threshold
    confident = np.where(probs >= thresholds[None, :], probs, -np.inf)
    best = confident.argmax(axis=1)
    flagged_mask = np.isfinite(confident[rows, best]) & (best != labels)
    order = np.lexsort((-margin, ~flagged_mask))  # flagged first, then by margin, largest first
    flagged = order[: int(flagged_mask.sum())]
    return LabelIssues(order=order, margin=margin, flagged=flagged, given=[classes[i] for i in labels],
                       likely=[classes[i] for i in likely], thresholds=thresholds, classes_=classes)
