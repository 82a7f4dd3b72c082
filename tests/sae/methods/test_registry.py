import subprocess
import sys

import pytest

from sae_pipelines.sae.config import ModelConfig
from sae_pipelines.sae.methods import METHODS, method_named, method_of_layer
from sae_pipelines.sae.methods.base import MethodSettings
from sae_pipelines.sae.model import CODES_LAYER, build_sparse_autoencoder

SPARSITY = {
    "l1": {"weight": 0.01},
    "kl": {"rho": 0.05, "beta": 1.0},
    "topk": {"k": 4},
}


def model_config(method: str) -> ModelConfig:
    return ModelConfig.model_validate(
        {"code_size": 32, "sparsity": {"method": method, **SPARSITY}}
    )


def test_the_five_methods_are_found_by_name_in_the_parameters_order():
    assert list(METHODS) == ["l1", "kl", "topk", "batchtopk", "jumprelu"]
    assert all(method_named(name).name == name for name in METHODS)


def test_each_method_has_settings_for_its_parameters():
    assert all(issubclass(m.settings, MethodSettings) for m in METHODS.values())


@pytest.mark.parametrize("name", list(METHODS))
def test_each_method_builds_its_codes_layer_and_is_traced_back_from_it(name):
    layer = build_sparse_autoencoder(16, model_config(name)).get_layer(CODES_LAYER)
    assert type(layer).__name__ == METHODS[name].layer_class
    assert method_of_layer(layer) is METHODS[name]
    assert METHODS[name].describe(layer)


def test_settings_without_defaults_are_required_and_the_others_are_not():
    sparsity = model_config("topk").sparsity
    assert sparsity.batchtopk.k == "auto"
    assert sparsity.jumprelu.target_l0 == "auto"
    with pytest.raises(ValueError, match=r"sparsity\.kl\n  Field required"):
        ModelConfig.model_validate(
            {"code_size": 32, "sparsity": {"method": "l1", "l1": {"weight": 0.1}}}
        )


def test_an_unknown_method_names_the_choices():
    with pytest.raises(
        ValueError, match="'l1', 'kl', 'topk', 'batchtopk' or 'jumprelu'"
    ):
        model_config("dropout")


def test_reading_the_settings_does_not_load_tensorflow():
    # The package itself is stood in for, its ``__init__`` not run: it sets up
    # TensorFlow's logging, which is no part of reading the settings.
    code = """
import importlib.util, sys, types
spec = importlib.util.find_spec("sae_pipelines")
package = types.ModuleType("sae_pipelines")
package.__path__ = list(spec.submodule_search_locations)
sys.modules["sae_pipelines"] = package
import sae_pipelines.sae.config
loaded = [m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras")]
assert not loaded, loaded
"""
    subprocess.run([sys.executable, "-c", code], check=True)
