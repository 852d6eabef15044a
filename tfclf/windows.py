"""Long documents: which tokens a model reads when a text is longer than maxlen.

Three ways, chosen on the `Transformer`:

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

import numpy as np

HEAD = "head"
HEAD_TAIL = "head_tail"
TRUNCATIONS = (HEAD, HEAD_TAIL)
MEAN_LOGITS = "mean_logits"
MEAN_PROBS = "mean_probs"
AGGREGATES = (MEAN_LOGITS, MEAN_PROBS)
# The Transformer options that decide how a long text is read: saved with a predictor, and what an
# experiment changes to read the same model another way.
READING_OPTIONS = ("truncation", "head_tokens", "max_windows", "window_overlap", "aggregate")


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
