import logging
import re

import numpy as np
import pytest

from sae_pipelines.sae import (
    CorruptionConfig,
    ModelConfig,
    TrainingConfig,
    encoder_of,
    fit_sparse_autoencoder,
    input_corruption,
)
from sae_pipelines.sae.metrics import dead_fraction, mean_l0, reconstruction_mse


@pytest.fixture(scope="module")
def data():
    """Rows mixing 3 of 12 random non-negative patterns: a sparse code exists."""
    rng = np.random.default_rng(0)
    atoms = rng.uniform(size=(12, 24))
    weights = np.zeros((900, 12))
    for row in weights:
        row[rng.choice(12, 3, replace=False)] = rng.uniform(0.3, 1.0, 3)
    x = (weights @ atoms / 3).astype("float32")
    return x[:700], x[700:]


def model_config(method, **settings):
    sparsity = {
        "method": method,
        "l1": {"weight": 0.0},
        "kl": {"rho": 0.05, "beta": 1.0},
        "topk": {"k": 4},
        "batchtopk": {"k": 4},
        "jumprelu": {"l0_weight": 0.001, "bandwidth": 0.05},
    }
    for name, value in settings.items():
        sparsity[name] = value
    return ModelConfig.model_validate(
        {
            "encoder_units": [],
            "code_size": 16,
            "output_activation": "sigmoid",
            "sparsity": sparsity,
        }
    )


def training_config(**overrides):
    settings = {
        "learning_rate": 0.01,
        "batch_size": 64,
        "epochs": 40,
        "early_stopping_patience": 100,
        "resample_dead_units": {"every_epochs": 0, "until_epoch": 0},
        "seed": 3,
    } | overrides
    return TrainingConfig.model_validate(settings)


def codes_of(model, x):
    return encoder_of(model).predict(x, verbose=0)


def test_topk_gives_exactly_k_non_zero_codes_per_row(data):
    train, validation = data
    model, history = fit_sparse_autoencoder(
        train, validation, model_config("topk"), training_config()
    )
    codes = codes_of(model, validation)
    assert ((codes != 0).sum(axis=1) == 4).all()
    assert history["val_loss"][-1] < history["val_loss"][0]


def test_batchtopk_infers_about_k_codes_per_row_as_it_varies_by_row(data):
    train, validation = data
    model, history = fit_sparse_autoencoder(
        train, validation, model_config("batchtopk"), training_config()
    )
    per_row = (codes_of(model, validation) != 0).sum(axis=1)
    assert per_row.mean() == pytest.approx(4, rel=0.15)
    assert per_row.std() > 0.3
    assert history["val_reconstruction_mse"][-1] < history["val_reconstruction_mse"][0]


def test_jumprelu_l0_weight_trades_active_codes_for_error(data):
    train, validation = data

    def fit(weight):
        config = model_config(
            "jumprelu", jumprelu={"l0_weight": weight, "bandwidth": 0.05}
        )
        model, _ = fit_sparse_autoencoder(train, validation, config, training_config())
        codes = codes_of(model, validation)
        mse = reconstruction_mse(validation, model.predict(validation, verbose=0))
        return mean_l0(codes), mse

    (l0_free, mse_free), (l0_penalised, mse_penalised) = fit(0.0), fit(0.01)
    assert l0_penalised < 0.7 * l0_free
    assert mse_penalised > mse_free


def test_kl_brings_mean_activation_near_rho(data):
    train, validation = data
    config = model_config("kl", kl={"rho": 0.05, "beta": 3.0})
    model, _ = fit_sparse_autoencoder(
        train, validation, config, training_config(epochs=60)
    )
    mean_activation = codes_of(model, validation).mean()
    assert abs(mean_activation - 0.05) < 0.03


