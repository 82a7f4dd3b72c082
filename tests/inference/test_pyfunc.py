"""The inference model as an MLflow model, saved and loaded back in this process."""

import json
import subprocess
import sys

import mlflow
import numpy as np
import pandas as pd
import pytest
from kedro.io import DatasetError
from mlflow.exceptions import MlflowException
from sklearn.preprocessing import MinMaxScaler

from sae_pipelines.inference import InferenceModel, InvalidInputError
from sae_pipelines.inference.pyfunc import save_inference_model
from sae_pipelines.parameters.groups import DataParams, NormalizationParams
from sae_pipelines.pipelines.data_processing.nodes import fit_normalizer
from sae_pipelines.tracking.registry_datasets import RegisteredModelDataset
from tests.conftest import topk_autoencoder

FEATURES = ["a", "b", "c"]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A tiny inference model saved as an MLflow model folder, and its rows."""
    rng = np.random.default_rng(0)
    train = pd.DataFrame(rng.uniform(size=(40, 3)), columns=FEATURES)
    normalizer = fit_normalizer(
        train, NormalizationParams(method="minmax"), DataParams(id_column="key")
    )
    model = InferenceModel(topk_autoencoder(3, 6, 2), normalizer, id_column="key")
    # Flag about half of the rows, whatever the untrained model's scores.
    model.threshold = float(np.median(model.predict(train)["anomaly_score"]))
    path = tmp_path_factory.mktemp("pyfunc") / "model"
    example = train.head(3).assign(key=["r0", "r1", "r2"])[["key", *FEATURES]]
    assert save_inference_model(model, example, path) is None  # no active run
    return model, path, train.assign(key=[f"k{i}" for i in range(40)])


def test_the_loaded_model_scores_as_the_inference_model_does(saved):
    model, path, rows = saved
    loaded = mlflow.pyfunc.load_model(str(path))
    out = loaded.predict(rows)
    pd.testing.assert_frame_equal(out, model.predict(rows))
    assert list(out.columns) == [
        "key",
        *model.code_columns,
        "anomaly_score",
        "is_flagged",
        "l0",
    ]
    assert out["key"].tolist() == rows["key"].tolist()
    assert 0 < out["is_flagged"].sum() < len(rows)
    bare = loaded.predict(rows, params={"anomaly_scores": False})
    assert list(bare.columns) == ["key", *model.code_columns, "l0"]


def test_the_signature_names_and_types_every_column(saved):
    model, path, _ = saved
    signature = mlflow.models.Model.load(str(path)).signature
    inputs = {c.name: (c.type.name, c.required) for c in signature.inputs.inputs}
    assert inputs == {
        "key": ("string", False),
        "a": ("double", True),
        "b": ("double", True),
        "c": ("double", True),
    }
    outputs = {c.name: c.type.name for c in signature.outputs.inputs}
    assert outputs["code_000"] == "float" and outputs["l0"] == "integer"
    assert outputs["is_flagged"] == "boolean"
    assert [p.name for p in signature.params.params] == ["anomaly_scores"]
    example = json.loads((path / "input_example.json").read_text())
    assert example["columns"] == ["key", *FEATURES]


def test_requirements_pin_what_the_code_imports(saved):
    _, path, _ = saved
    pinned = dict(
        line.split("==") for line in (path / "requirements.txt").read_text().split()
    )
    assert {"mlflow", "tensorflow", "keras", "scikit-learn", "pandas"} <= set(pinned)
    assert pinned["mlflow"] == mlflow.__version__
    assert (path / "code" / "sae_pipelines" / "inference" / "model.py").exists()


def test_bad_values_are_a_value_error_that_mlflow_reports(saved):
    _, path, rows = saved
    loaded = mlflow.pyfunc.load_model(str(path))
    with pytest.raises(
        ValueError, match=r"NaN or infinite values in columns \['b'\]"
    ) as error:
        loaded.predict(rows.assign(b=np.where(rows.index == 3, np.inf, rows["b"])))
    assert isinstance(error.value, InvalidInputError)
    assert isinstance(error.value, MlflowException)
    with pytest.raises(MlflowException, match=r"missing inputs \['c'\]"):
        loaded.predict(rows.drop(columns="c"))
    with pytest.raises(MlflowException, match="column a"):
        loaded.predict(rows.assign(a="text"))


def test_a_registered_model_of_another_kind_is_refused_by_name(tmp_path):
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'registry.db'}")
    try:
        with mlflow.start_run():
            scaler = MinMaxScaler().fit(np.eye(3))
            mlflow.sklearn.log_model(scaler, name="m", registered_model_name="other")
        with pytest.raises(DatasetError, match="models:/other/1 is not an inference"):
            RegisteredModelDataset("other", model_version=1).load()
    finally:
        mlflow.set_tracking_uri(None)


def test_serving_refuses_what_batch_refuses_with_the_same_words(tmp_path):
    rng = np.random.default_rng(0)
    train = pd.DataFrame(
        {"a": rng.uniform(size=40), "b": rng.integers(0, 16, 40), "c": 1}
    )
    normalizer = fit_normalizer(
        train, NormalizationParams(method="minmax"), DataParams(id_column="key")
    )
    model = InferenceModel(
        topk_autoencoder(3, 6, 2),
        normalizer,
        id_column="key",
        integer_features=("b", "c"),
    )
    example = train.head(3).assign(key=[1, 2, 3])[["key", *FEATURES]]
    save_inference_model(model, example, tmp_path / "model")
    loaded = mlflow.pyfunc.load_model(str(tmp_path / "model"))
    python_model = loaded.unwrap_python_model()
    rows = train.assign(key=np.arange(40))
    pd.testing.assert_frame_equal(loaded.predict(rows), model.predict(rows))

    fractional = rows.assign(b=np.where(rows.index == 5, 3.5, rows["b"]))
    words = "fractional values in column 'b'.*: 1 in rows 1 to 40.*row 6: 3.5"
    for scorer in (model.predict, lambda rows: python_model.predict(None, rows)):
        with pytest.raises(InvalidInputError, match=words):
            scorer(fractional)
    with pytest.raises(MlflowException, match="column b"):  # the signature's check
        loaded.predict(fractional)
    duplicated = rows.assign(key=np.arange(40) % 20)
    with pytest.raises(
        MlflowException, match="duplicate ids in column 'key': 20 in rows 1 to 40"
    ):
        loaded.predict(duplicated)


def test_the_models_code_imports_where_kedro_is_not_installed():
    # The registered model's environment has its requirements only: no Kedro.
    blocked = "import sys; sys.modules['kedro'] = None; "
    imported = subprocess.run(
        [sys.executable, "-c", blocked + "import sae_pipelines.inference.mlflow_model"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert imported.returncode == 0, imported.stderr[-2000:]
