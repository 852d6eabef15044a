"""ktrain's text API with ktrain's signatures: texts_from_folder / csv / df / array with
preprocess_mode, text_classifier, text_regression_model and the print_* listings."""

from __future__ import annotations

import inspect
import tarfile

import helpers
import numpy as np
import pytest

import tfclf
from tfclf import text
from tfclf.data import TextDataset

CLASSIFIERS = ["fasttext", "logreg", "nbsvm", "bigru", "standard_gru", "bert", "distilbert"]


def _write_folder(root, split, per_class=12, seed=0):
    texts, labels = helpers.toy_sentiment(2 * per_class, seed=seed)
    for i, (t, y) in enumerate(zip(texts, labels)):
        (root / split / y).mkdir(parents=True, exist_ok=True)
        (root / split / y / f"{i}.txt").write_text(t)
    return texts, labels


# --------------------------------------------------------------------------- signatures
@pytest.mark.parametrize("name, first", [("texts_from_folder", ["datadir", "classes", "max_features", "maxlen",
                                                                 "ngram_range", "train_test_names", "preprocess_mode",
                                                                 "encoding", "lang", "val_pct", "random_state",
                                                                 "verbose"]),
                                         ("texts_from_csv", ["train_filepath", "text_column", "label_columns",
                                                             "val_filepath", "max_features", "maxlen", "val_pct",
                                                             "ngram_range", "preprocess_mode", "encoding", "lang",
                                                             "sep", "is_regression", "random_state", "verbose"]),
                                         ("texts_from_df", ["train_df", "text_column", "label_columns", "val_df",
                                                            "max_features", "maxlen", "val_pct", "ngram_range",
                                                            "preprocess_mode", "lang", "is_regression",
                                                            "random_state", "verbose"]),
                                         ("texts_from_array", ["x_train", "y_train", "x_test", "y_test",
                                                               "class_names", "max_features", "maxlen", "val_pct",
                                                               "ngram_range", "preprocess_mode", "lang",
                                                               "random_state", "verbose"]),
                                         ("text_classifier", ["name", "train_data", "preproc", "multilabel",
                                                              "metrics", "verbose"])])
def test_signatures_follow_ktrain(name, first):
    params = list(inspect.signature(getattr(text, name)).parameters)
    assert params[:len(first)] == first
    defaults = {k: v.default for k, v in inspect.signature(getattr(text, name)).parameters.items()}
    if "maxlen" in defaults:
        assert defaults["maxlen"] == 400 and defaults["max_features"] == 20000 and defaults["ngram_range"] == 1
        assert defaults["preprocess_mode"] == "standard"


def test_print_text_classifiers_lists_ktrains_names(capsys):
    text.print_text_classifiers()
    listed = [line.split(":")[0] for line in capsys.readouterr().out.splitlines()]
    assert listed == ["fasttext", "logreg", "nbsvm", "bigru", "standard_gru", "bert", "distilbert"]
    text.print_text_regression_models()
    assert "linreg:" in capsys.readouterr().out


# --------------------------------------------------------------------------- loaders
def test_texts_from_array_returns_ktrains_pairs():
    x, y = helpers.toy_sentiment(40, seed=0)
    xt, yt = helpers.toy_sentiment(10, seed=1)
    (x_train, y_train), (x_test, y_test), preproc = text.texts_from_array(x, y, xt, yt, maxlen=20, verbose=0)
    assert isinstance(x_train, TextDataset) and y_train.shape == (40, 2) and y_test.shape == (10, 2)
    assert np.all(y_train.sum(axis=1) == 1) and preproc.get_classes() == ["neg", "pos"]
    assert [preproc.get_classes()[i] for i in y_train.argmax(1)] == y
    assert isinstance(preproc, text.StandardPreprocessor)


