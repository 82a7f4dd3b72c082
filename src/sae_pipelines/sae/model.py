"""Building the sparse autoencoder and taking its encoder apart.

Layout (``encoder_units=[h]``, input width ``d``, ``code_size=c``)::

    input (d) → Dense h → Dense c "code_preactivation" → "codes" (sparsity piece)
              → Dense h → Dense d "reconstruction"

The layer named ``codes`` is where sparsity lives: a ReLU with an L1 penalty, a
sigmoid with a KL penalty, a TopK or BatchTopK activation, or a JumpReLU with an
L0 penalty. Denoising training wraps the
model in an :class:`InputCorruption` layer (:func:`with_input_corruption`), so the
saved autoencoder itself never corrupts its inputs.
"""

from __future__ import annotations

import keras
import numpy as np

from sae_pipelines.sae.config import CorruptionConfig, ModelConfig, SparsityConfig
from sae_pipelines.sae.layers import (
    InputCorruption,
    ReLUWithL1Penalty,
    SigmoidWithKLPenalty,
    TopKActivation,
)
from sae_pipelines.sae.threshold_layers import (
    BatchTopKActivation,
    JumpReLUWithL0Penalty,
)

CODES_LAYER = "codes"
CODE_PREACTIVATION_LAYER = "code_preactivation"
RECONSTRUCTION_LAYER = "reconstruction"


def sparsity_layer(config: SparsityConfig) -> keras.layers.Layer:
    """Return the layer that turns code pre-activations into sparse codes.

    Args:
        config: The sparsity method and its settings.

    Returns:
        A Keras layer named ``codes``.
    """
    if config.method == "l1":
        return ReLUWithL1Penalty(config.l1.weight, name=CODES_LAYER)
    if config.method == "kl":
        return SigmoidWithKLPenalty(config.kl.rho, config.kl.beta, name=CODES_LAYER)
    if config.method == "batchtopk":
        return BatchTopKActivation(config.batchtopk.k, name=CODES_LAYER)
    if config.method == "jumprelu":
        settings = config.jumprelu
        return JumpReLUWithL0Penalty(
            settings.l0_weight, settings.bandwidth, name=CODES_LAYER
        )
    return TopKActivation(config.topk.k, name=CODES_LAYER)


def build_sparse_autoencoder(input_dim: int, config: ModelConfig) -> keras.Model:
    """Build an (uncompiled) sparse autoencoder.

    Args:
        input_dim: Number of input features.
        config: Layer sizes, activations and sparsity method; ``auto`` sizes are
            resolved for ``input_dim`` (see :meth:`ModelConfig.for_input_width`).

    Returns:
        A functional Keras model mapping inputs to reconstructions.
    """
    config = config.for_input_width(input_dim)
    inputs = keras.Input(shape=(input_dim,), name="features")
    hidden = inputs
    for index, units in enumerate(config.encoder_units):
        hidden = keras.layers.Dense(
            units, activation=config.hidden_activation, name=f"encoder_{index}"
        )(hidden)
    preactivation = keras.layers.Dense(config.code_size, name=CODE_PREACTIVATION_LAYER)(
        hidden
    )
    hidden = sparsity_layer(config.sparsity)(preactivation)
    for index, units in enumerate(reversed(config.encoder_units)):
        hidden = keras.layers.Dense(
            units, activation=config.hidden_activation, name=f"decoder_{index}"
        )(hidden)
    outputs = keras.layers.Dense(
        input_dim, activation=config.output_activation, name=RECONSTRUCTION_LAYER
    )(hidden)
    return keras.Model(inputs, outputs, name="sparse_autoencoder")


def encoder_of(autoencoder: keras.Model) -> keras.Model:
    """Return the model that maps inputs to sparse codes, sharing weights.

    Args:
        autoencoder: A model built by :func:`build_sparse_autoencoder`.

    Returns:
        The encoder half, whose output is the ``codes`` layer.
    """
    return keras.Model(
        autoencoder.inputs, autoencoder.get_layer(CODES_LAYER).output, name="encoder"
    )


def code_size_of(autoencoder: keras.Model) -> int:
    """Number of code units of a sparse autoencoder."""
    return int(autoencoder.get_layer(CODES_LAYER).output.shape[-1])


def input_corruption(
    config: CorruptionConfig, seed: int | None = None
) -> InputCorruption | None:
    """The corruption layer for ``config``, or ``None`` when it is off."""
    if config.method == "none":
        return None
    return InputCorruption(
        config.method,
        noise_std=config.noise_std,
        mask_fraction=config.mask_fraction,
        seed=seed,
        name="input_corruption",
    )


def with_input_corruption(
    autoencoder: keras.Model, config: CorruptionConfig, seed: int | None = None
) -> keras.Model:
    """The model to fit for denoising: corrupt the inputs, then reconstruct.

    Returns:
        ``autoencoder`` itself when corruption is off; otherwise a model sharing
        its weights whose inputs are corrupted in training only.
    """
    corruption = input_corruption(config, seed)
    if corruption is None:
        return autoencoder
    inputs = keras.Input(shape=autoencoder.input_shape[1:], name="clean_features")
    return keras.Model(
        inputs, autoencoder(corruption(inputs)), name="denoising_autoencoder"
    )


def decoder_of(autoencoder: keras.Model) -> keras.Model:
    """Return the model that maps codes to reconstructions, sharing weights.

    Args:
        autoencoder: A model built by :func:`build_sparse_autoencoder`.

    Returns:
        The decoder half, whose input is a batch of codes.
    """
    codes = keras.Input(shape=(code_size_of(autoencoder),), name="codes_in")
    layers = autoencoder.layers
    hidden = codes
    for layer in layers[layers.index(autoencoder.get_layer(CODES_LAYER)) + 1 :]:
        hidden = layer(hidden)
    return keras.Model(codes, hidden, name="decoder")


def unit_directions(autoencoder: keras.Model, scales: np.ndarray) -> np.ndarray:
    """What each code unit adds to a reconstruction when it fires alone.

    Row ``j`` is ``decoder(s_j · e_j) − decoder(0)``, with ``s_j`` a typical
    activation of unit ``j``. With a one-layer linear decoder this is row ``j``
    of its weights; with deeper or saturating decoders it is the effect itself.

    Args:
        autoencoder: A model built by :func:`build_sparse_autoencoder`.
        scales: One activation per code unit.

    Returns:
        An array of shape ``(code units, input features)``.
    """
    decoder = decoder_of(autoencoder)
    codes = np.diag(np.asarray(scales, dtype=np.float32))
    baseline = np.zeros((1, codes.shape[0]), dtype=np.float32)
    return np.asarray(decoder(codes)) - np.asarray(decoder(baseline))
