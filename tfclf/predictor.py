"""`Predictor`: a preprocessor and a model for predicting, explaining and saving.

`Predictor.save` writes a folder that `load_predictor` rebuilds from local files only; its format
(manifest.json, checksums, no pickle) is `tfclf.manifest`'s.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tfclf._util import positive_int, positive_number
from tfclf.inference import LogitsFunction, predict_documents
from tfclf.manifest import read_manifest
from tfclf.preprocess import Transformer
from tfclf.texts import check_texts


class Predictor:
    """Predicts, explains and saves: a fitted `Transformer` plus its trained model.

    Args:
        model: the trained tf.keras model.
        preproc: the `Transformer` whose `preprocess_train` defined the labels.
        batch_size: documents per forward pass.
        threshold: multi-label decision threshold (one, or one per class).
        temperature: probabilities are softmax (sigmoid) of the logits divided by it; 1 is the
            model as trained, `calibrate` fits another (see `tfclf.calibration`).

    Example:
        >>> predictor = tfclf.get_predictor(learner.model, t)        # doctest: +SKIP
        >>> predictor.predict("The doctor prescribed antibiotics.")  # doctest: +SKIP
        'sci.med'
        >>> predictor.save("saved_predictors/news")                  # doctest: +SKIP
        >>> tfclf.load_predictor("saved_predictors/news").predict_proba(["..."])  # doctest: +SKIP
    """

    def __init__(self, model, preproc: Transformer, batch_size: int = 32, threshold=0.5, temperature: float = 1.0):
        if not isinstance(preproc, Transformer):
            raise TypeError(f"preproc must be the Transformer used for preprocessing, got {type(preproc).__name__}")
        positive_int(batch_size, "batch_size")
        preproc._codec()  # a Predictor needs the learned labels
        self.model = model
        self.preproc = preproc
        self.batch_size = int(batch_size)
        self.threshold = _check_threshold(threshold, len(preproc.get_classes()))
        self.temperature = positive_number(temperature, "temperature")
        self._fn: LogitsFunction | None = None
        # The manifest `load_predictor` read (None for a predictor made in this process).
        self.manifest_: dict | None = None

    def get_classes(self) -> list[str]:
        """Class names, in the order of `predict_proba`'s columns."""
        return self.preproc.get_classes()

    @property
    def classes_(self) -> list[str]:
        return self.get_classes()

    @property
    def mode(self) -> str:
        return self.preproc.mode_

    def _logits_fn(self) -> LogitsFunction:
        """The compiled forward pass, traced on first use."""
        if self._fn is None:
            self._fn = LogitsFunction(self.model)
        return self._fn

    def _forward(self, texts: list[str]) -> np.ndarray:
        return predict_documents(self._logits_fn(), self.preproc.dataset(texts), self.batch_size,
                                 temperature=positive_number(self.temperature, "temperature"))

    def predict_proba(self, texts: str | Sequence[str]) -> np.ndarray:
        """Class probabilities: one row per text (a 1-D row for a single string).

        Single-label rows sum to 1 (softmax); multi-label columns are independent (sigmoid).
        An empty string is a valid input: it is classified from the special tokens alone.
        """
        single = isinstance(texts, str)
        probs = self._forward([texts] if single else check_texts(texts))
        return probs[0] if single else probs

    def predict(self, texts: str | Sequence[str], return_proba: bool = False, min_confidence: float | None = None):
        """Labels for a string (one label) or a list of strings (a list of labels).

        Multi-label predictions are lists of the classes whose probability is >= the threshold
        (`threshold`: 0.5, or per-label values from `tune_thresholds`); an empty list means no
        class reached its threshold. With ``return_proba=True`` this is `predict_proba`.

        Args:
            min_confidence: abstain below it: a text whose highest class probability is under
                this number gets None instead of a label (choose it from a risk-coverage curve,
                `Evaluation.risk_coverage`, on calibrated probabilities).
        """
        if return_proba:
            return self.predict_proba(texts)
        single = isinstance(texts, str)
        probs = self._forward([texts] if single else check_texts(texts))
        labels = self.decode(probs, min_confidence=min_confidence)
        return labels[0] if single else labels

    def decode(self, probs: np.ndarray, min_confidence: float | None = None) -> list:
        """Labels for rows of `predict_proba` output (multi-label: the classes >= the threshold);
        None for rows whose highest probability is below `min_confidence`."""
        threshold = _check_threshold(self.threshold, len(self.get_classes()))  # it may have been reassigned
        probs = np.atleast_2d(probs)
        labels = self.preproc.codec_.decode(probs, threshold=threshold)
        if min_confidence is None:
            return labels
        from tfclf.probability_checks import check_confidence

        if self.mode == "regression":
            raise ValueError("min_confidence applies to class probabilities; this model predicts numbers (regression)")
        sure = probs.max(axis=1) >= check_confidence(min_confidence)
        return [label if ok else None for label, ok in zip(labels, sure)]

    def calibrate(self, texts: Sequence[str], labels, n_bins: int = 15, verbose: int = 1) -> dict:
        """Fits the temperature that makes the probabilities honest on labeled held-out `texts`.

        Temperature scaling (Guo et al. 2017): one number T minimises the log loss of
        softmax(logits / T); single-label labels never change. The temperature becomes this
        predictor's (saved with it, used by every path that returns probabilities). Use texts
        the model did not train on, and judge the result on yet other texts.

        Returns:
            ``{"temperature", "n_bins", "before", "after"}``: expected calibration error, log loss,
            Brier score and accuracy with the model as trained and with the temperature
            (`tfclf.calibration.calibration_report`).
        """
        from tfclf.calibration import calibrate_logits, summary
        from tfclf.inference import predict_logits

        texts = check_texts(texts)
        data = self.preproc.dataset(texts, labels)
        report = calibrate_logits(predict_logits(self._logits_fn(), data, self.batch_size), data, n_bins=n_bins)
        self.temperature = report["temperature"]
        if verbose:
            print(summary(report))
        return report

    def predict_file(self, source, output: str | os.PathLike, batch_size: int | None = None,
                     chunk_size: int = 1024, text_column: str = "text", progress: bool = True,
                     min_confidence: float | None = None) -> dict:
        """Predicts a corpus of any size, streaming: memory does not grow with the number of texts.

        Texts are read `chunk_size` at a time from `source` and each chunk's results are appended
        to `output` before the next chunk is read. See `tfclf.streaming` for the formats.

        Args:
            source: a file (``.txt`` one text per line, ``.jsonl``, ``.csv`` / ``.tsv``) or any
                iterable of strings (e.g. a generator reading a database).
            output: the result file: ``.csv`` (row, label, one probability column per class) or
                JSON lines (any other name).
            batch_size: texts per forward pass (default: the predictor's).
            chunk_size: texts read, predicted and written at a time.
            text_column: the text's key or column in JSON lines / CSV input.
            progress: print a running count and rate on stderr.
            min_confidence: abstain below it (the label is empty / null), as in `predict`.

        Returns:
            ``{"documents", "seconds", "docs_per_s", "output"}``.

        Example:
            >>> predictor.predict_file("corpus.txt", "predictions.jsonl")  # doctest: +SKIP
        """
        from tfclf.streaming import predict_stream

        if batch_size is None:
            return predict_stream(self, source, output, chunk_size, text_column, progress, min_confidence)
        previous, self.batch_size = self.batch_size, positive_int(batch_size, "batch_size")
        try:
            return predict_stream(self, source, output, chunk_size, text_column, progress, min_confidence)
        finally:
            self.batch_size = previous

    def tune_thresholds(self, texts: Sequence[str], labels, metric: str = "micro_f1", verbose: int = 1):
        """Multi-label: picks per-label thresholds that maximise `metric` on labeled `texts`.

        The thresholds become this predictor's `threshold` (and are saved with it). Use texts the
        model did not train on.

        Args:
            texts: validation documents.
            labels: their labels, as given to `preprocess_train` (lists of class names, or rows
                of 0/1 per class).
            metric: "micro_f1" or "macro_f1".

        Returns:
            `tfclf.multilabel.Thresholds`.
        """
        from tfclf.multilabel import tune_thresholds

        if self.mode != "multilabel":
            raise ValueError(f"tune_thresholds is for multi-label predictors; this one is {self.mode}")
        texts = check_texts(texts)
        if len(labels) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(labels)} labels: give one label row per text")
        targets = self.preproc.codec_.encode(labels)
        result = tune_thresholds(targets, self.predict_proba(texts), metric=metric)
        self.threshold = list(result.thresholds)
        if verbose:
            print(f"{metric}: {result.score_at_default:.4f} at 0.5, {result.score:.4f} with per-label thresholds")
        return result

    def explain(self, doc: str, num_features: int = 10, num_samples: int | None = None,
                class_name: str | None = None, truncate_len: int = 512, all_targets: bool = False,
                seed: int = 0, n_samples: int | None = None):
        """Explains one prediction with LIME: which words push the model towards a class.

        Args:
            doc: the text to explain.
            num_features: how many words to weigh.
            num_samples: perturbed texts LIME predicts (default 1000; `n_samples` is ktrain's name).
            class_name: the class to explain (default: the predicted one).
            truncate_len: only the first `truncate_len` words are perturbed (speed).
            all_targets: explain every class (returns one `Explanation` per class).
            seed: LIME's random seed (explanations are repeatable).

        Returns:
            An `Explanation` (a list of them with ``all_targets=True``).
        """
        from tfclf.explain import explain_text

        # `is None`, not `or`: num_samples=0 must be refused, not silently become the default.
        samples = num_samples if num_samples is not None else n_samples
        return explain_text(self, doc, num_features=num_features, num_samples=samples,
                            class_name=class_name, truncate_len=truncate_len, all_targets=all_targets, seed=seed)

    # -- saving ----------------------------------------------------------------------------------
    def save(self, folder: str | os.PathLike) -> Path:
        """Writes the predictor to `folder` atomically (a temporary folder beside it, then a rename).

        An existing predictor at `folder` is replaced only once the new one is complete. Under
        MultiWorkerMirroredStrategy only the chief worker writes (the others hold the same model).
        """
        from tfclf import manifest
        from tfclf.distribute import is_chief
        from tfclf.pooling import pooling_of
        from tfclf.precision import model_precision

        if not isinstance(folder, (str, os.PathLike)) or not str(folder).strip():
            raise TypeError(f"folder must be a path, got {folder!r}")
        target = Path(folder).expanduser().resolve()
        manifest.check_target(target)
        if not is_chief():
            return target
        config = self.model.config
        content = manifest.build_manifest(
            model_name=self.preproc.saved_name(), model_type=config.model_type,
            architecture=type(self.model).__name__, precision=model_precision(self.model),
            reading=self.preproc.reading, labels=self.preproc.codec_.to_json(),
            threshold=_check_threshold(self.threshold, len(self.get_classes())), batch_size=self.batch_size,
            temperature=positive_number(self.temperature, "temperature"),
            # what the model was built with, whatever the preprocessor asked
            pooling=pooling_of(config))

        def write_files(tmp: Path) -> None:
            self.model.save_pretrained(str(tmp))
            self.preproc.get_tokenizer().save_pretrained(str(tmp))

        return manifest.write_folder(target, content, write_files)


