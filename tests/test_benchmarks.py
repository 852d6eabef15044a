"""The benchmark harness end to end on a tiny model and a tiny slice of a fake 20 Newsgroups
archive, so that it cannot rot: every system's script writes its JSON with every field, and
compare.py turns them into the side-by-side table. ktrain runs only where its virtual
environment exists (`make bench-ktrain-env`); the figures themselves are not checked here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import build_fake_archive

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
# where `make bench-ktrain-env` puts ktrain (overridable, e.g. to point at another environment)
KTRAIN_PYTHON = Path(os.environ.get("TFCLF_KTRAIN_PYTHON", BENCH / ".venv-ktrain" / "bin" / "python"))
sys.path.insert(0, str(BENCH))
import bench_common  # noqa: E402


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bench")
    archive = build_fake_archive(folder / "20news-bydate.tar.gz", groups=bench_common.CATEGORIES, extra=4)
    return folder, archive


def _run(python, script: str, *args) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    out = subprocess.run([str(python), str(BENCH / script), *map(str, args)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, f"{script} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"


def _check_record(path: Path, system: str) -> dict:
    record = json.loads(path.read_text())
    assert not [f for f in bench_common.FIELDS if f not in record]
    assert record["system"] == system and record["config"] == "quick-smoke"
    assert 0.0 <= record["test_accuracy"] <= 1.0 and 0.0 <= record["test_macro_f1"] <= 1.0
    assert record["settings"]["maxlen"] == 64 and record["machine"]["cores"] >= 1
    return record


def test_harness_runs_every_system_and_compares(run_dir, tiny_distilbert_dir):
    folder, archive = run_dir
    common = ["--config", "quick", "--archive", archive, "--limit", 24, "--maxlen", 64, "--work", folder / "work"]
    _run(sys.executable, "bench_tfclf.py", *common, "--model", tiny_distilbert_dir, "--peak-seconds", 0.05,
         "--output", folder / "tfclf-quick-smoke.json")
    _run(sys.executable, "bench_sklearn.py", *common, "--output", folder / "sklearn-quick-smoke.json")
    systems = ["tfclf", "sklearn-svm", "sklearn-nb"]
    if KTRAIN_PYTHON.exists():
        _run(KTRAIN_PYTHON, "bench_ktrain.py", *common, "--model", tiny_distilbert_dir,
             "--output", folder / "ktrain-quick-smoke.json")
        systems.append("ktrain")

    tfclf_record = _check_record(folder / "tfclf-quick-smoke.json", "tfclf")
    for system in systems[1:]:
        _check_record(folder / f"{system}-quick-smoke.json", system)
    assert len(tfclf_record["val_accuracy_per_epoch"]) == 1
    assert tfclf_record["train_tokens_per_s"] > 0 and tfclf_record["predict_docs_per_s"] > 0
    assert tfclf_record["latency_ms_p50"] <= tfclf_record["latency_ms_p95"]
    assert tfclf_record["cold_start_s"] >= tfclf_record["load_s"] > 0
    assert (folder / "work" / "tfclf-quick-smoke" / "manifest.json").is_file()
    # executed FLOPs include padding, so they are at least the model's useful FLOPs
    assert tfclf_record["train_executed_gflops_per_s"] >= tfclf_record["train_model_gflops_per_s"] > 0
    assert set(tfclf_record["matmul_peak_gflops"]) == {"float32", "bfloat16"}

    report = folder / "RESULTS.md"
    _run(sys.executable, "compare.py", "--config", "quick-smoke", "--results", folder, "--out", report)
    table = report.read_text()
    assert "| test accuracy |" in table and "tfclf/ktrain" in table
    header = next(line for line in table.splitlines() if line.startswith("| field |"))
    assert all(f"| {s} |" in header for s in systems)
    assert "Machine:" in table and "bench_tfclf.py" in table


def test_accuracy_experiment_ensemble_and_reading_scripts(run_dir, tiny_distilbert_dir):
    folder, archive = run_dir
    out = folder / "acc" / "smoke.json"
    _run(sys.executable, "experiments/accuracy.py", "--name", "smoke", "--model", tiny_distilbert_dir,
         "--archive", archive, "--limit", 24, "--maxlen", 32, "--epochs", 1, "--seeds", 0, "--pooling", "mean",
         "--save-proba", "--proba-dir", folder / "acc", "--save", folder / "acc" / "predictor", "--output", out)
    record = json.loads(out.read_text())
    run = record["runs"][0]
    # the saved predictor, reloaded and read as saved, scores what accuracy.py scored; the other
    # readings predict every document too
    _run(sys.executable, "experiments/predict_reading.py", "--name", "reading", "--predictor",
         folder / "acc" / "predictor", "--archive", archive, "--limit", 24, "--output", folder / "acc" / "reading.json")
    reading = json.loads((folder / "acc" / "reading.json").read_text())
    assert reading["saved_reading"]["max_windows"] == 1 and reading["saved_reading"]["truncation"] == "head"
    assert reading["readings"]["as_saved"]["test_correct"] == run["test_correct"]
    assert set(reading["readings"]) == {"as_saved", "head_tail", "windows2_logits", "windows4_logits",
                                        "windows4_probs"}
    assert reading["readings"]["windows4_probs"]["options"] == {
        "truncation": "head", "max_windows": 4, "aggregate": "mean_probs", "window_overlap": 32 // 4}
    assert all(0 <= r["test_correct"] <= 24 and r["predict_docs_per_s"] > 0 for r in reading["readings"].values())
    assert record["config"]["pooling"] == "mean" and run["test_rows"] == 24
    # the probabilities go to --proba-dir (default benchmarks/work/accuracy/, ignored by git), not beside the JSON
    proba = folder / "acc" / run["proba_file"]
    assert run["proba_file"] == "smoke.seed0.proba.csv" and "proba_dir" not in record["config"]
    assert proba.read_text().splitlines()[0].split(",") == sorted(bench_common.CATEGORIES)
    # weight 1 is the transformer alone and weight 0 the linear model alone
    for weight in (1.0, 0.0):
        _run(sys.executable, "experiments/ensemble.py", "--name", "ens", "--proba", proba, "--archive", archive,
             "--limit", 24, "--weight", weight, "--output", folder / "acc" / f"ens{weight}.json")
        ens = json.loads((folder / "acc" / f"ens{weight}.json").read_text())["runs"][0]
        assert ens["transformer"][1] == run["test_correct"]
        assert ens["ensemble"] == (ens["transformer"] if weight else ens["linear"])
        assert ens["sweep_on_test_not_for_claims"][f"{weight:.1f}"] == ens["ensemble"][0]
    # the table reads accuracy.py's JSON and skips ensemble.py's and predict_reading.py's, which share the folder
    table = subprocess.run([sys.executable, str(BENCH / "experiments" / "accuracy_table.py"), "--folder",
                            str(folder / "acc")], capture_output=True, text=True, timeout=120, check=True).stdout
    body = [line for line in table.splitlines() if line.startswith("| head")]
    assert len(body) == 1 and "mean pooling" in body[0] and f"| {run['precision']} |" in body[0]
    # another seed of the same configuration, written by a separate invocation, joins its row
    # (its JSON from before label_smoothing and layer_decay existed: they ran with the defaults)
    older = {k: v for k, v in record["config"].items() if k not in ("label_smoothing", "layer_decay")}
    assert len(older) == len(record["config"]) - 2
    other = {**record, "name": "smoke_s1", "config": {**older, "name": "smoke_s1", "seeds": [1]},
             "runs": [{**run, "seed": 1, "test_accuracy": run["test_accuracy"] / 2, "test_correct": 0}]}
    (folder / "acc" / "smoke_s1.json").write_text(json.dumps(other))
    table = subprocess.run([sys.executable, str(BENCH / "experiments" / "accuracy_table.py"), "--folder",
                            str(folder / "acc")], capture_output=True, text=True, timeout=120, check=True).stdout
    body = [line for line in table.splitlines() if line.startswith("| head")]
    mean = 100 * 0.75 * run["test_accuracy"]
    assert len(body) == 1 and "| 0, 1 |" in body[0] and "smoke + smoke_s1" in body[0]
    # the sample standard deviation, as accuracy.py's own summary of several seeds
    assert f"{mean:.2f}% ± {100 * run['test_accuracy'] / 2 / 2 ** 0.5:.2f}" in body[0]


def test_accuracy_experiment_resumes_and_distills(run_dir, tiny_distilbert_dir):
    """--checkpoint-dir: a rerun after an interruption resumes the seed from its newest checkpoint
    and reports the whole training time; --teacher distills a saved predictor."""
    folder, archive = run_dir
    work = folder / "resume"
    out, ckpt = work / "r.json", work / "ckpt"
    base = ["experiments/accuracy.py", "--name", "r", "--model", tiny_distilbert_dir, "--archive", archive,
            "--limit", 16, "--maxlen", 32, "--pooling", "mean"]
    common = [*base, "--seeds", 0]
    _run(sys.executable, *common, "--epochs", 2, "--checkpoint-dir", ckpt, "--save", work / "teacher",
         "--output", out)
    whole = json.loads(out.read_text())["runs"][0]
    times = json.loads((ckpt / "seed0" / "epoch_times.json").read_text())
    assert set(times) == {"1", "2"} and whole["train_s"] == round(sum(times.values()), 1)
    assert "resumed_after_epochs" not in whole
    # a finished seed is not trained again
    _run(sys.executable, *common, "--epochs", 2, "--checkpoint-dir", ckpt, "--output", out)
    assert json.loads(out.read_text())["runs"] == [whole]
    # interrupted after epoch 1: the rerun trains epoch 2 only, and adds epoch 1's time
    for f in (ckpt / "seed0").glob("*-02.*"):
        f.unlink()
    (ckpt / "seed0" / "epoch_times.json").write_text(json.dumps({"1": times["1"]}))
    out.unlink()
    _run(sys.executable, *common, "--epochs", 2, "--checkpoint-dir", ckpt, "--output", out)
    resumed = json.loads(out.read_text())["runs"][0]
    assert resumed["resumed_after_epochs"] == 1 and len(resumed["val_loss_per_epoch"]) == 1
    new = json.loads((ckpt / "seed0" / "epoch_times.json").read_text())
    assert new["1"] == times["1"] and resumed["train_s"] == round(times["1"] + new["2"], 1)

    # two seeds distilled from the saved predictor: its soft targets are computed once (teacher_s
    # is the same first-seed figure on both)
    _run(sys.executable, *base, "--seeds", 0, 1, "--epochs", 1, "--teacher", work / "teacher",
         "--distill-temperature", 3, "--distill-alpha", 0.7, "--output", work / "d.json")
    record = json.loads((work / "d.json").read_text())
    assert [r["seed"] for r in record["runs"]] == [0, 1]
    assert record["runs"][0]["teacher_s"] > 0 and record["runs"][0]["teacher_s"] == record["runs"][1]["teacher_s"]
    sys.path.insert(0, str(BENCH / "experiments"))
    import accuracy_table

    assert "distilled from teacher (T 3.0, alpha 0.7)" in accuracy_table.describe(record["config"])
    # where checkpoints went does not make another configuration
    assert accuracy_table.configuration_key({**record["config"], "checkpoint_dir": "x"}) == \
        accuracy_table.configuration_key(record["config"])


def test_flop_count_matches_a_hand_count():
    dims = {"layers": 2, "hidden": 4, "ffn": 8}
    dense = 2 * (4 * 16 + 2 * 32) * 2  # 2 x params per token, 2 layers
    # one document of 3 tokens: 3 tokens x (dense + attention over 3 positions), times 3 for training
    assert bench_common.train_flops(dims, [3]) == 3 * 3 * (dense + 4 * 3 * 4 * 2)
    # padded to width 5, two documents execute 2 x 5 tokens attending over 5 positions
    assert bench_common.train_flops(dims, [3, 1], width=5) == 3 * 10 * (dense + 4 * 5 * 4 * 2)


def test_accuracy_table_names_the_fine_tuning_options():
    sys.path.insert(0, str(BENCH / "experiments"))
    import accuracy_table

    cfg = {"maxlen": 256, "epochs": 4, "lr": "5e-5", "pooling": "mean", "label_smoothing": 0.1, "layer_decay": 0.8}
    assert accuracy_table.describe(cfg) == (
        "head 256, mean pooling, label smoothing 0.1, layer decay 0.8; 4 epochs, lr 5e-5")
    assert accuracy_table.describe({**cfg, "label_smoothing": 0.0, "layer_decay": None}) == (
        "head 256, mean pooling; 4 epochs, lr 5e-5")
    # a decay of 1 is no decay: the same configuration as none
    assert accuracy_table.describe({**cfg, "layer_decay": 1.0}).endswith("label smoothing 0.1; 4 epochs, lr 5e-5")
    assert accuracy_table.describe({**cfg, "attention_dropout": 0.0}).endswith(
        "layer decay 0.8, attention dropout 0.0; 4 epochs, lr 5e-5")
    # runs from before the option had the model's own attention dropout: the same configuration as None
    assert accuracy_table.configuration_key({**cfg, "attention_dropout": None}) == accuracy_table.configuration_key(cfg)


def test_short_budget_table_pairs_seeds_and_merges_full_budget_runs(tmp_path, monkeypatch):
    sys.path.insert(0, str(BENCH / "experiments"))
    import short_budget

    work, accuracy_runs = tmp_path / "short", tmp_path / "accuracy"
    work.mkdir()
    accuracy_runs.mkdir()

    def record(path: Path, *runs) -> None:
        path.write_text(json.dumps({"runs": [{"seed": s, "test_accuracy": a, "train_s": 10.0} for s, a in runs]}))

    for seed, ours, theirs, cls in [(42, 0.90, 0.89, 0.88), (43, 0.92, 0.90, 0.89), (44, 0.91, 0.93, 0.87)]:
        record(work / f"{short_budget.run_name('default', 128, 1, seed, 't')}.json", (seed, ours))
        record(work / f"{short_budget.run_name('ktrain', 128, 1, seed)}.json", (seed, theirs))
        record(work / f"{short_budget.run_name('cls_pooling', 128, 1, seed, 't')}.json", (seed, cls))
    record(work / f"{short_budget.run_name('default', 128, 1, 42)}.json", (42, 0.5))  # an untagged default
    record(work / f"{short_budget.run_name('ktrain+lr_find', 128, 1, 42)}.json", (42, 0.94))  # ktrain's own variant
    # a full-budget run of accuracy.py under its own name, one seed of it also run by this script
    monkeypatch.setattr(short_budget, "ACCURACY_RUNS", {("default@t", 256, 4): ["full"]})
    record(accuracy_runs / "full.json", (42, 0.95), (43, 0.97))
    record(work / f"{short_budget.run_name('default', 256, 4, 42, 't')}.json", (42, 0.96))
    # cells without default@t: a stand-in where one is named, else no pairing (not the untagged default)
    monkeypatch.setattr(short_budget, "DEFAULT_STAND_INS", {("t", 128, 2): "stand_in"})
    for epochs in (2, 4):
        record(work / f"{short_budget.run_name('default', 128, epochs, 42)}.json", (42, 0.5))
        record(work / f"{short_budget.run_name('schedule', 128, epochs, 42, 't')}.json", (42, 0.93))
    record(work / f"{short_budget.run_name('stand_in', 128, 2, 42)}.json", (42, 0.91))

    rows = {(r["lever"], r["maxlen"], r["epochs"]): r for r in short_budget.table(work, accuracy_runs)}
    cls = rows[("cls_pooling@t", 128, 1)]
    assert cls["vs_default_of"] == "default@t" and cls["vs_default_seeds"] == [42, 43, 44]
    assert cls["vs_default"] == pytest.approx(-0.03) and cls["vs_default_std"] == pytest.approx(0.01)
    assert rows[("default@t", 128, 1)]["vs_ktrain"] == pytest.approx(0.0033333, abs=1e-5)
    assert rows[("schedule@t", 128, 2)]["vs_default_of"] == "stand_in"
    assert rows[("schedule@t", 128, 2)]["vs_default"] == pytest.approx(0.02)
    assert "vs_default" not in rows[("schedule@t", 128, 4)]
    variant = rows[("ktrain+lr_find", 128, 1)]
    assert variant["vs_ktrain"] == pytest.approx(0.05) and "vs_default" not in variant  # ktrain's, not a lever of tfclf
    full = rows[("default@t", 256, 4)]
    assert full["seeds"] == [42, 43] and full["accuracy_mean"] == pytest.approx(0.965)  # this script's 0.96 wins
    alone = {(r["lever"], r["maxlen"], r["epochs"]): r for r in short_budget.table(work)}
    assert alone[("default@t", 256, 4)]["seeds"] == [42]  # without the accuracy folder, only this script's runs
    text = short_budget.markdown(list(rows.values()))
    assert "| maxlen 128, 1 epoch | maxlen 128, 2 epochs | maxlen 128, 4 epochs | maxlen 256, 4 epochs |" in text
    assert "| cls_pooling@t | 88.00 ± 1.00 (3); -3.00 vs default@t; -2.67 vs ktrain |  |  |  |" in text


def test_probability_files_have_one_home(monkeypatch):
    """accuracy.py --save-proba writes to bench_common.PROBA_DIR, inside the git-ignored benchmarks/work/;
    ensemble.py reads a bare file name from there and a path as given."""
    sys.path.insert(0, str(BENCH / "experiments"))
    import accuracy
    import ensemble

    assert bench_common.PROBA_DIR == BENCH / "work" / "accuracy"
    assert "benchmarks/work/" in (ROOT / ".gitignore").read_text().splitlines()
    assert ensemble.proba_path("m.seed42.proba.csv") == bench_common.PROBA_DIR / "m.seed42.proba.csv"
    assert ensemble.proba_path("/tmp/m.seed42.proba.csv") == Path("/tmp/m.seed42.proba.csv")
    monkeypatch.setattr(sys, "argv", ["accuracy.py", "--name", "m", "--save-proba"])
    assert Path(accuracy.parse().proba_dir) == bench_common.PROBA_DIR


def test_ktrain_api_benchmark_runs_both_ports(run_dir, tiny_bert_dir):
    """ktrain's NBSVM notebook and README example, as bench_ktrain_api.py runs them, on the fake archive."""
    folder, archive = run_dir
    out = folder / "ktrain_api.json"
    _run(sys.executable, "bench_ktrain_api.py", "--archive", archive, "--model", tiny_bert_dir, "--maxlen", 32,
         "--nbsvm-epochs", 2, "--work", folder / "ktrain_work", "--output", out)
    parts = json.loads(out.read_text())["parts"]
    assert 0 <= parts["nbsvm"]["accuracy"] <= 1 and parts["nbsvm"]["seconds_notebook"] > 0
    assert len(parts["nbsvm"]["first_predictions"]) == 3
    assert parts["readme"]["test_docs"] > 0 and parts["readme"]["maxlen"] == 32
    assert (folder / "ktrain_work" / "nbsvm.json").is_file()  # a rerun skips the finished part


