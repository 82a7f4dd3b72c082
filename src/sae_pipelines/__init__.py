"""Sparse autoencoders as production data pipelines."""

import os

# MLflow's usage telemetry tries the network from a thread, and this project runs
# offline. MLflow reads this when first imported, so it is set here, first.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

__version__ = "0.1.0"
