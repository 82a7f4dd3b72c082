"""Validate the raw table, split it, and normalise it on the training split."""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import TransformerMixin
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from sae_pipelines.inference.features import in_place_copy, normalize_features
from sae_pipelines.inference.preprocessing import OutOfRangeCompressor
from sae_pipelines.inference.tables import DEFAULT_ID_COLUMN, feature_columns, id_column
from sae_pipelines.parameters.groups import (
    AnomalyParams,
    DataParams,
    NormalizationParams,
    SplitParams,
)
from sae_pipelines.parameters.validation import check_model_fits
from sae_pipelines.pipelines.data_processing.checks import (
    InvalidDataError,
    check_delimiter,
    check_finite,
    check_named_columns,
    check_normal_labels,
    check_numeric,
    check_split_sizes,
    check_unique_columns,
    handle_constant_columns,
)
from sae_pipelines.sae import ModelConfig, TrainingConfig

logger = logging.getLogger(__name__)

NORMALIZERS = {"minmax": MinMaxScaler, "standard": StandardScaler}


def validate_raw_data(
    raw_data: pd.DataFrame,
    data_params: DataParams,
    anomaly_params: AnomalyParams,
    split_params: SplitParams,
    model_params: ModelConfig,
    training_params: TrainingConfig,
) -> pd.DataFrame:
    """Check the raw table and return it in the project's table layout.

    The table is split here too, as :func:`split_data` will split it, so that
    a table too small for the split, or for the model's sizes, stops the run
    before anything is written.

    Args:
        raw_data: The ``raw_data`` catalog entry.
        data_params: ``data`` parameters: label, id and constant-column handling.
        anomaly_params: ``anomaly`` parameters: which labels are normal.
        split_params: ``split`` parameters.
        model_params: ``model`` parameters, whose sizes must fit the table.
        training_params: ``training`` parameters (the batch size).

    Returns:
        The id column (``row_id`` when ``data.id_column`` is null), the numeric
        feature columns, and the label column when there is one.

    Raises:
        InvalidDataError: The file looks read with the wrong delimiter, a
            column name occurs twice, a named column is missing, a feature is not numeric,
            holds NaN, infinite or beyond-float32 values, or is constant (with
            ``data.constant_columns: error``), a normal label does not occur,
            or a split would hold fewer rows than ``MIN_SPLIT_ROWS``.
        InvalidParametersError: The model's sizes cannot train on the
            training split (:func:`~sae_pipelines.sae.capacity.check_fits`).
    """
    if len(raw_data) == 0:
        msg = "raw_data has 0 rows: nothing to split and train on"
        raise InvalidDataError(msg)
    table = raw_data.copy(deep=False)  # copy on write: raw_data stays as it was
    check_delimiter(table)
    check_unique_columns(table)
    check_named_columns(table, data_params)
    row_id = id_column(data_params)
    if data_params.id_column is None:
        if DEFAULT_ID_COLUMN in table.columns:
            msg = (
                f"raw_data already has a column '{DEFAULT_ID_COLUMN}'; name it as "
                "the id with data.id_column or rename it"
            )
            raise InvalidDataError(msg)
        table.insert(0, DEFAULT_ID_COLUMN, np.arange(len(table)))
    features = feature_columns(table, data_params)
    if not features:
        raise InvalidDataError("raw_data has no feature columns")
    check_numeric(table, features)
    check_finite(table, features)
    check_normal_labels(table, data_params, anomaly_params)
    table = handle_constant_columns(table, features, data_params.constant_columns)
    label = data_params.label_column
    ordered = [row_id, *feature_columns(table, data_params)] + (
        [label] if label else []
    )
    validated = _in_float32(table[ordered].reset_index(drop=True))
    train, validation, test = _split_rows(
        validated, split_params, data_params, anomaly_params
    )
    check_split_sizes((train, validation, test), split_params)
    check_model_fits(
        model_params,
        training_params,
        len(feature_columns(table, data_params)),
        len(train),
    )
    return validated


def _in_float32(table: pd.DataFrame) -> pd.DataFrame:
    """The table with its float64 columns as float32, the model's precision.

    Integer columns keep their type: the registered model's signature is read
    from this table, and float32 would round integers beyond 2**24.
    """
    wide = table.select_dtypes(include=[np.float64]).columns
    return table.astype(dict.fromkeys(wide, np.float32)) if len(wide) else table


