"""Typed parameter groups of the data, anomaly, evaluation and batch settings.

The model and training groups live with the model in ``sae_pipelines.sae.config``.
Nodes take each group as its pydantic model (``params:data`` as
:class:`DataParams`), and Kedro validates the parameters against those types
before a run starts; :func:`plain` turns models back into the values written
to MLflow and YAML.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    Field,
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    model_validator,
)

from sae_pipelines.inference.preprocessing import OutOfRange
from sae_pipelines.inference.scoring import ScoreMethod
from sae_pipelines.sae.config import ModelConfig, TrainingConfig
from sae_pipelines.sae.methods.base import StrictSettings

Label = int | str


class DataParams(StrictSettings):
    """Which columns of the raw table are what."""

    label_column: str | None = None
    id_column: str | None = None
    constant_columns: Literal["error", "drop", "keep"] = "error"


class AnomalyParams(StrictSettings):
    """Which labels are normal, how rows are scored, where the threshold sits."""

    normal_labels: list[Label] | None = None
    threshold_quantile: float = Field(0.95, gt=0.0, lt=1.0)
    score: ScoreMethod = "combined"
    neighbours: PositiveInt = 5
    reference_rows: PositiveInt = 4096
    standardisation_rows: PositiveInt = 65536
    distance_weight: NonNegativeFloat = 3.0
    seed: int = 42


class SplitParams(StrictSettings):
    """Fractions of the rows held out for validation and test."""

    validation_fraction: float = Field(gt=0.0, lt=1.0)
    test_fraction: float = Field(gt=0.0, lt=1.0)
    stratify: bool = True
    seed: int

    @model_validator(mode="after")
    def _leaves_training_rows(self) -> SplitParams:
        if self.validation_fraction + self.test_fraction >= 1.0:
            msg = "validation_fraction + test_fraction must be below 1"
            raise ValueError(msg)
        return self


class NormalizationParams(StrictSettings):
    """How features are scaled, fitted on the training split only."""

    method: Literal["minmax", "standard"]
    out_of_range: OutOfRange = "compress"


class FeatureExtractionParams(StrictSettings):
    """How codes are computed and named."""

    batch_size: PositiveInt
    column_prefix: str = "code_"


class ProbeParams(StrictSettings):
    """The logistic-regression probe and its regularisation grid."""

    inverse_regularization: list[PositiveFloat] = Field(
        default_factory=lambda: [0.01, 0.1, 1.0, 10.0, 100.0], min_length=1
    )
    max_iter: PositiveInt = 2000


class PretrainingParams(StrictSettings):
    """Fine-tuning budget of the pretrained and the from-scratch classifier."""

    labelled_fraction: float = Field(0.1, gt=0.0, le=1.0)
    epochs: PositiveInt = 100
    learning_rate: PositiveFloat = 0.001
    batch_size: PositiveInt = 32


class KnnParams(StrictSettings):
    """The kNN anomaly baseline."""

    neighbours: PositiveInt = 5
    max_rows: PositiveInt = 20000


class EvaluationParams(StrictSettings):
    """Settings of the evaluation metrics, baselines and plots."""

    active_threshold: NonNegativeFloat = 0.0
    reconstruction_samples: PositiveInt = 8
    seed: int = 42
    knn: KnnParams = Field(default_factory=KnnParams)
    probe: ProbeParams = Field(default_factory=ProbeParams)
    pretraining: PretrainingParams = Field(default_factory=PretrainingParams)
    sample_rows: PositiveInt = 20000
    anomaly_rows: PositiveInt = 200000
    top_units: PositiveInt = 8
    top_samples: PositiveInt = 8
    plot_dpi: PositiveInt = 100


class BatchExtractionParams(StrictSettings):
    """Which engine encodes the incoming partitions, and whether rows are scored."""

    engine: Literal["pandas", "spark"] = "pandas"
    anomaly_scores: bool = True


# The model of each group, as the nodes' type hints name it (a test checks).
PARAMETER_GROUPS: dict[str, type[BaseModel]] = {
    "data": DataParams,
    "anomaly": AnomalyParams,
    "split": SplitParams,
    "normalization": NormalizationParams,
    "model": ModelConfig,
    "training": TrainingConfig,
    "feature_extraction": FeatureExtractionParams,
    "evaluation": EvaluationParams,
    "batch_extraction": BatchExtractionParams,
}


def plain(value: Any) -> Any:
    """``value`` with each parameter model as a dict of the keys that were set.

    What the configuration held, as YAML and MLflow take it: a model Kedro
    made from ``params:model`` becomes the dict it was made from, defaults
    left out; other values stay as they are.
    """
    if isinstance(value, BaseModel):
        return value.model_dump(exclude_unset=True)
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    return value
