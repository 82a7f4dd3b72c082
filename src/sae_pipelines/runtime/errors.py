"""The kind of error a user can fix by changing their input.

Data, partitions, parameters, model versions and the like: ``kedro run`` ends
such an error with its message, which names what is at fault, instead of a
traceback (see :mod:`sae_pipelines.cli`). Any other error is a bug and keeps
its traceback.
"""

from __future__ import annotations

from collections.abc import Iterator


def error_chain(error: BaseException | None) -> Iterator[BaseException]:
    """``error``, then each error it was raised from or while handling."""
    while error is not None:
        yield error
        error = error.__cause__ or error.__context__


class InputError(Exception):
    """Bad input: a file, column, partition, parameter or version the message names."""
