"""Batch partitions, outputs and the lock on a filesystem other than the disk.

fsspec's ``memory://`` filesystem stands for an object store here: it has no
rename and no file lock, as S3 has none. ``tests/test_s3.py`` runs the same
steps on a real S3 server.
"""

import hashlib
import json
import time
import uuid

import fsspec
import pandas as pd
import pyarrow.parquet as pq
import pytest
from kedro.io import DatasetError

from sae_pipelines.batch.lock import BatchLockedError, take_lock
from sae_pipelines.batch.output import ChunkOutputs, write_partition
from sae_pipelines.batch.partitions import (
    ExtractedPartitionsDataset,
    IncomingPartitionsDataset,
    RedeliveredPartitionError,
    refuse_redelivered,
)
from sae_pipelines.runtime.storage import Location
from tests.batch.test_partitions import as_output, output_chunks, table


@pytest.fixture
def root():
    """A folder of its own on the in-memory filesystem, removed afterwards."""
    url = f"memory://test-{uuid.uuid4().hex}"
    fs = fsspec.filesystem("memory")
    yield url
    if fs.exists(url):
        fs.rm(url, recursive=True)


def names(url: str) -> list[str]:
    fs = fsspec.filesystem("memory")
    if not fs.exists(url):
        return []
    return sorted(path.rsplit("/", 1)[-1] for path in fs.ls(url, detail=False))


def deliver(url: str, name: str, frame: pd.DataFrame) -> None:
    with fsspec.open(f"{url}/{name}", "wb") as file:
        if name.endswith(".csv"):
            frame.to_csv(file, index=False)
        else:
            frame.to_parquet(file, index=False)


def encode(incoming: str, output: str) -> ExtractedPartitionsDataset:
    partitions = IncomingPartitionsDataset(incoming, chunk_rows=10).load()
    chunks = {
        name: (as_output(chunk) for chunk in partition.chunks())
        for name, partition in partitions.items()
    }
    inputs = {name: partition.location for name, partition in partitions.items()}
    dataset = ExtractedPartitionsDataset(output)
    dataset.save(ChunkOutputs(chunks, inputs=inputs))
    return dataset


def test_partitions_are_read_from_urls_and_committed_with_their_inputs(root):
    deliver(f"{root}/in", "a.csv", table(25))
    deliver(f"{root}/in", "b.parquet", table(12))
    partitions = IncomingPartitionsDataset(f"{root}/in", chunk_rows=10).load()
    assert list(partitions) == ["a", "b"]
    assert partitions["a"].url == f"{root}/in/a.csv"
    assert partitions["b"].rows == 12 and partitions["a"].estimated_rows == 25
    assert [len(chunk) for chunk in partitions["a"].chunks()] == [10, 10, 5]

    dataset = encode(f"{root}/in", f"{root}/out")
    assert names(f"{root}/out") == ["_checkpoint.json", "a.parquet", "b.parquet"]
    checkpoint = dataset.load()
    assert [checkpoint[n]["rows"] for n in ("a", "b")] == [25, 12]
    raw = fsspec.filesystem("memory").cat_file(f"{root}/in/a.csv")
    assert checkpoint["a"]["input_bytes"] == len(raw)
    assert checkpoint["a"]["input_sha256"] == hashlib.sha256(raw).hexdigest()
    with fsspec.open(f"{root}/out/a.parquet", "rb") as file:
        assert pq.read_table(file).num_rows == 25


def test_a_partition_is_plain_picklable_data_for_an_executor(root):
    deliver(f"{root}/in", "a.csv", table(5))
    options = {"skip_instance_cache": False}
    [partition] = (
        IncomingPartitionsDataset(f"{root}/in", fs_args=options).load().values()
    )
    assert partition.storage_options == options
    staged = write_partition(
        "a",
        (as_output(chunk) for chunk in partition.chunks()),
        f"{root}/out/.a.parquet.executor-1.tmp",
        storage_options=partition.storage_options,
    )
    assert staged.path == f"{root}/out/.a.parquet.executor-1.tmp"
    assert staged.rows == 5
    assert names(f"{root}/out") == [".a.parquet.executor-1.tmp"]


