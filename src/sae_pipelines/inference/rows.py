"""What a valid input row is: one definition for batch extraction and serving.

Both batch engines (pandas and Spark's executors) and the MLflow model's
``predict`` read rows through :meth:`InferenceModel.score_chunks
<sae_pipelines.inference.model.InferenceModel.score_chunks>`, which checks
every chunk with a :class:`RowCheck`. A row is valid when its input has

- every training feature column, and no other besides the id column;
- numeric, finite values (no text, null, NaN or infinity);
- whole numbers in the features that were integers in the training table;
- an id no other row of the same input has, when it carries the id column.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa

from sae_pipelines.inference.features import (
    InvalidInputError,
    check_columns,
    feature_values,
)


class RowCheck:
    """Checks the chunks of one input (a partition, a request) in turn.

    Ids must be unique across all of its chunks, so one check lasts for one
    input. Rows are named by their place in the input, from 1; a message
    counts the bad rows of the chunk it stopped at.

    Args:
        label: How messages name the input, e.g. ``Partition 'day1'``.
        features: The training feature columns, in the model's order.
        integer_features: Those that held integers in the training table.
        id_column: The column that identifies rows, when an input has it.
    """

    def __init__(
        self,
        label: str,
        features: list[str],
        integer_features: tuple[str, ...],
        id_column: str,
    ) -> None:
        self.label = label
        self.features = features
        self.integer_features = [name for name in features if name in integer_features]
        self.id_column = id_column
        self._ids = SeenIds()
        self._rows = 0

    def features_of(
        self, table: pa.Table, reuse: np.ndarray | None = None
    ) -> np.ndarray:
        """The chunk's features as :func:`feature_values` returns them, once checked.

        Raises:
            InvalidInputError: The chunk holds a row that is not valid; the
                message starts with the label and names the column, how many
                rows and the first of them.
        """
        check_columns(self.label, table.column_names, self.features, self.id_column)
        values = feature_values(self.label, table, self.features, reuse)
        for name in self.integer_features:
            self._check_whole(name, table.column(name))
        if self.id_column in table.column_names:
            self._check_ids(table.column(self.id_column))
        self._rows += table.num_rows
        return values

    def _check_whole(self, name: str, column: pa.ChunkedArray) -> None:
        if not pa.types.is_floating(column.type):
            return  # integer or boolean: whole by type
        values = column.to_numpy()  # finite, as feature_values found
        self._refuse(
            values != np.floor(values),
            f"fractional values in column '{name}', which holds integers for the model",
            lambda row: values[row],
        )

    def _check_ids(self, column: pa.ChunkedArray) -> None:
        ids = column.to_numpy()
        present = ~pd.isna(ids)
        repeated = np.zeros(len(ids), bool)
        repeated[present] = self._ids.repeated(ids[present])
        self._refuse(
            repeated,
            f"duplicate ids in column '{self.id_column}'",
            lambda row: repr(column[row].as_py()),
        )
        self._ids.add(ids[present])

    def _refuse(
        self, flags: np.ndarray, fault: str, value_at: Callable[[int], object]
    ) -> None:
        """Stop at the rows ``flags`` marks, naming ``fault`` and the first row's value."""
        if count := int(flags.sum()):
            first = int(np.argmax(flags))
            msg = (
                f"{self.label} has {fault}: {self._where(count, len(flags))}, "
                f"the first in row {self._rows + first + 1}: {value_at(first)}"
            )
            raise InvalidInputError(msg)

    def _where(self, count: int, rows: int) -> str:
        """``count`` rows of this chunk, the rows it spans named (from 1)."""
        return f"{count} in rows {self._rows + 1} to {self._rows + rows}"


class SeenIds:
    """The ids of an input so far, to find repeats in bounded time and memory.

    Kept as sorted arrays whose sizes at least double down the list: a lookup
    is a binary search in each, and every id is merged about ``log2(ids)``
    times. Memory is the ids themselves, 8 bytes a row for integer ids.
    """

    def __init__(self) -> None:
        self._levels: list[np.ndarray] = []

    def repeated(self, ids: np.ndarray) -> np.ndarray:
        """Which of ``ids`` were seen before, or repeat one earlier in ``ids``."""
        mask = pd.Series(ids).duplicated().to_numpy(copy=True)
        for level in self._levels:
            places = np.minimum(np.searchsorted(level, ids), len(level) - 1)
            mask |= level[places] == ids
        return mask

    def add(self, ids: np.ndarray) -> None:
        """Remember ``ids``, none of them :meth:`repeated`."""
        level = np.sort(ids)
        while self._levels and len(self._levels[-1]) <= 2 * len(level):
            level = np.sort(np.concatenate([self._levels.pop(), level]))
        self._levels.append(level)
