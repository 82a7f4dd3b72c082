"""Sparse autoencoders as production data pipelines.

Importing the package does nothing; the entry points start the project with
:func:`sae_pipelines.runtime.startup.start`.
"""

__version__ = "0.1.0"
