"""The inference model: normaliser, sparse autoencoder and anomaly threshold in one.

``model`` scores rows (plain Keras, no Kedro, no MLflow); ``pyfunc`` is the same
model as an MLflow ``pyfunc`` model, the one that is registered and served.
The names below load TensorFlow when first used, not when the package is
imported.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sae_pipelines.inference.features import InvalidInputError
    from sae_pipelines.inference.model import InferenceModel, code_column_names

_MODULES = {
    "InferenceModel": "sae_pipelines.inference.model",
    "InvalidInputError": "sae_pipelines.inference.features",
    "code_column_names": "sae_pipelines.inference.model",
}
__all__ = ["InferenceModel", "InvalidInputError", "code_column_names"]


def __getattr__(name: str) -> Any:
    if name not in _MODULES:
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    return getattr(importlib.import_module(_MODULES[name]), name)
