"""Training on several devices or machines with TensorFlow's own `tf.distribute` strategies.

tfclf adds no engine of its own: a model whose variables and optimizer live in a strategy's
scope is trained by Keras' `fit`, which splits every batch across the replicas and all-reduces
the gradients. What tfclf does is make sure the model is built in that scope
(`Transformer.get_classifier(strategy=...)`, or `get_learner(..., strategy=...)` rebuilding a
model made outside it with `tfclf.classifier.rebuild_in_scope`), that batch sizes are global (the batch every optimizer step sees, summed
over replicas), and that only the chief worker writes files.

* one machine, several GPUs: ``tf.distribute.MirroredStrategy()``;
* several machines: ``tf.distribute.MultiWorkerMirroredStrategy()``, each worker started with
  its own ``TF_CONFIG`` (the cluster's addresses and this worker's index), all running the same
  script.
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any


def check_strategy(strategy: Any):
    """`strategy` if it is a `tf.distribute.Strategy` (or None), else a helpful TypeError."""
    if strategy is None:
        return None
    from tfclf._compat import tf

    if not isinstance(strategy, tf.distribute.Strategy):
        raise TypeError(
            f"strategy must be a tf.distribute.Strategy (e.g. tf.distribute.MirroredStrategy()), "
            f"got {type(strategy).__name__}")
    return strategy


def strategy_of(model) -> Any:
    """The strategy whose scope created `model`'s variables, or None (the default strategy)."""
    return getattr(model, "_distribution_strategy", None)


def scope_of(model):
    """A context manager: the scope of `model`'s strategy, or nothing if it has none."""
    strategy = strategy_of(model)
    return strategy.scope() if strategy is not None else contextlib.nullcontext()


def replicas(model) -> int:
    strategy = strategy_of(model)
    return int(strategy.num_replicas_in_sync) if strategy is not None else 1


def is_chief() -> bool:
    """Whether this process writes shared files: True unless TF_CONFIG makes it a non-chief worker.

    With MultiWorkerMirroredStrategy every worker runs the same script; writing checkpoints and
    predictors from all of them to one folder would race. The chief (task "chief", or worker 0
    when no chief is named) writes.
    """
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return True
    try:
        config = json.loads(raw)
    except json.JSONDecodeError:
        return True
    task = config.get("task") or {}
    kind, index = task.get("type"), int(task.get("index", 0))
    if kind == "chief" or kind is None:
        return True
    if kind == "worker":
        return "chief" not in (config.get("cluster") or {}) and index == 0
    return False
