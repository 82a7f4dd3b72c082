"""A package's names, imported from their modules when first used.

A package that re-exports names of modules which load TensorFlow would load it
whenever any of its modules is imported; with :func:`lazy_names` as its
``__getattr__`` (PEP 562) it loads a module only when one of its names is used.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_names(package: str, modules: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that imports each name on first use.

    Args:
        package: The package's ``__name__``.
        modules: Each name's module, relative to the package (``"model"``).
    """

    def __getattr__(name: str) -> Any:
        if name not in modules:
            msg = f"module {package!r} has no attribute {name!r}"
            raise AttributeError(msg)
        return getattr(importlib.import_module(f"{package}.{modules[name]}"), name)

    return __getattr__
