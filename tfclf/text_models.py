"""ktrain's model builders: ``text_classifier``, ``text_regression_model`` and their
``print_*`` listings (``from tfclf import text``).

The classic names build a `tfclf.classic_models` model over the word ids of
``preprocess_mode="standard"``; "bert" and "distilbert" ask the `tfclf.Transformer` made by that
mode for its classifier. Every model comes back compiled (`tfclf.classifier.compile_classifier`)
for ``tfclf.get_learner``.
"""

from __future__ import annotations

from typing import Any

from tfclf.ktrain_data import as_dataset
from tfclf.labels import MULTICLASS, MULTILABEL, REGRESSION, LabelCodec

TEXT_CLASSIFIERS = {
    "fasttext": "a fastText-like model: the mean of word (and n-gram) embeddings, one hidden layer "
                "[https://arxiv.org/abs/1607.01759]",
    "logreg": "logistic regression over binarized word (and n-gram) features",
    "nbsvm": "NBSVM: a linear model over Naive Bayes log-count ratios [https://www.aclweb.org/anthology/P12-2018]",
    "bigru": "a bidirectional GRU over word embeddings (randomly initialized: tfclf downloads no word vectors, "
             "where ktrain downloads fastText's)",
    "standard_gru": "two GRU layers over randomly initialized word embeddings",
    "bert": "BERT (Hugging Face transformers, TensorFlow) [https://arxiv.org/abs/1810.04805]",
    "distilbert": "DistilBERT, a distilled, smaller and faster BERT [https://arxiv.org/abs/1910.01108]",
}
TEXT_REGRESSION_MODELS = {
    "linreg": "linear regression over binarized word (and n-gram) features",
    "bigru": TEXT_CLASSIFIERS["bigru"],
    "standard_gru": TEXT_CLASSIFIERS["standard_gru"],
    "bert": TEXT_CLASSIFIERS["bert"],
    "distilbert": TEXT_CLASSIFIERS["distilbert"],
}
TRANSFORMER_NAMES = ("bert", "distilbert")


def print_text_classifiers() -> None:
    """Lists the names `text_classifier` accepts."""
    for name, what in TEXT_CLASSIFIERS.items():
        print(f"{name}: {what}")


def print_text_regression_models() -> None:
    """Lists the names `text_regression_model` accepts."""
    for name, what in TEXT_REGRESSION_MODELS.items():
        print(f"{name}: {what}")


def text_classifier(name: str, train_data: Any, preproc: Any = None, multilabel: bool | None = None,
                    metrics: Any = ("accuracy",), verbose: int = 1):
    """A compiled text classifier, as ktrain's ``text.text_classifier``.

    Args:
        name: one of `TEXT_CLASSIFIERS` (`print_text_classifiers` lists them).
        train_data: ``(x_train, y_train)`` from a ``text.texts_from_*`` function, or a
            `TextDataset`. The classic models size themselves on it (NBSVM also computes its
            log-count ratios from it).
        preproc: the preprocessor ``texts_from_*`` returned: required for "bert" and "distilbert";
            for the classic models it sets the vocabulary size and names the classes.
        multilabel: None decides from the labels; True / False must agree with them.
        metrics: Keras metrics; ``["accuracy"]`` (ktrain's default) is the metric that fits the
            label mode (accuracy of argmax, or of each label at 0.5 for multi-label).
        verbose: 1 prints what is built.
    """
    return _build(name, train_data, preproc, multilabel, metrics, verbose, TEXT_CLASSIFIERS, regression=False)


def text_regression_model(name: str, train_data: Any, preproc: Any = None, metrics: Any = ("mae",),
                          verbose: int = 1):
    """A compiled text regression model (ktrain's ``text.text_regression_model``): one of
    `TEXT_REGRESSION_MODELS`, for numeric labels (``is_regression=True``, or numbers without
    class names in ``texts_from_array``)."""
    return _build(name, train_data, preproc, None, metrics, verbose, TEXT_REGRESSION_MODELS, regression=True)


