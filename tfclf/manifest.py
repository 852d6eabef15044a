"""A saved predictor's manifest.json: the one writer and reader of its format.

A saved predictor is a folder in Hugging Face layout plus a manifest, and never a pickle::

    manifest.json            format name and version, library versions, class names, label mode,
                             maxlen, how texts are read, pooling, thresholds, model type, and the
                             sha256 of every other file
    config.json, tf_model.h5 the model (``save_pretrained``)
    tokenizer.json, ...      the tokenizer (``save_pretrained``)

An exported predictor (`tfclf.export`) has the same manifest plus an ``export`` entry (the
engine's format, its files, inputs and output) and holds the engine's files instead of the
Keras model: ``model.onnx``, ``openvino_model.xml`` + ``.bin``, or a ``saved_model/`` folder.

`write_folder` writes such a folder atomically; `read_manifest` checks one (format, version,
checksums, no pickles); `preprocessor_fields` and `predictor_fields` are what the rest of tfclf
reads from it, so no other module knows the manifest's keys.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tfclf._util import sha256_file
from tfclf.reading import Reading

FORMAT_NAME = "tfclf-predictor"
FORMAT_VERSION = 1  # what Predictor.save writes
EXPORT_FORMAT_VERSION = 2  # what Predictor.export writes: a tfclf that predates exports refuses it
CLASSIC_FORMAT_VERSION = 3  # a classic model's predictor (word ids): a tfclf without them refuses it
READABLE_VERSIONS = (FORMAT_VERSION, EXPORT_FORMAT_VERSION, CLASSIC_FORMAT_VERSION)
MANIFEST = "manifest.json"
_PICKLE_SUFFIXES = {".pkl", ".pickle", ".pck", ".joblib", ".bin", ".pt", ".pth", ".ckpt", ".preproc"}
_REQUIRED = ("files", "labels", "maxlen")


class PredictorFormatError(ValueError):
    """A folder is not a loadable tfclf predictor (missing, altered, unknown or unsafe files)."""


def build_manifest(*, model_name: str, model_type: str, architecture: str, precision: str, reading: Reading,
                   labels: dict, threshold: Any, batch_size: int, pooling: str, temperature: float = 1.0,
                   export: dict | None = None, preprocessing: dict | None = None) -> dict:
    """The manifest's content, less the checksums `write_folder` adds; `export` describes an
    exported engine's files (see `tfclf.export`), `preprocessing` a classic model's word-id
    preprocessor (``{"kind": "standard", "file": ...}``, see `tfclf.classic_predictor`)."""
    from tfclf._compat import versions

    version = (EXPORT_FORMAT_VERSION if export is not None else
               CLASSIC_FORMAT_VERSION if preprocessing is not None else FORMAT_VERSION)
    return {
        "format": FORMAT_NAME,
        "format_version": version,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "versions": versions(),
        "model_name": model_name,
        "model_type": model_type,
        "architecture": architecture,
        "precision": precision,  # informational: load_predictor picks its own
        "maxlen": int(reading.maxlen),
        "labels": labels,
        "threshold": float(threshold) if np.ndim(threshold) == 0 else [float(v) for v in threshold],
        "batch_size": batch_size,
        "temperature": float(temperature),  # probabilities = softmax(logits / temperature); 1 = as trained
        # how long texts are read (tfclf.reading); absent in older manifests = the defaults
        **{k: v for k, v in reading.to_json().items() if k != "maxlen"},
        "pooling": pooling,  # the model's config holds the same; this copy is for people reading it
        **({} if export is None else {"export": export}),
        **({} if preprocessing is None else {"preprocessing": preprocessing}),
    }


def save_folder(folder: Any, content: dict, write_files: Callable[[Path], None]) -> Path:
    """What every predictor's ``save`` does around its own files: checks `folder`, lets only the
    chief worker write (under MultiWorkerMirroredStrategy), and writes atomically (`write_folder`)."""
    from tfclf.distribute import is_chief

    if not isinstance(folder, (str, os.PathLike)) or not str(folder).strip():
        raise TypeError(f"folder must be a path, got {folder!r}")
    target = Path(folder).expanduser().resolve()
    check_target(target)
    if not is_chief():
        return target
    return write_folder(target, content, write_files)


def write_folder(target: Path, manifest: dict, write_files: Callable[[Path], None]) -> Path:
    """Writes a predictor folder atomically: `write_files(tmp)` fills a temporary folder beside
    `target`, the manifest (with every file's sha256) is added, then the folder is renamed into
    place. An existing predictor at `target` is replaced only once the new one is complete; a
    file or a non-empty folder that is not a predictor is never replaced.
    """
    check_target(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        tmp.mkdir()
        write_files(tmp)
        # relative POSIX paths: an exported SavedModel is a folder of files
        files = {p.relative_to(tmp).as_posix(): sha256_file(p) for p in sorted(tmp.rglob("*")) if p.is_file()}
        (tmp / MANIFEST).write_text(json.dumps({**manifest, "files": files}, indent=2, ensure_ascii=False) + "\n")
        _swap_into_place(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def check_target(target: Path) -> None:
    """Refuses a `target` that exists and is not a predictor (a file, or somebody's folder)."""
    if target.exists():
        if not target.is_dir():
            raise FileExistsError(f"{target} exists and is not a folder; choose another path")
        if any(target.iterdir()) and not (target / MANIFEST).is_file():
            raise FileExistsError(f"{target} is a non-empty folder that is not a tfclf predictor; choose another path")


def _swap_into_place(tmp: Path, target: Path) -> None:
    if target.exists():
        old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
        target.rename(old)
        try:
            tmp.rename(target)
        except BaseException:
            old.rename(target)
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(target)


def _looks_pickled(path: Path, weights: str | None = None) -> bool:
    """A pickle by its name or first bytes. `weights` is an OpenVINO export's weight file: a
    ``.bin`` like PyTorch's pickled ``pytorch_model.bin``, accepted by name only if its bytes
    are neither a pickle nor a zip archive (the container of torch's pickles)."""
    with open(path, "rb") as f:
        head = f.read(2)
    if head[:2] == b"PK" and path.suffix.lower() == ".bin":
        return True
    if path.suffix.lower() in _PICKLE_SUFFIXES and path.name != weights:
        return True
    return len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5  # pickle protocol 2-5 header


def _inside(folder: Path, name: str) -> Path | None:
    """`folder / name` when `name` is a relative path that stays inside `folder`, else None."""
    parts = name.split("/")
    if not name or name.startswith("/") or "\\" in name or any(p in ("", ".", "..") for p in parts):
        return None
    return folder.joinpath(*parts)


def read_manifest(folder: str | os.PathLike, verify: bool = True) -> dict:
    """Reads and checks a saved predictor's manifest; with `verify`, checks every file's sha256.

    Raises:
        FileNotFoundError: the folder or its manifest does not exist.
        PredictorFormatError: a pickle is present, the format is unknown, or a file is missing
            or does not match its checksum (the message names the file).
    """
    if not isinstance(folder, (str, os.PathLike)):
        raise TypeError(f"folder must be a path, got {type(folder).__name__}")
    folder = Path(folder).expanduser()
    if folder.is_file():
        raise FileNotFoundError(f"{folder} is a file; a saved predictor is a folder (from Predictor.save)")
    if not folder.is_dir():
        raise FileNotFoundError(f"no saved predictor at {folder}: the folder does not exist")
    path = folder / MANIFEST
    weights = _declared_weights(path)
    for p in sorted(folder.rglob("*")):
        if p.is_file() and _looks_pickled(p, weights if p.parent == folder else None):
            raise PredictorFormatError(
                f"{folder} contains {p.relative_to(folder).as_posix()}, which is or may be a pickle; tfclf "
                "never unpickles (it can run arbitrary code). A ktrain predictor must be re-saved with tfclf"
            )
    if not path.is_file():
        raise FileNotFoundError(f"{folder} is not a tfclf predictor: {MANIFEST} is missing")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise PredictorFormatError(f"{path} is not valid JSON: {err}") from err
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise PredictorFormatError(f"{path} is not a {FORMAT_NAME} manifest")
    if manifest.get("format_version") not in READABLE_VERSIONS:
        raise PredictorFormatError(
            f"{folder} has predictor format version {manifest.get('format_version')!r}; this tfclf "
            f"reads versions {', '.join(map(str, READABLE_VERSIONS))}. Upgrade tfclf, or re-save the predictor"
        )
    if manifest["format_version"] == EXPORT_FORMAT_VERSION and not isinstance(manifest.get("export"), dict):
        raise PredictorFormatError(f"{path} is an exported predictor's manifest without its 'export' entry")
    for key in _REQUIRED:
        if key not in manifest:
            raise PredictorFormatError(f"{path} has no {key!r} entry")
    if verify:
        if not isinstance(manifest["files"], dict):
            raise PredictorFormatError(f"{path}: 'files' must map file names to sha256 digests")
        for name, digest in manifest["files"].items():
            f = _inside(folder, name) if isinstance(name, str) else None
            if f is None:
                raise PredictorFormatError(f"{path} names a file outside the folder: {name!r}")
            if not f.is_file():
                raise PredictorFormatError(f"{folder} is incomplete: {name} is missing")
            if sha256_file(f) != digest:
                raise PredictorFormatError(f"{folder}/{name} does not match its checksum (truncated or altered)")
    return manifest


def _declared_weights(path: Path) -> str | None:
    """The OpenVINO weight file an exported manifest names (read before the checks, to let that
    one ``.bin`` through the pickle screen; its checksum is still verified)."""
    try:
        export = json.loads(path.read_text(encoding="utf-8")).get("export")
    except (OSError, ValueError, AttributeError):
        return None
    if isinstance(export, dict) and export.get("format") == "openvino" and isinstance(export.get("weights"), str):
        return export["weights"]
    return None


def preprocessing_fields(manifest: dict) -> dict | None:
    """A classic model's preprocessor entry (``{"kind", "file"}``), None for a transformer's."""
    entry = manifest.get("preprocessing")
    if manifest.get("format_version") == CLASSIC_FORMAT_VERSION and not isinstance(entry, dict):
        raise PredictorFormatError("a classic model's manifest has no 'preprocessing' entry")
    return entry if isinstance(entry, dict) else None


def export_fields(manifest: dict) -> dict | None:
    """An exported predictor's engine entry (format, files, inputs, output), None for a saved one."""
    export = manifest.get("export")
    return export if isinstance(export, dict) else None


def preprocessor_fields(manifest: dict) -> dict:
    """What rebuilds the predictor's `Transformer`: model name, batch size, `Reading`, labels."""
    return {
        "model_name": manifest.get("model_name"),
        "batch_size": manifest.get("batch_size"),
        "reading": Reading.from_json(manifest),
        "labels": manifest["labels"],
    }


def predictor_fields(manifest: dict) -> dict:
    """The `Predictor`'s own settings: batch size, decision threshold and temperature (1 in
    manifests written before calibration existed)."""
    return {"batch_size": manifest.get("batch_size") or 32, "threshold": manifest.get("threshold", 0.5),
            "temperature": float(manifest.get("temperature", 1.0))}


def describe(manifest: dict, folder: str | os.PathLike) -> str:
    """The manifest for people (`tfclf info`): format, model, reading, labels, versions, files."""
    labels, reading = manifest["labels"], Reading.from_json(manifest)
    how = "head" if reading.plain else (f"up to {reading.max_windows} windows ({reading.aggregate})"
                                        if reading.whole_documents else reading.truncation)
    export = export_fields(manifest)
    engine = (f"exported for {export.get('format')} ({export.get('precision', 'float32')} weights)"
              if export else "saved (TensorFlow / Keras)")
    lines = [
        f"predictor: {folder} (format {manifest['format']} v{manifest['format_version']}, "
        f"created {manifest.get('created', '?')})",
        f"engine: {engine}",
        f"model: {manifest.get('model_name')} ({manifest.get('architecture')}, type {manifest.get('model_type')}), "
        f"maxlen {manifest['maxlen']}, reading {how}, pooling {manifest.get('pooling', 'cls')}",
        f"labels: {labels['mode']}, {len(labels['classes'])} classes: {', '.join(labels['classes'])}"
        + (f"; temperature {manifest['temperature']:.4g}" if manifest.get("temperature", 1.0) != 1.0 else ""),
        "versions: " + ", ".join(f"{k} {v}" for k, v in manifest.get("versions", {}).items()),
        "files (sha256 verified):",
        *(f"  {digest}  {name}" for name, digest in manifest["files"].items()),
    ]
    return "\n".join(lines)
