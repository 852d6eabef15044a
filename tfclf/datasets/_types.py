"""The result object shared by every loader in :mod:`tfclf.datasets`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# One class name per document, or (multi-label) the list of class names that apply to it.
Labels = list[str] | list[list[str]]


@dataclass(frozen=True, eq=False, repr=False)
class TextData:
    """Texts with their labels, as returned by every ``tfclf.datasets`` loader.

    Single-label data (the usual case): ``labels[i]`` is the class name of document ``i`` and
    ``target[i]`` its integer id into ``class_names`` (``target`` has shape ``(n,)``).

    Multi-label data (``texts_from_csv`` with several label columns): ``labels[i]`` is the
    *list* of class names that apply to document ``i`` (possibly empty) and ``target`` is an
    ``(n, k)`` float array of 0/1, one column per entry of ``class_names``. Use
    :attr:`is_multilabel` to tell the two apart.

    The object unpacks into three values, so ktrain-style code reads naturally::

        texts, labels, class_names = load_20newsgroups(...)

    Attributes:
        texts: the documents.
        labels: the class name of each document (a list of names when multi-label).
        target: integer class ids, shape ``(n,)``; or 0/1 floats, shape ``(n, k)``.
        class_names: the classes, in target-id order.
        filenames: the file each document was read from; empty when there are no files
            (a CSV, for example). Files may no longer exist when the data came from
            scikit-learn's cache.
        source: a human-readable note of where the data came from.

    Example:
        >>> import numpy as np
        >>> data = TextData(["good", "bad"], ["pos", "neg"], np.array([1, 0]), ["neg", "pos"])
        >>> texts, labels, class_names = data
        >>> labels, class_names
        (['pos', 'neg'], ['neg', 'pos'])
    """

    texts: list[str]
    labels: Labels
    target: np.ndarray
    class_names: list[str]
    filenames: list[str] = field(default_factory=list)
    source: str = ""

    def __post_init__(self) -> None:
        # Catch a loader bug here rather than as a shape error deep inside training.
        target = np.asarray(self.target)
        object.__setattr__(self, "target", target)
        n = len(self.texts)
        if len(self.labels) != n or target.shape[:1] != (n,):
            raise ValueError(
                f"TextData needs one label and one target row per text: got {n} texts, "
                f"{len(self.labels)} labels and a target of shape {target.shape}"
            )
        if self.filenames and len(self.filenames) != n:
            raise ValueError(f"got {len(self.filenames)} filenames for {n} texts")
        k = len(self.class_names)
        if target.ndim == 2:
            if target.shape[1] != k:
                raise ValueError(f"a multi-label target needs {k} columns, got {target.shape[1]}")
        elif target.ndim == 1:
            if n and (target.min() < 0 or target.max() >= k):
                raise ValueError(
                    f"target ids must lie in [0, {k}); got {target.min()}..{target.max()}"
                )
        else:
            raise ValueError(
                f"target must be 1-D (ids) or 2-D (multi-hot), got shape {target.shape}"
            )

    @property
    def is_multilabel(self) -> bool:
        """Whether ``target`` is a multi-hot ``(n, k)`` matrix rather than class ids."""
        return self.target.ndim == 2

    def __iter__(self) -> Iterator[Any]:
        """Yields ``texts``, ``labels`` and ``class_names``, for tuple unpacking."""
        return iter((self.texts, self.labels, self.class_names))

    def __repr__(self) -> str:
        # The default dataclass repr would print every document into the notebook.
        kind = "multi-label, " if self.is_multilabel else ""
        return (
            f"TextData({len(self.texts)} texts, {kind}{len(self.class_names)} classes "
            f"{self.class_names!r}, source={self.source!r})"
        )
