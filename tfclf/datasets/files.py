"""Your own labelled texts: a folder per class, or a CSV file (single- or multi-label)."""

from __future__ import annotations

import csv
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from tfclf.datasets._types import TextData

__all__ = ["texts_from_folder", "texts_from_csv"]

_ONES = {"1", "1.0", "true", "yes"}
_ZEROS = {"0", "0.0", "false", "no"}


def texts_from_folder(
    path: str | os.PathLike[str],
    subset: str | None = None,
    encoding: str | None = "utf-8",
    class_names: Sequence[str] | None = None,
    *,
    errors: str = "strict",
    shuffle: bool = False,
    random_state: int | None = None,
) -> TextData:
    """Reads a folder holding one sub-folder of text files per class.

    ``path/<class>/<file>`` by default; with ``subset`` (ktrain's layout)
    ``path/<subset>/<class>/<file>``, for example ``subset='train'`` and ``subset='test'``.
    Every regular file directly inside a class folder is one document (hidden files such as
    ``.DS_Store`` are skipped); files are read in sorted order.

    Args:
        path: the folder.
        subset: a split sub-folder such as ``'train'`` or ``'test'``, or None.
        encoding: how the files are encoded; None detects it per file (`detect_decode`).
        class_names: the classes to read, in target-id order; None reads every class folder,
            sorted. Pass the training set's ``class_names`` when reading its test set so the
            ids agree.
        errors: what to do with bytes that do not decode (``'strict'``, ``'replace'``,
            ``'ignore'``), as for ``bytes.decode``.
        shuffle: shuffle the documents instead of keeping folder order.
        random_state: seed for the shuffle.

    Returns:
        A :class:`TextData`; unpacks as ``texts, labels, class_names``.

    Raises:
        FileNotFoundError: when the folder (or its ``subset`` folder) does not exist.
        ValueError: when there are no class folders, a class folder is missing or empty, or a
            file does not decode.

    Example:
        >>> import tempfile, pathlib
        >>> root = pathlib.Path(tempfile.mkdtemp())
        >>> for name, text in [("neg", "awful"), ("pos", "great")]:
        ...     (root / name).mkdir()
        ...     _ = (root / name / "0.txt").write_text(text)
        >>> texts, labels, class_names = texts_from_folder(root)
        >>> texts, labels, class_names
        (['awful', 'great'], ['neg', 'pos'], ['neg', 'pos'])
    """
    root = Path(path).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"the folder {str(root)!r} does not exist")
    if subset is not None:
        available = _subfolders(root)
        if subset not in available:
            raise FileNotFoundError(
                f"{str(root)!r} has no {subset!r} sub-folder (subset={subset!r}); "
                f"it has {available}"
            )
        root = root / subset

    found = _subfolders(root)
    if class_names is None:
        if not found:
            raise ValueError(
                f"{str(root)!r} has no class sub-folders: expected {root}/<class>/<file>"
            )
        if subset is None and set(found) == {"train", "test"} and _looks_split(root):
            raise ValueError(
                f"{str(root)!r} holds train/ and test/ splits, not classes: "
                "pass subset='train' or subset='test'"
            )
        class_names = found
    else:
        if isinstance(class_names, str):
            raise ValueError(f"class_names must be a list of names, got the string {class_names!r}")
        class_names = list(class_names)
        if len(set(class_names)) != len(class_names):
            raise ValueError(f"class_names lists a class twice: {class_names}")
        missing = [c for c in class_names if c not in found]
        if missing:
            raise ValueError(f"no folder for class(es) {missing} in {str(root)!r}; it has {found}")

    texts, labels, target, filenames = [], [], [], []
    for class_id, name in enumerate(class_names):
        files = sorted(
            f for f in (root / name).iterdir() if f.is_file() and not f.name.startswith(".")
        )
        if not files:
            raise ValueError(f"the class folder {str(root / name)!r} holds no files")
        for file in files:
            texts.append(_decode(file, encoding, errors))
            filenames.append(str(file))
        labels += [name] * len(files)
        target += [class_id] * len(files)

    target_arr = np.array(target, dtype=np.int64)
    if shuffle:
        order = np.random.RandomState(random_state).permutation(len(texts))
        texts, labels, filenames = ([seq[i] for i in order] for seq in (texts, labels, filenames))
        target_arr = target_arr[order]
    return TextData(
        texts, labels, target_arr, list(class_names), filenames, source=f"folder {root}"
    )


