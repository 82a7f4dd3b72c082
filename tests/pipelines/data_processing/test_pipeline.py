from sae_pipelines.pipelines.data_processing import create_pipeline
from tests.pipelines.conftest import run_in_memory


def test_pipeline_turns_raw_table_into_normalised_splits(labelled_table, params):
    catalog = run_in_memory(create_pipeline(), {"raw_data": labelled_table}, params)
    sizes = [
        len(catalog.load(f"model_input_{s}")) for s in ("train", "validation", "test")
    ]
    assert sizes == [180, 60, 60]
    train = catalog.load("model_input_train")
    features = [f"f{i}" for i in range(6)]
    # float32 scaling, as in inference: the training range maps onto [0, 1]
    assert abs(train[features].min().min()) < 1e-6
    assert abs(train[features].max().max() - 1.0) < 1e-6
    assert hasattr(catalog.load("normalizer"), "feature_names_in_")
