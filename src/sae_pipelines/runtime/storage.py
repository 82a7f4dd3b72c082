"""Files and folders on any fsspec filesystem, reached as Kedro's datasets reach them.

A :class:`Location` is a local path or a URL (``s3://bucket/key``,
``gs://…``, ``abfs://…``, ``memory://…``) with its filesystem's storage
options: a catalog entry's ``credentials`` and ``fs_args`` merged, as
kedro-datasets merges them (:func:`storage_options`). It is plain, picklable
data, so a Spark executor rebuilds the filesystem from it. A local path keeps
the form it was given in, so messages and records name it as before.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from fsspec import AbstractFileSystem
from fsspec.core import url_to_fs
from kedro.io.core import get_protocol_and_path

LOCAL_PROTOCOL = "file"
BLOCK_SIZE = 1 << 20  # bytes read at a time to hash a file
# Keys of a catalog entry's fs_args that kedro-datasets hands to open().
OPEN_ARGS = ("open_args_load", "open_args_save")


def storage_options(
    credentials: Mapping[str, Any] | None = None,
    fs_args: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A filesystem's options from a catalog entry's ``credentials`` and ``fs_args``.

    As kedro-datasets builds them: the credentials, then ``fs_args`` over them,
    less ``open_args_load`` and ``open_args_save`` (arguments of ``open``,
    not of the filesystem).
    """
    options = {**(credentials or {}), **(fs_args or {})}
    for key in OPEN_ARGS:
        options.pop(key, None)
    return options


def is_local(url: str) -> bool:
    """Whether ``url`` names a file on the local disk (a path, or ``file://``)."""
    return get_protocol_and_path(url)[0] == LOCAL_PROTOCOL


@dataclass(frozen=True)
class Location:
    """A file or folder on a filesystem: its URL and the filesystem's options.

    Attributes:
        url: A local path, or a URL with its protocol (``s3://bucket/key``).
        storage_options: What ``fsspec`` builds the filesystem with
            (credentials, endpoint, ...); empty for the local disk.
    """

    url: str
    storage_options: Mapping[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.url

    @property
    def is_local(self) -> bool:
        """Whether it lies on the local disk."""
        return is_local(self.url)

    @property
    def fs(self) -> AbstractFileSystem:
        """Its filesystem (fsspec caches instances, so this is cheap)."""
        return url_to_fs(self.url, **self.storage_options)[0]

    @property
    def path(self) -> str:
        """Its path on :attr:`fs`, without the protocol."""
        return url_to_fs(self.url, **self.storage_options)[1]

    @property
    def local_path(self) -> Path:
        """The local path, as given.

        Raises:
            ValueError: It is not on the local disk.
        """
        if not self.is_local:
            msg = f"{self.url} is not a local path"
            raise ValueError(msg)
        return Path(get_protocol_and_path(self.url)[1])

    @property
    def name(self) -> str:
        """The last part of the path: a file's name with its suffix."""
        return PurePosixPath(self.path).name

    @property
    def stem(self) -> str:
        """:attr:`name` without its suffix."""
        return PurePosixPath(self.path).stem

    @property
    def suffix(self) -> str:
        """:attr:`name`'s suffix (``.csv``), or ``""``."""
        return PurePosixPath(self.path).suffix

    def child(self, name: str) -> Location:
        """The file or folder ``name`` in this folder, with the same options."""
        if self.is_local:
            return Location(str(self.local_path / name), self.storage_options)
        return Location(f"{self.url.rstrip('/')}/{name}", self.storage_options)

    def exists(self) -> bool:
        """Whether a file or folder is there."""
        if self.is_local:
            return self.local_path.exists()
        return bool(self.fs.exists(self.path))

    def is_file(self) -> bool:
        """Whether a file (an object) is there."""
        return bool(self.fs.isfile(self.path))

    def size(self) -> int:
        """Its size in bytes."""
        if self.is_local:
            return self.local_path.stat().st_size
        return int(self.fs.size(self.path))

    def modified_ns(self) -> int:
        """Its modification time in nanoseconds; 0 where the store keeps none."""
        if self.is_local:
            return self.local_path.stat().st_mtime_ns
        try:
            modified: datetime = self.fs.modified(self.path)
        except (NotImplementedError, KeyError):
            return 0
        return round(modified.timestamp() * 1_000_000) * 1000

    def read_bytes(self) -> bytes:
        """Its bytes."""
        return bytes(self.fs.cat_file(self.path))

    def write_bytes(self, data: bytes) -> None:
        """Write ``data`` as the whole file, in one request on an object store.

        An object store replaces an object whole: a reader sees the old bytes
        or the new ones, never a mixture.
        """
        self.fs.pipe_file(self.path, data)

    def files(self) -> Iterator[Location]:
        """The files directly in this folder, by name; none when it is missing.

        Listed afresh: another process may have written there since.
        """
        self.fs.invalidate_cache(self.path)
        if not self.fs.isdir(self.path):
            return
        for info in sorted(
            self.fs.ls(self.path, detail=True), key=lambda info: info["name"]
        ):
            if info["type"] == "file":
                yield self.child(PurePosixPath(info["name"]).name)

    def remove(self) -> None:
        """Remove the file, if it is there."""
        if self.fs.exists(self.path):
            self.fs.rm_file(self.path)

    def download(self, destination: Path) -> Path:
        """Copy the file, or the folder and all it holds, to the local ``destination``.

        Returns:
            ``destination``.
        """
        if self.fs.isdir(self.path):
            self.fs.get(self.path.rstrip("/") + "/", str(destination), recursive=True)
        else:
            self.fs.get_file(self.path, str(destination))
        return destination


def sha256(location: Location) -> str:
    """The SHA-256 of a file's bytes, in hex, read a block at a time.

    A local file is read straight from the disk, without fsspec.
    """
    if location.is_local:
        with location.local_path.open("rb") as local:
            return hashlib.file_digest(local, "sha256").hexdigest()
    digest = hashlib.sha256()
    with location.fs.open(location.path, "rb") as file:
        while block := file.read(BLOCK_SIZE):
            digest.update(block)
    return digest.hexdigest()
