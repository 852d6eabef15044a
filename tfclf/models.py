"""Resolving a model name or folder, and reading its weights without torch.

A model is resolved, in order, from: a local folder in Hugging Face layout; the local Hugging Face
cache; the model hub (only when online, decided within a few seconds so nothing hangs). Weights
are read from TensorFlow's ``tf_model.h5`` or from PyTorch-format ``model.safetensors``; the
latter is converted in memory, so torch is never needed.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

TF_WEIGHTS = "tf_model.h5"
SAFETENSORS = "model.safetensors"
SAFETENSORS_INDEX = "model.safetensors.index.json"
TORCH_BIN = "pytorch_model.bin"
# The files sentence-transformers saves beside a checkpoint's weights that name its pooling (a few
# hundred bytes): downloaded with the weights so that pooling="auto" can follow them.
ST_MODULES = "modules.json"
ST_POOLING_PATTERNS = [ST_MODULES, "*Pooling/config.json"]
TOKENIZER_PATTERNS = [
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "spiece.model",
    "sentencepiece.bpe.model",
    "*.model",
]


class ModelNotFoundError(FileNotFoundError):
    """The model name or folder could not be resolved to local files."""


@dataclass(frozen=True)
class ModelSource:
    """Where a model's files are: a folder, and how it was found (for narration)."""

    path: Path
    origin: str  # "folder", "cache" or "hub"
    name: str


def is_offline() -> bool:
    """True when the user or the environment asked for no network access."""
    flags = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "TFCLF_OFFLINE")
    return any(os.environ.get(f, "").strip().lower() in ("1", "true", "yes", "on") for f in flags)


def hub_reachable(timeout: float = 3.0) -> bool:
    """A TCP connect to the hub's endpoint: answers within `timeout` seconds instead of hanging."""
    if is_offline():
        return False
    from huggingface_hub import constants

    url = urlparse(constants.ENDPOINT)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


def has_weights(folder: Path) -> bool:
    return any((folder / f).is_file() for f in (TF_WEIGHTS, SAFETENSORS, SAFETENSORS_INDEX))


def _not_found(name: str, why: str) -> ModelNotFoundError:
    return ModelNotFoundError(
        f"cannot load model {name!r}: {why}. To use it offline, download it where there is internet "
        f"(`huggingface-cli download {name} --local-dir DIR`) and pass DIR as the model name: a folder "
        f"with config.json, the tokenizer files, and {TF_WEIGHTS} or {SAFETENSORS}"
    )


def resolve_model(name_or_path: str | os.PathLike, *, timeout: float = 3.0) -> ModelSource:
    """Finds a model's files locally, downloading them only when the hub is reachable.

    Args:
        name_or_path: a model-hub name (``"distilbert-base-uncased"``) or a local folder.
        timeout: seconds to wait for the hub before deciding it is unreachable.

    Returns:
        A `ModelSource` whose ``path`` holds config.json, tokenizer files and weights.

    Raises:
        ModelNotFoundError: the folder has no weights, or the name is neither cached nor
            downloadable; the message says how to provide the model locally.
    """
    if isinstance(name_or_path, os.PathLike):
        name_or_path = os.fspath(name_or_path)
    if not isinstance(name_or_path, str) or not name_or_path.strip():
        raise TypeError(f"model_name must be a model-hub name or a folder path, got {name_or_path!r}")
    name = name_or_path.strip()
    folder = Path(name).expanduser()
    if folder.is_dir():
        if not (folder / "config.json").is_file():
            raise ModelNotFoundError(f"model folder {folder} has no config.json (Hugging Face layout expected)")
        if not has_weights(folder):
            if (folder / TORCH_BIN).is_file():
                raise ModelNotFoundError(
                    f"model folder {folder} only has {TORCH_BIN}, a pickle that needs torch; convert it to "
                    f"{SAFETENSORS} (e.g. with the `safetensors` convert script) or {TF_WEIGHTS}"
                )
            raise ModelNotFoundError(
                f"model folder {folder} has no weights: expected {TF_WEIGHTS} or {SAFETENSORS}"
            )
        return ModelSource(folder.resolve(), "folder", name)
    if folder.exists() or name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise ModelNotFoundError(f"model folder {name!r} does not exist")

    from huggingface_hub import snapshot_download

    try:
        cached = Path(snapshot_download(name, local_files_only=True))
        if (cached / "config.json").is_file() and has_weights(cached):
            return ModelSource(cached, "cache", name)
    except Exception:  # noqa: BLE001 - any cache miss means "not cached"; the hub is next
        pass
    if is_offline():
        raise _not_found(name, "it is not in the local Hugging Face cache and offline mode is on")
    if not hub_reachable(timeout):
        raise _not_found(name, "it is not in the local Hugging Face cache and the model hub is unreachable")
    return ModelSource(_download(name), "hub", name)