def test_explain_benchmark_measures_every_method(run_dir, trained):
    import tfclf

    folder, archive = run_dir
    saved = tfclf.get_predictor(trained.learner.model, trained.t).save(folder / "explain-predictor")
    out = folder / "explain.json"
    _run(sys.executable, "bench_explain.py", "--predictor", saved, "--archive", archive, "--docs", 2,
         "--lime-samples", 20, "--steps", 4, "--work", folder / "explain_work", "--output", out)
    record = json.loads(out.read_text())
    assert set(record["methods"]) == {"gradients", "random", "lime"}
    assert all(m["documents"] == 2 and 0 <= m["top10_overlap"] <= 1 for m in record["methods"].values())
    assert record["methods"]["gradients"]["top10_overlap"] == 1.0  # deterministic
    assert (folder / "explain_class_words.png").is_file() and record["class_words"]
    # one method rerun (from its checkpoints) with the timing: the other methods' figures stay
    _run(sys.executable, "bench_explain.py", "--predictor", saved, "--archive", archive, "--docs", 2,
         "--lime-samples", 20, "--steps", 4, "--work", folder / "explain_work", "--output", out,
         "--methods", "lime", "--timing-docs", 1)
    again = json.loads(out.read_text())
    assert again["methods"] == record["methods"] and again["class_words"] == record["class_words"]
    assert again["timing"]["documents"] == 1 and again["timing"]["lime_s"] > 0 and again["timing"]["speedup"] > 0