def test_texts_from_array_numbers_without_class_names_are_regression(capsys):
    x, _ = helpers.toy_sentiment(20, seed=0)
    trn, val, preproc = text.texts_from_array(x, list(range(20)), val_pct=0.25, random_state=0)
    assert preproc.mode_ == "regression" and len(trn[0]) == 15 and len(val[0]) == 5
    assert "text regression" in capsys.readouterr().out
    _, _, named = text.texts_from_array(x, [i % 2 for i in range(20)], class_names=["a", "b"], verbose=0)
    assert named.mode_ == "multiclass" and named.get_classes() == ["a", "b"]


def test_texts_from_folder_reads_train_and_test_or_holds_out_val_pct(tmp_path):
    _write_folder(tmp_path, "train", seed=0)
    _write_folder(tmp_path, "test", per_class=5, seed=1)
    (tmp_path / "train" / "pos" / "latin1.txt").write_bytes("great caf\xe9 good".encode("latin-1"))
    (x, y), (xt, yt), preproc = text.texts_from_folder(tmp_path, maxlen=20, verbose=0)
    assert len(x) == 25 and len(xt) == 10 and preproc.get_classes() == ["neg", "pos"]
    assert "great café good" in x.texts  # encoding detected per file
    (x1, _), (v1, _), _ = text.texts_from_folder(tmp_path, train_test_names=["train"], val_pct=0.2,
                                                 random_state=0, verbose=0)
    assert (len(x1), len(v1)) == (20, 5)
    (_, _), (_, _), only = text.texts_from_folder(tmp_path, classes=["pos", "neg"], verbose=0)
    assert only.get_classes() == ["pos", "neg"]


def test_texts_from_folder_bad_inputs(tmp_path):
    _write_folder(tmp_path, "train")
    with pytest.raises(FileNotFoundError, match="no 'test' folder"):
        text.texts_from_folder(tmp_path, verbose=0)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        text.texts_from_folder(tmp_path / "nope", verbose=0)
    with pytest.raises(ValueError, match="unknown preprocess_mode 'roberta'"):
        text.texts_from_folder(tmp_path, train_test_names=["train"], preprocess_mode="roberta")
    with pytest.raises(ValueError, match="train_test_names"):
        text.texts_from_folder(tmp_path, train_test_names=["a", "b", "c"])


def _csv(path, header, rows, sep=","):
    path.write_text("\n".join([sep.join(header), *(sep.join(map(str, r)) for r in rows)]) + "\n")
    return path


def test_texts_from_csv_single_multilabel_and_regression(tmp_path):
    x, y = helpers.toy_sentiment(30, seed=0)
    single = _csv(tmp_path / "s.csv", ["text", "label"], list(zip(x, y)))
    (a, ya), _, p = text.texts_from_csv(single, "text", label_columns=["label"], val_pct=0.2, random_state=0,
                                        verbose=0)
    assert p.mode_ == "multiclass" and ya.shape[1] == 2 and len(a) == 24
    ints = _csv(tmp_path / "i.tsv", ["text", "stars"], [(t, 1 + i % 10) for i, t in enumerate(x)], sep="\t")
    _, _, classes = text.texts_from_csv(ints, "text", "stars", sep="\t", verbose=0)
    assert classes.get_classes()[:3] == ["1", "2", "3"] and classes.get_classes()[-1] == "10"
    _, _, reg = text.texts_from_csv(ints, "text", "stars", sep="\t", is_regression=True, verbose=0)
    assert reg.mode_ == "regression"
    hot = [(t, int(l == "pos"), int(l == "neg"), int(i % 3 == 0)) for i, (t, l) in enumerate(zip(x, y))]
    multi = _csv(tmp_path / "m.csv", ["text", "pos", "neg", "music"], hot)
    (m, ym), _, pm = text.texts_from_csv(multi, "text", ["pos", "neg", "music"], verbose=0)
    assert pm.mode_ == "multilabel" and pm.get_classes() == ["pos", "neg", "music"] and ym.shape[1] == 3
    onehot = _csv(tmp_path / "o.csv", ["text", "pos", "neg"], [r[:3] for r in hot])
    _, _, po = text.texts_from_csv(onehot, "text", ["pos", "neg"], val_filepath=onehot, verbose=0)
    assert po.mode_ == "multiclass"


