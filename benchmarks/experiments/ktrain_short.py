"""Issue 27: ktrain itself on the tutorial at a short budget, over several seeds, for the comparison
with tfclf's short_budget.py runs (same documents, model, maxlen, batch size, learning rate).

    benchmarks/.venv-ktrain/bin/python benchmarks/experiments/ktrain_short.py \
        --model ../shared/models/all-MiniLM-L6-v2 --archive ../shared/data/20news-bydate.tar.gz \
        --maxlen 128 --epochs 1 --seeds 42 43 44

Only the training steps of ktrain's tutorial (Transformer, preprocess_train/test, get_classifier,
get_learner(batch_size=8), fit_onecycle(lr, epochs)) and none of bench_ktrain.py's prediction,
explanation and save timings. With `--lr-find` the tutorial's `learner.lr_find()` (one epoch, as
bench_ktrain.py) runs first: ktrain restores the weights afterwards by reloading the model, but
compiles the reloaded one with its module-level Adam instance, whose step counter the LR finder
advanced, so Adam's bias correction differs at the start of fit_onecycle (rows `ktrain+lr_find`).
`--reset-iterations` sets that counter back to 0 after the LR finder, to test that this is the
cause (rows `ktrain+lr_find+reset`). Each seed runs in a fresh process and is kept as JSON
in benchmarks/results/short_budget/ktrain[+lr_find[+reset]]-L{maxlen}-E{epochs}-S{seed}.json, the form short_budget.py
tabulates; a rerun skips what finished. The learning rate and Adam's beta_1 that ktrain's
CyclicLR set at every step are kept too, to compare the schedule tfclf follows.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import bench_common as bc  # noqa: E402


def run(args) -> dict:
    import bench_ktrain

    train, test = bc.load_data(args.archive)
    model_dir = bench_ktrain.tf_model_dir(args.model, str(HERE.parent / "work"))
    bench_ktrain.apply_shims()
    import numpy as np
    import tensorflow as tf
    from sklearn.metrics import accuracy_score, f1_score

    import ktrain
    from ktrain import text

    tf.keras.utils.set_random_seed(args.seed)  # what tfclf.set_seed sets
    t = text.Transformer(str(model_dir), maxlen=args.maxlen, class_names=list(train.class_names))
    trn = t.preprocess_train(list(train.texts), train.target, verbose=0)
    val = t.preprocess_test(list(test.texts), test.target, verbose=0)
    learner = ktrain.get_learner(t.get_classifier(), train_data=trn, val_data=val, batch_size=args.batch_size)

    seen = {"lr": [], "beta_1": []}

    class Record(tf.keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            opt = self.model.optimizer
            seen["lr"].append(float(tf.keras.backend.get_value(opt.lr)))
            seen["beta_1"].append(float(tf.keras.backend.get_value(opt.beta_1)))

    lr_find_iterations = None
    if args.lr_find:
        learner.lr_find(max_epochs=1, verbose=0)
        lr_find_iterations = int(learner.model.optimizer.iterations.numpy())
        if args.reset_iterations:
            learner.model.optimizer.iterations.assign(0)
    iterations_at_fit = int(learner.model.optimizer.iterations.numpy())
    start = time.perf_counter()
    learner.fit_onecycle(float(args.lr), args.epochs, callbacks=[Record()], verbose=0)
    train_s = time.perf_counter() - start
    pred = np.asarray(learner.predict(val)).argmax(axis=1)
    opt = learner.model.optimizer
    return {"seed": args.seed, "test_accuracy": round(float(accuracy_score(test.target, pred)), 5),
            "test_macro_f1": round(float(f1_score(test.target, pred, average="macro")), 5),
            "train_s": round(train_s, 1), "optimizer": type(opt).__module__ + "." + type(opt).__name__,
            "epsilon": float(opt.epsilon), "steps": len(seen["lr"]),
            "optimizer_iterations_after_lr_find": lr_find_iterations, "optimizer_iterations_at_fit": iterations_at_fit,
            "lr_per_step": [round(v, 10) for v in seen["lr"]], "beta_1_per_step": [round(v, 5) for v in seen["beta_1"]]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True)
    p.add_argument("--archive", default=bc.os.environ.get("TFCLF_20NG_ARCHIVE"))
    p.add_argument("--maxlen", type=int, default=128)
    p.add_argument("--epochs", type=int, nargs="+", default=[1])
    p.add_argument("--seeds", type=int, nargs="+", default=[42, 43, 44])
    p.add_argument("--seed", type=int, help=argparse.SUPPRESS)  # one run, in the child process
    p.add_argument("--lr", default="5e-5")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--work", default=str(bc.RESULTS / "short_budget"))
    p.add_argument("--lr-find", action="store_true", help="run ktrain's LR finder before training, as its tutorial does")
    p.add_argument("--reset-iterations", action="store_true",
                   help="with --lr-find: set Adam's step counter back to 0 after the LR finder")
    args = p.parse_args()
    if args.reset_iterations and not args.lr_find:
        p.error("--reset-iterations only makes sense with --lr-find")
    row = "ktrain" + ("+lr_find" if args.lr_find else "") + ("+reset" if args.reset_iterations else "")
    if args.seed is not None:
        out = Path(args.work) / f"{row}-L{args.maxlen}-E{args.epochs[0]}-S{args.seed}.json"
        args.epochs = args.epochs[0]
        record = {"benchmark": "ktrain_short", "date": time.strftime("%Y-%m-%d"), "machine": bc.machine(),
                  "versions": bc.package_versions("ktrain", "tensorflow", "tf-keras", "transformers"),
                  "settings": {k: v for k, v in vars(args).items() if k != "seeds"}, "runs": [run(args)]}
        out.write_text(json.dumps(record, indent=1) + "\n")
        print(out, record["runs"][0]["test_accuracy"], flush=True)
        return
    Path(args.work).mkdir(parents=True, exist_ok=True)
    for seed in args.seeds:
        for epochs in args.epochs:
            out = Path(args.work) / f"{row}-L{args.maxlen}-E{epochs}-S{seed}.json"
            if out.is_file() and json.loads(out.read_text()).get("runs"):
                continue
            subprocess.run([sys.executable, __file__, "--seed", str(seed), "--epochs", str(epochs), "--model",
                            args.model, "--archive", args.archive, "--maxlen", str(args.maxlen), "--lr", args.lr,
                            "--batch-size", str(args.batch_size), "--work", args.work]
                           + ["--lr-find"] * args.lr_find + ["--reset-iterations"] * args.reset_iterations, check=True)


if __name__ == "__main__":
    main()
