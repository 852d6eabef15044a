"""`Predictor.export` and the exported predictors `load_predictor` reads: ONNX, OpenVINO and the
raw-string TF SavedModel give the TensorFlow predictor's answers, on every architecture, with
windows and multi-label thresholds; bad, tampered and incomplete folders are refused; and an
exported predictor runs in a virtual environment that has no TensorFlow at all.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import helpers

import tfclf
from tfclf import text
from tfclf.manifest import PredictorFormatError, read_manifest
from tfclf.runtime import ExportedPredictor, RuntimeMissingError

pytest.importorskip("tf2onnx")
pytest.importorskip("onnxruntime")
pytest.importorskip("openvino")

FORMATS = ("onnx", "openvino", "savedmodel")
REPO = Path(__file__).resolve().parents[1]
# float32 engines against TensorFlow's float32 forward pass (summation order differs)
PROB_TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def predictor(trained):
    return tfclf.get_predictor(trained.learner.model, trained.t, batch_size=16)


@pytest.fixture(scope="module")
def texts(toy_data):
    return toy_data["val"][0] + ["", "a text with words the vocabulary has never seen: zyx qwv"]


@pytest.fixture(scope="module")
def exported(predictor, tmp_path_factory):
    base = tmp_path_factory.mktemp("exported")
    return {fmt: predictor.export(base / fmt, format=fmt) for fmt in FORMATS}


def _same_answers(reference, other, texts, tolerance=PROB_TOLERANCE) -> None:
    want, got = reference.predict_proba(texts), other.predict_proba(texts)
    assert got.shape == want.shape
    assert np.abs(got - want).max() < tolerance
    assert reference.predict(texts) == other.predict(texts)


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_exported_predictor_answers_as_the_tensorflow_one(fmt, predictor, exported, texts):
    loaded = tfclf.load_predictor(exported[fmt], precision="float32")
    assert isinstance(loaded, ExportedPredictor) and loaded.format == fmt
    assert loaded.get_classes() == predictor.get_classes() and loaded.mode == predictor.mode
    _same_answers(predictor, loaded, texts)
    assert loaded.predict(texts[0]) == predictor.predict(texts[0])
    assert loaded.predict_proba(texts[0]).shape == (len(predictor.get_classes()),)


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_exported_folder_describes_itself(fmt, predictor, exported):
    manifest = read_manifest(exported[fmt])
    export = manifest["export"]
    assert export["format"] == fmt and export["inputs"] == ["input_ids", "attention_mask"]
    assert export["output"] == "logits" and export["precision"] == "float32"
    assert manifest["labels"]["classes"] == predictor.get_classes()
    assert manifest["maxlen"] == predictor.preproc.maxlen and manifest["pooling"] == "cls"
    assert (exported[fmt] / export["file"]).exists()
    assert not any(name.startswith("tf_model") for name in manifest["files"])  # no Keras weights


def test_onnx_has_dynamic_batch_and_sequence_axes(exported):
    import onnx

    model = onnx.load(str(exported["onnx"] / "model.onnx"))
    onnx.checker.check_model(model)
    assert [i.name for i in model.graph.input] == ["input_ids", "attention_mask"]
    for value in model.graph.input:
        dims = value.type.tensor_type.shape.dim
        assert len(dims) == 2 and all(not d.HasField("dim_value") for d in dims)
    assert [o.name for o in model.graph.output] == ["logits"]
    assert not [n.op_type for n in model.graph.node if n.op_type == "Erfc"]


def test_explain_and_predict_file_through_an_export(predictor, exported, texts, tmp_path):
    loaded = tfclf.load_predictor(exported["onnx"])
    want = predictor.explain(texts[0], num_samples=64, seed=1)
    got = loaded.explain(texts[0], num_samples=64, seed=1)
    assert got.predicted == want.predicted
    assert [w for w, _ in got.weights][:3] == [w for w, _ in want.weights][:3]
    summary = loaded.predict_file(texts, tmp_path / "out.jsonl", chunk_size=7, progress=False)
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert summary["documents"] == len(texts) == len(rows)
    assert [r["label"] for r in rows] == predictor.predict(texts)


@pytest.mark.parametrize("kind", helpers.POOLING_ARCHITECTURES)
def test_every_architecture_exports(kind, tmp_path):
    """ONNX and OpenVINO for each architecture tfclf builds (the SavedModel shares the traced
    graph; it is covered above). Mean pooling where the architecture has it."""
    enc = helpers.save_tiny_encoder(kind, tmp_path / kind)
    x, y = helpers.toy_sentiment(24, seed=3)
    t = text.Transformer(str(enc), maxlen=24, pooling="mean")
    t.preprocess_train(x, y, verbose=0)
    p = tfclf.get_predictor(t.get_classifier(), t)
    for fmt in ("onnx", "openvino"):
        loaded = tfclf.load_predictor(p.export(tmp_path / fmt, format=fmt), precision="float32")
        assert read_manifest(tmp_path / fmt)["pooling"] == "mean"
        want, got = p.predict_proba(x), loaded.predict_proba(x)
        assert np.abs(got - want).max() < PROB_TOLERANCE, (kind, fmt)


def test_windows_multilabel_thresholds_and_temperature_survive_export(tiny_distilbert_dir, tmp_path):
    x, y = helpers.toy_multilabel(40, seed=5)
    x = [" ".join([s] * 6) for s in x]  # long enough for several windows at maxlen 16
    t = text.Transformer(str(tiny_distilbert_dir), maxlen=16, max_windows=3, window_overlap=4)
    t.preprocess_train(x, y, verbose=0)
    p = tfclf.get_predictor(t.get_classifier(), t)
    assert p.mode == "multilabel" and len(t.dataset(x)) > len(x)  # windows really happen
    p.threshold = [0.45, 0.5, 0.55][: len(p.get_classes())] + [0.5] * (len(p.get_classes()) - 3)
    p.temperature = 1.7
    for fmt in ("onnx", "openvino"):
        loaded = tfclf.load_predictor(p.export(tmp_path / fmt, format=fmt), precision="float32")
        assert loaded.reading == t.reading and loaded.threshold == p.threshold and loaded.temperature == 1.7
        _same_answers(p, loaded, x)


def test_calibrating_an_exported_predictor_and_saving_it(predictor, exported, toy_data, tmp_path):
    loaded = tfclf.load_predictor(exported["onnx"])
    x, y = toy_data["val"]
    report = loaded.calibrate(x, y, verbose=0)
    assert loaded.temperature == report["temperature"] > 0
    again = tfclf.load_predictor(loaded.save(tmp_path / "calibrated"))
    assert again.temperature == loaded.temperature and again.format == "onnx"
    np.testing.assert_allclose(again.predict_proba(x), loaded.predict_proba(x), atol=1e-6)
    with pytest.raises(ValueError, match="another folder"):
        loaded.save(exported["onnx"])
    with pytest.raises(ValueError, match="export it again"):
        tfclf.load_predictor(exported["savedmodel"]).save(tmp_path / "sm")


# --------------------------------------------------------------------------- the raw-string SavedModel


def test_the_raw_string_savedmodel_runs_without_tfclf_or_transformers(predictor, exported, texts, tmp_path):
    """TF Serving's view: tf.saved_model.load in a process that imports neither tfclf nor
    transformers, raw strings in, probabilities and labels out; token ids as the Python
    tokenizer's."""
    edge = ["Café ÉCOLE naïve", "tab\tnull\x00 ctrl\x07 end", "日本語 中文", "emoji 😀", "a" * 150, "  "]
    probe = texts + edge
    (tmp_path / "in.json").write_text(json.dumps(probe))
    script = textwrap.dedent(f"""
        import json, sys
        import tensorflow as tf
        import tensorflow_text  # registers the tokenizer's ops, as TF Serving's build does
        texts = json.load(open({str(tmp_path / "in.json")!r}))
        m = tf.saved_model.load({str(exported["savedmodel"] / "saved_model")!r})
        out = m.signatures["serving_default"](text=tf.constant(texts))
        tok = m.signatures["tokenize"](text=tf.constant(texts))
        ids = [row[:n].tolist() for row, n in zip(tok["input_ids"].numpy(), tok["attention_mask"].numpy().sum(1))]
        assert not any(name.split(".")[0] in ("tfclf", "transformers") for name in sys.modules)
        print(json.dumps({{"probs": out["probabilities"].numpy().tolist(),
                           "labels": [s.decode() for s in out["label"].numpy()], "ids": ids}}))
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                         cwd=str(tmp_path))
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert np.abs(np.array(result["probs"]) - predictor.predict_proba(probe)).max() < PROB_TOLERANCE
    assert result["labels"] == predictor.predict(probe)
    tokenizer = predictor.preproc.get_tokenizer()
    want = tokenizer(probe, truncation=True, max_length=predictor.preproc.maxlen)["input_ids"]
    assert result["ids"] == want


def test_a_savedmodel_export_loads_in_a_fresh_process_without_transformers(predictor, exported, texts, tmp_path):
    """load_predictor on the SavedModel in a process that did not export it (so tensorflow-text's
    ops are registered by the loader itself) and that never imports transformers."""
    script = textwrap.dedent(f"""
        import json, sys
        import tfclf
        p = tfclf.load_predictor({str(exported["savedmodel"])!r})
        labels = p.predict({texts[:5]!r})
        assert "transformers" not in sys.modules, "transformers was imported"
        print(json.dumps(labels))
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                         cwd=str(tmp_path))
    assert run.returncode == 0, run.stderr[-3000:]
    assert json.loads(run.stdout.strip().splitlines()[-1]) == predictor.predict(texts[:5])


