"""Sparsity pieces that are an elementwise threshold at inference: BatchTopK, JumpReLU.

Registered as serialisable like those of :mod:`sae_pipelines.sae.layers`; their
thresholds are layer weights, so they are saved with the model.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from sae_pipelines.sae.layers import PACKAGE


@keras.saving.register_keras_serializable(package=PACKAGE)
class BatchTopKActivation(keras.layers.Layer):
    """Keeps the ``k·B`` largest positive pre-activations of a batch of ``B`` rows.

    BatchTopK (Bussmann, Leask & Nanda, 2024): ``k`` active codes per row on
    average (``k`` need not be whole), so a row gets as many as it needs. In
    training, the ``k·B`` largest values of the batch are kept. At inference
    one threshold decides, an elementwise comparison with no sort: the running
    mean, over the training batches, of the smallest value kept (``threshold``,
    a weight saved with the model), as saprmarks/dictionary_learning keeps it.
    """

    def __init__(self, k: float, momentum: float = 0.99, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.k = float(k)
        self.momentum = float(momentum)

    def build(self, input_shape: tuple[int, ...]) -> None:
        self.threshold = self.add_weight(
            shape=(), initializer="zeros", trainable=False, name="threshold"
        )
        self.updates = self.add_weight(
            shape=(), initializer="zeros", trainable=False, name="updates"
        )

    def call(self, inputs: Any, training: bool = False) -> Any:
        positive = ops.relu(inputs)
        if not training:
            return ops.where(positive > self.threshold, positive, 0.0)
        flat = tf.reshape(positive, [-1])
        rows = tf.cast(tf.shape(inputs)[0], tf.float32)
        kept = tf.maximum(tf.cast(tf.round(self.k * rows), tf.int32), 1)
        cut = tf.reduce_min(tf.math.top_k(flat, kept, sorted=False).values)
        codes = ops.where((positive >= cut) & (positive > 0.0), positive, 0.0)
        smallest_kept = tf.reduce_min(tf.where(codes > 0.0, codes, np.inf))
        self._track(tf.stop_gradient(smallest_kept))
        return codes

    def _track(self, smallest_kept: Any) -> None:
        # A plain mean over the first batches, then an exponential one: the
        # first batch sets the threshold, and early batches do not linger. A
        # batch with nothing kept says nothing.
        if_any = tf.math.is_finite(smallest_kept)
        self.updates.assign_add(tf.cast(if_any, tf.float32))
        rate = ops.maximum(1.0 - self.momentum, 1.0 / ops.maximum(self.updates, 1.0))
        step = tf.where(if_any, rate * (smallest_kept - self.threshold), 0.0)
        self.threshold.assign_add(step)

    def compute_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "k": self.k, "momentum": self.momentum}


def _rectangle(values: Any) -> Any:
    """The rectangle kernel: 1 on ``(−½, ½)``, 0 elsewhere."""
    return tf.cast(tf.abs(values) < 0.5, values.dtype)


def jump_relu(codes: Any, threshold: Any, bandwidth: float) -> Any:
    """``z · H(z − θ)``; ``θ`` gets a straight-through (rectangle-kernel) gradient.

    The gradient to ``z`` is ``H(z − θ)``; to ``θ_j`` it is
    ``−θ_j/ε · K((z − θ_j)/ε)`` summed over rows (Rajamanoharan et al., 2024).
    """

    @tf.custom_gradient
    def forward(z: Any, theta: Any) -> tuple[Any, Any]:
        above = tf.cast(z > theta, z.dtype)

        def gradient(upstream: Any) -> tuple[Any, Any]:
            window = _rectangle((z - theta) / bandwidth)
            return upstream * above, tf.reduce_sum(
                -(theta / bandwidth) * window * upstream, axis=0
            )

        return z * above, gradient

    return forward(codes, threshold)


def step_l0(codes: Any, threshold: Any, bandwidth: float) -> Any:
    """Active codes per row, ``Σ_j H(z_j − θ_j)``, with the same gradient to ``θ``.

    The gradient to ``θ_j`` is ``−1/ε · K((z − θ_j)/ε)``; none flows to ``z``.
    """

    @tf.custom_gradient
    def forward(z: Any, theta: Any) -> tuple[Any, Any]:
        def gradient(upstream: Any) -> tuple[Any, Any]:
            window = _rectangle((z - theta) / bandwidth)
            upstream = upstream[:, None]
            return tf.zeros_like(z), tf.reduce_sum(
                -(1.0 / bandwidth) * window * upstream, axis=0
            )

        return tf.reduce_sum(tf.cast(z > theta, z.dtype), axis=-1), gradient

    return forward(codes, threshold)


@keras.saving.register_keras_serializable(package=PACKAGE)
class JumpReLUWithL0Penalty(keras.layers.Layer):
    """JumpReLU codes, ``z · H(z − θ_j)``, with a penalty that steers the mean L0.

    JumpReLU (Rajamanoharan et al., 2024): each unit learns its threshold
    ``θ_j``; the step has no useful gradient, so ``θ`` learns through a
    straight-through estimator whose rectangle kernel has width ``bandwidth``
    (ε). The loss gains ``coefficient · (L0 / target_l0 − 1)²``, L0 being the
    batch's mean count of active codes per row. As saprmarks/dictionary_learning
    trains it, ``θ`` itself is the weight (a log-threshold moves too slowly
    under Adam: from 0.001 to 0.05 takes thousands of steps) and the codes
    pass a ReLU, so that a threshold below 0 lets no negative code through.
    At inference it is an elementwise threshold.
    """

    def __init__(
        self,
        target_l0: float,
        coefficient: float,
        bandwidth: float,
        initial_threshold: float,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.target_l0 = float(target_l0)
        self.coefficient = float(coefficient)
        self.bandwidth = float(bandwidth)
        self.initial_threshold = float(initial_threshold)

    def build(self, input_shape: tuple[int, ...]) -> None:
        self.threshold = self.add_weight(
            shape=(input_shape[-1],),
            initializer=keras.initializers.Constant(self.initial_threshold),
            name="threshold",
        )

    def call(self, inputs: Any) -> Any:
        # Read as a tensor: a custom gradient may not capture the variable itself.
        threshold = tf.identity(self.threshold)
        l0 = ops.mean(step_l0(inputs, threshold, self.bandwidth))
        self.add_loss(self.coefficient * ops.square(l0 / self.target_l0 - 1.0))
        return ops.relu(jump_relu(inputs, threshold, self.bandwidth))

    def compute_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "target_l0": self.target_l0,
            "coefficient": self.coefficient,
            "bandwidth": self.bandwidth,
            "initial_threshold": self.initial_threshold,
        }
