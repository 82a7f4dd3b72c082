"""Write the results tables of the documentation site from the runs that gave them.

Each table sits between ``<!-- NAME start -->`` and ``<!-- NAME end -->`` in
its page under docs/results/ (``PAGES`` maps each block to its page), and is
rendered from a run's outputs alone, so the committed figures are exactly what
that run gave. The digits table of docs/results/evaluation.md comes from a
default ``kedro run``'s MLflow metrics::

    kedro run && python -m scripts.docs_figures   # rewrite the table
    python -m scripts.docs_figures --check        # exit 1 and print what differs
    python -m scripts.docs_figures --run-id ID    # another run than the latest

``--repeats NAME`` instead copies the newest ``repeats_table.md`` of
data/08_reporting into docs/results/repeats.md's ``repeats:NAME`` block, and
``--frontier`` writes the newest ``sparsity_frontier_metrics.json`` into
docs/results/frontier.md's ``frontier:digits`` block; run each right after its
pipeline::

    kedro run --pipelines repeats && python -m scripts.docs_figures --repeats digits
    kedro run --env mnist --pipelines repeats
    python -m scripts.docs_figures --repeats mnist
    kedro run --pipelines sparsity_frontier && python -m scripts.docs_figures --frontier

By default the run is the latest finished run of the ``sae_pipelines`` experiment
that ran the default pipelines with conf/base's parameters, in the store
``MLFLOW_TRACKING_URI`` names (``sqlite:///mlflow.db`` when unset).
"""

from __future__ import annotations

import argparse
import difflib
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

import mlflow
import yaml
from kedro.io import AbstractVersionedDataset, DatasetError
from kedro_datasets.json import JSONDataset
from kedro_datasets.text import TextDataset

from benchmarks.project import load_newest, project_parameters
from benchmarks.results import markdown_table
from sae_pipelines.tracking.provenance import PARAMETERS_ARTIFACT

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RESULTS = PROJECT_ROOT / "docs/results"
EVALUATION_PAGE = RESULTS / "evaluation.md"
REPEATS_PAGE = RESULTS / "repeats.md"
FRONTIER_PAGE = RESULTS / "frontier.md"
REPEATS_TABLES = PROJECT_ROOT / "data/08_reporting/repeats_table.md"
FRONTIER_METRICS = PROJECT_ROOT / "data/08_reporting/sparsity_frontier_metrics.json"
# The frontier table's order: methods as in the parameters file, each by its L0.
FRONTIER_METHODS = ("topk", "batchtopk", "l1", "jumprelu")
# How the table names each grid's setting.
FRONTIER_SETTINGS = {"k": "k", "weight": "λ", "target_l0": "target L0"}
FRONTIER_HEADER = (
    "method",
    "setting",
    "test L0",
    "test FVU",
    "PCA FVU (⌈L0⌉)",
    "probe accuracy",
)
EXPERIMENT = "sae_pipelines"
DIGITS_BLOCK = "figures:digits"