def test_texts_from_csv_keeps_quoted_line_breaks_and_form_feeds(tmp_path):
    f = tmp_path / "q.csv"
    f.write_text('text,label\n"first line\nsecond\x0cpage",a\nplain,b\n"x",a\n"y",b\n', encoding="utf-8")
    (x, _), (v, _), p = text.texts_from_csv(f, "text", "label", val_filepath=f, verbose=0)
    assert x.texts[0] == "first line\nsecond\x0cpage" and len(x) == 4 and p.get_classes() == ["a", "b"]


def test_texts_from_csv_bad_inputs(tmp_path):
    f = _csv(tmp_path / "s.csv", ["text", "label"], [("good", "pos"), ("bad", "neg")] * 5)
    with pytest.raises(ValueError, match=r"column 'y' not found .*columns: \['text', 'label'\]"):
        text.texts_from_csv(f, "text", ["y"], verbose=0)
    with pytest.raises(ValueError, match="label_columns is empty"):
        text.texts_from_csv(f, "text", verbose=0)
    with pytest.raises(FileNotFoundError):
        text.texts_from_csv(tmp_path / "missing.csv", "text", "label")
    with pytest.raises(ValueError, match="needs numbers"):
        text.texts_from_csv(f, "text", "label", is_regression=True, verbose=0)


def test_texts_from_df_with_val_df_and_missing_text():
    pd = pytest.importorskip("pandas")
    x, y = helpers.toy_sentiment(30, seed=0)
    df = pd.DataFrame({"comment": x, "label": y})
    df.loc[3, "comment"] = None
    val = pd.DataFrame({"comment": x[:6], "label": y[:6]})
    (a, ya), (b, yb), p = text.texts_from_df(df, "comment", "label", val_df=val, verbose=0)
    assert len(a) == 30 and len(b) == 6 and a.texts[3] == "" and p.get_classes() == ["neg", "pos"]
    with pytest.raises(ValueError, match="column 'text' not found"):
        text.texts_from_df(df, "text", "label")
    unlabeled = df.copy()
    unlabeled.loc[5, "label"] = None
    with pytest.raises(ValueError, match="row 5 has no label in column 'label'"):
        text.texts_from_df(unlabeled, "comment", "label")
    with pytest.raises(TypeError, match="DataFrame"):
        text.texts_from_df({"comment": x}, "comment", "label")


# --------------------------------------------------------------------------- text_classifier
def test_text_classifier_trains_with_the_learner_and_predicts(tmp_path, capsys):
    x, y = helpers.toy_sentiment(160, seed=1)
    xt, yt = helpers.toy_sentiment(64, seed=2)
    trn, val, preproc = text.texts_from_array(x, y, xt, yt, maxlen=30, ngram_range=2, verbose=0)
    tfclf.set_seed(0)
    model = text.text_classifier("nbsvm", trn, preproc=preproc, verbose=0)
    learner = tfclf.get_learner(model, train_data=trn, val_data=val, batch_size=16)
    learner.lr_find(max_steps=20, verbose=0)
    learner.fit_onecycle(0.02, 3, verbose=0)
    assert learner.validate(print_report=False).trace() >= 0.95 * len(yt)
    capsys.readouterr()
    learner.view_top_losses(n=2, preproc=preproc)
    shown = capsys.readouterr().out
    assert shown.count("| loss:") == 2 and "true:" in shown and ("good" in shown or "bad" in shown or "love" in shown
                                                                 or "hate" in shown or "great" in shown
                                                                 or "awful" in shown or "terrible" in shown
                                                                 or "excellent" in shown or "wonderful" in shown
                                                                 or "boring" in shown)
    predictor = tfclf.get_predictor(learner.model, preproc)
    assert predictor.predict(xt[:8]) == yt[:8]
    again = tfclf.load_predictor(predictor.save(tmp_path / "p"))
    assert again.predict(xt[:8]) == yt[:8]


