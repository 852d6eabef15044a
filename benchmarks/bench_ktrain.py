"""ktrain 0.41.4 on the 20 Newsgroups tutorial, with the steps and measurements of bench_tfclf.py.

lr_find (suggestion recorded, not used), fit_onecycle at the fixed LR, validation, top losses,
prediction, explanation, save, and a reload timed in a fresh process.

Runs in its own virtual environment (`make bench-ktrain-env` creates it):

    benchmarks/.venv-ktrain/bin/python benchmarks/bench_ktrain.py --config quick \
        --model ../shared/models/all-MiniLM-L6-v2 --archive ../shared/data/20news-bydate.tar.gz

ktrain reads only TensorFlow weights (`tf_model.h5`) without torch, so a model folder with
PyTorch-format safetensors is converted once by convert_to_tf.py into `--work`/<name>-tf/.

`--limit N` keeps the first N train and N test documents and writes
results/ktrain-CONFIG-smoke.json: a check that the harness works end to end, not a result.
"""

from __future__ import annotations

import os

# TensorFlow reads this once, at import: ktrain 0.41 and transformers' TF models need Keras 2
# (tf-keras), not Keras 3.
os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_common as bc  # noqa: E402

SYSTEM = "ktrain"
# ktrain's tutorial (and tfclf's port of it) sweeps the LR finder over one epoch.
LR_FIND_EPOCHS = 1

# Run-time shims for ktrain 0.41.4 on today's stack: bench_common.KTRAIN_NUMPY_SHIM (also run in
# the fresh process that times load_predictor) and the ones in apply_shims. Each works around a
# ktrain bug without changing what ktrain computes; ktrain's installed files are never edited.


def apply_shims() -> None:
    exec(bc.KTRAIN_NUMPY_SHIM, {})

    import tensorflow as tf
    import ktrain.core
    import ktrain.utils as U

    keras = tf.keras

    def loss_fn_from_model(model):
        """Per-example loss function of a compiled model, applied to *probabilities*.

        ktrain's version reads `model.compiled_loss._get_loss_object(model.compiled_loss._losses[0]
        .name).fn`. With tf-keras 2.21, `compiled_loss._losses` is the loss object itself when the
        model was compiled with one (ktrain's get_classifier compiles with
        `CategoricalCrossentropy(from_logits=True)`), so `view_top_losses` / `top_losses` crash
        with "TypeError: 'CategoricalCrossentropy' object is not subscriptable".
        ktrain's top_losses feeds the function `learner.predict` output, which is already
        softmax/sigmoid probabilities, so the intended function is the loss's plain function with
        from_logits=False, which is what ktrain's `.fn` (without the object's kwargs) returned.
        """
        loss = model.loss
        if isinstance(loss, str):
            return keras.losses.get(loss)
        # keras.losses.CategoricalCrossentropy etc. wrap the plain function as `.fn`.
        return getattr(loss, "fn", loss)

    # core.py calls it as U.loss_fn_from_model, so patching the module attribute is enough.
    U.loss_fn_from_model = loss_fn_from_model
    assert ktrain.core.U is U

    # explain(): not a patch, a guard. ktrain imports `eli5` and `eli5.lime.TextExplainer` inside a
    # bare try/except and only *warns* (returning None) when that fails, which would silently time
    # nothing. It needs eli5 (ktrain's message points at an old fork; PyPI's eli5 0.16.0 works
    # with this scikit-learn) and IPython (eli5 defines `eli5.show_prediction`, which
    # TextExplainer.show_prediction calls, only when IPython imports). Both are in the venv; importing them here makes a broken install fail loudly.
    import eli5  # noqa: F401
    import IPython  # noqa: F401
    from eli5.lime import TextExplainer  # noqa: F401


def parse_args():
    return bc.parse_args(__doc__.splitlines()[0], extra=[
        (("--lr-find-epochs",), dict(type=int, default=LR_FIND_EPOCHS,
                                     help="epochs of ktrain's LR-finder sweep (default 1, as in its tutorial)")),
    ])


def tf_model_dir(model: str, work: str) -> Path:
    """`model` itself if it has TF weights, else its converted copy (made once) under `work`."""
    src = Path(model).resolve()
    if (src / "tf_model.h5").is_file():
        return src
    dst = Path(work).resolve() / f"{src.name}-tf"
    if not (dst / "tf_model.h5").is_file():
        print(f"converting {src} to TensorFlow weights in {dst} ...", flush=True)
        subprocess.run([sys.executable, str(HERE / "convert_to_tf.py"), str(src), str(dst)], check=True)
    return dst


