import re

import pytest

from sae_pipelines.sae.capacity import ModelSizeError, check_fits, training_bytes
from sae_pipelines.sae.config import ModelConfig
from tests.sae.helpers import training_config

GIB = 2**30


def model_config(method="topk", code_size="auto", **sparsity_settings):
    sparsity = {
        "method": method,
        "l1": {"weight": 0.0},
        "kl": {"rho": 0.05, "beta": 1.0},
        "topk": {"k": "auto"},
    } | sparsity_settings
    return ModelConfig.model_validate({"code_size": code_size, "sparsity": sparsity})


def test_default_sizes_fit_a_small_table():
    check_fits(model_config(), training_config(), width=64, rows=1_077, memory=GIB)


@pytest.mark.parametrize(
    ("method", "settings", "key"),
    [
        ("topk", {"topk": {"k": 100_000}}, "model.sparsity.topk.k=100000"),
        ("batchtopk", {"batchtopk": {"k": 500}}, "model.sparsity.batchtopk.k=500"),
        ("jumprelu", {"jumprelu": {"target_l0": 200}}, "target_l0=200"),
    ],
)
def test_more_active_codes_than_auto_code_units_are_refused(method, settings, key):
    # 1,077 rows allow 134 units: one per 8 rows.
    with pytest.raises(ModelSizeError, match=rf"{re.escape(key)}.* 134 code units"):
        check_fits(
            model_config(method, **settings),
            training_config(),
            width=64,
            rows=1_077,
            memory=GIB,
        )


def test_an_explicit_code_larger_than_the_rows_is_refused():
    with pytest.raises(ModelSizeError, match=r"code_size=12,000 .* 240 training rows"):
        check_fits(
            model_config(code_size=12_000),
            training_config(),
            width=3_000,
            rows=240,
            memory=GIB,
        )


def test_a_model_larger_than_the_free_memory_is_refused_with_numbers():
    config = model_config(code_size=65_536, topk={"k": 64})
    needed = training_bytes(4_096, config, batch_size=64)
    assert 4 * GIB < needed < 16 * GIB  # 4,096 × 65,536 weights, twice, four copies
    check_fits(config, training_config(), width=4_096, rows=100_000, memory=32 * GIB)
    with pytest.raises(
        ModelSizeError, match=r"needs about \d+\.\d GiB .* 4\.0 GiB free"
    ):
        check_fits(config, training_config(), width=4_096, rows=100_000, memory=4 * GIB)
