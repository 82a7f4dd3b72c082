"""One definition of a valid row, for batch extraction and the served model."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from sae_pipelines.inference.features import InvalidInputError
from sae_pipelines.inference.rows import RowCheck, SeenIds

FEATURES = ["f0", "f1", "f2"]


def check() -> RowCheck:
    return RowCheck("Partition 'p'", FEATURES, ("f1",), "row_id")


def rows(count, start=0, **columns):
    table = pd.DataFrame(
        {"row_id": np.arange(start, start + count), "f0": 0.5, "f1": 3, "f2": 1.5}
    )
    return pa.Table.from_pandas(table.assign(**columns), preserve_index=False)


def test_whole_numbers_pass_in_an_integer_feature_whatever_their_type():
    values = check().features_of(rows(4, f1=[1.0, 2.0, 3.0, 4.0]))
    assert values[:, 1].tolist() == [1, 2, 3, 4]
    check().features_of(rows(4))  # int64
    check().features_of(rows(4, f0=[0.1, 2.5, 3.0, 4.0]))  # f0 is no integer


def test_a_fractional_value_in_an_integer_feature_is_named_with_its_row():
    rule = check()
    rule.features_of(rows(10))
    with pytest.raises(InvalidInputError) as refused:
        rule.features_of(rows(4, start=10, f1=[1.0, 3.5, 2.0, 0.25]))
    message = str(refused.value)
    assert message.startswith("Partition 'p' has fractional values in column 'f1'")
    assert (
        "2 in rows 11 to 14, the first in row 12: 3.5" in message
    )  # rows counted across chunks, from 1


def test_duplicate_ids_are_refused_within_and_across_chunks():
    rule = check()
    rule.features_of(rows(5))
    with pytest.raises(
        InvalidInputError,
        match=r"duplicate ids in column 'row_id': 2 in rows 6 to 9, the first in row 7: 3",
    ):
        rule.features_of(rows(4, row_id=[9, 3, 4, 8]))
    with pytest.raises(
        InvalidInputError,
        match="duplicate ids.*: 1 in rows 1 to 4, the first in row 3: 7",
    ):
        check().features_of(rows(4, row_id=[7, 8, 7, 9]))


def test_without_an_id_column_rows_are_not_compared():
    rule = check()
    for _ in range(2):
        rule.features_of(rows(5).drop_columns("row_id"))


def test_seen_ids_find_every_repeat_over_many_additions():
    seen, rng = SeenIds(), np.random.default_rng(0)
    ids = rng.permutation(10_000)
    for start in range(0, 10_000, 700):
        chunk = ids[start : start + 700]
        assert not seen.repeated(chunk).any()
        seen.add(chunk)
    assert seen.repeated(ids).all()
    assert not seen.repeated(np.array([10_000, -1])).any()
    names = SeenIds()
    names.add(np.array(["b", "a"], dtype=object))
    assert names.repeated(np.array(["a", "c", "c"], dtype=object)).tolist() == [
        True,
        False,
        True,
    ]
