"""Whether a model's sizes can train on the data and in the memory there is.

Checked before training, so that a ``k`` or code size that cannot work stops
the run at once, with the numbers, rather than failing or running for hours.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from sae_pipelines.sae.config import ModelConfig, TrainingConfig
from sae_pipelines.sae.methods.base import AUTO

BYTES_PER_FLOAT = 4
# Each weight is held with its gradient and Adam's two moments.
COPIES_PER_WEIGHT = 4
# Per batch row and code unit: pre-activations, codes, the selection mask,
# AuxK's codes, and the gradients of each.
VALUES_PER_BATCH_CODE = 8
# The share of the free memory training may plan on.
USABLE_MEMORY_SHARE = 0.8
MEMINFO = Path("/proc/meminfo")


class ModelSizeError(ValueError):
    """Sizes that cannot train here; the message names the parameter and numbers."""


def available_memory() -> int:
    """Bytes of memory free for a new process (``MemAvailable`` on Linux)."""
    if MEMINFO.exists():
        for line in MEMINFO.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def training_bytes(width: int, model_config: ModelConfig, batch_size: int) -> int:
    """Memory a fit needs for its weights, their optimiser state and a batch's codes.

    ``model_config`` has its sizes resolved (:meth:`ModelConfig.for_data`).
    """
    widths = [width, *model_config.encoder_units, int(model_config.code_size)]
    weights = 2 * sum(a * b + b for a, b in zip(widths, widths[1:], strict=False))
    codes = batch_size * int(model_config.code_size) * VALUES_PER_BATCH_CODE
    return BYTES_PER_FLOAT * (COPIES_PER_WEIGHT * weights + codes)


def check_fits(
    model_config: ModelConfig,
    training_config: TrainingConfig,
    width: int,
    rows: int,
    memory: int,
) -> None:
    """Stop sizes that cannot work: ``k`` beyond the code, a code beyond the rows.

    Args:
        model_config: ``model`` settings, ``auto`` sizes not resolved yet.
        training_config: ``training`` settings.
        width: Features per row.
        rows: Training rows.
        memory: Bytes free for training (:func:`available_memory`).

    Raises:
        ModelSizeError: The active codes asked for exceed the code units; an
            explicit code size has more units than there are training rows
            (each unit could hold a row of its own); or training would need
            more than 80 % of ``memory``.
    """
    code_size = model_config.resolved_code_size(width, rows)
    sizing = _code_sizing(model_config, code_size, rows)
    for key, active in _active_codes(model_config):
        if active != AUTO and active > code_size:
            msg = (
                f"model.{key}={active:g} asks for more active codes than the "
                f"{code_size:,} code units {sizing}; lower it, or set "
                "model.code_size"
            )
            raise ModelSizeError(msg)
    if model_config.code_size != AUTO and code_size > rows:
        msg = (
            f"model.code_size={code_size:,} gives more code units than the "
            f"{rows:,} training rows: each unit could learn a row of its own; "
            "lower it, or set it to auto"
        )
        raise ModelSizeError(msg)
    batch_size = int(training_config.for_data(rows, width).batch_size)
    needed = training_bytes(width, model_config.for_data(width, rows), batch_size)
    if needed > USABLE_MEMORY_SHARE * memory:
        msg = (
            f"model.code_size={code_size:,} units on {width:,} features "
            f"(batch {batch_size:,}) needs about {needed / 2**30:.1f} GiB to train, "
            f"more than {USABLE_MEMORY_SHARE:.0%} of the {memory / 2**30:.1f} GiB "
            "free; lower model.code_size or training.batch_size"
        )
        raise ModelSizeError(msg)


def _active_codes(
    model_config: ModelConfig,
) -> list[tuple[str, float | Literal["auto"]]]:
    """The parameters that ask for a number of active codes, with their values."""
    sparsity = model_config.sparsity
    sizing = sparsity.sizing_method()
    asked = [(f"sparsity.{sizing}.k", sparsity.sizing_k())]
    if sparsity.method != sizing:
        settings = sparsity.settings_of(sparsity.method)
        asked += [
            (f"sparsity.{sparsity.method}.{name}", getattr(settings, name))
            for name in sparsity.chosen().active_codes
        ]
    return asked


def _code_sizing(model_config: ModelConfig, code_size: int, rows: int) -> str:
    """How the code size came about, for a message."""
    if model_config.code_size != AUTO:
        return f"of model.code_size={code_size:,}"
    return f"that model.code_size=auto allows {rows:,} training rows (one per 8)"
