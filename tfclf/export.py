"""`Predictor.export`: a predictor for the engines production already runs.

Three formats, each a self-describing folder (`tfclf.manifest`, with an ``export`` entry) that
`tfclf.load_predictor` loads into a `tfclf.runtime.ExportedPredictor`:

- ``"onnx"``: ``model.onnx`` (opset 17, dynamic batch and sequence axes, inputs ``input_ids`` and
  ``attention_mask`` as int64, output ``logits``), for ONNX Runtime, Triton, KServe and clients
  in any language. Converted by tf2onnx.
- ``"openvino"``: ``openvino_model.xml`` + ``.bin`` (OpenVINO IR, float32 weights; OpenVINO runs
  it in bfloat16 on CPUs that have it).
- ``"savedmodel"``: a TF SavedModel in ``saved_model/`` whose ``serving_default`` signature takes
  raw strings (WordPiece tokenization inside the graph, tensorflow-text) and returns
  probabilities and labels, for TF Serving; see `tfclf.string_model`.

Every export is traced from a float32 copy of the model and checked before it is written: the
engine's logits must match TensorFlow's on probe texts.

The folder also holds the tokenizer (``tokenizer.json``); the logits are the model's raw scores,
so a client outside tfclf applies what the manifest says: divide by ``temperature``, softmax
(single-label) or sigmoid (multi-label), and ``threshold`` for multi-label decisions.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from tfclf.tracing import INPUTS, OUTPUT, erf_gelu, float32_copy, forward_function

FORMATS = ("onnx", "openvino", "savedmodel")
ONNX_OPSET = 17
# what the exported logits may differ from TensorFlow's float32 ones by (reordered float sums)
LOGITS_TOLERANCE = 2e-3
PROBE_TEXTS = (
    "A short text.",
    "",
    "The committee met on Tuesday to discuss the budget, and after a long debate it approved the "
    "proposal with two amendments concerning research funding and the new laboratory building. " * 4,
)


def check_format(format: str) -> str:
    if not isinstance(format, str) or format.lower() not in FORMATS:
        raise ValueError(f"unknown export format {format!r}: choose one of {', '.join(FORMATS)}")
    return format.lower()


def export_predictor(predictor, folder: str | os.PathLike, format: str = "onnx", verify: bool = True) -> Path:
    """Writes `predictor` (a `tfclf.Predictor`) to `folder` for `format`'s engine, atomically.

    Args:
        predictor: the predictor to export (its thresholds and temperature come along).
        folder: the exported predictor's folder (a file, or a folder that is not a predictor, is
            never replaced).
        format: "onnx", "openvino" or "savedmodel".
        verify: run the exported graph on probe texts and refuse to write it if its logits differ
            from TensorFlow's by more than `LOGITS_TOLERANCE`.

    Returns:
        The folder's resolved path.

    Raises:
        ValueError: an unknown format, or a predictor the format cannot carry (the message says
            which format can).
        tfclf.runtime.RuntimeMissingError: the converter is not installed (``tfclf[export]``).
    """
    from tfclf import manifest as M
    from tfclf.runtime import require_runtime

    fmt = check_format(format)
    if not isinstance(folder, (str, os.PathLike)) or not str(folder).strip():
        raise TypeError(f"folder must be a path, got {folder!r}")
    target = Path(folder).expanduser().resolve()
    M.check_target(target)
    tokenizer = predictor.preproc.get_tokenizer()
    if fmt == "savedmodel":
        from tfclf.string_model import check_supported

        check_supported(predictor, tokenizer)
    converter = {"onnx": "tf2onnx", "openvino": "openvino", "savedmodel": "tensorflow_text"}[fmt]
    _require_converter(converter)
    if fmt == "onnx":
        require_runtime("onnx")  # the export is verified in ONNX Runtime
    with tempfile.TemporaryDirectory(prefix="tfclf-export-") as scratch:
        model = float32_copy(predictor.model, Path(scratch))
        entry = {"format": fmt, "inputs": list(INPUTS), "output": OUTPUT, "precision": "float32",
                 "tokenizer": "tokenizer.json", "pad_token_id": int(tokenizer.pad_token_id or 0),
                 "converter": {converter: _version(converter)}}

        def write_files(tmp: Path) -> None:
            tokenizer.save_pretrained(str(tmp))
            if not (tmp / "tokenizer.json").is_file():
                raise ValueError("the tokenizer did not write tokenizer.json; an exported predictor needs a fast "
                                 "(Rust `tokenizers`) tokenizer")
            entry.update(WRITERS[fmt](model, predictor, tokenizer, tmp, Path(scratch)))
            if verify:
                _verify(model, predictor, tmp, entry)

        content = predictor.manifest_content(export=entry)
        return M.write_folder(target, content, write_files)


def _write_onnx(model, predictor, tokenizer, tmp: Path, scratch: Path) -> dict:
    import tf2onnx

    with erf_gelu(model):
        forward = forward_function(model)
        proto, _ = tf2onnx.convert.from_function(forward, input_signature=forward.input_signature,
                                                 opset=ONNX_OPSET)
    _name_graph_io(proto)
    path = tmp / "model.onnx"
    path.write_bytes(proto.SerializeToString())
    return {"file": path.name, "opset": ONNX_OPSET}


def _name_graph_io(proto) -> None:
    """Inputs and output named as the tokenizer and transformers name them (tf2onnx may add
    ``:0`` suffixes or name the output after the graph's last op)."""
    renames = {}
    for value in proto.graph.input:
        base = value.name.split(":")[0]
        if base in INPUTS and value.name != base:
            renames[value.name] = base
    outputs = list(proto.graph.output)
    if len(outputs) != 1:
        raise RuntimeError(f"the exported graph has {len(outputs)} outputs; expected one ({OUTPUT})")
    if outputs[0].name != OUTPUT:
        renames[outputs[0].name] = OUTPUT
    for value in [*proto.graph.input, *proto.graph.output]:
        value.name = renames.get(value.name, value.name)
    for node in proto.graph.node:
        node.input[:] = [renames.get(n, n) for n in node.input]
        node.output[:] = [renames.get(n, n) for n in node.output]
    names = [v.name for v in proto.graph.input]
    if sorted(names) != sorted(INPUTS):
        raise RuntimeError(f"the exported graph's inputs are {names}; expected {list(INPUTS)}")


def _save_serving_model(model, path: Path) -> None:
    from tfclf._compat import tf

    module = tf.Module()
    module.model = model
    forward = forward_function(model)
    module.forward = forward
    tf.saved_model.save(module, str(path), signatures={"serving_default": forward})


def _write_openvino(model, predictor, tokenizer, tmp: Path, scratch: Path) -> dict:
    import openvino as ov

    saved = scratch / "for_openvino"
    _save_serving_model(model, saved)
    converted = ov.convert_model(str(saved))
    for port in converted.inputs:
        base = next((n for n in port.get_names() if n.split(":")[0] in INPUTS), None)
        if base is None:
            raise RuntimeError(f"OpenVINO named an input {port.get_names()}; expected {list(INPUTS)}")
        port.get_tensor().set_names({base.split(":")[0]})
    if len(converted.outputs) != 1:
        raise RuntimeError(f"the OpenVINO model has {len(converted.outputs)} outputs; expected one ({OUTPUT})")
    converted.outputs[0].get_tensor().set_names({OUTPUT})
    xml = tmp / "openvino_model.xml"
    ov.save_model(converted, str(xml), compress_to_fp16=False)
    return {"file": xml.name, "weights": xml.with_suffix(".bin").name}


def _write_savedmodel(model, predictor, tokenizer, tmp: Path, scratch: Path) -> dict:
    from tfclf.string_model import save_string_model

    return save_string_model(model, predictor, tokenizer, tmp / "saved_model")


WRITERS = {"onnx": _write_onnx, "openvino": _write_openvino, "savedmodel": _write_savedmodel}


def _verify(model, predictor, tmp: Path, entry: dict) -> None:
    """The written engine's logits against TensorFlow's float32 ones on `PROBE_TEXTS`."""
    from tfclf.inference import LogitsFunction
    from tfclf.runtime import ENGINES

    data = predictor.preproc.dataset(list(PROBE_TEXTS))
    ids, mask = data.pad_batch(np.arange(len(data)))
    expected = LogitsFunction(model)(ids, mask)
    got = ENGINES[entry["format"]](tmp, entry, "float32")(ids.astype(np.int64), mask.astype(np.int64))
    diff = float(np.max(np.abs(np.asarray(got) - expected)))
    if not np.isfinite(diff) or diff > LOGITS_TOLERANCE:
        raise RuntimeError(f"the {entry['format']} export's logits differ from TensorFlow's by {diff:.3g} "
                           f"(tolerance {LOGITS_TOLERANCE}); nothing was written. Please report this with "
                           "`tfclf info` of the saved predictor")


def _require_converter(module: str) -> None:
    from tfclf.runtime import RuntimeMissingError

    try:
        __import__(module)
    except ImportError as err:
        raise RuntimeMissingError(f"exporting needs {module}: pip install \"tfclf[export]\"") from err


def _version(module: str) -> str:
    from importlib import metadata

    dist = {"tf2onnx": "tf2onnx", "openvino": "openvino", "tensorflow_text": "tensorflow-text"}[module]
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"
