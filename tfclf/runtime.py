"""Exported predictors in the engines production runs: ONNX Runtime, OpenVINO, or a TF SavedModel.

`ExportedPredictor` answers every call a `tfclf.Predictor` answers (predict, predict_proba,
explain, predict_file, calibrate, ...), reading texts the same way (`tfclf.encoding`, windows
included) with the `tokenizers` library, and computing the logits in the engine. Nothing here
imports TensorFlow or transformers: ONNX and OpenVINO exports run with ``numpy``, ``tokenizers``
and their runtime only. The SavedModel engine imports TensorFlow alone, never tfclf's training stack.
"""

from __future__ import annotations

import importlib
import threading
from pathlib import Path

import numpy as np

from tfclf.predicting import BasePredictor, LogitsFn

# format -> (module to import, extra that installs it, what to tell the user)
RUNTIMES = {
    "onnx": ("onnxruntime", "onnx", "ONNX Runtime"),
    "openvino": ("openvino", "openvino", "OpenVINO"),
    "savedmodel": ("tensorflow", "savedmodel", "TensorFlow and tensorflow-text"),
}
PRECISIONS = ("auto", "float32")


class RuntimeMissingError(ImportError):
    """The engine an exported predictor needs is not installed (the message names the extra)."""


def require_runtime(fmt: str):
    """The runtime module for `fmt`, or an error that says which extra installs it."""
    module, extra, name = RUNTIMES[fmt]
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise RuntimeMissingError(
            f"this predictor was exported for {name}, which is not installed: pip install \"tfclf[{extra}]\" "
            f"(or pip install {module} in an environment without tfclf's training stack)") from err


def require_tokenizers():
    try:
        from tokenizers import Tokenizer
    except ImportError as err:
        raise RuntimeMissingError("an exported predictor tokenizes with the `tokenizers` library: "
                                  "pip install tokenizers") from err
    return Tokenizer


class RuntimeTokenizer:
    """A `tokenizers.Tokenizer` (the exported ``tokenizer.json``) called the way
    `tfclf.encoding` calls a transformers fast tokenizer, so both read texts identically:
    ``tok(texts, add_special_tokens=..., truncation=..., max_length=...)["input_ids"]``."""

    def __init__(self, path: Path, pad_token_id: int):
        self._tok = require_tokenizers().from_file(str(path))
        self._tok.no_padding()
        self._tok.no_truncation()
        self.pad_token_id = int(pad_token_id)
        # truncation is tokenizer state: one caller at a time (the HTTP service predicts from threads)
        self._lock = threading.Lock()

    def __call__(self, texts, add_special_tokens: bool = True, truncation: bool = False,
                 max_length: int | None = None, **_ignored) -> dict:
        single = isinstance(texts, str)
        batch = [texts] if single else list(texts)
        with self._lock:
            if truncation and max_length:
                # transformers' truncation=True: longest_first, from the right, special tokens counted
                self._tok.enable_truncation(int(max_length))
            else:
                self._tok.no_truncation()
            encodings = self._tok.encode_batch(batch, add_special_tokens=add_special_tokens)
        ids = [e.ids for e in encodings]
        return {"input_ids": ids[0] if single else ids}


class _Locked:
    """One inference at a time through an engine's request object."""

    def __init__(self, run):
        self._run, self._lock = run, threading.Lock()

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        with self._lock:
            return self._run(input_ids, attention_mask)


def onnx_engine(folder: Path, export: dict, precision: str, threads: int | None = None) -> LogitsFn:
    ort = require_runtime("onnx")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        options.intra_op_num_threads = int(threads)
    session = ort.InferenceSession(str(folder / export["file"]), options, providers=["CPUExecutionProvider"])
    ids_name, mask_name = export["inputs"]
    output = export["output"]

    def run(input_ids, attention_mask):
        feed = {ids_name: input_ids.astype(np.int64, copy=False), mask_name: attention_mask.astype(np.int64, copy=False)}
        return session.run([output], feed)[0].astype(np.float32, copy=False)

    return run  # InferenceSession.run is thread-safe


def openvino_engine(folder: Path, export: dict, precision: str, threads: int | None = None) -> LogitsFn:
    ov = require_runtime("openvino")
    core = ov.Core()
    model = core.read_model(str(folder / export["file"]), str(folder / export["weights"]))
    # "auto": OpenVINO's own choice, bfloat16 on CPUs with AMX / AVX512-BF16, float32 elsewhere
    config = {} if precision == "auto" else {"INFERENCE_PRECISION_HINT": "f32"}
    if threads:
        config["INFERENCE_NUM_THREADS"] = int(threads)
    compiled = core.compile_model(model, "CPU", config)
    request = compiled.create_infer_request()
    ids_name, mask_name = export["inputs"]
    output = compiled.output(export["output"])

    def run(input_ids, attention_mask):
        result = request.infer({ids_name: input_ids.astype(np.int64, copy=False),
                                mask_name: attention_mask.astype(np.int64, copy=False)})
        return np.array(result[output], dtype=np.float32)

    return _Locked(run)


def savedmodel_engine(folder: Path, export: dict, precision: str, threads: int | None = None) -> LogitsFn:
    tf = require_runtime("savedmodel")  # float32 whatever `precision` says; threads are TensorFlow's, process-wide
    try:
        import tensorflow_text  # noqa: F401 - registers the in-graph tokenizer's ops, which loading needs
    except ImportError as err:
        raise RuntimeMissingError("this predictor was exported as a raw-string SavedModel, whose graph holds "
                                  "tensorflow-text's tokenizer: pip install \"tfclf[savedmodel]\"") from err
    loaded = tf.saved_model.load(str(folder / export["file"]))
    signature = loaded.signatures[export["logits_signature"]]
    ids_name, mask_name = export["inputs"]
    output = export["output"]

    def run(input_ids, attention_mask):
        out = signature(**{ids_name: tf.constant(input_ids, tf.int64), mask_name: tf.constant(attention_mask, tf.int64)})
        return out[output].numpy().astype(np.float32, copy=False)

    run.loaded = loaded  # keeps the SavedModel's resources alive with the function
    return run


