"""Issue 26: is today's training step slower than an older version's? Alternating runs of each.

    git worktree add /tmp/tfclf-1122 d136366      # the code of the 2026-11-22 standard run
    python benchmarks/experiments/version_ab.py --trees /tmp/tfclf-1122 . \
        --model ../shared/models/all-MiniLM-L6-v2 --archive ../shared/data/20news-bydate.tar.gz

Each round runs one short `fit_onecycle` (the longest training documents, so every batch is
maxlen wide: batch 8, bf16 where the CPU has it, one epoch of `--steps` steps) in a fresh process
per tree, in an order rotated every round, so that a VM whose speed drifts slows each tree alike.
A tree's step time is the median over its steps after the first `--skip` (tracing); the JSON holds
every round's figure and the median per-round ratio to the first tree. `--env NAME=VALUE` runs an
extra variant of the last tree with that environment (e.g. ``TFCLF_FAST_OPS=0``, which the child
reads as `tfclf.fast_ops.ENABLED = False`, to compare like ops with a tree from before them).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import bench_common as bc  # noqa: E402

CHILD = r"""
import json, os, sys, time
sys.path.insert(0, {bench!r})
import bench_common as bc
import numpy as np
import tfclf
if os.environ.get("TFCLF_FAST_OPS") == "0":
    from tfclf import fast_ops
    fast_ops.ENABLED = False
from tfclf import text
from tfclf._compat import keras

train, _ = bc.load_data({archive!r})
order = np.argsort([-len(x) for x in train.texts])[: 8 * {steps}]
tfclf.set_seed(0)
t = text.Transformer({model!r}, maxlen={maxlen}, class_names=train.class_names)
trn = t.preprocess_train([train.texts[i] for i in order], [train.labels[i] for i in order], verbose=0)
learner = tfclf.get_learner(t.get_classifier(), trn, batch_size=8, seed=0)
times = []

class Clock(keras.callbacks.Callback):
    def on_train_batch_begin(self, batch, logs=None):
        self.t0 = time.perf_counter()
    def on_train_batch_end(self, batch, logs=None):
        times.append(time.perf_counter() - self.t0)

learner.fit_onecycle(5e-5, 1, callbacks=[Clock()], verbose=0)
print("RESULT " + json.dumps(times))
"""


def run_child(tree: Path, env_extra: dict, args) -> float:
    code = CHILD.format(bench=str(HERE.parent), archive=args.archive, steps=args.steps, model=args.model,
                        maxlen=args.maxlen)
    env = {**os.environ, "PYTHONPATH": str(tree), "TF_CPP_MIN_LOG_LEVEL": "2", **env_extra}
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=str(tree), capture_output=True, text=True,
                         timeout=3600)
    line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError(f"{tree} failed:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}")
    times = json.loads(line[len("RESULT "):])[args.skip:]
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trees", nargs="+", required=True, help="checkouts of tfclf to compare (the first is the reference)")
    p.add_argument("--env", action="append", default=[], help="NAME=VALUE: an extra variant of the last tree")
    p.add_argument("--model", required=True)
    p.add_argument("--archive", default=bc.os.environ.get("TFCLF_20NG_ARCHIVE"))
    p.add_argument("--maxlen", type=int, default=256)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--skip", type=int, default=5)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--output", default=str(bc.RESULTS / "version_ab.json"))
    args = p.parse_args()
    if not args.archive:
        sys.exit("pass --archive (the 20news-bydate.tar.gz) or set TFCLF_20NG_ARCHIVE")
    args.model, args.archive = str(Path(args.model).resolve()), str(Path(args.archive).resolve())

    variants = [(str(Path(tr).resolve()), {}) for tr in args.trees]
    if args.env:
        variants.append((variants[-1][0], dict(e.split("=", 1) for e in args.env)))
    names = []
    for tree, env in variants:
        name = Path(tree).name + "".join(f" {k}={v}" for k, v in env.items())
        names.append(name if name not in names else f"{name} #{len(names) + 1}")
    commits = {tree: subprocess.run(["git", "-C", tree, "rev-parse", "--short", "HEAD"], capture_output=True,
                                    text=True).stdout.strip() for tree, _ in variants}
    per_round: list[dict[str, float]] = []
    for r in range(args.rounds):
        k = r % len(variants)
        row = {}
        for name, (tree, env) in list(zip(names, variants))[k:] + list(zip(names, variants))[:k]:
            row[name] = run_child(Path(tree), env, args)
            print(f"round {r}: {name} {1000 * row[name]:.0f} ms per step", flush=True)
        per_round.append(row)
    ref = names[0]
    result = {"benchmark": "version_ab", "date": time.strftime("%Y-%m-%d"), "machine": bc.machine(),
              "settings": {k: v for k, v in vars(args).items() if k not in ("output",)},
              "variants": {name: {"tree": tree, "commit": commits[tree], "env": env,
                                  "ms_per_step_by_round": [round(1000 * row[name], 1) for row in per_round],
                                  "median_ratio_to_first": round(statistics.median(row[name] / row[ref]
                                                                                  for row in per_round), 3)}
                           for name, (tree, env) in zip(names, variants)}}
    Path(args.output).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["variants"], indent=2))


if __name__ == "__main__":
    main()
