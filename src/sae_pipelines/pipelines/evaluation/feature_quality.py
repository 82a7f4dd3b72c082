"""Are the codes good features? Probes, clustering and pretraining, with labels.

Each figure comes with its baseline on the same rows: the raw normalised inputs
and PCA with ``⌈test_l0⌉`` components for the probe, the raw inputs for
clustering, and the same classifier trained from scratch for pretraining.
"""

from __future__ import annotations

import logging
import math
from typing import Any, NamedTuple

import keras
import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import normalized_mutual_info_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sae_pipelines.inference.scoring import sample_rows
from sae_pipelines.inference.tables import (
    RowTable,
    code_matrix,
    code_names,
    feature_matrix,
    row_table,
)
from sae_pipelines.parameters.groups import (
    DataParams,
    EvaluationParams,
    FeatureExtractionParams,
    PretrainingParams,
    ProbeParams,
)
from sae_pipelines.pipelines.evaluation.code_classifier import (
    build_code_classifier,
    fit_code_classifier,
)

logger = logging.getLogger(__name__)

MIN_ROWS_PER_CLASS = 2


class Views(NamedTuple):
    """One thing (a table, features, labels) for each of the three splits."""

    train: Any
    validation: Any
    test: Any


def probe_accuracy(views: Views, labels: Views, probe_params: ProbeParams) -> float:
    """Test accuracy of a logistic regression on standardised features.

    Its inverse regularisation ``C`` is the value of
    ``probe.inverse_regularization`` with the best validation accuracy.
    """
    best_accuracy, best_probe = -1.0, None
    for inverse_regularization in probe_params.inverse_regularization:
        probe = make_pipeline(
            StandardScaler(),
            LogisticRegression(
                C=inverse_regularization, max_iter=probe_params.max_iter
            ),
        ).fit(views.train, labels.train)
        accuracy = probe.score(views.validation, labels.validation)
        if accuracy > best_accuracy:
            best_accuracy, best_probe = accuracy, probe
    assert best_probe is not None  # the grid has at least one value
    return float(best_probe.score(views.test, labels.test))


def cluster_nmi(views: Views, labels: Views, n_classes: int, seed: int) -> float:
    """NMI between test labels and k-means clusters (k = classes) fitted on train."""
    kmeans = KMeans(n_clusters=n_classes, n_init=10, random_state=seed)
    kmeans.fit(views.train)
    return float(normalized_mutual_info_score(labels.test, kmeans.predict(views.test)))


