"""The ktrain-style namespace: ``from tfclf import text; text.Transformer(...)``.

Porting a ktrain script is ``import tfclf as ktrain`` and ``from tfclf import text``.
"""

from tfclf.datasets import load_20newsgroups, texts_from_csv, texts_from_folder
from tfclf.preprocess import Transformer
from tfclf.vocab import train_tokenizer

__all__ = ["Transformer", "texts_from_folder", "texts_from_csv", "load_20newsgroups", "train_tokenizer"]
