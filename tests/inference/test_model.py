import pickle

import keras
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from sae_pipelines.inference.features import TENSOR_ALIGNMENT, InvalidInputError
from sae_pipelines.inference.model import InferenceModel, code_column_names
from sae_pipelines.parameters.groups import DataParams, NormalizationParams
from sae_pipelines.pipelines.data_processing.nodes import fit_normalizer
from sae_pipelines.sae import ModelConfig, build_sparse_autoencoder, encoder_of
from sae_pipelines.sae.model import initialise_from_data
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


def uniform_rows(rows: int, seed: int) -> tuple[pd.DataFrame, object]:
    """Uniform rows of the four features and a min-max normaliser fit on them."""
    rng = np.random.default_rng(seed)
    train = pd.DataFrame(rng.uniform(size=(rows, 4)), columns=FEATURES)
    return train, fit_normalizer(
        train, NormalizationParams(method="minmax"), DataParams()
    )


def six_unit_config(method: str, **shape) -> ModelConfig:
    """Six code units, two active per row, for ``method``; ``shape`` overrides."""
    sparsity = {
        "method": method,
        "l1": {"weight": 0.0},
        "kl": {"rho": 0.05, "beta": 1.0},
        "topk": {"k": 2},
        "batchtopk": {"k": 2},
        "jumprelu": {"target_l0": 2},
    }
    return ModelConfig.model_validate({"code_size": 6, "sparsity": sparsity, **shape})


@pytest.mark.parametrize(
    "shape",
    [
        {},
        {"output_activation": "sigmoid"},
        {"centring": False, "unit_norm_decoder": False},
        {"encoder_units": [5]},
    ],
    ids=["default", "sigmoid output", "no centring", "hidden layers"],
)
def test_every_layout_is_encoded_and_scored_like_the_model_does(shape):
    train, normalizer = uniform_rows(64, seed=3)
    config = six_unit_config("topk", **shape)
    keras.utils.set_random_seed(0)
    model = build_sparse_autoencoder(4, config)
    scaled = normalizer.transform(train).astype("float32")
    initialise_from_data(model, scaled + 0.5, seed=0)  # a centre and scale not 0, 1
    out = InferenceModel(model, normalizer).predict(train)
    codes = out[code_column_names(6)].to_numpy()
    np.testing.assert_allclose(
        codes, encoder_of(model).predict(scaled, verbose=0), atol=1e-5
    )
    reconstructed = model.predict(scaled, verbose=0)
    np.testing.assert_allclose(
        out["anomaly_score"], ((scaled - reconstructed) ** 2).mean(axis=1), rtol=1e-4
    )


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


@pytest.mark.parametrize("method", ["batchtopk", "jumprelu"])
def test_threshold_methods_go_through_the_inference_model(tmp_path, method):
    train, normalizer = uniform_rows(256, seed=7)
    config = six_unit_config(method)
    keras.utils.set_random_seed(0)
    model = build_sparse_autoencoder(4, config)
    model.compile(optimizer="adam", loss="mse")
    scaled = normalizer.transform(train).astype("float32")
    model.fit(scaled, scaled, epochs=3, batch_size=32, verbose=0)  # sets thresholds
    model.save(tmp_path / "model.keras")
    reloaded = keras.models.load_model(tmp_path / "model.keras", safe_mode=True)
    inference_model = InferenceModel(reloaded, normalizer, 0.1, source="test")
    out = pa.concat_tables(inference_model.score_chunks([train])).to_pandas()
    codes = out[inference_model.code_columns].to_numpy()
    np.testing.assert_allclose(
        codes, encoder_of(model).predict(scaled, verbose=0), atol=1e-6
    )
    np.testing.assert_array_equal(out["l0"], (codes != 0).sum(axis=1))
    assert 0 < out["l0"].mean() < 6
    # Spark executors get the inference model pickled.
    copy = pickle.loads(pickle.dumps(inference_model))
    pd.testing.assert_frame_equal(copy.predict(train), inference_model.predict(train))
