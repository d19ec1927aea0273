"""DataFrame <-> numpy conversion for the compat layer: column lookup as smartmoneyconcepts
does it (case-insensitive, on a view, never mutating the caller's frame), float64 columns,
int64-nanosecond time indexes, and result frames with the library's names and dtypes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from .. import _ictcore
from ..exceptions import InvalidInputError, InvalidTypeError, MissingColumnError

F64 = npt.NDArray[np.float64]


def as_float64(values: Any, name: str) -> F64:
    """A contiguous float64 copy-if-needed of a column (any int/float/bool dtype, nullable
    ones too, read-only or strided). Non-numeric data is an error naming the column."""
    try:
        if isinstance(values, pd.Series | pd.Index):
            array = values.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        dtype = getattr(values, "dtype", type(values).__name__)
        raise InvalidInputError(
            f"column '{name}': cannot convert values of dtype {dtype} to float64 ({exc})"
        ) from None
    if array.ndim != 1:
        raise InvalidInputError(f"column '{name}': expected 1-D values, got shape {array.shape}")
    return np.ascontiguousarray(array)


#: numpy dtypes whose arithmetic differs from float64's (float32 rounding, narrow integer
#: wrapping): the library computes in them, and so does compat when told.
ARITHMETIC_DTYPES = frozenset({"float32", "int8", "int16", "int32", "uint8", "uint16", "uint32"})


def dtype_name(values: Any) -> str:
    """The numpy dtype name of a column (a nullable extension dtype's numpy one)."""
    dtype = getattr(values, "dtype", None)
    dtype = getattr(dtype, "numpy_dtype", dtype)
    try:
        return str(np.dtype(dtype).name)
    except TypeError:
        return "object"


def arithmetic_dtypes(frame: Any) -> dict[str, str] | None:
    """The candle columns of a frame (open/high/low/close, and the one read as volume)
    whose dtypes the library computes in differently from float64, by their names; None
    when there are none (or for anything that is not a DataFrame)."""
    if not isinstance(frame, pd.DataFrame):
        return None
    from .._interop import volume_choice

    lookup = _lowercase_lookup(frame)
    volume = volume_choice([str(c) for c in frame.columns], None)
    out = {}
    for name, source in [(c, c) for c in ("open", "high", "low", "close")] + (
        [("volume", volume)] if volume else []
    ):
        labels = lookup.get(source)
        if labels and (dtype := dtype_name(frame[labels[0]])) in ARITHMETIC_DTYPES:
            out[name] = dtype
    return out or None


class Inputs(dict[str, F64]):
    """Columns as float64 arrays, with the dtypes they had where those change the
    library's arithmetic (``dtypes``: column -> numpy dtype name)."""

    dtypes: dict[str, str]

    def only(self, *names: str) -> Inputs:
        """These columns, with their dtypes."""
        out = Inputs({name: self[name] for name in names})
        out.dtypes = {name: d for name, d in self.dtypes.items() if name in names}
        return out


def _lowercase_lookup(frame: pd.DataFrame) -> dict[Any, list[Any]]:
    lookup: dict[Any, list[Any]] = {}
    for label in frame.columns:
        key = label.lower() if isinstance(label, str) else label
        lookup.setdefault(key, []).append(label)
    return lookup


def columns(
    frame: pd.DataFrame,
    required: Sequence[str] = ("open", "high", "low", "close"),
    extra: Iterable[str] = (),
) -> Inputs:
    """The named columns as float64 arrays (with ``.dtypes``, see :class:`Inputs`). Names
    match case-insensitively, as the library's input decorator does; a missing column
    raises :class:`MissingColumnError`."""
    if not isinstance(frame, pd.DataFrame):
        raise InvalidTypeError(f"expected a pandas DataFrame, got {type(frame).__name__}")
    lookup = _lowercase_lookup(frame)
    out = Inputs()
    out.dtypes = {}
    for name in (*required, *extra):
        labels = lookup.get(name)
        if not labels:
            raise MissingColumnError(
                f'Must have a dataframe column named "{name}" '
                f"(matched case-insensitively; the frame has {list(frame.columns)!r})",
                column=name,
            )
        if len(labels) > 1:
            raise InvalidInputError(
                f"columns {labels!r} all match '{name}' case-insensitively; keep only one",
                column=name,
            )
        values = frame[labels[0]]
        out[name] = as_float64(values, name)
        dtype = dtype_name(values)
        if dtype in ARITHMETIC_DTYPES:
            out.dtypes[name] = dtype
    return out


def swing_columns(swings: pd.DataFrame) -> tuple[F64, F64]:
    """HighLow and Level of a `swing_highs_lows` frame, read by position."""
    if not isinstance(swings, pd.DataFrame):
        raise InvalidTypeError(
            f"swing_highs_lows must be the DataFrame returned by smc.swing_highs_lows, "
            f"got {type(swings).__name__}"
        )
    cols: list[F64] = []
    for name in ("HighLow", "Level"):
        if name not in swings.columns:
            raise MissingColumnError(
                f"swing_highs_lows has no column '{name}' "
                "(pass the frame returned by smc.swing_highs_lows)",
                column=f"swing_highs_lows.{name}",
            )
        cols.append(as_float64(swings[name], f"swing_highs_lows.{name}"))
    return cols[0], cols[1]


def datetime_index(frame: pd.DataFrame) -> pd.DatetimeIndex:
    """The frame's index coerced with ``pd.to_datetime`` as the library does; NaT is an error
    naming the row."""
    try:
        index: pd.DatetimeIndex = pd.DatetimeIndex(pd.to_datetime(frame.index))
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"column 'index': cannot be read as datetimes ({exc})") from None
    if index.hasnans:
        row = int(np.flatnonzero(index.isna())[0])
        raise InvalidInputError(f"column 'index' has a missing time (NaT) at row {row}")
    return index


def nanoseconds(index: pd.DatetimeIndex) -> npt.NDArray[np.int64]:
    """int64 nanoseconds of a DatetimeIndex (its wall clock if tz-naive, UTC if aware)."""
    try:
        values = index.asi8 if index.unit == "ns" else index.as_unit("ns").asi8
    except (OverflowError, ValueError) as exc:
        raise InvalidInputError(
            f"column 'index': times outside the nanosecond range ({exc})"
        ) from None
    return np.ascontiguousarray(values, dtype=np.int64)


def increasing_nanoseconds(index: pd.DatetimeIndex) -> npt.NDArray[np.int64]:
    """:func:`nanoseconds`, after rejecting a duplicate or out-of-order index (the error
    names the first offending row)."""
    nanos = nanoseconds(index)
    _ictcore.check_time_index(nanos)
    return nanos


def frame(cols: Mapping[str, npt.NDArray[Any]]) -> pd.DataFrame:
    """A result frame with a fresh RangeIndex, the given column order and dtypes: what the
    library's ``pd.concat`` of named Series gives, built in one step (4x cheaper)."""
    out: pd.DataFrame = pd.DataFrame(dict(cols), copy=False)
    return out
