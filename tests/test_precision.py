"""Mixed precision: the policy choice, and training / predicting / reloading under bfloat16 and
float16 (loss scaling) on the four architectures, with float32 logits, loss and probabilities."""

from __future__ import annotations

import json

import numpy as np
import pytest

import helpers

import tfclf
from tfclf import precision as P
from tfclf import text


# -- choosing the policy --------------------------------------------------------------------------
def test_aliases_and_names_resolve():
    assert P.resolve_precision("float32") == "float32"
    assert P.resolve_precision("bf16") == "mixed_bfloat16"
    assert P.resolve_precision("FP16") == "mixed_float16"
    assert P.resolve_precision("off") == "float32"


def test_unknown_names_are_refused_with_the_choices():
    with pytest.raises(ValueError, match="mixed_bfloat16"):
        P.resolve_precision("int8")
    with pytest.raises(TypeError):
        P.resolve_precision(16)
    with pytest.raises(ValueError, match="precision"):
        text.Transformer("some/model", precision="half-ish")


def test_environment_variable_overrides_auto(monkeypatch):
    monkeypatch.setenv("TFCLF_PRECISION", "bf16")
    assert P.resolve_precision("auto") == "mixed_bfloat16"
    assert P.resolve_precision(None) == "mixed_bfloat16"
    assert P.resolve_precision("float32") == "float32"  # an explicit choice wins over the variable
    monkeypatch.setenv("TFCLF_PRECISION", "bogus")
    with pytest.raises(ValueError, match="TFCLF_PRECISION"):
        P.resolve_precision("auto")


@pytest.mark.parametrize(
    "gpu, flags, expected",
    [
        (True, set(), "mixed_float16"),
        (False, {"avx512f", "amx_bf16"}, "mixed_bfloat16"),
        (False, {"avx512f", "avx512_bf16"}, "mixed_bfloat16"),
        (False, {"avx2", "avx512f"}, "float32"),
        (False, set(), "float32"),
    ],
)
def test_auto_follows_the_hardware(monkeypatch, gpu, flags, expected):
    monkeypatch.delenv("TFCLF_PRECISION", raising=False)
    monkeypatch.setattr(P, "has_nvidia_gpu", lambda: gpu)
    monkeypatch.setattr(P, "cpu_flags", lambda: flags)
    assert P.resolve_precision("auto") == expected


def test_policy_scope_restores_the_global_policy():
    from tfclf._compat import keras

    before = keras.mixed_precision.global_policy().name
    with pytest.raises(RuntimeError):
        with P.policy_scope("mixed_bfloat16"):
            assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"
            raise RuntimeError("boom")
    assert keras.mixed_precision.global_policy().name == before


# -- training and predicting under a mixed policy --------------------------------------------------
@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_model_trains_with_float32_loss_and_reloads(tiny_encoder_dir, policy, tmp_path):
    from tfclf._compat import tf

    kind, folder = tiny_encoder_dir  # the four tiny architectures (conftest.py)
    texts, labels = helpers.toy_sentiment(48, seed=5)
    t = text.Transformer(str(folder), maxlen=32, precision=policy)
    trn = t.preprocess_train(texts, labels, verbose=0)
    model = t.get_classifier()
    assert P.model_precision(model) == policy
    assert all(w.dtype == tf.float32 for w in model.trainable_weights), "variables must stay float32"
    if policy == "mixed_float16":
        assert hasattr(model.optimizer, "inner_optimizer"), "float16 needs a loss-scale optimizer"

    learner = tfclf.get_learner(model, trn, batch_size=8, seed=0)
    learner.fit_onecycle(1e-3, 1, verbose=0)
    losses = np.asarray(learner.history.history["loss"])
    assert np.isfinite(losses).all(), f"{kind} under {policy}: loss {losses}"
    # the one-cycle schedule reached Adam through the loss-scale wrapper too
    momentum = np.asarray(learner.history.history["momentum"])
    assert momentum.min() < 0.9 and np.isfinite(momentum).all()

    # the loss is float32 even though the model computes in 16 bits
    x = trn.pad_batch(np.arange(4))
    logits = model({"input_ids": x[0], "attention_mask": x[1]}, training=False).logits
    assert logits.dtype != tf.float32
    assert model.compiled_loss(tf.constant(trn.targets[:4]), logits).dtype == tf.float32

    predictor = tfclf.get_predictor(learner.model, t)
    probs = predictor.predict_proba(texts[:6])
    assert probs.dtype == np.float64 and np.isfinite(probs).all()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-9)

    saved = predictor.save(tmp_path / f"{kind}-{policy}")
    assert json.loads((saved / "manifest.json").read_text())["precision"] == policy
    same = tfclf.load_predictor(saved, precision=policy)
    assert P.model_precision(same.model) == policy
    np.testing.assert_allclose(same.predict_proba(texts[:6]), probs, atol=1e-6)
    exact = tfclf.load_predictor(saved, precision="float32")
    assert P.model_precision(exact.model) == "float32"
    # 16-bit arithmetic keeps about 3 significant digits: close to float32, not equal
    np.testing.assert_allclose(exact.predict_proba(texts[:6]), probs, atol=0.05)


def test_get_classifier_argument_overrides_the_transformer(tiny_distilbert_dir, toy_data):
    t = text.Transformer(str(tiny_distilbert_dir), maxlen=16, precision="mixed_bfloat16")
    t.preprocess_train(*toy_data["train"], verbose=0)
    assert P.model_precision(t.get_classifier()) == "mixed_bfloat16"
    assert P.model_precision(t.get_classifier(precision="float32")) == "float32"
    from tfclf._compat import keras

    assert keras.mixed_precision.global_policy().name == "float32", "the user's global policy is untouched"
