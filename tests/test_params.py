import pytest

from sae_pipelines.params import validate_parameters


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


def test_explicit_k_larger_than_explicit_code_size_is_named(params):
    params["model"]["code_size"] = 64
    params["model"]["sparsity"]["topk"]["k"] = 65
    with pytest.raises(ValueError, match="larger than code_size=64"):
        validate_parameters(params)
