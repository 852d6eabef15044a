"""A TF SavedModel that takes raw strings: WordPiece tokenization inside the graph, for TF Serving.

Signatures of the exported ``saved_model/``:

- ``serving_default(text: string[batch])``: ``probabilities`` (float32 [batch, classes], with
  the predictor's temperature), ``logits``, and ``label`` (string [batch], the top class) for
  single-label models, ``predicted`` (int32 [batch, classes], 1 where the probability reaches the
  class's threshold) for multi-label ones, ``value`` for regression;
- ``tokenize(text)``: ``input_ids`` and ``attention_mask`` as the graph reads them;
- ``logits(input_ids, attention_mask)``: the model's logits (what `tfclf.load_predictor` calls,
  tokenizing in Python, so that windows and every reading option work the same).

Supported tokenizers: WordPiece with BERT's normalizer and pre-tokenizer (BERT, DistilBERT,
MiniLM, ELECTRA and other BERT-vocabulary models), read from ``tokenizer.json``. The graph cleans
control characters, applies NFD and strips accents, lowercases (as the normalizer says), then runs
tensorflow-text's FastBertTokenizer: token ids equal the Python tokenizer's on the 20 Newsgroups
tutorial's 1502 test documents (tests/ and benchmarks/ check this). Known difference: Unicode's
final-sigma rule (a word-final Greek capital sigma becomes "ς" in the graph, "σ" in Python).
Texts are read as plain head truncation to maxlen; predictors that read windows or head+tail
export to ONNX or OpenVINO instead.
"""

from __future__ import annotations

import json
from pathlib import Path

from tfclf.labels import MULTILABEL, REGRESSION


def _tokenizer_json(tokenizer) -> dict:
    return json.loads(tokenizer.backend_tokenizer.to_str())


def check_supported(predictor, tokenizer) -> dict:
    """The tokenizer's WordPiece settings, or a ValueError saying why the raw-string SavedModel
    cannot carry this predictor (and which format can)."""
    reading = predictor.preproc.reading
    if not reading.plain:
        raise ValueError("the raw-string SavedModel reads texts by plain head truncation; this predictor reads "
                         "windows or head+tail: export it to 'onnx' or 'openvino' instead")
    spec = _tokenizer_json(tokenizer)
    model, normalizer, pre = spec.get("model") or {}, spec.get("normalizer") or {}, spec.get("pre_tokenizer") or {}
    if model.get("type") != "WordPiece" or normalizer.get("type") != "BertNormalizer" \
            or pre.get("type") != "BertPreTokenizer":
        raise ValueError(
            f"the raw-string SavedModel tokenizes BERT-style WordPiece in the graph; this tokenizer is "
            f"{model.get('type')} with {normalizer.get('type')} / {pre.get('type')}: export it to 'onnx' or "
            "'openvino' instead (tokenized in Python with the same tokenizer.json)")
    lowercase = bool(normalizer.get("lowercase", True))
    strip = normalizer.get("strip_accents")
    return {
        "vocab": sorted(model["vocab"], key=model["vocab"].get),
        "unk_token": model.get("unk_token", "[UNK]"),
        "prefix": model.get("continuing_subword_prefix", "##"),
        "max_chars": int(model.get("max_input_chars_per_word", 100)),
        "lowercase": lowercase,
        "strip_accents": lowercase if strip is None else bool(strip),
        "clean_text": bool(normalizer.get("clean_text", True)),
    }


