import shutil
from pathlib import Path

import pytest
from kedro.config import OmegaConfigLoader
from kedro.framework.project import pipelines
from kedro.framework.startup import bootstrap_project
from kedro.validation import ParameterValidationError, TypeExtractor

from sae_pipelines.framework.context import ProjectContext
from sae_pipelines.parameters.groups import PARAMETER_GROUPS, plain
from sae_pipelines.parameters.validation import (
    InvalidParametersError,
    validate_parameters,
)
from sae_pipelines.sae import ModelConfig, TrainingConfig
from sae_pipelines.settings import CONFIG_LOADER_ARGS
from tests.project_runs import PROJECT_ROOT


def test_project_parameters_are_valid(params):
    validate_parameters(params)


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        (("model", "sparsity", "method"), "dropout", "model.sparsity.method"),
        (("model", "sparsity", "kl", "rho"), 1.5, "model.sparsity.kl.rho"),
        (("model", "sparsity", "kl", "rho"), 0.0, "model.sparsity.kl.rho"),
        (("model", "sparsity", "l1", "weight"), -0.1, "model.sparsity.l1.weight"),
        (("model", "sparsity", "topk", "k"), "many", "model.sparsity.topk.k"),
        (("model", "code_size"), 0, "model.code_size"),
        (("training", "corruption", "method"), "blur", "training.corruption.method"),
        (("evaluation", "pretraining", "labelled_fraction"), 0, "labelled_fraction"),
        (("training", "learning_rate"), 0, "training.learning_rate"),
        (("split", "test_fraction"), 0.9, "validation_fraction + test_fraction"),
        (("normalization", "method"), "robust", "normalization.method"),
        (("data", "constant_columns"), "ignore", "data.constant_columns"),
        (("anomaly", "threshold_quantile"), 1.0, "anomaly.threshold_quantile"),
        (("batch_extraction", "engine"), "dask", "batch_extraction.engine"),
    ],
)
def test_bad_parameter_is_named(params, path, value, named):
    target = params
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(ValueError, match=named.replace(".", r"\.").replace("+", r"\+")):
        validate_parameters(params)


def test_missing_group_is_named(params):
    del params["training"]
    with pytest.raises(ValueError, match="training: missing parameter group"):
        validate_parameters(params)


def test_a_namespaced_copy_of_a_group_is_named_by_its_key(params):
    point = {
        "model": {**params["model"], "sparsity": {"method": "topk", "topk": {"k": 0}}}
    }
    params["sparsity_frontier"] = {"points": {"topk_k_0": point}}
    typed = {"sparsity_frontier.points.topk_k_0.model": ModelConfig}
    with pytest.raises(
        InvalidParametersError,
        match=r"sparsity_frontier\.points\.topk_k_0\.model\.sparsity\.topk\.k",
    ):
        validate_parameters(params, typed)


def test_a_fault_copied_into_points_is_named_once_at_the_key_the_user_set(params):
    params["training"]["epochs"] = -1
    params["repeats"] = {
        "points": {f"seed_{seed}": {"training": params["training"]} for seed in (1, 2)}
    }
    typed = {f"repeats.points.seed_{s}.training": TrainingConfig for s in (1, 2)}
    with pytest.raises(InvalidParametersError) as raised:
        validate_parameters(params, typed)
    lines = str(raised.value).splitlines()
    assert lines[1:] == ["  training.epochs: Input should be greater than 0 (got -1)"]


def test_explicit_k_larger_than_explicit_code_size_is_named(params):
    params["model"]["code_size"] = 64
    params["model"]["sparsity"]["topk"]["k"] = 65
    with pytest.raises(ValueError, match="larger than code_size=64"):
        validate_parameters(params)


def test_every_group_is_the_type_of_the_node_inputs_reading_it():
    bootstrap_project(PROJECT_ROOT)
    types = TypeExtractor(dict(pipelines)).extract_types_from_pipelines()
    groups = {key: kind for key, kind in types.items() if "." not in key}
    assert groups == PARAMETER_GROUPS
    # The frontier's points each read their own model and training groups.
    points = {key: kind for key, kind in types.items() if "." in key}
    assert points
    assert points == {key: PARAMETER_GROUPS[key.rsplit(".", 1)[1]] for key in points}


def test_plain_gives_back_the_values_that_were_set(params):
    model = ModelConfig.model_validate(params["model"])
    parameters = {"model": model, "seed": 7}
    assert plain(parameters) == {"model": params["model"], "seed": 7}
    del params["training"]["corruption"]  # a default is not what was set
    assert (
        plain(TrainingConfig.model_validate(params["training"])) == params["training"]
    )


def project_context(conf: Path, runtime_params: dict | None = None) -> ProjectContext:
    """The project's context on the configuration in ``conf``, without a session."""
    bootstrap_project(PROJECT_ROOT)
    loader = OmegaConfigLoader(
        conf_source=str(conf), runtime_params=runtime_params, **CONFIG_LOADER_ARGS
    )
    return ProjectContext(
        package_name="sae_pipelines",
        project_path=PROJECT_ROOT,
        config_loader=loader,
        env=None,
        hook_manager=None,
    )


def test_kedro_hands_nodes_models_and_its_errors_name_each_bad_parameter():
    context = project_context(PROJECT_ROOT / "conf")
    assert isinstance(context.params["training"], TrainingConfig)
    bad = {"training": {"epochs": 0}, "evaluation": {"bogus": 1}}
    with pytest.raises(InvalidParametersError) as raised:
        _ = project_context(PROJECT_ROOT / "conf", bad).params
    assert str(raised.value).splitlines()[1:] == [
        "  training.epochs: Input should be greater than 0 (got 0)",
        "  evaluation.bogus: Extra inputs are not permitted (got 1)",
    ]
    assert isinstance(raised.value.__context__, ParameterValidationError)


def test_a_missing_group_is_named(tmp_path):
    shutil.copytree(PROJECT_ROOT / "conf", tmp_path / "conf")
    (tmp_path / "conf/base/parameters_feature_extraction.yml").unlink()
    with pytest.raises(InvalidParametersError, match="feature_extraction: missing"):
        _ = project_context(tmp_path / "conf").params
