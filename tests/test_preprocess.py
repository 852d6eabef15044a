"""Transformer (preprocessing) on tiny DistilBERT / BERT folders, and the classifier it builds.

Resolving model names and folders, and reading weights (h5, safetensors), are in test_models.py."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import helpers
from tfclf import text
from tfclf.data import TextDataset
from tfclf.labels import MULTICLASS, MULTILABEL, REGRESSION
from tfclf.models import ModelNotFoundError


@pytest.fixture(params=["distilbert", "bert"])
def model_dir(request, tiny_distilbert_dir, tiny_bert_dir):
    return {"distilbert": tiny_distilbert_dir, "bert": tiny_bert_dir}[request.param]


def test_preprocess_train_and_test(model_dir, toy_data, capsys):
    x, y = toy_data["train"]
    t = text.Transformer(str(model_dir), maxlen=32)
    trn = t.preprocess_train(x, y)
    assert "preprocessing train: 256 docs, multiclass, 2 classes" in capsys.readouterr().out
    assert isinstance(trn, TextDataset) and len(trn) == 256
    assert t.get_classes() == ["neg", "pos"] and t.mode_ == MULTICLASS
    assert trn.targets.tolist() == [["neg", "pos"].index(v) for v in y]
    assert trn.texts == x and trn.maxlen == 32 and trn.mode == MULTICLASS
    # Token ids are the tokenizer's, with [CLS] ... [SEP] around each text.
    tok = t.get_tokenizer()
    assert tok.is_fast
    cls, sep = helpers.VOCAB.index("[CLS]"), helpers.VOCAB.index("[SEP]")
    first = trn.token_ids(0).tolist()
    assert first[0] == cls and first[-1] == sep
    assert first == tok(x[0])["input_ids"]
    assert tok.convert_ids_to_tokens(first[1:-1]) == x[0].split()  # every toy word is in the vocab
    vx, vy = toy_data["val"]
    val = t.preprocess_test(vx, vy, verbose=0)
    assert len(val) == 64 and val.targets.tolist() == [["neg", "pos"].index(v) for v in vy]
    unlabeled = t.preprocess_test(vx[:3], verbose=0)
    assert unlabeled.targets is None and len(unlabeled) == 3


def test_class_names_fix_the_order(tiny_distilbert_dir):
    t = text.Transformer(str(tiny_distilbert_dir), maxlen=16, class_names=["pos", "neg"])
    assert t.get_classes() == ["pos", "neg"]  # known before preprocessing
    trn = t.preprocess_train(["good", "bad"], ["pos", "neg"], verbose=0)
    assert t.get_classes() == ["pos", "neg"] and trn.targets.tolist() == [0, 1]
    # ktrain's alias `classes` and integer ids.
    t2 = text.Transformer(str(tiny_distilbert_dir), maxlen=16, classes=["a", "b", "c"])
    assert t2.preprocess_train(["good", "bad"], [2, 0], verbose=0).targets.tolist() == [2, 0]
    assert t2.get_classes() == ["a", "b", "c"]


def test_truncation_to_maxlen(tiny_distilbert_dir, capsys):
    t = text.Transformer(str(tiny_distilbert_dir), maxlen=8)
    long_text = " ".join(["good"] * 100)
    trn = t.preprocess_train([long_text, "bad"], ["pos", "neg"])
    assert trn.lengths.tolist() == [8, 3]
    sep = helpers.VOCAB.index("[SEP]")
    assert trn.token_ids(0)[-1] == sep  # truncated texts still end with [SEP]
    assert "1 truncated to maxlen=8" in capsys.readouterr().out


def test_maxlen_above_the_model_limit(tiny_distilbert_dir):
    t = text.Transformer(str(tiny_distilbert_dir), maxlen=helpers.MAX_POSITIONS + 1)
    with pytest.raises(ValueError, match=r"maxlen=65 is more than .* supports \(64 tokens\); pass maxlen<=64"):
        t.preprocess_train(["good", "bad"], ["pos", "neg"], verbose=0)
    # Exactly the limit is fine.
    t = text.Transformer(str(tiny_distilbert_dir), maxlen=helpers.MAX_POSITIONS)
    assert len(t.preprocess_train(["good", "bad"], ["pos", "neg"], verbose=0)) == 2


@pytest.mark.parametrize("maxlen, err", [(1, ValueError), (0, ValueError), (-5, ValueError), (8.0, TypeError),
                                         (True, TypeError), ("64", TypeError)])
def test_bad_maxlen(tiny_distilbert_dir, maxlen, err):
    with pytest.raises(err, match="maxlen"):
        text.Transformer(str(tiny_distilbert_dir), maxlen=maxlen)


def test_bad_batch_size_and_conflicting_names(tiny_distilbert_dir):
    with pytest.raises(ValueError, match="batch_size"):
        text.Transformer(str(tiny_distilbert_dir), batch_size=0)
    with pytest.raises(ValueError, match="disagree"):
        text.Transformer(str(tiny_distilbert_dir), class_names=["a", "b"], classes=["b", "a"])


def test_texts_and_labels_of_different_lengths(tiny_distilbert_dir):
    t = text.Transformer(str(tiny_distilbert_dir), maxlen=16)
    with pytest.raises(ValueError, match="3 texts, 2 labels"):
        t.preprocess_train(["a", "b", "c"], ["x", "y"], verbose=0)
    t.preprocess_train(["good", "bad"], ["x", "y"], verbose=0)
    with pytest.raises(ValueError, match="1 texts, 2 labels"):
        t.preprocess_test(["good"], ["x", "y"], verbose=0)


def test_non_string_texts(tiny_distilbert_dir):
    t = text.Transformer(str(tiny_distilbert_dir), maxlen=16)
    with pytest.raises(TypeError, match=r"texts\[1\] is int"):
        t.preprocess_train(["good", 3], ["x", "y"], verbose=0)
    with pytest.raises(TypeError, match=r"texts\[0\] is bytes.*decode"):
        t.preprocess_train([b"good", "bad"], ["x", "y"], verbose=0)
    with pytest.raises(TypeError, match="not a single str"):
        t.preprocess_train("good bad", ["x", "y"], verbose=0)
    with pytest.raises(TypeError, match="None"):
        t.preprocess_train(None, ["x"], verbose=0)
    with pytest.raises(ValueError, match="empty"):
        t.preprocess_train([], [], verbose=0)
    with pytest.raises(ValueError, match="needs labels"):
        t.preprocess_train(["good"], None, verbose=0)


def test_texts_as_numpy_array(tiny_distilbert_dir):
    t = text.Transformer(str(tiny_distilbert_dir), maxlen=16)
    trn = t.preprocess_train(np.array(["good", "bad"]), np.array(["x", "y"]), verbose=0)
    assert trn.texts == ["good", "bad"] and trn.targets.tolist() == [0, 1]


def test_preprocess_test_before_train(tiny_distilbert_dir):
    t = text.Transformer(str(tiny_distilbert_dir), maxlen=16)
    with pytest.raises(RuntimeError, match=r"call preprocess_train\(texts, y\) first"):
        t.preprocess_test(["good"], ["pos"], verbose=0)
    with pytest.raises(RuntimeError, match="preprocess_train"):
        t.get_classifier()
    assert t.get_classes() == []


def test_mode_test_is_preprocess_test(tiny_distilbert_dir):
    t = text.Transformer(str(tiny_distilbert_dir), maxlen=16)
    t.preprocess_train(["good", "bad"], ["pos", "neg"], verbose=0)
    ds = t.preprocess_train(["bad"], ["neg"], mode="test", verbose=0)
    assert t.get_classes() == ["neg", "pos"] and ds.targets.tolist() == [0]  # labels not re-learned
    with pytest.raises(ValueError, match="mode"):
        t.preprocess_train(["bad"], ["neg"], mode="valid")


# --------------------------------------------------------------------------- classifier


@pytest.mark.parametrize(
    "y, mode, outputs, loss_name",
    [
        (["a", "b", "c", "a"], MULTICLASS, 3, "SparseCategoricalCrossentropy"),
        ([[1, 1], [0, 0], [1, 0], [0, 1]], MULTILABEL, 2, "BinaryCrossentropy"),
        ([0.5, 1.5, 2.25, 3.0], REGRESSION, 1, "MeanSquaredError"),
    ],
)
def test_get_classifier(tiny_distilbert_dir, y, mode, outputs, loss_name):
    t = text.Transformer(str(tiny_distilbert_dir), maxlen=16)
    t.preprocess_train(["good", "bad", "great", "awful"], y, verbose=0)
    assert t.mode_ == mode
    model = t.get_classifier()
    assert model.optimizer is not None  # compiled, ready for get_learner
    # the loss runs on float32 logits (mixed precision), wrapping the Keras loss for the mode
    assert type(model.loss).__name__ == "Float32Loss" and type(model.loss.inner).__name__ == loss_name
    assert model.config.num_labels == outputs
    assert helpers.logits_of(model, t, ["good movie", "bad"]).shape == (2, outputs)
    if mode != REGRESSION:
        assert model.config.id2label == dict(enumerate(t.get_classes()))


def test_get_classifier_multilabel_must_agree(tiny_distilbert_dir):
    t = text.Transformer(str(tiny_distilbert_dir), maxlen=16)
    t.preprocess_train(["good", "bad"], ["pos", "neg"], verbose=0)
    with pytest.raises(ValueError, match="disagrees"):
        t.get_classifier(multilabel=True)


def test_get_classifier_fpath_loads_saved_weights(tiny_distilbert_dir, tmp_path):
    t = text.Transformer(str(tiny_distilbert_dir), maxlen=16)
    t.preprocess_train(["good", "bad"], ["pos", "neg"], verbose=0)
    first = t.get_classifier()
    first.save_weights(str(tmp_path / "w.h5"))
    second = t.get_classifier(fpath=str(tmp_path / "w.h5"))
    # The heads are randomly initialised, so only loading makes the logits agree.
    np.testing.assert_allclose(helpers.logits_of(first, t, ["good movie"]), helpers.logits_of(second, t, ["good movie"]),
                               rtol=1e-6)


def test_to_json_and_from_saved_round_trip(tiny_distilbert_dir):
    t = text.Transformer(str(tiny_distilbert_dir), maxlen=16, batch_size=4)
    t.preprocess_train(["good", "bad"], ["pos", "neg"], verbose=0)
    data = t.to_json()
    assert data == {"model_name": str(tiny_distilbert_dir), "maxlen": 16,
                    "labels": {"mode": MULTICLASS, "classes": ["neg", "pos"]}, "batch_size": 4,
                    "truncation": "head", "head_tokens": None, "max_windows": 1, "window_overlap": None,
                    "aggregate": "mean_logits", "pooling": "cls"}
    copy = text.Transformer.from_saved(tiny_distilbert_dir, data, t.get_tokenizer(), t._config())
    assert copy.get_classes() == ["neg", "pos"] and copy.maxlen == 16
    # a manifest written before the long-document options existed reads as the defaults
    old = {k: data[k] for k in ("model_name", "maxlen", "labels", "batch_size")}
    legacy = text.Transformer.from_saved(tiny_distilbert_dir, old, t.get_tokenizer(), t._config())
    assert (legacy.truncation, legacy.max_windows, legacy.aggregate, legacy.pooling) == ("head", 1, "mean_logits", "cls")
    # the pooling is the config's (it builds the model), whatever a hand-edited manifest says
    edited = text.Transformer.from_saved(tiny_distilbert_dir, {**data, "pooling": "mean"}, t.get_tokenizer(),
                                         t._config())
    assert edited.pooling == "cls"
    assert copy.encode(["good movie"]) == t.encode(["good movie"])


def test_moved_model_folder_is_reported(tiny_distilbert_dir, tmp_path):
    # A folder deleted after the Transformer was created: the error comes when it is first needed.
    folder = tmp_path / "moved"
    shutil.copytree(tiny_distilbert_dir, folder)
    t = text.Transformer(str(folder), maxlen=16)
    shutil.rmtree(folder)
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        t.preprocess_train(["good", "bad"], ["pos", "neg"], verbose=0)
