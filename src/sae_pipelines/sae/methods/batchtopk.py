"""``batchtopk``: the ``k·B`` largest pre-activations of a batch of ``B`` rows are kept.

At inference one threshold, learnt in training, decides.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, PositiveFloat

from sae_pipelines.sae.methods.base import (
    AUTO,
    MethodSettings,
    SparsityMethod,
    fitted_k,
    resolved_setting,
)

if TYPE_CHECKING:
    from sae_pipelines.sae.threshold_layers import BatchTopKActivation


class BatchTopKSettings(MethodSettings):
    """Settings of the BatchTopK activation."""

    k: PositiveFloat | Literal["auto"] = Field(
        AUTO, description="Active codes per row on average; auto: as TopK's k."
    )

    def for_data(self, width: int, code_size: int, topk_k: float) -> BatchTopKSettings:
        """``k`` resolved as TopK's own ``k`` would be."""
        return BatchTopKSettings(k=fitted_k(self.k, width, code_size))


def build_layer(settings: BatchTopKSettings, name: str) -> BatchTopKActivation:
    """The BatchTopK activation, named ``name``."""
    from sae_pipelines.sae.threshold_layers import BatchTopKActivation

    return BatchTopKActivation(resolved_setting(settings.k), name=name)


def describe(layer: BatchTopKActivation) -> str:
    """E.g. ``BatchTopK k=24 (threshold 0.12)``."""
    return f"BatchTopK k={layer.k:g} (threshold {float(layer.threshold.numpy()):.3g})"


METHOD = SparsityMethod(
    name="batchtopk",
    settings=BatchTopKSettings,
    build_layer=build_layer,
    layer_class="BatchTopKActivation",
    describe=describe,
    dictionary=True,
    sizes_code=True,
    active_codes=("k",),
)
