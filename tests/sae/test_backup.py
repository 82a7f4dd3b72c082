import keras
import numpy as np
import pytest

from sae_pipelines.sae import ModelConfig, fit_sparse_autoencoder, training
from sae_pipelines.sae.backup import EPOCH_PREFIX
from tests.sae.helpers import normal, training_config


class Killed(Exception):
    """Stands in for a kill: the fit stops without cleaning up."""


class KillAfter(keras.callbacks.Callback):
    def __init__(self, epochs: int) -> None:
        super().__init__()
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epochs:
            raise Killed


def model_config(method: str) -> ModelConfig:
    sparsity = {
        "method": method,
        "l1": {"weight": 0.01},
        "kl": {"rho": 0.05, "beta": 1.0},
        "topk": {"k": 4},
    }
    return ModelConfig.model_validate({"code_size": 32, "sparsity": sparsity})


NO_RESAMPLING = {"every": 0.0, "until": 0.0}
RESAMPLING = {"every": 0.25, "until": 0.5}
# 8 epochs of 160 of the 600 rows (3 batches), validated on 100 of 200 rows;
# the rows shuffled as a large table's are (one permutation a pass).
CAPPED = {"budget": 8 * 160, "validation_rows": 100}


@pytest.mark.parametrize(
    ("method", "resampling", "budget"),
    [
        ("topk", NO_RESAMPLING, {}),
        ("l1", RESAMPLING, {}),
        ("topk", NO_RESAMPLING, CAPPED),
        ("l1", RESAMPLING, CAPPED),
    ],
    ids=[
        "topk with auxk",
        "l1 with resampling",
        "topk, capped budget",
        "l1, capped budget",
    ],
)
def test_a_killed_fit_resumes_to_the_weights_and_curves_of_an_uninterrupted_one(
    tmp_path, monkeypatch, method, resampling, budget
):
    if budget:
        monkeypatch.setattr(training, "SHUFFLE_BUFFER_ROWS", 100)
    train, validation = normal(600, 12), normal(200, 12, seed=1)
    config = model_config(method)
    settings = training_config(
        epochs=8,
        early_stopping_patience=2,
        resample_dead_units=resampling,
        backup_folder=str(tmp_path / "backups"),
        **budget,
    )
    whole_model, whole_curves = fit_sparse_autoencoder(
        train, validation, config, settings
    )
    assert not any((tmp_path / "backups").iterdir())  # removed once the fit ended

    with pytest.raises(Killed):
        fit_sparse_autoencoder(train, validation, config, settings, [KillAfter(5)])
    (kept,) = (tmp_path / "backups").glob(f"*/{EPOCH_PREFIX}*")
    assert kept.name == f"{EPOCH_PREFIX}000004"  # killed before epoch 5 was saved
    resumed_model, resumed_curves = fit_sparse_autoencoder(
        train, validation, config, settings
    )

    assert resumed_curves == whole_curves
    for whole, resumed in zip(
        whole_model.get_weights(), resumed_model.get_weights(), strict=True
    ):
        np.testing.assert_array_equal(whole, resumed)


def test_other_rows_or_settings_never_resume_from_a_backup(tmp_path):
    train, validation = normal(600, 12), normal(200, 12, seed=1)
    settings = training_config(epochs=4, backup_folder=str(tmp_path / "backups"))
    with pytest.raises(Killed):
        fit_sparse_autoencoder(
            train, validation, model_config("topk"), settings, [KillAfter(2)]
        )
    _, plain_curves = fit_sparse_autoencoder(
        train, validation, model_config("topk"), settings.model_copy(update={"seed": 1})
    )
    _, fresh_curves = fit_sparse_autoencoder(
        train[::-1].copy(), validation, model_config("topk"), settings
    )
    assert len(plain_curves["loss"]) == len(fresh_curves["loss"]) == 4
    assert len(list((tmp_path / "backups").iterdir())) == 1  # the killed fit's
