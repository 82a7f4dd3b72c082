"""Project settings: hooks, and the configuration loader.

See https://docs.kedro.org/en/stable/kedro_project_setup/settings.html.
"""

import os
from importlib import metadata

from kedro.config import OmegaConfigLoader
from omegaconf.resolvers import oc

from sae_pipelines.hooks import (
    BatchLockHooks,
    MlflowTrackingHooks,
    ModelRegistryHooks,
    NodeTimingHooks,
    ParameterValidationHooks,
    ProvenanceHooks,
    VersionedArtifactHooks,
)

# TensorFlow's C++ start-up chatter (CUDA probing, oneDNN notices) hides Kedro's log.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HOOKS = (
    NodeTimingHooks(),
    ParameterValidationHooks(),
    BatchLockHooks(),
    VersionedArtifactHooks(),
    ModelRegistryHooks(),
    ProvenanceHooks(),
    # In place of kedro-mlflow's own hook (disabled below). Last here so that it
    # runs first, as the plugin's would: the hooks above log to the run it starts.
    MlflowTrackingHooks(),
)

# Telemetry tries the network; this project runs offline. kedro-mlflow's hook is
# replaced by MlflowTrackingHooks. (Names as each distribution's metadata spells it.)
DISABLE_HOOKS_FOR_PLUGINS = ("kedro-telemetry", "kedro_mlflow")


def installed_requirement(package: str) -> str:
    """``package==<installed version>``: ``${installed:tensorflow}`` in configuration."""
    return f"{package}=={metadata.version(package)}"


CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # Lets mlflow.yml read MLFLOW_TRACKING_URI (Kedro allows oc.env in credentials only).
    "custom_resolvers": {"oc.env": oc.env, "installed": installed_requirement},
}
