"""`Transformer`: a tokenizer, a label codec and a maxlen, ktrain's ``text.Transformer``."""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tfclf._util import class_names as check_class_names
from tfclf._util import int_in_range, positive_int
from tfclf.data import TextDataset
from tfclf.labels import MULTILABEL, REGRESSION, LabelCodec

_TOKENIZE_CHUNK = 2048
_CHARS_PER_TOKEN_BUDGET = 64


def _clip(text: str, budget: int) -> str:
    """`text` cut at the last whitespace before `budget` characters (or at `budget` if none)."""
    if len(text) <= budget:
        return text
    cut = text[:budget]
    space = max(cut.rfind(" "), cut.rfind("\n"), cut.rfind("\t"))
    return cut[:space] if space > budget // 2 else cut


def _clip_both_ends(text: str, budget: int) -> str:
    """`text` if it has at most 2 x `budget` characters, else its first and last `budget` ones
    (cut at whitespace), so that head+tail truncation and windows still see the text's end."""
    if len(text) <= 2 * budget:
        return text
    tail = text[-budget:]
    space = max(tail.find(" "), tail.find("\n"))
    tail = tail[space + 1:] if 0 <= space < budget // 2 else tail
    return _clip(text, budget) + " " + tail


def check_texts(texts: Any, name: str = "texts") -> list[str]:
    """A list of str from a list / tuple / array / Series of str, or a clear error."""
    if isinstance(texts, (str, bytes)):
        raise TypeError(f"{name} must be a list of strings, not a single {type(texts).__name__}")
    if texts is None:
        raise TypeError(f"{name} must be a list of strings, got None")
    if hasattr(texts, "tolist"):
        texts = texts.tolist()
    try:
        texts = list(texts)
    except TypeError as err:
        raise TypeError(f"{name} must be a list of strings, got {type(texts).__name__}") from err
    if not texts:
        raise ValueError(f"{name} is empty: pass at least one text")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            hint = " (decode bytes first, e.g. b.decode('utf-8'))" if isinstance(t, bytes) else ""
            raise TypeError(f"{name}[{i}] is {type(t).__name__}, expected str{hint}")
    return texts


