import mlflow
import pytest


@pytest.fixture
def tracking(tmp_path):
    """A SQLite MLflow store of the test's own; the run left active is ended."""
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    yield
    if mlflow.active_run():
        mlflow.end_run()
