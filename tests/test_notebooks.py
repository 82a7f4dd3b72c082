"""The notebooks run top to bottom on a project that has been run once."""

import nbformat
import pytest
from nbclient import NotebookClient

from tests.project_runs import run_project

pytestmark = pytest.mark.slow


def test_evaluation_walkthrough_runs_on_the_latest_outputs(project):
    run_project(project, {"training": {"epochs": 15}})
    path = project / "notebooks/evaluation_walkthrough.ipynb"
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(
        notebook, timeout=300, resources={"metadata": {"path": str(path.parent)}}
    ).execute()

    outputs = [output for cell in notebook.cells for output in cell.get("outputs", [])]
    assert not [o for o in outputs if o["output_type"] == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 3  # feature density, decoder tiles, top-activating rows
    tables = "".join(o.get("data", {}).get("text/html", "") for o in outputs)
    assert "Dimensionality reduction" in tables
