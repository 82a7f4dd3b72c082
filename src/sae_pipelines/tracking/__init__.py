"""Tracking: what each run read, wrote and measured, in MLflow and Kedro's versions.

``mlflow_run`` (the tracking server's checks, the run's name and tags),
``abandoned_runs`` (runs whose process was killed), ``metrics`` (the per-epoch
metric dataset), ``epoch_metrics`` (each epoch logged as training goes),
``versions`` (removing a killed run's file versions), ``provenance`` (what
repeating a run needs), ``snapshots`` (the data, stored by content),
``recorded_run`` and ``reproduce`` (repeating a run by id), ``registry`` (model
versions and aliases) and ``registry_datasets`` (the inference model saved,
registered and loaded in the catalog), ``store_lock`` (runs started at once).
The Kedro hooks that call them live in ``framework/hooks``.
"""
