"""Accuracy on the 20 Newsgroups tutorial split, one configuration over several seeds (issue 10).

Each seed trains a fresh model with fit_onecycle, then predicts the 1502 test documents with a
Predictor (so long-document windows are aggregated per document, as a user's `predict` would).
The JSON is rewritten after every seed, so a run cut short keeps the seeds it finished.

    python benchmarks/experiments/accuracy.py --name windows256x4 --maxlen 256 --max-windows 4 \
        --seeds 42 43 44 --model ../shared/models/all-MiniLM-L6-v2 \
        --archive ../shared/data/20news-bydate.tar.gz

`--lr find` runs the LR finder per seed and takes its suggestion inside 1e-5..1e-4 (the
quickstart's rule), else 5e-5. `--early-stopping N` uses `autofit` with the 1cycle-shaped
triangular schedule and early stopping on val_loss (best epoch's weights restored).

`--save-proba` also writes each seed's test probabilities, `NAME.seedS.proba.csv`, to
`bench_common.PROBA_DIR` (benchmarks/work/accuracy/, ignored by git), where `ensemble.py` reads
them; the JSON summary goes to benchmarks/results/accuracy/NAME.json, which is kept in git.

`--scratch '{"model_type": "distilbert", "n_layers": 2, ...}'` trains a model of that configuration
from random initialization with a WordPiece vocabulary learned from the training texts
(`--vocab-size`); `--model` is then not needed.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import bench_common as bc  # noqa: E402


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--name", required=True, help="the configuration's name (the JSON's file name)")
    p.add_argument("--model", help="the pretrained model folder (unless --scratch)")
    p.add_argument("--scratch", help="a model configuration as JSON (with model_type): train from scratch")
    p.add_argument("--vocab-size", type=int, default=16000, help="--scratch: the learned vocabulary's size")
    p.add_argument("--archive", default=bc.os.environ.get("TFCLF_20NG_ARCHIVE"))
    p.add_argument("--maxlen", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--early-stopping", type=int, help="autofit with early stopping after N epochs without a "
                                                          "better val_loss (best weights restored)")
    p.add_argument("--lr", default="5e-5", help="a learning rate, or 'find'")
    p.add_argument("--seeds", type=int, nargs="+", default=[42, 43, 44])
    p.add_argument("--truncation", default="head")
    p.add_argument("--head-tokens", type=int)
    p.add_argument("--max-windows", type=int, default=1)
    p.add_argument("--window-overlap", type=int)
    p.add_argument("--aggregate", default="mean_logits")
    p.add_argument("--precision", default="auto")
    p.add_argument("--pooling", choices=["auto", "cls", "mean"], default="cls", help="Transformer(pooling=...)")
    p.add_argument("--label-smoothing", type=float, default=0.0, help="get_classifier(label_smoothing=...)")
    p.add_argument("--attention-dropout", type=float,
                   help="get_classifier(attention_dropout=...): the attention-probability dropout (issue 26)")
    p.add_argument("--layer-decay", type=float, help="get_classifier(layer_decay=...): layer-wise LR decay")
    p.add_argument("--bucket-window", type=int, help="tfclf.data.BUCKET_WINDOW (1: batches in random order, "
                                                         "no length bucketing)")
    p.add_argument("--plain-ops", action="store_true",
                   help="tfclf.fast_ops.ENABLED = False: transformers' and Keras' own GELU, dropout and Adam update "
                        "(issue 26's accuracy check of fast_ops)")
    p.add_argument("--bucket-min-saving", type=float,
                   help="tfclf.data.BUCKET_MIN_SAVING (0: bucket whatever it saves, the default before issue 27)")
    p.add_argument("--bucket-by", choices=["length", "width"],
                   help="tfclf.data.BUCKET_BY: sort windows by exact length, or by padded width (issue 27)")
    p.add_argument("--schedule", choices=["tfclf", "ktrain"], default="tfclf",
                   help="fit_onecycle's shape: tfclf's (tfclf.schedules), or ktrain's triangle (linear lr/10 -> lr "
                        "-> towards lr/1000 and momentum mirrored, ktrain's CyclicLR with step_size = half the steps)")
    p.add_argument("--no-cycle-momentum", action="store_true", help="fit_onecycle(cycle_momentum=False)")
    p.add_argument("--checkpoint-dir", help="resumable per-epoch checkpoints in DIR/seedS (rerun to resume)")
    p.add_argument("--teacher", help="a saved predictor folder to distill (get_learner(teacher=...))")
    p.add_argument("--distill-temperature", type=float, default=2.0)
    p.add_argument("--distill-alpha", type=float, default=0.5)
    p.add_argument("--limit", type=int, help="first N train and test documents (for trying the script)")
    p.add_argument("--output", help="default: benchmarks/results/accuracy/NAME.json")
    p.add_argument("--save", help="save the last seed's predictor to this folder")
    p.add_argument("--save-proba", action="store_true",
                   help="also write each seed's test probabilities to NAME.seedS.proba.csv in --proba-dir "
                        "(for combining models after the fact, e.g. benchmarks/experiments/ensemble.py)")
    p.add_argument("--proba-dir", default=str(bc.PROBA_DIR),
                   help="where --save-proba writes (default: benchmarks/work/accuracy/, ignored by git)")
    return p.parse_args()


def ktrain_triangle(step: int, total: int, low: float, high: float, end: float | None = None) -> float:
    """ktrain's fit_onecycle (ktrain/lroptimize/triangular.py, CyclicLR "triangular" with step_size
    s = ceil(total / 2)): linear from `low` at step 0 to `high` at step s, then linear from `high`
    towards `end` (reached at step 2s, so never quite: ktrain's "annihilation" sets the base to
    max_lr / 1000 past the peak). `end` defaults to `low` (the momentum's mirrored triangle)."""
    half = math.ceil(total / 2)
    base = low if end is None or step <= half else end
    x = abs(step / half - 1.0)
    return base + (high - base) * max(0.0, 1.0 - x)


def apply_levers(args) -> None:
    """The levers that are module settings rather than arguments (issue 27's batch orders and
    schedule, issue 26's plain ops)."""
    import tfclf.data
    from tfclf import fast_ops, schedules

    if args.plain_ops:
        fast_ops.ENABLED = False
    if args.bucket_window is not None:
        tfclf.data.BUCKET_WINDOW = args.bucket_window
    if args.bucket_min_saving is not None:
        tfclf.data.BUCKET_MIN_SAVING = args.bucket_min_saving
    if args.bucket_by is not None:
        tfclf.data.BUCKET_BY = args.bucket_by
    if args.schedule == "ktrain":
        def lr(self, step):
            return ktrain_triangle(step, self.total, self.max_lr / 10, self.max_lr, end=self.max_lr / 1000)

        def momentum(self, step):
            if not self.cycle_momentum:
                return None
            return ktrain_triangle(step, self.total, self.max_momentum, self.min_momentum)

        schedules.OneCycle.lr, schedules.OneCycle.momentum = lr, momentum


_TEACHER_CACHE: dict = {}


def load_teacher(args):
    """The teacher predictor, with its soft targets memoised for this process: every seed trains on
    the same texts, so the teacher's one-time cost is paid once and reported apart (teacher_s)."""
    if not args.teacher:
        return None
    if "predictor" not in _TEACHER_CACHE:
        import tfclf
        import tfclf.distillation as distillation

        plain = distillation.teacher_soft_targets

        def memoised(teacher, data, temperature):
            key = (len(data), float(temperature))
            if key not in _TEACHER_CACHE:
                t0 = time.perf_counter()
                _TEACHER_CACHE[key] = plain(teacher, data, temperature)
                _TEACHER_CACHE["teacher_s"] = round(time.perf_counter() - t0, 1)
            return _TEACHER_CACHE[key]

        distillation.teacher_soft_targets = memoised
        _TEACHER_CACHE["predictor"] = tfclf.load_predictor(args.teacher)
    return _TEACHER_CACHE["predictor"]


class EpochTimes:
    """Each finished epoch's wall time in a JSON file beside the checkpoints, so a run resumed in
    another process still reports the whole training time."""

    def __init__(self, folder: Path):
        self.path = folder / "epoch_times.json"

    def load(self) -> dict:
        return json.loads(self.path.read_text()) if self.path.is_file() else {}

    def callback(self):
        from tfclf._compat import keras

        times = self

        class Record(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.t0 = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                done = times.load()
                done[str(epoch + 1)] = round(time.perf_counter() - self.t0, 1)
                times.path.parent.mkdir(parents=True, exist_ok=True)
                times.path.write_text(json.dumps(done, indent=1) + "\n")

        return Record()


def run_seed(args, seed: int, train, test) -> dict:
    import numpy as np
    from sklearn.metrics import accuracy_score, f1_score

    import tfclf
    from tfclf import text
    from tfclf.precision import model_precision
    from tfclf.quickstart import pick_lr

    tfclf.set_seed(seed)
    apply_levers(args)
    if args.scratch:
        from tfclf._compat import transformers

        spec = json.loads(args.scratch)
        model = transformers.AutoConfig.for_model(spec.pop("model_type"), **spec)
        extra = dict(tokenizer="train", vocab_size=args.vocab_size)
    else:
        model, extra = args.model, {}
    t = text.Transformer(model, maxlen=args.maxlen, **extra, class_names=train.class_names, precision=args.precision,
                         truncation=args.truncation, head_tokens=args.head_tokens, max_windows=args.max_windows,
                         window_overlap=args.window_overlap, aggregate=args.aggregate,
                         pooling=args.pooling)
    t0 = time.perf_counter()
    trn = t.preprocess_train(train.texts, train.labels)
    val = t.preprocess_test(test.texts, test.labels)
    preprocess_s = time.perf_counter() - t0
    # only when given, so the script still runs against a library from before the option (issue 27's worktree)
    options = {} if args.attention_dropout is None else {"attention_dropout": args.attention_dropout}
    model = t.get_classifier(label_smoothing=args.label_smoothing, layer_decay=args.layer_decay, **options)
    teacher = load_teacher(args)
    distill = {} if teacher is None else dict(teacher=teacher, distill_temperature=args.distill_temperature,
                                              distill_alpha=args.distill_alpha)
    learner = tfclf.get_learner(model, trn, val, batch_size=args.batch_size, seed=seed, **distill)
    out = {"seed": seed, "precision": model_precision(learner.model), "train_rows": len(trn), "test_rows": len(val),
           "preprocess_s": round(preprocess_s, 2)}
    if teacher is not None:
        out["teacher_s"] = _TEACHER_CACHE.get("teacher_s")
    if args.lr == "find":
        t0 = time.perf_counter()
        suggestions = learner.lr_find(verbose=0)
        out["lr_find_s"] = round(time.perf_counter() - t0, 1)
        lr, why = pick_lr(suggestions, fallback=5e-5)
        out["lr_suggestions"] = suggestions._asdict()
        out["lr_why"] = why
    else:
        lr = float(args.lr)
    out["lr"] = lr

    resumable = {}
    if args.checkpoint_dir:
        folder = Path(args.checkpoint_dir) / f"seed{seed}"
        times = EpochTimes(folder)
        before = times.load()
        resumable = dict(checkpoint_folder=folder, resume=bool(before), callbacks=[times.callback()])
        if before:
            out["resumed_after_epochs"] = max(int(e) for e in before)
    t0 = time.perf_counter()
    if args.early_stopping:
        learner.autofit(lr, args.epochs, early_stopping=args.early_stopping, verbose=2)
    else:
        learner.fit_onecycle(lr, args.epochs, verbose=2, cycle_momentum=not args.no_cycle_momentum, **resumable)
    out["train_s"] = round(time.perf_counter() - t0, 1)
    if args.checkpoint_dir:
        # the whole run's time, over every process that trained part of it
        out["train_s"] = round(sum(times.load().values()), 1)
    hist = learner.history.history
    out["val_loss_per_epoch"] = [round(float(v), 4) for v in hist.get("val_loss", [])]
    out["val_row_accuracy_per_epoch"] = [round(float(v), 4) for v in hist.get("val_accuracy", [])]

    predictor = tfclf.get_predictor(learner.model, t, batch_size=32)
    predictor.predict(test.texts[:8])
    t0 = time.perf_counter()
    probs = predictor.predict_proba(test.texts)
    predict_s = time.perf_counter() - t0
    out["predict_s"] = round(predict_s, 1)
    # from the unrounded time: a tiny model's prediction rounds to 0.0 s
    out["predict_docs_per_s"] = round(len(test.texts) / predict_s, 1)
    classes = predictor.get_classes()
    pred = [classes[i] for i in np.asarray(probs).argmax(axis=1)]
    out["test_accuracy"] = round(float(accuracy_score(test.labels, pred)), 5)
    out["test_correct"] = int(sum(p == y for p, y in zip(pred, test.labels)))
    out["test_macro_f1"] = round(float(f1_score(test.labels, pred, average="macro")), 5)
    out["peak_rss_mb"] = round(bc.peak_rss_mb(), 0)
    if args.save:
        predictor.save(args.save)
    if args.save_proba:
        proba_path = Path(args.proba_dir) / f"{args.name}.seed{seed}.proba.csv"
        proba_path.parent.mkdir(parents=True, exist_ok=True)
        np.savetxt(proba_path, np.asarray(probs), fmt="%.6g", delimiter=",", header=",".join(classes), comments="")
        out["proba_file"] = proba_path.name
    print(f"seed {seed}: accuracy {out['test_accuracy']:.4f} ({out['test_correct']}/{len(test.texts)}), "
          f"train {out['train_s']:.0f} s, predict {out['predict_docs_per_s']} docs/s", flush=True)
    return out


def summary(runs: list[dict]) -> dict:
    def stats(key):
        values = [r[key] for r in runs]
        return {"mean": round(statistics.fmean(values), 5), "min": min(values), "max": max(values),
                "std": round(statistics.stdev(values), 5) if len(values) > 1 else 0.0}

    return {key: stats(key) for key in ("test_accuracy", "test_macro_f1", "train_s", "predict_docs_per_s")}


def main() -> None:
    args = parse()
    if not (args.model or args.scratch):
        sys.exit("pass --model (a pretrained model folder) or --scratch (a configuration as JSON)")
    if not args.archive:
        sys.exit("pass --archive (the 20news-bydate.tar.gz) or set TFCLF_20NG_ARCHIVE")
    if args.checkpoint_dir and args.early_stopping:
        sys.exit("--checkpoint-dir resumes fit_onecycle runs; autofit (--early-stopping) has no resume")
    out_path = Path(args.output or bc.RESULTS / "accuracy" / f"{args.name}.json")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    train, test = bc.load_data(args.archive, args.limit)
    # where files go is not part of the configuration (accuracy_table.py groups runs by it)
    config = {k: v for k, v in vars(args).items() if k not in ("output", "archive", "proba_dir")}
    result = {"name": args.name, "config": config, "command": " ".join(sys.argv), "machine": bc.machine(),
              "versions": bc.package_versions("tensorflow", "tf-keras", "transformers"), "runs": []}
    if args.checkpoint_dir and out_path.is_file():
        # a rerun after an interruption keeps the seeds that finished
        result["runs"] = [r for r in json.loads(out_path.read_text()).get("runs", []) if r["seed"] in args.seeds]
        if result["runs"]:
            result["summary"] = summary(result["runs"])
    for seed in args.seeds:
        if any(r["seed"] == seed for r in result["runs"]):
            print(f"seed {seed}: already in {out_path}, skipped", flush=True)
            continue
        result["runs"].append(run_seed(args, seed, train, test))
        result["summary"] = summary(result["runs"])
        out_path.write_text(json.dumps(result, indent=2) + "\n")
        # Free the finished seed's model before the next one is built.
        from tfclf._compat import keras

        keras.backend.clear_session()
    print(json.dumps(result["summary"], indent=2))
    print(f"wrote {out_path}")


if __name__ == "__main__":
    main()
