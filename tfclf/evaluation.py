"""`Evaluation`: one prediction pass over a labeled dataset, and every inspection answered from it.

As fastai's interpretation objects do, it predicts once; the report, the scores, the confusion
matrix and the top losses are computed from those probabilities. `Learner.evaluation()` builds
one (and keeps it until the model changes); `Learner.validate`, `metrics`, `top_losses`,
`view_top_losses` and `plot_confusion_matrix` read it, and so does `cross_validate`.
"""

from __future__ import annotations

import functools
import math
import textwrap
from pathlib import Path

import numpy as np

from tfclf.classifier import set_temperature, set_thresholds, temperature_of, thresholds_of
from tfclf.data import TextDataset
from tfclf.inference import LogitsFunction, document_probabilities, per_example_loss, predict_logits
from tfclf.labels import MULTICLASS, MULTILABEL, REGRESSION
from tfclf.multilabel import DEFAULT_THRESHOLD, Thresholds, multilabel_metrics, thresholds_array, tune_thresholds


class Evaluation:
    """Probabilities for a labeled dataset, and what can be read from them.

    Args:
        probs: one row per document of `data` (`tfclf.inference.predict_documents`).
        data: the labeled `TextDataset` they were predicted for.
        class_names: names of the model's outputs (default: "0", "1", ...).
        thresholds: multi-label decision thresholds (one, or one per label; default 0.5), or a
            binary model's tuned positive-class threshold (a list of one).

    Example:
        >>> ev = learner.evaluation()                       # doctest: +SKIP
        >>> ev.metrics["accuracy"], ev.top_losses(3)        # doctest: +SKIP
    """

    def __init__(self, probs: np.ndarray, data: TextDataset, class_names: list[str] | None = None,
                 thresholds=None):
        if data.targets is None:
            raise ValueError("an evaluation needs labeled data: preprocess it with y=...")
        self.probs = np.asarray(probs)
        self.data = data
        self.mode = data.mode
        self.y_true = data.doc_targets
        k = 1 if self.mode == REGRESSION else self.probs.shape[1]
        self.class_names = list(class_names) if class_names else [str(i) for i in range(k)]
        self.thresholds = DEFAULT_THRESHOLD if thresholds is None else thresholds
        self.tuned = thresholds is not None

    @property
    def num_outputs(self) -> int:
        return self.probs.shape[1]

    @functools.cached_property
    def y_pred(self) -> np.ndarray:
        """Predicted class ids (single-label), 0/1 rows at the thresholds (multi-label) or values."""
        if self.mode == REGRESSION:
            return self.probs.reshape(len(self.probs), -1)[:, 0]
        if self.mode == MULTILABEL:
            return (self.probs >= thresholds_array(self.thresholds, self.num_outputs)).astype(int)
        if self.tuned and self.probs.shape[1] == 2:  # a binary model's tuned positive-class threshold
            return (self.probs[:, 1] >= thresholds_array(self.thresholds, 1)[0]).astype(int)
        return self.probs.argmax(axis=1)

    @functools.cached_property
    def metrics(self) -> dict:
        """The scores as numbers, for the data's mode.

        Single-label: accuracy, macro-F1 and log loss (scikit-learn's, on the softmax
        probabilities). Multi-label: micro- and macro-F1, Hamming loss, exact-match ratio and
        per-label precision/recall/F1 at the thresholds. Regression: MAE, MSE and RMSE.
        """
        from sklearn import metrics

        if self.mode == REGRESSION:
            err = self.y_pred - self.y_true
            mse = float((err**2).mean())
            return {"mae": float(np.abs(err).mean()), "mse": mse, "rmse": math.sqrt(mse)}
        if self.mode == MULTILABEL:
            return multilabel_metrics(self.y_true, self.probs, self.thresholds, self.class_names)
        k = self.num_outputs
        y_true = self.y_true.astype(int)
        return {
            "accuracy": float(metrics.accuracy_score(y_true, self.y_pred)),
            "macro_f1": float(metrics.f1_score(y_true, self.y_pred, average="macro", labels=list(range(k)),
                                               zero_division=0)),
            "log_loss": float(metrics.log_loss(y_true, np.clip(self.probs, 1e-7, 1), labels=list(range(k)))),
        }

    def _names(self, class_names: list[str] | None) -> list[str]:
        names = list(class_names) if class_names else self.class_names
        if len(names) != self.num_outputs:
            raise ValueError(f"class_names has {len(names)} names; the model has {self.num_outputs} outputs")
        return names

    def confusion_matrix(self) -> np.ndarray:
        """Single-label: true classes in rows, predictions in columns. Multi-label: one 2 x 2
        matrix per label (scikit-learn's ``multilabel_confusion_matrix``)."""
        from sklearn import metrics

        if self.mode == REGRESSION:
            raise ValueError("a confusion matrix needs class labels; this data is regression")
        if self.mode == MULTILABEL:
            return metrics.multilabel_confusion_matrix(self.y_true.astype(int), self.y_pred)
        return metrics.confusion_matrix(self.y_true.astype(int), self.y_pred, labels=list(range(self.num_outputs)))

    def report(self, class_names: list[str] | None = None) -> str:
        """scikit-learn's classification report (multi-label: with micro/macro-F1, Hamming loss
        and exact match at the thresholds), or MAE / MSE / RMSE for regression."""
        from sklearn import metrics

        if self.mode == REGRESSION:
            m = self.metrics
            return f"MAE: {m['mae']:.4f}  MSE: {m['mse']:.4f}  RMSE: {m['rmse']:.4f}"
        k = self.num_outputs
        text = metrics.classification_report(self.y_true.astype(int), self.y_pred, labels=list(range(k)),
                                             target_names=self._names(class_names), digits=4, zero_division=0)
        if self.mode == MULTILABEL:
            m = self.metrics
            how = "tuned thresholds" if self.tuned else "threshold 0.5"
            text += (f"\nmicro-F1 {m['micro_f1']:.4f}  macro-F1 {m['macro_f1']:.4f}  "
                     f"Hamming loss {m['hamming_loss']:.4f}  exact match {m['subset_accuracy']:.4f}  ({how})\n")
        return text

    def validate(self, print_report: bool = True, class_names: list[str] | None = None,
                 save_path: str | Path | None = None):
        """ktrain's ``validate``: prints the report and returns the confusion matrix (regression:
        ``{"mae", "mse"}``); the report is written to `save_path` when given."""
        if self.mode == REGRESSION:
            if print_report:
                print(self.report())
            return {"mae": self.metrics["mae"], "mse": self.metrics["mse"]}
        report = self.report(class_names)
        cm = self.confusion_matrix()
        if print_report:
            print(report)
            if self.mode != MULTILABEL:
                print(cm)
        if save_path:
            Path(save_path).write_text(report)
        return cm

    @functools.cached_property
    def losses(self) -> np.ndarray:
        """The loss the model was trained with, per document."""
        return per_example_loss(self.probs, self.y_true, self.mode)

    def top_losses(self, n: int | tuple[int, int] = 4, class_names: list[str] | None = None) -> list[tuple]:
        """The documents with the highest loss, worst first, as ``(index, loss, truth, predicted)``.

        Args:
            n: how many (an int), or a ``(start, end)`` range of ranks.
            class_names: when given, truth and prediction are class names (else ids).
        """
        start, end = (0, n) if isinstance(n, (int, np.integer)) else tuple(n)
        if isinstance(start, bool) or start < 0 or end < start:
            raise ValueError(f"n must be a positive int or a (start, end) range, got {n!r}")
        order = np.argsort(-self.losses, kind="stable")
        return [(int(i), float(self.losses[i]), *self._labels_of(i, class_names)) for i in order[start:end]]

    def _labels_of(self, i: int, names: list[str] | None) -> tuple:
        target, prob = self.y_true[i], self.probs[i]
        if self.mode == REGRESSION:
            return float(target), float(np.ravel(prob)[0])
        if self.mode == MULTILABEL:
            t = [int(j) for j in np.flatnonzero(target)]
            p = [int(j) for j in np.flatnonzero(self.y_pred[i])]
            return ([names[j] for j in t], [names[j] for j in p]) if names else (t, p)
        t, p = int(target), int(np.argmax(prob))
        return (names[t], names[p]) if names else (t, p)

    def view_top_losses(self, n: int | tuple[int, int] = 4, class_names: list[str] | None = None,
                        max_chars: int = 300) -> None:
        """Prints the worst documents with the start of each one's text."""
        for idx, loss, truth, pred in self.top_losses(n, class_names):
            print("-" * 78)
            print(f"id:{idx} | loss:{loss:.4f} | true:{truth} | pred:{pred}")
            if self.data.texts is not None:
                snippet = " ".join(self.data.texts[idx].split())
                if len(snippet) > max_chars:
                    snippet = snippet[:max_chars].rstrip() + " ..."
                print(textwrap.fill(snippet, width=78) if snippet else "(empty text)")
        print("-" * 78)

    def calibration(self, n_bins: int = 15) -> dict:
        """How honest the probabilities are: expected calibration error (`n_bins` equal-width
        bins), log loss, Brier score and accuracy (`tfclf.calibration.calibration_report`)."""
        from tfclf.calibration import calibration_report

        return calibration_report(self.probs, None, self.y_true, self.mode, n_bins)["before"]

    def reliability_curve(self, n_bins: int = 15) -> dict:
        """Accuracy against confidence per bin (`tfclf.calibration.reliability_curve`)."""
        from tfclf.calibration import reliability_curve

        return reliability_curve(self.probs, self.y_true, self.mode, n_bins)

    def plot_reliability(self, n_bins: int = 15, show: bool = True, save_path: str | Path | None = None):
        """The reliability diagram: a calibrated model's bars follow the diagonal."""
        from tfclf import plots

        return plots.reliability_plot(self.reliability_curve(n_bins), show=show, save_path=save_path)

    def risk_coverage(self, thresholds=None) -> dict:
        """Accuracy of the texts answered against the fraction answered, when texts whose top
        probability is under a threshold abstain (``predict(..., min_confidence=p)``)."""
        from tfclf.calibration import risk_coverage

        return risk_coverage(self.probs, self.y_true, self.mode, thresholds)

    def plot_risk_coverage(self, show: bool = True, save_path: str | Path | None = None):
        """The risk-coverage curve: pick `min_confidence` where the accuracy is what you need."""
        from tfclf import plots

        return plots.risk_coverage_plot(self.risk_coverage(), show=show, save_path=save_path)

    def plot_confusion_matrix(self, class_names: list[str] | None = None, normalize: bool = False,
                              show: bool = True, save_path: str | Path | None = None):
        """The confusion matrix as a figure (true classes in rows, predictions in columns)."""
        from tfclf import plots

        if self.mode != MULTICLASS:
            raise ValueError(f"a confusion matrix needs single-label classes; this data is {self.mode}")
        return plots.confusion_matrix_plot(self.confusion_matrix(), self._names(class_names), normalize=normalize,
                                           show=show, save_path=save_path)


