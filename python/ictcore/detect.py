"""Native causal detectors: event tables in which every row knows the bar it is drawn at
(``anchor``) and the first bar at whose close it exists without future data (``known_at``).

Unlike ``ictcore.compat`` (bit-for-bit ``smartmoneyconcepts``, which looks ahead), nothing
here depends on a later bar: computing on any prefix of a series gives exactly the rows of the
full run that are known within that prefix, and :class:`Engine` fed bar by bar gives exactly
the batch tables. Definitions: ``ict-concepts.md`` §3; defaults are the "ictcore" preset
(:data:`PRESET`).

- :func:`swings` — pivot highs/lows (``left``/``right`` bars), labelled HH/LH/EH, HL/LL/EL.
- :func:`structure` — BOS and CHoCH stamped at the **break** bar (close or wick);
  :func:`structure_layers` — internal and swing layers in one table; :func:`mss` — market
  structure shifts (a displaced CHoCH after a liquidity sweep); :func:`cisd` — changes in
  state of delivery.
- :func:`fvg`, :func:`volume_imbalance`, :func:`opening_gaps`, :func:`order_blocks` — zones
  (:class:`ZoneTable`) with a lifecycle log: formed, touched, mean_threshold, filled,
  inverted (inverse FVG / breaker), dead; ``active_at(t)`` answers "which zones are alive at
  bar t" in O(log n + k).
- :func:`mitigation_blocks` (a failure swing, then a break), :func:`bpr` (balanced price
  ranges) and :func:`rejection_blocks` — zones too.
- :func:`displacement` — large-body, small-wick candles.
- :func:`sessions` — kill zones / sessions in an IANA zone (DST-correct), with their ranges;
  whole-day windows give previous-day highs/lows with any day anchor.
- :func:`new_opening_gaps` — NDOG / NWOG (settlement close to reopen), zones too.
- :func:`dealing_ranges` — premium/discount/equilibrium of the leg each break leaves, its
  OTE band (with a lifecycle) and its strong and weak ends.
- :func:`liquidity` — swing levels and equal highs/lows pools (causal tolerance), with
  sweeps (wick beyond, close back inside) and runs (close beyond).
- :class:`Engine` — the same detectors on a live series: ``update``, ``update_last``
  (revise the forming candle), ``update_many``, ``events``, ``snapshot``; picklable.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from . import _ictcore, _interop
from ._columns import TableColumns, columns_of
from .candles import Candles
from .exceptions import InvalidInputError, InvalidTypeError

__all__ = [
    "KINDS",
    "PRESET",
    "Engine",
    "EventTable",
    "LiquidityTable",
    "SessionTable",
    "ZoneTable",
    "bpr",
    "cisd",
    "dealing_ranges",
    "displacement",
    "fvg",
    "liquidity",
    "mitigation_blocks",
    "mss",
    "new_opening_gaps",
    "opening_gaps",
    "order_blocks",
    "rejection_blocks",
    "replay_rewrites",
    "sessions",
    "structure",
    "structure_layers",
    "swings",
    "volume_imbalance",
]

#: ``kind`` codes of every native table and their names.
KINDS: dict[int, str] = dict(_ictcore.NATIVE_KINDS)
_LABELS: list[str] = list(_ictcore.SWING_LABELS)
_STATES: list[str] = list(_ictcore.ZONE_STATES)

#: Every native detector's declaration, from the extension (the one list in the core):
#: ``name``, ``doc``, ``shape`` (the result's class), ``params`` (name, type, default, doc)
#: and ``tables`` (name, [(column, dtype), ...]).
DECLARATIONS: dict[str, dict[str, Any]] = {d["name"]: d for d in _ictcore.NATIVE_DECLARATIONS}

#: The default parameters ("ictcore" preset) of each detector.
PRESET: dict[str, dict[str, Any]] = {
    name: {p[0]: p[2] for p in d["params"]} for name, d in DECLARATIONS.items()
}
#: Each detector's tables: its events (or zones), then the log of zone detectors
#: (``<name>_transitions``) or liquidity's sweeps (``liquidity_sweeps``).
TABLES: dict[str, tuple[str, ...]] = {
    name: tuple(t[0] for t in d["tables"]) for name, d in DECLARATIONS.items()
}

_TIME_COLUMNS = ("anchor_time", "known_at_time", "time", "window_start", "window_end")


def _columns(out: Sequence[tuple[str, str, Any]]) -> TableColumns:
    return columns_of(out)


class EventTable:
    """A table of events: numpy columns (read-only), one row per event.

    Columns of every table: ``id``, ``kind`` (code, names in :data:`KINDS`), ``direction``
    (+1 up / bullish / high, -1 down), ``anchor`` and ``known_at`` (bar positions) and their
    times ``anchor_time`` / ``known_at_time`` (int64 ns UTC); then the detector's levels and
    quality columns. ``table["col"]`` gives a column, ``len(table)`` the rows,
    ``table.to_pandas()`` a DataFrame with names for codes and datetimes for times.
    """

    def __init__(self, name: str, columns: Mapping[str, npt.NDArray[Any]]) -> None:
        self.name = name
        self._columns = dict(columns)

    @property
    def columns(self) -> list[str]:
        return list(self._columns)

    def __getitem__(self, column: str) -> npt.NDArray[Any]:
        try:
            return self._columns[column]
        except KeyError:
            raise KeyError(
                f"{self.name} has no column {column!r}; columns: {', '.join(self._columns)}"
            ) from None

    def __contains__(self, column: object) -> bool:
        return column in self._columns

    def __iter__(self) -> Iterator[str]:
        return iter(self._columns)

    def __len__(self) -> int:
        first = next(iter(self._columns.values()), None)
        return 0 if first is None else len(first)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}: {len(self)} rows, columns {self.columns}>"

    def _repr_html_(self) -> str:
        """A notebook's view: name, row count, the rows of each kind, the first rows."""
        return _interop.table_html(self._html_title(), self.to_pandas())

    def _html_title(self) -> str:
        head = f"{type(self).__name__} <b>{html.escape(self.name)}</b>: {len(self):,} rows"
        if len(self) and "kind" in self._columns:
            names, counts = np.unique(self._columns["kind"], return_counts=True)
            kinds = ", ".join(
                f"{html.escape(KINDS.get(int(k), str(k)))} {int(c):,}"
                for k, c in zip(names, counts, strict=True)
            )
            head += f" ({kinds})"
        return head

    def plot(self, ax: Any = None, candles: Any = None, **options: Any) -> Any:
        """Draws this table on ``ax`` (axes made by :func:`ictcore.plot` keep their window),
        or on a new chart of ``candles``; zone filters as :func:`ictcore.plot`. Returns the
        axes. Needs matplotlib (``pip install 'ictcore[plot]'``)."""
        from .charts import plot_table

        return plot_table(self, ax=ax, candles=candles, **options)

    def take(self, rows: npt.ArrayLike) -> EventTable:
        """The rows at these positions, as a table of the same kind."""
        index = np.asarray(rows, dtype=np.int64)
        return EventTable(self.name, {k: v[index] for k, v in self._columns.items()})

    def _categories(
        self, name: str, values: npt.NDArray[Any]
    ) -> tuple[npt.NDArray[Any], list[str]] | None:
        """Codes and names of a coded column (None for others)."""
        if name == "kind":
            # Kind codes are sparse: the categories are the names present, sorted.
            present = np.unique(values)
            names = [KINDS.get(int(v), str(v)) for v in present]
            order = sorted(range(len(names)), key=names.__getitem__)
            rank = np.empty(len(order), dtype=np.int64)
            rank[order] = np.arange(len(order))
            return rank[np.searchsorted(present, values)], [names[i] for i in order]
        fixed = {"label": _LABELS, "state": _STATES, "layer": ("internal", "swing")}.get(name)
        return None if fixed is None else (values, list(fixed))

    def _metadata(self) -> dict[str, str]:
        return {}

    def _decoded(self) -> list[tuple[str, str, npt.NDArray[Any], list[str] | None]]:
        return _interop.decoded_columns(self._columns, self._categories, _TIME_COLUMNS)

    def to_pandas(self) -> pd.DataFrame:
        """A DataFrame: codes as categorical names (``kind``, ``label``, ``state``), times as
        UTC datetimes; the integer columns are kept as they are."""
        data: dict[str, Any] = {}
        for name, how, values, categories in self._decoded():
            if how == "category":
                data[name] = pd.Categorical.from_codes(
                    values, categories=pd.Index(categories or [])
                )
            elif how == "time":
                data[name] = pd.to_datetime(values, unit="ns", utc=True)
            else:
                data[name] = values
        frame: pd.DataFrame = pd.DataFrame(data)
        return frame

    def to_arrow(self) -> Any:
        """A pyarrow Table (``pip install 'ictcore[arrow]'``): codes as dictionary-encoded
        names, times as timestamp[ns, UTC], what travels with the table (a session table's
        window names) in the schema metadata."""
        return _interop.to_arrow(self._decoded(), self._metadata())

    def to_polars(self) -> Any:
        """A polars DataFrame (``pip install 'ictcore[polars]'``): codes as Enum names, times
        as Datetime(ns, UTC)."""
        return _interop.to_polars(self._decoded())


