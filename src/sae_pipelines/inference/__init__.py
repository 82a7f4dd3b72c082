"""The inference model: normaliser, sparse autoencoder and anomaly threshold in one.

``model`` scores rows (plain Keras, no Kedro, no MLflow); ``pyfunc`` is the same
model as an MLflow ``pyfunc`` model, the one that is registered and served;
``datasets`` saves, registers and loads it in the Kedro catalog.
"""

from sae_pipelines.inference.features import InvalidInputError
from sae_pipelines.inference.model import InferenceModel, code_column_names

__all__ = ["InferenceModel", "InvalidInputError", "code_column_names"]
