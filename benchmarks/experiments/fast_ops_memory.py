"""Issue 26: which lever of tfclf.fast_ops costs the 300 MB of peak memory seen at the full budget.

    python benchmarks/experiments/fast_ops_memory.py --model ../shared/models/all-MiniLM-L6-v2 \
        --archive ../shared/data/20news-bydate.tar.gz --maxlen 256 --steps 20

Peak resident memory is a property of a process, so every variant (the levers of
`fast_ops_ab.py`: plain ops, each lever alone, all three) trains in a fresh process of its own:
the same documents (the longest ones, so every batch is maxlen wide), the same seed, `--steps`
training steps (with ``--docs N``: N random documents in the training run's bucketed batches of
varied widths) through Keras' own `train_step`. Each child reports the peak (``ru_maxrss``) and
the current resident memory after loading the data, after building the model, after its first
step and after the last, and the median milliseconds of a step after the first three. Writes
results/fast_ops_memory.json.
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
sys.path.insert(0, str(HERE))

import bench_common as bc  # noqa: E402
from fast_ops_ab import build, parser, transformer_and_batches  # noqa: E402


def child(args) -> dict:
    from tfclf._compat import tf

    marks = {}

    def mark(name: str) -> None:
        marks[name] = {"peak_mb": bc.peak_rss_mb(), "now_mb": bc.current_rss_mb()}

    t, batches = transformer_and_batches(args, seed=args.seed, docs=args.docs)
    mark("data")
    model = build(args.variant, t)
    step = tf.function(model.train_step, reduce_retracing=True)  # as Keras' fit traces it
    mark("model")
    times = []
    for i in range(args.steps):
        x, y = batches[i % len(batches)]
        start = time.perf_counter()
        float(step((x, y))["loss"])
        times.append(time.perf_counter() - start)
        if i == 0:
            mark("first_step")
    mark("last_step")
    return {"marks": marks, "median_step_ms": round(1000 * statistics.median(times[3:] or times), 1),
            "fused_update": bool(getattr(model.optimizer, "fused", False)),
            "xla_update": bool(getattr(model.optimizer, "jit_compile", False))}


def main() -> None:
    p = parser(__doc__, "fast_ops_memory.json")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--docs", type=int, help="random training documents in bucketed batches of varied width "
                   "(default: the longest documents, every batch maxlen wide)")
    p.add_argument("--variant", help=argparse.SUPPRESS)  # one variant, in the child process
    args = p.parse_args()
    if args.variant:
        print("RESULT " + json.dumps(child(args)), flush=True)
        return
    result = {"benchmark": "fast_ops_memory", "date": time.strftime("%Y-%m-%d"), "machine": bc.machine(),
              "settings": vars(args), "variants": {}}
    for variant in args.variants:
        cmd = [sys.executable, __file__, *sys.argv[1:], "--variant", variant]
        out = subprocess.run(cmd, capture_output=True, text=True)
        lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
        if out.returncode or not lines:
            sys.exit(f"{variant} failed (rc {out.returncode}):\n{out.stderr[-3000:]}")
        result["variants"][variant] = json.loads(lines[-1][len("RESULT "):])
        print(variant, json.dumps(result["variants"][variant]), flush=True)
        Path(args.output).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
