"""A tracked run's MLflow record, and whether this project can repeat it.

The record is what ``ProvenanceHooks`` logged: tags naming the git commit and
environment, the resolved parameters, the version of every dataset read and
written, and the installed packages.

A dataset version is recorded by its path relative to the project, or by its
URL when it lies on an object store (``s3://...``); there, whether it is still
present, and where its snapshot is restored to, need the storage options of
the dataset's catalog entry, which the caller passes by dataset name.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
from mlflow.exceptions import MlflowException

from sae_pipelines.runtime.errors import InputError
from sae_pipelines.runtime.storage import Location, is_local
from sae_pipelines.tracking.provenance import (
    DATASETS_ARTIFACT,
    PARAMETERS_ARTIFACT,
    REQUIREMENTS_ARTIFACT,
    UNKNOWN,
    package_differences,
)
from sae_pipelines.tracking.snapshots import (
    SHA256_TAG,
    SOURCE_TYPE,
    Snapshot,
    SnapshotSource,
    fetch_snapshot,
    snapshot_exists,
)

START_DATASET = "validated_data"
# Tags ProvenanceHooks sets on every run; without them a run cannot be repeated.
REQUIRED_TAGS = ("git_commit", "git_dirty", "kedro_env", "kedro_pipelines")


class CannotReproduceError(InputError, RuntimeError):
    """The run cannot be repeated; the message gives every reason."""


@dataclass(frozen=True)
class RecordedRun:
    """An MLflow run and the provenance artifacts it logged (None when absent)."""

    run: mlflow.entities.Run
    parameters: str | None
    datasets: dict[str, dict[str, dict[str, str]]] | None
    requirements: str | None

    @property
    def run_id(self) -> str:
        """The MLflow run id."""
        return self.run.info.run_id

    @property
    def tags(self) -> dict[str, str]:
        """The run's tags."""
        return self.run.data.tags

    def dataset(self, name: str) -> dict[str, str] | None:
        """The version and path of a dataset the run saved, else of one it loaded."""
        datasets = self.datasets or {}
        return datasets.get("saved", {}).get(name) or datasets.get("loaded", {}).get(
            name
        )

    def input_versions(self) -> dict[str, dict[str, str]]:
        """What a repeat loads: ``validated_data`` and any dataset read, not written."""
        datasets = self.datasets or {}
        saved = datasets.get("saved", {})
        inputs = {
            name: record
            for name, record in datasets.get("loaded", {}).items()
            if name not in saved
        }
        start = self.dataset(START_DATASET)
        if start is not None:
            inputs[START_DATASET] = start
        return inputs

    def snapshot(self, name: str) -> Snapshot | None:
        """The stored copy of a dataset the run logged as its input, if any."""
        for dataset_input in self.run.inputs.dataset_inputs if self.run.inputs else []:
            dataset = dataset_input.dataset
            tags = {tag.key: tag.value for tag in dataset_input.tags}
            if (
                dataset.name == name
                and dataset.source_type == SOURCE_TYPE
                and SHA256_TAG in tags
            ):
                source = SnapshotSource.from_json(dataset.source)
                assert isinstance(source, SnapshotSource)  # typed as the base class
                return Snapshot(source.uri, tags[SHA256_TAG])
        return None


def load_recorded_run(client: mlflow.MlflowClient, run_id: str) -> RecordedRun:
    """Read a run and its provenance artifacts from the tracking store.

    Raises:
        CannotReproduceError: No run has this id.
    """
    try:
        run = client.get_run(run_id)
    except MlflowException as error:
        msg = f"no MLflow run with id '{run_id}' in {mlflow.get_tracking_uri()}"
        raise CannotReproduceError(msg) from error
    datasets = _artifact_text(client, run_id, DATASETS_ARTIFACT)
    return RecordedRun(
        run=run,
        parameters=_artifact_text(client, run_id, PARAMETERS_ARTIFACT),
        datasets=None if datasets is None else json.loads(datasets),
        requirements=_artifact_text(client, run_id, REQUIREMENTS_ARTIFACT),
    )


def _artifact_text(client: mlflow.MlflowClient, run_id: str, path: str) -> str | None:
    folder = str(Path(path).parent)
    if path not in {a.path for a in client.list_artifacts(run_id, folder)}:
        return None
    return Path(client.download_artifacts(run_id, path)).read_text()


