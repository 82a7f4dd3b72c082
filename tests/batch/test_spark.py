"""The Spark engine writes what the pandas engine writes, and fails as it does."""

import dataclasses
import hashlib
import time

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from kedro.config import OmegaConfigLoader
from kedro.io import DatasetError

from sae_pipelines.batch.output import ChunkOutputs
from sae_pipelines.batch.partitions import ExtractedPartitionsDataset, Partition
from sae_pipelines.inference import InferenceModel, InvalidInputError
from sae_pipelines.parameters.groups import DataParams, NormalizationParams
from sae_pipelines.pipelines.data_processing.nodes import fit_normalizer
from sae_pipelines.settings import CONFIG_LOADER_ARGS
from tests.project_runs import PROJECT_ROOT
from tests.spark_cluster import free_port, java_missing

pytest.importorskip("pyspark")
if java_missing():
    pytest.skip("Spark needs Java 17+ on the PATH", allow_module_level=True)
from sae_pipelines.batch import spark as spark_engine  # noqa: E402
from sae_pipelines.batch import spark_session  # noqa: E402
from tests.conftest import topk_autoencoder  # noqa: E402

pytestmark = pytest.mark.slow

FEATURES = [f"f{i}" for i in range(6)]
ID = "row_id"
CODES = [f"code_{unit:03d}" for unit in range(8)]
CHUNK_ROWS = 64


@pytest.fixture(scope="module")
def spark():
    """A session from the project's own spark.yml, on two local cores."""
    loader = OmegaConfigLoader(str(PROJECT_ROOT / "conf"), **CONFIG_LOADER_ARGS)
    settings = loader["spark"] | {"spark.master": "local[2]"}
    session = spark_session.start_session(settings)
    # Small splits: a file spans several Spark splits, which must stay in order.
    session.conf.set("spark.sql.files.maxPartitionBytes", "4096")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def model():
    rng = np.random.default_rng(0)
    train = pd.DataFrame(rng.normal(size=(300, 6)), columns=FEATURES)
    normalizer = fit_normalizer(
        train, NormalizationParams(method="standard"), DataParams()
    )
    autoencoder = topk_autoencoder(len(FEATURES), len(CODES), 3)
    model = InferenceModel(autoencoder, normalizer, source="tiny test model")
    scores = model.predict(table(1))["anomaly_score"]
    model.threshold = float(np.median(scores))  # about half the rows flagged
    return model


def table(seed, rows=200):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.normal(scale=1.5, size=(rows, 6)), columns=FEATURES)


@pytest.fixture
def incoming(tmp_path):
    """``a``: CSV without ids (rows numbered); ``b``: parquet with its own ids."""
    folder = tmp_path / "incoming"
    folder.mkdir()
    table(1).to_csv(folder / "a.csv", index=False)
    with_ids = table(2).assign(**{ID: np.arange(5000, 5200)[::-1]})
    with_ids[[ID, *FEATURES]].to_parquet(folder / "b.parquet", index=False)
    table(3, rows=50).assign(**{ID: np.arange(50)})[[*FEATURES, ID]].to_csv(
        folder / "c.csv", index=False
    )
    return folder


def partitions_in(folder):
    return {
        path.stem: Partition(path.stem, path, CHUNK_ROWS)
        for path in sorted(folder.iterdir())
    }


def write_with_pandas(partitions, model, folder):
    chunks = {
        name: model.score_chunks(partition.chunks(), f"Partition '{name}'")
        for name, partition in partitions.items()
    }
    dataset = ExtractedPartitionsDataset(str(folder))
    inputs = {name: partition.path for name, partition in partitions.items()}
    dataset.save(ChunkOutputs(chunks, inputs=inputs))
    return dataset


def write_with_spark(spark, partitions, model, folder, scores=True):
    dataset = ExtractedPartitionsDataset(str(folder))
    dataset.save(spark_engine.SparkOutputs(partitions, model, scores, spark))
    return dataset


def files(folder):
    return sorted(path.name for path in folder.iterdir())


