"""Drawing a figure once for both a report and its file, and filling a template."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import IO, Any

from jinja2 import Environment, PackageLoader, select_autoescape
from matplotlib.figure import Figure


@dataclass(frozen=True)
class RenderedPlot:
    """A plot already drawn as PNG, which ``MatplotlibDataset`` saves unchanged.

    ``MatplotlibDataset`` writes whatever ``plot.savefig(buffer, **save_args)``
    writes, so each figure is drawn once for both the report and its file:
    drawing is most of what a plot costs.
    """

    png: bytes

    def savefig(self, buffer: IO[bytes], **_: Any) -> None:
        """Write the PNG to ``buffer``."""
        buffer.write(self.png)


def png(figure: Figure, dpi: int) -> bytes:
    """``figure`` drawn as PNG at ``dpi``."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def render_template(template: str, /, **context: Any) -> str:
    """``templates/<template>`` filled with ``context``, HTML-escaped."""
    return (
        Environment(
            loader=PackageLoader("sae_pipelines.reporting"),
            autoescape=select_autoescape(["html", "j2"]),
        )
        .get_template(template)
        .render(**context)
    )