def digits_table(metrics: dict[str, float]) -> str:
    """The results table of a default digits run, with the side ahead on each row.

    Args:
        metrics: The run's MLflow metrics.

    Returns:
        Markdown: the table, then a sentence naming the rows the SAE loses.
    """
    pca = f"PCA-{math.ceil(metrics['test_l0'])}"
    m = {name: f"{value:.3f}" for name, value in metrics.items()}
    rows = [
        (
            "probe accuracy",
            m["probe_accuracy"],
            f"raw {m['probe_accuracy_raw']}, {pca} {m['probe_accuracy_pca']}",
            _ahead(
                metrics["probe_accuracy"],
                {
                    "raw inputs": metrics["probe_accuracy_raw"],
                    pca: metrics["probe_accuracy_pca"],
                },
            ),
        ),
        (
            "k-means NMI",
            m["cluster_nmi"],
            f"raw {m['cluster_nmi_raw']}",
            _ahead(metrics["cluster_nmi"], {"raw inputs": metrics["cluster_nmi_raw"]}),
        ),
        (
            "test FVU (lower is better)",
            m["test_fvu"],
            f"{pca} {m['pca_test_fvu']}",
            _ahead(-metrics["test_fvu"], {pca: -metrics["pca_test_fvu"]}),
        ),
        (
            "accuracy with 10 % labels",
            m["pretrained_accuracy"],
            f"from scratch {m['scratch_accuracy']}",
            _ahead(
                metrics["pretrained_accuracy"],
                {"from scratch": metrics["scratch_accuracy"]},
            ),
        ),
    ]
    lines = [
        "| metric | SAE | baseline | ahead |",
        "| --- | --- | --- | --- |",
        *(f"| {' | '.join(row)} |" for row in rows),
    ]
    behind = [f"{row[0]} ({row[3]})" for row in rows if row[3] != "SAE"]
    summary = (
        "The SAE is not ahead on: " + "; ".join(behind) + "."
        if behind
        else "The SAE is ahead of every baseline."
    )
    return "\n".join([*lines, "", summary])


def _ahead(sae: float, baselines: dict[str, float]) -> str:
    """``SAE``, the best baseline's name, or ``tie``, as the rounded figures read."""
    best = max(baselines, key=baselines.__getitem__)
    sae, top = round(sae, 3), round(baselines[best], 3)
    return "SAE" if sae > top else best if top > sae else "tie"


def committed_table(page: str, block: str = DIGITS_BLOCK) -> str:
    """The text between ``block``'s markers in the page's text ``page``."""
    start, end = _between_markers(page, block)
    return page[start:end].strip("\n")


def with_table(page: str, table: str, block: str = DIGITS_BLOCK) -> str:
    """``page`` with the text between ``block``'s markers replaced by ``table``."""
    start, end = _between_markers(page, block)
    return f"{page[:start]}\n{table}\n{page[end:]}"


def _between_markers(page: str, block: str) -> tuple[int, int]:
    """Where the text between ``<!-- block start -->`` and its end marker lies.

    Raises:
        ValueError: The markers are missing.
    """
    opening, closing = f"<!-- {block} start -->", f"<!-- {block} end -->"
    start, end = page.find(opening), page.find(closing)
    if start < 0 or end < start:
        msg = f"the page has no '{opening}' … '{closing}' block"
        raise ValueError(msg)
    return start + len(opening), end


def table_difference(page: str, table: str, block: str = DIGITS_BLOCK) -> str:
    """A unified diff from the committed table to ``table``; empty when equal."""
    return "\n".join(
        difflib.unified_diff(
            committed_table(page, block).splitlines(),
            table.splitlines(),
            _shown(EVALUATION_PAGE),
            "from the run",
            lineterm="",
        )
    )


def latest_default_run(client: mlflow.MlflowClient) -> mlflow.entities.Run:
    """The latest finished run of the default pipelines with the project's parameters.

    Raises:
        SystemExit: The experiment holds no such run.
    """
    experiment = client.get_experiment_by_name(EXPERIMENT)
    runs = (
        client.search_runs(
            [experiment.experiment_id],
            filter_string=(
                "attributes.status = 'FINISHED' and "
                f"tags.kedro_pipelines = '{json.dumps(['__default__'])}'"
            ),
            order_by=["attributes.start_time DESC"],
        )
        if experiment
        else []
    )
    parameters = project_parameters()
    for run in runs:
        recorded = mlflow.artifacts.load_text(
            f"runs:/{run.info.run_id}/{PARAMETERS_ARTIFACT}"
        )
        if yaml.safe_load(recorded) == parameters:
            return run
    sys.exit(
        f"No finished default `kedro run` in experiment '{EXPERIMENT}' at "
        f"{mlflow.get_tracking_uri()}: run `kedro run` first, or pass --run-id."
    )


