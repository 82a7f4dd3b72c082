"""The repeats' page: every comparison's mean, spread and wins over the seeds."""

from __future__ import annotations

from typing import Any

from sae_pipelines.reporting.render import render_template


def render_repeats_report(repeats_summary: dict[str, Any]) -> str:
    """A self-contained HTML page of the summary."""
    return render_template("repeats_report.html.j2", **repeats_summary)


def repeats_markdown(repeats_summary: dict[str, Any]) -> str:
    """The comparisons as a Markdown table, for a README or a pull request."""
    seeds = repeats_summary["seeds"]
    lines = [
        f"Seeds {', '.join(map(str, seeds))}: mean (min–max) over the seeds.",
        "",
        "| measure | SAE | baseline | SAE ahead |",
        "| --- | --- | --- | --- |",
    ]
    for row in repeats_summary["comparisons"]:
        better = "higher" if row["higher_is_better"] else "lower"
        for name, baseline in row["baselines"].items():
            lines.append(
                f"| {row['measure']} ({better} is better) | {_figure(row['sae'])} "
                f"| {name} {_figure(baseline)} "
                f"| {baseline['sae_ahead']} of {len(seeds)} |"
            )
    return "\n".join(lines) + "\n"


def _figure(spread: dict[str, Any]) -> str:
    return f"{spread['mean']:.3f} ({spread['min']:.3f}–{spread['max']:.3f})"
