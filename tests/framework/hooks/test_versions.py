"""Each run loads the versions it saved, and knows which it loaded."""

import json
from pathlib import Path

from kedro.io import DataCatalog
from kedro.pipeline import Node, Pipeline

from sae_pipelines.framework.hooks.versions import RunVersionsHooks
from sae_pipelines.tracking.versions import remove_save_version

EARLIER = "2026-01-01T00.00.00.000Z"
OWN = "2026-01-01T00.00.01.000Z"
NEWER = "2026-01-01T00.00.02.000Z"  # what another run saves meanwhile
OUTPUTS = ("written", "cached", "test_part")
PIPELINE = Pipeline(
    [
        Node(lambda x: (x, x, x), "raw", list(OUTPUTS)),
        Node(lambda *_: None, list(OUTPUTS), None),
    ]
)


def catalog_of(root: Path, save_version: str, load_versions=None) -> DataCatalog:
    """Versioned JSON files: plain, behind a CachedDataset, from a pattern."""

    def versioned(name: str) -> dict:
        return {
            "type": "json.JSONDataset",
            "filepath": str(root / f"{name}.json"),
            "versioned": True,
        }

    cached = versioned("cached")
    del cached["versioned"]
    config = {
        "raw": versioned("raw"),
        "written": versioned("written"),
        "cached": {"type": "CachedDataset", "versioned": True, "dataset": cached},
        "{split}_part": versioned("{split}_part"),
    }
    return DataCatalog.from_config(
        config, save_version=save_version, load_versions=load_versions
    )


def save_all(root: Path, save_version: str, value: str) -> None:
    catalog = catalog_of(root, save_version)
    for name in ("raw", *OUTPUTS):
        catalog.save(name, value)


def run_beside_another(root: Path, run_params=None, load_versions=None) -> DataCatalog:
    """Save the outputs, then let another run save newer versions of everything."""
    catalog = catalog_of(root, OWN, load_versions)
    run_params = {"run_id": OWN, "load_versions": load_versions, **(run_params or {})}
    RunVersionsHooks().before_pipeline_run(run_params, PIPELINE, catalog)
    for name in OUTPUTS:
        catalog.save(name, "own")
    save_all(root, NEWER, "another run's")
    for name in OUTPUTS:
        catalog.release(name)  # read the files, not what CachedDataset holds
    return catalog


def test_a_run_loads_the_versions_it_saved(tmp_path, caplog):
    save_all(tmp_path, EARLIER, "earlier")
    catalog = run_beside_another(tmp_path)
    assert [catalog.load(name) for name in OUTPUTS] == ["own"] * 3
    assert catalog.load("raw") == "another run's"  # only read: the newest
    assert "Replacing dataset" not in caplog.text


def test_named_load_versions_are_kept(tmp_path):
    save_all(tmp_path, EARLIER, "earlier")
    catalog = run_beside_another(tmp_path, load_versions={"written": EARLIER})
    assert catalog.load("written") == "earlier"
    assert catalog.load("cached") == "own"


def test_only_missing_outputs_reads_outputs_as_found(tmp_path):
    save_all(tmp_path, EARLIER, "earlier")
    catalog = run_beside_another(tmp_path, {"only_missing_outputs": True})
    assert catalog.load("written") == "another run's"


def test_read_datasets_keep_the_version_newest_at_their_first_load(tmp_path):
    save_all(tmp_path, EARLIER, "earlier")
    catalog = catalog_of(tmp_path, OWN)
    versions = RunVersionsHooks()
    versions.before_pipeline_run({"run_id": OWN}, PIPELINE, catalog)
    versions.before_dataset_loaded("raw")  # as the runner calls it, then loads
    save_all(tmp_path, NEWER, "another run's")
    assert catalog.load("raw") == "earlier"
    assert versions.loaded_version("raw") == EARLIER
    assert versions.saved_version("raw") == OWN
    assert versions.loaded_version("written") == OWN
    for name in OUTPUTS:
        catalog.save(name, "own")
        own_file = versions.local_file(name, OWN)
        assert own_file == tmp_path / f"{name}.json" / OWN / f"{name}.json"
        assert json.loads(own_file.read_text()) == "own"


def test_a_failed_run_leaves_no_version_of_its_own(tmp_path):
    save_all(tmp_path, EARLIER, "earlier")
    catalog = catalog_of(tmp_path, OWN)
    versions = RunVersionsHooks()
    versions.before_pipeline_run({"run_id": OWN}, PIPELINE, catalog)
    catalog.save("written", "own")
    catalog.save("test_part", "own")  # "cached" was never written

    versions.on_pipeline_error(PIPELINE)

    for name in ("raw", *OUTPUTS):
        folder = tmp_path / f"{name}.json"
        assert [path.name for path in folder.iterdir()] == [EARLIER]
        assert json.loads((folder / EARLIER / f"{name}.json").read_text()) == "earlier"


def test_a_failed_first_run_leaves_no_empty_folders(tmp_path):
    catalog = catalog_of(tmp_path, OWN)
    versions = RunVersionsHooks()
    versions.before_pipeline_run({"run_id": OWN}, PIPELINE, catalog)
    catalog.save("written", "own")

    versions.on_pipeline_error(PIPELINE)

    assert not (tmp_path / "written.json").exists()


def test_a_killed_runs_version_folders_go_and_other_versions_stay(tmp_path):
    killed, kept = "2026-01-01T00.00.00.000Z", "2026-01-02T00.00.00.000Z"
    for name in ("02_intermediate/a.parquet", "06_models/b.pkl"):
        (tmp_path / name / killed).mkdir(parents=True)
        (tmp_path / name / killed / Path(name).name).write_bytes(b"half")
    (tmp_path / "06_models/b.pkl" / kept).mkdir()

    removed = remove_save_version(tmp_path, killed)

    assert len(removed) == 2
    assert not list(tmp_path.rglob(killed))
    assert not (tmp_path / "02_intermediate/a.parquet").exists()  # left empty
    assert (tmp_path / "06_models/b.pkl" / kept).is_dir()