def test_savedmodel_signatures_for_multilabel_and_regression(tiny_distilbert_dir, tmp_path):
    """The raw-string signature's outputs for the other label modes: 0/1 per class at the tuned
    thresholds (multi-label), the value (regression); ONNX carries both too."""
    import tensorflow as tf

    x, rows = helpers.toy_multilabel(24, seed=7)
    t = text.Transformer(str(tiny_distilbert_dir), maxlen=16)
    t.preprocess_train(x, rows, verbose=0)
    p = tfclf.get_predictor(t.get_classifier(), t)
    p.threshold = [0.45, 0.5, 0.55]
    serve = tf.saved_model.load(str(p.export(tmp_path / "ml", format="savedmodel") / "saved_model"))
    out = serve.signatures["serving_default"](text=tf.constant(x))
    probs = p.predict_proba(x)
    np.testing.assert_allclose(out["probabilities"].numpy(), probs, atol=PROB_TOLERANCE)
    want = (probs >= np.array([0.45, 0.5, 0.55])).astype(int)
    assert (out["predicted"].numpy() == want).all()

    r = text.Transformer(str(tiny_distilbert_dir), maxlen=16)
    r.preprocess_train(x, np.linspace(0, 3, len(x)), verbose=0)
    q = tfclf.get_predictor(r.get_classifier(), r)
    serve = tf.saved_model.load(str(q.export(tmp_path / "reg", format="savedmodel") / "saved_model"))
    values = serve.signatures["serving_default"](text=tf.constant(x))["value"].numpy()[:, 0]
    np.testing.assert_allclose(values, q.predict(x), atol=1e-4)
    onnx = tfclf.load_predictor(q.export(tmp_path / "reg-onnx"))
    assert onnx.mode == "regression"
    np.testing.assert_allclose(onnx.predict(x), q.predict(x), atol=1e-4)


