"""The frontier's plot, and its page: the plot, and a table of every point."""

from __future__ import annotations

import base64

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sae_pipelines.reporting.render import RenderedPlot, png, render_template

PLOT_NAME = "sparsity_frontier"


def plot_frontier(sparsity_frontier_table: pd.DataFrame) -> Figure:
    """Test FVU against test L0, one curve per method, PCA's as the reference."""
    figure = Figure(figsize=(7, 5), layout="constrained")
    axes = figure.subplots()
    for method, points in sparsity_frontier_table.groupby("method", sort=True):
        axes.plot(points["test_l0"], points["test_fvu"], marker="o", label=method)
        for _, row in points.iterrows():
            axes.annotate(
                f"{row['setting']}={row['value']:g}",
                (row["test_l0"], row["test_fvu"]),
                textcoords="offset points",
                xytext=(4, 4),
                fontsize=7,
            )
    pca = (
        sparsity_frontier_table.assign(
            components=np.ceil(sparsity_frontier_table["test_l0"])
        )
        .groupby("components")["pca_test_fvu"]
        .first()
    )
    axes.plot(
        pca.index,
        pca.to_numpy(),
        color="black",
        linestyle="--",
        marker="x",
        label="PCA, ⌈L0⌉ components",
    )
    axes.set_xscale("log", base=2)
    axes.set_xlabel("test L0 (mean active codes per row)")
    axes.set_ylabel("test FVU (lower is better)")
    axes.set_title("Sparsity–fidelity frontier")
    axes.grid(alpha=0.3, which="both")
    axes.legend()
    return figure


def render_frontier_report(
    sparsity_frontier_table: pd.DataFrame, figure: Figure, plot_dpi: int
) -> tuple[str, dict[str, RenderedPlot]]:
    """Render the HTML report and hand on the plot to be saved as a file.

    Returns:
        A self-contained HTML page (the plot embedded as PNG), and the same
        PNG as ``{"sparsity_frontier.png": plot}``.
    """
    plot = RenderedPlot(png(figure, plot_dpi))
    html = render_template(
        "frontier_report.html.j2",
        columns=list(sparsity_frontier_table.columns),
        rows=sparsity_frontier_table.to_dict(orient="records"),
        png=base64.b64encode(plot.png).decode("ascii"),
    )
    return html, {f"{PLOT_NAME}.png": plot}
