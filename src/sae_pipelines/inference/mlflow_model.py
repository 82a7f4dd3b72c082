"""The code MLflow runs to build the inference model when it loads it.

MLflow's "models from code": the logged model holds this file instead of a
pickled Python object, and ``code_paths`` holds the package it imports. It is
the model's entry point wherever it is loaded, so it starts the project before
the model's code loads TensorFlow.
"""

import mlflow

from sae_pipelines.runtime.startup import starting_up

with starting_up():
    from sae_pipelines.inference.pyfunc import SparseAutoencoderModel

mlflow.models.set_model(SparseAutoencoderModel())
