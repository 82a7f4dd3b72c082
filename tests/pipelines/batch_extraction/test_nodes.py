import logging

import pytest

from sae_pipelines.batch.partitions import Partition, RedeliveredPartitionError
from sae_pipelines.pipelines.batch_extraction.nodes import (
    pending_partitions,
    summarize_batch,
)


def delivered(folder, names):
    for name in names:
        (folder / f"{name}.csv").write_text("x\n1\n")
    return {name: Partition(name, folder / f"{name}.csv", 10) for name in names}


def test_only_partitions_without_output_are_pending(caplog, tmp_path):
    incoming = delivered(tmp_path, ["a", "b", "c"])
    assert pending_partitions(incoming, {"b": {}}) == ["a", "c"]
    with caplog.at_level(logging.INFO):
        assert pending_partitions({}, {}) == []
    assert "No incoming partitions: nothing to do" in caplog.text


def test_summary_has_a_row_and_a_metric_step_per_written_partition():
    checkpoint = {
        "a": {"rows": 10, "anomaly_rate": 0.1, "mean_l0": 8.0, "sequence": 3},
        "b": {"rows": 5, "anomaly_rate": 0.2, "mean_l0": 7.5, "sequence": 4},
        "old": {"rows": 99, "anomaly_rate": 0.0, "mean_l0": 8.0, "sequence": 0},
    }
    summary, metrics = summarize_batch(
        checkpoint, ["a", "b"], {"source": "m version 2", "version": 2}
    )
    assert summary["partition"].tolist() == ["a", "b"]
    assert (summary["model"] == "m version 2").all()
    assert metrics["batch_rows"] == {"value": 15, "step": 0}
    assert metrics["model_version"] == {"value": 2, "step": 0}
    assert metrics["partition_anomaly_rate"] == [
        {"value": pytest.approx(0.1), "step": 3},
        {"value": pytest.approx(0.2), "step": 4},
    ]


def test_a_partition_delivered_again_changed_stops_before_anything_is_pending(
    tmp_path,
):
    incoming = delivered(tmp_path, ["a", "b"])
    record = {"rows": 1, "file": "b.parquet", "input_bytes": 99}
    with pytest.raises(RedeliveredPartitionError, match="Partition 'b'"):
        pending_partitions(incoming, {"b": record})
    assert pending_partitions(incoming, {"b": {**record, "input_bytes": 4}}) == ["a"]
