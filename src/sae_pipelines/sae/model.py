"""Building the sparse autoencoder and taking its encoder apart.

Layout (``encoder_units=[h]``, input width ``d``, ``code_size=c``)::

    input (d) → "input_centring" (x − b_dec)·s → Dense h
              → Dense c "code_preactivation" → "codes" (sparsity piece)
              → Dense h → "reconstruction" (unit-norm rows) → "input_centring"⁻¹
              [→ "output_activation"]

With no ``encoder_units`` (the default) this is the sparse autoencoder of the
reference trainers: ``codes = σ(W_enc (x − b_dec)·s + b_enc)``,
``x̂ = codes · D / s + b_dec``. ``input_centring`` is one layer called on the
way in and on the way out (see :mod:`sae_pipelines.sae.dictionary`); with
``centring`` off it is absent and ``reconstruction`` has its own bias.

The layer named ``codes`` is where sparsity lives: a ReLU with an L1 penalty, a
sigmoid with a KL penalty, a TopK or BatchTopK activation, or a JumpReLU with an
L0 penalty. Denoising training corrupts the inputs with an
:class:`InputCorruption` layer (:func:`input_corruption`) outside the model, so
the saved autoencoder itself never corrupts its inputs.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import keras
import numpy as np

# The Keras modules of the sparsity layers, imported so that wherever models are
# built or loaded every layer is registered as serialisable.
from sae_pipelines.sae import threshold_layers  # noqa: F401
from sae_pipelines.sae.config import CorruptionConfig, ModelConfig, SparsityConfig
from sae_pipelines.sae.dictionary import InputCentring, UnitNormDecoder, fit_centring
from sae_pipelines.sae.layers import InputCorruption

CODES_LAYER = "codes"
CODE_PREACTIVATION_LAYER = "code_preactivation"
RECONSTRUCTION_LAYER = "reconstruction"
CENTRING_LAYER = "input_centring"
OUTPUT_ACTIVATION_LAYER = "output_activation"


def sparsity_layer(config: SparsityConfig) -> keras.layers.Layer:
    """Return the layer that turns code pre-activations into sparse codes.

    Args:
        config: The sparsity method and its settings, ``auto`` ones resolved;
            the method (see :mod:`sae_pipelines.sae.methods`) builds the layer.

    Returns:
        A Keras layer named ``codes``.
    """
    return config.chosen().build_layer(config.settings_of(config.method), CODES_LAYER)


def build_sparse_autoencoder(
    input_dim: int, config: ModelConfig, rows: int | None = None
) -> keras.Model:
    """Build an (uncompiled) sparse autoencoder.

    Its centre is 0 and its scale 1 until :func:`initialise_from_data` fits them.

    Args:
        input_dim: Number of input features.
        config: Layer sizes, activations and sparsity method; ``auto`` sizes are
            resolved for ``input_dim`` and ``rows`` (see
            :meth:`~sae_pipelines.sae.config.ModelConfig.for_data`).
        rows: Number of training rows, which bounds the ``auto`` code size.

    Returns:
        A functional Keras model mapping inputs to reconstructions.
    """
    config = config.for_data(input_dim, rows)
    inputs = keras.Input(shape=(input_dim,), name="features")
    centring = InputCentring(name=CENTRING_LAYER) if config.centring else None
    hidden = centring(inputs) if centring else inputs
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
    decoder = (UnitNormDecoder if config.unit_norm_decoder else keras.layers.Dense)(
        input_dim, use_bias=centring is None, name=RECONSTRUCTION_LAYER
    )
    outputs = decoder(hidden)
    if centring:
        outputs = centring(outputs, inverse=True)
    if config.output_activation != "linear":
        outputs = keras.layers.Activation(
            config.output_activation, name=OUTPUT_ACTIVATION_LAYER
        )(outputs)
    model = keras.Model(inputs, outputs, name="sparse_autoencoder")
    if config.tied_initialisation is True and not config.encoder_units:
        tie_encoder_to_decoder(model)
    return model


def tie_encoder_to_decoder(autoencoder: keras.Model) -> None:
    """Set a one-layer encoder's kernel to the decoder's directions, transposed.

    Each unit then starts out responding to the direction it writes, as the
    reference trainers initialise it; the encoder's biases start at 0.
    """
    encoder = autoencoder.get_layer(CODE_PREACTIVATION_LAYER)
    directions = decoder_directions(autoencoder)
    encoder.kernel.assign(directions.T)
    encoder.bias.assign(np.zeros(encoder.bias.shape, np.float32))


def decoder_directions(autoencoder: keras.Model) -> np.ndarray:
    """The reconstruction layer's rows, one per unit before it, unit-norm if kept so."""
    decoder = autoencoder.get_layer(RECONSTRUCTION_LAYER)
    if isinstance(decoder, UnitNormDecoder):
        return np.asarray(decoder.directions())
    return np.asarray(decoder.kernel)


def centring_of(autoencoder: keras.Model) -> InputCentring | None:
    """The model's :class:`InputCentring` layer, or ``None`` without centring."""
    names = {layer.name for layer in autoencoder.layers}
    return autoencoder.get_layer(CENTRING_LAYER) if CENTRING_LAYER in names else None


def initialise_from_data(autoencoder: keras.Model, rows: np.ndarray, seed: int) -> None:
    """Fit what the model's start takes from the training rows: its centre and scale."""
    centring = centring_of(autoencoder)
    if centring is not None:
        fit_centring(centring, rows, seed)


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


def forward_steps(
    autoencoder: keras.Model,
) -> tuple[list[keras.layers.Layer], list[Callable[[Any], Any]]]:
    """The model's steps at inference: inputs to codes, and codes to reconstruction.

    The first list holds the layers from the first after the centring to
    ``codes``, the centring itself left to the caller (see
    :meth:`~sae_pipelines.sae.dictionary.InputCentring.centre_by_feature`); the
    second, calls from the codes to the reconstruction, the centring's inverse
    included. Run in this order, they are the model's own computation.
    """
    layers = [layer for layer in autoencoder.layers[1:] if layer.name != CENTRING_LAYER]
    codes_at = layers.index(autoencoder.get_layer(CODES_LAYER))
    decoder: list[Callable[[Any], Any]] = [
        partial(layer, training=False)
        for layer in layers[codes_at + 1 :]
        if layer.name != OUTPUT_ACTIVATION_LAYER
    ]
    centring = centring_of(autoencoder)
    if centring is not None:
        decoder.append(partial(centring.__call__, inverse=True))
    decoder += [layer for layer in layers if layer.name == OUTPUT_ACTIVATION_LAYER]
    return layers[: codes_at + 1], decoder


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


def decoder_of(autoencoder: keras.Model) -> keras.Model:
    """Return the model that maps codes to reconstructions, sharing weights.

    Args:
        autoencoder: A model built by :func:`build_sparse_autoencoder`.

    Returns:
        The decoder half, whose input is a batch of codes.
    """
    return keras.Model(
        autoencoder.get_layer(CODES_LAYER).output, autoencoder.output, name="decoder"
    )


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
