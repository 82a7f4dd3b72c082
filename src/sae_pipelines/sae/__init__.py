"""The sparse autoencoder itself: plain TensorFlow/Keras, no Kedro.

Read top to bottom: ``layers`` (the sparsity pieces), ``config`` (validated
settings), ``model`` (building it), ``training`` (fitting it), ``metrics``
(what its outputs are judged by).
"""

from sae_pipelines.sae.config import ModelConfig, TrainingConfig
from sae_pipelines.sae.layers import (
    ReLUWithL1Penalty,
    SigmoidWithKLPenalty,
    TopKActivation,
)
from sae_pipelines.sae.model import build_sparse_autoencoder, encoder_of
from sae_pipelines.sae.training import fit_sparse_autoencoder

__all__ = [
    "ModelConfig",
    "ReLUWithL1Penalty",
    "SigmoidWithKLPenalty",
    "TopKActivation",
    "TrainingConfig",
    "build_sparse_autoencoder",
    "encoder_of",
    "fit_sparse_autoencoder",
]
