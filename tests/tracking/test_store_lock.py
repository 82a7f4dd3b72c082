"""A SQLite store's first steps take a lock."""

import threading

from filelock import FileLock

from sae_pipelines.tracking.store_lock import sqlite_database, store_lock


def test_sqlite_store_uris_name_their_database(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert sqlite_database("sqlite:///mlflow.db") == tmp_path / "mlflow.db"
    assert sqlite_database(f"sqlite:///{tmp_path}/a.db") == tmp_path / "a.db"
    for uri in (None, "sqlite://", "sqlite:///:memory:", "http://127.0.0.1:5000"):
        assert sqlite_database(uri) is None


def test_the_store_lock_waits_for_another_holder(tmp_path):
    holder = FileLock(tmp_path / "mlflow.db.lock")
    entered = threading.Event()

    def enter() -> None:
        with store_lock(f"sqlite:///{tmp_path}/mlflow.db"):
            entered.set()

    with holder:
        waiter = threading.Thread(target=enter)
        waiter.start()
        assert not entered.wait(timeout=0.5)
    assert entered.wait(timeout=5)
    waiter.join()
