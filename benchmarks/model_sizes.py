"""Model sizes and the tied start: does the dictionary learn the data or its rows?

The ``auto`` sizes hold at most one code unit per 8 training rows, and the
encoder starts as the decoder's transpose only with at least 32 training rows
per unit (``sae/config.py``). This benchmark shows why, on tables of every kind
the project meets: the embedded digits (images), 5 000 MNIST digits (images,
wide), breast cancer (a small table, from scikit-learn), a wide-and-short table
(240 training rows of 3 000 columns: 40 sparse sources and noise) and a long
narrow one (12 000 training rows of 32 columns: 10 clusters and noise).

Each table is split 60/20/20 (seeded), min-max normalised as the project does
(fitted on the training rows), and the project's model is trained with
conf/base's parameters, then at one unit per 4 and per 8 training rows, each
with the tied start on and off. Each row gives the code units, the test L0,
the FVU on the training, validation and test rows, the validation FVU over the
training FVU (well above 1: the model learnt its training rows), PCA's test
FVU at ⌈L0⌉ components, and the units that never fire on the training rows or
fire on more than half of them.

Usage::

    python -m benchmarks.model_sizes                # every table, about 25 min
    python -m benchmarks.model_sizes --scale smoke  # digits only, two fits
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split

from benchmarks.project import PROJECT_ROOT, project_parameters
from benchmarks.results import arguments, markdown_table, publish
from benchmarks.speed import machine
from sae_pipelines.parameters.groups import DataParams, NormalizationParams
from sae_pipelines.pipelines.data_processing.nodes import fit_normalizer
from sae_pipelines.sae import ModelConfig, TrainingConfig, fit_sparse_autoencoder
from sae_pipelines.sae.metrics import (
    dead_units,
    dense_units,
    fraction_of_variance_unexplained,
    mean_l0,
)
from sae_pipelines.sae.model import code_size_of, encoder_of

MNIST_5K = PROJECT_ROOT / "data/01_raw/mnist_5k.parquet"
SEED = 7


def wide_and_short(rows: int = 400, width: int = 3000) -> np.ndarray:
    """``rows`` mixtures of a few of 40 random sources, each row with its noise."""
    rng = np.random.default_rng(0)
    sources = rng.normal(size=(40, width))
    weights = rng.exponential(size=(rows, 40)) * (rng.uniform(size=(rows, 40)) < 0.15)
    return weights @ sources + rng.normal(scale=0.5, size=(rows, width))


def long_and_narrow(rows: int = 20_000, width: int = 32) -> np.ndarray:
    """``rows`` rows around 10 random centres, with noise of a scale per column."""
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=3.0, size=(10, width))
    noise = rng.normal(size=(rows, width)) * rng.uniform(0.5, 1.5, width)
    return centres[rng.integers(0, 10, rows)] + noise


def mnist_5k() -> np.ndarray:
    """The MNIST environment's rows, written by ``scripts/export_mnist.py``."""
    return pd.read_parquet(MNIST_5K).drop(columns="label").to_numpy()


TABLES: dict[str, Callable[[], np.ndarray]] = {
    "digits": lambda: load_digits().data,
    "MNIST 5k": mnist_5k,
    "breast cancer": lambda: load_breast_cancer().data,
    "wide and short": wide_and_short,
    "long and narrow": long_and_narrow,
}


@dataclass(frozen=True)
class Scale:
    """The tables and the variants of the model trained on each."""

    tables: tuple[str, ...]
    rows_per_unit: tuple[int, ...]
    tied: tuple[bool, ...]
    epochs: int | None = None  # conf/base's when None


SCALES = {
    "full": Scale(tuple(TABLES), (4, 8), (True, False)),
    "smoke": Scale(("digits",), (8,), (False,), epochs=3),
}


