"""The four architectures the foundation promises (DistilBERT, BERT, RoBERTa, ALBERT) through the
transformers Auto classes: build, train a step, predict, save and reload, on tiny configs."""

from __future__ import annotations

import numpy as np
import pytest

import helpers

import tfclf
from tfclf import text


def test_architecture_trains_predicts_and_round_trips(tiny_encoder_dir, tmp_path):
    kind, folder = tiny_encoder_dir  # each of helpers.ARCHITECTURES (conftest.py)
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
    folder = helpers.save_tiny_encoder("roberta", tmp_path_factory.mktemp("roberta-limit"))
    t = text.Transformer(str(folder), maxlen=65)
    with pytest.raises(ValueError, match="64"):
        t.get_tokenizer()
