import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from sae_pipelines.pipelines.data_processing.nodes import fit_normalizer
from sae_pipelines.sae import encoder_of
from sae_pipelines.serving import (
    TENSOR_ALIGNMENT,
    PartitionSchemaError,
    ServingModel,
    check_columns,
    extract_chunks,
    feature_values,
)
from tests.conftest import topk_autoencoder

FEATURES = ["f0", "f1", "f2", "f3"]


@pytest.fixture(scope="module")
def serving():
    rng = np.random.default_rng(0)
    train = pd.DataFrame(rng.uniform(size=(50, 4)), columns=FEATURES)
    normalizer = fit_normalizer(
        train, {"method": "minmax"}, {"label_column": None, "id_column": None}
    )
    model = topk_autoencoder(4, 6, 2)
    return ServingModel(model, normalizer, threshold=0.1, source="test model")


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        (["f0", "f1", "f2"], r"missing columns \['f3'\]"),
        ([*FEATURES, "extra"], r"unexpected columns \['extra'\]"),
        (["f1", "f0", "f2", "f3"], "columns out of order"),
    ],
)
def test_columns_must_match_the_training_features(columns, message):
    with pytest.raises(PartitionSchemaError, match=f"Partition 'day1'.*{message}"):
        check_columns("day1", columns, FEATURES, "row_id")
    check_columns("day1", ["row_id", *FEATURES], FEATURES, "row_id")


def test_text_and_missing_values_are_named():
    chunk = pd.DataFrame({"f0": ["x", "y"], "f1": [1.0, np.nan], "f2": 0.0, "f3": 0.0})
    with pytest.raises(
        PartitionSchemaError, match=r"non-numeric values in columns \['f0'\]"
    ):
        feature_values("day1", chunk, FEATURES)
    with pytest.raises(
        PartitionSchemaError, match=r"NaN or infinite values in columns \['f1'\]"
    ):
        feature_values("day1", chunk.assign(f0=1.0), FEATURES)
    with_null = pa.table(
        {"f0": [1.0, None], "f1": [1, 2], "f2": [0.0] * 2, "f3": [True] * 2}
    )
    with pytest.raises(PartitionSchemaError, match=r"missing.*columns \['f0'\]"):
        feature_values("day1", with_null, FEATURES)


def test_feature_values_are_stored_feature_by_feature_and_aligned():
    rows = 5000
    table = pa.table(
        {name: np.arange(rows) * (i + 1) for i, name in enumerate(FEATURES)}
    )
    values = feature_values("day1", table, FEATURES)
    assert values.dtype == np.float32 and values.T.flags.c_contiguous
    assert values.ctypes.data % TENSOR_ALIGNMENT == 0
    np.testing.assert_array_equal(values, np.outer(np.arange(rows), [1, 2, 3, 4]))
    again = feature_values("day1", table.slice(1), FEATURES, reuse=values)
    assert not np.shares_memory(again, values)  # another shape: new memory
    same = feature_values("day1", table, FEATURES, reuse=values)
    assert np.shares_memory(same, values)


def test_a_large_sum_of_finite_values_is_not_an_error():
    big = np.float32(3e38)
    values = feature_values(
        "day1", pa.table({n: [big, big] for n in FEATURES}), FEATURES
    )
    assert (values == big).all()


def test_chunks_are_encoded_like_the_model_does(serving):
    rng = np.random.default_rng(1)
    rows = pd.DataFrame(rng.uniform(size=(30, 4)), columns=FEATURES)
    # Equal sizes: the third chunk reuses the first one's memory.
    chunks = [rows.iloc[:10], rows.iloc[10:20], rows.iloc[20:]]
    names = [f"code_{i}" for i in range(6)]
    out = pa.concat_tables(extract_chunks("day1", chunks, serving, "row_id", names))
    out = out.to_pandas()
    assert list(out.columns) == ["row_id", *names, "anomaly_score", "is_flagged", "l0"]
    assert out["row_id"].tolist() == list(range(30))
    scaled = serving.normalizer.transform(rows).astype("float32")
    expected = encoder_of(serving.autoencoder).predict(scaled, verbose=0)
    np.testing.assert_allclose(out[names].to_numpy(), expected, atol=1e-6)
    reconstructed = serving.autoencoder.predict(scaled, verbose=0)
    np.testing.assert_allclose(
        out["anomaly_score"], ((scaled - reconstructed) ** 2).mean(axis=1), rtol=1e-5
    )
    assert (out["l0"] == 2).all()
    assert (out["is_flagged"] == (out["anomaly_score"] > 0.1)).all()


def test_without_scores_only_codes_are_computed(serving):
    rows = pd.DataFrame(np.random.default_rng(2).uniform(size=(9, 4)), columns=FEATURES)
    names = [f"code_{i}" for i in range(6)]
    scored = next(extract_chunks("day1", [rows], serving, "row_id", names))
    bare = next(extract_chunks("day1", [rows], serving, "row_id", names, False))
    assert bare.column_names == ["row_id", *names, "l0"]
    assert bare.equals(scored.drop_columns(["anomaly_score", "is_flagged"]))


def test_encode_takes_any_layout_and_leaves_its_input_alone(serving):
    rows = np.random.default_rng(3).uniform(2, 3, size=(7, 4)).astype(np.float32)
    kept = rows.copy()
    by_row, _ = serving.encode(rows)
    by_feature, _ = serving.encode(np.asfortranarray(rows))
    np.testing.assert_array_equal(by_row, by_feature)
    np.testing.assert_array_equal(rows, kept)  # out of range, yet not compressed


def test_no_rows_give_empty_codes_and_scores(serving):
    codes, errors = serving.encode(np.zeros((0, 4), np.float32))
    assert codes.shape == (0, 6) and errors.shape == (0,)
    codes, errors = serving.encode(np.zeros((0, 4), np.float32), scores=False)
    assert codes.shape == (0, 6) and errors is None


def test_normalized_rows_in_any_layout_are_encoded_alike(serving):
    rows = np.random.default_rng(4).uniform(size=(9, 4)).astype(np.float32)
    scaled = serving.normalize(rows)
    expected, _ = serving.encode_normalized(scaled)
    raw = np.empty(scaled.size + TENSOR_ALIGNMENT, np.float32)
    start = (-raw.ctypes.data % TENSOR_ALIGNMENT) // 4 + 1  # 4 bytes past aligned
    unaligned = raw[start : start + scaled.size].reshape(scaled.T.shape).T
    unaligned[...] = scaled  # stored feature by feature, as normalize returns
    assert unaligned.T.flags.c_contiguous
    codes, _ = serving.encode_normalized(unaligned)
    np.testing.assert_array_equal(codes, expected)
