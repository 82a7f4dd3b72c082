"""Training and extraction speed: the project's path against the plain Keras way.

Everything is measured in one process and one run, on the same data and model
for both sides, and written as a Markdown table (``benchmarks/results.md``) with
each figure as a ratio, the absolute numbers and the machine it ran on:

1. training time-to-quality on digits and on an MNIST-sized problem (60 000 ×
   784 inputs, 256 codes): the wall time of ``fit_sparse_autoencoder`` (what the
   training node runs) with the project's parameters to reach the validation
   MSE a tutorial-style ``model.fit`` (NumPy arrays, batch 256, Adam defaults,
   same model) reaches within its epoch budget, against the time that baseline
   took to reach it;
2. training throughput on the MNIST-sized problem, as a fraction of the
   machine's dense float32 matmul rate, measured after every epoch so that
   each epoch is compared with the rate of its moment (median and range of
   the per-epoch ratios); what AuxK and the decoder's unit-norm projection
   cost per step (fits with and without each, taking turns); then the
   time-to-quality and throughput of the ``jumprelu`` sparsity (no per-row
   sort) against the same baseline;
3. extraction throughput of the batch extraction path (parquet in, codes parquet
   out) against ``model.predict`` with default arguments and against the
   encoder called in a ``tf.function`` on in-memory arrays;
4. pipeline overhead: the wall time of ``kedro run`` on the default data minus
   the time spent inside its nodes.

At full scale, each extraction figure (ours and both baselines alike) and the
overhead are the median of three timed runs: one run on a shared 2-core VM can
be 10-20 % off either way. The extraction paths take turns, so that a slow
spell slows them all.

The MNIST-sized rows are the digits upsampled to 28 × 28 with random shifts and
noise (no download). Runs unchanged on a GPU.

Usage::

    python -m benchmarks.speed                # full sizes
    python -m benchmarks.speed --scale smoke  # tiny sizes: checks that it runs
"""

from __future__ import annotations

import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd
import tensorflow as tf
from scipy.ndimage import shift, zoom
from sklearn.base import TransformerMixin
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from benchmarks.project import copy_project, project_parameters, write_partition
from benchmarks.results import arguments, markdown_table, publish
from sae_pipelines.batch.output import ChunkOutputs
from sae_pipelines.batch.partitions import (
    ExtractedPartitionsDataset,
    IncomingPartitionsDataset,
)
from sae_pipelines.inference import InferenceModel
from sae_pipelines.parameters.groups import DataParams, NormalizationParams
from sae_pipelines.pipelines.data_processing.nodes import fit_normalizer
from sae_pipelines.sae import (
    ModelConfig,
    TrainingConfig,
    build_sparse_autoencoder,
    fit_sparse_autoencoder,
)
from sae_pipelines.sae.dictionary import UnitNormDecoder
from sae_pipelines.sae.metrics import mean_l0
from sae_pipelines.sae.model import encoder_of
from sae_pipelines.sae.training import steps_per_epoch

NODE_TIME = re.compile(r"Nodes took ([0-9.]+) s in all")


@dataclass(frozen=True)
class Scale:
    """Problem sizes and budgets of one benchmark run."""

    mnist_rows: int
    baseline_epochs_digits: int
    baseline_epochs_mnist: int
    extraction_rows: int
    predict_rows: int
    matmul_size: int
    throughput_epochs: int
    cost_epochs: int
    cost_rounds: int
    kedro_params: tuple[str, ...]
    # Timed runs of each extraction path and of warm `kedro run`s; the median is
    # reported, as one run on a shared VM can be 10-20 % off either way.
    repeats: int


SCALES = {
    "full": Scale(60_000, 300, 30, 1_000_000, 100_000, 2048, 8, 4, 5, (), 3),
    "smoke": Scale(
        1_200,
        3,
        2,
        5_000,
        2_000,
        256,
        3,
        2,
        1,
        ("training.epochs=2", "evaluation.pretraining.epochs=1"),
        1,
    ),
}


# Machine and matmul rate ---------------------------------------------------------


