"""LIME explanations (through the `lime` package) and the `Explanation` object that shows them."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

import numpy as np

from tfclf._util import positive_int
from tfclf.labels import REGRESSION

DEFAULT_NUM_SAMPLES = 1000
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass
class Explanation:
    """Word weights for one class of one prediction.

    Attributes:
        text: the explained text (after `truncate_len`).
        class_name: the class explained.
        probability: the model's probability for that class.
        predicted: the predicted label.
        weights: ``[(word, weight), ...]``, strongest first; positive pushes towards the class.
        score: LIME's local fit R^2 (how well the linear surrogate matches the model).
        num_samples: perturbed texts LIME used, or Integrated Gradients' integration steps.
        probabilities: the model's probability for every class, in output order.
        method: "lime" or "gradients" (`tfclf.attributions`).
        completeness_error: for "gradients", how far the attributions' sum is from the logit's
            change between the baseline and the text, relative to that change (0 is exact).
    """

    text: str
    class_name: str
    probability: float
    predicted: object
    weights: list = field(default_factory=list)
    score: float = float("nan")
    num_samples: int = 0
    probabilities: dict = field(default_factory=dict)
    method: str = "lime"
    completeness_error: float | None = None

    def as_list(self) -> list[tuple[str, float]]:
        """The word weights, strongest first (LIME's ``as_list``)."""
        return list(self.weights)

    def as_dict(self) -> dict:
        return {"class_name": self.class_name, "probability": self.probability, "predicted": self.predicted,
                "weights": [[w, float(v)] for w, v in self.weights], "score": self.score,
                "num_samples": self.num_samples, "probabilities": dict(self.probabilities), "method": self.method,
                "completeness_error": self.completeness_error}

    def _how(self) -> str:
        """How the weights were found, in one line."""
        if self.method == "gradients":
            return (f"Integrated Gradients, {self.num_samples} steps, completeness error "
                    f"{100 * (self.completeness_error or 0.0):.1f}%")
        return f"LIME, {self.num_samples} samples, local fit R^2 {self.score:.2f}"

    def __str__(self) -> str:
        lines = [
            f"Explanation of class {self.class_name!r} (probability {self.probability:.3f}); "
            f"predicted: {self.predicted!r}",
            f"{self._how()}; + pushes towards the class",
        ]
        if self.probabilities:
            lines.insert(1, "probabilities: " + ", ".join(f"{c} {p:.3f}" for c, p in self.probabilities.items()))
        top = max((abs(v) for _, v in self.weights), default=1.0) or 1.0
        for word, weight in self.weights:
            bar = ("+" if weight > 0 else "-") * max(1, int(round(12 * abs(weight) / top)))
            lines.append(f"  {weight:+.4f}  {word:<20} {bar}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"Explanation(class_name={self.class_name!r}, probability={self.probability:.3f}, top={self.weights[:3]})"

    def to_html(self) -> str:
        """The text with each weighed word highlighted: green towards the class, red against."""
        weights = {w: v for w, v in self.weights}
        top = max((abs(v) for v in weights.values()), default=1.0) or 1.0
        parts, last = [], 0
        for m in _WORD.finditer(self.text):
            parts.append(html.escape(self.text[last:m.start()]))
            word = m.group(0)
            if word in weights:
                v = weights[word]
                alpha = 0.15 + 0.75 * abs(v) / top
                color = f"rgba(34,139,34,{alpha:.2f})" if v > 0 else f"rgba(220,50,47,{alpha:.2f})"
                parts.append(f'<span style="background:{color};border-radius:3px;padding:0 2px" '
                             f'title="{v:+.4f}">{html.escape(word)}</span>')
            else:
                parts.append(html.escape(word))
            last = m.end()
        parts.append(html.escape(self.text[last:]))
        rows = "".join(
            f"<tr><td style='text-align:right;font-family:monospace'>{v:+.4f}</td>"
            f"<td>{html.escape(w)}</td></tr>" for w, v in self.weights
        )
        probs = "".join(
            f"<tr><td>{'<b>' if c == self.predicted else ''}{html.escape(str(c))}{'</b>' if c == self.predicted else ''}"
            f"</td><td style='font-family:monospace;text-align:right;padding:0 6px'>{p:.3f}</td>"
            f"<td><div style='background:#4682b4;height:0.8em;width:{max(1, round(160 * p))}px'></div></td></tr>"
            for c, p in self.probabilities.items()
        )
        probs_table = f"<table style='border-collapse:collapse;margin:4px 0'>{probs}</table>" if probs else ""
        return (
            "<div class='tfclf-explanation' style='font-family:sans-serif;max-width:60em'>"
            f"<p><b>class {html.escape(str(self.class_name))}</b> (probability {self.probability:.3f}); "
            f"predicted: <b>{html.escape(str(self.predicted))}</b>. "
            f"<small>{html.escape(self._how()).replace('R^2', 'R&sup2;')}</small></p>"
            f"{probs_table}"
            "<p><small>highlighted: <span style='background:rgba(34,139,34,0.6);padding:0 2px'>towards the "
            "class</span> <span style='background:rgba(220,50,47,0.6);padding:0 2px'>against it</span></small></p>"
            f"<p style='line-height:1.7;white-space:pre-wrap'>{''.join(parts)}</p>"
            f"<table style='border-collapse:collapse'><tr><th>weight</th><th>word</th></tr>{rows}</table></div>"
        )

    def _repr_html_(self) -> str:
        return self.to_html()

    def save_html(self, path) -> None:
        """Writes a standalone HTML page."""
        from pathlib import Path

        Path(path).write_text(f"<!doctype html><meta charset='utf-8'><title>tfclf explanation</title>{self.to_html()}",
                              encoding="utf-8")


def check_request(predictor, doc, class_name) -> list[str]:
    """What every explanation method checks first; returns the predictor's classes."""
    if not isinstance(doc, str):
        raise TypeError(f"explain takes one text (a str), got {type(doc).__name__}")
    if not doc.strip():
        raise ValueError("explain needs a text with at least one word")
    if predictor.mode == REGRESSION:
        raise ValueError("explain supports classifiers; this predictor does regression")
    classes = predictor.get_classes()
    if class_name is not None and class_name not in classes:
        raise ValueError(f"class_name {class_name!r} is not one of {classes}")
    return classes


def explain_text(predictor, doc: str, *, num_features: int = 10, num_samples: int | None = None,
                 class_name: str | None = None, truncate_len: int = 512, all_targets: bool = False,
                 seed: int = 0):
    """LIME over `predictor.predict_proba`; see `Predictor.explain`."""
    from lime.lime_text import LimeTextExplainer

    classes = check_request(predictor, doc, class_name)
    num_samples = DEFAULT_NUM_SAMPLES if num_samples is None else num_samples
    for name, value in (("num_samples", num_samples), ("num_features", num_features), ("truncate_len", truncate_len)):
        positive_int(value, name)
    words = doc.split()
    text = " ".join(words[:truncate_len]) if len(words) > truncate_len else doc
    probs = predictor.predict_proba(text)
    predicted = predictor.decode(probs)[0]
    if all_targets:
        targets = list(range(len(classes)))
    elif class_name is not None:
        targets = [classes.index(class_name)]
    else:
        targets = [int(np.argmax(probs))]

    def classifier_fn(texts):
        # LIME drops random subsets of words; on short texts many draws coincide, and each
        # distinct text needs predicting only once. The batch goes through the predictor's
        # length-sorted path, so the shorter perturbations also run in shorter batches.
        unique, inverse = np.unique(np.asarray(list(texts), dtype=object), return_inverse=True)
        return predictor.predict_proba(unique.tolist())[inverse.reshape(-1)]

    explainer = LimeTextExplainer(class_names=classes, random_state=seed, bow=True)
    lime_exp = explainer.explain_instance(text, classifier_fn, labels=targets, num_features=num_features,
                                          num_samples=num_samples)
    out = [
        Explanation(text=text, class_name=classes[t], probability=float(probs[t]), predicted=predicted,
                    weights=[(str(w), float(v)) for w, v in lime_exp.as_list(label=t)],
                    score=float(lime_exp.score[t] if isinstance(lime_exp.score, dict) else lime_exp.score),
                    num_samples=num_samples,
                    probabilities={c: float(p) for c, p in zip(classes, probs)})
        for t in targets
    ]
    return out if all_targets else out[0]


def explanation_stability(predictor, docs, num_samples=(250, 500, 1000, 2000), seeds=(0, 1, 2),
                          top_k: int = 10) -> list[dict]:
    """How much LIME's top words move between random seeds, for each sample count.

    Each document is explained (its predicted class) once per seed and sample count; the
    top-`top_k` words (by absolute weight) of every pair of seeds are compared.

    Args:
        predictor: a `Predictor`.
        docs: the texts to explain.
        num_samples: the sample counts to compare.
        seeds: LIME seeds; at least two.
        top_k: how many top words are compared.

    Returns:
        One dict per sample count: ``num_samples``; ``mean_overlap`` (the fraction of top words two
        seeds share, averaged over documents and seed pairs); ``min_overlap``; ``changed_words``
        (top words that differ between two seeds, on average); ``identical_fraction`` (seed pairs
        whose top-word sets are equal); ``seconds`` (mean wall time of one explanation).

    Example:
        >>> rows = explanation_stability(predictor, docs[:5], num_samples=(500, 1000))  # doctest: +SKIP
        >>> [(r["num_samples"], r["mean_overlap"]) for r in rows]  # doctest: +SKIP
    """
    import itertools
    import time

    seeds = list(seeds)
    if len(seeds) < 2:
        raise ValueError("stability needs at least two seeds to compare")
    docs = [docs] if isinstance(docs, str) else list(docs)
    rows = []
    for n in num_samples:
        overlaps, changed, times = [], [], []
        for doc in docs:
            tops = []
            for seed in seeds:
                t0 = time.perf_counter()
                exp = explain_text(predictor, doc, num_features=top_k, num_samples=n, seed=seed)
                times.append(time.perf_counter() - t0)
                ranked = sorted(exp.weights, key=lambda wv: -abs(wv[1]))[:top_k]
                tops.append({w for w, _ in ranked})
            for a, b in itertools.combinations(tops, 2):
                size = max(len(a), len(b), 1)
                overlaps.append(len(a & b) / size)
                changed.append(size - len(a & b))
        rows.append({
            "num_samples": int(n),
            "mean_overlap": round(float(np.mean(overlaps)), 4),
            "min_overlap": round(float(np.min(overlaps)), 4),
            "changed_words": round(float(np.mean(changed)), 3),
            "identical_fraction": round(float(np.mean([c == 0 for c in changed])), 4),
            "seconds": round(float(np.mean(times)), 3),
        })
    return rows
