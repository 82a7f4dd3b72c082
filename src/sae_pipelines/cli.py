"""Project commands of the ``kedro`` CLI: ``run``, ``promote``, ``reproduce`` and more.

``rebuild-checkpoint`` writes batch extraction's checkpoint afresh from its
committed output files, when it is damaged.

``run`` is Kedro's own, with these differences: an error the user caused (an
:class:`~sae_pipelines.runtime.errors.InputError`, or a file that cannot be found or
read) ends the run with its message as the last line, without a traceback.
``SAE_PIPELINES_TRACEBACK=1`` shows the traceback of those too; a bug always
shows it. Ctrl+C and SIGTERM end the MLflow run KILLED (exit status 130 and 143)
and a tracking server that stops answering ends the run within a minute, naming
its URI; either way the run keeps no file versions (see ``RunVersionsHooks``),
only a fit's epoch backup, which the same command resumes from.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sae_pipelines.runtime.startup import starting_up

# Kedro may load these commands before settings.py: the project starts here too.
with starting_up():
    import click
    import mlflow
    import pandas as pd
    import pyarrow as pa
    from kedro.framework.cli.project import run as kedro_run
    from kedro.framework.context import KedroContext
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project
    from kedro.io import DataCatalog, DatasetError
    from mlflow.entities import RunStatus
    from mlflow.exceptions import MlflowException
    from rich.console import Console
    from rich.table import Table

    from sae_pipelines.batch.lock import OUTPUT_DATASET, take_lock
    from sae_pipelines.runtime.errors import InputError
    from sae_pipelines.runtime.interrupt import interruption, interrupts_as_errors
    from sae_pipelines.runtime.storage import storage_options
    from sae_pipelines.tracking.mlflow_run import limit_http_retries, lost_server
    from sae_pipelines.tracking.provenance import installed_packages
    from sae_pipelines.tracking.recorded_run import (
        CannotReproduceError,
        blocking_problems,
        fetch_missing_inputs,
        load_recorded_run,
        warnings_for,
    )
    from sae_pipelines.tracking.registry import (
        PRODUCTION_ALIAS,
        UnknownModelVersionError,
        move_alias,
    )
    from sae_pipelines.tracking.reproduce import (
        REPRODUCES_TAG,
        Reproduction,
        run_reproduction,
    )


if TYPE_CHECKING:
    from sae_pipelines.batch.partitions import ExtractedPartitionsDataset

ENV_OPTION = click.option(
    "--env", "-e", default=None, help="Kedro configuration environment."
)
TRACEBACK_VARIABLE = "SAE_PIPELINES_TRACEBACK"
# Causes of a catalog's DatasetError that mean a file is missing or unreadable.
UNREADABLE_FILE = (
    OSError,
    UnicodeDecodeError,
    pd.errors.ParserError,
    pd.errors.EmptyDataError,
    pa.ArrowInvalid,
)
# Where a Kedro dataset's description names its file, e.g. CSVDataset(filepath=…).
DATASET_PATH = re.compile(r"\b(?:filepath|path)=(?:Pure\w*Path\()?'([^']+)'")


@click.group(name="sae_pipelines")
def cli() -> None:
    """Commands of the sae_pipelines project."""


@cli.command(
    name="run",
    params=list(kedro_run.params),
    help=f"{kedro_run.help} Bad input ends it with one message, without a "
    f"traceback; {TRACEBACK_VARIABLE}=1 shows the traceback too.",
)
def run(**options: Any) -> None:
    """Kedro's ``run``, ending an error the user caused with its message."""
    limit_http_retries()
    try:
        with interrupts_as_errors():
            assert kedro_run.callback is not None  # a command's own function
            kedro_run.callback(**options)
    except Exception as error:
        if interrupted := interruption(error):
            _end_active_runs(RunStatus.KILLED)
            raise Interrupted(interrupted) from None
        _end_active_runs(RunStatus.FAILED)
        cause = input_error(error) or lost_server(error, mlflow.get_tracking_uri())
        if cause is None or os.environ.get(TRACEBACK_VARIABLE, "") not in ("", "0"):
            raise
        raise click.ClickException(one_line(cause)) from None


class Interrupted(click.ClickException):
    """Ends an interrupted run: one line, and the shell's status for the signal."""

    def __init__(self, interrupted: BaseException) -> None:
        super().__init__(
            f"{interrupted}: the MLflow run is marked KILLED and no file version "
            "of this run is kept; a fit cut short resumes when the same command "
            "runs again"
        )
        # click types exit_code as a class variable; click reads the instance's.
        self.exit_code = getattr(interrupted, "exit_status", 1)  # type: ignore[misc]


def _end_active_runs(status: int) -> None:
    """End the MLflow run still active, if any (the failure came before the hooks')."""
    if mlflow.active_run() is not None:
        with contextlib.suppress(MlflowException):  # the server may be gone
            mlflow.end_run(RunStatus.to_string(status))


