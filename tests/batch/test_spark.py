"""The Spark path of batch extraction gives what the pandas path gives."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from sae_pipelines.batch.partitions import ExtractedPartitionsDataset, Partition
from sae_pipelines.inference import InferenceModel, InvalidInputError
from sae_pipelines.pipelines.batch_extraction.nodes import extract_partitions
from sae_pipelines.pipelines.data_processing.nodes import fit_normalizer

pyspark = pytest.importorskip("pyspark")
from sae_pipelines.batch import spark as spark_engine  # noqa: E402
from tests.conftest import topk_autoencoder  # noqa: E402

pytestmark = pytest.mark.slow

FEATURES = [f"f{i}" for i in range(6)]
ID = "row_id"
CODES = [f"code_{unit:03d}" for unit in range(8)]
CHUNK_ROWS = 64


@pytest.fixture(scope="module")
def spark():
    session = spark_engine.local_session("sae_pipelines_tests")
    # Small splits: a CSV file spans several Spark partitions, so row numbers
    # must carry on across them as they do across pandas chunks.
    session.conf.set("spark.sql.files.maxPartitionBytes", "4096")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def serving():
    rng = np.random.default_rng(0)
    train = pd.DataFrame(rng.normal(size=(300, 6)), columns=FEATURES)
    normalizer = fit_normalizer(train, {"method": "standard"}, {})
    model = topk_autoencoder(len(FEATURES), len(CODES), 3)
    serving = InferenceModel(model, normalizer, 0.0, source="tiny test model")
    scores = serving.predict(table(1))["anomaly_score"]
    serving.threshold = float(np.median(scores))  # about half the rows flagged
    return serving


def table(seed, rows=200):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.normal(scale=1.5, size=(rows, 6)), columns=FEATURES)


@pytest.fixture
def partitions(tmp_path):
    """``a``: CSV without ids (rows numbered); ``b``: parquet with its own ids."""
    table(1).to_csv(tmp_path / "a.csv", index=False)
    with_ids = table(2).assign(**{ID: np.arange(5000, 5200)[::-1]})
    with_ids[[ID, *FEATURES]].to_parquet(tmp_path / "b.parquet", index=False)
    return {
        "a": Partition("a", tmp_path / "a.csv", CHUNK_ROWS),
        "b": Partition("b", tmp_path / "b.parquet", CHUNK_ROWS),
    }


def pandas_output(name, partition, serving):
    chunks = serving.score_chunks(partition.chunks(), f"Partition '{name}'")
    return pa.concat_tables(chunks).to_pandas()


def spark_output(spark, partitions, serving):
    result = spark_engine.encode_with_spark(spark, partitions, serving)
    chunks = spark_engine.spark_partition_chunks(result, sorted(partitions), CHUNK_ROWS)
    return {
        name: pd.concat(list(parts), ignore_index=True)
        for name, parts in chunks.items()
    }


def assert_same_output(actual, expected):
    assert len(actual) == len(expected)
    assert list(actual.columns) == list(expected.columns)
    np.testing.assert_array_equal(actual[ID], expected[ID])
    np.testing.assert_allclose(actual[CODES], expected[CODES], rtol=0, atol=1e-5)
    np.testing.assert_allclose(
        actual["anomaly_score"], expected["anomaly_score"], rtol=0, atol=1e-5
    )
    np.testing.assert_array_equal(actual["is_flagged"], expected["is_flagged"])
    np.testing.assert_array_equal(actual["l0"], expected["l0"])
    for column in [*CODES, "anomaly_score", "is_flagged", "l0"]:
        assert actual[column].dtype == expected[column].dtype, column


def test_spark_codes_equal_pandas_codes(spark, partitions, serving):
    splits = spark_engine.read_partitions(spark, partitions, FEATURES, ID)
    assert splits.rdd.getNumPartitions() > 2  # a.csv is read in several splits
    outputs = spark_output(spark, partitions, serving)
    assert list(outputs) == ["a", "b"]
    for name, partition in partitions.items():
        assert_same_output(outputs[name], pandas_output(name, partition, serving))
    assert outputs["a"][ID].tolist() == list(range(200))
    assert outputs["b"][ID].tolist() == list(range(5199, 4999, -1))
    assert 0 < outputs["a"]["is_flagged"].sum() < 200


def test_spark_engine_node_writes_what_the_pandas_engine_writes(
    spark, partitions, serving, tmp_path
):
    written = {}
    for engine in ("pandas", "spark"):
        chunks, model_used = extract_partitions(
            partitions,
            ["a", "b"],
            serving,
            {"engine": engine, "anomaly_scores": True},
        )
        dataset = ExtractedPartitionsDataset(str(tmp_path / engine))
        dataset.save(chunks)
        written[engine] = dataset.load()
        assert model_used == {"source": "tiny test model", "version": None}
    for name in ("a", "b"):
        assert written["spark"][name]["rows"] == written["pandas"][name]["rows"]
        assert_same_output(
            pd.read_parquet(tmp_path / "spark" / f"{name}.parquet"),
            pd.read_parquet(tmp_path / "pandas" / f"{name}.parquet"),
        )


def test_wrong_columns_stop_before_spark_runs(spark, partitions, serving, tmp_path):
    table(3).rename(columns={"f2": "x"}).to_csv(tmp_path / "c.csv", index=False)
    partitions["c"] = Partition("c", tmp_path / "c.csv", CHUNK_ROWS)
    with pytest.raises(InvalidInputError, match=r"'c'.*missing columns \['f2'\]"):
        spark_engine.encode_with_spark(spark, partitions, serving)


def test_missing_value_found_by_a_worker_is_a_schema_error(
    spark, partitions, serving, tmp_path
):
    broken = table(4)
    broken.loc[150, "f3"] = np.nan
    broken.to_csv(tmp_path / "c.csv", index=False)
    partitions["c"] = Partition("c", tmp_path / "c.csv", CHUNK_ROWS)
    outputs = spark_engine.spark_partition_chunks(
        spark_engine.encode_with_spark(spark, partitions, serving),
        ["a", "b", "c"],
        CHUNK_ROWS,
    )
    assert sum(len(chunk) for chunk in outputs["a"]) == 200
    assert sum(len(chunk) for chunk in outputs["b"]) == 200
    with pytest.raises(InvalidInputError, match=r"'c' has missing, NaN.*\['f3'\]"):
        list(outputs["c"])
