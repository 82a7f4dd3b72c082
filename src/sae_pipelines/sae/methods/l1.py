"""``l1``: ReLU codes, with an L1 penalty on them added to the loss."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field, NonNegativeFloat

from sae_pipelines.sae.methods.base import MethodSettings, SparsityMethod

if TYPE_CHECKING:
    from sae_pipelines.sae.layers import ReLUWithL1Penalty


class L1Settings(MethodSettings):
    """Settings of the L1 activity penalty."""

    weight: NonNegativeFloat = Field(description="λ, the weight of the L1 penalty.")


def build_layer(settings: L1Settings, name: str) -> ReLUWithL1Penalty:
    """The ReLU with the penalty, named ``name``."""
    from sae_pipelines.sae.layers import ReLUWithL1Penalty

    return ReLUWithL1Penalty(settings.weight, name=name)


def describe(layer: ReLUWithL1Penalty) -> str:
    """E.g. ``ReLU + L1 λ=0.03``."""
    return f"ReLU + L1 λ={layer.weight:g}"


METHOD = SparsityMethod(
    name="l1",
    settings=L1Settings,
    build_layer=build_layer,
    layer_class="ReLUWithL1Penalty",
    describe=describe,
)
