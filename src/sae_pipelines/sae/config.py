"""Typed, validated settings of the sparse autoencoder and of its training.

Field names match the keys of ``conf/base/parameters_training.yml`` so that a
pydantic error message names the parameter at fault.
"""

from __future__ import annotations

import math
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

SparsityMethod = Literal["l1", "kl", "topk", "batchtopk", "jumprelu"]
CorruptionMethod = Literal["none", "gaussian", "mask"]
AUTO = "auto"
# ``auto`` training: the batch grows with the data, the step size with √batch.
REFERENCE_BATCH_SIZE = 64
REFERENCE_LEARNING_RATE = 0.003
MAX_AUTO_BATCH_SIZE = 1024
ROWS_PER_AUTO_BATCH = 100
# ``auto`` sizes: k = ⌈3·√width⌉ active codes per row, at most half the inputs,
# from 4·width code units.
K_PER_ROOT_WIDTH = 3
CODE_UNITS_PER_INPUT = 4


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

    k: PositiveInt | Literal["auto"] = Field(
        description=(
            "Number of active codes per row; auto: ⌈3·√width⌉, at most ⌈width/2⌉."
        )
    )


class BatchTopKSettings(StrictSettings):
    """Settings of the BatchTopK activation."""

    k: PositiveFloat | Literal["auto"] = Field(
        AUTO, description="Active codes per row on average; auto: as TopK's k."
    )


class JumpReLUSettings(StrictSettings):
    """Settings of the JumpReLU activation and its L0 penalty."""

    l0_weight: NonNegativeFloat | Literal["auto"] = Field(
        AUTO,
        description="λ, the weight of the mean L0 in the loss; auto: 1/(16·width).",
    )
    bandwidth: PositiveFloat = Field(
        0.05, description="ε, the width of the threshold's pseudo-derivative window."
    )


class SparsityConfig(StrictSettings):
    """Which sparsity method to use, and the settings of each one."""

    method: SparsityMethod
    l1: L1Settings
    kl: KLSettings
    topk: TopKSettings
    batchtopk: BatchTopKSettings = Field(default_factory=BatchTopKSettings)
    jumprelu: JumpReLUSettings = Field(default_factory=JumpReLUSettings)

    def sizing_method(self) -> Literal["topk", "batchtopk"]:
        """Whose ``k`` sizes the code: BatchTopK's with it, TopK's otherwise."""
        return "batchtopk" if self.method == "batchtopk" else "topk"

    def sizing_k(self) -> float | str:
        """The ``k`` that sizes the code (see :meth:`sizing_method`)."""
        return getattr(self, self.sizing_method()).k


class ModelConfig(StrictSettings):
    """Shape of the sparse autoencoder.

    The decoder mirrors ``encoder_units``; the code activation follows from the
    sparsity method (ReLU for ``l1``, sigmoid for ``kl``, TopK for ``topk``,
    BatchTopK for ``batchtopk``, JumpReLU for ``jumprelu``). ``code_size`` and
    the ``k`` of ``topk`` and ``batchtopk`` may be ``auto``: sized from the input
    width by :meth:`for_input_width`, so the defaults carry over between data sets.
    """

    encoder_units: list[PositiveInt] = Field(default_factory=list)
    code_size: PositiveInt | Literal["auto"]
    hidden_activation: str = "relu"
    output_activation: str = "sigmoid"
    sparsity: SparsityConfig

    @model_validator(mode="after")
    def _k_fits_code(self) -> ModelConfig:
        k, code_size = self.sparsity.sizing_k(), self.code_size
        if AUTO not in (k, code_size) and k > code_size:
            name = self.sparsity.sizing_method()
            msg = f"sparsity.{name}.k={k} is larger than code_size={code_size}"
            raise ValueError(msg)
        return self

    def for_input_width(self, width: int) -> ModelConfig:
        """Resolve ``auto`` sizes for inputs of ``width`` features.

        TopK keeps ``k = ⌈3·√width⌉`` codes per row (24 of 64 pixels, 84 of
        784), at most half the inputs (3 of 6 columns) so that the code must
        compress, and the dictionary holds ``4·max(width, k)`` units: an
        overcomplete code, four units per input, sized with the repeats
        pipeline so that the codes serve as features (see the README's
        repeats). BatchTopK resolves its own ``k`` the same way, and sizes the
        code when it is the method; the other methods size it by TopK's.
        JumpReLU's L0 weight is ``1/(16·width)``: about ``√width`` active codes
        on digits and 28 × 28 images.

        Raises:
            ValueError: An explicit ``k`` is larger than the resolved code size.
        """
        code_size = self.code_size
        if code_size == AUTO:
            k = _resolved_k(self.sparsity.sizing_k(), width)
            code_size = CODE_UNITS_PER_INPUT * max(width, math.ceil(k))
        sparsity = self.sparsity.model_copy(
            update={
                "topk": TopKSettings(
                    k=_fitted_k(self.sparsity.topk.k, width, code_size)
                ),
                "batchtopk": BatchTopKSettings(
                    k=_fitted_k(self.sparsity.batchtopk.k, width, code_size)
                ),
                "jumprelu": self.sparsity.jumprelu.model_copy(
                    update={"l0_weight": _l0_weight(self.sparsity.jumprelu, width)}
                ),
            }
        )
        return ModelConfig.model_validate(
            {**self.model_dump(), "code_size": code_size, "sparsity": sparsity}
        )