def labelled_subset(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Indices of ``⌈fraction · n⌉`` rows of each class (at least one), sorted."""
    rng = np.random.default_rng(seed)
    picked = [
        rng.choice(rows, math.ceil(fraction * rows.size), replace=False)
        for rows in (np.flatnonzero(labels == label) for label in np.unique(labels))
    ]
    return np.sort(np.concatenate(picked))


def pretraining_accuracies(
    sae_model: keras.Model,
    features: Views,
    labels: Views,
    pretraining_params: PretrainingParams,
    seed: int,
    batch_size: int,
) -> dict[str, float]:
    """Test accuracy of encoder + softmax, from the SAE's weights and from scratch.

    Both are fine-tuned end to end on the same labelled share of the training
    split with the same budget (see :func:`fit_code_classifier`), and they
    predict ``batch_size`` rows at a time.
    """
    subset = labelled_subset(labels.train, pretraining_params.labelled_fraction, seed)
    logger.info("Pretraining: fine-tuning on %d labelled training rows", subset.size)
    n_classes = int(labels.train.max()) + 1
    result = {}
    for name, pretrained in (("pretrained", True), ("scratch", False)):
        classifier = fit_code_classifier(
            build_code_classifier(sae_model, n_classes, pretrained=pretrained),
            features.train[subset],
            labels.train[subset],
            epochs=pretraining_params.epochs,
            learning_rate=pretraining_params.learning_rate,
            batch_size=pretraining_params.batch_size,
            seed=seed,
        )
        predicted = classifier.predict(
            features.test, batch_size=batch_size, verbose=0
        ).argmax(axis=1)
        result[f"{name}_accuracy"] = float(np.mean(predicted == labels.test))
    return result


def label_metrics(
    sae_model: keras.Model,
    codes_train: pd.DataFrame | RowTable,
    codes_validation: pd.DataFrame | RowTable,
    codes_test: pd.DataFrame | RowTable,
    model_input_train: pd.DataFrame,
    model_input_validation: pd.DataFrame,
    model_input_test: pd.DataFrame,
    pca_baseline: PCA,
    data_params: DataParams,
    feature_extraction_params: FeatureExtractionParams,
    evaluation_params: EvaluationParams,
) -> dict[str, float]:
    """Probe accuracies, clustering NMIs and pretraining accuracies.

    Skipped, with one log line saying why, when there is no label column or the
    splits are too small (fewer than two classes, or a class with fewer than
    two training rows). Test rows whose class is not in the training split
    (anomalies in one-class runs) are left out. Each split gives at most
    ``evaluation.sample_rows`` rows, a seeded random sample beyond: these fits
    grow faster than the rows, and their figures settle long before.

    Returns:
        ``probe_accuracy``, ``probe_accuracy_raw``, ``probe_accuracy_pca``,
        ``cluster_nmi``, ``cluster_nmi_raw``, ``pretrained_accuracy`` and
        ``scratch_accuracy``, with ``label_metrics_<split>_rows``, the rows
        each split gave; or nothing when skipped.
    """
    label = data_params.label_column
    if not label:
        logger.info(
            "No label column (data.label_column is null): skipping the probe, "
            "clustering and pretraining metrics"
        )
        return {}
    tables = Views(model_input_train, model_input_validation, model_input_test)
    classes, all_labels = _encode_labels(tables, label)
    problem = _too_small(all_labels, classes)
    if problem:
        logger.warning(
            "Skipping the probe, clustering and pretraining metrics: %s", problem
        )
        return {}
    limit, seed = evaluation_params.sample_rows, evaluation_params.seed
    known = Views(
        *(sample_rows(np.flatnonzero(y >= 0), limit, seed) for y in all_labels)
    )
    labels = Views(*(y[rows] for y, rows in zip(all_labels, known, strict=True)))
    raw = Views(
        *(
            feature_matrix(table.take(rows), data_params)
            for table, rows in zip(tables, known, strict=True)
        )
    )
    code_tables = (codes_train, codes_validation, codes_test)
    prefix = feature_extraction_params.column_prefix
    codes = Views(
        *(
            code_matrix(_taken_codes(row_table(table), rows, prefix), prefix)
            for table, rows in zip(code_tables, known, strict=True)
        )
    )
    pca = Views(*(pca_baseline.transform(x) for x in raw))
    probe_params = evaluation_params.probe
    return {
        **{
            f"label_metrics_{split}_rows": float(len(rows))
            for split, rows in zip(Views._fields, known, strict=True)
        },
        "probe_accuracy": probe_accuracy(codes, labels, probe_params),
        "probe_accuracy_raw": probe_accuracy(raw, labels, probe_params),
        "probe_accuracy_pca": probe_accuracy(pca, labels, probe_params),
        "cluster_nmi": cluster_nmi(codes, labels, len(classes), seed),
        "cluster_nmi_raw": cluster_nmi(raw, labels, len(classes), seed),
        **pretraining_accuracies(
            sae_model,
            raw,
            labels,
            evaluation_params.pretraining,
            seed,
            feature_extraction_params.batch_size,
        ),
    }


def _taken_codes(codes: RowTable, rows: np.ndarray, prefix: str) -> pd.DataFrame:
    return codes.take(rows, code_names(codes.columns, prefix))


def _encode_labels(tables: Views, label: str) -> tuple[np.ndarray, Views]:
    """Classes of the training split, and each split's labels as their index.

    Labels not seen in training become −1.
    """
    classes = np.unique(tables.train[label].to_numpy())
    return classes, Views(
        *(pd.Index(classes).get_indexer(table[label].to_numpy()) for table in tables)
    )


def _too_small(labels: Views, classes: np.ndarray) -> str | None:
    if classes.size < 2:
        return f"the training split holds {classes.size} class (needs at least 2)"
    counts = np.bincount(labels.train, minlength=classes.size)
    if counts.min() < MIN_ROWS_PER_CLASS:
        rare = classes[counts < MIN_ROWS_PER_CLASS].tolist()
        return f"classes {rare} have fewer than {MIN_ROWS_PER_CLASS} training rows"
    for name, split in (("validation", labels.validation), ("test", labels.test)):
        if not (split >= 0).any():
            return f"the {name} split has no rows of the training classes"
    return None
