"""ktrain's text loaders with ktrain's signatures: ``texts_from_folder``, ``texts_from_csv``,
``texts_from_df`` and ``texts_from_array`` (``from tfclf import text``).

Each returns ``(x_train, y_train), (x_test, y_test), preproc`` (also usable as ``trn, val,
preproc``), ready for ``text.text_classifier(name, trn, preproc=preproc)`` and
``tfclf.get_learner(model, train_data=trn, val_data=val)``; see `tfclf.ktrain_data` for what x and
y are. ``preprocess_mode="standard"`` builds word ids for the classic models, ``"bert"`` and
``"distilbert"`` a `tfclf.Transformer` for bert-base-uncased / distilbert-base-uncased, or for the
local folder named by ``model_name=`` or ``$TFCLF_BERT_MODEL`` / ``$TFCLF_DISTILBERT_MODEL``.

The raw loaders, which return texts and labels without preprocessing, are `tfclf.datasets`'.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tfclf.ktrain_data import check_mode, prepare

MAX_FEATURES = 20000
MAXLEN = 400


def texts_from_folder(datadir: str | os.PathLike, classes: Sequence[str] | None = None,
                      max_features: int = MAX_FEATURES, maxlen: int = MAXLEN, ngram_range: int = 1,
                      train_test_names: Sequence[str] = ("train", "test"), preprocess_mode: str = "standard",
                      encoding: str | None = None, lang: str | None = None, val_pct: float = 0.1,
                      random_state: int | None = None, verbose: int = 1, model_name: str | None = None):
    """Texts in ``datadir/<train>/<class>/<file>`` and ``datadir/<test>/<class>/<file>``.

    Args:
        datadir: the folder holding the train (and test) folders.
        classes: the class folders to read, in output order (default: every one, sorted).
        max_features, ngram_range: the standard mode's vocabulary (`tfclf.standard`).
        maxlen: words (standard) or tokens (bert, distilbert) read per text.
        train_test_names: the train folder's name, and the test folder's; with one name,
            `val_pct` of the training texts are held out for validation instead.
        preprocess_mode: "standard", "bert" or "distilbert".
        encoding: the files' encoding; None detects it for each file.
        lang: accepted for ktrain compatibility.
        random_state: seed of the validation split.
        model_name: a local model folder (or hub name) for the transformer modes.
    """
    from tfclf.datasets.files import texts_from_folder as read_folder

    check_mode(preprocess_mode)
    names = [train_test_names] if isinstance(train_test_names, str) else list(train_test_names)
    if not 1 <= len(names) <= 2:
        raise ValueError("train_test_names must name the train folder and, optionally, the test folder")
    root = Path(datadir).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"the folder {str(root)!r} does not exist")
    for name in names:
        if not (root / name).is_dir():
            have = sorted(d.name for d in root.iterdir() if d.is_dir())
            raise FileNotFoundError(f"{str(root)!r} has no {name!r} folder (train_test_names={names}); it has {have}")
    train = read_folder(root / names[0], encoding=encoding, class_names=classes)
    test = read_folder(root / names[1], encoding=encoding, class_names=train.class_names) if len(names) == 2 else None
    return prepare(train.texts, train.labels, test.texts if test else None, test.labels if test else None,
                   preprocess_mode=preprocess_mode, maxlen=maxlen, max_features=max_features,
                   ngram_range=ngram_range, class_names=train.class_names, lang=lang, val_pct=val_pct,
                   random_state=random_state, regression=False, verbose=verbose, model_name=model_name)


def texts_from_csv(train_filepath: str | os.PathLike, text_column: str, label_columns: Sequence[str] | str = (),
                   val_filepath: str | os.PathLike | None = None, max_features: int = MAX_FEATURES,
                   maxlen: int = MAXLEN, val_pct: float = 0.1, ngram_range: int = 1,
                   preprocess_mode: str = "standard", encoding: str | None = None, lang: str | None = None,
                   sep: str = ",", is_regression: bool = False, random_state: int | None = None, verbose: int = 1,
                   model_name: str | None = None):
    """Texts and labels from a CSV (or, with ``sep="\\t"``, TSV) file with a header row.

    Labels as in `texts_from_df`: one column of class names or ids (numbers with
    ``is_regression=True``), or one 0/1 column per class (one-hot: single-label; several 1s in
    a row: multi-label). Without `val_filepath`, `val_pct` of the rows are held out.
    """
    import csv
    import io

    from tfclf.datasets.files import _big_fields, detect_encoding

    check_mode(preprocess_mode)

    def read(path) -> dict[str, list[str]]:
        file = Path(path).expanduser()
        if not file.is_file():
            raise FileNotFoundError(f"the CSV file {str(file)!r} does not exist")
        raw = file.read_bytes()
        text = raw.decode(encoding or detect_encoding(raw))
        with _big_fields():
            # StringIO(newline="") splits only at line ends, as csv expects (str.splitlines would
            # also split at form feeds and other separators inside quoted texts)
            rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=sep))
        if not rows:
            raise ValueError(f"{str(file)!r} is empty: expected a header row naming the columns")
        header = rows[0]
        body = [r for r in rows[1:] if r]
        for i, r in enumerate(body):
            if len(r) != len(header):
                raise ValueError(f"data row {i + 1} of {str(file)!r} has {len(r)} fields, the header has {len(header)}")
        return {name: [r[j] for r in body] for j, name in enumerate(header)}

    val = read(val_filepath) if val_filepath is not None else None
    return _from_columns(read(train_filepath), val, text_column, label_columns, is_regression,
                         dict(preprocess_mode=preprocess_mode, maxlen=maxlen, max_features=max_features,
                              ngram_range=ngram_range, lang=lang, val_pct=val_pct, random_state=random_state,
                              verbose=verbose, model_name=model_name), source=str(train_filepath))


def texts_from_df(train_df, text_column: str, label_columns: Sequence[str] | str = (), val_df=None,
                  max_features: int = MAX_FEATURES, maxlen: int = MAXLEN, val_pct: float = 0.1,
                  ngram_range: int = 1, preprocess_mode: str = "standard", lang: str | None = None,
                  is_regression: bool = False, random_state: int | None = None, verbose: int = 1,
                  model_name: str | None = None):
    """Texts and labels from pandas DataFrames.

    `label_columns` is one column (or a list of one) holding class names or integer ids, or
    numbers to predict with ``is_regression=True``; or a list of 0/1 columns, one per class,
    named after them: one 1 per row is single-label data, any other count multi-label. A missing
    text becomes "". Without `val_df`, `val_pct` of the rows are held out for validation.
    """
    check_mode(preprocess_mode)

    def columns(df, what: str) -> dict[str, list]:
        if not hasattr(df, "columns") or not hasattr(df, "__getitem__"):
            raise TypeError(f"{what} must be a pandas DataFrame, got {type(df).__name__}")
        return {str(c): df[c].tolist() for c in df.columns}

    val = columns(val_df, "val_df") if val_df is not None else None
    return _from_columns(columns(train_df, "train_df"), val, text_column, label_columns, is_regression,
                         dict(preprocess_mode=preprocess_mode, maxlen=maxlen, max_features=max_features,
                              ngram_range=ngram_range, lang=lang, val_pct=val_pct, random_state=random_state,
                              verbose=verbose, model_name=model_name), source="train_df")


def texts_from_array(x_train, y_train, x_test=None, y_test=None, class_names: Sequence[str] | None = (),
                     max_features: int = MAX_FEATURES, maxlen: int = MAXLEN, val_pct: float = 0.1,
                     ngram_range: int = 1, preprocess_mode: str = "standard", lang: str | None = None,
                     random_state: int | None = None, verbose: int = 1, model_name: str | None = None):
    """Texts and labels from lists or arrays.

    `y_train` holds class names (strings), integer class ids (name them with `class_names`),
    one-hot or multi-hot rows, or numbers: as in ktrain, numeric labels without `class_names`
    are a regression task (a line says so when verbose). Without `x_test`, `val_pct` of the
    training texts are held out for validation.
    """
    check_mode(preprocess_mode)
    if (x_test is None) != (y_test is None):
        raise ValueError("pass both x_test and y_test, or neither (then val_pct of the training texts are held out)")
    names = list(class_names) if class_names is not None else []
    y = np.asarray(y_train)
    regression = not names and y.ndim == 1 and y.dtype.kind in "fiub"
    if regression and verbose:
        print("task: text regression (numeric labels and no class_names; pass class_names for classification)")
    return prepare(x_train, y_train, x_test, y_test, preprocess_mode=preprocess_mode, maxlen=maxlen,
                   max_features=max_features, ngram_range=ngram_range, class_names=names or None, lang=lang,
                   val_pct=val_pct, random_state=random_state, regression=regression, verbose=verbose,
                   model_name=model_name)


def _from_columns(train: dict[str, list], val: dict[str, list] | None, text_column: str, label_columns: Any,
                  is_regression: bool, options: dict, source: str):
    """The shared part of `texts_from_csv` and `texts_from_df`: columns by name to `prepare`."""
    label_columns = [label_columns] if isinstance(label_columns, str) else list(label_columns or [])
    if not label_columns:
        raise ValueError("label_columns is empty: name the label column, or one 0/1 column per class")
    if is_regression and len(label_columns) != 1:
        raise ValueError(f"is_regression=True needs one label column, got {label_columns}")
    for part, table in (("training data", train), ("validation data", val)):
        if table is None:
            continue
        for name in [text_column, *label_columns]:
            if name not in table:
                raise ValueError(f"column {name!r} not found in the {part} ({source}); columns: {list(table)}")

    def texts(table) -> list[str]:
        return ["" if _is_missing(v) else str(v) for v in table[text_column]]

    def labels(table):
        if len(label_columns) > 1:
            try:
                rows = np.asarray([[float(table[c][i]) for c in label_columns] for i in range(len(table[text_column]))])
            except (TypeError, ValueError) as err:
                raise ValueError(f"label columns {label_columns} must hold 0 or 1 ({err})") from None
            return rows
        values = table[label_columns[0]]
        if is_regression:
            try:
                return np.asarray([float(v) for v in values], dtype=np.float32)
            except (TypeError, ValueError) as err:
                raise ValueError(f"is_regression=True needs numbers in column {label_columns[0]!r} ({err})") from None
        missing = [i for i, v in enumerate(values) if _is_missing(v) or not str(v).strip()]
        if missing:
            raise ValueError(f"row {missing[0]} has no label in column {label_columns[0]!r} "
                             f"({len(missing)} rows without one): drop or label them")
        return [_label_text(v) for v in values]

    y_train = labels(train)
    class_names = None
    if len(label_columns) > 1:
        class_names = label_columns
    elif not is_regression:
        distinct = set(y_train)
        class_names = sorted(distinct, key=_numeric_key)
    return prepare(texts(train), y_train, texts(val) if val else None, labels(val) if val else None,
                   class_names=class_names, regression=bool(is_regression), **options)


def _is_missing(value: Any) -> bool:
    """None or NaN: what pandas holds in an empty cell."""
    return value is None or (isinstance(value, (float, np.floating)) and np.isnan(value))


def _label_text(value: Any) -> str:
    """A class label read from a column: ids 3 and 3.0 are both "3"."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


def _numeric_key(name: str):
    """Sorts "2" before "10" when every label is a number, else alphabetically."""
    try:
        return (0, float(name), "")
    except ValueError:
        return (1, 0.0, name)
