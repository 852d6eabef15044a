"""Checking what users pass as texts: one place for the errors every entry point gives."""

from __future__ import annotations

from typing import Any


def check_texts(texts: Any, name: str = "texts") -> list[str]:
    """A list of str from a list / tuple / array / Series of str, or a clear error."""
    if isinstance(texts, (str, bytes)):
        raise TypeError(f"{name} must be a list of strings, not a single {type(texts).__name__}")
    if texts is None:
        raise TypeError(f"{name} must be a list of strings, got None")
    if hasattr(texts, "tolist"):
        texts = texts.tolist()
    try:
        texts = list(texts)
    except TypeError as err:
        raise TypeError(f"{name} must be a list of strings, got {type(texts).__name__}") from err
    if not texts:
        raise ValueError(f"{name} is empty: pass at least one text")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            hint = " (decode bytes first, e.g. b.decode('utf-8'))" if isinstance(t, bytes) else ""
            raise TypeError(f"{name}[{i}] is {type(t).__name__}, expected str{hint}")
    return texts
