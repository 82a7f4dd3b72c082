"""The metric keys a run reports, for the in-memory and the whole-project tests."""

# With class labels: probes, clustering and pretraining, each beside its baseline.
LABEL_METRICS = {
    "probe_accuracy",
    "probe_accuracy_raw",
    "probe_accuracy_pca",
    "cluster_nmi",
    "cluster_nmi_raw",
    "pretrained_accuracy",
    "scratch_accuracy",
    # The rows each split gave them (at most evaluation.sample_rows).
    "label_metrics_train_rows",
    "label_metrics_validation_rows",
    "label_metrics_test_rows",
}
# A default run on the digits.
REQUIRED_METRICS = {
    "test_mse",
    "test_fvu",
    "test_l0",
    "dead_fraction",
    "dead_fraction_train",
    "dense_units",
    "pca_test_fvu",
    # How the fit ended (the training pipeline's training_metrics).
    "epochs_trained",
    "kept_epoch",
    "val_train_loss_ratio",
    "dead_fraction_last_epoch",
    *LABEL_METRICS,
}
# With anomaly labels of both kinds in the test split.
ANOMALY_METRICS = {
    "anomaly_roc_auc",
    "anomaly_pr_auc",
    "anomaly_f1",
    "anomaly_precision",
    "anomaly_recall",
    "pca_anomaly_roc_auc",
    "iforest_anomaly_roc_auc",
    "knn_anomaly_roc_auc",
}
