import keras
import numpy as np
import pytest
import tensorflow as tf

from sae_pipelines.sae.dictionary import (
    InputCentring,
    UnitNormDecoder,
    fit_centring,
    geometric_median,
)
from tests.sae.helpers import normal


def test_geometric_median_resists_outlying_rows_where_the_mean_does_not():
    rows = np.concatenate([normal(95, 3), np.full((5, 3), 100.0, "float32")])
    median = geometric_median(rows)
    assert np.linalg.norm(median) < 0.5
    assert np.linalg.norm(rows.mean(axis=0)) > 5
    # At the median, the unit vectors towards the rows sum to (nearly) zero.
    pulls = (rows - median) / np.linalg.norm(rows - median, axis=1, keepdims=True)
    assert np.linalg.norm(pulls.sum(axis=0)) < 1e-3 * len(rows)


def test_fitted_centring_gives_centred_rows_unit_mean_squared_norm():
    rows = normal(500, 8) * 3.0 + 5.0
    layer = InputCentring()
    layer.build(rows.shape)
    fit_centring(layer, rows, seed=0)
    centred = np.asarray(layer(rows))
    assert np.mean(np.sum(np.square(centred), axis=1)) == pytest.approx(1.0, rel=1e-4)
    np.testing.assert_allclose(layer.offset.numpy(), geometric_median(rows), atol=1e-5)
    np.testing.assert_allclose(
        np.asarray(layer(centred, inverse=True)), rows, rtol=1e-5, atol=1e-4
    )
    by_feature = np.asarray(layer.centre_by_feature(rows.T))
    np.testing.assert_allclose(by_feature, centred.T, atol=1e-6)


def test_unit_norm_decoder_writes_unit_rows_and_projects_their_gradient():
    layer = UnitNormDecoder(5)
    codes = normal(16, 3)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(layer(codes) - 1.0))
    directions = np.asarray(layer.directions())
    np.testing.assert_allclose(np.linalg.norm(directions, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(layer(codes)), codes @ directions, atol=1e-5)
    gradient = tape.gradient(loss, layer.kernel).numpy()
    # No part of a row's gradient points along the row: only its direction moves.
    np.testing.assert_allclose(
        np.sum(gradient * layer.kernel.numpy(), axis=1), 0.0, atol=1e-4
    )


def test_unit_norm_decoder_rows_stay_unit_after_an_optimiser_step():
    layer = UnitNormDecoder(4)
    layer.build((None, 6))
    optimizer = keras.optimizers.Adam(0.1)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(layer(normal(8, 6)) - 2.0))
    optimizer.apply(tape.gradient(loss, [layer.kernel]), [layer.kernel])
    np.testing.assert_allclose(
        np.linalg.norm(layer.kernel.numpy(), axis=1), 1.0, rtol=1e-5
    )


def test_centred_model_reloads_in_safe_mode(tmp_path):
    inputs = keras.Input((6,))
    centring = InputCentring()
    hidden = keras.layers.Dense(4)(centring(inputs))
    outputs = centring(UnitNormDecoder(6)(hidden), inverse=True)
    model = keras.Model(inputs, outputs)
    fit_centring(centring, normal(64, 6) + 2.0, seed=0)
    model.save(tmp_path / "model.keras")
    reloaded = keras.models.load_model(tmp_path / "model.keras", safe_mode=True)
    x = normal(10, 6, seed=1)
    np.testing.assert_array_equal(
        reloaded.predict(x, verbose=0), model.predict(x, verbose=0)
    )
