import keras

from sae_pipelines.pipelines.data_processing import create_pipeline as data_processing
from sae_pipelines.pipelines.training import create_pipeline
from tests.pipelines.conftest import run_in_memory


def test_pipeline_trains_a_model_and_returns_loss_curves(labelled_table, fast_params):
    prepared = run_in_memory(
        data_processing(), {"raw_data": labelled_table}, fast_params
    )
    inputs = {
        name: prepared.load(name)
        for name in ("model_input_train", "model_input_validation", "normalizer")
    } | {"training_callbacks": []}
    catalog = run_in_memory(create_pipeline(), inputs, fast_params)
    model = catalog.load("sae_model")
    assert isinstance(model, keras.Model) and model.input_shape == (None, 6)
    train_loss, val_loss = catalog.load("train_loss"), catalog.load("val_loss")
    assert len(train_loss) == len(val_loss) == 30
    assert train_loss[-1] < train_loss[0]
    summary = catalog.load("training_metrics")
    assert summary["epochs_trained"] == 30.0
    kept = int(summary["kept_epoch"]) - 1
    assert val_loss[kept] == min(val_loss[max(kept - 1, 0) :])  # the best from there
    assert summary["val_train_loss_ratio"] == val_loss[kept] / train_loss[kept]
    assert 0.0 <= summary["dead_fraction_last_epoch"] <= 1.0
    scorer = catalog.load("anomaly_scorer")
    assert scorer.method == "combined"
    assert len(scorer.reference) == len(inputs["model_input_train"])
