"""Combine a fine-tuned transformer's test probabilities with a TF-IDF linear model's (issue 10).

The transformer reads the first `maxlen` tokens of a message; a bag of words reads all of it. Their
mistakes need not be the same ones, so an average of their probabilities may beat both. This script
measures that, after the fact, on probabilities that `accuracy.py --save-proba` wrote. A bare file
name given to `--proba` is read from where that writes (`bench_common.PROBA_DIR`,
benchmarks/work/accuracy/); a path with a folder is read as given.

The weight is fixed before looking at the test set (`--weight`, default 0.5). The sweep over weights
that is also printed reads the test labels: it is there to show how sensitive the result is, and must
not be used to pick the weight that is claimed.

Example:
    python benchmarks/experiments/ensemble.py --name mean256_tfidf \\
        --proba mean256.seed42.proba.csv \\
        --archive ../shared/data/20news-bydate.tar.gz
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
import bench_common as bc  # noqa: E402


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--name", required=True, help="the JSON's file name under benchmarks/results/accuracy/")
    p.add_argument("--proba", nargs="+", required=True,
                   help="test probability CSVs (one per seed); a bare file name is looked up in "
                        "benchmarks/work/accuracy/, where accuracy.py --save-proba writes")
    p.add_argument("--archive", default=bc.os.environ.get("TFCLF_20NG_ARCHIVE"))
    p.add_argument("--weight", type=float, default=0.5, help="the transformer's weight in the average")
    p.add_argument("--C", type=float, default=10.0, help="LogisticRegression's inverse regularization")
    p.add_argument("--limit", type=int, help="first N train and test documents (for trying the script)")
    p.add_argument("--output", help="default: benchmarks/results/accuracy/NAME.json")
    return p.parse_args()


def linear_proba(train, test, C: float) -> tuple[np.ndarray, list[str], float]:
    """TF-IDF (word unigrams and bigrams, sublinear tf) + multinomial logistic regression."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    t0 = time.perf_counter()
    pipe = make_pipeline(TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=2),
                         LogisticRegression(C=C, max_iter=2000))
    pipe.fit(train.texts, train.labels)
    fit_s = time.perf_counter() - t0
    return pipe.predict_proba(test.texts), [str(c) for c in pipe.classes_], fit_s


def proba_path(name: str) -> Path:
    """`name` as given when it names a folder, else the file of that name in `bc.PROBA_DIR`."""
    return Path(name) if "/" in name or bc.os.sep in name else bc.PROBA_DIR / name


def read_proba(path: str | Path) -> tuple[np.ndarray, list[str]]:
    with open(path) as f:
        classes = f.readline().strip().split(",")
    return np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2), classes


def accuracy(proba: np.ndarray, classes: list[str], labels) -> tuple[float, int]:
    pred = np.asarray(classes)[proba.argmax(axis=1)]
    correct = int((pred == np.asarray(labels)).sum())
    return round(correct / len(labels), 5), correct


def main() -> None:
    args = parse()
    if not args.archive:
        sys.exit("pass --archive (the 20news-bydate.tar.gz) or set TFCLF_20NG_ARCHIVE")
    if not 0.0 <= args.weight <= 1.0:
        sys.exit("--weight is the transformer's share of the average: pass a number from 0 to 1")
    train, test = bc.load_data(args.archive, args.limit)
    lin, lin_classes, fit_s = linear_proba(train, test, args.C)
    lin_acc = accuracy(lin, lin_classes, test.labels)
    runs = []
    for path in map(proba_path, args.proba):
        tf_proba, classes = read_proba(path)
        if sorted(classes) != sorted(lin_classes) or len(tf_proba) != len(test.labels):
            sys.exit(f"{path}: its classes or row count do not match the test set ({len(test.labels)} rows)")
        # Columns follow the linear model's class order, whatever order the CSV wrote.
        tf_proba = tf_proba[:, [classes.index(c) for c in lin_classes]]
        both = args.weight * tf_proba + (1 - args.weight) * lin
        sweep = {f"{w:.1f}": accuracy(w * tf_proba + (1 - w) * lin, lin_classes, test.labels)[0]
                 for w in np.linspace(0, 1, 11)}
        run = {"proba_file": Path(path).name, "transformer": accuracy(tf_proba, lin_classes, test.labels),
               "linear": lin_acc, "ensemble": accuracy(both, lin_classes, test.labels),
               "sweep_on_test_not_for_claims": sweep}
        runs.append(run)
        print(f"{Path(path).name}: transformer {run['transformer']}, tfidf-logreg {lin_acc}, "
              f"average (w={args.weight}) {run['ensemble']}", flush=True)
    out_path = Path(args.output or bc.RESULTS / "accuracy" / f"{args.name}.json")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    result = {"name": args.name, "command": " ".join(sys.argv), "weight": args.weight, "C": args.C,
              "linear_fit_s": round(fit_s, 1), "machine": bc.machine(), "runs": runs}
    out_path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out_path}")


if __name__ == "__main__":
    main()
