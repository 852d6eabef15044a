"""TextDataset: flat storage, padding, bucketed batch orders and the tf.data pipeline."""

from __future__ import annotations

import numpy as np
import pytest

from tfclf.data import BUCKET_WINDOW, PAD_MULTIPLE, TextDataset, padded_length


def _docs(n, seed=0, max_len=60):
    rng = np.random.default_rng(seed)
    return [list(rng.integers(5, 100, size=int(rng.integers(1, max_len)))) for _ in range(n)]


@pytest.mark.parametrize(
    "longest, maxlen, expected",
    [
        (1, 128, 32),  # never narrower than one multiple
        (0, 128, 32),
        (32, 128, 32),
        (33, 128, 64),  # rounded up to the next multiple of 32
        (64, 128, 64),
        (100, 128, 128),
        (100, 64, 64),  # never wider than maxlen
        (40, 50, 50),  # maxlen need not be a multiple
        (5, 16, 16),  # a maxlen below one multiple caps it
    ],
)
def test_padded_length(longest, maxlen, expected):
    assert padded_length(longest, maxlen) == expected
    assert PAD_MULTIPLE == 32


def test_flat_storage():
    docs = [[5, 6, 7], [8], [], [9, 10]]
    ds = TextDataset(docs, np.array([0, 1, 0, 1]), texts=["a", "b", "c", "d"], maxlen=8)
    assert ds.ids.dtype == np.int32 and ds.ids.tolist() == [5, 6, 7, 8, 9, 10]  # one buffer
    assert ds.offsets.tolist() == [0, 3, 4, 4, 6]
    assert ds.lengths.tolist() == [3, 1, 0, 2]
    for i, d in enumerate(docs):
        assert ds.token_ids(i).tolist() == d
    assert len(ds) == 4 and ds.num_tokens == 6
    assert "4 docs" in repr(ds) and "labeled=True" in repr(ds)


def test_targets_must_match_texts():
    with pytest.raises(ValueError, match="3 texts but 2 targets"):
        TextDataset([[1], [2], [3]], np.array([0, 1]), maxlen=8)


def test_pad_batch_ids_and_masks():
    docs = [[11, 12, 13], [14], list(range(20, 60))]
    ds = TextDataset(docs, None, maxlen=128, pad_token_id=7)
    ids, mask = ds.pad_batch(np.array([1, 0]))
    assert ids.shape == mask.shape == (2, 32) and ids.dtype == mask.dtype == np.int32
    assert ids[0, :1].tolist() == [14] and ids[1, :3].tolist() == [11, 12, 13]
    assert np.all(ids[0, 1:] == 7) and np.all(ids[1, 3:] == 7)  # padded with the pad id
    assert mask[0].tolist() == [1] + [0] * 31 and mask[1].tolist() == [1, 1, 1] + [0] * 29
    ids, mask = ds.pad_batch(np.array([2, 0]))
    assert ids.shape == (2, 64)  # 40 tokens round up to 64
    assert mask.sum(axis=1).tolist() == [40, 3]
    assert ids[0, :40].tolist() == list(range(20, 60))


def _flat(batches):
    return np.concatenate(batches)


