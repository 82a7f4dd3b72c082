from matplotlib.figure import Figure

from sae_pipelines.pipelines.evaluation.report import comparison_rows, render_report
from sae_pipelines.sae import ModelConfig, build_sparse_autoencoder


def test_winners_respect_the_direction_of_each_measure():
    rows, skipped = comparison_rows(
        {
            "probe_accuracy": 0.97,
            "probe_accuracy_raw": 0.96,
            "probe_accuracy_pca": 0.90,
            "test_fvu": 0.2,
            "pca_test_fvu": 0.1,
            "pretrained_accuracy": 0.8,
            "scratch_accuracy": 0.8,
        }
    )
    winners = {row["use"]: row["winner"] for row in rows}
    assert winners == {
        "Feature learning": "sparse autoencoder",
        "Dimensionality reduction": "PCA",
        "Pretraining": "tie: sparse autoencoder, from scratch",
    }
    assert skipped == ["clustering", "anomaly detection", "denoising"]


def test_report_holds_the_table_every_metric_and_every_plot():
    model = build_sparse_autoencoder(
        16,
        ModelConfig.model_validate(
            {
                "code_size": "auto",
                "sparsity": {
                    "method": "topk",
                    "l1": {"weight": 0.0},
                    "kl": {"rho": 0.05, "beta": 1.0},
                    "topk": {"k": "auto"},
                },
            }
        ),
    )
    figures = {"codes_2d": Figure(), "anomaly_scores": Figure()}
    html, plots = render_report(
        {"test_fvu": 0.1, "pca_test_fvu": 0.3, "test_l0": 4.0}, model, **figures
    )
    assert set(plots) == {"codes_2d.png", "anomaly_scores.png"}
    assert html.count("data:image/png;base64,") == 2
    assert "16 → 16 codes, TopK k=4" in html
    assert '<td class="winner">0.1000</td>' in html
    assert "test_l0" in html
