import hashlib
import io
import json
import logging
import os
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from kedro.io import DatasetError
from rich.console import Console

from sae_pipelines.batch.output import (
    BatchProgress,
    ChunkOutputs,
    StagedPartition,
    rows_to_do,
)
from sae_pipelines.batch.partitions import (
    CorruptPartitionError,
    DamagedCheckpointError,
    DuplicatePartitionError,
    ExtractedPartitionsDataset,
    IncomingPartitionsDataset,
    RedeliveredPartitionError,
    estimate_csv_rows,
    refuse_redelivered,
)
from sae_pipelines.runtime.errors import InputError


def table(rows, start=0):
    return pd.DataFrame({"a": np.arange(start, start + rows, dtype=float), "b": 1.0})


def test_incoming_lists_csv_and_parquet_by_name_and_reads_in_chunks(tmp_path):
    table(25).to_csv(tmp_path / "b.csv", index=False)
    table(25).to_parquet(tmp_path / "a.parquet")
    (tmp_path / "notes.txt").write_text("not a partition")
    partitions = IncomingPartitionsDataset(str(tmp_path), chunk_rows=10).load()
    assert list(partitions) == ["a", "b"]
    for partition in partitions.values():
        sizes = [len(chunk) for chunk in partition.chunks()]
        assert sizes == [10, 10, 5]
    assert partitions["a"].rows == 25


def test_small_row_groups_are_read_together_in_order(tmp_path):
    table(25).to_parquet(tmp_path / "a.parquet", row_group_size=4)
    partition = IncomingPartitionsDataset(str(tmp_path), chunk_rows=10).load()["a"]
    chunks = list(partition.chunks())
    assert max(len(chunk) for chunk in chunks) == 10
    rows = pa.concat_tables(chunks).column("a").to_pylist()
    assert rows == list(range(25))


def test_incoming_missing_folder_is_empty_and_duplicate_names_are_refused(tmp_path):
    assert IncomingPartitionsDataset(str(tmp_path / "none")).load() == {}
    table(3).to_csv(tmp_path / "a.csv", index=False)
    table(3).to_parquet(tmp_path / "a.parquet")
    with pytest.raises(DuplicatePartitionError) as refused:
        IncomingPartitionsDataset(str(tmp_path)).load()
    message = str(refused.value)
    assert "Two incoming files are named 'a'" in message
    assert str(tmp_path / "a.csv") in message and "a.parquet" in message
    assert isinstance(refused.value, InputError)


def test_corrupt_parquet_is_named(tmp_path):
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 this is not parquet")
    partition = IncomingPartitionsDataset(str(tmp_path)).load()["broken"]
    with pytest.raises(CorruptPartitionError, match="Partition 'broken'"):
        list(partition.chunks())


def output_chunks(rows, fail_after=None):
    for start in range(0, rows, 10):
        if fail_after is not None and start >= fail_after:
            raise RuntimeError("killed mid-partition")
        chunk = table(min(10, rows - start), start)
        yield chunk.assign(is_flagged=chunk["a"] > 20, l0=3)


def test_partitions_are_written_whole_then_recorded(tmp_path):
    dataset = ExtractedPartitionsDataset(str(tmp_path))
    dataset.save(ChunkOutputs({"p1": output_chunks(25), "p2": output_chunks(5)}))
    checkpoint = dataset.load()
    assert list(checkpoint) == ["p1", "p2"]
    assert checkpoint["p1"]["rows"] == 25 and checkpoint["p1"]["sequence"] == 0
    assert checkpoint["p1"]["anomaly_rate"] == pytest.approx(4 / 25)
    assert checkpoint["p1"]["mean_l0"] == 3
    assert len(pd.read_parquet(tmp_path / "p1.parquet")) == 25


def test_without_a_terminal_progress_is_logged_by_tenths_of_the_rows(
    tmp_path, caplog, monkeypatch
):
    monkeypatch.setenv("TTY_COMPATIBLE", "0")  # as under cron or Airflow
    outputs = ChunkOutputs(
        {"p1": output_chunks(200), "p2": output_chunks(50)}, {"p1": 200, "p2": 50}
    )
    with caplog.at_level(logging.INFO):
        ExtractedPartitionsDataset(str(tmp_path)).save(outputs)
    progress = [
        r.getMessage()
        for r in caplog.records
        if r.getMessage().startswith("Batch extraction")
    ]
    assert len(progress) == 10  # of 25 chunks
    assert progress[0].startswith("Batch extraction: 30/250 rows (12%), 0/2 partitions")
    assert progress[-1].startswith(
        "Batch extraction: 250/250 rows (100%), 2/2 partitions"
    )


