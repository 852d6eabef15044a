"""Tokenizers for models trained from scratch: a WordPiece vocabulary learned from your texts.

A model without pretrained weights needs no pretrained vocabulary either: `train_tokenizer`
learns one from the training texts with Hugging Face's `tokenizers` library and returns an
ordinary BERT fast tokenizer, so preprocessing, saving and reloading work as for a pretrained
model. Pass it (or ``tokenizer="train"``) to `text.Transformer` with a model configuration.
"""

from __future__ import annotations

from collections.abc import Iterable

from tfclf._util import positive_int

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
DEFAULT_VOCAB_SIZE = 16000


def train_tokenizer(texts: Iterable[str], vocab_size: int = DEFAULT_VOCAB_SIZE, lowercase: bool = True,
                    min_frequency: int = 2):
    """Learns a WordPiece vocabulary (BERT's scheme) from `texts`.

    Args:
        texts: the training documents (never the test ones: the vocabulary is part of the model).
        vocab_size: the most tokens to keep, special tokens included.
        lowercase: lowercase and strip accents first (as bert-base-uncased).
        min_frequency: a merge must occur this often to become a token.

    Returns:
        A `transformers.BertTokenizerFast` with [PAD]=0, [UNK], [CLS], [SEP] and [MASK].

    Example:
        >>> tok = train_tokenizer(["the cat sat", "the dog sat"] * 10, vocab_size=60, min_frequency=1)
        >>> tok.convert_ids_to_tokens(tok("the cat")["input_ids"])
        ['[CLS]', 'the', 'cat', '[SEP]']
    """
    from tokenizers import BertWordPieceTokenizer, processors

    from tfclf._compat import transformers

    positive_int(vocab_size, "vocab_size")
    positive_int(min_frequency, "min_frequency")
    if vocab_size <= len(SPECIAL_TOKENS):
        raise ValueError(f"vocab_size must be more than the {len(SPECIAL_TOKENS)} special tokens, got {vocab_size}")
    texts = [t for t in texts if isinstance(t, str) and t.strip()]
    if not texts:
        raise ValueError("no text to learn a vocabulary from: pass the training documents")
    wordpiece = BertWordPieceTokenizer(lowercase=lowercase, strip_accents=lowercase or None, clean_text=True)
    wordpiece.train_from_iterator(texts, vocab_size=vocab_size, min_frequency=min_frequency,
                                  special_tokens=SPECIAL_TOKENS, show_progress=False)
    backend = wordpiece._tokenizer
    # The post-processor that adds [CLS] ... [SEP] needs the ids, which exist only after training.
    backend.post_processor = processors.BertProcessing(("[SEP]", backend.token_to_id("[SEP]")),
                                                       ("[CLS]", backend.token_to_id("[CLS]")))
    return transformers.BertTokenizerFast(
        tokenizer_object=backend, do_lower_case=lowercase, unk_token="[UNK]", pad_token="[PAD]",
        cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]",
    )