def test_text_classifier_without_preproc_sizes_itself_on_the_data():
    x, y = helpers.toy_sentiment(40, seed=1)
    (x_train, y_train), _, preproc = text.texts_from_array(x, y, x[:8], y[:8], maxlen=30, verbose=0)
    model = text.text_classifier("logreg", train_data=(x_train, y_train), verbose=0)
    assert model.config.vocab_size == int(x_train.ids.max()) + 1
    assert tfclf.get_predictor(model, preproc).predict_proba(x[:2]).shape == (2, 2)


def test_multilabel_and_regression_through_the_text_api(tmp_path):
    pd = pytest.importorskip("pandas")
    x, y = helpers.toy_sentiment(120, seed=1)
    df = pd.DataFrame({"text": x, "pos": [int(v == "pos") for v in y], "neg": [int(v == "neg") for v in y],
                       "long": [int(len(t.split()) > 7) for t in x]})
    trn, val, preproc = text.texts_from_df(df, "text", ["pos", "neg", "long"], val_pct=0.2, random_state=0,
                                           ngram_range=2, maxlen=30, verbose=0)
    model = text.text_classifier("fasttext", trn, preproc=preproc, multilabel=True, verbose=0)
    tfclf.get_learner(model, trn, val, batch_size=16, seed=0).fit_onecycle(0.01, 2, verbose=0)
    labels = tfclf.get_predictor(model, preproc).predict(x[:3])
    assert all(isinstance(v, list) and set(v) <= {"pos", "neg", "long"} for v in labels)
    with pytest.raises(ValueError, match="multilabel=False disagrees"):
        text.text_classifier("logreg", trn, preproc=preproc, multilabel=False, verbose=0)

    scores = [float(len(t.split())) for t in x]
    rtrn, rval, rp = text.texts_from_df(pd.DataFrame({"text": x, "score": scores}), "text", "score",
                                        is_regression=True, maxlen=30, verbose=0)
    model = text.text_regression_model("linreg", rtrn, preproc=rp, verbose=0)
    tfclf.get_learner(model, rtrn, rval, batch_size=16).fit_onecycle(0.05, 2, verbose=0)
    values = tfclf.get_predictor(model, rp).predict(x[:3])
    assert all(isinstance(v, float) for v in values)
    with pytest.raises(ValueError, match="use text_regression_model"):
        text.text_classifier("logreg", rtrn, preproc=rp)
    with pytest.raises(ValueError, match="use text_classifier"):
        text.text_regression_model("linreg", trn, preproc=preproc)


def test_text_classifier_bad_inputs():
    x, y = helpers.toy_sentiment(40, seed=1)
    trn, _, preproc = text.texts_from_array(x, y, x[:4], y[:4], maxlen=20, ngram_range=2, verbose=0)
    with pytest.raises(ValueError, match="unknown text_classifier name 'svm'.*nbsvm"):
        text.text_classifier("svm", trn, preproc=preproc)
    with pytest.raises(ValueError, match="'linreg' is a name for text_regression_model"):
        text.text_classifier("linreg", trn, preproc=preproc)
    with pytest.raises(ValueError, match="needs preproc="):
        text.text_classifier("bert", trn, preproc=preproc)
    with pytest.raises(ValueError, match="ngram_range=1"):
        text.text_classifier("bigru", trn, preproc=preproc)
    with pytest.raises(TypeError, match="raw arrays"):
        text.text_classifier("nbsvm", (np.zeros((4, 3)), np.eye(2)[[0, 1, 0, 1]]))
    model = text.text_classifier("nbsvm", trn, preproc=preproc, verbose=0)
    with pytest.raises(ValueError, match="train_data: label row 0 is not one-hot"):
        tfclf.get_learner(model, train_data=(trn[0], np.ones((40, 2))))
    flipped = tfclf.get_learner(model, train_data=(trn[0], trn[1][:, ::-1])).train_data
    assert flipped.targets.tolist() == (1 - trn[0].targets).tolist() and trn[0].targets is not flipped.targets
    with pytest.raises(ValueError, match="x has 40 texts but y has 3 labels"):
        tfclf.get_learner(text.text_classifier("nbsvm", trn, preproc=preproc, verbose=0),
                          train_data=(trn[0], trn[1][:3]))


