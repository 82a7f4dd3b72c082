import pickle

import numpy as np

from sae_pipelines.inference.artifacts import read_pickle
from sae_pipelines.inference.preprocessing import OutOfRangeCompressor


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
