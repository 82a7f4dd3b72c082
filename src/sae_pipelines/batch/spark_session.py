"""The Spark session of a batch run, configured the Kedro way (``spark.yml``).

``SparkHooks`` starts it from the ``spark`` configuration (``conf/base/spark.yml``,
overridden per environment by ``conf/<env>/spark.yml``) when the run's
``batch_extraction.engine`` is ``spark``; otherwise no JVM starts. PySpark is an
optional extra, imported only then.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from kedro.framework.hooks import hook_impl

from sae_pipelines.params import plain

SPARK_CONFIG = "spark"
INSTALL_HINT = 'batch_extraction.engine=spark needs PySpark: pip install -e ".[spark]"'


def spark_engine() -> ModuleType:
    """The Spark engine module, :mod:`sae_pipelines.batch.spark`.

    Raises:
        ImportError: PySpark is not installed; the message says how to install it.
    """
    try:
        from sae_pipelines.batch import spark  # noqa: PLC0415 - PySpark is optional
    except ModuleNotFoundError as error:
        if (error.name or "").partition(".")[0] not in {"pyspark", "py4j"}:
            raise
        raise ImportError(INSTALL_HINT) from error
    return spark


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
        spark_engine().start_session(context.config_loader[SPARK_CONFIG])
