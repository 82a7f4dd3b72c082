"""The kind of error a user can fix by changing their input.

Data, partitions, parameters, model versions and the like: ``kedro run`` ends
such an error with its message, which names what is at fault, instead of a
traceback (see :mod:`sae_pipelines.cli`). Any other error is a bug and keeps
its traceback.
"""


class InputError(Exception):
    """Bad input: a file, column, partition, parameter or version the message names."""
