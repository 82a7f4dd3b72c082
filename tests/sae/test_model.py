import numpy as np
import pytest

from sae_pipelines.sae import ModelConfig, build_sparse_autoencoder
from sae_pipelines.sae.model import (
    CODE_PREACTIVATION_LAYER,
    CODES_LAYER,
    centring_of,
    code_size_of,
    decoder_directions,
    initialise_from_data,
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
    resolved = config().for_data(width)
    assert (resolved.code_size, resolved.sparsity.topk.k) == (code_size, k)


@pytest.mark.parametrize(
    ("width", "rows", "code_size", "k"),
    [(64, 1_077, 134, 24), (784, 3_000, 375, 84), (3_000, 240, 30, 7), (6, 9, 1, 1)],
)
def test_auto_code_has_at_most_one_unit_per_eight_training_rows(
    width, rows, code_size, k
):
    resolved = config().for_data(width, rows)
    assert (resolved.code_size, resolved.sparsity.topk.k) == (code_size, k)


def test_explicit_sizes_are_kept_and_auto_k_fits_an_explicit_code():
    assert config(32, 5).for_data(784).sparsity.topk.k == 5
    assert config(32).for_data(784).sparsity.topk.k == 8  # a quarter of the code
    assert config(k=100).for_data(64).code_size == 400
    assert config(k=100).for_data(64, rows=100_000).code_size == 400


def test_batchtopk_sizes_the_code_by_its_own_k():
    resolved = config(method="batchtopk", k=12.5).for_data(16)
    assert (resolved.code_size, resolved.sparsity.batchtopk.k) == (64, 12.5)
    resolved = config(method="batchtopk", k=20.5).for_data(16)
    assert (resolved.code_size, resolved.sparsity.batchtopk.k) == (84, 20.5)
    with pytest.raises(ValueError, match="sparsity.batchtopk.k=70"):
        config(code_size=64, k=70, method="batchtopk")


def test_auto_jumprelu_target_is_the_auto_k():
    targets = [
        config(method="jumprelu").for_data(width).sparsity.jumprelu.target_l0
        for width in (64, 784)
    ]
    assert targets == [24, 84]


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


def test_unit_directions_of_a_linear_decoder_are_its_unit_rows_unscaled():
    autoencoder = build_sparse_autoencoder(10, config(8, 2))
    rows = np.random.default_rng(0).uniform(size=(200, 10)).astype("float32")
    initialise_from_data(autoencoder, rows, seed=0)
    directions = decoder_directions(autoencoder)
    np.testing.assert_allclose(np.linalg.norm(directions, axis=1), 1.0, rtol=1e-6)
    scales = np.arange(1, 9, dtype="float32")
    scale = float(centring_of(autoencoder).scale.numpy())
    np.testing.assert_allclose(
        unit_directions(autoencoder, scales),
        directions * scales[:, None] / scale,
        atol=1e-5,
    )


def test_encoder_starts_as_the_decoders_transpose_and_the_centre_at_the_median():
    autoencoder = build_sparse_autoencoder(10, config(8, 2))
    encoder = autoencoder.get_layer(CODE_PREACTIVATION_LAYER)
    np.testing.assert_allclose(
        encoder.kernel.numpy(), decoder_directions(autoencoder).T, atol=1e-6
    )
    np.testing.assert_array_equal(encoder.bias.numpy(), 0.0)
    rows = np.random.default_rng(1).normal(3.0, 1.0, size=(300, 10))
    initialise_from_data(autoencoder, rows.astype("float32"), seed=0)
    centre = centring_of(autoencoder).offset.numpy()
    assert np.abs(centre - 3.0).max() < 0.3


@pytest.mark.parametrize(
    ("rows", "tied"), [(None, True), (8_192, True), (8_191, False)]
)
def test_auto_tied_start_needs_32_training_rows_per_unit(rows, tied):
    assert config(256, 8).for_data(64, rows).tied_initialisation is tied


def test_without_centring_the_reconstruction_has_its_own_bias_and_no_centring():
    plain = config(8, 2).model_copy(
        update={"centring": False, "unit_norm_decoder": False}
    )
    autoencoder = build_sparse_autoencoder(10, plain)
    assert centring_of(autoencoder) is None
    assert autoencoder.get_layer("reconstruction").use_bias
