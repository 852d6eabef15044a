"""One training run of the tiny model, for tests/test_distribute.py (run as a subprocess, because
logical devices and collective ops must be configured before TensorFlow starts).

    python distributed_worker.py single   MODEL_DIR OUT.npz
    python distributed_worker.py mirrored MODEL_DIR OUT.npz     # 2 logical CPUs, MirroredStrategy
    python distributed_worker.py worker   MODEL_DIR OUT.npz     # MultiWorkerMirroredStrategy (TF_CONFIG)

Every run starts from the same weights (seeded, built outside any strategy) and trains
`fit_onecycle(LR, EPOCHS)` on the same toy data with the same global batch and batch order.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import tfclf  # noqa: E402  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)

GLOBAL_BATCH, LR, EPOCHS = 16, 5e-3, 2


def main() -> None:
    kind, model_dir, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    from tfclf._compat import tf

    strategy = None
    if kind == "mirrored":
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    elif kind == "worker":
        # Created first: it sets up the collective ops before any other TensorFlow work.
        strategy = tf.distribute.MultiWorkerMirroredStrategy()

    import helpers
    from tfclf import text

    x, y = helpers.toy_sentiment(64, seed=1)
    vx, vy = helpers.toy_sentiment(32, seed=2)
    t = text.Transformer(model_dir, maxlen=32, precision="float32")
    trn = t.preprocess_train(x, y, verbose=0)
    val = t.preprocess_test(vx, vy, verbose=0)
    tfclf.set_seed(0)
    if os.environ.get("TFCLF_TEST_PLAIN_UPDATE"):
        from tfclf import fast_ops

        fast_ops.fused_update_enabled = lambda: False  # Keras' own Adam ops instead of the one-pass kernel
    decay = os.environ.get("TFCLF_TEST_LAYER_DECAY")
    # Outside any scope: get_learner(strategy=...) must rebuild it (keeping its options).
    model = t.get_classifier(layer_decay=float(decay) if decay else None)
    report = {"replicas": 1}
    learner = tfclf.get_learner(model, trn, val, batch_size=GLOBAL_BATCH, seed=0, strategy=strategy)
    report["fused_update"] = bool(getattr(learner.model.optimizer, "fused", False))
    if strategy is not None:
        report["replicas"] = int(strategy.num_replicas_in_sync)
        report["rebuilt"] = learner.model is not model
        report["model_in_scope"] = learner.model._distribution_strategy is strategy
    if kind == "mirrored":
        # The LR finder must leave weights and optimizer as they were.
        before = [w.copy() for w in learner.model.get_weights()]
        learner.lr_find(max_epochs=1, verbose=0)
        report["lr_find_restores"] = all((a == b).all() for a, b in zip(before, learner.model.get_weights()))
        report["lr_find_steps"] = len(learner.lr_finder_["lrs"]) if learner.lr_finder_ else 0
    tag = os.environ.get("TFCLF_TEST_WORKER", "0")
    start = [w.copy() for w in learner.model.get_weights()]
    checkpoints = out.parent / f"checkpoints-{kind}-{tag}"  # per worker: shows who writes
    learner.fit_onecycle(LR, EPOCHS, checkpoint_folder=str(checkpoints), verbose=0)
    report["lrs"] = [float(v) for v in learner.recorder.lrs]
    report["accuracy"] = learner.metrics()["accuracy"]
    cm = learner.validate(print_report=False)
    report["validated"] = int(cm.sum())
    report["top_losses"] = len(learner.top_losses(n=3, preproc=t))
    predictor = tfclf.get_predictor(learner.model, t)
    report["prediction"] = predictor.predict("a wonderful great film")
    saved = predictor.save(out.parent / f"predictor-{kind}-{tag}")
    report["predictor_saved"] = (saved / "manifest.json").is_file()
    report["checkpoints"] = sorted(p.name for p in checkpoints.glob("state-*.json")) if checkpoints.exists() else []
    weights = learner.model.get_weights()
    import numpy as np

    report["moved"] = max(float(np.abs(a - b).max()) for a, b in zip(start, weights))

    np.savez(out.with_name(f"{out.stem}-{tag}.npz"), *weights)
    out.with_name(f"{out.stem}-{tag}.json").write_text(json.dumps(report))


if __name__ == "__main__":
    main()
