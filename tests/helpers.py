"""Tiny models, a tiny vocabulary, a toy dataset and a fake 20 Newsgroups archive for the fast tests.

Everything here is built from configs in a few seconds: no pretrained weights, no downloads.
The models are small enough (dim 32, 2 layers) that training them for a few epochs on the toy
data takes seconds on a CPU, yet they must really learn the task for the tests to pass.

Plain functions and constants shared by several test modules live here (fixtures live in
conftest.py); no test module imports another test module.
"""

from __future__ import annotations

import io
import os
import random
import tarfile
from pathlib import Path

import numpy as np

os.environ["TF_USE_LEGACY_KERAS"] = "1"

# CI always has ../shared: there a missing shared asset is a broken run, not a skip.
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
POSITIVE = ["good", "great", "love", "excellent", "wonderful"]
NEGATIVE = ["bad", "awful", "hate", "terrible", "boring"]
MUSIC = ["music", "song", "melody"]
NEUTRAL = [
    "the", "movie", "film", "was", "is", "this", "and", "it", "very", "really", "plot", "actor",
    "story", "scene", "ending", "we", "they", "of", "to", "in", "on", "with", "today", "night",
    "one", "two", "seen", "book", "city", "old",
]
_CHARS = list("abcdefghijklmnopqrstuvwxyz0123456789")
WORDS = POSITIVE + NEGATIVE + MUSIC + NEUTRAL
# Unique tokens only: a duplicate makes the tokenizer complain (and shifts every id after it).
VOCAB = SPECIAL + [w for w in WORDS if w not in _CHARS] + _CHARS + ["##" + c for c in _CHARS]
assert len(set(VOCAB)) == len(VOCAB), "the tiny vocabulary has duplicates"

MAX_POSITIONS = 64


def write_vocab(path: Path) -> Path:
    path.write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    return path


def tiny_distilbert_config(**overrides):
    from tfclf._compat import transformers

    kwargs = dict(vocab_size=len(VOCAB), dim=32, n_layers=2, n_heads=2, hidden_dim=64,
                  max_position_embeddings=MAX_POSITIONS, pad_token_id=0)
    kwargs.update(overrides)
    return transformers.DistilBertConfig(**kwargs)


def tiny_bert_config(**overrides):
    from tfclf._compat import transformers

    kwargs = dict(vocab_size=len(VOCAB), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                  intermediate_size=64, max_position_embeddings=MAX_POSITIONS, pad_token_id=0)
    kwargs.update(overrides)
    return transformers.BertConfig(**kwargs)


def _save_tokenizer(folder: Path, cls_name: str) -> None:
    from tfclf._compat import transformers

    vocab = write_vocab(folder / "vocab.txt")
    tok = getattr(transformers, cls_name)(vocab_file=str(vocab), do_lower_case=True)
    tok.save_pretrained(str(folder))


def _built(model):
    model(model.dummy_inputs, training=False)
    return model


def save_tiny_distilbert(folder: Path, seed: int = 0, **overrides) -> Path:
    """A 2-layer DistilBERT encoder (no head, like a pretrained checkpoint) as tf_model.h5."""
    import tfclf
    from tfclf._compat import transformers

    folder.mkdir(parents=True, exist_ok=True)
    # All of Python's, NumPy's and TensorFlow's seeds: tf-keras draws the seeds of unseeded
    # initializers from Python's `random`, so tf.random.set_seed alone gives new weights each run.
    tfclf.set_seed(seed)
    _built(transformers.TFDistilBertModel(tiny_distilbert_config(**overrides))).save_pretrained(str(folder))
    _save_tokenizer(folder, "DistilBertTokenizerFast")
    return folder


ARCHITECTURES = ("distilbert", "bert", "roberta", "albert")
# Architectures whose popular sentence-transformers checkpoints (all-mpnet-base-v2) are pooled by mean.
POOLING_ARCHITECTURES = ARCHITECTURES + ("mpnet",)


def tiny_encoder(kind: str):
    """A 2-layer encoder of one of `ARCHITECTURES` (no head, like a pretrained checkpoint), built."""
    from tfclf._compat import transformers

    common = dict(vocab_size=len(VOCAB), num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                  pad_token_id=0)
    if kind == "roberta":
        # RoBERTa offsets positions by pad_token_id + 1: 66 positions allow 64 tokens.
        model = transformers.TFRobertaModel(transformers.RobertaConfig(hidden_size=32, max_position_embeddings=66,
                                                                       **common))
    elif kind == "albert":
        model = transformers.TFAlbertModel(transformers.AlbertConfig(embedding_size=16, hidden_size=32,
                                                                     max_position_embeddings=64, **common))
    elif kind == "mpnet":
        # MPNet offsets positions like RoBERTa (its padding index is fixed at 1).
        model = transformers.TFMPNetModel(transformers.MPNetConfig(hidden_size=32, max_position_embeddings=66,
                                                                   relative_attention_num_buckets=8, **common))
    elif kind == "bert":
        model = transformers.TFBertModel(tiny_bert_config())
    else:
        model = transformers.TFDistilBertModel(tiny_distilbert_config())
    return _built(model)