def _download(name: str) -> Path:
    from huggingface_hub import HfApi, snapshot_download

    try:
        files = set(HfApi().list_repo_files(name))
    except Exception as err:  # noqa: BLE001 - hub errors come in many types; one message for all
        raise _not_found(name, f"the model hub does not list it ({type(err).__name__})") from err
    if TF_WEIGHTS in files:
        weights = [TF_WEIGHTS]
    elif SAFETENSORS in files:
        weights = [SAFETENSORS]
    elif SAFETENSORS_INDEX in files:
        weights = [SAFETENSORS_INDEX, "model-*.safetensors"]
    else:
        raise _not_found(name, f"the hub repository has neither {TF_WEIGHTS} nor {SAFETENSORS}")
    return Path(snapshot_download(name, allow_patterns=TOKENIZER_PATTERNS + ST_POOLING_PATTERNS + weights))


def _safetensors_format(path: Path) -> str:
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as f:
        return (f.metadata() or {}).get("format", "pt")


def _load_torch_state_dict(folder: Path) -> dict:
    from safetensors.numpy import load_file

    if (folder / SAFETENSORS).is_file():
        return load_file(str(folder / SAFETENSORS))
    index = json.loads((folder / SAFETENSORS_INDEX).read_text())
    state: dict = {}
    for shard in sorted(set(index["weight_map"].values())):
        state.update(load_file(str(folder / shard)))
    return state


def load_pretrained(model_class, folder: Path, config):
    """A `model_class` model for `config` with `folder`'s weights (its classification head is
    kept only where its shape fits `config`; otherwise the head starts fresh).

    Call it under the precision policy the model should compute in (`tfclf.classifier` does).
    """
    use_tf_loader = (folder / TF_WEIGHTS).is_file() or (
        (folder / SAFETENSORS).is_file() and _safetensors_format(folder / SAFETENSORS) == "tf"
    )
    # ignore_mismatched_sizes: a checkpoint that already has a classification head for another
    # number of labels (e.g. a sentiment model reused for 4 topics) gets a fresh head instead of
    # failing with a reshape error; the encoder weights still load.
    if use_tf_loader:
        return model_class.from_pretrained(str(folder), config=config, local_files_only=True,
                                           ignore_mismatched_sizes=True)
    # transformers' TF loader cannot read PyTorch safetensors without torch; its own converter
    # can, given the state dict as NumPy arrays.
    from transformers.modeling_tf_pytorch_utils import load_pytorch_state_dict_in_tf2_model

    model = model_class(config)
    model(model.dummy_inputs, training=False)
    state = _drop_mismatched_head(model, _load_torch_state_dict(folder))
    load_pytorch_state_dict_in_tf2_model(model, state, allow_missing_keys=True)
    return model


def _drop_mismatched_head(model, state: dict) -> dict:
    """`state` without the arrays whose shape differs from the model's weight of the same name.

    A checkpoint with a classification head for another number of labels keeps its encoder and
    gets a fresh head (transformers' own ``ignore_mismatched_sizes`` only catches TensorFlow
    errors, while NumPy arrays fail with a reshape ValueError).
    """
    from transformers.modeling_tf_pytorch_utils import convert_tf_weight_name_to_pt_weight_name

    prefix = f"{model.base_model_prefix}."
    shapes = {}
    for w in model.weights:
        name, _ = convert_tf_weight_name_to_pt_weight_name(w.name, tf_weight_shape=w.shape)
        shapes[name] = sorted(int(d) for d in w.shape)
    kept = {}
    for key, array in state.items():
        expected = shapes.get(key, shapes.get(prefix + key))
        if expected is not None and sorted(array.shape) != expected:
            continue
        kept[key] = array
    return kept


def max_positions(config) -> int | None:
    """The longest input (in tokens) the model's position embeddings allow, if it has a limit."""
    n = getattr(config, "max_position_embeddings", None)
    if n is None:
        return None
    # RoBERTa-style models offset positions by padding_idx + 1 (MPNet's padding_idx is always 1).
    if getattr(config, "model_type", "") in ("roberta", "xlm-roberta", "camembert", "longformer", "mpnet"):
        n -= (getattr(config, "pad_token_id", 1) or 1) + 1
    return int(n)


def load_config(folder: Path):
    """The transformers configuration in a model folder (local files only)."""
    from tfclf._compat import transformers

    return transformers.AutoConfig.from_pretrained(str(folder), local_files_only=True)


def is_config(value) -> bool:
    """Whether `value` is a transformers model configuration (a model to train from scratch)."""
    if isinstance(value, (str, os.PathLike)) or value is None:
        return False
    from tfclf._compat import transformers

    return isinstance(value, transformers.PretrainedConfig)


def config_copy(config):
    """A copy, so that setting the labels and vocabulary size never changes the user's object."""
    return type(config).from_dict(config.to_dict())


def load_tokenizer(path: Path):
    """A fast tokenizer from a folder with tokenizer files, a ``tokenizer.json``, or a WordPiece
    ``vocab.txt`` (one token per line, BERT's)."""
    from tfclf._compat import transformers

    if path.is_dir():
        return transformers.AutoTokenizer.from_pretrained(str(path), use_fast=True, local_files_only=True)
    if path.name.endswith(".json"):
        return transformers.PreTrainedTokenizerFast(tokenizer_file=str(path))
    return transformers.BertTokenizerFast(vocab_file=str(path))
