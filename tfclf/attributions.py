"""Integrated Gradients (Sundararajan et al. 2017) for a transformer predictor: which words of a
text move the model's logit for a class, from the model's gradients instead of LIME's sampling.

- **What is attributed**: the logit of the explained class (of the label, for multi-label models),
  with respect to the input word embeddings. For a text read as windows (`max_windows`) the logit
  is the mean of the windows' logits, as `aggregate="mean_logits"` predicts, and each window's
  attributions count 1 / (number of windows).
- **Baseline**: the same tokens with every content token's embedding replaced by the padding
  token's; the special tokens ([CLS], [SEP], ...) and positions stay. Attributions then sum to the
  logit's difference between the text and that baseline (completeness), up to the integral's
  discretisation error, which every `Explanation` reports as ``completeness_error``.
- **Integral**: the trapezoid rule over `steps` equal intervals (default 32), the interpolated
  inputs run through the model in batches.
- **Precision**: gradients are computed in float32: a model that predicts in bfloat16 or float16 is
  copied to float32 once per predictor, so that the attributions do not carry bfloat16's 8-bit
  mantissa into the sums that completeness checks.
- **Words**: token attributions are summed into the words (runs of letters and digits) whose
  characters they cover, then over every occurrence of the same word, as LIME reports words.

The result is deterministic: the same text gives the same explanation every time.
"""

from __future__ import annotations

import bisect

import numpy as np

from tfclf import reading as R
from tfclf._util import positive_int

DEFAULT_STEPS = 32
BATCH = 16


def token_rows(tokenizer, text: str, reading: R.Reading) -> list[tuple[list[int], list]]:
    """The rows of token ids the model reads for `text` under `reading` (as `tfclf.encoding`
    reads it), each with every token's (start, end) characters in `text` (None for special tokens)."""
    from tfclf.encoding import clip, special_tokens

    prefix, suffix = special_tokens(tokenizer)
    size = int(reading.maxlen) - len(prefix) - len(suffix)
    if size < 1:
        raise ValueError(f"maxlen={reading.maxlen} leaves no room for text between the special tokens")
    if reading.plain:  # only the head is read: a prefix of the text keeps the offsets valid
        text = clip(text, int(reading.maxlen) * 64)
    enc = tokenizer(text, add_special_tokens=False, truncation=False, return_offsets_mapping=True,
                    return_attention_mask=False, return_token_type_ids=False)
    ids, offsets = enc["input_ids"], enc["offset_mapping"]
    positions = list(range(len(ids)))
    # the same rows `tfclf.encoding` reads, selected on token positions so that offsets follow
    parts = [positions[:size]] if reading.plain else reading.parts(positions, size)
    return [(prefix + [ids[i] for i in part] + suffix,
             [None] * len(prefix) + [tuple(offsets[i]) for i in part] + [None] * len(suffix)) for part in parts]


def _gradient_function(model):
    from tfclf._compat import tf

    @tf.function(reduce_retracing=True)
    def gradients(embeds, mask, target):
        with tf.GradientTape() as tape:
            tape.watch(embeds)
            out = model({"inputs_embeds": embeds, "attention_mask": mask}, training=False)
            logits = tf.cast(out.logits, tf.float32)
            chosen = logits[:, target]
            total = tf.reduce_sum(chosen)  # inside the tape: each row's gradient is its own
        return tape.gradient(total, embeds), chosen

    return gradients


