"""The frontier's page: the plot, and a table of every point."""

from __future__ import annotations

import base64
import io

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape
from matplotlib.figure import Figure

from sae_pipelines.pipelines.evaluation.report import RenderedPlot

PLOT_NAME = "sparsity_frontier"


def render_frontier_report(
    sparsity_frontier_table: pd.DataFrame, figure: Figure, plot_dpi: int
) -> tuple[str, dict[str, RenderedPlot]]:
    """Render the HTML report and hand on the plot to be saved as a file.

    Returns:
        A self-contained HTML page (the plot embedded as PNG), and the same
        PNG as ``{"sparsity_frontier.png": plot}``.
    """
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=plot_dpi)
    plot = RenderedPlot(buffer.getvalue())
    html = (
        Environment(
            loader=PackageLoader("sae_pipelines.pipelines.sparsity_frontier"),
            autoescape=select_autoescape(["html", "j2"]),
        )
        .get_template("frontier_report.html.j2")
        .render(
            columns=list(sparsity_frontier_table.columns),
            rows=sparsity_frontier_table.to_dict(orient="records"),
            png=base64.b64encode(plot.png).decode("ascii"),
        )
    )
    return html, {f"{PLOT_NAME}.png": plot}
