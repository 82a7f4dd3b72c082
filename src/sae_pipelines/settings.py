"""Project settings: hooks, context, session and configuration loader.

Every ``kedro`` command imports this module first; it starts the project
(:func:`~sae_pipelines.runtime.startup.start`) before the hooks load
TensorFlow, MLflow and scikit-learn. Each class named here lives in
``framework/``, and the hooks' order is explained in ``framework/hooks``.
See https://docs.kedro.org/en/stable/kedro_project_setup/settings.html.
"""

from omegaconf.resolvers import oc

from sae_pipelines.framework import starting_up

with starting_up():
    from sae_pipelines.framework import hooks
    from sae_pipelines.framework.config_loader import (
        CONFIG_PATTERNS,
        ProjectConfigLoader,
        installed_requirement,
    )
    from sae_pipelines.framework.context import ProjectContext
    from sae_pipelines.framework.session import UniqueIdSession

# In the order that framework/hooks explains (it matters).
HOOKS = hooks.HOOKS

# Telemetry tries the network; this project runs offline. kedro-mlflow's hook is
# replaced by MlflowTrackingHooks. kedro-viz's (extras viz and test) would write
# dataset statistics and run events into .viz/ at every run. (Names as each
# distribution's metadata spells it.)
DISABLE_HOOKS_FOR_PLUGINS = ("kedro-telemetry", "kedro_mlflow", "kedro-viz")

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
    # spark.yml and mlflow.yml (see CONFIG_PATTERNS).
    "config_patterns": CONFIG_PATTERNS,
    # conf/<env>'s parameters change only the keys they name, and --params too:
    # merged whole (destructive), a group in conf/local would replace base's, and
    # Kedro merges --params into each environment's files, so a group named in
    # both conf/local and --params would keep only what they give.
    "merge_strategy": {"parameters": "soft"},
    # Lets mlflow.yml read MLFLOW_TRACKING_URI (Kedro allows oc.env in credentials only).
    "custom_resolvers": {"oc.env": oc.env, "installed": installed_requirement},
}
