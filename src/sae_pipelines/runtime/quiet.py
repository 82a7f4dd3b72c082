"""Third-party start-up noise, silenced before TensorFlow and MLflow load.

:func:`~sae_pipelines.runtime.startup.start` calls :func:`quiet_libraries`
before anything else in every process that runs this project's code: ``kedro
run``, ``python -m sae_pipelines``, Spark's Python workers and the MLflow
model loaded elsewhere. Only named notices of libraries are silenced; this
project's warnings and Kedro's progress are not.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import sys
import tempfile
import warnings

# TensorFlow's C++ log: 3 keeps fatal errors only (1 hides INFO, 2 also WARNING).
# A value set beforehand is kept.
TF_LOG_LEVEL_VARIABLE = "TF_CPP_MIN_LOG_LEVEL"
DEFAULT_TF_LOG_LEVEL = "3"

# Deprecation notices of calls in Kedro and kedro-mlflow: (message, module)
# pairs for warnings.filterwarnings.
_LIBRARY_NOTICES = ((r"register_new_resolver\(\) is deprecated", r"kedro(_mlflow)?\."),)
# MLflow's advice to kedro-mlflow's PythonModel, which Kedro imports with the
# plugin's commands (the project's own model has type hints). MLflow resets
# the warning filters around it, so it is dropped where Kedro logs warnings.
_LOGGED_NOTICES = ("Add type hints to the `predict` method",)
# TensorFlow's advice when a process builds and runs many models, as the
# sparsity frontier does (each model's own predict function is traced anew).
_TF_LOGGER = "tensorflow"
_TF_NOTICES = ("triggered tf.function retracing",)

# A line of Abseil's C++ log (severity, date, time, thread, file:line]) and the
# notice Abseil prints before the first one. TensorFlow's CUDA stubs write them
# while it is imported, before TF_CPP_MIN_LOG_LEVEL applies.
_ABSL_LINE = re.compile(r"[IWEF]\d{4} [\d:.]+ +\d+ [^\]]+\] ")
_ABSL_SEVERITIES = "IWEF"
_ABSL_PREAMBLE = "WARNING: All log messages before absl::InitializeLog() is called"


def quiet_libraries() -> None:
    """Silence library notices; import TensorFlow without its C++ start-up lines.

    Sets ``MLFLOW_DISABLE_TELEMETRY`` (MLflow's usage telemetry tries the
    network, and this project runs offline) and ``TF_CPP_MIN_LOG_LEVEL``
    unless they are set already; both are read when the library loads.
    """
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault(TF_LOG_LEVEL_VARIABLE, DEFAULT_TF_LOG_LEVEL)
    for message, module in _LIBRARY_NOTICES:
        warnings.filterwarnings("ignore", message, UserWarning, module)
    logging.getLogger("py.warnings").addFilter(_drop_logged_notices)
    logging.getLogger(_TF_LOGGER).addFilter(_drop_tf_notices)
    if "tensorflow" not in sys.modules:
        import_filtering_stderr("tensorflow", tf_log_level())


def _drop_logged_notices(record: logging.LogRecord) -> bool:
    message = record.getMessage()
    return not any(notice in message for notice in _LOGGED_NOTICES)


def _drop_tf_notices(record: logging.LogRecord) -> bool:
    message = record.getMessage()
    return not any(notice in message for notice in _TF_NOTICES)


def tf_log_level() -> int:
    """``TF_CPP_MIN_LOG_LEVEL`` as a number (0, as TensorFlow reads it, if not one)."""
    value = os.environ.get(TF_LOG_LEVEL_VARIABLE, "0")
    return int(value) if value.isdigit() else 0


def import_filtering_stderr(module: str, min_level: int) -> None:
    """Import ``module``, dropping C++ log lines below ``min_level`` from stderr.

    What the import writes to file descriptor 2 is held in a temporary file,
    and written back without Abseil's lines of a severity below ``min_level``
    (0 INFO, 1 WARNING, 2 ERROR, 3 FATAL) or the notice before them.
    """
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr to filter
        importlib.import_module(module)
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            importlib.import_module(module)
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            lines = captured.read().decode(errors="replace").splitlines(True)
            sys.stderr.write("".join(kept_lines(lines, min_level)))
            sys.stderr.flush()


def kept_lines(lines: list[str], min_level: int) -> list[str]:
    """``lines`` without Abseil's of a severity below ``min_level``, or its notice."""

    def below(line: str) -> bool:
        if line.startswith(_ABSL_PREAMBLE):
            return min_level > 0
        if _ABSL_LINE.match(line):
            return _ABSL_SEVERITIES.index(line[0]) < min_level
        return False

    return [line for line in lines if not below(line)]
