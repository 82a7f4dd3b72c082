import logging
import resource

import pytest
from kedro.pipeline import Node

from sae_pipelines.framework.hooks.timing import NodeTimingHooks


def test_node_times_run_from_first_load_to_last_save(caplog, monkeypatch):
    now = {"s": 0.0}
    monkeypatch.setattr(
        "sae_pipelines.framework.hooks.timing.time.perf_counter", lambda: now["s"]
    )
    hooks = NodeTimingHooks()
    first = Node(lambda x: (x, x), "x", ["y", "z"], name="first")
    second = Node(lambda y: None, "y", None, name="second")
    with caplog.at_level(logging.INFO, logger="sae_pipelines.framework.hooks.timing"):
        hooks.before_pipeline_run()
        hooks.before_dataset_loaded(first)
        now["s"] = 1.0
        hooks.before_node_run(first)  # the clock started at the load
        hooks.after_node_run(first, {"y": 1, "z": 1})
        hooks.after_dataset_saved(first)
        assert not caplog.records  # "z" is still to be saved
        now["s"] = 4.0
        hooks.after_dataset_saved(first)
        hooks.before_dataset_loaded(second)
        now["s"] = 6.0
        hooks.after_node_run(second, {})
        hooks.after_pipeline_run()
    messages = [record.getMessage().split(";")[0] for record in caplog.records]
    assert messages == [
        "Node 'first' took 4.00 s",
        "Node 'second' took 2.00 s",
        "Nodes took 6.00 s in all, loads and saves included",
    ]


def test_each_node_line_gives_the_peak_memory_so_far(caplog):
    hooks = NodeTimingHooks()
    node = Node(lambda x: None, "x", None, name="only")
    with caplog.at_level(logging.INFO, logger="sae_pipelines.framework.hooks.timing"):
        hooks.before_node_run(node)
        hooks.after_node_run(node, {})
    _, peak = caplog.records[0].getMessage().split("; peak RSS ")
    measured = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB
    assert float(peak.removesuffix(" GiB")) == pytest.approx(measured, abs=0.01)
