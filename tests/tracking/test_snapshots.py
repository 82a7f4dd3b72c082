from pathlib import Path

import pytest

from sae_pipelines.tracking.provenance import file_sha256
from sae_pipelines.tracking.snapshots import (
    Snapshot,
    SnapshotError,
    fetch_snapshot,
    snapshot_exists,
    store_snapshot,
)


@pytest.fixture
def table(tmp_path):
    path = tmp_path / "v1" / "validated_data.parquet"
    path.parent.mkdir()
    path.write_bytes(b"parquet bytes")
    return path


def stored_files(store):
    return sorted(p.relative_to(store) for p in store.rglob("*") if p.is_file())


def test_a_file_is_stored_once_under_its_digest(tmp_path, table):
    store = tmp_path / "store"
    first = store_snapshot(table, str(store))
    again = store_snapshot(table, str(store))
    digest = file_sha256(table)
    assert (
        first
        == again
        == Snapshot(f"{store}/sha256/{digest}/validated_data.parquet", digest)
    )
    assert stored_files(store) == [Path("sha256", digest, "validated_data.parquet")]
    assert snapshot_exists(first.uri)
    assert not snapshot_exists(f"{store}/sha256/{'0' * 64}/validated_data.parquet")
    other = tmp_path / "v2" / "validated_data.parquet"
    other.parent.mkdir()
    other.write_bytes(b"other bytes")
    store_snapshot(other, str(store))
    assert len(stored_files(store)) == 2


def test_a_snapshot_is_fetched_once_its_digest_is_checked(tmp_path, table):
    snapshot = store_snapshot(table, str(tmp_path / "store"))
    destination = tmp_path / "clone/data/v1/validated_data.parquet"
    fetch_snapshot(snapshot, destination, "run1")
    assert destination.read_bytes() == b"parquet bytes"


def test_a_corrupted_snapshot_is_refused_and_nothing_written(tmp_path, table):
    snapshot = store_snapshot(table, str(tmp_path / "store"))
    stored = Path(snapshot.uri)  # a local store's URI is its path
    stored.write_bytes(b"parquet bytez")
    destination = tmp_path / "clone/data/v1/validated_data.parquet"
    with pytest.raises(SnapshotError) as error:
        fetch_snapshot(snapshot, destination, "run1")
    assert str(error.value) == (
        f"digest mismatch: the snapshot {snapshot.uri} of run run1 has SHA-256 "
        f"{file_sha256(stored)}, but the run recorded {snapshot.sha256}"
    )
    assert not (tmp_path / "clone").exists()


def test_a_snapshot_missing_from_the_store_is_named(tmp_path):
    uri = f"{tmp_path}/store/sha256/{'0' * 64}/validated_data.parquet"
    with pytest.raises(SnapshotError, match="snapshot missing from the store: "):
        fetch_snapshot(Snapshot(uri, "0" * 64), tmp_path / "x.parquet", "run1")
    assert not (tmp_path / "x.parquet").exists()
