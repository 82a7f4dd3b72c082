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
and matched fit. JumpReLU runs with its default settings, for scale.

Usage::

    python -m benchmarks.sparsity_methods                # full sizes, 5 seeds
    python -m benchmarks.sparsity_methods --scale smoke  # tiny sizes, 1 seed
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
from sae_pipelines.sae.config import BatchTopKSettings
from sae_pipelines.sae.metrics import fraction_of_variance_unexplained, mean_l0
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


def fit_and_score(
    problem: Problem, method: str, epochs: int, seed: int, k: float | None = None
) -> tuple[float, float]:
    """Test FVU and mean test L0 of ``method`` trained on ``problem`` with ``seed``.

    ``k`` replaces BatchTopK's ``k`` when given.
    """
    model_config, training_config = project_configs(problem.code_size, problem.k)
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
    fvu = fraction_of_variance_unexplained(test, model.predict(test, verbose=0))
    return fvu, mean_l0(np.asarray(encoder_of(model).predict(test, verbose=0)))


def seed_fits(problem: Problem, epochs: int, seed: int) -> dict[str, tuple]:
    """Each method's ``(test FVU, test L0)`` with one seed; BatchTopK's two fits."""
    topk = fit_and_score(problem, "topk", epochs, seed)
    k, first = topk[1], None
    for _ in range(3):
        batchtopk = fit_and_score(problem, "batchtopk", epochs, seed, k)
        first = first or batchtopk
        if matched(batchtopk[1], topk[1]):
            break
        k *= topk[1] / batchtopk[1]
    return {
        "topk": topk,
        "batchtopk, TopK's k": first,
        "batchtopk, matched": (*batchtopk, k),
        "jumprelu (defaults)": fit_and_score(problem, "jumprelu", epochs, seed),
    }


def matched(l0: float, reference: float) -> bool:
    """Whether ``l0`` is within 5 % of ``reference``."""
    return abs(l0 - reference) <= MATCHED_L0 * reference


def rows_of(name: str, fits: list[dict[str, tuple]]) -> list[tuple[str, ...]]:
    """The problem's table rows: each method's mean over the seeds, and ranges."""
    rows = []
    topk_fvu = [fit["topk"][0] for fit in fits]
    topk_l0 = [fit["topk"][1] for fit in fits]
    for method in fits[0]:
        fvu = [fit[method][0] for fit in fits]
        l0 = [fit[method][1] for fit in fits]
        ratios = [mine / theirs for mine, theirs in zip(fvu, topk_fvu, strict=True)]
        lower = sum(ratio <= 1 for ratio in ratios)
        near = sum(matched(a, b) for a, b in zip(l0, topk_l0, strict=True))
        versus = (
            ""
            if method == "topk"
            else f"{np.mean(ratios):.3f}× ({min(ratios):.3f}–{max(ratios):.3f}); "
            f"lower on {lower} of {len(fits)}; L0 within 5 % on {near}"
        )
        label = method
        if method == "batchtopk, matched":
            ks = [fit[method][2] for fit in fits]
            label = f"batchtopk, k {min(ks):.2f}–{max(ks):.2f} (L0 matched)"
        rows.append(
            (
                name,
                label,
                f"{np.mean(fvu):.4f} ({min(fvu):.4f}–{max(fvu):.4f})",
                f"{np.mean(l0):.2f} ({min(l0):.2f}–{max(l0):.2f})",
                versus,
            )
        )
    return rows


def main() -> None:
    """Train every method on each problem and seed; print and write the table."""
    args = arguments(__doc__.splitlines()[0], SCALES)
    scale = SCALES[args.scale]
    rows = []
    for problem, epochs in (
        (digits_problem(), scale.digits_epochs),
        (mnist_sized_problem(scale.mnist_rows), scale.mnist_epochs),
    ):
        fits = [seed_fits(problem, epochs, seed) for seed in scale.seeds]
        rows += rows_of(f"{problem.name}, ≤ {epochs} epochs", fits)
    header = ["problem", "method", "test FVU", "test L0", "FVU ratio to TopK"]
    publish(
        f"Sparsity methods ({args.scale})",
        [
            f"Machine: {machine()}",
            "",
            f"Seeds {', '.join(map(str, scale.seeds))}: the mean over the seeds "
            "(min–max). FVU ratio: the mean of each seed's ratio to TopK's.",
            "",
            *markdown_table(header, rows),
        ],
        args.output,
    )


if __name__ == "__main__":
    main()
