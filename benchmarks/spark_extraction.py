"""Batch extraction on Spark against the pandas engine: rows/s and driver memory.

In temporary project copies (their own SQLite MLflow store), trains a model on
the digits (64 features) and one on MNIST-sized rows (784 features; digits
upsampled, nothing downloaded), then, for each parquet partition, times
``kedro run --pipelines batch_extraction`` from start to exit:

- the pandas engine;
- the Spark engine on ``local[2]`` (the project's ``spark.yml``);
- the Spark engine on a standalone cluster on loopback (a master and a worker
  with 2 cores, started from the pyspark package), whose executors are
  processes of the worker's, not of the driver.

The three runs are repeated in turns (pandas, local, cluster, pandas, ...), so
that a load on the machine from elsewhere falls on every engine alike; each
round's Spark rows/s is divided by the same round's pandas rows/s, and the
median ratio is reported with its spread (lowest to highest round).

Each run is a fresh process; its driver's peak memory is the highest resident
set of the ``kedro`` process (Python) and of the JVM it starts (in ``local[2]``
that JVM also runs the executors; on the cluster it is the driver alone). The
driver's memory is then measured at two partition sizes on the cluster. Last,
in fresh processes on ``local[2]``, the engine's way of encoding (the executor
reads the file with pyarrow, encodes and writes) is timed beside
``mlflow.pyfunc.spark_udf`` (Spark's reader, then Spark's parquet writer), the
executor's read alone without encoding, and Spark's reader handing the
partition to Python without encoding it (the engine's way before issue 34).

Usage: ``python -m benchmarks.spark_extraction [--scale narrow|smoke]``; writes
its section of ``benchmarks/results.md``.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from benchmarks.project import (
    PROJECT_ROOT,
    copy_project,
    measured_model_sizes,
    write_partition,
)
from benchmarks.results import arguments, write_section
from benchmarks.speed import machine, mnist_sized_problem
from tests.spark_cluster import standalone_cluster

TITLE = "Spark engine benchmark, after issue 34"
OUTPUT = "data/07_model_output/batch"
SPARK = ("--params", "batch_extraction.engine=spark")


@dataclass(frozen=True)
class Scale:
    """Partition sizes (rows, features), the memory series and the training."""

    partitions: tuple[tuple[int, int], ...]
    rounds: int
    memory_rows: tuple[int, int]
    wide_training_rows: int
    epochs: int


SCALES = {
    "full": Scale(
        partitions=((2_000_000, 64), (1_000_000, 784)),
        rounds=3,
        memory_rows=(1_000_000, 4_000_000),
        wide_training_rows=5_000,
        epochs=10,
    ),
    # The 64-feature partition of "full" alone: a third of its time.
    "narrow": Scale(
        partitions=((2_000_000, 64),),
        rounds=3,
        memory_rows=(1_000_000, 2_000_000),
        wide_training_rows=0,
        epochs=10,
    ),
    "smoke": Scale(
        partitions=((10_000, 64),),
        rounds=1,
        memory_rows=(10_000, 20_000),
        wide_training_rows=0,
        epochs=1,
    ),
}


@dataclass(frozen=True)
class Run:
    """One ``kedro run``: wall time and the driver's peak memory (MiB)."""

    seconds: float
    python_mib: float
    jvm_mib: float | None


def measure(command: list[str], cwd: Path, env: dict[str, str]) -> Run:
    """Run ``command``; its wall time and the peak memory of it and its JVM child."""
    peaks = {"python": 0.0, "jvm": 0.0}
    log = cwd / "benchmark_run.log"
    with log.open("w") as output:
        start = time.perf_counter()
        child = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT
        )
        watcher = threading.Thread(target=_watch, args=(child, peaks), daemon=True)
        watcher.start()
        child.wait()
        seconds = time.perf_counter() - start
        watcher.join()
    if child.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{log.read_text()[-3000:]}")
    return Run(seconds, peaks["python"], peaks["jvm"] or None)


