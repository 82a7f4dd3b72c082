"""The three sparsity pieces: ReLU + L1 penalty, sigmoid + KL penalty, and TopK.

BatchTopK and JumpReLU, the pieces that are a threshold at inference, are in
:mod:`sae_pipelines.sae.threshold_layers`.

Each is a small Keras layer with ``get_config`` and is registered as serialisable,
so a saved model loads with ``keras.models.load_model(path)`` in safe mode once
this module is imported.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

PACKAGE = "sae_pipelines"


def l1_penalty(codes: Any, weight: float) -> Any:
    """``weight · mean over rows of Σ_j |z_j|``: the classic L1 sparsity penalty.

    Averaged over rows, so the penalty does not grow with the batch size.
    """
    return weight * ops.mean(ops.sum(ops.abs(codes), axis=-1))


def kl_penalty(codes: Any, rho: float, beta: float) -> Any:
    """``beta · Σ_j KL(ρ ‖ ρ̂_j)`` (Ng, *Sparse autoencoder*, 2011).

    ``ρ̂_j`` is unit ``j``'s mean activation over the batch; the penalty pulls it
    towards the target activation ``ρ``.
    """
    # Clipped so that a saturated unit gives a large finite penalty, not inf.
    rho_hat = ops.clip(ops.mean(codes, axis=0), 1e-6, 1.0 - 1e-6)
    kl = rho * ops.log(rho / rho_hat) + (1.0 - rho) * ops.log(
        (1.0 - rho) / (1.0 - rho_hat)
    )
    return beta * ops.sum(kl)


# The penalties are added with ``add_loss`` inside the layers rather than as
# Keras activity regularisers, which Keras divides by the batch size.


@keras.saving.register_keras_serializable(package=PACKAGE)
class ReLUWithL1Penalty(keras.layers.Layer):
    """ReLU codes, with :func:`l1_penalty` added to the training loss."""

    def __init__(self, weight: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.weight = float(weight)

    def call(self, inputs: Any) -> Any:
        codes = ops.relu(inputs)
        self.add_loss(l1_penalty(codes, self.weight))
        return codes

    def compute_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "weight": self.weight}


@keras.saving.register_keras_serializable(package=PACKAGE)
class SigmoidWithKLPenalty(keras.layers.Layer):
    """Sigmoid codes, with :func:`kl_penalty` added to the training loss."""

    def __init__(self, rho: float, beta: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rho = float(rho)
        self.beta = float(beta)

    def call(self, inputs: Any) -> Any:
        codes = ops.sigmoid(inputs)
        self.add_loss(kl_penalty(codes, self.rho, self.beta))
        return codes

    def compute_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rho": self.rho, "beta": self.beta}


@keras.saving.register_keras_serializable(package=PACKAGE)
class TopKActivation(keras.layers.Layer):
    """Keeps the ``k`` largest pre-activations of each row, if positive; zeroes the rest.

    The k-sparse autoencoder of Makhzani & Frey (2013) with the ReLU of Gao et
    al. (2024): kept values pass through unchanged, so every row has at most
    ``k`` non-zero codes, and a unit never fires negatively.
    """

    def __init__(self, k: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.k = int(k)

    def call(self, inputs: Any) -> Any:
        # Keep what reaches the k-th largest value: one comparison per code,
        # where a one-hot mask of the k indices would cost k per code. Exact
        # ties at the k-th value would keep more than k; continuous
        # pre-activations of distinct units do not tie.
        kth_largest = ops.min(ops.top_k(inputs, self.k, sorted=False)[0], axis=-1)
        kept = (inputs >= kth_largest[..., None]) & (inputs > 0.0)
        return ops.where(kept, inputs, 0.0)

    def compute_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "k": self.k}


@keras.saving.register_keras_serializable(package=PACKAGE)
class InputCorruption(keras.layers.Layer):
    """Corrupts its inputs in training only: the denoising autoencoder's noise.

    ``gaussian`` adds ``N(0, noise_std²)`` to every input; ``mask`` sets a random
    ``mask_fraction`` of the inputs to 0 without rescaling the rest (unlike
    dropout), so a masked row looks like a row with missing values. At inference
    (``training=False``) the inputs pass through unchanged.
    """

    def __init__(
        self,
        method: str,
        noise_std: float = 0.0,
        mask_fraction: float = 0.0,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if method not in ("gaussian", "mask"):
            msg = f"corruption method must be 'gaussian' or 'mask', got {method!r}"
            raise ValueError(msg)
        self.method = method
        self.noise_std = float(noise_std)
        self.mask_fraction = float(mask_fraction)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs: Any, training: bool = False) -> Any:
        if not training:
            return inputs
        if self.method == "gaussian":
            noise = keras.random.normal(
                ops.shape(inputs), stddev=self.noise_std, seed=self.seed_generator
            )
            return inputs + ops.cast(noise, inputs.dtype)
        draws = keras.random.uniform(ops.shape(inputs), seed=self.seed_generator)
        return inputs * ops.cast(draws >= self.mask_fraction, inputs.dtype)

    def compute_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "method": self.method,
            "noise_std": self.noise_std,
            "mask_fraction": self.mask_fraction,
            "seed": self.seed,
        }
