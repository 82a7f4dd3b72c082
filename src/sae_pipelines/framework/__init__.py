"""Everything that plugs the project into Kedro: what ``settings.py`` names.

``context`` (:class:`~sae_pipelines.framework.context.ProjectContext`, parameter
errors that name each bad parameter), ``config_loader`` (Kedro's loader with the
pipelines' points added), ``session`` (session ids unique on the machine) and
``hooks`` (every hook, and the order they are registered in). Nothing below
this package imports it. ``starting_up`` is the project's start-up
(:mod:`sae_pipelines.runtime.startup`), which ``settings.py`` enters first.
"""

from sae_pipelines.runtime.startup import starting_up

__all__ = ["starting_up"]
