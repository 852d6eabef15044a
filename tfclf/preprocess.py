"""`Transformer`: a tokenizer, a label codec and a maxlen, ktrain's ``text.Transformer``."""

from __future__ import annotations

import copy

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tfclf import encoding
from tfclf._util import class_names as check_class_names
from tfclf._util import positive_int
from tfclf.data import TextDataset
from tfclf.labels import MULTILABEL, REGRESSION, LabelCodec, LearnedLabels
from tfclf.reading import Reading
from tfclf.texts import check_texts

__all__ = ["Transformer", "check_texts"]


class Transformer(LearnedLabels):
    """Wraps a Hugging Face model's tokenizer and the label encoding, as ktrain's `text.Transformer`.

    Arguments are stored as given; the tokenizer is loaded on first use, labels are learned by
    `preprocess_train`.

    Args:
        model_name: a model-hub name (from the local cache, or downloaded when online) or a
            local folder in Hugging Face layout with ``tf_model.h5`` or ``model.safetensors``;
            or a `transformers` model configuration (e.g. ``DistilBertConfig(n_layers=2)``) to
            train a model of that shape from random initialization, which needs `tokenizer`.
        maxlen: documents are truncated to this many tokens (special tokens included).
        class_names: class names in output order. Optional for string labels; names integer ids.
        classes: ktrain's alias of `class_names`.
        batch_size: default batch size for learners built on these datasets.
        multilabel: None decides from the labels (multi-hot rows = multi-label).
        use_with_learner: accepted for ktrain compatibility; datasets always suit the Learner.
        truncation: how a text longer than maxlen is cut: "head" (its first tokens, ktrain's way)
            or "head_tail" (its first `head_tokens` and its last tokens). See `tfclf.windows`.
        head_tokens: content tokens kept from the start with "head_tail" (default: a quarter).
        max_windows: above 1, a long text is read whole as overlapping windows of maxlen tokens
            (at most this many per text, spread evenly over it): each window trains with the
            text's label, and predictions average the windows per text.
        window_overlap: tokens two consecutive windows share (default: half a window).
        aggregate: how windows combine into one prediction: "mean_logits" or "mean_probs".
        precision: the Keras dtype policy of models built by `get_classifier`: "auto" (bfloat16
            on CPUs with AMX / AVX512-BF16, float16 with loss scaling on NVIDIA GPUs, else
            float32; ``$TFCLF_PRECISION`` overrides it), "float32", "mixed_bfloat16" or
            "mixed_float16". See `tfclf.precision`.
        tokenizer: overrides the model's tokenizer; required for a model from a configuration.
            A `transformers` tokenizer, a folder with tokenizer files, a WordPiece ``vocab.txt``,
            or "train": learn a WordPiece vocabulary from the texts given to `preprocess_train`
            (see `tfclf.vocab.train_tokenizer`).
        vocab_size: the vocabulary size for ``tokenizer="train"`` (default 16000).
        pooling: what the classification head reads: "cls" (the model's own head, on the first
            token: ktrain's way), "mean" (the mean of the real tokens' last hidden states, as
            sentence-transformers models such as all-MiniLM-L6-v2 were trained), or "auto" (the
            default): the pooling a checkpoint's sentence-transformers files (modules.json and
            its Pooling config) name; without them "mean" for a BERT or ALBERT checkpoint whose
            [CLS] pooler is missing or untrained, else "cls". The choice made is ``pooling_``
            after `get_classifier`. See `tfclf.pooling`.
        regression: the labels are numbers to predict even when they are whole numbers (ratings
            1-5, say); without it whole numbers are class ids (ktrain's ``is_regression``).

    Example:
        >>> t = Transformer("distilbert-base-uncased", maxlen=128)   # doctest: +SKIP
        >>> trn = t.preprocess_train(["good", "bad"], ["pos", "neg"])  # doctest: +SKIP
        >>> model = t.get_classifier()                               # doctest: +SKIP

        A small encoder trained from scratch, with a vocabulary learned from the texts:

        >>> from transformers import DistilBertConfig
        >>> t = Transformer(DistilBertConfig(n_layers=2, dim=256, hidden_dim=1024), maxlen=256,
        ...                 tokenizer="train", vocab_size=8000)           # doctest: +SKIP
    """

    def __init__(
        self,
        model_name: str | os.PathLike,
        maxlen: int = 128,
        class_names: Sequence[str] | None = None,
        classes: Sequence[str] | None = None,
        batch_size: int | None = None,
        multilabel: bool | None = None,
        use_with_learner: bool = True,
        precision: str = "auto",
        truncation: str = "head",
        head_tokens: int | None = None,
        max_windows: int = 1,
        window_overlap: int | None = None,
        aggregate: str = "mean_logits",
        tokenizer: Any = None,
        vocab_size: int | None = None,
        pooling: str = "auto",
        regression: bool = False,
    ):
        self.model_name = model_name
        self.maxlen = maxlen
        self.class_names = class_names
        self.classes = classes
        self.batch_size = batch_size
        self.multilabel = multilabel
        self.use_with_learner = use_with_learner
        self.precision = precision
        self.truncation = truncation
        self.head_tokens = head_tokens
        self.max_windows = max_windows
        self.window_overlap = window_overlap
        self.aggregate = aggregate
        self.tokenizer = tokenizer
        self.vocab_size = vocab_size
        self.pooling = pooling
        self.regression = regression
        self._check_args()

    @property
    def from_scratch(self) -> bool:
        """Whether the model is built from a configuration, with randomly initialized weights."""
        from tfclf.models import is_config

        return is_config(self.model_name)

    def _check_args(self) -> None:
        if not self.from_scratch and (
                not isinstance(self.model_name, (str, os.PathLike)) or not str(self.model_name).strip()):
            raise TypeError(
                f"model_name must be a model-hub name, a folder path or a transformers model configuration, "
                f"got {self.model_name!r}")
        if self.from_scratch and self.tokenizer is None:
            raise ValueError(
                "a model built from a configuration has no tokenizer: pass tokenizer=... (a transformers "
                "tokenizer, a folder with tokenizer files, a vocab.txt, or 'train' to learn a vocabulary "
                "from the training texts)")
        if isinstance(self.tokenizer, str) and self.tokenizer != "train" and not Path(self.tokenizer).exists():
            raise ValueError(
                f"tokenizer={self.tokenizer!r} is neither 'train' nor an existing folder or vocab.txt")
        if self.tokenizer is not None and not isinstance(self.tokenizer, (str, os.PathLike)) \
                and not callable(getattr(self.tokenizer, "save_pretrained", None)):
            raise TypeError(f"tokenizer must be a transformers tokenizer, a path or 'train', got {self.tokenizer!r}")
        if self.vocab_size is not None:
            positive_int(self.vocab_size, "vocab_size")
        check_class_names(self.class_names, "class_names")
        check_class_names(self.classes, "classes")
        if self.multilabel not in (None, True, False):
            raise TypeError(f"multilabel must be True, False or None, got {self.multilabel!r}")
        if self.regression not in (True, False):
            raise TypeError(f"regression must be True or False, got {self.regression!r}")
        if self.regression and self.multilabel:
            raise ValueError("regression and multilabel exclude each other")
        self.reading  # maxlen and the reading options, checked by Reading
        if self.batch_size is not None:
            positive_int(self.batch_size, "batch_size")
        from tfclf.precision import PRECISIONS, resolve_precision

        if self.precision not in PRECISIONS:
            resolve_precision(self.precision)  # raises a helpful error for an unknown name
        from tfclf.pooling import check_pooling

        check_pooling(self.pooling)
        if self.class_names and self.classes and list(self.class_names) != list(self.classes):
            raise ValueError("class_names and classes disagree: pass only one of them")

    @property
    def reading(self) -> Reading:
        """How this preprocessor reads a text (maxlen, truncation, windows), from its arguments."""
        return Reading(maxlen=self.maxlen, truncation=self.truncation, head_tokens=self.head_tokens,
                       max_windows=self.max_windows, window_overlap=self.window_overlap, aggregate=self.aggregate)

    # -- lazily loaded state ---------------------------------------------------------------------
    def _source(self):
        if self.from_scratch:
            raise RuntimeError("a model built from a configuration has no pretrained files")
        if not hasattr(self, "source_"):
            from tfclf.models import resolve_model

            self.source_ = resolve_model(self.model_name)
        return self.source_

    def _config(self):
        if not hasattr(self, "config_"):
            from tfclf.models import config_copy, load_config

            self.config_ = config_copy(self.model_name) if self.from_scratch else load_config(self._source().path)
            self._check_maxlen()
        return self.config_

    def _pooling(self) -> str:
        """The concrete pooling ("auto" resolved against the checkpoint's files), as ``pooling_``."""
        if not hasattr(self, "pooling_"):
            from tfclf.pooling import resolve_pooling

            self.pooling_ = resolve_pooling(self.pooling, self._config(),
                                            None if self.from_scratch else self._source().path)
        return self.pooling_

    def _name(self) -> str:
        if self.from_scratch:
            return f"the {self.model_name.model_type} configuration"
        return repr(self.model_name)

    def _check_maxlen(self) -> None:
        from tfclf.models import max_positions

        limit = max_positions(self.config_)
        if limit is not None and self.maxlen > limit:
            raise ValueError(
                f"maxlen={self.maxlen} is more than {self._name()} supports ({limit} tokens); pass maxlen<={limit}"
                + (" or a configuration with more max_position_embeddings" if self.from_scratch else "")
            )

    def get_tokenizer(self):
        """The fast Hugging Face tokenizer (loaded from the model's folder on first call)."""
        if not hasattr(self, "tokenizer_"):
            from tfclf.models import load_tokenizer

            self._config()
            if self.tokenizer is None:
                self.tokenizer_ = load_tokenizer(self._source().path)
            elif isinstance(self.tokenizer, str) and self.tokenizer == "train":
                raise RuntimeError("tokenizer='train' learns its vocabulary from the texts given to "
                                   "preprocess_train: call preprocess_train first")
            elif isinstance(self.tokenizer, (str, os.PathLike)):
                self.tokenizer_ = load_tokenizer(Path(self.tokenizer))
            else:
                self.tokenizer_ = self.tokenizer
        return self.tokenizer_

    # -- preprocessing ---------------------------------------------------------------------------
    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text, truncated to maxlen (see `tfclf.encoding.encode`)."""
        return encoding.encode(self.get_tokenizer(), texts, int(self.maxlen))

    @property
    def reads_whole_documents(self) -> bool:
        """Whether long texts become several windows (``max_windows > 1``)."""
        return self.reading.whole_documents

    def encode_documents(self, texts: Sequence[str]) -> tuple[list[list[int]], np.ndarray | None]:
        """Token ids per row, and each row's text index (None when every text is one row); see
        `tfclf.encoding.encode_documents`."""
        return encoding.encode_documents(self.get_tokenizer(), texts, self.reading)

    def preprocess_train(self, texts: Sequence[str], y: Any = None, mode: str = "train", verbose: int = 1) -> TextDataset:
        """Learns the labels from `y` and tokenizes `texts` for training.

        Args:
            texts: the documents.
            y: one label per document: strings, integer ids, or one-hot / multi-hot rows.
            mode: "train" (learn labels) or "test"; kept for ktrain compatibility.
            verbose: 1 prints a summary line.

        Returns:
            A `TextDataset` for `get_learner`.
        """
        if mode not in ("train", "test"):
            raise ValueError(f"mode must be 'train' or 'test', got {mode!r}")
        if mode == "test":
            return self.preprocess_test(texts, y, verbose=verbose)
        texts = self._learn_labels(texts, y)
        if isinstance(self.tokenizer, str) and self.tokenizer == "train" and not hasattr(self, "tokenizer_"):
            from tfclf.vocab import DEFAULT_VOCAB_SIZE, train_tokenizer

            self._config()  # checks maxlen against the configuration before the vocabulary is learned
            self.tokenizer_ = train_tokenizer(texts, vocab_size=self.vocab_size or DEFAULT_VOCAB_SIZE)
            if verbose:
                print(f"learned a WordPiece vocabulary of {len(self.tokenizer_)} tokens from {len(texts)} texts")
        return self._dataset(texts, y, verbose, "train")

    def preprocess_test(self, texts: Sequence[str], y: Any = None, verbose: int = 1) -> TextDataset:
        """Tokenizes validation / test texts with the labels learned by `preprocess_train`."""
        texts = check_texts(texts)
        self._codec()
        if y is not None:
            self._check_lengths(texts, y)
        return self._dataset(texts, y, verbose, "test")

    def _check_lengths(self, texts: list[str], y: Any) -> None:
        encoding.check_label_count(texts, y)

    def dataset(self, texts: Sequence[str], labels: Any = None, batch_size: int | None = None) -> TextDataset:
        """The one way from texts to a `TextDataset`: tokenized and read as this preprocessor
        reads (windows included), with labels encoded when given. Quiet; needs the labels learned
        by `preprocess_train` (the dataset's label mode comes from them).

        Example:
            >>> data = t.dataset(["a new text"])            # doctest: +SKIP
        """
        return encoding.documents_dataset(
            self.get_tokenizer(), check_texts(texts), self.reading, self._codec(), labels,
            pad_token_id=self.get_tokenizer().pad_token_id or 0,
            batch_size=self.batch_size if batch_size is None else batch_size)

    def _dataset(self, texts: list[str], y: Any, verbose: int, split: str) -> TextDataset:
        ds = self.dataset(texts, y)
        if verbose:
            truncated = int((ds.lengths >= self.maxlen).sum())
            if ds.doc_ids is not None:
                cut = f"{len(ds)} windows of up to {self.maxlen} tokens (at most {self.max_windows} per doc)"
            else:
                how = " (head+tail)" if self.truncation != "head" else ""
                cut = f"{truncated} truncated to maxlen={self.maxlen}{how}"
            print(
                f"preprocessing {split}: {ds.n_docs} docs, {self.codec_.mode_}, "
                f"{len(self.codec_.classes_)} classes; tokens per row: mean {ds.lengths.mean():.0f}, "
                f"max {ds.lengths.max()}; {cut}"
            )
        return ds

    # -- model -----------------------------------------------------------------------------------
    def get_classifier(self, fpath: str | None = None, multilabel: bool | None = None, metrics: Any = None,
                       precision: str | None = None, strategy=None, label_smoothing: float = 0.0,
                       layer_decay: float | None = None, attention_dropout: float | None = None):
        """Builds and compiles transformers' TF sequence-classification model for these labels.

        Args:
            fpath: optional weights file (from `Learner.save_model`) to load into the new model.
            multilabel: must agree with the labels if given (kept for ktrain compatibility).
            metrics: Keras metrics; by default accuracy (or binary accuracy / MAE).
            precision: overrides the Transformer's `precision` for this model.
            strategy: a `tf.distribute.Strategy` whose scope holds the model's variables and
                optimizer (pass the same one to `get_learner`; see `tfclf.distribute`).
            label_smoothing: train against smoothed targets, e.g. 0.1 (single- and multi-label
                models; 0, the default, is none). See `tfclf.optim`.
            layer_decay: layer-wise learning-rate decay, e.g. 0.8: each encoder layer below the
                top one learns at that factor of the rate of the layer above, the head at the full
                rate. None (the default) is one rate for all. See `tfclf.optim`.
            attention_dropout: the dropout rate on the attention probabilities, e.g. 0.0 to turn
                it off (cheaper CPU training steps, see benchmarks/RESULTS.md); None (the default)
                keeps the model's own (0.1 for BERT-like models). Hidden-state dropout is kept.

        Returns:
            A compiled `tf.keras.Model` (a transformers ``TF...ForSequenceClassification``), built
            by `tfclf.classifier.build_classifier`.
        """
        from tfclf.classifier import build_classifier, configure, set_attention_dropout
        from tfclf.optim import check_label_smoothing, check_layer_decay
        from tfclf.precision import resolve_precision

        label_smoothing, layer_decay = check_label_smoothing(label_smoothing), check_layer_decay(layer_decay)
        codec = self._codec()
        if label_smoothing and codec.mode_ == REGRESSION:
            raise ValueError("label_smoothing applies to class labels; these labels are numbers (regression)")
        if multilabel is not None and bool(multilabel) != (codec.mode_ == MULTILABEL):
            raise ValueError(f"multilabel={multilabel} disagrees with the labels, which are {codec.mode_}")
        # Each model gets its own configuration: what is written into it (labels, pooling, training
        # options, later a temperature or thresholds) belongs to that model, not to the next one
        # built from this Transformer.
        config = copy.deepcopy(self._config())
        configure(config, codec, self._pooling(), tokenizer=self.get_tokenizer() if self.from_scratch else None)
        set_attention_dropout(config, attention_dropout)
        return build_classifier(
            config, pretrained=None if self.from_scratch else self._source().path,
            precision=resolve_precision(self.precision if precision is None else precision), strategy=strategy,
            weights_file=fpath, metrics=metrics, label_smoothing=label_smoothing, layer_decay=layer_decay)

    # -- saving ----------------------------------------------------------------------------------
    def saved_name(self) -> str:
        """The model's name as a saved predictor records it."""
        return (f"{self._config().model_type} trained from scratch" if self.from_scratch
                else str(self.model_name))

    def to_json(self) -> dict:
        """What a saved predictor needs to rebuild this preprocessor (no training data)."""
        return {
            "model_name": self.saved_name(),
            "labels": self._codec().to_json(),
            "batch_size": self.batch_size,
            **self.reading.to_json(),
            "pooling": self._pooling(),
        }

    @classmethod
    def from_saved(cls, folder: Path, manifest: dict, tokenizer, config) -> "Transformer":
        """Rebuilds a fitted Transformer from a saved predictor folder, without resolving the name."""
        from tfclf.manifest import preprocessor_fields
        from tfclf.models import ModelSource
        from tfclf.pooling import pooling_of

        saved = preprocessor_fields(manifest)
        reading = saved["reading"]
        # The pooling comes from the model's config alone: that is what builds the model, so the
        # preprocessor cannot report another one (the manifest's copy is for people reading it).
        t = cls(saved["model_name"], class_names=saved["labels"]["classes"], batch_size=saved["batch_size"],
                pooling=pooling_of(config), **reading.to_json())
        t.source_ = ModelSource(Path(folder), "folder", saved["model_name"])
        t.pooling_ = t.pooling
        t.config_ = config
        t.tokenizer_ = tokenizer
        t.codec_ = LabelCodec.from_json(saved["labels"])
        return t
