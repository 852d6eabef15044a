"""tfclf on the 20 Newsgroups tutorial: lr_find (suggestion recorded, not used), fit_onecycle at the
fixed LR, validation, prediction, explanation, save, and a reload timed in a fresh process.

    python benchmarks/bench_tfclf.py --config quick --model ../shared/models/all-MiniLM-L6-v2 \
        --archive ../shared/data/20news-bydate.tar.gz
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from sklearn.metrics import accuracy_score, f1_score

import bench_common as bc


def main() -> None:
    args = bc.parse_args(__doc__.splitlines()[0])
    cfg = bc.config(args)
    train, test = bc.load_data(args.archive)

    import tfclf
    from tfclf import text

    tfclf.set_seed(cfg.seed)
    t = text.Transformer(args.model, maxlen=cfg.maxlen, class_names=train.class_names)
    trn = t.preprocess_train(train.texts, train.labels)
    val = t.preprocess_test(test.texts, test.labels)
    learner = tfclf.get_learner(t.get_classifier(), trn, val, batch_size=cfg.batch_size, seed=cfg.seed)

    t0 = time.perf_counter()
    suggestions = learner.lr_find(verbose=1)
    lr_find_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    learner.fit_onecycle(cfg.lr, cfg.epochs)
    train_s = time.perf_counter() - t0
    tokens = bc.count_tokens(args.model, train.texts, cfg.maxlen) * cfg.epochs

    t0 = time.perf_counter()
    probs = learner.predict(val)
    eval_s = time.perf_counter() - t0
    learner.validate(class_names=t.get_classes())
    learner.view_top_losses(n=1, preproc=t)
    pred = probs.argmax(axis=1)

    predictor = tfclf.get_predictor(learner.model, t, batch_size=32)
    predictor.predict(test.texts[:8])
    t0 = time.perf_counter()
    predictor.predict(test.texts)
    predict_s = time.perf_counter() - t0
    p50, p95 = bc.latency_ms(predictor.predict, test.texts[0])

    t0 = time.perf_counter()
    predictor.explain(test.texts[0])
    explain_s = time.perf_counter() - t0

    folder = Path(args.work) / f"tfclf-{cfg.name}"
    shutil.rmtree(folder, ignore_errors=True)
    t0 = time.perf_counter()
    predictor.save(folder)
    save_s = time.perf_counter() - t0
    load_s = bc.timed_subprocess(
        # tfclf imports TensorFlow lazily: import it first, so that only loading is timed (as for ktrain).
        "import time, tfclf, tfclf.predictor\nt0 = time.perf_counter()\n"
        f"tfclf.load_predictor({str(folder)!r})\nprint(time.perf_counter() - t0)\n"
    )

    bc.write({
        "system": "tfclf", "config": cfg.name,
        "test_accuracy": round(float(accuracy_score(val.targets, pred)), 4),
        "test_macro_f1": round(float(f1_score(val.targets, pred, average="macro")), 4),
        "val_accuracy_per_epoch": [round(float(a), 4) for a in learner.history.history.get("val_accuracy", [])],
        "lr_find_s": round(lr_find_s, 1), "lr_suggestion": suggestions._asdict(),
        "train_s": round(train_s, 1), "train_tokens_per_s": round(tokens / train_s, 1),
        "peak_rss_mb": bc.peak_rss_mb(), "eval_docs_per_s": round(len(val) / eval_s, 1),
        "save_s": round(save_s, 2), "size_mb": bc.folder_mb(folder), "load_s": load_s,
        "predict_docs_per_s": round(len(test.texts) / predict_s, 1), "latency_ms_p50": p50, "latency_ms_p95": p95,
        "explain_s": round(explain_s, 2),
        "versions": bc.package_versions("tfclf", "tensorflow", "tf-keras", "transformers", "numpy", "scikit-learn"),
    }, "tfclf", cfg, args.output)


if __name__ == "__main__":
    main()
