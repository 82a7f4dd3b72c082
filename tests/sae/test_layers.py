import keras
import numpy as np
import pytest

from sae_pipelines.sae.layers import (
    InputCorruption,
    ReLUWithL1Penalty,
    SigmoidWithKLPenalty,
    TopKActivation,
    kl_penalty,
    l1_penalty,
)


def test_topk_keeps_exactly_k_largest_per_row():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(50, 16)).astype("float32")
    out = keras.ops.convert_to_numpy(TopKActivation(3)(values))
    assert ((out != 0).sum(axis=1) == 3).all()
    kept = np.sort(values, axis=1)[:, -3:]
    np.testing.assert_allclose(np.sort(out[out != 0].reshape(50, 3), axis=1), kept)


def test_l1_penalty_is_weight_times_mean_row_l1_norm():
    codes = np.array([[1.0, -2.0], [0.0, 3.0]], dtype="float32")
    penalty = float(l1_penalty(codes, 0.5))
    assert penalty == pytest.approx(0.5 * (3.0 + 3.0) / 2)


def test_kl_penalty_is_zero_at_target_and_positive_away_from_it():
    at_target = np.full((10, 4), 0.1, dtype="float32")
    away = np.full((10, 4), 0.5, dtype="float32")
    assert float(kl_penalty(at_target, rho=0.1, beta=2.0)) == pytest.approx(
        0.0, abs=1e-5
    )
    assert float(kl_penalty(away, rho=0.1, beta=2.0)) > 0.5


def test_penalty_layers_add_their_penalty_once_per_batch_independent_of_size():
    inputs = keras.Input((3,))
    model = keras.Model(inputs, ReLUWithL1Penalty(1.0)(inputs))
    for rows in (2, 32):
        x = np.tile(np.array([[1.0, -1.0, 2.0]], dtype="float32"), (rows, 1))
        model(x)
        assert float(sum(model.losses)) == pytest.approx(3.0)


@pytest.mark.parametrize(
    "piece",
    [
        TopKActivation(2, name="codes"),
        ReLUWithL1Penalty(0.1),
        SigmoidWithKLPenalty(0.05, 1.0),
    ],
)
def test_models_with_each_piece_reload_in_safe_mode(tmp_path, piece):
    inputs = keras.Input((6,))
    outputs = keras.layers.Dense(6)(piece(keras.layers.Dense(4)(inputs)))
    model = keras.Model(inputs, outputs)
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.models.load_model(path, safe_mode=True)
    x = np.random.default_rng(1).normal(size=(5, 6)).astype("float32")
    np.testing.assert_allclose(
        reloaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6
    )


@pytest.mark.parametrize(
    ("method", "settings"),
    [("gaussian", {"noise_std": 0.5}), ("mask", {"mask_fraction": 0.3})],
)
def test_input_corruption_only_in_training(method, settings):
    values = np.ones((400, 50), dtype="float32")
    layer = InputCorruption(method, seed=0, **settings)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(values)), values)
    corrupted = keras.ops.convert_to_numpy(layer(values, training=True))
    if method == "gaussian":
        assert np.std(corrupted - values) == pytest.approx(0.5, rel=0.05)
    else:
        assert set(np.unique(corrupted)) == {0.0, 1.0}
        assert np.mean(corrupted == 0) == pytest.approx(0.3, abs=0.02)


def test_unknown_corruption_is_named():
    with pytest.raises(ValueError, match="'blur'"):
        InputCorruption("blur")
