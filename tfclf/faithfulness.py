"""How true an explanation method is to the model, measured by deleting words (ERASER's AOPC form,
DeYoung et al. 2020), and what a model has learned across a corpus.

For a document predicted as class c with probability p, an explanation ranks the document's
distinct words (most in favour of c first). For each fraction f of `fractions`, the top
``ceil(f * n)`` of its n distinct words are taken and

- **comprehensiveness** = p - p(c | the document with every occurrence of those words removed): how
  much the model loses without them (higher is more faithful);
- **sufficiency** = p - p(c | only those words, in their order): how much the model loses with
  them alone (lower is more faithful).

Each is averaged over the fractions (AOPC) and over the documents. The method "random" ranks the
words at random (seeded): the baseline any method must beat.

`class_words` is the corpus view: each document's explanation of its predicted class, the words'
weights summed per class over the documents, for "what has this model learned?".
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np

from tfclf.explain import _WORD

DEFAULT_FRACTIONS = (0.01, 0.05, 0.1, 0.2, 0.5)
METHODS = ("lime", "gradients", "random")


def distinct_words(text: str) -> list[str]:
    """The words of `text` as explanations name them, each once, in order of appearance."""
    return list(dict.fromkeys(m.group(0) for m in _WORD.finditer(text)))


def without_words(text: str, words) -> str:
    """`text` with every occurrence of `words` cut out (the rest of the text as it was)."""
    drop = set(words)
    parts, last = [], 0
    for m in _WORD.finditer(text):
        if m.group(0) in drop:
            parts.append(text[last:m.start()])
            last = m.end()
    parts.append(text[last:])
    return "".join(parts)


def only_words(text: str, words) -> str:
    """The occurrences of `words` in `text`, in order, joined by spaces."""
    keep = set(words)
    return " ".join(m.group(0) for m in _WORD.finditer(text) if m.group(0) in keep)


def ranking(predictor, doc: str, method: str, target: int, rng: np.random.Generator, **options) -> list[str]:
    """`doc`'s distinct words, most in favour of class `target` first, by `method`."""
    words = distinct_words(doc)
    if method == "random":
        return [words[i] for i in rng.permutation(len(words))]
    classes = predictor.get_classes()
    exp = predictor.explain(doc, num_features=max(1, len(words)), class_name=classes[target], method=method, **options)
    ranked = [w for w, _ in sorted(exp.as_list(), key=lambda wv: -wv[1])]
    return ranked + [w for w in words if w not in set(ranked)]


def faithfulness(predictor, docs: Sequence[str], method: str = "gradients", fractions=DEFAULT_FRACTIONS,
                 seed: int = 0, **options) -> dict:
    """Comprehensiveness and sufficiency AOPC of `method` on `docs` (see the module docstring).

    Args:
        predictor: any classifier predictor ("gradients" needs a saved transformer predictor).
        docs: the documents (each with at least one word).
        method: "lime", "gradients" or "random".
        fractions: the fractions of each document's distinct words removed or kept.
        seed: the random ranking's seed (and LIME's).
        options: passed to `explain` (e.g. ``num_samples`` for LIME, ``steps`` for gradients).

    Returns:
        ``{"method", "documents", "fractions", "comprehensiveness", "sufficiency",
        "per_fraction": {f: {"comprehensiveness", "sufficiency"}}, "seconds_per_explanation"}``.

    Example:
        >>> tfclf.faithfulness.faithfulness(predictor, test_texts[:100], method="gradients")  # doctest: +SKIP
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; use one of {METHODS}")
    fractions = [float(f) for f in fractions]
    if not fractions or not all(0 < f <= 1 for f in fractions):
        raise ValueError(f"fractions must be in (0, 1], got {fractions}")
    docs = [docs] if isinstance(docs, str) else list(docs)
    if not docs or not all(isinstance(d, str) and distinct_words(d) for d in docs):
        raise ValueError("faithfulness needs documents with at least one word each")
    if method == "lime":
        options.setdefault("seed", seed)
    rng = np.random.default_rng(seed)
    comp = np.zeros((len(docs), len(fractions)))
    suff = np.zeros((len(docs), len(fractions)))
    seconds = []
    for i, doc in enumerate(docs):
        probs = predictor.predict_proba(doc)
        target = int(np.argmax(probs))
        t0 = time.perf_counter()
        ranked = ranking(predictor, doc, method, target, rng, **options)
        seconds.append(time.perf_counter() - t0)
        tops = [ranked[:max(1, math.ceil(f * len(ranked)))] for f in fractions]
        variants = [without_words(doc, top) for top in tops] + [only_words(doc, top) for top in tops]
        p = predictor.predict_proba(variants)[:, target]
        comp[i] = probs[target] - p[:len(fractions)]
        suff[i] = probs[target] - p[len(fractions):]
    return {"method": method, "documents": len(docs), "fractions": fractions,
            "comprehensiveness": float(comp.mean()), "sufficiency": float(suff.mean()),
            "per_fraction": {str(f): {"comprehensiveness": float(comp[:, j].mean()),
                                      "sufficiency": float(suff[:, j].mean())} for j, f in enumerate(fractions)},
            "seconds_per_explanation": float(np.mean(seconds)) if method != "random" else 0.0}


def class_words(predictor, docs: Sequence[str], method: str = "gradients", top: int = 15, **options) -> dict:
    """The corpus view: for each class, the words whose weights, summed over the documents predicted
    as that class (each explained for its predicted class), push it most.

    Returns:
        ``{class: [(word, summed weight, documents it was weighed in), ...]}``, strongest first,
        `top` words per class (classes no document was predicted as are left out).
    """
    if method not in ("lime", "gradients"):
        raise ValueError(f"unknown method {method!r}; use 'lime' or 'gradients'")
    docs = [docs] if isinstance(docs, str) else list(docs)
    classes = predictor.get_classes()
    totals: dict[str, dict[str, list]] = {}
    probs = predictor.predict_proba(docs)
    for doc, row in zip(docs, np.atleast_2d(probs)):
        if not distinct_words(doc):
            continue
        target = classes[int(np.argmax(row))]
        exp = predictor.explain(doc, num_features=len(distinct_words(doc)), class_name=target, method=method,
                                **options)
        per_class = totals.setdefault(target, {})
        for word, weight in exp.as_list():
            entry = per_class.setdefault(word.lower(), [0.0, 0])
            entry[0] += float(weight)
            entry[1] += 1
    return {c: sorted(((w, s, n) for w, (s, n) in totals[c].items()), key=lambda r: -r[1])[:top]
            for c in classes if c in totals}
