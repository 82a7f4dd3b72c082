"""The Spark session of a run on the Spark engine, started from ``spark.yml``."""

from __future__ import annotations

from typing import Any

from kedro.framework.hooks import hook_impl

from sae_pipelines.batch.spark_session import SPARK_CONFIG, start_session
from sae_pipelines.parameters.groups import plain


class SparkHooks:
    """Starts the Spark session from ``spark.yml`` for runs on the Spark engine."""

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        """Start the session when ``batch_extraction.engine`` is ``spark``.

        Raises:
            ImportError: PySpark is not installed.
            SparkMasterUnreachableError: The cluster in ``spark.master`` does
                not answer.
        """
        batch_params = plain(context.params.get("batch_extraction")) or {}
        if batch_params.get("engine") != "spark":
            return
        start_session(context.config_loader[SPARK_CONFIG])
