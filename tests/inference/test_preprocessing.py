import numpy as np
import pytest

from sae_pipelines.inference.preprocessing import OutOfRangeCompressor

TRAIN = np.array([[0.0, -1.0], [1.0, 1.0]])
NEW = np.array([[0.5, 0.0], [3.0, -2.0], [1.0 + np.e - 1.0, 1.0]])


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("keep", NEW),
        ("clip", [[0.5, 0.0], [1.0, -1.0], [1.0, 1.0]]),
        ("compress", [[0.5, 0.0], [1.0 + np.log(3.0), -1.0 - np.log(2.0)], [2.0, 1.0]]),
    ],
)
def test_values_beyond_the_training_range(mode, expected):
    compressor = OutOfRangeCompressor(mode).fit(TRAIN)
    np.testing.assert_allclose(compressor.transform(NEW), expected)


def test_compression_keeps_order_and_the_training_rows():
    compressor = OutOfRangeCompressor().fit(TRAIN)
    np.testing.assert_array_equal(compressor.transform(TRAIN), TRAIN)
    column = compressor.transform(np.c_[np.linspace(-5, 5, 50), np.zeros(50)])[:, 0]
    assert np.all(np.diff(column) > 0)


def test_float32_stays_float32_and_matches_float64():
    compressor = OutOfRangeCompressor().fit(TRAIN)
    single = compressor.transform(NEW.astype(np.float32))
    assert single.dtype == np.float32
    np.testing.assert_allclose(single, compressor.transform(NEW), rtol=1e-6)


def test_without_copy_the_input_itself_is_changed():
    compressor = OutOfRangeCompressor(copy=False).fit(TRAIN)
    expected = OutOfRangeCompressor().fit(TRAIN).transform(NEW)
    values = np.asfortranarray(NEW)  # any layout
    assert compressor.transform(values) is values
    np.testing.assert_array_equal(values, expected)
    assert NEW[1, 0] == 3.0  # the default copies


def test_compressors_pickled_before_copy_existed_still_load():
    compressor = OutOfRangeCompressor().fit(TRAIN)
    state = dict(compressor.__getstate__())
    del state["copy"]
    restored = OutOfRangeCompressor.__new__(OutOfRangeCompressor)
    restored.__setstate__(state)
    assert restored.copy is True
    np.testing.assert_array_equal(restored.transform(NEW), compressor.transform(NEW))
