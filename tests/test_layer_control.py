"""ktrain's layer controls on the Learner: freeze / unfreeze with ktrain's layer counting,
print_layers, reset_weights and decoupled weight decay."""

from __future__ import annotations

import numpy as np
import pytest

import tfclf
from tfclf import text


@pytest.fixture()
def learner(tiny_distilbert_dir, toy_data):
    tfclf.set_seed(0)
    t = text.Transformer(str(tiny_distilbert_dir), maxlen=16)
    trn = t.preprocess_train(*toy_data["train"], verbose=0)
    val = t.preprocess_test(*toy_data["val"], verbose=0)
    return tfclf.get_learner(t.get_classifier(), trn, val, batch_size=32, seed=0)


def _trained_layers(learner, before):
    return [i for i, (a, b) in enumerate(zip(before, [[w.numpy().copy() for w in layer.weights]
                                                      for layer in learner.model.layers]))
            if any(not np.array_equal(x, y) for x, y in zip(a, b))]


def _weights(learner):
    return [[w.numpy().copy() for w in layer.weights] for layer in learner.model.layers]


def test_freeze_trains_the_head_alone(learner, capsys):
    # DistilBERT's layers: the encoder, pre_classifier, classifier (the last Dense), dropout
    names = [layer.name for layer in learner.model.layers]
    learner.freeze()
    head = names.index("classifier")
    assert [layer.trainable for layer in learner.model.layers] == [i >= head for i in range(len(names))]
    before = _weights(learner)
    learner.fit_onecycle(1e-3, 1, verbose=0)
    assert _trained_layers(learner, before) == [head]
    learner.print_layers()
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("0 (frozen): distilbert") and out[head].startswith(f"{head} (trainable): classifier")


def test_freeze_range_and_unfreeze(learner):
    learner.freeze(2)
    assert [layer.trainable for layer in learner.model.layers][:3] == [False, False, True]
    learner.unfreeze()
    assert all(layer.trainable for layer in learner.model.layers)
    learner.unfreeze(exclude_range=1)
    before = _weights(learner)
    learner.fit_onecycle(1e-3, 1, verbose=0)
    trained = _trained_layers(learner, before)
    assert 0 not in trained and trained  # the encoder stayed, the head moved
    for bad in (0, -1, 1.5, True, "2", 99):
        with pytest.raises(ValueError, match="freeze_range"):
            learner.freeze(bad)


def test_reset_weights_restores_the_initial_model(learner, capsys):
    initial = [w.copy() for w in learner.model.get_weights()]
    learner.fit_onecycle(1e-3, 1, verbose=0)
    assert not all(np.array_equal(a, b) for a, b in zip(initial, learner.model.get_weights()))
    learner.reset_weights()
    assert all(np.array_equal(a, b) for a, b in zip(initial, learner.model.get_weights()))
    assert "reset" in capsys.readouterr().out and learner.history is None


def test_weight_decay_is_decoupled_recorded_and_spares_biases(learner):
    assert learner.get_weight_decay() is None
    learner.set_weight_decay(0.1)
    assert learner.get_weight_decay() == 0.1
    assert learner.model.config.tfclf_training["weight_decay"] == 0.1
    opt = learner.model.optimizer
    assert float(opt.weight_decay) == pytest.approx(0.1)
    biases = [v for v in learner.model.trainable_variables if "bias" in v.name]
    kernels = [v for v in learner.model.trainable_variables if "kernel" in v.name]
    assert biases and kernels
    assert all(opt._use_weight_decay(v) is False for v in biases)
    assert all(opt._use_weight_decay(v) for v in kernels)
    learner.fit_onecycle(1e-3, 1, verbose=0)  # trains with it
    learner.set_weight_decay(0)
    assert learner.get_weight_decay() is None and not learner.model.optimizer.weight_decay
    with pytest.raises(ValueError, match="weight decay"):
        learner.set_weight_decay(1.5)
