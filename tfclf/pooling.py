"""How a classifier turns a text's last hidden states into the one vector its head reads.

``"cls"`` is what transformers' sequence-classification models do: the first token's state
(through BERT's pretrained pooler, DistilBERT's pre-classifier, RoBERTa's head). ``"mean"``
averages the states of the text's real tokens (padding masked out), which is how
sentence-transformers checkpoints such as all-MiniLM-L6-v2 were trained to summarize a text.
``"auto"`` (the default) reads the checkpoint's own sentence-transformers pooling settings
(``modules.json`` and its Pooling module's ``config.json``, both on the hub beside the weights):
"mean" when the checkpoint was trained with mean pooling and the architecture supports it, "cls"
when it was trained on the first token. Without those files, BERT and ALBERT checkpoints are
"cls" when their weights hold a trained pooler (BERT and ALBERT as published, whose pooler learned
next-sentence or sentence-order prediction) and "mean" when the pooler is missing or was never
trained (its bias all zeros, as in all-MiniLM-L6-v2's Hugging Face files): there the [CLS] head
would read the first token through a random layer, which cost 2.4 points after one epoch on the
tutorial (benchmarks/RESULTS.md). Other architectures (DistilBERT, RoBERTa, ...) keep their own
head, as ktrain does.

Mean pooling keeps transformers' own model class and weight names: `classifier_class` returns a
subclass whose ``call`` pools differently and feeds the same head layers. `save_pretrained`,
`from_pretrained` and tf.distribute's rebuild therefore work unchanged; the choice travels in the
model's config (``config.tfclf_pooling``), so a saved predictor reloads with it.
"""

from __future__ import annotations

import inspect
import json
import logging
from pathlib import Path
from typing import Any

from tfclf.models import SAFETENSORS, SAFETENSORS_INDEX, ST_MODULES, TF_WEIGHTS

POOLINGS = ("auto", "cls", "mean")
CONFIG_KEY = "tfclf_pooling"

log = logging.getLogger(__name__)

# model_type -> how the head reads a pooled (batch, hidden) vector. "dense" heads are
# dropout + classifier (BERT, ALBERT); "pre_classifier" adds DistilBERT's ReLU layer first;
# "token" heads index the first token themselves, so they get the mean as a one-token sequence.
_HEADS = {
    "bert": "dense",
    "albert": "dense",
    "distilbert": "pre_classifier",
    "roberta": "token",
    "xlm-roberta": "token",
    "camembert": "token",
    "electra": "token",
    "mpnet": "token",
}
_CLASSES: dict = {}


def check_pooling(pooling: Any) -> str:
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    return pooling


def pooling_of(config) -> str:
    """The pooling a model configuration asks for ("cls" unless tfclf set another)."""
    return getattr(config, CONFIG_KEY, "cls") or "cls"


def sentence_transformers_pooling(folder: str | Path | None) -> str | None:
    """The pooling a sentence-transformers checkpoint in `folder` was trained with.

    Args:
        folder: a model folder in Hugging Face layout (or None).

    Returns:
        "mean" or "cls" as its Pooling module's ``config.json`` says, or None when the folder has
        no such module, or one that pools another way (max, weighted mean, last token).

    Example:
        >>> sentence_transformers_pooling(None) is None
        True
    """
    if folder is None:
        return None
    folder = Path(folder)
    candidates = []
    try:
        modules = json.loads((folder / ST_MODULES).read_text(encoding="utf-8"))
        candidates = [folder / m["path"] / "config.json" for m in modules
                      if str(m.get("type", "")).endswith("Pooling") and m.get("path")]
    except FileNotFoundError:
        candidates = sorted(folder.glob("*Pooling/config.json"))
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as err:
        log.warning("ignoring %s (%s: %s); pooling='auto' falls back to 'cls'", folder / ST_MODULES,
                    type(err).__name__, err)
        return None
    for path in candidates:
        try:
            settings = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            log.warning("ignoring %s (%s); pooling='auto' falls back to 'cls'", path, type(err).__name__)
            return None
        if not isinstance(settings, dict):
            return None
        modes = [k for k, v in settings.items() if k.startswith("pooling_mode_") and v is True]
        if modes == ["pooling_mode_mean_tokens"]:
            return "mean"
        if modes == ["pooling_mode_cls_token"]:
            return "cls"
        return None
    return None