def test_step_profile_takes_a_step_apart(run_dir, tiny_distilbert_dir):
    folder, archive = run_dir
    out = folder / "profile_step.json"
    _run(sys.executable, "profile_step.py", "--model", tiny_distilbert_dir, "--archive", archive, "--maxlen", 32,
         "--docs", 24, "--skip", 1, "--profile-steps", 2, "--peak-seconds", 0.05, "--output", out)
    record = json.loads(out.read_text())
    ms = record["ms_per_step"]
    assert ms["fit loop (Learner.fit_onecycle)"] > 0 and ms["forward only"] > 0 and ms["optimizer update only"] > 0
    shares = record["profile"]["categories"]
    assert {"matmul forward", "matmul backward", "optimizer update"} <= set(shares)
    assert abs(sum(c["share"] for c in shares.values()) - 1) < 0.01
    assert record["profile"]["top_ops"] and record["executed_gflops"] > 0


def test_gpu_check_runs_on_a_cpu_and_skips_missing_models(run_dir, tiny_distilbert_dir):
    folder, archive = run_dir
    out = folder / "gpu_check.json"
    _run(sys.executable, "gpu_check.py", "--models", tiny_distilbert_dir, folder / "no-such-model", "--archive",
         archive, "--limit", 16, "--maxlen", 32, "--epochs", 1, "--jit", "both", "--output", out)
    record = json.loads(out.read_text())
    runs = record["runs"]
    assert [r.get("jit_compile") for r in runs[:2]] == [False, True] and len(runs) == 4
    assert all(0 <= r["test_accuracy"] <= 1 and r["tokens_per_s"] > 0 for r in runs[:2])
    assert runs[2]["skipped"] == "no model folder here"