def test_a_terminal_shows_rows_and_partitions_in_a_bar(tmp_path):
    screen = Console(
        file=io.StringIO(), force_terminal=True, color_system=None, width=120
    )
    with BatchProgress({"p1": None, "p2": 5}, screen) as progress:  # p1 is CSV
        progress.written("p1", 10)
        progress.committed(StagedPartition("p1", tmp_path / "p1", 10, None, 30))
    shown = screen.file.getvalue()
    assert "Batch extraction" in shown
    assert "10/? rows" in shown and "1/2 partitions" in shown


def test_a_failure_mid_partition_leaves_no_file_and_keeps_the_checkpoint(tmp_path):
    dataset = ExtractedPartitionsDataset(str(tmp_path))
    dataset.save(ChunkOutputs({"p1": output_chunks(25)}))
    before = json.loads(dataset.checkpoint_path.read_text())
    mtime = (tmp_path / "p1.parquet").stat().st_mtime_ns
    with pytest.raises(DatasetError, match="killed mid-partition"):
        dataset.save(ChunkOutputs({"p2": output_chunks(40, fail_after=20)}))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "_checkpoint.json",
        "p1.parquet",
    ]
    assert dataset.load() == before
    assert (tmp_path / "p1.parquet").stat().st_mtime_ns == mtime


def test_a_failed_write_stops_the_save_and_leaves_no_file(tmp_path):
    def chunks():
        yield from output_chunks(20)
        yield next(output_chunks(5)).assign(extra=1.0)  # another schema
        yield from output_chunks(20)

    dataset = ExtractedPartitionsDataset(str(tmp_path))
    with pytest.raises(DatasetError, match="schema"):
        dataset.save(ChunkOutputs({"p": chunks()}))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("chunks", [[], "one empty chunk"])
def test_a_partition_without_rows_is_recorded_as_skipped_with_no_file(
    tmp_path, chunks, caplog
):
    if chunks:
        chunks = [next(output_chunks(5)).iloc[:0]]
    dataset = ExtractedPartitionsDataset(str(tmp_path))
    with caplog.at_level(logging.INFO):
        dataset.save(ChunkOutputs({"p": iter(chunks), "q": output_chunks(5)}))
    assert "Partition 'p' has no rows: skipped" in caplog.text
    checkpoint = dataset.load()
    assert checkpoint["p"]["rows"] == 0 and checkpoint["p"]["file"] is None
    assert checkpoint["p"]["mean_l0"] is None
    assert checkpoint["q"]["rows"] == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "_checkpoint.json",
        "q.parquet",
    ]


def test_leftovers_of_a_killed_run_are_removed_on_the_next_save(tmp_path):
    (tmp_path / ".p1.parquet.1234.tmp").write_bytes(b"half a file")
    ExtractedPartitionsDataset(str(tmp_path)).save(
        ChunkOutputs({"p1": output_chunks(5)})
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "_checkpoint.json",
        "p1.parquet",
    ]


def test_a_commit_cut_short_after_its_record_is_finished_by_the_next_save(tmp_path):
    """Killed between recording p1 and moving its file: the file is not lost."""
    dataset = ExtractedPartitionsDataset(str(tmp_path))
    dataset.save(ChunkOutputs({"p1": output_chunks(25)}))
    (tmp_path / "p1.parquet").rename(tmp_path / ".p1.parquet.commit")
    assert list(dataset.load()) == ["p1"]  # recorded, so not encoded again

    dataset.save(ChunkOutputs({"p2": output_chunks(5)}))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "_checkpoint.json",
        "p1.parquet",
        "p2.parquet",
    ]
    assert len(pd.read_parquet(tmp_path / "p1.parquet")) == 25