def input_file(
    project_path: Path,
    record: Mapping[str, str],
    storage_options: Mapping[str, Any] | None = None,
) -> Location:
    """Where a recorded dataset version lies: in the project, or at its URL."""
    path = record["path"]
    if is_local(path):
        return Location(str(project_path / path))
    return Location(path, dict(storage_options or {}))


def blocking_problems(
    recorded: RecordedRun,
    project_path: Path,
    storage: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[str]:
    """Every reason the run cannot be repeated in this project; empty if it can.

    ``storage``: each dataset's storage options, by name, for versions
    recorded by URL.
    """
    run_id = recorded.run_id
    missing = [tag for tag in REQUIRED_TAGS if tag not in recorded.tags]
    missing += [
        path
        for path, value in (
            (PARAMETERS_ARTIFACT, recorded.parameters),
            (DATASETS_ARTIFACT, recorded.datasets),
        )
        if value is None
    ]
    if missing:
        return [
            f"run {run_id} has no provenance record ({', '.join(missing)}): it was "
            "not made by this project's `kedro run`, or before provenance logging"
        ]
    problems = []
    commit = recorded.tags["git_commit"]
    if commit == UNKNOWN:
        problems.append(
            f"run {run_id} was not made from a git checkout, so its code is unknown"
        )
    elif not _commit_exists(project_path, commit):
        problems.append(
            f"commit {commit} of run {run_id} is not in the git repository at "
            f"{project_path}: fetch it or restore the branch that held it"
        )
    if recorded.dataset(START_DATASET) is None:
        problems.append(
            f"run {run_id} neither saved nor loaded '{START_DATASET}', the "
            "validated copy of its raw data: only runs of the data_processing "
            "pipeline can be repeated"
        )
    for name, record in sorted(recorded.input_versions().items()):
        if input_file(project_path, record, (storage or {}).get(name)).exists():
            continue
        described = f"dataset '{name}' version {record['version']} ({record['path']})"
        snapshot = recorded.snapshot(name)
        if snapshot is None:
            problems.append(f"data version deleted: {described} no longer exists")
        elif problem := _store_problem(snapshot, described):
            problems.append(problem)
    return problems


def _store_problem(snapshot: Snapshot, described: str) -> str | None:
    """Why the snapshot of a dataset version missing here cannot be fetched."""
    try:
        if snapshot_exists(snapshot.uri):
            return None
    except (MlflowException, OSError) as error:
        return (
            f"snapshot unreadable: {described} is not here, and its snapshot "
            f"{snapshot.uri} cannot be read: {error}"
        )
    return (
        f"snapshot missing from the store: {described} is not here, and its "
        f"snapshot {snapshot.uri} (SHA-256 {snapshot.sha256}) is not in the "
        "artifact store"
    )


def fetch_missing_inputs(
    recorded: RecordedRun,
    project_path: Path,
    storage: Mapping[str, Mapping[str, Any]] | None = None,
) -> None:
    """Restore each input version missing here from its snapshot, checked.

    A version recorded by URL is restored to that URL, with the dataset's
    storage options from ``storage``.

    Raises:
        SnapshotError: A snapshot's bytes do not match its digest.
    """
    for name, record in sorted(recorded.input_versions().items()):
        file = input_file(project_path, record, (storage or {}).get(name))
        snapshot = recorded.snapshot(name)
        if snapshot is not None and not file.exists():
            fetch_snapshot(
                snapshot, file.local_path if file.is_local else file, recorded.run_id
            )


def _commit_exists(project_path: Path, commit: str) -> bool:
    result = subprocess.run(
        ["git", "cat-file", "-e", f"{commit}^{{commit}}"],
        cwd=project_path,
        capture_output=True,
        check=False,
    )
    return result.returncode == 0


def warnings_for(recorded: RecordedRun, installed: str) -> list[str]:
    """What may make the repeat differ without stopping it."""
    warnings = []
    if recorded.tags.get("git_dirty") == "true":
        warnings.append(
            f"run {recorded.run_id} was made with uncommitted changes, which commit "
            f"{recorded.tags['git_commit']} does not hold: its code may have differed"
        )
    if recorded.requirements is None:
        warnings.append(f"run {recorded.run_id} did not record its packages")
    elif differences := package_differences(recorded.requirements, installed):
        warnings.append(
            "installed packages differ from the run's:\n  " + "\n  ".join(differences)
        )
    return warnings
