"""The frontier's grid points, from ``sparsity_frontier.grids`` in the parameters.

The project's configuration loader (:class:`FrontierConfigLoader`) adds
``sparsity_frontier.points`` to the parameters (:func:`grid_points`), after
every environment and ``--params`` are merged; the pipeline makes one
namespace per configured point (:func:`configured_points`).
"""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path
from typing import Any

from kedro.config import OmegaConfigLoader
from kedro.framework.project import settings
from kedro.utils import find_kedro_project
from omegaconf import DictConfig, OmegaConf

FRONTIER = "sparsity_frontier"


def point_name(method: str, setting: str, value: Any) -> str:
    """A namespace-safe name, e.g. ``topk_k_8`` or ``l1_weight_0_001``."""
    return re.sub(r"[^0-9A-Za-z]+", "_", f"{method}_{setting}_{value}")


def grid_points(
    model: DictConfig | dict,
    training: DictConfig | dict,
    grids: DictConfig | dict,
    training_overrides: DictConfig | dict | None = None,
) -> dict[str, dict[str, Any]]:
    """Every point of every method's grid, with its ``model`` and ``training``.

    Args:
        model: The ``model`` parameters each point starts from.
        training: The ``training`` parameters each point starts from.
        grids: ``{method: {setting: [values]}}``: each value is one point, the
            model with ``model.sparsity.<method>.<setting> = value``.
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
        for setting, values in settings_.items():
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


class FrontierConfigLoader(OmegaConfigLoader):
    """Kedro's ``OmegaConfigLoader``, adding ``sparsity_frontier.points``."""

    def __getitem__(self, key: str) -> dict[str, Any]:
        """The configuration ``key``; the parameters with the frontier's points."""
        config = super().__getitem__(key)
        frontier = config.get(FRONTIER) if key == "parameters" else None
        if not frontier:
            return config
        points = grid_points(
            config.get("model") or {},
            config.get("training") or {},
            frontier.get("grids") or {},
            frontier.get("training"),
        )
        return {**config, FRONTIER: {**frontier, "points": points}}


def configured_points() -> list[str]:
    """The names of the points configured in the project's parameters.

    The pipeline's namespaces are made when the pipelines are registered, before
    any run's ``--params`` or ``--env``: they come from the configuration of
    ``KEDRO_ENV`` (the default run environment when unset). Outside a project
    there are none.
    """
    project = find_kedro_project(Path.cwd())
    if project is None:
        return []
    args = settings.CONFIG_LOADER_ARGS
    loader = settings.CONFIG_LOADER_CLASS(
        conf_source=str(project / settings.CONF_SOURCE),
        env=os.environ.get("KEDRO_ENV"),
        **args,
    )
    frontier = loader["parameters"].get(FRONTIER) or {}
    return list(frontier.get("points") or {})


def _plain(value: DictConfig | dict | None) -> dict:
    if value is None:
        return {}
    if isinstance(value, DictConfig):
        return OmegaConf.to_container(value, resolve=True)
    return dict(value)
