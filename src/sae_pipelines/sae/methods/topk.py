"""``topk``: the ``k`` largest positive pre-activations of each row are kept."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, PositiveInt

from sae_pipelines.sae.methods.base import (
    MethodSettings,
    SparsityMethod,
    fitted_k,
    resolved_setting,
)

if TYPE_CHECKING:
    from sae_pipelines.sae.layers import TopKActivation


class TopKSettings(MethodSettings):
    """Settings of the TopK activation."""

    k: PositiveInt | Literal["auto"] = Field(
        description=(
            "Number of active codes per row; auto: ⌈3·√width⌉, at most ⌈width/2⌉."
        )
    )

    def for_data(self, width: int, code_size: int, topk_k: float) -> TopKSettings:
        """``k`` resolved: ``topk_k`` is this ``k``, resolved."""
        return TopKSettings(k=fitted_k(self.k, width, code_size))


def build_layer(settings: TopKSettings, name: str) -> TopKActivation:
    """The TopK activation, named ``name``."""
    from sae_pipelines.sae.layers import TopKActivation

    return TopKActivation(resolved_setting(settings.k), name=name)


def describe(layer: TopKActivation) -> str:
    """E.g. ``TopK k=24``."""
    return f"TopK k={layer.k}"


METHOD = SparsityMethod(
    name="topk",
    settings=TopKSettings,
    build_layer=build_layer,
    layer_class="TopKActivation",
    describe=describe,
    dictionary=True,
    sizes_code=True,
    active_codes=("k",),
)