# --------------------------------------------------------------------------- transformer modes
def test_bert_mode_uses_the_local_model_named_by_the_environment(tiny_bert_dir, tmp_path, monkeypatch):
    _write_folder(tmp_path, "train", per_class=16)
    _write_folder(tmp_path, "test", per_class=4, seed=1)
    monkeypatch.setenv("TFCLF_BERT_MODEL", str(tiny_bert_dir))
    (x_train, y_train), (x_test, y_test), preproc = text.texts_from_folder(
        str(tmp_path), maxlen=32, preprocess_mode="bert", train_test_names=["train", "test"], classes=["pos", "neg"],
        verbose=0)
    assert isinstance(preproc, text.Transformer) and preproc.model_name == str(tiny_bert_dir)
    model = text.text_classifier("bert", (x_train, y_train), preproc=preproc, verbose=0)
    learner = tfclf.get_learner(model, train_data=(x_train, y_train), val_data=(x_test, y_test), batch_size=6)
    learner.fit_onecycle(1e-3, 1, verbose=0)
    predictor = tfclf.get_predictor(learner.model, preproc)
    assert set(predictor.predict(x_test.texts)) <= {"pos", "neg"}
    with pytest.raises(ValueError, match="reads word ids"):
        text.text_classifier("nbsvm", (x_train, y_train), preproc=preproc)
    with pytest.raises(ValueError, match="ngram_range is for preprocess_mode='standard'"):
        text.texts_from_folder(str(tmp_path), preprocess_mode="distilbert", ngram_range=2)
    _, _, named = text.texts_from_array(x_train.texts, y_train, preprocess_mode="distilbert", maxlen=16,
                                        class_names=["pos", "neg"], model_name=tiny_bert_dir, verbose=0)
    assert named.model_name == str(tiny_bert_dir)


@pytest.mark.slow
def test_ktrain_readme_example_on_the_newsgroups_folders(newsgroups_archive, minilm_dir, tmp_path, monkeypatch):
    """ktrain's README example, the import changed, on a slice of the archive's folders."""
    cats = ["alt.atheism", "sci.med"]
    with tarfile.open(newsgroups_archive) as tar:
        members = []
        for split in ("20news-bydate-train", "20news-bydate-test"):
            for cat in cats:
                files = sorted((m for m in tar.getmembers() if m.isfile() and m.name.startswith(f"{split}/{cat}/")),
                               key=lambda m: m.name)
                members += files[:24 if "train" in split else 10]
        tar.extractall(tmp_path, members=members, filter="data")
    monkeypatch.setenv("TFCLF_BERT_MODEL", str(minilm_dir))

    import tfclf as ktrain
    from tfclf import text as ktext

    (x_train, y_train), (x_test, y_test), preproc = ktext.texts_from_folder(
        str(tmp_path), maxlen=64, preprocess_mode="bert", train_test_names=["20news-bydate-train", "20news-bydate-test"],
        classes=cats)
    model = ktext.text_classifier("bert", (x_train, y_train), preproc=preproc)
    learner = ktrain.get_learner(model, train_data=(x_train, y_train), val_data=(x_test, y_test), batch_size=6)
    learner.fit_onecycle(2e-4, 2)  # README: 2e-5 for 1 epoch on 25000 reviews; this slice has 48 posts
    predictor = ktrain.get_predictor(learner.model, preproc)
    assert learner.validate(print_report=False).trace() >= 15  # of 20
    assert predictor.predict(x_test.texts[:2])[0] in cats