def split_data(
    validated_data: pd.DataFrame,
    split_params: SplitParams,
    data_params: DataParams,
    anomaly_params: AnomalyParams,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Split rows into train, validation and test, stratified by label if any.

    With ``anomaly.normal_labels`` set, anomalous rows drawn into train or
    validation move to test: the model and its threshold see normal rows only.

    Args:
        validated_data: Output of :func:`validate_raw_data`.
        split_params: ``split`` parameters: fractions, stratification, seed.
        data_params: ``data`` parameters.
        anomaly_params: ``anomaly`` parameters.

    Returns:
        The train, validation and test tables.

    Raises:
        InvalidDataError: Too few rows (or rows of a class) for the split.
    """
    rows = _split_rows(validated_data, split_params, data_params, anomaly_params)
    train, validation, test = (validated_data.loc[index] for index in rows)
    logger.info(
        "Split %d rows: %d train, %d validation, %d test",
        len(validated_data),
        len(train),
        len(validation),
        len(test),
    )
    return train, validation, test


def _split_rows(
    validated_data: pd.DataFrame,
    split_params: SplitParams,
    data_params: DataParams,
    anomaly_params: AnomalyParams,
) -> tuple[pd.Index, pd.Index, pd.Index]:
    """The index of the train, validation and test rows, each in table order.

    Only the label column is split, so no copy of the features is made.
    """
    n_rows = len(validated_data)
    n_test = math.ceil(n_rows * split_params.test_fraction)
    n_validation = math.ceil(n_rows * split_params.validation_fraction)
    label = data_params.label_column
    stratify = label if label and split_params.stratify else None
    labels = (
        validated_data[label] if label else pd.Series(0, index=validated_data.index)
    )
    seed = split_params.seed
    try:
        rest, test = _split(labels, n_test, stratify is not None, seed)
        train, validation = _split(rest, n_validation, stratify is not None, seed)
    except ValueError as error:
        how = f"stratified by column '{label}'" if stratify else "three ways"
        advice = ", or set split.stratify=false" if stratify else ""
        msg = f"raw_data has {n_rows} rows: too few to split {how} ({error}). Add rows{advice}"
        raise InvalidDataError(msg) from error
    normal_labels = anomaly_params.normal_labels
    if normal_labels is not None:
        assert label is not None  # check_normal_labels: they need a label column
        train, validation, test = _move_anomalies_to_test(
            train, validation, test, normal_labels
        )
    return train.index, validation.index, test.index


def _split(
    labels: pd.Series, n_held_out: int, stratify: bool, seed: int
) -> tuple[pd.Series, pd.Series]:
    kept, held_out = train_test_split(
        labels,
        test_size=n_held_out,
        stratify=labels if stratify else None,
        random_state=seed,
    )
    return kept.sort_index(), held_out.sort_index()


def _move_anomalies_to_test(
    train: pd.Series,
    validation: pd.Series,
    test: pd.Series,
    normal_labels: list[Any],
) -> tuple[pd.Series, pd.Series, pd.Series]:
    is_normal_train = train.isin(normal_labels)
    is_normal_validation = validation.isin(normal_labels)
    moved = pd.concat([train[~is_normal_train], validation[~is_normal_validation]])
    logger.info("Moved %d anomalous rows out of train and validation", len(moved))
    return (
        train[is_normal_train],
        validation[is_normal_validation],
        pd.concat([test, moved]).sort_index(),
    )


def fit_normalizer(
    train: pd.DataFrame,
    normalization_params: NormalizationParams,
    data_params: DataParams,
) -> TransformerMixin:
    """Fit the feature scaler on the training split only.

    Args:
        train: The training split.
        normalization_params: ``method`` (``minmax`` or ``standard``) and
            ``out_of_range`` (what becomes of values beyond the training range,
            see :class:`OutOfRangeCompressor`).
        data_params: ``data`` parameters, to tell features from id and label.

    Returns:
        A fitted scikit-learn pipeline (scaler, then out-of-range handling) that
        knows its feature names.
    """
    normalizer = make_pipeline(
        NORMALIZERS[normalization_params.method](),
        OutOfRangeCompressor(normalization_params.out_of_range),
    )
    return normalizer.fit(train[feature_columns(train, data_params)])


def normalize(
    split: pd.DataFrame, normalizer: TransformerMixin, data_params: DataParams
) -> pd.DataFrame:
    """Scale the features of one split with the fitted normaliser.

    Args:
        split: A train, validation or test table.
        normalizer: Output of :func:`fit_normalizer`.
        data_params: ``data`` parameters.

    Returns:
        The same table with ``float32`` features scaled exactly as the
        inference model scales raw rows, so that evaluation and every consumer
        of the registered model score a row alike.
    """
    features = feature_columns(split, data_params)
    values = split[features].to_numpy(np.float32)
    scaled = normalize_features(in_place_copy(normalizer), values, overwrite=True)
    table = split.reset_index(drop=True)  # copy on write: split stays as it was
    table[features] = scaled
    return table
