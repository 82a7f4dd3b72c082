"""Sparse autoencoders as production data pipelines."""

import os

from sae_pipelines.runtime.quiet import quiet_libraries

# A seeded run's figures depend on how TensorFlow computes on the CPU at hand: its
# oneDNN ops are on by default only on CPUs with AVX-512 VNNI, AVX-VNNI or AMX,
# and its matrix products call oneDNN's sgemm, generated at run time for the
# widest instruction set there. Off, and with oneDNN held to AVX2, every x86-64
# CPU with AVX2 runs the same code. Read when TensorFlow loads (just below).
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")
# Every entry point imports this package before TensorFlow or MLflow, which read
# their settings when they load.
quiet_libraries()

__version__ = "0.1.0"
