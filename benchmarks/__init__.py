"""Benchmarks: run each as a module from the project root (``python -m benchmarks.NAME``).

Every benchmark starts the project first, as its runs do: how TensorFlow computes
on the CPU, and quiet logs (:mod:`sae_pipelines.runtime.startup`).
"""

from sae_pipelines.runtime.startup import start

# The package is the benchmarks' entry point: each `python -m benchmarks.NAME`
# imports it before the benchmark imports TensorFlow.
start()
