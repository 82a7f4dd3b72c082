"""The dictionary around the sparse code: centred inputs and unit-norm directions.

Two layers, as the reference trainers build a sparse autoencoder
(openai/sparse_autoencoder, saprmarks/dictionary_learning, SAELens):

- :class:`InputCentring`: ``b_dec`` is subtracted before the encoder and added
  back after the decoder, so the code describes a row's departure from a
  learnt centre (initialised at the training rows' geometric median) rather
  than spending its active units on the mean row. The centred rows are also
  multiplied by one fixed scale, chosen so that they have unit mean squared
  norm: the encoder, the thresholds and the step sizes then see the same
  scale on every table.
- :class:`UnitNormDecoder`: each code unit's decoder row is a unit vector, so a
  code's value is the whole of its contribution. The row is stored free and
  used normalised, so the gradient reaching it has no component along the row
  (the "gradient projection" of the references), and a constraint puts it back
  on the unit sphere after each step.

Both are registered as serialisable, like the sparsity layers.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from sae_pipelines.sae.layers import PACKAGE

# Rows the centre is estimated from, as openai/sparse_autoencoder does.
CENTRE_SAMPLE_ROWS = 32_768


@keras.saving.register_keras_serializable(package=PACKAGE)
class InputCentring(keras.layers.Layer):
    """``(x − b_dec) · s`` into the encoder, ``x̂ / s + b_dec`` out of the decoder.

    One layer called twice: ``layer(rows)`` on the way in and
    ``layer(decoded, inverse=True)`` on the way out, so the two uses share
    ``offset`` (``b_dec``, learnt) and ``scale`` (``s``, fixed when the layer is
    fitted to the data with :func:`fit_centring`).
    """

    def build(self, input_shape: tuple[int, ...]) -> None:
        self.offset = self.add_weight(
            shape=(input_shape[-1],), initializer="zeros", name="offset"
        )
        self.scale = self.add_weight(
            shape=(), initializer="ones", trainable=False, name="scale"
        )

    def call(self, inputs: Any, inverse: bool = False) -> Any:
        if inverse:
            return inputs / self.scale + self.offset
        return (inputs - self.offset) * self.scale

    def centre_by_feature(self, by_feature: Any) -> Any:
        """The forward step for rows stored feature by feature, ``(features, rows)``."""
        return (by_feature - self.offset[:, None]) * self.scale

    def compute_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return input_shape


@keras.saving.register_keras_serializable(package=PACKAGE)
class UnitNormDecoder(keras.layers.Layer):
    """``z · D``, where row ``j`` of ``D`` is unit ``j``'s direction, of unit norm.

    The stored kernel ``V`` is used as ``D = V / ‖V_j‖``. The gradient to
    ``V_j`` is then the gradient to ``D_j`` with its component along ``D_j``
    removed (divided by ``‖V_j‖``, which the unit-norm constraint keeps at 1).
    """

    def __init__(self, units: int, use_bias: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = int(units)
        self.use_bias = bool(use_bias)

    def build(self, input_shape: tuple[int, ...]) -> None:
        self.kernel = self.add_weight(
            shape=(input_shape[-1], self.units),
            initializer=keras.initializers.RandomNormal(stddev=1.0),
            constraint=keras.constraints.UnitNorm(axis=1),
            name="kernel",
        )
        self.bias = (
            self.add_weight(shape=(self.units,), initializer="zeros", name="bias")
            if self.use_bias
            else None
        )

    def directions(self) -> Any:
        """``D``: the kernel with each code unit's row scaled to unit norm."""
        norms = ops.sqrt(ops.sum(ops.square(self.kernel), axis=1, keepdims=True))
        return self.kernel / ops.maximum(norms, 1e-12)

    def call(self, inputs: Any) -> Any:
        outputs = ops.matmul(inputs, self.directions())
        return outputs if self.bias is None else outputs + self.bias

    def compute_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return (*input_shape[:-1], self.units)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units, "use_bias": self.use_bias}


def geometric_median(
    points: np.ndarray, iterations: int = 100, tolerance: float = 1e-6
) -> np.ndarray:
    """The point with the least summed Euclidean distance to ``points``' rows.

    Weiszfeld's algorithm, started at the mean: each step is the mean of the
    rows weighted by their inverse distance to the current estimate. Robust to
    outlying rows, unlike the mean. (The ``geom_median`` package does the
    same, under the GPL.)
    """
    points = np.asarray(points, dtype=np.float64)
    median = points.mean(axis=0)
    for _ in range(iterations):
        distances = np.linalg.norm(points - median, axis=1)
        weights = 1.0 / np.maximum(distances, 1e-12)
        updated = weights @ points / weights.sum()
        moved = np.linalg.norm(updated - median)
        median = updated
        if moved <= tolerance * max(float(np.linalg.norm(median)), 1.0):
            break
    return median


def fit_centring(layer: InputCentring, rows: np.ndarray, seed: int) -> None:
    """Set ``b_dec`` to the rows' geometric median and ``s`` to unit mean squared norm.

    Both from at most :data:`CENTRE_SAMPLE_ROWS` rows, drawn with ``seed``.
    """
    if len(rows) > CENTRE_SAMPLE_ROWS:
        pick = np.random.default_rng(seed).choice(len(rows), CENTRE_SAMPLE_ROWS, False)
        rows = rows[pick]
    centre = geometric_median(rows)
    mean_squared_norm = float(np.mean(np.sum(np.square(rows - centre), axis=1)))
    layer.offset.assign(centre.astype(np.float32))
    layer.scale.assign(1.0 / np.sqrt(max(mean_squared_norm, 1e-12)))
