"""Issue 27: ktrain's tutorial script on a small slice, ported by changing the import, against ktrain
itself, over several random slices of the tutorial (held-out splits, not one lucky draw).

    python benchmarks/experiments/ported_script.py --model ../shared/models/all-MiniLM-L6-v2 \
        --archive ../shared/data/20news-bydate.tar.gz --splits 1 2 3 4 5 6

What a new user tries first: 240 training documents (60 per class) and 80 held-out ones (20 per
class) drawn from the tutorial's train and test sets by the split's seed, then ktrain's lines
with nothing but the import changed: ``text.Transformer(MODEL, maxlen=96, class_names=...)``,
``preprocess_train``, ``preprocess_test``, ``get_classifier()``, ``get_learner(model,
train_data=trn, val_data=val, batch_size=8)``, ``fit_onecycle(1e-4, 2)``. Each split runs twice,
once with ``import tfclf as ktrain`` in this project's environment and once with ktrain itself in
benchmarks/.venv-ktrain (``--ktrain-python``), each in a fresh process seeded with the split's seed.
Accuracy is counted on the 80 held-out documents (what the user sees) and, less noisy, on all 1502
test documents. Per-run JSON in benchmarks/results/ported_script/ (a rerun skips what finished);
the table, with the paired difference per split, in results/ported_script.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import bench_common as bc  # noqa: E402

PER_CLASS_TRAIN, PER_CLASS_HELD_OUT = 60, 20
MAXLEN, LR, EPOCHS, BATCH = 96, 1e-4, 2, 8
# one change each to tfclf's defaults, set before the script's lines run (the lines stay ktrain's)
VARIANTS = {
    "float32": "precision float32 (ktrain trains in float32; tfclf in bf16 where the CPU has it)",
    "plain_ops": "tfclf.fast_ops off: transformers' and Keras' own GELU, dropout and Adam update",
    "ktrain_schedule": "ktrain's triangular 1cycle (linear lr/10 -> lr -> lr/1000, momentum mirrored)",
    "mean_pooling": "Transformer(..., pooling='mean'): the one change to the script's lines",
}


def draw(data, per_class: int, seed: int) -> list[int]:
    """`per_class` documents of each class, drawn at random by `seed`, in random order."""
    import numpy as np

    rng = np.random.default_rng(seed)
    target = np.asarray(data.target)
    picked = np.concatenate([rng.choice(np.flatnonzero(target == c), per_class, replace=False)
                             for c in range(len(data.class_names))])
    return rng.permutation(picked).tolist()


def run(args) -> dict:
    """One split with one library, in this process (the child)."""
    train, test = bc.load_data(args.archive)
    tr, ho = draw(train, PER_CLASS_TRAIN, args.split), draw(test, PER_CLASS_HELD_OUT, 1000 + args.split)
    x_train, y_train = [train.texts[i] for i in tr], [int(train.target[i]) for i in tr]
    x_test, y_test = [test.texts[i] for i in ho], [int(test.target[i]) for i in ho]
    if args.library == "ktrain":
        import bench_ktrain

        model = str(bench_ktrain.tf_model_dir(args.model, str(HERE.parent / "work")))
        bench_ktrain.apply_shims()
        import ktrain
        from ktrain import text
    else:
        model = args.model
        if args.variant == "float32":
            import os

            os.environ["TFCLF_PRECISION"] = "float32"
        import tfclf as ktrain
        from tfclf import text

        if args.variant in ("plain_ops", "ktrain_schedule"):
            import accuracy  # this folder's: its levers are module settings

            accuracy.apply_levers(argparse.Namespace(
                plain_ops=args.variant == "plain_ops", bucket_window=None, bucket_min_saving=None, bucket_by=None,
                schedule="ktrain" if args.variant == "ktrain_schedule" else "tfclf"))
    import numpy as np
    import tensorflow as tf

    tf.keras.utils.set_random_seed(args.split)
    # ktrain's tutorial lines, the import being the only change
    options = {"pooling": "mean"} if args.variant == "mean_pooling" else {}
    t = text.Transformer(model, maxlen=MAXLEN, class_names=list(train.class_names), **options)
    trn = t.preprocess_train(x_train, y_train)
    val = t.preprocess_test(x_test, y_test)
    learner = ktrain.get_learner(t.get_classifier(), train_data=trn, val_data=val, batch_size=BATCH)
    start = time.perf_counter()
    learner.fit_onecycle(LR, EPOCHS)
    train_s = time.perf_counter() - start
    held_out = float(np.mean(np.asarray(learner.predict(val)).argmax(1) == np.asarray(y_test)))
    everything = t.preprocess_test(list(test.texts), test.target)
    full = float(np.mean(np.asarray(learner.predict(everything)).argmax(1) == np.asarray(test.target)))
    return {"split": args.split, "held_out_accuracy": round(held_out, 5), "test_accuracy": round(full, 5),
            "train_s": round(train_s, 1)}


def run_name(library: str, variant: str | None) -> str:
    return library + (f"+{variant}" if variant else "")


def table(work: Path) -> dict:
    runs: dict[str, dict] = {"tfclf": {}, "ktrain": {}}
    for f in sorted(work.glob("*.json")):
        record = json.loads(f.read_text())
        runs.setdefault(run_name(record["library"], record.get("variant")), {})[record["run"]["split"]] = record["run"]
    out = {}
    for library, by_split in runs.items():
        if not by_split:
            continue
        row = {"splits": sorted(by_split)}
        for key in ("held_out_accuracy", "test_accuracy", "train_s"):
            values = [r[key] for r in by_split.values()]
            row[key + "_mean"] = round(statistics.fmean(values), 5)
            row[key + "_std"] = round(statistics.stdev(values), 5) if len(values) > 1 else None
        out[library] = row
    for name in [n for n in runs if n != "ktrain"]:
        shared = sorted(set(runs[name]) & set(runs["ktrain"]))
        if not shared:
            continue
        diff = {key: [round(runs[name][s][key] - runs["ktrain"][s][key], 5) for s in shared]
                for key in ("held_out_accuracy", "test_accuracy")} | {"splits": shared}
        for key in ("held_out_accuracy", "test_accuracy"):
            diff[key + "_mean"] = round(statistics.fmean(diff[key]), 5)
        out[f"{name}_minus_ktrain"] = diff
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True)
    p.add_argument("--archive", default=bc.os.environ.get("TFCLF_20NG_ARCHIVE"))
    p.add_argument("--splits", type=int, nargs="+", default=[1, 2, 3, 4, 5, 6])
    p.add_argument("--ktrain-python", default=str(HERE.parent / ".venv-ktrain" / "bin" / "python"))
    p.add_argument("--libraries", nargs="+", choices=["tfclf", "ktrain"], default=["tfclf", "ktrain"])
    p.add_argument("--split", type=int, help=argparse.SUPPRESS)  # one run, in the child process
    p.add_argument("--library", choices=["tfclf", "ktrain"], help=argparse.SUPPRESS)
    p.add_argument("--variant", choices=list(VARIANTS),
                   help="tfclf only: one change to its defaults (runs named tfclf+VARIANT)")
    p.add_argument("--work", default=str(bc.RESULTS / "ported_script"))
    p.add_argument("--output", default=str(bc.RESULTS / "ported_script.json"))
    args = p.parse_args()
    if not args.archive:
        sys.exit("pass --archive (the 20news-bydate.tar.gz) or set TFCLF_20NG_ARCHIVE")
    work = Path(args.work)
    if args.split is not None:
        record = {"benchmark": "ported_script", "library": args.library, "variant": args.variant,
                  "variant_means": VARIANTS.get(args.variant), "date": time.strftime("%Y-%m-%d"),
                  "machine": bc.machine(), "settings": {"maxlen": MAXLEN, "lr": LR, "epochs": EPOCHS,
                                                        "batch_size": BATCH, "train_docs": 4 * PER_CLASS_TRAIN,
                                                        "held_out_docs": 4 * PER_CLASS_HELD_OUT},
                  "versions": bc.package_versions(args.library, "tensorflow", "tf-keras", "transformers"),
                  "run": run(args)}
        (work / f"{run_name(args.library, args.variant)}-S{args.split}.json").write_text(json.dumps(record, indent=1) + "\n")
        return
    work.mkdir(parents=True, exist_ok=True)
    for split in args.splits:  # splits outermost: both libraries get a split before the next
        for library in args.libraries:
            variant = args.variant if library == "tfclf" else None
            if (work / f"{run_name(library, variant)}-S{split}.json").is_file():
                continue
            python = args.ktrain_python if library == "ktrain" else sys.executable
            subprocess.run([python, __file__, "--split", str(split), "--library", library, "--model", args.model,
                            "--archive", args.archive, "--work", str(work),
                            *(["--variant", variant] if variant else [])], check=True)
            result = {"benchmark": "ported_script", "machine": bc.machine(), "rows": table(work)}
            Path(args.output).write_text(json.dumps(result, indent=2) + "\n")
            name = run_name(library, variant)
            print(name, split, json.dumps(result["rows"].get(f"{name}_minus_ktrain")), flush=True)


if __name__ == "__main__":
    main()
