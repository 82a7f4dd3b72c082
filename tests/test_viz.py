"""kedro-viz draws every catalog entry in its data layer.

`kedro viz build` writes, in a copy of the project, the JSON that `kedro viz run`
serves; the tests read its `api/main` (the default pipeline) and
`api/pipelines/batch_extraction` back.
"""

import json
import os
import subprocess
import sys

import pytest

from tests.project_runs import copy_project

pytestmark = pytest.mark.slow  # `kedro viz build` loads the project: ~10 s

LAYERS = [
    "raw",
    "intermediate",
    "model_input",
    "models",
    "feature",
    "model_output",
    "reporting",
]
MEMORY_DATASET = "io.memory_dataset.MemoryDataset"


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    """The `build/api` folder that `kedro viz build` writes."""
    tmp_path = tmp_path_factory.mktemp("viz")
    root = copy_project(tmp_path / "project")
    result = subprocess.run(
        [sys.executable, "-m", "kedro", "viz", "build"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        # kedro-viz saves a telemetry id under the user's configuration folder,
        # even with telemetry declined (.telemetry): keep it in the test's folder.
        env=os.environ | {"XDG_CONFIG_HOME": str(tmp_path / "config")},
    )
    api = root / "build" / "api"
    # `kedro viz build` exits 0 even when it fails; its output says why.
    assert (api / "main").is_file(), result.stdout + result.stderr
    return api


def data_nodes(response: dict) -> dict[str, dict]:
    return {node["name"]: node for node in response["nodes"] if node["type"] == "data"}


def test_layers_follow_the_flow(build):
    main = json.loads((build / "main").read_text())

    assert main["selected_pipeline"] == "__default__"
    assert main["layers"] == LAYERS


def test_each_dataset_of_the_default_pipeline_is_in_its_layer(build):
    nodes = data_nodes(json.loads((build / "main").read_text()))
    layer = {name: node.get("layer") for name, node in nodes.items()}

    assert {
        name: layer[name]
        for name in (
            "raw_data",
            "validated_data",
            "train_split",
            "normalizer",
            "model_input_train",
            "sae_model",
            "codes_test",
            "anomaly_scores_test",
            "inference_model",
            "figure_codes_2d",
            "evaluation_report",
            "train_loss",
        )
    } == {
        "raw_data": "raw",
        "validated_data": "intermediate",
        "train_split": "intermediate",
        "normalizer": "model_input",
        "model_input_train": "model_input",
        "sae_model": "models",
        "codes_test": "feature",
        "anomaly_scores_test": "model_output",
        "inference_model": "model_output",
        "figure_codes_2d": "reporting",
        "evaluation_report": "reporting",
        "train_loss": "reporting",
    }
    # Only the in-memory values between nodes that the catalog does not name
    # (metrics dicts, the PCA baseline) have none.
    unlayered = {name for name, node in nodes.items() if node.get("layer") is None}
    assert unlayered
    assert {nodes[name]["dataset_type"] for name in unlayered} == {MEMORY_DATASET}


def test_batch_extraction_datasets_are_in_their_layers(build):
    pipeline = json.loads((build / "pipelines" / "batch_extraction").read_text())
    layer = {name: node.get("layer") for name, node in data_nodes(pipeline).items()}

    assert {
        name: layer[name]
        for name in (
            "incoming_partitions",
            "serving_model",
            "extraction_checkpoint",
            "extracted_partitions",
            "batch_summary",
            "batch_metrics_mlflow",
        )
    } == {
        "incoming_partitions": "raw",
        "serving_model": "models",
        "extraction_checkpoint": "model_output",
        "extracted_partitions": "model_output",
        "batch_summary": "reporting",
        "batch_metrics_mlflow": "reporting",
    }
