"""The issue-10 table: one row per configuration in results/accuracy/*.json (from accuracy.py);
files of one configuration (other seeds, run separately) share a row.

    python benchmarks/experiments/accuracy_table.py [--append]   # --append: also add it to RESULTS.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import bench_common as bc  # noqa: E402
from accuracy import summary  # noqa: E402  (the same statistics as an unmerged file's)


def describe(cfg: dict) -> str:
    if cfg.get("scratch"):
        spec = json.loads(cfg["scratch"])
        shape = ", ".join(f"{k}={v}" for k, v in spec.items())
        what = f"from scratch ({shape}; vocab {cfg.get('vocab_size')})"
    elif cfg.get("max_windows", 1) > 1:
        overlap = cfg.get("window_overlap")
        what = (f"windows: up to {cfg['max_windows']} x {cfg['maxlen']} tokens, overlap "
                f"{overlap if overlap is not None else 'half'}, {cfg.get('aggregate', 'mean_logits')}")
    elif cfg.get("truncation") == "head_tail":
        what = f"head+tail {cfg['maxlen']}" + (f" (head {cfg['head_tokens']})" if cfg.get("head_tokens") else "")
    else:
        what = f"head {cfg['maxlen']}"
    lr = cfg.get("lr")
    extra = f", early stopping {cfg['early_stopping']}" if cfg.get("early_stopping") else ""
    if cfg.get("pooling", "cls") != "cls":
        what += f", {cfg['pooling']} pooling"
    if cfg.get("label_smoothing"):
        what += f", label smoothing {cfg['label_smoothing']}"
    if cfg.get("layer_decay") not in (None, 1.0):
        what += f", layer decay {cfg['layer_decay']}"
    if cfg.get("attention_dropout") is not None:
        what += f", attention dropout {cfg['attention_dropout']}"
    if cfg.get("teacher"):
        what += (f", distilled from {Path(cfg['teacher']).name} (T {cfg.get('distill_temperature')}, "
                 f"alpha {cfg.get('distill_alpha')})")
    return f"{what}; {cfg.get('epochs')} epochs, lr {lr}{extra}"


# Config entries that name a run or say where it wrote, not what was trained.
_NOT_CONFIGURATION = ("name", "seeds", "save", "save_proba", "checkpoint_dir")


def configuration_key(cfg: dict) -> str:
    """What makes two runs the same configuration (the model compared by folder name: one was
    given as ../shared/..., another as /work/shared/...)."""
    same = {k: v for k, v in cfg.items() if k not in _NOT_CONFIGURATION}
    if same.get("model"):
        same["model"] = Path(same["model"]).name
    # Runs from before an option existed ran with its default.
    same.setdefault("pooling", "cls")
    same.setdefault("label_smoothing", 0.0)
    if same.setdefault("layer_decay", None) == 1.0:
        same["layer_decay"] = None  # a decay of 1 is none
    same.setdefault("bucket_window", None)
    same.setdefault("bucket_by", None)
    same.setdefault("attention_dropout", None)
    same.setdefault("schedule", "tfclf")
    same.setdefault("no_cycle_momentum", False)
    if same.get("teacher"):
        same["teacher"] = Path(same["teacher"]).name
    else:  # the distillation settings mean nothing without a teacher
        for key in ("teacher", "distill_temperature", "distill_alpha"):
            same.pop(key, None)
    return json.dumps(same, sort_keys=True)


def merge(group: list[dict]) -> dict:
    """One record for runs of one configuration written by separate invocations (other seeds)."""
    if len(group) == 1:
        return group[0]
    runs = sorted((r for data in group for r in data["runs"]), key=lambda r: r["seed"])
    seeds = [r["seed"] for r in runs]
    if len(set(seeds)) != len(seeds):
        raise SystemExit(f"seeds {seeds} repeat across {[d['name'] for d in group]}: one run per seed")
    return {"name": " + ".join(d["name"] for d in group), "config": group[0]["config"], "runs": runs,
            "summary": summary(runs)}


def rows(folder: Path) -> list[dict]:
    groups: dict[str, list[dict]] = {}
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text())
        # ensemble.py writes here too; its files have no per-seed summary and are not configurations
        if not data.get("runs") or "summary" not in data:
            continue
        groups.setdefault(configuration_key(data["config"]), []).append(data)
    return [merge(group) for group in groups.values()]


def table(results: list[dict]) -> str:
    # The precision tells the machines apart: mixed_bfloat16 ran on CPUs with bfloat16 instructions,
    # float32 on AVX2-only ones, about 2.5-6x slower per step; times are comparable only within one.
    lines = ["| configuration | seeds | test accuracy mean ± std (min..max) | correct of 1502 | train s (mean) "
             "| precision | train rows | predict docs/s | name |",
             "|---|---|---|---|---|---|---|---|---|"]
    for data in results:
        runs = data["runs"]
        acc = [r["test_accuracy"] for r in runs]
        s = data["summary"]["test_accuracy"]
        spread = f"{100 * s['mean']:.2f}% ± {100 * s['std']:.2f} ({100 * min(acc):.2f}..{100 * max(acc):.2f})"
        lines.append(
            f"| {describe(data['config'])} | {', '.join(str(r['seed']) for r in runs)} | {spread} "
            f"| {', '.join(str(r['test_correct']) for r in runs)} "
            f"| {data['summary']['train_s']['mean']:.0f} | {', '.join(sorted({r.get('precision', '?') for r in runs}))} | {runs[0]['train_rows']} "
            f"| {data['summary']['predict_docs_per_s']['mean']:.1f} | {data['name']} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--append", action="store_true")
    p.add_argument("--folder", default=str(bc.RESULTS / "accuracy"))
    args = p.parse_args()
    results = rows(Path(args.folder))
    text = table(results)
    print(text)
    if args.append:
        m = bc.machine()
        with open(HERE.parent / "RESULTS.md", "a", encoding="utf-8") as f:
            f.write(f"\n\n## Accuracy configurations (issue 10), {dt.date.today().isoformat()}\n\n"
                    f"Machine: {m.get('cpu')}, {m.get('cores')} cores, GPU: {m.get('gpu') or 'none'}. "
                    "all-MiniLM-L6-v2, batch 8, fit_onecycle; test accuracy on the 1502 tutorial test documents "
                    "through `Predictor.predict_proba` (windows averaged per document).\n\n" + text + "\n\n"
                    "Commands: see each JSON's `command` in benchmarks/results/accuracy/.\n")


if __name__ == "__main__":
    main()
