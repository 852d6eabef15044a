"""The tutorial on a GPU (issues 26 and 29): each model at the tutorial's own settings (maxlen 500,
4 epochs of fit_onecycle at 5e-5, batch 8), in mixed_float16, with and without XLA if asked.

    python benchmarks/gpu_check.py --archive ../shared/data/20news-bydate.tar.gz \
        --models ../shared/models/all-MiniLM-L6-v2 ~/.cache/tfclf/models/all-mpnet-base-v2 [--jit both]

For each model (a folder that is missing is recorded as skipped, so one command serves machines
with and without the MPNet folder): test accuracy on the 1502 test documents, training wall time,
real (non-padding) tokens per second, prediction docs/s and the GPU's peak memory. Sized for under
10 minutes on one modern GPU; results are rewritten after every run to results/gpu_check.json.
Runs on a CPU too (for trying it: `--limit`, `--maxlen`, `--epochs`), with the CPU's precision.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import bench_common as bc


def gpu_memory_peak_mb() -> float | None:
    from tfclf._compat import tf

    if not tf.config.list_physical_devices("GPU"):
        return None
    return round(tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20, 1)


def reset_gpu_peak() -> None:
    from tfclf._compat import tf

    if tf.config.list_physical_devices("GPU"):
        tf.config.experimental.reset_memory_stats("GPU:0")


def run_one(folder: str, jit: bool, args, train, test) -> dict:
    import tfclf
    from tfclf import text
    from tfclf._compat import keras, tf
    from tfclf.precision import model_precision

    keras.backend.clear_session()
    tfclf.set_seed(args.seed)
    reset_gpu_peak()
    on_gpu = bool(tf.config.list_physical_devices("GPU"))
    t = text.Transformer(folder, maxlen=args.maxlen, class_names=train.class_names,
                         precision="mixed_float16" if on_gpu else "auto")
    trn = t.preprocess_train(train.texts, train.labels, verbose=0)
    val = t.preprocess_test(test.texts, test.labels, verbose=0)
    model = t.get_classifier()
    if jit:
        model.compile(optimizer=model.optimizer, loss=model.loss, metrics=model.compiled_metrics._user_metrics,
                      jit_compile=True)
    learner = tfclf.get_learner(model, trn, val, batch_size=args.batch_size, seed=args.seed)
    t0 = time.perf_counter()
    learner.fit_onecycle(args.lr, args.epochs, verbose=2)
    train_s = time.perf_counter() - t0
    predictor = tfclf.get_predictor(learner.model, t, batch_size=64)
    predictor.predict(test.texts[:8])
    t0 = time.perf_counter()
    probs = predictor.predict_proba(test.texts)
    predict_s = time.perf_counter() - t0
    classes = predictor.get_classes()
    accuracy = float(np.mean([classes[i] == y for i, y in zip(np.argmax(probs, axis=1), test.labels)]))
    return {"model": folder, "jit_compile": jit, "precision": model_precision(learner.model),
            "test_accuracy": round(accuracy, 5), "train_s": round(train_s, 1),
            "tokens_per_s": round(trn.num_tokens * args.epochs / train_s, 1),
            "predict_docs_per_s": round(len(test.texts) / predict_s, 1), "gpu_peak_mb": gpu_memory_peak_mb(),
            "val_accuracy_per_epoch": [round(float(v), 4) for v in learner.history.history.get("val_accuracy", [])]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["../shared/models/all-MiniLM-L6-v2"])
    p.add_argument("--archive", default=bc.os.environ.get("TFCLF_20NG_ARCHIVE"))
    p.add_argument("--maxlen", type=int, default=500)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--jit", choices=["off", "on", "both"], default="off", help="XLA (jit_compile) for training")
    p.add_argument("--limit", type=int, help="first N train and test documents (for trying the script)")
    p.add_argument("--output", default=str(bc.RESULTS / "gpu_check.json"))
    args = p.parse_args()
    train, test = bc.load_data(args.archive, args.limit)
    import tfclf  # noqa: F401 - sets up TensorFlow
    from tfclf._compat import tf

    result = {"benchmark": "gpu_check", "date": time.strftime("%Y-%m-%d"), "machine": bc.machine(),
              "gpus": [d.name for d in tf.config.list_physical_devices("GPU")],
              "settings": {k: getattr(args, k) for k in ("maxlen", "epochs", "lr", "batch_size", "seed", "limit")},
              "versions": bc.package_versions("tensorflow", "tf-keras", "transformers"), "runs": []}
    for folder in args.models:
        for jit in {"off": [False], "on": [True], "both": [False, True]}[args.jit]:
            if not Path(folder, "config.json").is_file():
                result["runs"].append({"model": folder, "skipped": "no model folder here"})
            else:
                result["runs"].append(run_one(folder, jit, args, train, test))
            print(json.dumps(result["runs"][-1]), flush=True)
            Path(args.output).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
