"""Every bad parameter named at once, before a run starts.

Kedro validates the parameters against the nodes' type hints but reports a
failure as pydantic's report per group, and skips a missing group;
:func:`validate_parameters` names each bad key. :func:`check_model_fits` stops
a model too large for its data or this machine.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from sae_pipelines.parameters.groups import PARAMETER_GROUPS
from sae_pipelines.runtime.errors import InputError
from sae_pipelines.sae.capacity import ModelSizeError, available_memory, check_fits
from sae_pipelines.sae.config import ModelConfig, TrainingConfig


class InvalidParametersError(InputError, ValueError):
    """Parameters that are missing or out of range; the message names each one."""


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
