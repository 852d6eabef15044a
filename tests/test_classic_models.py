"""The standard preprocessing (word and n-gram ids) and the classic models over it: NBSVM,
logistic / linear regression, fastText, GRUs; their training, saving and predictors."""

from __future__ import annotations

import json

import helpers
import numpy as np
import pytest

import tfclf
from tfclf.classic_models import CLASSIC_TYPES, ClassicConfig, build_classic, config_for, load_classic, nb_ratios
from tfclf.labels import LabelCodec
from tfclf.standard import StandardPreprocessor
from tfclf.word_vocab import WordVocabulary, words


# --------------------------------------------------------------------------- vocabulary
def test_words_lowercase_keep_inner_apostrophes_and_drop_punctuation():
    assert words("Don't STOP: the_end, 3 cats!") == ["don't", "stop", "the", "end", "3", "cats"]


def test_vocabulary_orders_by_frequency_caps_and_drops_unknown_words():
    vocab = WordVocabulary(max_features=2, maxlen=10).fit(["b a a", "c a b"])
    assert vocab.words_ == ["a", "b"]  # c is the third most frequent: not kept
    assert [r.tolist() for r in vocab.encode(["a c b zzz", ""])] == [[1, 2], []]
    assert vocab.size == 3


def test_vocabulary_reads_maxlen_words_then_the_known_ngrams_of_those_words():
    vocab = WordVocabulary(max_features=10, maxlen=3, ngram_range=2).fit(["x y z", "y z x"])
    names = vocab.feature_names()
    row = vocab.encode(["x y z x y"])[0]
    # the first 3 words, then the bigrams "x y" and "y z" (both seen in training)
    assert [names[i] for i in row] == ["x", "y", "z", "x y", "y z"]
    assert [names[i] for i in vocab.encode(["z y"])[0]] == ["z", "y"]  # "z y" was never seen
    assert vocab.row_length == 3 + 2


def test_vocabulary_json_round_trip_encodes_identically():
    texts, _ = helpers.toy_sentiment(40, seed=0)
    vocab = WordVocabulary(max_features=30, maxlen=8, ngram_range=3).fit(texts)
    again = WordVocabulary.from_json(json.loads(json.dumps(vocab.to_json())))
    assert all(np.array_equal(a, b) for a, b in zip(vocab.encode(texts), again.encode(texts)))
    assert again.feature_names() == vocab.feature_names()


@pytest.mark.parametrize("kwargs", [{"ngram_range": 4}, {"max_features": 0}, {"maxlen": -1},
                                    {"max_features": 3_000_000, "ngram_range": 3}])
def test_vocabulary_refuses_bad_settings(kwargs):
    with pytest.raises(ValueError):
        WordVocabulary(**kwargs)


def test_standard_preprocessor_learns_labels_and_saves_as_json():
    texts, labels = helpers.toy_sentiment(32, seed=0)
    p = StandardPreprocessor(maxlen=20, max_features=100, ngram_range=2)
    trn = p.preprocess_train(texts, labels, verbose=0)
    assert p.get_classes() == ["neg", "pos"] and trn.mode == "multiclass" and trn.texts == texts
    again = StandardPreprocessor.from_json(json.loads(json.dumps(p.to_json())))
    assert np.array_equal(again.dataset(texts).ids, p.dataset(texts).ids) and again.get_classes() == ["neg", "pos"]
    with pytest.raises(RuntimeError, match="preprocess_train"):
        StandardPreprocessor().preprocess_test(["a"])


def test_regression_flag_keeps_whole_numbers_as_numbers():
    p = StandardPreprocessor(maxlen=5, regression=True)
    ds = p.preprocess_train(["a b", "c d", "a c"], [1, 5, 3], verbose=0)
    assert p.mode_ == "regression" and ds.targets.tolist() == [1.0, 5.0, 3.0]
    assert StandardPreprocessor(maxlen=5).preprocess_train(["a", "b"], [1, 0], verbose=0).mode == "multiclass"


