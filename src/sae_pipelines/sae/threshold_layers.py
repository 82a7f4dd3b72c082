"""Sparsity pieces that are an elementwise threshold at inference: BatchTopK, JumpReLU.

Registered as serialisable like those of :mod:`sae_pipelines.sae.layers`; their
thresholds are layer weights, so they are saved with the model.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import tensorflow as tf
from keras import ops

from sae_pipelines.sae.layers import PACKAGE


@keras.saving.register_keras_serializable(package=PACKAGE)
class BatchTopKActivation(keras.layers.Layer):
    """Keeps the ``k·B`` largest pre-activations of a batch of ``B`` rows.

    BatchTopK (Bussmann, Leask & Nanda, 2024): ``k`` active codes per row on
    average (``k`` need not be whole), so a row gets as many as it needs. In
    training, the ``k·B``-th largest value of the batch is the cut; its running
    mean over the training batches (``threshold``, a weight saved with the
    model) is the cut at inference, an elementwise comparison with no sort.
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
        if not training:
            return ops.where(inputs >= self.threshold, inputs, 0.0)
        flat = tf.reshape(inputs, [-1])
        rows = tf.cast(tf.shape(inputs)[0], tf.float32)
        kept = tf.maximum(tf.cast(tf.round(self.k * rows), tf.int32), 1)
        cut = tf.reduce_min(tf.math.top_k(flat, kept, sorted=False).values)
        self._track(tf.stop_gradient(cut))
        return ops.where(inputs >= cut, inputs, 0.0)

    def _track(self, cut: Any) -> None:
        # A plain mean over the first batches, then an exponential one: the
        # first batch sets the threshold, and early batches do not linger.
        self.updates.assign_add(1.0)
        rate = ops.maximum(1.0 - self.momentum, 1.0 / self.updates)
        self.threshold.assign(self.threshold + rate * (cut - self.threshold))

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
    """JumpReLU codes, ``z · H(z − θ_j)``, with ``λ ·`` mean L0 added to the loss.

    JumpReLU (Rajamanoharan et al., 2024): each unit learns its threshold
    ``θ_j = exp(log_threshold_j)``; the step has no useful gradient, so ``θ``
    learns through a straight-through estimator whose rectangle kernel has
    width ``bandwidth`` (ε). At inference it is an elementwise threshold.
    """

    def __init__(
        self,
        weight: float,
        bandwidth: float,
        initial_threshold: float = 0.01,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.weight = float(weight)
        self.bandwidth = float(bandwidth)
        self.initial_threshold = float(initial_threshold)

    def build(self, input_shape: tuple[int, ...]) -> None:
        self.log_threshold = self.add_weight(
            shape=(input_shape[-1],),
            initializer=keras.initializers.Constant(math.log(self.initial_threshold)),
            name="log_threshold",
        )

    def call(self, inputs: Any) -> Any:
        threshold = ops.exp(self.log_threshold)
        l0 = ops.mean(step_l0(inputs, threshold, self.bandwidth))
        self.add_loss(self.weight * l0)
        return jump_relu(inputs, threshold, self.bandwidth)

    def compute_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "weight": self.weight,
            "bandwidth": self.bandwidth,
            "initial_threshold": self.initial_threshold,
        }
