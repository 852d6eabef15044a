"""The four architectures the foundation promises (DistilBERT, BERT, RoBERTa, ALBERT) through the
transformers Auto classes: build, train a step, predict, save and reload, on tiny configs."""

from __future__ import annotations

import numpy as np
import pytest

import helpers

import tfclf
from tfclf import text


def _tiny(kind: str):
    from tfclf._compat import transformers

    common = dict(vocab_size=len(helpers.VOCAB), num_hidden_layers=2, num_attention_heads=2,
                  intermediate_size=64, pad_token_id=0)
    if kind == "roberta":
        # RoBERTa offsets positions by pad_token_id + 1: 66 positions allow 64 tokens.
        return transformers.TFRobertaModel(transformers.RobertaConfig(hidden_size=32, max_position_embeddings=66,
                                                                      **common))
    if kind == "albert":
        return transformers.TFAlbertModel(transformers.AlbertConfig(embedding_size=16, hidden_size=32,
                                                                    max_position_embeddings=64, **common))
    if kind == "bert":
        return transformers.TFBertModel(helpers.tiny_bert_config())
    return transformers.TFDistilBertModel(helpers.tiny_distilbert_config())


@pytest.fixture(scope="module", params=["distilbert", "bert", "roberta", "albert"])
def model_dir(request, tmp_path_factory):
    from tfclf._compat import transformers

    folder = tmp_path_factory.mktemp(request.param)
    model = _tiny(request.param)
    model(model.dummy_inputs, training=False)
    model.save_pretrained(str(folder))
    # A WordPiece tokenizer serves every architecture here: what is under test is the model side.
    vocab = helpers.write_vocab(folder / "vocab.txt")
    transformers.BertTokenizerFast(vocab_file=str(vocab)).save_pretrained(str(folder))
    return request.param, folder


def test_architecture_trains_predicts_and_round_trips(model_dir, tmp_path):
    kind, folder = model_dir
    texts, labels = helpers.toy_sentiment(32, seed=5)
    t = text.Transformer(str(folder), maxlen=32)
    trn = t.preprocess_train(texts, labels, verbose=0)
    model = t.get_classifier()
    assert model.config.model_type == kind
    assert model.config.num_labels == 2
    learner = tfclf.get_learner(model, trn, batch_size=8, seed=0)
    learner.fit(1e-3, 1, verbose=0)
    predictor = tfclf.get_predictor(learner.model, t)
    probs = predictor.predict_proba(texts[:5])
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)
    reloaded = tfclf.load_predictor(predictor.save(tmp_path / kind))
    np.testing.assert_allclose(reloaded.predict_proba(texts[:5]), probs, atol=1e-6)
    assert reloaded.preproc.get_classes() == sorted(set(labels))


def test_roberta_maxlen_limit_accounts_for_its_position_offset(tmp_path_factory):
    from tfclf._compat import transformers

    folder = tmp_path_factory.mktemp("roberta-limit")
    model = _tiny("roberta")
    model(model.dummy_inputs, training=False)
    model.save_pretrained(str(folder))
    transformers.BertTokenizerFast(vocab_file=str(helpers.write_vocab(folder / "vocab.txt"))).save_pretrained(str(folder))
    t = text.Transformer(str(folder), maxlen=65)
    with pytest.raises(ValueError, match="64"):
        t.get_tokenizer()
