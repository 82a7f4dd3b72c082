import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd

from sae_pipelines.inference import InferenceModel
from sae_pipelines.inference.artifacts import (
    load_artifacts,
    read_pickle,
    write_artifacts,
)
from sae_pipelines.inference.preprocessing import OutOfRangeCompressor
from sae_pipelines.parameters.groups import DataParams, NormalizationParams
from sae_pipelines.pipelines.data_processing.nodes import fit_normalizer
from tests.conftest import topk_autoencoder


def test_a_normaliser_pickled_before_its_module_moved_still_loads(tmp_path):
    compressor = OutOfRangeCompressor().fit(np.array([[0.0], [1.0]]))
    # Protocol 0 names each class's module as a line of text.
    pickled = pickle.dumps(compressor, protocol=0)
    assert b"sae_pipelines.inference.preprocessing" in pickled
    old = pickled.replace(
        b"sae_pipelines.inference.preprocessing", b"sae_pipelines.preprocessing"
    )
    path = tmp_path / "normalizer.pkl"
    path.write_bytes(old)
    loaded = read_pickle(str(path))
    assert isinstance(loaded, OutOfRangeCompressor)
    far = np.array([[5.0]])
    np.testing.assert_array_equal(loaded.transform(far), compressor.transform(far))


def test_integer_features_are_saved_and_old_settings_load_without_them(tmp_path):
    train = pd.DataFrame({"a": [0.0, 1.0, 0.5], "b": [1, 2, 3]})
    normalizer = fit_normalizer(
        train, NormalizationParams(method="minmax"), DataParams()
    )
    model = InferenceModel(
        topk_autoencoder(2, 4, 1), normalizer, integer_features=("b",)
    )
    paths = write_artifacts(model, tmp_path)
    assert load_artifacts(paths).integer_features == ("b",)
    settings = json.loads(Path(paths["settings"]).read_text())
    del settings["integer_features"]  # as saved before it was recorded
    Path(paths["settings"]).write_text(json.dumps(settings))
    assert load_artifacts(paths).integer_features == ()
