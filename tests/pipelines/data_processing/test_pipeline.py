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
    assert train[features].min().min() == 0.0 and train[features].max().max() == 1.0
    assert hasattr(catalog.load("normalizer"), "feature_names_in_")