def test_l1_penalty_lowers_l0_against_the_same_model_without_it(data):
    train, validation = data
    plain, _ = fit_sparse_autoencoder(
        train, validation, model_config("l1"), training_config()
    )
    penalised, _ = fit_sparse_autoencoder(
        train, validation, model_config("l1", l1={"weight": 0.05}), training_config()
    )
    assert mean_l0(codes_of(penalised, validation)) < 0.7 * mean_l0(
        codes_of(plain, validation)
    )


@pytest.mark.parametrize("method", ["topk", "batchtopk", "jumprelu"])
def test_same_seed_gives_identical_training(data, method):
    train, validation = data
    runs = [
        fit_sparse_autoencoder(
            train, validation, model_config(method), training_config(epochs=5)
        )
        for _ in range(2)
    ]
    assert runs[0][1] == runs[1][1]
    for first, second in zip(
        runs[0][0].get_weights(), runs[1][0].get_weights(), strict=True
    ):
        np.testing.assert_array_equal(first, second)


def test_resampling_revives_dead_units(data, caplog, monkeypatch):
    monkeypatch.setenv("TTY_COMPATIBLE", "0")  # progress as log lines
    train, validation = data
    config = ModelConfig.model_validate(
        {
            **model_config("topk").model_dump(),
            "code_size": 48,
            "sparsity": {
                **model_config("topk").sparsity.model_dump(),
                "topk": {"k": 2},
            },
        }
    )
    without, _ = fit_sparse_autoencoder(
        train, validation, config, training_config(epochs=30)
    )
    caplog.clear()  # the fit above may have logged too (Kedro's logging config)
    with caplog.at_level(logging.INFO):
        with_resampling, _ = fit_sparse_autoencoder(
            train,
            validation,
            config,
            training_config(
                epochs=30, resample_dead_units={"every_epochs": 5, "until_epoch": 20}
            ),
        )
    dead_without = dead_fraction(codes_of(without, train))
    dead_with = dead_fraction(codes_of(with_resampling, train))
    assert dead_without > 0.1
    assert dead_with < dead_without

    messages = [record.getMessage() for record in caplog.records]
    assert re.fullmatch(r"Training on (the CPU|.*GPU.*): 700 rows .*", messages[0])
    progress = [m for m in messages if m.startswith("Training: ")]
    assert len(progress) == 10
    assert re.match(
        r"Training: 30/30 epochs \(100%\), loss=0\.\d{5} val_loss=", progress[-1]
    )


def test_denoising_training_removes_noise_from_held_out_rows(data):
    train, validation = data
    corruption = {"method": "gaussian", "noise_std": 0.1}
    model, _ = fit_sparse_autoencoder(
        train,
        validation,
        model_config("topk"),
        training_config(epochs=60, corruption=corruption),
    )
    noisy = np.asarray(
        input_corruption(CorruptionConfig(**corruption), seed=1)(
            validation, training=True
        )
    )
    denoised = model.predict(noisy, verbose=0)
    assert reconstruction_mse(validation, denoised) < 0.8 * reconstruction_mse(
        validation, noisy
    )
    assert [layer.name for layer in model.layers if "corruption" in layer.name] == []


@pytest.mark.parametrize(
    ("rows", "batch_size"),
    [(700, 64), (1_077, 64), (48_000, 512), (10_000_000, 1024)],
)
def test_auto_batch_grows_with_the_rows_and_the_step_with_its_root(rows, batch_size):
    config = training_config(batch_size="auto", learning_rate="auto")
    resolved = config.for_rows(rows)
    assert resolved.batch_size == batch_size
    assert resolved.learning_rate == pytest.approx(0.003 * (batch_size / 64) ** 0.5)


def test_explicit_batch_and_learning_rate_are_kept():
    config = training_config(batch_size=100, learning_rate=0.01)
    assert config.for_rows(48_000) == config
    auto_rate = training_config(batch_size=100, learning_rate="auto").for_rows(10)
    assert auto_rate.learning_rate == pytest.approx(0.003 * (100 / 64) ** 0.5)
