"""The project's parameters: a pydantic model per group, checked before a run.

``groups`` holds the models of the data, anomaly, evaluation and batch groups
(the model and training groups are the model's own, ``sae.config``) and
:func:`~sae_pipelines.parameters.groups.plain`; ``validation`` names every bad
parameter in one error.
"""
