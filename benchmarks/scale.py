"""The whole ``kedro run`` on larger tables: each node's time and the peak memory.

Each size is a synthetic table of ``width`` features in 10 labelled clusters
(seeded), written as parquet into a fresh project copy and run end to end with
the default parameters, as a user's ``kedro run`` would. The table gives, per
size, the run's wall time, its time per row against the size before it, the
nodes that take a sizeable share, and the peak resident memory of the run's
process (``ru_maxrss``)::

    python -m benchmarks.scale                      # 100k, 1M and 10M × 32; 1M × 784
    python -m benchmarks.scale --sizes 100000x32 1000000x32
    python -m benchmarks.scale --scale smoke        # two small tables

A size that fails (e.g. out of memory) is reported with how it ended, and the
next one still runs.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks.project import copy_project
from benchmarks.results import RESULTS, markdown_table, publish
from benchmarks.speed import machine

SCALES = {
    "full": ["100000x32", "1000000x32", "10000000x32", "1000000x784"],
    "smoke": ["1000x8", "3000x8"],
}
# Smoke scale checks that the benchmark runs, not how long training takes.
SMOKE_PARAMS = "training.epochs=2,evaluation.pretraining.epochs=1"
CLUSTERS = 10
CHUNK_ROWS = 500_000
RAW_DATA = "data/01_raw/scale.parquet"
# The raw table's catalog entry, as the docs advise for a large parquet table:
# Arrow's copy of each column is freed as pandas takes it, so reading it needs
# one copy of the table rather than two.
RAW_ENTRY = f"""\
raw_data:
  type: pandas.ParquetDataset
  filepath: {RAW_DATA}
  load_args:
    to_pandas_kwargs: {{self_destruct: true, split_blocks: true}}
"""
NODE_TIME = re.compile(r"Node '([^']+)' took ([0-9.]+) s(?:; peak RSS ([0-9.]+) GiB)?")
# Nodes shown by name: a share of the run's node time at least this large.
SHOWN_SHARE = 0.05


@dataclass
class Measured:
    """One size's run: how it ended, its times and its memory."""

    rows: int
    width: int
    seconds: float
    peak_gib: float
    ended: str
    nodes: dict[str, float] = field(default_factory=dict)
    # The process's peak RSS (GiB) once each node was done.
    node_peaks: dict[str, float] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """``1,000,000 × 32``."""
        return f"{self.rows:,} × {self.width}"


def write_table(path: Path, rows: int, width: int, seed: int = 0) -> None:
    """``rows`` × ``width`` features in labelled Gaussian clusters, as parquet."""
    generator = np.random.default_rng(seed)
    centres = generator.normal(0.0, 3.0, size=(CLUSTERS, width))
    names = [f"x{index}" for index in range(width)]
    schema = pa.schema([*(pa.field(name, pa.float64()) for name in names)])
    schema = schema.append(pa.field("label", pa.int64()))
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, rows, CHUNK_ROWS):
            size = min(CHUNK_ROWS, rows - start)
            labels = generator.integers(0, CLUSTERS, size=size)
            values = centres[labels] + generator.normal(size=(size, width))
            columns = [pa.array(values[:, index]) for index in range(width)]
            writer.write_table(pa.Table.from_arrays([*columns, labels], schema=schema))


def measure(rows: int, width: int, folder: Path, params: str = "") -> Measured:
    """``kedro run`` on a project copy holding the table; its log in ``folder``.

    Args:
        rows: The table's rows.
        width: Its features.
        folder: Where the project copy, its tracking store and the log go.
        params: More ``kedro run --params`` (``"a.b=1,c=2"``).
    """
    project = copy_project(folder / "project")
    write_table(project / RAW_DATA, rows, width)
    (project / "conf/local/catalog.yml").write_text(RAW_ENTRY)
    env = os.environ | {
        "MLFLOW_TRACKING_URI": f"sqlite:///{folder / 'mlflow.db'}",
        "COLUMNS": "200",  # one log record a line, for the node times
    }
    log = folder / "run.log"
    with log.open("w") as output:
        start = time.perf_counter()
        child = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kedro",
                "run",
                *(["--params", params] * bool(params)),
            ],
            cwd=project,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
    text = log.read_text()
    code = os.waitstatus_to_exitcode(status)
    ended = "finished" if code == 0 else _failure(code, text)
    found = NODE_TIME.findall(text)
    nodes = {name: float(took) for name, took, _ in found}
    peaks = {name: float(peak) for name, _, peak in found if peak}
    peak = usage.ru_maxrss / 2**20
    return Measured(rows, width, seconds, peak, ended, nodes, peaks)


