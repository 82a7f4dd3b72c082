import numpy as np
import pandas as pd

from sae_pipelines.pipelines.feature_extraction.nodes import (
    code_column_names,
    encode_split,
)
from sae_pipelines.sae import ModelConfig, build_sparse_autoencoder


def test_code_columns_sort_in_unit_order():
    names = code_column_names(1200, "code_")
    assert names[:2] == ["code_0000", "code_0001"] and sorted(names) == names


def test_encoded_table_carries_ids_and_labels(params):
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
    codes = encode_split(model, table, params["data"], params["feature_extraction"])
    assert list(codes.columns) == [
        "row_id",
        "label",
        *[f"code_{i:03d}" for i in range(5)],
    ]
    assert codes["row_id"].tolist() == [7, 8] and codes["label"].tolist() == [1, 2]
    assert ((codes.filter(like="code_").to_numpy() != 0).sum(axis=1) == 2).all()
    assert np.isfinite(codes.filter(like="code_").to_numpy()).all()