def texts_from_csv(
    path: str | os.PathLike[str],
    text_column: str = "text",
    label_columns: str | Sequence[str] = "label",
    sep: str = ",",
    encoding: str = "utf-8",
) -> TextData:
    """Reads texts and labels from a CSV file with a header row.

    Single-label: ``label_columns`` names one column holding each row's class name;
    ``class_names`` are the distinct names, sorted (numerically when all are integers).
    Whitespace around label values is ignored.

    Multi-label: ``label_columns`` is a list of columns, one per class, each holding 0 or 1
    (``true``/``false`` also work). Then ``class_names`` is that list, in its order,
    ``labels[i]`` is the list of class names set on row ``i`` (possibly empty) and ``target``
    is an ``(n, k)`` float32 array of 0/1.

    Args:
        path: the CSV file.
        text_column: the column holding the texts.
        label_columns: the label column, or the list of 0/1 columns for multi-label data.
        sep: the field delimiter (``'\\t'`` for TSV).
        encoding: the file's encoding (a UTF-8 byte-order mark is ignored).

    Returns:
        A :class:`TextData` (``filenames`` is empty); unpacks as ``texts, labels, class_names``.

    Raises:
        FileNotFoundError: when the file does not exist.
        ValueError: for a missing column (the message lists the columns there are), an empty
            text or label, or a multi-label value that is not 0/1; row numbers are given.

    Example:
        >>> import tempfile, pathlib
        >>> csv_path = pathlib.Path(tempfile.mkdtemp()) / "reviews.csv"
        >>> _ = csv_path.write_text("text,label\\ngreat film,pos\\nawful plot,neg\\n")
        >>> data = texts_from_csv(csv_path)
        >>> data.labels, data.class_names, data.target.tolist()
        (['pos', 'neg'], ['neg', 'pos'], [1, 0])
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise FileNotFoundError(f"the CSV file {str(file)!r} does not exist")
    multilabel = not isinstance(label_columns, str)
    columns = list(label_columns) if multilabel else [label_columns]
    if not columns:
        raise ValueError(
            "label_columns is empty: name the label column, or one 0/1 column per class"
        )
    if len(set(columns)) != len(columns):
        raise ValueError(f"label_columns lists a column twice: {columns}")
    if text_column in columns:
        raise ValueError(f"{text_column!r} is both the text column and a label column")

    texts: list[str] = []
    raw_labels: list[list[str]] = []
    with _big_fields(), open(file, encoding=encoding, newline="") as f:
        reader = csv.reader(f, delimiter=sep)
        header = next(reader, None)
        if header is None:
            raise ValueError(f"{str(file)!r} is empty: expected a header row naming the columns")
        if header:
            header[0] = header[0].lstrip("\ufeff")  # Excel writes a BOM before the first name
        for name in [text_column, *columns]:
            if name not in header:
                raise ValueError(
                    f"column {name!r} not found in {str(file)!r}; available columns: {header}"
                )
        text_at, label_at = header.index(text_column), [header.index(c) for c in columns]
        for row_number, row in enumerate(reader, start=1):
            where = f"data row {row_number} (line {reader.line_num}) of {str(file)!r}"
            if not row:
                continue
            if len(row) < len(header):
                raise ValueError(f"{where} has {len(row)} fields, the header has {len(header)}")
            if not row[text_at].strip():
                raise ValueError(f"empty text in column {text_column!r} at {where}")
            values = [row[i].strip() for i in label_at]
            if not multilabel and not values[0]:
                raise ValueError(f"empty label in column {columns[0]!r} at {where}")
            texts.append(row[text_at])
            raw_labels.append(values)

    if not texts:
        raise ValueError(f"{str(file)!r} has a header but no rows")
    source = f"CSV file {file}"
    if multilabel:
        return _multilabel(texts, raw_labels, columns, file, source)
    return _single_label(texts, [r[0] for r in raw_labels], source)


def _single_label(texts: list[str], labels: list[str], source: str) -> TextData:
    distinct = set(labels)
    if all(_is_int(label) for label in distinct):
        class_names = sorted(distinct, key=int)  # so '10' comes after '9'
    else:
        class_names = sorted(distinct)
    ids = {name: i for i, name in enumerate(class_names)}
    return TextData(
        texts, labels, np.array([ids[x] for x in labels], dtype=np.int64), class_names, [], source
    )


def _multilabel(
    texts: list[str], rows: list[list[str]], columns: list[str], file: Path, source: str
) -> TextData:
    target = np.zeros((len(rows), len(columns)), dtype=np.float32)
    for r, values in enumerate(rows):
        for c, value in enumerate(values):
            lowered = value.lower()
            if lowered in _ONES:
                target[r, c] = 1.0
            elif lowered not in _ZEROS:
                raise ValueError(
                    f"column {columns[c]!r} must hold 0 or 1, got {value!r} "
                    f"at data row {r + 1} of {str(file)!r}"
                )
    labels = [[columns[c] for c in np.flatnonzero(row)] for row in target]
    return TextData(texts, labels, target, list(columns), [], source)


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def _subfolders(root: Path) -> list[str]:
    return sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))


def _looks_split(root: Path) -> bool:
    return all(_subfolders(root / split) for split in ("train", "test"))


def detect_encoding(data: bytes) -> str:
    """"utf-8-sig" when `data` is UTF-8 (with or without a byte-order mark), else the encoding
    charset-normalizer guesses (when installed), else "latin-1", which decodes any bytes."""
    try:
        data.decode("utf-8-sig")
        return "utf-8-sig"
    except UnicodeDecodeError:
        pass
    try:
        from charset_normalizer import from_bytes
    except ImportError:
        return "latin-1"
    best = from_bytes(data).best()
    return best.encoding if best is not None else "latin-1"


def detect_decode(data: bytes) -> str:
    """`data` decoded in the encoding `detect_encoding` finds for it."""
    return data.decode(detect_encoding(data), "replace")


def _decode(file: Path, encoding: str | None, errors: str) -> str:
    if encoding is None:
        return detect_decode(file.read_bytes())
    try:
        return file.read_bytes().decode(encoding, errors)
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{str(file)!r} is not valid {encoding} ({exc.reason} at byte {exc.start}); "
            "pass encoding='latin-1' or errors='replace'"
        ) from exc


@contextmanager
def _big_fields() -> Iterator[None]:
    # csv refuses fields over 128 KiB by default; long documents are normal here. The limit
    # is process-wide, so restore it afterwards.
    previous = csv.field_size_limit()
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    try:
        yield
    finally:
        csv.field_size_limit(previous)
