"""tfclf.models: resolving a model name or folder (folder, local cache, hub; offline answers that say
how to provide the model), the position limit of each architecture, and reading weights without
torch (TF h5, PyTorch safetensors, sharded, bare encoders, heads of another size)."""

from __future__ import annotations

import dataclasses
import json
import shutil
import socket
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import helpers

from tfclf import models, text
from tfclf.models import ModelNotFoundError, ModelSource, has_weights, max_positions, resolve_model

HUB_NAME = "tfclf-tests/no-such-model"


# --------------------------------------------------------------------------- folders


def test_a_model_folder_resolves_to_itself(tiny_distilbert_dir, tmp_path, monkeypatch):
    source = resolve_model(tiny_distilbert_dir)  # a Path (os.PathLike)
    assert isinstance(source, ModelSource)
    assert source == ModelSource(tiny_distilbert_dir.resolve(), "folder", str(tiny_distilbert_dir))
    # a str, with blanks around it, names the same folder
    assert resolve_model(f"  {tiny_distilbert_dir}  ").path == tiny_distilbert_dir.resolve()
    # a relative path and "~" are resolved to an absolute folder
    monkeypatch.chdir(tiny_distilbert_dir.parent)
    assert resolve_model(tiny_distilbert_dir.name).path == tiny_distilbert_dir.resolve()
    home = tmp_path / "home"
    shutil.copytree(tiny_distilbert_dir, home / "tiny")
    monkeypatch.setenv("HOME", str(home))
    mine = resolve_model("~/tiny")
    assert mine.path == (home / "tiny").resolve() and mine.path.is_absolute() and mine.name == "~/tiny"
    with pytest.raises(dataclasses.FrozenInstanceError):
        source.origin = "hub"


@pytest.mark.parametrize("weights", [models.TF_WEIGHTS, models.SAFETENSORS, models.SAFETENSORS_INDEX])
def test_any_weights_format_counts(tiny_distilbert_dir, tmp_path, weights):
    folder = helpers.copy_config_and_tokenizer(tiny_distilbert_dir, tmp_path / "m")
    assert not has_weights(folder)
    (folder / weights).write_bytes(b"")
    assert has_weights(folder)
    assert resolve_model(folder).origin == "folder"


def test_folder_without_weights(tiny_distilbert_dir, tmp_path):
    """One folder with everything but the weights (config and every tokenizer file) and one with
    only config.json and vocab.txt: neither resolves, directly or through a Transformer, whatever
    the Transformer's maxlen (the default is above this model's limit: the missing weights are
    what must be reported)."""
    full = helpers.copy_config_and_tokenizer(tiny_distilbert_dir, tmp_path / "no-weights")
    minimal = tmp_path / "minimal"
    minimal.mkdir()
    for name in ("config.json", "vocab.txt"):
        (minimal / name).write_bytes((tiny_distilbert_dir / name).read_bytes())
    for folder in (full, minimal):
        assert not has_weights(folder)
        with pytest.raises(ModelNotFoundError, match="has no weights"):
            resolve_model(folder)
        t = text.Transformer(str(folder), maxlen=16)
        with pytest.raises(ModelNotFoundError):
            t.preprocess_train(["good", "bad"], ["pos", "neg"], verbose=0)
        with pytest.raises(ModelNotFoundError, match="no weights"):
            text.Transformer(str(folder)).preprocess_train(["good", "bad"], ["p", "n"])
    # The message names the formats that are read.
    with pytest.raises(ModelNotFoundError, match=r"expected tf_model\.h5 or model\.safetensors"):
        resolve_model(minimal)
    # A lone pytorch_model.bin (a pickle) gets its own advice.
    (full / "pytorch_model.bin").write_bytes(b"\x80\x04not really")
    assert not has_weights(full)
    with pytest.raises(ModelNotFoundError, match="pickle that needs torch") as info:
        resolve_model(full)
    assert "model.safetensors" in str(info.value) and "tf_model.h5" in str(info.value)
    with pytest.raises(ModelNotFoundError, match="pickle that needs torch"):
        text.Transformer(str(full), maxlen=16).preprocess_train(["good", "bad"], ["pos", "neg"], verbose=0)


def test_folder_without_config(tmp_path):
    (tmp_path / "tf_model.h5").write_bytes(b"")
    with pytest.raises(ModelNotFoundError, match="no config.json"):
        resolve_model(tmp_path)


def test_missing_folder_path():
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        resolve_model("./no/such/model/folder")


@pytest.mark.parametrize("name", ["/no/such/folder", "~/no-such-tfclf-folder", "a/b/c", "../no-such-folder"])
def test_a_path_that_is_not_a_hub_name_is_not_looked_up(name, monkeypatch):
    # Paths (and names with two slashes, which no hub name has) fail at once: no cache, no hub.
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda *a, **k: pytest.fail("looked up the cache"))
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        resolve_model(name)


