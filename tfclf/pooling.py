"""How a classifier turns a text's last hidden states into the one vector its head reads.

``"cls"`` is what transformers' sequence-classification models do: the first token's state
(through BERT's pretrained pooler, DistilBERT's pre-classifier, RoBERTa's head). ``"mean"``
averages the states of the text's real tokens (padding masked out), which is how
sentence-transformers checkpoints such as all-MiniLM-L6-v2 were trained to summarize a text.

Mean pooling keeps transformers' own model class and weight names: `classifier_class` returns a
subclass whose ``call`` pools differently and feeds the same head layers. `save_pretrained`,
`from_pretrained` and tf.distribute's rebuild therefore work unchanged; the choice travels in the
model's config (``config.tfclf_pooling``), so a saved predictor reloads with it.
"""

from __future__ import annotations

import inspect
from typing import Any

POOLINGS = ("cls", "mean")
CONFIG_KEY = "tfclf_pooling"

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
}
_CLASSES: dict = {}


def check_pooling(pooling: Any) -> str:
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    return pooling


def pooling_of(config) -> str:
    """The pooling a model configuration asks for ("cls" unless tfclf set another)."""
    return getattr(config, CONFIG_KEY, "cls") or "cls"


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
