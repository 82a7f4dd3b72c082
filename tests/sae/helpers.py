"""Small builders the model's tests share."""

import numpy as np

from sae_pipelines.sae.config import TrainingConfig


def normal(rows: int, columns: int, seed: int = 0) -> np.ndarray:
    """Standard normal float32 rows."""
    return np.random.default_rng(seed).normal(size=(rows, columns)).astype("float32")


def training_config(**overrides) -> TrainingConfig:
    """A short run without resampling; ``overrides`` replace any setting."""
    settings = {
        "learning_rate": 0.01,
        "batch_size": 64,
        "epochs": 10,
        "early_stopping_patience": 5,
        "schedule": {"warmup": 0.1, "decay": "cosine"},
        "gradient_clip_norm": 1.0,
        "resample_dead_units": {"every": 0.0, "until": 0.0},
        "seed": 0,
    } | overrides
    return TrainingConfig.model_validate(settings)
