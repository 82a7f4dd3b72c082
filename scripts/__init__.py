"""Maintenance commands, run from the project root as ``python scripts/NAME.py``."""
