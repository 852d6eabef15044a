"""`Predictor`: a preprocessor and its trained TensorFlow model, for predicting, explaining, saving
and exporting.

What a predictor does with texts is `tfclf.predicting.BasePredictor`'s; this class adds the
TensorFlow forward pass, `save` (a folder `load_predictor` rebuilds from local files only; its
format is `tfclf.manifest`'s) and `export` (ONNX, OpenVINO, a raw-string SavedModel: `tfclf.export`).
"""

from __future__ import annotations

import os
from pathlib import Path

from tfclf._util import positive_number
from tfclf.keras_predictor import KerasPredictor
from tfclf.predicting import check_threshold
from tfclf.preprocess import Transformer


class Predictor(KerasPredictor):
    """Predicts, explains, saves and exports: a fitted `Transformer` plus its trained model.

    Args:
        model: the trained tf.keras model.
        preproc: the `Transformer` whose `preprocess_train` defined the labels.
        batch_size: documents per forward pass.
        threshold: multi-label decision threshold (one, or one per class).
        temperature: probabilities are softmax (sigmoid) of the logits divided by it; 1 is the
            model as trained, `calibrate` fits another (see `tfclf.calibration`).

    Example:
        >>> predictor = tfclf.get_predictor(learner.model, t)        # doctest: +SKIP
        >>> predictor.predict("The doctor prescribed antibiotics.")  # doctest: +SKIP
        'sci.med'
        >>> predictor.save("saved_predictors/news")                  # doctest: +SKIP
        >>> tfclf.load_predictor("saved_predictors/news").predict_proba(["..."])  # doctest: +SKIP
    """

    def __init__(self, model, preproc: Transformer, batch_size: int = 32, threshold=0.5, temperature: float = 1.0):
        if not isinstance(preproc, Transformer):
            raise TypeError(f"preproc must be the Transformer used for preprocessing, got {type(preproc).__name__}")
        super().__init__(model, preproc, batch_size=batch_size, threshold=threshold, temperature=temperature)

    def _attribution_model(self):
        """The model in float32 and its compiled gradient function, for `tfclf.attributions`
        (built on first use; a bfloat16 or float16 model is copied to float32 once)."""
        if getattr(self, "_attribution", None) is None:
            import tempfile

            from tfclf.attributions import _gradient_function
            from tfclf.precision import model_precision
            from tfclf.tracing import float32_copy

            model = self.model
            if model_precision(model) != "float32":
                with tempfile.TemporaryDirectory(prefix="tfclf-f32-") as scratch:
                    model = float32_copy(model, Path(scratch))
            self._attribution = (model, _gradient_function(model))
        return self._attribution

    def export(self, folder: str | os.PathLike, format: str = "onnx", **options) -> Path:
        """Writes this predictor for a production engine: ``"onnx"`` (ONNX Runtime, Triton,
        KServe), ``"openvino"`` (OpenVINO IR) or ``"savedmodel"`` (a TF SavedModel whose serving
        signature takes raw strings, for TF Serving). `tfclf.load_predictor` loads the folder back
        into a predictor with this one's interface, without TensorFlow or transformers (except the
        SavedModel, which needs TensorFlow alone). See `tfclf.export.export_predictor`.
        """
        from tfclf.export import export_predictor

        return export_predictor(self, folder, format=format, **options)

    # -- saving ----------------------------------------------------------------------------------
    def save(self, folder: str | os.PathLike) -> Path:
        """Writes the predictor to `folder` atomically (a temporary folder beside it, then a rename).

        An existing predictor at `folder` is replaced only once the new one is complete. Under
        MultiWorkerMirroredStrategy only the chief worker writes (the others hold the same model).
        """
        from tfclf.manifest import save_folder

        def write_files(tmp: Path) -> None:
            self.model.save_pretrained(str(tmp))
            self.preproc.get_tokenizer().save_pretrained(str(tmp))

        return save_folder(folder, self.manifest_content(), write_files)

    def manifest_content(self, export: dict | None = None) -> dict:
        """What this predictor's manifest says (`tfclf.manifest.build_manifest`), for `save` and
        `export` (`export`: the engine's entry)."""
        from tfclf.manifest import build_manifest
        from tfclf.pooling import pooling_of
        from tfclf.precision import model_precision

        config = self.model.config
        return build_manifest(
            model_name=self.preproc.saved_name(), model_type=config.model_type,
            architecture=type(self.model).__name__, precision=model_precision(self.model),
            reading=self.preproc.reading, labels=self.preproc.codec_.to_json(),
            threshold=check_threshold(self.threshold, len(self.get_classes())), batch_size=self.batch_size,
            temperature=positive_number(self.temperature, "temperature"),
            # what the model was built with, whatever the preprocessor asked
            pooling=pooling_of(config), export=export)


def load_saved(folder: Path, manifest: dict, batch_size: int | None = None, precision: str = "auto") -> Predictor:
    """The `Predictor` in a folder written by `Predictor.save` whose `manifest` was read and
    checked (`tfclf.loading.load_predictor` is the public way in)."""
    from tfclf.classifier import load_classifier
    from tfclf.manifest import predictor_fields
    from tfclf.models import load_tokenizer
    from tfclf.precision import resolve_precision

    model = load_classifier(folder, resolve_precision(precision))
    tokenizer = load_tokenizer(folder)
    preproc = Transformer.from_saved(folder, manifest, tokenizer, model.config)
    saved = predictor_fields(manifest)
    predictor = Predictor(model, preproc, batch_size=batch_size or saved["batch_size"], threshold=saved["threshold"],
                          temperature=saved["temperature"])
    predictor.manifest_ = manifest
    return predictor


def get_predictor(model, preproc, batch_size: int = 32):
    """A predictor for a trained model and its preprocessor (ktrain's ``get_predictor``): a
    `Predictor` for a `Transformer`, a `tfclf.classic_predictor.ClassicPredictor` for the
    standard mode's preprocessor (the classic models of ``text.text_classifier``).

    A multi-label or binary model whose thresholds were tuned (`Learner.tune_thresholds`) predicts with them,
    and a model calibrated by `Learner.calibrate` with its temperature.
    """
    from tfclf.classifier import temperature_of, thresholds_of
    from tfclf.standard import StandardPreprocessor

    tuned = thresholds_of(model)
    if tuned is not None and len(tuned) == 1:  # a binary model's positive-class threshold
        tuned = tuned[0]
    settings = dict(batch_size=batch_size, threshold=0.5 if tuned is None else tuned, temperature=temperature_of(model))
    if isinstance(preproc, StandardPreprocessor):
        from tfclf.classic_predictor import ClassicPredictor

        return ClassicPredictor(model, preproc, **settings)
    return Predictor(model, preproc, **settings)
