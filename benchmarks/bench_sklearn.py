"""scikit-learn's tutorial baseline on the same data: TF-IDF + linear SVM (SGDClassifier, hinge,
alpha 1e-3) and MultinomialNB, as in its "Working with Text Data" tutorial.

    python benchmarks/bench_sklearn.py --archive ../shared/data/20news-bydate.tar.gz
"""

from __future__ import annotations

from pathlib import Path

import time

from sklearn.feature_extraction.text import TfidfTransformer, CountVectorizer
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import accuracy_score, f1_score
from sklearn.naive_bayes import MultinomialNB
from sklearn.pipeline import Pipeline

import bench_common as bc


def run(name: str, clf, train, test, cfg) -> dict:
    pipe = Pipeline([("vect", CountVectorizer()), ("tfidf", TfidfTransformer()), ("clf", clf)])
    t0 = time.perf_counter()
    pipe.fit(train.texts, train.target)
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    pred = pipe.predict(test.texts)
    eval_s = time.perf_counter() - t0
    p50, p95 = bc.latency_ms(lambda d: pipe.predict([d]), test.texts[0])
    return {
        "system": name, "config": cfg.name,
        "test_accuracy": round(float(accuracy_score(test.target, pred)), 4),
        "test_macro_f1": round(float(f1_score(test.target, pred, average="macro")), 4),
        "val_accuracy_per_epoch": None, "lr_find_s": None, "lr_suggestion": None,
        "train_s": round(train_s, 3), "train_tokens_per_s": None, "peak_rss_mb": bc.peak_rss_mb(),
        "eval_docs_per_s": round(len(test.texts) / eval_s, 1), "save_s": None, "size_mb": None, "load_s": None,
        "predict_docs_per_s": round(len(test.texts) / eval_s, 1), "latency_ms_p50": p50, "latency_ms_p95": p95,
        "explain_s": None, "versions": bc.package_versions("scikit-learn", "numpy"),
    }


def main() -> None:
    args = bc.parse_args(__doc__.splitlines()[0], needs_model=False)
    cfg = bc.config(args)
    train, test = bc.load_data(args.archive, args.limit)
    for name, clf in (
        ("sklearn-svm", SGDClassifier(loss="hinge", penalty="l2", alpha=1e-3, random_state=42, max_iter=5, tol=None)),
        ("sklearn-nb", MultinomialNB()),
    ):
        result = run(name, clf, train, test, cfg)
        print(name, result["test_accuracy"])
        bc.write(result, name, cfg, None if args.output is None else str(Path(args.output).with_name(f"{name}-{cfg.name}.json")))


if __name__ == "__main__":
    main()