def _watch(child: subprocess.Popen, peaks: dict[str, float]) -> None:
    """Sample the high-water marks of ``child`` and its JVM until it exits."""
    while child.poll() is None:
        peaks["python"] = max(peaks["python"], _peak_mib(child.pid))
        for pid in _children(child.pid, "java"):
            peaks["jvm"] = max(peaks["jvm"], _peak_mib(pid))
        time.sleep(0.05)


def _peak_mib(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:  # it has just exited
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _children(parent: int, command: str) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)
        except OSError:
            continue
        name = fields[0].partition("(")[2]
        if name == command and int(fields[1].split()[1]) == parent:
            found.append(int(stat.parent.name))
    return found


class Project:
    """A trained project copy with its own tracking store."""

    def __init__(self, folder: Path, raw: pd.DataFrame | None, epochs: int) -> None:
        self.root = copy_project(folder / "project")
        self.env = os.environ | {
            "MLFLOW_TRACKING_URI": f"sqlite:///{folder / 'mlflow.db'}",
            "COLUMNS": "400",
        }
        width = 64 if raw is None else raw.shape[1]
        params = [f"training.epochs={epochs}", *measured_model_sizes(width)]
        if raw is not None:  # wide rows, without labels, as a parquet raw table
            raw.to_parquet(self.root / "data/01_raw/wide.parquet", index=False)
            (self.root / "conf/local/catalog.yml").write_text(
                "raw_data:\n"
                "  type: pandas.ParquetDataset\n"
                "  filepath: data/01_raw/wide.parquet\n"
            )
            params += ["data.label_column=null", "split.stratify=false"]
        self.kedro("run", "--params", ",".join(params))
        (self.root / "data/01_raw/incoming").mkdir(exist_ok=True)

    def kedro(self, *args: str) -> Run:
        return measure([sys.executable, "-m", "kedro", *args], self.root, self.env)

    def deliver(self, rows: int, width: int) -> Path:
        """One parquet partition of ``rows`` rows, the only one incoming."""
        incoming = self.root / "data/01_raw/incoming"
        for old in incoming.iterdir():
            old.unlink()
        raw = pd.read_parquet if width > 64 else pd.read_csv
        source = (
            self.root / "data/01_raw/wide.parquet"
            if width > 64
            else PROJECT_ROOT / "data/01_raw/digits.csv"
        )
        table = raw(source).drop(columns="label", errors="ignore")
        path = incoming / f"rows_{rows}.parquet"
        write_partition(path, table, rows)
        os.sync()
        return path

    def batch(self, *args: str) -> Run:
        """A batch run from scratch: earlier outputs and checkpoint removed."""
        shutil.rmtree(self.root / OUTPUT, ignore_errors=True)
        return self.kedro("run", "--pipelines", "batch_extraction", *args)


def engines() -> dict[str, tuple[str, ...]]:
    """The ``kedro run`` arguments of each engine."""
    return {
        "pandas": (),
        "Spark local[2]": (*SPARK, "--env", "local2"),
        "Spark standalone cluster": (*SPARK, "--env", "cluster"),
    }


def configure(project: Project, cluster_url: str) -> None:
    """The conf environments of the Spark runs."""
    for env, master in (("local2", "local[2]"), ("cluster", cluster_url)):
        (project.root / "conf" / env).mkdir(exist_ok=True)
        (project.root / "conf" / env / "spark.yml").write_text(
            f"spark.master: {master}\n"
        )


