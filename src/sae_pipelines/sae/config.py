"""Typed, validated settings of the sparse autoencoder and of its training.

Field names match the keys of ``conf/base/parameters_training.yml`` so that a
pydantic error message names the parameter at fault.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

from pydantic import (
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from sae_pipelines.sae.methods import METHODS, SparsityMethod, method_named
from sae_pipelines.sae.methods.base import (
    AUTO,
    MethodSettings,
    StrictSettings,
    fitted_k,
    resolved_k,
)
from sae_pipelines.sae.methods.topk import TopKSettings

CorruptionMethod = Literal["none", "gaussian", "mask"]
# ``auto`` training: the batch grows with the data, the step size with √batch
# and shrinks with √width.
REFERENCE_BATCH_SIZE = 64
REFERENCE_WIDTH = 64
REFERENCE_LEARNING_RATE = 0.003
MAX_AUTO_BATCH_SIZE = 1024
ROWS_PER_AUTO_BATCH = 100
# ``auto`` code size: 4·width code units (4·k where k is larger), at most one per
# 8 training rows; ``auto`` k is in ``methods.base``.
CODE_UNITS_PER_INPUT = 4
ROWS_PER_CODE_UNIT = 8
# ``auto`` tied initialisation: with at least this many training rows per unit.
TIED_ROWS_PER_CODE_UNIT = 32
# ``auto`` training budget: each of the ``epochs`` periods sees the whole training
# split up to this many rows, a shuffled stream of this many of them beyond, so
# that a table's training stops growing with its rows (20 M rows seen in 400).
MAX_AUTO_EPOCH_ROWS = 50_000
# Validation loss and early stopping read at most this many validation rows.
MAX_VALIDATION_ROWS = 65_536
# AuxK (Gao et al., 2024): its loss weight, and its k as a share of the inputs.
AUXK_COEFFICIENT = 1 / 32
AUXK_SHARE_OF_INPUTS = 0.5


class _SparsityChoice(StrictSettings):
    """Which sparsity method to use, and the settings of each one.

    Its fields are ``method`` and one settings group per method of
    :data:`~sae_pipelines.sae.methods.METHODS`, in its order: see
    :data:`SparsityConfig`.
    """

    method: str

    def chosen(self) -> SparsityMethod:
        """The method in use."""
        return method_named(self.method)

    def settings_of(self, name: str) -> MethodSettings:
        """The settings of the method called ``name``."""
        return getattr(self, name)

    def is_dictionary(self) -> bool:
        """Whether the codes are a selection of ReLU values (TopK or BatchTopK)."""
        return self.chosen().dictionary

    def sizing_method(self) -> str:
        """Whose ``k`` sizes the code: the method's own if it has one, else TopK's."""
        return self.method if self.chosen().sizes_code else "topk"

    def sizing_k(self) -> float | Literal["auto"]:
        """The ``k`` that sizes the code (see :meth:`sizing_method`)."""
        settings = self.settings_of(self.sizing_method())
        k: float | Literal["auto"] = settings.k  # type: ignore[attr-defined]  # sizes_code
        return k

    def for_data(self, width: int, code_size: int) -> _SparsityChoice:
        """Every method's settings with ``auto`` values resolved."""
        topk = self.settings_of("topk")
        assert isinstance(topk, TopKSettings)  # every other auto k follows TopK's
        topk_k = fitted_k(topk.k, width, code_size)
        return self.model_copy(
            update={
                name: self.settings_of(name).for_data(width, code_size, topk_k)
                for name in METHODS
            }
        )


def _settings_field(method: SparsityMethod) -> tuple[type, Any]:
    """A method's settings group: required unless every setting has a default."""
    try:
        method.settings()
    except ValidationError:
        return method.settings, ...
    return method.settings, Field(default_factory=method.settings)


if TYPE_CHECKING:  # what the code may rely on; the fields are the registry's
    SparsityConfig = _SparsityChoice
else:
    SparsityConfig = create_model(
        "SparsityConfig",
        __base__=_SparsityChoice,
        __module__=__name__,
        method=(Literal[tuple(METHODS)], ...),
        **{name: _settings_field(method) for name, method in METHODS.items()},
    )
    SparsityConfig.__doc__ = _SparsityChoice.__doc__


