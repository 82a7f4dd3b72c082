"""``kl``: sigmoid codes, with a KL-divergence penalty towards a target activation."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field, NonNegativeFloat

from sae_pipelines.sae.methods.base import MethodSettings, SparsityMethod

if TYPE_CHECKING:
    from sae_pipelines.sae.layers import SigmoidWithKLPenalty


class KLSettings(MethodSettings):
    """Settings of the KL-divergence penalty towards a target activation."""

    rho: float = Field(gt=0.0, lt=1.0, description="ρ, the target mean activation.")
    beta: NonNegativeFloat = Field(description="β, the weight of the KL penalty.")


def build_layer(settings: KLSettings, name: str) -> SigmoidWithKLPenalty:
    """The sigmoid with the penalty, named ``name``."""
    from sae_pipelines.sae.layers import SigmoidWithKLPenalty

    return SigmoidWithKLPenalty(settings.rho, settings.beta, name=name)


def describe(layer: SigmoidWithKLPenalty) -> str:
    """E.g. ``sigmoid + KL ρ=0.05 β=1``."""
    return f"sigmoid + KL ρ={layer.rho:g} β={layer.beta:g}"


METHOD = SparsityMethod(
    name="kl",
    settings=KLSettings,
    build_layer=build_layer,
    layer_class="SigmoidWithKLPenalty",
    describe=describe,
)
