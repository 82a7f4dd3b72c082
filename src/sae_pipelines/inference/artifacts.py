"""The inference model's files: autoencoder, normaliser, anomaly scorer, settings.

No MLflow here: the MLflow model carries these files as its artifacts, and the
Spark engine ships them to its executors, which load them without MLflow.
"""

import json
import pickle
from pathlib import Path
from typing import Any

import keras

from sae_pipelines.inference.model import InferenceModel
from sae_pipelines.inference.scoring import AnomalyScorer

ARTIFACT_FILES = {
    "autoencoder": "autoencoder.keras",
    "normalizer": "normalizer.pkl",
    "scorer": "anomaly_scorer.pkl",
    "settings": "inference.json",
}
# Modules that moved since models were first registered: their pickles name
# the old module.
MOVED_MODULES = {"sae_pipelines.preprocessing": "sae_pipelines.inference.preprocessing"}


def write_artifacts(model: InferenceModel, folder: Path) -> dict[str, str]:
    """Write what :func:`load_artifacts` reads into ``folder``; their paths by name."""
    paths = {name: Path(path) for name, path in artifact_paths(folder).items()}
    model.autoencoder.save(paths["autoencoder"])
    for name, fitted in (("normalizer", model.normalizer), ("scorer", model.scorer)):
        with paths[name].open("wb") as file:
            pickle.dump(fitted, file)
    settings = {
        "threshold": model.threshold,
        "id_column": model.id_column,
        "code_prefix": model.code_prefix,
        "source": model.source,
        "integer_features": list(model.integer_features),
    }
    paths["settings"].write_text(json.dumps(settings, indent=2))
    return {name: str(path) for name, path in paths.items()}


def load_artifacts(artifacts: dict[str, str]) -> InferenceModel:
    """The inference model from the files :func:`write_artifacts` wrote."""
    settings = json.loads(Path(artifacts["settings"]).read_text())
    return InferenceModel(
        keras.models.load_model(artifacts["autoencoder"]),
        read_pickle(artifacts["normalizer"]),
        threshold=settings["threshold"],
        # Models registered before the scorer existed score by reconstruction.
        scorer=read_pickle(artifacts["scorer"])
        if "scorer" in artifacts
        else AnomalyScorer(),
        id_column=settings["id_column"],
        code_prefix=settings["code_prefix"],
        source=settings["source"],
        integer_features=tuple(settings.get("integer_features", ())),
    )


class _ArtifactUnpickler(pickle.Unpickler):
    """Finds classes pickled from modules that have moved since, where they are now."""

    def find_class(self, module: str, name: str) -> Any:
        """The class ``name``, looked up in the module's present home."""
        return super().find_class(MOVED_MODULES.get(module, module), name)


def read_pickle(path: str) -> Any:
    """A pickled artifact of this project, whichever release wrote it."""
    with Path(path).open("rb") as file:
        return _ArtifactUnpickler(file).load()  # this model's own artifact


def artifact_paths(folder: Path) -> dict[str, str]:
    """The paths of the files :func:`write_artifacts` writes into ``folder``."""
    return {name: str(folder / file) for name, file in ARTIFACT_FILES.items()}
