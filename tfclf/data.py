"""`TextDataset`: token ids, true lengths and targets kept once in memory, served as tf.data batches.

Batches are padded to the longest document they hold, rounded up to a multiple of
`PAD_MULTIPLE` tokens: little compute goes to padding, and TensorFlow sees a bounded set of
shapes (maxlen / PAD_MULTIPLE at most), so it does not trace a new graph per batch.

Training batches are length-bucketed: each epoch shuffles the documents, sorts them by length
inside windows of `BUCKET_WINDOW` batches, and shuffles the resulting batches. Bucketing makes
batches more alike (lengths differ between classes), which may slow the first epochs (issue 27),
and where most documents are cut to maxlen it saves little: on 20 Newsgroups 0.5% of the compute
at maxlen 128, 8% at 256 (`TextDataset.bucketing_saving`). So training batches are bucketed only
where that saves at least `BUCKET_MIN_SAVING` (5%) of the tokens random batches would compute, and
random elsewhere (0 always buckets, above 1 never). With
`BUCKET_BY` = "width" the sort key is the padded width a document needs (its length rounded up
to `PAD_MULTIPLE`), so documents of one width stay in random order: the same padding, and
batches less made of one kind of document.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np

PAD_MULTIPLE = 32
BUCKET_WINDOW = 50
BUCKET_BY = "length"  # or "width": see the module docstring
BUCKET_MIN_SAVING = 0.05  # bucket only where it saves 5% of the compute; 0: always; above 1: never


def padded_length(longest: int, maxlen: int, multiple: int = PAD_MULTIPLE) -> int:
    """The padded width for a batch whose longest document has `longest` tokens."""
    return int(padded_widths(np.asarray(longest), maxlen, multiple))


def padded_widths(lengths: np.ndarray, maxlen: int, multiple: int = PAD_MULTIPLE) -> np.ndarray:
    """`padded_length` of each of `lengths` (integers), element-wise."""
    return np.minimum(maxlen, np.maximum(multiple, -(-lengths // multiple) * multiple))


def _cut(index: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """`index` cut in consecutive batches of `batch_size` (the last one shorter)."""
    return [index[s : s + batch_size] for s in range(0, len(index), batch_size)]


class TextDataset:
    """Tokenized texts (one flat int32 buffer plus offsets) and their encoded targets.

    Created by `Transformer.preprocess_train` / `preprocess_test`; consumed by the Learner.

    Attributes:
        texts: the original texts (kept so that top losses can show them), one per text.
        targets: encoded targets (int ids, multi-hot rows or floats) or None for unlabeled data,
            one per row.
        doc_ids: None, or each row's text index when long texts were split into windows.
        lengths: the number of tokens of each document after truncation.
        maxlen: the truncation length.
        pad_token_id: the tokenizer's padding id.
    """

    def __init__(
        self,
        token_ids: Sequence[Sequence[int]],
        targets: np.ndarray | None,
        *,
        texts: Sequence[str] | None = None,
        maxlen: int,
        pad_token_id: int = 0,
        batch_size: int | None = None,
        mode: str = "multiclass",
        doc_ids: Sequence[int] | None = None,
        aggregate: str = "mean_logits",
    ):
        self.lengths = np.fromiter((len(t) for t in token_ids), dtype=np.int32, count=len(token_ids))
        self.offsets = np.zeros(len(self.lengths) + 1, dtype=np.int64)
        np.cumsum(self.lengths, out=self.offsets[1:])
        self.ids = np.fromiter(
            (i for t in token_ids for i in t), dtype=np.int32, count=int(self.offsets[-1])
        )
        self.targets = None if targets is None else np.asarray(targets)
        if self.targets is not None and len(self.targets) != len(self.lengths):
            raise ValueError(f"{len(self.lengths)} texts but {len(self.targets)} targets")
        self.texts = list(texts) if texts is not None else None
        self.maxlen = int(maxlen)
        self.pad_token_id = int(pad_token_id)
        self.batch_size = batch_size
        self.mode = mode
        # Rows are windows of longer texts when set: doc_ids[r] is row r's text (see tfclf.reading).
        self.doc_ids = None if doc_ids is None else np.asarray(doc_ids, dtype=np.int64)
        if self.doc_ids is not None and len(self.doc_ids) != len(self.lengths):
            raise ValueError(f"{len(self.lengths)} rows but {len(self.doc_ids)} doc_ids")
        self.aggregate = aggregate

    def __len__(self) -> int:
        return len(self.lengths)

    def __repr__(self) -> str:
        return (
            f"TextDataset({len(self)} docs, maxlen={self.maxlen}, mean tokens="
            f"{float(self.lengths.mean()) if len(self) else 0:.1f}, labeled={self.targets is not None})"
        )

    @property
    def n_docs(self) -> int:
        """The number of texts (equal to the number of rows unless texts were split in windows)."""
        if self.doc_ids is None:
            return len(self)
        return int(self.doc_ids.max()) + 1 if len(self.doc_ids) else 0

    @property
    def doc_targets(self) -> np.ndarray | None:
        """One target per text (a window's target is its text's)."""
        if self.targets is None or self.doc_ids is None:
            return self.targets
        _, first = np.unique(self.doc_ids, return_index=True)
        return self.targets[first]

    def token_ids(self, i: int) -> np.ndarray:
        return self.ids[self.offsets[i] : self.offsets[i + 1]]

    @property
    def num_tokens(self) -> int:
        """Non-padding tokens in the whole dataset (for throughput figures)."""
        return int(self.lengths.sum())

    def pad_batch(self, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """input_ids and attention_mask for the documents `index`, padded as described above."""
        width = padded_length(int(self.lengths[index].max()), self.maxlen)
        ids = np.full((len(index), width), self.pad_token_id, dtype=np.int32)
        mask = np.zeros((len(index), width), dtype=np.int32)
        for row, i in enumerate(index):
            n = self.lengths[i]
            ids[row, :n] = self.ids[self.offsets[i] : self.offsets[i] + n]
            mask[row, :n] = 1
        return ids, mask

    # -- batch orders ----------------------------------------------------------------------------
    def batch_order(self, batch_size: int, *, shuffle: bool, seed: int | None, epoch: int = 0) -> list[np.ndarray]:
        """The index batches for one epoch: shuffled and bucketed (see the module docstring for
        `BUCKET_MIN_SAVING`), or sorted by length."""
        n = len(self)
        if not shuffle:
            # Sorting by length groups similar documents (less padding); callers that need the
            # input order back restore it from the indices.
            order = np.argsort(self.lengths, kind="stable")
            return _cut(order, batch_size)
        rng = np.random.default_rng(None if seed is None else [seed, epoch])
        order = rng.permutation(n)
        bucket = BUCKET_MIN_SAVING <= 0 or self.bucketing_saving(batch_size) >= BUCKET_MIN_SAVING
        batches = self._bucketed(order, batch_size) if bucket else _cut(order, batch_size)
        rng.shuffle(batches)
        return batches

    def _bucketed(self, order: np.ndarray, batch_size: int) -> list[np.ndarray]:
        window = batch_size * BUCKET_WINDOW
        batches = []
        for s in range(0, len(order), window):
            chunk = order[s : s + window]
            chunk = chunk[np.argsort(self._bucket_keys(chunk), kind="stable")]
            batches.extend(_cut(chunk, batch_size))
        return batches

    def bucketing_saving(self, batch_size: int) -> float:
        """The share of the tokens computed by random batches of `batch_size` (padding included)
        that length bucketing saves, e.g. 0.08 for 8%; a property of the lengths, the same every
        epoch. Random batches are counted by their expectation (each batch's width is the
        largest of `batch_size` draws from the documents' padded widths), bucketed ones on one
        fixed bucketed order."""
        if len(self) == 0:
            return 0.0
        widths = padded_widths(self.lengths, self.maxlen)
        values, counts = np.unique(widths, return_counts=True)
        below = np.cumsum(counts) / len(self)  # P(width <= value)
        largest = below ** batch_size - np.concatenate([[0.0], below[:-1]]) ** batch_size
        random_tokens = len(self) * float(values @ largest)
        order = np.random.default_rng(0).permutation(len(self))
        bucketed_tokens = sum(len(b) * int(widths[b].max()) for b in self._bucketed(order, batch_size))
        return max(0.0, 1.0 - bucketed_tokens / random_tokens)

    def _bucket_keys(self, index: np.ndarray) -> np.ndarray:
        lengths = self.lengths[index]
        if BUCKET_BY == "length":
            return lengths
        if BUCKET_BY == "width":
            return padded_widths(lengths, self.maxlen)
        raise ValueError(f'tfclf.data.BUCKET_BY must be "length" or "width", got {BUCKET_BY!r}')

    def num_batches(self, batch_size: int) -> int:
        return math.ceil(len(self) / batch_size)

    def to_tf(self, batch_size: int, *, shuffle: bool = False, seed: int | None = None, with_targets: bool = True,
              start_epoch: int = 0):
        """A `tf.data.Dataset` of ``({"input_ids", "attention_mask"}, targets)`` batches.

        Each iteration (each Keras epoch) draws a fresh bucketed shuffle when `shuffle` is True;
        `start_epoch` numbers the first iteration, so a resumed run sees the same batch orders as
        an uninterrupted one with the same seed.
        """
        from tfclf._compat import tf

        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if len(self) == 0:
            raise ValueError("the dataset is empty")
        labeled = with_targets and self.targets is not None
        epoch_counter = iter(range(start_epoch, 1 << 62))

        def generate() -> Iterator:
            epoch = next(epoch_counter)
            for index in self.batch_order(batch_size, shuffle=shuffle, seed=seed, epoch=epoch):
                ids, mask = self.pad_batch(index)
                features = {"input_ids": ids, "attention_mask": mask}
                yield (features, self.targets[index]) if labeled else (features,)

        spec_x = {
            "input_ids": tf.TensorSpec((None, None), tf.int32),
            "attention_mask": tf.TensorSpec((None, None), tf.int32),
        }
        if labeled:
            t = self.targets
            spec_y = tf.TensorSpec((None, *t.shape[1:]), tf.as_dtype(t.dtype))
            signature = (spec_x, spec_y)
        else:
            signature = (spec_x,)
        ds = tf.data.Dataset.from_generator(generate, output_signature=signature)
        ds = ds.apply(tf.data.experimental.assert_cardinality(self.num_batches(batch_size)))
        # Under MultiWorkerMirroredStrategy each worker runs this same generator: shard its batches
        # by element (a generator has no files to shard by), so the workers' parts of step i
        # together form global batch i, as on one device.
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        return ds.with_options(options).prefetch(tf.data.AUTOTUNE)
