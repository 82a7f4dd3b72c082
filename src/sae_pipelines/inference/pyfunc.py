"""The inference model as an MLflow ``pyfunc`` model: what leaves the project.

Every training run logs and registers one (see ``tracking/registry_datasets.py``). It
carries its artifacts (the Keras autoencoder, the fitted normaliser, the
threshold and column settings), a signature, an input example, pinned pip
requirements and this package's code (``code_paths``), so
``mlflow.pyfunc.load_model``, ``mlflow models serve`` and
``mlflow.pyfunc.spark_udf`` work wherever its requirements are installed,
without this project. ``predict`` is :meth:`InferenceModel.predict`.
"""

import tempfile
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature, infer_signature
from mlflow.models.model import ModelInfo
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.pyfunc.model import PythonModel, PythonModelContext
from mlflow.types import ColSpec, Schema, TensorSpec

import sae_pipelines
from sae_pipelines.inference.artifacts import load_artifacts, write_artifacts
from sae_pipelines.inference.features import InvalidInputError
from sae_pipelines.inference.model import InferenceModel

SCORES_PARAM = "anomaly_scores"
# Where a run keeps its inference model: runs:/<run id>/inference_model.
ARTIFACT_PATH = "inference_model"
# What the model's code imports; MLflow adds its own pin.
REQUIREMENTS = (
    "tensorflow",
    "keras",
    "scikit-learn",
    "numpy",
    "pandas",
    "pyarrow",
    "pydantic",
    "rich",  # training's progress bar, imported with the model code
)


class InvalidModelInputError(InvalidInputError, MlflowException):
    """Rows that do not fit the model, as MLflow reports them.

    A ``ValueError`` for Python callers and an ``MlflowException`` with
    ``INVALID_PARAMETER_VALUE``, which the scoring server answers with HTTP
    400 and this message.
    """

    def __init__(self, message: str) -> None:
        MlflowException.__init__(self, message, error_code=INVALID_PARAMETER_VALUE)


class SparseAutoencoderModel(PythonModel):
    """``predict``: raw feature rows in; id, codes, anomaly score, flag and L0 out.

    The params option ``anomaly_scores: false`` returns the id, codes and L0
    only, and runs only the encoder.
    """

    def load_context(self, context: PythonModelContext) -> None:
        self.model = load_artifacts(context.artifacts)

    def predict(
        self,
        context: PythonModelContext,
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        scores = bool((params or {}).get(SCORES_PARAM, True))
        try:
            return self.model.predict(model_input, scores)
        except InvalidInputError as error:
            raise InvalidModelInputError(str(error)) from error


def model_signature(
    model: InferenceModel, input_example: pd.DataFrame
) -> ModelSignature:
    """Named, typed columns in and out, and the ``anomaly_scores`` option.

    Each feature has the type it had in the training table; the id column is
    optional (a ``long`` when the example has none).
    """
    with warnings.catch_warnings():
        # Its advice on integer columns with missing values: the model refuses
        # missing values whatever the column's type.
        warnings.filterwarnings("ignore", "Hint: Inferred schema contains integer")
        inferred = infer_signature(
            input_example, model.predict(input_example), params={SCORES_PARAM: True}
        )
    columns: list[ColSpec | TensorSpec] = [
        ColSpec(column.type, column.name, required=column.name != model.id_column)
        for column in inferred.inputs.inputs
    ]
    if model.id_column not in input_example:
        columns.append(ColSpec("long", model.id_column, required=False))
    return ModelSignature(
        inputs=Schema(columns), outputs=inferred.outputs, params=inferred.params
    )


def requirements() -> list[str]:
    """The installed versions of what the model's code imports, pinned."""
    return [f"{name}=={metadata.version(name)}" for name in REQUIREMENTS]


def save_inference_model(
    model: InferenceModel,
    input_example: pd.DataFrame,
    path: Path,
) -> ModelInfo | None:
    """Save the model as an MLflow model folder, and log it to the active run.

    Args:
        model: The model, with its threshold.
        input_example: A few raw rows: the features, and the id column when
            the data has one of its own.
        path: The folder to save to (it must not exist).

    Returns:
        The logged model, or ``None`` when no MLflow run is active.
    """
    arguments = {
        "python_model": str(Path(__file__).with_name("mlflow_model.py")),
        "code_paths": [str(Path(sae_pipelines.__file__).parent)],
        "signature": model_signature(model, input_example),
        "input_example": input_example,
        "pip_requirements": requirements(),
    }
    with tempfile.TemporaryDirectory() as folder:
        artifacts = write_artifacts(model, Path(folder))
        mlflow.pyfunc.save_model(path=str(path), artifacts=artifacts, **arguments)
        if mlflow.active_run() is None:
            return None
        return mlflow.pyfunc.log_model(
            name=ARTIFACT_PATH,
            artifacts=artifacts,
            **arguments,
        )