def machine() -> str:
    """CPU model, cores, memory, accelerators and library versions."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = re.findall(r"model name\s*:\s*(.+)", cpuinfo.read_text())
        cpu = names[0] if names else cpu
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    gpus = [d.name for d in tf.config.list_physical_devices("GPU")] or ["none"]
    return (
        f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GiB; GPUs: {', '.join(gpus)}; "
        f"Python {platform.python_version()}, TensorFlow {tf.__version__}, "
        f"Keras {keras.__version__}"
    )


class MatmulTimer:
    """TensorFlow's dense float32 matmul rate on ``size × size`` matrices.

    Each :meth:`rate` is the median of ``calls`` timed calls, so that it can be
    taken between training epochs: the throughput ratio then compares each
    epoch with the machine's rate at that moment, not with one taken once at
    a noisy time (which once put training at 120 % of matmul).
    """

    def __init__(self, size: int, calls: int = 5) -> None:
        self.size = size
        self.calls = calls
        self.a = tf.random.uniform((size, size), seed=1)
        self.b = tf.random.uniform((size, size), seed=2)
        self.matmul = tf.function(tf.matmul)
        self.matmul(self.a, self.b).numpy()  # trace and warm up

    def rate(self) -> float:
        """GFLOP/s now: ``2·size³`` over the median call time."""
        seconds = []
        for _ in range(self.calls):
            start = time.perf_counter()
            self.matmul(self.a, self.b).numpy()
            seconds.append(time.perf_counter() - start)
        return 2 * self.size**3 / statistics.median(seconds) / 1e9


# Data ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """Normalised training and validation rows, the raw training table and its normaliser."""

    name: str
    x_train: np.ndarray
    x_validation: np.ndarray
    raw_train: pd.DataFrame
    normalizer: TransformerMixin
    code_size: int
    k: int


def digits_problem() -> Problem:
    """The embedded digits, split and min-max normalised as the project does.

    The model keeps the sizes these benchmarks were first measured at (64 codes,
    k = 8), whatever the defaults' ``auto`` sizes, so their results stay comparable.
    """
    pixels = load_digits().data.astype(np.float32)
    return _problem("digits (1 797 × 64)", pixels, 64, 8)


def mnist_sized_problem(rows: int) -> Problem:
    """Digits upsampled to 28 × 28, shifted by up to 2 pixels, with noise.

    The model has 256 codes with k = 28, as when these benchmarks were first run.
    """
    rng = np.random.default_rng(0)
    digits = load_digits().images.astype(np.float32) / 16.0
    picks = rng.integers(0, len(digits), rows)
    large = zoom(digits, (1, 3.5, 3.5), order=1)  # 8 × 8 → 28 × 28
    images = np.empty((rows, 28, 28), np.float32)
    for row, (pick, dy, dx) in enumerate(
        zip(picks, *rng.integers(-2, 3, (2, rows)), strict=True)
    ):
        images[row] = shift(large[pick], (dy, dx), order=0)
    images += rng.normal(0, 0.05, images.shape).astype(np.float32)
    pixels = np.clip(images, 0, 1).reshape(rows, 784) * 255
    return _problem(f"MNIST-sized ({rows:,} × 784)", pixels, 256, 28)


def _problem(name: str, pixels: np.ndarray, code_size: int, k: int) -> Problem:
    columns = [f"pixel_{i}" for i in range(pixels.shape[1])]
    table = pd.DataFrame(pixels, columns=columns)
    train, validation = train_test_split(table, test_size=0.2, random_state=42)
    normalizer = fit_normalizer(
        train,
        NormalizationParams(method="minmax", out_of_range="compress"),
        DataParams(),
    )
    return Problem(
        name,
        np.asarray(normalizer.transform(train), np.float32),
        np.asarray(normalizer.transform(validation), np.float32),
        train,
        normalizer,
        code_size,
        k,
    )


# Training --------------------------------------------------------------------------


class LossClock(keras.callbacks.Callback):
    """Records each epoch's end time and validation loss, and its training time.

    With ``target`` set, training stops once the validation loss (or the
    logged figure ``monitor`` names) reaches it. With ``matmul``, the matmul
    rate is measured after each epoch's training, before its validation (and
    outside the epoch's time), so that every epoch has its own reference.
    """

    def __init__(
        self,
        target: float | None = None,
        monitor: str = "val_reconstruction_mse",
        matmul: MatmulTimer | None = None,
    ) -> None:
        super().__init__()
        self.target = target
        self.monitor = monitor
        self.matmul = matmul
        self.curve: list[tuple[float, float]] = []
        self.train_seconds: list[float] = []
        self.matmul_rates: list[float] = []

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.start = time.perf_counter()
        self.paused = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch_start = time.perf_counter()

    def on_test_begin(self, logs: dict | None = None) -> None:
        self.train_seconds.append(time.perf_counter() - self.epoch_start)
        if self.matmul is not None:
            paused = time.perf_counter()
            self.matmul_rates.append(self.matmul.rate())
            self.paused += time.perf_counter() - paused

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        val_loss = float(logs[self.monitor])
        self.curve.append((time.perf_counter() - self.start - self.paused, val_loss))
        if self.target is not None and val_loss <= self.target:
            self.model.stop_training = True

    def time_to(self, target: float) -> float:
        """Seconds until the validation loss first reached ``target`` (inf: never)."""
        return next((t for t, loss in self.curve if loss <= target), math.inf)


def project_configs(
    code_size: int, k: int, params: str = ""
) -> tuple[ModelConfig, TrainingConfig]:
    """The project's model and training parameters from conf/base, at these sizes.

    ``k`` is that of TopK and of BatchTopK; ``params`` are more parameters, as
    ``kedro run --params`` takes them.
    """
    parameters = project_parameters(params=params)
    model = ModelConfig.model_validate(
        {
            **parameters["model"],
            "code_size": code_size,
            "sparsity": {
                **parameters["model"]["sparsity"],
                "topk": {"k": k},
                "batchtopk": {"k": k},
            },
        }
    )
    return model, TrainingConfig.model_validate(parameters["training"])


def baseline_fit(problem: Problem, model_config: ModelConfig, epochs: int) -> LossClock:
    """The tutorial way: ``model.fit`` on NumPy arrays, batch 256, Adam defaults."""
    keras.utils.set_random_seed(0)
    model = build_sparse_autoencoder(problem.x_train.shape[1], model_config)
    model.compile(optimizer=keras.optimizers.Adam(), loss="mse")
    clock = LossClock(monitor="val_loss")
    model.fit(
        problem.x_train,
        problem.x_train,
        batch_size=256,
        epochs=epochs,
        validation_data=(problem.x_validation, problem.x_validation),
        verbose=0,
        callbacks=[clock],
    )
    return clock


def project_fit(
    problem: Problem,
    model_config: ModelConfig,
    training_config: TrainingConfig,
    target: float | None = None,
    matmul: MatmulTimer | None = None,
) -> tuple[keras.Model, LossClock]:
    """The project's training, stopped once its validation MSE reaches ``target``.

    The project's own loss is normalised (see ``sae.trainer``), so the clock
    watches ``val_reconstruction_mse``, the tutorial's loss.
    """
    clock = LossClock(target, matmul=matmul)
    model, _ = fit_sparse_autoencoder(
        problem.x_train,
        problem.x_validation,
        model_config,
        training_config,
        callbacks=[clock],
    )
    return model, clock


def training_flops_per_row(model: keras.Model) -> int:
    """Multiply-adds ×2 of one row's forward and backward pass through the matrices.

    The encoder's and decoder's matrices (Dense layers and the unit-norm
    decoder): forward ``2·i·o`` per layer, backward ``4·i·o`` (input and
    weight gradients), less the input gradient of the first layer, which
    nothing needs. AuxK's extra decoding is not counted: it is overhead, its
    cost measured apart (:func:`recipe_costs`).
    """
    matrices = [
        layer.kernel.shape
        for layer in model.layers
        if isinstance(layer, keras.layers.Dense | UnitNormDecoder)
    ]
    first_in, first_out = matrices[0]
    return sum(6 * i * o for i, o in matrices) - 2 * first_in * first_out


def throughput_row(
    measure: str, model: keras.Model, clock: LossClock, problem: Problem
) -> tuple[str, str, str, str]:
    """Training GFLOP/s of a fit against the matmul rate measured after each epoch.

    Each epoch after the first (which traces) is one ratio of its own rate to
    the matmul rate taken right after it; the row gives their median and range.
    """
    flops = training_flops_per_row(model) * len(problem.x_train)
    epochs = list(zip(clock.train_seconds, clock.matmul_rates, strict=True))[1:]
    epochs = epochs or list(zip(clock.train_seconds, clock.matmul_rates, strict=True))
    achieved = [flops / seconds / 1e9 for seconds, _ in epochs]
    ratios = [rate / matmul for rate, (_, matmul) in zip(achieved, epochs, strict=True)]
    rows_per_second = len(problem.x_train) / statistics.median(
        seconds for seconds, _ in epochs
    )
    matmul = [rate for _, rate in epochs]
    return (
        measure,
        f"{statistics.median(achieved):.1f} GFLOP/s ({rows_per_second:,.0f} rows/s)",
        f"{statistics.median(matmul):.1f} GFLOP/s matmul "
        f"({min(matmul):.1f}–{max(matmul):.1f}), after each of {len(epochs)} epochs",
        f"{statistics.median(ratios):.0%} of matmul "
        f"({min(ratios):.0%}–{max(ratios):.0%}) (target ≥ 60%)",
    )


RECIPE_VARIANTS = {
    "without AuxK": "training.auxk.coefficient=0",
    "without the unit-norm projection": "model.unit_norm_decoder=false",
}


def recipe_costs(
    problem: Problem, code_size: int, k: int, epochs: int, rounds: int
) -> list[tuple[str, str, str, str]]:
    """What AuxK and the decoder's unit-norm projection cost per training step.

    The full recipe and each variant without one piece are fitted for
    ``epochs`` epochs in turn, ``rounds`` times; a fit's time per step is the
    median over its epochs after the first. A piece's cost is the full
    recipe's time over the variant's, as the median of the rounds' ratios and
    their range.
    """
    variants = {"full recipe": "", **RECIPE_VARIANTS}
    per_round: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, params in variants.items():
            model_config, training_config = project_configs(code_size, k, params)
            training_config = training_config.model_copy(update={"epochs": epochs})
            _, clock = project_fit(problem, model_config, training_config)
            resolved = training_config.for_data(*problem.x_train.shape)
            steps = steps_per_epoch(len(problem.x_train), resolved.batch_size)
            per_round[name].append(statistics.median(clock.train_seconds[1:]) / steps)
    step = {name: statistics.median(times) for name, times in per_round.items()}
    rows = [
        (
            f"time per training step, {problem.name}, full recipe",
            f"{step['full recipe'] * 1e3:.2f} ms",
            "",
            "",
        )
    ]
    for name in RECIPE_VARIANTS:
        pairs = zip(per_round["full recipe"], per_round[name], strict=True)
        ratios = [full / without for full, without in pairs]
        rows.append(
            (
                f"cost of {name.removeprefix('without ')} per step",
                f"{(step['full recipe'] - step[name]) * 1e3:+.2f} ms",
                f"{step[name] * 1e3:.2f} ms {name}",
                f"{statistics.median(ratios):.2f}× ({min(ratios):.2f}–"
                f"{max(ratios):.2f}; interleaved, {rounds} rounds of {epochs} epochs)",
            )
        )
    return rows


# Extraction ------------------------------------------------------------------------


def interleaved_rates(
    works: dict[str, tuple[int, Callable[[], Any]]], repeats: int
) -> dict[str, float]:
    """Rows/s of each ``(rows, work)``: ``rows`` over the median of its timed calls.

    The works take turns, ``repeats`` rounds of one call each, so a slow spell
    on a shared VM slows every path alike instead of the one measured then.
    """
    seconds: dict[str, list[float]] = {name: [] for name in works}
    for _ in range(repeats):
        for name, (_, work) in works.items():
            start = time.perf_counter()
            work()
            seconds[name].append(time.perf_counter() - start)
    return {
        name: rows / statistics.median(seconds[name])
        for name, (rows, _) in works.items()
    }


def extraction_figures(
    model: keras.Model, problem: Problem, scale: Scale, folder: Path
) -> dict[str, float]:
    """Rows/s of the batch extraction path, ``predict`` and the in-memory limit.

    The path is measured as configured for features only (``anomaly_scores:
    false``, codes parquet out) and with the anomaly scores, which also run the
    decoder. Each figure is the median of ``scale.repeats`` timed runs, the
    paths taking turns.
    """
    inference_model = InferenceModel(
        model, problem.normalizer, threshold=0.05, source="benchmark"
    )
    incoming = folder / "incoming"
    incoming.mkdir()
    write_partition(incoming / "big.parquet", problem.raw_train, scale.extraction_rows)
    os.sync()  # delivered before the job starts, not still being written out

    def project_path(scores: bool) -> None:
        partitions = IncomingPartitionsDataset(str(incoming)).load()
        chunks = inference_model.score_chunks(
            partitions["big"].chunks(), "Partition 'big'", scores
        )
        output = folder / "batch"
        ExtractedPartitionsDataset(str(output)).save(ChunkOutputs({"big": chunks}))
        # Its checkpoint would mark the partition done, and the next run skip it.
        shutil.rmtree(output)

    encoder = encoder_of(model)
    copies = math.ceil(scale.extraction_rows / len(problem.x_train))
    in_memory = np.tile(problem.x_train, (copies, 1))[: scale.extraction_rows]
    predict_rows = in_memory[: scale.predict_rows]
    compiled = tf.function(encoder)
    batch = 8192

    def limit() -> None:
        for start in range(0, len(in_memory), batch):
            compiled(in_memory[start : start + batch], training=False).numpy()

    limit()  # trace
    encoder.predict(predict_rows[:64], verbose=0)  # build the predict function
    rows = scale.extraction_rows
    return interleaved_rates(
        {
            "project": (rows, lambda: project_path(False)),
            "project_scored": (rows, lambda: project_path(True)),
            "predict": (
                scale.predict_rows,
                lambda: encoder.predict(predict_rows, verbose=0),
            ),
            "limit": (rows, limit),
        },
        scale.repeats,
    )


# Pipeline overhead -----------------------------------------------------------------


def pipeline_overhead(
    scale: Scale, folder: Path
) -> tuple[tuple[float, float], tuple[float, float]]:
    """Wall time and nodes' time of ``kedro run`` in a fresh project copy.

    Returns:
        The first run, which also creates the SQLite tracking store and the
        experiment, and of the ``scale.repeats`` runs after it (what every later
        run costs) the one with the median overhead.
    """
    project = copy_project(folder / "project")
    env = os.environ | {
        "MLFLOW_TRACKING_URI": f"sqlite:///{folder / 'mlflow.db'}",
        "COLUMNS": "400",
    }
    command = [sys.executable, "-m", "kedro", "run"]
    if scale.kedro_params:
        command += ["--params", ",".join(scale.kedro_params)]
    times = []
    for _ in range(1 + scale.repeats):
        start = time.perf_counter()
        result = subprocess.run(
            command, cwd=project, env=env, capture_output=True, text=True, check=False
        )
        wall = time.perf_counter() - start
        if result.returncode != 0:
            sys.exit(f"kedro run failed:\n{result.stderr[-3000:]}")
        nodes = float(NODE_TIME.search(result.stdout + result.stderr).group(1))
        times.append((wall, nodes))
    later = sorted(times[1:], key=lambda run: run[0] - run[1])
    return times[0], later[len(later) // 2]


# Report ----------------------------------------------------------------------------


def main() -> None:
    """Measure everything, print the table and write it to ``--output``."""
    args = arguments(__doc__.splitlines()[0], SCALES)
    scale = SCALES[args.scale]
    rows: list[tuple[str, str, str, str]] = []
    matmul = MatmulTimer(scale.matmul_size)

    mnist = mnist_sized_problem(scale.mnist_rows)
    for problem, epochs in (
        (digits_problem(), scale.baseline_epochs_digits),
        (mnist, scale.baseline_epochs_mnist),
    ):
        model_config, training_config = project_configs(problem.code_size, problem.k)
        baseline = baseline_fit(problem, model_config, epochs)
        target = min(loss for _, loss in baseline.curve)
        model, ours = project_fit(problem, model_config, training_config, target)
        t_ours, t_base = ours.time_to(target), baseline.time_to(target)
        rows.append(
            (
                f"time to val MSE {target:.5f}, {problem.name}",
                f"{t_ours:.1f} s",
                f"{t_base:.1f} s (model.fit, batch 256, Adam defaults, ≤ {epochs} epochs)",
                f"{t_ours / t_base:.2f}× (target ≤ 0.5)",
            )
        )

    # Throughput: a fit of its own, the matmul rate taken after each epoch.
    throughput = training_config.model_copy(update={"epochs": scale.throughput_epochs})
    model, clock = project_fit(mnist, model_config, throughput, matmul=matmul)
    rows.append(
        throughput_row(f"training throughput, {mnist.name}", model, clock, mnist)
    )
    rows += recipe_costs(
        mnist, mnist.code_size, mnist.k, scale.cost_epochs, scale.cost_rounds
    )
    jumprelu_config = model_config.model_copy(
        update={
            "sparsity": model_config.sparsity.model_copy(update={"method": "jumprelu"})
        }
    )
    # No more epochs than the baseline had: one that never gets there stops.
    capped = training_config.model_copy(update={"epochs": scale.baseline_epochs_mnist})
    jumprelu, clock = project_fit(mnist, jumprelu_config, capped, target, matmul)
    t_jumprelu = clock.time_to(target)
    l0 = mean_l0(encoder_of(jumprelu).predict(mnist.x_validation, verbose=0))
    rows.append(
        (
            f"time to val MSE {target:.5f}, {mnist.name}, jumprelu (L0 {l0:.1f})",
            f"{t_jumprelu:.1f} s",
            f"{t_base:.1f} s (the same baseline)",
            f"{t_jumprelu / t_base:.2f}× (target ≤ 0.5)",
        )
    )
    rows.append(
        throughput_row(
            f"training throughput, {mnist.name}, jumprelu", jumprelu, clock, mnist
        )
    )

    with tempfile.TemporaryDirectory() as folder:
        speed = extraction_figures(model, mnist, scale, Path(folder))
        (first_wall, first_nodes), (wall, nodes) = pipeline_overhead(
            scale, Path(folder)
        )
    rows.append(
        (
            f"extraction, {scale.extraction_rows:,} × 784 parquet → codes parquet",
            f"{speed['project']:,.0f} rows/s",
            f"model.predict {speed['predict']:,.0f} rows/s",
            f"{speed['project'] / speed['predict']:.1f}× (target ≥ 3)",
        )
    )
    rows.append(
        (
            "extraction with anomaly scores (decoder too)",
            f"{speed['project_scored']:,.0f} rows/s",
            f"model.predict {speed['predict']:,.0f} rows/s",
            f"{speed['project_scored'] / speed['predict']:.1f}×",
        )
    )
    rows.append(
        (
            "extraction against the in-memory limit",
            f"{speed['project']:,.0f} rows/s",
            f"encoder in tf.function {speed['limit']:,.0f} rows/s",
            f"{speed['project'] / speed['limit']:.0%} (target ≥ 50%)",
        )
    )
    rows.append(
        (
            "pipeline overhead of `kedro run` (default data, "
            + (
                f"median of {scale.repeats} runs after the first)"
                if scale.repeats > 1
                else "second run)"
            ),
            f"{wall - nodes:.1f} s",
            f"wall {wall:.1f} s − nodes {nodes:.1f} s (first run, new tracking "
            f"store: {first_wall - first_nodes:.1f} s)",
            "(target < 10 s)",
        )
    )
    publish(
        f"Speed benchmark ({args.scale})",
        [
            f"Machine: {machine()}",
            "",
            *markdown_table(["measure", "ours", "baseline", "ratio"], rows),
        ],
        args.output,
    )


if __name__ == "__main__":
    main()
