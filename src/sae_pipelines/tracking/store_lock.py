"""One process at a time on a SQLite MLflow store's check-then-write steps.

MLflow creates its tables, and kedro-mlflow its experiment, when they find them
missing; two processes that look at once both find them missing and both
create, and one fails (``duplicate column name: step``). The same holds for
the registered model's first ``production`` alias. A file lock next to the
database serialises these steps across processes. Other stores get no lock:
an MLflow server creates its tables when it starts, once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock
from sqlalchemy.engine import make_url

SQLITE_BACKEND = "sqlite"


def sqlite_database(uri: str | None) -> Path | None:
    """The database file of a ``sqlite:///`` store URI; None for other stores."""
    if not uri or not uri.startswith(f"{SQLITE_BACKEND}:"):
        return None
    database = make_url(uri).database
    if not database or database == ":memory:":
        return None
    return Path(database).resolve()  # relative paths are the working directory's


@contextlib.contextmanager
def store_lock(uri: str | None) -> Iterator[None]:
    """Hold ``<database>.lock`` while the block runs, for a SQLite store URI."""
    database = sqlite_database(uri)
    if database is None:
        yield
        return
    with FileLock(database.with_name(f"{database.name}.lock")):
        yield