def assert_same_file(actual_path, expected_path):
    actual_schema = pq.read_schema(actual_path)
    assert actual_schema.equals(pq.read_schema(expected_path), check_metadata=True)
    actual, expected = pd.read_parquet(actual_path), pd.read_parquet(expected_path)
    assert len(actual) == len(expected) > 0
    np.testing.assert_array_equal(actual[ID], expected[ID])
    np.testing.assert_allclose(actual[CODES], expected[CODES], rtol=0, atol=1e-5)
    np.testing.assert_allclose(
        actual["anomaly_score"], expected["anomaly_score"], rtol=0, atol=1e-5
    )
    for column in ("is_flagged", "l0"):
        np.testing.assert_array_equal(actual[column], expected[column])


def test_spark_writes_the_files_the_pandas_engine_writes(
    spark, incoming, model, tmp_path
):
    partitions = partitions_in(incoming)
    by_pandas = write_with_pandas(partitions, model, tmp_path / "pandas")
    by_spark = write_with_spark(spark, partitions, model, tmp_path / "spark")

    assert files(tmp_path / "spark") == files(tmp_path / "pandas")
    assert files(tmp_path / "spark") == [
        "_checkpoint.json",
        "a.parquet",
        "b.parquet",
        "c.parquet",
    ]
    for name in partitions:
        assert_same_file(
            tmp_path / "spark" / f"{name}.parquet",
            tmp_path / "pandas" / f"{name}.parquet",
        )
        spark_record, pandas_record = by_spark.load()[name], by_pandas.load()[name]
        for key in ("rows", "file", "mean_l0", "sequence", "input_bytes"):
            assert spark_record[key] == pandas_record[key]
        digest = hashlib.sha256(partitions[name].path.read_bytes()).hexdigest()
        assert spark_record["input_sha256"] == pandas_record["input_sha256"] == digest
        assert spark_record["anomaly_rate"] == pytest.approx(
            pandas_record["anomaly_rate"]
        )
    written = pd.read_parquet(tmp_path / "spark/a.parquet")
    assert written[ID].tolist() == list(range(200))  # file order, across splits
    assert 0 < written["is_flagged"].sum() < 200
    assert pd.read_parquet(tmp_path / "spark/b.parquet")[ID].tolist() == list(
        range(5199, 4999, -1)
    )


def test_spark_without_scores_writes_codes_and_l0_only(
    spark, incoming, model, tmp_path
):
    partitions = partitions_in(incoming)
    dataset = write_with_spark(spark, partitions, model, tmp_path, scores=False)
    written = pd.read_parquet(tmp_path / "b.parquet")
    assert list(written.columns) == [ID, *CODES, "l0"]
    assert dataset.load()["b"]["anomaly_rate"] is None


def test_wrong_columns_stop_before_anything_is_committed(
    spark, incoming, model, tmp_path
):
    table(3).rename(columns={"f2": "x"}).to_csv(incoming / "0_first.csv", index=False)
    output = tmp_path / "out"
    with pytest.raises(
        DatasetError,
        match=r"Partition '0_first' does not match the model's features: "
        r"missing columns \['f2'\]; unexpected columns \['x'\]",
    ) as error:
        write_with_spark(spark, partitions_in(incoming), model, output)
    assert isinstance(error.value.__cause__, InvalidInputError)
    assert files(output) == []


def test_text_in_a_feature_is_refused_by_name(spark, incoming, model, tmp_path):
    text = table(4).astype({"f4": str})
    text.loc[3, "f4"] = "n/a"
    text.to_csv(incoming / "0_text.csv", index=False)
    with pytest.raises(
        DatasetError,
        match=r"Partition '0_text' has non-numeric values in columns \['f4'\]",
    ):
        write_with_spark(spark, partitions_in(incoming), model, tmp_path / "out")


