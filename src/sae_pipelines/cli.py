"""Project commands added to the ``kedro`` CLI (``kedro promote``)."""

from __future__ import annotations

from pathlib import Path

import click
import mlflow
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from sae_pipelines.registry import (
    PRODUCTION_ALIAS,
    UnknownModelVersionError,
    move_alias,
)


@click.group(name="sae_pipelines")
def cli() -> None:
    """Commands of the sae_pipelines project."""


@cli.command()
@click.option("--version", "version", required=True, help="Model version to point at.")
@click.option("--alias", default=PRODUCTION_ALIAS, show_default=True)
@click.option("--env", "-e", default=None, help="Kedro configuration environment.")
def promote(version: str, alias: str, env: str | None) -> None:
    """Move a registry alias (default ``production``) to a model version."""
    bootstrap_project(Path.cwd())
    with KedroSession.create(project_path=Path.cwd(), env=env) as session:
        context = session.load_context()  # kedro-mlflow sets the tracking URI here
        name = context.config_loader["globals"]["registered_model_name"]
    try:
        move_alias(mlflow.MlflowClient(), name, version, alias)
    except UnknownModelVersionError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"'{alias}' now points at version {version} of model '{name}'")