def _failure(code: int, log: str) -> str:
    """How a run that failed ended: its signal, or its last line."""
    if code < 0:
        return f"killed by signal {-code}"
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    return f"exit {code}: {lines[-1][:120] if lines else 'no output'}"


def report(runs: list[Measured]) -> list[str]:
    """The summary table, then every node's time at every size."""
    summary = []
    previous: Measured | None = None
    for run in runs:
        per_row = run.seconds / run.rows
        ratio = "—"
        if previous is not None and previous.width == run.width and run.nodes:
            ratio = f"{per_row / (previous.seconds / previous.rows):.2f}×"
        total = sum(run.nodes.values()) or 1.0
        shown = sorted(run.nodes.items(), key=lambda item: -item[1])
        large = ", ".join(
            f"{name} {took:.0f} s"
            for name, took in shown
            if took / total >= SHOWN_SHARE
        )
        summary.append(
            [
                run.label,
                run.ended,
                f"{run.seconds:.0f}",
                f"{per_row * 1e6:.0f}",
                ratio,
                large or "—",
                f"{run.peak_gib:.2f}",
            ]
        )
        if run.ended == "finished":
            previous = run
    header = [
        "rows × features",
        "ended",
        "whole run (s)",
        "µs per row",
        "time per row vs the size before",
        "nodes over 5 % of node time",
        "peak RSS (GiB)",
    ]
    names = sorted({name for run in runs for name in run.nodes})
    node_rows = [[name, *(_node_cell(run, name) for run in runs)] for name in names]
    return [
        *markdown_table(header, summary),
        "",
        "Each node's time (s), from loading its first input to saving its last "
        "output, and the run's peak RSS once it was done (GiB; the node where it "
        "grows raised it):",
        "",
        *markdown_table(["node", *(run.label for run in runs)], node_rows),
    ]


def _node_cell(run: Measured, name: str) -> str:
    if name not in run.nodes:
        return "—"
    peak = run.node_peaks.get(name)
    return f"{run.nodes[name]:.1f}" + (f" ({peak:.2f})" if peak is not None else "")


def main() -> None:
    """Run every size in turn, print the tables and write them to results.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=SCALES, default="full")
    parser.add_argument("--sizes", nargs="+", help="ROWSxFEATURES, e.g. 100000x32")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument(
        "--title", default="", help="names the section, e.g. 'before the change'"
    )
    parser.add_argument("--params", help='more kedro run --params, e.g. "a.b=1,c=2"')
    args = parser.parse_args()
    sizes = args.sizes or SCALES[args.scale]
    params = args.params or (SMOKE_PARAMS if args.scale == "smoke" else "")
    runs = []
    for size in sizes:
        rows, width = (int(part) for part in size.split("x"))
        with tempfile.TemporaryDirectory() as folder:
            runs.append(measure(rows, width, Path(folder), params))
        print(f"{runs[-1].label}: {runs[-1].ended}, {runs[-1].seconds:.0f} s")
    scale = args.scale if not args.sizes else "chosen sizes"
    # A title keeps its own section in results.md: before and after a change.
    title = f"Scale benchmark{', ' + args.title if args.title else ''} ({scale})"
    body = [
        f"Machine: {machine()}. `python -m benchmarks.scale`: whole `kedro run` "
        f"with the default parameters{' and ' + params if params else ''} on synthetic tables (10 labelled Gaussian "
        "clusters, parquet); peak RSS of the run's process.",
        "",
        *report(runs),
    ]
    publish(title, body, args.output)


if __name__ == "__main__":
    main()
