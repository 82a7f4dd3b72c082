import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from sae_pipelines.pipelines.evaluation.plots import (
    plot_feature_density,
    plot_top_activating,
)
from sae_pipelines.reporting.plots import _mosaic
from tests.pipelines.conftest import typed


def test_mosaic_places_tiles_row_by_row_with_gaps():
    tiles = np.arange(3 * 2 * 2, dtype=float).reshape(3, 2, 2)
    sheet = _mosaic(tiles, columns=2)
    assert sheet.shape == (5, 5)
    np.testing.assert_array_equal(sheet[3:5, 0:2], tiles[2])
    assert np.isnan(sheet[2]).all() and np.isnan(sheet[3:, 3:]).all()


@pytest.fixture
def codes_and_rows():
    rng = np.random.default_rng(0)
    codes = pd.DataFrame(
        {"row_id": range(20), "code_000": rng.uniform(size=20), "code_001": 0.0}
    )
    rows = pd.DataFrame(
        rng.uniform(size=(20, 16)), columns=[f"p{i}" for i in range(16)]
    )
    return codes, rows.rename_axis("row_id").reset_index()


def test_feature_density_counts_dead_units_apart(params, codes_and_rows):
    codes, _ = codes_and_rows
    figure = plot_feature_density(
        codes, typed(params)["feature_extraction"], typed(params)["evaluation"]
    )
    assert figure.axes[0].get_title() == "Feature density: 1 active units, 1 dead"


@pytest.mark.parametrize("width", [16, 5])
def test_top_activating_rows_as_images_or_heatmaps(params, codes_and_rows, width):
    params["data"]["label_column"] = None
    codes, rows = codes_and_rows
    rows = rows.iloc[:, : width + 1]
    figure = plot_top_activating(
        codes,
        rows,
        typed(params)["data"],
        typed(params)["feature_extraction"],
        typed(params)["evaluation"],
    )
    assert isinstance(figure, Figure)
    images = [ax.images[0].get_array() for ax in figure.axes if ax.images]
    assert len(images) == 2  # one row of images per unit
    # 16 pixels: eight 4 × 4 tiles side by side; 5 features: an 8 × 5 heat map.
    assert all(
        image.shape == ((4, 8 * 5 - 1) if width == 16 else (8, 5)) for image in images
    )
