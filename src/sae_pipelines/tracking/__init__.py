"""Tracking: what each run read, wrote and measured, in MLflow and Kedro's versions.

``mlflow_run`` (the run kedro-mlflow opens, named and tagged, and how it ends),
``abandoned_runs`` (runs whose process was killed), ``metrics`` (the per-epoch
metric dataset), ``epoch_metrics`` (each epoch logged as training goes),
``versions`` (the dataset versions a run uses, removed when it fails),
``artifacts`` (files copied to the run), ``provenance`` (what repeating it
needs), ``recorded_run`` and ``reproduce`` (repeating it by id), ``registry``
(model versions and aliases), ``session`` and ``store_lock`` (runs started at
once).
"""