class ZoneTable(EventTable):
    """Zones (FVGs) as formed, plus their lifecycle: :attr:`transitions` is the log of every
    state change (``id``, ``state``, ``bar``, ``time``); nothing is ever erased."""

    def __init__(
        self,
        name: str,
        columns: Mapping[str, npt.NDArray[Any]],
        transitions: Mapping[str, npt.NDArray[Any]],
    ) -> None:
        super().__init__(name, columns)
        self.transitions = EventTable(f"{name} transitions", transitions)
        self._index: Any = None

    def dead_at(self) -> npt.NDArray[np.int64]:
        """Per zone, the bar at which it died (``-1`` while it is alive)."""
        dead = np.full(len(self), -1, dtype=np.int64)
        log = self.transitions
        is_dead = log["state"] == _STATES.index("dead")
        dead[log["id"][is_dead]] = log["bar"][is_dead]
        return dead

    def state_at(self, t: int | pd.Timestamp | np.datetime64) -> npt.NDArray[np.int32]:
        """Per zone, its state code at the close of bar ``t`` (a position, or a time: the
        last bar at or before it; ``-1`` if not formed yet); names in
        ``ictcore.detect.ZoneTable.STATES``."""
        state = np.full(len(self), -1, dtype=np.int32)
        log = self.transitions
        upto = log["bar"] <= self._bar(t)
        # The log is in bar order and states only move forward: the last row per zone wins.
        state[log["id"][upto]] = log["state"][upto]
        return state

    STATES = _STATES

    def active_at(self, t: int | pd.Timestamp | np.datetime64) -> EventTable:
        """The zones alive at the close of bar ``t`` (a position, or a time: the last bar at or
        before it): formed at or before ``t`` and not dead by then. O(log n + k) per query
        after a one-time O(n) index build."""
        if self._index is None:
            dead = self.dead_at()
            ends = np.where(dead < 0, np.iinfo(np.int64).max, dead)
            self._index = _ictcore.ActiveIndex(
                np.ascontiguousarray(self["known_at"]), np.ascontiguousarray(ends)
            )
        return self.take(self._index.query(self._bar(t)))

    def _bar(self, t: int | pd.Timestamp | np.datetime64) -> int:
        if isinstance(t, int | np.integer):
            # A position beyond int64 is past (or before) every bar: the same answer.
            return max(min(int(t), 2**63 - 1), -(2**63))
        ns = pd.Timestamp(t)
        ns = ns.tz_localize("UTC") if ns.tzinfo is None else ns.tz_convert("UTC")
        value = ns.value
        # The bar of a time: the latest known_at / anchor time at or before it.
        times = np.concatenate([self["known_at_time"], self.transitions["time"]])
        bars = np.concatenate([self["known_at"], self.transitions["bar"]])
        order = np.argsort(times, kind="stable")
        at = int(np.searchsorted(times[order], value, side="right")) - 1
        return int(bars[order][at]) if at >= 0 else -1