def test_a_commit_cut_short_before_its_record_is_undone_by_the_next_save(tmp_path):
    """Killed before p1 was recorded: it is still pending, its file is removed."""
    ExtractedPartitionsDataset(str(tmp_path / "other")).save(
        ChunkOutputs({"p1": output_chunks(25)})
    )
    (tmp_path / "other/p1.parquet").rename(tmp_path / ".p1.parquet.commit")
    dataset = ExtractedPartitionsDataset(str(tmp_path))
    assert dataset.load() == {}

    dataset.save(ChunkOutputs({"p1": output_chunks(5)}))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "_checkpoint.json",
        "other",
        "p1.parquet",
    ]
    assert dataset.load()["p1"]["rows"] == 5


def encode_incoming(incoming, output):
    """Commit every incoming partition, as the pandas engine does (codes faked)."""
    partitions = IncomingPartitionsDataset(str(incoming)).load()
    chunks = {
        name: (as_output(chunk) for chunk in partition.chunks())
        for name, partition in partitions.items()
    }
    inputs = {name: partition.path for name, partition in partitions.items()}
    ExtractedPartitionsDataset(str(output)).save(ChunkOutputs(chunks, inputs=inputs))
    return partitions


def as_output(chunk):
    return chunk.to_pandas().assign(l0=3)


def test_the_checkpoint_records_each_input_file_size_mtime_and_hash(tmp_path):
    incoming = tmp_path / "in"
    incoming.mkdir()
    table(30).to_csv(incoming / "a.csv", index=False)
    table(0).to_csv(incoming / "empty.csv", index=False)
    encode_incoming(incoming, tmp_path / "out")
    checkpoint = ExtractedPartitionsDataset(str(tmp_path / "out")).load()
    for name in ("a", "empty"):
        path = incoming / f"{name}.csv"
        assert checkpoint[name]["input_bytes"] == path.stat().st_size
        assert checkpoint[name]["input_mtime_ns"] == path.stat().st_mtime_ns
        expected = hashlib.sha256(path.read_bytes()).hexdigest()
        assert checkpoint[name]["input_sha256"] == expected


@pytest.fixture
def encoded(tmp_path):
    """Partition ``a`` delivered and encoded: (incoming folder, checkpoint)."""
    incoming = tmp_path / "in"
    incoming.mkdir()
    table(30).to_csv(incoming / "a.csv", index=False)
    encode_incoming(incoming, tmp_path / "out")
    return incoming, ExtractedPartitionsDataset(str(tmp_path / "out")).load()


def refusal(incoming, checkpoint):
    """The message refusing the delivery in ``incoming``, or ``None``."""
    try:
        refuse_redelivered(IncomingPartitionsDataset(str(incoming)).load(), checkpoint)
    except RedeliveredPartitionError as error:
        assert isinstance(error, InputError)
        return str(error)
    return None


def test_a_redelivered_file_of_another_size_is_refused_by_name(encoded):
    incoming, checkpoint = encoded
    table(31).to_csv(incoming / "a.csv", index=False)
    message = refusal(incoming, checkpoint)
    assert message is not None
    assert "Partition 'a'" in message and str(incoming / "a.csv") in message
    assert "new file name" in message and "_checkpoint.json" in message
    assert "a.parquet" in message


def test_same_size_other_contents_is_refused_and_the_same_bytes_accepted(encoded):
    incoming, checkpoint = encoded
    path = incoming / "a.csv"
    original = path.read_bytes()
    path.write_bytes(original.replace(b"1.0", b"2.0"))
    os.utime(path, ns=(0, checkpoint["a"]["input_mtime_ns"] + 10**9))
    assert path.stat().st_size == len(original)
    assert "other contents" in refusal(incoming, checkpoint)

    path.write_bytes(original)  # delivered again unchanged, with a new mtime
    os.utime(path, ns=(0, checkpoint["a"]["input_mtime_ns"] + 10**9))
    assert refusal(incoming, checkpoint) is None


def test_size_and_mtime_unchanged_skip_the_hash(encoded, monkeypatch):
    incoming, checkpoint = encoded
    monkeypatch.setattr(
        "sae_pipelines.batch.partitions.sha256",
        lambda path: pytest.fail("hashed a file whose size and mtime match"),
    )
    assert refusal(incoming, checkpoint) is None


def test_checkpoints_without_hashes_compare_the_size_or_accept(encoded):
    incoming, checkpoint = encoded
    table(30).assign(b=2.0).to_csv(incoming / "a.csv", index=False)  # same size
    without_hash = {"a": {**checkpoint["a"], "input_sha256": None}}
    assert refusal(incoming, without_hash) is None
    table(31).to_csv(incoming / "a.csv", index=False)
    assert "bytes now" in refusal(incoming, without_hash)
    old = {"a": {"rows": 30, "file": "a.parquet"}}  # before inputs were recorded
    assert refusal(incoming, old) is None


