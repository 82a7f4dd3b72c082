"""The project's Kedro context: parameter errors that name each bad parameter."""

from __future__ import annotations

from typing import Any

from kedro.framework.context import KedroContext
from kedro.framework.project import pipelines
from kedro.validation import ParameterValidationError, TypeExtractor

from sae_pipelines.parameters.groups import PARAMETER_GROUPS
from sae_pipelines.parameters.validation import validate_parameters


class ProjectContext(KedroContext):
    """Kedro's context, whose parameter errors name each bad parameter.

    Kedro validates the ``params:`` inputs of the run's nodes against their
    type hints, but reports a failure as pydantic's report per group, and
    skips a group that is missing.
    """

    @property
    def params(self) -> dict[str, Any]:
        """The parameters, each group a model where a node types it.

        Raises:
            InvalidParametersError: A group is missing or a parameter is invalid.
        """
        try:
            params = super().params
        except ParameterValidationError:
            # Kedro's checked keys: the groups and any namespaced copies.
            typed = TypeExtractor(dict(pipelines)).extract_types_from_pipelines()
            validate_parameters(self.config_loader["parameters"], typed)
            raise  # a failure of none of the typed parameters
        if not PARAMETER_GROUPS.keys() <= params.keys():
            validate_parameters(params)  # names the missing groups
        return params