class LiquidityTable(EventTable):
    """Equal highs/lows pools (one row per join: ``members`` and ``level`` so far), with
    :attr:`sweeps`: every sweep (wick beyond, close back inside) and run (close beyond) of a
    swing level or pool."""

    def __init__(
        self,
        name: str,
        columns: Mapping[str, npt.NDArray[Any]],
        sweeps: Mapping[str, npt.NDArray[Any]],
    ) -> None:
        super().__init__(name, columns)
        self.sweeps = EventTable(f"{name} sweeps", sweeps)


class SessionTable(EventTable):
    """Session / kill-zone instances: ``window`` codes index :attr:`windows` (names), which
    ``to_pandas()`` shows; ``window_start``/``window_end`` are the instance's bounds in UTC."""

    def __init__(
        self, name: str, columns: Mapping[str, npt.NDArray[Any]], windows: list[str] | None
    ) -> None:
        super().__init__(name, columns)
        self.windows = windows

    def _categories(
        self, name: str, values: npt.NDArray[Any]
    ) -> tuple[npt.NDArray[Any], list[str]] | None:
        if name == "window" and self.windows is not None:
            return values, list(self.windows)
        return super()._categories(name, values)

    def _metadata(self) -> dict[str, str]:
        return {} if self.windows is None else {"windows": ",".join(self.windows)}


def _window_names(windows: str) -> list[str]:
    return [w.split("=", 1)[0].strip() for w in windows.split(",") if w.strip()]


def _windows_text(windows: str | Iterable[str] | Mapping[str, tuple[str, str]]) -> str:
    if isinstance(windows, str):
        return windows
    if isinstance(windows, Mapping):
        return ",".join(f"{name}={a}-{b}" for name, (a, b) in windows.items())
    return ",".join(windows)


def _candles(data: Candles | pd.DataFrame) -> Candles:
    if isinstance(data, Candles):
        return data
    if isinstance(data, pd.DataFrame):
        return Candles.from_pandas(data)
    if isinstance(data, np.ndarray) and data.dtype.names is not None:
        return Candles.from_numpy(data)  # a MetaTrader5 copy_rates_* result
    raise InvalidTypeError(
        "expected ictcore.Candles, a pandas DataFrame or a MetaTrader5 rates array, got "
        f"{type(data).__name__}"
    )


def _run(name: str, data: Candles | pd.DataFrame, params: dict[str, Any]) -> EventTable:
    tables = _ictcore.native_run(name, params, _candles(data))
    return _wrap(name, [_columns(t) for t in tables])


def _wrap(
    name: str,
    tables: Sequence[Mapping[str, npt.NDArray[Any]]],
    meta: Mapping[str, str] | None = None,
) -> EventTable:
    """A detector's tables (in its declaration's order) as the class its declaration names;
    ``meta`` is what travels with the main table (else its ``.meta``, if it has one)."""
    shape = DECLARATIONS[name]["shape"]
    if meta is None:
        meta = getattr(tables[0], "meta", {})
    if shape == "SessionTable":
        # The names the `window` codes index travel with the table (never guessed).
        windows = meta.get("windows")
        names = None if windows is None else _window_names(windows)
        return SessionTable(name, tables[0], names)
    if shape == "LiquidityTable":
        return LiquidityTable(name, tables[0], tables[1])
    if shape == "ZoneTable":
        return ZoneTable(name, tables[0], tables[1])
    return EventTable(name, tables[0])


