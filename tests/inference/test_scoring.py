import pickle

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import NearestNeighbors

from sae_pipelines.inference.scoring import (
    DISTANCE_BLOCK_ROWS,
    Standardizer,
    fit_scorer,
)

SETTINGS = {"neighbours": 5, "reference_rows": 300, "distance_weight": 2.0, "seed": 3}


@pytest.fixture
def rows():
    """Training, validation and test rows in a unit cube; 10 test rows far off."""
    rng = np.random.default_rng(0)
    train, validation = rng.random((1000, 4)), rng.random((200, 4))
    test = rng.random((DISTANCE_BLOCK_ROWS + 10, 4))
    test[-10:] += 3.0
    return [x.astype(np.float32) for x in (train, validation, test)]


def test_the_distance_is_to_the_kth_nearest_of_a_sample_of_training_rows(rows):
    train, validation, test = rows
    scorer = fit_scorer("distance", train, validation, np.ones(200), SETTINGS)
    assert scorer.reference.shape == (300, 4)
    assert {tuple(row) for row in scorer.reference} <= {tuple(row) for row in train}
    expected = NearestNeighbors(n_neighbors=5).fit(scorer.reference).kneighbors(test)
    distances = scorer.score(test, np.zeros(len(test), np.float32))
    np.testing.assert_allclose(distances, expected[0][:, -1], atol=1e-5)


def test_combined_adds_standardised_log_error_and_weighted_distance(rows):
    train, validation, test = rows
    rng = np.random.default_rng(1)
    validation_errors = rng.random(200) + 0.1
    scorer = fit_scorer("combined", train, validation, validation_errors, SETTINGS)
    offset = 0.01 * np.median(validation_errors)
    log_errors = np.log(validation_errors + offset)
    low, median, high = np.percentile(log_errors, [25, 50, 75])
    assert scorer.error_scale.offset == pytest.approx(offset)
    assert scorer.error_scale.center == pytest.approx(median)
    assert scorer.error_scale.spread == pytest.approx(high - low)

    # Errors above a tenth of the validation rows' variance (1/12): full weight.
    assert scorer.error_weight == 1.0
    errors = rng.random(len(test)).astype(np.float32) + 0.1
    expected = scorer.error_scale(errors) + 2.0 * scorer.distance_scale(
        scorer.distances(test)
    )
    scores = scorer.score(test, errors)
    np.testing.assert_allclose(scores, expected, rtol=1e-5)
    truth = np.arange(len(test)) >= len(test) - 10
    assert roc_auc_score(truth, scores) > 0.99  # the far rows stand out


def test_an_error_that_explains_almost_everything_weighs_little(rows):
    train, validation, _ = rows
    variance = validation.var(axis=0).mean()
    errors = np.full(200, 0.01 * variance)  # FVU 0.01
    scorer = fit_scorer("combined", train, validation, errors, SETTINGS)
    assert scorer.error_weight == pytest.approx(0.1, rel=1e-4)


def test_reconstruction_scores_are_the_errors_and_need_no_reference(rows):
    train, validation, _ = rows
    scorer = fit_scorer("reconstruction", train, validation, np.ones(200), SETTINGS)
    assert scorer.reference is None and not scorer.needs_distances
    errors = np.array([0.5, 0.25], np.float32)
    assert scorer.score(train[:2], errors) is errors


def test_a_scorer_pickles_after_use_and_scores_alike(rows):
    train, validation, test = rows
    scorer = fit_scorer("combined", train, validation, np.ones(200) * 0.1, SETTINGS)
    errors = np.full(len(test), 0.2, np.float32)
    before = scorer.score(test, errors)
    copy = pickle.loads(pickle.dumps(scorer))
    np.testing.assert_array_equal(copy.score(test, errors), before)


def test_a_row_scores_the_same_alone_and_among_others(rows):
    train, validation, test = rows
    scorer = fit_scorer("distance", train, validation, np.ones(200), SETTINGS)
    among_others = scorer.distances(test)
    alone = np.concatenate([scorer.distances(test[i : i + 1]) for i in range(50)])
    np.testing.assert_array_equal(alone, among_others[:50])


def test_a_standardiser_keeps_a_positive_spread_for_constant_scores():
    scale = Standardizer.fit(np.full(10, 0.3))
    assert scale.spread > 0
    assert np.isfinite(scale(np.array([0.0, 0.3, 1.0]))).all()
