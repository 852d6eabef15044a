"""Texts to rows of token ids, as a `Reading` says: plain truncation, head+tail, or windows.

The tokenizer is any fast Hugging Face tokenizer. A very long text is cut at whitespace before
tokenizing (see `encode`), so a 1 MB document costs no more than what is kept of it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tfclf import reading as R
from tfclf.data import TextDataset

TOKENIZE_CHUNK = 2048
# Every token holds at least one character; 64 per token leaves room for long whitespace runs.
CHARS_PER_TOKEN_BUDGET = 64


def clip(text: str, budget: int) -> str:
    """`text` cut at the last whitespace before `budget` characters (or at `budget` if none)."""
    if len(text) <= budget:
        return text
    cut = text[:budget]
    space = max(cut.rfind(" "), cut.rfind("\n"), cut.rfind("\t"))
    return cut[:space] if space > budget // 2 else cut


def clip_both_ends(text: str, budget: int) -> str:
    """`text` if it has at most 2 x `budget` characters, else its first and last `budget` ones
    (cut at whitespace), so that head+tail truncation and windows still see the text's end."""
    if len(text) <= 2 * budget:
        return text
    tail = text[-budget:]
    space = max(tail.find(" "), tail.find("\n"))
    tail = tail[space + 1:] if 0 <= space < budget // 2 else tail
    return clip(text, budget) + " " + tail


def _tokenize(tokenizer, texts: list[str], maxlen: int) -> list[list[int]]:
    return tokenizer(texts, truncation=True, max_length=maxlen, padding=False, return_attention_mask=False,
                     return_token_type_ids=False)["input_ids"]


def encode(tokenizer, texts: Sequence[str], maxlen: int) -> list[list[int]]:
    """Token ids of each text, truncated to maxlen, tokenized in batches.

    A text is first cut at a whitespace after ``maxlen * 64`` characters: a cut at whitespace
    leaves the kept words' tokens unchanged. If the cut text yields fewer than maxlen tokens
    (long whitespace runs), the whole text is tokenized.
    """
    budget = maxlen * CHARS_PER_TOKEN_BUDGET
    ids: list[list[int]] = []
    for s in range(0, len(texts), TOKENIZE_CHUNK):
        chunk = list(texts[s:s + TOKENIZE_CHUNK])
        clipped = [clip(t, budget) for t in chunk]
        out = _tokenize(tokenizer, clipped, maxlen)
        for i, (full, cut) in enumerate(zip(chunk, clipped)):
            if len(cut) < len(full) and len(out[i]) < maxlen:
                out[i] = _tokenize(tokenizer, [full], maxlen)[0]
        ids.extend(out)
    return ids


def special_tokens(tokenizer) -> tuple[list[int], list[int]]:
    """The special tokens the tokenizer puts before and after a text's content tokens."""
    content = tokenizer("a", add_special_tokens=False)["input_ids"]
    full = tokenizer("a", add_special_tokens=True)["input_ids"]
    at = next(i for i in range(len(full) - len(content) + 1) if full[i:i + len(content)] == content)
    return full[:at], full[at + len(content):]


def encode_documents(tokenizer, texts: Sequence[str], reading: R.Reading) -> tuple[list[list[int]], np.ndarray | None]:
    """Token ids per row, and each row's text index (None when every text is one row).

    With plain head truncation this is `encode`. With "head_tail" each text is one row of its
    first and last tokens; with ``max_windows > 1`` a long text gives several rows (see
    `tfclf.reading`). A text that fits is encoded as `encode` encodes it in every mode.
    """
    maxlen = int(reading.maxlen)
    if reading.plain:
        return encode(tokenizer, texts, maxlen), None
    prefix, suffix = special_tokens(tokenizer)
    size = maxlen - len(prefix) - len(suffix)
    if size < 1:
        raise ValueError(f"maxlen={maxlen} leaves no room for text between the special tokens")
    budget = maxlen * CHARS_PER_TOKEN_BUDGET * int(reading.max_windows)
    rows: list[list[int]] = []
    doc_ids: list[int] = []
    for s in range(0, len(texts), TOKENIZE_CHUNK):
        chunk = [clip_both_ends(t, budget) for t in texts[s:s + TOKENIZE_CHUNK]]
        contents = tokenizer(chunk, add_special_tokens=False, truncation=False, padding=False,
                             return_attention_mask=False, return_token_type_ids=False)["input_ids"]
        for i, content in enumerate(contents):
            for part in reading.parts(content, size):
                rows.append(prefix + part + suffix)
                doc_ids.append(s + i)
    return rows, np.asarray(doc_ids, dtype=np.int64)


def check_label_count(texts: Sequence[str], y) -> None:
    """One label per text, and `y` a sequence (a single string is a common slip)."""
    if isinstance(y, (str, bytes)):
        raise TypeError("y must be a sequence of labels (one per text), not a single string")
    try:
        n = len(y)
    except TypeError as err:
        raise TypeError(f"y must be a sequence of labels, got {type(y).__name__}") from err
    if n != len(texts):
        raise ValueError(f"texts and y have different lengths: {len(texts)} texts, {n} labels")


def documents_dataset(tokenizer, texts: list[str], reading: R.Reading, codec, labels=None, *,
                      pad_token_id: int = 0, batch_size: int | None = None) -> TextDataset:
    """The one way from checked texts to a `TextDataset`: tokenized and read as `reading` says
    (windows included), with `labels` encoded by `codec` (a fitted `LabelCodec`) when given.
    Both the Transformer (TensorFlow) and an exported predictor (no TensorFlow) read through it.
    """
    if labels is not None:
        check_label_count(texts, labels)
    targets = None if labels is None else codec.encode(labels)
    ids, doc_ids = encode_documents(tokenizer, texts, reading)
    if doc_ids is not None and targets is not None:
        targets = targets[doc_ids]  # every window carries its text's label
    return TextDataset(ids, targets, texts=texts, maxlen=reading.maxlen, pad_token_id=pad_token_id,
                       batch_size=batch_size, mode=codec.mode_,
                       doc_ids=doc_ids if reading.whole_documents else None, aggregate=reading.aggregate)
