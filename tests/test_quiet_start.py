"""What a newcomer sees first: no TensorFlow start-up chatter before tfclf's own output, and a
complete sentence on how to provide the 20 Newsgroups corpus when the quickstart cannot find it."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest

from tfclf import cli

# TensorFlow's C++ log lines ("I0000 00:00:1796249401.203575    5889 port.cc:153] ...") and the
# absl banner printed before its logging is initialised.
NATIVE_LOG = re.compile(r"^[IWEF]\d{4} \d+:\d+:\d+\.\d+\s+\d+ \S+:\d+\] ", re.MULTILINE)
NOISE = ("oneDNN", "cuInit", "E0000", "cuda drivers", "absl::InitializeLog", "cpu_feature_guard")


def _run_cli(args, tmp_path, **env_overrides):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env.update(env_overrides)
    return subprocess.run([sys.executable, "-m", "tfclf.cli", *args], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path, env=env)


def test_the_command_starts_quiet_and_still_reports_errors(tmp_path):
    # The quickstart imports TensorFlow and probes for a GPU before step 1; the data error comes after.
    out = _run_cli(["quickstart", "--data", str(tmp_path / "missing.csv")], tmp_path)
    assert out.returncode == 1, out.stderr
    assert out.stdout.lstrip().startswith("== 1. data"), out.stdout
    assert not [word for word in NOISE if word in out.stderr], out.stderr
    assert not NATIVE_LOG.search(out.stderr), out.stderr
    assert out.stderr.splitlines() == [
        f"tfclf: error: --data {tmp_path / 'missing.csv'}: expected 20ng, bbc, a folder of class "
        "sub-folders, or a .csv file"
    ]


def test_a_log_level_the_user_sets_brings_tensorflows_logs_back(tmp_path):
    out = _run_cli(["quickstart", "--data", str(tmp_path / "missing.csv")], tmp_path, TF_CPP_MIN_LOG_LEVEL="0")
    assert out.returncode == 1, out.stderr
    assert out.stderr.rstrip().splitlines()[-1].startswith("tfclf: error: --data"), out.stderr
    if not NATIVE_LOG.search(out.stderr):  # pragma: no cover - depends on the TensorFlow build
        pytest.skip("this TensorFlow build logs nothing at start-up, even at level 0")


@pytest.mark.parametrize("args", [[], ["quickstart"], ["predict"]])
def test_help_documents_how_to_see_tensorflows_logs(args, capsys):
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args([*args, "--help"])
    assert "TF_CPP_MIN_LOG_LEVEL=0" in " ".join(capsys.readouterr().out.split())


def test_the_start_up_filter_hides_only_what_the_log_level_says(capfd, monkeypatch):
    from tfclf import _compat

    lines = [
        f"{_compat._ABSL_PRE_INIT}\n",
        "I0000 00:00:1796249401.203575    5889 port.cc:153] oneDNN custom operations are on.\n",
        "W0000 00:00:1796249401.204072    5889 some.cc:31] a warning\n",
        "E0000 00:00:1796249407.635410    5889 cuda_platform.cc:52] failed call to cuInit\n",
        "F0000 00:00:1796249407.635410    5889 check.cc:1] Check failed\n",
        "a Python warning or any other line\n",
    ]

    def emit(level, fail=False):
        monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", str(level))
        capfd.readouterr()
        try:
            with _compat._native_start_up_logs_filtered():
                for line in lines:
                    os.write(2, line.encode())
                if fail:
                    raise ImportError("boom")
        except ImportError:
            pass
        return capfd.readouterr().err.splitlines(keepends=True)

    assert emit(0) == lines
    assert emit(2) == [lines[3], lines[4], lines[5]]
    assert emit(3) == [lines[4], lines[5]]
    assert emit(3, fail=True) == lines  # a failed import shows everything


def test_quickstart_says_in_one_line_how_to_provide_20_newsgroups(tmp_path, monkeypatch):
    from tfclf import datasets, quickstart
    from tfclf.datasets import TextData

    monkeypatch.delenv("TFCLF_20NG_ARCHIVE", raising=False)
    monkeypatch.setenv("TFCLF_OFFLINE", "1")
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path))  # an empty scikit-learn cache
    stub = TextData(["a", "b"], ["x", "y"], np.array([0, 1]), ["x", "y"], source="stub")
    monkeypatch.setattr(datasets, "load_bbc_news", lambda subset: stub)

    _, _, key, why = quickstart.load_data("auto", seed=42)
    assert key == "bbc"
    assert "\n" not in why and "one of these ways" not in why and ":)" not in why, why
    assert "TFCLF_20NG_ARCHIVE=/path/to/20news-bydate.tar.gz" in why and "--data" in why, why

    monkeypatch.setenv("TFCLF_20NG_ARCHIVE", str(tmp_path / "nope.tar.gz"))  # a wrong path is named
    _, _, _, why = quickstart.load_data("auto", seed=42)
    assert "nope.tar.gz" in why and "does not exist" in why and "\n" not in why, why
