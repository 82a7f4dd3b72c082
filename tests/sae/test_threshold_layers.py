import keras
import numpy as np
import pytest
import tensorflow as tf

from sae_pipelines.sae.threshold_layers import (
    BatchTopKActivation,
    JumpReLUWithL0Penalty,
    jump_relu,
    step_l0,
)
from tests.sae.helpers import normal


def test_batchtopk_keeps_the_k_times_b_largest_of_the_batch_in_training():
    values = normal(50, 16)
    out = keras.ops.convert_to_numpy(BatchTopKActivation(3)(values, training=True))
    assert (out != 0).sum() == 3 * 50
    kept = np.sort(values.ravel())[-150:]
    np.testing.assert_array_equal(np.sort(out[out != 0]), kept)
    # Rows get as many as they need: not 3 each.
    assert len(np.unique((out != 0).sum(axis=1))) > 1


def test_batchtopk_never_keeps_a_negative_value():
    values = normal(50, 16) - 2.0  # few positives: fewer than k·B are kept
    out = keras.ops.convert_to_numpy(BatchTopKActivation(3)(values, training=True))
    assert (out < 0).sum() == 0
    assert (out > 0).sum() == (values > 0).sum() < 3 * 50


def test_batchtopk_infers_with_the_threshold_learnt_in_training():
    layer = BatchTopKActivation(3, momentum=0.5)
    first, second = normal(50, 16, seed=1), normal(50, 16, seed=2) + 1.0
    cuts = [np.sort(batch.ravel())[-150] for batch in (first, second)]
    layer(first, training=True)
    assert float(layer.threshold.numpy()) == pytest.approx(cuts[0])  # first sets it
    layer(second, training=True)
    expected = 0.5 * cuts[0] + 0.5 * cuts[1]
    assert float(layer.threshold.numpy()) == pytest.approx(expected)
    test = normal(20, 16, seed=3)
    out = keras.ops.convert_to_numpy(layer(test))
    np.testing.assert_array_equal(out, np.where(test > expected, test, 0.0))
    assert float(layer.threshold.numpy()) == pytest.approx(expected)  # not updated


def test_jumprelu_zeroes_codes_below_each_units_threshold():
    layer = JumpReLUWithL0Penalty(2.0, 0.1, 0.05, 0.01)
    values = np.abs(normal(40, 3))
    layer.build(values.shape)
    thresholds = np.array([0.2, 0.8, 1.5], dtype="float32")
    layer.threshold.assign(thresholds)
    out = keras.ops.convert_to_numpy(layer(values))
    np.testing.assert_allclose(out, np.where(values > thresholds, values, 0.0))
    l0 = (values > thresholds).sum(axis=1).mean()
    assert float(sum(layer.losses)) == pytest.approx(0.1 * (l0 / 2 - 1) ** 2, rel=1e-5)


def test_thresholds_learn_through_the_straight_through_estimator():
    z = tf.constant([[0.50, 0.10], [0.52, 0.90], [2.00, 0.11]])
    theta = tf.Variable([0.51, 0.10])
    bandwidth = 0.1
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(z)
        codes = jump_relu(z, theta, bandwidth)
        l0 = tf.reduce_sum(step_l0(z, theta, bandwidth))
    # Only rows within ε/2 of a threshold move it: 0.50 and 0.52 for unit 0,
    # 0.10 and 0.11 for unit 1; -θ/ε each through the codes, -1/ε through L0.
    np.testing.assert_allclose(
        tape.gradient(codes, theta).numpy(), [-2 * 0.51 / 0.1, -2 * 0.10 / 0.1]
    )
    np.testing.assert_allclose(tape.gradient(l0, theta).numpy(), [-20.0, -20.0])
    np.testing.assert_array_equal(
        tape.gradient(codes, z).numpy(), [[0, 0], [1, 1], [1, 1]]
    )
    assert np.all(tape.gradient(l0, z).numpy() == 0)


@pytest.mark.parametrize(
    "piece",
    [
        BatchTopKActivation(2, name="codes"),
        JumpReLUWithL0Penalty(2.0, 0.01, 0.1, 0.01),
    ],
    ids=["batchtopk", "jumprelu"],
)
def test_trained_thresholds_reload_in_safe_mode(tmp_path, piece):
    inputs = keras.Input((6,))
    outputs = keras.layers.Dense(6)(piece(keras.layers.Dense(4)(inputs)))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="mse")
    x = normal(64, 6, seed=1)
    model.fit(x, x, epochs=2, batch_size=16, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.models.load_model(path, safe_mode=True)
    for saved, loaded in zip(model.weights, reloaded.weights, strict=True):
        np.testing.assert_array_equal(saved.numpy(), loaded.numpy())
    untrained = {BatchTopKActivation: 0.0, JumpReLUWithL0Penalty: 0.01}[type(piece)]
    assert not np.allclose(piece.threshold.numpy(), untrained)
    np.testing.assert_array_equal(
        reloaded.predict(x, verbose=0), model.predict(x, verbose=0)
    )
