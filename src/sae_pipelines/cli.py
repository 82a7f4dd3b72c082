"""Project commands added to the ``kedro`` CLI: ``promote`` and ``reproduce``."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click
import mlflow
from kedro.framework.context import KedroContext
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from rich.console import Console
from rich.table import Table

from sae_pipelines.provenance import installed_packages
from sae_pipelines.registry import (
    PRODUCTION_ALIAS,
    UnknownModelVersionError,
    move_alias,
)
from sae_pipelines.reproduce import (
    REPRODUCES_TAG,
    CannotReproduceError,
    Reproduction,
    blocking_problems,
    load_recorded_run,
    run_reproduction,
    warnings_for,
)

ENV_OPTION = click.option(
    "--env", "-e", default=None, help="Kedro configuration environment."
)


@click.group(name="sae_pipelines")
def cli() -> None:
    """Commands of the sae_pipelines project."""


def _project_context(env: str | None) -> KedroContext:
    """The project's context; loading it points MLflow at the tracking store."""
    bootstrap_project(Path.cwd())
    with KedroSession.create(project_path=Path.cwd(), env=env) as session:
        return session.load_context()  # kedro-mlflow sets the tracking URI here


@cli.command()
@click.option("--version", "version", required=True, help="Model version to point at.")
@click.option("--alias", default=PRODUCTION_ALIAS, show_default=True)
@ENV_OPTION
def promote(version: str, alias: str, env: str | None) -> None:
    """Move a registry alias (default ``production``) to a model version."""
    name = _project_context(env).config_loader["globals"]["registered_model_name"]
    try:
        move_alias(mlflow.MlflowClient(), name, version, alias)
    except UnknownModelVersionError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"'{alias}' now points at version {version} of model '{name}'")


@cli.command()
@click.option("--run-id", required=True, help="MLflow run id of the run to repeat.")
@ENV_OPTION
def reproduce(run_id: str, env: str | None) -> None:
    """Repeat a run by its MLflow run id and compare every metric with it.

    The run's commit, resolved parameters and data versions are used, whatever
    the project's files hold now. Exits with status 1 when the run cannot be
    repeated (the reasons are listed) or when a metric or the model differs.
    """
    _project_context(env)
    client = mlflow.MlflowClient()
    try:
        recorded = load_recorded_run(client, run_id)
        if problems := blocking_problems(recorded, Path.cwd()):
            reasons = "\n  - ".join(problems)
            raise CannotReproduceError(
                f"run {run_id} cannot be repeated:\n  - {reasons}"
            )
        for warning in warnings_for(recorded, installed_packages()):
            click.secho(f"Warning: {warning}", fg="yellow", err=True)
        with tempfile.TemporaryDirectory(prefix="sae-reproduce-") as workspace:
            outcome = run_reproduction(recorded, Path.cwd(), client, Path(workspace))
    except CannotReproduceError as error:
        raise click.ClickException(str(error)) from error
    _print_comparison(outcome)
    if not outcome.matches:
        raise click.exceptions.Exit(1)


def _print_comparison(outcome: Reproduction) -> None:
    table = Table(
        title=f"Run {outcome.original_run_id} (original) vs "
        f"{outcome.reproduced_run_id} (reproduced)"
    )
    for column in ("metric", "original", "reproduced", "match"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for metric in outcome.metrics:
        table.add_row(
            metric.name,
            repr(metric.original),
            repr(metric.reproduced),
            "yes" if metric.matches else "NO",
        )
    console = Console()
    console.print(table)
    weights = {True: "identical", False: "DIFFERENT", None: "not compared (file gone)"}
    console.print(f"Model weights: {weights[outcome.weights_match]}")
    mismatches = sum(not metric.matches for metric in outcome.metrics)
    verdict = (
        "reproduced exactly"
        if outcome.matches
        else f"NOT reproduced: {mismatches} metrics differ"
    )
    console.print(
        f"{verdict}; the new run is tagged {REPRODUCES_TAG}={outcome.original_run_id}"
    )
