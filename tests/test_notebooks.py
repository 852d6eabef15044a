"""The two notebooks, executed with a Jupyter kernel on a tiny model and a fake 20 Newsgroups
archive (through the same runner as `make notebooks`, with parameters), so they cannot rot."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from helpers import build_fake_archive

pytest.importorskip("nbclient", reason="the notebook tests need the test extra (nbclient, ipykernel)")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "notebooks"))
import run as notebook_runner  # noqa: E402

CATEGORIES = ["alt.atheism", "soc.religion.christian", "comp.graphics", "sci.med"]


def _outputs(nb):
    for cell in nb.cells:
        if cell.cell_type == "code":
            yield from cell.get("outputs", [])


def _text(nb) -> str:
    parts = []
    for out in _outputs(nb):
        parts.append(out.get("text", ""))
        data = out.get("data", {})
        parts.append(data.get("text/plain", "") + data.get("text/html", ""))
    return "\n".join(parts)


@pytest.fixture(scope="module")
def executed(tmp_path_factory, tiny_distilbert_dir):
    import nbformat

    folder = tmp_path_factory.mktemp("notebooks")
    archive = build_fake_archive(folder / "20news-bydate.tar.gz", groups=CATEGORIES, extra=4)
    saved = folder / "predictor"
    tutorial = folder / "tutorial.ipynb"
    notebook_runner.run(ROOT / "notebooks" / "20newsgroups_transformer.ipynb", {
        "MODEL_NAME": str(tiny_distilbert_dir), "ARCHIVE": str(archive), "MAXLEN": 64, "BATCH_SIZE": 8,
        "EPOCHS": 1, "SAVE_DIR": str(saved),
    }, tutorial, timeout=600)
    explain = folder / "explain.ipynb"
    notebook_runner.run(ROOT / "notebooks" / "explain_predictions.ipynb", {
        "PREDICTOR": str(saved), "ARCHIVE": str(archive), "SAMPLE_COUNTS": (20, 40), "SEEDS": (0, 1),
        "N_STABILITY_DOCS": 2, "N_FAITHFULNESS_DOCS": 3, "N_CORPUS_DOCS": 8,
    }, explain, timeout=600)
    return nbformat.read(str(tutorial), as_version=4), nbformat.read(str(explain), as_version=4), saved


def test_tutorial_notebook_runs_every_step(executed):
    nb, _, saved = executed
    outputs = list(_outputs(nb))
    assert not [o for o in outputs if o.get("output_type") == "error"]
    # the parameters of the run are recorded in the notebook, right after the defaults
    tags = [c.metadata.get("tags", []) for c in nb.cells]
    assert tags.index(["injected-parameters"]) == tags.index(["parameters"]) + 1
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    # LR finder, LR and momentum schedules, loss and accuracy curves, confusion matrix,
    # reliability diagram, risk-coverage curve
    assert len(images) == 8
    text = _text(nb)
    assert "suggested learning rates" in text and "training with lr" in text
    assert "precision" in text and "recall" in text  # the validation report
    assert "'ece':" in text and "'brier':" in text  # how honest the probabilities are
    assert "tfclf-explanation" in text  # the explanation rendered as HTML
    assert "same probabilities after reloading: True" in text
    assert (saved / "manifest.json").is_file()
    # progress bars are stored as a terminal shows them (last state), start-up chatter dropped
    assert "\r" not in text and "absl::InitializeLog" not in text


def test_explanation_notebook_runs(executed):
    _, nb, _ = executed
    assert not [o for o in _outputs(nb) if o.get("output_type") == "error"]
    text = _text(nb)
    assert "test documents, accuracy" in text and "true '" in text
    assert text.count("tfclf-explanation") >= 4  # several documents, then one by both methods
    assert "lime: " in text and "gradients: " in text and "completeness error of the gradients" in text
    assert "comprehensiveness" in text and "random" in text  # the faithfulness table
    assert [o for o in _outputs(nb) if "image/png" in o.get("data", {})]  # the corpus view
    assert "mean overlap" in text and "s/explanation" in text


def test_tidy_keeps_what_a_terminal_shows():
    import nbformat

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("fit()")
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stderr", text="I0000 00:00:1 port.cc:153] oneDNN on\n"),
        nbformat.v4.new_output("stream", name="stdout", text="1/3 [..] \r2/3 [=.] \r3/3 [==] done\nnext line\n"),
    ]
    nb.cells = [cell]
    notebook_runner.tidy(nb)
    assert [o["text"] for o in cell.outputs] == ["3/3 [==] done\nnext line\n"]


def test_runner_rejects_a_notebook_without_parameters(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1")]
    with pytest.raises(SystemExit, match="parameters"):
        notebook_runner.inject(nb, {"x": 2})
    assert notebook_runner.parse_value("(1, 2)") == (1, 2) and notebook_runner.parse_value("a/b") == "a/b"
