"""One training step taken apart (issue 26): where the time of a step goes.

    python benchmarks/profile_step.py --model ../shared/models/all-MiniLM-L6-v2 \
        --archive ../shared/data/20news-bydate.tar.gz --maxlen 256 --batch-size 8

On the tutorial's training documents, with the library's defaults (pooling, precision: bfloat16
where the CPU has it):

1. **the fit loop**: `Learner.fit_onecycle` over `--docs` documents, each step's wall time taken
   from a callback (the first `--skip` steps, which trace, left out);
2. **bare steps**: the same model's `train_step` in one `tf.function` over the same batches, with
   no Keras loop or callbacks: the difference from 1 is the per-step Python work of the loop and
   the Learner's callbacks (recorder, schedule, NaN guard);
3. **forward only** and **the optimizer's update only** (Adam applying fixed gradients to every
   trainable weight), each in its own `tf.function`;
4. **the profiler**: TensorFlow's profiler over `--profile-steps` bare steps, its per-op self
   times grouped into matmuls (forward / backward), attention softmax and masking, layer norm,
   GELU, dropout, casts, the embedding lookup and its gradient, the optimizer's update, and the
   rest.

Writes results/profile_step.json (or `--output`) with milliseconds per step for each part, the
share of the profiled op time, and the step's executed GFLOP/s against the matmul peak.
"""

from __future__ import annotations

import argparse
import glob
import json
import re
import tempfile
import time
from pathlib import Path

import numpy as np

import bench_common as bc

HERE = Path(__file__).resolve().parent
MATMUL_TYPES = re.compile(r"MatMul|Einsum|Conv", re.IGNORECASE)
# (category, test on the op's name and type), first match wins; the order matters: a cast inside a
# layer norm counts as a cast, a matmul inside attention as a matmul
CATEGORIES = [
    ("optimizer update", lambda name, kind: "Apply" in kind or re.search(r"(^|/)(Adam|adam|optimizer)/", name)
     or kind in ("AssignVariableOp", "AssignAddVariableOp", "AssignSubVariableOp")),
    ("casts", lambda name, kind: kind == "Cast"),
    ("matmul backward", lambda name, kind: MATMUL_TYPES.search(kind) and "gradient" in name.lower()),
    ("matmul forward", lambda name, kind: MATMUL_TYPES.search(kind)),
    ("dropout (random numbers and masks)", lambda name, kind: "dropout" in name.lower() or "Random" in kind),
    ("embedding lookup and gradient", lambda name, kind: "embeddings" in name or "Gather" in kind
     or "UnsortedSegment" in kind or "Scatter" in kind),
    ("attention softmax and masking", lambda name, kind: "Softmax" in kind or "attention" in name.lower()),
    ("layer norm", lambda name, kind: "layernorm" in name.lower().replace("_", "") or "BatchNorm" in kind),
    ("GELU", lambda name, kind: "Erf" in kind or "intermediate" in name or "gelu" in name.lower()),
]


def categorise(rows: list[dict]) -> dict[str, float]:
    """Self time (us) per category from the profiler's per-op rows (host idle left out)."""
    totals: dict[str, float] = {}
    for r in rows:
        name, kind, us = r["operation"], r["type"], float(r["total_self_time"])
        if kind == "IDLE":
            continue
        category = next((c for c, test in CATEGORIES if test(name, kind)), "other")
        totals[category] = totals.get(category, 0.0) + us
    return totals


def op_rows(logdir: str) -> list[dict]:
    """The profiler's framework op statistics, one dict per op."""
    from tensorflow.python.profiler.internal import _pywrap_profiler_plugin as plugin

    files = glob.glob(f"{logdir}/**/*.xplane.pb", recursive=True)
    data, ok = plugin.xspace_to_tools_data(files, "framework_op_stats", {})
    if not ok:
        raise RuntimeError(f"the profiler's op statistics are unavailable: {data[:200]!r}")
    table = json.loads(data)[0]
    ids = [c["id"] for c in table["cols"]]
    return [dict(zip(ids, (c.get("v") for c in row["c"]))) for row in table["rows"]]


