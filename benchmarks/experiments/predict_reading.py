"""Read more of each test document at prediction time only, with a model trained on heads (issue 10).

A model trained on each message's first `maxlen` tokens (`max_windows=1`) can still be asked to
read a long test message as several windows whose logits or probabilities are averaged, or as its
head and tail. Training on windows was measured to hurt (later windows are often signatures and
quoted replies, and each trained with the message's label); this script measures whether reading
them only at prediction time helps, at no training cost.

It loads one saved predictor (`accuracy.py --save FOLDER`), predicts the 1502 test documents once
per reading, and writes one JSON. Every reading is scored on the test set, so this compares
readings; it must not be used to pick one and claim its figure as a held-out result.

Example:
    python benchmarks/experiments/predict_reading.py --name mean256_ls01_reading \\
        --predictor /tmp/runs/mean256_ls01_model --archive ../shared/data/20news-bydate.tar.gz
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
import bench_common as bc  # noqa: E402

# name -> the Transformer's reading options (any not named keep the saved predictor's value);
# windows overlap by --window-overlap tokens
READINGS = {
    "as_saved": {},
    "head_tail": {"truncation": "head_tail", "max_windows": 1},
    "windows2_logits": {"truncation": "head", "max_windows": 2, "aggregate": "mean_logits"},
    "windows4_logits": {"truncation": "head", "max_windows": 4, "aggregate": "mean_logits"},
    "windows4_probs": {"truncation": "head", "max_windows": 4, "aggregate": "mean_probs"},
}


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--name", required=True, help="the JSON's file name under benchmarks/results/accuracy/")
    p.add_argument("--predictor", required=True, help="a folder saved by Predictor.save")
    p.add_argument("--archive", default=bc.os.environ.get("TFCLF_20NG_ARCHIVE"))
    p.add_argument("--readings", nargs="+", choices=sorted(READINGS), default=list(READINGS))
    p.add_argument("--window-overlap", type=int, help="tokens shared by neighbouring windows (default maxlen // 4)")
    p.add_argument("--limit", type=int, help="first N test documents (for trying the script)")
    p.add_argument("--output", help="default: benchmarks/results/accuracy/NAME.json")
    return p.parse_args()


def main() -> None:
    args = parse()
    if not args.archive:
        sys.exit("pass --archive (the 20news-bydate.tar.gz) or set TFCLF_20NG_ARCHIVE")
    import numpy as np

    import tfclf
    from tfclf.reading import READING_OPTIONS

    _, test = bc.load_data(args.archive, args.limit)
    predictor = tfclf.load_predictor(args.predictor)
    saved = {k: getattr(predictor.preproc, k) for k in READING_OPTIONS}
    overlap = args.window_overlap if args.window_overlap is not None else predictor.preproc.maxlen // 4
    classes = np.asarray(predictor.get_classes())
    labels = np.asarray(test.labels)
    predictor.predict(test.texts[:8])  # builds the traced forward pass outside the timings
    runs = {}
    for name in args.readings:
        options = dict(READINGS[name])
        if options.get("max_windows", 1) > 1:
            options["window_overlap"] = overlap
        for key, value in {**saved, **options}.items():
            setattr(predictor.preproc, key, value)
        predictor.preproc._check_args()  # the same validation as the constructor's
        t0 = time.perf_counter()
        probs = predictor.predict_proba(test.texts)
        seconds = time.perf_counter() - t0
        correct = int((classes[np.asarray(probs).argmax(axis=1)] == labels).sum())
        runs[name] = {"options": options, "test_correct": correct,
                      "test_accuracy": round(correct / len(labels), 5),
                      "predict_docs_per_s": round(len(labels) / seconds, 1)}
        print(f"{name}: {correct}/{len(labels)} ({correct / len(labels):.4f}), "
              f"{runs[name]['predict_docs_per_s']} docs/s", flush=True)
    out_path = Path(args.output or bc.RESULTS / "accuracy" / f"{args.name}.json")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    result = {"name": args.name, "command": " ".join(sys.argv), "predictor": str(args.predictor),
              "saved_reading": saved, "machine": bc.machine(), "readings": runs}
    out_path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out_path}")


if __name__ == "__main__":
    main()
