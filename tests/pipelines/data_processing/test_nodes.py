import io
import re

import numpy as np
import pandas as pd
import pytest

from sae_pipelines.parameters.validation import InvalidParametersError
from sae_pipelines.pipelines.data_processing.nodes import (
    InvalidDataError,
    fit_normalizer,
    normalize,
    split_data,
    validate_raw_data,
)
from tests.pipelines.conftest import typed


def validate(params: dict, table: pd.DataFrame) -> pd.DataFrame:
    """The validation node on ``table`` with the fixture's parameters."""
    groups = typed(params)
    return validate_raw_data(
        table,
        *(groups[name] for name in ("data", "anomaly", "split", "model", "training")),
    )


def test_validation_adds_row_ids_and_keeps_layout(labelled_table, params):
    validated = validate(params, labelled_table)
    assert list(validated.columns) == ["row_id", *[f"f{i}" for i in range(6)], "label"]
    assert validated["row_id"].tolist() == list(range(300))


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_a_file_read_with_the_wrong_delimiter_is_diagnosed(
    labelled_table, params, delimiter
):
    text = labelled_table.to_csv(index=False, sep=delimiter)
    one_column = pd.read_csv(io.StringIO(text))
    with pytest.raises(InvalidDataError, match=re.escape(f"likely {delimiter!r}-")):
        validate(params, one_column)


@pytest.mark.parametrize("read_back", [True, False], ids=["csv", "frame"])
def test_a_column_name_repeated_in_the_header_is_named(
    labelled_table, params, read_back, tmp_path
):
    repeated = labelled_table.rename(columns={"f3": "f1"})
    if read_back:
        repeated.to_csv(tmp_path / "raw.csv", index=False)
        repeated = pd.read_csv(tmp_path / "raw.csv")  # the second f1 reads as f1.1
        assert "f1.1" in repeated.columns
    with pytest.raises(InvalidDataError, match=r"names the columns \[f1\] more than"):
        validate(params, repeated)


def test_non_numeric_column_is_named(labelled_table, params):
    labelled_table["f2"] = "x"
    with pytest.raises(InvalidDataError, match=r"non-numeric feature columns \[f2\]"):
        validate(params, labelled_table)


@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf])
def test_nan_or_infinite_values_are_named_with_counts(
    labelled_table, params, bad_value
):
    labelled_table.loc[[3, 7], "f4"] = bad_value
    with pytest.raises(InvalidDataError, match=r"NaN or infinite.*'f4': 2"):
        validate(params, labelled_table)


@pytest.mark.parametrize(
    ("values", "named"),
    [((1e308, 0.5), r"'f4': 1"), ((3e38, -3e38), r"\[f4\] \(max − min\)")],
    ids=["value", "span"],
)
def test_values_float32_cannot_hold_are_named(labelled_table, params, values, named):
    labelled_table.loc[[3, 7], "f4"] = values
    with pytest.raises(InvalidDataError, match=rf"beyond float32's range.*{named}"):
        validate(params, labelled_table)


def test_constant_column_errors_drops_or_keeps_as_asked(labelled_table, params):
    labelled_table["f5"] = 1.0
    params["data"]["constant_columns"] = "error"
    with pytest.raises(InvalidDataError, match=r"constant feature columns \[f5\]"):
        validate(params, labelled_table)
    params["data"]["constant_columns"] = "drop"
    assert "f5" not in validate(params, labelled_table)
    params["data"]["constant_columns"] = "keep"
    kept = validate(params, labelled_table)
    train, *_ = split_data(
        kept, typed(params)["split"], typed(params)["data"], typed(params)["anomaly"]
    )
    scaled = normalize(
        train,
        fit_normalizer(train, typed(params)["normalization"], typed(params)["data"]),
        typed(params)["data"],
    )
    assert (scaled["f5"] == 0).all()


def test_missing_label_column_is_named(labelled_table, params):
    params["data"]["label_column"] = "target"
    with pytest.raises(InvalidDataError, match="data.label_column is 'target'"):
        validate(params, labelled_table)


def test_unknown_normal_label_is_named(labelled_table, params):
    params["anomaly"]["normal_labels"] = [0, 7]
    with pytest.raises(
        InvalidDataError, match=r"normal_labels \[7\] do not occur in column 'label'"
    ):
        validate(params, labelled_table)


