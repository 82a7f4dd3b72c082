"""Garbage collection paused while the project's libraries load.

TensorFlow, MLflow and scikit-learn make millions of objects as they are
imported, and they live until the process ends. Python's collector would walk
them again and again while they are made, and once more at exit together with
all that the run made. Frozen, they are skipped by every later collection.
"""

from __future__ import annotations

import atexit
import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_while_importing() -> Iterator[None]:
    """Collect no garbage in the ``with`` block, then freeze what it made.

    At exit the heap is frozen again, so the last collection skips it too.
    Nothing is lost: exit handlers (MLflow ending a run, logging's flush) still
    run.
    """
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()
        atexit.register(gc.freeze)