def save_tiny_encoder(kind: str, folder: Path) -> Path:
    """`tiny_encoder(kind)` as tf_model.h5, with a WordPiece tokenizer (what is under test is the
    model side, so one tokenizer serves every architecture)."""
    from tfclf._compat import transformers

    folder.mkdir(parents=True, exist_ok=True)
    tiny_encoder(kind).save_pretrained(str(folder))
    transformers.BertTokenizerFast(vocab_file=str(write_vocab(folder / "vocab.txt"))).save_pretrained(str(folder))
    return folder


def build_tiny_bert_classifier(seed: int = 0, num_labels: int = 2):
    """A 2-layer BERT sequence classifier (encoder, pooler and head all set) built in memory."""
    import tfclf
    from tfclf._compat import transformers

    tfclf.set_seed(seed)  # see save_tiny_distilbert
    return _built(transformers.TFBertForSequenceClassification(tiny_bert_config(num_labels=num_labels)))


def save_tiny_bert(folder: Path, model) -> Path:
    """`model` as tf_model.h5 with its tokenizer."""
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(folder))
    _save_tokenizer(folder, "BertTokenizerFast")
    return folder


def pytorch_state_dict(tf_model, strip_prefix: str = "") -> dict[str, np.ndarray]:
    """The PyTorch-named state dict of a transformers TF model, built without torch.

    Names come from transformers' own TF->PT name mapping; dense kernels are transposed
    (PyTorch's Linear stores (out, in)). `strip_prefix` drops e.g. "bert." to get the layout of a
    base-model checkpoint such as all-MiniLM-L6-v2 (keys "embeddings.word_embeddings.weight", ...).
    """
    from transformers.modeling_tf_pytorch_utils import TransposeType, convert_tf_weight_name_to_pt_weight_name

    state = {}
    for w in tf_model.weights:
        name, transpose = convert_tf_weight_name_to_pt_weight_name(w.name, tf_weight_shape=w.shape)
        value = w.numpy()
        if transpose is TransposeType.SIMPLE:
            value = value.T
        elif transpose is not TransposeType.NO:  # pragma: no cover - no convolutions in BERT
            raise AssertionError(f"unexpected transpose {transpose} for {w.name}")
        if strip_prefix:
            if not name.startswith(strip_prefix):
                continue  # the head: a base-model checkpoint has none
            name = name[len(strip_prefix):]
        assert name not in state, f"two TF weights map to {name}"
        state[name] = np.ascontiguousarray(value, dtype=np.float32)
    return state


def save_pytorch_safetensors(folder: Path, state: dict[str, np.ndarray]) -> Path:
    """Writes `state` as PyTorch-format model.safetensors (what the hub ships), without torch."""
    from safetensors.numpy import save_file

    path = folder / "model.safetensors"
    save_file(state, str(path), metadata={"format": "pt"})
    return path


def copy_config_and_tokenizer(src: Path, dst: Path) -> Path:
    import shutil

    dst.mkdir(parents=True, exist_ok=True)
    for p in src.iterdir():
        if p.is_file() and p.suffix != ".h5" and p.suffix != ".safetensors":
            shutil.copy(p, dst / p.name)
    return dst


# -- toy data -------------------------------------------------------------------------------------
def toy_sentiment(n: int, seed: int, length: tuple[int, int] = (4, 10)) -> tuple[list[str], list[str]]:
    """Texts whose label ("pos"/"neg") is decided by which sentiment words they contain.

    Each text is a few neutral words with one or two words of its class inserted at random
    places, so the class is learnable from the words alone and nothing else.
    """
    rng = random.Random(seed)
    texts, labels = [], []
    for i in range(n):
        label = "pos" if i % 2 == 0 else "neg"
        pool = POSITIVE if label == "pos" else NEGATIVE
        words = [rng.choice(NEUTRAL) for _ in range(rng.randint(*length))]
        for _ in range(rng.randint(1, 2)):
            words.insert(rng.randint(0, len(words)), rng.choice(pool))
        texts.append(" ".join(words))
        labels.append(label)
    order = list(range(n))
    rng.shuffle(order)
    return [texts[i] for i in order], [labels[i] for i in order]


MULTILABEL_CLASSES = ["positive", "recommended", "negative"]


