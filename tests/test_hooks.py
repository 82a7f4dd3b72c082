import logging

from kedro.pipeline import Node

from sae_pipelines.hooks import NodeTimingHooks


def test_node_times_are_logged_one_by_one_and_in_all(caplog):
    hooks = NodeTimingHooks()
    nodes = [Node(len, "x", "y", name=name) for name in ("first", "second")]
    with caplog.at_level(logging.INFO, logger="sae_pipelines.hooks"):
        hooks.before_pipeline_run()
        for node in nodes:
            hooks.before_node_run(node)
            hooks.after_node_run(node)
        hooks.after_pipeline_run()
    messages = [record.getMessage() for record in caplog.records]
    assert messages[0].startswith("Node 'first' ran in ")
    assert messages[1].startswith("Node 'second' ran in ")
    assert messages[2].startswith("Nodes ran for ") and messages[2].endswith(
        " s in all"
    )