def test_fast_ops_pairing_and_bucket_statistics_run(run_dir, tiny_distilbert_dir):
    folder, archive = run_dir
    out = folder / "fast_ops_ab.json"
    _run(sys.executable, "experiments/fast_ops_ab.py", "--model", tiny_distilbert_dir, "--archive", archive,
         "--maxlen", 32, "--batch-size", 4, "--rounds", 2, "--warmup", 1, "--output", out)
    variants = json.loads(out.read_text())["variants"]
    assert set(variants) == {"plain", "erf_gelu", "mask_dropout", "fused_adam", "all"}
    assert variants["plain"]["median_ratio_to_plain"] == 1.0 and all(v["median_ms"] > 0 for v in variants.values())
    # an arithmetic-changing lever on request, against plain, which is always timed
    _run(sys.executable, "experiments/fast_ops_ab.py", "--model", tiny_distilbert_dir, "--archive", archive,
         "--maxlen", 32, "--batch-size", 4, "--rounds", 2, "--warmup", 1, "--variants", "all_no_attention_dropout",
         "--output", out)
    assert set(json.loads(out.read_text())["variants"]) == {"plain", "all_no_attention_dropout"}


def test_adam_update_times_and_measures_the_three_ways(run_dir, tiny_distilbert_dir):
    folder, _ = run_dir
    out = folder / "adam_update.json"
    _run(sys.executable, "experiments/adam_update.py", "--model", tiny_distilbert_dir, "--rounds", 3,
         "--output", out)
    result = json.loads(out.read_text())
    assert set(result["median_ms"]) == {"keras", "xla", "kernel"} and all(v > 0 for v in result["median_ms"].values())
    # the kernel and XLA compute Keras' update: float rounding apart
    assert all(v < 1e-3 for v in result["largest_difference_from_keras_relative_to_its_move"].values())
    assert set(result["memory"]) == {f"{w}_{s}" for w in ("keras", "xla", "kernel") for s in ("full", "small")}


