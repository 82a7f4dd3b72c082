import keras
import numpy as np
import pytest
import tensorflow as tf

from sae_pipelines.sae.config import ResamplingConfig
from sae_pipelines.sae.resampling import reset_moments
from sae_pipelines.sae.trainer import (
    auxk_loss,
    learning_rate_schedule,
    mean_squared_deviation,
)
from tests.sae.helpers import training_config


def test_auxk_rebuilds_the_residual_from_the_strongest_dead_units_only():
    directions = np.eye(4, dtype="float32")
    residual = np.array([[0.0, 2.0, 0.0, 0.0], [0.0, 0.0, 0.0, 3.0]], "float32")
    preactivations = np.array([[9.0, 2.0, 1.0, -1.0], [9.0, 0.5, 1.0, 3.0]], "float32")
    dead = np.array([False, True, True, True])
    # k = 1: row 0 keeps unit 1 (2.0, its residual exactly), row 1 unit 3 (3.0);
    # unit 0 is live, however large.
    assert float(auxk_loss(residual, preactivations, dead, 1, directions)) == 0.0
    # k = 2 adds unit 2 (1.0) on both rows, a unit the residual does not need.
    spread = np.sum(np.square(residual - residual.mean(axis=0)))
    assert float(auxk_loss(residual, preactivations, dead, 2, directions)) == (
        pytest.approx(2.0 / spread)
    )


def test_auxk_is_zero_without_dead_units_and_trains_only_through_them():
    directions = tf.Variable(np.eye(3, dtype="float32"))
    residual = np.ones((2, 3), "float32")
    preactivations = tf.Variable(np.ones((2, 3), "float32"))
    none_dead = np.zeros(3, bool)
    assert float(auxk_loss(residual, preactivations, none_dead, 2, directions)) == 0.0
    with tf.GradientTape() as tape:
        dead = np.array([True, False, False])
        differing = np.array([[4, 2, 3], [3, 1, 1]], "float32")
        loss = auxk_loss(differing, preactivations, dead, 1, directions)
    gradient = tape.gradient(loss, preactivations).numpy()
    assert gradient[:, 0].min() < 0 and (gradient[:, 1:] == 0).all()


def test_schedule_warms_up_from_zero_and_decays_to_zero_over_the_budget():
    schedule = learning_rate_schedule(training_config(), steps_per_epoch=10)
    rates = [float(schedule(step)) for step in (0, 5, 10, 55, 100)]
    assert rates[0] == 0.0
    assert rates[1] == pytest.approx(0.005)  # halfway through the 10 warmup steps
    assert rates[2] == pytest.approx(0.01)  # the peak
    assert rates[3] == pytest.approx(0.005, rel=1e-3)  # halfway down the cosine
    assert rates[4] == pytest.approx(0.0, abs=1e-9)


def test_schedule_without_warmup_or_decay_is_the_constant_rate():
    config = training_config(schedule={"warmup": 0.0, "decay": "none"})
    assert learning_rate_schedule(config, steps_per_epoch=10) == 0.01
    config = training_config(schedule={"warmup": 0.1, "decay": "none"})
    schedule = learning_rate_schedule(config, steps_per_epoch=10)
    assert float(schedule(10)) == float(schedule(99)) == pytest.approx(0.01)


@pytest.mark.parametrize(
    ("every", "until", "epochs"),
    [(0.05, 0.25, [20, 40, 60, 80, 100]), (0.05, 0.25, [1, 2, 3]), (0.0, 0.5, [])],
    ids=["400 epochs", "15 epochs", "off"],
)
def test_resampling_times_are_shares_of_the_budget(every, until, epochs):
    budget = 400 if epochs and epochs[-1] == 100 else 15
    assert ResamplingConfig(every=every, until=until).epochs(budget) == epochs


def test_reset_moments_zeroes_momentum_and_levels_velocity_of_the_units():
    layer = keras.layers.Dense(4, name="dense")
    layer.build((None, 3))
    optimizer = keras.optimizers.Adam(0.1)
    for scale in (1.0, 5.0):
        gradient = np.full((3, 4), scale, "float32") * [1, 2, 3, 4]
        optimizer.apply([gradient, np.zeros(4, "float32")], layer.trainable_variables)
    reset_moments(optimizer, layer.kernel, np.array([1]), axis=1)
    slots = {slot.name: np.array(slot) for slot in optimizer.variables}
    momentum, velocity = slots["dense_kernel_momentum"], slots["dense_kernel_velocity"]
    assert (momentum[:, 1] == 0).all() and (momentum[:, [0, 2, 3]] != 0).all()
    np.testing.assert_allclose(velocity[:, 1], velocity[:, [0, 2, 3]].mean(axis=1))
    assert (slots["dense_bias_momentum"] == 0).all()  # another variable: untouched


def test_mean_squared_deviation_is_the_fvu_denominator_per_row():
    rows = np.array([[0.0, 0.0], [2.0, 0.0], [4.0, 3.0]])
    assert mean_squared_deviation(rows) == pytest.approx((5 + 1 + 8) / 3)


def test_linear_schedule_holds_the_rate_then_decays_it_to_zero_at_the_end():
    config = training_config(schedule={"warmup": 0.1, "decay": "linear"})
    schedule = learning_rate_schedule(config, steps_per_epoch=10)
    rates = [float(schedule(step)) for step in (0, 5, 10, 79, 80, 90, 100)]
    assert rates[:4] == pytest.approx([0.0, 0.005, 0.01, 0.01])
    assert rates[4:] == pytest.approx([0.01, 0.005, 0.0], abs=1e-9)


def test_linear_decay_must_start_after_the_warmup():
    with pytest.raises(ValueError, match="decay_start=0.1 must come after warmup=0.2"):
        training_config(schedule={"warmup": 0.2, "decay": "linear", "decay_start": 0.1})
