"""The package's layers: imports run downhill, and importing does nothing.

The map, lowest first, is the one on the docs' architecture page: a package
imports only from packages below it, and no pipeline imports another.
"""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "src" / "sae_pipelines"
# Lowest first; packages in one layer do not import each other.
LAYERS = [
    {"runtime"},
    {"sae"},
    {"inference"},
    {"parameters"},
    {"tracking", "batch", "reporting", "datasets"},
    {"pipelines"},
    {"framework"},
    {"settings", "cli", "pipeline_registry", "__main__"},
]
LAYER_OF = {name: level for level, names in enumerate(LAYERS) for name in names}


def imported_modules(path: Path) -> set[str]:
    """Every ``sae_pipelines.…`` module a file imports, at any depth."""
    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
        elif isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
    return {module for module in modules if module.startswith("sae_pipelines.")}


def part(module_path: tuple[str, ...]) -> str:
    """The top-level part of the package a module belongs to."""
    return module_path[0].removesuffix(".py")


def imports_by_file() -> list[tuple[str, str, str]]:
    """``(file, its part, the part it imports)`` for each import across parts."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if relative.name == "__init__.py" and len(relative.parts) == 1:
            continue
        source = part(relative.parts)
        for module in imported_modules(path):
            target = module.split(".")[1]
            if target != source:
                found.append((str(relative), source, target))
    return found


def test_every_part_of_the_package_is_in_a_layer():
    parts = {part(path.relative_to(PACKAGE).parts) for path in PACKAGE.glob("*")}
    parts -= {"__init__", "__pycache__"}
    assert parts == set(LAYER_OF)


def test_imports_run_downhill_only():
    uphill = [
        f"{file} imports sae_pipelines.{target}"
        for file, source, target in imports_by_file()
        if LAYER_OF[target] >= LAYER_OF[source]
    ]
    assert uphill == []


def test_settings_imports_only_the_framework():
    targets = {target for file, _, target in imports_by_file() if file == "settings.py"}
    assert targets == {"framework"}


def test_no_pipeline_imports_another():
    pipelines = PACKAGE / "pipelines"
    names = {
        path.name for path in pipelines.iterdir() if (path / "pipeline.py").exists()
    }
    sideways = []
    for name in sorted(names):
        for path in sorted((pipelines / name).rglob("*.py")):
            for module in imported_modules(path):
                parts = module.split(".")
                if (
                    parts[1] == "pipelines"
                    and len(parts) > 2
                    and parts[2] in names - {name}
                ):
                    sideways.append(f"{path.relative_to(PACKAGE)} imports {module}")
    assert sideways == []


@pytest.mark.parametrize(
    "module",
    ["sae_pipelines", "sae_pipelines.sae.config", "sae_pipelines.runtime.startup"],
)
def test_importing_loads_no_tensorflow_and_changes_nothing(module):
    code = (
        "import os, sys; before = dict(os.environ); "
        f"import {module}; "
        "loaded = sorted({m.split('.')[0] for m in sys.modules} & {'tensorflow', 'keras'}); "
        "print(loaded, dict(os.environ) == before)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "ONEDNN"))}
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert (result.stdout, result.stderr) == ("[] True\n", "")
