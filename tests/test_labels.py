"""LabelCodec: every accepted label form, round trips, JSON, and the errors users will hit."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tfclf.labels import MULTICLASS, MULTILABEL, REGRESSION, LabelCodec

# --------------------------------------------------------------------------- modes


def test_strings_classes_are_sorted_unique():
    codec = LabelCodec().fit(["sci.med", "comp.graphics", "sci.med", "alt.atheism"])
    assert codec.mode_ == MULTICLASS
    assert codec.classes_ == ["alt.atheism", "comp.graphics", "sci.med"]
    assert codec.encode(["sci.med", "alt.atheism"]).tolist() == [2, 0]
    assert codec.encode(["comp.graphics"]).dtype == np.int32
    assert codec.num_outputs == 3


def test_class_names_order_is_respected_for_strings():
    # Not sorted on purpose: the user's order is the output-column order.
    codec = LabelCodec(class_names=["neg", "pos", "neutral"]).fit(["pos", "neg", "pos"])
    assert codec.classes_ == ["neg", "pos", "neutral"]  # "neutral" is kept though unseen
    assert codec.encode(["neutral", "pos", "neg"]).tolist() == [2, 1, 0]
    assert codec.num_outputs == 3


def test_int_ids_with_class_names():
    codec = LabelCodec(class_names=["a", "b", "c", "d"]).fit([0, 2, 1, 0])
    assert codec.mode_ == MULTICLASS
    assert codec.classes_ == ["a", "b", "c", "d"]  # class 3 never appears, still a class
    assert codec.encode(np.array([3, 0])).tolist() == [3, 0]
    assert codec.decode_targets(np.array([1, 3])) == ["b", "d"]


def test_int_ids_without_names_are_named_by_number():
    codec = LabelCodec().fit(np.array([2, 0, 1, 2]))
    assert codec.mode_ == MULTICLASS
    assert codec.classes_ == ["0", "1", "2"]
    # Whole floats are ids too (pandas often gives 1.0 for 1).
    assert LabelCodec().fit([0.0, 1.0]).mode_ == MULTICLASS


def test_one_hot_rows_are_multiclass():
    y = np.array([[1, 0, 0], [0, 0, 1], [0, 1, 0]])
    codec = LabelCodec(class_names=["x", "y", "z"]).fit(y)
    assert codec.mode_ == MULTICLASS
    assert codec.encode(y).tolist() == [0, 2, 1]
    assert codec.encode(y).dtype == np.int32


def test_multi_hot_rows_are_multilabel():
    y = np.array([[1, 1, 0], [0, 0, 0], [0, 1, 0]])  # a row with two ones and a row with none
    codec = LabelCodec(class_names=["x", "y", "z"]).fit(y)
    assert codec.mode_ == MULTILABEL
    enc = codec.encode(y)
    assert enc.dtype == np.float32 and enc.tolist() == y.tolist()
    assert codec.num_outputs == 3


def test_one_hot_rows_forced_multilabel():
    codec = LabelCodec(multilabel=True).fit([[1, 0], [0, 1]])
    assert codec.mode_ == MULTILABEL
    assert codec.classes_ == ["0", "1"]


def test_floats_are_regression():
    codec = LabelCodec().fit([0.5, 1.25, 3.0])
    assert codec.mode_ == REGRESSION
    assert codec.num_outputs == 1
    assert codec.encode([1.5, 2]).dtype == np.float32
    assert codec.encode([1.5, 2]).tolist() == [1.5, 2.0]


def test_pandas_like_and_object_arrays():
    class FakeSeries:  # anything with to_numpy(), as pandas Series / DataFrame
        def __init__(self, values):
            self.values = values

        def to_numpy(self):
            return np.asarray(self.values, dtype=object)

    codec = LabelCodec().fit(FakeSeries(["b", "a"]))
    assert codec.classes_ == ["a", "b"]
    # A list of lists (object dtype) is converted to numeric rows.
    assert LabelCodec().fit([[0, 1], [1, 1]]).mode_ == MULTILABEL


def test_pandas_frames_and_series_as_ktrain_users_pass_them():
    pd = pytest.importorskip("pandas")
    # One 0/1 column per label: the columns name the classes, in their order.
    frame = pd.DataFrame({"toxic": [1, 0, 1, 0], "insult": [0, 0, 1, 1]}, index=[10, 11, 12, 13])
    codec = LabelCodec().fit(frame)
    assert codec.mode_ == MULTILABEL and codec.classes_ == ["toxic", "insult"]
    assert codec.encode(frame).tolist() == [[1, 0], [0, 0], [1, 1], [0, 1]]
    # class_names given wins (and must match the column count).
    assert LabelCodec(class_names=["a", "b"]).fit(frame).classes_ == ["a", "b"]
    with pytest.raises(ValueError, match="columns"):
        LabelCodec(class_names=["a", "b", "c"]).fit(frame)
    # One-hot columns are single-label, named by the columns too.
    one_hot = pd.DataFrame({"neg": [1, 0, 0], "pos": [0, 1, 1]})
    codec = LabelCodec().fit(one_hot)
    assert codec.mode_ == MULTICLASS and codec.classes_ == ["neg", "pos"]
    # A Series with a non-zero-based index is read by position.
    series = pd.Series(["pos", "neg", "pos"], index=[7, 3, 5])
    assert LabelCodec().fit(series).encode(series).tolist() == [1, 0, 1]


# --------------------------------------------------------------------------- round trips


def test_decode_round_trips_multiclass():
    labels = ["pos", "neg", "neg", "pos"]
    codec = LabelCodec().fit(labels)
    ids = codec.encode(labels)
    one_hot = np.eye(2)[ids]
    assert codec.decode(one_hot) == labels
    assert codec.decode_targets(ids) == labels
    # Probabilities decode to the argmax class.
    assert codec.decode(np.array([[0.3, 0.7], [0.9, 0.1]])) == ["pos", "neg"]


def test_decode_round_trips_multilabel_with_threshold():
    codec = LabelCodec(class_names=["a", "b", "c"]).fit([[1, 0, 1], [0, 0, 0]])
    assert codec.decode_targets(codec.encode([[1, 0, 1], [0, 0, 0]])) == [["a", "c"], []]
    probs = np.array([[0.5, 0.49, 0.9]])
    assert codec.decode(probs) == [["a", "c"]]  # 0.5 is included (>=), 0.49 is not
    assert codec.decode(probs, threshold=0.95) == [[]]


def test_decode_regression_gives_floats():
    codec = LabelCodec().fit([0.5, 2.5])
    out = codec.decode(np.array([[1.5], [-0.25]]))
    assert out == [1.5, -0.25] and all(isinstance(v, float) for v in out)


@pytest.mark.parametrize(
    "y, names",
    [
        (["b", "a", "c"], None),
        ([0, 1, 1], ["no", "yes"]),
        ([[1, 1], [0, 0]], ["x", "y"]),
        ([0.5, 1.5], None),
    ],
)
def test_json_round_trip(y, names):
    codec = LabelCodec(class_names=names).fit(y)
    data = json.loads(json.dumps(codec.to_json()))  # through real JSON text
    back = LabelCodec.from_json(data)
    assert back.mode_ == codec.mode_
    assert back.classes_ == codec.classes_
    np.testing.assert_array_equal(back.encode(y), codec.encode(y))


def test_from_json_rejects_unknown_mode():
    with pytest.raises(ValueError, match="unknown label mode"):
        LabelCodec.from_json({"mode": "ranking", "classes": ["a"]})


# --------------------------------------------------------------------------- errors


def test_label_not_in_class_names():
    with pytest.raises(ValueError, match=r"'maybe' \(y\[2\]\) is not one of the classes"):
        LabelCodec(class_names=["no", "yes"]).fit(["yes", "no", "maybe"])
    codec = LabelCodec().fit(["no", "yes"])
    with pytest.raises(ValueError, match="not one of the classes"):
        codec.encode(["yes", "unseen"])  # validation data with a class training never had


def test_id_out_of_range_for_class_names():
    with pytest.raises(ValueError, match=r"label id 3 \(y\[1\]\) is out of range: ids go from 0 to 2"):
        LabelCodec(class_names=["a", "b", "c"]).fit([0, 3])


def test_negative_id():
    with pytest.raises(ValueError, match=">= 0"):
        LabelCodec().fit([0, -1, 1])
    codec = LabelCodec().fit([0, 1])
    with pytest.raises(ValueError, match="out of range"):
        codec.encode([-1])


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_nan_or_inf_label(bad):
    with pytest.raises(ValueError, match="finite"):
        LabelCodec().fit([0, bad, 1])
    with pytest.raises(ValueError, match="NaN or infinite"):
        LabelCodec().fit(np.array([[1.0, 0.0], [bad, 1.0]]))


def test_single_class_is_refused():
    with pytest.raises(ValueError, match="at least 2 classes"):
        LabelCodec().fit(["spam", "spam"])
    with pytest.raises(ValueError, match="at least 2 classes"):
        LabelCodec().fit([0, 0, 0])
    with pytest.raises(ValueError, match="at least 2 classes"):
        LabelCodec().fit(np.ones((3, 1)))


def test_mismatched_columns():
    with pytest.raises(ValueError, match="3 columns but class_names has 2"):
        LabelCodec(class_names=["a", "b"]).fit([[1, 0, 0], [0, 1, 0]])
    codec = LabelCodec().fit([[1, 0], [0, 1]])
    with pytest.raises(ValueError, match="3 columns"):
        codec.encode([[1, 0, 0]])


def test_rows_must_be_zero_one():
    with pytest.raises(ValueError, match="0/1"):
        LabelCodec().fit([[0.2, 0.8], [1, 0]])


def test_multilabel_false_with_multi_hot_rows():
    with pytest.raises(ValueError, match="multilabel=False"):
        LabelCodec(multilabel=False).fit([[1, 1], [0, 1]])


def test_multilabel_true_with_flat_labels():
    with pytest.raises(ValueError, match="multi-hot rows"):
        LabelCodec(multilabel=True).fit(["a", "b"])


def test_none_and_bare_string_and_empty():
    with pytest.raises(ValueError, match="y is required"):
        LabelCodec().fit(None)
    with pytest.raises(TypeError, match="not a single string"):
        LabelCodec().fit("positive")
    with pytest.raises(ValueError, match="empty"):
        LabelCodec().fit([])


def test_mixed_types_are_refused():
    # Whichever comes first, the message names both kinds (it once blamed the string "a").
    with pytest.raises(TypeError, match=r"mixes strings .*y\[0\] is 'a', y\[1\] is 1"):
        LabelCodec().fit(["a", 1])
    with pytest.raises(TypeError, match=r"mixes strings .*y\[1\] is 'a', y\[0\] is 2"):
        LabelCodec().fit([2, "a"])
    with pytest.raises(TypeError, match=r"y\[0\]"):
        LabelCodec().fit([True, False])  # booleans are not ids


def test_bad_class_names():
    with pytest.raises(TypeError, match="single string"):
        LabelCodec(class_names="ab").fit(["a", "b"])
    with pytest.raises(ValueError, match="duplicates"):
        LabelCodec(class_names=["a", "a"]).fit(["a"])
    with pytest.raises(TypeError, match="non-empty strings"):
        LabelCodec(class_names=["a", ""]).fit(["a"])


def test_unfitted_codec():
    with pytest.raises(RuntimeError, match="not fitted"):
        LabelCodec().encode(["a"])


def test_non_one_hot_row_when_encoding_multiclass():
    codec = LabelCodec().fit([[1, 0], [0, 1]])
    with pytest.raises(ValueError, match="label row 1 is not one-hot"):
        codec.encode([[1, 0], [1, 1]])


def test_fractional_id_for_multiclass_codec():
    codec = LabelCodec().fit([0, 1])
    with pytest.raises(ValueError, match="whole numbers"):
        codec.encode([0.5])