def step_timer():
    """A Keras callback whose `times` lists each training batch's wall time."""
    from tfclf._compat import keras

    class StepTimes(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.times, self.t0 = [], 0.0

        def on_train_batch_begin(self, batch, logs=None):
            self.t0 = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.times.append(time.perf_counter() - self.t0)

    return StepTimes()


def per_step_ms(fn, batches, skip: int) -> float:
    for b in batches[:skip]:
        fn(b)
    t0 = time.perf_counter()
    for b in batches[skip:]:
        fn(b)
    return 1000 * (time.perf_counter() - t0) / max(len(batches) - skip, 1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True)
    p.add_argument("--archive", default=bc.os.environ.get("TFCLF_20NG_ARCHIVE"))
    p.add_argument("--maxlen", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--docs", type=int, default=320, help="training documents the timings run over")
    p.add_argument("--skip", type=int, default=5, help="first steps left out of each timing (tracing)")
    p.add_argument("--profile-steps", type=int, default=10)
    p.add_argument("--precision", default="auto")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--peak-seconds", type=float, default=3.0)
    p.add_argument("--ops", choices=["fast", "plain"], default="fast",
                   help="fast: the library's default (tfclf.fast_ops: erf GELU, 16-bit dropout masks, Adam's "
                        "update in one pass of TensorFlow's Adam kernel); plain: transformers' and Keras' own ops "
                        "(erfc GELU, tf.nn.dropout, unfused Adam), as before issue 26")
    p.add_argument("--output", default=str(bc.RESULTS / "profile_step.json"))
    args = p.parse_args()

    import tfclf
    from tfclf import fast_ops, text
    from tfclf._compat import tf
    from tfclf.data import padded_length
    from tfclf.precision import model_precision

    train, _ = bc.load_data(args.archive)
    texts, labels = list(train.texts)[:args.docs], list(train.labels)[:args.docs]
    tfclf.set_seed(args.seed)
    fast_ops.ENABLED = args.ops == "fast"
    t = text.Transformer(args.model, maxlen=args.maxlen, class_names=train.class_names, precision=args.precision)
    trn = t.preprocess_train(texts, labels, verbose=0)
    learner = tfclf.get_learner(t.get_classifier(), trn, batch_size=args.batch_size, seed=args.seed)
    model = learner.model
    result = {"benchmark": "profile_step", "date": time.strftime("%Y-%m-%d"), "machine": bc.machine(),
              "settings": {k: getattr(args, k) for k in ("model", "maxlen", "batch_size", "docs", "skip",
                                                           "profile_steps", "seed", "ops")},
              "precision": model_precision(model), "ms_per_step": {}}

    # 1. the fit loop, callbacks included
    times = step_timer()
    learner.fit_onecycle(5e-5, 1, callbacks=[times], verbose=0)
    result["ms_per_step"]["fit loop (Learner.fit_onecycle)"] = round(1000 * float(np.mean(times.times[args.skip:])), 1)

    # 2-3. the same batches without the loop; forward only; the update only
    batches = list(trn.to_tf(args.batch_size, shuffle=True, seed=args.seed, start_epoch=0))  # the fit loop's batches
    widths = [int(x["input_ids"].shape[1]) for x, _ in batches]
    train_step = tf.function(model.train_step, reduce_retracing=True)
    forward = tf.function(lambda b: model(b[0], training=True), reduce_retracing=True)
    weights = model.trainable_variables
    zeros = [tf.zeros_like(w) for w in weights]
    apply = tf.function(lambda: model.optimizer.apply_gradients(zip(zeros, weights)))

    def update(_):
        return apply()

    result["ms_per_step"]["bare train_step"] = round(per_step_ms(train_step, batches, args.skip), 1)
    result["ms_per_step"]["forward only"] = round(per_step_ms(forward, batches, args.skip), 1)
    result["ms_per_step"]["optimizer update only"] = round(per_step_ms(update, batches, args.skip), 1)
    ms = result["ms_per_step"]
    ms["fit loop and callbacks (1 - bare)"] = round(ms["fit loop (Learner.fit_onecycle)"] - ms["bare train_step"], 1)
    ms["backward (bare - forward - update)"] = round(ms["bare train_step"] - ms["forward only"]
                                                     - ms["optimizer update only"], 1)

    # 4. the profiler over bare steps
    profiled = batches[args.skip:args.skip + args.profile_steps]
    with tempfile.TemporaryDirectory(prefix="tfclf-profile-") as logdir:
        tf.profiler.experimental.start(logdir)
        t0 = time.perf_counter()
        for b in profiled:
            train_step(b)
        wall = time.perf_counter() - t0
        tf.profiler.experimental.stop()
        rows = op_rows(logdir)
    totals = categorise(rows)
    op_total = sum(totals.values())
    n = len(profiled)
    result["profile"] = {
        "steps": n, "wall_ms_per_step": round(1000 * wall / n, 1), "op_ms_per_step": round(op_total / 1000 / n, 1),
        "categories": {c: {"ms_per_step": round(us / 1000 / n, 2), "share": round(us / op_total, 4)}
                       for c, us in sorted(totals.items(), key=lambda kv: -kv[1])},
        "top_ops": [{"operation": r["operation"], "type": r["type"],
                     "ms_per_step": round(float(r["total_self_time"]) / 1000 / n, 2)}
                    for r in sorted(rows, key=lambda r: -float(r["total_self_time"])) if r["type"] != "IDLE"][:25],
    }

    # executed GFLOP/s of the bare steps against this machine's matmul peak
    dims = bc.encoder_dims(args.model)
    flops = [bc.train_flops(dims, [w] * args.batch_size, padded_length(w, trn.maxlen)) for w in widths[args.skip:]]
    gflops = float(np.mean(flops)) / (ms["bare train_step"] / 1000) / 1e9
    dtype = "bfloat16" if "bfloat16" in result["precision"] else "float32"
    peak = bc.matmul_peak_gflops(dtype, seconds=args.peak_seconds)
    result["executed_gflops"] = round(gflops, 1)
    result["matmul_peak_gflops"] = {dtype: peak}
    result["share_of_peak"] = round(gflops / peak, 3)
    result["mean_padded_width"] = round(float(np.mean(widths[args.skip:])), 1)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("ms_per_step", "executed_gflops", "share_of_peak")}, indent=2))
    for c, v in result["profile"]["categories"].items():
        print(f"{c:32s} {v['ms_per_step']:8.2f} ms {100 * v['share']:5.1f}%")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
