import logging

import numpy as np
import pandas as pd
import pytest
from sklearn.decomposition import PCA

from sae_pipelines.pipelines.evaluation.feature_quality import (
    Views,
    cluster_nmi,
    label_metrics,
    labelled_subset,
    pretraining_accuracies,
    probe_accuracy,
)
from tests.conftest import topk_autoencoder
from tests.pipelines.conftest import typed


def blobs(separation, rows=90, seed=0):
    """Three Gaussian classes in 4-D, ``separation`` apart, split 1/3 each way."""
    rng = np.random.default_rng(seed)
    labels = np.tile([0, 1, 2], rows)
    features = rng.normal(size=(labels.size, 4)) + separation * np.eye(4)[labels]
    thirds = np.array_split(np.arange(labels.size), 3)
    return Views(*(features[i] for i in thirds)), Views(*(labels[i] for i in thirds))


def test_probe_on_separable_data_scores_high_and_on_noise_near_chance(params):
    probe = typed(params)["evaluation"].probe
    assert probe_accuracy(*blobs(separation=8.0), probe) > 0.98
    assert probe_accuracy(*blobs(separation=0.0), probe) < 0.6


def test_kmeans_recovers_separated_clusters():
    views, labels = blobs(separation=10.0)
    assert cluster_nmi(views, labels, 3, seed=0) > 0.95
    assert cluster_nmi(*blobs(separation=0.0), 3, seed=0) < 0.2


def test_labelled_subset_keeps_every_class():
    labels = np.array([0] * 50 + [1] * 30 + [2] * 2)
    subset = labelled_subset(labels, 0.1, seed=0)
    assert np.bincount(labels[subset]).tolist() == [5, 3, 1]
    assert np.array_equal(subset, np.unique(subset))


def test_pretraining_reports_both_accuracies_in_range(params):
    features, labels = blobs(separation=4.0)
    pretraining = typed(params)["evaluation"].pretraining.model_copy(
        update={"epochs": 5}
    )
    result = pretraining_accuracies(
        topk_autoencoder(4, 8, 3), features, labels, pretraining, 0, batch_size=8192
    )
    assert set(result) == {"pretrained_accuracy", "scratch_accuracy"}
    assert all(0.0 <= value <= 1.0 for value in result.values())


def split_tables(labels_per_split):
    rng = np.random.default_rng(0)
    tables = []
    for labels in labels_per_split:
        table = pd.DataFrame(rng.uniform(size=(len(labels), 4)), columns=list("abcd"))
        tables.append(table.assign(label=labels).rename_axis("row_id").reset_index())
    return tables


def run_label_metrics(params, tables):
    model = topk_autoencoder(4, 8, 3)
    codes = [t[["row_id"]].assign(code_000=0.0, code_001=1.0) for t in tables]
    pca = PCA(1).fit(tables[0][list("abcd")])
    return label_metrics(
        model,
        *codes,
        *tables,
        pca,
        typed(params)["data"],
        typed(params)["feature_extraction"],
        typed(params)["evaluation"],
    )


def test_no_label_column_skips_with_one_log_line(params, caplog):
    params["data"]["label_column"] = None
    tables = [t.drop(columns="label") for t in split_tables([[0, 1]] * 3)]
    with caplog.at_level(logging.INFO):
        assert run_label_metrics(params, tables) == {}
    skips = [r for r in caplog.records if "data.label_column is null" in r.message]
    assert len(skips) == 1


@pytest.mark.parametrize(
    ("train_labels", "reason"),
    [([0] * 6, "holds 1 class"), ([0] * 5 + [1], "classes [1] have fewer than 2")],
)
def test_too_small_splits_say_why(params, caplog, train_labels, reason):
    tables = split_tables([train_labels, [0, 1], [0, 1]])
    with caplog.at_level(logging.WARNING):
        assert run_label_metrics(params, tables) == {}
    assert reason in caplog.text


def test_splits_beyond_sample_rows_give_a_seeded_sample(params):
    params["evaluation"]["sample_rows"] = 40
    params["evaluation"]["pretraining"]["epochs"] = 2
    tables = split_tables([[0, 1] * 50, [0, 1] * 10, [0, 1, 2] * 30])
    metrics = run_label_metrics(params, tables)
    assert metrics["label_metrics_train_rows"] == 40
    assert metrics["label_metrics_validation_rows"] == 20
    # Class 2 is not in the training split: 60 test rows are known, 40 sampled.
    assert metrics["label_metrics_test_rows"] == 40
    assert 0.0 <= metrics["probe_accuracy"] <= 1.0
    assert run_label_metrics(params, tables) == metrics
