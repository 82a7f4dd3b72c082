"""A real S3-compatible server on loopback, for tests: moto in server mode.

As s3fs's own tests run it: moto's ``ThreadedMotoServer`` on 127.0.0.1 and a
free port, spoken to over HTTP by s3fs (and by the ``kedro`` subprocesses of
project copies) with the credentials a project reads from
``conf/local/credentials.yml``. Each test gets a bucket of its own.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.spark_cluster import LOOPBACK, free_port

# moto accepts any credentials; a project names them as it would real ones.
KEY, SECRET, REGION = "testing", "testing", "us-east-1"
CREDENTIALS = "s3_data"  # the key in conf/local/credentials.yml


@dataclass(frozen=True)
class S3Server:
    """A running server: its endpoint, and a bucket of the test's own."""

    endpoint: str
    bucket: str

    @property
    def credentials(self) -> dict[str, Any]:
        """s3fs's options, as ``credentials.yml`` gives them to a dataset."""
        return {
            "key": KEY,
            "secret": SECRET,
            "client_kwargs": {"endpoint_url": self.endpoint, "region_name": REGION},
        }

    @property
    def fs(self):
        """An s3fs filesystem on the server, listing afresh at each call."""
        import s3fs  # noqa: PLC0415 - only the tests that start a server need it

        return s3fs.S3FileSystem(
            **self.credentials, skip_instance_cache=True, use_listings_cache=False
        )

    def url(self, key: str) -> str:
        """``s3://<bucket>/<key>``."""
        return f"s3://{self.bucket}/{key}"

    def keys(self, prefix: str = "") -> list[str]:
        """Every object's key under ``prefix``, sorted, without the bucket."""
        found = self.fs.find(f"{self.bucket}/{prefix}")
        return sorted(path.removeprefix(f"{self.bucket}/") for path in found)

    def write_credentials(self, project: Path) -> None:
        """Put the server's credentials in the project's ``conf/local``."""
        path = project / "conf/local/credentials.yml"
        path.write_text(yaml.safe_dump({CREDENTIALS: self.credentials}))


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's S3 on a loopback port; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer  # noqa: PLC0415 - heavy, and test-only

    # One log line per request, otherwise: the tests' output would be all of it.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    port = free_port()
    server = ThreadedMotoServer(ip_address=LOOPBACK, port=port, verbose=False)
    server.start()
    try:
        yield f"http://{LOOPBACK}:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def s3_endpoint():
    """One server per test module (per pytest worker, which takes whole files)."""
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def s3(s3_endpoint) -> S3Server:
    """The server, with a new empty bucket."""
    server = S3Server(s3_endpoint, f"test-{uuid.uuid4().hex[:12]}")
    # s3fs's mkdir sends a location constraint that moto refuses in us-east-1.
    server.fs.call_s3("create_bucket", Bucket=server.bucket)
    return server


def on_s3(entry: dict[str, Any], server: S3Server) -> dict[str, Any]:
    """A catalog entry whose file (or folder) lies at the same key in the bucket."""
    entry = dict(entry)
    inner = entry.get("dataset")
    if isinstance(inner, dict) and "filepath" not in entry:
        entry["dataset"] = on_s3(inner, server)
        return entry
    key = "filepath" if "filepath" in entry else "path"
    entry[key] = server.url(entry[key])
    entry["credentials"] = CREDENTIALS
    return entry
