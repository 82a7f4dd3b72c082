"""What every sparsity method is: its settings, its ``codes`` layer, its words.

A method is one module of this package holding a :class:`SparsityMethod`: the
pydantic settings read from ``model.sparsity.<name>``, a function building the
Keras layer named ``codes`` from them, and a function describing a built layer
in the report. The module imports no Keras at its top: the settings are read
where TensorFlow is not loaded (``sae.config``), so the layer is imported in
the build function, from the Keras modules where it is registered as
serialisable (``sae.layers``, ``sae.threshold_layers``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    import keras

AUTO: Final = "auto"
# ``auto`` k: ⌈3·√width⌉ active codes per row, at most half the inputs, and at
# most a quarter of the code units.
K_PER_ROOT_WIDTH = 3
CODE_UNITS_PER_K = 4


T = TypeVar("T")


def resolved_setting(value: T | Literal["auto"]) -> T:
    """``value``, an ``auto``-able setting that ``for_data`` has resolved.

    Raises:
        ValueError: ``value`` is still ``auto``: ``for_data`` was not called.
    """
    if value == AUTO:
        msg = "an auto setting was used before for_data resolved it"
        raise ValueError(msg)
    return value


class StrictSettings(BaseModel):
    """Base of every settings group: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class MethodSettings(StrictSettings):
    """Base of a method's settings: ``auto`` values resolved by :meth:`for_data`."""

    def for_data(self, width: int, code_size: int, topk_k: float) -> MethodSettings:
        """These settings with ``auto`` values resolved; as they are by default.

        Args:
            width: Number of input features.
            code_size: The resolved number of code units.
            topk_k: TopK's resolved ``k``, which other methods' ``auto`` follow.
        """
        return self


@dataclass(frozen=True)
class SparsityMethod:
    """One sparsity method, found by its ``name`` in :data:`..METHODS`.

    Attributes:
        name: The value of ``model.sparsity.method``, and the key of its settings.
        settings: The pydantic model of ``model.sparsity.<name>``. Where every
            field has a default the key may be left out of the parameters.
        build_layer: ``(settings, name)`` → the Keras layer turning code
            pre-activations into codes.
        layer_class: The class name of that layer, by which a loaded model's
            ``codes`` layer is traced back to its method.
        describe: The built (or loaded) layer → a few words for the report.
        dictionary: Whether the codes are a selection of ReLU values, so that
            AuxK, not resampling, keeps the units alive.
        sizes_code: Whether the method's own ``k`` sizes an ``auto`` code;
            TopK's ``k`` does for the methods without.
        active_codes: The settings that ask for a number of active codes per
            row, checked against the code size.
    """

    name: str
    settings: type[MethodSettings]
    build_layer: Callable[[Any, str], keras.layers.Layer]
    layer_class: str
    describe: Callable[[Any], str]
    dictionary: bool = False
    sizes_code: bool = False
    active_codes: tuple[str, ...] = ()


def resolved_k(k: float | Literal["auto"], width: int) -> float:
    """``k``; for ``auto``, ``⌈3·√width⌉`` (least k with k² ≥ 9·width), ≤ ``⌈width/2⌉``."""
    if k != AUTO:
        return k
    return min(math.isqrt(K_PER_ROOT_WIDTH**2 * width - 1) + 1, (width + 1) // 2)


def fitted_k(k: float | Literal["auto"], width: int, code_size: int) -> float:
    """``k`` resolved for ``width``; an ``auto`` one at most a quarter of the code."""
    if k != AUTO:
        return k
    return max(min(resolved_k(k, width), code_size // CODE_UNITS_PER_K), 1)