def swings(data: Candles | pd.DataFrame, left: int = 5, right: int = 5) -> EventTable:
    """Swing points: a pivot high at bar p has ``high[p] >=`` each of the ``left`` highs
    before it and ``>`` each of the ``right`` highs after it (lows mirror), so it is known at
    bar ``p + right``. Columns: the common ones, ``level`` and ``label`` (first, HH, LH, EH
    for highs; HL, LL, EL for lows — compared with the previous swing of the same type)."""
    return _run("swings", data, {"left": left, "right": right})


def structure(
    data: Candles | pd.DataFrame, left: int = 5, right: int = 5, break_on: str = "close"
) -> EventTable:
    """BOS/CHoCH at the break bar. The watched level on each side is the latest confirmed
    swing (``left``/``right`` as in :func:`swings`) not yet broken; a break is the first close
    (``break_on="close"``) or high/low (``"wick"``) beyond it. With the trend state it is a
    BOS, against it a CHoCH (which flips the state); the first break is an ``initial`` BOS.
    Columns: the common ones (``anchor`` = the swing's bar, ``known_at`` = the break bar),
    ``level``, ``swing_id``, ``initial``, ``displacement`` (break candle body in ATR(14))."""
    return _run("structure", data, {"left": left, "right": right, "break_on": break_on})


def structure_layers(
    data: Candles | pd.DataFrame,
    internal: tuple[int, int] = (5, 5),
    swing: tuple[int, int] = (50, 50),
    break_on: str = "close",
) -> EventTable:
    """Internal and swing structure in one table: two independent :func:`structure` layers
    with (left, right) swing lengths ``internal`` and ``swing``; ``layer`` tells which. An
    internal break at the level the swing layer was watching on that side is reported once,
    as the swing layer's. ``swing_id`` refers to the row's own layer."""
    params = {
        "internal_left": internal[0],
        "internal_right": internal[1],
        "swing_left": swing[0],
        "swing_right": swing[1],
        "break_on": break_on,
    }
    return _run("structure_layers", data, params)


def mss(
    data: Candles | pd.DataFrame,
    left: int = 5,
    right: int = 5,
    break_on: str = "close",
    tolerance_atr: float = 0.2,
    sweep_window: int = 10,
    min_displacement: float = 1.0,
    tolerance_price: float = 0.0,
) -> EventTable:
    """Market structure shifts: a CHoCH (as :func:`structure`) whose break candle's body is at
    least ``min_displacement`` x ATR(14) and that follows a sweep of the opposite side's
    liquidity (as :func:`liquidity`, same swing lengths) within ``sweep_window`` bars. Known at
    the break bar (``tolerance_price`` as :func:`liquidity`). Columns: :func:`structure`'s,
    then ``sweep_bar`` and ``sweep_level``."""
    params = {
        "left": left,
        "right": right,
        "break_on": break_on,
        "tolerance_atr": float(tolerance_atr),
        "tolerance_price": float(tolerance_price),
        "sweep_window": sweep_window,
        "min_displacement": float(min_displacement),
    }
    return _run("mss", data, params)


def cisd(data: Candles | pd.DataFrame, min_run: int = 2, lookback: int = 10) -> EventTable:
    """Changes in state of delivery: a run of at least ``min_run`` down-close candles whose
    lowest low is the lowest of the ``lookback`` bars ending with it arms the open of its
    first candle; the first later close above that open (the candle ending the run included)
    is a bullish CISD, known at its close. Each armed level fires once; a newer qualifying run
    replaces one still waiting. Bearish mirrors (up-close runs making a high, a close below
    the first open). A doji ends a run. Columns: the common ones (``anchor`` = the run's first
    candle), ``level``, ``extreme`` (the run's low / high), ``run_length``, ``displacement``
    (the closing candle's body in ATR(14))."""
    return _run("cisd", data, {"min_run": min_run, "lookback": lookback})


def fvg(data: Candles | pd.DataFrame, min_size_atr: float = 0.0) -> ZoneTable:
    """Fair value gaps known at the third candle's close (``anchor`` = the middle candle):
    bullish when ``low[i] > high[i-2]`` (zone ``[high[i-2], low[i]]``), bearish mirrored.
    Columns: the common ones, ``top``, ``bottom``, ``ce`` (midpoint), ``size_atr``,
    ``displacement`` (middle body in ATR(14) before it), ``volume_share`` (middle candle's
    share of the three). ``.transitions`` logs formed → touched → mean_threshold (CE) → filled
    → inverted (an inverse FVG, by a close beyond the far edge) → dead (a close back through).
    Gaps under ``min_size_atr`` x ATR(14) are skipped (none before the ATR exists)."""
    return _zones(_run("fvg", data, {"min_size_atr": float(min_size_atr)}))


