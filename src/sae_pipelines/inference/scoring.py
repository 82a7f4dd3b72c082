"""How the inference model turns a row into one anomaly score.

Plain NumPy and TensorFlow, no Kedro and no MLflow. Three methods:

- ``reconstruction``: the row's reconstruction MSE over its normalised features.
- ``distance``: the Euclidean distance from the normalised row to its k-th
  nearest neighbour among a fixed sample of normalised training rows.
- ``combined``: both, each on a log scale and standardised by its median and
  interquartile range on the validation rows, added with the distance weighted
  by ``distance_weight``. The reconstruction error finds rows the model cannot
  rebuild; the distance finds rows in empty regions of the input space, which an
  autoencoder as wide as a narrow table rebuilds well. The error counts fully
  when the model leaves at least a tenth of the validation rows' variance
  unexplained, and in proportion below that: an autoencoder that rebuilds every
  row almost exactly has an error that is mostly noise.

The reference sample has a fixed size, so scoring costs one pass over the rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import tensorflow as tf

ScoreMethod = Literal["reconstruction", "distance", "combined"]
# Rows per distance computation: bounds the (rows × reference rows) matrix.
DISTANCE_BLOCK_ROWS = 1024
# The validation FVU from which the reconstruction error counts fully in ``combined``.
FULL_WEIGHT_FVU = 0.1
# What a standardised score adds before its log, as a fraction of its median.
OFFSET_FRACTION = 0.01
LOG_FLOOR = 1e-12


@dataclass(frozen=True)
class Standardizer:
    """Median and interquartile range of a log-scaled score on validation rows.

    The log is of the score plus ``offset``, a hundredth of its median: rows
    rebuilt almost exactly, or lying almost on a training row, all count as
    very normal, and float32 rounding of tiny values cannot swing their score.
    """

    offset: float
    center: float
    spread: float

    @classmethod
    def fit(cls, values: np.ndarray) -> Standardizer:
        """Fit on raw (not yet log-scaled) scores of normal rows."""
        offset = max(float(np.median(values)) * OFFSET_FRACTION, LOG_FLOOR)
        logs = np.log(np.asarray(values, np.float64) + offset)
        low, center, high = np.percentile(logs, [25, 50, 75])
        return cls(offset, float(center), max(float(high - low), 1e-6))

    def __call__(self, values: np.ndarray) -> np.ndarray:
        """``(log(values + offset) − center) / spread``."""
        logs = np.log(np.asarray(values, np.float64) + self.offset)
        return (logs - self.center) / self.spread


@dataclass
class AnomalyScorer:
    """The fitted state of an anomaly score method.

    Attributes:
        method: ``reconstruction``, ``distance`` or ``combined``.
        reference: Normalised training rows the distances are measured to,
            ``(rows, features)`` float32; ``None`` for ``reconstruction``.
        neighbours: The distance is to the ``neighbours``-th nearest reference row.
        distance_weight: Weight of the distance in ``combined``.
        error_weight: Weight of the reconstruction error in ``combined``: the
            validation FVU over ``FULL_WEIGHT_FVU``, at most 1.
        error_scale: Standardises the reconstruction error (``combined``).
        distance_scale: Standardises the distance (``combined``).
    """

    method: ScoreMethod = "reconstruction"
    reference: np.ndarray | None = None
    neighbours: int = 5
    distance_weight: float = 1.0
    error_weight: float = 1.0
    error_scale: Standardizer | None = None
    distance_scale: Standardizer | None = None
    _kth_distance: Any = field(default=None, init=False, repr=False)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_kth_distance": None}

    @property
    def needs_distances(self) -> bool:
        """Whether scores need the distances to the reference rows."""
        return self.method != "reconstruction"

    def score(self, scaled: np.ndarray, errors: np.ndarray) -> np.ndarray:
        """The anomaly scores of normalised rows.

        Args:
            scaled: Normalised rows, ``(rows, features)``.
            errors: Their reconstruction MSE, one per row.

        Returns:
            One float32 score per row; higher is more anomalous.
        """
        if not self.needs_distances:
            return errors
        distances = self.distances(scaled)
        if self.method == "distance":
            return distances
        # fit_scorer sets both scales for the combined score
        assert self.error_scale is not None and self.distance_scale is not None
        error_part = self.error_weight * self.error_scale(errors)
        distance_part = self.distance_weight * self.distance_scale(distances)
        return (error_part + distance_part).astype(np.float32)

    def distances(self, scaled: np.ndarray) -> np.ndarray:
        """Distance from each row to its ``neighbours``-th nearest reference row."""
        if self._kth_distance is None:
            assert self.reference is not None  # fit_scorer sets it for distances
            self._kth_distance = _kth_distance_function(self.reference, self.neighbours)
        blocks = [
            self._kth_distance(tf.constant(scaled[start : start + DISTANCE_BLOCK_ROWS]))
            for start in range(0, len(scaled), DISTANCE_BLOCK_ROWS)
        ]
        if not blocks:
            return np.zeros(0, np.float32)
        return np.concatenate([block.numpy() for block in blocks])


def fit_scorer(
    method: ScoreMethod,
    train: np.ndarray,
    validation: np.ndarray,
    validation_errors: np.ndarray,
    settings: dict[str, Any],
) -> AnomalyScorer:
    """Fit a score method on normalised training and validation rows.

    Args:
        method: ``reconstruction``, ``distance`` or ``combined``.
        train: Normalised training rows; a sample of ``reference_rows`` of
            them (all when fewer) becomes the reference.
        validation: Normalised validation rows (normal rows only), on which
            ``combined`` standardises its two parts.
        validation_errors: Their reconstruction MSE.
        settings: ``neighbours``, ``reference_rows``, ``distance_weight`` and
            ``seed``.

    Returns:
        The fitted scorer.
    """
    if method == "reconstruction":
        return AnomalyScorer()
    reference = sample_rows(train, settings["reference_rows"], settings["seed"])
    scorer = AnomalyScorer(
        method=method,
        reference=np.ascontiguousarray(reference, dtype=np.float32),
        neighbours=min(settings["neighbours"], len(reference)),
        distance_weight=settings["distance_weight"],
    )
    if method == "combined":
        scorer.error_weight = min(
            1.0, _fvu(validation, validation_errors) / FULL_WEIGHT_FVU
        )
        scorer.error_scale = Standardizer.fit(validation_errors)
        scorer.distance_scale = Standardizer.fit(scorer.distances(validation))
    return scorer


def sample_rows(rows: np.ndarray, limit: int, seed: int) -> np.ndarray:
    """``rows`` when there are at most ``limit``, else a seeded sample of ``limit``.

    The sample keeps the rows' order.
    """
    if len(rows) <= limit:
        return rows
    chosen = np.random.default_rng(seed).choice(len(rows), size=limit, replace=False)
    return rows[np.sort(chosen)]


def sample_positions(count: int, limit: int, seed: int) -> np.ndarray:
    """Positions ``0 … count − 1``, or a seeded, ascending sample of ``limit``."""
    return sample_rows(np.arange(count), limit, seed)


def _fvu(rows: np.ndarray, errors: np.ndarray) -> float:
    """Fraction of the rows' variance unexplained, from their reconstruction MSE."""
    variance = float(np.var(np.asarray(rows, np.float64), axis=0).mean())
    return float(np.mean(errors)) / variance if variance > 0 else 1.0


def _kth_distance_function(reference: np.ndarray, neighbours: int) -> Any:
    """A graph function from rows to the distance to their k-th nearest reference row.

    The nearest rows are found with one matrix product (``|x|² − 2x·r + |r|²``),
    whose rounding error is large for close rows and depends on how rows are
    batched; the distance to each found row is then computed anew from the
    differences, so that a row gets the same score in any batch.
    """
    reference_tensor = tf.constant(reference)
    reference_norms = tf.reduce_sum(tf.square(reference_tensor), axis=1)

    def kth_distance(rows: tf.Tensor) -> tf.Tensor:
        approximate = reference_norms - 2.0 * tf.matmul(
            rows, reference_tensor, transpose_b=True
        )
        _, nearest = tf.math.top_k(-approximate, k=neighbours)
        differences = tf.gather(reference_tensor, nearest) - rows[:, tf.newaxis, :]
        distances = tf.sqrt(tf.reduce_sum(tf.square(differences), axis=2))
        return tf.reduce_max(distances, axis=1)

    width = reference.shape[1]
    return tf.function(
        kth_distance, input_signature=[tf.TensorSpec([None, width], tf.float32)]
    )
