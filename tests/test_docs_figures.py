"""scripts/docs_figures.py: the results pages' blocks, and a repeats table copied in."""

import pytest

from scripts import docs_figures

PAGE = """# Title

<!-- repeats:digits start -->
old digits table
<!-- repeats:digits end -->

<!-- repeats:mnist start -->
old mnist table
<!-- repeats:mnist end -->
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A repeats page and two versions of the repeats table, the script pointed at them."""
    page = tmp_path / "docs/results/repeats.md"
    page.parent.mkdir(parents=True)
    page.write_text(PAGE)
    tables = tmp_path / "data/08_reporting/repeats_table.md"
    for version, text in [
        ("2026-12-03T10.00.00.000Z", "older table"),
        ("2026-12-03T11.00.00.000Z", "| newest | table |"),
    ]:
        (tables / version).mkdir(parents=True)
        (tables / version / "repeats_table.md").write_text(f"\n{text}\n")
    monkeypatch.setattr(docs_figures, "REPEATS_PAGE", page)
    monkeypatch.setattr(docs_figures, "REPEATS_TABLES", tables)
    return page


def test_the_newest_repeats_table_replaces_only_its_own_block(project):
    docs_figures.write_repeats_table("mnist")

    text = project.read_text()
    assert docs_figures.committed_table(text, "repeats:mnist") == "| newest | table |"
    assert docs_figures.committed_table(text, "repeats:digits") == "old digits table"
    assert text.startswith("# Title\n")


def test_a_missing_block_or_table_is_named(project, tmp_path, monkeypatch):
    with pytest.raises(
        ValueError, match="repeats.md: the page has no '<!-- repeats:fashion start -->'"
    ):
        docs_figures.write_repeats_table("fashion")
    monkeypatch.setattr(docs_figures, "REPEATS_TABLES", tmp_path / "nowhere")
    with pytest.raises(SystemExit, match="kedro run --pipelines repeats"):
        docs_figures.write_repeats_table("digits")
    assert project.read_text() == PAGE


def test_the_frontier_table_lists_methods_in_order_each_by_l0():
    point = {"setting": "k", "pca_test_fvu": 0.3, "probe_accuracy": 0.95}
    points = [
        {**point, "method": "l1", "setting": "weight", "value": 0.001, "test_l0": 9.0}
        | {"test_fvu": 0.2},
        {**point, "method": "topk", "value": 16, "test_l0": 16.0, "test_fvu": 0.1},
        {**point, "method": "topk", "value": 4, "test_l0": 4.0, "test_fvu": 0.25},
        {**point, "method": "jumprelu", "setting": "target_l0", "value": 8}
        | {"test_l0": 8.2, "test_fvu": 0.18},
    ]

    lines = docs_figures.frontier_table(points).splitlines()

    assert lines[2:] == [
        "| topk | k=4 | 4.0 | 0.250 | 0.300 | 0.950 |",
        "| topk | k=16 | 16.0 | 0.100 | 0.300 | 0.950 |",
        "| l1 | λ=0.001 | 9.0 | 0.200 | 0.300 | 0.950 |",
        "| jumprelu | target L0=8 | 8.2 | 0.180 | 0.300 | 0.950 |",
    ]
