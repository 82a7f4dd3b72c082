"""`kedro rebuild-checkpoint`: batch extraction's checkpoint from its output files."""

import hashlib
import json
import os

import pandas as pd
import pytest

from benchmarks.project import copy_project
from tests.project_runs import digits, kedro_cli

pytestmark = pytest.mark.slow

OUTPUT = "data/07_model_output/batch"
INCOMING = "data/01_raw/incoming"


def test_a_damaged_checkpoint_is_rebuilt_from_the_committed_files(tmp_path):
    root = copy_project(tmp_path / "project")
    output, incoming = root / OUTPUT, root / INCOMING
    output.mkdir(parents=True, exist_ok=True)
    incoming.mkdir(parents=True, exist_ok=True)
    digits(4).to_csv(incoming / "d1.csv", index=False)
    committed = pd.DataFrame(
        {
            "row_id": range(4),
            "code_000": 0.5,
            "anomaly_score": 0.1,
            "is_flagged": [True, False, False, False],
            "l0": [2, 2, 3, 3],
        }
    )
    committed.to_parquet(output / "d1.parquet", index=False)
    committed.head(2).drop(columns="is_flagged").to_parquet(output / "gone.parquet")
    (output / "_checkpoint.json").write_text('{"d1": {"rows": 4, "fi')
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"

    result = kedro_cli(
        root, "rebuild-checkpoint", env=os.environ | {"MLFLOW_TRACKING_URI": store}
    )

    assert result.returncode == 0, result.stderr[-3000:]
    assert "2 partitions (6 rows) recorded" in result.stdout
    checkpoint = json.loads((output / "_checkpoint.json").read_text())
    assert checkpoint["d1"]["rows"] == 4 and checkpoint["d1"]["file"] == "d1.parquet"
    assert checkpoint["d1"]["anomaly_rate"] == 0.25
    assert checkpoint["d1"]["mean_l0"] == 2.5
    digest = hashlib.sha256((incoming / "d1.csv").read_bytes()).hexdigest()
    assert checkpoint["d1"]["input_sha256"] == digest
    assert checkpoint["gone"]["rows"] == 2
    assert checkpoint["gone"]["anomaly_rate"] is checkpoint["gone"]["input_sha256"]
    assert checkpoint["gone"]["input_sha256"] is None
    assert (output / "_checkpoint.json.old").read_text() == '{"d1": {"rows": 4, "fi'
