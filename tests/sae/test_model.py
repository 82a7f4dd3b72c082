import numpy as np
import pytest

from sae_pipelines.sae import ModelConfig, build_sparse_autoencoder
from sae_pipelines.sae.model import (
    CODES_LAYER,
    RECONSTRUCTION_LAYER,
    code_size_of,
    unit_directions,
)


def config(code_size="auto", k="auto", encoder_units=(), method="topk"):
    return ModelConfig.model_validate(
        {
            "encoder_units": list(encoder_units),
            "code_size": code_size,
            "output_activation": "linear",
            "sparsity": {
                "method": method,
                "l1": {"weight": 0.0},
                "kl": {"rho": 0.05, "beta": 1.0},
                "topk": {"k": k if method == "topk" else "auto"},
                "batchtopk": {"k": k if method == "batchtopk" else "auto"},
            },
        }
    )


@pytest.mark.parametrize(
    ("width", "code_size", "k"),
    [(64, 256, 24), (784, 3136, 84), (6, 24, 3), (1, 4, 1), (30, 120, 15)],
)
def test_auto_sizes_follow_the_input_width(width, code_size, k):
    resolved = config().for_input_width(width)
    assert (resolved.code_size, resolved.sparsity.topk.k) == (code_size, k)


def test_explicit_sizes_are_kept_and_auto_k_fits_an_explicit_code():
    assert config(32, 5).for_input_width(784).sparsity.topk.k == 5
    assert config(4).for_input_width(784).sparsity.topk.k == 4
    assert config(k=100).for_input_width(64).code_size == 400


def test_batchtopk_sizes_the_code_by_its_own_k():
    resolved = config(method="batchtopk", k=12.5).for_input_width(16)
    assert (resolved.code_size, resolved.sparsity.batchtopk.k) == (64, 12.5)
    resolved = config(method="batchtopk", k=20.5).for_input_width(16)
    assert (resolved.code_size, resolved.sparsity.batchtopk.k) == (84, 20.5)
    with pytest.raises(ValueError, match="sparsity.batchtopk.k=70"):
        config(code_size=64, k=70, method="batchtopk")


def test_auto_jumprelu_l0_weight_shrinks_as_the_rows_widen():
    weights = [
        config(method="jumprelu").for_input_width(width).sparsity.jumprelu.l0_weight
        for width in (64, 784)
    ]
    assert weights == [1 / 1024, 1 / 12544]


@pytest.mark.parametrize("method", ["batchtopk", "jumprelu"])
def test_threshold_methods_build_their_code_layer(method):
    layer = build_sparse_autoencoder(64, config(method=method)).get_layer(CODES_LAYER)
    assert (
        type(layer).__name__
        == {
            "batchtopk": "BatchTopKActivation",
            "jumprelu": "JumpReLUWithL0Penalty",
        }[method]
    )


def test_auto_model_is_built_for_the_input_width():
    model = build_sparse_autoencoder(64, config())
    assert code_size_of(model) == 256
    assert model.get_layer(CODES_LAYER).k == 24


def test_unit_directions_of_a_linear_decoder_are_its_weight_rows():
    autoencoder = build_sparse_autoencoder(10, config(8, 2))
    kernel = autoencoder.get_layer(RECONSTRUCTION_LAYER).get_weights()[0]
    scales = np.arange(1, 9, dtype="float32")
    np.testing.assert_allclose(
        unit_directions(autoencoder, scales), kernel * scales[:, None], atol=1e-5
    )
