"""ktrain's own text examples, ported by changing the import, on the 20 Newsgroups archive (issue 28).

    python benchmarks/bench_ktrain_api.py --archive ../shared/data/20news-bydate.tar.gz \
        --model ../shared/models/all-MiniLM-L6-v2

Two parts, each checkpointed to benchmarks/work/ktrain_api/ (a rerun skips a finished part):

1. nbsvm: ktrain's examples/text/20newsgroups-nbsvm.ipynb. The notebook fetches the tutorial's 4
   categories with scikit-learn's ``fetch_20newsgroups`` (a download); here the same split comes
   from the local archive (`tfclf.datasets.load_20newsgroups`), and every later line is the
   notebook's, with ``import tfclf as ktrain`` and ``from tfclf import text``: texts_from_array
   (maxlen 350, max_features 35000, ngram_range 1), text_classifier('nbsvm'), get_learner,
   lr_find, autofit(0.01), validate, get_predictor, predict. ktrain's notebook reports 93.14%.
2. readme: the example at the top of ktrain's README (texts_from_folder with preprocess_mode="bert",
   maxlen 500, text_classifier("bert"), batch size 6, fit_onecycle(2e-5, 1)) on the tutorial's 4
   categories extracted from the archive in texts_from_folder's layout, with
   ``$TFCLF_BERT_MODEL`` pointing "bert" at the local `--model` (no hub access here).

Writes benchmarks/results/ktrain_api.json.
"""

from __future__ import annotations

import argparse
import json
import os
import tarfile
import time
from pathlib import Path

import bench_common as bc

HERE = Path(__file__).resolve().parent
WORK = HERE / "work" / "ktrain_api"
CATEGORIES = ["alt.atheism", "soc.religion.christian", "comp.graphics", "sci.med"]


def nbsvm_part(args) -> dict:
    from tfclf.datasets import load_20newsgroups

    train_b = load_20newsgroups("train", CATEGORIES, archive=args.archive)
    test_b = load_20newsgroups("test", CATEGORIES, archive=args.archive)
    x_train, y_train, x_test, y_test = train_b.texts, train_b.target, test_b.texts, test_b.target
    t0 = time.perf_counter()
    # ---- from here on, ktrain's notebook with the import changed
    import tfclf as ktrain
    from tfclf import text

    (x_train, y_train), (x_test, y_test), preproc = text.texts_from_array(
        x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test, class_names=train_b.class_names,
        ngram_range=1, maxlen=350, max_features=35000)
    model = text.text_classifier('nbsvm', train_data=(x_train, y_train))
    learner = ktrain.get_learner(model, train_data=(x_train, y_train), val_data=(x_test, y_test))
    learner.lr_find()
    learner.autofit(0.01, args.nbsvm_epochs)  # the notebook: autofit(0.01), i.e. epochs=None
    cm = learner.validate()
    predictor = ktrain.get_predictor(learner.model, preproc)
    first = predictor.predict(test_b.texts[0:3])
    # ---- end of the notebook
    seconds = time.perf_counter() - t0
    return {"accuracy": round(float(cm.trace() / cm.sum()), 4), "ktrain_notebook_accuracy": 0.9314,
            "seconds_notebook": round(seconds, 1), "epochs_run": len(learner.history.history["loss"]),
            "autofit_epochs": args.nbsvm_epochs,
            "first_predictions": first, "first_targets": [train_b.class_names[i] for i in test_b.target[:3]]}


def extract_folders(archive: str, work: Path) -> Path:
    """The tutorial's 4 categories of the archive as train/<class>/<file> and test/<class>/<file>."""
    root = work / "20news_folders"
    if (root / "done").is_file():
        return root
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers() if m.isfile() and m.name.split("/")[1:2] and
                   m.name.split("/")[1] in CATEGORIES]
        tar.extractall(root, members=members, filter="data")
    for split in ("train", "test"):
        (root / f"20news-bydate-{split}").rename(root / split)
    (root / "done").write_text("ok")
    return root


def readme_part(args) -> dict:
    folder = extract_folders(args.archive, Path(args.work))
    os.environ["TFCLF_BERT_MODEL"] = str(Path(args.model).resolve())
    t0 = time.perf_counter()
    # ---- ktrain's README example, with the import changed (and its IMDb classes made ours)
    import tfclf as ktrain
    from tfclf import text

    (x_train, y_train), (x_test, y_test), preproc = text.texts_from_folder(
        str(folder), maxlen=args.maxlen, preprocess_mode="bert", train_test_names=["train", "test"],
        classes=CATEGORIES)
    model = text.text_classifier("bert", (x_train, y_train), preproc=preproc)
    learner = ktrain.get_learner(model, train_data=(x_train, y_train), val_data=(x_test, y_test), batch_size=6)
    learner.fit_onecycle(args.lr, 1)
    # ---- end of the example
    train_s = time.perf_counter() - t0
    cm = learner.validate(print_report=False)
    return {"accuracy": round(float(cm.trace() / cm.sum()), 4), "model": args.model, "maxlen": args.maxlen,
            "lr": args.lr, "epochs": 1, "batch_size": 6, "seconds_load_and_train": round(train_s, 1),
            "test_docs": int(cm.sum())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", required=True)
    parser.add_argument("--model", default=None, help="local folder for the readme part's 'bert'")
    parser.add_argument("--maxlen", type=int, default=500)
    parser.add_argument("--lr", type=float, default=2e-5)
    parser.add_argument("--parts", default="nbsvm,readme")
    parser.add_argument("--nbsvm-epochs", type=int, default=None,
                        help="cap autofit's epochs (the notebook: none, early stopping decides; a smoke test caps it)")
    parser.add_argument("--output", default=str(HERE / "results" / "ktrain_api.json"))
    parser.add_argument("--work", default=str(WORK), help="checkpoints and the extracted folders")
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    result = {"benchmark": "ktrain_api", "machine": bc.machine(), "versions": bc.package_versions("tensorflow"),
              "parts": {}}
    for part in args.parts.split(","):
        checkpoint = work / f"{part}.json"
        if checkpoint.is_file():
            result["parts"][part] = json.loads(checkpoint.read_text())
            print(f"{part}: from {checkpoint}")
            continue
        if part == "readme" and not args.model:
            raise SystemExit("the readme part needs --model (a local BERT-family folder)")
        value = {"nbsvm": nbsvm_part, "readme": readme_part}[part](args)
        checkpoint.write_text(json.dumps(value, indent=2, default=str))
        result["parts"][part] = value
        print(part, json.dumps(value, default=str))
    Path(args.output).write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