def test_the_savedmodel_refuses_what_it_cannot_read_in_the_graph(tiny_distilbert_dir, toy_data, tmp_path):
    t = text.Transformer(str(tiny_distilbert_dir), maxlen=16, max_windows=2)
    t.preprocess_train(*toy_data["train"], verbose=0)
    p = tfclf.get_predictor(t.get_classifier(), t)
    with pytest.raises(ValueError, match="export it to 'onnx' or 'openvino'"):
        p.export(tmp_path / "sm", format="savedmodel")
    assert not (tmp_path / "sm").exists()


# --------------------------------------------------------------------------- refusals and errors


def test_bad_format_names_are_refused(predictor, tmp_path):
    for bad in ("tflite", "", None, "ONNX runtime"):
        with pytest.raises(ValueError, match="onnx, openvino, savedmodel"):
            predictor.export(tmp_path / "x", format=bad)
    assert not (tmp_path / "x").exists()


def _copy(folder: Path, tmp_path: Path) -> Path:
    import shutil

    return Path(shutil.copytree(folder, tmp_path / folder.name))


def test_tampered_exports_are_refused(exported, tmp_path):
    onnx_copy = _copy(exported["onnx"], tmp_path / "a")
    with open(onnx_copy / "model.onnx", "r+b") as f:
        f.seek(100)
        f.write(b"\x00\x01")
    with pytest.raises(PredictorFormatError, match="model.onnx does not match its checksum"):
        tfclf.load_predictor(onnx_copy)

    ov_copy = _copy(exported["openvino"], tmp_path / "b")
    (ov_copy / "openvino_model.bin").unlink()
    with pytest.raises(PredictorFormatError, match="openvino_model.bin is missing"):
        tfclf.load_predictor(ov_copy)

    sm_copy = _copy(exported["savedmodel"], tmp_path / "c")
    variables = next((sm_copy / "saved_model" / "variables").glob("*.data-*"))
    variables.write_bytes(variables.read_bytes()[:-10])
    with pytest.raises(PredictorFormatError, match="does not match its checksum"):
        tfclf.load_predictor(sm_copy)


