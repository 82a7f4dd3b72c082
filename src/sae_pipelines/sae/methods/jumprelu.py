"""``jumprelu``: per-unit learnt thresholds, with a penalty that steers the L0."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, NonNegativeFloat, PositiveFloat

from sae_pipelines.sae.methods.base import (
    AUTO,
    MethodSettings,
    SparsityMethod,
    resolved_setting,
)

if TYPE_CHECKING:
    from sae_pipelines.sae.threshold_layers import JumpReLUWithL0Penalty


class JumpReLUSettings(MethodSettings):
    """Settings of the JumpReLU activation and its L0 penalty.

    The penalty is ``coefficient · (L0 / target_l0 − 1)²`` (saprmarks/
    dictionary_learning), so the thresholds settle where about ``target_l0``
    codes per row are active. The constants hold on any table because the
    codes see centred rows of unit mean squared norm (``model.centring``).
    """

    target_l0: PositiveFloat | Literal["auto"] = Field(
        AUTO, description="Active codes per row aimed at; auto: as TopK's k."
    )
    coefficient: NonNegativeFloat = Field(
        1.0, description="Weight of the penalty (L0 / target_l0 − 1)²."
    )
    bandwidth: PositiveFloat = Field(
        0.001, description="ε, the width of the threshold's pseudo-derivative window."
    )
    initial_threshold: PositiveFloat = Field(
        0.001, description="Every unit's threshold before training."
    )

    def for_data(self, width: int, code_size: int, topk_k: float) -> JumpReLUSettings:
        """An ``auto`` target L0 is TopK's resolved ``k``."""
        return JumpReLUSettings.model_validate(
            {
                **self.model_dump(),
                "target_l0": topk_k if self.target_l0 == AUTO else self.target_l0,
            }
        )


def build_layer(settings: JumpReLUSettings, name: str) -> JumpReLUWithL0Penalty:
    """The JumpReLU with its L0 penalty, named ``name``."""
    from sae_pipelines.sae.threshold_layers import JumpReLUWithL0Penalty

    return JumpReLUWithL0Penalty(
        resolved_setting(settings.target_l0),
        settings.coefficient,
        settings.bandwidth,
        settings.initial_threshold,
        name=name,
    )


def describe(layer: JumpReLUWithL0Penalty) -> str:
    """E.g. ``JumpReLU, target L0 24 ε=0.001``."""
    return f"JumpReLU, target L0 {layer.target_l0:g} ε={layer.bandwidth:g}"


METHOD = SparsityMethod(
    name="jumprelu",
    settings=JumpReLUSettings,
    build_layer=build_layer,
    layer_class="JumpReLUWithL0Penalty",
    describe=describe,
    active_codes=("target_l0",),
)
