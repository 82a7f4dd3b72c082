import keras
import numpy as np
import pytest

from sae_pipelines.sae import FusedAdam, build_optimizer


def fitted_weights(optimizer, steps=30):
    """A small regression fitted for ``steps`` steps from a seeded start."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 12)).astype("float32")
    y = np.tanh(x @ rng.normal(size=(12, 5))).astype("float32")
    model = keras.Sequential(
        [keras.Input((12,)), keras.layers.Dense(8, "relu"), keras.layers.Dense(5)]
    )
    model.compile(optimizer=optimizer, loss="mse")
    model.fit(x, y, batch_size=32, epochs=steps // 8, shuffle=False, verbose=0)
    return model.get_weights()


@pytest.mark.parametrize("amsgrad", [False, True])
def test_fused_adam_follows_keras_adam(amsgrad):
    settings = {"learning_rate": 0.01, "beta_1": 0.8, "epsilon": 1e-6}
    fused = fitted_weights(FusedAdam(**settings, amsgrad=amsgrad))
    reference = fitted_weights(keras.optimizers.Adam(**settings, amsgrad=amsgrad))
    for ours, theirs in zip(fused, reference, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-6)


def test_a_model_saved_with_fused_adam_loads_with_its_settings(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer=build_optimizer("adam", 0.004), loss="mse")
    model.fit(np.ones((8, 3)), np.zeros((8, 2)), verbose=0)
    model.save(tmp_path / "model.keras")

    loaded = keras.models.load_model(tmp_path / "model.keras")

    assert isinstance(loaded.optimizer, FusedAdam)
    assert float(loaded.optimizer.learning_rate) == pytest.approx(0.004)
    assert int(loaded.optimizer.iterations) == 1


def test_other_optimizers_come_from_keras_by_name():
    optimizer = build_optimizer("sgd", 0.1)

    assert type(optimizer) is keras.optimizers.SGD
    assert float(optimizer.learning_rate) == pytest.approx(0.1)
