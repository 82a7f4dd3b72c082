"""Raw rows into the float32 matrix the model reads, checked and normalised.

A matrix is stored feature by feature, the layout Arrow's columns copy into
fastest, and aligned so that TensorFlow can read it without a copy.
"""

from __future__ import annotations

import copy
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import sklearn
import tensorflow as tf

from sae_pipelines.inference.tables import as_arrow
from sae_pipelines.runtime.errors import InputError

# TensorFlow's alignment of tensor memory: an array aligned to it is shared
# through DLPack instead of copied.
TENSOR_ALIGNMENT = 64


class InvalidInputError(InputError, ValueError):
    """Rows whose columns or values do not fit the model; nothing was written."""


def normalize_features(
    in_place: Any, features: np.ndarray, overwrite: bool = False
) -> np.ndarray:
    """Scale raw float32 rows with a normaliser from :func:`in_place_copy`.

    The one way rows are normalised, for training splits and inference alike,
    so both give the model the same float32 values.

    Args:
        in_place: The fitted normaliser, as :func:`in_place_copy` returns it.
        features: Raw rows, ``(rows, features)``, float32 and finite.
        overwrite: As in :meth:`InferenceModel.normalize`.

    Returns:
        ``(rows, features)``, stored feature by feature and aligned.
    """
    by_feature = features.T
    if not (overwrite and _shareable_with_tensorflow(by_feature)):
        by_feature = aligned_empty(by_feature.shape)
        by_feature[...] = features.T
    if len(features) == 0:  # scikit-learn's normalisers refuse zero rows
        return by_feature.T
    with warnings.catch_warnings(), sklearn.config_context(assume_finite=True):
        # Fitted on a DataFrame; the columns were checked by name already.
        warnings.filterwarnings("ignore", "X does not have valid feature names")
        scaled = in_place.transform(by_feature.T)
    if not np.shares_memory(scaled, by_feature):  # not a scikit-learn scaler
        by_feature[...] = scaled.T
    return by_feature.T


def aligned_empty(shape: tuple[int, ...]) -> np.ndarray:
    """An uninitialised C-ordered float32 array aligned for TensorFlow."""
    size = int(np.prod(shape))
    raw = np.empty(size + TENSOR_ALIGNMENT // 4, np.float32)
    start = (-raw.ctypes.data % TENSOR_ALIGNMENT) // 4
    return raw[start : start + size].reshape(shape)


def _shareable_with_tensorflow(array: np.ndarray) -> bool:
    return (
        array.dtype == np.float32
        and array.flags.c_contiguous
        and array.flags.writeable
        and array.ctypes.data % TENSOR_ALIGNMENT == 0
    )


def as_tensor(array: np.ndarray) -> tf.Tensor:
    """``array`` as a tensor: shared through DLPack where it can be, else copied.

    TensorFlow aborts the process on unaligned memory, so only arrays that
    pass :func:`_shareable_with_tensorflow` are shared.
    """
    if _shareable_with_tensorflow(array):
        return tf.experimental.dlpack.from_dlpack(array.__dlpack__())
    return tf.convert_to_tensor(np.ascontiguousarray(array, np.float32))


def in_place_copy(normalizer: Any) -> Any:
    """A copy of a fitted scikit-learn normaliser that transforms in place.

    Every ``copy`` parameter, its own or its pipeline steps', is set to False.
    """
    in_place = copy.deepcopy(normalizer)
    copies = [name for name in in_place.get_params() if name.split("__")[-1] == "copy"]
    return in_place.set_params(**dict.fromkeys(copies, False))


def check_columns(
    label: str, columns: list[str], expected: list[str], id_column: str
) -> None:
    """Stop unless ``columns`` are the training features (any order) and an optional id.

    Raises:
        InvalidInputError: Naming the columns missing and those not expected;
            the message starts with ``label``.
    """
    features = [c for c in columns if c != id_column]
    missing = [c for c in expected if c not in features]
    extra = [c for c in features if c not in expected]
    if not (missing or extra):
        return
    problems = [f"missing columns {missing}"] if missing else []
    problems += [f"unexpected columns {extra}"] if extra else []
    msg = f"{label} does not match the model's features: {'; '.join(problems)}"
    raise InvalidInputError(msg)


def feature_values(
    label: str,
    chunk: pa.Table | pd.DataFrame,
    expected: list[str],
    reuse: np.ndarray | None = None,
) -> np.ndarray:
    """The chunk's features as one float32 matrix, stored feature by feature.

    Shape ``(rows, features)``; each feature's values lie together, so each
    Arrow column is one contiguous copy. The memory is aligned for
    :meth:`InferenceModel.normalize` to scale it in place and share it with
    TensorFlow.

    Args:
        label: How error messages name the rows, e.g. ``Partition 'day1'``.
        chunk: Some rows, with every column of ``expected``.
        expected: The feature columns, in the model's order.
        reuse: An earlier result whose memory may be overwritten when it has
            the same shape: fresh memory costs the kernel a page clearing.

    Raises:
        InvalidInputError: Text, missing, NaN or infinite values; the message
            starts with ``label`` and names the columns at fault.
    """
    table = as_arrow(chunk)
    non_numeric = [
        name for name in expected if not _is_numeric(table.schema.field(name).type)
    ]
    if non_numeric:
        msg = f"{label} has non-numeric values in columns {non_numeric}"
        raise InvalidInputError(msg)
    shape = (len(expected), table.num_rows)
    if reuse is not None and reuse.T.shape == shape:
        by_feature = reuse.T
    else:
        by_feature = aligned_empty(shape)
    for row, name in zip(by_feature, expected, strict=True):
        # float32 columns are read in place; nulls become NaN
        column = table.column(name).cast(pa.float32(), safe=False)
        row[:] = column.to_numpy(zero_copy_only=False)
    # One sum per feature finds NaN and infinity; only then is each value checked
    # (a sum can also overflow to infinity from finite values).
    with np.errstate(over="ignore", invalid="ignore"):
        suspect = not np.isfinite(by_feature.sum(axis=1)).all()
    bad: np.ndarray | list[int] = (
        np.flatnonzero(~np.isfinite(by_feature).all(axis=1)) if suspect else []
    )
    if len(bad):
        names = [expected[i] for i in bad]
        msg = f"{label} has missing, NaN or infinite values in columns {names}"
        raise InvalidInputError(msg)
    return by_feature.T


def _is_numeric(column_type: pa.DataType) -> bool:
    return (
        pa.types.is_integer(column_type)
        or pa.types.is_floating(column_type)
        or pa.types.is_boolean(column_type)
        or pa.types.is_null(column_type)
    )