@pytest.mark.parametrize("damage", ['{"a": {"rows": 30, "fi', "[]", "\xff"])
def test_a_damaged_checkpoint_is_named_with_how_to_rebuild_it(tmp_path, damage):
    (tmp_path / "_checkpoint.json").write_bytes(damage.encode("latin-1"))
    with pytest.raises(DamagedCheckpointError) as refused:
        ExtractedPartitionsDataset(str(tmp_path)).load()
    message = str(refused.value)
    assert str(tmp_path / "_checkpoint.json") in message
    assert "kedro rebuild-checkpoint" in message and "\n" not in message


def test_a_rebuilt_checkpoint_records_what_the_commits_recorded(tmp_path):
    incoming = tmp_path / "in"
    incoming.mkdir()
    table(30).to_csv(incoming / "a.csv", index=False)
    table(12).to_parquet(incoming / "b.parquet")
    table(0).to_csv(incoming / "empty.csv", index=False)
    partitions = encode_incoming(incoming, tmp_path / "out")
    dataset = ExtractedPartitionsDataset(str(tmp_path / "out"))
    original = dataset.load()
    (incoming / "b.parquet").unlink()  # an input gone since
    del partitions["b"]
    dataset.checkpoint_path.write_text('{"a": {"ro')

    rebuilt = dataset.rebuild_checkpoint(partitions)

    assert dataset.load() == rebuilt
    assert list(rebuilt) == ["a", "b"]  # the empty partition had no file
    unchanged = {"written_at", "input_bytes", "input_mtime_ns", "input_sha256"}
    for name in rebuilt:
        kept = {
            key: value for key, value in rebuilt[name].items() if key not in unchanged
        }
        assert kept == {k: v for k, v in original[name].items() if k not in unchanged}
    assert rebuilt["a"]["input_sha256"] == original["a"]["input_sha256"]
    assert rebuilt["b"]["input_sha256"] is rebuilt["b"]["input_bytes"] is None
    assert (tmp_path / "out/_checkpoint.json.old").read_text() == '{"a": {"ro'


@pytest.mark.parametrize("sample_bytes", [1 << 20, 1000])
def test_csv_rows_are_estimated_from_the_file_size(tmp_path, sample_bytes):
    table(2000).to_csv(tmp_path / "a.csv", index=False)
    estimate = estimate_csv_rows(tmp_path / "a.csv", sample_bytes)
    if sample_bytes > (tmp_path / "a.csv").stat().st_size:
        assert estimate == 2000  # the whole file read: counted
    else:
        assert 1500 < estimate < 2500 and estimate != 2000
    (tmp_path / "b.csv").write_text("a,b\n1,2")  # no line break at the end
    assert estimate_csv_rows(tmp_path / "b.csv", sample_bytes) == 1


def test_a_csv_partition_reports_its_progress_by_tenths_of_an_estimate(
    tmp_path, caplog, monkeypatch
):
    monkeypatch.setenv("TTY_COMPATIBLE", "0")  # as under cron or Airflow
    monkeypatch.setattr("sae_pipelines.batch.partitions.SAMPLE_BYTES", 1000)
    table(2000).to_csv(tmp_path / "big.csv", index=False)
    [partition] = (
        IncomingPartitionsDataset(str(tmp_path), chunk_rows=100).load().values()
    )
    assert partition.rows is None
    rows, estimates = rows_to_do({"big": partition})
    chunks = {"big": (as_output(chunk) for chunk in partition.chunks())}
    with caplog.at_level(logging.INFO):
        ExtractedPartitionsDataset(str(tmp_path / "out")).save(
            ChunkOutputs(chunks, rows, estimates=estimates)
        )
    progress = [
        r.getMessage()
        for r in caplog.records
        if r.getMessage().startswith("Batch extraction")
    ]
    assert len(progress) >= 8
    first = re.match(r"Batch extraction: (\d+)/~(\d+) rows", progress[0])
    assert first is not None and int(first.group(2)) == estimates["big"]
    assert progress[-1].startswith("Batch extraction: 2000/2000 rows (100%), 1/1")
