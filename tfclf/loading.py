"""`load_predictor`: one way in for every predictor folder, saved or exported.

The manifest says what the folder holds: a predictor written by `Predictor.save` (loaded into
TensorFlow) or one written by `Predictor.export` (loaded into its runtime, ONNX Runtime or
OpenVINO, with the `tokenizers` library, and neither TensorFlow nor transformers imported).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def load_predictor(folder: str | os.PathLike, batch_size: int | None = None, custom_objects: Any = None,
                   precision: str = "auto", threads: int | None = None):
    """Reloads a predictor saved by `Predictor.save` or exported by `Predictor.export`, from
    local files only (no network).

    Args:
        folder: the predictor's folder.
        batch_size: override the saved batch size.
        custom_objects: accepted for ktrain compatibility; a tfclf predictor needs none.
        precision: "auto" or "float32". A saved predictor: the dtype policy to predict in (see
            `tfclf.precision`): "auto" is bfloat16 on CPUs with AMX / AVX512-BF16 and float16 on
            NVIDIA GPUs, whatever the model was trained in (the saved weights are float32). An
            OpenVINO export: "auto" lets OpenVINO run bfloat16 where the CPU has it. ONNX is
            always float32. "float32" gives bit-for-bit repeatable probabilities across machines.
        threads: CPU threads an exported predictor's engine may use (default: the engine's
            choice, usually every core). TensorFlow's threads are set process-wide instead
            (``tf.config.threading``), so a saved predictor ignores this.

    Returns:
        A `tfclf.Predictor` for a saved predictor, a `tfclf.classic_predictor.ClassicPredictor` for
        a classic model's (nbsvm, fasttext, ...), a `tfclf.runtime.ExportedPredictor` for an
        exported one; all predict, explain and stream files the same way.

    Example:
        >>> p = tfclf.load_predictor("saved_predictors/news")  # doctest: +SKIP
        >>> p.predict(["A new GPU renders the scene faster."])  # doctest: +SKIP
    """
    from tfclf.manifest import export_fields, preprocessing_fields, read_manifest

    manifest = read_manifest(folder)
    folder = Path(folder).expanduser().resolve()
    if export_fields(manifest) is not None:
        from tfclf.runtime import load_exported

        return load_exported(folder, manifest, batch_size=batch_size, precision=precision, threads=threads)
    if preprocessing_fields(manifest) is not None:
        from tfclf.classic_predictor import load_saved as load_classic

        return load_classic(folder, manifest, batch_size=batch_size)
    from tfclf.predictor import load_saved

    return load_saved(folder, manifest, batch_size=batch_size, precision=precision)
