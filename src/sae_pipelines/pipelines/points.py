"""Pipelines that train and judge the model at several points of its parameters.

``sparsity_frontier`` makes one point per value of its sparsity grids
(:func:`grid_points`), ``repeats`` one per seed (:func:`seed_points`). The
project's configuration loader (``framework.config_loader``) adds each one's
``<pipeline>.points`` (:data:`POINT_MAKERS`) to the parameters, after every environment and
``--params`` are merged; each pipeline makes one namespace per configured point
(:func:`configured_points`).
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from kedro.framework.project import settings
from kedro.pipeline import Node, Pipeline, pipeline
from kedro.utils import find_kedro_project
from omegaconf import DictConfig, OmegaConf

from sae_pipelines.parameters.validation import InvalidParametersError

FRONTIER = "sparsity_frontier"
REPEATS = "repeats"
# Each point's record, a nested MLflow run: ``<pipeline>.<point>.point_run``.
POINT_RUN = "point_run"


def point_name(method: str, setting: str, value: Any) -> str:
    """A namespace-safe name, e.g. ``topk_k_8`` or ``l1_weight_0_001``."""
    return re.sub(r"[^0-9A-Za-z]+", "_", f"{method}_{setting}_{value}")


def grid_points(
    model: DictConfig | dict[str, Any],
    training: DictConfig | dict[str, Any],
    grids: DictConfig | dict[str, Any],
    training_overrides: DictConfig | dict[str, Any] | None = None,
) -> dict[str, dict[str, Any]]:
    """Every point of every method's grid, with its ``model`` and ``training``.

    Args:
        model: The ``model`` parameters each point starts from.
        training: The ``training`` parameters each point starts from.
        grids: ``{method: {setting: [values]}}``: each value is one point, the
            model with ``model.sparsity.<method>.<setting> = value``. A method
            whose grid is null has no points.
        training_overrides: Keys of ``training`` set for every point.

    Returns:
        ``{name: {"label": {...}, "model": {...}, "training": {...}}}``; the
        label holds the name, method, setting, value and the parameters the
        point sets (as flat ``model.…``/``training.…`` keys).
    """
    model, training, grids, overrides = (
        _plain(value) for value in (model, training, grids, training_overrides)
    )
    points = {}
    for method, settings_ in grids.items():
        for setting, values in (settings_ or {}).items():
            for value in values:
                name = point_name(method, setting, value)
                point_model = copy.deepcopy(model)
                sparsity = point_model.setdefault("sparsity", {})
                sparsity["method"] = method
                sparsity.setdefault(method, {})[setting] = value
                set_params = {
                    "model.sparsity.method": method,
                    f"model.sparsity.{method}.{setting}": value,
                    **{f"training.{key}": item for key, item in overrides.items()},
                }
                points[name] = {
                    "label": {
                        "name": name,
                        "method": method,
                        "setting": setting,
                        "value": value,
                        "params": set_params,
                    },
                    "model": point_model,
                    "training": {**training, **overrides},
                }
    return points


def seeded_groups(parameters: DictConfig | dict[str, Any]) -> list[str]:
    """The parameter groups that draw random numbers: those with a ``seed`` key."""
    return [
        str(group)
        for group, values in parameters.items()
        if isinstance(values, dict | DictConfig) and "seed" in values
    ]


def seed_points(
    parameters: DictConfig | dict[str, Any], seeds: list[int]
) -> dict[str, dict[str, Any]]:
    """One point per seed: every seeded parameter group with that seed.

    Args:
        parameters: The run's parameters.
        seeds: The seeds, one point each.

    Returns:
        ``{"seed_<n>": {"label": {...}, <group>: {...}, ...}}``: the label holds
        the name, the seed and the parameters the point sets; each group of
        :func:`seeded_groups` is the run's with ``seed`` replaced.
    """
    groups = seeded_groups(parameters)
    points = {}
    for seed in seeds:
        name = f"seed_{seed}"
        points[name] = {
            "label": {
                "name": name,
                "seed": seed,
                "params": {f"{group}.seed": seed for group in groups},
            },
            **{group: {**_plain(parameters[group]), "seed": seed} for group in groups},
        }
    return points


def _frontier_points(
    parameters: dict[str, Any], frontier: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    return grid_points(
        parameters.get("model") or {},
        parameters.get("training") or {},
        frontier.get("grids") or {},
        frontier.get("training"),
    )


def _repeat_points(
    parameters: dict[str, Any], repeats: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    seeds = list(repeats.get("seeds") or [])
    whole = all(isinstance(seed, int) and not isinstance(seed, bool) for seed in seeds)
    if not seeds or not whole or len(set(seeds)) != len(seeds):
        msg = f"repeats.seeds must be distinct whole numbers, got {seeds!r}"
        raise InvalidParametersError(msg)
    return seed_points(parameters, seeds)


POINT_MAKERS: dict[
    str, Callable[[dict[str, Any], dict[str, Any]], dict[str, dict[str, Any]]]
] = {
    FRONTIER: _frontier_points,
    REPEATS: _repeat_points,
}


def configured_points(pipeline: str) -> dict[str, list[str]]:
    """``pipeline``'s points configured in the project's parameters.

    The pipeline's namespaces are made when the pipelines are registered, before
    any run's ``--params`` or ``--env``: they come from the configuration of
    ``KEDRO_ENV`` (the default run environment when unset). Outside a project
    there are none.

    Returns:
        ``{point: [the parameter groups it sets]}``.
    """
    project = find_kedro_project(Path.cwd())
    if project is None:
        return {}
    loader = settings.CONFIG_LOADER_CLASS(
        conf_source=str(project / settings.CONF_SOURCE),
        env=os.environ.get("KEDRO_ENV"),
        **settings.CONFIG_LOADER_ARGS,
    )
    points = (loader["parameters"].get(pipeline) or {}).get("points") or {}
    return {
        name: [key for key in point if key != "label"] for name, point in points.items()
    }


def point_record(
    point: dict[str, Any],
    evaluation_metrics: dict[str, float],
    train_loss: list[float],
    val_loss: list[float],
) -> dict[str, Any]:
    """One point's nested MLflow run: its settings, metrics and losses.

    Args:
        point: The point's label (``<pipeline>.points.<point>.label``).
        evaluation_metrics: Evaluation's metrics of the point's model.
        train_loss: Per-epoch training loss.
        val_loss: Per-epoch validation loss.

    Returns:
        ``{"name", "point", "params", "metrics", "histories"}``; ``point`` is
        the label less its name and parameters (e.g. the method, setting and
        value, or the seed).
    """
    return {
        "name": point["name"],
        "point": {k: v for k, v in point.items() if k not in ("name", "params")},
        "params": point["params"],
        "metrics": evaluation_metrics,
        "histories": {"train_loss": train_loss, "val_loss": val_loss},
    }


def point_pipeline(
    pipeline_name: str,
    point: str,
    groups: list[str],
    steps: Pipeline,
    inputs: set[str],
) -> Pipeline:
    """``steps`` and the point's record, namespaced ``<pipeline_name>.<point>``.

    Args:
        pipeline_name: The pipeline the point belongs to.
        point: The point's name.
        groups: The parameter groups the point sets; ``steps`` read them from
            ``<pipeline_name>.points.<point>``, every other parameter as the run
            has it.
        steps: Nodes ending in ``evaluation_metrics``, ``train_loss`` and
            ``val_loss``.
        inputs: The datasets the points share with the run.
    """
    template = steps + Pipeline(
        [
            Node(
                point_record,
                inputs=["params:point", "evaluation_metrics", "train_loss", "val_loss"],
                outputs=POINT_RUN,
                name="point_record",
            )
        ]
    )
    own = f"params:{pipeline_name}.points.{point}"
    parameters = {"params:point": f"{own}.label"}
    for parameter in template.inputs():
        name = parameter.removeprefix("params:")
        if parameter.startswith("params:") and name != "point":
            group = name.split(".")[0]
            parameters[parameter] = f"{own}.{name}" if group in groups else parameter
    return pipeline(
        template,
        namespace=f"{pipeline_name}.{point}",
        inputs=inputs,
        parameters=parameters,
    )


def _plain(value: DictConfig | dict[str, Any] | None) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, DictConfig):
        # A DictConfig converts to a dict; to_container types every container.
        return cast("dict[str, Any]", OmegaConf.to_container(value, resolve=True))
    return dict(value)


def point_pipelines(
    pipeline_name: str, steps: Pipeline, inputs: set[str]
) -> tuple[Pipeline, list[str]]:
    """:func:`point_pipeline` for every configured point of ``pipeline_name``.

    Returns:
        The points' pipelines together, and their records' dataset names
        (``<pipeline_name>.<point>.point_run``), in the points' order.
    """
    points = configured_points(pipeline_name)
    together = sum(
        (
            point_pipeline(pipeline_name, name, groups, steps, inputs)
            for name, groups in points.items()
        ),
        Pipeline([]),
    )
    return together, point_runs(pipeline_name)


def point_runs(pipeline_name: str) -> list[str]:
    """The records of ``pipeline_name``'s points: ``<pipeline_name>.<point>.point_run``."""
    return [
        f"{pipeline_name}.{name}.{POINT_RUN}"
        for name in configured_points(pipeline_name)
    ]
