"""Kedro sessions with an id that no other session on this machine shares.

Kedro names a session, and with it the version of every file its run saves,
after the millisecond in which it was created; it offers no way to choose the
id (kedro-org/kedro#1731). Two runs started in the same millisecond would both
save into one version folder, and the second would fail. Here sessions are
created one at a time, under a file lock held until the clock has passed the
new id.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from filelock import FileLock
from kedro.framework.session import KedroSession
from kedro.io.core import generate_timestamp

# Any user may take it: runs by several users can share one project.
LOCK_PATH = Path(tempfile.gettempdir()) / "sae_pipelines-kedro-session.lock"
LOCK_MODE = 0o666
CLOCK_POLL_SECONDS = 0.001


class UniqueIdSession(KedroSession):
    """A ``KedroSession`` whose id, a timestamp, is unique on this machine."""

    @classmethod
    def create(cls, *args: Any, **kwargs: Any) -> KedroSession:
        """Kedro's ``create``, one process at a time, leaving the clock past the id."""
        with FileLock(LOCK_PATH, mode=LOCK_MODE):
            session = super().create(*args, **kwargs)
            while generate_timestamp() <= session.session_id:
                time.sleep(CLOCK_POLL_SECONDS)
        return session