def _normalized(name: str) -> str:
    """A weight's name with TensorFlow's separators and suffix in PyTorch's form."""
    name = name.replace("/", ".")
    return name[:-2] if name.endswith(":0") else name


def _is_pooler_bias(name: str) -> bool:
    # BERT: pooler.dense.bias (PyTorch) or .../pooler/dense/bias:0 (TF); ALBERT: pooler.bias
    parts = _normalized(name).split(".")
    return parts[-1] == "bias" and ("pooler" in parts[-3:-1])


def _pooler_biases(folder: Path) -> list | None:
    """The pooler bias arrays stored in `folder`'s weights ([] when it stores none), or None
    when the weights could not be read."""
    try:
        if (folder / SAFETENSORS).is_file() or (folder / SAFETENSORS_INDEX).is_file():
            from safetensors import safe_open

            if (folder / SAFETENSORS).is_file():
                shards = [SAFETENSORS]
            else:
                weight_map = json.loads((folder / SAFETENSORS_INDEX).read_text(encoding="utf-8"))["weight_map"]
                shards = sorted({shard for key, shard in weight_map.items() if _is_pooler_bias(key)})
            found = []
            for shard in shards:
                with safe_open(str(folder / shard), framework="numpy") as f:
                    found += [f.get_tensor(key) for key in f.keys() if _is_pooler_bias(key)]
            return found
        if (folder / TF_WEIGHTS).is_file():
            import h5py

            found = []
            with h5py.File(folder / TF_WEIGHTS, "r") as f:
                f.visititems(lambda name, item: found.append(item[()])
                             if isinstance(item, h5py.Dataset) and _is_pooler_bias(name) else None)
            return found
    except Exception as err:  # noqa: BLE001 - a damaged or unusual file only means "cannot tell"
        log.warning("could not read the pooler in %s (%s: %s)", folder, type(err).__name__, err)
    return None


def pretrained_pooler(folder: str | Path | None) -> bool | None:
    """Whether the checkpoint in `folder` holds a trained BERT/ALBERT pooler.

    Returns:
        True when it stores a pooler whose bias is not all zeros, False when it stores none or
        one with an all-zero bias (transformers initializes the bias to zeros, and training moves
        it), None when there is no folder or its weights could not be read.
    """
    if folder is None:
        return None
    import numpy as np

    biases = _pooler_biases(Path(folder))
    if biases is None:
        return None
    return any(np.any(np.asarray(b) != 0) for b in biases)


def resolve_pooling(pooling: str, config, folder: str | Path | None) -> str:
    """The concrete pooling ("cls" or "mean") that `pooling` means for this model.

    "auto" follows a checkpoint's sentence-transformers pooling where it has one (mean only for
    an architecture with a mean-pooled head here); without one, it is "mean" for a BERT or ALBERT
    checkpoint whose pooler is missing or untrained (`pretrained_pooler`), else "cls" (also for
    models built from a configuration, which have no pretrained pooling to follow).
    """
    check_pooling(pooling)
    if pooling != "auto":
        return pooling
    choice, why = auto_pooling(config, folder)
    log.info("pooling='auto' is %r for %s: %s", choice, folder or "this configuration", why)
    return choice


def auto_pooling(config, folder: str | Path | None) -> tuple[str, str]:
    """What pooling="auto" picks for this model, and why, in words."""
    trained_with = sentence_transformers_pooling(folder)
    if trained_with == "mean":
        if config.model_type in _HEADS:
            return "mean", "the checkpoint's sentence-transformers pooling"
        return "cls", (f"the checkpoint was trained with mean pooling, but model_type {config.model_type!r} "
                       "has no mean-pooled head here, so it keeps its own head")
    if trained_with == "cls":
        return "cls", "the checkpoint's sentence-transformers pooling"
    if _HEADS.get(config.model_type) == "dense" and pretrained_pooler(folder) is False:
        return "mean", ("the checkpoint has no trained [CLS] pooler (missing, or its bias is all zeros); "
                        "pooling='cls' would read the first token through that untrained layer")
    if folder is None:
        return "cls", "a model built from a configuration keeps its own head"
    return "cls", "the model's own head, as ktrain reads it"


