import pickle

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from sae_pipelines.inference.model import (
    TENSOR_ALIGNMENT,
    InferenceModel,
    InvalidInputError,
    check_columns,
    code_column_names,
    feature_values,
)
from sae_pipelines.params import DataParams, NormalizationParams
from sae_pipelines.pipelines.data_processing.nodes import fit_normalizer
from sae_pipelines.sae import encoder_of
from tests.conftest import topk_autoencoder

FEATURES = ["f0", "f1", "f2", "f3"]


@pytest.fixture(scope="module")
def inference_model():
    rng = np.random.default_rng(0)
    train = pd.DataFrame(rng.uniform(size=(50, 4)), columns=FEATURES)
    normalizer = fit_normalizer(
        train, NormalizationParams(method="minmax"), DataParams()
    )
    model = topk_autoencoder(4, 6, 2)
    return InferenceModel(model, normalizer, threshold=0.1, source="test model")


def test_code_columns_sort_in_unit_order():
    names = code_column_names(1200, "code_")
    assert names[:2] == ["code_0000", "code_0001"] and sorted(names) == names


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


def test_chunks_are_encoded_like_the_model_does(inference_model):
    rng = np.random.default_rng(1)
    rows = pd.DataFrame(rng.uniform(size=(30, 4)), columns=FEATURES)
    # Equal sizes: the third chunk reuses the first one's memory.
    chunks = [rows.iloc[:10], rows.iloc[10:20], rows.iloc[20:]]
    names = inference_model.code_columns
    out = pa.concat_tables(inference_model.score_chunks(chunks)).to_pandas()
    assert list(out.columns) == ["row_id", *names, "anomaly_score", "is_flagged", "l0"]
    assert out["row_id"].tolist() == list(range(30))
    scaled = inference_model.normalizer.transform(rows).astype("float32")
    expected = encoder_of(inference_model.autoencoder).predict(scaled, verbose=0)
    np.testing.assert_allclose(out[names].to_numpy(), expected, atol=1e-6)
    reconstructed = inference_model.autoencoder.predict(scaled, verbose=0)
    np.testing.assert_allclose(
        out["anomaly_score"], ((scaled - reconstructed) ** 2).mean(axis=1), rtol=1e-5
    )
    assert (out["l0"] == 2).all()
    assert (out["is_flagged"] == (out["anomaly_score"] > 0.1)).all()


def test_without_scores_only_codes_are_computed(inference_model):
    rows = pd.DataFrame(np.random.default_rng(2).uniform(size=(9, 4)), columns=FEATURES)
    names = inference_model.code_columns
    scored = next(inference_model.score_chunks([rows]))
    bare = next(inference_model.score_chunks([rows], scores=False))
    assert bare.column_names == ["row_id", *names, "l0"]
    assert bare.equals(scored.drop_columns(["anomaly_score", "is_flagged"]))


def test_encode_takes_any_layout_and_leaves_its_input_alone(inference_model):
    rows = np.random.default_rng(3).uniform(2, 3, size=(7, 4)).astype(np.float32)
    kept = rows.copy()
    by_row, _ = inference_model.encode_normalized(inference_model.normalize(rows))
    by_feature, _ = inference_model.encode_normalized(
        inference_model.normalize(np.asfortranarray(rows))
    )
    np.testing.assert_array_equal(by_row, by_feature)
    np.testing.assert_array_equal(rows, kept)  # out of range, yet not compressed


def test_no_rows_give_empty_codes_and_scores(inference_model):
    scaled = inference_model.normalize(np.zeros((0, 4), np.float32))
    codes, errors = inference_model.encode_normalized(scaled)
    assert codes.shape == (0, 6) and errors.shape == (0,)
    codes, errors = inference_model.encode_normalized(scaled, scores=False)
    assert codes.shape == (0, 6) and errors is None


def test_normalized_rows_in_any_layout_are_encoded_alike(inference_model):
    rows = np.random.default_rng(4).uniform(size=(9, 4)).astype(np.float32)
    scaled = inference_model.normalize(rows)
    expected, _ = inference_model.encode_normalized(scaled)
    raw = np.empty(scaled.size + TENSOR_ALIGNMENT, np.float32)
    start = (-raw.ctypes.data % TENSOR_ALIGNMENT) // 4 + 1  # 4 bytes past aligned
    unaligned = raw[start : start + scaled.size].reshape(scaled.T.shape).T
    unaligned[...] = scaled  # stored feature by feature, as normalize returns
    assert unaligned.T.flags.c_contiguous
    codes, _ = inference_model.encode_normalized(unaligned)
    np.testing.assert_array_equal(codes, expected)


def test_predict_matches_columns_by_name_and_passes_the_id_through(inference_model):
    rows = pd.DataFrame(np.random.default_rng(5).uniform(size=(6, 4)), columns=FEATURES)
    expected = inference_model.predict(rows)
    assert expected["row_id"].tolist() == list(range(6))
    shuffled = rows[["f2", "f0", "f3", "f1"]].assign(row_id=[10, 11, 12, 13, 14, 15])
    out = inference_model.predict(shuffled)
    assert out["row_id"].tolist() == [10, 11, 12, 13, 14, 15]
    pd.testing.assert_frame_equal(
        out.drop(columns="row_id"), expected.drop(columns="row_id")
    )
    with pytest.raises(
        InvalidInputError, match=r"^The input .*unexpected columns \['x'\]"
    ):
        inference_model.predict(rows.assign(x=1.0))


def test_a_pickled_model_scores_alike(inference_model):
    rows = pd.DataFrame(np.random.default_rng(6).uniform(size=(5, 4)), columns=FEATURES)
    expected = inference_model.predict(rows)  # compiles its graph functions
    copy = pickle.loads(pickle.dumps(inference_model))
    pd.testing.assert_frame_equal(copy.predict(rows), expected)
