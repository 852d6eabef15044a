"""`Learner`: a compiled model plus its data, trained by one fit loop under the LR policies.

This module holds training: `_fit` (the one loop: schedule, recorder, NaN guard, checkpoints,
resuming) and the thin policies on top of it (`fit_onecycle`, `fit`, `autofit`), whose arithmetic
is in `tfclf.schedules`. As fastai patches its Learner from other modules, the Learner's other
jobs live with what they use: `lr_find` and its plots in `tfclf.lr_finder` (`LRFinderMixin`), and
`validate`, `metrics`, `top_losses`, ... in `tfclf.evaluation` (`EvaluationMixin`), all read from
one prediction pass, and ktrain's `freeze`, `unfreeze`, `set_weight_decay`, `print_layers` and
`reset_weights` in `tfclf.layer_control` (`LayerControlMixin`).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from tfclf import schedules
from tfclf._compat import keras
from tfclf._util import positive_int as _check_positive_int
from tfclf._util import positive_number as _check_lr
from tfclf.callbacks import (BestWeightsGuard, EpochCheckpoint, PeakReducer, Recorder, latest_checkpoint,
                             restore_checkpoint)
from tfclf.data import TextDataset
from tfclf.evaluation import EvaluationMixin
from tfclf.inference import LogitsFunction
from tfclf.ktrain_data import as_dataset
from tfclf.labels import MULTICLASS
from tfclf.layer_control import LayerControlMixin
from tfclf.lr_finder import LRFinderMixin


class Learner(LRFinderMixin, EvaluationMixin, LayerControlMixin):
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
                 strategy=None, teacher=None, distill_temperature: float = 2.0, distill_alpha: float = 0.5):
        from tfclf.classifier import rebuild_in_scope
        from tfclf.distribute import check_strategy, strategy_of

        if not isinstance(model, keras.Model):
            raise TypeError(f"model must be a tf.keras Model (from get_classifier()), got {type(model).__name__}")
        if getattr(model, "optimizer", None) is None:
            raise ValueError("model is not compiled: build it with Transformer.get_classifier()")
        # ktrain's (x, y) pairs from text.texts_from_* become the datasets they hold
        train_data, val_data = as_dataset(train_data, "train_data"), as_dataset(val_data, "val_data")
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
            model = rebuild_in_scope(model, strategy)
        self.model = model
        self.strategy = strategy if strategy is not None else strategy_of(model)
        # the teacher's soft targets, computed once, travel with the training data (tfclf.distillation)
        self.distillation_: dict | None = None
        if teacher is not None:
            from tfclf.classifier import compile_classifier, strategy_scope
            from tfclf.distillation import compile_settings, prepare

            train_data, self.distillation_ = prepare(model, self._require(train_data), teacher, distill_temperature,
                                                     distill_alpha)
            with strategy_scope(self.strategy):
                compile_classifier(model, train_data.mode, distillation=compile_settings(self.distillation_))
        self.train_data = train_data
        self.val_data = val_data
        self.batch_size = _check_positive_int(batch_size, "batch_size")
        self.eval_batch_size = _check_positive_int(
            2 * self.batch_size if eval_batch_size is None else eval_batch_size, "eval_batch_size")
        self.seed = seed
        self.history = None
        self.recorder = Recorder()
        self.lr_finder_: dict | None = None
        self._logits_fn: LogitsFunction | None = None
        # The last prediction pass: (dataset, model version, probabilities); see `evaluation`.
        self._predicted: tuple | None = None
        self._weights_loaded = 0
        # `reset_weights` puts these back (ktrain keeps them in a temporary file too: no RAM copy)
        self._initial = tempfile.TemporaryDirectory(prefix="tfclf-learner-")
        self.model.save_weights(str(Path(self._initial.name) / "initial.h5"))

    # -- helpers ---------------------------------------------------------------------------------
    @property
    def mode(self) -> str:
        data = self.train_data or self.val_data
        return data.mode if data is not None else MULTICLASS

    @staticmethod
    def _require(train_data: TextDataset | None) -> TextDataset:
        if train_data is None:
            raise ValueError("this Learner has no train_data: pass it to get_learner")
        return train_data

    def _require_train(self) -> TextDataset:
        return self._require(self.train_data)

    def _val(self, val_data: TextDataset | None) -> TextDataset:
        data = as_dataset(val_data, "val_data") if val_data is not None else self.val_data
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
        if class_weight is not None and self.distillation_ is not None:
            raise ValueError("class_weight and a teacher do not combine: the teacher's probabilities already weigh "
                             "each text; drop class_weight, or train without teacher=")
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
        if cycle_len is None:
            policy, epochs = schedules.Constant(lr), n_cycles
        else:
            policy = schedules.SGDR(lr, self._steps_per_epoch(), cycle_len=_check_positive_int(cycle_len, "cycle_len"),
                                    cycle_mult=_check_positive_int(cycle_mult, "cycle_mult"), lr_decay=lr_decay)
            epochs = policy.epochs(n_cycles)
        extra = [self._early_stopping(early_stopping)] if early_stopping else []
        run_info = {"policy": "sgdr" if cycle_len else "constant", "lr": lr, "cycle_len": cycle_len,
                    "cycle_mult": cycle_mult, "lr_decay": lr_decay}
        return self._fit(epochs, lambda start: schedules.make_schedule_callback(policy.lr, start_step=start),
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
        policy = schedules.Triangular(lr, self._steps_per_epoch(), cycle_momentum=cycle_momentum,
                                      max_momentum=max_momentum, min_momentum=min_momentum)
        extra = []
        if early_stopping:
            extra.append(self._early_stopping(early_stopping, monitor))
        if reduce_on_plateau:
            extra.append(PeakReducer(policy, monitor, _check_positive_int(reduce_on_plateau, "reduce_on_plateau"),
                                     float(reduce_factor)))
        return self._fit(
            epochs,
            lambda start: schedules.make_schedule_callback(policy.lr, policy.momentum if cycle_momentum else None,
                                                           start_step=start),
            run_info={"policy": "triangular", "lr": lr}, checkpoint_folder=checkpoint_folder,
            callbacks=callbacks, verbose=verbose, extra_callbacks=extra, class_weight=class_weight,
        )

    def _early_stopping(self, patience: int, monitor: str = "val_loss"):
        if self.val_data is None and monitor.startswith("val_"):
            monitor = monitor[4:]
        return keras.callbacks.EarlyStopping(monitor=monitor, patience=_check_positive_int(patience, "early_stopping"),
                                             restore_best_weights=True, verbose=1)

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
        self._weights_loaded += 1


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


def get_learner(model, train_data: TextDataset | None = None, val_data: TextDataset | None = None,
                batch_size: int = 32, eval_batch_size: int | None = None, workers: int = 1,
                use_multiprocessing: bool = False, seed: int | None = None, strategy=None, teacher=None,
                distill_temperature: float = 2.0, distill_alpha: float = 0.5) -> Learner:
    """Wraps a compiled model and its datasets in a `Learner` (ktrain's ``get_learner``).

    `workers` and `use_multiprocessing` are accepted for ktrain compatibility and ignored: the
    tf.data pipeline already prefetches in the background.

    Args:
        strategy: a `tf.distribute.Strategy` to train with (see `tfclf.distribute`). A model
            built outside its scope is rebuilt inside it with the same weights (and
            `get_classifier`'s default metrics); `batch_size` is then the global batch, split
            across the replicas, and the LR schedules count global steps.
        teacher: a trained predictor of the same classes to distill (`tfclf.distillation`): the
            model learns from its probabilities at `distill_temperature` with weight
            `distill_alpha`, and from the labels with weight 1 - `distill_alpha`. The teacher
            predicts the training texts once, here; the model is recompiled for it (default metrics).

    Example (two GPUs):
        >>> strategy = tf.distribute.MirroredStrategy()                       # doctest: +SKIP
        >>> learner = tfclf.get_learner(t.get_classifier(strategy=strategy), trn, val,
        ...                             batch_size=16, strategy=strategy)     # doctest: +SKIP

    Example:
        >>> learner = tfclf.get_learner(model, trn, val, batch_size=8)  # doctest: +SKIP
    """
    return Learner(model, train_data, val_data, batch_size=batch_size, eval_batch_size=eval_batch_size, seed=seed,
                   strategy=strategy, teacher=teacher, distill_temperature=distill_temperature,
                   distill_alpha=distill_alpha)
