"""What every system's benchmark shares: the data, the configurations, the measurements, the JSON.

Each system's script (bench_tfclf.py, bench_ktrain.py, bench_sklearn.py) runs in its own process
(ktrain in its own virtual environment) and writes one JSON file with the fields of `FIELDS`;
compare.py prints them side by side. This module imports neither tfclf nor ktrain.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
# Per-document test probabilities (experiments/accuracy.py --save-proba), read back by
# experiments/ensemble.py: large and regenerable, so in the git-ignored work folder, not in results/.
PROBA_DIR = HERE / "work" / "accuracy"
CATEGORIES = ["alt.atheism", "soc.religion.christian", "comp.graphics", "sci.med"]

CONFIGS = {
    # for iterating: minutes
    "quick": dict(maxlen=128, batch_size=8, epochs=1, lr=5e-5, seed=42),
    # the comparison: maxlen 256, batch 8, 4 epochs, lr 5e-5, seed 42
    "standard": dict(maxlen=256, batch_size=8, epochs=4, lr=5e-5, seed=42),
}

FIELDS = [
    "system", "config", "test_accuracy", "test_macro_f1", "val_accuracy_per_epoch", "lr_find_s",
    "lr_suggestion", "train_s", "train_tokens_per_s", "peak_rss_mb", "eval_docs_per_s", "save_s",
    "size_mb", "load_s", "predict_docs_per_s", "latency_ms_p50", "latency_ms_p95", "explain_s", "versions",
]


def package_versions(*names: str) -> dict:
    """Installed versions of `names` (and Python), read from package metadata without importing."""
    from importlib import metadata

    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


@dataclass
class Config:
    name: str
    maxlen: int
    batch_size: int
    epochs: int
    lr: float
    seed: int


def parse_args(description: str, needs_model: bool = True, extra: list | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    for flags, options in extra or []:
        parser.add_argument(*flags, **options)
    parser.add_argument("--config", choices=sorted(CONFIGS), default="quick")
    parser.add_argument("--archive", default=os.environ.get("TFCLF_20NG_ARCHIVE"),
                        help="the 20news-bydate.tar.gz archive (default: $TFCLF_20NG_ARCHIVE)")
    if needs_model:
        parser.add_argument("--model", required=True, help="a pretrained model folder (Hugging Face layout)")
    parser.add_argument("--lr", type=float, help="override the configuration's learning rate")
    parser.add_argument("--maxlen", type=int, help="override the configuration's maxlen (e.g. for a small model)")
    parser.add_argument("--output", help="the JSON to write (default: results/SYSTEM-CONFIG.json)")
    parser.add_argument("--work", default=str(HERE / "work"), help="scratch folder for saved predictors")
    parser.add_argument("--limit", type=int,
                        help="keep only the first N train and N test documents; results are written as "
                             "SYSTEM-CONFIG-smoke.json (a check that the harness runs end to end, not a result)")
    args = parser.parse_args()
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be a positive number of documents")
    return args


def config(args: argparse.Namespace) -> Config:
    """The run's settings; a `--limit` run is named CONFIG-smoke so it never overwrites a result."""
    values = dict(CONFIGS[args.config])
    for key in ("lr", "maxlen"):
        if getattr(args, key, None):
            values[key] = getattr(args, key)
    name = args.config + ("-smoke" if getattr(args, "limit", None) else "")
    return Config(name=name, **values)


def load_data(archive: str | None, limit: int | None = None):
    """The tutorial's 4 categories, scikit-learn's bydate split, headers kept.

    tfclf's loader is used for every system: it returns exactly what fetch_20newsgroups returns
    (tested), and it reads the archive offline. `limit` keeps the first N documents of each split
    (the loader's order is already shuffled, as scikit-learn's).
    """
    sys.path.insert(0, str(HERE.parent))
    from tfclf.datasets import load_20newsgroups  # light: no TensorFlow

    train = load_20newsgroups("train", categories=CATEGORIES, archive=archive)
    test = load_20newsgroups("test", categories=CATEGORIES, archive=archive)
    if limit:
        train, test = _head(train, limit), _head(test, limit)
    return train, test


def _head(data, n: int):
    from dataclasses import replace

    return replace(data, texts=data.texts[:n], labels=list(data.labels[:n]), target=data.target[:n],
                   filenames=list(data.filenames[:n]))


def count_tokens(model_dir: str, texts: list[str], maxlen: int) -> int:
    """Non-padding tokens (special tokens included) after truncation, with the model's tokenizer."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(Path(model_dir) / "tokenizer.json"))
    tok.enable_truncation(maxlen)
    tok.no_padding()
    return sum(len(e.ids) for e in tok.encode_batch(texts))


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def current_rss_mb() -> float:
    """Resident memory now (`peak_rss_mb` is the process's high-water mark)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


def folder_mb(path: Path) -> float:
    return round(sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file()) / 2**20, 2)


def latency_ms(fn, doc: str, calls: int = 100) -> tuple[float, float]:
    fn(doc)  # warm
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn(doc)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return round(statistics.median(times), 2), round(times[int(0.95 * (len(times) - 1))], 2)


KTRAIN_NUMPY_SHIM = (
    # NumPy 2 removed the `np.Inf` alias; ktrain's CyclicLR (ktrain/lroptimize/triangular.py,
    # which fit_onecycle and autofit build) still reads it and raises AttributeError. Set before
    # ktrain is imported.
    "import numpy as np\n"
    "if not hasattr(np, 'Inf'):\n"
    "    np.Inf = np.inf\n"
)


