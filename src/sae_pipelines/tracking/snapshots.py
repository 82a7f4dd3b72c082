"""A run's input table, kept in the tracking server's artifact store by its digest.

:class:`SnapshotHooks` stores the file of each versioned dataset that opts in
(catalog ``metadata: {mlflow_snapshot: {}}``) once per content, under
``<location>/sha256/<digest>/<file name>``, and logs it as the run's MLflow
dataset input. ``kedro reproduce`` fetches it from there (:func:`fetch_snapshot`)
in a clone that lacks the file. ``location`` defaults to ``snapshots/`` in the
experiment's artifact location: ``mlflow-artifacts:/<id>/snapshots`` under an
``mlflow server`` serving artifacts, ``mlruns/<id>/snapshots`` under the default
SQLite store.

A dataset on an object store (``s3://``, ``gs://``...) is snapshotted as a
local one: its object is downloaded, hashed and uploaded to the store once per
digest. Its ETag is not used: an ETag is a content hash only for some uploads
(an MD5, for S3 objects uploaded whole without KMS), never a SHA-256.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.data.dataset import Dataset
from mlflow.data.dataset_source import DatasetSource
from mlflow.data.meta_dataset import MetaDataset
from mlflow.data.pandas_dataset import from_pandas
from mlflow.exceptions import MlflowException
from mlflow.store.artifact.artifact_repository_registry import (
    get_artifact_repository,
)

from sae_pipelines.runtime.errors import InputError
from sae_pipelines.runtime.storage import Location
from sae_pipelines.tracking.provenance import file_sha256

SNAPSHOT_METADATA_KEY = "mlflow_snapshot"
SHA256_TAG = "sha256"  # the dataset input's tag holding the full digest
SOURCE_TYPE = "artifact_store"
# MLflow keeps at most 36 characters of a dataset's digest.
MLFLOW_DIGEST_LENGTH = 36


class SnapshotError(InputError, RuntimeError):
    """A snapshot is missing from its store, or its bytes are not its digest's."""


@dataclass(frozen=True)
class Snapshot:
    """A stored file and the SHA-256 of its bytes."""

    uri: str
    sha256: str


class SnapshotSource(DatasetSource):
    """The source of a dataset input: a snapshot's URI in any artifact store.

    MLflow's own sources cover ``s3://`` or local paths but not
    ``mlflow-artifacts:/``, the URI of a server's served artifacts.
    """

    def __init__(self, uri: str) -> None:
        self.uri = uri

    @staticmethod
    def _get_source_type() -> str:
        return SOURCE_TYPE

    def load(self, dst_path: str | None = None) -> str:
        """Download the snapshot; its local path."""
        return mlflow.artifacts.download_artifacts(
            artifact_uri=self.uri, dst_path=dst_path
        )

    @staticmethod
    def _can_resolve(raw_source: Any) -> bool:
        return False  # made explicitly, never guessed from a string

    @classmethod
    def _resolve(cls, raw_source: Any) -> SnapshotSource:
        return cls(str(raw_source))

    def to_dict(self) -> dict[str, str]:
        """``{"uri": ...}``, as the run's dataset input records it."""
        return {"uri": self.uri}

    @classmethod
    def from_dict(cls, source_dict: dict[str, Any]) -> SnapshotSource:
        """The source :meth:`to_dict` describes."""
        return cls(source_dict["uri"])


def snapshot_uri(location: str, sha256: str, file_name: str) -> str:
    """Where a file with this digest lies under ``location``."""
    return f"{location.rstrip('/')}/sha256/{sha256}/{file_name}"


def _split(uri: str) -> tuple[str, str]:
    folder, _, name = uri.rpartition("/")
    return folder, name


def snapshot_exists(uri: str) -> bool:
    """Whether the store holds a file at ``uri``."""
    folder, name = _split(uri)
    listing = get_artifact_repository(folder).list_artifacts()
    return any(Path(info.path).name == name and not info.is_dir for info in listing)


def store_snapshot(path: Path | Location, location: str) -> Snapshot:
    """Upload ``path`` under ``location`` by its digest, unless already there.

    ``path`` is a local file, or a file on any filesystem: that one is
    downloaded to a temporary folder first, and hashed there.
    """
    if isinstance(path, Location) and path.is_local:
        path = path.local_path
    if isinstance(path, Location):
        with tempfile.TemporaryDirectory(prefix="sae-snapshot-") as folder:
            return store_snapshot(path.download(Path(folder) / path.name), location)
    sha256 = file_sha256(path)
    snapshot = Snapshot(snapshot_uri(location, sha256, path.name), sha256)
    if not snapshot_exists(snapshot.uri):
        repository = get_artifact_repository(_split(snapshot.uri)[0])
        repository.log_artifact(str(path))  # type: ignore[no-untyped-call]  # MLflow's
    return snapshot


def fetch_snapshot(
    snapshot: Snapshot, destination: Path | Location, run_id: str
) -> None:
    """Download a snapshot to ``destination`` once its digest is checked.

    The file is downloaded to a temporary folder and moved into place only
    when its bytes match, so a bad one leaves nothing behind. A destination
    on an object store is uploaded to, in one object.

    Raises:
        SnapshotError: The store does not hold it, or its digest differs.
    """
    with tempfile.TemporaryDirectory(prefix="sae-snapshot-") as folder:
        try:
            local = Path(
                mlflow.artifacts.download_artifacts(
                    artifact_uri=snapshot.uri, dst_path=folder
                )
            )
        except (MlflowException, OSError) as error:
            msg = f"snapshot missing from the store: {snapshot.uri} ({error})"
            raise SnapshotError(msg) from error
        actual = file_sha256(local)
        if actual != snapshot.sha256:
            msg = (
                f"digest mismatch: the snapshot {snapshot.uri} of run {run_id} has "
                f"SHA-256 {actual}, but the run recorded {snapshot.sha256}"
            )
            raise SnapshotError(msg)
        if isinstance(destination, Location):
            destination.fs.put_file(str(local), destination.path)
            return
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(local, destination)


def default_location(run: mlflow.entities.Run) -> str:
    """``snapshots/`` in the run's experiment's artifact location."""
    experiment = mlflow.get_experiment(run.info.experiment_id)
    return f"{experiment.artifact_location.rstrip('/')}/snapshots"


def dataset_input(data: Any, name: str, snapshot: Snapshot) -> Dataset:
    """The MLflow dataset of a snapshot: a table's schema and rows when it is one."""
    source = SnapshotSource(snapshot.uri)
    digest = snapshot.sha256[:MLFLOW_DIGEST_LENGTH]
    if isinstance(data, pd.DataFrame):
        return from_pandas(data, source=source, name=name, digest=digest)
    # Dataset.profile is an abstractmethod, but Dataset is no ABC: this works.
    return MetaDataset(source, name=name, digest=digest)  # type: ignore[abstract]
