"""The sparse autoencoder itself: plain TensorFlow/Keras, no Kedro.

Read top to bottom: ``layers`` and ``threshold_layers`` (the sparsity pieces),
``dictionary`` (the centring and the unit-norm decoder around the code),
``config`` (validated settings), ``model`` (building it), ``trainer`` (the
training step: its loss, AuxK and dead-unit counts), ``resampling`` (dead units
pointed at badly reconstructed rows), ``training`` (fitting it, with
``fit_progress`` reporting on the fit), ``metrics`` (what its outputs are judged
by).
"""

from sae_pipelines.sae.config import CorruptionConfig, ModelConfig, TrainingConfig
from sae_pipelines.sae.dictionary import InputCentring, UnitNormDecoder
from sae_pipelines.sae.layers import (
    InputCorruption,
    ReLUWithL1Penalty,
    SigmoidWithKLPenalty,
    TopKActivation,
)
from sae_pipelines.sae.model import (
    build_sparse_autoencoder,
    encoder_of,
    input_corruption,
)
from sae_pipelines.sae.threshold_layers import (
    BatchTopKActivation,
    JumpReLUWithL0Penalty,
)
from sae_pipelines.sae.training import fit_sparse_autoencoder

__all__ = [
    "BatchTopKActivation",
    "CorruptionConfig",
    "InputCentring",
    "InputCorruption",
    "JumpReLUWithL0Penalty",
    "ModelConfig",
    "ReLUWithL1Penalty",
    "SigmoidWithKLPenalty",
    "TopKActivation",
    "TrainingConfig",
    "UnitNormDecoder",
    "build_sparse_autoencoder",
    "encoder_of",
    "fit_sparse_autoencoder",
    "input_corruption",
]
