"""The columns a Python detector's result travels and is cached as.

A Python detector returns a DataFrame or a mapping of 1-D arrays. Between processes and in
the :class:`~ictcore.AnalysisCache` (which stores numeric columns only) it is a list of
(name, array) pairs; what does not fit a numeric column is marked in the name, its parts
after NULs (a character refused in the names a detector returns):

* ``"\\0index\\0<name>"``: the DataFrame's index (absent for the default RangeIndex);
* ``"\\0time\\0<zone>\\0<unit>\\0<name>"``: a datetime column (or index) as int64
  counts of its unit (``ns``, ``us``, ...) since the epoch, UTC; ``<zone>`` is empty for
  naive times;
* ``"\\0codes\\0<name>"`` and ``"\\0labels\\0<name>"``: a column of strings as int32
  codes (-1 missing) and its labels as UTF-8 JSON bytes.

Every result, fresh or cached, is decoded from this form, so a user sees the same values
whichever way it came (a string column's missing values are ``None``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from .exceptions import InvalidTypeError

_NUMERIC = frozenset({"float64", "int64", "float32", "int32", "uint8", "bool"})
_MARK = "\0"
_INDEX = f"{_MARK}index{_MARK}"

Columns = list[tuple[str, npt.NDArray[Any]]]


def _marked(kind: str, *parts: str) -> str:
    return _MARK.join((f"{_MARK}{kind}", *parts))


def encode(value: Any, what: str) -> Columns:
    """The columns of a detector's return value; ``what`` names the detector in errors."""
    out: Columns = []
    if isinstance(value, pd.DataFrame):
        index = value.index
        if not (isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1):
            out += _column(_INDEX + ("" if index.name is None else str(index.name)), index, what)
        items: list[tuple[Any, Any]] = [(name, value[name]) for name in value.columns]
        if len({str(n) for n, _ in items}) != len(items):
            raise InvalidTypeError(f"{what}: the result has repeated column names")
    elif isinstance(value, Mapping):
        items = list(value.items())
    else:
        raise InvalidTypeError(
            f"{what} must return a DataFrame or a mapping of name -> 1-D array, "
            f"got {type(value).__name__}"
        )
    for name, column in items:
        if not isinstance(name, str):
            raise InvalidTypeError(f"{what}: column names must be str, got {name!r}")
        if _MARK in name:
            raise InvalidTypeError(f"{what}: column name {name!r} holds a NUL character")
        out += _column(name, column, what)
    lengths = {len(a) for n, a in out if not n.startswith(_marked("labels"))}
    if len(lengths) > 1:
        raise InvalidTypeError(
            f"{what}: the result's columns have different lengths {sorted(lengths)}"
        )
    return out


def _column(name: str, column: Any, what: str) -> Columns:
    dtype = getattr(column, "dtype", None)
    if isinstance(dtype, pd.DatetimeTZDtype):
        zone = str(dtype.tz)
        try:
            pd.DatetimeTZDtype(tz=zone)
        except Exception as e:
            raise InvalidTypeError(
                f"{what} column {name!r}: its time zone {zone!r} cannot be named again; "
                "convert the column to UTC"
            ) from e
        times = pd.DatetimeIndex(column).tz_convert("UTC").tz_localize(None).to_numpy()
        return [_times(name, zone, times)]
    array = np.asarray(column)
    if array.ndim != 1:
        raise InvalidTypeError(f"{what} column {name!r}: expected 1-D, got {array.ndim} dimensions")
    if array.dtype.kind == "M":
        return [_times(name, "", array)]
    if array.dtype.kind in "OUS" or isinstance(dtype, pd.StringDtype):
        return _strings(name, array, what)
    if array.dtype.name not in _NUMERIC:
        raise InvalidTypeError(
            f"{what} column {name!r}: dtype {array.dtype} is not supported; use float64, "
            "float32, int64, int32, uint8, bool, datetime64 or str"
        )
    a = np.ascontiguousarray(array)
    return [(name, a if a.dtype.isnative else a.astype(a.dtype.newbyteorder("=")))]


def _times(name: str, zone: str, times: npt.NDArray[Any]) -> tuple[str, npt.NDArray[Any]]:
    unit = np.datetime_data(times.dtype)[0]
    return _marked("time", zone, unit, name), np.ascontiguousarray(times.view(np.int64))


def _strings(name: str, array: npt.NDArray[Any], what: str) -> Columns:
    labels: dict[str, int] = {}
    codes = np.empty(len(array), dtype=np.int32)
    for row, item in enumerate(array):
        if item is None or item is pd.NA or (isinstance(item, float) and np.isnan(item)):
            codes[row] = -1
        elif isinstance(item, str):
            codes[row] = labels.setdefault(item, len(labels))
        else:
            raise InvalidTypeError(
                f"{what} column {name!r}: row {row} holds {type(item).__name__} {item!r}; "
                "columns of objects must hold str or None"
            )
    text = np.frombuffer(json.dumps(list(labels)).encode(), dtype=np.uint8).copy()
    return [(_marked("codes", name), codes), (_marked("labels", name), text)]


def decode(columns: Mapping[str, npt.NDArray[Any]]) -> tuple[dict[str, Any], Any]:
    """(the columns by their names, the index or None) of an encoded result."""
    out: dict[str, Any] = {}
    labels = {}
    for encoded, array in columns.items():
        kind, _, rest = encoded[1:].partition(_MARK)
        if encoded.startswith(_MARK) and kind == "labels":
            labels[rest] = json.loads(bytes(array).decode())
    for encoded, array in columns.items():
        if not encoded.startswith(_MARK):
            out[encoded] = array
            continue
        kind, _, rest = encoded[1:].partition(_MARK)
        if kind == "index":
            out[encoded] = array
        elif kind == "time":
            zone, unit, name = rest.split(_MARK, 2)
            times = pd.DatetimeIndex(array.view(f"datetime64[{unit}]"))
            out[name] = times.tz_localize("UTC").tz_convert(zone) if zone else times.to_numpy()
        elif kind == "codes":
            out[rest] = np.array([*labels[rest], None], dtype=object)[array]  # -1: None
    index = None
    for name in [n for n in out if n.startswith(_INDEX)]:
        index = pd.Index(out.pop(name), name=name.removeprefix(_INDEX) or None)
    return out, index


def to_frame(columns: Mapping[str, npt.NDArray[Any]]) -> pd.DataFrame:
    """The result as a DataFrame of writable copies, its index restored."""
    values, index = decode(columns)
    frame: pd.DataFrame = pd.DataFrame(
        {n: np.array(v) if isinstance(v, np.ndarray) else v for n, v in values.items()},
        index=index,
        copy=True,
    )
    return frame
