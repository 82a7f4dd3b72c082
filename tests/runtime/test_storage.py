import hashlib
import pickle
import uuid

import fsspec

from sae_pipelines.runtime.storage import Location, sha256, storage_options


def test_storage_options_are_credentials_then_fs_args_without_open_args():
    options = storage_options(
        {"key": "k", "secret": "s"},
        {"secret": "t", "open_args_load": {"mode": "rb"}, "open_args_save": {}},
    )
    assert options == {"key": "k", "secret": "t"}


def test_a_local_location_keeps_the_path_as_given(tmp_path):
    folder = Location("data/batch")
    assert folder.is_local and folder.child("a.parquet").url == "data/batch/a.parquet"
    assert Location("file:///tmp/x").local_path.as_posix() == "/tmp/x"
    file = Location(str(tmp_path / "a.csv"))
    (tmp_path / "a.csv").write_bytes(b"a\n1\n")
    assert file.size() == 4
    assert file.modified_ns() == (tmp_path / "a.csv").stat().st_mtime_ns


def test_a_remote_location_travels_as_plain_data_and_hashes_its_bytes():
    url = f"memory://storage-{uuid.uuid4().hex}"
    fsspec.filesystem("memory").pipe_file(f"{url}/a.csv", b"a\n1\n")
    folder = pickle.loads(pickle.dumps(Location(url, {"skip_instance_cache": False})))
    [file] = folder.files()
    assert (file.url, file.name, file.stem, file.suffix) == (
        f"{url}/a.csv",
        "a.csv",
        "a",
        ".csv",
    )
    assert not file.is_local and file.read_bytes() == b"a\n1\n"
    assert sha256(file) == hashlib.sha256(b"a\n1\n").hexdigest()
    file.remove()
    assert not file.exists()