def integrated_gradients(model, rows: list[tuple[list[int], list]], target: int, steps: int = DEFAULT_STEPS,
                         pad_id: int = 0, gradients=None) -> tuple[list[np.ndarray], float, float]:
    """Per-token attributions of `target`'s mean logit over `rows`, and that logit at the text and
    at the baseline (see the module docstring). `gradients` is a cached `_gradient_function`."""
    from tfclf._compat import tf

    gradients = gradients or _gradient_function(model)
    table = model.get_input_embeddings().weight
    alphas = np.linspace(0.0, 1.0, steps + 1, dtype=np.float32)
    weights = np.full(steps + 1, 1.0 / steps, dtype=np.float32)
    weights[[0, -1]] /= 2  # the trapezoid rule
    out, at_text, at_base = [], 0.0, 0.0
    for ids, offsets in rows:
        x = tf.gather(table, tf.constant(ids, tf.int32)).numpy().astype(np.float32)
        content = np.array([o is not None for o in offsets])[:, None]
        base = np.where(content, tf.gather(table, [pad_id]).numpy().astype(np.float32), x)
        total = np.zeros_like(x)
        for s in range(0, steps + 1, BATCH):
            a = alphas[s:s + BATCH][:, None, None]
            embeds = base[None] + a * (x - base)[None]
            mask = tf.ones((len(a), len(ids)), tf.int32)
            grad, chosen = gradients(tf.constant(embeds), mask, tf.constant(target, tf.int32))
            total += np.tensordot(weights[s:s + BATCH], grad.numpy(), axes=1)
            chosen = chosen.numpy()
            if s == 0:
                at_base += float(chosen[0]) / len(rows)
            if s + len(a) == steps + 1:
                at_text += float(chosen[-1]) / len(rows)
        out.append(((x - base) * total).sum(axis=1) / len(rows))
    return out, at_text, at_base


def word_weights(text: str, rows: list[tuple[list[int], list]], attributions: list[np.ndarray]) -> dict[str, float]:
    """Token attributions summed into the words of `text` they overlap, then per distinct word."""
    from tfclf.explain import _WORD

    spans = [(m.start(), m.end(), m.group(0)) for m in _WORD.finditer(text)]
    starts = [s for s, _, _ in spans]
    totals: dict[str, float] = {}
    for (_, offsets), attr in zip(rows, attributions):
        for off, value in zip(offsets, attr):
            if off is None or off[1] <= off[0]:
                continue
            i = bisect.bisect_right(starts, off[0]) - 1
            if i < 0 or spans[i][1] <= off[0]:
                continue  # punctuation between words
            word = spans[i][2]
            totals[word] = totals.get(word, 0.0) + float(value)
    return totals


def explain_gradients(predictor, doc: str, *, num_features: int = 10, class_name: str | None = None,
                      all_targets: bool = False, steps: int = DEFAULT_STEPS):
    """Integrated Gradients explanation(s) of `doc`; see `tfclf.Predictor.explain`."""
    from tfclf.explain import Explanation, check_request

    classes = check_request(predictor, doc, class_name)
    positive_int(num_features, "num_features")
    positive_int(steps, "steps")
    attribution_model = getattr(predictor, "_attribution_model", None)
    if attribution_model is None:
        raise ValueError(f"method='gradients' needs the TensorFlow transformer model of a saved predictor; "
                         f"this {type(predictor).__name__} has none: use method='lime'")
    probs = predictor.predict_proba(doc)
    predicted = predictor.decode(probs)[0]
    targets = (list(range(len(classes))) if all_targets else [classes.index(class_name)] if class_name is not None
               else [int(np.argmax(probs))])
    model, gradients = attribution_model()
    tokenizer = predictor.preproc.get_tokenizer()
    rows = token_rows(tokenizer, doc, predictor.preproc.reading)
    pad_id = tokenizer.pad_token_id or 0
    out = []
    for t in targets:
        attributions, at_text, at_base = integrated_gradients(model, rows, t, steps, pad_id, gradients)
        words = word_weights(doc, rows, attributions)
        total = float(sum(a.sum() for a in attributions))
        change = at_text - at_base
        ranked = sorted(words.items(), key=lambda wv: -abs(wv[1]))[:num_features]
        out.append(Explanation(
            text=doc, class_name=classes[t], probability=float(probs[t]), predicted=predicted, weights=ranked,
            num_samples=steps, probabilities={c: float(p) for c, p in zip(classes, probs)}, method="gradients",
            completeness_error=abs(total - change) / max(abs(change), 1e-6)))
    return out if all_targets else out[0]
