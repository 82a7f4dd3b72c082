"""Typed, validated settings of the sparse autoencoder and of its training.

Field names match the keys of ``conf/base/parameters_training.yml`` so that a
pydantic error message names the parameter at fault.
"""

from __future__ import annotations

from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    model_validator,
)

SparsityMethod = Literal["l1", "kl", "topk"]


class StrictSettings(BaseModel):
    """Base of every settings group: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class L1Settings(StrictSettings):
    """Settings of the L1 activity penalty."""

    weight: NonNegativeFloat = Field(description="λ, the weight of the L1 penalty.")


class KLSettings(StrictSettings):
    """Settings of the KL-divergence penalty towards a target activation."""

    rho: float = Field(gt=0.0, lt=1.0, description="ρ, the target mean activation.")
    beta: NonNegativeFloat = Field(description="β, the weight of the KL penalty.")


class TopKSettings(StrictSettings):
    """Settings of the TopK activation."""

    k: PositiveInt = Field(description="Number of active codes per row.")


class SparsityConfig(StrictSettings):
    """Which sparsity method to use, and the settings of each one."""

    method: SparsityMethod
    l1: L1Settings
    kl: KLSettings
    topk: TopKSettings


class ModelConfig(StrictSettings):
    """Shape of the sparse autoencoder.

    The decoder mirrors ``encoder_units``; the code activation follows from the
    sparsity method (ReLU for ``l1``, sigmoid for ``kl``, TopK for ``topk``).
    """

    encoder_units: list[PositiveInt] = Field(default_factory=list)
    code_size: PositiveInt
    hidden_activation: str = "relu"
    output_activation: str = "sigmoid"
    sparsity: SparsityConfig

    @model_validator(mode="after")
    def _k_fits_code(self) -> ModelConfig:
        if self.sparsity.topk.k > self.code_size:
            msg = (
                f"sparsity.topk.k={self.sparsity.topk.k} is larger than "
                f"code_size={self.code_size}"
            )
            raise ValueError(msg)
        return self


class ResamplingConfig(StrictSettings):
    """Re-initialisation of dead code units during training.

    Units that were never active on the training split are pointed at badly
    reconstructed training rows (Bricken et al., *Towards Monosemanticity*, 2023).
    """

    every_epochs: NonNegativeInt = Field(description="0 turns resampling off.")
    until_epoch: NonNegativeInt


class TrainingConfig(StrictSettings):
    """How the sparse autoencoder is fitted."""

    optimizer: Literal["adam", "adamw", "rmsprop", "sgd"] = "adam"
    learning_rate: PositiveFloat
    batch_size: PositiveInt
    epochs: PositiveInt
    early_stopping_patience: NonNegativeInt
    resample_dead_units: ResamplingConfig
    seed: int
