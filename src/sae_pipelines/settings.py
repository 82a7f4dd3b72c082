"""Project settings: hooks, and the configuration loader.

See https://docs.kedro.org/en/stable/kedro_project_setup/settings.html.
"""

import os

from kedro.config import OmegaConfigLoader
from omegaconf.resolvers import oc

from sae_pipelines.hooks import (
    BatchLockHooks,
    ModelRegistryHooks,
    ParameterValidationHooks,
    ProvenanceHooks,
    VersionedArtifactHooks,
)

# TensorFlow's C++ start-up chatter (CUDA probing, oneDNN notices) hides Kedro's log.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HOOKS = (
    ParameterValidationHooks(),
    BatchLockHooks(),
    VersionedArtifactHooks(),
    ModelRegistryHooks(),
    ProvenanceHooks(),
)

# Telemetry tries the network; this project runs offline.
DISABLE_HOOKS_FOR_PLUGINS = ("kedro-telemetry",)

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # Lets mlflow.yml read MLFLOW_TRACKING_URI (Kedro allows oc.env in credentials only).
    "custom_resolvers": {"oc.env": oc.env},
}
