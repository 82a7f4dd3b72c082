"""Project settings: hooks, and the configuration loader.

See https://docs.kedro.org/en/stable/kedro_project_setup/settings.html.
"""

from importlib import metadata

from omegaconf.resolvers import oc

from sae_pipelines.runtime.garbage_collection import paused_while_importing

# The hooks load TensorFlow, MLflow and scikit-learn.
with paused_while_importing():
    from sae_pipelines.batch.lock import BatchLockHooks
    from sae_pipelines.batch.spark_session import SPARK_CONFIG, SparkHooks
    from sae_pipelines.inference.datasets import ModelRegistrationHooks
    from sae_pipelines.pipelines.params import ProjectContext
    from sae_pipelines.pipelines.points import ProjectConfigLoader
    from sae_pipelines.runtime.interrupt_hooks import InterruptHooks
    from sae_pipelines.runtime.timing import NodeTimingHooks
    from sae_pipelines.tracking.artifacts import VersionedArtifactHooks
    from sae_pipelines.tracking.mlflow_run import MLFLOW_CONFIG, MlflowTrackingHooks
    from sae_pipelines.tracking.provenance import ProvenanceHooks
    from sae_pipelines.tracking.session import UniqueIdSession
    from sae_pipelines.tracking.snapshots import SnapshotHooks
    from sae_pipelines.tracking.versions import RunVersionsHooks

# Each run's dataset versions, read by the provenance record and artifact copies.
_RUN_VERSIONS = RunVersionsHooks()
# Pluggy calls the hooks of one kind last registered first.
HOOKS = (
    InterruptHooks(),
    NodeTimingHooks(),
    _RUN_VERSIONS,
    SparkHooks(),
    VersionedArtifactHooks(_RUN_VERSIONS),
    SnapshotHooks(_RUN_VERSIONS),
    ProvenanceHooks(_RUN_VERSIONS),
    # In place of kedro-mlflow's own hook (disabled below). After those above so
    # that it runs before them, as the plugin's would: they log to its run.
    MlflowTrackingHooks(),
    # After it, so that these run before the MLflow run starts (a refused run
    # leaves none) and a model is registered before the run ends.
    ModelRegistrationHooks(),
    BatchLockHooks(),
)

# Telemetry tries the network; this project runs offline. kedro-mlflow's hook is
# replaced by MlflowTrackingHooks. kedro-viz's (extras viz and test) would write
# dataset statistics and run events into .viz/ at every run. (Names as each
# distribution's metadata spells it.)
DISABLE_HOOKS_FOR_PLUGINS = ("kedro-telemetry", "kedro_mlflow", "kedro-viz")


def installed_requirement(package: str) -> str:
    """``package==<installed version>``: ``${installed:tensorflow}`` in configuration."""
    return f"{package}=={metadata.version(package)}"


# Kedro validates the parameters; this context's errors name each bad one.
CONTEXT_CLASS = ProjectContext

# Two runs started at once would otherwise share a save version (see the class).
SESSION_CLASS = UniqueIdSession

# Kedro's OmegaConfigLoader, adding the frontier's and the repeats' points to the
# parameters.
CONFIG_LOADER_CLASS = ProjectConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # conf/<env>/spark.yml: the Spark engine's session (see SparkHooks).
    # mlflow.yml: kedro-mlflow's patterns, declared here so that
    # MlflowTrackingHooks can read the store's URI before kedro-mlflow runs.
    "config_patterns": {
        SPARK_CONFIG: ["spark*", "spark*/**"],
        MLFLOW_CONFIG: ["mlflow*", "mlflow*/**", "**/mlflow*"],
    },
    # conf/<env>'s parameters change only the keys they name, and --params too:
    # merged whole (destructive), a group in conf/local would replace base's, and
    # Kedro merges --params into each environment's files, so a group named in
    # both conf/local and --params would keep only what they give.
    "merge_strategy": {"parameters": "soft"},
    # Lets mlflow.yml read MLFLOW_TRACKING_URI (Kedro allows oc.env in credentials only).
    "custom_resolvers": {"oc.env": oc.env, "installed": installed_requirement},
}
