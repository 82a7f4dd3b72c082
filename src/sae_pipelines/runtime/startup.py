"""The project's start-up: what every entry point does before TensorFlow loads.

Importing the package does nothing. The entry points call :func:`start` (or
enter :func:`starting_up` around their imports) before anything imports
TensorFlow or MLflow, which read their settings when they load: ``settings.py``
(every ``kedro`` command and ``python -m sae_pipelines``), the project's
``cli.py``, the registered model's loader (``inference/mlflow_model.py``) and
the Spark engine's executors (``batch/spark_executor.py``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from sae_pipelines.runtime.garbage_collection import paused_while_importing
from sae_pipelines.runtime.quiet import quiet_libraries

# A seeded run's figures depend on how TensorFlow computes on the CPU at hand: its
# oneDNN ops are on by default only on CPUs with AVX-512 VNNI, AVX-VNNI or AMX,
# and its matrix products call oneDNN's sgemm, generated at run time for the
# widest instruction set there. Off, and with oneDNN held to AVX2, every x86-64
# CPU with AVX2 runs the same code. A value set beforehand is kept.
DETERMINISTIC_ONEDNN = {"TF_ENABLE_ONEDNN_OPTS": "0", "ONEDNN_MAX_CPU_ISA": "AVX2"}


def start() -> None:
    """Set how TensorFlow computes, and quiet the libraries.

    Calling it again changes nothing. Called after TensorFlow has loaded, the
    oneDNN settings no longer apply (TensorFlow read them when it loaded).
    """
    for variable, value in DETERMINISTIC_ONEDNN.items():
        os.environ.setdefault(variable, value)
    quiet_libraries()


@contextmanager
def starting_up() -> Iterator[None]:
    """:func:`start`, then the ``with`` block's imports without garbage collection.

    See :func:`~sae_pipelines.runtime.garbage_collection.paused_while_importing`.
    """
    start()
    with paused_while_importing():
        yield
