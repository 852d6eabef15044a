"""Executes a notebook with a Jupyter kernel, with its parameters overridden (papermill's convention:
a cell tagged "parameters" holds the defaults; the overrides go into a cell tagged
"injected-parameters" right after it, so the executed notebook shows what it ran with).

    python notebooks/run.py notebooks/20newsgroups_transformer.ipynb --inplace \
        -p MODEL_NAME ../shared/models/all-MiniLM-L6-v2 -p MAXLEN 256 -p EPOCHS 3

Values are Python literals when they parse as one (numbers, None, tuples), else strings. The
kernel runs in the notebook's folder, so relative paths in the notebook mean the same thing
whoever runs it. Exits non-zero, naming the cell, if any cell raises.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import sys
from pathlib import Path

INJECTED = "injected-parameters"


def parse_value(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def inject(nb, params: dict) -> None:
    """Puts `params` in an injected-parameters cell after the parameters cell (replacing an old one)."""
    import nbformat

    nb.cells = [c for c in nb.cells if INJECTED not in c.get("metadata", {}).get("tags", [])]
    if not params:
        return
    where = next((i for i, c in enumerate(nb.cells) if "parameters" in c.get("metadata", {}).get("tags", [])), None)
    if where is None:
        raise SystemExit("the notebook has no cell tagged 'parameters' to override")
    source = "# Parameters of this run\n" + "\n".join(f"{k} = {v!r}" for k, v in params.items())
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = [INJECTED]
    nb.cells.insert(where + 1, cell)


# Start-up chatter from TensorFlow's C++ side and tqdm that says nothing about the notebook.
_NOISE = re.compile(r"^(WARNING: All log messages before absl|[IWE]\d{4} |.*TqdmWarning: IProgress|"
                    r"\s*from \.autonotebook import tqdm)")


def tidy(nb) -> None:
    """Stream outputs as a terminal shows them: consecutive writes to one stream are joined, a
    line rewritten with carriage returns (Keras progress bars) keeps its last state, and start-up
    log chatter is dropped."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        merged = []
        for out in cell.get("outputs", []):
            last = merged[-1] if merged else None
            if (out.get("output_type") == "stream" and last is not None
                    and last.get("output_type") == "stream" and last["name"] == out["name"]):
                last["text"] += out["text"]
            else:
                merged.append(out)
        kept = []
        for out in merged:
            if out.get("output_type") == "stream":
                lines = [line.rsplit("\r", 1)[-1].replace("\b", "") for line in out["text"].split("\n")]
                out["text"] = "\n".join(line for line in lines if not _NOISE.match(line))
                if not out["text"].strip():
                    continue
            kept.append(out)
        cell["outputs"] = kept


def run(path: Path, params: dict, output: Path, timeout: int = 3600) -> None:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(str(path), as_version=4)
    inject(nb, params)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.resolve().parent)}})
    # The kernel inherits this process's environment: a non-interactive MPLBACKEND (tests set Agg)
    # would keep the figures out of the notebook, so the kernel gets the inline backend.
    saved_backend = os.environ.get("MPLBACKEND")
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    try:
        client.execute()
    except CellExecutionError:
        nbformat.write(nb, str(output))  # keep the outputs up to the failing cell for reading
        raise
    finally:
        if saved_backend is None:
            os.environ.pop("MPLBACKEND", None)
        else:
            os.environ["MPLBACKEND"] = saved_backend
    tidy(nb)
    nbformat.write(nb, str(output))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", type=Path)
    parser.add_argument("-p", "--param", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--output", type=Path, help="write the executed notebook here")
    where.add_argument("--inplace", action="store_true", help="overwrite the notebook with its executed copy")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    args = parser.parse_args(argv)
    output = args.notebook if args.inplace else (args.output or args.notebook.with_suffix(".out.ipynb"))
    run(args.notebook, {k: parse_value(v) for k, v in args.param}, output, args.timeout)
    print(f"executed {args.notebook} -> {output}")


if __name__ == "__main__":
    sys.exit(main())
