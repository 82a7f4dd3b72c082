import mlflow
import pytest

from sae_pipelines.tracking.registry import (
    UnknownModelVersionError,
    describe_versions,
    find_version,
    move_alias,
)


@pytest.fixture
def client(tmp_path):
    """A SQLite MLflow store holding model 'm' with versions 1 and 2."""
    uri = f"sqlite:///{tmp_path / 'registry.db'}"
    mlflow.set_tracking_uri(uri)
    client = mlflow.MlflowClient(tracking_uri=uri)
    client.create_registered_model("m")
    for _ in range(2):
        with mlflow.start_run() as run:
            mlflow.log_text("weights", "model/weights.txt")
        client.create_model_version(
            "m", source=f"runs:/{run.info.run_id}/model", run_id=run.info.run_id
        )
    client.set_registered_model_alias("m", "production", "1")
    return client


def test_alias_and_version_resolve(client):
    assert find_version(client, "m", alias="production", version=None).version == 1
    assert find_version(client, "m", alias="production", version="2").version == 2


def test_unknown_alias_or_version_lists_what_exists(client):
    expected = "registered model 'm' has version 1 (production), version 2"
    assert describe_versions(client, "m") == expected
    with pytest.raises(UnknownModelVersionError, match="No alias 'staging'.*version 2"):
        find_version(client, "m", alias="staging", version=None)
    with pytest.raises(
        UnknownModelVersionError, match=r"No version 7 .*\(production\)"
    ):
        move_alias(client, "m", "7")


def test_move_alias(client):
    move_alias(client, "m", "2")
    assert client.get_model_version_by_alias("m", "production").version == 2
