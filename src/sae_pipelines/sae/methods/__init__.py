"""The sparsity methods, one module each, found by name.

Each module (``l1``, ``kl``, ``topk``, ``batchtopk``, ``jumprelu``) holds one
:class:`~sae_pipelines.sae.methods.base.SparsityMethod`: its settings, how its
``codes`` layer is built, and how that layer is described. ``model.sparsity``'s
keys follow from :data:`METHODS` (see :mod:`sae_pipelines.sae.config`).

A sixth method is a module beside these, with its settings, ``build_layer``,
``describe`` and ``METHOD``, named in :data:`METHODS` below, and its settings
under ``model.sparsity`` in ``conf/base/parameters_training.yml``. Its Keras
layer, registered as serialisable, goes in a Keras module (as those of
``sae.layers`` and ``sae.threshold_layers``) imported by ``sae.model``, so that
reading the settings never loads TensorFlow and a saved model always loads.
"""

from __future__ import annotations

from typing import Any

from sae_pipelines.sae.methods import batchtopk, jumprelu, kl, l1, topk
from sae_pipelines.sae.methods.base import SparsityMethod

# In this order in ``model.sparsity`` and in the error naming the choices.
METHODS: dict[str, SparsityMethod] = {
    method.name: method
    for method in (l1.METHOD, kl.METHOD, topk.METHOD, batchtopk.METHOD, jumprelu.METHOD)
}


def method_named(name: str) -> SparsityMethod:
    """The method called ``name`` (``model.sparsity.method``)."""
    return METHODS[name]


def method_of_layer(layer: Any) -> SparsityMethod:
    """The method whose ``codes`` layer ``layer`` is, built or loaded."""
    return next(
        method
        for method in METHODS.values()
        if method.layer_class == type(layer).__name__
    )


__all__ = ["METHODS", "SparsityMethod", "method_named", "method_of_layer"]
