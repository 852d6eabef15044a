"""tfclf.fast_ops: the erf GELU and the 16-bit-mask attention dropout give transformers' results."""

from __future__ import annotations

import numpy as np
import pytest

import helpers

from tfclf import fast_ops


@pytest.fixture(autouse=True)
def _enabled():
    yield
    fast_ops.ENABLED = True


def _classifier(folder, **kwargs):
    from tfclf import text

    t = text.Transformer(str(folder), maxlen=16, **kwargs)
    t.preprocess_train(["a good day", "a bad day"], ["pos", "neg"], verbose=0)
    return t.get_classifier()


def test_erf_gelu_is_the_same_function_and_gradient():
    from tfclf._compat import tf

    x = tf.constant(np.linspace(-12, 12, 4001), tf.float32)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        plain = tf.keras.activations.gelu(x, approximate=False)
        erf = fast_ops.erf_gelu_function()(x)
    np.testing.assert_allclose(erf.numpy(), plain.numpy(), atol=2e-6, rtol=1e-6)
    np.testing.assert_allclose(tape.gradient(erf, x).numpy(), tape.gradient(plain, x).numpy(), atol=2e-6)


@pytest.mark.parametrize("kind", helpers.ARCHITECTURES)
def test_every_build_path_gets_the_fast_ops(kind, tmp_path):
    folder = helpers.save_tiny_encoder(kind, tmp_path / kind)
    model = _classifier(folder)
    assert fast_ops.gelu_sites(model) == []  # ALBERT's gelu_new is another function: nothing to swap
    assert fast_ops.dropout_sites(model) == []
    dropouts = [m for m in model.submodules if type(m).__name__ == "MaskDropout"]
    if kind == "albert":  # AlbertConfig's dropout rates default to 0: nothing to replace
        assert dropouts == []
    else:
        assert dropouts and all(abs(d.rate - 0.1) < 1e-9 for d in dropouts)


def test_disabled_keeps_transformers_ops_and_gives_the_same_logits(tiny_bert_dir):
    from tfclf._compat import tf

    fast = _classifier(tiny_bert_dir)
    fast_ops.ENABLED = False
    plain = _classifier(tiny_bert_dir)
    assert len(fast_ops.gelu_sites(plain)) == 2 and len(fast_ops.dropout_sites(plain)) > 0
    plain.set_weights(fast.get_weights())
    ids = tf.constant(np.random.default_rng(0).integers(5, 40, size=(3, 12)), tf.int32)
    inputs = {"input_ids": ids, "attention_mask": tf.ones_like(ids)}
    np.testing.assert_allclose(fast(inputs, training=False).logits.numpy(),
                               plain(inputs, training=False).logits.numpy(), atol=1e-5)


def _mask_dropout(rate=0.1, dtype="float32"):
    from tf_keras.layers import Dropout

    return fast_ops.mask_dropout(Dropout(rate, dtype=dtype))


def test_mask_dropout_rate_scale_and_gradient():
    from tfclf._compat import tf

    layer = _mask_dropout(0.1)
    x = tf.ones((64, 4, 32, 33))  # an odd element count: the last 32-bit word is half used
    assert np.array_equal(layer(x, training=False).numpy(), x.numpy())
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
    out = y.numpy()
    kept = out != 0
    n = out.size
    # the drop probability is round(0.1 * 65536) / 65536; 5 standard errors either way
    p = 6554 / 65536
    assert abs((1 - kept.mean()) - p) < 5 * np.sqrt(p * (1 - p) / n)
    np.testing.assert_allclose(out[kept], 65536 / (65536 - 6554), rtol=1e-6)
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), out)  # d(mask * scale * x)/dx
    assert abs(out.mean() - 1) < 0.01  # the expectation is kept


def test_mask_dropout_is_a_keras_dropout_that_rate_zero_turns_off():
    from tf_keras.layers import Dropout

    from tfclf._compat import tf

    layer = _mask_dropout(0.5)
    assert isinstance(layer, Dropout)  # code that finds dropout layers by type finds it
    layer.rate = 0.0  # the Keras idiom for "no dropout" (tests of exact resumption use it)
    x = tf.ones((4, 64))
    assert np.array_equal(layer(x, training=True).numpy(), x.numpy())


