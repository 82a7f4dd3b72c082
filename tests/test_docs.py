"""The documentation site: `mkdocs build --strict` and `mkdocs serve`, as the README says.

The build fails on a broken link, anchor or API reference (``strict: true`` and
``validation`` in mkdocs.yml), so this test is the docs' link checker; it also
checks that the navigation holds every page the site promises, that the API
reference has a page per module of src/, and that the built site loads nothing
from the network.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# The site's sections and pages, as the docs' structure promises them.
PAGES = {
    "Getting started": [
        "getting-started/install.md",
        "getting-started/first-run.md",
        "getting-started/your-own-data.md",
        "getting-started/parameters.md",
    ],
    "Concepts": [
        "concepts/pipelines.md",
        "concepts/model.md",
        "concepts/inference-model.md",
        "concepts/tracking.md",
    ],
    "How-to guides": [
        "how-to/batch-extraction.md",
        "how-to/spark.md",
        "how-to/object-storage.md",
        "how-to/large-tables.md",
        "how-to/scheduling.md",
        "how-to/model-outside.md",
        "how-to/reproduce.md",
        "how-to/team-tracking-server.md",
        "how-to/promote-model.md",
    ],
    "Results": [
        "results/evaluation.md",
        "results/repeats.md",
        "results/frontier.md",
        "results/anomaly-benchmark.md",
        "results/speed-benchmarks.md",
    ],
    "Development": [
        "development/architecture.md",
        "development/testing.md",
        "development/contributing.md",
        "development/changelog.md",
    ],
}
# MkDocs's plugins print a notice about MkDocs's future at every build.
QUIET = {"NO_MKDOCS_2_WARNING": "1", "DISABLE_MKDOCS_2_WARNING": "true"}


def mkdocs(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "mkdocs", *arguments]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The site, built as CI builds it, into a temporary folder."""
    folder = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        mkdocs("build", "--strict", "--site-dir", str(folder)),
        cwd=PROJECT_ROOT,
        env=os.environ | QUIET,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-5000:]
    return folder


def navigation() -> dict[str, list | str]:
    config = yaml.safe_load((PROJECT_ROOT / "mkdocs.yml").read_text())
    return {title: pages for entry in config["nav"] for title, pages in entry.items()}


def test_the_navigation_holds_every_page(site):
    nav = navigation()
    assert nav["Home"] == "index.md"
    assert nav["API reference"] == "reference/"
    for section, pages in PAGES.items():
        assert nav[section] == pages
    for page in ["index.md", *(page for pages in PAGES.values() for page in pages)]:
        assert (PROJECT_ROOT / "docs" / page).is_file(), page
        assert (site / page).with_suffix(".html").is_file(), page


def test_the_api_reference_has_a_page_per_module(site):
    source = PROJECT_ROOT / "src"
    for module in source.rglob("*.py"):
        page = module.relative_to(source).with_suffix(".html")
        if page.stem == "__main__":
            continue
        if page.stem == "__init__":
            page = page.with_name("index.html")
        assert (site / "reference" / page).is_file(), page


def test_the_site_loads_nothing_from_the_network(site):
    remote = re.compile(r"<(?:script|img)\b[^>]*\bsrc=\"(?:https?:)?//[^\"]*\"")
    stylesheet = re.compile(r"<link\b[^>]*\bhref=\"(?:https?:)?//[^\"]*\"[^>]*>")
    for page in site.rglob("*.html"):
        text = page.read_text()
        fetched = remote.findall(text) + [
            tag for tag in stylesheet.findall(text) if "stylesheet" in tag
        ]
        assert fetched == [], page


@pytest.mark.slow
def test_mkdocs_serve_serves_the_site():
    address = f"127.0.0.1:{free_port()}"
    server = subprocess.Popen(
        mkdocs("serve", "--dev-addr", address),
        cwd=PROJECT_ROOT,
        env=os.environ | QUIET,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            assert server.poll() is None, server.stderr.read().decode()[-3000:]
            try:
                with urllib.request.urlopen(f"http://{address}/", timeout=5) as page:
                    assert "Where to start" in page.read().decode()
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, "mkdocs serve did not answer"
                time.sleep(1)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
