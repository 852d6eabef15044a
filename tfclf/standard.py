"""`StandardPreprocessor`: ktrain's ``preprocess_mode="standard"`` preprocessor, for the classic
models (NBSVM, logistic regression, fastText, GRUs) of `tfclf.text_models`.

It learns a word (and n-gram) vocabulary (`tfclf.word_vocab`) and the labels (`tfclf.labels`)
from the training texts and turns texts into the `TextDataset` every Learner reads, so the classic
models train, validate, explain and save with the same tools as the transformers. It holds no
model and compiles nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tfclf import encoding
from tfclf._util import class_names as check_class_names
from tfclf.data import TextDataset
from tfclf.labels import LabelCodec, LearnedLabels
from tfclf.texts import check_texts
from tfclf.word_vocab import WordVocabulary

VOCABULARY_FILE = "vocabulary.json"


class StandardPreprocessor(LearnedLabels):
    """Word ids for the classic models (ktrain's ``StandardTextPreprocessor``).

    Args:
        maxlen: words read per text.
        max_features: the most frequent training words kept as features.
        class_names: class names in output order (optional for string labels).
        classes: ktrain's alias of `class_names`.
        lang: accepted for ktrain compatibility: words are runs of letters and digits in any
            script, so texts without spaces between words (Chinese, Japanese) read as phrases.
        ngram_range: 1, or 2 / 3 to add the bigrams (and trigrams) seen in training as features.
        multilabel: None decides from the labels.
        batch_size: default batch size for learners built on these datasets.
        regression: the labels are numbers to predict, even whole ones (ktrain's ``is_regression``).

    Example:
        >>> p = StandardPreprocessor(maxlen=50, max_features=1000)
        >>> trn = p.preprocess_train(["good film", "bad film"], ["pos", "neg"], verbose=0)
        >>> p.get_classes(), len(trn)
        (['neg', 'pos'], 2)
    """

    def __init__(self, maxlen: int = 400, max_features: int = 20000, class_names: Sequence[str] | None = None,
                 classes: Sequence[str] | None = None, lang: str | None = None, ngram_range: int = 1,
                 multilabel: bool | None = None, batch_size: int | None = None, regression: bool = False):
        self.maxlen = maxlen
        self.max_features = max_features
        self.class_names = class_names
        self.classes = classes
        self.lang = lang
        self.ngram_range = ngram_range
        self.multilabel = multilabel
        self.batch_size = batch_size
        self.regression = regression
        WordVocabulary(max_features, maxlen, ngram_range)  # checks the three numbers
        check_class_names(class_names, "class_names")
        check_class_names(classes, "classes")
        if class_names and classes and list(class_names) != list(classes):
            raise ValueError("class_names and classes disagree: pass only one of them")
        if multilabel not in (None, True, False):
            raise TypeError(f"multilabel must be True, False or None, got {multilabel!r}")
        if regression not in (True, False):
            raise TypeError(f"regression must be True or False, got {regression!r}")

    # -- learned state (the labels: LearnedLabels) -------------------------------------------------
    @property
    def vocabulary_size(self) -> int:
        """Feature ids run from 0 (padding) to this minus one."""
        return self.vocab_.size

    def ngram_count(self) -> int:
        """The largest n of the n-gram features (ktrain's name)."""
        return int(self.ngram_range)

    # -- preprocessing ---------------------------------------------------------------------------
    def preprocess_train(self, texts: Sequence[str], y: Any = None, mode: str = "train",
                         verbose: int = 1) -> TextDataset:
        """Learns the vocabulary and the labels from training texts; returns their dataset."""
        if mode not in ("train", "test"):
            raise ValueError(f"mode must be 'train' or 'test', got {mode!r}")
        if mode == "test":
            return self.preprocess_test(texts, y, verbose=verbose)
        texts = self._learn_labels(texts, y)
        self.vocab_ = WordVocabulary(self.max_features, self.maxlen, self.ngram_range).fit(texts)
        if verbose:
            extra = (f" and {self.vocab_.size - 1 - self.vocab_.num_words} n-grams (n <= {self.ngram_range})"
                     if self.ngram_range > 1 else "")
            print(f"vocabulary: {self.vocab_.num_words} words{extra}")
        return self._dataset(texts, y, verbose, "train")

    def preprocess_test(self, texts: Sequence[str], y: Any = None, verbose: int = 1) -> TextDataset:
        """The dataset of validation / test texts, with the vocabulary and labels learned in training."""
        texts = check_texts(texts)
        self._codec()
        return self._dataset(texts, y, verbose, "test")

    def dataset(self, texts: Sequence[str], labels: Any = None, batch_size: int | None = None) -> TextDataset:
        """Texts (and their labels, when given) as a `TextDataset` of feature ids. Quiet."""
        texts = check_texts(texts)
        codec = self._codec()
        if labels is not None:
            encoding.check_label_count(texts, labels)
        targets = None if labels is None else codec.encode(labels)
        return TextDataset(self.vocab_.encode(texts), targets, texts=texts, maxlen=self.vocab_.row_length,
                           pad_token_id=0, batch_size=self.batch_size if batch_size is None else batch_size,
                           mode=codec.mode_)

    def _dataset(self, texts: list[str], y: Any, verbose: int, split: str) -> TextDataset:
        ds = self.dataset(texts, y)
        if verbose:
            print(f"preprocessing {split}: {len(ds)} docs, {self.codec_.mode_}, {len(self.codec_.classes_)} "
                  f"classes; features per doc: mean {float(ds.lengths.mean()):.0f}, max {int(ds.lengths.max())}")
        return ds

    def undo(self, doc: Sequence[int]) -> str:
        """The words (and n-grams) a row of feature ids stands for, joined by spaces."""
        names = self.vocab_.feature_names()
        return " ".join(names[int(i)] for i in doc if int(i) > 0)

    # -- saving ----------------------------------------------------------------------------------
    def to_json(self) -> dict:
        """The fitted preprocessor as JSON (the vocabulary file of a saved predictor)."""
        return {"kind": "standard", "labels": self._codec().to_json(), "batch_size": self.batch_size,
                "lang": self.lang, "vocabulary": self.vocab_.to_json()}

    @classmethod
    def from_json(cls, data: dict) -> "StandardPreprocessor":
        if data.get("kind") != "standard":
            raise ValueError(f"not a standard preprocessor's JSON (kind={data.get('kind')!r})")
        vocab = WordVocabulary.from_json(data["vocabulary"])
        p = cls(maxlen=vocab.maxlen, max_features=vocab.max_features, class_names=data["labels"]["classes"],
                lang=data.get("lang"), ngram_range=vocab.ngram_range, batch_size=data.get("batch_size"))
        p.vocab_ = vocab
        p.codec_ = LabelCodec.from_json(data["labels"])
        return p
