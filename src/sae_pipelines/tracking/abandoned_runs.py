"""Runs whose process was killed (SIGKILL, a power cut) and that still say RUNNING.

A killed process cannot end its MLflow run. Each run is tagged with the host
and process that ran it (:func:`process_tags`); the next ``kedro run`` on the
same store ends the runs of its experiment that still say RUNNING, were made
on this host, and whose process is gone, as KILLED
(:func:`end_abandoned_runs`).
"""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path

import mlflow
from mlflow.entities import RunStatus

logger = logging.getLogger(__name__)

HOST_TAG = "process_host"
PID_TAG = "process_id"
# The process's start time, so that a new process given the same id does not
# pass for the run's.
START_TAG = "process_start"
PROC = Path("/proc")
# Kedro's run id, the save version of every file the run wrote.
SAVE_VERSION_TAG = "run_id"


def process_start(pid: int) -> str | None:
    """When the process started (clock ticks after boot), or None if it is gone.

    Read from ``/proc/<pid>/stat`` (field 22). Without ``/proc`` (not Linux),
    ``""`` for a process that exists: then only the id is compared.
    """
    if not PROC.is_dir():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return ""  # it exists, another user's
        return ""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces.
    return stat.rpartition(")")[2].split()[19]


def process_tags() -> dict[str, str]:
    """Tags naming this host and process."""
    return {
        HOST_TAG: socket.gethostname(),
        PID_TAG: str(os.getpid()),
        START_TAG: process_start(os.getpid()) or "",
    }


def is_alive(tags: dict[str, str]) -> bool:
    """Whether the process that the tags of a run on this host name still runs."""
    try:
        pid = int(tags[PID_TAG])
    except (KeyError, ValueError):
        return True  # not ours to judge
    start = process_start(pid)
    if start is None:
        return False
    recorded = tags.get(START_TAG, "")
    return not (start and recorded) or start == recorded


def end_abandoned_runs(experiment_id: str) -> dict[str, str | None]:
    """End KILLED the RUNNING runs of this host whose process is gone.

    Returns:
        The ids of the runs ended, each with its save version (the tag
        ``run_id`` Kedro's run parameters give it), ``None`` if untagged.
    """
    client = mlflow.MlflowClient()
    runs = client.search_runs(
        [experiment_id],
        filter_string=(
            "attributes.status = 'RUNNING' and "
            f"tags.{HOST_TAG} = '{socket.gethostname()}'"
        ),
    )
    ended = {}
    for run in runs:
        if is_alive(run.data.tags):
            continue
        client.set_terminated(run.info.run_id, RunStatus.to_string(RunStatus.KILLED))
        logger.info(
            "MLflow run %s (%s) was left RUNNING by process %s, which is gone: "
            "marked KILLED",
            run.info.run_id,
            run.info.run_name,
            run.data.tags[PID_TAG],
        )
        ended[run.info.run_id] = run.data.tags.get(SAVE_VERSION_TAG)
    return ended
