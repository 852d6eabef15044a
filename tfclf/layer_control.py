"""ktrain's layer and regularization controls on the Learner: `freeze`, `unfreeze`,
`print_layers`, `reset_weights`, `set_weight_decay` and `get_weight_decay`.

"Layers" are the model's top-level Keras layers, as ktrain counts them: for a transformers
classifier the encoder is one layer (e.g. ``tf_bert_for_sequence_classification`` holds ``bert``,
``dropout``, ``classifier``), so ``freeze()`` trains the head alone. Freezing, unfreezing and a
new weight decay recompile the model (Keras reads ``trainable`` when it compiles), so the
optimizer's state starts afresh, as after `get_classifier`; the weights are kept.
"""

from __future__ import annotations

import numpy as np

from tfclf._compat import keras


class LayerControlMixin:
    """Mixed into `tfclf.Learner`; needs ``self.model`` and ``self.strategy``."""

    def _layer_index_of_head(self) -> int:
        """The last Dense layer (ktrain's rule), else the last layer that has weights."""
        layers = self.model.layers
        for i in reversed(range(len(layers))):
            if isinstance(layers[i], keras.layers.Dense):
                return i
        for i in reversed(range(len(layers))):
            if layers[i].weights:
                return i
        raise ValueError("the model has no layer with weights to keep trainable")

    def freeze(self, freeze_range: int | None = None) -> None:
        """Freezes layers, as ktrain does.

        Args:
            freeze_range: None freezes every layer before the last Dense layer (the head alone
                trains); an integer n freezes the first n layers (see `print_layers`) and makes
                the rest trainable.
        """
        layers = self.model.layers
        if freeze_range is None:
            first_trainable = self._layer_index_of_head()
        else:
            if isinstance(freeze_range, bool) or not isinstance(freeze_range, (int, np.integer)) or freeze_range < 1:
                raise ValueError(f"freeze_range must be a positive integer (layers to freeze), got {freeze_range!r}")
            if freeze_range > len(layers):
                raise ValueError(f"freeze_range={freeze_range} but the model has {len(layers)} layers "
                                 "(learner.print_layers() lists them)")
            first_trainable = int(freeze_range)
        for i, layer in enumerate(layers):
            layer.trainable = i >= first_trainable
        self._recompile()

    def unfreeze(self, exclude_range: int | None = None) -> None:
        """Makes every layer trainable, except the first `exclude_range` ones if given."""
        if exclude_range is not None and (isinstance(exclude_range, bool)
                                          or not isinstance(exclude_range, (int, np.integer)) or exclude_range < 0):
            raise ValueError(f"exclude_range must be a non-negative integer, got {exclude_range!r}")
        for i, layer in enumerate(self.model.layers):
            layer.trainable = not (exclude_range and i < exclude_range)
        self._recompile()

    def print_layers(self, show_wd: bool = False) -> None:
        """Prints each top-level layer's index (for `freeze`), name, type, parameter count and
        whether it trains; with ``show_wd``, the weight decay applied to its weights."""
        wd = self.get_weight_decay()
        for i, layer in enumerate(self.model.layers):
            params = int(sum(np.prod(w.shape) for w in layer.weights))
            line = (f"{i} ({'trainable' if layer.trainable else 'frozen'}): {layer.name} "
                    f"({type(layer).__name__}, {params:,} parameters)")
            if show_wd:
                line += f", weight decay {wd if wd and layer.trainable else 0}"
            print(line)

    def reset_weights(self, verbose: int = 1) -> None:
        """Puts back the weights the model had when this Learner was created (ktrain's meaning),
        and a fresh optimizer state."""
        from pathlib import Path

        self.model.load_weights(str(Path(self._initial.name) / "initial.h5"))
        self._recompile()
        self.history = None
        if verbose:
            print("Model weights have been reset.")

    def set_weight_decay(self, wd: float = 0.01) -> None:
        """Decoupled weight decay (AdamW, Loshchilov and Hutter): every step shrinks each weight
        by ``lr * wd`` times itself, except biases and layer-norm parameters. 0 or None turns it off.
        Recorded in the model's configuration, so a saved and reloaded model trains the same."""
        self._recompile(weight_decay=0.0 if wd is None else wd)

    def get_weight_decay(self) -> float | None:
        """The weight decay the model is compiled with (None: none)."""
        from tfclf.classifier import training_options

        config = getattr(self.model, "config", None)
        return training_options(config)["weight_decay"] if config is not None else None

    def _recompile(self, **options) -> None:
        from tfclf.classifier import compile_classifier, strategy_scope

        metrics = getattr(getattr(self.model, "compiled_metrics", None), "_user_metrics", None)
        distilling = getattr(self, "distillation_", None)
        if distilling is not None:  # the metrics are wrapped to read the label columns: wrap them afresh
            metrics = [getattr(m, "inner", m) for m in metrics or []] or None
            from tfclf.distillation import compile_settings

            options["distillation"] = compile_settings(distilling)
        with strategy_scope(self.strategy):
            compile_classifier(self.model, metrics=metrics, **options)
        self._logits_fn = None
