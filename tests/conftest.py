"""Shared fixtures: the network guard, the ../shared assets, and tiny models built from configs."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from helpers import ARCHITECTURES, IN_CI

os.environ["TF_USE_LEGACY_KERAS"] = "1"
# The library must never need the hub in tests: offline mode makes transformers and
# huggingface_hub answer from local files only, and the socket guard below catches the rest.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Tests compare probabilities across save / reload / resume at tight tolerances, so they run in
# float32 unless a test asks for a policy itself (test_precision.py covers bfloat16 and float16).
os.environ["TFCLF_PRECISION"] = "float32"
# Plots are built in tests, never shown: a non-interactive backend never opens a window or blocks.
os.environ["MPLBACKEND"] = "Agg"

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("TFCLF_SHARED", ROOT.parent / "shared"))


class NetworkAccessInTest(RuntimeError):
    """Raised when code under test opens a connection off the loopback interface."""


_real_connect = socket.socket.connect
_real_create_connection = socket.create_connection


def _is_loopback(address) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return True
    host = address[0] if isinstance(address, tuple) else address
    return host in ("localhost", "::1") or str(host).startswith("127.")


def _guarded_connect(self, address):
    if not _is_loopback(address):
        raise NetworkAccessInTest(f"a test tried to open a network connection to {address!r}")
    return _real_connect(self, address)


def _guarded_create_connection(address, *args, **kwargs):
    if not _is_loopback(address):
        raise NetworkAccessInTest(f"a test tried to open a network connection to {address!r}")
    return _real_create_connection(address, *args, **kwargs)


@pytest.fixture(autouse=True, scope="session")
def no_network():
    """Fails loudly on any attempted download instead of letting a test depend on the internet."""
    socket.socket.connect = _guarded_connect
    socket.create_connection = _guarded_create_connection
    yield
    socket.socket.connect = _real_connect
    socket.create_connection = _real_create_connection


def _shared_asset(relative: str) -> Path:
    path = SHARED / relative
    if not path.exists():
        message = f"shared asset {path} is missing (set TFCLF_SHARED to the folder holding it)"
        if IN_CI:
            pytest.fail(message)  # CI always has ../shared: a missing asset is a broken run
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def newsgroups_archive() -> Path:
    return _shared_asset("data/20news-bydate.tar.gz")


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    return _shared_asset("models/all-MiniLM-L6-v2")


# --------------------------------------------------------------------------- tiny models (fast tests)
# Built from configs in seconds; never the pretrained model. See tests/helpers.py.


@pytest.fixture(scope="session")
def tiny_distilbert_dir(tmp_path_factory) -> Path:
    """A 2-layer DistilBERT encoder (dim 32) saved as tf_model.h5, with a fast tokenizer."""
    import helpers

    return helpers.save_tiny_distilbert(tmp_path_factory.mktemp("tiny-distilbert"))


@pytest.fixture(scope="module", params=ARCHITECTURES)
def tiny_encoder_dir(request, tmp_path_factory) -> tuple[str, Path]:
    """(kind, folder) for each of the four architectures (`helpers.ARCHITECTURES`): a 2-layer
    encoder saved as tf_model.h5 with a WordPiece tokenizer."""
    import helpers

    return request.param, helpers.save_tiny_encoder(request.param, tmp_path_factory.mktemp(request.param))


@pytest.fixture(scope="session")
def tiny_bert_model():
    """A 2-layer BERT sequence classifier (hidden 32, 2 labels) in memory, head included."""
    import helpers

    return helpers.build_tiny_bert_classifier(seed=3)


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory, tiny_bert_model) -> Path:
    """`tiny_bert_model` saved as tf_model.h5, with a fast tokenizer."""
    import helpers

    return helpers.save_tiny_bert(tmp_path_factory.mktemp("tiny-bert-h5"), tiny_bert_model)


@pytest.fixture(scope="session")
def tiny_bert_safetensors_dir(tmp_path_factory, tiny_bert_dir, tiny_bert_model) -> Path:
    """The same BERT as PyTorch-format model.safetensors (written without torch), no tf_model.h5."""
    import helpers

    folder = helpers.copy_config_and_tokenizer(tiny_bert_dir, tmp_path_factory.mktemp("tiny-bert-st"))
    helpers.save_pytorch_safetensors(folder, helpers.pytorch_state_dict(tiny_bert_model))
    return folder


@pytest.fixture(scope="session")
def toy_data() -> dict:
    """Sentiment-word toy data: {"train": (texts, labels), "val": (texts, labels)}."""
    import helpers

    return {"train": helpers.toy_sentiment(256, seed=1), "val": helpers.toy_sentiment(64, seed=2)}


@pytest.fixture(scope="session")
def trained(tiny_distilbert_dir, toy_data):
    """A tiny DistilBERT trained on the toy data with fit_onecycle; shared, so tests must not train it.

    Accuracy before training is measured too, so that the accuracy test can show the model
    really learned (an untrained model is at chance).
    """
    import types

    import helpers

    import tfclf
    from tfclf import text

    tfclf.set_seed(0)
    t = text.Transformer(str(tiny_distilbert_dir), maxlen=32)
    trn = t.preprocess_train(*toy_data["train"], verbose=0)
    val = t.preprocess_test(*toy_data["val"], verbose=0)
    learner = tfclf.get_learner(t.get_classifier(), trn, val, batch_size=16, seed=0)
    acc_before = float((learner.predict().argmax(1) == val.targets).mean())
    learner.fit_onecycle(helpers.ONECYCLE_LR, helpers.ONECYCLE_EPOCHS, verbose=0)
    return types.SimpleNamespace(t=t, trn=trn, val=val, learner=learner, acc_before=acc_before,
                                 lr=helpers.ONECYCLE_LR, epochs=helpers.ONECYCLE_EPOCHS)
