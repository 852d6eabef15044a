"""`ClassicPredictor`: a classic model (`tfclf.classic_models`) and its word-id preprocessor
(`tfclf.standard`), predicting, explaining, calibrating and saving as `tfclf.Predictor` does.

A saved classic predictor is a folder without pickles: config.json + tf_model.h5 (the model),
vocabulary.json (words, n-grams and labels) and the manifest (`tfclf.manifest`, format version 3,
with a ``preprocessing`` entry). `tfclf.load_predictor` reads it back; ``tfclf serve`` and the
CLI serve it like any predictor.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from tfclf._util import positive_number
from tfclf.keras_predictor import KerasPredictor
from tfclf.predicting import check_threshold
from tfclf.standard import VOCABULARY_FILE, StandardPreprocessor


class ClassicPredictor(KerasPredictor):
    """Predicts with a classic model; made by ``tfclf.get_predictor(model, preproc)`` when
    `preproc` is the standard mode's preprocessor.

    Example:
        >>> predictor = tfclf.get_predictor(learner.model, preproc)   # doctest: +SKIP
        >>> predictor.predict(["The doctor prescribed antibiotics."])  # doctest: +SKIP
        ['sci.med']
    """

    def __init__(self, model, preproc: StandardPreprocessor, batch_size: int = 32, threshold=0.5,
                 temperature: float = 1.0):
        from tfclf.classic_models import is_classic

        if not isinstance(preproc, StandardPreprocessor):
            raise TypeError(f"preproc must be the standard preprocessor, got {type(preproc).__name__}")
        if not is_classic(model):
            raise TypeError("model must be a classic model from text.text_classifier (nbsvm, logreg, ...)")
        if model.config.num_labels != preproc._codec().num_outputs:
            raise ValueError(f"the model has {model.config.num_labels} outputs but the preprocessor's labels need "
                             f"{preproc._codec().num_outputs}: pass the preproc the model was trained with")
        super().__init__(model, preproc, batch_size=batch_size, threshold=threshold, temperature=temperature)

    def export(self, folder, format: str = "onnx", **options):
        raise ValueError("export is for transformer predictors; a classic model's predictor needs no training "
                         "stack beyond TensorFlow: save() it and serve it with `tfclf serve`")

    def save(self, folder: str | os.PathLike) -> Path:
        """Writes the predictor to `folder` atomically (see `tfclf.Predictor.save`)."""
        from tfclf.manifest import save_folder

        def write_files(tmp: Path) -> None:
            self.model.save_pretrained(tmp)
            (tmp / VOCABULARY_FILE).write_text(json.dumps(self.preproc.to_json(), ensure_ascii=False))

        return save_folder(folder, self.manifest_content(), write_files)

    def manifest_content(self) -> dict:
        from tfclf.manifest import build_manifest
        from tfclf.reading import Reading

        config = self.model.config
        return build_manifest(
            model_name=f"{config.model_type} over word ids", model_type=config.model_type,
            architecture="ClassicClassifier", precision="float32", reading=Reading(maxlen=self.preproc.maxlen),
            labels=self.codec_.to_json(), threshold=check_threshold(self.threshold, len(self.get_classes())),
            batch_size=self.batch_size, pooling="none", temperature=positive_number(self.temperature, "temperature"),
            preprocessing={"kind": "standard", "file": VOCABULARY_FILE, "ngram_range": self.preproc.ngram_range,
                           "max_features": self.preproc.max_features})


def load_saved(folder: Path, manifest: dict, batch_size: int | None = None) -> ClassicPredictor:
    """The `ClassicPredictor` in a folder `ClassicPredictor.save` wrote (manifest read and checked)."""
    from tfclf.classic_models import load_classic
    from tfclf.manifest import PredictorFormatError, predictor_fields, preprocessing_fields

    entry = preprocessing_fields(manifest)
    if entry.get("kind") != "standard":
        raise PredictorFormatError(f"{folder}: unknown preprocessing {entry.get('kind')!r}; upgrade tfclf")
    data = json.loads((Path(folder) / entry.get("file", VOCABULARY_FILE)).read_text(encoding="utf-8"))
    preproc = StandardPreprocessor.from_json(data)
    saved = predictor_fields(manifest)
    predictor = ClassicPredictor(load_classic(Path(folder)), preproc, batch_size=batch_size or saved["batch_size"],
                                 threshold=saved["threshold"], temperature=saved["temperature"])
    predictor.manifest_ = manifest
    return predictor