def volume_imbalance(data: Candles | pd.DataFrame) -> ZoneTable:
    """Volume imbalances: adjacent bodies that do not overlap while the wicks do (bullish:
    ``min(open, close)[i] > max(open, close)[i-1]`` and ``low[i] <= high[i-1]``; zone between
    the two bodies). Drawn and known at bar i. Columns: the common ones, ``top``, ``bottom``,
    ``mid``, ``size_atr``, ``volume_share`` (bar i's share of the two), ``elapsed_seconds``;
    lifecycle as :func:`fvg`."""
    return _zones(_run("volume_imbalance", data, {}))


def opening_gaps(data: Candles | pd.DataFrame) -> ZoneTable:
    """Opening gaps: a wick gap between consecutive bars (bullish: ``low[i] > high[i-1]``,
    zone ``[high[i-1], low[i]]``). Columns as :func:`volume_imbalance` (``elapsed_seconds``
    shows weekend and halt gaps); lifecycle as :func:`fvg`."""
    return _zones(_run("opening_gaps", data, {}))


def displacement(
    data: Candles | pd.DataFrame, min_body_atr: float = 1.5, min_body_share: float = 0.6
) -> EventTable:
    """Displacement candles: body at least ``min_body_atr`` x ATR(14) as of the bar before
    and at least ``min_body_share`` of the candle's range. Known at its close. Columns: the
    common ones, ``top``/``bottom`` (the candle's high/low), ``body_atr``, ``body_share``."""
    params = {"min_body_atr": float(min_body_atr), "min_body_share": float(min_body_share)}
    return _run("displacement", data, params)


def order_blocks(
    data: Candles | pd.DataFrame, left: int = 5, right: int = 5, break_on: str = "close"
) -> ZoneTable:
    """Order blocks, known at the structure break (as :func:`structure`, same parameters):
    for an up break of the swing high at p, the candle with the lowest low between p and the
    break (the latest on ties) is the bullish block — zone = its range, ``mean_threshold`` =
    50% of its body; down breaks mirror. Columns: the common ones, ``top``, ``bottom``,
    ``mean_threshold``, ``size_atr``, ``volume_share`` (its share of the volume up to the
    break), ``break_displacement``. Lifecycle as :func:`fvg`; ``inverted`` = a breaker (a
    close through the far edge), ``dead`` = closed back through."""
    return _zones(_run("order_blocks", data, {"left": left, "right": right, "break_on": break_on}))


def mitigation_blocks(
    data: Candles | pd.DataFrame, left: int = 5, right: int = 5, break_on: str = "close"
) -> ZoneTable:
    """Mitigation blocks, known at the structure break (as :func:`structure`, same
    parameters) that follows a **failure swing**: for a down break of the swing low L, the
    newest swing high known before the break must be after L and *lower* than the last swing
    high before L (price failed to take that high's liquidity); the block is the last
    up-close candle from that lower high's pivot back to L — zone = its range,
    ``mean_threshold`` = 50% of its body. Up breaks mirror (a higher low, the last down-close
    candle). With the high swept first instead, the pattern is a breaker: see
    :func:`order_blocks` (``inverted``). Columns: the common ones, ``top``, ``bottom``,
    ``mean_threshold``, ``size_atr``, ``shortfall_atr`` (how far the failure swing fell short,
    in ATR(14)), ``break_displacement``. Lifecycle as :func:`fvg`."""
    params = {"left": left, "right": right, "break_on": break_on}
    return _zones(_run("mitigation_blocks", data, params))


def liquidity(
    data: Candles | pd.DataFrame,
    left: int = 5,
    right: int = 5,
    tolerance_atr: float = 0.2,
    tolerance_price: float = 0.0,
) -> LiquidityTable:
    """Liquidity: every confirmed swing high (low) is buy-side (sell-side) liquidity until
    taken; a new swing within ``tolerance_atr`` x ATR(14) at its confirmation (never sized
    from the whole series) plus ``tolerance_price`` (a fixed distance: ticks x tick size; set
    ``tolerance_atr=0`` for a purely tick-based tolerance) of an untaken level joins it,
    making an equal highs/lows pool
    (rows: ``members`` and ``level`` — the members' extreme — so far, ``tolerance``).
    ``.sweeps``: a wick beyond with the close back inside is a ``sweep`` (once per level), a
    close beyond a ``run`` (the level dies); columns ``level``, ``depth_atr``, ``wick_body``
    (wick beyond the level and body over the body), ``pool_id`` (-1: a lone swing),
    ``swing_id``."""
    params = {
        "left": left,
        "right": right,
        "tolerance_atr": float(tolerance_atr),
        "tolerance_price": float(tolerance_price),
    }
    table = _run("liquidity", data, params)
    assert isinstance(table, LiquidityTable)
    return table


