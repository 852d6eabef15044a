"""Prediction over corpora larger than memory: read texts as a stream, write results as they come.

`Predictor.predict_file` reads `chunk_size` texts at a time, predicts them, appends the results to
the output file and forgets them, so memory stays flat whatever the corpus size.

Inputs, by file name:

* ``.jsonl`` / ``.ndjson``: one JSON value per line, a string or an object with a `text_column` key;
* ``.csv`` / ``.tsv``: a header row naming `text_column`;
* anything else: plain UTF-8 text, one document per line (a line break inside a document must be
  escaped, or use JSON lines).

Outputs, by file name: ``.csv`` (the input row number, the label, then one probability column per
class) or JSON lines (anything else): ``{"row": 0, "label": ..., "probabilities": {...}}``.
"""

from __future__ import annotations

import csv
import json
import os
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from tfclf._util import positive_int

JSONL_SUFFIXES = (".jsonl", ".ndjson")
CSV_SUFFIXES = {".csv": ",", ".tsv": "\t"}


def iter_texts(source, text_column: str = "text") -> Iterator[str]:
    """Yields the texts of a file (see the module's formats) or of an iterable of strings, lazily."""
    if isinstance(source, (str, os.PathLike)):
        yield from _iter_file(Path(source).expanduser(), text_column)
        return
    if isinstance(source, bytes):
        raise TypeError("source must be a file path or an iterable of strings, not bytes")
    for i, text in enumerate(source):
        if not isinstance(text, str):
            raise TypeError(f"text {i} of the iterable is {type(text).__name__}, expected str")
        yield text


def _iter_file(path: Path, text_column: str) -> Iterator[str]:
    if not path.is_file():
        raise FileNotFoundError(f"no input file {str(path)!r}")
    suffix = path.suffix.lower()
    with open(path, encoding="utf-8-sig", newline="" if suffix in CSV_SUFFIXES else None) as f:
        if suffix in JSONL_SUFFIXES:
            for line_number, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)
                except json.JSONDecodeError as err:
                    raise ValueError(f"line {line_number} of {path} is not JSON: {err}") from None
                if isinstance(value, dict):
                    if text_column not in value:
                        raise ValueError(f"line {line_number} of {path} has no {text_column!r} key "
                                         f"(keys: {sorted(value)}); pass text_column=")
                    value = value[text_column]
                if not isinstance(value, str):
                    raise ValueError(f"line {line_number} of {path}: the text is {type(value).__name__}, not a string")
                yield value
        elif suffix in CSV_SUFFIXES:
            reader = csv.DictReader(f, delimiter=CSV_SUFFIXES[suffix])
            if reader.fieldnames is None or text_column not in reader.fieldnames:
                raise ValueError(f"{path} has no {text_column!r} column (columns: {reader.fieldnames}); "
                                 "pass text_column=")
            for row in reader:
                yield row[text_column] or ""
        else:
            for line in f:
                yield line.rstrip("\r\n")


def _chunks(texts: Iterable[str], size: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    for text in texts:
        chunk.append(text)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class _Writer:
    def __init__(self, path: Path, classes: list[str], mode: str):
        self.path, self.classes, self.mode = path, classes, mode
        self.csv = path.suffix.lower() in CSV_SUFFIXES
        self.file = open(path, "w", encoding="utf-8", newline="" if self.csv else None)
        if self.csv:
            self.writer = csv.writer(self.file, delimiter=CSV_SUFFIXES[path.suffix.lower()])
            columns = ["value"] if mode == "regression" else [f"p_{c}" for c in classes]
            self.writer.writerow(["row", "label", *columns])

    def write(self, first_row: int, labels: list, probs) -> None:
        for i, (label, row) in enumerate(zip(labels, probs)):
            values = [float(v) for v in (row if getattr(row, "ndim", 0) else [row])]
            if self.csv:
                shown = ";".join(label) if isinstance(label, list) else label
                self.writer.writerow([first_row + i, shown, *(f"{v:.6g}" for v in values)])
            else:
                record = {"row": first_row + i, "label": label}
                if self.mode != "regression":
                    record["probabilities"] = {c: round(v, 6) for c, v in zip(self.classes, values)}
                self.file.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.file.flush()

    def close(self) -> None:
        self.file.close()


def predict_stream(predictor, source, output, chunk_size: int = 1024, text_column: str = "text",
                   progress: bool = True, min_confidence: float | None = None) -> dict:
    """Does `Predictor.predict_file`'s work; see there."""
    chunk_size = positive_int(chunk_size, "chunk_size")
    if not isinstance(output, (str, os.PathLike)):
        raise TypeError(f"output must be a file path, got {output!r}")
    out = Path(output).expanduser()
    if out.is_dir():
        raise IsADirectoryError(f"output {str(out)!r} is a folder; give a file name (.jsonl or .csv)")
    if isinstance(source, (str, os.PathLike)) and Path(source).expanduser().resolve() == out.resolve():
        raise ValueError("output would overwrite the input file; choose another name")
    texts = iter_texts(source, text_column)
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = _Writer(out, predictor.get_classes(), predictor.mode)
    done, start = 0, time.perf_counter()
    try:
        for chunk in _chunks(texts, chunk_size):
            probs = predictor.predict_proba(chunk)
            labels = predictor.decode(probs, min_confidence=min_confidence)
            writer.write(done, labels, probs)
            done += len(chunk)
            if progress:
                rate = done / max(time.perf_counter() - start, 1e-9)
                print(f"\r{done} documents predicted ({rate:.0f}/s)", end="", file=sys.stderr, flush=True)
    finally:
        writer.close()
    seconds = time.perf_counter() - start
    if progress:
        print(file=sys.stderr)
    return {"documents": done, "seconds": round(seconds, 3), "docs_per_s": round(done / max(seconds, 1e-9), 1),
            "output": str(out)}
