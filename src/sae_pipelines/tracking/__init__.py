"""Tracking: what each run read, wrote and measured, in MLflow and Kedro's versions.

``mlflow_run`` (the run kedro-mlflow opens, named and tagged), ``metrics`` (the
per-epoch metric dataset), ``versions`` (the dataset versions a run uses),
``artifacts`` (files copied to the run), ``provenance`` (what repeating it
needs), ``recorded_run`` and ``reproduce`` (repeating it by id), ``registry``
(model versions and aliases), ``session`` and ``store_lock`` (runs started at
once).
"""
