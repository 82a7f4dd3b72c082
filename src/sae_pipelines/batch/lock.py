"""One batch extraction at a time on an output folder."""

from __future__ import annotations

from pathlib import Path

from filelock import FileLock, Timeout

from sae_pipelines.runtime.errors import InputError

PIPELINE = "batch_extraction"
OUTPUT_DATASET = "extracted_partitions"


class BatchLockedError(InputError, RuntimeError):
    """Another batch extraction holds the lock on the output folder."""


def take_lock(folder: Path) -> FileLock:
    """The lock on the output ``folder``, taken; release it when done.

    Raises:
        BatchLockedError: Another batch extraction holds it.
    """
    folder.mkdir(parents=True, exist_ok=True)
    lock = FileLock(folder / ".lock", blocking=False)
    try:
        lock.acquire()
    except Timeout as error:
        msg = (
            f"Another batch extraction is running on {folder} (lock file "
            f"{lock.lock_file}); this run stops without reading or writing"
        )
        raise BatchLockedError(msg) from error
    return lock