# --------------------------------------------------------------------------- models
def test_nb_ratios_favour_the_class_a_feature_occurs_in():
    # feature 1 only in class 0, feature 2 only in class 1, feature 3 in both
    rows = [np.array([1, 3]), np.array([1, 1]), np.array([2, 3]), np.array([2])]
    r = nb_ratios(rows, np.array([0, 0, 1, 1]), "multiclass", vocab_size=4, num_classes=2)
    assert r.shape == (4, 2) and np.all(r[0] == 0)
    assert r[1, 0] > 0 > r[1, 1] and r[2, 1] > 0 > r[2, 0] and abs(r[3, 0]) < abs(r[1, 0])
    with pytest.raises(ValueError, match="linreg"):
        nb_ratios(rows, np.array([0.5, 1, 2, 3]), "regression", 4, 1)


def _toy(kind="multiclass"):
    texts, labels = helpers.toy_sentiment(160, seed=1)
    p = StandardPreprocessor(maxlen=20, max_features=200, ngram_range=1 if kind == "seq" else 2)
    return p, p.preprocess_train(texts, labels, verbose=0), texts, labels


def _model(name, p, trn):
    from tfclf.classifier import compile_classifier

    config = config_for(name, p.vocabulary_size, p.codec_)
    ratios = (nb_ratios([trn.token_ids(i) for i in range(len(trn))], trn.targets, trn.mode, config.vocab_size,
                        config.num_labels) if name == "nbsvm" else None)
    model = build_classic(config, ratios=ratios)
    compile_classifier(model)
    return model


# (peak LR, epochs) at which each model reached the bound at every seed tried (0-5) with random
# batch orders; at one shared setting, logreg and fasttext passed or failed with the seed.
@pytest.mark.parametrize("name, lr, epochs", [("nbsvm", 0.02, 4), ("logreg", 0.02, 8), ("fasttext", 0.01, 4)])
def test_bag_models_learn_the_toy_task(name, lr, epochs):
    tfclf.set_seed(0)
    p, trn, _, _ = _toy()
    val = p.preprocess_test(*helpers.toy_sentiment(64, seed=2), verbose=0)
    learner = tfclf.get_learner(_model(name, p, trn), trn, val, batch_size=16, seed=0)
    learner.fit_onecycle(lr, epochs, verbose=0)
    assert float((learner.predict().argmax(1) == val.targets).mean()) >= 0.95


@pytest.mark.parametrize("name", ["bigru", "standard_gru"])
def test_sequence_models_train_a_step_and_embed(name):
    p, trn, texts, _ = _toy("seq")
    model = _model(name, p, trn)
    learner = tfclf.get_learner(model, trn, batch_size=32, seed=0)
    learner.fit(1e-3, 1, verbose=0)
    predictor = tfclf.get_predictor(model, p)
    assert predictor.predict_proba(texts[:3]).shape == (3, 2)
    assert predictor.embed(texts[:3]).shape == (3, 320 if name == "bigru" else 256)  # bigru: mean and max of 2 x 80


def test_nbsvm_counts_a_feature_once_and_ignores_unknown_ids():
    p, trn, texts, _ = _toy()
    model = _model("nbsvm", p, trn)
    model.feature_weight.set_weights([np.random.default_rng(0).normal(size=(p.vocabulary_size, 1))])
    ids = np.array([[3, 5, 0, 0]], np.int32)
    twice = np.array([[3, 5, 5, 3]], np.int32)
    unknown = np.array([[3, 5, p.vocabulary_size + 7, 0]], np.int32)
    mask = np.ones_like(ids)

    def out(x):
        return model({"input_ids": x, "attention_mask": mask}).numpy()

    np.testing.assert_allclose(out(ids), out(twice), rtol=1e-6)
    np.testing.assert_allclose(out(ids), out(unknown), rtol=1e-6)