class EvaluationMixin:
    """The Learner's ktrain-named inspections, each a thin reader of `Learner.evaluation()`.

    Uses the Learner's model, validation data (`_val`) and evaluation batch size. The last
    prediction pass is kept until the model changes, so that `validate` then `top_losses` then
    `plot_confusion_matrix` predict once.
    """

    def _model_version(self) -> tuple:
        """Changes whenever the weights may have: an optimizer step, `load_model`, or new values
        in the output layer (weights set by hand change it too)."""
        from tfclf._compat import keras

        head = [float(np.abs(v.numpy()).sum()) for v in self.model.trainable_variables[-2:]]
        return int(keras.backend.get_value(self.model.optimizer.iterations)), self._weights_loaded, *head

    def _logits(self, data: TextDataset) -> np.ndarray:
        """The model's per-row logits for `data`, from the last pass while the model is unchanged."""
        version = self._model_version()
        if self._predicted is not None and self._predicted[0] is data and self._predicted[1] == version:
            return self._predicted[2]
        if self._logits_fn is None:
            self._logits_fn = LogitsFunction(self.model)
        logits = predict_logits(self._logits_fn, data, self.eval_batch_size)
        self._predicted = (data, version, logits)
        return logits

    def _probabilities(self, data: TextDataset) -> np.ndarray:
        """Per-document probabilities, at the temperature `calibrate` fitted (1 before)."""
        return document_probabilities(self._logits(data), data.mode, temperature_of(self.model),
                                      doc_ids=data.doc_ids, n_docs=data.n_docs, aggregate=data.aggregate)

    def predict(self, val_data: TextDataset | None = None) -> np.ndarray:
        """Probabilities (or regression values) for every document of `val_data`, in its order."""
        return self._probabilities(self._val(val_data)).copy()

    def evaluation(self, val_data: TextDataset | None = None) -> Evaluation:
        """The `Evaluation` of the model on `val_data` (default: the validation data): one
        prediction pass, from which the report, scores, confusion matrix and top losses are read.

        Example:
            >>> ev = learner.evaluation()                   # doctest: +SKIP
            >>> ev.metrics, ev.top_losses(3)                # doctest: +SKIP
        """
        data = self._val(val_data)
        probs = self._probabilities(data)
        k = 1 if probs.ndim == 1 else probs.shape[1]
        return Evaluation(probs, data, class_names=self._class_names(k), thresholds=self.thresholds_)

    @property
    def thresholds_(self) -> list[float] | None:
        """Multi-label thresholds from `tune_thresholds` (kept in the model's configuration), or None."""
        return thresholds_of(self.model)

    def metrics(self, val_data: TextDataset | None = None) -> dict:
        """The validation scores as numbers, for the data's mode (`Evaluation.metrics`).

        Single-label: accuracy, macro-F1 and log loss (scikit-learn's, on the softmax
        probabilities). Multi-label: micro- and macro-F1, Hamming loss, exact-match ratio and
        per-label precision/recall/F1 at the thresholds in use (tuned or 0.5). Regression: MAE,
        MSE and RMSE.
        """
        return self.evaluation(val_data).metrics

    def validate(self, val_data: TextDataset | None = None, print_report: bool = True,
                 class_names: list[str] | None = None, save_path: str | None = None):
        """Prints scikit-learn's classification report and returns the confusion matrix.

        Multi-label data is judged at the thresholds in use (those of `tune_thresholds`, else
        0.5): the report gives per-label precision/recall/F1 and the micro and macro averages,
        followed by Hamming loss and the exact-match ratio; it returns per-label confusion
        matrices (``multilabel_confusion_matrix``). Regression prints MAE and MSE and returns them.
        """
        return self.evaluation(val_data).validate(print_report=print_report, class_names=class_names,
                                                  save_path=save_path)

    def tune_thresholds(self, val_data: TextDataset | None = None, metric: str = "micro_f1",
                        verbose: int = 1) -> Thresholds:
        """Multi-label: searches per-label decision thresholds that maximise `metric` on `val_data`.
        Binary single-label: the positive (second) class's threshold that maximises its F1.

        The thresholds are kept in the model's configuration (``thresholds_``) and used by
        `validate`, `top_losses` and by a predictor made from this model with `get_predictor`,
        which saves them.

        Args:
            val_data: labeled multi-label data (default: the validation data). Tune on data
                the model did not train on, and judge the result on yet other data.
            metric: "micro_f1" or "macro_f1".

        Returns:
            `tfclf.multilabel.Thresholds` (the thresholds, and the score at 0.5, with the best
            global threshold and with the per-label ones).

        Example:
            >>> learner.tune_thresholds(metric="micro_f1")  # doctest: +SKIP
        """
        data = self._val(val_data)
        probs = self._probabilities(data)
        if data.mode == MULTICLASS and probs.shape[1] == 2:
            from tfclf.multilabel import tune_binary_threshold

            result = tune_binary_threshold(data.doc_targets, probs)
            set_thresholds(self.model, list(result.thresholds))
            if verbose:
                print(f"F1 of the positive class: {result.score_at_default:.4f} at 0.5, {result.score:.4f} at "
                      f"{result.thresholds[0]:.2f}")
            return result
        if data.mode != MULTILABEL:
            raise ValueError(f"tune_thresholds is for multi-label and binary data; this data is {data.mode}")
        result = tune_thresholds(data.doc_targets, probs, metric=metric)
        set_thresholds(self.model, list(result.thresholds))
        if verbose:
            print(f"{metric}: {result.score_at_default:.4f} at 0.5, {result.score_global:.4f} at the best global "
                  f"threshold {result.global_threshold:.2f}, {result.score:.4f} with per-label thresholds "
                  f"{', '.join(f'{t:.2f}' for t in result.thresholds)}")
        return result

    def calibrate(self, val_data: TextDataset | None = None, n_bins: int = 15, verbose: int = 1) -> dict:
        """Fits a temperature on `val_data` (default: the validation data) by minimising log loss.

        The temperature is kept in the model's configuration: this Learner's evaluations and a
        predictor made with `get_predictor` (which saves it) use it. Single-label predictions
        never change. See `Predictor.calibrate` for the returned report.
        """
        from tfclf.calibration import calibrate_logits, summary

        data = self._val(val_data)
        report = calibrate_logits(self._logits(data), data, n_bins=n_bins)
        set_temperature(self.model, report["temperature"])
        if verbose:
            print(summary(report))
        return report

    def evaluate(self, test_data: TextDataset | None = None, print_report: bool = True,
                 save_path: str | None = None, class_names: list[str] | None = None):
        """ktrain's alias of `validate`, on `test_data` (default: the validation data)."""
        return self.validate(val_data=test_data, print_report=print_report, class_names=class_names,
                             save_path=save_path)

    def _class_names(self, k: int) -> list[str]:
        id2label = getattr(getattr(self.model, "config", None), "id2label", None) or {}
        names = [id2label.get(i) for i in range(k)]
        return names if all(isinstance(n, str) for n in names) else [str(i) for i in range(k)]

    def top_losses(self, n: int | tuple[int, int] = 4, val_data: TextDataset | None = None, preproc=None) -> list[tuple]:
        """The validation examples with the highest loss, worst first.

        Args:
            n: how many (an int), or a ``(start, end)`` range of ranks.
            preproc: the `Transformer`; when given, truth and prediction are class names (else ids).

        Returns:
            A list of ``(index, loss, truth, predicted)``.
        """
        names = preproc.get_classes() if preproc is not None else None
        return self.evaluation(val_data).top_losses(n, class_names=names)

    def view_top_losses(self, n: int | tuple[int, int] = 4, preproc=None, val_data: TextDataset | None = None,
                        max_chars: int = 300) -> None:
        """Prints the worst validation examples WITH the start of each document's text."""
        names = preproc.get_classes() if preproc is not None else None
        self.evaluation(val_data).view_top_losses(n, class_names=names, max_chars=max_chars)

    def plot_confusion_matrix(self, val_data: TextDataset | None = None, class_names: list[str] | None = None,
                              normalize: bool = False, show: bool = True, save_path: str | Path | None = None):
        """The validation confusion matrix as a figure (true classes in rows, predictions in columns).

        Example:
            >>> learner.plot_confusion_matrix(normalize=True, save_path="cm.png")  # doctest: +SKIP
        """
        return self.evaluation(val_data).plot_confusion_matrix(class_names=class_names, normalize=normalize,
                                                               show=show, save_path=save_path)