def _build(name, train_data, preproc, multilabel, metrics, verbose, names: dict, regression: bool):
    from tfclf.preprocess import Transformer
    from tfclf.standard import StandardPreprocessor

    what = "text_regression_model" if regression else "text_classifier"
    if name not in names:
        other = "text_classifier" if regression else "text_regression_model"
        hint = f"; {name!r} is a name for {other}" if isinstance(name, str) and name in (
            TEXT_CLASSIFIERS if regression else TEXT_REGRESSION_MODELS) else ""
        raise ValueError(f"unknown {what} name {name!r}{hint}; choose one of {list(names)}")
    data = as_dataset(train_data, "train_data")
    if data is None:
        raise ValueError(f"{what} needs train_data: the (x_train, y_train) that text.texts_from_* returned")
    if data.targets is None:
        raise ValueError("train_data has no labels")
    if (data.mode == REGRESSION) != regression:
        raise ValueError(f"the labels are {data.mode}: use "
                         f"{'text_regression_model' if data.mode == REGRESSION else 'text_classifier'}")
    if multilabel is not None and bool(multilabel) != (data.mode == MULTILABEL):
        raise ValueError(f"multilabel={multilabel} disagrees with the labels, which are {data.mode}")
    metrics = _metrics(metrics)
    if name in TRANSFORMER_NAMES:
        if not isinstance(preproc, Transformer):
            raise ValueError(f"{what}({name!r}) needs preproc=, the preprocessor of texts_from_*(..., "
                             f"preprocess_mode={name!r})")
        if verbose:
            print(f"{name}: {preproc.model_name}, {data.mode}, {len(preproc.get_classes())} output(s)")
        return preproc.get_classifier(metrics=metrics)
    if isinstance(preproc, Transformer):
        raise ValueError(f"{name!r} reads word ids: load the texts with preprocess_mode='standard', "
                         f"not a transformer mode")
    if preproc is not None and not isinstance(preproc, StandardPreprocessor):
        raise TypeError(f"preproc must be the preprocessor texts_from_* returned, got {type(preproc).__name__}")
    return _build_classic(name, data, preproc, metrics, verbose)


def _build_classic(name, data, preproc, metrics, verbose):
    """The classic model `name`, compiled, for `data` (and `preproc`, when given)."""
    import numpy as np

    from tfclf.classic_models import SEQUENCE_MODELS, build_classic, config_for, nb_ratios
    from tfclf.classifier import compile_classifier

    if preproc is not None:
        codec, size = preproc._codec(), preproc.vocabulary_size
        if name in SEQUENCE_MODELS and preproc.ngram_range > 1:
            raise ValueError(f"{name!r} reads words in order: load the texts with ngram_range=1 "
                             "(n-gram features suit nbsvm, logreg, linreg and fasttext)")
    else:
        # ktrain allows text_classifier('nbsvm', (x, y)) without preproc: size the model on the data
        size = int(data.ids.max()) + 1 if len(data.ids) else 1
        k = 1 if data.mode == REGRESSION else (int(data.targets.max()) + 1 if data.mode == MULTICLASS
                                               else data.targets.shape[1])
        codec = LabelCodec.from_json({"mode": data.mode, "classes": [str(i) for i in range(k)]})
    config = config_for(name, size, codec)
    ratios = None
    if name == "nbsvm":
        rows = [data.token_ids(i) for i in range(len(data))]
        ratios = nb_ratios(rows, data.targets, data.mode, size, config.num_labels)
    model = build_classic(config, ratios=ratios)
    compile_classifier(model, metrics=metrics)
    if verbose:
        print(f"{name}: {size - 1} features, {data.mode}, {config.num_labels} output(s), "
              f"{int(np.sum([np.prod(w.shape) for w in model.trainable_weights]))} trainable weights")
    return model


def _metrics(metrics: Any):
    """ktrain's ``["accuracy"]`` / ``["mae"]`` defaults mean tfclf's defaults, which fit the label
    mode and read logits (Keras' "accuracy" on a multi-label model's logits would be wrong)."""
    if metrics is None:
        return None
    values = [metrics] if isinstance(metrics, str) else list(metrics)
    if all(isinstance(m, str) and m in ("accuracy", "acc", "mae") for m in values):
        return None
    return values
