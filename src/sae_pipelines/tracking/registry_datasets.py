"""The inference model in the Kedro catalog: saved, registered, and loaded back.

``InferenceModelDataset`` keeps each run's model as a versioned MLflow model
folder under ``data/`` and logs it to the run, registered as a new version.
``RegisteredModelDataset`` loads a registered version by alias or number.
Both load through MLflow's ``pyfunc`` loader, as every user of the model does.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple

import mlflow
import pandas as pd
from kedro.io import (
    AbstractDataset,
    AbstractVersionedDataset,
    DatasetError,
    Version,
)
from mlflow.exceptions import MlflowException
from mlflow.models.model import ModelInfo

from sae_pipelines.inference.model import InferenceModel
from sae_pipelines.inference.pyfunc import SparseAutoencoderModel, save_inference_model
from sae_pipelines.runtime.storage import Location, storage_options
from sae_pipelines.tracking.registry import PRODUCTION_ALIAS, find_version
from sae_pipelines.tracking.store_lock import store_lock

logger = logging.getLogger(__name__)

REGISTERED_VERSION_TAG = "registered_model_version"


class ModelRelease(NamedTuple):
    """An inference model to save, with the raw rows that show its input."""

    model: InferenceModel
    input_example: pd.DataFrame


def load_inference_model(model_uri: str) -> InferenceModel:
    """The inference model of an MLflow model URI or folder.

    Raises:
        DatasetError: The model there is another kind of model (e.g. a Keras
            model registered before the inference model existed).
    """
    try:
        wrapper = mlflow.pyfunc.load_model(model_uri).unwrap_python_model()
    except MlflowException as error:
        wrapper = error
    if not isinstance(wrapper, SparseAutoencoderModel):
        msg = (
            f"{model_uri} is not an inference model of this project ({wrapper}); "
            "train one with `kedro run`, or point the alias at a version it registered"
        )
        raise DatasetError(msg)
    return wrapper.model


class InferenceModelDataset(AbstractVersionedDataset[ModelRelease, InferenceModel]):
    """Each run's inference model: a versioned MLflow model folder, also registered.

    Saving writes the folder and, within an MLflow run, logs the model to it.
    :meth:`register` (called by ``ModelRegistrationHooks`` once the whole run
    has succeeded, so a failed run registers nothing) makes it a new version of
    ``registered_model_name``. Until some version holds the alias
    ``production``, the new one takes it, so a fresh project can run batch
    extraction right after training; after that, moving the alias is a
    deliberate act (``kedro promote``). Loading reads the folder of the pinned
    (or newest) Kedro version.

    ``filepath`` may be a URL (``s3://bucket/models/inference_model``), with
    ``credentials`` and ``fs_args`` as for Kedro's own datasets: the folder is
    then written locally and uploaded, and downloaded to be loaded.
    """

    def __init__(
        self,
        filepath: str,
        registered_model_name: str | None = None,
        version: Version | None = None,
        metadata: dict[str, Any] | None = None,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
    ):
        self._folder = Location(filepath, storage_options(credentials, fs_args))
        if self._folder.is_local:
            super().__init__(filepath=PurePosixPath(filepath), version=version)
        else:
            fs = self._folder.fs
            super().__init__(
                filepath=PurePosixPath(self._folder.path),
                version=version,
                exists_function=fs.exists,
                glob_function=fs.glob,
            )
        self._registered_model_name = registered_model_name
        self._logged: ModelInfo | None = None
        self.metadata = metadata

    def load(self) -> InferenceModel:
        """Load the model folder of the pinned (or newest) version."""
        path = Path(self._get_load_path())
        if self._folder.is_local:
            model = load_inference_model(str(path))
        else:
            with tempfile.TemporaryDirectory(prefix="sae-model-") as folder:
                local = self._remote(path).download(Path(folder) / path.name)
                model = load_inference_model(str(local))
        model.source = f"Kedro version {path.parent.name} of {self._folder.url}"
        return model

    def save(self, data: ModelRelease) -> None:
        """Save the model folder, and log it to the active MLflow run, if any."""
        path = Path(self._get_save_path())
        if self._folder.is_local:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._logged = save_inference_model(data.model, data.input_example, path)
            return
        with tempfile.TemporaryDirectory(prefix="sae-model-") as folder:
            local = Path(folder) / path.name
            self._logged = save_inference_model(data.model, data.input_example, local)
            remote = self._remote(path)
            remote.fs.put(str(local), remote.path, recursive=True)
            remote.fs.invalidate_cache()

    def _remote(self, path: PurePosixPath | Path) -> Location:
        """A version's folder on the dataset's filesystem, by its path there."""
        fs = self._folder.fs
        return Location(fs.unstrip_protocol(str(path)), self._folder.storage_options)

    def register(self) -> str | None:
        """Register the model logged by :meth:`save` as a new version.

        The first version of the registered model also takes the alias
        ``production``. The run that logged the model is tagged with the version.

        Returns:
            The new version, or ``None`` when nothing was logged (no MLflow run,
            or no ``registered_model_name``).
        """
        if self._logged is None or self._registered_model_name is None:
            return None
        name, logged = self._registered_model_name, self._logged
        self._logged = None
        version = mlflow.register_model(logged.model_uri, name).version
        client = mlflow.MlflowClient()
        client.set_tag(logged.run_id, REGISTERED_VERSION_TAG, str(version))
        # Two runs registering at once must not both find the alias free.
        with store_lock(mlflow.get_registry_uri()):
            aliases = client.get_registered_model(name).aliases
            if PRODUCTION_ALIAS not in aliases:
                client.set_registered_model_alias(name, PRODUCTION_ALIAS, str(version))
        if PRODUCTION_ALIAS in aliases:
            logger.info(
                "Registered %s version %s; '%s' stays on version %s",
                name,
                version,
                PRODUCTION_ALIAS,
                aliases[PRODUCTION_ALIAS],
            )
        else:
            logger.info(
                "Registered %s version %s and gave it the alias '%s'",
                name,
                version,
                PRODUCTION_ALIAS,
            )
        return str(version)

    def _exists(self) -> bool:
        try:
            path = self._get_load_path()
            if not self._folder.is_local:
                return bool(self._folder.fs.exists(str(path)))
            return Path(path).exists()
        except DatasetError:
            return False

    def _describe(self) -> dict[str, Any]:
        return {
            "filepath": self._folder.url,
            "registered_model_name": self._registered_model_name,
            "version": self._version,
        }


class RegisteredModelDataset(AbstractDataset[None, InferenceModel]):
    """A registered version of the inference model, by alias or number.

    The version is ``model_version`` when given, else the one holding ``alias``
    (``version`` is a reserved word in Kedro's catalog).
    """

    def __init__(
        self,
        model_name: str,
        alias: str = PRODUCTION_ALIAS,
        model_version: int | str | None = None,
        metadata: dict[str, Any] | None = None,
    ):
        self._model_name = model_name
        self._alias = alias
        self._version = (
            None if model_version in (None, "", "null") else str(model_version)
        )
        self.metadata = metadata

    def load(self) -> InferenceModel:
        """Resolve the version and load its model.

        Raises:
            UnknownModelVersionError: No such alias or version; lists those that exist.
        """
        client = mlflow.MlflowClient()
        version = find_version(client, self._model_name, self._alias, self._version)
        model = load_inference_model(f"models:/{self._model_name}/{version.version}")
        model.source = (
            f"{self._model_name} version {version.version} (run {version.run_id})"
        )
        model.version = int(version.version)
        return model

    def save(self, data: None) -> None:
        """Models are registered by training, not saved here."""
        msg = "RegisteredModelDataset is read-only; training registers models"
        raise DatasetError(msg)

    def _describe(self) -> dict[str, Any]:
        return {
            "model_name": self._model_name,
            "alias": self._alias,
            "version": self._version,
        }
