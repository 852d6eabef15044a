"""Word and n-gram ids for the classic models: ktrain's ``preprocess_mode="standard"``.

A text becomes the ids of its words (lower-cased runs of letters and digits, apostrophes inside
a word kept: "don't" is one word), cut to the first `maxlen` words, followed by the ids of the
n-grams of those words (2 <= n <= ngram_range) that occurred in the training texts. Word ids are
1..max_features by decreasing training frequency (ties: first seen first); 0 is padding, and
words outside the vocabulary are dropped, as Keras' ``Tokenizer(num_words=...)`` does. N-gram ids
follow the word ids, ordered by n then by the n-gram's word ids.

The vocabulary is plain JSON (`to_json` / `from_json`): a predictor that uses it is saved without
pickles. N-grams are stored as integer keys (see `_keys`) so that a vocabulary of millions of
trigrams stays a few numpy arrays in memory and a list of numbers on disk.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

from tfclf._util import positive_int

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
MAX_NGRAM = 3


def words(text: str) -> list[str]:
    """The words of `text`, lower-cased, as the standard preprocessing reads them."""
    return _WORD.findall(text.lower())


def _keys(rows: list[np.ndarray], n: int, base: int) -> list[np.ndarray]:
    """Each row's n-grams as one int64 key per n-gram: the word ids read as digits in `base`."""
    out = []
    for row in rows:
        if len(row) < n:
            out.append(np.empty(0, dtype=np.int64))
            continue
        key = np.zeros(len(row) - n + 1, dtype=np.int64)
        for j in range(n):
            key = key * base + row[j:len(row) - n + 1 + j]
        out.append(key)
    return out


class WordVocabulary:
    """The words (and n-grams) the classic models know, learned from training texts.

    Args:
        max_features: the number of most frequent words kept.
        maxlen: words read per text (the rest of a longer text is ignored).
        ngram_range: 1 for words alone; 2 or 3 also adds bigrams (and trigrams) seen in training.
    """

    def __init__(self, max_features: int = 20000, maxlen: int = 400, ngram_range: int = 1):
        for name, value in (("max_features", max_features), ("maxlen", maxlen), ("ngram_range", ngram_range)):
            positive_int(value, name)
        if ngram_range > MAX_NGRAM:
            raise ValueError(f"ngram_range must be 1, 2 or 3, got {ngram_range}")
        if (max_features + 1) ** ngram_range >= 2**63:  # an n-gram's key must fit an int64
            raise ValueError(f"max_features={max_features} is too large for ngram_range={ngram_range}")
        self.max_features = int(max_features)
        self.maxlen = int(maxlen)
        self.ngram_range = int(ngram_range)

    # -- learning --------------------------------------------------------------------------------
    def fit(self, texts: Sequence[str]) -> "WordVocabulary":
        counts: Counter[str] = Counter()
        for text in texts:
            counts.update(words(text))
        # Counter.most_common keeps first-seen order among equal counts (a stable sort).
        self.words_ = [w for w, _ in counts.most_common(self.max_features)]
        self._index = {w: i + 1 for i, w in enumerate(self.words_)}
        self.ngrams_: dict[int, np.ndarray] = {}
        rows = self._word_rows(texts)
        for n in range(2, self.ngram_range + 1):
            keys = _keys(rows, n, self.base)
            self.ngrams_[n] = np.unique(np.concatenate(keys)) if keys else np.empty(0, dtype=np.int64)
        return self

    @property
    def base(self) -> int:
        """The radix of the n-gram keys: one more than the largest word id."""
        return self.max_features + 1

    @property
    def size(self) -> int:
        """Ids run from 0 (padding) to size - 1."""
        self._check_fitted()
        return 1 + len(self.words_) + sum(len(k) for k in self.ngrams_.values())

    @property
    def num_words(self) -> int:
        self._check_fitted()
        return len(self.words_)

    def _check_fitted(self) -> None:
        if not hasattr(self, "words_"):
            raise RuntimeError("the vocabulary is not learned yet: call preprocess_train(texts, y) first")

    # -- encoding --------------------------------------------------------------------------------
    def _word_rows(self, texts: Sequence[str]) -> list[np.ndarray]:
        index = self._index
        rows = []
        for text in texts:
            ids = [index[w] for w in words(text) if w in index][: self.maxlen]
            rows.append(np.asarray(ids, dtype=np.int64))
        return rows

    def encode(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Each text's word ids then its known n-gram ids (int32), as the module docstring says."""
        self._check_fitted()
        rows = self._word_rows(texts)
        if self.ngram_range == 1:
            return [r.astype(np.int32) for r in rows]
        offset = 1 + len(self.words_)
        parts = [list(rows)]
        for n in range(2, self.ngram_range + 1):
            known = self.ngrams_[n]
            found = []
            for keys in _keys(rows, n, self.base):
                at = np.searchsorted(known, keys)
                hit = (at < len(known)) & (known[np.minimum(at, len(known) - 1)] == keys) if len(known) else \
                    np.zeros(len(keys), dtype=bool)
                found.append(at[hit] + offset)
            parts.append(found)
            offset += len(known)
        return [np.concatenate([p[i] for p in parts]).astype(np.int32) for i in range(len(rows))]

    @property
    def row_length(self) -> int:
        """The longest row `encode` can return: maxlen words plus their n-grams."""
        return sum(max(0, self.maxlen - n + 1) for n in range(1, self.ngram_range + 1))

    def feature_names(self) -> list[str]:
        """The word or n-gram each id stands for (index 0 is padding, "")."""
        self._check_fitted()
        names = ["", *self.words_]
        for n in range(2, self.ngram_range + 1):
            for key in self.ngrams_[n].tolist():
                parts = []
                for _ in range(n):
                    key, digit = divmod(key, self.base)
                    parts.append(self.words_[digit - 1])
                names.append(" ".join(reversed(parts)))
        return names

    # -- JSON ------------------------------------------------------------------------------------
    def to_json(self) -> dict:
        self._check_fitted()
        return {"max_features": self.max_features, "maxlen": self.maxlen, "ngram_range": self.ngram_range,
                "words": list(self.words_),
                # n-gram keys: word ids as digits in base max_features + 1 (see WordVocabulary)
                "ngrams": {str(n): keys.tolist() for n, keys in self.ngrams_.items()}}

    @classmethod
    def from_json(cls, data: dict) -> "WordVocabulary":
        vocab = cls(data["max_features"], data["maxlen"], data["ngram_range"])
        vocab.words_ = list(data["words"])
        if len(vocab.words_) > vocab.max_features:
            raise ValueError("the vocabulary holds more words than its max_features")
        vocab._index = {w: i + 1 for i, w in enumerate(vocab.words_)}
        vocab.ngrams_ = {int(n): np.asarray(keys, dtype=np.int64) for n, keys in data.get("ngrams", {}).items()}
        if sorted(vocab.ngrams_) != list(range(2, vocab.ngram_range + 1)):
            raise ValueError(f"the vocabulary's n-grams do not match its ngram_range={vocab.ngram_range}")
        return vocab