def toy_multilabel(n: int, seed: int) -> tuple[list[str], np.ndarray]:
    """Multi-hot toy data: the sentiment texts of `toy_sentiment` tagged [1, 1, 0] (positive and
    recommended) or [0, 0, 1] (negative): rows with two ones make it multi-label.

    One feature decides all three columns on purpose: with two independent features (e.g.
    sentiment and "mentions music") the tiny models learn one, then sit on a plateau for the
    other for a seed-dependent number of epochs (measured), which would make the test flaky.
    """
    texts, labels = toy_sentiment(n, seed)
    rows = [[1, 1, 0] if y == "pos" else [0, 0, 1] for y in labels]
    return texts, np.array(rows, dtype=np.int64)


# The 1cycle run of the shared `trained` fixture (conftest.py): measured to reach 100% validation
# accuracy on the toy data in 3 epochs from a chance-level start.
ONECYCLE_LR = 5e-3
ONECYCLE_EPOCHS = 3


def compose_multilabel(texts: list[str], labels: list[str], n: int, seed: int,
                       words: int = 50) -> tuple[list[str], list[list[str]]]:
    """Multi-label documents composed from single-label ones: each is the opening `words` words
    of one, two or three messages from distinct classes (half, 40% and 10% of the documents),
    labeled with those classes. A real multi-topic text, whose labels are known exactly."""
    rng = random.Random(seed)
    by_class: dict[str, list[str]] = {}
    for t, y in zip(texts, labels):
        by_class.setdefault(y, []).append(t)
    classes = sorted(by_class)
    out_texts, out_labels = [], []
    for _ in range(n):
        k = rng.choices([1, 2, 3], weights=[5, 4, 1])[0]
        chosen = sorted(rng.sample(classes, min(k, len(classes))))
        parts = [" ".join(rng.choice(by_class[c]).split()[:words]) for c in chosen]
        rng.shuffle(parts)
        out_texts.append("\n\n".join(parts))
        out_labels.append(chosen)
    return out_texts, out_labels


# -- a fake 20 Newsgroups archive -----------------------------------------------------------------
FAKE_GROUPS = ["alt.atheism", "comp.graphics", "rec.autos", "sci.med", "soc.religion.christian"]


def _news_message(group: str, i: int) -> bytes:
    """A news post with headers, a quoted block, a latin-1 byte and (mostly) a signature."""
    lines = [
        f"From: user{i}@{group.split('.')[-1]}.example.edu (User {i})",
        f"Subject: Re: question {i} about {group}",
        f"Organization: Example University {i % 3}",
        f"Lines: {10 + i}",
        "",
        f"In article <{i}@example.com> someone@example.com writes:",
        f"> the quoted text of post {i}",
        f"|another quote style {i}",
        f"My answer about {group} number {i}, caf\xe9 included.",
        "",
        f"Second paragraph {i} with more words.",
    ]
    if i % 4:
        lines += ["", "--", f"User {i} | sig line", "user@example.edu"]
    return ("\n".join(lines) + "\n").encode("latin-1")


def _news_file_names(count: int, offset: int) -> list[str]:
    # Mixed digit counts: load_files sorts names as strings ('100' < '99'), and so must we.
    pool = ["9", "10", "100", "51060", "38440", "7", "1234"]
    return [f"{pool[j % len(pool)]}{offset}" for j in range(count)]


def build_fake_archive(path: Path, groups=FAKE_GROUPS, extra: int = 0) -> Path:
    """A 20news-bydate.tar.gz in the original layout (train and test folders, one folder per
    group, 3-5 + `extra` posts each), written to `path`."""
    with tarfile.open(path, "w:gz") as tar:
        for s, folder in enumerate(["20news-bydate-train", "20news-bydate-test"]):
            tar_add_dir(tar, folder)
            for g, group in enumerate(groups):
                tar_add_dir(tar, f"{folder}/{group}")
                count = 3 + (g + s) % 3 + extra
                for j, name in enumerate(_news_file_names(count, offset=g * 10 + s)):
                    tar_add_file(
                        tar, f"{folder}/{group}/{name}", _news_message(group, 100 * s + 10 * g + j)
                    )
    return path


def tar_add_dir(tar: tarfile.TarFile, name: str) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    tar.addfile(info)


def tar_add_file(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def logits_of(model, transformer, texts) -> np.ndarray:
    """`model`'s logits for `texts`, encoded by `transformer` (one padded batch, no length sorting)."""
    ds = transformer.preprocess_test(texts, verbose=0)
    ids, mask = ds.pad_batch(np.arange(len(ds)))
    return model({"input_ids": ids, "attention_mask": mask}, training=False).logits.numpy()