class ModelConfig(StrictSettings):
    """Shape of the sparse autoencoder.

    The decoder mirrors ``encoder_units``; the code activation follows from the
    sparsity method (ReLU for ``l1``, sigmoid for ``kl``, TopK for ``topk``,
    BatchTopK for ``batchtopk``, JumpReLU for ``jumprelu``). ``code_size`` and
    the ``k`` of ``topk`` and ``batchtopk`` may be ``auto``: sized from the input
    width and the training rows by :meth:`for_data`, so the defaults carry over
    between data sets.
    """

    encoder_units: list[PositiveInt] = Field(default_factory=list)
    code_size: PositiveInt | Literal["auto"]
    hidden_activation: str = "relu"
    output_activation: str = Field(
        "linear", description="Applied to the reconstruction (e.g. sigmoid)."
    )
    centring: bool = Field(
        True,
        description=(
            "Subtract a learnt centre b_dec (started at the geometric median) "
            "before the encoder and add it back after the decoder, and scale "
            "the centred rows to unit mean squared norm."
        ),
    )
    unit_norm_decoder: bool = Field(
        True,
        description=(
            "Keep each code unit's decoder row at unit norm, its gradient "
            "projected onto the sphere."
        ),
    )
    tied_initialisation: bool | Literal["auto"] = Field(
        AUTO,
        description=(
            "Start the encoder as the decoder's transpose (one-layer models); "
            "auto: where there are at least 32 training rows per code unit."
        ),
    )
    sparsity: SparsityConfig

    @model_validator(mode="after")
    def _k_fits_code(self) -> ModelConfig:
        k, code_size = self.sparsity.sizing_k(), self.code_size
        if k == AUTO:  # for_data fits an auto k to the code
            return self
        if code_size != AUTO and k > code_size:
            name = self.sparsity.sizing_method()
            msg = f"sparsity.{name}.k={k} is larger than code_size={code_size}"
            raise ValueError(msg)
        return self

    def resolved_code_size(self, width: int, rows: int | None = None) -> int:
        """The code size, ``auto`` resolved as :meth:`for_data` says."""
        if self.code_size != AUTO:
            return self.code_size
        k = resolved_k(self.sparsity.sizing_k(), width)
        code_size = CODE_UNITS_PER_INPUT * max(width, math.ceil(k))
        if rows is not None:
            code_size = max(min(code_size, rows // ROWS_PER_CODE_UNIT), 1)
        return code_size

    def for_data(self, width: int, rows: int | None = None) -> ModelConfig:
        """Resolve ``auto`` sizes for ``rows`` training rows of ``width`` features.

        TopK keeps ``k = ⌈3·√width⌉`` codes per row (24 of 64 pixels, 84 of
        784), at most half the inputs (3 of 6 columns) so that the code must
        compress, and the dictionary holds ``4·max(width, k)`` units, four per
        input, sized with the repeats pipeline so that the codes serve as
        features (see the docs' Repeats page). Given ``rows``, the dictionary
        also holds at most one unit per 8 training rows and ``k`` is at most a
        quarter of the units: a dictionary with a unit for every few rows
        learns the rows themselves (``benchmarks.model_sizes``). BatchTopK
        resolves its own ``k`` the same way, and sizes the code when it is the
        method; the other methods size it by TopK's. JumpReLU's target L0 is
        the resolved ``k``. An ``auto`` tied initialisation is on with at least
        32 training rows per unit, or when ``rows`` is not given: there it
        keeps units alive, as in the reference trainers, while on fewer rows a
        unit that starts as its own decoder direction fits its few rows
        (``benchmarks.model_sizes``).

        Raises:
            ValueError: An explicit ``k`` is larger than the resolved code size.
        """
        code_size = self.resolved_code_size(width, rows)
        sparsity = self.sparsity.for_data(width, code_size)
        tied = self.tied_initialisation
        if tied == AUTO:
            tied = rows is None or rows >= TIED_ROWS_PER_CODE_UNIT * code_size
        return ModelConfig.model_validate(
            {
                **self.model_dump(),
                "code_size": code_size,
                "sparsity": sparsity,
                "tied_initialisation": tied,
            }
        )


class ResamplingConfig(StrictSettings):
    """Re-initialisation of dead code units during training.

    Units that were never active on the training split are pointed at badly
    reconstructed training rows (Bricken et al., *Towards Monosemanticity*,
    2023). Its times are shares of the epoch budget, so that short runs
    resample too.
    """

    every: float = Field(
        ge=0.0, le=1.0, description="Share of the epochs between resamplings; 0: off."
    )
    until: float = Field(
        ge=0.0, le=1.0, description="Share of the epochs after which none is done."
    )
    encoder_norm: PositiveFloat = Field(
        0.2,
        description="A revived unit's encoder norm, as a share of the live units' "
        "mean (Bricken et al.'s 0.2).",
    )

    def epochs(self, budget: int) -> list[int]:
        """The epochs (1-based) after which dead units are resampled."""
        if self.every == 0:
            return []
        every = max(round(self.every * budget), 1)
        return list(range(every, math.floor(self.until * budget) + 1, every))


class AuxKConfig(StrictSettings):
    """The auxiliary loss that trains dead units (AuxK, Gao et al., 2024).

    For ``topk`` and ``batchtopk``: the ``k`` largest pre-activations of the
    units that have not fired for ``dead_after_rows`` training rows
    reconstruct what the model's codes left over, and that error, normalised
    by the residual's variance, is added with weight ``coefficient``.
    """

    coefficient: NonNegativeFloat = Field(
        AUXK_COEFFICIENT, description="Weight of the auxiliary loss; 0: off."
    )
    k: PositiveInt | Literal["auto"] = Field(
        AUTO, description="Dead units used per row; auto: half the input width."
    )
    dead_after_rows: PositiveInt | Literal["auto"] = Field(
        AUTO,
        description="Rows without firing after which a unit counts as dead; "
        "auto: one epoch's rows (see TrainingConfig.epoch_rows).",
    )

    def resolved(self, width: int, code_size: int, rows: int) -> AuxKConfig:
        """``auto`` settings resolved for the inputs, the code and an epoch's rows."""
        k = self.k
        if k == AUTO:
            k = max(math.ceil(AUXK_SHARE_OF_INPUTS * width), 1)
        dead_after = rows if self.dead_after_rows == AUTO else self.dead_after_rows
        return self.model_copy(
            update={"k": min(k, code_size), "dead_after_rows": dead_after}
        )


class LearningRateSchedule(StrictSettings):
    """The step size over the epoch budget: a linear warmup, then a decay."""

    warmup: float = Field(
        ge=0.0, lt=1.0, description="Share of the budget's steps spent warming up."
    )
    decay: Literal["linear", "cosine", "none"] = Field(
        description=(
            "linear: constant, then linearly to 0 from decay_start; cosine: "
            "from the end of the warmup to 0 at the end; none: constant."
        )
    )
    decay_start: float = Field(
        0.8, gt=0.0, lt=1.0, description="Share of the budget where linear starts."
    )

    @model_validator(mode="after")
    def _decay_after_warmup(self) -> LearningRateSchedule:
        if self.decay == "linear" and self.decay_start <= self.warmup:
            msg = f"decay_start={self.decay_start} must come after warmup={self.warmup}"
            raise ValueError(msg)
        return self


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
    epochs: PositiveInt = Field(
        description="Periods the budget is split into: each one ends with the "
        "validation loss, early stopping's check and the epoch's metrics."
    )
    budget: PositiveInt | Literal["auto"] = Field(
        AUTO,
        description="Training rows seen over the whole fit, epochs × the rows of "
        "one epoch; auto: epochs × the training rows, at most epochs × 50 000.",
    )
    validation_rows: PositiveInt = Field(
        MAX_VALIDATION_ROWS,
        description="Most validation rows read after each epoch (a seeded "
        "sample of a larger split).",
    )
    early_stopping_patience: NonNegativeInt = Field(
        description="Passes over the training rows without a better validation "
        "loss after which training stops (see patience_epochs)."
    )
    schedule: LearningRateSchedule
    gradient_clip_norm: PositiveFloat | None = Field(
        description="Largest global norm of a step's gradients; null: no clipping."
    )
    auxk: AuxKConfig = Field(default_factory=AuxKConfig)
    resample_dead_units: ResamplingConfig
    corruption: CorruptionConfig = Field(default_factory=CorruptionConfig)
    seed: int
    backup_folder: str | None = Field(
        None,
        description="Where a fit keeps its state after each epoch, so that a "
        "killed fit resumes there (see sae.backup); null: no backups.",
    )

    @field_validator("budget", mode="before")
    @classmethod
    def _budget_is_rows(cls, value: Any) -> Any:
        """One line for a bad budget, not one per member of its type's union."""
        if value == AUTO or (
            isinstance(value, int) and not isinstance(value, bool) and value > 0
        ):
            return value
        msg = f"must be auto or a whole number of training rows above 0 (got {value!r})"
        raise ValueError(msg)

    def resolved_budget(self, rows: int) -> int:
        """The training rows seen over the fit, ``auto`` resolved for ``rows``.

        ``auto`` is ``epochs × min(rows, 50 000)``: tables of up to 50 000
        training rows (digits, MNIST's 48 000) see all of them every epoch, as
        with a budget in epochs; larger ones see 20 M rows over 400 epochs
        whatever their size, as the reference trainers budget training in
        tokens (SAELens's ``training_tokens``, dictionary_learning's
        ``steps``) rather than passes over the data.
        """
        if self.budget != AUTO:
            return self.budget
        return self.epochs * min(rows, MAX_AUTO_EPOCH_ROWS)

    def epoch_rows(self) -> int:
        """Training rows in one epoch: ``budget / epochs``, rounded up.

        The whole training split where the budget does not cap it; the same
        shuffled stream of rows goes on from one epoch to the next, so an epoch
        of fewer rows than the split is part of a pass over it. Needs the
        budget resolved (:meth:`for_data`).
        """
        assert self.budget != AUTO, "resolve the budget first (for_data)"
        return math.ceil(self.budget / self.epochs)

    def patience_epochs(self, rows: int) -> int:
        """Early stopping's patience in epochs: ``early_stopping_patience`` passes.

        The same number where an epoch is a pass over the ``rows`` training
        rows; where the budget caps the epoch, as many epochs as make that
        many passes (360 epochs of 50 000 rows for 30 passes over 600 000),
        which a 400-epoch budget mostly trains to its end, as the reference
        trainers train a budget of tokens. Counted in capped epochs instead,
        30 of them (1.5 M rows) stopped 600 000-row fits in the noise of the
        full step size, before its decay (docs/concepts/model.md). Needs the
        budget resolved (:meth:`for_data`).
        """
        return math.ceil(self.early_stopping_patience * rows / self.epoch_rows())

    def for_data(self, rows: int, width: int) -> TrainingConfig:
        """Resolve ``auto`` settings for ``rows`` training rows of ``width`` features.

        The batch is the power of two nearest ``rows / 100``, within 64 … 1024:
        about a hundred steps per pass over the rows, and batches large enough to keep the
        matrix units busy on big tables (64 rows for digits, 512 for 48 000).
        The learning rate is ``0.003 · √(batch / 64) · √(64 / width)``: Adam's
        square-root scaling rule for the batch (Malladi et al., 2022), and a
        step that turns a unit-norm row of ``width`` weights by the same angle
        whatever the width (Adam moves each weight by about the rate, so a
        row turns by about ``rate · √width`` radians a step). The budget is
        :meth:`resolved_budget`'s. Explicit numbers are kept.
        """
        batch_size = self.batch_size
        if batch_size == AUTO:
            nearest: int = 2 ** round(math.log2(max(rows / ROWS_PER_AUTO_BATCH, 1)))
            clamped: int = min(max(nearest, REFERENCE_BATCH_SIZE), MAX_AUTO_BATCH_SIZE)
            batch_size = clamped
        learning_rate = self.learning_rate
        if learning_rate == AUTO:
            learning_rate = REFERENCE_LEARNING_RATE * math.sqrt(
                batch_size / REFERENCE_BATCH_SIZE * REFERENCE_WIDTH / width
            )
        return self.model_copy(
            update={
                "batch_size": batch_size,
                "learning_rate": learning_rate,
                "budget": self.resolved_budget(rows),
            }
        )
