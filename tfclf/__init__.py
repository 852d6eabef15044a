"""tfclf: fine-tune Hugging Face transformers for text classification with TensorFlow 2 / Keras.

A ktrain-style workflow in a few lines::

    import tfclf
    from tfclf import text

    t = text.Transformer("distilbert-base-uncased", maxlen=128, class_names=names)
    trn = t.preprocess_train(x_train, y_train)
    val = t.preprocess_test(x_test, y_test)
    learner = tfclf.get_learner(t.get_classifier(), trn, val, batch_size=8)
    learner.fit_onecycle(5e-5, 1)
    predictor = tfclf.get_predictor(learner.model, t)
    predictor.save("saved_predictors/news")

Porting a ktrain script is ``import tfclf as ktrain; from tfclf import text``.

Public names are loaded lazily so that ``import tfclf`` and ``tfclf --help`` stay fast;
TensorFlow is imported the first time something needs it.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

# tf-keras (Keras 2) is what transformers' TF models are written for. TensorFlow reads this
# variable once, at import, so it has to be set before anything imports TensorFlow.
if os.environ.get("TF_USE_LEGACY_KERAS") != "1":
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
# TensorFlow's C++ start-up chatter (CUDA probes on CPU-only machines) buries the useful output.
# The `tfclf` command (its own process) goes to level 3 unless the user chose a level: see cli.py.
_TF_LOG_LEVEL_FROM_USER = "TF_CPP_MIN_LOG_LEVEL" in os.environ
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"

_LAZY = {
    "Transformer": "tfclf.preprocess",
    "TextDataset": "tfclf.data",
    "LabelCodec": "tfclf.labels",
    "Learner": "tfclf.learner",
    "Evaluation": "tfclf.evaluation",
    "Reading": "tfclf.reading",
    "get_learner": "tfclf.learner",
    "Predictor": "tfclf.predictor",
    "get_predictor": "tfclf.predictor",
    "load_predictor": "tfclf.loading",
    "ExportedPredictor": "tfclf.runtime",
    "Explanation": "tfclf.explain",
    "explanation_stability": "tfclf.explain",
    "set_seed": "tfclf._compat",
    "cross_validate": "tfclf.cross_validation",
    "CVResult": "tfclf.cross_validation",
    "tune_thresholds": "tfclf.multilabel",
    "multilabel_metrics": "tfclf.multilabel",
    "train_tokenizer": "tfclf.vocab",
    "find_label_issues": "tfclf.label_issues",
    "LabelIssues": "tfclf.label_issues",
    "find_overlap": "tfclf.overlap",
}
_SUBMODULES = ("text", "datasets", "schedules", "lr_finder", "plots", "models", "precision", "multilabel", "vocab",
               "export", "runtime", "faithfulness")

__all__ = sorted([*_LAZY, *_SUBMODULES, "__version__"])


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"tfclf.{name}")
    else:
        raise AttributeError(f"module 'tfclf' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
