"""The Spark session of a batch run, configured the Kedro way (``spark.yml``).

``SparkHooks`` starts it from the ``spark`` configuration (``conf/base/spark.yml``,
overridden per environment by ``conf/<env>/spark.yml``) when the run's
``batch_extraction.engine`` is ``spark``; otherwise no JVM starts. PySpark is an
optional extra, imported only then.
"""

from __future__ import annotations

import importlib
import os
import socket
import sys
import warnings
from collections.abc import Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sae_pipelines.runtime.errors import InputError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

SPARK_CONFIG = "spark"
INSTALL_HINT = 'batch_extraction.engine=spark needs PySpark: pip install -e ".[spark]"'
MASTER_TIMEOUT_S = 10


class SparkMasterUnreachableError(InputError, ConnectionError):
    """The cluster named by ``spark.master`` does not answer."""


def spark_engine() -> ModuleType:
    """The Spark engine module, :mod:`sae_pipelines.batch.spark`.

    Raises:
        ImportError: PySpark is not installed; the message says how to install it.
    """
    return _with_pyspark("sae_pipelines.batch.spark")


def _with_pyspark(module: str) -> ModuleType:
    """Import ``module``, which needs PySpark, an optional extra.

    Raises:
        ImportError: PySpark is not installed; the message says how to install it.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        if (error.name or "").partition(".")[0] not in {"pyspark", "py4j"}:
            raise
        raise ImportError(INSTALL_HINT) from error


def start_session(settings: Mapping[str, Any]) -> SparkSession:
    """The Spark session for these settings (``spark.yml``), started if need be.

    A ``spark://`` or ``k8s://`` master is checked first, so that an
    unreachable cluster stops the run at once with its URL. With
    ``spark.driver.host`` set, Spark takes it as this machine's address
    (``SPARK_LOCAL_IP``) instead of looking one up. Executors' Python is this
    interpreter unless ``spark.pyspark.python`` or ``PYSPARK_PYTHON`` says
    otherwise.

    Raises:
        SparkMasterUnreachableError: Nothing answers at the master's address.
    """
    conf = {key: _setting(value) for key, value in settings.items()}
    check_master(conf.get("spark.master", "local[*]"))
    if "spark.driver.host" in conf:
        os.environ.setdefault("SPARK_LOCAL_IP", conf["spark.driver.host"])
    conf.setdefault(
        "spark.pyspark.python", os.environ.get("PYSPARK_PYTHON", sys.executable)
    )
    # Our pinned pandas is tested with this PySpark; its notice is not news.
    warnings.filterwarnings(
        "ignore", "PySpark does not yet fully support pandas", FutureWarning
    )
    builder = _with_pyspark("pyspark.sql").SparkSession.builder
    for key, value in conf.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def check_master(master: str, timeout: float = MASTER_TIMEOUT_S) -> None:
    """Stop unless a standalone or Kubernetes master answers at its address.

    Raises:
        SparkMasterUnreachableError: Naming the master URL and what went wrong.
    """
    if master.startswith("spark://"):
        addresses = master.removeprefix("spark://").split(",")
    elif master.startswith("k8s://"):
        url = urlsplit(master.removeprefix("k8s://"))
        addresses = [f"{url.hostname}:{url.port or 443}"]
    else:
        return  # local[*] needs no cluster; YARN finds its own
    problems = []
    for address in addresses:
        host, _, port = address.rpartition(":")
        try:
            with socket.create_connection((host, int(port)), timeout=timeout):
                return
        except (OSError, ValueError) as error:
            problems.append(f"{address}: {error}")
    msg = (
        f"Cannot reach the Spark master {master} (spark.master in spark.yml): "
        + "; ".join(problems)
    )
    raise SparkMasterUnreachableError(msg)


def _setting(value: Any) -> str:
    """A ``spark.yml`` value as Spark reads it (YAML's ``true`` is ``True`` here)."""
    return str(value).lower() if isinstance(value, bool) else str(value)
