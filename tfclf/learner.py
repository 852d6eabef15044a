"""`Learner`: a compiled model plus its data, with the LR finder, 1cycle and inspection tools."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Any

import numpy as np

from tfclf import lr_finder, schedules
from tfclf._compat import keras
from tfclf.callbacks import BestWeightsGuard, EpochCheckpoint, Recorder, latest_checkpoint, restore_checkpoint
from tfclf._util import base_optimizer
from tfclf._util import positive_int as _check_positive_int
from tfclf.data import TextDataset
from tfclf.distribute import scope_of
from tfclf.inference import LogitsFunction, per_example_loss, predict_documents
from tfclf.labels import MULTICLASS, MULTILABEL, REGRESSION
from tfclf.multilabel import (THRESHOLDS_ATTR, DEFAULT_THRESHOLD, Thresholds, multilabel_metrics, thresholds_array,
                              tune_thresholds)

DEFAULT_SWEEP_STEPS = 100


def _check_lr(lr: Any, name: str = "lr") -> float:
    if isinstance(lr, bool) or not isinstance(lr, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name} must be a number, got {lr!r}")
    if not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {lr!r}")
    return float(lr)


class Learner:
    """Trains and inspects a compiled classifier on `TextDataset`s (ktrain's Learner).

    Args:
        model: a compiled tf.keras model, e.g. from `Transformer.get_classifier()`.
        train_data: the training `TextDataset` from `Transformer.preprocess_train`.
        val_data: an optional validation `TextDataset` from `Transformer.preprocess_test`.
        batch_size: training batch size.
        eval_batch_size: batch size for validation and prediction (default: 2 x batch_size,
            since no gradients are kept).
        seed: makes the batch order repeatable.

    Attributes:
        history: the Keras `History` of the last fit.
        recorder: per-step learning rate, momentum and batch loss across all fits.

    Example:
        >>> learner = get_learner(model, trn, val, batch_size=8)  # doctest: +SKIP
        >>> learner.lr_find(); learner.lr_plot(suggest=True)      # doctest: +SKIP
        >>> learner.fit_onecycle(5e-5, 1)                         # doctest: +SKIP
        >>> learner.validate(class_names=t.get_classes())         # doctest: +SKIP
    """

    def __init__(self, model, train_data: TextDataset | None, val_data: TextDataset | None = None,
                 batch_size: int = 32, eval_batch_size: int | None = None, seed: int | None = None,
                 strategy=None):
        from tfclf.distribute import check_strategy, rebuild_in_scope, strategy_of

        if not isinstance(model, keras.Model):
            raise TypeError(f"model must be a tf.keras Model (from get_classifier()), got {type(model).__name__}")
        if getattr(model, "optimizer", None) is None:
            raise ValueError("model is not compiled: build it with Transformer.get_classifier()")
        for name, data in (("train_data", train_data), ("val_data", val_data)):
            if data is not None and not isinstance(data, TextDataset):
                raise TypeError(
                    f"{name} must be a TextDataset from preprocess_train/preprocess_test, got {type(data).__name__}"
                )
            if data is not None and data.targets is None:
                raise ValueError(f"{name} has no labels: preprocess it with y=...")
        strategy = check_strategy(strategy)
        if strategy is not None and strategy_of(model) is not strategy:
            # Variables and optimizer slots must be created in the strategy's scope.
            data = train_data or val_data
            model = rebuild_in_scope(model, strategy, data.mode if data is not None else MULTICLASS)
        self.model = model
        self.strategy = strategy if strategy is not None else strategy_of(model)
        self.train_data = train_data
        self.val_data = val_data
        self.batch_size = _check_positive_int(batch_size, "batch_size")
        self.eval_batch_size = _check_positive_int(
            2 * self.batch_size if eval_batch_size is None else eval_batch_size, "eval_batch_size")
        self.seed = seed
        self.history = None
        self.recorder = Recorder()
        self.lr_finder_: dict | None = None
        self.thresholds_: list[float] | None = getattr(model, THRESHOLDS_ATTR, None)
        self._logits_fn: LogitsFunction | None = None

    # -- helpers ---------------------------------------------------------------------------------
    @property
    def mode(self) -> str:
        data = self.train_data or self.val_data
        return data.mode if data is not None else MULTICLASS

    def _require_train(self) -> TextDataset:
        if self.train_data is None:
            raise ValueError("this Learner has no train_data: pass it to get_learner")
        return self.train_data

    def _val(self, val_data: TextDataset | None) -> TextDataset:
        data = val_data if val_data is not None else self.val_data
        if data is None:
            raise ValueError("no validation data: pass val_data here or to get_learner")
        if not isinstance(data, TextDataset) or data.targets is None:
            raise TypeError("val_data must be a labeled TextDataset from preprocess_test(texts, y)")
        return data

    def _steps_per_epoch(self) -> int:
        return self._require_train().num_batches(self.batch_size)

    def _fit(self, epochs: int, make_schedule, *, run_info: dict, checkpoint_folder=None, resume: bool = False,
             callbacks=None, verbose: int = 1, extra_callbacks=(), class_weight: dict | None = None):
        """Runs Keras' fit with the schedule, recorder, NaN guard and checkpoints.

        `make_schedule(start_step)` builds the schedule callback; `run_info` describes the run so
        that a checkpoint is only resumed by a run with the same settings.
        """
        train = self._require_train()
        spe = self._steps_per_epoch()
        run_info = {**run_info, "epochs": epochs, "batch_size": self.batch_size, "train_docs": len(train),
                    "seed": self.seed}
        start_epoch = 0
        if resume:
            start_epoch = self._resume(checkpoint_folder, run_info, verbose)
            if start_epoch >= epochs:
                return self.history
        first_step = len(self.recorder.lrs)
        cbs = [make_schedule(start_epoch * spe), self.recorder,
               BestWeightsGuard("val_loss" if self.val_data is not None else "loss"), *extra_callbacks]
        if checkpoint_folder is not None:
            cbs.append(EpochCheckpoint(checkpoint_folder, run_info, spe))
        cbs.extend(callbacks or [])
        val = self.val_data.to_tf(self.eval_batch_size) if self.val_data is not None else None
        try:
            self.model.fit(
                train.to_tf(self.batch_size, shuffle=True, seed=self.seed, start_epoch=start_epoch),
                validation_data=val,
                epochs=epochs,
                initial_epoch=start_epoch,
                callbacks=cbs,
                verbose=verbose,
                class_weight=_class_weight(class_weight, self.mode),
            )
        except KeyboardInterrupt:
            # The weights are those of the last finished step; keep what was learned and recorded.
            print("\ntraining interrupted: the model keeps the weights of the last finished step", flush=True)
            raise
        finally:
            self.history = self.model.history
            # Like ktrain, the history also keeps the per-step LR and momentum of this fit.
            self.history.history["lr"] = list(self.recorder.lrs[first_step:])
            self.history.history["momentum"] = list(self.recorder.momentums[first_step:])
        return self.history

    def _resume(self, checkpoint_folder, run_info: dict, verbose: int) -> int:
        if checkpoint_folder is None:
            raise ValueError("resume=True needs the checkpoint_folder of the interrupted run")
        checkpoint = latest_checkpoint(checkpoint_folder, run_info)
        if checkpoint is None:
            raise FileNotFoundError(
                f"no checkpoint in {checkpoint_folder} from a run with these settings ({run_info}); "
                "resume with the same lr, epochs, batch size, data and seed as the interrupted run"
            )
        restore_checkpoint(self.model, checkpoint)
        done = int(checkpoint["state"]["epochs_done"])
        if verbose:
            print(f"resuming from {checkpoint['weights'].name}: {done} of {run_info['epochs']} epochs done")
        return done

    # -- LR finder -------------------------------------------------------------------------------
    def lr_find(self, start_lr: float = 1e-7, end_lr: float = 10, max_epochs: int | None = None,
                stop_factor: float | None = 4, show_plot: bool = False, suggest: bool = False,
                verbose: int = 1, max_steps: int | None = None):
        """Sweeps the LR exponentially from `start_lr` to `end_lr`, recording the smoothed loss.

        The sweep stops when the smoothed loss exceeds `stop_factor` times its minimum, and the
        model's weights and optimizer state are restored exactly afterwards (also on Ctrl-C).

        Args:
            max_epochs: sweep length in epochs; None sweeps `max_steps` batches
                (default 100, enough to cross 1e-7..10 in steps of about x1.2).
            max_steps: sweep length in batches (overrides max_epochs).
            show_plot: draw the curve when done (`lr_plot`).
            suggest: print (and, with show_plot, mark) the suggested learning rates.

        Returns:
            The `LRSuggestions` (valley, steepest, minimum/10).
        """
        start_lr, end_lr = _check_lr(start_lr, "start_lr"), _check_lr(end_lr, "end_lr")
        spe = self._steps_per_epoch()
        if max_steps is not None:
            steps = _check_positive_int(max_steps, "max_steps")
        elif max_epochs is not None:
            steps = _check_positive_int(max_epochs, "max_epochs") * spe
        else:
            steps = DEFAULT_SWEEP_STEPS
        lrs = lr_finder.exponential_lrs(start_lr, end_lr, max(steps, 2))
        sweep = lr_finder.make_sweep_callback(lrs, stop_factor=stop_factor)
        snapshot = _snapshot(self.model)
        if verbose:
            print(f"simulating training for LRs from {start_lr:.1E} to {end_lr:.1E} over at most {len(lrs)} steps...")
        try:
            # Epochs no longer than the sweep, so the progress bar ends where the sweep does.
            per_epoch = min(spe, len(lrs))
            self.model.fit(
                self.train_data.to_tf(self.batch_size, shuffle=True, seed=self.seed).repeat(),
                steps_per_epoch=per_epoch,
                epochs=math.ceil(len(lrs) / per_epoch),
                callbacks=[sweep],
                verbose=verbose,
            )
        finally:
            _restore(self.model, snapshot)
        self.lr_finder_ = {"lrs": np.array(sweep.lrs_seen[: len(sweep.losses)]),
                           "losses": np.array(sweep.losses), "raw_losses": np.array(sweep.raw_losses)}
        if verbose:
            print("done. Visually inspect loss plot and select learning rate associated with falling loss")
        suggestions = self.lr_suggestions()
        if show_plot:
            self.lr_plot(suggest=suggest)
        elif suggest:
            print(f"suggested learning rates: {suggestions}")
        return suggestions

    def _lr_curve(self, n_skip_beginning: int, n_skip_end: int) -> tuple[np.ndarray, np.ndarray]:
        if self.lr_finder_ is None:
            raise RuntimeError("run learner.lr_find() first")
        lrs, losses = self.lr_finder_["lrs"], self.lr_finder_["losses"]
        end = len(lrs) - n_skip_end if n_skip_end else len(lrs)
        if end - n_skip_beginning < 3:  # too short to skip anything: use the whole curve
            return lrs, losses
        return lrs[n_skip_beginning:end], losses[n_skip_beginning:end]

    def lr_suggestions(self, n_skip_beginning: int = 10, n_skip_end: int = 5) -> lr_finder.LRSuggestions:
        """The suggested learning rates for the last `lr_find` curve."""
        return lr_finder.suggest(*self._lr_curve(n_skip_beginning, n_skip_end))

    def lr_estimate(self) -> tuple:
        """ktrain's ``lr_estimate()``: ``(steepest, minimum / 10, valley)``, in ktrain's order.

        The same three values as `lr_suggestions` (a named tuple, the clearer spelling).
        """
        s = self.lr_suggestions()
        return (s.steepest, s.minimum, s.valley)

    def lr_plot(self, n_skip_beginning: int = 10, n_skip_end: int = 5, suggest: bool = False,
                return_fig: bool = False, show: bool = True, save_path: str | Path | None = None):
        """Plots loss vs LR (log scale) from the last `lr_find`, with the suggestions marked.

        The figure is saved to `save_path` when given (PNG, SVG or PDF by its suffix).

        Returns:
            The `LRSuggestions` when `suggest` is True (and `return_fig` False); the figure when
            `return_fig` is True.
        """
        from tfclf import plots

        lrs, losses = self._lr_curve(n_skip_beginning, n_skip_end)
        suggestions = lr_finder.suggest(lrs, losses) if suggest else None
        fig = plots.lr_finder_plot(lrs, losses, suggestions, show=show, save_path=save_path)
        if suggestions is not None:
            print(f"suggested learning rates: {suggestions}")
        if return_fig:
            return fig
        return suggestions

    # -- training --------------------------------------------------------------------------------
    def fit_onecycle(self, lr: float, epochs: int, checkpoint_folder: str | Path | None = None,
                     cycle_momentum: bool = True, max_momentum: float = 0.95, min_momentum: float = 0.85,
                     callbacks: list | None = None, verbose: int = 1, resume: bool = False,
                     class_weight: dict | None = None):
        """Trains with the 1cycle policy (the exact shape is in `tfclf.schedules`).

        The LR rises from lr/10 to `lr` over the first half of all steps along half a cosine, then
        anneals to lr/1000 by the last step; Adam's beta_1 moves opposite, from `max_momentum` down
        to `min_momentum` at the peak and back.

        Args:
            lr: the peak learning rate (5e-5 is a good start for BERT-sized models).
            epochs: number of epochs.
            checkpoint_folder: if given, a resumable checkpoint (weights, optimizer state, progress)
                is written there after every epoch.
            cycle_momentum: cycle beta_1 (else it stays as compiled).
            resume: continue an interrupted run from the newest checkpoint in `checkpoint_folder`
                written with the same settings. With the same `seed` the batches, schedule and
                optimizer state continue exactly; only dropout draws new random masks, so the
                result matches an uninterrupted run up to dropout noise (exactly without dropout).

        Returns:
            The Keras `History`.
        """
        lr = _check_lr(lr)
        epochs = _check_positive_int(epochs, "epochs")
        total = epochs * self._steps_per_epoch()
        policy = schedules.OneCycle(lr, total, cycle_momentum=cycle_momentum,
                                    max_momentum=max_momentum, min_momentum=min_momentum)
        if verbose:
            print(f"begin training using onecycle policy with max lr of {lr}...")
        run_info = {"policy": "onecycle", "lr": lr, "cycle_momentum": cycle_momentum,
                    "max_momentum": max_momentum, "min_momentum": min_momentum}
        return self._fit(
            epochs,
            lambda start: schedules.make_schedule_callback(policy.lr, policy.momentum if cycle_momentum else None,
                                                           start_step=start),
            run_info=run_info, checkpoint_folder=checkpoint_folder, resume=resume, callbacks=callbacks,
            verbose=verbose, class_weight=class_weight,
        )

    def fit(self, lr: float, n_cycles: int, cycle_len: int | None = None, cycle_mult: int = 1,
            lr_decay: float = 1.0, checkpoint_folder: str | Path | None = None,
            early_stopping: int | None = None, callbacks: list | None = None, verbose: int = 1,
            resume: bool = False, class_weight: dict | None = None):
        """Trains at a constant LR for `n_cycles` epochs, or with SGDR when `cycle_len` is given.

        With `cycle_len`, there are `n_cycles` cosine-annealed cycles of `cycle_len` epochs, each
        `cycle_mult` times longer than the one before (ktrain's semantics).
        """
        lr = _check_lr(lr)
        n_cycles = _check_positive_int(n_cycles, "n_cycles")
        spe = self._steps_per_epoch()
        if cycle_len is None:
            epochs = n_cycles

            def lr_fn(step):
                return lr
        else:
            cycle_len = _check_positive_int(cycle_len, "cycle_len")
            cycle_mult = _check_positive_int(cycle_mult, "cycle_mult")
            epochs = sum(cycle_len * cycle_mult**i for i in range(n_cycles))

            def lr_fn(step):
                return schedules.sgdr_lr(step, spe, lr, cycle_len=cycle_len, cycle_mult=cycle_mult, lr_decay=lr_decay)
        extra = [self._early_stopping(early_stopping)] if early_stopping else []
        run_info = {"policy": "sgdr" if cycle_len else "constant", "lr": lr, "cycle_len": cycle_len,
                    "cycle_mult": cycle_mult, "lr_decay": lr_decay}
        return self._fit(epochs, lambda start: schedules.make_schedule_callback(lr_fn, start_step=start),
                         run_info=run_info, checkpoint_folder=checkpoint_folder, resume=resume,
                         callbacks=callbacks, verbose=verbose, extra_callbacks=extra, class_weight=class_weight)

    def autofit(self, lr: float, epochs: int | None = None, early_stopping: int | None = None,
                reduce_on_plateau: int | None = None, reduce_factor: float = 2.0,
                checkpoint_folder: str | Path | None = None, monitor: str = "val_loss",
                callbacks: list | None = None, verbose: int = 1, cycle_momentum: bool = True,
                max_momentum: float = 0.95, min_momentum: float = 0.85, class_weight: dict | None = None):
        """Trains with a triangular LR cycle per epoch (ktrain's autofit).

        With ``epochs=None`` it trains until `early_stopping` (default 5) epochs pass without
        improving `monitor`, lowering the peak LR by `reduce_factor` after `reduce_on_plateau`
        (default 2) epochs without improvement. The best weights are restored at the end when
        early stopping is on. With `cycle_momentum`, Adam's beta_1 moves opposite to the LR
        between the momentum bounds, as in `fit_onecycle`.
        """
        lr = _check_lr(lr)
        if epochs is None:
            epochs = 1024
            early_stopping = early_stopping or 5
            reduce_on_plateau = reduce_on_plateau or 2
        epochs = _check_positive_int(epochs, "epochs")
        if self.val_data is None and monitor.startswith("val_"):
            monitor = monitor[4:]
        spe = self._steps_per_epoch()
        peak = {"lr": lr}
        extra = []
        if early_stopping:
            extra.append(self._early_stopping(early_stopping, monitor))
        if reduce_on_plateau:
            extra.append(_PeakReducer(peak, monitor, _check_positive_int(reduce_on_plateau, "reduce_on_plateau"),
                                      float(reduce_factor)))
        def lr_fn(step):
            return schedules.triangular_lr(step, spe, peak["lr"])

        def momentum_fn(step):
            # The LR's position in its cycle (0 at lr/10, 1 at the peak) mirrored onto beta_1.
            frac = (lr_fn(step) - peak["lr"] / schedules.DIV_FACTOR) / (peak["lr"] * (1 - 1 / schedules.DIV_FACTOR))
            return max_momentum - (max_momentum - min_momentum) * frac

        return self._fit(
            epochs,
            lambda start: schedules.make_schedule_callback(lr_fn, momentum_fn if cycle_momentum else None,
                                                           start_step=start),
            run_info={"policy": "triangular", "lr": lr}, checkpoint_folder=checkpoint_folder,
            callbacks=callbacks, verbose=verbose, extra_callbacks=extra, class_weight=class_weight,
        )

    def _early_stopping(self, patience: int, monitor: str = "val_loss"):
        if self.val_data is None and monitor.startswith("val_"):
            monitor = monitor[4:]
        return keras.callbacks.EarlyStopping(monitor=monitor, patience=_check_positive_int(patience, "early_stopping"),
                                             restore_best_weights=True, verbose=1)

    # -- inspection ------------------------------------------------------------------------------
    def predict(self, val_data: TextDataset | None = None) -> np.ndarray:
        """Probabilities (or regression values) for every document of `val_data`, in its order."""
        data = self._val(val_data)
        if self._logits_fn is None:
            self._logits_fn = LogitsFunction(self.model)
        return predict_documents(self._logits_fn, data, self.eval_batch_size)

    def _thresholds(self):
        return self.thresholds_ if self.thresholds_ is not None else DEFAULT_THRESHOLD

    def metrics(self, val_data: TextDataset | None = None) -> dict:
        """The validation scores as numbers, for the data's mode.

        Single-label: accuracy, macro-F1 and log loss (scikit-learn's, on the softmax
        probabilities). Multi-label: micro- and macro-F1, Hamming loss, exact-match ratio and
        per-label precision/recall/F1 at the thresholds in use (tuned or 0.5). Regression: MAE,
        MSE and RMSE.
        """
        return self._metrics(self._val(val_data))[0]

    def _metrics(self, data: TextDataset) -> tuple[dict, np.ndarray]:
        from sklearn import metrics

        probs = self.predict(data)
        if data.mode == REGRESSION:
            err = probs.reshape(len(probs), -1)[:, 0] - data.doc_targets
            mse = float((err**2).mean())
            return {"mae": float(np.abs(err).mean()), "mse": mse, "rmse": math.sqrt(mse)}, probs
        k = probs.shape[1]
        if data.mode == MULTILABEL:
            return multilabel_metrics(data.doc_targets, probs, self._thresholds(), self._class_names(k)), probs
        y_true = data.doc_targets.astype(int)
        y_pred = probs.argmax(axis=1)
        return {
            "accuracy": float(metrics.accuracy_score(y_true, y_pred)),
            "macro_f1": float(metrics.f1_score(y_true, y_pred, average="macro", labels=list(range(k)),
                                               zero_division=0)),
            "log_loss": float(metrics.log_loss(y_true, np.clip(probs, 1e-7, 1), labels=list(range(k)))),
        }, probs

    def validate(self, val_data: TextDataset | None = None, print_report: bool = True,
                 class_names: list[str] | None = None, save_path: str | None = None):
        """Prints scikit-learn's classification report and returns the confusion matrix.

        Multi-label data is judged at the thresholds in use (those of `tune_thresholds`, else
        0.5): the report gives per-label precision/recall/F1 and the micro and macro averages,
        followed by Hamming loss and the exact-match ratio; it returns per-label confusion
        matrices (``multilabel_confusion_matrix``). Regression prints MAE and MSE and returns them.
        """
        from sklearn import metrics

        data = self._val(val_data)
        scores, probs = self._metrics(data)
        if data.mode == REGRESSION:
            if print_report:
                print(f"MAE: {scores['mae']:.4f}  MSE: {scores['mse']:.4f}  RMSE: {scores['rmse']:.4f}")
            return {"mae": scores["mae"], "mse": scores["mse"]}
        k = probs.shape[1]
        names = list(class_names) if class_names else self._class_names(k)
        if len(names) != k:
            raise ValueError(f"class_names has {len(names)} names; the model has {k} outputs")
        if data.mode == MULTILABEL:
            y_pred = (probs >= thresholds_array(self._thresholds(), k)).astype(int)
            y_true = data.doc_targets.astype(int)
            cm = metrics.multilabel_confusion_matrix(y_true, y_pred)
        else:
            y_pred = probs.argmax(axis=1)
            y_true = data.doc_targets.astype(int)
            cm = metrics.confusion_matrix(y_true, y_pred, labels=list(range(k)))
        report = metrics.classification_report(
            y_true, y_pred, labels=list(range(k)), target_names=names, digits=4, zero_division=0
        )
        if data.mode == MULTILABEL:
            how = "tuned thresholds" if self.thresholds_ is not None else "threshold 0.5"
            report += (f"\nmicro-F1 {scores['micro_f1']:.4f}  macro-F1 {scores['macro_f1']:.4f}  "
                       f"Hamming loss {scores['hamming_loss']:.4f}  exact match {scores['subset_accuracy']:.4f}"
                       f"  ({how})\n")
        if print_report:
            print(report)
            if data.mode != MULTILABEL:
                print(cm)
        if save_path:
            Path(save_path).write_text(report)
        return cm

    def tune_thresholds(self, val_data: TextDataset | None = None, metric: str = "micro_f1",
                        verbose: int = 1) -> Thresholds:
        """Multi-label: searches per-label decision thresholds that maximise `metric` on `val_data`.

        The thresholds are kept (``thresholds_``) and used by `validate`, `top_losses` and by a
        predictor made from this model with `get_predictor`, which saves them.

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
        if data.mode != MULTILABEL:
            raise ValueError(f"tune_thresholds is for multi-label data; this data is {data.mode}")
        result = tune_thresholds(data.doc_targets, self.predict(data), metric=metric)
        self.thresholds_ = list(result.thresholds)
        setattr(self.model, THRESHOLDS_ATTR, list(result.thresholds))
        if verbose:
            print(f"{metric}: {result.score_at_default:.4f} at 0.5, {result.score_global:.4f} at the best global "
                  f"threshold {result.global_threshold:.2f}, {result.score:.4f} with per-label thresholds "
                  f"{', '.join(f'{t:.2f}' for t in result.thresholds)}")
        return result

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
        data = self._val(val_data)
        probs = self.predict(data)
        losses = per_example_loss(probs, data.doc_targets, data.mode)
        order = np.argsort(-losses, kind="stable")
        start, end = (0, n) if isinstance(n, (int, np.integer)) else tuple(n)
        if isinstance(start, bool) or start < 0 or end < start:
            raise ValueError(f"n must be a positive int or a (start, end) range, got {n!r}")
        names = preproc.get_classes() if preproc is not None else None
        out = []
        for i in order[start:end]:
            truth, pred = self._labels_of(data.doc_targets[i], probs[i], data.mode, names,
                                          self._thresholds())
            out.append((int(i), float(losses[i]), truth, pred))
        return out

    @staticmethod
    def _labels_of(target, prob, mode, names, thresholds=DEFAULT_THRESHOLD):
        if mode == REGRESSION:
            return float(target), float(np.ravel(prob)[0])
        if mode == MULTILABEL:
            t = [int(j) for j in np.flatnonzero(target)]
            p = [int(j) for j in np.flatnonzero(prob >= np.asarray(thresholds))]
            return ([names[j] for j in t], [names[j] for j in p]) if names else (t, p)
        t, p = int(target), int(np.argmax(prob))
        return (names[t], names[p]) if names else (t, p)

    def view_top_losses(self, n: int | tuple[int, int] = 4, preproc=None, val_data: TextDataset | None = None,
                        max_chars: int = 300) -> None:
        """Prints the worst validation examples WITH the start of each document's text."""
        data = self._val(val_data)
        for idx, loss, truth, pred in self.top_losses(n, data, preproc):
            print("-" * 78)
            print(f"id:{idx} | loss:{loss:.4f} | true:{truth} | pred:{pred}")
            if data.texts is not None:
                snippet = " ".join(data.texts[idx].split())
                if len(snippet) > max_chars:
                    snippet = snippet[:max_chars].rstrip() + " ..."
                print(textwrap.fill(snippet, width=78) if snippet else "(empty text)")
        print("-" * 78)

    def plot(self, plot_type: str = "loss", show: bool = True, save_path: str | Path | None = None):
        """Draws the training record and returns the figure (saved to `save_path` when given).

        Args:
            plot_type: 'loss' (batch loss per step, with the validation loss at each epoch's end),
                'lr' or 'momentum' (the schedule, per step), or a metric name such as 'accuracy'
                (learning curves: training and validation value per epoch).
        """
        from tfclf import plots

        if not self.recorder.lrs:
            raise RuntimeError("nothing to plot yet: train first (fit_onecycle, fit or autofit)")
        history = self.history.history if self.history is not None else {}
        if plot_type in ("loss", "lr", "momentum"):
            return plots.training_plot(self.recorder, plot_type, val_losses=history.get("val_loss"),
                                       steps_per_epoch=self._steps_per_epoch() if self.train_data else None,
                                       show=show, save_path=save_path)
        metrics = sorted(k for k in history if not k.startswith("val_") and k not in ("loss", "lr", "momentum"))
        if plot_type not in metrics:
            raise ValueError(f"plot_type must be 'loss', 'lr', 'momentum' or a recorded metric {metrics}, "
                             f"got {plot_type!r}")
        return plots.history_plot(history, plot_type, show=show, save_path=save_path)

    def plot_confusion_matrix(self, val_data: TextDataset | None = None, class_names: list[str] | None = None,
                              normalize: bool = False, show: bool = True, save_path: str | Path | None = None):
        """The validation confusion matrix as a figure (true classes in rows, predictions in columns).

        Example:
            >>> learner.plot_confusion_matrix(normalize=True, save_path="cm.png")  # doctest: +SKIP
        """
        from tfclf import plots

        data = self._val(val_data)
        if data.mode != MULTICLASS:
            raise ValueError(f"a confusion matrix needs single-label classes; this data is {data.mode}")
        cm = self.validate(data, print_report=False, class_names=class_names)
        names = list(class_names) if class_names else self._class_names(cm.shape[0])
        return plots.confusion_matrix_plot(cm, names, normalize=normalize, show=show, save_path=save_path)

    # -- weights ---------------------------------------------------------------------------------
    def save_model(self, fpath: str | Path) -> None:
        """Saves the model (config.json + tf_model.h5) into the folder `fpath`."""
        self.model.save_pretrained(str(fpath))

    def load_model(self, fpath: str | Path, preproc=None) -> None:
        """Loads weights saved by `save_model` (a folder) or `save_weights` (a file) into the model."""
        path = Path(fpath)
        if path.is_dir():
            path = path / "tf_model.h5"
        if not path.is_file():
            raise FileNotFoundError(f"no saved model at {fpath} (expected a folder from save_model or a .h5 file)")
        self.model.load_weights(str(path))


def _class_weight(class_weight: dict | None, mode: str) -> dict | None:
    """Validates ktrain-style ``{class_id: weight}`` (single-label data only)."""
    if class_weight is None:
        return None
    if mode != MULTICLASS:
        raise ValueError(f"class_weight applies to single-label data; this data is {mode}")
    if not isinstance(class_weight, dict) or not all(
        isinstance(k, (int, np.integer)) and isinstance(v, (int, float)) and v >= 0 for k, v in class_weight.items()
    ):
        raise ValueError("class_weight must map class ids (int) to non-negative weights, e.g. {0: 1.0, 1: 3.0}")
    return {int(k): float(v) for k, v in class_weight.items()}


class _PeakReducer(keras.callbacks.Callback):
    """Divides the triangular policy's peak LR when `monitor` stops improving (autofit)."""

    def __init__(self, peak: dict, monitor: str, patience: int, factor: float):
        super().__init__()
        self.peak, self.monitor, self.patience, self.factor = peak, monitor, patience, factor
        self.best, self.wait = math.inf, 0

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            return
        if value < self.best:
            self.best, self.wait = value, 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.peak["lr"] /= self.factor
            self.wait = 0
            print(f"\nreducing the peak learning rate to {self.peak['lr']:.2E}")


def _snapshot(model) -> dict:
    with scope_of(model):
        return _snapshot_in_scope(model)


def _snapshot_in_scope(model) -> dict:
    opt = base_optimizer(model.optimizer)
    return {
        "weights": [w.copy() for w in model.get_weights()],
        # the wrapper's variables: under mixed_float16 they include the loss scale
        "optimizer": [v.numpy().copy() for v in model.optimizer.variables],
        "lr": float(keras.backend.get_value(opt.learning_rate)),
        "beta_1": float(keras.backend.get_value(opt.beta_1)) if hasattr(getattr(opt, "beta_1", None), "assign") else None,
    }


def _restore(model, snapshot: dict) -> None:
    """Puts weights and optimizer state back as `_snapshot` found them.

    An optimizer that had no state yet gets its new slots zeroed and its step count reset,
    which is exactly the state a fresh Adam starts from.
    """
    with scope_of(model):
        _restore_in_scope(model, snapshot)


def _restore_in_scope(model, snapshot: dict) -> None:
    model.set_weights(snapshot["weights"])
    opt = base_optimizer(model.optimizer)
    saved = snapshot["optimizer"]
    for i, var in enumerate(model.optimizer.variables):
        var.assign(saved[i] if i < len(saved) else np.zeros(var.shape, var.dtype.as_numpy_dtype))
    opt.learning_rate.assign(snapshot["lr"])
    if snapshot["beta_1"] is not None:
        opt.beta_1.assign(snapshot["beta_1"])


def get_learner(model, train_data: TextDataset | None = None, val_data: TextDataset | None = None,
                batch_size: int = 32, eval_batch_size: int | None = None, workers: int = 1,
                use_multiprocessing: bool = False, seed: int | None = None, strategy=None) -> Learner:
    """Wraps a compiled model and its datasets in a `Learner` (ktrain's ``get_learner``).

    `workers` and `use_multiprocessing` are accepted for ktrain compatibility and ignored: the
    tf.data pipeline already prefetches in the background.

    Args:
        strategy: a `tf.distribute.Strategy` to train with (see `tfclf.distribute`). A model
            built outside its scope is rebuilt inside it with the same weights (and
            `get_classifier`'s default metrics); `batch_size` is then the global batch, split
            across the replicas, and the LR schedules count global steps.

    Example (two GPUs):
        >>> strategy = tf.distribute.MirroredStrategy()                       # doctest: +SKIP
        >>> learner = tfclf.get_learner(t.get_classifier(strategy=strategy), trn, val,
        ...                             batch_size=16, strategy=strategy)     # doctest: +SKIP

    Example:
        >>> learner = tfclf.get_learner(model, trn, val, batch_size=8)  # doctest: +SKIP
    """
    return Learner(model, train_data, val_data, batch_size=batch_size, eval_batch_size=eval_batch_size, seed=seed,
                   strategy=strategy)