def test_nan_found_on_an_executor_stops_at_its_partition(
    spark, incoming, model, tmp_path
):
    """Partitions before the bad one are committed; it and those after are not."""
    broken = table(4)
    broken.loc[150, "f3"] = np.nan
    broken.to_csv(incoming / "b2.csv", index=False)  # between b and c
    output = tmp_path / "out"
    with pytest.raises(
        DatasetError,
        match=r"Partition 'b2' has missing, NaN or infinite values in columns \['f3'\]",
    ):
        write_with_spark(spark, partitions_in(incoming), model, output)
    committed = ExtractedPartitionsDataset(str(output)).load()
    assert list(committed) == ["a", "b"]
    # Nothing else: c may have been encoded meanwhile; it was not committed, and
    # what it and b2 staged is gone.
    assert files(output) == ["_checkpoint.json", "a.parquet", "b.parquet"]


def test_partitions_without_rows_are_skipped_as_with_pandas(
    spark, incoming, model, tmp_path
):
    table(5).iloc[:0].to_parquet(incoming / "0_empty.parquet", index=False)
    (incoming / "1_header.csv").write_text(",".join(table(1).columns) + "\n")
    (incoming / "2_blank.csv").write_bytes(b"")
    output = tmp_path / "out"
    write_with_spark(spark, partitions_in(incoming), model, output)
    write_with_pandas(partitions_in(incoming), model, tmp_path / "pandas")
    for folder in (output, tmp_path / "pandas"):
        checkpoint = ExtractedPartitionsDataset(str(folder)).load()
        for name in ("0_empty", "1_header", "2_blank"):
            assert checkpoint[name]["rows"] == 0 and checkpoint[name]["file"] is None
        assert checkpoint["a"]["rows"] == 200
        assert not any(folder.glob("[012]_*"))


def test_an_unreadable_partition_is_refused_by_name(spark, incoming, model, tmp_path):
    (incoming / "0_broken.parquet").write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(DatasetError, match="Partition '0_broken' .* cannot be read"):
        write_with_spark(spark, partitions_in(incoming), model, tmp_path / "out")


def test_an_unreachable_master_is_named_at_once():
    master = f"spark://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(spark_session.SparkMasterUnreachableError, match=master):
        spark_session.check_master(master)
    assert time.monotonic() - started < 60


@pytest.mark.parametrize("engine", ["pandas", "spark"])
def test_both_engines_refuse_fractions_in_integers_and_duplicate_ids(
    spark, model, tmp_path, engine
):
    """The model's one definition of a valid row, as the served model applies it."""
    with_integers = dataclasses.replace(model, integer_features=("f1",))
    rows = table(5).assign(f1=np.arange(200) % 7, **{ID: np.arange(200)})
    folder = tmp_path / "incoming"
    folder.mkdir()
    rows.assign(f1=np.where(rows.index == 9, 3.5, rows["f1"])).to_csv(
        folder / "fraction.csv", index=False
    )
    rows.assign(**{ID: np.arange(200) % 150}).to_parquet(folder / "ids.parquet")
    # Chunks differ by engine (Spark's Arrow batches): the rows counted do too.
    refusals = {
        "fraction": r"Partition 'fraction' has fractional values in column 'f1', "
        r"which holds integers for the model: 1 in rows 1 to \d+, the first in "
        r"row 10: 3\.5",
        "ids": rf"Partition 'ids' has duplicate ids in column '{ID}': \d+ in rows "
        r"\d+ to \d+, the first in row 151: 0",
    }
    for name, words in refusals.items():
        partitions = {name: partitions_in(folder)[name]}
        output = tmp_path / f"{name}-out"
        with pytest.raises(DatasetError, match=words):
            if engine == "spark":
                write_with_spark(spark, partitions, with_integers, output)
            else:
                write_with_pandas(partitions, with_integers, output)
        assert files(output) == []
    rows.to_csv(folder / "fine.csv", index=False)
    fine = {"fine": partitions_in(folder)["fine"]}
    written = write_with_pandas(fine, with_integers, tmp_path / "fine-out")
    assert written.load()["fine"]["rows"] == 200