def test_a_file_is_not_a_model_folder(tmp_path):
    (tmp_path / "model.h5").write_bytes(b"")
    with pytest.raises(ModelNotFoundError):
        resolve_model(tmp_path / "model.h5")


def test_resolve_model_rejects_non_names():
    with pytest.raises(TypeError):
        resolve_model(None)
    with pytest.raises(TypeError):
        resolve_model("   ")
    with pytest.raises(TypeError, match="model_name"):
        resolve_model(42)


def test_model_not_found_is_a_file_not_found_error():
    assert issubclass(ModelNotFoundError, FileNotFoundError)


# --------------------------------------------------------------------------- names: cache, offline, hub


def _fake_cache(root: Path, name: str, files_from: Path) -> Path:
    """`files_from` cached for `name` in the Hugging Face layout (models--org--name/refs/main holds
    the commit, snapshots/<commit>/ the files)."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = root / ("models--" + name.replace("/", "--"))
    snapshot = repo / "snapshots" / commit
    shutil.copytree(files_from, snapshot)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    return snapshot


def test_a_cached_name_resolves_offline(tiny_distilbert_dir, tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    snapshot = _fake_cache(tmp_path / "hub", "tfclf-tests/cached-model", tiny_distilbert_dir)
    source = resolve_model("tfclf-tests/cached-model")
    assert source == ModelSource(snapshot, "cache", "tfclf-tests/cached-model")
    # A cached snapshot without weights does not count: offline, the name is then unresolvable.
    (snapshot / "tf_model.h5").unlink()
    with pytest.raises(ModelNotFoundError, match="offline mode is on"):
        resolve_model("tfclf-tests/cached-model")


def test_unresolvable_name_offline_says_how_to_provide_it():
    # conftest sets HF_HUB_OFFLINE=1 (and the socket guard would catch any connection).
    with pytest.raises(ModelNotFoundError) as info:
        resolve_model(HUB_NAME)
    msg = str(info.value)
    assert "offline mode is on" in msg
    assert "download it where there is internet" in msg
    assert f"huggingface-cli download {HUB_NAME} --local-dir DIR" in msg
    assert "pass DIR as the model name" in msg
    # Through the Transformer too (the first use resolves the name), whichever use comes first.
    with pytest.raises(ModelNotFoundError, match="--local-dir"):
        text.Transformer(HUB_NAME).get_tokenizer()
    with pytest.raises(ModelNotFoundError, match="download it where there is internet"):
        text.Transformer("no-such-org/no-such-model").preprocess_train(["good", "bad"], ["p", "n"])


@pytest.mark.parametrize("flag", ["HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "TFCLF_OFFLINE"])
def test_offline_flags(monkeypatch, flag):
    for f in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "TFCLF_OFFLINE"):
        monkeypatch.delenv(f, raising=False)
    assert not models.is_offline()
    for value in ("1", "true", "YES", " on "):
        monkeypatch.setenv(flag, value)
        assert models.is_offline()
    for value in ("0", "false", ""):
        monkeypatch.setenv(flag, value)
        assert not models.is_offline()


def test_offline_never_probes_the_hub(monkeypatch):
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: pytest.fail("probed the hub while offline"))
    assert models.hub_reachable() is False


def test_unreachable_hub_is_reported_within_the_timeout(monkeypatch):
    for f in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "TFCLF_OFFLINE"):
        monkeypatch.delenv(f, raising=False)
    calls = []

    def refuse(address, timeout=None, *args, **kwargs):
        calls.append((address, timeout))
        raise OSError("network is unreachable")

    monkeypatch.setattr(socket, "create_connection", refuse)
    with pytest.raises(ModelNotFoundError, match="the model hub is unreachable") as info:
        resolve_model(HUB_NAME, timeout=0.25)
    assert f"huggingface-cli download {HUB_NAME} --local-dir DIR" in str(info.value)
    assert len(calls) == 1 and calls[0][1] == 0.25  # one quick probe, with the caller's timeout


# --------------------------------------------------------------------------- position limits


@pytest.mark.parametrize(
    "config_class, positions, expected",
    [
        ("DistilBertConfig", 512, 512),
        ("BertConfig", 512, 512),
        ("AlbertConfig", 512, 512),
        # RoBERTa-style models offset positions by padding_idx + 1 (padding_idx 1): 514 -> 512
        ("RobertaConfig", 514, 512),
        ("XLMRobertaConfig", 514, 512),
        ("CamembertConfig", 514, 512),
        ("MPNetConfig", 514, 512),
        ("LongformerConfig", 4098, 4096),
    ],
)
def test_max_positions(config_class, positions, expected):
    from tfclf._compat import transformers

    config = getattr(transformers, config_class)(max_position_embeddings=positions)
    assert max_positions(config) == expected


def test_max_positions_of_the_tiny_architectures():
    from tfclf._compat import transformers

    # helpers' tiny RoBERTa and MPNet have 66 position embeddings for 64 tokens; a pad_token_id of
    # 0 (the tiny vocabulary's) still means an offset of 2, as RoBERTa's padding index is 1.
    assert max_positions(transformers.RobertaConfig(max_position_embeddings=66, pad_token_id=0)) == helpers.MAX_POSITIONS
    assert max_positions(transformers.MPNetConfig(max_position_embeddings=66)) == helpers.MAX_POSITIONS
    assert max_positions(helpers.tiny_distilbert_config()) == helpers.MAX_POSITIONS
    assert max_positions(helpers.tiny_bert_config()) == helpers.MAX_POSITIONS


def test_max_positions_without_a_limit():
    assert max_positions(SimpleNamespace(model_type="xlnet")) is None
    assert max_positions(SimpleNamespace(model_type="bert", max_position_embeddings=None)) is None


# --------------------------------------------------------------------------- weights without torch
# (through Transformer.get_classifier, which reads the weights with tfclf.models)


def test_safetensors_loads_the_same_model_as_h5(tiny_bert_dir, tiny_bert_safetensors_dir):
    # The same weights, as TF h5 and as PyTorch safetensors (converted in memory without torch):
    # the two classifiers must compute the same logits.
    assert not (tiny_bert_safetensors_dir / "tf_model.h5").exists()
    texts = ["good movie", "the plot was awful and boring", "love it"]
    logits = []
    for folder in (tiny_bert_dir, tiny_bert_safetensors_dir):
        t = text.Transformer(str(folder), maxlen=32)
        t.preprocess_train(["good", "bad"], ["neg", "pos"], verbose=0)  # 2 classes: the saved head fits
        logits.append(helpers.logits_of(t.get_classifier(), t, texts))
    assert np.abs(logits[0]).max() > 1e-3  # not a degenerate all-zero output
    np.testing.assert_allclose(logits[0], logits[1], rtol=1e-5, atol=1e-6)


def test_sharded_safetensors_load_like_one_file(tmp_path, tiny_bert_dir, tiny_bert_model):
    # Big hub checkpoints come as model.safetensors.index.json plus shards.
    from safetensors.numpy import save_file

    folder = helpers.copy_config_and_tokenizer(tiny_bert_dir, tmp_path / "sharded")
    state = helpers.pytorch_state_dict(tiny_bert_model)
    keys = sorted(state)
    shards = {"model-00001-of-00002.safetensors": keys[::2], "model-00002-of-00002.safetensors": keys[1::2]}
    weight_map = {}
    for name, shard_keys in shards.items():
        save_file({k: state[k] for k in shard_keys}, str(folder / name), metadata={"format": "pt"})
        weight_map.update({k: name for k in shard_keys})
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    texts = ["good movie", "awful"]
    logits = []
    for f in (tiny_bert_dir, folder):
        t = text.Transformer(str(f), maxlen=16)
        t.preprocess_train(["good", "bad"], ["neg", "pos"], verbose=0)
        logits.append(helpers.logits_of(t.get_classifier(), t, texts))
    np.testing.assert_allclose(logits[0], logits[1], rtol=1e-5, atol=1e-6)


def test_base_model_safetensors_loads_the_encoder(tmp_path, tiny_bert_dir, tiny_bert_model):
    # A hub checkpoint such as all-MiniLM-L6-v2 is a bare encoder: keys without the "bert." prefix
    # and no classifier head. The encoder must load; the head is new.
    folder = helpers.copy_config_and_tokenizer(tiny_bert_dir, tmp_path / "base")
    helpers.save_pytorch_safetensors(folder, helpers.pytorch_state_dict(tiny_bert_model, strip_prefix="bert."))
    t = text.Transformer(str(folder), maxlen=16)
    t.preprocess_train(["good", "bad", "meh"], ["pos", "neg", "meh"], verbose=0)
    model = t.get_classifier()
    for got, want in zip(model.bert.get_weights(), tiny_bert_model.bert.get_weights()):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("weights", ["h5", "safetensors"])
def test_checkpoint_with_a_head_of_another_size(weights, tiny_bert_dir, tiny_bert_safetensors_dir, tiny_bert_model):
    # The saved BERT has a 2-label head; 3 classes need a new head, and the encoder still loads
    # (this failed with "cannot reshape array of size 64 into shape (32,3)").
    folder = tiny_bert_dir if weights == "h5" else tiny_bert_safetensors_dir
    t = text.Transformer(str(folder), maxlen=16)
    t.preprocess_train(["good", "bad", "meh"], ["pos", "neg", "meh"], verbose=0)
    model = t.get_classifier()
    assert helpers.logits_of(model, t, ["good"]).shape == (1, 3)
    for got, want in zip(model.bert.get_weights(), tiny_bert_model.bert.get_weights()):
        np.testing.assert_array_equal(got, want)
