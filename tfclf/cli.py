"""The ``tfclf`` command."""

from __future__ import annotations

import argparse
import sys

import tfclf  # noqa: F401 - sets TF_USE_LEGACY_KERAS before anything imports TensorFlow


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
    parser = argparse.ArgumentParser(prog="tfclf", description="Fine-tune transformers for text classification.")
    parser.add_argument("--version", action="version", version=f"tfclf {tfclf.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    q = sub.add_parser("quickstart", help="run the whole workflow end to end, narrated",
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
    return parser


EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def main(argv: list[str] | None = None) -> int:
    """Runs the command; exit codes: 0 done, 1 an error (said on stderr), 2 bad usage, 130 Ctrl-C."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "quickstart":
            from tfclf import quickstart

            quickstart.run(data=args.data, model=args.model, maxlen=args.maxlen, epochs=args.epochs, lr=args.lr,
                           batch_size=args.batch_size, output=args.output, seed=args.seed,
                           max_train=args.max_train, explain_samples=args.explain_samples)
    except KeyboardInterrupt:
        print("tfclf: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (ValueError, TypeError, OSError) as err:
        # Bad input and missing files are the user's to fix: one line, no traceback.
        print(f"tfclf: error: {err}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