def test_a_failure_mid_partition_leaves_no_object_and_keeps_the_checkpoint(root):
    dataset = ExtractedPartitionsDataset(f"{root}/out")
    dataset.save(ChunkOutputs({"p1": output_chunks(25)}))
    before = dataset.load()
    with pytest.raises(DatasetError, match="killed mid-partition"):
        dataset.save(ChunkOutputs({"p2": output_chunks(40, fail_after=20)}))
    assert names(f"{root}/out") == ["_checkpoint.json", "p1.parquet"]
    assert dataset.load() == before


def test_commits_cut_short_are_finished_or_undone_by_the_next_save(root):
    fs = fsspec.filesystem("memory")
    dataset = ExtractedPartitionsDataset(f"{root}/out")
    dataset.save(ChunkOutputs({"p1": output_chunks(25), "p2": output_chunks(5)}))
    # p1 killed after its record, before its copy into place (both left);
    # p2 killed before its record: its commit object is unrecorded.
    fs.mv(f"{root}/out/p1.parquet", f"{root}/out/.p1.parquet.commit")
    fs.mv(f"{root}/out/p2.parquet", f"{root}/out/.p9.parquet.commit")
    fs.pipe_file(f"{root}/out/.p3.parquet.0123abcd.tmp", b"half an upload")

    dataset.save(ChunkOutputs({"p3": output_chunks(7)}))
    assert names(f"{root}/out") == [
        "_checkpoint.json",
        "p1.parquet",
        "p3.parquet",
    ]
    assert list(dataset.load()) == ["p1", "p2", "p3"]


def test_a_redelivered_object_with_other_contents_is_refused(root):
    deliver(f"{root}/in", "a.csv", table(30))
    checkpoint = encode(f"{root}/in", f"{root}/out").load()
    incoming = IncomingPartitionsDataset(f"{root}/in")
    refuse_redelivered(incoming.load(), checkpoint)  # the same object: fine
    deliver(f"{root}/in", "a.csv", table(30).assign(b=2.0))  # same size
    with pytest.raises(RedeliveredPartitionError, match=f"{root}/in/a.csv"):
        refuse_redelivered(incoming.load(), checkpoint)


def test_a_rebuilt_checkpoint_reads_the_committed_objects(root):
    deliver(f"{root}/in", "a.csv", table(30))
    dataset = encode(f"{root}/in", f"{root}/out")
    recorded = dataset.load()
    incoming = IncomingPartitionsDataset(f"{root}/in").load()
    rebuilt = dataset.rebuild_checkpoint(incoming)
    assert rebuilt["a"]["rows"] == recorded["a"]["rows"] == 30
    assert rebuilt["a"]["input_sha256"] == recorded["a"]["input_sha256"]
    assert "_checkpoint.json.old" in names(f"{root}/out")


def test_one_lease_at_a_time_and_an_expired_one_is_taken_over(root):
    folder = Location(f"{root}/out")
    lease = take_lock(folder, ttl_s=30)
    with pytest.raises(BatchLockedError, match="Another batch extraction is running"):
        take_lock(folder, ttl_s=30)
    lease.release()
    assert names(f"{root}/out/.lock") == []
    take_lock(folder, ttl_s=30).release()

    # A run killed outright leaves its lease, which blocks until it expires.
    fsspec.filesystem("memory").pipe_file(
        f"{root}/out/.lock/000000000007.json",
        json.dumps(
            {"owner": "x", "holder": "a killed run", "expires_at": time.time() + 0.5}
        ).encode(),
    )
    with pytest.raises(BatchLockedError, match="a killed run"):
        take_lock(folder, ttl_s=30)
    time.sleep(0.6)
    lease = take_lock(folder, ttl_s=30)
    assert names(f"{root}/out/.lock") == ["000000000008.json"]
    lease.release()


def test_a_lease_is_renewed_while_it_is_held(root):
    folder = Location(f"{root}/out")
    lease = take_lock(folder, ttl_s=0.6)
    time.sleep(1.0)  # longer than its lifetime: renewed meanwhile
    with pytest.raises(BatchLockedError):
        take_lock(folder, ttl_s=0.6)
    lease.release()