class Transformer:
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
            default): "mean" for a checkpoint whose sentence-transformers files (modules.json and
            its Pooling config) say it was trained with mean pooling, else "cls". The choice made
            is ``pooling_`` after `get_classifier`. See `tfclf.pooling`.

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
        self._check_args()

    @property
    def from_scratch(self) -> bool:
        """Whether the model is built from a configuration, with randomly initialized weights."""
        return _is_config(self.model_name)

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
        if isinstance(self.maxlen, bool) or not isinstance(self.maxlen, (int, np.integer)):
            raise TypeError(f"maxlen must be an integer, got {self.maxlen!r}")
        if self.maxlen < 2:
            raise ValueError(f"maxlen must be >= 2 (room for the special tokens), got {self.maxlen}")
        if self.batch_size is not None:
            positive_int(self.batch_size, "batch_size")
        from tfclf.precision import PRECISIONS, resolve_precision

        if self.precision not in PRECISIONS:
            resolve_precision(self.precision)  # raises a helpful error for an unknown name
        from tfclf import windows as W

        if self.truncation not in W.TRUNCATIONS:
            raise ValueError(f"truncation must be one of {W.TRUNCATIONS}, got {self.truncation!r}")
        if self.aggregate not in W.AGGREGATES:
            raise ValueError(f"aggregate must be one of {W.AGGREGATES}, got {self.aggregate!r}")
        positive_int(self.max_windows, "max_windows")
        if self.head_tokens is not None:
            int_in_range(self.head_tokens, "head_tokens", 0, self.maxlen, "maxlen")
        if self.window_overlap is not None:
            int_in_range(self.window_overlap, "window_overlap", 0, self.maxlen - 2, "maxlen - 2")
        from tfclf.pooling import check_pooling

        check_pooling(self.pooling)
        if self.class_names and self.classes and list(self.class_names) != list(self.classes):
            raise ValueError("class_names and classes disagree: pass only one of them")

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
            from tfclf._compat import transformers

            if self.from_scratch:
                self.config_ = _config_copy(self.model_name)
            else:
                self.config_ = transformers.AutoConfig.from_pretrained(str(self._source().path),
                                                                       local_files_only=True)
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
            from tfclf._compat import transformers

            self._config()
            if self.tokenizer is None:
                self.tokenizer_ = transformers.AutoTokenizer.from_pretrained(
                    str(self._source().path), use_fast=True, local_files_only=True
                )
            elif isinstance(self.tokenizer, str) and self.tokenizer == "train":
                raise RuntimeError("tokenizer='train' learns its vocabulary from the texts given to "
                                   "preprocess_train: call preprocess_train first")
            elif isinstance(self.tokenizer, (str, os.PathLike)):
                self.tokenizer_ = _load_tokenizer(Path(self.tokenizer))
            else:
                self.tokenizer_ = self.tokenizer
        return self.tokenizer_

    def _codec(self) -> LabelCodec:
        if not hasattr(self, "codec_"):
            raise RuntimeError("labels are not known yet: call preprocess_train(texts, y) first")
        return self.codec_

    def get_classes(self) -> list[str]:
        """Class names in the order of the model's outputs (``predict_proba``'s columns)."""
        if hasattr(self, "codec_"):
            return list(self.codec_.classes_)
        return list(self.class_names or self.classes or [])

    @property
    def classes_(self) -> list[str]:
        return list(self._codec().classes_)

    @property
    def mode_(self) -> str:
        return self._codec().mode_

    # -- preprocessing ---------------------------------------------------------------------------
    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text, truncated to maxlen, tokenized in batches by the fast tokenizer.

        A very long text (say 1 MB) is first cut at a whitespace after ``maxlen * 64`` characters,
        so tokenizing it costs no more than tokenizing what is kept: every token holds at least
        one character, and a cut at whitespace leaves the kept words' tokens unchanged. If the cut
        text yields fewer than maxlen tokens (long whitespace runs), the whole text is tokenized.
        """
        self.get_tokenizer()  # fail early (a missing model) before clipping anything
        budget = self.maxlen * _CHARS_PER_TOKEN_BUDGET
        ids: list[list[int]] = []
        for s in range(0, len(texts), _TOKENIZE_CHUNK):
            chunk = list(texts[s : s + _TOKENIZE_CHUNK])
            clipped = [_clip(t, budget) for t in chunk]
            out = self._tokenize(clipped)
            for i, (full, cut) in enumerate(zip(chunk, clipped)):
                if len(cut) < len(full) and len(out[i]) < self.maxlen:
                    out[i] = self._tokenize([full])[0]
            ids.extend(out)
        return ids

    def _tokenize(self, texts: list[str]) -> list[list[int]]:
        return self.get_tokenizer()(
            texts,
            truncation=True,
            max_length=self.maxlen,
            padding=False,
            return_attention_mask=False,
            return_token_type_ids=False,
        )["input_ids"]

    @property
    def reads_whole_documents(self) -> bool:
        """Whether long texts become several windows (``max_windows > 1``)."""
        return int(self.max_windows) > 1

    def _special_tokens(self) -> tuple[list[int], list[int]]:
        """The special tokens the tokenizer puts before and after a text's content tokens."""
        if not hasattr(self, "specials_"):
            tok = self.get_tokenizer()
            content = tok("a", add_special_tokens=False)["input_ids"]
            full = tok("a", add_special_tokens=True)["input_ids"]
            at = next(i for i in range(len(full) - len(content) + 1) if full[i:i + len(content)] == content)
            self.specials_ = (full[:at], full[at + len(content):])
        return self.specials_

    def encode_documents(self, texts: Sequence[str]) -> tuple[list[list[int]], np.ndarray | None]:
        """Token ids per row, and each row's text index (None when every text is one row).

        With the default head truncation this is `encode`. With "head_tail" each text is one row
        of its first and last tokens; with ``max_windows > 1`` a long text gives several rows
        (see `tfclf.windows`). Short texts are encoded as `encode` encodes them in every mode.
        """
        from tfclf import windows as W

        if self.truncation == W.HEAD and not self.reads_whole_documents:
            return self.encode(texts), None
        prefix, suffix = self._special_tokens()
        size = self.maxlen - len(prefix) - len(suffix)
        if size < 1:
            raise ValueError(f"maxlen={self.maxlen} leaves no room for text between the special tokens")
        budget = self.maxlen * _CHARS_PER_TOKEN_BUDGET * int(self.max_windows)
        rows: list[list[int]] = []
        doc_ids: list[int] = []
        tok = self.get_tokenizer()
        for s in range(0, len(texts), _TOKENIZE_CHUNK):
            chunk = [_clip_both_ends(t, budget) for t in texts[s:s + _TOKENIZE_CHUNK]]
            contents = tok(chunk, add_special_tokens=False, truncation=False, padding=False,
                           return_attention_mask=False, return_token_type_ids=False)["input_ids"]
            for i, content in enumerate(contents):
                if self.reads_whole_documents:
                    overlap = size // 2 if self.window_overlap is None else min(int(self.window_overlap), size - 1)
                    parts = W.windows(content, size, size - overlap, int(self.max_windows))
                else:
                    head = size // 4 if self.head_tokens is None else min(int(self.head_tokens), size)
                    parts = [W.head_tail(content, size, head)]
                for part in parts:
                    rows.append(prefix + part + suffix)
                    doc_ids.append(s + i)
        return rows, np.asarray(doc_ids, dtype=np.int64)

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
        texts = check_texts(texts)
        if y is None:
            raise ValueError("preprocess_train needs labels: preprocess_train(texts, y)")
        self._check_lengths(texts, y)
        names = self.class_names or self.classes or None
        self.codec_ = LabelCodec(class_names=names, multilabel=self.multilabel).fit(y)
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
        if isinstance(y, (str, bytes)):
            raise TypeError("y must be a sequence of labels (one per text), not a single string")
        try:
            n = len(y)
        except TypeError as err:
            raise TypeError(f"y must be a sequence of labels, got {type(y).__name__}") from err
        if n != len(texts):
            raise ValueError(f"texts and y have different lengths: {len(texts)} texts, {n} labels")

    def _dataset(self, texts: list[str], y: Any, verbose: int, split: str) -> TextDataset:
        targets = None if y is None else self.codec_.encode(y)
        ids, doc_ids = self.encode_documents(texts)
        if doc_ids is not None and targets is not None:
            targets = targets[doc_ids]  # every window carries its text's label
        ds = TextDataset(
            ids,
            targets,
            texts=texts,
            maxlen=self.maxlen,
            pad_token_id=self.get_tokenizer().pad_token_id or 0,
            batch_size=self.batch_size,
            mode=self.codec_.mode_,
            doc_ids=doc_ids if self.reads_whole_documents else None,
            aggregate=self.aggregate,
        )
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
                       layer_decay: float | None = None):
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

        Returns:
            A compiled `tf.keras.Model` (a transformers ``TF...ForSequenceClassification``).
        """
        from tfclf.optim import check_label_smoothing, check_layer_decay

        options = {"label_smoothing": check_label_smoothing(label_smoothing),
                   "layer_decay": check_layer_decay(layer_decay)}
        codec = self._codec()
        if options["label_smoothing"] and codec.mode_ == REGRESSION:
            raise ValueError("label_smoothing applies to class labels; these labels are numbers (regression)")
        if multilabel is not None and bool(multilabel) != (codec.mode_ == MULTILABEL):
            raise ValueError(f"multilabel={multilabel} disagrees with the labels, which are {codec.mode_}")
        from tfclf.models import load_sequence_classifier

        config = self._config()
        config.num_labels = codec.num_outputs
        config.id2label = {i: c for i, c in enumerate(codec.classes_)}
        config.label2id = {c: i for i, c in enumerate(codec.classes_)}
        config.problem_type = {
            MULTILABEL: "multi_label_classification",
            REGRESSION: "regression",
        }.get(codec.mode_, "single_label_classification")
        from tfclf.pooling import CONFIG_KEY, check_supported

        check_supported(config, self._pooling())
        setattr(config, CONFIG_KEY, self.pooling_)
        from tfclf.precision import resolve_precision

        import contextlib

        from tfclf.distribute import check_strategy

        policy = resolve_precision(self.precision if precision is None else precision)
        strategy = check_strategy(strategy)
        with strategy.scope() if strategy is not None else contextlib.nullcontext():
            if self.from_scratch:
                model = self._random_classifier(config, policy)
            else:
                model = load_sequence_classifier(self._source().path, config, policy)
            if fpath is not None:
                model.load_weights(fpath)
            compile_classifier(model, codec.mode_, metrics=metrics, **options)
        return model

    def _random_classifier(self, config, policy: str):
        """A model of `config`'s shape with random weights, its vocabulary fitted to the tokenizer."""
        from tfclf.precision import policy_scope

        tok = self.get_tokenizer()
        # The embedding table must cover every id the tokenizer can give; the pad id must match.
        config.vocab_size = len(tok)
        if tok.pad_token_id is not None:
            config.pad_token_id = tok.pad_token_id
        from tfclf.pooling import classifier_class

        with policy_scope(policy):
            model = classifier_class(config)(config)
            model(model.dummy_inputs, training=False)
        return model

    # -- saving ----------------------------------------------------------------------------------
    def to_json(self) -> dict:
        """What a saved predictor needs to rebuild this preprocessor (no training data)."""
        name = (f"{self._config().model_type} trained from scratch" if self.from_scratch
                else str(self.model_name))
        return {
            "model_name": name,
            "maxlen": int(self.maxlen),
            "labels": self._codec().to_json(),
            "batch_size": self.batch_size,
            "truncation": self.truncation,
            "head_tokens": self.head_tokens,
            "max_windows": int(self.max_windows),
            "window_overlap": self.window_overlap,
            "aggregate": self.aggregate,
            "pooling": self._pooling(),
        }

    @classmethod
    def from_saved(cls, folder: Path, data: dict, tokenizer, config) -> "Transformer":
        """Rebuilds a fitted Transformer from a saved predictor folder, without resolving the name."""
        from tfclf.models import ModelSource
        from tfclf.pooling import pooling_of

        # Predictors saved before long-document options existed read like the defaults. The pooling
        # comes from the model's config alone: that is what builds the model, so the preprocessor
        # cannot report another one (the manifest's copy is for people reading it).
        t = cls(data["model_name"], maxlen=int(data["maxlen"]), class_names=data["labels"]["classes"],
                batch_size=data.get("batch_size"), truncation=data.get("truncation", "head"),
                head_tokens=data.get("head_tokens"), max_windows=int(data.get("max_windows", 1)),
                window_overlap=data.get("window_overlap"), aggregate=data.get("aggregate", "mean_logits"),
                pooling=pooling_of(config))
        t.source_ = ModelSource(Path(folder), "folder", data["model_name"])
        t.pooling_ = t.pooling
        t.config_ = config
        t.tokenizer_ = tokenizer
        t.codec_ = LabelCodec.from_json(data["labels"])
        return t


