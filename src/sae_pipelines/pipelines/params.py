"""Typed parameter groups of the data, anomaly and evaluation settings.

The model and training groups live with the model in ``sae_pipelines.sae.config``.
Nodes take each group as its pydantic model (``params:data`` as
:class:`DataParams`), and Kedro validates the parameters against those types
before a run starts. :class:`ProjectContext` turns a failure into one message
naming each bad parameter; :func:`plain` turns models back into the values
written to MLflow and YAML.
"""

from __future__ import annotations

from typing import Any, Literal

from kedro.framework.context import KedroContext
from kedro.framework.project import pipelines
from kedro.validation import ParameterValidationError, TypeExtractor
from pydantic import (
    BaseModel,
    Field,
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    model_validator,
)

from sae_pipelines.inference.preprocessing import OutOfRange
from sae_pipelines.inference.scoring import ScoreMethod
from sae_pipelines.runtime.errors import InputError
from sae_pipelines.sae.capacity import ModelSizeError, available_memory, check_fits
from sae_pipelines.sae.config import ModelConfig, StrictSettings, TrainingConfig

Label = int | str


class InvalidParametersError(InputError, ValueError):
    """Parameters that are missing or out of range; the message names each one."""


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


def validate_parameters(
    parameters: dict[str, Any], typed: dict[str, type] | None = None
) -> None:
    """Check every known parameter group; raise one error naming each bad key.

    Kedro validates a run's parameters; :class:`ProjectContext` calls this to
    name what is wrong when Kedro finds a fault or a group is missing.

    Args:
        parameters: The resolved project parameters (``conf/*/parameters*.yml``
            and ``--params``).
        typed: More dotted keys to check, with their models: those Kedro
            validates for the nodes' type hints (e.g. the frontier's points).

    Raises:
        InvalidParametersError: A group is missing or a parameter is invalid.
    """
    problems = []
    for group, schema in PARAMETER_GROUPS.items():
        if group not in parameters:
            problems.append((group, "missing parameter group"))
            continue
        try:
            schema.model_validate(parameters[group])
        except ValidationError as error:
            problems.extend(_describe(group, error))
    for key, schema in (typed or {}).items():
        value = _nested(parameters, key)
        if key in PARAMETER_GROUPS or value is None or not _is_model(schema):
            continue
        try:
            schema.model_validate(value)
        except ValidationError as error:
            problems.extend(_describe(key, error))
    if problems:
        msg = "Invalid parameters (see conf/base/parameters*.yml):\n" + "\n".join(
            f"  {location}: {fault}" for location, fault in _without_copies(problems)
        )
        raise InvalidParametersError(msg)


def check_model_fits(
    model_params: ModelConfig, training_params: TrainingConfig, width: int, rows: int
) -> None:
    """Stop a run whose model sizes cannot train on ``rows`` rows of ``width``.

    Raises:
        InvalidParametersError: See :func:`~sae_pipelines.sae.capacity.check_fits`.
    """
    try:
        check_fits(model_params, training_params, width, rows, available_memory())
    except ModelSizeError as error:
        raise InvalidParametersError(str(error)) from error


def _nested(parameters: dict[str, Any], key: str) -> Any:
    """The value at a dotted key, or None where the path ends early."""
    value: Any = parameters
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _is_model(schema: Any) -> bool:
    return isinstance(schema, type) and issubclass(schema, BaseModel)


def _describe(group: str, error: ValidationError) -> list[tuple[str, str]]:
    """``(dotted key, what is wrong with it)`` for each fault in ``error``."""
    problems = []
    for detail in error.errors():
        location = ".".join([group, *(str(part) for part in detail["loc"])])
        problems.append((location, f"{detail['msg']} (got {detail.get('input')!r})"))
    return problems


def _without_copies(problems: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``problems`` without the copies a derived key makes of a key the user set.

    A pipeline's points copy the run's parameters (``repeats.points.seed_1.
    split.test_fraction`` is ``split.test_fraction``): a fault found there and
    at the key itself is named once, at the key.
    """
    return [
        (location, fault)
        for location, fault in problems
        if not any(
            fault == other_fault and location.endswith(f".{other}")
            for other, other_fault in problems
        )
    ]


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


class ProjectContext(KedroContext):
    """Kedro's context, whose parameter errors name each bad parameter.

    Kedro validates the ``params:`` inputs of the run's nodes against their
    type hints, but reports a failure as pydantic's report per group, and
    skips a group that is missing.
    """

    @property
    def params(self) -> dict[str, Any]:
        """The parameters, each group a model where a node types it.

        Raises:
            InvalidParametersError: A group is missing or a parameter is invalid.
        """
        try:
            params = super().params
        except ParameterValidationError:
            # Kedro's checked keys: the groups and any namespaced copies.
            typed = TypeExtractor(dict(pipelines)).extract_types_from_pipelines()
            validate_parameters(self.config_loader["parameters"], typed)
            raise  # a failure of none of the typed parameters
        if not PARAMETER_GROUPS.keys() <= params.keys():
            validate_parameters(params)  # names the missing groups
        return params