def check_supported(config, pooling: str) -> None:
    if pooling == "mean" and config.model_type not in _HEADS:
        raise ValueError(
            f"pooling='mean' is not available for model_type {config.model_type!r}; it supports "
            f"{sorted(_HEADS)}. Use pooling='cls' (the model's own head)")


def masked_mean(hidden, attention_mask):
    """The mean of `hidden` (batch, length, dim) over the positions where `attention_mask` is 1."""
    from tfclf._compat import tf

    if attention_mask is None:
        return tf.reduce_mean(hidden, axis=1)
    mask = tf.cast(attention_mask, hidden.dtype)[:, :, None]
    total = tf.reduce_sum(hidden * mask, axis=1)
    count = tf.maximum(tf.reduce_sum(mask, axis=1), tf.cast(1, hidden.dtype))
    return total / count


def pooled_vector(model, input_ids, attention_mask):
    """The vector the classification head of `model` reads, one row per text: the masked mean of
    the last hidden states (mean pooling), BERT's and ALBERT's pooler output, or the first token's
    state (DistilBERT, RoBERTa, ELECTRA, MPNet and the rest)."""
    encoder = getattr(model, model.base_model_prefix)
    outputs = encoder(input_ids=input_ids, attention_mask=attention_mask, return_dict=True, training=False)
    if pooling_of(model.config) == "mean":
        return masked_mean(outputs.last_hidden_state, attention_mask)
    pooler = getattr(outputs, "pooler_output", None)
    if pooler is not None and _HEADS.get(model.config.model_type) == "dense":
        return pooler
    return outputs.last_hidden_state[:, 0]


def classifier_class(config):
    """The TF sequence-classification class to build for `config`, with its pooling applied."""
    from tfclf._compat import transformers

    base = transformers.TFAutoModelForSequenceClassification._model_mapping[type(config)]
    pooling = pooling_of(config)
    check_supported(config, pooling)
    if pooling == "cls":
        return base
    if base not in _CLASSES:
        _CLASSES[base] = _mean_pooled(base, _HEADS[config.model_type])
    return _CLASSES[base]


def _mean_pooled(base, head: str):
    from transformers.modeling_tf_outputs import TFSequenceClassifierOutput
    from transformers.modeling_tf_utils import unpack_inputs

    # What the model's own call takes: DistilBERT has no token types or positions, and the dummy
    # inputs transformers builds from this subclass's signature would otherwise offer them.
    accepted = set(inspect.signature(base.call).parameters)

    class MeanPooled(base):
        @unpack_inputs
        def call(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None,
                 head_mask=None, inputs_embeds=None, output_attentions=None, output_hidden_states=None,
                 return_dict=None, labels=None, training=False):
            encoder = getattr(self, self.base_model_prefix)
            optional = dict(token_type_ids=token_type_ids, position_ids=position_ids, head_mask=head_mask,
                            inputs_embeds=inputs_embeds, output_attentions=output_attentions,
                            output_hidden_states=output_hidden_states)
            outputs = encoder(input_ids=input_ids, attention_mask=attention_mask, return_dict=True, training=training,
                              **{k: v for k, v in optional.items() if v is not None and k in accepted})
            pooled = masked_mean(outputs.last_hidden_state, attention_mask)
            if head == "token":
                logits = self.classifier(pooled[:, None, :], training=training)
            else:
                if head == "pre_classifier":
                    pooled = self.pre_classifier(pooled)
                logits = self.classifier(self.dropout(pooled, training=training))
            loss = None if labels is None else self.hf_compute_loss(labels, logits)
            return TFSequenceClassifierOutput(loss=loss, logits=logits, hidden_states=outputs.hidden_states,
                                              attentions=outputs.attentions)

    MeanPooled.__name__ = MeanPooled.__qualname__ = f"MeanPooled{base.__name__}"
    return MeanPooled
