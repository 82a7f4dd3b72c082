"""Choosing the batch-extraction engine, without starting Spark."""

import sys
from types import SimpleNamespace

import pytest

import sae_pipelines.batch
from sae_pipelines.parameters.groups import BatchExtractionParams
from sae_pipelines.pipelines.batch_extraction import nodes


def test_spark_engine_without_pyspark_says_how_to_install_it(monkeypatch):
    for name in [name for name in sys.modules if name.startswith("pyspark.")]:
        monkeypatch.delitem(sys.modules, name)  # a plugin may have loaded some
    monkeypatch.setitem(sys.modules, "pyspark", None)
    monkeypatch.delitem(sys.modules, "sae_pipelines.batch.spark", raising=False)
    monkeypatch.delattr(sae_pipelines.batch, "spark", raising=False)
    serving = SimpleNamespace(source="m", version=None)
    with pytest.raises(ImportError, match=r'pip install -e "\.\[spark\]"'):
        nodes.extract_partitions({}, [], serving, BatchExtractionParams(engine="spark"))
