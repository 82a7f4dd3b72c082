"""One batch extraction at a time on an output folder.

On the local disk the lock is a file lock (``<folder>/.lock``), which the
operating system releases when its process ends, however it ends.

An object store has no file locks, and a killed run cannot release anything,
so there the lock is a **lease**: an object ``<folder>/.lock/<generation>.json``
that names its holder and the time it expires, ``lock_ttl_s`` seconds (the
output dataset's catalog option) after it was last renewed. It is taken by a
conditional create of the next generation's object (S3's ``If-None-Match: *``,
fsspec's ``mode="create"``), which exactly one of several runs wins; a run
finds the newest lease unexpired and stops, or expired (its holder was killed)
and takes the next generation. Its holder renews it on a thread every third of
its lifetime, and deletes it when the run ends.

What it guarantees: two runs never hold the lease at once as long as each
holder renews it in time and the machines' clocks agree to within a small
part of the lifetime. A holder that cannot renew in time (stopped for longer
than ``lock_ttl_s``, or cut off from the store) finds its lease lost or
overdue at its next renewal and interrupts its run, as Ctrl+C would; what it
had committed stays committed. A run killed outright blocks the folder until
its lease expires, at most ``lock_ttl_s`` seconds.
"""

from __future__ import annotations

import _thread
import json
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from filelock import FileLock, Timeout

from sae_pipelines.runtime.errors import InputError
from sae_pipelines.runtime.storage import Location

logger = logging.getLogger(__name__)

PIPELINE = "batch_extraction"
OUTPUT_DATASET = "extracted_partitions"
LOCK_NAME = ".lock"
# How long a lease on an object store lasts unless renewed, by default.
LEASE_TTL_S = 60.0


class BatchLockedError(InputError, RuntimeError):
    """Another batch extraction holds the lock on the output folder."""


class BatchStorageError(InputError, OSError):
    """The output folder's filesystem refuses access: its URL or credentials."""


class BatchLock(Protocol):
    """A lock taken on an output folder."""

    def release(self) -> None:
        """Give the lock up."""


def take_lock(folder: Path | Location, ttl_s: float = LEASE_TTL_S) -> BatchLock:
    """The lock on the output ``folder``, taken; release it when done.

    Args:
        folder: A local folder, or a folder on any filesystem.
        ttl_s: On an object store, the lease's lifetime unless renewed.

    Raises:
        BatchLockedError: Another batch extraction holds it.
        BatchStorageError: The folder's filesystem cannot be reached.
    """
    if isinstance(folder, Location) and folder.is_local:
        folder = folder.local_path
    if isinstance(folder, Location):
        try:
            return Lease.take(folder, ttl_s)
        except OSError as error:  # FileExistsError is handled inside
            msg = (
                f"The batch output folder {folder} cannot be reached to take its "
                f"lease ({type(error).__name__}: {error}): check its URL and the "
                "credentials of its catalog entry"
            )
            raise BatchStorageError(msg) from error
    folder.mkdir(parents=True, exist_ok=True)
    lock = FileLock(folder / LOCK_NAME, blocking=False)
    try:
        lock.acquire()
    except Timeout as error:
        msg = (
            f"Another batch extraction is running on {folder} (lock file "
            f"{lock.lock_file}); this run stops without reading or writing"
        )
        raise BatchLockedError(msg) from error
    return lock


@dataclass
class Lease:
    """A lease on an output folder on an object store (see the module's docstring).

    Attributes:
        location: The lease's object.
        ttl_s: Its lifetime unless renewed.
        owner: This holder's unique id, written in the object.
    """

    location: Location
    ttl_s: float
    owner: str = field(default_factory=lambda: uuid.uuid4().hex)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _renewed: float = field(default=0.0, repr=False)

    @classmethod
    def take(cls, folder: Location, ttl_s: float) -> Lease:
        """Take the lease on ``folder``, and renew it on a thread until released.

        Raises:
            BatchLockedError: An unexpired lease is held, or another run took
                the next one first.
        """
        leases = folder.child(LOCK_NAME)
        generation = 0
        if newest := list(leases.files())[-1:]:
            holder = _read(newest[0])
            if holder is not None and holder["expires_at"] > time.time():
                msg = (
                    f"Another batch extraction is running on {folder} (lease "
                    f"{newest[0]} held by {holder['holder']} until "
                    f"{time.strftime('%H:%M:%S', time.localtime(holder['expires_at']))}"
                    "); this run stops without reading or writing"
                )
                raise BatchLockedError(msg)
            generation = int(newest[0].stem) + 1
        lease = cls(leases.child(f"{generation:012d}.json"), ttl_s)
        try:
            lease.location.fs.pipe_file(
                lease.location.path, lease._record(), mode="create"
            )
        except FileExistsError as error:
            msg = (
                f"Another batch extraction took the lease on {folder} just now "
                f"({lease.location}); this run stops without reading or writing"
            )
            raise BatchLockedError(msg) from error
        lease._renewed = time.monotonic()
        for older in leases.files():
            if older.name < lease.location.name:
                older.remove()  # expired: their holders are gone
        threading.Thread(target=lease._keep, name="batch-lease", daemon=True).start()
        return lease

    def release(self) -> None:
        """Stop renewing, and delete the lease object if it is still this holder's."""
        self._stop.set()
        holder = _read(self.location)
        if holder is not None and holder.get("owner") == self.owner:
            self.location.remove()

    def _record(self) -> bytes:
        return json.dumps(
            {
                "owner": self.owner,
                "holder": f"process {os.getpid()} on {socket.gethostname()}",
                "expires_at": time.time() + self.ttl_s,
            }
        ).encode()

    def _keep(self) -> None:
        """Renew every third of the lifetime; interrupt the run once it is lost."""
        while not self._stop.wait(self.ttl_s / 3):
            problem = self._renew()
            if problem is not None and not self._stop.is_set():
                logger.error("Batch extraction stops: %s", problem)
                _thread.interrupt_main()
                return

    def _renew(self) -> str | None:
        """Renew the lease; what went wrong, or ``None``."""
        if time.monotonic() - self._renewed > self.ttl_s:
            return f"its lease {self.location} expired before it could be renewed"
        try:
            holder = _read(self.location)
            self.location.fs.invalidate_cache(self._folder_path)
            listing = self.location.fs.ls(self._folder_path, detail=False)
            newer = [name for name in listing if name > self._path]
            if holder is None or holder.get("owner") != self.owner or newer:
                return f"its lease {self.location} was taken by another run"
            self.location.write_bytes(self._record())
        except OSError as error:
            return f"its lease {self.location} could not be renewed: {error}"
        self._renewed = time.monotonic()
        return None

    @property
    def _path(self) -> str:
        return self.location.path

    @property
    def _folder_path(self) -> str:
        return self._path.rpartition("/")[0]


def _read(location: Location) -> dict[str, Any] | None:
    """A lease object's record; ``None`` when it is gone or unreadable."""
    try:
        record = json.loads(location.read_bytes())
    except (FileNotFoundError, ValueError):
        return None
    return record if isinstance(record, dict) else None
