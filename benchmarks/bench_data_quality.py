"""Probabilities you can act on, measured on the tutorial (issue 25).

    python benchmarks/bench_data_quality.py --model ../shared/models/all-MiniLM-L6-v2 \
        --archive ../shared/data/20news-bydate.tar.gz

Two parts, each checkpointed to benchmarks/work/data_quality/ (a rerun skips a finished part):

1. calibration: fine-tune on 90% of the training documents (stratified split, seed 42), fit the
   temperature on the other 10% (`Learner.calibrate`), and report on the 1502 test documents the
   expected calibration error (15 equal-width bins), log loss, Brier score and accuracy before and
   after; the risk-coverage table and the coverage at 99% accuracy; the reliability diagram
   (PNG).
2. label issues: flip 5% of the training labels at random (seed 42), `cross_validate` on them, and
   report precision and recall of the k most suspicious texts among the flipped ones, k = the
   number flipped, and of the texts the confident-learning rule flags; with the time it took.
3. overlap: exact copies of training texts among the test texts, and near-duplicates from the
   embeddings of a saved predictor (`--predictor`, e.g. the one `make demo` trains), at several
   cosine and word-overlap thresholds.

Writes benchmarks/results/data_quality.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import bench_common as bc

HERE = Path(__file__).resolve().parent
WORK = HERE / "work" / "data_quality"
SEED = 42


def calibration_part(args, train, test) -> dict:
    import tfclf
    from tfclf import text
    from tfclf.calibration import calibration_report, coverage_at_accuracy, risk_coverage
    from tfclf.datasets.split import train_test_split

    x_fit, x_cal, y_fit, y_cal = train_test_split(list(train.texts), list(train.labels), test_size=0.1, seed=SEED)
    tfclf.set_seed(SEED)
    t = text.Transformer(args.model, maxlen=args.maxlen, batch_size=args.batch_size, class_names=train.class_names)
    trn = t.preprocess_train(x_fit, y_fit, verbose=0)
    cal = t.preprocess_test(x_cal, y_cal, verbose=0)
    tst = t.preprocess_test(list(test.texts), list(test.labels), verbose=0)
    learner = tfclf.get_learner(t.get_classifier(), trn, cal, batch_size=args.batch_size, seed=SEED)
    t0 = time.perf_counter()
    learner.fit_onecycle(args.lr, args.epochs, verbose=0)
    train_s = time.perf_counter() - t0
    before = learner.evaluation(tst).probs
    t0 = time.perf_counter()
    fitted = learner.calibrate(cal, verbose=0)
    calibrate_s = time.perf_counter() - t0
    after_eval = learner.evaluation(tst)
    after = after_eval.probs
    report = calibration_report(before, after, tst.targets, "multiclass", 15)
    curve = risk_coverage(after, tst.targets)
    correct = after.argmax(1) == tst.targets
    table = []
    for p in (0.0, 0.5, 0.8, 0.9, 0.95, 0.99):
        answered = after.max(1) >= p
        table.append({"min_confidence": p, "answered": int(answered.sum()), "coverage": round(float(answered.mean()), 4),
                      "accuracy": round(float(correct[answered].mean()), 4) if answered.any() else None})
    output = Path(args.output).resolve()
    png = output.with_name(f"{output.stem}_reliability.png")  # results/data_quality_reliability.png by default
    after_eval.plot_reliability(show=False, save_path=png)
    return {
        "split": {"fit": len(x_fit), "calibration": len(x_cal), "test": len(test.texts)},
        "train_s": round(train_s, 1), "calibrate_s": round(calibrate_s, 2),
        "temperature": round(fitted["temperature"], 4), "test": report,
        "ece_ratio_after_before": round(report["after"]["ece"] / report["before"]["ece"], 3),
        "risk_coverage": table,
        "coverage_at_99": coverage_at_accuracy(curve, 0.99),
        "coverage_at_99_uncalibrated": coverage_at_accuracy(risk_coverage(before, tst.targets), 0.99),
        "reliability_png": png.name,
    }


def overlap_part(args, train, test) -> dict:
    import tfclf
    from tfclf.overlap import find_overlap

    if not args.predictor:
        raise SystemExit("the overlap part needs --predictor (a saved predictor whose embed it uses)")
    predictor = tfclf.load_predictor(args.predictor)
    x_train, x_test = list(train.texts), list(test.texts)
    t0 = time.perf_counter()
    vectors = {"train": predictor.embed(x_train), "test": predictor.embed(x_test)}
    embed_s = time.perf_counter() - t0

    class Cached:  # the embeddings once, for every threshold
        def embed(self, texts):
            return vectors["train"] if texts is x_train or len(texts) == len(x_train) else vectors["test"]

    rows = []
    for cosine, jaccard in ((0.98, 0.0), (0.98, 0.5), (0.95, 0.5), (0.99, 0.8)):
        found = find_overlap(x_train, x_test, predictor=Cached(), threshold=cosine, min_jaccard=jaccard)
        rows.append({"cosine": cosine, "min_jaccard": jaccard, "near": len(found.near),
                     "exact_test_texts": len({j for _, j in found.exact}),
                     "examples": [(i, j, round(c, 4), round(w, 3)) for i, j, c, w in found.near[:5]]})
    return {"predictor": args.predictor, "embed_s": round(embed_s, 1), "thresholds": rows}


def ece_floor(probs: np.ndarray, n_bins: int = 15, draws: int = 200) -> float:
    """The ECE a perfectly calibrated model with these probabilities would still show on this many
    texts: labels drawn from the probabilities themselves, ECE averaged over `draws` draws."""
    from tfclf.calibration import expected_calibration_error

    rng = np.random.default_rng(SEED)
    cumulative = probs.cumsum(axis=1)
    values = []
    for _ in range(draws):
        labels = (rng.random((len(probs), 1)) > cumulative).sum(axis=1).clip(0, probs.shape[1] - 1)
        values.append(expected_calibration_error(probs, labels, "multiclass", n_bins=n_bins))
    return float(np.mean(values))


def calibration_nbsvm_part(args, train, test) -> dict:
    """Temperature scaling where there is over-confidence to remove: ktrain's NBSVM (notebook
    settings, a fixed budget of 8 epochs of 1cycle at 0.01) on the same fit / calibration split."""
    import tfclf
    from tfclf import text
    from tfclf.calibration import calibration_report
    from tfclf.datasets.split import train_test_split

    x_fit, x_cal, y_fit, y_cal = train_test_split(list(train.texts), list(train.labels), test_size=0.1, seed=SEED)
    tfclf.set_seed(SEED)
    trn, cal, preproc = text.texts_from_array(x_fit, y_fit, x_cal, y_cal, maxlen=350, max_features=35000, verbose=0)
    model = text.text_classifier("nbsvm", trn, preproc=preproc, verbose=0)
    tfclf.get_learner(model, trn, batch_size=32, seed=SEED).fit_onecycle(0.01, 8, verbose=0)
    predictor = tfclf.get_predictor(model, preproc)
    before = predictor.predict_proba(list(test.texts))
    fitted = predictor.calibrate(x_cal, y_cal, verbose=0)
    after = predictor.predict_proba(list(test.texts))
    targets = np.asarray([preproc.get_classes().index(y) for y in test.labels])
    report = calibration_report(before, after, targets, "multiclass")
    return {"temperature": round(fitted["temperature"], 4), "test": report,
            "ece_ratio_after_before": round(report["after"]["ece"] / report["before"]["ece"], 3),
            "ece_floor_before": round(ece_floor(before), 4), "ece_floor_after": round(ece_floor(after), 4)}


def label_issue_part(args, train) -> dict:
    import tfclf

    rng = np.random.default_rng(SEED)
    labels = list(train.labels)
    classes = list(train.class_names)
    n_flip = int(round(0.05 * len(labels)))
    flipped = rng.choice(len(labels), n_flip, replace=False)
    for i in flipped:
        others = [c for c in classes if c != labels[i]]
        labels[i] = others[rng.integers(len(others))]
    t0 = time.perf_counter()
    cv = tfclf.cross_validate(list(train.texts), labels, args.model, n_splits=args.folds, seed=SEED, lr=args.lr,
                              epochs=args.epochs, batch_size=args.batch_size, maxlen=args.maxlen,
                              class_names=classes, verbose=1)
    cv_s = time.perf_counter() - t0
    issues = cv.label_issues()
    return {
        "flipped": n_flip, "n": len(labels), "folds": args.folds, "cv_s": round(cv_s, 1),
        "cv_accuracy_on_noisy_labels": round(cv.mean["accuracy"], 4),
        "at_k": issues.precision_recall(flipped, k=n_flip),
        "flagged": issues.precision_recall(flipped),
        "top5": [{"index": int(i), "given": issues.given[i], "likely": issues.likely[i],
                  "margin": round(float(issues.margin[i]), 4), "was_flipped": bool(i in set(flipped.tolist()))}
                 for i in issues.top(5)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--archive", default=None)
    parser.add_argument("--maxlen", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=8e-5)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--parts", default="calibration,label_issues,overlap")
    parser.add_argument("--predictor", default=None, help="a saved predictor for the overlap part")
    parser.add_argument("--limit", type=int, default=None, help="first N documents of each split (a smoke test)")
    parser.add_argument("--output", default=str(HERE / "results" / "data_quality.json"))
    parser.add_argument("--work", default=str(WORK), help="the parts' checkpoints (another folder for other settings)")
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    train, test = bc.load_data(args.archive, args.limit)
    result = {"benchmark": "data_quality", "date": time.strftime("%Y-%m-%d"), "machine": bc.machine(),
              "settings": {k: getattr(args, k) for k in ("model", "maxlen", "epochs", "lr", "batch_size", "folds")}}
    for part in args.parts.split(","):
        checkpoint = work / f"{part}.json"
        if checkpoint.is_file():
            result[part] = json.loads(checkpoint.read_text())
            print(f"{part}: from {checkpoint}")
            continue
        value = {"calibration": lambda: calibration_part(args, train, test),
                 "label_issues": lambda: label_issue_part(args, train),
                 "calibration_nbsvm": lambda: calibration_nbsvm_part(args, train, test),
                 "overlap": lambda: overlap_part(args, train, test)}[part]()
        checkpoint.write_text(json.dumps(value, indent=2, default=float))
        result[part] = value
        print(part, json.dumps(value, default=float)[:2000], flush=True)
    for part in ("calibration", "calibration_nbsvm", "label_issues", "overlap"):  # the JSON keeps parts finished in earlier runs
        checkpoint = work / f"{part}.json"
        if part not in result and checkpoint.is_file():
            result[part] = json.loads(checkpoint.read_text())
    Path(args.output).write_text(json.dumps(result, indent=2, default=float) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
