"""A real Spark standalone cluster on loopback, for tests and benchmarks.

A master and one worker, started from the pyspark package's own ``spark-class``
as separate processes, so executors are processes of their own, not threads
of the driver.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyspark

SPARK_HOME = Path(pyspark.__file__).parent
LOOPBACK = "127.0.0.1"


def java_missing() -> bool:
    """Whether Spark cannot start here: no ``java`` on the PATH."""
    return shutil.which("java") is None


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class Cluster:
    """A running standalone cluster: its master URL and web UI."""

    url: str
    web_ui: str
    folder: Path

    def status(self) -> dict:
        """The master's state: workers, running and completed applications."""
        with urllib.request.urlopen(f"{self.web_ui}/json/", timeout=10) as answer:
            return json.load(answer)


@contextmanager
def standalone_cluster(
    folder: Path, cores: int = 2, memory: str = "4g"
) -> Iterator[Cluster]:
    """Start a master and a worker on loopback; stop both on exit.

    Args:
        folder: Where the daemons keep their logs and the worker its
            executors' work directories.
        cores: Cores the worker offers.
        memory: Memory the worker offers its executors.
    """
    folder.mkdir(parents=True, exist_ok=True)
    port, web_port = free_port(), free_port()
    cluster = Cluster(
        f"spark://{LOOPBACK}:{port}", f"http://{LOOPBACK}:{web_port}", folder
    )
    env = os.environ | {
        "SPARK_HOME": str(SPARK_HOME),
        "SPARK_LOCAL_IP": LOOPBACK,
        "SPARK_MASTER_OPTS": "-Dspark.master.rest.enabled=false",
    }
    daemons = []
    try:
        daemons.append(
            _daemon(
                "master",
                folder,
                env,
                "org.apache.spark.deploy.master.Master",
                *("--host", LOOPBACK, "--port", str(port)),
                *("--webui-port", str(web_port)),
            )
        )
        _wait(lambda: _listening(port), "the master to listen", folder)
        daemons.append(
            _daemon(
                "worker",
                folder,
                env,
                "org.apache.spark.deploy.worker.Worker",
                cluster.url,
                *("--host", LOOPBACK, "--cores", str(cores), "--memory", memory),
                *("--webui-port", str(free_port())),
                *("--work-dir", str(folder / "work")),
            )
        )
        _wait(
            lambda: cluster.status()["aliveworkers"] >= 1,
            "the worker to register",
            folder,
        )
        yield cluster
    finally:
        for daemon in reversed(daemons):
            os.killpg(daemon.pid, signal.SIGTERM)
            daemon.wait(timeout=60)


def _daemon(role: str, folder: Path, env: dict, main_class: str, *args: str):
    log = (folder / f"{role}.log").open("w")
    return subprocess.Popen(
        [str(SPARK_HOME / "bin/spark-class"), main_class, *args],
        cwd=folder,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _listening(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=1):
            return True
    except OSError:
        return False


def _wait(condition, what: str, folder: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except OSError:
            pass
        time.sleep(0.5)
    logs = "\n".join(p.read_text()[-2000:] for p in folder.glob("*.log"))
    msg = f"Timed out waiting for {what}:\n{logs}"
    raise TimeoutError(msg)