def test_a_pickle_disguised_as_openvino_weights_is_refused(exported, tmp_path):
    import zipfile

    copy = _copy(exported["openvino"], tmp_path)
    with zipfile.ZipFile(copy / "openvino_model.bin", "w") as z:  # what torch.save writes
        z.writestr("archive/data.pkl", b"\x80\x04N.")
    with pytest.raises(PredictorFormatError, match="pickle"):
        tfclf.load_predictor(copy)


def test_manifests_that_lie_about_the_engine_are_refused(exported, tmp_path):
    copy = _copy(exported["onnx"], tmp_path)
    path = copy / "manifest.json"
    manifest = json.loads(path.read_text())
    for broken, message in (({**manifest, "export": {**manifest["export"], "format": "tensorrt"}}, "tensorrt"),
                            ({k: v for k, v in manifest.items() if k != "export"}, "without its 'export' entry"),
                            ({**manifest, "files": {**manifest["files"], "../escape": "0" * 64}}, "outside the folder")):
        path.write_text(json.dumps(broken))
        with pytest.raises(PredictorFormatError, match=message):
            tfclf.load_predictor(copy)


def test_a_missing_runtime_names_its_extra(exported, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime -> ImportError
    with pytest.raises(RuntimeMissingError, match=r'pip install "tfclf\[onnx\]"'):
        tfclf.load_predictor(exported["onnx"])
    monkeypatch.setitem(sys.modules, "openvino", None)
    with pytest.raises(RuntimeMissingError, match=r'tfclf\[openvino\]'):
        tfclf.load_predictor(exported["openvino"])


def test_precision_names_are_checked(exported):
    with pytest.raises(ValueError, match="precision must be one of"):
        tfclf.load_predictor(exported["onnx"], precision="mixed_bfloat16")


def test_an_export_needs_a_new_folder_or_a_predictor_to_replace(predictor, tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        predictor.export(tmp_path / "notes", format="onnx")
    assert (tmp_path / "notes" / "todo.txt").read_text() == "mine"


# --------------------------------------------------------------------------- the command line


def test_the_command_line_exports_predicts_and_describes(predictor, texts, tmp_path, capsys):
    from tfclf import cli

    saved = predictor.save(tmp_path / "saved")
    assert cli.main(["export", str(saved), str(tmp_path / "ov"), "--format", "openvino"]) == 0
    capsys.readouterr()
    assert cli.main(["info", str(tmp_path / "ov")]) == 0
    assert "engine: exported for openvino" in capsys.readouterr().out
    assert cli.main(["predict", str(tmp_path / "ov"), *texts[:3]]) == 0
    assert capsys.readouterr().out.splitlines() == predictor.predict(texts[:3])
    assert cli.main(["export", str(tmp_path / "ov"), str(tmp_path / "again")]) == 1
    assert "already an exported predictor" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["export", str(saved), str(tmp_path / "bad"), "--format", "tflite"])


def test_the_http_service_serves_an_export(predictor, exported, texts):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from tfclf import serve

    loaded = tfclf.load_predictor(exported["openvino"], precision="float32")
    with TestClient(serve.create_app(loaded, batch_wait_ms=0)) as client:
        info = client.get("/info").json()
        assert info["engine"] == "openvino" and info["classes"] == predictor.get_classes()
        assert "tensorflow" not in info["serving_versions"] and "openvino" in info["serving_versions"]
        body = client.post("/predict", json={"texts": texts[:6], "return_proba": True}).json()
        assert body["labels"] == predictor.predict(texts[:6])
        assert np.abs(np.array(body["probabilities"]) - predictor.predict_proba(texts[:6])).max() < PROB_TOLERANCE
        assert client.post("/explain", json={"text": texts[0], "num_samples": 40}).status_code == 200


# --------------------------------------------------------------------------- without TensorFlow


def _extra(name: str) -> list[str]:
    import tomllib

    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"][name]


@pytest.mark.slow
def test_an_exported_predictor_runs_where_tensorflow_is_not_installed(predictor, exported, texts, tmp_path):
    """A fresh virtual environment with only the [onnx] extra's packages (and lime, for
    explain): tfclf from the source tree, no TensorFlow, no transformers. So the claim that an
    export needs neither cannot silently rot."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    install = subprocess.run([str(py), "-m", "pip", "install", "--quiet", *_extra("onnx"), "lime"],
                             capture_output=True, text=True, timeout=900)
    assert install.returncode == 0, install.stderr[-3000:]
    (tmp_path / "in.json").write_text(json.dumps(texts))
    script = textwrap.dedent(f"""
        import importlib.util, json, sys
        assert importlib.util.find_spec("tensorflow") is None and importlib.util.find_spec("transformers") is None
        import tfclf
        texts = json.load(open({str(tmp_path / "in.json")!r}))
        p = tfclf.load_predictor({str(exported["onnx"])!r})
        out = {{"labels": p.predict(texts), "probs": p.predict_proba(texts).tolist(),
               "explained": p.explain(texts[0], num_samples=32).predicted,
               "streamed": p.predict_file(texts, {str(tmp_path / "out.csv")!r}, progress=False)["documents"]}}
        assert not any(m.split(".")[0] in ("tensorflow", "transformers", "tf_keras") for m in sys.modules)
        print(json.dumps(out))
    """)
    run = subprocess.run([str(py), "-c", script], capture_output=True, text=True, timeout=300,
                         env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}, cwd=str(tmp_path))
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["labels"] == predictor.predict(texts)
    assert np.abs(np.array(out["probs"]) - predictor.predict_proba(texts)).max() < 1e-3
    assert out["explained"] == predictor.predict(texts[0]) and out["streamed"] == len(texts)
