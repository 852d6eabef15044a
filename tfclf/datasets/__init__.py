"""Ready-made text-classification corpora and loaders for your own labelled texts.

Every loader returns a :class:`TextData` that also unpacks ktrain-style::

    from tfclf.datasets import load_20newsgroups, NEWSGROUPS_TUTORIAL_CATEGORIES

    x_train, y_train, class_names = load_20newsgroups(
        "train", NEWSGROUPS_TUTORIAL_CATEGORIES, archive="20news-bydate.tar.gz"
    )

Only NumPy, scikit-learn and the standard library are used here, so importing this package
never starts TensorFlow.
"""

from tfclf.datasets._types import TextData
from tfclf.datasets.bbc import load_bbc_news
from tfclf.datasets.files import texts_from_csv, texts_from_folder
from tfclf.datasets.newsgroups import NEWSGROUPS_TUTORIAL_CATEGORIES, load_20newsgroups
from tfclf.datasets.split import split_indices, train_test_split

__all__ = [
    "load_20newsgroups",
    "load_bbc_news",
    "texts_from_folder",
    "texts_from_csv",
    "NEWSGROUPS_TUTORIAL_CATEGORIES",
    "TextData",
    "train_test_split",
    "split_indices",
]
