"""Kedro datasets of the project's own tables, for the catalog's ``type:``."""