ENGINES = {"onnx": onnx_engine, "openvino": openvino_engine, "savedmodel": savedmodel_engine}


class ExportedPredictor(BasePredictor):
    """A predictor whose logits come from an exported engine (see `tfclf.export`).

    Made by `tfclf.load_predictor` from a folder `Predictor.export` wrote; it predicts, explains,
    calibrates and streams files as `tfclf.Predictor` does, from the same manifest settings
    (reading and windows, label mode, thresholds, temperature).

    Attributes:
        format: "onnx", "openvino" or "savedmodel".
        folder: where it was loaded from.
        reading: how texts are read (`tfclf.reading.Reading`).
        tokenizer: the exported tokenizer.
        manifest_: the manifest it was loaded from.
    """

    def __init__(self, folder: Path, manifest: dict, engine: LogitsFn, tokenizer: RuntimeTokenizer,
                 batch_size: int | None = None, precision: str = "auto"):
        from tfclf.labels import LabelCodec
        from tfclf.manifest import export_fields, predictor_fields, preprocessor_fields

        self.folder = Path(folder)
        self.manifest_ = manifest
        self.format = export_fields(manifest)["format"]
        self.precision = precision
        fields = preprocessor_fields(manifest)
        self.reading = fields["reading"]
        self._codec = LabelCodec.from_json(fields["labels"])
        self.tokenizer = tokenizer
        self._engine = engine
        saved = predictor_fields(manifest)
        self._init_settings(batch_size or saved["batch_size"], saved["threshold"], saved["temperature"])

    def __repr__(self) -> str:
        return (f"ExportedPredictor({str(self.folder)!r}, format={self.format!r}, mode={self.mode!r}, "
                f"classes={self.get_classes()!r})")

    @property
    def codec_(self):
        return self._codec

    @property
    def maxlen(self) -> int:
        return int(self.reading.maxlen)

    def _dataset(self, texts, labels=None):
        from tfclf.encoding import documents_dataset
        from tfclf.texts import check_texts

        return documents_dataset(self.tokenizer, check_texts(texts), self.reading, self._codec, labels,
                                 pad_token_id=self.tokenizer.pad_token_id, batch_size=self.batch_size)

    def _logits_fn(self) -> LogitsFn:
        return self._engine

    def save(self, folder) -> Path:
        """Writes this exported predictor, with its current threshold and temperature (after
        `calibrate` or `tune_thresholds`), to `folder` (atomically; the engine files are copied).
        A raw-string SavedModel has them inside its graph, so it is re-exported from the saved
        predictor instead."""
        import shutil

        from tfclf import manifest as M
        from tfclf.predicting import check_threshold

        if self.format == "savedmodel":
            raise ValueError("a raw-string SavedModel holds its threshold and temperature in its graph: set them "
                             "on the saved (TensorFlow) predictor and export it again")
        target = Path(folder).expanduser().resolve()
        if target == self.folder:
            raise ValueError("save to another folder than the one this predictor was loaded from")
        content = {k: v for k, v in self.manifest_.items() if k != "files"}
        content["threshold"] = check_threshold(self.threshold, len(self.get_classes()))
        content["temperature"] = float(self.temperature)
        content["batch_size"] = self.batch_size

        def copy_files(tmp: Path) -> None:
            for name in self.manifest_["files"]:
                (tmp / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(self.folder / name, tmp / name)

        return M.write_folder(target, content, copy_files)

    def _embed_fn(self) -> LogitsFn:
        raise NotImplementedError("an exported predictor computes logits only; embed texts with the saved "
                                  "(TensorFlow) predictor it was exported from: tfclf.load_predictor(saved_folder)")


def runtime_versions(fmt: str) -> dict[str, str]:
    """The versions that matter when reporting a problem with an exported predictor, read
    without importing TensorFlow."""
    import platform
    from importlib import metadata

    from tfclf import __version__

    out = {"tfclf": __version__, "python": platform.python_version(), "numpy": np.__version__}
    for dist in ("tokenizers", {"onnx": "onnxruntime", "openvino": "openvino", "savedmodel": "tensorflow"}[fmt]):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


def load_exported(folder: Path, manifest: dict, batch_size: int | None = None,
                  precision: str = "auto", threads: int | None = None) -> ExportedPredictor:
    """The `ExportedPredictor` in `folder`, whose manifest was read and verified."""
    from tfclf.manifest import PredictorFormatError, export_fields

    export = export_fields(manifest)
    fmt = export.get("format")
    if fmt not in ENGINES:
        raise PredictorFormatError(f"{folder} was exported for {fmt!r}, which this tfclf cannot run "
                                   f"(it runs {', '.join(ENGINES)}); upgrade tfclf")
    missing = [k for k in ("file", "inputs", "output", "tokenizer", "pad_token_id") if k not in export]
    if missing:
        raise PredictorFormatError(f"{folder}/manifest.json's export entry lacks {', '.join(missing)}")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS} for an exported predictor (ONNX and SavedModel "
                         f"exports run in float32, OpenVINO in bfloat16 where the CPU has it), got {precision!r}")
    tokenizer = RuntimeTokenizer(folder / export["tokenizer"], export["pad_token_id"])
    engine = ENGINES[fmt](folder, export, precision, threads)
    return ExportedPredictor(folder, manifest, engine, tokenizer, batch_size=batch_size, precision=precision)
