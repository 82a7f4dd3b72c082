import base64

import keras
from kedro_datasets.matplotlib import MatplotlibDataset
from matplotlib.figure import Figure

from sae_pipelines.reporting.evaluation import (
    comparison_rows,
    describe,
    render_report,
)
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


def _topk_model_config() -> ModelConfig:
    return ModelConfig.model_validate(
        {
            "code_size": "auto",
            "sparsity": {
                "method": "topk",
                "l1": {"weight": 0.0},
                "kl": {"rho": 0.05, "beta": 1.0},
                "topk": {"k": "auto"},
            },
        }
    )


def _topk_model() -> keras.Model:
    return build_sparse_autoencoder(16, _topk_model_config())


def test_description_names_the_widths_and_the_sparsity_settings():
    model = build_sparse_autoencoder(
        64,
        ModelConfig.model_validate(
            {
                "encoder_units": [32],
                "code_size": 48,
                "sparsity": {
                    "method": "l1",
                    "l1": {"weight": 0.001},
                    "kl": {"rho": 0.05, "beta": 1.0},
                    "topk": {"k": "auto"},
                },
            }
        ),
    )
    recipe = "centred, unit-norm decoder"
    assert describe(model) == f"64 → 32 → 48 codes, ReLU + L1 λ=0.001, {recipe}"
    assert describe(_topk_model()) == f"16 → 64 codes, TopK k=8, {recipe}"
    plain = _topk_model_config().model_copy(
        update={"centring": False, "unit_norm_decoder": False}
    )
    assert describe(build_sparse_autoencoder(16, plain)) == "16 → 64 codes, TopK k=8"


def test_description_names_the_threshold_methods_settings():
    def described(method):
        config = _topk_model_config().model_dump()
        config["sparsity"]["method"] = method
        return describe(build_sparse_autoencoder(16, ModelConfig(**config)))

    recipe = "centred, unit-norm decoder"
    assert described("batchtopk") == (
        f"16 → 64 codes, BatchTopK k=8 (threshold 0), {recipe}"
    )
    assert described("jumprelu") == (
        f"16 → 64 codes, JumpReLU, target L0 8 ε=0.001, {recipe}"
    )


def test_report_holds_the_table_every_metric_and_every_plot():
    model = _topk_model()
    figures = {"codes_2d": Figure(), "anomaly_scores": Figure()}
    html, plots = render_report(
        {"test_fvu": 0.1, "pca_test_fvu": 0.3, "test_l0": 4.0}, model, 7, 50, **figures
    )
    assert set(plots) == {"codes_2d.png", "anomaly_scores.png"}
    assert html.count("data:image/png;base64,") == 2
    assert "16 → 64 codes, TopK k=8" in html
    assert '<td class="winner">0.1000</td>' in html
    assert "test_l0" in html
    assert "One seed (7)" in html and "kedro run --pipelines repeats" in html


def test_plots_are_drawn_once_and_saved_as_the_report_shows_them(tmp_path):
    figure = Figure(figsize=(2, 2))
    figure.subplots().plot([0, 1], [1, 0])
    html, plots = render_report({}, _topk_model(), 42, 50, line=figure)

    MatplotlibDataset(filepath=str(tmp_path / "plots")).save(plots)

    png = (tmp_path / "plots" / "line.png").read_bytes()
    assert png.startswith(b"\x89PNG") and png == plots["line.png"].png
    assert base64.b64encode(png).decode("ascii") in html


def test_the_report_says_when_knn_searched_a_sample_of_the_training_rows():
    metrics = {
        "anomaly_roc_auc": 0.91,
        "knn_anomaly_roc_auc": 0.93,
        "knn_neighbours": 5.0,
        "knn_training_rows": 600_000.0,
    }
    sampled = {**metrics, "knn_reference_rows": 20_000.0}
    html, _ = render_report(sampled, _topk_model(), 42, 50)
    assert "the 5th nearest of a random sample of 20,000 of the 600,000" in html
    assert "★ kNN" in html
    every = {**metrics, "knn_reference_rows": 600_000.0}
    html, _ = render_report(every, _topk_model(), 42, 50)
    assert "the 5th nearest of all 600,000 training rows" in html


def test_the_report_says_how_the_code_units_fared():
    metrics = {
        "dead_fraction_train": 0.05,
        "dead_fraction_last_epoch": 0.0625,
        "dense_units": 3.0,
        "val_train_loss_ratio": 2.5,
    }
    html, _ = render_report(metrics, _topk_model(), 42, 50)
    assert (
        "Code units: 5.0% never fire on the training rows; 6.2% fired on no row of "
        "the last training epoch; 3 fire on more than half of the training rows; "
        "validation loss 2.50× the training loss at the kept epoch"
    ) in html
    html, _ = render_report({}, _topk_model(), 42, 50)
    assert "Code units:" not in html
