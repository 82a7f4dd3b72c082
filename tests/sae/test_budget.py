"""The training budget: rows seen over the fit, split into ``epochs`` epochs."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from sae_pipelines.parameters.validation import validate_parameters
from sae_pipelines.sae import ModelConfig, fit_sparse_autoencoder, training
from sae_pipelines.sae.config import MAX_AUTO_EPOCH_ROWS
from sae_pipelines.sae.trainer import DEVIATION_CHUNK_ROWS, mean_squared_deviation
from sae_pipelines.sae.training import (
    auxk_settings,
    row_sample,
    shuffled_batches,
)
from tests.sae.helpers import normal, training_config


def topk_model(code_size: int) -> ModelConfig:
    sparsity = {
        "method": "topk",
        "l1": {"weight": 0.0},
        "kl": {"rho": 0.05, "beta": 1.0},
        "topk": {"k": 4},
        "batchtopk": {"k": 4},
        "jumprelu": {"target_l0": 4},
    }
    return ModelConfig.model_validate({"code_size": code_size, "sparsity": sparsity})


@pytest.mark.parametrize(
    ("rows", "epoch_rows"),
    [
        (1_077, 1_077),  # digits: every epoch a pass, as with a budget in epochs
        (48_000, 48_000),  # the MNIST environment's training rows
        (MAX_AUTO_EPOCH_ROWS, MAX_AUTO_EPOCH_ROWS),
        (600_000, MAX_AUTO_EPOCH_ROWS),  # capped: 20 M rows seen in 400 epochs
        (6_000_000, MAX_AUTO_EPOCH_ROWS),
    ],
    ids=["digits", "mnist", "at the cap", "600k", "6M"],
)
def test_auto_budget_is_epochs_of_the_rows_up_to_the_cap(rows, epoch_rows):
    config = training_config(epochs=400).for_data(rows, 32)
    assert config.budget == 400 * epoch_rows
    assert config.epoch_rows() == epoch_rows


def test_an_explicit_budget_is_kept_and_split_into_the_epochs():
    config = training_config(epochs=400, budget=1_000_000).for_data(600_000, 32)
    assert config.budget == 1_000_000
    assert config.epoch_rows() == 2_500
    # Larger than the table's epochs: an epoch is more than a pass over it.
    longer = training_config(epochs=10, budget=5_001).for_data(100, 32)
    assert longer.epoch_rows() == 501


@pytest.mark.parametrize("value", ["lots", 0, -5, 1.5, True, None])
def test_a_bad_budget_is_named_in_one_line(params, value):
    params["training"]["budget"] = value
    with pytest.raises(ValueError, match=r"training\.budget") as error:
        validate_parameters(params)
    lines = [line for line in str(error.value).splitlines() if "budget" in line]
    assert len(lines) == 1
    assert "auto or a whole number of training rows" in lines[0]


def test_auxk_counts_units_dead_after_an_epochs_rows_not_the_tables():
    model = topk_model(64)
    config = training_config(epochs=400, auxk={"coefficient": 0.03125})
    assert auxk_settings(model, config, 16, 1_000).dead_after_rows == 1_000
    capped = auxk_settings(model, config, 16, 600_000)
    assert capped.dead_after_rows == MAX_AUTO_EPOCH_ROWS


def test_a_capped_budget_trains_its_epoch_rows_a_period():
    """3 epochs of 256 rows in batches of 64 on 2 000 rows: 4 steps an epoch."""
    steps = []

    class CountSteps(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            steps.append(int(self.model.optimizer.iterations.numpy()))

    model = topk_model(16)
    config = training_config(epochs=3, budget=3 * 256, early_stopping_patience=10)
    _, history = fit_sparse_autoencoder(
        normal(2_000, 8), normal(100, 8, seed=1), model, config, [CountSteps()]
    )
    assert steps == [4, 8, 12]
    assert len(history["loss"]) == 3


def test_the_stream_covers_every_row_once_a_pass_and_goes_on_across_epochs():
    x = np.arange(40, dtype=np.float32).reshape(20, 2)
    batches = iter(shuffled_batches(x, x, batch_size=8, seed=0))
    rows = [next(batches)[0].numpy() for _ in range(6)]  # two passes of 3 batches
    for one_pass in (rows[:3], rows[3:]):
        seen = np.concatenate(one_pass)
        np.testing.assert_array_equal(np.sort(seen[:, 0]), x[:, 0])
    assert not np.array_equal(rows[0], rows[3])  # reshuffled every pass


def test_the_stream_gathers_targets_of_their_own_dtype():
    x = np.arange(12, dtype=np.float32).reshape(6, 2)
    y = np.arange(6, dtype=np.int64)
    inputs, labels = next(iter(shuffled_batches(x, y, batch_size=6, seed=0)))
    assert labels.dtype == tf.int64
    np.testing.assert_array_equal(inputs.numpy()[:, 0] / 2, labels.numpy())


def test_validation_reads_a_seeded_sample_of_a_large_split_only():
    small = normal(100, 4)
    assert row_sample(small, 100, seed=0) is small  # no copy
    large = normal(1_000, 4)
    sample = row_sample(large, 256, seed=0)
    assert sample.shape == (256, 4)
    np.testing.assert_array_equal(sample, row_sample(large, 256, seed=0))
    assert np.isin(sample[:, 0], large[:, 0]).all()


def test_the_mean_squared_deviation_of_a_large_table_needs_no_float64_copy():
    rows = normal(DEVIATION_CHUNK_ROWS * 2 + 5, 3) + 2.0
    exact = np.asarray(rows, np.float64)
    expected = np.mean(np.sum(np.square(exact - exact.mean(axis=0)), axis=1))
    assert mean_squared_deviation(rows) == pytest.approx(expected, rel=1e-12)


def test_a_large_table_is_shuffled_without_a_buffer_and_covers_every_row(
    monkeypatch,
):
    monkeypatch.setattr(training, "SHUFFLE_BUFFER_ROWS", 10)
    x = np.arange(40, dtype=np.float32).reshape(20, 2)
    batches = iter(training.shuffled_batches(x, x, batch_size=8, seed=0))
    rows = [next(batches)[0].numpy() for _ in range(6)]  # two passes of 8, 8, 4
    assert [len(batch) for batch in rows] == [8, 8, 4, 8, 8, 4]
    for one_pass in (rows[:3], rows[3:]):
        seen = np.concatenate(one_pass)
        np.testing.assert_array_equal(np.sort(seen[:, 0]), x[:, 0])
    assert not np.array_equal(rows[0], rows[3])  # reshuffled every pass
    again = iter(training.shuffled_batches(x, x, batch_size=8, seed=0))
    np.testing.assert_array_equal(next(again)[0].numpy(), rows[0])  # seeded


@pytest.mark.parametrize(
    ("rows", "budget", "patience"),
    [
        (1_077, "auto", 30),  # an epoch is a pass: unchanged
        (48_000, "auto", 30),
        (60_000, "auto", 36),  # 30 passes of 60 000 rows in epochs of 50 000
        (600_000, "auto", 360),
        (1_000, 400 * 2_000, 15),  # epochs of two passes
    ],
)
def test_patience_counts_passes_over_the_training_rows(rows, budget, patience):
    config = training_config(epochs=400, early_stopping_patience=30, budget=budget)
    assert config.for_data(rows, 32).patience_epochs(rows) == patience
