"""``CandleStore``: a directory of memory-mapped candle files, one per (symbol, timeframe).

Reads are zero-copy: ``read`` returns :class:`~ictcore.Candles` whose numpy columns are
read-only views into the file mapping, valid after the store is closed or the file replaced
by a later growth. Appends are atomic (all rows of a batch or none, also across a crash) and
validated (time strictly after the stored last time, finite values, high >= max(open, close)
and low <= min(open, close)); one writer per series at a time, readers never lock.

Files must not be modified by anything but ictcore: truncating a mapped file from outside
kills readers (SIGBUS), a limit of every memory-mapped format. Use local file systems.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from . import _ictcore
from .candles import Candles
from .exceptions import BatchError, IctError, InvalidInputError, InvalidTypeError

__all__ = ["CandleStore", "Imported", "Problem", "SeriesInfo", "VerifyReport", "read_csv"]


@dataclass(frozen=True)
class SeriesInfo:
    """One stored series."""

    symbol: str
    timeframe: str
    rows: int
    first: pd.Timestamp | None
    last: pd.Timestamp | None
    path: Path


@dataclass(frozen=True)
class Problem:
    """One problem ``verify`` found: the file, and where known the column, block and rows."""

    file: Path
    detail: str
    column: str | None = None
    block: int | None = None
    rows: tuple[int, int] | None = None

    def __str__(self) -> str:
        where = f" column {self.column!r}" if self.column else ""
        where += f" block {self.block}" if self.block is not None else ""
        where += f" rows {self.rows[0]}..{self.rows[1]}" if self.rows else ""
        return f"{self.file}:{where} {self.detail}"


@dataclass
class VerifyReport:
    """What ``verify`` checked; truthy when everything checks out."""

    checked: int = 0
    problems: list[Problem] = field(default_factory=list)

    def __bool__(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        if not self.problems:
            return f"{self.checked} series verified, no problem"
        lines = [f"{len(self.problems)} problem(s) in {self.checked} series:"]
        return "\n".join([*lines, *(f"  {p}" for p in self.problems)])


@dataclass(frozen=True)
class Imported:
    """One imported CSV file."""

    path: Path
    symbol: str
    timeframe: str
    #: Rows in the file.
    rows: int
    #: Rows the series gained (fewer than ``rows`` when an overlap was already stored).
    added: int
    volume_column: str | None


_UNITS = {"m": "m", "min": "m", "h": "h", "d": "d", "w": "w", "mn": "mo", "mo": "mo"}
#: Whole-word timeframes (``GOOG_Daily.csv``).
_WORDS = {"daily": "1d", "weekly": "1w", "monthly": "1mo", "hourly": "1h"}
#: A bare number is minutes (MT4's ``EURUSD_60.csv``); these counts are larger units.
_MINUTES = {60: "1h", 240: "4h", 1440: "1d", 10080: "1w", 43200: "1mo"}


def _timeframe(token: str) -> str | None:
    """A timeframe token as ictcore names timeframes: MT5's ``M1``..``M30``, ``H1``..``H12``,
    ``D1``, ``W1``, ``MN1``; ``15M``/``1H``/``4h``; ``Daily``/``Weekly``/``Monthly``/
    ``Hourly``; a bare number of minutes (``60``, ``240``, ``1440``); else None."""
    word = _WORDS.get(token.lower())
    if word is not None:
        return word
    if token.isdigit():
        minutes = int(token)
        return _MINUTES.get(minutes, f"{minutes}m") if minutes > 0 else None
    match = re.fullmatch(r"(\d+)([A-Za-z]+)|([A-Za-z]+)(\d+)", token)
    if not match:
        return None
    count, unit = (match[1], match[2]) if match[1] else (match[4], match[3])
    short = _UNITS.get(unit.lower())
    if short is None or int(count) <= 0:
        return None
    return f"{int(count)}{short}"


def infer_series(path: Path) -> tuple[str, str]:
    """(symbol, timeframe) from a file name: ``SYMBOL_TIMEFRAME.csv`` with the timeframe as
    MT5 writes it (``EURUSD_M15``, ``EURUSD_H1``, ``EURUSD_MN1``), as ``15M``/``1h``, in
    minutes (``EURUSD_60``) or in words (``GOOG_Daily``); MT5's "Export bars" names with
    their date range (``EURUSD_H1_201704190900_201802021400.csv``) too. ``M`` is minutes and
    ``MN`` months (``1mo``). Anything else is refused: pass ``symbol=`` and ``timeframe=``."""
    stem = path.stem
    export = re.fullmatch(r"(.+)_(\d{12})_(\d{12})", stem)
    if export:
        stem = export[1]  # MT5 "Export bars": SYMBOL_PERIOD_FROM_TO
    if "_" not in stem:
        raise InvalidInputError(
            f"cannot infer symbol and timeframe from {path.name!r}: name it SYMBOL_TIMEFRAME.csv "
            "or pass symbol= and timeframe=",
            path=str(path),
        )
    symbol, token = stem.rsplit("_", 1)
    timeframe = _timeframe(token)
    if timeframe is None or not symbol:
        raise InvalidInputError(
            f"cannot read the timeframe {token!r} of {path.name!r} (MT5 periods M1..MN1, 15m, "
            "1h, Daily, or minutes such as 60); pass timeframe=",
            path=str(path),
        )
    return symbol, timeframe


def _timestamp(value: Any) -> int:
    """int64 ns UTC of a time bound (naive times are UTC)."""
    if isinstance(value, int | np.integer):
        return int(value)
    ts = pd.Timestamp(value)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return int(ts.as_unit("ns").value)


def _in_range(candles: Candles, start: Any = None, end: Any = None) -> Candles:
    """The rows with start <= time < end (views, no copy)."""
    lo = 0 if start is None else int(np.searchsorted(candles.time, _timestamp(start)))
    hi = len(candles) if end is None else int(np.searchsorted(candles.time, _timestamp(end)))
    return candles if (lo, hi) == (0, len(candles)) else candles._slice(lo, hi)


def _candles(data: Any, time_unit: str | None = None, volume_column: str | None = None) -> Candles:
    if isinstance(data, Candles):
        return data
    if isinstance(data, pd.DataFrame):
        return Candles.from_pandas(data, time_unit=time_unit, volume_column=volume_column)
    if isinstance(data, np.ndarray) and data.dtype.names is not None:
        # A MetaTrader5 copy_rates_* result.
        return Candles.from_numpy(data, time_unit=time_unit, volume_column=volume_column)
    raise InvalidTypeError(
        "expected ictcore.Candles, a pandas DataFrame or a MetaTrader5 rates array, got "
        f"{type(data).__name__}"
    )


def _series_info(item: dict[str, Any]) -> SeriesInfo:
    first, last = item["first"], item["last"]
    return SeriesInfo(
        symbol=item["symbol"],
        timeframe=item["timeframe"],
        rows=item["rows"],
        first=None if first is None else pd.Timestamp(first, tz="UTC"),
        last=None if last is None else pd.Timestamp(last, tz="UTC"),
        path=Path(item["path"]),
    )


def _volume_for(format: str, volume: str | None) -> str:
    """The volume column to read for a CSV ``format``, unless one is named."""
    if format not in ("auto", "mt5", "ohlcv"):
        raise InvalidInputError(f'format must be "auto", "mt5" or "ohlcv", got {format!r}')
    if volume is not None:
        return volume
    return {"auto": "auto", "mt5": "tickvol", "ohlcv": "auto"}[format]


def _zone(tz: str | dt.tzinfo | None) -> str:
    """The zone text the parser takes, from a name, an offset or a ``tzinfo``."""
    if tz is None:
        return "UTC"
    if isinstance(tz, str):
        return tz
    name = getattr(tz, "key", None) or getattr(tz, "zone", None)  # zoneinfo, pytz
    if isinstance(name, str):
        return name
    if isinstance(tz, dt.timezone):
        offset = tz.utcoffset(None)
        minutes = int(offset.total_seconds() // 60)
        sign = "+" if minutes >= 0 else "-"
        return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    raise InvalidTypeError(
        f"tz must be a zone name, an offset such as '+02:00' or a zoneinfo zone, got {tz!r}",
        parameter="tz",
    )


def read_csv(
    path: str | os.PathLike[str],
    format: str = "auto",
    volume: str | None = None,
    *,
    tz: str | dt.tzinfo | None = None,
) -> Candles:
    """Parses a CSV file of candles into :class:`~ictcore.Candles` without storing it.

    The same parser and checks as :meth:`CandleStore.import_csv` (MT5 exports and OHLCV
    files with a time column; time strictly increasing, finite prices, high/low
    containing open/close): a bad line raises :class:`~ictcore.InvalidInputError` naming
    file and line. Large files are parsed on all cores.

    Parameters:
        path: the CSV file.
        format: ``"auto"``, ``"mt5"`` (volume defaults to the tick volume) or ``"ohlcv"``.
        volume: the column to use as volume, or ``"none"`` for zeros; by default
            ``volume`` when present and not all zero, else the tick volume.
        tz: the zone of the file's naive times, converted to UTC: ``"UTC"`` (default),
            an IANA name (``"Europe/Athens"``), a fixed offset (``"+02:00"``), a
            ``zoneinfo.ZoneInfo``, or an IANA name shifted by an offset
            (``"America/New_York+07:00"``: the clock of most MetaTrader 5 servers, GMT+2
            in winter and GMT+3 on New York's DST dates). Daylight saving is applied from
            the tz database. A time in the hour the clocks skip is refused (a server never
            stamps one: the file is not in that zone); a time in the hour the clocks repeat
            is its first instant unless that would not follow the previous row, then its
            second, so a file holding the repeated hour twice converts in order. Times that
            carry their own offset (``Z``, ``+02:00``) are refused when ``tz`` is given.
    """
    time, prices, _ = _ictcore.read_csv(os.fspath(path), _volume_for(format, volume), _zone(tz))
    return Candles._trusted(time, *prices)


class CandleStore:
    """A directory of candle files. See the module documentation.

    Parameters:
        path: the store directory.
        create: make the directory if it does not exist (else ``FileNotFoundError``).
    """

    def __init__(self, path: str | os.PathLike[str], create: bool = True) -> None:
        self._store = _ictcore.Store(os.fspath(path), create)

    @property
    def path(self) -> Path:
        return Path(self._store.root)

    def __repr__(self) -> str:
        return f"CandleStore({str(self.path)!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickles by path: the receiving process opens the same store (which must still
        exist there) and maps its series itself; no candle is pickled."""
        return (type(self), (os.path.abspath(self.path), False))

    def write(
        self,
        symbol: str,
        timeframe: str,
        candles: Candles | pd.DataFrame | npt.NDArray[Any],
        *,
        time_unit: str | None = None,
        volume_column: str | None = None,
    ) -> None:
        """Stores a series anew, replacing any stored one (a new file renamed over the old).
        ``candles``: :class:`Candles`, a DataFrame or a MetaTrader5 rates array, read by the
        rule of :meth:`Candles.from_pandas` (``time_unit``, ``volume_column`` as there)."""
        c = _candles(candles, time_unit=time_unit, volume_column=volume_column)
        self._store.write(symbol, timeframe, c)

    def append(
        self,
        symbol: str,
        timeframe: str,
        candles: Candles | pd.DataFrame | npt.NDArray[Any],
        durability: str = "full",
        *,
        time_unit: str | None = None,
        volume_column: str | None = None,
    ) -> None:
        """Appends a batch atomically, creating the series if needed (``candles``,
        ``time_unit``, ``volume_column`` as in :meth:`write`).

        ``durability="full"`` syncs to disk before returning (survives power loss);
        ``"os"`` does not (survives a crash of the process). A batch that breaks the rules
        raises ``ValueError`` naming the row, and nothing of it is stored.
        """
        c = _candles(candles, time_unit=time_unit, volume_column=volume_column)
        self._store.append(symbol, timeframe, c, durability)

    def import_csv(
        self,
        source: str | os.PathLike[str],
        symbol: str | None = None,
        timeframe: str | None = None,
        format: str = "auto",
        volume: str | None = None,
        if_exists: str = "append",
        *,
        tz: str | dt.tzinfo | None = None,
        on_overlap: str = "merge",
    ) -> list[Imported]:
        """Imports a CSV file, or every ``*.csv`` in a directory, in name order.

        Reads MT5 exports (``Date`` as ``YYYY.MM.DD HH:MM:SS`` or separate ``<DATE>``/
        ``<TIME>``, ``Tickvol``/``Volume``) and OHLCV files with a time column (ISO dates;
        naive times are in ``tz``, UTC by default); delimiter detected. Each file is parsed
        and checked whole, then stored in one atomic write or append: a bad line raises
        :class:`~ictcore.InvalidInputError` naming file and line, and nothing of that file
        is stored.

        Parameters:
            source: a file or a directory.
            symbol, timeframe: default from the file name (``EURUSD_15M.csv``).
            format: ``"auto"``, ``"mt5"`` (volume defaults to the tick volume) or
                ``"ohlcv"`` (volume defaults to a ``volume`` column, else zeros).
            volume: the column to use as volume, or ``"none"`` for zeros; by default
                ``volume`` when present and not all zero, else the tick volume.
            if_exists: when the series is already stored: ``"append"`` (default; rows at
                stored times as ``on_overlap`` says), ``"replace"`` (the whole series) or
                ``"error"``.
            on_overlap: rows of the file at times the series already holds (re-imported
                exports overlap): ``"merge"`` (default) accepts rows equal to the stored
                ones, value for value, and adds the rest (an append, or an atomic rewrite
                when they fill gaps or precede the series); a row that differs raises
                :class:`~ictcore.InvalidInputError` naming file, line, time and both rows'
                values, and nothing changes. ``"replace"``: the file's rows replace the
                stored ones over the file's time range. ``"error"``: any overlap is refused.
            tz: the zone of the file's naive times, as in :func:`read_csv`.
        """
        volume = _volume_for(format, volume)
        zone = _zone(tz)
        root = Path(source)
        if root.is_dir():
            files = sorted(root.glob("*.csv"))
            if not files:
                raise FileNotFoundError(f"no *.csv file in {root}")
        else:
            files = [root]
        done = []
        for path in files:
            sym, tf = symbol, timeframe
            if sym is None or tf is None:
                inferred = infer_series(path)
                sym, tf = sym or inferred[0], tf or inferred[1]
            rows, added, column = self._store.import_csv(
                os.fspath(path), sym, tf, volume, if_exists, zone, on_overlap
            )
            done.append(Imported(path, sym, tf, rows, added, column))
        return done

    def read(self, symbol: str, timeframe: str, start: Any = None, end: Any = None) -> Candles:
        """The stored candles with ``start <= time < end`` (either bound optional), as
        read-only zero-copy views into the file. Each stored block is checked against its
        checksum the first time this process reads it: damaged data raises
        :class:`~ictcore.CorruptFileError` naming the file, column and rows, and a file
        changed in place by another program since the last read is reported likewise."""
        return _in_range(Candles._trusted(*self._store.read(symbol, timeframe)), start, end)

    def load_batch(self, requests: Iterable[Sequence[Any]], on_error: str = "raise") -> list[Any]:
        """Many series at once, in request order: each request is ``(symbol, timeframe)`` or
        ``(symbol, timeframe, start, end)``. Every file is mapped and the kernel asked to
        prefetch it, so later series page in while earlier ones are used.

        A missing or damaged series fails only its own request. With ``on_error="raise"``
        (default) a :class:`~ictcore.exceptions.BatchError` naming every failed request is
        raised after all were tried; with ``"return"`` the failed slots hold their exception
        and the list has one entry per request.
        """
        if on_error not in ("raise", "return"):
            raise InvalidInputError(
                f'on_error must be "raise" or "return", got {on_error!r}',
                parameter="on_error",
                value=on_error,
            )
        reqs = [tuple(r) for r in requests]
        for r in reqs:
            if len(r) not in (2, 4):
                raise InvalidInputError(
                    "a request is (symbol, timeframe) or (symbol, timeframe, start, end), "
                    f"got {r!r}"
                )
        results = self._store.load_batch([(str(r[0]), str(r[1])) for r in reqs])
        out: list[Any] = []
        errors: dict[tuple[Any, ...], BaseException] = {}
        for request, result in zip(reqs, results, strict=True):
            if isinstance(result, BaseException):
                errors[request] = result
                out.append(result)
                continue
            candles = Candles._trusted(*result)
            out.append(_in_range(candles, *request[2:]) if len(request) == 4 else candles)
        if errors and on_error == "raise":
            raise BatchError(errors)
        return out

    def series(self) -> list[SeriesInfo]:
        """What is stored, sorted by symbol and timeframe (unreadable files are skipped here
        and reported by :meth:`verify`)."""
        return [_series_info(item) for item in self._store.series() if "error" not in item]

    def refresh(self) -> list[SeriesInfo]:
        """For readers that poll a store another process writes to: the series that are new
        or changed (appended to or rewritten) since the previous ``refresh()`` of this store
        object — every series the first time. Unreadable files are skipped (see
        :meth:`verify`). Cached mappings of removed or replaced files are dropped; arrays
        handed out earlier stay valid. ``read`` always returns the latest committed rows,
        with or without a refresh."""
        return [_series_info(item) for item in self._store.refresh() if "error" not in item]

    def verify(self, symbol: str | None = None, timeframe: str | None = None) -> VerifyReport:
        """Checks headers and every block checksum of the stored series (or of those matching
        ``symbol`` / ``timeframe``); the report lists file, column, block and rows of damage."""
        report = VerifyReport()
        for item in self._store.series():
            if "error" in item:
                if symbol is None and timeframe is None:
                    report.checked += 1
                    report.problems.append(Problem(file=self.path, detail=item["error"]))
                continue
            if symbol not in (None, item["symbol"]) or timeframe not in (None, item["timeframe"]):
                continue
            report.checked += 1
            path = Path(item["path"])
            try:
                damage = self._store.verify(item["symbol"], item["timeframe"])
            except (OSError, IctError) as exc:
                report.problems.append(Problem(file=path, detail=str(exc)))
                continue
            for column, block, first, end in damage:
                report.problems.append(
                    Problem(
                        file=path,
                        detail="checksum mismatch",
                        column=column,
                        block=block,
                        rows=(first, end),
                    )
                )
        return report
