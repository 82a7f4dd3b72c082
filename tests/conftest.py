"""Shared fixtures: the project's own parameters, and small tables."""

# Kedro configures logging when this module is first imported, and in doing so
# closes every existing handler. Imported first, before TensorFlow brings in
# absl, whose handler would otherwise close pytest's captured stderr with it.
import kedro.framework.project  # noqa: F401

# isort: split
# Before TensorFlow loads: how it computes, and its logs quiet, as in a run.
from sae_pipelines.runtime.startup import starting_up

with starting_up():
    import keras
    import numpy as np
    import pandas as pd
    import pytest
    import yaml

    from benchmarks.project import project_parameters
    from sae_pipelines.sae import ModelConfig, build_sparse_autoencoder

# The `project` fixture: a copy of the whole project to run with Kedro; the
# `s3` fixture: a real S3 server (moto) with a bucket of the test's own.
pytest_plugins = ["tests.project_runs", "tests.s3_server"]


@pytest.fixture(scope="session", name="project_parameters")
def loaded_project_parameters() -> dict:
    """The parameters of conf/base with globals resolved, as Kedro would pass them."""
    return project_parameters()


@pytest.fixture
def params(project_parameters) -> dict:
    """A deep copy that a test may change."""
    return yaml.safe_load(yaml.safe_dump(project_parameters))


@pytest.fixture
def labelled_table() -> pd.DataFrame:
    """300 rows, 6 numeric features and a 3-class label that the features predict."""
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], 100)
    features = rng.normal(size=(300, 6)) + labels[:, None]
    table = pd.DataFrame(features, columns=[f"f{i}" for i in range(6)])
    table["label"] = labels
    return table


def topk_autoencoder(width: int, code_size: int, k: int) -> keras.Model:
    """An untrained, seeded TopK autoencoder for tests that only need a model."""
    config = ModelConfig.model_validate(
        {
            "code_size": code_size,
            "sparsity": {
                "method": "topk",
                "l1": {"weight": 0.0},
                "kl": {"rho": 0.05, "beta": 1.0},
                "topk": {"k": k},
            },
        }
    )
    keras.utils.set_random_seed(0)
    return build_sparse_autoencoder(width, config)