# Ways of encoding on Spark, each timed in a fresh process once the session is up.
ENCODING = r"""
import json, sys, time
from pathlib import Path
import mlflow
from kedro.config import OmegaConfigLoader
from sae_pipelines.settings import CONFIG_LOADER_ARGS
from sae_pipelines.batch.spark import SparkOutputs
from sae_pipelines.batch.spark_session import start_session
from sae_pipelines.batch.partitions import ExtractedPartitionsDataset, IncomingPartitionsDataset
from sae_pipelines.tracking.registry_datasets import RegisteredModelDataset
way, incoming, output = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
settings = OmegaConfigLoader("conf", **CONFIG_LOADER_ARGS)["spark"]
begin = time.perf_counter()
spark = start_session(settings | {"spark.master": "local[2]"})
session = time.perf_counter() - begin
[partition] = IncomingPartitionsDataset(str(incoming)).load().values()
path = str(partition.path.resolve())
start = time.perf_counter()
if way == "engine":
    model = RegisteredModelDataset("sae_pipelines").load()
    outputs = SparkOutputs({partition.name: partition}, model, spark=spark)
    ExtractedPartitionsDataset(str(output)).save(outputs)
elif way == "executor_reader":
    from sae_pipelines.batch.reader import read_chunks
    model = RegisteredModelDataset("sae_pipelines").load()
    features, ids, chunk_rows = model.feature_columns, model.id_column, partition.chunk_rows
    def count(url):
        chunks = read_chunks(url, {}, label="p", features=features, id_column=ids, chunk_rows=chunk_rows)
        return sum(chunk.num_rows for chunk in chunks)
    spark.sparkContext.parallelize([path], 1).map(count).collect()
elif way == "spark_udf":
    from pyspark.sql import functions as F
    score = mlflow.pyfunc.spark_udf(spark, "models:/sae_pipelines@production", env_manager="local")
    rows = spark.read.parquet(path).coalesce(1).withColumn("row_id", F.monotonically_increasing_id())
    scored = rows.select(score(*rows.columns).alias("scored")).select("scored.*")
    scored.write.option("compression", "zstd").parquet(str(output))
else:
    import pyarrow as pa
    def count(batches):
        yield pa.RecordBatch.from_pylist([{"rows": sum(b.num_rows for b in batches)}])
    spark.read.parquet(path).coalesce(1).mapInArrow(count, "rows long").collect()
print(json.dumps({"session": session, "seconds": time.perf_counter() - start}))
"""

WAYS = {
    "engine": "the executor reads with pyarrow, encodes and writes (the engine)",
    "spark_udf": "`mlflow.pyfunc.spark_udf`, written by Spark's parquet writer",
    "executor_reader": "the executor's pyarrow read alone, no encoding",
    "reader": "Spark's parquet reader handing the rows to Python, no encoding "
    "(before issue 34)",
}


