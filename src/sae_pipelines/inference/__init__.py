"""The inference model: normaliser, sparse autoencoder and anomaly threshold in one.

``model`` scores rows (plain Keras, no Kedro, no MLflow); ``pyfunc`` is the same
model as an MLflow ``pyfunc`` model, the one that is registered and served.
The names below load TensorFlow when first used, not when the package is
imported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sae_pipelines.runtime.lazy import lazy_names

if TYPE_CHECKING:
    from sae_pipelines.inference.features import InvalidInputError
    from sae_pipelines.inference.model import InferenceModel, code_column_names

_MODULES = {
    "InferenceModel": "model",
    "InvalidInputError": "features",
    "code_column_names": "model",
}
__all__ = ["InferenceModel", "InvalidInputError", "code_column_names"]


__getattr__ = lazy_names(__name__, _MODULES)