def test_bucketed_order_covers_every_index_once_per_epoch():
    n, bs = 1234, 8  # more than one window of BUCKET_WINDOW batches, and a short last batch
    assert n > bs * BUCKET_WINDOW
    ds = TextDataset(_docs(n), None, maxlen=64)
    for epoch in range(3):
        batches = ds.batch_order(bs, shuffle=True, seed=5, epoch=epoch)
        assert sorted(_flat(batches).tolist()) == list(range(n))
        assert len(batches) == ds.num_batches(bs) == -(-n // bs)
        assert all(1 <= len(b) <= bs for b in batches)
    # seed=None still covers everything.
    assert sorted(_flat(ds.batch_order(bs, shuffle=True, seed=None)).tolist()) == list(range(n))


def test_bucketed_order_is_repeatable_and_changes_between_epochs():
    ds = TextDataset(_docs(500), None, maxlen=64)
    a = _flat(ds.batch_order(8, shuffle=True, seed=1, epoch=0))
    again = _flat(ds.batch_order(8, shuffle=True, seed=1, epoch=0))
    next_epoch = _flat(ds.batch_order(8, shuffle=True, seed=1, epoch=1))
    other_seed = _flat(ds.batch_order(8, shuffle=True, seed=2, epoch=0))
    np.testing.assert_array_equal(a, again)
    assert not np.array_equal(a, next_epoch)
    assert not np.array_equal(a, other_seed)


def test_bucketed_batches_group_similar_lengths():
    ds = TextDataset(_docs(800, max_len=120), None, maxlen=128)
    batches = ds.batch_order(16, shuffle=True, seed=0)
    for b in batches:
        assert np.all(np.diff(ds.lengths[b]) >= 0)  # sorted inside a batch
    # Less padding than a random order: the point of bucketing.
    def padding(bs):
        return sum(padded_length(int(ds.lengths[b].max()), 128) * len(b) - ds.lengths[b].sum() for b in bs)

    rng = np.random.default_rng(0)
    perm = rng.permutation(len(ds))
    random_batches = [perm[s : s + 16] for s in range(0, len(ds), 16)]
    assert padding(batches) < 0.7 * padding(random_batches)


def test_width_buckets_pad_as_much_as_length_buckets_and_mix_lengths_inside_a_width(monkeypatch):
    import tfclf.data

    ds = TextDataset(_docs(800, max_len=120), None, maxlen=128)

    def padded_tokens(batches):
        return sum(padded_length(int(ds.lengths[b].max()), 128) * len(b) for b in batches)

    by_length = ds.batch_order(16, shuffle=True, seed=0)
    monkeypatch.setattr(tfclf.data, "BUCKET_BY", "width")
    by_width = ds.batch_order(16, shuffle=True, seed=0)
    assert sorted(_flat(by_width).tolist()) == list(range(800))
    # at most one more straddled width per window: the padding cost is within a batch per window
    windows = -(-len(ds) // (16 * tfclf.data.BUCKET_WINDOW))
    assert padded_tokens(by_width) <= padded_tokens(by_length) + windows * 16 * 128
    widths = [np.unique([padded_length(int(n), 128) for n in ds.lengths[b]]) for b in by_width]
    assert sum(len(w) > 1 for w in widths) <= 4 * windows  # batches stay inside one width...
    # ...and inside a width the lengths are in random order, not sorted
    assert sum(bool(np.any(np.diff(ds.lengths[b]) < 0)) for b in by_width) > len(by_width) // 2
    monkeypatch.setattr(tfclf.data, "BUCKET_BY", "size")
    with pytest.raises(ValueError, match='BUCKET_BY must be "length" or "width"'):
        ds.batch_order(16, shuffle=True, seed=0)


def _cut_docs(n, maxlen, share_cut, seed=0):
    """Documents of which `share_cut` are longer than maxlen (cut to it), the rest 1..maxlen tokens."""
    rng = np.random.default_rng(seed)
    return [[7] * (maxlen if rng.random() < share_cut else int(rng.integers(1, maxlen))) for _ in range(n)]


def _computed_tokens(ds, batches):
    return sum(len(b) * padded_length(int(ds.lengths[b].max()), ds.maxlen) for b in batches)


def test_bucketing_saving_is_what_bucketing_saves_against_random_batches(monkeypatch):
    import tfclf.data

    monkeypatch.setattr(tfclf.data, "BUCKET_MIN_SAVING", 0.05)
    ds = TextDataset(_cut_docs(2000, 256, share_cut=0.5), None, maxlen=256)
    saving = ds.bucketing_saving(8)
    rng = np.random.default_rng(1)
    random_tokens = np.mean([_computed_tokens(ds, [p[s : s + 8] for s in range(0, len(ds), 8)])
                             for p in (rng.permutation(len(ds)) for _ in range(20))])
    bucketed = ds.batch_order(8, shuffle=True, seed=3)
    assert saving > 0.2
    assert saving == pytest.approx(1 - _computed_tokens(ds, bucketed) / random_tokens, abs=0.02)
    assert tfclf.data.BUCKET_MIN_SAVING < saving
    # the estimate is a property of the lengths, not of an epoch's draw
    assert ds.bucketing_saving(8) == saving
    assert ds.bucketing_saving(1) == 0.0  # one document per batch: no padding to save


def test_batches_are_random_where_bucketing_saves_little(monkeypatch):
    import tfclf.data

    monkeypatch.setattr(tfclf.data, "BUCKET_MIN_SAVING", 0.05)
    # nine in ten documents cut to maxlen: bucketing has almost nothing to sort
    ds = TextDataset(_cut_docs(1600, 128, share_cut=0.97), None, maxlen=128)
    assert ds.bucketing_saving(8) < tfclf.data.BUCKET_MIN_SAVING
    batches = ds.batch_order(8, shuffle=True, seed=5)
    rng = np.random.default_rng([5, 0])
    order = rng.permutation(len(ds))
    expected = [order[s : s + 8] for s in range(0, len(ds), 8)]
    rng.shuffle(expected)
    assert all(np.array_equal(a, b) for a, b in zip(batches, expected, strict=True))
    # the switch: 0 buckets whatever the saving (batches sorted by length inside each window)
    monkeypatch.setattr(tfclf.data, "BUCKET_MIN_SAVING", 0.0)
    bucketed = ds.batch_order(8, shuffle=True, seed=5)
    assert sorted(_flat(bucketed).tolist()) == list(range(len(ds)))
    assert all(np.all(np.diff(ds.lengths[b]) >= 0) for b in bucketed)
    assert not all(np.all(np.diff(ds.lengths[b]) >= 0) for b in batches)
    # ...and above 1 never buckets, even where it would save much
    monkeypatch.setattr(tfclf.data, "BUCKET_MIN_SAVING", 2.0)
    varied = TextDataset(_docs(800, max_len=120), None, maxlen=128)
    rng = np.random.default_rng([5, 0])
    order = rng.permutation(len(varied))
    expected = [order[s : s + 8] for s in range(0, len(varied), 8)]
    rng.shuffle(expected)
    assert all(np.array_equal(a, b) for a, b in zip(varied.batch_order(8, shuffle=True, seed=5), expected,
                                                    strict=True))


def test_unshuffled_order_is_sorted_by_length():
    ds = TextDataset(_docs(50), None, maxlen=64)
    order = _flat(ds.batch_order(7, shuffle=False, seed=None))
    assert sorted(order.tolist()) == list(range(50))
    assert np.all(np.diff(ds.lengths[order]) >= 0)


def test_to_tf_shapes_dtypes_and_cardinality():
    from tfclf._compat import tf

    n, bs = 45, 8
    targets = np.arange(n, dtype=np.int32) % 3
    ds = TextDataset(_docs(n), targets, maxlen=64, pad_token_id=0)
    tfds = ds.to_tf(bs, shuffle=True, seed=3)
    assert int(tfds.cardinality()) == 6  # ceil(45 / 8)
    x_spec, y_spec = tfds.element_spec
    assert x_spec["input_ids"].dtype == tf.int32 and x_spec["attention_mask"].dtype == tf.int32
    assert y_spec.dtype == tf.int32 and y_spec.shape.as_list() == [None]
    batches = list(tfds)
    assert len(batches) == 6
    seen = []
    for x, y in batches:
        ids, mask = x["input_ids"].numpy(), x["attention_mask"].numpy()
        assert ids.shape == mask.shape and ids.shape[1] in (32, 64) and ids.shape[0] == y.shape[0]
        # The targets travel with their documents: recover each row's index from its tokens.
        for row in range(ids.shape[0]):
            toks = ids[row, : mask[row].sum()].tolist()
            i = next(j for j in range(n) if ds.token_ids(j).tolist() == toks and j not in seen)
            seen.append(i)
            assert int(y[row]) == targets[i]
    assert sorted(seen) == list(range(n))
    # Each iteration (a Keras epoch) draws a new order.
    first = [x["input_ids"].numpy().tobytes() for x, _ in tfds]
    second = [x["input_ids"].numpy().tobytes() for x, _ in tfds]
    assert first != second


def test_to_tf_multilabel_and_unlabeled():
    from tfclf._compat import tf

    rows = np.array([[1, 0], [1, 1], [0, 0]], dtype=np.float32)
    ds = TextDataset([[1, 2], [3], [4, 5, 6]], rows, maxlen=16)
    (x, y), = list(ds.to_tf(4))
    assert y.dtype == tf.float32 and y.shape == (3, 2)
    assert x["input_ids"].shape == (3, 16)  # capped at maxlen
    unlabeled = ds.to_tf(2, with_targets=False)
    assert len(unlabeled.element_spec) == 1
    assert int(unlabeled.cardinality()) == 2


def test_to_tf_errors():
    ds = TextDataset([[1]], None, maxlen=8)
    with pytest.raises(ValueError, match="batch_size"):
        ds.to_tf(0)
    with pytest.raises(ValueError, match="empty"):
        TextDataset([], None, maxlen=8).to_tf(4)
