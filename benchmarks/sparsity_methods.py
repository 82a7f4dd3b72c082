"""Sparsity methods at matched L0: test FVU of TopK, BatchTopK and JumpReLU.

On digits and on the speed benchmark's MNIST-sized problem, each method is
trained with the project's parameters on the same rows (the problem's training
rows split 80/20 into training and validation; its held-out rows are the test
rows), and its test FVU and mean test L0 (non-zero codes per row at inference)
are reported, once per seed (the split and the training seed). BatchTopK starts
from TopK's ``k``; its inference threshold, learnt in training, decides its L0,
so while that is more than 5 % off TopK's (at most twice) it is trained again
with ``k`` scaled by the ratio of the two L0s. The table gives each method's
mean over the seeds, with the range, and BatchTopK's first fit (TopK's ``k``)
and matched fit. JumpReLU runs with its default settings, for scale. Beside
them: how much the L0 varies from row to row (TopK's does not; BatchTopK's
shows how far it moves codes between rows), and the codes that never fire.

Usage::

    python -m benchmarks.sparsity_methods                # full sizes, 5 seeds
    python -m benchmarks.sparsity_methods --scale smoke  # tiny sizes, 1 seed
    # other training settings, in a section of their own:
    python -m benchmarks.sparsity_methods --params training.batch_size=1024
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import train_test_split

from benchmarks.results import arguments, markdown_table, publish
from benchmarks.speed import (
    Problem,
    digits_problem,
    machine,
    mnist_sized_problem,
    project_configs,
)
from sae_pipelines.sae import fit_sparse_autoencoder
from sae_pipelines.sae.methods.batchtopk import BatchTopKSettings
from sae_pipelines.sae.metrics import (
    active_mask,
    dead_units,
    dense_units,
    fraction_of_variance_unexplained,
    mean_l0,
)
from sae_pipelines.sae.model import encoder_of

MATCHED_L0 = 0.05


@dataclass(frozen=True)
class Scale:
    """Rows of the MNIST-sized problem and epochs on each problem."""

    mnist_rows: int
    digits_epochs: int
    mnist_epochs: int
    seeds: tuple[int, ...]


SCALES = {
    "full": Scale(60_000, 400, 15, (0, 1, 2, 3, 4)),
    "smoke": Scale(1_200, 3, 2, (0,)),
}


@dataclass(frozen=True)
class Fit:
    """One trained model's figures on the test rows, and the ``k`` it was given.

    ``l0`` is the mean count of non-zero codes per row, ``l0_spread`` its
    standard deviation over the rows, ``dead`` the codes never non-zero on
    the training rows and ``dense`` those non-zero on more than half of them.
    """

    fvu: float
    l0: float
    l0_spread: float
    dead: int
    dense: int
    k: float | None = None


def fit_and_score(
    problem: Problem,
    method: str,
    epochs: int,
    seed: int,
    k: float | None = None,
    params: str = "",
) -> Fit:
    """``method`` trained on ``problem`` with ``seed``, scored on its test rows.

    ``k`` replaces BatchTopK's ``k`` when given; ``params`` are more parameters,
    as ``kedro run --params`` takes them.
    """
    model_config, training_config = project_configs(
        problem.code_size, problem.k, params
    )
    update: dict = {"method": method}
    if k is not None:
        update["batchtopk"] = BatchTopKSettings(k=k)
    sparsity = model_config.sparsity.model_copy(update=update)
    model_config = model_config.model_copy(update={"sparsity": sparsity})
    training_config = training_config.model_copy(
        update={"epochs": epochs, "seed": seed}
    )
    train, validation = train_test_split(
        problem.x_train, test_size=0.2, random_state=seed
    )
    model, _ = fit_sparse_autoencoder(train, validation, model_config, training_config)
    test = problem.x_validation
    encoder = encoder_of(model)
    codes = np.asarray(encoder.predict(test, verbose=0))
    train_codes = np.asarray(encoder.predict(train, verbose=0))
    return Fit(
        fraction_of_variance_unexplained(test, model.predict(test, verbose=0)),
        mean_l0(codes),
        float(active_mask(codes).sum(axis=1).std()),
        int(dead_units(train_codes).sum()),
        int(dense_units(train_codes).sum()),
        k,
    )


def seed_fits(problem: Problem, epochs: int, seed: int, params: str) -> dict[str, Fit]:
    """Each method's fit with one seed; BatchTopK's first and L0-matched fits."""
    topk = fit_and_score(problem, "topk", epochs, seed, params=params)
    k, first = topk.l0, None
    for _ in range(3):
        batchtopk = fit_and_score(problem, "batchtopk", epochs, seed, k, params)
        first = first or batchtopk
        if matched(batchtopk.l0, topk.l0):
            break
        k *= topk.l0 / batchtopk.l0
    return {
        "topk": topk,
        "batchtopk, TopK's k": first,
        "batchtopk, matched": batchtopk,
        "jumprelu (defaults)": fit_and_score(
            problem, "jumprelu", epochs, seed, params=params
        ),
    }


def matched(l0: float, reference: float) -> bool:
    """Whether ``l0`` is within 5 % of ``reference``."""
    return abs(l0 - reference) <= MATCHED_L0 * reference


def rows_of(
    name: str, code_size: int, fits: list[dict[str, Fit]]
) -> list[tuple[str, ...]]:
    """The problem's table rows: each method's mean over the seeds, and ranges."""
    rows = []
    topk = [fit["topk"] for fit in fits]
    for method in fits[0]:
        mine = [fit[method] for fit in fits]
        ratios = [a.fvu / b.fvu for a, b in zip(mine, topk, strict=True)]
        lower = sum(ratio <= 1 for ratio in ratios)
        near = sum(matched(a.l0, b.l0) for a, b in zip(mine, topk, strict=True))
        versus = (
            ""
            if method == "topk"
            else f"{np.mean(ratios):.3f}× ({min(ratios):.3f}–{max(ratios):.3f}); "
            f"lower on {lower} of {len(fits)}; L0 within 5 % on {near}"
        )
        label = method
        if method == "batchtopk, matched":
            ks = [fit.k for fit in mine]
            label = f"batchtopk, k {min(ks):.2f}–{max(ks):.2f} (L0 matched)"
        rows.append(
            (
                name,
                label,
                _mean_and_range([fit.fvu for fit in mine], ".4f"),
                _mean_and_range([fit.l0 for fit in mine], ".2f"),
                f"{np.mean([fit.l0_spread for fit in mine]):.1f}",
                _dead(mine, code_size),
                f"{max(fit.dense for fit in mine)}",
                versus,
            )
        )
    return rows


def _dead(fits: list[Fit], code_size: int) -> str:
    dead = [fit.dead for fit in fits]
    return f"{np.mean(dead):.0f} ({min(dead)}–{max(dead)}) of {code_size}"


def _mean_and_range(values: list[float], spec: str) -> str:
    return f"{np.mean(values):{spec}} ({min(values):{spec}}–{max(values):{spec}})"


def main() -> None:
    """Train every method on each problem and seed; print and write the table."""
    args = arguments(__doc__.splitlines()[0], SCALES, params=True)
    scale = SCALES[args.scale]
    rows = []
    for problem, epochs in (
        (digits_problem(), scale.digits_epochs),
        (mnist_sized_problem(scale.mnist_rows), scale.mnist_epochs),
    ):
        fits = [seed_fits(problem, epochs, seed, args.params) for seed in scale.seeds]
        rows += rows_of(f"{problem.name}, ≤ {epochs} epochs", problem.code_size, fits)
    header = [
        "problem",
        "method",
        "test FVU",
        "test L0",
        "L0 spread over rows (sd)",
        "dead codes",
        "units on > half the rows (most of any seed)",
        "FVU ratio to TopK",
    ]
    title = "Sparsity methods"
    if args.params:
        title += f" with --params {args.params}"
    publish(
        f"{title} ({args.scale})",
        [
            f"Machine: {machine()}",
            "",
            f"Seeds {', '.join(map(str, scale.seeds))}: the mean over the seeds "
            "(min–max). FVU ratio: the mean of each seed's ratio to TopK's. Dead "
            "codes: never non-zero on the training rows; units on more than half "
            "the rows: on the training rows too.",
            "",
            *markdown_table(header, rows),
        ],
        args.output,
    )


if __name__ == "__main__":
    main()