def test_mask_dropout_masks_differ_between_calls_and_repeat_under_a_seed():
    import tfclf
    from tfclf._compat import tf

    x = tf.ones((8, 2, 16, 16), tf.bfloat16)

    def draws():
        tfclf.set_seed(7)
        layer = _mask_dropout(0.3, "mixed_bfloat16")
        return [layer(x, training=True).numpy().astype(np.float32) for _ in range(2)]

    first, second = draws(), draws()
    assert not np.array_equal(first[0], first[1])
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    assert _mask_dropout(0.3, "mixed_bfloat16")(x, training=True).dtype == tf.bfloat16


def test_reloaded_predictor_gets_the_fast_ops(trained, tmp_path):
    import tfclf
    from tfclf.classifier import load_classifier

    tfclf.get_predictor(trained.learner.model, trained.t).save(tmp_path / "p")
    model = load_classifier(tmp_path / "p", "float32")
    assert fast_ops.gelu_sites(model) == [] and fast_ops.dropout_sites(model) == []


def _two_updates(optimizer_factory):
    """Weights after three Adam steps with Keras' ops and with the one-pass kernel, from the same
    start and gradients (one of them sparse with a repeated row, as an embedding's is), the momentum
    changed between steps as 1cycle changes it."""
    from tfclf._compat import tf

    rng = np.random.default_rng(0)
    start = [rng.normal(size=(50, 8)).astype("float32"), rng.normal(size=(8,)).astype("float32")]
    grads = [tf.IndexedSlices(tf.constant(rng.normal(size=(4, 8)), tf.float32), tf.constant([1, 7, 7, 30])),
             tf.constant(rng.normal(size=(8,)), tf.float32)]
    results = []
    for fused in (False, True):
        variables = [tf.Variable(w, name=f"layer_._0/w{i}") for i, w in enumerate(start)]
        beta_1 = tf.Variable(0.9, trainable=False)
        opt = optimizer_factory(variables, beta_1=beta_1, fused=fused)
        assert opt.fused is fused
        step = tf.function(lambda opt=opt, variables=variables: opt.apply_gradients(zip(grads, variables)))
        for i in range(3):
            beta_1.assign(0.9 - 0.02 * i)
            step()
        results.append([v.numpy() for v in variables])
    return start, results


def test_one_pass_update_is_adams_update():
    start, (plain, fused) = _two_updates(lambda _, **kw: fast_ops.adam_class()(1e-2, epsilon=1e-8, **kw))
    for a, b, w in zip(plain, fused, start):
        assert not np.allclose(a, w)
        # the same formula; float32 rounds the kernel's fused arithmetic apart from Keras' ops by
        # about 1e-5 of how far the weights moved (up to 0.03)
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-6)
    # an embedding row no batch used keeps zero moments, so neither update moves it
    np.testing.assert_array_equal(fused[0][0], start[0][0])
    np.testing.assert_array_equal(plain[0][0], start[0][0])


def test_one_pass_update_keeps_layer_decay():
    from tfclf.optim import _layer_decay_adam_class

    start, (plain, fused) = _two_updates(
        lambda vs, **kw: _layer_decay_adam_class()({vs[0].name: 0.5}, learning_rate=1e-2, **kw))
    for a, b in zip(plain, fused):
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-6)
    one = _two_updates(lambda vs, **kw: _layer_decay_adam_class()({}, learning_rate=1e-2, **kw))[1][1]
    moved_decayed, moved_full = np.abs(fused[0] - start[0]).mean(), np.abs(one[0] - start[0]).mean()
    assert moved_decayed < 0.75 * moved_full  # the multiplier 0.5 was applied under the kernel too


def test_classifiers_compile_with_the_one_pass_update_unless_fast_ops_are_off(tiny_bert_dir):
    optimizer = _classifier(tiny_bert_dir).optimizer
    assert isinstance(optimizer, fast_ops.adam_class()) and optimizer.fused
    assert optimizer.get_config()["fused"] is True
    fast_ops.ENABLED = False
    assert not _classifier(tiny_bert_dir).optimizer.fused


