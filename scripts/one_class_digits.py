"""One-class anomaly detection on digits: each digit in turn is the normal class.

Runs ``kedro run --params anomaly.normal_labels=[c]`` for c = 0 … 9 in this project
and prints the SAE's and the baselines' (kNN, PCA, IsolationForest) ROC-AUC of
each run, read back from MLflow, with their means. Usage: ``python scripts/one_class_digits.py``.
"""

import os
import subprocess
import sys

import mlflow
import pandas as pd

SCORES = (
    "anomaly_roc_auc",
    "knn_anomaly_roc_auc",
    "pca_anomaly_roc_auc",
    "iforest_anomaly_roc_auc",
)


def run_one_class(digit: int) -> dict[str, float]:
    """Run the project with ``digit`` as the normal class; return its ROC-AUCs."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "kedro",
            "run",
            "--params",
            f"anomaly.normal_labels=[{digit}]",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        sys.exit(f"kedro run failed for digit {digit}:\n{result.stderr[-3000:]}")
    run = mlflow.search_runs(
        experiment_names=["sae_pipelines"],
        order_by=["start_time DESC"],
        max_results=1,
        output_format="list",
    )[0]
    return {"normal digit": digit} | {name: run.data.metrics[name] for name in SCORES}


def main() -> None:
    """Run the ten one-class problems and print the table."""
    mlflow.set_tracking_uri(
        os.environ.get("MLFLOW_TRACKING_URI", "sqlite:///mlflow.db")
    )
    table = pd.DataFrame([run_one_class(digit) for digit in range(10)])
    table = table.set_index("normal digit")
    table.loc["mean"] = table.mean()
    print(table.round(4).to_string())


if __name__ == "__main__":
    main()
