"""How stable are LIME explanations, per sample count? The study behind `explain`'s default.

    python benchmarks/explain_stability.py --predictor benchmarks/work/tfclf-standard \
        --archive ../shared/data/20news-bydate.tar.gz --docs 8

Explains the first `--docs` test documents (their predicted class) with each seed and sample
count and compares the top-10 words of every pair of seeds (tfclf.explanation_stability). Writes
results/explain_stability.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os

import bench_common as bc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--predictor", required=True, help="a saved tfclf predictor folder")
    parser.add_argument("--archive", default=os.environ.get("TFCLF_20NG_ARCHIVE"))
    parser.add_argument("--docs", type=int, default=8)
    parser.add_argument("--samples", default="250,500,1000,2000")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--output", default=str(bc.RESULTS / "explain_stability.json"))
    args = parser.parse_args()

    import tfclf

    _, test = bc.load_data(args.archive, args.docs)
    predictor = tfclf.load_predictor(args.predictor)
    rows = tfclf.explanation_stability(predictor, test.texts, num_samples=[int(s) for s in args.samples.split(",")],
                                       seeds=[int(s) for s in args.seeds.split(",")], top_k=10)
    for r in rows:
        print(r, flush=True)
    record = {"rows": rows, "docs": len(test.texts), "predictor": args.predictor, "top_k": 10,
              "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "machine": bc.machine(),
              "precision": tfclf.precision.model_precision(predictor.model)}
    with open(args.output, "w") as f:
        json.dump(record, f, indent=2)
    print("wrote", args.output)


if __name__ == "__main__":
    main()