def save_string_model(model, predictor, tokenizer, path: Path) -> dict:
    """Writes the SavedModel at `path`; returns the manifest's export entry fields."""
    import tensorflow_text as tft

    from tfclf._compat import tf
    from tfclf.encoding import special_tokens
    from tfclf.tracing import INPUTS, OUTPUT, erf_gelu, forward_function
    from tfclf.predicting import check_threshold

    spec = check_supported(predictor, tokenizer)
    prefix, suffix = special_tokens(tokenizer)
    maxlen = int(predictor.preproc.reading.maxlen)
    content = maxlen - len(prefix) - len(suffix)
    classes = predictor.get_classes()
    mode = predictor.mode
    temperature = float(predictor.temperature)
    thresholds = check_threshold(predictor.threshold, len(classes))
    binary_threshold = (thresholds if mode != MULTILABEL and len(classes) == 2 and isinstance(thresholds, float)
                        and thresholds != 0.5 else None)
    thresholds = [thresholds] * len(classes) if isinstance(thresholds, float) else thresholds
    pad_id = int(tokenizer.pad_token_id or 0)

    module = tf.Module()
    module.model = model
    # lower_case_nfd_strip_accents=False: the graph below normalizes as tokenizer.json says (the
    # tokenizer's own lowercasing is Unicode case folding, which differs: "straße" -> "strasse").
    module.wordpiece = tft.FastBertTokenizer(
        spec["vocab"], suffix_indicator=spec["prefix"], max_bytes_per_word=spec["max_chars"],
        token_out_type=tf.int64, unknown_token=spec["unk_token"], lower_case_nfd_strip_accents=False)
    module.classes = tf.constant(classes)
    with erf_gelu(model):  # the same graph as the other formats (OpenVINO and TF read either)
        forward = forward_function(model)
    module.forward = forward
    text_spec = tf.TensorSpec((None,), tf.string, name="text")

    def normalize(text):
        if spec["clean_text"]:  # BERT drops control characters (tab, newline and CR are whitespace)
            text = tf.strings.regex_replace(text, r"[^\P{C}\t\n\r]|\x{FFFD}", "")
        if spec["strip_accents"]:
            text = tf.strings.regex_replace(tft.normalize_utf8(text, "NFD"), r"\p{Mn}", "")
        if spec["lowercase"]:
            text = tf.strings.lower(text, encoding="utf-8")
        return text

    @tf.function(input_signature=[text_spec])
    def tokenize(text):
        tokens = module.wordpiece.tokenize(normalize(text))[:, :content]
        n = tf.shape(text, out_type=tf.int64)[0]

        def tiled(ids):
            return tf.RaggedTensor.from_tensor(tf.tile(tf.constant([ids], tf.int64), [n, 1]))

        parts = [*([tiled(prefix)] if prefix else []), tokens, *([tiled(suffix)] if suffix else [])]
        ids = tf.concat(parts, axis=1) if len(parts) > 1 else tokens
        input_ids = ids.to_tensor(default_value=pad_id)
        mask = tf.sequence_mask(ids.row_lengths(), maxlen=tf.shape(input_ids, out_type=tf.int64)[1], dtype=tf.int64)
        return {INPUTS[0]: input_ids, INPUTS[1]: mask}

    @tf.function(input_signature=[text_spec])
    def serve(text):
        encoded = tokenize(text)
        logits = forward(encoded[INPUTS[0]], encoded[INPUTS[1]])[OUTPUT]
        if mode == REGRESSION:
            return {OUTPUT: logits, "value": logits}
        scaled = logits / temperature
        if mode == MULTILABEL:
            probs = tf.sigmoid(scaled)
            return {OUTPUT: logits, "probabilities": probs,
                    "predicted": tf.cast(probs >= tf.constant(thresholds, tf.float32), tf.int32)}
        probs = tf.nn.softmax(scaled, axis=-1)
        if binary_threshold is not None:  # the tuned positive-class threshold, as LabelCodec.decode applies it
            index = tf.cast(probs[:, 1] >= binary_threshold, tf.int64)
        else:
            index = tf.argmax(probs, axis=-1)
        return {OUTPUT: logits, "probabilities": probs, "label": tf.gather(module.classes, index)}

    module.tokenize, module.serve = tokenize, serve
    signatures = {"serving_default": serve, "tokenize": tokenize, "logits": forward}
    tf.saved_model.save(module, str(path), signatures=signatures)
    return {"file": path.name, "logits_signature": "logits", "serving_signature": "serving_default",
            "maxlen": maxlen}
