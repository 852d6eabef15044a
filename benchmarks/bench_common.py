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


def parse_args(description: str, needs_model: bool = True) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--config", choices=sorted(CONFIGS), default="quick")
    parser.add_argument("--archive", default=os.environ.get("TFCLF_20NG_ARCHIVE"),
                        help="the 20news-bydate.tar.gz archive (default: $TFCLF_20NG_ARCHIVE)")
    if needs_model:
        parser.add_argument("--model", required=True, help="a pretrained model folder (Hugging Face layout)")
    parser.add_argument("--lr", type=float, help="override the configuration's learning rate")
    parser.add_argument("--output", help="the JSON to write (default: results/SYSTEM-CONFIG.json)")
    parser.add_argument("--work", default=str(HERE / "work"), help="scratch folder for saved predictors")
    return parser.parse_args()


def config(args: argparse.Namespace) -> Config:
    values = dict(CONFIGS[args.config])
    if getattr(args, "lr", None):
        values["lr"] = args.lr
    return Config(name=args.config, **values)


def load_data(archive: str | None):
    """The tutorial's 4 categories, scikit-learn's bydate split, headers kept.

    tfclf's loader is used for every system: it returns exactly what fetch_20newsgroups returns
    (tested), and it reads the archive offline.
    """
    sys.path.insert(0, str(HERE.parent))
    from tfclf.datasets import load_20newsgroups  # light: no TensorFlow

    train = load_20newsgroups("train", categories=CATEGORIES, archive=archive)
    test = load_20newsgroups("test", categories=CATEGORIES, archive=archive)
    return train, test


def count_tokens(model_dir: str, texts: list[str], maxlen: int) -> int:
    """Non-padding tokens (special tokens included) after truncation, with the model's tokenizer."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(Path(model_dir) / "tokenizer.json"))
    tok.enable_truncation(maxlen)
    tok.no_padding()
    return sum(len(e.ids) for e in tok.encode_batch(texts))


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


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


def timed_subprocess(code: str, python: str = sys.executable, env: dict | None = None) -> float:
    """Runs `code` in a fresh interpreter; it must print the seconds it measured on its last line."""
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=900,
                         env={**os.environ, **(env or {})})
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return round(float(out.stdout.strip().splitlines()[-1]), 3)


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