def _resolved_k(k: float | str, width: int) -> float:
    """``k``; for ``auto``, ``⌈3·√width⌉`` (least k with k² ≥ 9·width), ≤ ``⌈width/2⌉``."""
    if k != AUTO:
        return k
    return min(math.isqrt(K_PER_ROOT_WIDTH**2 * width - 1) + 1, (width + 1) // 2)


def _fitted_k(k: float | str, width: int, code_size: int) -> float:
    """``k`` resolved for ``width``; an ``auto`` one no larger than the code."""
    return min(_resolved_k(k, width), code_size) if k == AUTO else k


def _l0_weight(settings: JumpReLUSettings, width: int) -> float:
    """JumpReLU's λ, or ``1/(16·width)`` for ``auto``.

    The loss's squared error is a mean over the ``width`` features, so what one
    active code saves in it shrinks as the rows widen; λ shrinks with it.
    """
    return 1.0 / (16 * width) if settings.l0_weight == AUTO else settings.l0_weight


class ResamplingConfig(StrictSettings):
    """Re-initialisation of dead code units during training.

    Units that were never active on the training split are pointed at badly
    reconstructed training rows (Bricken et al., *Towards Monosemanticity*, 2023).
    """

    every_epochs: NonNegativeInt = Field(description="0 turns resampling off.")
    until_epoch: NonNegativeInt


class CorruptionConfig(StrictSettings):
    """Input corruption for denoising training: the target stays the clean row."""

    method: CorruptionMethod = "none"
    noise_std: NonNegativeFloat = Field(
        0.2, description="σ of the Gaussian noise added to each input (gaussian)."
    )
    mask_fraction: float = Field(
        0.25, ge=0.0, lt=1.0, description="Share of inputs set to 0 (mask)."
    )


class TrainingConfig(StrictSettings):
    """How the sparse autoencoder is fitted."""

    optimizer: Literal["adam", "adamw", "rmsprop", "sgd"] = "adam"
    learning_rate: PositiveFloat | Literal["auto"]
    batch_size: PositiveInt | Literal["auto"]
    epochs: PositiveInt
    early_stopping_patience: NonNegativeInt
    resample_dead_units: ResamplingConfig
    corruption: CorruptionConfig = Field(default_factory=CorruptionConfig)
    seed: int

    def for_rows(self, rows: int) -> TrainingConfig:
        """Resolve ``auto`` batch size and learning rate for ``rows`` training rows.

        The batch is the power of two nearest ``rows / 100``, within 64 … 1024:
        about a hundred steps per epoch, and batches large enough to keep the
        matrix units busy on big tables (64 rows for digits, 512 for 48 000).
        The learning rate follows Adam's square-root scaling rule (Malladi et
        al., 2022): ``0.003 · √(batch / 64)``. Explicit numbers are kept.
        """
        batch_size = self.batch_size
        if batch_size == AUTO:
            nearest = 2 ** round(math.log2(max(rows / ROWS_PER_AUTO_BATCH, 1)))
            batch_size = min(max(nearest, REFERENCE_BATCH_SIZE), MAX_AUTO_BATCH_SIZE)
        learning_rate = self.learning_rate
        if learning_rate == AUTO:
            learning_rate = REFERENCE_LEARNING_RATE * math.sqrt(
                batch_size / REFERENCE_BATCH_SIZE
            )
        return self.model_copy(
            update={"batch_size": batch_size, "learning_rate": learning_rate}
        )
