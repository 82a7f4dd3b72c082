"""The benchmark commands run; their figures are not asserted (see benchmarks/),
but for one that shows whether the anomaly score works at all."""

import subprocess
import sys

import pytest

from benchmarks.project import project_parameters
from tests.project_runs import PROJECT_ROOT

pytestmark = pytest.mark.slow


def run_at_smoke_scale(benchmark, *arguments):
    """Run ``python -m benchmarks.<benchmark> --scale smoke``; return its stdout."""
    result = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{benchmark}", "--scale", "smoke"]
        + [str(argument) for argument in arguments],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_speed_benchmark_runs_at_smoke_scale(tmp_path):
    output = tmp_path / "results.md"
    run_at_smoke_scale("speed", "--output", output)
    table = output.read_text()
    assert table.startswith("# Speed benchmark (smoke)")
    assert "Machine: " in table
    for measure in (
        "time to val MSE",
        "training throughput",
        "matmul",
        "cost of AuxK per step",
        "cost of the unit-norm projection per step",
        "jumprelu",
        "extraction, 5,000 × 784",
        "with anomaly scores",
        "in-memory limit",
        "pipeline overhead",
    ):
        assert measure in table
    assert table.count("\n| ") == 14  # header, rule, 12 measures


def test_training_floor_runs_at_smoke_scale():
    stdout = run_at_smoke_scale("training_floor")
    rows = [line for line in stdout.splitlines() if line.startswith("| ")]
    measures = [row.split(" | ")[0].removeprefix("| ") for row in rows[2:]]
    assert measures == [
        "dense float32 matmul",
        "the step's five matrix products alone, batch 64",
        "TopK (k = 28 of 256) alone, batch 64",
        "minimal TensorFlow training step, batch 64",
        "minimal TensorFlow training step, batch 128",
        "the project's training (fit_sparse_autoencoder), batch 64",
    ]
    assert all("GFLOP/s" in row for row in rows[2:] if "TopK" not in row)


def test_spark_benchmark_runs_at_smoke_scale(tmp_path):
    output = tmp_path / "results.md"
    output.write_text("# Speed benchmark (full)\n\nkept\n")
    run_at_smoke_scale("spark_extraction", "--output", output)
    speed, spark = output.read_text().split("\n# ")
    assert speed == "# Speed benchmark (full)\n\nkept\n"  # other sections stay
    assert spark.startswith("Spark engine benchmark, after issue 34 (smoke)")
    engines = [
        line.split(" | ")[1] for line in spark.splitlines() if "10,000 × 64 |" in line
    ]
    assert engines[:3] == ["pandas", "Spark local[2]", "Spark standalone cluster"]
    assert "| 20,000 × 64 |" in spark  # driver memory at a second size
    for way in (
        "reads with pyarrow",
        "`mlflow.pyfunc.spark_udf`",
        "pyarrow read alone",
        "parquet reader",
    ):
        assert way in spark


def test_anomaly_benchmark_runs_at_smoke_scale(tmp_path):
    output = tmp_path / "anomaly_results.md"
    run_at_smoke_scale("anomaly", "--output", output)
    section = output.read_text()
    assert section.startswith("# Anomaly benchmark (smoke)")
    assert "Machine: " in section
    roc_auc, pr_auc = section.split("## ROC-AUC")[1].split("## PR-AUC")
    for table in (roc_auc, pr_auc):
        header, rows = _metric_table(table)
        assert header[0] == "SAE" and header[-1] == "dense AE"
        assert {"IsolationForest", "PCA"} <= set(header)  # kNN: when the run has it
        assert list(rows) == ["penguins", "olive", "mean"]
        for values in rows.values():
            assert len(values) == len(header)
            assert all(0 < value <= 1 for value in values)
        for baseline in header[1:]:
            counts = table.split(f"\nSAE vs {baseline}: ")[1].splitlines()[0]
            assert sum(int(count.split()[0]) for count in counts.split(", ")) == 2
    # Chinstrap and Gentoo penguins stand out from Adelie ones.
    assert _metric_table(roc_auc)[1]["penguins"][0] > 0.9


def _metric_table(table):
    """The detectors of a benchmark table, and each row's values by its name."""
    lines = [line for line in table.splitlines() if line.startswith("| ")]
    cells = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    header, _, *rows = cells
    return header[4:], {row[0]: [float(value) for value in row[4:]] for row in rows}


def test_sparsity_methods_benchmark_runs_at_smoke_scale(tmp_path):
    output = tmp_path / "results.md"
    run_at_smoke_scale("sparsity_methods", "--output", output)
    every = "training.resample_dead_units.every=0.5"
    run_at_smoke_scale("sparsity_methods", "--params", every, "--output", output)
    plain, with_params = output.read_text().split("\n# ")
    assert plain.startswith("# Sparsity methods (smoke)")
    assert with_params.startswith(f"Sparsity methods with --params {every} (smoke)")
    rows = [line.split(" | ") for line in plain.splitlines() if "epochs |" in line]
    assert [row[1] for row in rows[:2]] == ["topk", "batchtopk, TopK's k"]
    assert len(rows) == 8  # four fits on each of the two problems
    topk_spread, dead = rows[0][4], rows[0][5]
    assert topk_spread == "0.0"  # TopK: exactly k codes in every row
    assert dead.endswith(" of 64")


def test_model_sizes_benchmark_runs_at_smoke_scale(tmp_path):
    output = tmp_path / "results.md"
    run_at_smoke_scale("model_sizes", "--output", output)
    lines = [line for line in output.read_text().splitlines() if "digits" in line]
    defaults, variant = (line.split(" | ") for line in lines)
    assert defaults[1] == "defaults" and variant[1] == "1 unit / 8 rows, untied"
    assert defaults[2] == variant[2] == "134"  # 1 078 training rows: 1 unit per 8
    assert defaults[4] == "3"  # the smoke scale's epochs


def test_project_parameters_take_kedro_run_params_over_conf_base():
    parameters = project_parameters(params="training.epochs=7, model.sparsity.topk.k=5")
    assert parameters["training"]["epochs"] == 7
    assert parameters["model"]["sparsity"]["topk"]["k"] == 5
    assert parameters["training"]["early_stopping_patience"] == 30  # conf/base's


def test_scale_benchmark_runs_at_smoke_scale(tmp_path):
    output = tmp_path / "results.md"
    run_at_smoke_scale("scale", "--output", output)
    table = output.read_text()
    assert table.startswith("# Scale benchmark (smoke)")
    rows = [line for line in table.splitlines() if line.startswith("| ")]
    assert rows[2].startswith("| 1,000 × 8 | finished |")
    assert rows[3].startswith("| 3,000 × 8 | finished |")
    assert any(row.startswith("| train_sparse_autoencoder | ") for row in rows)
