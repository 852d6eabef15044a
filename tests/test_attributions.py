"""Integrated Gradients explanations (`tfclf.attributions`, ``explain(method="gradients")``): the
completeness check, the deciding word first, repeatability, multi-label, windows, mixed precision,
the CLI and HTTP paths, and bad inputs; on tiny models."""

from __future__ import annotations

import helpers
import numpy as np
import pytest

import tfclf
from tfclf import text
from tfclf.attributions import token_rows, word_weights
from tfclf.reading import Reading


@pytest.fixture(scope="module")
def predictor(trained):
    return tfclf.get_predictor(trained.learner.model, trained.t, batch_size=4)


def test_the_deciding_word_comes_first_and_attributions_are_complete(predictor):
    doc = "awful plot , i hate this film"
    exp = predictor.explain(doc, method="gradients", steps=64)
    assert exp.method == "gradients" and exp.class_name == "neg" and exp.num_samples == 64
    top_word, top_weight = exp.as_list()[0]
    assert top_word in ("hate", "awful") and top_weight > 0
    assert exp.completeness_error < 0.15  # the trapezoid rule's error at 64 steps on this saturated logit
    assert "Integrated Gradients, 64 steps" in str(exp) and "Integrated Gradients" in exp.to_html()
    against = predictor.explain(doc, method="gradients", class_name="pos", steps=64)
    assert dict(against.as_list())[top_word] < 0


def test_gradients_are_repeatable_and_cover_every_class(predictor):
    doc = "awful plot , i hate this film"
    first = predictor.explain(doc, method="gradients")
    assert predictor.explain(doc, method="gradients").as_list() == first.as_list()
    both = predictor.explain(doc, method="gradients", all_targets=True)
    assert [e.class_name for e in both] == ["neg", "pos"]
    assert both[0].as_list()[0][0] in ("awful", "hate")


def test_token_rows_follow_the_reading_and_map_to_words(tiny_distilbert_dir):
    t = text.Transformer(str(tiny_distilbert_dir), maxlen=8, max_windows=3, window_overlap=2)
    doc = "good " * 5 + "bad " * 5 + "movie"
    rows = token_rows(t.get_tokenizer(), doc, t.reading)
    ids, _ = t.encode_documents([doc])
    assert [r[0] for r in rows] == ids  # the same windows the model reads
    weights = word_weights(doc, rows, [np.ones(len(r[0])) for r in rows])
    assert set(weights) == {"good", "bad", "movie"} and weights["good"] >= 5
    plain = token_rows(t.get_tokenizer(), doc, Reading(maxlen=8))
    assert len(plain) == 1 and len(plain[0][0]) == 8


def test_windows_and_multilabel_are_complete(tiny_distilbert_dir):
    tfclf.set_seed(0)
    x, y = helpers.toy_multilabel(16, seed=0)
    t = text.Transformer(str(tiny_distilbert_dir), maxlen=12, max_windows=4,
                         class_names=helpers.MULTILABEL_CLASSES)
    t.preprocess_train(x, y, verbose=0)
    predictor = tfclf.get_predictor(t.get_classifier(), t)
    doc = " ".join(x[:4])
    for label in helpers.MULTILABEL_CLASSES:
        exp = predictor.explain(doc, method="gradients", class_name=label, steps=64)
        assert exp.completeness_error < 0.05 and exp.class_name == label


def test_a_bfloat16_model_is_attributed_in_float32(trained, tmp_path):
    folder = tfclf.get_predictor(trained.learner.model, trained.t).save(tmp_path / "p")
    fast = tfclf.load_predictor(folder, precision="mixed_bfloat16")
    exact = tfclf.load_predictor(folder, precision="float32")
    doc = "the movie was good and i love it"
    a, b = fast.explain(doc, method="gradients"), exact.explain(doc, method="gradients")
    np.testing.assert_allclose([w for _, w in a.as_list()], [w for _, w in b.as_list()], rtol=1e-5)
    assert [w for w, _ in a.as_list()] == [w for w, _ in b.as_list()]