def splits(table: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training, validation and test rows (60/20/20), min-max normalised."""
    train, rest = train_test_split(table, test_size=0.4, random_state=SEED)
    validation, test = train_test_split(rest, test_size=0.5, random_state=SEED)
    columns = [f"f{i}" for i in range(table.shape[1])]
    normalizer = fit_normalizer(
        pd.DataFrame(train, columns=columns),
        NormalizationParams(method="minmax", out_of_range="compress"),
        DataParams(label_column=None),
    )
    return tuple(
        np.asarray(
            normalizer.transform(pd.DataFrame(rows, columns=columns)), np.float32
        )
        for rows in (train, validation, test)
    )


def code_units(model_config: ModelConfig, width: int, rows: int, per_unit: int) -> int:
    """The ``auto`` code size for ``width``, at most one unit per ``per_unit`` rows."""
    uncapped = int(model_config.for_data(width).code_size)
    return max(min(uncapped, rows // per_unit), 1)


def fit_row(
    name: str,
    variant: str,
    data: tuple[np.ndarray, ...],
    update: dict,
    epochs: int | None,
) -> tuple[str, ...]:
    """Train the project's model with ``update`` on ``data``; its table row."""
    train, validation, test = data
    parameters = project_parameters()
    model_config = ModelConfig.model_validate({**parameters["model"], **update})
    training = parameters["training"] | ({"epochs": epochs} if epochs else {})
    training_config = TrainingConfig.model_validate(training)
    start = time.perf_counter()
    model, history = fit_sparse_autoencoder(
        train, validation, model_config, training_config
    )
    seconds = time.perf_counter() - start
    encoder = encoder_of(model)
    train_codes = encoder.predict(train, verbose=0)
    l0 = mean_l0(encoder.predict(test, verbose=0))
    fvu = {
        split: fraction_of_variance_unexplained(rows, model.predict(rows, verbose=0))
        for split, rows in (
            ("train", train),
            ("validation", validation),
            ("test", test),
        )
    }
    pca = PCA(min(math.ceil(l0), train.shape[1]), random_state=SEED).fit(train)
    pca_fvu = fraction_of_variance_unexplained(
        test, pca.inverse_transform(pca.transform(test))
    )
    return (
        f"{name} ({len(train):,} × {train.shape[1]:,})",
        variant,
        f"{code_size_of(model)}",
        f"{l0:.1f}",
        f"{len(history['loss'])}",
        f"{fvu['train']:.3f} / {fvu['validation']:.3f} / {fvu['test']:.3f}",
        f"{fvu['validation'] / fvu['train']:.2f}",
        f"{pca_fvu:.3f}",
        f"{int(dead_units(train_codes).sum())}",
        f"{int(dense_units(train_codes).sum())}",
        f"{seconds:.0f}",
    )


def table_rows(name: str, scale: Scale) -> list[tuple[str, ...]]:
    """The defaults' row and each variant's, on one table."""
    data = splits(TABLES[name]().astype(np.float64))
    rows, width = data[0].shape
    defaults = ModelConfig.model_validate(project_parameters()["model"])
    result = [fit_row(name, "defaults", data, {}, scale.epochs)]
    for per_unit in scale.rows_per_unit:
        for tied in scale.tied:
            variant = f"1 unit / {per_unit} rows, {'tied' if tied else 'untied'}"
            update = {
                "code_size": code_units(defaults, width, rows, per_unit),
                "tied_initialisation": tied,
            }
            result.append(fit_row(name, variant, data, update, scale.epochs))
    return result


def main() -> None:
    """Train every variant on every table; print and write the table."""
    args = arguments(__doc__.splitlines()[0], SCALES)
    scale = SCALES[args.scale]
    tables = [name for name in scale.tables if name != "MNIST 5k" or MNIST_5K.exists()]
    rows = [row for name in tables for row in table_rows(name, scale)]
    header = [
        "table (training rows × width)",
        "model",
        "units",
        "test L0",
        "epochs",
        "FVU train / validation / test",
        "validation / train",
        "PCA test FVU (⌈L0⌉)",
        "dead",
        "on > half the rows",
        "fit (s)",
    ]
    missing = (
        []
        if MNIST_5K.exists() or "MNIST 5k" not in scale.tables
        else ["", "MNIST 5k left out: run `python scripts/export_mnist.py` first."]
    )
    publish(
        f"Model sizes and the tied start ({args.scale})",
        [
            f"Machine: {machine()}",
            "",
            "conf/base's parameters; the variants set the code size (one unit per 4 "
            "or per 8 training rows, k auto) and the tied start. Dead: units that "
            "never fire on the training rows; on > half the rows: units that fire on "
            "more than half of them.",
            *missing,
            "",
            *markdown_table(header, rows),
        ],
        args.output,
    )


if __name__ == "__main__":
    main()