def newest_version(
    dataset_type: type[AbstractVersionedDataset], path: Path, pipeline: str
) -> Any:
    """The newest version of the versioned file ``path``, loaded as Kedro does.

    Raises:
        SystemExit: No run of ``pipeline`` has written one here.
    """
    try:
        return load_newest(dataset_type, path)
    except DatasetError:
        sys.exit(f"No {path}: run `kedro run --pipelines {pipeline}` first.")


def _shown(page: Path) -> str:
    """The page's path as the messages name it: from the project root."""
    try:
        return page.relative_to(PROJECT_ROOT).as_posix()
    except ValueError:
        return str(page)


def write_table(page: Path, table: str, block: str) -> None:
    """Replace the text of ``block`` in ``page`` by ``table``.

    Raises:
        ValueError: The page has no such block (the page is named).
    """
    try:
        page.write_text(with_table(page.read_text(), table, block))
    except ValueError as error:
        msg = f"{_shown(page)}: {error}"
        raise ValueError(msg) from None


def write_repeats_table(name: str) -> None:
    """Copy the newest repeats table into the repeats page's ``repeats:name`` block."""
    block = f"repeats:{name}"
    table = newest_version(TextDataset, REPEATS_TABLES, "repeats").strip("\n")
    write_table(REPEATS_PAGE, table, block)
    print(
        f"{_shown(REPEATS_PAGE)}'s {block} table written from the newest repeats run."
    )


def frontier_table(points: list[dict]) -> str:
    """The frontier's points as the frontier page's Markdown table.

    Args:
        points: ``sparsity_frontier_metrics.json``'s ``points``.
    """
    ordered = sorted(
        points, key=lambda p: (FRONTIER_METHODS.index(p["method"]), p["test_l0"])
    )
    rows = [
        (
            point["method"],
            f"{FRONTIER_SETTINGS[point['setting']]}={point['value']:g}",
            f"{point['test_l0']:.1f}",
            f"{point['test_fvu']:.3f}",
            f"{point['pca_test_fvu']:.3f}",
            f"{point['probe_accuracy']:.3f}",
        )
        for point in ordered
    ]
    return "\n".join(markdown_table(FRONTIER_HEADER, rows))


def write_frontier_table() -> None:
    """Write the newest frontier's points into the frontier page's block."""
    metrics = newest_version(JSONDataset, FRONTIER_METRICS, "sparsity_frontier")
    table = frontier_table(metrics["points"])
    write_table(FRONTIER_PAGE, table, "frontier:digits")
    print(
        f"{_shown(FRONTIER_PAGE)}'s frontier:digits table written from the newest "
        "frontier run."
    )


def main() -> None:
    """Rewrite or check the digits table, or write a repeats or frontier table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-id", help="the MLflow run (default: the latest)")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the evaluation page differs"
    )
    parser.add_argument(
        "--repeats", metavar="NAME", help="write the newest repeats table instead"
    )
    parser.add_argument(
        "--frontier", action="store_true", help="write the newest frontier table"
    )
    args = parser.parse_args()
    if args.repeats:
        write_repeats_table(args.repeats)
        return
    if args.frontier:
        write_frontier_table()
        return
    mlflow.set_tracking_uri(
        os.environ.get("MLFLOW_TRACKING_URI", "sqlite:///mlflow.db")
    )
    client = mlflow.MlflowClient()
    run = client.get_run(args.run_id) if args.run_id else latest_default_run(client)
    table = digits_table(run.data.metrics)
    page = _shown(EVALUATION_PAGE)
    if args.check:
        difference = table_difference(EVALUATION_PAGE.read_text(), table)
        if difference:
            print(difference)
            sys.exit(
                f"{page}'s digits table differs from run {run.info.run_id}: "
                "run `python -m scripts.docs_figures` to rewrite it."
            )
        print(f"{page}'s digits table matches run {run.info.run_id}.")
        return
    write_table(EVALUATION_PAGE, table, DIGITS_BLOCK)
    print(f"{page}'s digits table written from run {run.info.run_id}.")


if __name__ == "__main__":
    main()
