"""pooling="mean": the head reads the mean of the real tokens' last hidden states, for every
supported architecture, through training, saving, reloading and a distribution strategy."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import helpers

import tfclf
from tfclf import text
from tfclf.pooling import classifier_class, masked_mean


@pytest.fixture(scope="module", params=helpers.POOLING_ARCHITECTURES)
def encoder_dir(request, tmp_path_factory):
    return request.param, helpers.save_tiny_encoder(request.param, tmp_path_factory.mktemp(f"pool-{request.param}"))


def _classifier(folder, pooling, texts, labels, **kwargs):
    t = text.Transformer(str(folder), maxlen=32, pooling=pooling, precision="float32", **kwargs)
    trn = t.preprocess_train(texts, labels, verbose=0)
    tfclf.set_seed(0)
    return t, trn, t.get_classifier()


def test_masked_mean_averages_only_the_real_tokens():
    hidden = np.arange(2 * 4 * 3, dtype=np.float32).reshape(2, 4, 3)
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 1]])
    got = masked_mean(hidden, mask).numpy()
    np.testing.assert_allclose(got[0], hidden[0, :2].mean(axis=0))
    np.testing.assert_allclose(got[1], hidden[1].mean(axis=0))
    # An all-padding row gives zeros, not NaN.
    assert np.all(masked_mean(hidden, np.zeros((2, 4))).numpy() == 0)


def _head_input(model, kind, ids, mask):
    encoder = getattr(model, model.base_model_prefix)
    hidden = encoder(input_ids=ids, attention_mask=mask, training=False).last_hidden_state.numpy()
    m = mask[:, :, None].astype(np.float32)
    return (hidden * m).sum(axis=1) / m.sum(axis=1)


def test_mean_pooling_feeds_the_models_own_head_and_ignores_padding(encoder_dir):
    kind, folder = encoder_dir
    texts, labels = helpers.toy_sentiment(16, seed=3)
    _, _, model = _classifier(folder, "mean", texts, labels)
    assert type(model).__name__.startswith("MeanPooled") and model.config.tfclf_pooling == "mean"
    ids = np.array([[2, 10, 11, 12, 3, 0, 0, 0], [2, 13, 14, 15, 16, 17, 3, 0]])
    mask = (ids != 0).astype(np.int32)
    logits = model(input_ids=ids, attention_mask=mask, training=False).logits.numpy()
    pooled = _head_input(model, kind, ids, mask)
    if kind == "distilbert":
        expected = model.classifier(model.pre_classifier(pooled)).numpy()
    elif kind in ("roberta", "mpnet"):
        expected = model.classifier(pooled[:, None, :], training=False).numpy()
    else:
        expected = model.classifier(pooled).numpy()
    np.testing.assert_allclose(logits, expected, atol=1e-5)
    # More padding (masked out) changes nothing.
    padded = np.pad(ids, ((0, 0), (0, 8)))
    more = model(input_ids=padded, attention_mask=(padded != 0).astype(np.int32), training=False).logits.numpy()
    np.testing.assert_allclose(more, logits, atol=1e-5)


def test_mean_pooled_model_trains_saves_and_reloads_with_its_pooling(encoder_dir, tmp_path):
    kind, folder = encoder_dir
    texts, labels = helpers.toy_sentiment(32, seed=5)
    t, trn, model = _classifier(folder, "mean", texts, labels)
    learner = tfclf.get_learner(model, trn, batch_size=8, seed=0)
    before = learner.model.trainable_weights[-1].numpy().copy()
    learner.fit(1e-3, 1, verbose=0)
    assert not np.allclose(before, learner.model.trainable_weights[-1].numpy())
    predictor = tfclf.get_predictor(learner.model, t)
    probs = predictor.predict_proba(texts[:6])
    saved = predictor.save(tmp_path / f"mean-{kind}")
    assert json.loads((saved / "config.json").read_text())["tfclf_pooling"] == "mean"
    reloaded = tfclf.load_predictor(saved)
    assert type(reloaded.model) is type(learner.model) and reloaded.preproc.pooling == "mean"
    np.testing.assert_allclose(reloaded.predict_proba(texts[:6]), probs, atol=1e-6)


def test_cls_pooling_is_the_models_own_class(tiny_distilbert_dir, toy_data):
    _, _, model = _classifier(tiny_distilbert_dir, "cls", *toy_data["train"])
    from tfclf._compat import transformers

    assert type(model) is transformers.TFDistilBertForSequenceClassification
    assert classifier_class(model.config) is type(model)


def test_mean_pooling_survives_a_strategy_rebuild(tiny_distilbert_dir, toy_data):
    from tfclf._compat import tf

    _, trn, model = _classifier(tiny_distilbert_dir, "mean", *toy_data["train"])
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    learner = tfclf.get_learner(model, trn, batch_size=8, strategy=strategy)
    assert learner.model is not model and type(learner.model) is type(model)
    np.testing.assert_allclose(learner.model.get_weights()[0], model.get_weights()[0])


def test_pooling_errors(tmp_path):
    with pytest.raises(ValueError, match="pooling must be one of"):
        text.Transformer("some-model", pooling="max")
    from tfclf._compat import transformers
    from tfclf.pooling import check_supported

    with pytest.raises(ValueError, match="not available for model_type 'gpt2'"):
        check_supported(transformers.GPT2Config(), "mean")
    check_supported(transformers.GPT2Config(), "cls")  # the model's own head is always there


def _write_st_pooling(folder, modes, *, path="1_Pooling", modules=True):
    """The files sentence-transformers saves beside a checkpoint: modules.json and its Pooling config."""
    (folder / path).mkdir(parents=True, exist_ok=True)
    settings = {"word_embedding_dimension": 32, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": False,
                "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False}
    settings.update({f"pooling_mode_{m}": True for m in modes})
    (folder / path / "config.json").write_text(json.dumps(settings))
    if modules:
        (folder / "modules.json").write_text(json.dumps([
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": path, "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]))
    return folder


@pytest.mark.parametrize("modes, path, modules, expected", [
    (["mean_tokens"], "1_Pooling", True, "mean"),
    (["cls_token"], "1_Pooling", True, "cls"),
    (["max_tokens"], "1_Pooling", True, None),                  # pooled another way: no opinion
    (["mean_tokens", "max_tokens"], "1_Pooling", True, None),   # concatenated poolings: no opinion
    (["mean_tokens"], "2_Pooling", True, "mean"),               # modules.json says where the module is
    (["mean_tokens"], "1_Pooling", False, "mean"),              # no modules.json: the folder's name
])
def test_sentence_transformers_pooling_reads_the_checkpoints_own_settings(tmp_path, modes, path, modules,
                                                                          expected):
    from tfclf.pooling import sentence_transformers_pooling

    assert sentence_transformers_pooling(_write_st_pooling(tmp_path, modes, path=path, modules=modules)) == expected


def test_sentence_transformers_pooling_without_or_with_broken_files(tmp_path, caplog):
    from tfclf.pooling import sentence_transformers_pooling

    assert sentence_transformers_pooling(tmp_path) is None and sentence_transformers_pooling(None) is None
    (tmp_path / "modules.json").write_text("{not json")
    with caplog.at_level("WARNING", logger="tfclf.pooling"):
        assert sentence_transformers_pooling(tmp_path) is None
    assert "falls back to 'cls'" in caplog.text
    (tmp_path / "modules.json").write_text(json.dumps([{"type": "sentence_transformers.models.Pooling",
                                                         "path": "1_Pooling"}]))
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "1_Pooling" / "config.json").write_text("[1, 2")
    assert sentence_transformers_pooling(tmp_path) is None


def test_auto_pooling_follows_the_checkpoint_and_saves_the_choice(tiny_distilbert_dir, toy_data, tmp_path):
    import shutil

    texts, labels = toy_data["train"]
    plain = text.Transformer(str(tiny_distilbert_dir), maxlen=32, precision="float32")
    assert plain.pooling == "auto"
    plain.preprocess_train(texts, labels, verbose=0)
    assert not type(plain.get_classifier()).__name__.startswith("MeanPooled") and plain.pooling_ == "cls"

    st_dir = _write_st_pooling(Path(shutil.copytree(tiny_distilbert_dir, tmp_path / "st")), ["mean_tokens"])
    t, trn, model = _classifier(st_dir, "auto", texts, labels)
    # The argument stays as given; the choice made is the fitted attribute and the model's config.
    assert t.pooling == "auto" and t.pooling_ == "mean" and model.config.tfclf_pooling == "mean"
    assert type(model).__name__.startswith("MeanPooled")
    saved = tfclf.get_predictor(model, t).save(tmp_path / "saved")
    assert json.loads((saved / "manifest.json").read_text())["pooling"] == "mean"
    assert tfclf.load_predictor(saved).preproc.pooling == "mean"


def test_auto_pooling_falls_back_to_the_models_own_head(tmp_path):
    from tfclf._compat import transformers
    from tfclf.pooling import resolve_pooling

    st_dir = _write_st_pooling(tmp_path, ["mean_tokens"])
    assert resolve_pooling("auto", transformers.BertConfig(), st_dir) == "mean"
    # No mean-pooled head for this architecture, and no pretrained pooling for a configuration.
    assert resolve_pooling("auto", transformers.GPT2Config(), st_dir) == "cls"
    assert resolve_pooling("auto", transformers.BertConfig(), None) == "cls"
    # An explicit choice is never second-guessed.
    assert resolve_pooling("cls", transformers.BertConfig(), st_dir) == "cls"


def _with_pooler_bias(model, value: float):
    """`model` with its pooler's bias set to `value` (a trained pooler's bias is never all zeros)."""
    for w in model.weights:
        if "pooler" in w.name and w.name.endswith("bias:0"):
            w.assign(np.full(w.shape, value, dtype=np.float32))
    return model


@pytest.mark.parametrize("kind", ["bert", "albert"])
def test_auto_pooling_reads_whether_the_pooler_was_trained(kind, tmp_path, caplog):
    from tfclf._compat import transformers
    from tfclf.models import load_config
    from tfclf.pooling import pretrained_pooler, resolve_pooling

    encoder = helpers.tiny_encoder(kind)  # freshly built: the pooler's bias is all zeros
    fresh = tmp_path / "fresh"
    encoder.save_pretrained(str(fresh))
    config = load_config(fresh)
    assert pretrained_pooler(fresh) is False
    with caplog.at_level("INFO", logger="tfclf.pooling"):
        assert resolve_pooling("auto", config, fresh) == "mean"
    assert "no trained [CLS] pooler" in caplog.text

    trained = tmp_path / "trained"
    _with_pooler_bias(encoder, 0.01).save_pretrained(str(trained))
    assert pretrained_pooler(trained) is True and resolve_pooling("auto", config, trained) == "cls"
    # The same two checkpoints as PyTorch-format safetensors (how the hub ships them).
    for src, expected in ((fresh, "mean"), (trained, "cls")):
        folder = helpers.copy_config_and_tokenizer(src, tmp_path / f"{src.name}-pt")
        model = getattr(transformers, type(encoder).__name__).from_pretrained(str(src))
        helpers.save_pytorch_safetensors(folder, helpers.pytorch_state_dict(model))
        assert resolve_pooling("auto", config, folder) == expected, folder
        # Sharded: the index says which file holds the pooler.
        (folder / "model.safetensors").rename(folder / "model-00001-of-00001.safetensors")
        (folder / "model.safetensors.index.json").write_text(json.dumps(
            {"weight_map": {k: "model-00001-of-00001.safetensors" for k in helpers.pytorch_state_dict(model)}}))
        assert resolve_pooling("auto", config, folder) == expected, folder
    # An explicit choice is never second-guessed, and sentence-transformers files come first.
    assert resolve_pooling("cls", config, fresh) == "cls"
    assert resolve_pooling("auto", config, _write_st_pooling(fresh, ["cls_token"])) == "cls"


def test_auto_pooling_without_a_stored_pooler_or_readable_weights(tmp_path, caplog):
    from tfclf._compat import transformers
    from tfclf.models import load_config
    from tfclf.pooling import pretrained_pooler, resolve_pooling

    # A BERT saved without its pooling layer (as sentence-transformers exports often are).
    headless = tmp_path / "headless"
    helpers._built(transformers.TFBertModel(helpers.tiny_bert_config(), add_pooling_layer=False)).save_pretrained(
        str(headless))
    assert pretrained_pooler(headless) is False
    assert resolve_pooling("auto", load_config(headless), headless) == "mean"
    # Weights that cannot be read: no guess, the model's own head.
    (headless / "tf_model.h5").write_bytes(b"not an HDF5 file")
    with caplog.at_level("WARNING", logger="tfclf.pooling"):
        assert pretrained_pooler(headless) is None
    assert "could not read the pooler" in caplog.text
    assert resolve_pooling("auto", load_config(headless), headless) == "cls"
    # DistilBERT's first-token head has no pretrained pooler to judge: it stays ktrain's head.
    distil = tmp_path / "distil"
    helpers.tiny_encoder("distilbert").save_pretrained(str(distil))
    assert resolve_pooling("auto", load_config(distil), distil) == "cls"
