"""`tfclf.manifest`: the one writer and reader of manifest.json, on plain folders (no model)."""

from __future__ import annotations

import json

import pytest

from tfclf.manifest import (FORMAT_VERSION, MANIFEST, PredictorFormatError, build_manifest, check_target, describe,
                            predictor_fields, preprocessor_fields, read_manifest, write_folder)
from tfclf.reading import Reading

LABELS = {"mode": "multiclass", "classes": ["neg", "pos"]}


def _content(**overrides):
    args = dict(model_name="m", model_type="bert", architecture="TFBertForSequenceClassification",
                precision="float32", reading=Reading(maxlen=64, max_windows=2), labels=LABELS, threshold=0.5,
                batch_size=8, pooling="mean")
    return build_manifest(**{**args, **overrides})


def _write(folder, content=None):
    return write_folder(folder, content or _content(), lambda tmp: (tmp / "weights.h5").write_bytes(b"w" * 10))


def test_written_folder_reads_back_with_checksums(tmp_path):
    folder = _write(tmp_path / "p")
    manifest = read_manifest(folder)
    assert manifest["format_version"] == FORMAT_VERSION and list(manifest["files"]) == ["weights.h5"]
    fields = preprocessor_fields(manifest)
    assert fields["reading"] == Reading(maxlen=64, max_windows=2) and fields["labels"] == LABELS
    assert predictor_fields(manifest) == {"batch_size": 8, "threshold": 0.5, "temperature": 1.0}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left
    (folder / "weights.h5").write_bytes(b"x" * 10)
    with pytest.raises(PredictorFormatError, match="does not match its checksum"):
        read_manifest(folder)


def test_a_version_1_manifest_from_before_the_reading_options_reads_as_the_defaults(tmp_path):
    folder = _write(tmp_path / "p")
    manifest = json.loads((folder / MANIFEST).read_text())
    for key in ("truncation", "head_tokens", "max_windows", "window_overlap", "aggregate", "pooling", "threshold",
                "batch_size", "temperature"):
        manifest.pop(key)
    (folder / MANIFEST).write_text(json.dumps(manifest))
    old = read_manifest(folder)
    assert preprocessor_fields(old)["reading"] == Reading(maxlen=64)
    assert predictor_fields(old) == {"batch_size": 32, "threshold": 0.5, "temperature": 1.0}


def test_per_label_thresholds_are_saved_as_numbers():
    assert _content(threshold=[0.25, 0.5])["threshold"] == [0.25, 0.5]


def test_only_a_predictor_is_replaced(tmp_path):
    first = _write(tmp_path / "p")
    second = _write(first, _content(batch_size=4))
    assert read_manifest(second)["batch_size"] == 4
    (tmp_path / "file").write_text("x")
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not a folder"):
        check_target(tmp_path / "file")
    with pytest.raises(FileExistsError, match="not a tfclf predictor"):
        _write(other)
    assert (other / "notes.txt").read_text() == "mine"


def test_a_failed_write_leaves_nothing(tmp_path):
    def broken(tmp):
        (tmp / "half").write_text("x")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_folder(tmp_path / "p", _content(), broken)
    assert list(tmp_path.iterdir()) == []


def test_describe_says_what_a_person_needs(tmp_path):
    folder = _write(tmp_path / "p")
    text = describe(read_manifest(folder), folder)
    assert "maxlen 64, reading up to 2 windows (mean_logits), pooling mean" in text
    assert "labels: multiclass, 2 classes: neg, pos" in text and "weights.h5" in text
