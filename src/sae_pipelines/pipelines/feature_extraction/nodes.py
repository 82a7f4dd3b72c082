"""Encode the splits into sparse codes: the features this project produces."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import pandas as pd
import pyarrow as pa

from sae_pipelines.inference import InferenceModel
from sae_pipelines.inference.scoring import AnomalyScorer
from sae_pipelines.inference.tables import (
    CHUNK_ROWS,
    as_arrow,
    carried_columns,
    feature_matrix,
    id_column,
)
from sae_pipelines.parameters.groups import DataParams, FeatureExtractionParams


@dataclass(frozen=True)
class EncodedSplit:
    """A split's codes, encoded part by part as they are read.

    A :class:`~sae_pipelines.inference.tables.RowTable`: the catalog writes it
    to its parquet file a part at a time, and a step that reads it in memory
    (the repeats' points) encodes only the rows and parts it asks for, so the
    codes of a large split are never all in memory at once.
    """

    model: InferenceModel
    model_input: pd.DataFrame
    data_params: DataParams

    @property
    def columns(self) -> list[str]:
        """The id (and label) columns, the codes, ``anomaly_score`` and ``l0``."""
        return list(self._encode(self.model_input.iloc[:0]).column_names)

    def __len__(self) -> int:
        return len(self.model_input)

    def chunks(self, columns: Sequence[str] | None = None) -> Iterator[pa.Table]:
        """The rows' codes in order, at most ``CHUNK_ROWS`` at a time."""
        for start in range(0, len(self.model_input), CHUNK_ROWS):
            rows = self._encode(self.model_input.iloc[start : start + CHUNK_ROWS])
            yield rows if columns is None else rows.select(list(columns))

    def take(
        self, positions: np.ndarray, columns: Sequence[str] | None = None
    ) -> pd.DataFrame:
        """The codes of the rows at ``positions``."""
        rows = self._encode(self.model_input.take(positions))
        return (rows if columns is None else rows.select(list(columns))).to_pandas()

    def _encode(self, model_input: pd.DataFrame) -> pa.Table:
        codes, scores = self.model.encode_normalized(
            feature_matrix(model_input, self.data_params)
        )
        # Without pandas' metadata, which would name the carried columns only.
        carried = as_arrow(carried_columns(model_input, self.data_params))
        carried = carried.replace_schema_metadata(None)
        computed = self.model.output_columns(codes, scores)
        for name, column in zip(computed.column_names, computed.columns, strict=True):
            carried = carried.append_column(computed.field(name), column)
        return carried


def encode_splits(
    sae_model: keras.Model,
    normalizer: Any,
    anomaly_scorer: AnomalyScorer,
    model_input_train: pd.DataFrame,
    model_input_validation: pd.DataFrame,
    model_input_test: pd.DataFrame,
    data_params: DataParams,
    feature_extraction_params: FeatureExtractionParams,
) -> tuple[EncodedSplit, EncodedSplit, EncodedSplit]:
    """Encode each normalised split with the inference model.

    Args:
        sae_model: The trained sparse autoencoder.
        normalizer: The normaliser fitted on the training split.
        anomaly_scorer: How rows are scored (see :func:`fit_anomaly_scorer`).
        model_input_train: The normalised training split (id, features, label).
        model_input_validation: The normalised validation split.
        model_input_test: The normalised test split.
        data_params: ``data`` parameters, to tell features from id and label.
        feature_extraction_params: ``column_prefix`` of the code columns.

    Returns:
        Per split: the id (and label) columns, one column per code unit,
        ``anomaly_score`` and ``l0``, as batch extraction writes them; encoded
        part by part as the catalog writes them (:class:`EncodedSplit`).
    """
    model = InferenceModel(
        sae_model,
        normalizer,
        scorer=anomaly_scorer,
        id_column=id_column(data_params),
        code_prefix=feature_extraction_params.column_prefix,
    )
    return (
        EncodedSplit(model, model_input_train, data_params),
        EncodedSplit(model, model_input_validation, data_params),
        EncodedSplit(model, model_input_test, data_params),
    )
