"""The repeats' summary, its MLflow metrics and its page, without running the project."""

import pytest

from sae_pipelines.pipelines.repeats.nodes import (
    repeats_mlflow_metrics,
    spread,
    summarise_repeats,
)
from sae_pipelines.reporting.repeats import (
    render_repeats_report,
    repeats_markdown,
)


def record(seed, probe, probe_raw, fvu, pca_fvu):
    return {
        "name": f"seed_{seed}",
        "point": {"seed": seed},
        "metrics": {
            "probe_accuracy": probe,
            "probe_accuracy_raw": probe_raw,
            "test_fvu": fvu,
            "pca_test_fvu": pca_fvu,
        },
    }


def test_the_spread_is_the_range_and_the_t_interval_of_the_mean():
    figures = spread([0.90, 0.92, 0.94])

    assert figures["mean"] == pytest.approx(0.92)
    assert (figures["min"], figures["max"]) == (0.90, 0.94)
    # sd 0.02, t(0.975, 2) = 4.303: half-width 4.303 · 0.02 / √3 = 0.0497
    assert figures["ci95_low"] == pytest.approx(0.92 - 0.0497, abs=1e-4)
    assert figures["ci95_high"] == pytest.approx(0.92 + 0.0497, abs=1e-4)
    one = spread([0.5])
    assert one["ci95_low"] is None and one["ci95_high"] is None


def test_each_comparison_counts_the_seeds_the_model_won():
    summary = summarise_repeats(
        record(1, 0.95, 0.96, 0.10, 0.30),
        record(2, 0.97, 0.96, 0.12, 0.11),
        record(3, 0.98, 0.96, 0.11, 0.30),
    )

    assert summary["seeds"] == [1, 2, 3]
    probe, fvu = summary["comparisons"]
    assert probe["measure"] == "linear probe accuracy"
    assert probe["sae"]["mean"] == pytest.approx(0.9667, abs=1e-4)
    assert probe["baselines"]["raw inputs"]["sae_ahead"] == 2
    assert "PCA" not in probe["baselines"]  # not measured in these runs
    assert fvu["baselines"]["PCA"]["sae_ahead"] == 2  # lower FVU wins
    assert set(summary["metrics"]) == {
        "probe_accuracy",
        "probe_accuracy_raw",
        "test_fvu",
        "pca_test_fvu",
    }

    flat = repeats_mlflow_metrics(summary)
    assert flat["probe_accuracy_ahead_of_raw_inputs"] == {"value": 2, "step": 0}
    assert flat["test_fvu_ahead_of_pca"]["value"] == 2
    assert flat["test_fvu_max"]["value"] == 0.12

    page = render_repeats_report(summary)
    assert "Sparse autoencoder over 3 seeds" in page
    assert "0.9667 (0.9500–0.9800)" in page
    assert "2 of 3" in page
    table = repeats_markdown(summary).splitlines()
    assert table[0] == "Seeds 1, 2, 3: mean (min–max) over the seeds."
    assert table[4] == (
        "| linear probe accuracy (higher is better) | 0.967 (0.950–0.980) "
        "| raw inputs 0.960 (0.960–0.960) | 2 of 3 |"
    )


def test_a_metric_some_seeds_lack_is_left_out():
    first, second = record(1, 0.9, 0.8, 0.1, 0.2), record(2, 0.9, 0.8, 0.1, 0.2)
    del second["metrics"]["probe_accuracy_raw"]

    summary = summarise_repeats(first, second)

    assert [c["metric"] for c in summary["comparisons"]] == ["test_fvu"]
    assert "probe_accuracy_raw" not in summary["metrics"]
