"""Converts a Hugging Face model folder with PyTorch-format safetensors into one with `tf_model.h5`.

ktrain loads its model with transformers' `TFAutoModelForSequenceClassification.from_pretrained`,
which cannot read PyTorch-format safetensors without torch installed (and torch is not installed
anywhere here). This script builds the TF base model (`TFAutoModel`, e.g. TFBertModel) from the
folder's config, fills it from the safetensors arrays with transformers' own PyTorch-to-TF converter
(the same `load_pytorch_state_dict_in_tf2_model` tfclf uses), and saves it with `save_pretrained`,
next to copies of the config and tokenizer files. ktrain then adds a fresh classification head, as
it would for any hub checkpoint.

It needs only transformers, TensorFlow/tf-keras and safetensors (the ktrain venv has them; tfclf
need not be installed):

    benchmarks/.venv-ktrain/bin/python benchmarks/convert_to_tf.py SRC DST

The output is written to a temporary folder beside DST and renamed at the end, so a DST that exists
is complete.
"""

from __future__ import annotations

import os

# transformers' TF models are written for Keras 2 (tf-keras); TensorFlow reads this at import.
os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

WEIGHT_FILES = {"model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "tf_model.h5"}


def load_state(src: Path) -> dict:
    from safetensors.numpy import load_file

    if (src / "model.safetensors").is_file():
        return load_file(str(src / "model.safetensors"))
    index = json.loads((src / "model.safetensors.index.json").read_text())
    state: dict = {}
    for shard in sorted(set(index["weight_map"].values())):
        state.update(load_file(str(src / shard)))
    return state


def convert(src: Path, dst: Path) -> Path:
    import numpy as np
    from transformers import AutoConfig, TFAutoModel
    from transformers.modeling_tf_pytorch_utils import load_pytorch_state_dict_in_tf2_model

    src, dst = Path(src), Path(dst)
    if (dst / "tf_model.h5").is_file():
        return dst
    config = AutoConfig.from_pretrained(str(src), local_files_only=True)
    model = TFAutoModel.from_config(config)
    model(model.dummy_inputs, training=False)  # build the weights
    state = load_state(src)
    _, info = load_pytorch_state_dict_in_tf2_model(model, state, allow_missing_keys=True, output_loading_info=True)
    # Buffers such as position_ids are not weights; anything else unmatched means a broken conversion.
    missing = [k for k in info["missing_keys"] if "position_ids" not in k]
    if missing:
        raise RuntimeError(f"weights missing from {src}: {missing[:10]}")
    unexpected = [k for k in info["unexpected_keys"] if "position_ids" not in k]
    if unexpected:
        print(f"note: arrays in the checkpoint the TF base model does not use: {unexpected[:10]}", file=sys.stderr)

    # A spot check that the arrays really landed: the word embeddings match the checkpoint's.
    emb_key = next((k for k in state if k.endswith("embeddings.word_embeddings.weight")), None)
    if emb_key is not None:
        emb = next(w for w in model.weights if "word_embeddings" in w.name)
        if not np.allclose(emb.numpy(), state[emb_key]):
            raise RuntimeError("converted word embeddings differ from the checkpoint's")

    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=dst.name + ".", dir=dst.parent))
    try:
        for f in src.iterdir():
            if f.is_file() and f.name not in WEIGHT_FILES and not f.name.startswith("model-"):
                shutil.copyfile(f, tmp / f.name)
        # config.json is rewritten by save_pretrained (architectures: TFBertModel etc.).
        model.save_pretrained(str(tmp), safe_serialization=False)
        if not (tmp / "tf_model.h5").is_file():
            raise RuntimeError(f"save_pretrained wrote no tf_model.h5 in {tmp}")
        os.chmod(tmp, 0o755)
        tmp.rename(dst)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("src", help="model folder with model.safetensors (PyTorch format)")
    parser.add_argument("dst", help="folder to write (config, tokenizer files, tf_model.h5)")
    args = parser.parse_args()
    print(convert(Path(args.src), Path(args.dst)))


if __name__ == "__main__":
    main()
