"""Building the sparse autoencoder and taking its encoder apart.

Layout (``encoder_units=[h]``, input width ``d``, ``code_size=c``)::

    input (d) → Dense h → Dense c "code_preactivation" → "codes" (sparsity piece)
              → Dense h → Dense d "reconstruction"

The layer named ``codes`` is where sparsity lives: a ReLU with an L1 penalty, a
sigmoid with a KL penalty, or a TopK activation.
"""

from __future__ import annotations

import keras

from sae_pipelines.sae.config import ModelConfig, SparsityConfig
from sae_pipelines.sae.layers import (
    ReLUWithL1Penalty,
    SigmoidWithKLPenalty,
    TopKActivation,
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
    return TopKActivation(config.topk.k, name=CODES_LAYER)


def build_sparse_autoencoder(input_dim: int, config: ModelConfig) -> keras.Model:
    """Build an (uncompiled) sparse autoencoder.

    Args:
        input_dim: Number of input features.
        config: Layer sizes, activations and sparsity method.

    Returns:
        A functional Keras model mapping inputs to reconstructions.
    """
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
