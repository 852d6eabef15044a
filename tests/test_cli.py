"""The command line: helpful usage errors (exit 2), one-line errors on stderr (exit 1), no tracebacks."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tfclf import cli


@pytest.mark.parametrize("args", [["quickstart", "--epochs", "0"], ["quickstart", "--lr", "-1"],
                                  ["quickstart", "--maxlen", "abc"], ["nonsense"], []])
def test_bad_usage_exits_2_with_a_message(args, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(args)
    assert exc.value.code == 2
    assert "usage: tfclf" in capsys.readouterr().err


def test_missing_data_path_is_one_line_on_stderr(tmp_path, capsys):
    code = cli.main(["quickstart", "--data", str(tmp_path / "missing.csv")])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("tfclf: error: --data") and "Traceback" not in err


def test_missing_model_folder_is_one_line_on_stderr(tmp_path, capsys):
    data = tmp_path / "data"
    for label, words in (("pos", "good great"), ("neg", "bad awful")):
        (data / label).mkdir(parents=True)
        for i in range(5):
            (data / label / f"{i}.txt").write_text(f"{words} {i}")
    code = cli.main(["quickstart", "--data", str(data), "--model", str(tmp_path / "no-model")])
    err = capsys.readouterr().err
    assert code == 1
    assert "tfclf: error: model folder" in err and "does not exist" in err


def test_help_is_fast_and_does_not_import_tensorflow():
    code = "import sys; from tfclf import cli; cli.build_parser(); print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


@pytest.fixture(scope="module")
def saved_predictor(trained, tmp_path_factory):
    import tfclf

    return str(tfclf.get_predictor(trained.learner.model, trained.t).save(tmp_path_factory.mktemp("cli") / "p"))


def test_predict_from_arguments_file_and_stdin(saved_predictor, tmp_path, capsys, monkeypatch):
    import io
    import json

    assert cli.main(["predict", saved_predictor, "good great love", "bad awful hate"]) == 0
    assert capsys.readouterr().out.split() == ["pos", "neg"]
    f = tmp_path / "in.txt"
    f.write_text("good great love\nbad awful hate\n", encoding="utf-8")
    assert cli.main(["predict", saved_predictor, "--file", str(f), "--proba"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["label"] for r in rows] == ["pos", "neg"]
    assert all(abs(sum(r["probabilities"].values()) - 1) < 1e-6 for r in rows)
    monkeypatch.setattr("sys.stdin", io.StringIO("bad awful hate\n"))
    assert cli.main(["predict", saved_predictor, "-"]) == 0
    assert capsys.readouterr().out.split() == ["neg"]


def test_predict_errors(saved_predictor, tmp_path, capsys):
    assert cli.main(["predict", saved_predictor]) == 1
    assert "no texts" in capsys.readouterr().err
    assert cli.main(["predict", str(tmp_path / "none"), "x"]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert cli.main(["predict", saved_predictor, "--file", str(tmp_path / "missing.txt")]) == 1
    assert "missing.txt" in capsys.readouterr().err


def test_explain_and_info(saved_predictor, tmp_path, capsys):
    html = tmp_path / "e.html"
    assert cli.main(["explain", saved_predictor, "good great movie", "--num-samples", "50", "--html", str(html)]) == 0
    assert "Explanation of class" in capsys.readouterr().out
    assert "<span" in html.read_text()
    assert cli.main(["info", saved_predictor]) == 0
    out = capsys.readouterr().out
    assert "classes: neg, pos" in out and "tf_model.h5" in out and "sha256 verified" in out
    (tmp_path / "bad").mkdir()
    assert cli.main(["info", str(tmp_path / "bad")]) == 1
    assert "manifest.json is missing" in capsys.readouterr().err
