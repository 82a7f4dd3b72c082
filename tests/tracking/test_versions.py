import uuid

import fsspec
import pytest

from sae_pipelines.runtime.storage import Location
from sae_pipelines.tracking.versions import remove_remote_versions


@pytest.fixture
def root():
    """A folder of its own on fsspec's in-memory filesystem (an object store)."""
    url = f"memory://versions-{uuid.uuid4().hex}"
    yield url
    fs = fsspec.filesystem("memory")
    if fs.exists(url):
        fs.rm(url, recursive=True)


def names(url: str) -> list[str]:
    fs = fsspec.filesystem("memory")
    return sorted(path.rsplit("/", 1)[-1] for path in fs.ls(url, detail=False))


def test_a_killed_runs_versions_on_a_store_are_removed_by_name(root):
    fs = fsspec.filesystem("memory")
    for version in ("v1", "v2"):
        fs.pipe_file(f"{root}/model.pkl/{version}/model.pkl", b"model")
        fs.pipe_file(f"{root}/plots/{version}/plots/a.png", b"png")
    files = [Location(f"{root}/model.pkl"), Location(f"{root}/plots")]
    removed = remove_remote_versions(files, "v2")
    assert removed == [f"{root}/model.pkl/v2", f"{root}/plots/v2"]
    assert names(f"{root}/model.pkl") == ["v1"] and names(f"{root}/plots") == ["v1"]
    assert remove_remote_versions(files, "v2") == []
