"""Prints the systems side by side for one configuration, with tfclf/ktrain ratios, and appends the
table to RESULTS.md with the date, machine, library versions and the exact commands.

    python benchmarks/compare.py --config standard
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
SYSTEMS = ["tfclf", "ktrain", "sklearn-svm", "sklearn-nb"]
ROWS = [
    ("test accuracy", "test_accuracy", "higher"),
    ("test macro-F1", "test_macro_f1", "higher"),
    ("val accuracy per epoch", "val_accuracy_per_epoch", None),
    ("LR finder wall time (s)", "lr_find_s", "lower"),
    ("LR finder suggestion", "lr_suggestion", None),
    ("training wall time (s)", "train_s", "lower"),
    ("training throughput (non-padding tokens/s)", "train_tokens_per_s", "higher"),
    ("peak resident memory (MB)", "peak_rss_mb", "lower"),
    ("evaluation (docs/s)", "eval_docs_per_s", "higher"),
    ("predictor save time (s)", "save_s", "lower"),
    ("predictor size on disk (MB)", "size_mb", "lower"),
    ("predictor load time, fresh process, after imports (s)", "load_s", "lower"),
    ("cold start: import + load + first prediction (s)", "cold_start_s", "lower"),
    ("batch prediction (docs/s)", "predict_docs_per_s", "higher"),
    ("single-document latency p50 (ms)", "latency_ms_p50", "lower"),
    ("single-document latency p95 (ms)", "latency_ms_p95", "lower"),
    ("explain wall time (s)", "explain_s", "lower"),
    ("precision (Keras dtype policy)", "precision", None),
    ("training GFLOP/s executed (padding included)", "train_executed_gflops_per_s", "higher"),
    ("training GFLOP/s on real tokens (model FLOPs)", "train_model_gflops_per_s", "higher"),
    ("measured matmul peak GFLOP/s", "matmul_peak_gflops", None),
    ("executed training FLOP/s as a fraction of that peak", "train_fraction_of_peak", "higher"),
    ("library versions", "versions", None),
]


def fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict):
        # learning rates in scientific notation, everything else as any other number
        return ", ".join(f"{k} {v:.1E}" if isinstance(v, float) and 0 < abs(v) < 0.01 else f"{k} {fmt(v)}"
                         for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return " / ".join(fmt(v) for v in value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def ratio(a, b) -> str:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b:
        return f"{a / b:.2f}"
    return "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="standard")
    parser.add_argument("--no-append", action="store_true", help="print only")
    parser.add_argument("--results", default=str(HERE / "results"), help="the folder of JSON results")
    parser.add_argument("--out", default=str(HERE / "RESULTS.md"), help="the Markdown file to append to")
    parser.add_argument("--with", dest="extra", action="append", default=[], metavar="LABEL=JSON",
                        help="another tfclf run as an extra column (e.g. tfclf-float32=results/x.json), "
                             "with its own ratio to ktrain")
    args = parser.parse_args()
    results = {}
    for system in SYSTEMS:
        path = Path(args.results) / f"{system}-{args.config}.json"
        if path.is_file():
            results[system] = json.loads(path.read_text())
    extra = []
    for item in args.extra:
        label, _, path = item.partition("=")
        results[label] = json.loads(Path(path).read_text())
        extra.append(label)
    if not results:
        raise SystemExit(f"no results for config {args.config!r} in {args.results}")
    present = [s for s in SYSTEMS if s in results]
    present[1:1] = extra  # beside tfclf
    ratios = [s for s in ["tfclf", *extra] if s in results]
    header = "| field | " + " | ".join(present) + " | " + " | ".join(f"{s}/ktrain" for s in ratios) + " |"
    lines = [header, "|" + "---|" * (len(present) + len(ratios) + 1)]
    for label, key, _ in ROWS:
        values = [results[s].get(key) for s in present]
        rs = [ratio(results[s].get(key), results.get("ktrain", {}).get(key)) for s in ratios]
        lines.append(f"| {label} | " + " | ".join(fmt(v) for v in values) + " | " + " | ".join(rs) + " |")
    table = "\n".join(lines)
    print(table)
    if args.no_append:
        return
    any_result = next(iter(results.values()))
    m = any_result["machine"]
    notes = [
        f"\n## 20 Newsgroups tutorial, `{args.config}` configuration ({any_result['date'][:10]})\n",
        f"Machine: {m['cpu']}, {m['cores']} cores, GPU: {m['gpu'] or 'none'}. Settings: {any_result['settings']}.\n",
        table,
        "\nCommands and versions:\n",
    ]
    for s in present:
        r = results[s]
        notes.append(f"- {s} ({r['date']}): `{r['command']}`" + (f"; {r.get('versions')}" if r.get("versions") else ""))
    with open(args.out, "a", encoding="utf-8") as f:
        f.write("\n".join(notes) + "\n")


if __name__ == "__main__":
    main()
