import numpy as np
import pandas as pd

from sae_pipelines.inference.scoring import AnomalyScorer
from sae_pipelines.inference.tables import read_columns
from sae_pipelines.parameters.groups import NormalizationParams
from sae_pipelines.pipelines.data_processing.nodes import fit_normalizer
from sae_pipelines.pipelines.feature_extraction.nodes import encode_splits
from sae_pipelines.sae import ModelConfig, build_sparse_autoencoder
from tests.pipelines.conftest import typed


def test_encoded_tables_carry_ids_labels_codes_scores_and_l0(params):
    params["model"]["code_size"] = 5
    params["model"]["sparsity"]["topk"]["k"] = 2
    model = build_sparse_autoencoder(3, ModelConfig.model_validate(params["model"]))
    table = pd.DataFrame(
        {
            "row_id": [7, 8],
            "a": [0.1, 0.2],
            "b": [0.3, 0.4],
            "c": [0.5, 0.6],
            "label": [1, 2],
        }
    )
    normalizer = fit_normalizer(
        table, NormalizationParams(method="minmax"), typed(params)["data"]
    )
    encoded_train, _, test = encode_splits(
        model,
        normalizer,
        AnomalyScorer(),
        table,
        table,
        table.iloc[:1],
        typed(params)["data"],
        typed(params)["feature_extraction"],
    )
    train = read_columns(encoded_train, encoded_train.columns)
    names = [f"code_{i:03d}" for i in range(5)]
    assert list(train.columns) == ["row_id", "label", *names, "anomaly_score", "l0"]
    assert train["row_id"].tolist() == [7, 8] and train["label"].tolist() == [1, 2]
    assert ((train[names].to_numpy() != 0).sum(axis=1) == 2).all()
    assert (train["l0"] == 2).all()
    reconstruction = model.predict(
        table[["a", "b", "c"]].to_numpy("float32"), verbose=0
    )
    expected = ((table[["a", "b", "c"]].to_numpy() - reconstruction) ** 2).mean(axis=1)
    np.testing.assert_allclose(train["anomaly_score"], expected, rtol=1e-5)
    assert len(test) == 1
    assert encoded_train.take(np.array([1])).equals(
        train.iloc[[1]].reset_index(drop=True)
    )
