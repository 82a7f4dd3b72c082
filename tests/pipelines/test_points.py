"""The points of the frontier's grids and of the repeats' seeds."""

import pytest
from kedro.pipeline import Pipeline

from benchmarks.project import PROJECT_ROOT
from sae_pipelines.framework.config_loader import ProjectConfigLoader
from sae_pipelines.parameters.validation import InvalidParametersError
from sae_pipelines.pipelines.points import (
    grid_points,
    point_pipelines,
    seed_points,
)
from sae_pipelines.settings import CONFIG_LOADER_ARGS

MODEL = {"code_size": "auto", "sparsity": {"method": "topk", "topk": {"k": 8}}}


def test_each_value_of_each_grid_is_a_point_with_its_model():
    points = grid_points(
        MODEL,
        {"epochs": 400, "seed": 1},
        {"topk": {"k": [2, 16]}, "l1": {"weight": [0.01]}, "kl": None},
        {"epochs": 50},
    )

    assert list(points) == ["topk_k_2", "topk_k_16", "l1_weight_0_01"]
    l1 = points["l1_weight_0_01"]
    assert l1["model"]["sparsity"]["method"] == "l1"
    assert l1["model"]["sparsity"]["l1"] == {"weight": 0.01}
    assert l1["training"] == {"epochs": 50, "seed": 1}
    assert points["topk_k_2"]["model"]["sparsity"]["topk"] == {"k": 2}
    assert MODEL["sparsity"]["topk"] == {"k": 8}  # the base model is left alone
    assert l1["label"]["params"] == {
        "model.sparsity.method": "l1",
        "model.sparsity.l1.weight": 0.01,
        "training.epochs": 50,
    }


def test_each_seed_is_a_point_with_every_seeded_group_reseeded():
    parameters = {
        "split": {"test_size": 0.2, "seed": 42},
        "training": {"epochs": 400, "seed": 42},
        "model": MODEL,
        "seed": 42,
    }

    points = seed_points(parameters, [3, 5])

    assert list(points) == ["seed_3", "seed_5"]
    five = points["seed_5"]
    assert set(five) == {"label", "split", "training"}  # the model has no seed
    assert five["split"] == {"test_size": 0.2, "seed": 5}
    assert five["training"] == {"epochs": 400, "seed": 5}
    assert five["label"] == {
        "name": "seed_5",
        "seed": 5,
        "params": {"split.seed": 5, "training.seed": 5},
    }
    assert parameters["training"]["seed"] == 42  # the run's are left alone


@pytest.mark.parametrize("seeds", [[], [1, 1], [1, "two"], None])
def test_seeds_that_are_not_distinct_whole_numbers_are_refused(seeds):
    loader = ProjectConfigLoader(str(PROJECT_ROOT / "conf"), **CONFIG_LOADER_ARGS)
    loader.runtime_params = {"repeats": {"seeds": seeds}}

    with pytest.raises(InvalidParametersError, match="repeats.seeds must be distinct"):
        loader["parameters"]


def test_outside_a_project_there_are_no_points(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    together, records = point_pipelines("repeats", Pipeline([]), set())
    assert (list(together.nodes), records) == ([], [])
