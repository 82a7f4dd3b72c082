"""The MLflow Model Registry side of the project: which model version is meant.

Training registers each model it logs; the alias ``production`` names the
version that batch extraction uses unless told otherwise.
"""

from __future__ import annotations

import mlflow
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from sae_pipelines.runtime.errors import InputError

PRODUCTION_ALIAS = "production"


class UnknownModelVersionError(InputError, LookupError):
    """The alias or version does not exist; the message lists those that do."""


def describe_versions(client: mlflow.MlflowClient, name: str) -> str:
    """``version 1 (production), version 2, …`` for an error message."""
    versions = client.search_model_versions(f"name = '{name}'")
    if not versions:
        return f"registered model '{name}' has no versions (run `kedro run` first)"
    aliases_by_version: dict[str, list[str]] = {}
    for alias, version in client.get_registered_model(name).aliases.items():
        aliases_by_version.setdefault(str(version), []).append(alias)
    parts = []
    for version in sorted(versions, key=lambda v: int(v.version)):
        aliases = aliases_by_version.get(str(version.version))
        suffix = f" ({', '.join(sorted(aliases))})" if aliases else ""
        parts.append(f"version {version.version}{suffix}")
    return f"registered model '{name}' has " + ", ".join(parts)


def find_version(
    client: mlflow.MlflowClient, name: str, alias: str | None, version: str | None
) -> ModelVersion:
    """The model version named by ``version``, else by ``alias``.

    Raises:
        UnknownModelVersionError: It does not exist; the message lists what does.
    """
    try:
        if version is not None:
            return client.get_model_version(name, str(version))
        return client.get_model_version_by_alias(name, alias or PRODUCTION_ALIAS)
    except MlflowException as error:
        wanted = f"version {version}" if version is not None else f"alias '{alias}'"
        msg = f"No {wanted} of model '{name}': {describe_versions(client, name)}"
        raise UnknownModelVersionError(msg) from error


def move_alias(
    client: mlflow.MlflowClient, name: str, version: str, alias: str = PRODUCTION_ALIAS
) -> None:
    """Point ``alias`` at ``version`` of model ``name``.

    Raises:
        UnknownModelVersionError: That version does not exist.
    """
    find_version(client, name, alias=None, version=version)
    client.set_registered_model_alias(name, alias, str(version))
