import logging
import re

import numpy as np
import pytest

from sae_pipelines.sae import (
    CorruptionConfig,
    ModelConfig,
    encoder_of,
    fit_sparse_autoencoder,
    input_corruption,
    training,
)
from sae_pipelines.sae.config import AuxKConfig
from sae_pipelines.sae.metrics import dead_fraction, mean_l0, reconstruction_mse
from sae_pipelines.sae.training import resampling_epochs, steps_per_call
from tests.sae.helpers import training_config as shared_training_config


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
        "jumprelu": {"target_l0": 4},
    }
    for name, value in settings.items():
        sparsity[name] = value
    return ModelConfig.model_validate(
        {"encoder_units": [], "code_size": 16, "sparsity": sparsity}
    )


def training_config(**overrides):
    """Longer than the shared default: these tests check what training reaches."""
    settings = {
        "epochs": 40,
        "early_stopping_patience": 100,
        "schedule": {"warmup": 0.02, "decay": "linear"},
        "seed": 3,
    }
    return shared_training_config(**(settings | overrides))


def codes_of(model, x):
    return encoder_of(model).predict(x, verbose=0)


def test_topk_gives_at_most_k_positive_codes_per_row(data):
    train, validation = data
    model, history = fit_sparse_autoencoder(
        train, validation, model_config("topk"), training_config()
    )
    codes = codes_of(model, validation)
    assert ((codes != 0).sum(axis=1) <= 4).all()
    assert (codes >= 0).all()
    assert (codes != 0).sum(axis=1).mean() > 3.5
    assert history["val_loss"][-1] < 0.5 * history["val_loss"][0]


def test_batchtopk_infers_about_k_codes_per_row_as_it_varies_by_row(data):
    train, validation = data
    model, history = fit_sparse_autoencoder(
        train, validation, model_config("batchtopk"), training_config()
    )
    per_row = (codes_of(model, validation) != 0).sum(axis=1)
    assert per_row.mean() == pytest.approx(4, rel=0.15)
    assert per_row.std() > 0.3
    assert history["val_reconstruction_mse"][-1] < history["val_reconstruction_mse"][0]


def test_jumprelu_settles_near_its_target_l0(data):
    train, validation = data

    def l0_with_target(target):
        config = model_config("jumprelu", jumprelu={"target_l0": target})
        model, _ = fit_sparse_autoencoder(
            train, validation, config, training_config(epochs=60)
        )
        return mean_l0(codes_of(model, validation))

    l0_of_3, l0_of_8 = l0_with_target(3), l0_with_target(8)
    assert l0_of_3 == pytest.approx(3, rel=0.3)
    assert l0_of_8 == pytest.approx(8, rel=0.3)


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


def test_steps_per_call_change_neither_the_weights_nor_the_curves(data, monkeypatch):
    train, validation = data  # 700 rows in batches of 64: 11 steps an epoch
    runs = []
    for flops in (10**15, 1):  # the whole epoch in one call, then a step a call
        monkeypatch.setattr(training, "FLOPS_PER_CALL", flops)
        runs.append(
            fit_sparse_autoencoder(
                train, validation, model_config("topk"), training_config(epochs=3)
            )
        )
    assert runs[0][1] == runs[1][1]
    for first, second in zip(
        runs[0][0].get_weights(), runs[1][0].get_weights(), strict=True
    ):
        np.testing.assert_array_equal(first, second)


def test_steps_per_call_divide_the_epoch_within_the_budget():
    assert steps_per_call(17, 64, 134, 64) == 17  # digits: an epoch a call
    assert steps_per_call(48, 784, 3136, 64) == 8  # 10 fit the budget; 8 divides 48
    assert steps_per_call(47, 784, 3136, 64) == 1


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
    no_auxk = {"coefficient": 0.0}  # with AuxK, TopK is not resampled
    without, _ = fit_sparse_autoencoder(
        train, validation, config, training_config(epochs=30, auxk=no_auxk)
    )
    caplog.clear()  # the fit above may have logged too (Kedro's logging config)
    with caplog.at_level(logging.INFO):
        with_resampling, _ = fit_sparse_autoencoder(
            train,
            validation,
            config,
            training_config(
                epochs=30,
                auxk=no_auxk,
                resample_dead_units={"every": 1 / 6, "until": 2 / 3},
            ),
        )
    dead_without = dead_fraction(codes_of(without, train))
    dead_with = dead_fraction(codes_of(with_resampling, train))
    assert dead_without > 0.1
    assert dead_with < dead_without
    assert any(
        re.fullmatch(r"Epoch 5: resampled \d+ dead code units", m)
        for m in [record.getMessage() for record in caplog.records]
    )

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
    ("rows", "width", "batch_size", "learning_rate"),
    [
        (700, 64, 64, 0.003),
        (1_077, 64, 64, 0.003),
        (3_000, 784, 64, 0.003 / 3.5),
        (48_000, 784, 512, 0.003 * 8**0.5 / 3.5),
        (10_000_000, 16, 1024, 0.003 * 8),
    ],
)
def test_auto_batch_grows_with_the_rows_and_the_step_with_batch_over_width(
    rows, width, batch_size, learning_rate
):
    config = training_config(batch_size="auto", learning_rate="auto")
    resolved = config.for_data(rows, width)
    assert resolved.batch_size == batch_size
    assert resolved.learning_rate == pytest.approx(learning_rate)


def test_explicit_batch_and_learning_rate_are_kept():
    config = training_config(batch_size=100, learning_rate=0.01, budget=1_000)
    assert config.for_data(48_000, 784) == config
    auto_rate = training_config(batch_size=100, learning_rate="auto")
    resolved = auto_rate.for_data(10, 64).learning_rate
    assert resolved == pytest.approx(0.003 * (100 / 64) ** 0.5)


def test_auxk_replaces_resampling_for_topk_and_batchtopk():
    every = {"every": 0.1, "until": 0.5}
    config = training_config(epochs=20, resample_dead_units=every)
    assert resampling_epochs(model_config("topk"), config) == []
    assert resampling_epochs(model_config("batchtopk"), config) == []
    assert resampling_epochs(model_config("jumprelu"), config) == [2, 4, 6, 8, 10]
    no_auxk = config.model_copy(update={"auxk": AuxKConfig(coefficient=0.0)})
    assert resampling_epochs(model_config("topk"), no_auxk) == [2, 4, 6, 8, 10]


def test_history_counts_units_silent_for_a_whole_epoch(data):
    train, validation = data
    config = model_config("topk").model_copy(update={"code_size": 48})
    model, history = fit_sparse_autoencoder(
        train, validation, config, training_config(epochs=20)
    )
    recent = history["dead_fraction_recent"]
    assert len(recent) == 20
    # Units silent on the last epoch's rows are about those silent on the
    # training rows now, and there are some: 48 units for 12 patterns.
    assert recent[-1] > 0.1
    assert recent[-1] == pytest.approx(dead_fraction(codes_of(model, train)), abs=0.1)
    assert {"loss", "val_loss", "reconstruction_mse", "auxk_loss"} <= set(history)
    # k = 4 selected a row; a selected code may still be 0 after the ReLU.
    assert all(3.0 < value <= 4.0 for value in history["l0"] + history["val_l0"])
