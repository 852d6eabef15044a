"""predict_file: streaming input formats, incremental output, bounded reading, and the CLI."""

from __future__ import annotations

import csv
import json
import tracemalloc

import numpy as np
import pytest

import tfclf
from tfclf import cli
from tfclf.streaming import iter_texts


@pytest.fixture(scope="module")
def predictor(trained):
    return tfclf.get_predictor(trained.learner.model, trained.t, batch_size=16)


TEXTS = ["good great love", "bad awful hate", "a wonderful film", "", "terrible boring plot"]


def test_jsonl_output_matches_predict_proba(predictor, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    summary = predictor.predict_file(src, tmp_path / "out.jsonl", chunk_size=2, progress=False)
    assert summary["documents"] == 5 and summary["docs_per_s"] > 0
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [r["row"] for r in rows] == [0, 1, 2, 3, 4]
    probs = predictor.predict_proba(TEXTS)
    assert [r["label"] for r in rows] == predictor.predict(TEXTS)
    got = np.array([[r["probabilities"][c] for c in predictor.get_classes()] for r in rows])
    np.testing.assert_allclose(got, probs, atol=1e-5)


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".tsv"])
def test_structured_inputs_and_csv_output(predictor, tmp_path, suffix):
    src = tmp_path / f"in{suffix}"
    if suffix == ".jsonl":
        lines = [json.dumps({"body": t, "id": i}) for i, t in enumerate(TEXTS)]
        src.write_text("\n".join(lines) + "\n\n", encoding="utf-8")  # a blank line is skipped
    else:
        with open(src, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f, delimiter="," if suffix == ".csv" else "\t")
            w.writerow(["id", "body"])
            w.writerows([i, t.replace("film", "film,\nwith a comma")] for i, t in enumerate(TEXTS))
    out = tmp_path / "out.csv"
    predictor.predict_file(src, out, text_column="body", progress=False)
    with open(out, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["row", "label", *(f"p_{c}" for c in predictor.get_classes())]
    assert len(rows) == 6 and [r[1] for r in rows[1:]] == predictor.predict(list(iter_texts(src, "body")))


def test_an_iterable_is_consumed_lazily_with_bounded_memory(predictor, tmp_path):
    pulled = []

    def corpus(n):
        for i in range(n):
            pulled.append(i)
            yield TEXTS[i % len(TEXTS)] + f" number {i}"

    out = tmp_path / "out.jsonl"
    gen = corpus(3000)
    tracemalloc.start()
    summary = predictor.predict_file(gen, out, chunk_size=256, progress=False)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert summary["documents"] == 3000 and len(out.read_text().splitlines()) == 3000
    # Python-side memory holds about one chunk, not the corpus (measured ~1-3 MB; the output is ~0.5 MB
    # and 3000 results held in memory would take several MB more).
    assert peak < 20e6


def test_progress_goes_to_stderr(predictor, tmp_path, capsys):
    predictor.predict_file(iter(TEXTS), tmp_path / "o.jsonl", chunk_size=2)
    err = capsys.readouterr().err
    assert "5 documents predicted" in err


def test_predict_file_rejects_bad_inputs(predictor, tmp_path):
    with pytest.raises(FileNotFoundError, match="no input file"):
        predictor.predict_file(tmp_path / "missing.txt", tmp_path / "o.jsonl", progress=False)
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "good"}\nnot json\n', encoding="utf-8")
    with pytest.raises(ValueError, match="line 2 .* is not JSON"):
        predictor.predict_file(src, tmp_path / "o.jsonl", progress=False)
    src.write_text('{"body": "good"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="no 'text' key"):
        predictor.predict_file(src, tmp_path / "o.jsonl", progress=False)
    with pytest.raises(ValueError, match="overwrite the input"):
        predictor.predict_file(src, src, progress=False)
    with pytest.raises(IsADirectoryError):
        predictor.predict_file(["good"], tmp_path, progress=False)
    with pytest.raises(TypeError, match="expected str"):
        predictor.predict_file(["good", 3], tmp_path / "o.jsonl", progress=False)
    with pytest.raises(ValueError, match="chunk_size"):
        predictor.predict_file(["good"], tmp_path / "o.jsonl", chunk_size=0, progress=False)


def test_cli_streams_a_file(trained, tmp_path, capsys):
    folder = tfclf.get_predictor(trained.learner.model, trained.t).save(tmp_path / "p")
    src = tmp_path / "in.txt"
    src.write_text("\n".join(TEXTS), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert cli.main(["predict", str(folder), "--file", str(src), "--output", str(out), "--chunk-size", "2"]) == 0
    assert "5 predictions written" in capsys.readouterr().out
    assert len(out.read_text().splitlines()) == 5
    assert cli.main(["predict", str(folder), "good", "--output", str(out)]) == 1
