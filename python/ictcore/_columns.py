"""Results as they come from the extension: ``(name, dtype, value)`` triples, one per column
(a read-only numpy view) and one per metadata item (dtype ``"meta"``, a ``str`` value)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt


class TableColumns(dict[str, npt.NDArray[Any]]):
    """A table's columns by name, and :attr:`meta`: what travels with them (a session
    table's ``"windows"``: the names its ``window`` codes index, comma-separated)."""

    def __init__(self) -> None:
        super().__init__()
        self.meta: dict[str, str] = {}


def columns_of(out: Iterable[tuple[str, str, Any]]) -> TableColumns:
    """The columns (bool columns as numpy bools) and metadata of one result."""
    table = TableColumns()
    for name, dtype, value in out:
        if dtype == "meta":
            table.meta[name] = str(value)
        else:
            table[name] = value.view(np.bool_) if dtype == "bool" else value
    return table