def encoding_ways(project: Project, folder: Path) -> dict[str, dict[str, float]]:
    """Seconds to start the session and to encode, of each way, on ``local[2]``."""
    seconds = {}
    for way in WAYS:
        output = folder / f"output_{way}"
        result = subprocess.run(
            [sys.executable, "-c", ENCODING, way, "data/01_raw/incoming", str(output)],
            cwd=project.root,
            env=project.env,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            sys.exit(f"{way} failed:\n{result.stderr[-3000:]}")
        seconds[way] = json.loads(result.stdout.strip().splitlines()[-1])
        shutil.rmtree(output, ignore_errors=True)
    return seconds


def main() -> None:
    """Train, measure every engine and way, print the tables and write them."""
    args = arguments(__doc__.splitlines()[0], SCALES)
    scale = SCALES[args.scale]
    lines = [
        f"# {TITLE} ({args.scale})",
        "",
        f"Machine: {machine()}; Java {_java_version()}; load average "
        f"{_load()} at the start",
        "",
        "`kedro run --pipelines batch_extraction`, one parquet partition, wall time "
        f"from start to exit, {scale.rounds} rounds of the three runs in turns: "
        "the median round, and the lowest to highest; × pandas is each round's "
        "rows/s over the same round's pandas run's. Driver memory is the highest "
        "peak resident set.",
        "",
        "| partition | engine | wall (s) | rows/s | × pandas | driver Python (MiB) "
        "| driver JVM (MiB) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        with standalone_cluster(folder / "cluster", cores=2) as cluster:
            projects = {}
            if any(width == 64 for _, width in scale.partitions):
                projects[64] = Project(folder / "narrow", None, scale.epochs)
            if any(width == 784 for _, width in scale.partitions):
                wide = mnist_sized_problem(scale.wide_training_rows).raw_train
                projects[784] = Project(folder / "wide", wide, scale.epochs)
            for project in projects.values():
                configure(project, cluster.url)
            on_cluster = {}
            for rows, width in scale.partitions:
                project = projects[width]
                project.deliver(rows, width)
                rounds = [
                    {
                        name: project.batch(*arguments)
                        for name, arguments in engines().items()
                    }
                    for _ in range(scale.rounds)
                ]
                for name in engines():
                    lines.append(_row(rows, width, name, rounds))
                if width == 64:
                    on_cluster[rows] = rounds[-1]["Spark standalone cluster"]
            for rows in scale.memory_rows:
                if rows not in on_cluster:
                    projects[64].deliver(rows, 64)
                    on_cluster[rows] = projects[64].batch(
                        *engines()["Spark standalone cluster"]
                    )
            memory = sorted(on_cluster.items())
            ways_rows = scale.partitions[0][0]
            projects[64].deliver(ways_rows, 64)
            ways = encoding_ways(projects[64], folder)
    lines += [
        "",
        f"Load average at the end: {_load()}.",
        "",
        "Driver memory on the standalone cluster, by partition size (64 features):",
        "",
        "| partition | wall (s) | driver Python (MiB) | driver JVM (MiB) |",
        "| --- | --- | --- | --- |",
        *(
            f"| {rows:,} × 64 | {run.seconds:.1f} | {run.python_mib:,.0f} "
            f"| {run.jvm_mib:,.0f} |"
            for rows, run in memory
        ),
        "",
        f"Ways of encoding on `local[2]`, {ways_rows:,} × 64, each in a fresh "
        "process: the session's start (the JVM), then the work once it is up:",
        "",
        "| way | session start (s) | work (s) | rows/s |",
        "| --- | --- | --- | --- |",
        *(
            f"| {WAYS[way]} | {times['session']:.1f} | {times['seconds']:.1f} "
            f"| {ways_rows / times['seconds']:,.0f} |"
            for way, times in ways.items()
        ),
        "",
    ]
    report = "\n".join(lines)
    print(report)
    write_section(report, args.output)


def _row(rows: int, width: int, engine: str, rounds: list[dict[str, Run]]) -> str:
    """One engine's line: median and spread over the rounds, against pandas's."""
    seconds = [each[engine].seconds for each in rounds]
    ratios = [each["pandas"].seconds / each[engine].seconds for each in rounds]
    python = max(each[engine].python_mib for each in rounds)
    jvms = [each[engine].jvm_mib for each in rounds if each[engine].jvm_mib]
    jvm = f"{max(jvms):,.0f}" if jvms else "–"
    return (
        f"| {rows:,} × {width} | {engine} | {_spread(seconds, '.1f')} "
        f"| {rows / statistics.median(seconds):,.0f} | {_spread(ratios, '.2f')} "
        f"| {python:,.0f} | {jvm} |"
    )


def _spread(values: list[float], form: str) -> str:
    """The median of ``values``, then their lowest to highest when there are several."""
    median = format(statistics.median(values), form)
    if len(values) == 1:
        return median
    return f"{median} ({format(min(values), form)}–{format(max(values), form)})"


def _load() -> str:
    return ", ".join(f"{load:.1f}" for load in os.getloadavg())


def _java_version() -> str:
    result = subprocess.run(
        ["java", "-version"], capture_output=True, text=True, check=False
    )
    return result.stderr.splitlines()[0].split('"')[1] if result.stderr else "?"


if __name__ == "__main__":
    main()