def _is_config(value: Any) -> bool:
    if isinstance(value, (str, os.PathLike)) or value is None:
        return False
    from tfclf._compat import transformers

    return isinstance(value, transformers.PretrainedConfig)


def _config_copy(config):
    # A copy, so that setting the labels and vocabulary size never changes the user's object.
    return type(config).from_dict(config.to_dict())


def _load_tokenizer(path: Path):
    from tfclf._compat import transformers

    if path.is_dir():
        return transformers.AutoTokenizer.from_pretrained(str(path), use_fast=True, local_files_only=True)
    if path.name.endswith(".json"):
        return transformers.PreTrainedTokenizerFast(tokenizer_file=str(path))
    # A WordPiece vocabulary, one token per line (BERT's vocab.txt).
    return transformers.BertTokenizerFast(vocab_file=str(path))


def compile_classifier(model, mode: str, metrics: Any = None, learning_rate: float = 5e-5,
                       label_smoothing: float = 0.0, layer_decay: float | None = None) -> None:
    """Compiles `model` with Adam, a from-logits loss that matches `mode`, and default metrics.

    `label_smoothing` and `layer_decay` are `get_classifier`'s options (see `tfclf.optim`); they
    are kept on the model so that a rebuild in a distribution strategy compiles it the same way.

    Adam's beta_1 is a variable so that the one-cycle policy can move momentum during training
    without retracing the train step. The loss casts the logits to float32 first, so a model
    that computes in bfloat16 or float16 still gets a float32 loss (Keras would compute it in
    the logits' dtype). Under mixed_float16 Keras wraps Adam in a LossScaleOptimizer itself.
    """
    from tfclf._compat import keras, tf
    from tfclf.optim import OPTIONS_ATTR, check_layer_decay, layer_decay_adam, sparse_smoothed_crossentropy

    if mode == MULTILABEL:
        loss = keras.losses.BinaryCrossentropy(from_logits=True, label_smoothing=label_smoothing)
        default_metrics = [keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0)]
    elif mode == REGRESSION:
        loss = keras.losses.MeanSquaredError()
        default_metrics = [keras.metrics.MeanAbsoluteError(name="mae")]
    else:
        loss = (sparse_smoothed_crossentropy(label_smoothing) if label_smoothing
                else keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        default_metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    beta_1 = tf.Variable(0.9, trainable=False, dtype=tf.float32, name="adam_beta_1")
    adam = dict(learning_rate=learning_rate, beta_1=beta_1, epsilon=1e-8)
    layer_decay = check_layer_decay(layer_decay)
    optimizer = (layer_decay_adam(model, layer_decay, **adam) if layer_decay is not None
                 else keras.optimizers.Adam(**adam))
    setattr(model, OPTIONS_ATTR, {"label_smoothing": label_smoothing, "layer_decay": layer_decay})
    model.compile(optimizer=optimizer, loss=Float32Loss(loss),
                  metrics=default_metrics if metrics is None else metrics)


@functools.lru_cache(maxsize=None)
def _float32_loss_class():
    from tfclf._compat import keras, tf

    class Float32Loss(keras.losses.Loss):
        """`inner` computed on float32 logits (a no-op cast for a float32 model)."""

        def __init__(self, inner, **kwargs):
            kwargs.setdefault("name", inner.name)
            kwargs.setdefault("reduction", inner.reduction)
            super().__init__(**kwargs)
            self.inner = inner

        def call(self, y_true, y_pred):
            return self.inner.call(y_true, tf.cast(y_pred, tf.float32))

        def get_config(self):
            return self.inner.get_config()

    return Float32Loss


def Float32Loss(inner):  # noqa: N802 - reads as the class it builds (Keras is imported lazily)
    """Wraps a Keras loss so that it is computed on float32 logits; see `compile_classifier`."""
    return _float32_loss_class()(inner)
