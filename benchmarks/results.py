"""``benchmarks/results.md``, one section per benchmark, and the command line that writes it."""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Sequence
from pathlib import Path

RESULTS = Path(__file__).with_name("results.md")


def arguments(
    description: str, scales: dict, output: Path = RESULTS, params: bool = False
) -> argparse.Namespace:
    """A benchmark's command line: ``--scale`` (``full`` by default) and ``--output``.

    Args:
        description: What the benchmark measures, for ``--help``.
        scales: The benchmark's scales by name.
        output: The file that ``--output`` names by default.
        params: Also take ``--params``, more ``kedro run --params`` for the
            benchmark's runs.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--scale", choices=scales, default="full")
    parser.add_argument("--output", type=Path, default=output)
    if params:
        parser.add_argument(
            "--params", default="", help='more kedro run --params, e.g. "a.b=1,c=2"'
        )
    return parser.parse_args()


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """A Markdown table's lines: the header, its rule and one line per row."""
    return [
        _cells(header),
        _cells(["---"] * len(header)),
        *(_cells(row) for row in rows),
    ]


def _cells(cells: Sequence[str]) -> str:
    return f"| {' | '.join(cells)} |"


def publish(heading: str, body: list[str], path: Path = RESULTS) -> None:
    """Print the section ``# heading`` with ``body``, and write it to ``path``."""
    report = "\n".join([f"# {heading}", "", *body, ""])
    print(report)
    write_section(report, path)


def write_section(report: str, path: Path = RESULTS) -> None:
    """Put ``report`` into ``path`` in place of the section with its heading.

    ``report`` starts with a ``# Title (scale)`` line; the section of an
    earlier run of the same benchmark, at any scale, is replaced and the
    other benchmarks' sections are kept. A new benchmark's section goes last.
    """
    sections = _sections(path.read_text()) if path.exists() else []
    title = _title(report)
    kept = [section for section in sections if _title(section) != title]
    replaced = len(kept) < len(sections)
    if replaced:
        at = next(i for i, s in enumerate(sections) if _title(s) == title)
        kept.insert(at, report)
    else:
        kept.append(report)
    path.write_text("\n".join(section.rstrip("\n") + "\n" for section in kept))


def _sections(text: str) -> list[str]:
    sections: list[list[str]] = []
    for line in text.splitlines():
        if line.startswith("# ") or not sections:
            sections.append([])
        sections[-1].append(line)
    return ["\n".join(lines) for lines in sections]


def _title(section: str) -> str:
    return section.splitlines()[0].partition(" (")[0]
