"""The sparse autoencoder itself: plain TensorFlow/Keras, no Kedro.

Read top to bottom: ``methods`` (the sparsity methods, one module each, found
by name), ``layers`` and ``threshold_layers`` (their Keras layers),
``dictionary`` (the centring and the unit-norm decoder around the code),
``config`` (validated settings), ``model`` (building it), ``trainer`` (the
training step: its loss, AuxK and dead-unit counts), ``resampling`` (dead units
pointed at badly reconstructed rows), ``training`` (fitting it, with
``fit_progress`` reporting on the fit), ``metrics`` (what its outputs are judged
by).

The names below are imported when first used, so that reading the settings
(``sae.config``) does not load TensorFlow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sae_pipelines.runtime.lazy import lazy_names

if TYPE_CHECKING:
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

_MODULES = {
    "BatchTopKActivation": "threshold_layers",
    "CorruptionConfig": "config",
    "InputCentring": "dictionary",
    "InputCorruption": "layers",
    "JumpReLUWithL0Penalty": "threshold_layers",
    "ModelConfig": "config",
    "ReLUWithL1Penalty": "layers",
    "SigmoidWithKLPenalty": "layers",
    "TopKActivation": "layers",
    "TrainingConfig": "config",
    "UnitNormDecoder": "dictionary",
    "build_sparse_autoencoder": "model",
    "encoder_of": "model",
    "fit_sparse_autoencoder": "training",
    "input_corruption": "model",
}

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


__getattr__ = lazy_names(__name__, _MODULES)
