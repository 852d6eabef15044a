"""How a text is read: `Reading`, the options that decide which tokens a model sees, and the
window arithmetic behind them.

A text longer than maxlen is read in one of three ways, chosen on the `Transformer`:

* ``truncation="head"`` (ktrain's, the default): the first maxlen tokens;
* ``truncation="head_tail"``: the first `head` and the last ``maxlen - head`` content tokens
  (Sun et al. 2019, "How to Fine-Tune BERT for Text Classification", found the end of a long
  document as telling as its start);
* ``max_windows > 1``: the whole text, as overlapping windows of maxlen tokens. Each window is
  a training example with the document's label; at prediction time the windows' logits (or
  probabilities) are averaged per document. A document with more windows than `max_windows`
  keeps that many, spread evenly from its first window to its last.

Every window (and every truncated text) keeps the model's special tokens ([CLS] ... [SEP] for
BERT, <s> ... </s> for RoBERTa) around its content tokens, so a text that fits in maxlen is
encoded exactly as plain truncation encodes it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from tfclf._util import int_in_range, positive_int

HEAD = "head"
HEAD_TAIL = "head_tail"
TRUNCATIONS = (HEAD, HEAD_TAIL)
MEAN_LOGITS = "mean_logits"
MEAN_PROBS = "mean_probs"
AGGREGATES = (MEAN_LOGITS, MEAN_PROBS)


@dataclass(frozen=True)
class Reading:
    """How a text becomes rows of at most `maxlen` token ids; checked when made.

    `head_tokens` and `window_overlap` count content tokens (special tokens excluded); None
    means a quarter of the content for the head and half a window of overlap. The JSON form
    (`to_json`) is what a saved predictor records; `from_json` reads it back, with the defaults
    for keys a manifest written before an option existed does not have.

    Example:
        >>> Reading(maxlen=256, max_windows=4).whole_documents
        True
        >>> Reading.from_json({"maxlen": 128}) == Reading(maxlen=128)
        True
    """

    maxlen: int = 128
    truncation: str = HEAD
    head_tokens: int | None = None
    max_windows: int = 1
    window_overlap: int | None = None
    aggregate: str = MEAN_LOGITS

    def __post_init__(self) -> None:
        if isinstance(self.maxlen, bool) or not isinstance(self.maxlen, (int, np.integer)):
            raise TypeError(f"maxlen must be an integer, got {self.maxlen!r}")
        if self.maxlen < 2:
            raise ValueError(f"maxlen must be >= 2 (room for the special tokens), got {self.maxlen}")
        if self.truncation not in TRUNCATIONS:
            raise ValueError(f"truncation must be one of {TRUNCATIONS}, got {self.truncation!r}")
        if self.aggregate not in AGGREGATES:
            raise ValueError(f"aggregate must be one of {AGGREGATES}, got {self.aggregate!r}")
        positive_int(self.max_windows, "max_windows")
        if self.head_tokens is not None:
            int_in_range(self.head_tokens, "head_tokens", 0, self.maxlen, "maxlen")
        if self.window_overlap is not None:
            int_in_range(self.window_overlap, "window_overlap", 0, self.maxlen - 2, "maxlen - 2")

    @property
    def whole_documents(self) -> bool:
        """Whether a long text becomes several windows (``max_windows > 1``)."""
        return int(self.max_windows) > 1

    @property
    def plain(self) -> bool:
        """Whether a text is simply cut to its first maxlen tokens (ktrain's way)."""
        return self.truncation == HEAD and not self.whole_documents

    def head(self, size: int) -> int:
        """Content tokens kept from a text's start under head+tail, for `size` content tokens."""
        return size // 4 if self.head_tokens is None else min(int(self.head_tokens), size)

    def stride(self, size: int) -> int:
        """Tokens between two window starts, for windows of `size` content tokens."""
        overlap = size // 2 if self.window_overlap is None else min(int(self.window_overlap), size - 1)
        return size - overlap

    def parts(self, content: list, size: int) -> list[list]:
        """The rows one text's `size`-token content gives under this reading: its windows, or its
        head+tail (or head) in one row. `content` may hold token ids or their positions."""
        if self.whole_documents:
            return windows(content, size, self.stride(size), int(self.max_windows))
        return [head_tail(content, size, self.head(size))]

    def to_json(self) -> dict:
        return {k: (int(v) if isinstance(v, np.integer) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Reading":
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


# The options a `Transformer` passes on to its `Reading` (maxlen aside): saved with a predictor,
# and what an experiment changes to read the same model another way.
READING_OPTIONS = tuple(f.name for f in fields(Reading) if f.name != "maxlen")


def head_tail(content: list[int], size: int, head: int) -> list[int]:
    """The first `head` and the last ``size - head`` of `content` (all of it if it fits)."""
    if len(content) <= size:
        return list(content)
    head = min(max(head, 0), size)
    return list(content[:head]) + list(content[len(content) - (size - head):])


def window_starts(n: int, size: int, stride: int, max_windows: int | None = None) -> list[int]:
    """Start offsets of windows of `size` over `n` tokens, `stride` apart, the last ending at `n`.

    One window (start 0) when ``n <= size``. With more than `max_windows` windows, that many are
    kept, evenly spaced from the first to the last, so the whole document is still sampled.

    Example:
        >>> window_starts(10, 4, 2)
        [0, 2, 4, 6]
        >>> window_starts(11, 4, 3)
        [0, 3, 6, 7]
    """
    if size < 1 or stride < 1:
        raise ValueError(f"window size and stride must be >= 1, got {size} and {stride}")
    if n <= size:
        return [0]
    starts = list(range(0, n - size + 1, stride))
    if starts[-1] != n - size:
        starts.append(n - size)  # the last window ends at the document's end
    if max_windows is not None and len(starts) > max_windows:
        keep = np.unique(np.round(np.linspace(0, len(starts) - 1, max_windows)).astype(int))
        starts = [starts[i] for i in keep]
    return starts


def windows(content: list[int], size: int, stride: int, max_windows: int | None = None) -> list[list[int]]:
    """The content-token windows of one document (see `window_starts`)."""
    return [list(content[s:s + size]) for s in window_starts(len(content), size, stride, max_windows)]


def aggregate(rows: np.ndarray, doc_ids: np.ndarray, n_docs: int) -> np.ndarray:
    """The mean of `rows` per document: ``out[d] = mean(rows[doc_ids == d])``.

    The result does not depend on the order of the rows.
    """
    rows = np.asarray(rows, dtype=np.float64)
    doc_ids = np.asarray(doc_ids, dtype=np.int64)
    flat = rows.reshape(len(rows), -1)
    sums = np.zeros((n_docs, flat.shape[1]), dtype=np.float64)
    np.add.at(sums, doc_ids, flat)
    counts = np.bincount(doc_ids, minlength=n_docs).astype(np.float64)
    if (counts == 0).any():
        raise ValueError(f"document {int(np.flatnonzero(counts == 0)[0])} has no window")
    return (sums / counts[:, None]).reshape((n_docs, *rows.shape[1:]))
