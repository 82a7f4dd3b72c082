"""Sessions started at once in one project get ids of their own."""

import subprocess
import sys
import time

import pytest
from filelock import FileLock

from sae_pipelines.framework.session import LOCK_PATH
from tests.project_runs import PROJECT_ROOT

pytestmark = pytest.mark.slow

SESSIONS_PER_PROCESS = 20
# As `kedro run` creates its session: the class named in the project's settings.
CREATE_SESSIONS = f"""
from kedro.framework.project import settings
from kedro.framework.startup import bootstrap_project
bootstrap_project({str(PROJECT_ROOT)!r})
print(flush=True)
for _ in range({SESSIONS_PER_PROCESS}):
    print(settings.SESSION_CLASS.create(project_path={str(PROJECT_ROOT)!r}).session_id)
"""


def start_creating() -> subprocess.Popen:
    """A process that creates sessions, once it has printed a blank line."""
    return subprocess.Popen(
        [sys.executable, "-c", CREATE_SESSIONS],
        stdout=subprocess.PIPE,
        text=True,
    )


def session_ids(process: subprocess.Popen) -> list[str]:
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 0
    return output.split()


def test_sessions_wait_for_the_lock_and_never_share_an_id():
    lock = FileLock(LOCK_PATH)
    with lock:
        processes = [start_creating() for _ in range(2)]
        for process in processes:
            assert process.stdout.readline() == "\n"  # settings loaded
        time.sleep(1)
        assert [process.poll() for process in processes] == [None, None]
        released = time.time()
    ids = [session_id for process in processes for session_id in session_ids(process)]
    assert len(ids) == len(set(ids)) == 2 * SESSIONS_PER_PROCESS
    # Ids are UTC timestamps: every one is later than the lock's release.
    assert min(ids) >= time.strftime("%Y-%m-%dT%H.%M.%S", time.gmtime(released))
