"""The ktrain-style namespace: ``from tfclf import text``.

Porting a ktrain script is ``import tfclf as ktrain`` and ``from tfclf import text``. The loaders
here have ktrain's signatures and return ktrain's ``(trn, val, preproc)``
(`tfclf.ktrain_loaders`); the raw loaders, which return texts and labels, are in `tfclf.datasets`.
"""

from tfclf.datasets import load_20newsgroups
from tfclf.ktrain_loaders import texts_from_array, texts_from_csv, texts_from_df, texts_from_folder
from tfclf.preprocess import Transformer
from tfclf.standard import StandardPreprocessor
from tfclf.text_models import (print_text_classifiers, print_text_regression_models, text_classifier,
                               text_regression_model)
from tfclf.vocab import train_tokenizer

__all__ = ["Transformer", "StandardPreprocessor", "texts_from_folder", "texts_from_csv", "texts_from_df",
           "texts_from_array", "text_classifier", "text_regression_model", "print_text_classifiers",
           "print_text_regression_models", "load_20newsgroups", "train_tokenizer"]