def load_predictor(folder: str | os.PathLike, batch_size: int | None = None, custom_objects: Any = None,
                   precision: str = "auto") -> Predictor:
    """Reloads a predictor saved by `Predictor.save`, from local files only (no network).

    Args:
        folder: the saved predictor's folder.
        batch_size: override the saved batch size.
        custom_objects: accepted for ktrain compatibility; a tfclf predictor needs none.
        precision: the dtype policy to predict in (see `tfclf.precision`); "auto" is bfloat16 on
            CPUs with AMX / AVX512-BF16 and float16 on NVIDIA GPUs, whatever the model was trained
            in (the saved weights are float32). "float32" gives bit-for-bit repeatable
            probabilities across such machines.

    Example:
        >>> p = tfclf.load_predictor("saved_predictors/news")  # doctest: +SKIP
        >>> p.predict(["A new GPU renders the scene faster."])  # doctest: +SKIP
    """
    from tfclf.classifier import load_classifier
    from tfclf.models import load_tokenizer
    from tfclf.manifest import predictor_fields
    from tfclf.precision import resolve_precision

    manifest = read_manifest(folder)
    folder = Path(folder).expanduser().resolve()
    model = load_classifier(folder, resolve_precision(precision))
    tokenizer = load_tokenizer(folder)
    preproc = Transformer.from_saved(folder, manifest, tokenizer, model.config)
    saved = predictor_fields(manifest)
    predictor = Predictor(model, preproc, batch_size=batch_size or saved["batch_size"], threshold=saved["threshold"],
                          temperature=saved["temperature"])
    predictor.manifest_ = manifest
    return predictor


def get_predictor(model, preproc: Transformer, batch_size: int = 32) -> Predictor:
    """A `Predictor` for a trained model and its `Transformer` (ktrain's ``get_predictor``).

    A multi-label model whose thresholds were tuned (`Learner.tune_thresholds`) predicts with them,
    and a model calibrated by `Learner.calibrate` with its temperature.
    """
    from tfclf.classifier import temperature_of, thresholds_of

    tuned = thresholds_of(model)
    return Predictor(model, preproc, batch_size=batch_size, threshold=0.5 if tuned is None else tuned,
                     temperature=temperature_of(model))


def _check_threshold(threshold, k: int):
    """A float, or a list of k floats (per-label thresholds)."""
    from tfclf.multilabel import thresholds_array

    if isinstance(threshold, bool):
        raise TypeError(f"threshold must be a number or one number per class, got {threshold!r}")
    try:
        values = thresholds_array(threshold, k)
    except (TypeError, ValueError) as err:
        raise ValueError(f"invalid threshold {threshold!r}: {err}") from None
    return float(values[0]) if np.ndim(threshold) == 0 else [float(v) for v in values]
