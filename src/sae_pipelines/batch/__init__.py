"""Batch extraction's own pieces: partitions in and out, the lock, the Spark engine.

``partitions`` reads the incoming files in chunks and writes one output file
per partition exactly once, with its checkpoint; ``lock`` lets one batch run at
a time; ``spark`` encodes the partitions on Spark. Every engine scores rows with
the inference model (:mod:`sae_pipelines.inference`); the pipeline that wires
them is ``pipelines/batch_extraction``.
"""
