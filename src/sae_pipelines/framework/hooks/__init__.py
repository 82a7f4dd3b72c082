"""The project's Kedro hooks, one module each, and the order they are registered in.

Pluggy calls the hooks of one kind in the reverse of this order: the last
registered runs first. So, for ``before_pipeline_run``, the model registration
hooks run before the MLflow hooks, which run before the provenance, snapshot
and artifact hooks that log to the MLflow run; ``after_*`` hooks run in the
same reverse order.

1. ``InterruptHooks``: stops the run between nodes for a swallowed signal.
2. ``NodeTimingHooks``: logs how long each node took.
3. ``RunVersionsHooks``: pins the run's dataset versions, and removes them if
   it fails; the three hooks after ``SparkHooks`` read them from it.
4. ``SparkHooks``: starts the Spark session for the Spark engine.
5. ``VersionedArtifactHooks``: copies saved files to the MLflow run.
6. ``SnapshotHooks``: stores the data read and written, by content.
7. ``ProvenanceHooks``: logs what repeating the run needs.
8. ``MlflowTrackingHooks``: in place of kedro-mlflow's own hook (disabled in
   ``settings.py``); after those above so that it runs before them, as the
   plugin's would: they log to its run.
9. ``ModelRegistrationHooks``: after it, so that it runs before the MLflow run
   starts (a refused run leaves none) and registers the model before the run
   ends.
10. ``BatchLockHooks``: last, so that it runs first: a second batch extraction
    on the same folder stops before anything else starts.
"""

from sae_pipelines.framework.hooks.artifacts import VersionedArtifactHooks
from sae_pipelines.framework.hooks.batch_lock import BatchLockHooks
from sae_pipelines.framework.hooks.interrupt import InterruptHooks
from sae_pipelines.framework.hooks.mlflow_run import MlflowTrackingHooks
from sae_pipelines.framework.hooks.model_registration import ModelRegistrationHooks
from sae_pipelines.framework.hooks.provenance import ProvenanceHooks
from sae_pipelines.framework.hooks.snapshots import SnapshotHooks
from sae_pipelines.framework.hooks.spark import SparkHooks
from sae_pipelines.framework.hooks.timing import NodeTimingHooks
from sae_pipelines.framework.hooks.versions import RunVersionsHooks

# Each run's dataset versions, read by the provenance record and artifact copies.
_RUN_VERSIONS = RunVersionsHooks()

HOOKS = (
    InterruptHooks(),
    NodeTimingHooks(),
    _RUN_VERSIONS,
    SparkHooks(),
    VersionedArtifactHooks(_RUN_VERSIONS),
    SnapshotHooks(_RUN_VERSIONS),
    ProvenanceHooks(_RUN_VERSIONS),
    MlflowTrackingHooks(),
    ModelRegistrationHooks(),
    BatchLockHooks(),
)
"""The hook instances, in the order ``settings.py`` registers them (see above)."""
