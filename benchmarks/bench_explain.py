"""Explanations measured (issue 24): LIME against Integrated Gradients against random words.

    python benchmarks/bench_explain.py --predictor saved_predictors/20ng-minilm \
        --archive ../shared/data/20news-bydate.tar.gz --docs 100

On the first `--docs` test documents of the tutorial, for each method: seconds per explanation,
the top-10 words' overlap between two runs (LIME: seeds 0 and 1; gradients: the same call twice;
random: seeds 0 and 1), and comprehensiveness / sufficiency AOPC (`tfclf.faithfulness`; the
ranking of the first run). Each document's figures are checkpointed in
benchmarks/work/explain/ (a rerun continues; `--methods` picks what runs, every method with
checkpoints is summarised), then averaged into results/explain.json; `--timing-docs N` also times
both methods back to back on N documents. Also
writes the corpus view of the gradients method over the same documents
(results/explain_class_words.png).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

import bench_common as bc

HERE = Path(__file__).resolve().parent
METHODS = ("gradients", "lime", "random")
WORK = HERE / "work" / "explain"


def one_document(predictor, doc: str, method: str, args) -> dict:
    from tfclf.faithfulness import DEFAULT_FRACTIONS, distinct_words, only_words, ranking, without_words

    probs = predictor.predict_proba(doc)
    target = int(np.argmax(probs))
    options = ({"num_samples": args.lime_samples} if method == "lime" else
               {"steps": args.steps} if method == "gradients" else {})
    rankings, seconds = [], []
    for run in (0, 1):
        extra = {"seed": run} if method == "lime" else {}
        rng = np.random.default_rng(run)
        t0 = time.perf_counter()
        rankings.append(ranking(predictor, doc, method, target, rng, **options, **extra))
        seconds.append(time.perf_counter() - t0)
    top = [set(r[:10]) for r in rankings]
    overlap = len(top[0] & top[1]) / max(len(top[0]), 1)
    ranked = rankings[0]
    tops = [ranked[:max(1, math.ceil(f * len(ranked)))] for f in DEFAULT_FRACTIONS]
    variants = [without_words(doc, t) for t in tops] + [only_words(doc, t) for t in tops]
    p = predictor.predict_proba(variants)[:, target]
    n = len(DEFAULT_FRACTIONS)
    return {"seconds": float(np.mean(seconds)), "top10_overlap": overlap, "words": len(distinct_words(doc)),
            "comprehensiveness": float(np.mean(probs[target] - p[:n])),
            "sufficiency": float(np.mean(probs[target] - p[n:]))}


def timing(predictor, docs: list[str], args) -> dict:
    """Seconds per explanation of each method on the same documents, back to back in this process
    (the 100-document figures may come from runs on differently loaded machines)."""
    predictor.explain(docs[0], method="gradients", steps=args.steps)  # traces; LIME shares predict's trace
    predictor.explain(docs[0], method="lime", num_samples=10)
    out = {"documents": len(docs)}
    for method, options in (("gradients", {"steps": args.steps}), ("lime", {"num_samples": args.lime_samples})):
        t0 = time.perf_counter()
        for doc in docs:
            predictor.explain(doc, method=method, **options)
        out[f"{method}_s"] = round((time.perf_counter() - t0) / len(docs), 3)
    out["speedup"] = round(out["lime_s"] / out["gradients_s"], 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--predictor", required=True)
    parser.add_argument("--archive", default=None)
    parser.add_argument("--docs", type=int, default=100)
    parser.add_argument("--lime-samples", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=32)
    parser.add_argument("--methods", default="gradients,random,lime")
    parser.add_argument("--timing-docs", type=int, default=0,
                        help="also time both methods back to back on this many documents")
    parser.add_argument("--work", default=str(WORK))
    parser.add_argument("--output", default=str(HERE / "results" / "explain.json"))
    args = parser.parse_args()
    import tfclf
    from tfclf.faithfulness import class_words
    from tfclf.plots import class_words_plot

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    _, test = bc.load_data(args.archive)
    docs = list(test.texts)[:args.docs]
    predictor = tfclf.load_predictor(args.predictor)
    result = {"benchmark": "explain", "date": time.strftime("%Y-%m-%d"), "machine": bc.machine(),
              "settings": {k: getattr(args, k) for k in ("predictor", "docs", "lime_samples", "steps")},
              "methods": {}}
    previous = json.loads(Path(args.output).read_text()) if Path(args.output).is_file() else {}
    for method in args.methods.split(","):
        for i, doc in enumerate(docs):
            checkpoint = work / f"{method}-{i}.json"
            if not checkpoint.is_file():
                row = one_document(predictor, doc, method, args)
                checkpoint.write_text(json.dumps(row))
                if i % 10 == 0:
                    print(method, i, row, flush=True)
    # every method with checkpoints is summarised, so that runs of one method at a time add up
    for method in METHODS:
        rows = [json.loads(c.read_text()) for i in range(len(docs)) if (c := work / f"{method}-{i}.json").is_file()]
        if rows:
            result["methods"][method] = {k: round(float(np.mean([r[k] for r in rows])), 4)
                                         for k in ("seconds", "top10_overlap", "comprehensiveness", "sufficiency")}
            result["methods"][method]["documents"] = len(rows)
            print(method, result["methods"][method], flush=True)
    if args.timing_docs:
        result["timing"] = timing(predictor, docs[:args.timing_docs], args)
    elif "timing" in previous:
        result["timing"] = previous["timing"]
    if "gradients" in args.methods.split(",") or "class_words" not in previous:
        t0 = time.perf_counter()
        view = class_words(predictor, docs, method="gradients", top=10, steps=args.steps)
        result["class_words_s"] = round(time.perf_counter() - t0, 1)
        result["class_words"] = {c: [(w, round(s, 3), n) for w, s, n in rows] for c, rows in view.items()}
        class_words_plot(view, top=10, show=False, save_path=Path(args.output).with_name("explain_class_words.png"))
    else:
        result["class_words_s"], result["class_words"] = previous["class_words_s"], previous["class_words"]
    Path(args.output).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
