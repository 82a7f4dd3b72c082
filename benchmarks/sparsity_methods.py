"""Sparsity methods at matched L0: test FVU of TopK, BatchTopK and JumpReLU.

On digits and on the speed benchmark's MNIST-sized problem, each method is
trained with the project's parameters on the same rows (the problem's training
rows split 80/20 into training and validation; its held-out rows are the test
rows), and its test FVU and mean test L0 (non-zero codes per row at inference)
are reported. BatchTopK starts from TopK's ``k``; its inference threshold,
learnt in training, decides its L0, so while that is more than 5 % off TopK's
(at most twice) it is trained again with ``k`` scaled by the ratio of the two
L0s. Every fit is in the table. JumpReLU runs with its default settings, for
scale.

Usage::

    python -m benchmarks.sparsity_methods                # full sizes
    python -m benchmarks.sparsity_methods --scale smoke  # tiny sizes
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import train_test_split

from benchmarks.results import arguments, write_section
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


SCALES = {"full": Scale(60_000, 400, 15), "smoke": Scale(1_200, 3, 2)}


def fit_and_score(
    problem: Problem, method: str, epochs: int, k: float | None = None
) -> tuple[float, float]:
    """Test FVU and mean test L0 of ``method`` trained on ``problem``.

    ``k`` replaces BatchTopK's ``k`` when given.
    """
    model_config, training_config = project_configs(problem.code_size)
    update: dict = {"method": method}
    if k is not None:
        update["batchtopk"] = BatchTopKSettings(k=k)
    sparsity = model_config.sparsity.model_copy(update=update)
    model_config = model_config.model_copy(update={"sparsity": sparsity})
    training_config = training_config.model_copy(update={"epochs": epochs})
    train, validation = train_test_split(problem.x_train, test_size=0.2, random_state=0)
    model, _ = fit_sparse_autoencoder(train, validation, model_config, training_config)
    test = problem.x_validation
    fvu = fraction_of_variance_unexplained(test, model.predict(test, verbose=0))
    return fvu, mean_l0(np.asarray(encoder_of(model).predict(test, verbose=0)))


def main() -> None:
    """Train every method on each problem; print and write the table."""
    args = arguments(__doc__.splitlines()[0], SCALES)
    scale = SCALES[args.scale]
    rows = []
    for problem, epochs in (
        (digits_problem(), scale.digits_epochs),
        (mnist_sized_problem(scale.mnist_rows), scale.mnist_epochs),
    ):
        topk_fvu, topk_l0 = fit_and_score(problem, "topk", epochs)
        fits = [(f"topk k={topk_l0:g}", topk_fvu, topk_l0)]
        k = topk_l0
        for _ in range(3):
            fvu, l0 = fit_and_score(problem, "batchtopk", epochs, k)
            fits.append((f"batchtopk k={k:.2f}", fvu, l0))
            if abs(l0 - topk_l0) <= MATCHED_L0 * topk_l0:
                break
            k *= topk_l0 / l0
        fits.append(
            ("jumprelu (defaults)", *fit_and_score(problem, "jumprelu", epochs))
        )
        for method, fvu, l0 in fits:
            matched = abs(l0 - topk_l0) <= MATCHED_L0 * topk_l0
            versus = f"{fvu / topk_fvu:.3f}× topk's" + (
                "" if matched else " (L0 not matched)"
            )
            rows.append(
                f"| {problem.name}, ≤ {epochs} epochs | {method} | {fvu:.4f} "
                f"| {l0:.2f} | {'' if method.startswith('topk') else versus} |"
            )
    report = "\n".join(
        [
            f"# Sparsity methods ({args.scale})",
            "",
            f"Machine: {machine()}",
            "",
            "| problem | method | test FVU | test L0 | FVU ratio |",
            "| --- | --- | --- | --- | --- |",
            *rows,
            "",
        ]
    )
    print(report)
    write_section(report, args.output)


if __name__ == "__main__":
    main()