@pytest.mark.parametrize(
    ("rows", "short_split"), [(3, "train"), (5, "test"), (0, "nothing to split")]
)
def test_too_few_rows_for_the_split_stop_validation(
    labelled_table, params, rows, short_split
):
    params["split"]["stratify"] = False
    with pytest.raises(
        InvalidDataError, match=f"{rows} rows: (too few|nothing)"
    ) as error:
        validate(params, labelled_table.head(rows))
    assert short_split in str(error.value)


def test_sizes_the_training_rows_cannot_hold_stop_validation(labelled_table, params):
    params["model"] = {**params["model"], "code_size": "auto"}
    params["model"]["sparsity"]["topk"] = {"k": 10_000}
    with pytest.raises(InvalidParametersError, match=r"topk\.k=10000 .* code units"):
        validate(params, labelled_table)


def test_too_few_rows_per_class_to_stratify(labelled_table, params):
    with pytest.raises(
        InvalidDataError, match="stratified by column 'label'.*split.stratify=false"
    ):
        validate(params, labelled_table.iloc[[0, 1, 2, 3, 4, 5, 6, 150, 299]])


def test_anomalies_moved_out_count_against_the_minimum(labelled_table, params):
    params["anomaly"]["normal_labels"] = [0]
    params["split"]["stratify"] = False
    few_normal = labelled_table[
        (labelled_table["label"] != 0) | (labelled_table.index < 2)
    ]
    with pytest.raises(InvalidDataError, match="the (train|validation) split needs"):
        validate(params, few_normal)


def test_split_is_stratified_disjoint_and_seeded(labelled_table, params):
    table = validate(params, labelled_table)
    splits = split_data(
        table, typed(params)["split"], typed(params)["data"], typed(params)["anomaly"]
    )
    assert [len(s) for s in splits] == [180, 60, 60]
    ids = [set(s["row_id"]) for s in splits]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    for split in splits:
        assert split["label"].value_counts().tolist() == [len(split) // 3] * 3
    again = split_data(
        table, typed(params)["split"], typed(params)["data"], typed(params)["anomaly"]
    )
    assert all(a.equals(b) for a, b in zip(splits, again, strict=True))


def test_anomalies_are_kept_out_of_train_and_validation(labelled_table, params):
    params["anomaly"]["normal_labels"] = [0]
    table = validate(params, labelled_table)
    train, validation, test = split_data(
        table, typed(params)["split"], typed(params)["data"], typed(params)["anomaly"]
    )
    assert set(train["label"]) == {0} and set(validation["label"]) == {0}
    assert len(train) + len(validation) + len(test) == 300
    assert set(test["label"]) == {0, 1, 2}


@pytest.mark.parametrize("method", ["minmax", "standard"])
def test_normalizer_is_fitted_on_train_only(labelled_table, params, method):
    params["normalization"]["method"] = method
    table = validate(params, labelled_table)
    train, validation, _ = split_data(
        table, typed(params)["split"], typed(params)["data"], typed(params)["anomaly"]
    )
    normalizer = fit_normalizer(
        train, typed(params)["normalization"], typed(params)["data"]
    )
    scaled_train = normalize(train, normalizer, typed(params)["data"])
    features = [f"f{i}" for i in range(6)]
    if method == "minmax":
        assert scaled_train[features].min().min() == pytest.approx(0.0, abs=1e-6)
        assert scaled_train[features].max().max() == pytest.approx(1.0)
    else:
        np.testing.assert_allclose(scaled_train[features].mean(), 0.0, atol=1e-5)
    assert list(normalizer.feature_names_in_) == features
    scaled_validation = normalize(validation, normalizer, typed(params)["data"])
    assert (
        scaled_validation["row_id"].to_numpy() == validation["row_id"].to_numpy()
    ).all()
    assert (scaled_validation[features].dtypes == np.float32).all()


def test_own_id_column_is_carried_not_used_as_feature(labelled_table, params):
    labelled_table.insert(0, "customer", [f"c{i}" for i in range(300)])
    params["data"]["id_column"] = "customer"
    validated = validate(params, labelled_table)
    assert validated.columns[0] == "customer" and "row_id" not in validated
    assert isinstance(validated, pd.DataFrame)
