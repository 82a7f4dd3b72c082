import keras
import numpy as np

from sae_pipelines.pipelines.evaluation.code_classifier import build_code_classifier
from sae_pipelines.sae import ModelConfig, build_sparse_autoencoder
from sae_pipelines.sae.model import CODE_PREACTIVATION_LAYER


def test_pretrained_classifier_starts_from_the_encoder_and_scratch_does_not():
    keras.utils.set_random_seed(0)
    autoencoder = build_sparse_autoencoder(
        10,
        ModelConfig.model_validate(
            {
                "encoder_units": [6],
                "code_size": 8,
                "output_activation": "linear",
                "sparsity": {
                    "method": "topk",
                    "l1": {"weight": 0.0},
                    "kl": {"rho": 0.05, "beta": 1.0},
                    "topk": {"k": 2},
                },
            }
        ),
    )
    kernel = autoencoder.get_layer(CODE_PREACTIVATION_LAYER).get_weights()[0]
    pretrained = build_code_classifier(autoencoder, 3, pretrained=True)
    scratch = build_code_classifier(autoencoder, 3, pretrained=False)
    assert pretrained.output_shape == (None, 3)
    np.testing.assert_array_equal(
        pretrained.get_layer(CODE_PREACTIVATION_LAYER).get_weights()[0], kernel
    )
    assert not np.allclose(
        scratch.get_layer(CODE_PREACTIVATION_LAYER).get_weights()[0], kernel
    )
    # Fine-tuning a copy must leave the autoencoder alone.
    pretrained.get_layer(CODE_PREACTIVATION_LAYER).set_weights(
        [np.zeros_like(kernel), np.zeros(8)]
    )
    np.testing.assert_array_equal(
        autoencoder.get_layer(CODE_PREACTIVATION_LAYER).get_weights()[0], kernel
    )
