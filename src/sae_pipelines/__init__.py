"""Sparse autoencoders as production data pipelines."""

import os

# MLflow's usage telemetry tries the network from a thread, and this project runs
# offline. MLflow reads this when first imported, so it is set here, first.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
# TensorFlow's C++ start-up chatter (CUDA probing, oneDNN notices) hides what a
# run, a served model or a notebook has to say; read when TensorFlow loads.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