def one_line(error: BaseException) -> str:
    """The message of an error the user caused, naming the file it could not read.

    Kedro words a dataset's failure as two lines, the dataset and then the
    cause; the cause alone often does not say which file (a codec's message
    does not). A file that cannot be read becomes ``<path>: <cause>``.
    """
    if not is_unreadable_file(error):
        return str(error)
    cause = error.__cause__
    reason = " ".join(str(cause).split())
    if isinstance(cause, FileNotFoundError) and cause.strerror is None:
        reason = f"No such file: {reason}"  # fsspec's holds only the path
    if isinstance(cause, UnicodeDecodeError):
        reason += (
            "; save the file as UTF-8, or name its encoding in the catalog "
            "(load_args: {encoding: latin-1})"
        )
    found = DATASET_PATH.search(str(error))
    if found is None or found.group(1) in reason:
        return reason
    return f"{found.group(1)}: {reason}"


def input_error(error: BaseException) -> BaseException | None:
    """The error the user caused behind ``error``, or ``None`` for a bug.

    That is an :class:`InputError` anywhere in its chain of causes (Kedro wraps
    what a dataset raises in a ``DatasetError``), or a ``DatasetError`` caused
    by a file that is missing or cannot be parsed.
    """
    current: BaseException | None = error
    while current is not None:
        if isinstance(current, InputError):
            return current
        if is_unreadable_file(current):
            return current
        current = current.__cause__
    return None


def is_unreadable_file(error: BaseException) -> bool:
    """Whether ``error`` is a catalog's failure to read a missing or bad file."""
    return isinstance(error, DatasetError) and isinstance(
        error.__cause__, UNREADABLE_FILE
    )


def _project_context(env: str | None) -> KedroContext:
    """The project's context; loading it points MLflow at the tracking store."""
    bootstrap_project(Path.cwd())
    session = KedroSession.create(project_path=Path.cwd(), env=env)
    with session:  # typed as the base session, without load_context
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
    the project's files hold now; a data version missing here is fetched
    from the run's snapshot in the artifact store. Exits with status 1 when the
    run cannot be repeated (the reasons are listed) or when a metric or the
    model differs.
    """
    try:
        # The project's catalog is a DataCatalog (settings.py names no other).
        catalog = cast("DataCatalog", _project_context(env).catalog)
        client = mlflow.MlflowClient()
        recorded = load_recorded_run(client, run_id)
        storage = {
            name: _storage_options(catalog, name) for name in recorded.input_versions()
        }
        if problems := blocking_problems(recorded, Path.cwd(), storage):
            reasons = "\n  - ".join(problems)
            raise CannotReproduceError(
                f"run {run_id} cannot be repeated:\n  - {reasons}"
            )
        for warning in warnings_for(recorded, installed_packages()):
            click.secho(f"Warning: {warning}", fg="yellow", err=True)
        fetch_missing_inputs(recorded, Path.cwd(), storage)
        with tempfile.TemporaryDirectory(prefix="sae-reproduce-") as workspace:
            outcome = run_reproduction(recorded, Path.cwd(), client, Path(workspace))
    except InputError as error:  # the run cannot be repeated, or the server is down
        raise click.ClickException(str(error)) from error
    _print_comparison(outcome)
    if not outcome.matches:
        raise click.exceptions.Exit(1)


def _storage_options(catalog: DataCatalog, name: str) -> dict[str, Any]:
    """A dataset's storage options from its catalog entry (credentials resolved).

    A wrapping dataset's (``CachedDataset``) are its wrapped dataset's.
    """
    config = catalog.config_resolver.resolve_pattern(name)
    wrapped = config.get("dataset")
    if isinstance(wrapped, dict) and "filepath" not in config:
        config = wrapped
    credentials = config.get("credentials")
    return storage_options(
        credentials if isinstance(credentials, dict) else None, config.get("fs_args")
    )


@cli.command(name="rebuild-checkpoint")
@ENV_OPTION
def rebuild_checkpoint(env: str | None) -> None:
    """Write batch extraction's _checkpoint.json afresh from its output files.

    For a checkpoint that is damaged: every committed ``<name>.parquet`` is
    recorded with the rows, anomaly rate and mean L0 read from it, and its
    input file as found in the incoming folder now. The old checkpoint is
    kept as ``_checkpoint.json.old``.
    """
    catalog = _project_context(env).catalog
    # The catalog cannot type its entries: the YAML says which class this is.
    output = cast("ExtractedPartitionsDataset", catalog.get(OUTPUT_DATASET))
    try:
        incoming = catalog.load("incoming_partitions")
        lock = take_lock(output.location, output.lock_ttl_s)
    except (InputError, DatasetError) as error:
        raise click.ClickException(one_line(input_error(error) or error)) from error
    try:
        checkpoint = output.rebuild_checkpoint(incoming)
    finally:
        lock.release()
    rows = sum(record["rows"] for record in checkpoint.values())
    click.echo(
        f"{output.checkpoint_location}: {len(checkpoint)} partitions ({rows} rows) "
        "recorded from their output files"
    )


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
