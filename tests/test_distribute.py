"""tf.distribute for real on a CPU-only machine: MirroredStrategy over two logical CPUs, and
MultiWorkerMirroredStrategy with two worker processes on loopback ports. Each trains the tiny
model and must end with the weights of a one-device run with the same global batch."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import helpers
import tfclf

WORKER = Path(__file__).resolve().parent / "distributed_worker.py"
TIMEOUT_S = 240
# Summation order differs between one device and an all-reduce over replicas; Adam then amplifies
# float32 rounding in the smallest gradients a little (the measured worst case is printed).
ATOL = 1e-4


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    # No dropout: replicas draw different dropout masks than one device would.
    return helpers.save_tiny_distilbert(tmp_path_factory.mktemp("tiny-nodropout"), seed=0, dropout=0.0,
                                        attention_dropout=0.0, seq_classif_dropout=0.0)


def _env(**extra) -> dict:
    env = {**os.environ, "TFCLF_PRECISION": "float32", "CUDA_VISIBLE_DEVICES": "", **extra}
    env["PYTHONPATH"] = os.pathsep.join([str(WORKER.parent), str(Path(tfclf.__file__).parents[1]),
                                         env.get("PYTHONPATH", "")])
    return env


def _run(kind: str, model_dir: Path, out: Path, **env) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, str(WORKER), kind, str(model_dir), str(out)], env=_env(**env),
                          capture_output=True, text=True, timeout=TIMEOUT_S)
    assert proc.returncode == 0, f"{kind} run failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    return proc


def _load(out: Path, tag: str = "0") -> tuple[list[np.ndarray], dict]:
    with np.load(out.with_name(f"{out.stem}-{tag}.npz")) as f:
        weights = [f[k] for k in sorted(f.files, key=lambda k: int(k.split("_")[1]))]
    return weights, json.loads(out.with_name(f"{out.stem}-{tag}.json").read_text())


@pytest.fixture(scope="module")
def single(model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("single") / "run"
    _run("single", model_dir, out)
    return _load(out)


def _assert_same_training(weights, reference, report):
    assert len(weights) == len(reference)
    worst = max(float(np.abs(a - b).max()) for a, b in zip(weights, reference))
    print(f"largest weight difference from the one-device run: {worst:.2e} (training moved weights by up to "
          f"{report['moved']:.2e})")
    assert worst < ATOL, f"weights differ from the one-device run by up to {worst}"
    assert report["moved"] > 100 * ATOL  # training really changed the weights


def test_mirrored_strategy_over_two_logical_cpus_matches_one_device(model_dir, single, tmp_path):
    out = tmp_path / "run"
    _run("mirrored", model_dir, out)
    weights, report = _load(out)
    ref_weights, ref = single
    assert report["replicas"] == 2 and report["rebuilt"] and report["model_in_scope"] and report["fused_update"]
    _assert_same_training(weights, ref_weights, report)
    assert report["lrs"] == pytest.approx(ref["lrs"])  # the schedule counts global steps: 4 per epoch
    assert len(report["lrs"]) == 2 * 64 // 16
    assert report["lr_find_restores"] and report["lr_find_steps"] > 0
    assert report["accuracy"] == ref["accuracy"] and report["validated"] == 32 and report["top_losses"] == 3
    assert report["prediction"] == ref["prediction"] and report["predictor_saved"]
    assert report["checkpoints"] == ["state-01.json", "state-02.json"]


def test_mirrored_strategy_keeps_layer_wise_lr_decay(model_dir, single, tmp_path):
    # The rebuilt model's optimizer must scale each replica's update of a variable like one device's.
    ref_out, out = tmp_path / "ref", tmp_path / "run"
    _run("single", model_dir, ref_out, TFCLF_TEST_LAYER_DECAY="0.5")
    _run("mirrored", model_dir, out, TFCLF_TEST_LAYER_DECAY="0.5")
    (ref_weights, _), (weights, report) = _load(ref_out), _load(out)
    worst = max(float(np.abs(a - b).max()) for a, b in zip(weights, ref_weights))
    print(f"largest weight difference from the one-device run: {worst:.2e} (moved up to {report['moved']:.2e})")
    # Had the replicas missed their multipliers, they would have moved 2-8x as far as one device.
    assert worst < ATOL and report["moved"] > 10 * ATOL
    # ... and the decay really changed training: the embeddings moved less than without it.
    plain = single[0][0] - _load_start(model_dir)
    decayed = ref_weights[0] - _load_start(model_dir)
    assert np.abs(decayed).mean() < 0.5 * np.abs(plain).mean()


def test_the_one_pass_adam_update_trains_as_keras_adam_does(model_dir, single, tmp_path):
    # tfclf.fast_ops' Adam updates each weight with TensorFlow's one-pass kernel (the strategy
    # tests above run it); Keras' own Adam ops must train the same weights.
    out = tmp_path / "plain"
    _run("single", model_dir, out, TFCLF_TEST_PLAIN_UPDATE="1")
    weights, report = _load(out)
    assert single[1]["fused_update"] and not report["fused_update"]
    _assert_same_training(weights, single[0], report)


def _load_start(model_dir: Path) -> np.ndarray:
    import h5py

    # The word embeddings as saved: the first weight of the model, before any training.
    with h5py.File(model_dir / "tf_model.h5", "r") as f:
        found = []
        f.visititems(lambda name, obj: found.append(obj[()]) if name.endswith("word_embeddings/weight:0") else None)
    return found[0]


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_multi_worker_mirrored_strategy_with_two_processes_matches_one_device(model_dir, single, tmp_path):
    out = tmp_path / "run"
    workers = [f"127.0.0.1:{p}" for p in _free_ports(2)]
    procs = []
    try:
        for index in range(2):
            tf_config = json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})
            procs.append(subprocess.Popen(
                [sys.executable, str(WORKER), "worker", str(model_dir), str(out)],
                env=_env(TF_CONFIG=tf_config, TFCLF_TEST_WORKER=str(index)),
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        results = [p.communicate(timeout=TIMEOUT_S) for p in procs]
    finally:
        for p in procs:  # never leave a worker behind, whatever happened
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, (stdout, stderr) in zip(procs, results):
        assert p.returncode == 0, f"worker failed:\n{stdout[-3000:]}\n{stderr[-6000:]}"
    ref_weights, ref = single
    for tag in ("0", "1"):
        weights, report = _load(out, tag)
        assert report["replicas"] == 2 and report["model_in_scope"]
        _assert_same_training(weights, ref_weights, report)
        assert report["lrs"] == pytest.approx(ref["lrs"])
    # Only the chief (worker 0) wrote checkpoints and the predictor.
    assert _load(out, "0")[1]["checkpoints"] == ["state-01.json", "state-02.json"]
    assert _load(out, "1")[1]["checkpoints"] == [] and not _load(out, "1")[1]["predictor_saved"]


def test_get_learner_rejects_a_non_strategy(tiny_distilbert_dir, toy_data):
    from tfclf import text

    t = text.Transformer(str(tiny_distilbert_dir), maxlen=32)
    trn = t.preprocess_train(*toy_data["train"], verbose=0)
    with pytest.raises(TypeError, match="tf.distribute.Strategy"):
        tfclf.get_learner(t.get_classifier(), trn, strategy="mirrored")