def dealing_ranges(
    data: Candles | pd.DataFrame, left: int = 5, right: int = 5, break_on: str = "close"
) -> ZoneTable:
    """Dealing ranges left by structure breaks (parameters as :func:`structure`), known at the
    break: the leg from its origin — the strong end, e.g. the lowest low between the broken
    swing high and an up break — to its far end so far — the weak end. Columns: the common
    ones (``anchor`` = the strong end's bar), ``top``, ``bottom``, ``equilibrium`` (above:
    premium, below: discount), the OTE band ``ote_top``/``ote_bottom`` (62%-79% retracement)
    and ``ote_sweet`` (70.5%), ``size_atr``, ``strong_level``/``strong_bar``,
    ``weak_level``/``weak_bar``. The OTE band's lifecycle: touched = price retraced into it,
    mean_threshold = the sweet spot reached, filled = the 79% edge, inverted = a close beyond
    it (the retracement failed), dead = a close back beyond the 62% edge."""
    params = {"left": left, "right": right, "break_on": break_on}
    return _zones(_run("dealing_ranges", data, params))


def bpr(data: Candles | pd.DataFrame, window: int = 10) -> ZoneTable:
    """Balanced price ranges: when an FVG forms, the newest FVG of the other direction formed
    within ``window`` bars before it whose range overlaps it; the zone is the overlap, in the
    newer gap's direction, known at the newer gap's bar (``anchor`` = the older gap's). Columns:
    the common ones, ``top``, ``bottom``, ``mid``, ``size_atr``, ``older_fvg``/``newer_fvg``
    (ids in :func:`fvg`'s table with default parameters). Lifecycle as :func:`fvg`."""
    return _zones(_run("bpr", data, {"window": window}))


def rejection_blocks(
    data: Candles | pd.DataFrame,
    left: int = 5,
    right: int = 5,
    min_wick_body: float = 2.0,
    min_wick_share: float = 0.5,
) -> ZoneTable:
    """Rejection blocks: at a confirmed swing high (as :func:`swings`) whose upper wick is at
    least ``min_wick_body`` x its body and ``min_wick_share`` of its range, the zone from the
    body's top to the high — a bearish zone; swing lows mirror (bullish). Known at the
    swing's confirmation. Columns: the common ones, ``top``, ``bottom``, ``mid``,
    ``wick_body``, ``wick_share``, ``swing_id``. Lifecycle as :func:`fvg` (``filled`` = price
    reached the extreme, ``inverted`` = a close beyond it)."""
    params = {
        "left": left,
        "right": right,
        "min_wick_body": float(min_wick_body),
        "min_wick_share": float(min_wick_share),
    }
    return _zones(_run("rejection_blocks", data, params))


def sessions(
    data: Candles | pd.DataFrame,
    zone: str = "America/New_York",
    windows: str | Iterable[str] | Mapping[str, tuple[str, str]] = (
        "asian",
        "london_open",
        "ny_am",
        "london_close",
    ),
) -> SessionTable:
    """Sessions and kill zones in an IANA time zone, DST included (smartmoneyconcepts' fixed
    UTC windows are right only in US summer). ``windows``: preset names — asian (20:00-24:00),
    london_open (02:00-05:00), ny_am (07:00-10:00), london_close (10:00-12:00), ny_lunch,
    ny_pm (13:30-16:00), silver_bullet_london/_am/_pm (03-04, 10-11, 14-15), cbdr (14-20),
    all New York wall-clock times — or ``{"name": ("HH:MM", "HH:MM")}`` / ``"name=HH:MM-HH:MM"``
    (may wrap past midnight), read in ``zone``. One row per window instance, known at the
    first bar after it (``anchor`` = its first bar): ``window``, ``window_start``/
    ``window_end`` (UTC), ``open``, ``high``, ``low``, ``close``, ``high_bar``, ``low_bar``,
    ``bars``. A bar belongs to a window when its open time falls in it. On the day clocks jump
    forward a window starting in the skipped hour opens at the jump. A window whose start
    equals its end is a whole day from that time — ``{"day": ("17:00", "17:00")}`` is the
    futures day, ``("00:00", "00:00")`` midnight New York: its rows are previous-day
    open/high/low/close with an explicit day boundary, known at the next day's first bar."""
    text = _windows_text(windows)
    table = _run("sessions", data, {"zone": zone, "windows": text})
    assert isinstance(table, SessionTable)
    return table


def new_opening_gaps(
    data: Candles | pd.DataFrame,
    zone: str = "America/New_York",
    close_at: str = "17:00",
    open_at: str = "18:00",
) -> ZoneTable:
    """New day / new week opening gaps. In ``zone``, a trading day runs from ``open_at`` (the
    futures reopen, 18:00 New York) to the next, and settles at ``close_at`` (17:00): the
    settlement close is the close of the day's last bar that opened before ``close_at``. At
    the first bar of a later trading day, the gap between that close and the bar's open is an
    NDOG (``kind`` "ndog"), and when that bar also opens a new week (Sunday evening opens
    Monday's day) a second row "nwog". ``close_at == open_at`` ("00:00", "00:00") gives the
    gap across midnight. Days without bars are skipped; equal prices leave no gap. Zones known
    at the reopen bar, drawn from the settlement bar (``anchor``): ``top``, ``bottom``, ``ce``
    (the midpoint), ``size_atr``; up gaps are bullish. Lifecycle as :func:`fvg`."""
    params = {"zone": zone, "close_at": close_at, "open_at": open_at}
    return _zones(_run("new_opening_gaps", data, params))


def _zones(table: EventTable) -> ZoneTable:
    assert isinstance(table, ZoneTable)
    return table


