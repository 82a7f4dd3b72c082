"""Choosing the batch-extraction engine, without starting Spark."""

import sys
from types import SimpleNamespace

import pytest

import sae_pipelines
from sae_pipelines.pipelines.batch_extraction import nodes


def test_spark_engine_without_pyspark_says_how_to_install_it(monkeypatch):
    for name in [name for name in sys.modules if name.startswith("pyspark.")]:
        monkeypatch.delitem(sys.modules, name)  # a plugin may have loaded some
    monkeypatch.setitem(sys.modules, "pyspark", None)
    monkeypatch.delitem(sys.modules, "sae_pipelines.spark", raising=False)
    monkeypatch.delattr(sae_pipelines, "spark", raising=False)
    monkeypatch.setattr(nodes, "code_size_of", lambda autoencoder: 4)
    serving = SimpleNamespace(source="m", version=None, autoencoder=None)
    with pytest.raises(ImportError, match=r'pip install -e "\.\[spark\]"'):
        nodes.extract_partitions(
            {},
            [],
            serving,
            {},
            {"column_prefix": "c"},
            {"engine": "spark", "anomaly_scores": True},
        )
