"""Issue 26: Adam's update of an encoder's weights alone, three ways: Keras' own ops, Keras' update
compiled with XLA (`jit_compile`, tfclf's choice until 2026-12-05), and `tfclf.fast_ops`' one-pass
``ResourceApplyAdam`` kernel.

    python benchmarks/experiments/adam_update.py --model ../shared/models/all-MiniLM-L6-v2

Variables of the shapes of the model's trainable weights (from its config.json: word, position and
type embeddings, each layer's attention, feed-forward and norms, a 4-class head), random gradients,
the momentum a variable as 1cycle makes it. Speed: the three in one process, a step of each per
round in turn, median ms per update. Agreement: the largest difference of the kernel's and XLA's
weights from Keras' after all the rounds, relative to how far Keras' moved them. Memory: each way in
a fresh process (peak memory is a process's), resident MB after building the variables and after
11 updates, with the model's shapes and again with every variable cut to 8 rows, which leaves what
a way costs whatever the weights' size (XLA's compiler). Writes results/adam_update.json.
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

WAYS = ("keras", "xla", "kernel")


def shapes(model_dir: str, small: bool = False) -> list[tuple[int, ...]]:
    cfg = json.loads((Path(model_dir) / "config.json").read_text())
    dims = bc.encoder_dims(model_dir)
    d, f = dims["hidden"], dims["ffn"]
    out = [(cfg["vocab_size"], d), (cfg.get("max_position_embeddings", 512), d), (2, d), (d,), (d,)]
    for _ in range(dims["layers"]):
        out += [(d, d), (d,)] * 4 + [(d,), (d,), (d, f), (f,), (f, d), (d,), (d,), (d,)]
    out += [(d, 4), (4,)]
    return [(8, *s[1:]) for s in out] if small else out


def optimizer(way: str, variables):
    from tfclf import fast_ops
    from tfclf._compat import tf

    beta_1 = tf.Variable(0.9, trainable=False)
    opt = fast_ops.adam_class()(5e-5, beta_1=beta_1, epsilon=1e-8, fused=way == "kernel")
    opt.jit_compile = way == "xla"
    opt.build(variables)
    return opt


def setup(way: str, model_dir: str, small: bool = False):
    """Variables, gradients and a traced update step for `way`, the same numbers for every way."""
    import numpy as np

    from tfclf._compat import tf

    variables = [tf.Variable(np.random.default_rng(i).normal(size=s).astype("float32") * 0.02)
                 for i, s in enumerate(shapes(model_dir, small))]
    grads = [tf.constant(np.random.default_rng(1000 + i).normal(size=v.shape).astype("float32") * 1e-3)
             for i, v in enumerate(variables)]
    opt = optimizer(way, variables)

    @tf.function
    def step():
        opt.apply_gradients(zip(grads, variables))

    return variables, step


def memory_child(way: str, model_dir: str, small: bool) -> dict:
    variables, step = setup(way, model_dir, small)
    built = bc.current_rss_mb()
    for _ in range(11):
        step()
    float(variables[0][0, 0])
    return {"built_mb": built, "after_11_mb": bc.current_rss_mb(), "peak_mb": bc.peak_rss_mb()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="a model folder (only its config.json is read)")
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--memory", nargs=2, help=argparse.SUPPRESS)  # WAY full|small, in a child process
    p.add_argument("--output", default=str(bc.RESULTS / "adam_update.json"))
    args = p.parse_args()
    if args.memory:
        print("RESULT " + json.dumps(memory_child(args.memory[0], args.model, args.memory[1] == "small")))
        return

    # memory first: a child's peak (ru_maxrss) starts from its parent's at the fork, so the parent
    # must not hold the speed test's variables yet
    memory = {}
    for size in ("full", "small"):
        for way in WAYS:
            out = subprocess.run([sys.executable, __file__, "--model", args.model, "--memory", way, size],
                                 capture_output=True, text=True)
            lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
            if out.returncode or not lines:
                sys.exit(f"{way} {size} failed (rc {out.returncode}):\n{out.stderr[-3000:]}")
            memory[f"{way}_{size}"] = json.loads(lines[-1][len("RESULT "):])
            print(way, size, memory[f"{way}_{size}"], flush=True)

    import numpy as np

    runs = {way: setup(way, args.model) for way in WAYS}
    start = {way: [v.numpy() for v in runs[way][0]] for way in WAYS}
    for _, step in runs.values():
        step()  # traced (and compiled, for XLA) outside the timings
    times: dict[str, list[float]] = {way: [] for way in WAYS}
    for r in range(args.rounds):
        for way in WAYS[r % 3:] + WAYS[: r % 3]:
            variables, step = runs[way]
            t0 = time.perf_counter()
            step()
            float(variables[0][0, 0])
            times[way].append(time.perf_counter() - t0)
    keras_now = [v.numpy() for v in runs["keras"][0]]
    moved = max(float(np.abs(a - b).max()) for a, b in zip(keras_now, start["keras"]))
    result = {"benchmark": "adam_update", "date": time.strftime("%Y-%m-%d"), "machine": bc.machine(),
              "settings": vars(args), "weights": int(sum(np.prod(s) for s in shapes(args.model))),
              "median_ms": {way: round(1000 * statistics.median(ts), 1) for way, ts in times.items()},
              "largest_difference_from_keras_relative_to_its_move": {
                  way: float(max(float(np.abs(a.numpy() - b).max()) for a, b in zip(runs[way][0], keras_now)) / moved)
                  for way in ("xla", "kernel")},
              "memory": memory}
    print(json.dumps({k: result[k] for k in ("median_ms", "largest_difference_from_keras_relative_to_its_move")}))
    Path(args.output).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