def test_fast_ops_memory_runs_each_variant_in_its_own_process(run_dir, tiny_distilbert_dir):
    folder, archive = run_dir
    out = folder / "fast_ops_memory.json"
    _run(sys.executable, "experiments/fast_ops_memory.py", "--model", tiny_distilbert_dir, "--archive", archive,
         "--maxlen", 32, "--batch-size", 4, "--steps", 4, "--docs", 16, "--variants", "plain", "fused_adam",
         "--output", out)
    variants = json.loads(out.read_text())["variants"]
    assert [variants[v]["fused_update"] for v in ("plain", "fused_adam")] == [False, True]
    for v in variants.values():
        marks = v["marks"]
        assert list(marks) == ["data", "model", "first_step", "last_step"]
        assert all(a["peak_mb"] <= b["peak_mb"] for a, b in zip(list(marks.values()), list(marks.values())[1:]))
        assert not v["xla_update"] and v["median_step_ms"] > 0
    # two versions of the library (here the same checkout twice) and one with the fast ops off, alternated
    _run(sys.executable, "experiments/version_ab.py", "--trees", ROOT, ROOT, "--env", "TFCLF_FAST_OPS=0",
         "--model", tiny_distilbert_dir, "--archive", archive, "--maxlen", 32, "--steps", 3, "--skip", 1,
         "--rounds", 1, "--output", folder / "version_ab.json")
    versions = json.loads((folder / "version_ab.json").read_text())["variants"]
    assert len(versions) == 3 and all(len(v["ms_per_step_by_round"]) == 1 for v in versions.values())
    assert list(versions.values())[0]["median_ratio_to_first"] == 1.0
    table = subprocess.run([sys.executable, str(BENCH / "experiments" / "bucket_stats.py"), "--model",
                            str(tiny_distilbert_dir), "--archive", str(archive), "--maxlen", "16", "64"],
                           capture_output=True, text=True, timeout=300, check=True).stdout
    rows = [line for line in table.splitlines() if line.startswith("| 16 |") or line.startswith("| 64 |")]
    # random batches, then windows of 8 and 50 each sorted by length and by width, per maxlen
    assert len(rows) == 10 and all(float(r.split("|")[4]) >= 1.0 for r in rows)  # padding never saves tokens
    assert [r.split("|")[3].strip() for r in rows[:5]] == ["-", "length", "width", "length", "width"]
