"""Sparse autoencoders as production data pipelines."""

import os

# MLflow's usage telemetry tries the network from a thread, and this project runs
# offline. MLflow reads this when first imported, so it is set here, first.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
# TensorFlow's C++ start-up chatter (CUDA probing, oneDNN notices) hides what a
# run, a served model or a notebook has to say; read when TensorFlow loads.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# A seeded run's figures depend on how TensorFlow computes on the CPU at hand: its
# oneDNN ops are on by default only on CPUs with AVX-512 VNNI, AVX-VNNI or AMX,
# and its matrix products call oneDNN's sgemm, generated at run time for the
# widest instruction set there. Off, and with oneDNN held to AVX2, every x86-64
# CPU with AVX2 runs the same code. Read when TensorFlow loads.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")

__version__ = "0.1.0"
