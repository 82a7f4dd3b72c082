"""Checks of the raw table, each stopping the run with a message naming the fault."""

from __future__ import annotations

import logging
from collections.abc import Sized
from typing import Any

import numpy as np
import pandas as pd

from sae_pipelines.parameters.groups import AnomalyParams, DataParams, SplitParams
from sae_pipelines.runtime.errors import InputError

logger = logging.getLogger(__name__)

# The fewest rows each split may hold, and what needs them.
MIN_SPLIT_ROWS = {
    "train": (2, "to fit the normalizer and the model"),
    "validation": (1, "for the validation loss and the anomaly threshold"),
    "test": (2, "for the evaluation's 2-D projection of the codes"),
}


class InvalidDataError(InputError, ValueError):
    """The raw table cannot be used as it is; the message says where and why."""


def check_split_sizes(
    splits: tuple[Sized, Sized, Sized],
    split_params: SplitParams,
) -> None:
    """Stop when a split holds fewer rows than ``MIN_SPLIT_ROWS`` asks."""
    sizes = dict(zip(MIN_SPLIT_ROWS, map(len, splits), strict=True))
    for split, (fewest, purpose) in MIN_SPLIT_ROWS.items():
        if sizes[split] < fewest:
            msg = (
                f"raw_data has {sum(sizes.values())} rows: too few for the split "
                f"({sizes['train']} train, {sizes['validation']} validation, "
                f"{sizes['test']} test); the {split} split needs at least "
                f"{fewest} {purpose}. Add rows, or change "
                f"split.validation_fraction={split_params.validation_fraction} "
                f"and split.test_fraction={split_params.test_fraction}"
            )
            raise InvalidDataError(msg)


def check_delimiter(table: pd.DataFrame) -> None:
    """Stop when the table read as one column whose name holds another delimiter."""
    if len(table.columns) != 1:
        return
    name = str(table.columns[0])
    shown = name if len(name) <= 40 else f"{name[:40]}…"
    for delimiter, in_yaml in ((";", '";"'), ("\t", '"\\t"'), ("|", '"|"')):
        if delimiter in name:
            msg = (
                f"raw_data was read as one column, {shown!r}: its header holds "
                f"{delimiter!r}, so the file is likely {delimiter!r}-delimited; "
                f"set load_args: {{sep: {in_yaml}}} on raw_data in the catalog"
            )
            raise InvalidDataError(msg)


def check_unique_columns(table: pd.DataFrame) -> None:
    """Stop when a column name occurs twice in the header.

    A parquet file keeps both names; pandas reads a CSV's second ``x`` as
    ``x.1`` (its third as ``x.2``), a feature the file never named. A column
    ``x.N`` beside ``x`` is taken for such a copy.
    """
    names = [str(name) for name in table.columns]
    repeated = {name for name in names if names.count(name) > 1}
    present = set(names)
    for name in names:
        base, dot, number = name.rpartition(".")
        if dot and number.isdigit() and base in present:
            repeated.add(base)
    if repeated:
        msg = (
            f"raw_data's header names the columns {preview(sorted(repeated))} "
            "more than once (pandas reads a repeated CSV name x as x.1); give "
            "each column a name of its own (a column really named x.1 beside x: "
            "rename it)"
        )
        raise InvalidDataError(msg)


def check_named_columns(table: pd.DataFrame, data_params: DataParams) -> None:
    """Stop when ``data.label_column`` or ``data.id_column`` is not a column."""
    for key in ("label_column", "id_column"):
        column = getattr(data_params, key)
        if column is not None and column not in table.columns:
            msg = (
                f"data.{key} is '{column}', but raw_data has no such column; "
                f"its columns are {preview(table.columns)}"
            )
            raise InvalidDataError(msg)


def check_numeric(table: pd.DataFrame, features: list[str]) -> None:
    """Stop when a feature column is not numeric (booleans included)."""
    bad = [c for c in features if not pd.api.types.is_numeric_dtype(table[c])]
    bad += [c for c in features if pd.api.types.is_bool_dtype(table[c])]
    if bad:
        examples = {c: table[c].dropna().iloc[0] for c in bad if table[c].notna().any()}
        msg = (
            f"raw_data has non-numeric feature columns {preview(bad)} "
            f"(first values: {examples}); convert them to numbers, or name the "
            "label with data.label_column"
        )
        raise InvalidDataError(msg)


def check_finite(table: pd.DataFrame, features: list[str]) -> None:
    """Stop when a feature holds NaN, infinity or a value float32 cannot hold.

    The model computes in float32, so a finite value beyond its range, or a
    column whose values span more than it holds, would become infinite on
    the way in.
    """
    columns = [table[c].to_numpy(dtype=np.float64, copy=False) for c in features]
    bad = _counts(features, [int(np.count_nonzero(~np.isfinite(v))) for v in columns])
    if bad:
        msg = (
            "raw_data has NaN or infinite values in feature columns "
            f"(column: count) {bad}; fill or drop those rows first"
        )
        raise InvalidDataError(msg)
    limit = float(np.finfo(np.float32).max)
    bad = _counts(features, [int(np.count_nonzero(np.abs(v) > limit)) for v in columns])
    spans = [float(v.max() - v.min()) if v.size else 0.0 for v in columns]
    wide = [c for c, span in zip(features, spans, strict=True) if span > limit]
    if bad or wide:
        where = f"(column: count) {bad}" if bad else f"{preview(wide)} (max − min)"
        msg = (
            f"raw_data has values beyond float32's range (±{limit:.3g}), which "
            f"the model computes in, in feature columns {where}; rescale those "
            "columns or drop the rows"
        )
        raise InvalidDataError(msg)


def _counts(features: list[str], counts: list[int]) -> dict[str, int]:
    """Column → its count, for the columns whose count is not 0."""
    return {c: int(n) for c, n in zip(features, counts, strict=True) if n}


def check_normal_labels(
    table: pd.DataFrame, data_params: DataParams, anomaly_params: AnomalyParams
) -> None:
    """Stop when normal labels are set without a label column, or do not occur."""
    normal_labels = anomaly_params.normal_labels
    if normal_labels is None:
        return
    label = data_params.label_column
    if label is None:
        msg = "anomaly.normal_labels is set but data.label_column is null"
        raise InvalidDataError(msg)
    present = set(table[label].unique().tolist())
    missing = [value for value in normal_labels if value not in present]
    if missing:
        msg = (
            f"anomaly.normal_labels {missing} do not occur in column '{label}'; "
            f"its labels are {preview(sorted(present, key=str))}"
        )
        raise InvalidDataError(msg)


def handle_constant_columns(
    table: pd.DataFrame, features: list[str], policy: str
) -> pd.DataFrame:
    """Keep or drop constant features as ``data.constant_columns`` says, or stop.

    Run after :func:`check_finite`: with no NaN, a column is constant when
    its smallest value is its largest.
    """
    constant = [c for c in features if table[c].min() == table[c].max()]
    if not constant or policy == "keep":
        return table
    if policy == "drop":
        logger.info("Dropping constant feature columns %s", constant)
        return table.drop(columns=constant)
    msg = (
        f"raw_data has constant feature columns {preview(constant)}: the "
        "normalizer would divide by zero. Set data.constant_columns to 'drop' to "
        "remove them or 'keep' to pass them through as zeros"
    )
    raise InvalidDataError(msg)


def preview(values: Any, limit: int = 12) -> str:
    """At most ``limit`` of ``values``, as a short list for a message."""
    values = [str(v) for v in values]
    shown = ", ".join(values[:limit])
    return f"[{shown}{', …' if len(values) > limit else ''}]"
