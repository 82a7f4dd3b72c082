"""Peak memory of batch extraction on one large partition, streamed vs loaded whole.

Trains a model in a temporary copy of the project (its own SQLite MLflow store),
drops one parquet partition of ``--rows`` × 64 pixel columns into its incoming
folder, and measures, each in a fresh process:

- ``streamed``: ``kedro run --pipelines batch_extraction`` (the project's path);
- ``whole``: the same model and code on the partition read into memory at once.

Usage: ``python -m benchmarks.batch_extraction_memory [--rows 2000000]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from benchmarks.project import (
    PROJECT_ROOT,
    copy_project,
    measured_model_sizes,
    write_partition,
)

WHOLE = """
import sys, mlflow, pyarrow.parquet as pq
from sae_pipelines.tracking.registry_datasets import RegisteredModelDataset
mlflow.set_tracking_uri(sys.argv[2])
model = RegisteredModelDataset("sae_pipelines").load()
table = pq.read_table(sys.argv[1])
out = next(model.score_chunks([table]))
pq.write_table(out, sys.argv[3])
"""


def measure(command: list[str], cwd: Path, env: dict) -> tuple[float, float]:
    """Run ``command``; return its wall time (s) and peak resident memory (MiB)."""
    start = time.perf_counter()
    child = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(command)} failed:\n{child.stderr.read().decode()[-3000:]}")
    return elapsed, usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


def main() -> None:
    """Train, then time and measure both ways, and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument(
        "--chunk-rows", type=int, help="override the catalog's chunk_rows"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder) / "project"
        copy_project(project)
        uri = f"sqlite:///{Path(folder) / 'mlflow.db'}"
        env = os.environ | {"MLFLOW_TRACKING_URI": uri}
        kedro = [sys.executable, "-m", "kedro", "run"]
        params = [f"training.epochs={args.epochs}", *measured_model_sizes(64)]
        measure([*kedro, "--params", ",".join(params)], project, env)
        if args.chunk_rows:
            (project / "conf/local/catalog.yml").write_text(
                "incoming_partitions:\n"
                "  type: sae_pipelines.batch.partitions.IncomingPartitionsDataset\n"
                "  path: data/01_raw/incoming\n"
                f"  chunk_rows: {args.chunk_rows}\n"
            )
        partition = project / "data/01_raw/incoming/big.parquet"
        partition.parent.mkdir(parents=True, exist_ok=True)
        pixels = pd.read_csv(PROJECT_ROOT / "data/01_raw/digits.csv")
        write_partition(partition, pixels.drop(columns="label"), args.rows)
        streamed = measure([*kedro, "--pipelines", "batch_extraction"], project, env)
        whole_out = Path(folder) / "whole.parquet"
        whole = measure(
            [sys.executable, "-c", WHOLE, str(partition), uri, str(whole_out)],
            project,
            env,
        )
        written = pq.ParquetFile(project / "data/07_model_output/batch/big.parquet")
        assert written.metadata.num_rows == args.rows
    print(
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    )
    chunks = args.chunk_rows or "catalog default"
    print(
        f"Partition: {args.rows:,} rows × 64 columns (parquet), chunk_rows {chunks}\n"
    )
    print("| path | wall time (s) | rows/s | peak memory (MiB) |")
    print("| --- | --- | --- | --- |")
    for name, (seconds, mib) in (("streamed (kedro run)", streamed), ("whole", whole)):
        print(f"| {name} | {seconds:.1f} | {args.rows / seconds:,.0f} | {mib:,.0f} |")
    print(f"\nstreamed / whole peak memory: {streamed[1] / whole[1]:.2f}")


if __name__ == "__main__":
    main()
