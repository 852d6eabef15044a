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


def executed_and_model_flops(trn, cfg, dims) -> tuple[float, float]:
    """Training FLOPs of the epochs just run: as executed (each batch at its padded width, the
    same batch orders the Learner drew: same seed, epochs numbered from 0) and the model's
    useful FLOPs on the documents' own tokens."""
    from tfclf.data import padded_length

    executed = 0.0
    for epoch in range(cfg.epochs):
        for index in trn.batch_order(cfg.batch_size, shuffle=True, seed=cfg.seed, epoch=epoch):
            lengths = trn.lengths[index]
            executed += bc.train_flops(dims, lengths, padded_length(int(lengths.max()), trn.maxlen))
    return executed, bc.train_flops(dims, trn.lengths) * cfg.epochs


def main() -> None:
    args = bc.parse_args(__doc__.splitlines()[0], extra=[
        (("--precision",), dict(default="auto", help="tfclf's precision: auto (default), float32, mixed_bfloat16, "
                                                     "mixed_float16")),
        (("--peak-seconds",), dict(type=float, default=3.0, help="time spent measuring each matmul peak")),
    ])
    cfg = bc.config(args)
    train, test = bc.load_data(args.archive, args.limit)

    import tfclf
    from tfclf import text

    tfclf.set_seed(cfg.seed)
    from tfclf.precision import model_precision

    t = text.Transformer(args.model, maxlen=cfg.maxlen, class_names=train.class_names, precision=args.precision)
    trn = t.preprocess_train(train.texts, train.labels)
    val = t.preprocess_test(test.texts, test.labels)
    learner = tfclf.get_learner(t.get_classifier(), trn, val, batch_size=cfg.batch_size, seed=cfg.seed)
    precision = model_precision(learner.model)

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
    # LIME at its 1000 samples, the figure compared with ktrain's eli5 since before gradients became the default
    predictor.explain(test.texts[0], method="lime", num_samples=1000)
    explain_s = time.perf_counter() - t0

    folder = Path(args.work) / f"tfclf-{cfg.name}"
    shutil.rmtree(folder, ignore_errors=True)
    t0 = time.perf_counter()
    predictor.save(folder)
    save_s = time.perf_counter() - t0
    load = bc.load_timings(*bc.load_code("tfclf", folder, test.texts[0], args.precision))
    executed, model_flops = executed_and_model_flops(trn, cfg, bc.encoder_dims(args.model))
    peak = {dtype: bc.matmul_peak_gflops(dtype, seconds=args.peak_seconds) for dtype in ("float32", "bfloat16")}
    peak_here = peak["bfloat16" if "bfloat16" in precision else "float32"]

    bc.write({
        "system": "tfclf", "config": cfg.name,
        "test_accuracy": round(float(accuracy_score(val.targets, pred)), 4),
        "test_macro_f1": round(float(f1_score(val.targets, pred, average="macro")), 4),
        "val_accuracy_per_epoch": [round(float(a), 4) for a in learner.history.history.get("val_accuracy", [])],
        "lr_find_s": round(lr_find_s, 1), "lr_suggestion": suggestions._asdict(),
        "train_s": round(train_s, 1), "train_tokens_per_s": round(tokens / train_s, 1),
        "peak_rss_mb": bc.peak_rss_mb(), "eval_docs_per_s": round(len(val) / eval_s, 1),
        "save_s": round(save_s, 2), "size_mb": bc.folder_mb(folder), "load_s": load["load_s"],
        "predict_docs_per_s": round(len(test.texts) / predict_s, 1), "latency_ms_p50": p50, "latency_ms_p95": p95,
        "explain_s": round(explain_s, 2),
        # beyond FIELDS
        "precision": precision, "cold_start_s": load["cold_start_s"], "load_timings": load,
        "train_executed_gflops_per_s": round(executed / train_s / 1e9, 2),
        "train_model_gflops_per_s": round(model_flops / train_s / 1e9, 2),
        "matmul_peak_gflops": peak,
        "train_fraction_of_peak": round(executed / train_s / 1e9 / peak_here, 3),
        "versions": bc.package_versions("tfclf", "tensorflow", "tf-keras", "transformers", "numpy", "scikit-learn"),
    }, "tfclf", cfg, args.output)


if __name__ == "__main__":
    main()
