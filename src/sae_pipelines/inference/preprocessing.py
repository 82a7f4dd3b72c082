"""Scikit-learn transformers of the normalisation step."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin

OutOfRange = Literal["keep", "compress", "clip"]


class OutOfRangeCompressor(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Tames values beyond the range each feature had in the fitted rows.

    A scaler fitted on few training rows sees a narrow range for rare features,
    so one unusual but normal value can land far outside it and dominate a
    squared reconstruction error. With ``compress``, the distance ``d`` beyond
    the fitted range becomes ``log(1 + d)``: order is kept and extreme values
    still stand out, but by their order of magnitude. ``clip`` cuts them at the
    range; ``keep`` passes everything through.

    Args:
        mode: ``keep``, ``compress`` or ``clip``.
        copy: ``False`` changes out-of-range values in the input array itself,
            as scikit-learn's scalers do with ``copy=False``.
    """

    def __init__(self, mode: OutOfRange = "compress", copy: bool = True) -> None:
        self.mode = mode
        self.copy = copy

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickle, also normalisers saved before ``copy`` existed."""
        super().__setstate__({"copy": True, **state})

    def fit(self, x: np.ndarray, y: None = None) -> OutOfRangeCompressor:
        """Learn each feature's minimum and maximum."""
        x = np.asarray(x, dtype=np.float64)
        self.low_, self.high_ = x.min(axis=0), x.max(axis=0)
        self.n_features_in_ = x.shape[1]
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Apply ``mode`` to the values outside the fitted range.

        Float32 input stays float32; other input becomes float64. Columns whose
        values all lie in the range are found with one min and one max per
        column and left as they are, so in-range tables are not copied.
        """
        x = np.asarray(x)
        x = x.astype(np.result_type(x.dtype, np.float32), copy=False)
        if self.mode == "keep" or len(x) == 0:
            return x
        low, high = self.low_.astype(x.dtype), self.high_.astype(x.dtype)
        outside = np.flatnonzero((x.min(axis=0) < low) | (x.max(axis=0) > high))
        if outside.size == 0:
            return x
        if self.copy:
            x = x.copy(order="K")
        columns, low, high = x[:, outside], low[outside], high[outside]
        clipped = np.clip(columns, low, high)
        if self.mode == "compress":
            clipped += np.log1p(np.maximum(columns - high, 0))
            clipped -= np.log1p(np.maximum(low - columns, 0))
        x[:, outside] = clipped
        return x
