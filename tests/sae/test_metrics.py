import numpy as np
import pytest

from sae_pipelines.sae import metrics


def test_fvu_is_zero_for_perfect_and_one_for_mean_prediction():
    x = np.random.default_rng(0).normal(size=(100, 5))
    assert metrics.fraction_of_variance_unexplained(x, x) == 0.0
    mean_rows = np.broadcast_to(x.mean(axis=0), x.shape)
    assert metrics.fraction_of_variance_unexplained(x, mean_rows) == pytest.approx(1.0)


def test_mse_and_row_errors_agree():
    x = np.zeros((4, 2))
    x_hat = np.array([[1.0, 1.0], [0.0, 0.0], [2.0, 0.0], [0.0, 0.0]])
    np.testing.assert_allclose(
        metrics.row_squared_errors(x, x_hat), [1.0, 0.0, 2.0, 0.0]
    )
    assert metrics.reconstruction_mse(x, x_hat) == pytest.approx(0.75)


def test_l0_counts_non_zero_codes_per_row():
    codes = np.array([[0.0, 1.0, 2.0], [0.0, 0.0, -1.0]])
    assert metrics.mean_l0(codes) == 1.5
    assert metrics.mean_l0(codes, threshold=1.5) == 0.5


def test_a_never_active_unit_is_counted_dead():
    codes = np.array([[0.0, 1.0, 0.0, 0.2], [0.0, 0.0, 3.0, 0.1]])
    np.testing.assert_array_equal(
        metrics.dead_units(codes), [True, False, False, False]
    )
    assert metrics.dead_fraction(codes) == 0.25
    assert metrics.dead_fraction(codes, threshold=0.5) == 0.5
