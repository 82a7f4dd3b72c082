"""One-class anomaly detection on 13 public tables: the project's SAE and baselines.

For each data set of :mod:`benchmarks.anomaly_data`, the table (its features
and a ``label`` column, ``normal`` or ``anomaly``) goes into a throwaway copy of
the project, and the project runs on it as a user would::

    kedro run --params "anomaly.normal_labels=[normal]"

with every other parameter at its default: the one-class protocol, where the
SAE trains on normal rows only and the test split holds the held-out normal
rows and every anomaly. That run scores the test split with the SAE and with
the baselines of its own evaluation (kNN, IsolationForest, PCA reconstruction;
whichever it reports). The benchmark adds a dense autoencoder on the same
normalised splits, which it reads back from the run: scikit-learn's
``MLPRegressor`` with hidden layers 64-32-64 fitted to reconstruct the training
rows, the row's mean squared reconstruction error as its score. That is PyOD's
default dense autoencoder (a 64-32 encoder and its mirror) without needing
PyTorch.

Each detector is judged by ROC-AUC and PR-AUC (average precision) on the test
split; the report gives them per data set and their mean, and counts the data
sets where the SAE beats each baseline (a tie: equal to three decimals).

Usage::

    python -m benchmarks.anomaly                # all 13 data sets
    python -m benchmarks.anomaly --scale smoke  # penguins and olive
    python -m benchmarks.anomaly --params anomaly.score=reconstruction --output F
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from kedro_datasets.json import JSONDataset
from kedro_datasets.pandas import ParquetDataset
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.neural_network import MLPRegressor

from benchmarks.anomaly_data import DATA_SETS, DataSet, load
from benchmarks.project import copy_project, load_newest, project_parameters
from benchmarks.results import arguments, write_section
from benchmarks.speed import machine
from sae_pipelines.inference.tables import feature_matrix
from sae_pipelines.parameters.groups import DataParams

RESULTS = Path(__file__).with_name("anomaly_results.md")
SCALES = {"full": tuple(DATA_SETS), "smoke": ("penguins", "olive")}
METRICS = {"roc_auc": "ROC-AUC", "pr_auc": "PR-AUC"}
SAE = "SAE"
DENSE_AE = "dense AE"
# The names of the run's baselines (score prefixes) in the report, in its order.
BASELINES = {"knn": "kNN", "iforest": "IsolationForest", "pca": "PCA"}
METRIC_KEY = re.compile(r"(?:(?P<baseline>\w+?)_)?anomaly_(?P<metric>roc_auc|pr_auc)")


@dataclass(frozen=True)
class Result:
    """One data set's size and its detectors' metrics.

    Attributes:
        name: The data set's name.
        rows: Its rows after preparation.
        features: Its feature columns.
        anomaly_share: The share of its rows that are anomalies.
        metrics: Per metric (``roc_auc``, ``pr_auc``), each detector's value.
    """

    name: str
    rows: int
    features: int
    anomaly_share: float
    metrics: dict[str, dict[str, float]]


def benchmark(data_set: DataSet, folder: Path, params: str = "") -> Result:
    """Run the project on ``data_set`` in ``folder`` and score the dense autoencoder.

    ``params`` are more ``kedro run --params``, e.g. ``anomaly.score=distance``.
    """
    features, anomalies = load(data_set)
    table = features.assign(label=np.where(anomalies, "anomaly", "normal"))
    project = copy_project(folder / data_set.name, raw_data=table)
    kedro_run(project, data_set.name, params)
    metrics = project_metrics(
        load_newest(JSONDataset, project / "data/08_reporting/evaluation_metrics.json")
    )
    for metric, value in dense_autoencoder_metrics(project).items():
        metrics[metric][DENSE_AE] = value
    return Result(
        data_set.name, len(features), features.shape[1], anomalies.mean(), metrics
    )


def kedro_run(project: Path, name: str, params: str = "") -> None:
    """``kedro run`` in ``project``, one-class, with its own MLflow store.

    Exits naming the data set, with the end of the run's log, when the run fails.
    """
    result = subprocess.run(
        [sys.executable, "-m", "kedro", "run"]
        + [
            "--params",
            ",".join(filter(None, ["anomaly.normal_labels=[normal]", params])),
        ],
        cwd=project,
        env=os.environ
        | {
            "MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlflow.db'}",
            "COLUMNS": "400",
        },
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        print(result.stderr[-3000:], file=sys.stderr)
        sys.exit(f"kedro run failed on data set {name}")


def project_metrics(evaluation: dict[str, float]) -> dict[str, dict[str, float]]:
    """The SAE's and the run's baselines' ROC-AUC and PR-AUC, from its ``evaluation``.

    The run's evaluation metrics hold ``anomaly_<metric>`` for the SAE and
    ``<baseline>_anomaly_<metric>`` for each baseline it computed.
    """
    metrics: dict[str, dict[str, float]] = {metric: {} for metric in METRICS}
    for key, value in evaluation.items():
        if match := METRIC_KEY.fullmatch(key):
            name = match["baseline"]
            detector = BASELINES.get(name, name) if name else SAE
            metrics[match["metric"]][detector] = value
    return metrics


def dense_autoencoder_metrics(project: Path) -> dict[str, float]:
    """ROC-AUC and PR-AUC of a dense autoencoder on the run's normalised splits.

    Fitted on the training split with the run's seed; each test row's score is
    its mean squared reconstruction error.
    """
    parameters = project_parameters(project)
    data_params = DataParams.model_validate(parameters["data"])
    train, test = (
        load_newest(
            ParquetDataset, project / f"data/05_model_input/model_input_{split}.parquet"
        )
        for split in ("train", "test")
    )
    x_train, x_test = (
        feature_matrix(train, data_params),
        feature_matrix(test, data_params),
    )
    model = MLPRegressor(
        hidden_layer_sizes=(64, 32, 64),
        max_iter=200,
        random_state=parameters["evaluation"]["seed"],
    )
    with warnings.catch_warnings():
        # Stopping at max_iter, as PyOD's fixed epoch budget does, is intended.
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x_train, x_train)
    score = ((model.predict(x_test) - x_test) ** 2).mean(axis=1)
    truth = test[data_params.label_column].to_numpy() == "anomaly"
    return {
        "roc_auc": float(roc_auc_score(truth, score)),
        "pr_auc": float(average_precision_score(truth, score)),
    }


# Report ----------------------------------------------------------------------------


def report(results: list[Result], scale: str, seconds: float, params: str = "") -> str:
    """The Markdown section: one table per metric, then the SAE's wins and losses."""
    detectors = _detectors(results)
    settings = f"`--params {params}`" if params else "default parameters"
    lines = [
        f"# Anomaly benchmark ({scale})",
        "",
        f"Machine: {machine()}",
        "",
        f"One-class protocol, {len(results)} data sets (benchmarks/anomaly_data.py), "
        f"one `kedro run` each with {settings}: {seconds / 60:.1f} min in all. "
        "Anomalies: their share of the rows, all of them in the test split.",
    ]
    for metric, title in METRICS.items():
        lines += ["", f"## {title}", "", *_table(results, detectors, metric), ""]
        lines += [_wins(results, baseline, metric) for baseline in detectors[1:]]
    return "\n".join(lines) + "\n"


