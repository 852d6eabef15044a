"""Exported predictors against tfclf's TensorFlow path, on the tutorial's 1502 test documents.

    python benchmarks/bench_export.py --predictor saved_predictors/20ng-all-MiniLM-L6-v2 \
        --archive ../shared/data/20news-bydate.tar.gz

Exports the saved predictor to ONNX, OpenVINO and the raw-string SavedModel, then measures each
engine in its own fresh process (so that one engine's imports and memory do not count against
another): accuracy, argmax agreement and the largest probability difference against the
TensorFlow predictor in float32, documents per second over the 1502 documents, single-text
latency p50 / p99, LIME explanation time, peak memory, and cold start (a fresh interpreter to
the first answer). Also checks the SavedModel's in-graph token ids against the Python tokenizer
on every test document. Writes benchmarks/results/export.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import bench_common as bc

HERE = Path(__file__).resolve().parent
WORK = HERE / "work" / "export"
# engine -> (folder kind, precision given to load_predictor)
ENGINES = {
    "tensorflow-float32": ("saved", "float32"),  # the reference
    "tensorflow": ("saved", "auto"),  # what load_predictor gives by default (bf16 on AMX / AVX512-BF16)
    "onnx": ("onnx", "auto"),
    "openvino": ("openvino", "auto"),
    "openvino-float32": ("openvino", "float32"),
    "savedmodel": ("savedmodel", "auto"),
}
LATENCY_CALLS = 200
EXPLAIN_DOCS = 3
EXPLAIN_SAMPLES = 1000


def worker(folder: str, precision: str, data_file: str, out_file: str) -> None:
    """One engine in this (fresh) process: everything but cold start."""
    import tfclf

    data = json.loads(Path(data_file).read_text())
    texts = data["texts"]
    p = tfclf.load_predictor(folder, precision=precision)
    p.predict_proba(texts[:64])  # warm: traces / compiles the shapes the batches use
    t0 = time.perf_counter()
    probs = p.predict_proba(texts)
    batch_s = time.perf_counter() - t0
    singles = []
    for doc in texts[:LATENCY_CALLS]:
        t0 = time.perf_counter()
        p.predict(doc)
        singles.append((time.perf_counter() - t0) * 1000)
    singles.sort()
    explain = []
    for doc in texts[:EXPLAIN_DOCS]:
        t0 = time.perf_counter()
        p.explain(doc, num_samples=EXPLAIN_SAMPLES)
        explain.append(time.perf_counter() - t0)
    np.save(out_file + ".npy", probs)
    Path(out_file).write_text(json.dumps({
        "docs_per_s": round(len(texts) / batch_s, 1), "batch_s": round(batch_s, 2),
        "latency_p50_ms": round(statistics.median(singles), 2),
        "latency_p99_ms": round(singles[int(0.99 * (len(singles) - 1))], 2),
        "explain_s": round(statistics.mean(explain), 2), "peak_rss_mb": bc.peak_rss_mb(),
        "modules_loaded": sorted(m for m in ("tensorflow", "transformers", "onnxruntime", "openvino")
                                 if m in sys.modules),
    }))


def cold_start(folder: Path, precision: str, doc: str) -> dict:
    imports = "import tfclf"
    return bc.load_timings(imports, f"p = tfclf.load_predictor({str(folder)!r}, precision={precision!r})",
                           f"p.predict({doc[:2000]!r})")


def token_parity(saved_model: Path, tokenizer_dir: Path, texts: list[str], maxlen: int) -> dict:
    """The SavedModel's in-graph token ids against the Python tokenizer's, document by document."""
    code = (
        "import json, sys\nimport tensorflow as tf, tensorflow_text\n"
        f"texts = json.load(open({str(WORK / 'data.json')!r}))['texts']\n"
        f"m = tf.saved_model.load({str(saved_model)!r})\n"
        "out = m.signatures['tokenize'](text=tf.constant(texts))\n"
        "n = out['attention_mask'].numpy().sum(1)\n"
        "print(json.dumps([r[:k].tolist() for r, k in zip(out['input_ids'].numpy(), n)]))\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=900)
    if run.returncode:
        raise RuntimeError(run.stderr[-3000:])
    graph = json.loads(run.stdout.strip().splitlines()[-1])
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))
    tok.enable_truncation(maxlen)
    tok.no_padding()
    python = [e.ids for e in tok.encode_batch(texts)]
    same = sum(a == b for a, b in zip(graph, python))
    return {"documents": len(texts), "identical": same}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--predictor", required=True, help="a saved (TensorFlow) predictor of the tutorial")
    parser.add_argument("--archive", default=None, help="the 20 Newsgroups archive (default: scikit-learn's cache)")
    parser.add_argument("--engines", default=",".join(ENGINES), help="comma-separated subset of " + ",".join(ENGINES))
    parser.add_argument("--output", default=str(HERE / "results" / "export.json"))
    parser.add_argument("--worker", nargs=4, metavar=("FOLDER", "PRECISION", "DATA", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return

    WORK.mkdir(parents=True, exist_ok=True)
    _, test = bc.load_data(args.archive)
    (WORK / "data.json").write_text(json.dumps({"texts": list(test.texts), "labels": list(test.labels)}))
    saved = Path(args.predictor).resolve()
    folders = {"saved": saved}
    export_s = {}
    for fmt in ("onnx", "openvino", "savedmodel"):
        folders[fmt] = WORK / f"predictor-{fmt}"
        t0 = time.perf_counter()
        run = subprocess.run([sys.executable, "-m", "tfclf.cli", "export", str(saved), str(folders[fmt]),
                              "--format", fmt], capture_output=True, text=True, timeout=1800)
        if run.returncode:
            raise RuntimeError(run.stderr[-3000:])
        export_s[fmt] = round(time.perf_counter() - t0, 1)
        print(f"exported {fmt} in {export_s[fmt]} s", flush=True)

    manifest = json.loads((saved / "manifest.json").read_text())
    results = {}
    for engine in args.engines.split(","):
        kind, precision = ENGINES[engine]
        out = WORK / f"{engine}.json"
        run = subprocess.run([sys.executable, __file__, "--predictor", str(saved), "--worker", str(folders[kind]),
                              precision, str(WORK / "data.json"), str(out)], capture_output=True, text=True,
                             timeout=3600)
        if run.returncode:
            raise RuntimeError(f"{engine}: {run.stderr[-3000:]}")
        results[engine] = {**json.loads(out.read_text()), **{
            f"cold_{k}": v for k, v in cold_start(folders[kind], precision, test.texts[0]).items()}}
        results[engine]["folder_mb"] = bc.folder_mb(folders[kind])
        print(engine, results[engine], flush=True)

    classes = manifest["labels"]["classes"]
    truth = np.array([classes.index(y) for y in test.labels])
    reference = np.load(WORK / "tensorflow-float32.json.npy") if "tensorflow-float32" in results else None
    for engine, row in results.items():
        probs = np.load(WORK / f"{engine}.json.npy")
        row["accuracy"] = round(float((probs.argmax(1) == truth).mean()), 4)
        if reference is not None:
            row["agreement"] = round(float((probs.argmax(1) == reference.argmax(1)).mean()), 4)
            row["max_prob_diff"] = float(np.abs(probs - reference).max())
    base = results.get("tensorflow")
    if base:
        for row in results.values():
            row["speed_vs_tensorflow"] = round(row["docs_per_s"] / base["docs_per_s"], 2)
            row["latency_vs_tensorflow"] = round(base["latency_p50_ms"] / row["latency_p50_ms"], 2)
            row["explain_vs_tensorflow"] = round(base["explain_s"] / row["explain_s"], 2)
    parity = token_parity(folders["savedmodel"] / "saved_model", folders["savedmodel"], list(test.texts),
                          int(manifest["maxlen"]))
    result = {
        "benchmark": "export", "date": time.strftime("%Y-%m-%d"), "machine": bc.machine(),
        "predictor": {"folder": str(saved), "model": manifest.get("model_name"), "maxlen": manifest["maxlen"],
                      "pooling": manifest.get("pooling"), "documents": len(test.texts)},
        "export_s": export_s, "savedmodel_token_parity": parity, "engines": results,
        "versions": bc.package_versions("tensorflow", "onnxruntime", "openvino", "tf2onnx", "tensorflow-text",
                                        "tokenizers"),
        "settings": {"latency_calls": LATENCY_CALLS, "explain_docs": EXPLAIN_DOCS,
                     "explain_samples": EXPLAIN_SAMPLES},
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
