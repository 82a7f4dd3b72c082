"""Encode tables into sparse codes: the features this project produces."""

from __future__ import annotations

from typing import Any

import keras
import pandas as pd

from sae_pipelines.sae import encoder_of
from sae_pipelines.tables import carried_columns, feature_matrix


def code_column_names(code_size: int, prefix: str) -> list[str]:
    """``code_000, code_001, …``: zero-padded so they sort in unit order."""
    width = max(3, len(str(code_size - 1)))
    return [f"{prefix}{unit:0{width}d}" for unit in range(code_size)]


def encode_split(
    sae_model: keras.Model,
    model_input: pd.DataFrame,
    data_params: dict[str, Any],
    feature_extraction_params: dict[str, Any],
) -> pd.DataFrame:
    """Encode one normalised table into its codes table.

    Args:
        sae_model: The trained sparse autoencoder.
        model_input: A normalised table (id, features, optional label).
        data_params: ``data`` parameters, to tell features from id and label.
        feature_extraction_params: ``batch_size`` and ``column_prefix``.

    Returns:
        The id (and label) columns followed by one column per code unit.
    """
    codes = encoder_of(sae_model).predict(
        feature_matrix(model_input, data_params),
        batch_size=feature_extraction_params["batch_size"],
        verbose=0,
    )
    names = code_column_names(
        codes.shape[1], feature_extraction_params["column_prefix"]
    )
    return pd.concat(
        [carried_columns(model_input, data_params), pd.DataFrame(codes, columns=names)],
        axis=1,
    )
