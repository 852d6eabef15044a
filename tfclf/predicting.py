"""What every predictor does with texts, whatever computes its logits: probabilities, labels,
abstaining, calibration, thresholds, streaming and explanations.

`tfclf.Predictor` computes logits with the TensorFlow model it trained; `tfclf.runtime`'s
`ExportedPredictor` with an exported graph in ONNX Runtime, OpenVINO or a TF SavedModel. Both are a
`BasePredictor`, so they answer the same calls the same way. This module imports neither
TensorFlow nor transformers: an exported predictor runs without them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import numpy as np

from tfclf._util import positive_int, positive_number
from tfclf.data import TextDataset
from tfclf.texts import check_texts

# (input_ids, attention_mask) -> logits, one row per row of ids
LogitsFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


class BasePredictor:
    """Predicting, explaining and decoding on top of two hooks a subclass provides:

    - ``_dataset(texts, labels=None)``: the texts read as the model was trained to read them
      (a `TextDataset`, windows included);
    - ``_logits_fn()``: a function from a padded batch of token ids and its mask to logits.

    and a ``codec_`` (`tfclf.labels.LabelCodec`) holding the classes.
    """

    batch_size: int
    threshold: float | list[float]
    temperature: float

    def _init_settings(self, batch_size: int, threshold, temperature: float) -> None:
        positive_int(batch_size, "batch_size")
        self.batch_size = int(batch_size)
        self.threshold = check_threshold(threshold, len(self.get_classes()))
        self.temperature = positive_number(temperature, "temperature")

    # -- the hooks -------------------------------------------------------------------------------
    @property
    def codec_(self):
        raise NotImplementedError

    def _dataset(self, texts: list[str], labels=None) -> TextDataset:
        raise NotImplementedError

    def _logits_fn(self) -> LogitsFn:
        raise NotImplementedError

    def _embed_fn(self) -> LogitsFn:
        raise NotImplementedError(f"{type(self).__name__} cannot embed texts")

    # -- classes -----------------------------------------------------------------------------------
    def get_classes(self) -> list[str]:
        """Class names, in the order of `predict_proba`'s columns."""
        return list(self.codec_.classes_)

    @property
    def classes_(self) -> list[str]:
        return self.get_classes()

    @property
    def mode(self) -> str:
        return self.codec_.mode_

    # -- predicting --------------------------------------------------------------------------------
    def _forward(self, texts: list[str]) -> np.ndarray:
        from tfclf.inference import predict_documents

        return predict_documents(self._logits_fn(), self._dataset(texts), self.batch_size,
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

    def embed(self, texts: str | Sequence[str]) -> np.ndarray:
        """The pooled vector the classification head reads, one row per text (a 1-D row for a
        single string), in float32: for search, clustering and near-duplicate checks. A text read
        as several windows gets the mean of its windows' vectors.

        Example:
            >>> v = predictor.embed(["first text", "second text"])   # doctest: +SKIP
            >>> v.shape                                              # doctest: +SKIP
            (2, 384)
        """
        from tfclf.inference import predict_logits
        from tfclf.reading import aggregate

        single = isinstance(texts, str)
        data = self._dataset([texts] if single else check_texts(texts))
        rows = predict_logits(self._embed_fn(), data, self.batch_size)
        if data.doc_ids is not None:
            rows = aggregate(rows, data.doc_ids, data.n_docs).astype(np.float32)
        return rows[0] if single else rows

    def decode(self, probs: np.ndarray, min_confidence: float | None = None) -> list:
        """Labels for rows of `predict_proba` output (multi-label: the classes >= the threshold);
        None for rows whose highest probability is below `min_confidence`."""
        threshold = check_threshold(self.threshold, len(self.get_classes()))  # it may have been reassigned
        probs = np.atleast_2d(probs)
        labels = self.codec_.decode(probs, threshold=threshold)
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
        data = self._dataset(texts, labels)
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
        """Tunes the decision thresholds on labeled `texts` (ones the model did not train on).

        Multi-label: per-label thresholds that maximise `metric`. Binary single-label: the
        positive (second) class's threshold that maximises its F1 (`metric` is not used). The
        result becomes this predictor's `threshold` (saved with it, used by `predict`).

        Args:
            texts: validation documents.
            labels: their labels, as given to `preprocess_train` (lists of class names, or rows
                of 0/1 per class, for multi-label).
            metric: multi-label: "micro_f1" or "macro_f1".

        Returns:
            `tfclf.multilabel.Thresholds`.
        """
        from tfclf.multilabel import tune_binary_threshold, tune_thresholds

        binary = self.mode == "multiclass" and len(self.get_classes()) == 2
        if self.mode != "multilabel" and not binary:
            raise ValueError(f"tune_thresholds is for multi-label and binary predictors; this one is {self.mode} "
                             f"with {len(self.get_classes())} classes")
        texts = check_texts(texts)
        if len(labels) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(labels)} labels: give one label row per text")
        targets = self.codec_.encode(labels)
        if binary:
            result = tune_binary_threshold(targets, self.predict_proba(texts))
            self.threshold = float(result.thresholds[0])
            if verbose:
                print(f"F1 of {self.get_classes()[1]!r}: {result.score_at_default:.4f} at 0.5, "
                      f"{result.score:.4f} at {self.threshold:.2f}")
            return result
        result = tune_thresholds(targets, self.predict_proba(texts), metric=metric)
        self.threshold = list(result.thresholds)
        if verbose:
            print(f"{metric}: {result.score_at_default:.4f} at 0.5, {result.score:.4f} with per-label thresholds")
        return result

    def explain(self, doc: str, num_features: int = 10, num_samples: int | None = None,
                class_name: str | None = None, truncate_len: int = 512, all_targets: bool = False,
                seed: int = 0, n_samples: int | None = None, method: str = "lime", steps: int | None = None):
        """Explains one prediction: which words push the model towards a class.

        Args:
            doc: the text to explain.
            num_features: how many words to weigh.
            num_samples: perturbed texts LIME predicts (default 1000; `n_samples` is ktrain's name).
            class_name: the class to explain (default: the predicted one).
            truncate_len: only the first `truncate_len` words are perturbed (speed; LIME only).
            all_targets: explain every class (returns one `Explanation` per class).
            seed: LIME's random seed (explanations are repeatable).
            method: "lime" (LIME over `predict_proba`, any predictor) or "gradients" (Integrated
                Gradients of the class's logit, deterministic; needs the TensorFlow transformer
                model: `tfclf.attributions`).
            steps: Integrated Gradients' integration steps (default 32).

        Returns:
            An `Explanation` (a list of them with ``all_targets=True``).
        """
        if method == "gradients":
            from tfclf.attributions import DEFAULT_STEPS, explain_gradients

            if num_samples is not None or n_samples is not None:
                raise ValueError("num_samples is LIME's; method='gradients' takes steps=")
            return explain_gradients(self, doc, num_features=num_features, class_name=class_name,
                                     all_targets=all_targets, steps=DEFAULT_STEPS if steps is None else steps)
        if method != "lime":
            raise ValueError(f"unknown explanation method {method!r}: use 'lime' or 'gradients'")
        if steps is not None:
            raise ValueError("steps is for method='gradients'")
        from tfclf.explain import explain_text

        # `is None`, not `or`: num_samples=0 must be refused, not silently become the default.
        samples = num_samples if num_samples is not None else n_samples
        return explain_text(self, doc, num_features=num_features, num_samples=samples,
                            class_name=class_name, truncate_len=truncate_len, all_targets=all_targets, seed=seed)


def check_threshold(threshold, k: int):
    """A float, or a list of k floats (per-label thresholds)."""
    from tfclf.multilabel import thresholds_array

    if isinstance(threshold, bool):
        raise TypeError(f"threshold must be a number or one number per class, got {threshold!r}")
    try:
        values = thresholds_array(threshold, k)
    except (TypeError, ValueError) as err:
        raise ValueError(f"invalid threshold {threshold!r}: {err}") from None
    return float(values[0]) if np.ndim(threshold) == 0 else [float(v) for v in values]