def _detectors(results: list[Result]) -> list[str]:
    found = results[0].metrics["roc_auc"]
    order = [SAE, *BASELINES.values()]
    others = sorted(set(found) - {*order, DENSE_AE})
    return [name for name in order if name in found] + others + [DENSE_AE]


def _table(results: list[Result], detectors: list[str], metric: str) -> list[str]:
    header = ["data set", "rows", "features", "anomalies", *detectors]
    lines = [_row(header), _row(["---"] + ["--:"] * (len(header) - 1))]
    for result in results:
        values = [f"{result.metrics[metric][name]:.3f}" for name in detectors]
        size = [f"{result.rows:,}", str(result.features), f"{result.anomaly_share:.0%}"]
        lines.append(_row([result.name, *size, *values]))
    means = [
        np.mean([result.metrics[metric][name] for result in results])
        for name in detectors
    ]
    lines.append(_row(["mean", "", "", "", *(f"{mean:.4f}" for mean in means)]))
    return lines


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _wins(results: list[Result], baseline: str, metric: str) -> str:
    differences = [
        round(result.metrics[metric][SAE], 3)
        - round(result.metrics[metric][baseline], 3)
        for result in results
    ]
    wins = sum(difference > 0 for difference in differences)
    losses = sum(difference < 0 for difference in differences)
    ties = len(differences) - wins - losses
    return (
        f"SAE vs {baseline}: {_count(wins, 'win')}, {_count(losses, 'loss')}, "
        f"{_count(ties, 'tie')}"
    )


def _count(number: int, word: str) -> str:
    plural = "es" if word.endswith("s") else "s"
    return f"{number} {word}{'' if number == 1 else plural}"


def main() -> None:
    """Run every data set of the scale, print the report and write it to ``--output``."""
    args = arguments(__doc__.splitlines()[0], SCALES, output=RESULTS, params=True)
    results = []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        for name in SCALES[args.scale]:
            data_set_start = time.perf_counter()
            result = benchmark(DATA_SETS[name], Path(folder), args.params)
            results.append(result)
            print(
                f"{name}: {result.rows:,} rows × {result.features} features, "
                f"{time.perf_counter() - data_set_start:.0f} s, SAE ROC-AUC "
                f"{result.metrics['roc_auc'][SAE]:.3f}",
                file=sys.stderr,
            )
    section = report(results, args.scale, time.perf_counter() - start, args.params)
    print(section)
    write_section(section, args.output)


if __name__ == "__main__":
    main()
