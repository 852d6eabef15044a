"""`KerasPredictor`: a `BasePredictor` whose logits come from a Keras model in this process and
whose texts are read by the preprocessor the model was trained with. `tfclf.Predictor` (a
transformer and its `Transformer`) and `tfclf.classic_predictor.ClassicPredictor` (a classic model
and its `StandardPreprocessor`) are both one; each adds its own checks, saving and export.
"""

from __future__ import annotations

from tfclf.inference import LogitsFunction
from tfclf.predicting import BasePredictor


class KerasPredictor(BasePredictor):
    """The model, the preprocessor and the compiled forward passes, traced on first use."""

    def __init__(self, model, preproc, batch_size: int = 32, threshold=0.5, temperature: float = 1.0):
        preproc._codec()  # a predictor needs the learned labels
        self.model = model
        self.preproc = preproc
        self._init_settings(batch_size, threshold, temperature)
        self._fn: LogitsFunction | None = None
        self._embed: LogitsFunction | None = None
        # The manifest `load_predictor` read (None for a predictor made in this process).
        self.manifest_: dict | None = None

    @property
    def codec_(self):
        return self.preproc.codec_

    def _dataset(self, texts, labels=None):
        return self.preproc.dataset(texts, labels)

    def _logits_fn(self) -> LogitsFunction:
        if self._fn is None:
            self._fn = LogitsFunction(self.model)
        return self._fn

    def _embed_fn(self) -> LogitsFunction:
        if self._embed is None:
            self._embed = LogitsFunction(self.model, pooled=True)
        return self._embed