def _tables_of(result: EventTable) -> dict[str, EventTable]:
    out = {result.name: result}
    if isinstance(result, ZoneTable):
        out["transitions"] = result.transitions
    if isinstance(result, LiquidityTable):
        out["sweeps"] = result.sweeps
    return out


def _differing(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> int:
    if a.dtype.kind == "f" and b.dtype.kind == "f":
        return int(np.count_nonzero(~((a == b) | (np.isnan(a) & np.isnan(b)))))
    return int(np.count_nonzero(a != b))


def replay_rewrites(function: Any, data: pd.DataFrame, prefixes: int = 30, **params: Any) -> int:
    """The replay test (``ict-concepts.md`` §4.1): runs ``function(prefix, **params)`` on
    ``prefixes`` growing prefixes of ``data`` and counts the cells of each prefix's result
    that differ from the full run over what the prefix covers. For a native event table that
    is every row known within the prefix (``known_at`` — ``bar`` for a transition log — before
    its end; a row present on one side only counts all its cells); for a row-per-bar frame
    (``ictcore.compat.smc``, smartmoneyconcepts) the prefix's rows. A causal detector scores 0.
    """
    n = len(data)
    full = function(data, **params)
    ends = sorted({max(1, n * k // (prefixes + 1)) for k in range(1, prefixes + 1)})
    rewritten = 0
    for end in ends:
        part = function(data.iloc[:end], **params)
        if isinstance(full, EventTable):
            whole = _tables_of(full)
            for name, table in _tables_of(part).items():
                other = whole[name]
                key = "bar" if "bar" in table.columns else "known_at"
                mine = table[key] < end
                theirs = other[key] < end
                rows_a, rows_b = int(mine.sum()), int(theirs.sum())
                rewritten += abs(rows_a - rows_b) * len(table.columns)
                k = min(rows_a, rows_b)
                for column in table.columns:
                    rewritten += _differing(table[column][mine][:k], other[column][theirs][:k])
        else:
            head = full.iloc[:end]
            for column in part.columns:
                rewritten += _differing(
                    np.asarray(part[column], dtype=float), np.asarray(head[column], dtype=float)
                )
    return rewritten


_DEFAULT_DETECTORS = ("swings", "structure", "fvg")


class Engine:
    """Native detectors over one live series, bar by bar.

    ``Engine(detectors=("swings", "structure", "fvg"), params={"swings": {"left": 3}})``;
    any of :data:`PRESET`'s detectors, parameters defaulting to the preset. ``update(bar)``
    appends a bar and returns the rows that became known at its close (a dict of small tables
    by table name, only for tables with new rows; ``"<zones>_transitions"`` carries lifecycle
    changes). ``update_last(bar)`` replaces the newest bar (a forming candle revised by a
    tick) and returns the newest bar's rows as they are now. A bar is a mapping or object with
    ``time`` (ns int or datetime), ``open``, ``high``, ``low``, ``close`` and optional
    ``volume``, or a tuple in that order. ``update_many(candles)`` appends a whole batch in one
    native call. ``events(name)`` / ``snapshot()`` give the full tables; replaying a series
    gives exactly the batch tables.

    ``checkpoint()`` gives the engine's whole state as bytes and
    :meth:`Engine.from_checkpoint` restores it without stepping a bar: restored + the
    remaining bars == the batch tables, bit for bit (a revision of the newest bar included).
    A damaged, truncated, foreign or other-version checkpoint raises
    :class:`~ictcore.CorruptFileError`. Pickling uses the checkpoint.
    """

    def __init__(
        self,
        detectors: Iterable[str] = _DEFAULT_DETECTORS,
        params: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.detectors = tuple(detectors)
        unknown = [d for d in self.detectors if d not in PRESET]
        if unknown or not self.detectors:
            raise InvalidInputError(
                f"unknown detector(s) {unknown}; native detectors: {', '.join(PRESET)}"
            )
        given = dict(params or {})
        extra = [d for d in given if d not in self.detectors]
        if extra:
            raise InvalidInputError(f"params given for detector(s) not run: {extra}")
        self.params: dict[str, dict[str, Any]] = {}
        for d in self.detectors:
            # Unknown or bad parameters are refused by the core, naming `<detector>.<name>`.
            self.params[d] = {**PRESET[d], **given.get(d, {})}
        self._native = _ictcore.Engine([(d, self.params[d]) for d in self.detectors])

    def __len__(self) -> int:
        return len(self._native)

    def __repr__(self) -> str:
        return f"<Engine {', '.join(self.detectors)}: {len(self)} bars>"

    @staticmethod
    def _fields(bar: Any) -> tuple[int, float, float, float, float, float]:
        """(time ns, open, high, low, close, volume) of a tuple, a mapping, an object with
        those attributes, or a pandas row (``df.iterrows()`` / ``itertuples()``: names in any
        case, the time from a ``time``/``date`` field or the row's index)."""
        if isinstance(bar, tuple | list) and not hasattr(bar, "_fields"):
            if len(bar) not in (5, 6):
                raise InvalidInputError(
                    f"a bar tuple has (time, open, high, low, close[, volume]), got {len(bar)}"
                )
            values = list(bar)
        else:
            if isinstance(bar, pd.Series):
                fields: dict[str, Any] = {str(k).lower(): v for k, v in bar.items()}
                fields.setdefault("time", bar.name)
            elif isinstance(bar, Mapping):
                fields = {str(k).lower(): v for k, v in bar.items()}
            elif hasattr(bar, "_asdict"):  # itertuples(): the index comes as ``Index``
                fields = {str(k).lower(): v for k, v in bar._asdict().items()}
                fields.setdefault("time", fields.get("index"))
            else:
                fields = {
                    k: getattr(bar, k)
                    for k in ("time", "open", "high", "low", "close", "volume")
                    if hasattr(bar, k)
                }
            for alias in ("date", "datetime", "timestamp"):
                if fields.get("time") is None and fields.get(alias) is not None:
                    fields["time"] = fields[alias]
            missing = [k for k in ("time", "open", "high", "low", "close") if fields.get(k) is None]
            if missing:
                raise InvalidInputError(f"bar is missing {missing}")
            values = [fields[k] for k in ("time", "open", "high", "low", "close")]
            values.append(fields.get("volume", 0.0))
        if len(values) == 5:
            values.append(0.0)
        time = values[0]
        if not isinstance(time, int | np.integer):
            stamp = pd.Timestamp(time)
            stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
            time = stamp.value
        time = int(time)
        if not -(2**63) <= time < 2**63:
            raise InvalidInputError(f"column 'time': {time} is outside int64 nanoseconds")
        try:
            o, h, lo, c, v = (float(x) for x in values[1:])
        except OverflowError:
            raise InvalidInputError("a bar value is too large for a float64") from None
        return time, o, h, lo, c, v

    def update(self, bar: Any) -> dict[str, EventTable]:
        """Appends a bar; returns what became known at its close."""
        return self._new_rows(self._native.update(*self._fields(bar)))

    def update_last(self, bar: Any) -> dict[str, EventTable]:
        """Replaces the newest bar (the first call appends); returns the newest bar's events."""
        return self._new_rows(self._native.update_last(*self._fields(bar)))

    def update_many(self, data: Candles | pd.DataFrame) -> dict[str, EventTable]:
        """Appends every bar of a series in one call (the GIL released); returns the rows they
        added. A bad bar raises naming its row; the bars before it stay applied."""
        return self._new_rows(self._native.update_many(_candles(data)))

    def _new_rows(self, before: list[tuple[str, int]]) -> dict[str, EventTable]:
        now = self._native.counts()
        return {
            name: self._table(name, start)
            for (name, start), (_, end) in zip(before, now, strict=True)
            if end > start
        }

    def _table(self, name: str, start: int = 0) -> EventTable:
        return EventTable(name, _columns(self._native.table(name, start)))

    def events(self, name: str) -> EventTable:
        """The full table of a detector (a zone detector's comes as a :class:`ZoneTable` with
        its transition log and ``active_at``)."""
        tables = TABLES.get(name)
        if tables is None or name not in self.detectors:
            raise InvalidInputError(
                f"{name!r} is not run by this engine ({', '.join(self.detectors)})"
            )
        tables_now = [_columns(self._native.table(t, 0)) for t in tables]
        return _wrap(name, tables_now)

    def snapshot(self) -> dict[str, EventTable]:
        """Every detector's full table."""
        return {d: self.events(d) for d in self.detectors}

    def checkpoint(self) -> bytes:
        """The engine's whole state (detectors, parameters, bars, every detector's state) as
        versioned, checksummed bytes; :meth:`from_checkpoint` restores it."""
        return bytes(self._native.checkpoint())

    @classmethod
    def from_checkpoint(cls, data: bytes | bytearray | memoryview) -> Engine:
        """The engine a :meth:`checkpoint` was made of, restored without stepping a bar
        (``params`` then holds every parameter, resolved). A damaged, truncated, foreign or
        other-version checkpoint raises :class:`~ictcore.CorruptFileError`."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise InvalidTypeError(f"a checkpoint is bytes, got {type(data).__name__}")
        engine = object.__new__(cls)
        engine._adopt(_ictcore.Engine.from_checkpoint(bytes(data)))
        return engine

    def _adopt(self, native: Any) -> None:
        self._native = native
        specs = native.specs()
        self.detectors = tuple(name for name, _ in specs)
        self.params = {name: dict(params) for name, params in specs}

    def __getstate__(self) -> dict[str, Any]:
        # The parameters as given too: a checkpoint holds them resolved (a session table's
        # windows with their hours), equivalent but spelled otherwise.
        return {"checkpoint": self.checkpoint(), "params": self.params}

    def __setstate__(self, state: dict[str, Any]) -> None:
        if "checkpoint" in state:
            self._adopt(_ictcore.Engine.from_checkpoint(state["checkpoint"]))
            self.params = state.get("params", self.params)
            return
        # A pickle from before checkpoints: parameters and bars, replayed.
        self.__init__(state["detectors"], state["params"])  # type: ignore[misc]
        bars = state["bars"]
        if len(bars[0]):
            self._native.update_many(Candles._trusted(*bars))
