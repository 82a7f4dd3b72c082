import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from sae_pipelines.inference.features import (
    TENSOR_ALIGNMENT,
    InvalidInputError,
    check_columns,
    feature_values,
)

FEATURES = ["f0", "f1", "f2", "f3"]


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        (["f0", "f1", "f2"], r"missing columns \['f3'\]$"),
        ([*FEATURES, "extra"], r"unexpected columns \['extra'\]$"),
        (
            ["f0", "x", "f2", "f3"],
            r"missing columns \['f1'\]; unexpected columns \['x'\]",
        ),
    ],
)
def test_columns_must_be_the_training_features(columns, message):
    with pytest.raises(InvalidInputError, match=f"^Partition 'day1'.*{message}"):
        check_columns("Partition 'day1'", columns, FEATURES, "row_id")
    check_columns("Partition 'day1'", ["row_id", *FEATURES], FEATURES, "row_id")
    check_columns("Partition 'day1'", ["f3", "f1", "f0", "f2"], FEATURES, "row_id")


def test_text_and_missing_values_are_named():
    chunk = pd.DataFrame({"f0": ["x", "y"], "f1": [1.0, np.nan], "f2": 0.0, "f3": 0.0})
    with pytest.raises(
        InvalidInputError, match=r"non-numeric values in columns \['f0'\]"
    ):
        feature_values("Partition 'day1'", chunk, FEATURES)
    with pytest.raises(
        InvalidInputError, match=r"NaN or infinite values in columns \['f1'\]"
    ):
        feature_values("Partition 'day1'", chunk.assign(f0=1.0), FEATURES)
    with_null = pa.table(
        {"f0": [1.0, None], "f1": [1, 2], "f2": [0.0] * 2, "f3": [True] * 2}
    )
    with pytest.raises(InvalidInputError, match=r"missing.*columns \['f0'\]"):
        feature_values("Partition 'day1'", with_null, FEATURES)


def test_feature_values_are_stored_feature_by_feature_and_aligned():
    rows = 5000
    table = pa.table(
        {name: np.arange(rows) * (i + 1) for i, name in enumerate(FEATURES)}
    )
    values = feature_values("Partition 'day1'", table, FEATURES)
    assert values.dtype == np.float32 and values.T.flags.c_contiguous
    assert values.ctypes.data % TENSOR_ALIGNMENT == 0
    np.testing.assert_array_equal(values, np.outer(np.arange(rows), [1, 2, 3, 4]))
    again = feature_values("Partition 'day1'", table.slice(1), FEATURES, reuse=values)
    assert not np.shares_memory(again, values)  # another shape: new memory
    same = feature_values("Partition 'day1'", table, FEATURES, reuse=values)
    assert np.shares_memory(same, values)


def test_a_large_sum_of_finite_values_is_not_an_error():
    big = np.float32(3e38)
    values = feature_values(
        "day1", pa.table({n: [big, big] for n in FEATURES}), FEATURES
    )
    assert (values == big).all()