def test_every_classic_type_saves_and_reloads_identically(tmp_path):
    p, trn, texts, _ = _toy("seq")
    batch = trn.pad_batch(np.arange(4))
    inputs = {"input_ids": batch[0], "attention_mask": batch[1]}
    for name in CLASSIC_TYPES:
        codec = LabelCodec(regression=True).fit([0.5, 1.5]) if name == "linreg" else p.codec_
        model = build_classic(config_for(name, p.vocabulary_size, codec))
        model.save_pretrained(tmp_path / name)
        again = load_classic(tmp_path / name)
        np.testing.assert_allclose(model(inputs).numpy(), again(inputs).numpy(), rtol=1e-6, err_msg=name)
    with pytest.raises(ValueError, match="unknown classic model type"):
        ClassicConfig("svm", 10, 2, "single_label_classification")


# --------------------------------------------------------------------------- predictor
def test_classic_predictor_saves_without_pickles_and_reloads(tmp_path):
    tfclf.set_seed(0)
    p, trn, texts, _ = _toy()
    learner = tfclf.get_learner(_model("nbsvm", p, trn), trn, batch_size=16, seed=0)
    learner.fit_onecycle(0.02, 2, verbose=0)
    predictor = tfclf.get_predictor(learner.model, p)
    predictor.calibrate(texts[:64], [predictor.predict(t) for t in texts[:64]], verbose=0)
    folder = predictor.save(tmp_path / "nbsvm")
    assert sorted(f.name for f in folder.iterdir()) == ["config.json", "manifest.json", "tf_model.h5",
                                                        "vocabulary.json"]
    again = tfclf.load_predictor(folder)
    assert type(again).__name__ == "ClassicPredictor" and again.temperature == predictor.temperature
    np.testing.assert_allclose(again.predict_proba(texts[:20]), predictor.predict_proba(texts[:20]), rtol=1e-6)
    assert again.predict(texts[:5]) == predictor.predict(texts[:5])
    assert again.predict("good great love") == "pos"
    explanation = again.explain("it was good and the plot great", num_samples=100)
    assert explanation.as_list()[0][0] in ("good", "great")
    with pytest.raises(ValueError, match="embed"):
        again.embed(["good"])
    with pytest.raises(ValueError, match="export is for transformer"):
        again.export(tmp_path / "onnx")


def test_classic_predictor_refuses_a_mismatched_preprocessor():
    p, trn, _, _ = _toy()
    model = _model("logreg", p, trn)
    other = StandardPreprocessor(maxlen=5)
    other.preprocess_train(["a", "b", "c"], ["x", "y", "z"], verbose=0)
    with pytest.raises(ValueError, match="outputs"):
        tfclf.get_predictor(model, other)


def test_classic_predictor_serves_over_http_and_the_cli(tmp_path, capsys):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from tfclf import cli, serve

    tfclf.set_seed(0)
    p, trn, _, _ = _toy()
    model = _model("logreg", p, trn)
    tfclf.get_learner(model, trn, batch_size=16, seed=0).fit_onecycle(0.05, 3, verbose=0)
    folder = tfclf.get_predictor(model, p).save(tmp_path / "logreg")
    loaded = tfclf.load_predictor(folder)
    with TestClient(serve.create_app(loaded, batch_wait_ms=0)) as client:
        body = client.post("/predict", json={"texts": ["good great love", "awful hate"], "return_proba": True}).json()
        assert body["labels"] == ["pos", "neg"] and body["classes"] == ["neg", "pos"]
        info = client.get("/info").json()
        assert info["model_type"] == "logreg"
        explained = client.post("/explain", json={"text": "it was good", "num_samples": 50}).json()
        assert explained["predicted"] == "pos"
    capsys.readouterr()
    assert cli.main(["predict", str(folder), "great wonderful film", "terrible boring plot"]) in (0, None)
    assert capsys.readouterr().out.split() == ["pos", "neg"]