def load_code(system: str, folder, doc: str, precision: str = "auto") -> tuple[str, str, str]:
    """The (imports, load, first predict) code `load_timings` runs for `system`'s saved predictor.

    Both import TensorFlow and transformers in the imports step (``import ktrain`` does; tfclf
    imports them lazily, so they are named), so ``load_s`` times loading alone on both sides.
    """
    doc = doc[:2000]
    if system == "ktrain":
        return ("import os\nos.environ['TF_USE_LEGACY_KERAS'] = '1'\n" + KTRAIN_NUMPY_SHIM + "import ktrain",
                f"p = ktrain.load_predictor({str(folder)!r})", f"p.predict({doc!r})")
    return ("import tfclf, tfclf.predictor\nfrom tfclf._compat import tf, transformers\n"
            "transformers.TFAutoModelForSequenceClassification",
            f"p = tfclf.load_predictor({str(folder)!r}, precision={precision!r})", f"p.predict({doc!r})")


def load_timings(imports: str, load: str, predict: str, python: str = sys.executable,
                 env: dict | None = None) -> dict:
    """Times a saved predictor's reload in a fresh interpreter, in three parts.

    `imports` (the library and what it loads models with), then `load` (must bind ``p``), then
    `predict` (the first prediction, which may build or trace what loading deferred). Returns
    seconds: ``import_s``, ``load_s``, ``first_predict_s`` and ``cold_start_s`` (all three: the
    time from an interpreter with nothing imported to the first answer).
    """
    code = (
        "import time\nt0 = time.perf_counter()\n" + imports + "\nt1 = time.perf_counter()\n" + load
        + "\nt2 = time.perf_counter()\n" + predict + "\nt3 = time.perf_counter()\n"
        "import json\nprint(json.dumps({'import_s': t1 - t0, 'load_s': t2 - t1, 'first_predict_s': t3 - t2,"
        " 'cold_start_s': t3 - t0}))\n"
    )
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=900,
                         env={**os.environ, **(env or {})})
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return {k: round(v, 3) for k, v in json.loads(out.stdout.strip().splitlines()[-1]).items()}


def encoder_dims(model_dir: str) -> dict:
    """Layers, hidden size and feed-forward size of a BERT-like encoder, from its config.json."""
    cfg = json.loads((Path(model_dir) / "config.json").read_text())
    return {
        "layers": cfg.get("num_hidden_layers", cfg.get("n_layers")),
        "hidden": cfg.get("hidden_size", cfg.get("dim")),
        "ffn": cfg.get("intermediate_size", cfg.get("hidden_dim")),
    }


def train_flops(dims: dict, lengths, width: int | None = None) -> float:
    """Training FLOPs (forward + backward = 3 x forward) of the encoder on one batch.

    A token costs ``2 * params`` for the dense layers (4 d^2 attention projections, 2 d f
    feed-forward, per layer) plus ``4 * s * d`` per layer for attention scores and their
    weighted sum over the `s` positions it attends to. With `width` (the padded batch width)
    this counts what the hardware executes, padding included; without it, only the model's
    useful work on each document's own tokens (the usual "model FLOPs").
    """
    d, f, n_layers = dims["hidden"], dims["ffn"], dims["layers"]
    dense = 2 * (4 * d * d + 2 * d * f) * n_layers

    def per_token(s: int) -> float:
        return dense + 4 * s * d * n_layers

    if width is None:
        return 3.0 * sum(int(n) * per_token(int(n)) for n in lengths)
    return 3.0 * len(lengths) * width * per_token(width)


def matmul_peak_gflops(dtype: str = "float32", n: int = 2048, seconds: float = 3.0) -> float:
    """This machine's sustained matrix-multiply rate in GFLOP/s for `dtype`, measured with TensorFlow
    (n x n @ n x n repeated for about `seconds`; the best of 3 rounds)."""
    import tensorflow as tf

    a = tf.random.uniform((n, n), dtype=tf.float32)
    a, b = tf.cast(a, dtype), tf.cast(tf.transpose(a), dtype)

    @tf.function
    def mm(x, y):
        return tf.reduce_sum(tf.cast(tf.matmul(x, y), tf.float32)[:1, :1])

    mm(a, b).numpy()
    t0 = time.perf_counter()
    mm(a, b).numpy()
    reps = max(1, int(seconds / 3 / max(time.perf_counter() - t0, 1e-4)))
    best = 0.0
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(reps):
            mm(a, b).numpy()
        best = max(best, 2 * n**3 * reps / (time.perf_counter() - t0) / 1e9)
    return round(best, 1)


def machine() -> dict:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = None
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=10)
        gpu = out.stdout.strip() or None
    except (OSError, subprocess.TimeoutExpired):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "gpu": gpu, "python": platform.python_version()}


def write(result: dict, system: str, cfg: Config, output: str | None) -> Path:
    missing = [f for f in FIELDS if f not in result]
    if missing:
        raise ValueError(f"result misses fields {missing}")
    record = {
        **result,
        "settings": asdict(cfg),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
    }
    path = Path(output) if output else RESULTS / f"{system}-{cfg.name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {path}")
    return path
