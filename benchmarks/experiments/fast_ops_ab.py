"""Issue 26: each lever of tfclf.fast_ops timed on its own, as paired training steps in one process.

    python benchmarks/experiments/fast_ops_ab.py --model ../shared/models/all-MiniLM-L6-v2 \
        --archive ../shared/data/20news-bydate.tar.gz --maxlen 256 --rounds 30

One model per variant (plain ops; only the erf GELU; only the 16-bit dropout masks; only the
one-pass Adam update (XLA-compiled until 2026-12-05); all three, the library's default), all with the same weights. Each round
takes one training step of every variant on the same batch of tutorial documents (width maxlen),
in an order rotated every round, so that a machine whose speed drifts (a shared 2-core VM does)
slows every variant alike. Writes results/fast_ops_ab.json: each variant's median ms per step and
the median of its per-round ratio to the plain step.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import bench_common as bc  # noqa: E402

VARIANTS = ("plain", "erf_gelu", "mask_dropout", "fused_adam", "all")
# asked for with --variants: all three without attention dropout (which changes the arithmetic),
# and the GELU and dropout levers without the fused update (which costs memory: issue 26)
EXTRA_VARIANTS = ("all_no_attention_dropout", "gelu_and_dropout")


def build(variant: str, t):
    """A compiled classifier with only `variant`'s levers of tfclf.fast_ops."""
    from tfclf import fast_ops

    saved = fast_ops.gelu_sites, fast_ops.dropout_sites, fast_ops.fused_update_enabled
    fast_ops.ENABLED = variant != "plain"
    every = ("all", *EXTRA_VARIANTS)  # gelu_and_dropout: all but the fused update
    if variant not in ("erf_gelu", *every):
        fast_ops.gelu_sites = lambda model: []
    if variant not in ("mask_dropout", *every):
        fast_ops.dropout_sites = lambda model: []
    if variant not in ("fused_adam", *every) or variant == "gelu_and_dropout":
        fast_ops.fused_update_enabled = lambda: False
    try:
        return t.get_classifier(attention_dropout=0.0 if variant == "all_no_attention_dropout" else None)
    finally:
        fast_ops.gelu_sites, fast_ops.dropout_sites, fast_ops.fused_update_enabled = saved
        fast_ops.ENABLED = True


def parser(doc: str, output: str) -> argparse.ArgumentParser:
    """The options this script shares with fast_ops_memory.py."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--model", required=True)
    p.add_argument("--archive", default=bc.os.environ.get("TFCLF_20NG_ARCHIVE"))
    p.add_argument("--maxlen", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--precision", default="auto")
    p.add_argument("--variants", nargs="+", choices=VARIANTS + EXTRA_VARIANTS, default=list(VARIANTS),
                   help="which to run (plain, the reference, always is here)")
    p.add_argument("--output", default=str(bc.RESULTS / output))
    return p


def transformer_and_batches(args, seed: int, docs: int | None = None):
    """A Transformer for `args.model` and training batches of the tutorial's documents: the longest
    ones (every batch maxlen wide, one traced shape), or `docs` random ones in the bucketed,
    shuffled batches of a training run (varied widths)."""
    import numpy as np

    import tfclf
    from tfclf import text

    train, _ = bc.load_data(args.archive)
    tfclf.set_seed(seed)
    t = text.Transformer(args.model, maxlen=args.maxlen, class_names=train.class_names, precision=args.precision)
    if docs:
        order = np.random.default_rng(seed).permutation(len(train.texts))[:docs]
    else:
        order = np.argsort([-len(x) for x in train.texts])[: args.batch_size * 4]
    trn = t.preprocess_train([train.texts[i] for i in order], [train.labels[i] for i in order], verbose=0)
    return t, list(trn.to_tf(args.batch_size, shuffle=bool(docs), seed=seed))


def main() -> None:
    p = parser(__doc__, "fast_ops_ab.json")
    p.add_argument("--rounds", type=int, default=30)
    p.add_argument("--warmup", type=int, default=3)
    args = p.parse_args()

    from tfclf._compat import tf
    from tfclf.precision import model_precision

    t, batches = transformer_and_batches(args, seed=0)
    variants = ("plain", *[v for v in args.variants if v != "plain"])
    models = {}
    for v in variants:
        models[v] = build(v, t)
        if v != "plain":
            models[v].set_weights(models["plain"].get_weights())
    steps = {v: tf.function(m.train_step) for v, m in models.items()}
    times: dict[str, list[float]] = {v: [] for v in variants}
    for r in range(args.warmup + args.rounds):
        x, y = batches[r % len(batches)]
        rotated = variants[r % len(variants):] + variants[: r % len(variants)]
        for v in rotated:
            start = time.perf_counter()
            logs = steps[v]((x, y))
            float(logs["loss"])  # wait for the step
            if r >= args.warmup:
                times[v].append(time.perf_counter() - start)
        print(f"round {r}: " + " ".join(f"{v} {1000 * times[v][-1]:.0f}" for v in variants if times[v]), flush=True)
    plain = times["plain"]
    result = {"benchmark": "fast_ops_ab", "date": time.strftime("%Y-%m-%d"), "machine": bc.machine(),
              "settings": vars(args), "precision": model_precision(models["plain"]),
              "width": int(batches[0][0]["input_ids"].shape[1]),
              "variants": {v: {"median_ms": round(1000 * statistics.median(ts), 1),
                               "median_ratio_to_plain": round(statistics.median(a / b for a, b in zip(ts, plain)), 3)}
                           for v, ts in times.items()}}
    Path(args.output).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["variants"], indent=2))


if __name__ == "__main__":
    main()
