"""Reconstruction and sparsity metrics with exact definitions.

Used by training, evaluation and the tests alike, so every figure means the same
thing wherever it is reported. Inputs are ``(rows, features)`` and
``(rows, code units)`` arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def row_squared_errors(inputs: np.ndarray, reconstructions: np.ndarray) -> np.ndarray:
    """Mean squared error of each row: ``mean_j (x_ij − x̂_ij)²``.

    The inference model computes the anomaly score of a row the same way, in its
    graph (:meth:`~sae_pipelines.inference.InferenceModel.encode_normalized`).
    """
    return np.mean(np.square(inputs - reconstructions), axis=1)


def reconstruction_mse(inputs: np.ndarray, reconstructions: np.ndarray) -> float:
    """Mean squared error over all rows and features."""
    return float(np.mean(np.square(inputs - reconstructions)))


def fraction_of_variance_unexplained(
    inputs: np.ndarray, reconstructions: np.ndarray
) -> float:
    """FVU ``= Σ‖x − x̂‖² / Σ‖x − x̄‖²`` with ``x̄`` the mean row of ``inputs``.

    0 is a perfect reconstruction; 1 is no better than predicting the mean row.
    """
    residual = np.sum(np.square(inputs - reconstructions))
    total = np.sum(np.square(inputs - inputs.mean(axis=0)))
    return float(residual / total)


def active_mask(codes: np.ndarray, threshold: float = 0.0) -> np.ndarray:
    """Which codes are active: ``|z| > threshold``."""
    return np.abs(codes) > threshold


def mean_l0(codes: np.ndarray, threshold: float = 0.0) -> float:
    """L0: the mean number of active codes per row."""
    return float(active_mask(codes, threshold).sum(axis=1).mean())


def mean_activation_per_unit(codes: np.ndarray) -> np.ndarray:
    """Mean activation of each code unit over the rows."""
    return codes.mean(axis=0)


def firing_frequency(codes: np.ndarray, threshold: float = 0.0) -> np.ndarray:
    """Share of rows on which each code unit is active (0 for a dead unit)."""
    return active_mask(codes, threshold).mean(axis=0)


def mean_active_value(codes: np.ndarray, threshold: float = 0.0) -> np.ndarray:
    """Mean of each unit's active values (0 for a dead unit)."""
    active = active_mask(codes, threshold)
    return np.where(active, codes, 0.0).sum(axis=0) / np.maximum(active.sum(axis=0), 1)


def dead_units(codes: np.ndarray, threshold: float = 0.0) -> np.ndarray:
    """Boolean mask of the units that are never active on any row."""
    return np.asarray(~active_mask(codes, threshold).any(axis=0))


def dead_fraction(codes: np.ndarray, threshold: float = 0.0) -> float:
    """Fraction of code units that are never active on any row."""
    return float(dead_units(codes, threshold).mean())


def dense_units(codes: np.ndarray, threshold: float = 0.0) -> np.ndarray:
    """Boolean mask of the units active on more than half of the rows."""
    return firing_frequency(codes, threshold) > 0.5


@dataclass
class CodeCounts:
    """The sparsity figures above, counted over rows that come in parts.

    :meth:`add` each part's codes; the figures then cover all rows added.
    """

    units: int
    threshold: float = 0.0
    rows: int = 0
    active_per_unit: np.ndarray = field(init=False)
    activation_sum: float = 0.0

    def __post_init__(self) -> None:
        """Start every unit's count at 0."""
        self.active_per_unit = np.zeros(self.units, dtype=np.int64)

    def add(self, codes: np.ndarray) -> None:
        """Count ``(rows, code units)`` more codes."""
        self.rows += len(codes)
        self.active_per_unit += active_mask(codes, self.threshold).sum(axis=0)
        self.activation_sum += float(codes.sum(dtype=np.float64))

    def mean_l0(self) -> float:
        """:func:`mean_l0` of the rows added."""
        return float(self.active_per_unit.sum() / self.rows)

    def mean_activation(self) -> float:
        """Mean of all codes of the rows added."""
        return self.activation_sum / (self.rows * self.units)

    def dead_fraction(self) -> float:
        """:func:`dead_fraction` of the rows added."""
        return float((self.active_per_unit == 0).mean())

    def dense_units(self) -> np.ndarray:
        """:func:`dense_units` of the rows added."""
        return np.asarray(self.active_per_unit / self.rows > 0.5)

    def __add__(self, other: CodeCounts) -> CodeCounts:
        """The counts of both sets of rows."""
        total = CodeCounts(self.units, self.threshold, self.rows + other.rows)
        total.active_per_unit = self.active_per_unit + other.active_per_unit
        total.activation_sum = self.activation_sum + other.activation_sum
        return total
