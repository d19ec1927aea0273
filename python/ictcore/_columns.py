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


def expanded(table: TableColumns) -> TableColumns:
    """The dense columns of a compact result (the pool holds row-per-candle frames compact:
    ``ictcore``'s ``compact`` module says how), or ``table`` itself when it is not compact.
    Expanded columns are new writable arrays."""
    meta = table.meta
    if "compact.rows" not in meta:
        return table
    n = int(meta["compact.rows"])

    def names(key: str) -> list[str]:
        return [s for s in meta.get(key, "").split(",") if s]

    sparse, runs = set(names("compact.sparse")), set(names("compact.runs"))
    rows = table.get("@rows")
    out = TableColumns()
    for name in names("compact.columns"):
        values = table[name]
        if name in sparse and rows is not None:
            empty = np.nan if values.dtype.kind == "f" else 0
            dense = np.full(n, empty, dtype=values.dtype)
            dense[rows] = values
        elif name in runs:
            starts = table[f"@runs.{name}"].astype(np.int64)
            dense = np.repeat(values, np.diff(np.append(starts, n)))
        else:
            dense = values
        out[name] = dense
    return out
