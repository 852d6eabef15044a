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
