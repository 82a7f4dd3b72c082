"""Benchmarks: run each as a module from the project root (``python -m benchmarks.NAME``)."""

# Before any benchmark imports TensorFlow: the package's settings (how TensorFlow
# computes on the CPU) and its quiet logs, as in every run of the project.
import sae_pipelines  # noqa: F401