def _dropouts_by_place(model) -> dict[str, list[float]]:
    """The rates of `model`'s dropout layers on attention probabilities and elsewhere."""
    from tf_keras.layers import Dropout

    places = {"attention": [], "hidden": []}
    for parent in model.submodules:
        for value in vars(parent).values():
            if isinstance(value, Dropout):
                where = "attention" if type(parent).__name__.endswith("SelfAttention") else "hidden"
                places[where].append(float(value.rate))
    return places


@pytest.mark.parametrize("kind", ["distilbert", "bert", "roberta"])
def test_attention_dropout_option_turns_off_the_attention_dropouts_only(kind, tmp_path):
    from tfclf import text

    folder = helpers.save_tiny_encoder(kind, tmp_path / kind)
    t = text.Transformer(str(folder), maxlen=16)
    t.preprocess_train(["a good day", "a bad day"], ["pos", "neg"], verbose=0)
    off = t.get_classifier(attention_dropout=0.0)
    places = _dropouts_by_place(off)
    assert places["attention"] and set(places["attention"]) == {0.0}
    assert places["hidden"] and set(places["hidden"]) == {0.1}
    # the configuration says how the model was trained (config.json when saved)
    key = "attention_dropout" if kind == "distilbert" else "attention_probs_dropout_prob"
    assert getattr(off.config, key) == 0.0
    # another model from the same Transformer keeps the model's own rate: each has its own config
    again = t.get_classifier()
    assert set(_dropouts_by_place(again)["attention"]) == {0.1} and getattr(again.config, key) == 0.1
    assert getattr(off.config, key) == 0.0
    assert set(_dropouts_by_place(t.get_classifier(attention_dropout=0.25))["attention"]) == {0.25}


def test_with_attention_dropout_off_only_the_hidden_dropout_is_random(tiny_bert_dir):
    """With attention dropout 0 the only randomness left in a training-mode forward pass is the
    hidden dropout; with that also at 0 (set the Keras way) two training passes are equal."""
    from tf_keras.layers import Dropout

    from tfclf import text
    from tfclf._compat import tf

    t = text.Transformer(str(tiny_bert_dir), maxlen=16)
    t.preprocess_train(["a good day", "a bad day"], ["pos", "neg"], verbose=0)
    model = t.get_classifier(attention_dropout=0.0)
    ids = tf.constant(np.random.default_rng(0).integers(5, 40, size=(3, 12)), tf.int32)
    inputs = {"input_ids": ids, "attention_mask": tf.ones_like(ids)}
    assert not np.array_equal(model(inputs, training=True).logits.numpy(), model(inputs, training=True).logits.numpy())
    for layer in model.submodules:
        if isinstance(layer, Dropout):
            layer.rate = 0.0
    np.testing.assert_array_equal(model(inputs, training=True).logits.numpy(),
                                  model(inputs, training=True).logits.numpy())


@pytest.mark.parametrize("rate", [-0.1, 1.0, "0", True])
def test_attention_dropout_rejects_what_is_not_a_rate(tiny_bert_dir, rate):
    from tfclf import text

    t = text.Transformer(str(tiny_bert_dir), maxlen=16)
    t.preprocess_train(["a good day", "a bad day"], ["pos", "neg"], verbose=0)
    with pytest.raises(ValueError, match=r"attention_dropout must be a rate in \[0, 1\)"):
        t.get_classifier(attention_dropout=rate)


def test_attention_dropout_names_the_models_without_one():
    from tfclf._compat import transformers
    from tfclf.classifier import set_attention_dropout

    config = transformers.XLNetConfig(d_model=32, n_layer=1, n_head=2, d_inner=64)
    with pytest.raises(ValueError, match="XLNetConfig names no attention-dropout rate.*leave it None"):
        set_attention_dropout(config, 0.0)
    set_attention_dropout(config, None)  # the model's own: nothing to set
