"""Shared fixtures: the network guard, the ../shared assets, and tiny models built from configs."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

os.environ["TF_USE_LEGACY_KERAS"] = "1"
# The library must never need the hub in tests: offline mode makes transformers and
# huggingface_hub answer from local files only, and the socket guard below catches the rest.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("TFCLF_SHARED", ROOT.parent / "shared"))
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


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