def main() -> None:
    args = parse_args()
    cfg = bc.config(args)
    name = cfg.name
    output = args.output

    train, test = bc.load_data(args.archive, args.limit)
    x_train, y_train = list(train.texts), train.target
    x_test, y_test = list(test.texts), test.target
    model_dir = tf_model_dir(args.model, args.work)

    apply_shims()
    import numpy as np
    import tensorflow as tf
    from sklearn.metrics import accuracy_score, f1_score

    import ktrain
    from ktrain import text

    # ktrain has no seeding helper; the same seeds tfclf.set_seed sets.
    tf.keras.utils.set_random_seed(cfg.seed)

    # --- ktrain's tutorial, step by step
    t = text.Transformer(str(model_dir), maxlen=cfg.maxlen, class_names=list(train.class_names))
    trn = t.preprocess_train(x_train, y_train)
    val = t.preprocess_test(x_test, y_test)
    model = t.get_classifier()
    learner = ktrain.get_learner(model, train_data=trn, val_data=val, batch_size=cfg.batch_size)

    t0 = time.perf_counter()
    learner.lr_find(max_epochs=args.lr_find_epochs, verbose=1)
    lr_find_s = time.perf_counter() - t0
    # lr_estimate(): (min numerical gradient, LR of the min loss / 10, longest valley), the three
    # values lr_plot(suggest=True) prints (the first is None when too few losses were recorded),
    # under the names of tfclf's LRSuggestions (valley, steepest, minimum = min-loss LR / 10).
    grad, min10, valley = learner.lr_estimate()
    lr_suggestion = {
        "valley": None if valley is None else float(valley),
        "steepest": None if grad is None else float(grad),
        "minimum": None if min10 is None else float(min10),
    }
    lr_find_steps = len(learner.lr_finder.lrs)

    t0 = time.perf_counter()
    hist = learner.fit_onecycle(cfg.lr, cfg.epochs)
    train_s = time.perf_counter() - t0
    tokens = bc.count_tokens(str(model_dir), x_train, cfg.maxlen) * cfg.epochs

    t0 = time.perf_counter()
    probs = learner.predict(val)
    eval_s = time.perf_counter() - t0
    learner.validate(class_names=t.get_classes())
    learner.view_top_losses(n=1, preproc=t)
    pred = np.asarray(probs).argmax(axis=1)

    predictor = ktrain.get_predictor(learner.model, preproc=t)
    predictor.predict(x_test[:8])  # warm
    t0 = time.perf_counter()
    labels = predictor.predict(x_test)
    predict_s = time.perf_counter() - t0
    p50, p95 = bc.latency_ms(predictor.predict, x_test[0])
    # A cross-check of the learner's evaluation (same model, same preprocessing): should be equal.
    predictor_acc = accuracy_score([t.get_classes()[i] for i in y_test], labels)

    t0 = time.perf_counter()
    explanation = predictor.explain(x_test[0])  # ktrain's default n_samples (2500)
    explain_s = time.perf_counter() - t0
    if explanation is None:
        raise RuntimeError("predictor.explain returned None (ktrain swallows eli5 import errors)")

    folder = Path(args.work) / f"{SYSTEM}-{name}"
    shutil.rmtree(folder, ignore_errors=True)
    t0 = time.perf_counter()
    predictor.save(str(folder))
    save_s = time.perf_counter() - t0
    load = bc.load_timings(*bc.load_code("ktrain", folder, x_test[0]), env={"TF_CPP_MIN_LOG_LEVEL": "2"})

    bc.write({
        "system": SYSTEM, "config": name,
        "test_accuracy": round(float(accuracy_score(y_test, pred)), 4),
        "test_macro_f1": round(float(f1_score(y_test, pred, average="macro")), 4),
        "val_accuracy_per_epoch": [round(float(a), 4) for a in hist.history.get("val_accuracy", [])],
        "lr_find_s": round(lr_find_s, 1), "lr_suggestion": lr_suggestion,
        "train_s": round(train_s, 1), "train_tokens_per_s": round(tokens / train_s, 1),
        "peak_rss_mb": bc.peak_rss_mb(), "eval_docs_per_s": round(len(x_test) / eval_s, 1),
        "save_s": round(save_s, 2), "size_mb": bc.folder_mb(folder), "load_s": load["load_s"],
        "predict_docs_per_s": round(len(x_test) / predict_s, 1), "latency_ms_p50": p50, "latency_ms_p95": p95,
        "explain_s": round(explain_s, 2),
        # beyond FIELDS
        "cold_start_s": load["cold_start_s"], "load_timings": load,
        "lr_find_steps": lr_find_steps, "lr_find_epochs": args.lr_find_epochs,
        "predictor_test_accuracy": round(float(predictor_acc), 4),
        "n_train": len(x_train), "n_test": len(x_test), "model": str(Path(args.model).resolve()),
        "versions": bc.package_versions("ktrain", "tensorflow", "tf-keras", "transformers", "numpy",
                                        "scikit-learn", "eli5"),
    }, SYSTEM, cfg, output)


if __name__ == "__main__":
    main()
