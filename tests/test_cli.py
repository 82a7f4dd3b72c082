import pytest
from kedro.io import DatasetError

from sae_pipelines.batch.output import CorruptPartitionError
from sae_pipelines.cli import input_error, one_line


def raised(error: Exception, cause: BaseException | None) -> Exception:
    """``error`` as raised ``from cause``."""
    try:
        raise error from cause
    except Exception as caught:  # noqa: BLE001
        return caught


def test_bad_input_wrapped_by_the_catalog_is_found():
    partition = CorruptPartitionError("Partition 'p' cannot be read")
    assert input_error(raised(DatasetError("saving failed"), partition)) is partition


@pytest.mark.parametrize("cause", [FileNotFoundError(2, "No such file"), None])
def test_a_missing_file_is_bad_input_and_an_error_of_ours_is_not(cause):
    error = raised(DatasetError("loading failed"), cause)
    assert input_error(error) is (error if cause is not None else None)


def test_a_bug_inside_a_dataset_is_not_bad_input():
    bug = raised(DatasetError("saving failed"), TypeError("unsupported operand"))
    assert input_error(bug) is None
    assert input_error(KeyError("code_000")) is None


def test_a_file_that_cannot_be_read_is_named_on_one_line():
    cause = UnicodeDecodeError("utf-8", b"\xe9", 0, 1, "invalid continuation byte")
    kedro_words = (
        "Failed while loading data from dataset CSVDataset(filepath="
        "PurePosixPath('/data/raw.csv'), protocol='file').\n" + str(cause)
    )
    line = one_line(raised(DatasetError(kedro_words), cause))
    assert "\n" not in line
    assert line.startswith("/data/raw.csv: 'utf-8' codec can't decode byte 0xe9")
    assert "load_args: {encoding: latin-1}" in line
    assert one_line(CorruptPartitionError("Partition 'p'\nbad")) == "Partition 'p'\nbad"


def test_a_missing_version_says_the_file_is_not_there():
    path = "/data/05_model_input/x.parquet/2020-01-01T00.00.00.000Z/x.parquet"
    error = raised(
        DatasetError(f"Failed while loading data\n{path}"), FileNotFoundError(path)
    )
    assert one_line(error) == f"No such file: {path}"
