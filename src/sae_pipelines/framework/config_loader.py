"""The project's configuration loader: Kedro's, with the pipelines' points added."""

from __future__ import annotations

from importlib import metadata
from typing import Any

from kedro.config import OmegaConfigLoader

from sae_pipelines.batch.spark_session import SPARK_CONFIG
from sae_pipelines.pipelines.points import POINT_MAKERS
from sae_pipelines.tracking.mlflow_run import MLFLOW_CONFIG

CONFIG_PATTERNS = {
    # conf/<env>/spark.yml: the Spark engine's session (see SparkHooks).
    SPARK_CONFIG: ["spark*", "spark*/**"],
    # kedro-mlflow's patterns, declared here so that MlflowTrackingHooks can
    # read the store's URI before kedro-mlflow runs.
    MLFLOW_CONFIG: ["mlflow*", "mlflow*/**", "**/mlflow*"],
}


class ProjectConfigLoader(OmegaConfigLoader):
    """Kedro's ``OmegaConfigLoader``, adding each pipeline's ``points``."""

    def __getitem__(self, key: str) -> dict[str, Any]:
        """The configuration ``key``; the parameters with the points added."""
        config = super().__getitem__(key)
        if key != "parameters":
            return config
        for name, make_points in POINT_MAKERS.items():
            if config.get(name):
                points = make_points(config, config[name])
                config = {**config, name: {**config[name], "points": points}}
        return config


def installed_requirement(package: str) -> str:
    """``package==<installed version>``: ``${installed:tensorflow}`` in configuration."""
    return f"{package}=={metadata.version(package)}"