def test_bad_inputs_get_clear_errors(predictor):
    with pytest.raises(ValueError, match="at least one word"):
        predictor.explain("   ", method="gradients")
    with pytest.raises(ValueError, match="class_name 'x' is not one of"):
        predictor.explain("good", method="gradients", class_name="x")
    with pytest.raises(ValueError, match="unknown explanation method 'shap'"):
        predictor.explain("good", method="shap")
    with pytest.raises(ValueError, match="steps is for method='gradients'"):
        predictor.explain("good", steps=10)
    with pytest.raises(ValueError, match="takes steps="):
        predictor.explain("good", method="gradients", num_samples=10)
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        predictor.explain("good", method="gradients", steps=0)


def test_cli_and_http_choose_the_method(predictor, tmp_path, capsys):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from tfclf import cli, serve

    folder = predictor.save(tmp_path / "p")
    capsys.readouterr()
    assert cli.main(["explain", str(folder), "the movie was good", "--method", "gradients", "--steps", "16"]) in (0, None)
    assert "Integrated Gradients, 16 steps" in capsys.readouterr().out
    with TestClient(serve.create_app(tfclf.load_predictor(folder), batch_wait_ms=0)) as client:
        body = client.post("/explain", json={"text": "awful plot , i hate this film", "method": "gradients",
                                             "steps": 64}).json()
        assert body["method"] == "gradients" and body["num_samples"] == 64 and body["completeness_error"] < 0.15
        assert body["weights"][0][0] in ("hate", "awful")
        bad = client.post("/explain", json={"text": "good", "method": "shap"})
        assert bad.status_code == 422


def test_predictors_without_the_transformer_model_refuse_gradients(tmp_path):
    from tfclf.standard import StandardPreprocessor

    x, y = helpers.toy_sentiment(40, seed=0)
    p = StandardPreprocessor(maxlen=20)
    trn = p.preprocess_train(x, y, verbose=0)
    predictor = tfclf.get_predictor(text.text_classifier("logreg", trn, preproc=p, verbose=0), p)
    with pytest.raises(ValueError, match="use method='lime'"):
        predictor.explain("good", method="gradients")


# --------------------------------------------------------------------------- faithfulness, corpus view
def test_word_deletion_helpers():
    from tfclf.faithfulness import distinct_words, only_words, without_words

    doc = "Good film, good plot; bad end."
    assert distinct_words(doc) == ["Good", "film", "good", "plot", "bad", "end"]
    assert without_words(doc, ["good", "bad"]) == "Good film,  plot;  end."
    assert only_words(doc, ["good", "bad"]) == "good bad"


def test_faithfulness_ranks_methods_against_random(predictor):
    from tfclf.faithfulness import faithfulness

    docs = ["awful plot , i hate this film", "the ending was terrible and boring", "i hate the old city"]
    grad = faithfulness(predictor, docs, method="gradients", steps=16)
    rand = faithfulness(predictor, docs, method="random", seed=0)
    assert grad["documents"] == 3 and set(grad["per_fraction"]) == {"0.01", "0.05", "0.1", "0.2", "0.5"}
    assert grad["comprehensiveness"] > rand["comprehensiveness"]
    assert rand["seconds_per_explanation"] == 0.0 and grad["seconds_per_explanation"] > 0
    lime = faithfulness(predictor, docs[:1], method="lime", num_samples=100)
    assert -1 <= lime["comprehensiveness"] <= 1 and -1 <= lime["sufficiency"] <= 1
    with pytest.raises(ValueError, match="unknown method"):
        faithfulness(predictor, docs, method="shap")
    with pytest.raises(ValueError, match="at least one word"):
        faithfulness(predictor, ["  "], method="random")
    with pytest.raises(ValueError, match="fractions"):
        faithfulness(predictor, docs, method="random", fractions=[0])


def test_class_words_view_and_plot(predictor, tmp_path):
    from tfclf.faithfulness import class_words
    from tfclf.plots import class_words_plot

    docs = ["awful plot , i hate this film", "the movie was good and i love it", "great wonderful film",
            "terrible boring ending"]
    view = class_words(predictor, docs, method="gradients", top=5, steps=16)
    assert set(view) <= {"neg", "pos"} and all(len(rows) <= 5 for rows in view.values())
    assert any(w in ("hate", "awful", "terrible", "boring") for w, _, _ in view.get("neg", []))
    class_words_plot(view, top=5, show=False, save_path=tmp_path / "words.png")
    assert (tmp_path / "words.png").stat().st_size > 1000
