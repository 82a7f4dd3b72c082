"""The encoder with a softmax layer on its codes, fine-tuned on labelled rows.

Evaluation's pretraining comparison builds two of these from one autoencoder,
one from its weights and one from scratch, and fits both the same way.
"""

from __future__ import annotations

import keras
import numpy as np

from sae_pipelines.sae import encoder_of
from sae_pipelines.sae.training import (
    make_deterministic,
    shuffled_batches,
    steps_per_epoch,
)


def build_code_classifier(
    autoencoder: keras.Model, n_classes: int, pretrained: bool
) -> keras.Model:
    """A classifier made of the encoder and a softmax layer on the codes.

    Args:
        autoencoder: A trained sparse autoencoder; it is left unchanged.
        n_classes: Number of classes of the softmax layer.
        pretrained: Start the encoder from the autoencoder's weights (``True``)
            or from a fresh random initialisation of the same layers (``False``).

    Returns:
        An uncompiled model mapping inputs to class probabilities.
    """
    encoder = encoder_of(autoencoder)
    copy = keras.models.clone_model(encoder)
    if pretrained:
        copy.set_weights(encoder.get_weights())
    probabilities = keras.layers.Dense(
        n_classes, activation="softmax", name="class_probabilities"
    )(copy.output)
    return keras.Model(copy.inputs, probabilities, name="code_classifier")


def fit_code_classifier(
    classifier: keras.Model,
    x_train: np.ndarray,
    y_train: np.ndarray,
    epochs: int,
    learning_rate: float,
    batch_size: int,
    seed: int,
) -> keras.Model:
    """Fine-tune a classifier from :func:`build_code_classifier` end to end.

    A fixed budget of ``epochs`` with Adam and no early stopping, so that a
    pretrained and a randomly initialised classifier get exactly the same
    training. Any sparsity penalty of the encoder stays in the loss.

    Args:
        classifier: The model to fit, in place.
        x_train: Labelled rows, ``float32``.
        y_train: Integer class indices ``0 … n_classes − 1``.
        epochs: Passes over the labelled rows.
        learning_rate: Adam's step size.
        batch_size: Rows per step.
        seed: Seeds the shuffling.

    Returns:
        ``classifier``, fitted.
    """
    make_deterministic(seed)
    steps = steps_per_epoch(len(x_train), batch_size)
    classifier.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        steps_per_execution=steps,
    )
    classifier.fit(
        shuffled_batches(x_train, y_train, batch_size, seed),
        steps_per_epoch=steps,
        shuffle=False,  # the dataset reshuffles itself every pass
        epochs=epochs,
        verbose=0,
    )
    return classifier
