"""Charts of candles and native detector tables, drawn with matplotlib
(``pip install 'ictcore[plot]'``; works headless with the Agg backend).

``ictcore.plot(candles, ictcore.fvg(candles), ictcore.structure(candles))`` gives a
:class:`matplotlib.figure.Figure` of the last 300 bars: candles, then each table drawn the way
its concept reads on a chart:

- **zones** (FVGs, order blocks, breakers, gaps, rejection and mitigation blocks, BPRs, the
  OTE band of dealing ranges): rectangles from their anchor bar to the bar they died at (or
  the chart's right edge), split at each lifecycle change and filled with the colour of the
  state they were in; the stretch from the anchor to the bar the zone became known at
  (``known_at``) is hatched, so what a live trader could not have seen yet is visible. The
  edge is green for bullish zones, red for bearish ones.
- **structure** (BOS / CHoCH, MSS, CISD): a line at the broken level from the swing to the
  break bar, labelled.
- **swings**: a marker at each pivot; **displacement**: a marker above or below the candle.
- **liquidity**: equal highs/lows as dotted lines, sweeps (x) and runs (o) at their bar.
- **sessions**: a band over each window's bars, one colour per window name.

The x axis counts bars (no gaps for weekends); its labels are the bars' times in ``tz``.
The axes remember their window, so ``table.plot(ax=ax)`` draws another table on them.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ._interop import require
from .exceptions import InvalidInputError, InvalidTypeError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .candles import Candles
    from .detect import EventTable

__all__ = ["DIRECTION_COLOURS", "STATE_COLOURS", "plot", "plot_table"]

#: Fill colour of a zone in each lifecycle state; ``pending`` is the stretch between a
#: zone's anchor and the bar it became known at (drawn hatched).
STATE_COLOURS: dict[str, str] = {
    "pending": "#ffffff",
    "formed": "#4c72b0",
    "touched": "#64b5cd",
    "mean_threshold": "#8172b2",
    "filled": "#b0b0b0",
    "inverted": "#dd8452",
}
#: Edge / line colour of bullish (+1) and bearish (-1) rows; 0 (sessions) is neutral.
DIRECTION_COLOURS: dict[int, str] = {1: "#2e7d32", -1: "#c62828", 0: "#555555"}

_ZONE_ALPHA = 0.35


def _colours(directions: npt.NDArray[Any]) -> list[str]:
    """The colour of each row's direction (neutral for anything but +1 / -1)."""
    return [DIRECTION_COLOURS.get(int(v), DIRECTION_COLOURS[0]) for v in directions]


_SESSION_COLOURS = ("#fde2a6", "#c9e4f6", "#d8f0c8", "#f3d1e6", "#e0d7f5", "#d5f1ee")


@dataclass
class _Window:
    """The bars a chart shows, ``lo..hi`` inclusive, and the series' times for labels."""

    lo: int
    hi: int
    time: npt.NDArray[np.int64] | None
    tz: str

    @property
    def right(self) -> float:
        return self.hi + 0.5


# Axes made by `plot` -> their window, for `table.plot(ax=...)`; weak, so figures can go.
_WINDOWS: weakref.WeakKeyDictionary[Any, _Window] = weakref.WeakKeyDictionary()


def _pyplot() -> Any:
    require("matplotlib", "plot", "ictcore.plot")
    import matplotlib.pyplot as plt

    return plt


def _bar_of(time: npt.NDArray[np.int64], at: Any, what: str) -> int:
    """A position (negative counts from the end) or a time (the last bar at or before it)."""
    n = len(time)
    if isinstance(at, bool):
        raise InvalidTypeError(f"{what} is a bar position or a time, got a bool")
    if isinstance(at, int | np.integer):
        bar = int(at) + n if at < 0 else int(at)
        if not 0 <= bar < n:
            raise InvalidInputError(f"{what}={at} is outside the series' {n} bars")
        return bar
    try:
        stamp = pd.Timestamp(at)
    except (TypeError, ValueError):
        raise InvalidTypeError(
            f"{what} is a bar position or a time, got {type(at).__name__}"
        ) from None
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    bar = int(np.searchsorted(time, stamp.value, side="right")) - 1
    if bar < 0:
        raise InvalidInputError(f"{what}={at} is before the series' first bar")
    return bar


def _window(
    time: npt.NDArray[np.int64], start: Any, end: Any, last: int | None, tz: str
) -> _Window:
    n = len(time)
    if n == 0:
        raise InvalidInputError("there are no candles to plot")
    hi = n - 1 if end is None else _bar_of(time, end, "end")
    if start is not None:
        lo = _bar_of(time, start, "start")
    elif last is None:
        lo = 0
    else:
        if last < 1:
            raise InvalidInputError(f"last={last}: a chart shows at least one bar")
        lo = max(0, hi - last + 1)
    if lo > hi:
        raise InvalidInputError(f"start (bar {lo}) is after end (bar {hi})")
    return _Window(lo, hi, time, tz)


def _format_bars(ax: Axes, window: _Window) -> None:
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    time = window.time
    if time is None:
        return
    span = int(time[window.hi] - time[window.lo])
    fmt = "%Y-%m-%d" if span > 20 * 86_400 * 10**9 else "%m-%d %H:%M"

    def label(x: float, _pos: int) -> str:
        bar = round(x)
        if not 0 <= bar < len(time):
            return ""
        return str(pd.Timestamp(int(time[bar]), tz="UTC").tz_convert(window.tz).strftime(fmt))

    ax.xaxis.set_major_locator(MaxNLocator(nbins=8, integer=True))
    ax.xaxis.set_major_formatter(FuncFormatter(label))
    ax.set_xlim(window.lo - 0.5, window.right)


def _draw_candles(ax: Axes, candles: Candles, window: _Window) -> None:
    from matplotlib.collections import LineCollection, PolyCollection

    sl = slice(window.lo, window.hi + 1)
    x = np.arange(window.lo, window.hi + 1, dtype=np.float64)
    o, h, lo, c = candles.open[sl], candles.high[sl], candles.low[sl], candles.close[sl]
    up = c >= o
    colours = np.where(up, DIRECTION_COLOURS[1], DIRECTION_COLOURS[-1])
    wicks = np.stack([np.stack([x, lo], 1), np.stack([x, h], 1)], 1)
    ax.add_collection(LineCollection(list(wicks), colors=colours, linewidths=0.7, zorder=2))
    width = 0.35
    bottom, top = np.minimum(o, c), np.maximum(o, c)
    # A doji still shows a line: a body at least a sliver of the window's range tall.
    sliver = (np.max(h) - np.min(lo)) * 0.001
    top = np.maximum(top, bottom + sliver)
    bodies = _rectangles(x - width, x + width, bottom, top)
    ax.add_collection(
        PolyCollection(
            list(bodies), facecolors=colours, edgecolors=colours, linewidths=0.5, zorder=3
        )
    )
    pad = (np.max(h) - np.min(lo)) * 0.05 or abs(float(np.max(h))) * 0.01 or 1.0
    ax.set_ylim(float(np.min(lo)) - pad, float(np.max(h)) + pad)


def _rectangles(x0: npt.NDArray[Any], x1: npt.NDArray[Any], y0: Any, y1: Any) -> Any:
    return np.stack(
        [
            np.stack([x0, y0], 1),
            np.stack([x0, y1], 1),
            np.stack([x1, y1], 1),
            np.stack([x1, y0], 1),
        ],
        1,
    )


def _zone_bounds(table: EventTable) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
    # A dealing range's lifecycle is its OTE band's, so the band is the zone drawn.
    if "ote_top" in table:
        return table["ote_top"], table["ote_bottom"]
    return table["top"], table["bottom"]


def _selected_zones(
    table: Any,
    window: _Window,
    alive_at: Any,
    min_size_atr: float | None,
    states: Iterable[str] | None,
    max_zones: int | None,
) -> npt.NDArray[np.int64]:
    """Row positions of the zones to draw: those drawn within the window that pass the
    filters, the newest ``max_zones`` of them."""
    anchor, known = table["anchor"], table["known_at"]
    dead = table.dead_at()
    keep = (anchor <= window.hi) & ((dead < 0) | (dead >= window.lo))
    if alive_at is not None:
        bar = alive_at if window.time is None else _bar_of(window.time, alive_at, "alive_at")
        alive = np.zeros(len(table), dtype=bool)
        alive[table.active_at(int(bar))["id"]] = True
        keep &= alive
    if min_size_atr is not None and "size_atr" in table:
        keep &= table["size_atr"] >= min_size_atr
    if states is not None:
        names = list(table.STATES)
        wanted = set(states)
        unknown = wanted - set(names)
        if unknown:
            raise InvalidInputError(f"states: unknown {sorted(unknown)}; states: {names}")
        codes = [names.index(s) for s in wanted]
        keep &= np.isin(table.state_at(window.hi), codes)
    rows = np.flatnonzero(keep)
    if max_zones is not None and len(rows) > max_zones:
        newest = np.argsort(known[rows], kind="stable")[-max_zones:]
        rows = np.sort(rows[newest])
    return rows


def _zone_segments(
    table: Any, rows: npt.NDArray[np.int64], window: _Window
) -> dict[str, tuple[npt.NDArray[Any], ...]]:
    """Per state, (x0, x1, bottom, top, direction) of the pieces of the selected zones."""
    top, bottom = _zone_bounds(table)
    direction = table["direction"]
    log = table.transitions
    pieces: dict[str, list[tuple[Any, ...]]] = {}
    # The hatched stretch: drawn at the anchor, not known before known_at.
    a, k = table["anchor"][rows], table["known_at"][rows]
    pieces["pending"] = [(a, k, bottom[rows], top[rows], direction[rows])]
    chosen = np.zeros(len(table), dtype=bool)
    chosen[rows] = True
    in_log = chosen[log["id"]]
    ids, state, bar = log["id"][in_log], log["state"][in_log], log["bar"][in_log]
    order = np.lexsort((np.arange(len(ids)), ids))  # by zone, each in log (bar) order
    ids, state, bar = ids[order], state[order], bar[order]
    same_next = np.append(ids[1:] == ids[:-1], False)
    end = np.where(same_next, np.append(bar[1:], 0), window.right)
    names = list(table.STATES)
    for code, name in enumerate(names):
        if name == "dead":
            continue
        m = (state == code) & (end > bar)
        if m.any():
            z = ids[m]
            pieces.setdefault(name, []).append((bar[m], end[m], bottom[z], top[z], direction[z]))
    return {
        name: tuple(np.concatenate(parts) for parts in zip(*chunks, strict=True))
        for name, chunks in pieces.items()
    }


def _draw_zones(ax: Axes, table: Any, window: _Window, options: dict[str, Any]) -> int:
    from matplotlib.collections import PolyCollection

    rows = _selected_zones(
        table,
        window,
        options.get("alive_at"),
        options.get("min_size_atr"),
        options.get("states"),
        options.get("max_zones"),
    )
    for name, (x0, x1, y0, y1, d) in _zone_segments(table, rows, window).items():
        x0 = np.clip(x0.astype(np.float64), window.lo - 0.5, window.right)
        x1 = np.clip(x1.astype(np.float64), window.lo - 0.5, window.right)
        visible = x1 > x0
        if not visible.any():
            continue
        edges = _colours(d[visible])
        pending = name == "pending"
        ax.add_collection(
            PolyCollection(
                _rectangles(x0[visible], x1[visible], y0[visible], y1[visible]),
                facecolors=STATE_COLOURS[name],
                edgecolors=edges,
                linewidths=0.6,
                alpha=0.6 if pending else _ZONE_ALPHA,
                hatch="////" if pending else None,
                zorder=1,
                label=f"{table.name} {name}",
                gid=f"{table.name}:{name}",
            )
        )
    if "ote_top" in table and len(rows):
        # The dealing range's equilibrium (premium above, discount below), until it dies.
        dead = table.dead_at()[rows]
        ends = np.where(dead < 0, window.right, dead)
        _level_lines(ax, table, rows, window, "equilibrium", ":", None, ends=ends)
    return len(rows)


def _in_window(table: EventTable, window: _Window) -> npt.NDArray[np.int64]:
    """Rows whose anchor..known_at stretch meets the window."""
    return np.flatnonzero((table["anchor"] <= window.hi) & (table["known_at"] >= window.lo))


def _level_lines(
    ax: Axes,
    table: EventTable,
    rows: npt.NDArray[np.int64],
    window: _Window,
    column: str,
    style: str,
    label: str | None,
    width: float = 1.0,
    ends: npt.NDArray[Any] | None = None,
) -> None:
    """Lines at ``column`` from each row's anchor to its known_at bar (or ``ends``)."""
    from matplotlib.collections import LineCollection

    y = table[column][rows]
    x0, x1 = table["anchor"][rows].astype(np.float64), table["known_at"][rows].astype(np.float64)
    if ends is not None:
        x1 = ends.astype(np.float64)
    segments = np.stack([np.stack([x0, y], 1), np.stack([x1, y], 1)], 1)
    colours = _colours(table["direction"][rows])
    ax.add_collection(
        LineCollection(
            list(segments),
            colors=colours,
            linestyles=style,
            linewidths=width,
            zorder=4,
            label=label,
        )
    )


def _kind_names(table: EventTable, rows: npt.NDArray[np.int64]) -> list[str]:
    from .detect import KINDS

    return [KINDS.get(int(k), str(k)) for k in table["kind"][rows]]


def _annotate(
    ax: Axes, x: npt.NDArray[Any], y: npt.NDArray[Any], text: Sequence[str], up: Any
) -> None:
    # Text is one artist per row: only where there are few enough to read.
    if len(x) > 80:
        return
    for xi, yi, t, u in zip(x, y, text, up, strict=True):
        ax.annotate(
            t,
            (float(xi), float(yi)),
            xytext=(0, 3 if u else -3),
            textcoords="offset points",
            ha="center",
            va="bottom" if u else "top",
            fontsize=7,
            zorder=6,
        )


_BREAK_NAMES = {"bos": "BOS", "choch": "CHoCH", "mss": "MSS", "cisd": "CISD"}


def _draw_breaks(ax: Axes, table: EventTable, window: _Window) -> int:
    rows = _in_window(table, window)
    if not len(rows):
        return 0
    names = _kind_names(table, rows)
    swing_layer = table["layer"][rows] == 1 if "layer" in table else np.zeros(len(rows), bool)
    # structure_layers: the swing layer's breaks drawn thicker than the internal ones.
    for layer, width in ((False, 1.0), (True, 2.0)):
        part = rows[swing_layer == layer]
        if len(part):
            _level_lines(ax, table, part, window, "level", "-", table.name, width)
    x = (table["anchor"][rows] + table["known_at"][rows]) / 2
    up = table["direction"][rows] > 0
    _annotate(ax, x, table["level"][rows], [_BREAK_NAMES.get(n, n) for n in names], up)
    return len(rows)


def _markers(
    ax: Axes, x: Any, y: Any, direction: Any, label: str, marker_up: str, marker_down: str
) -> None:
    for sign, marker in ((1, marker_up), (-1, marker_down)):
        m = direction == sign
        if m.any():
            ax.scatter(
                x[m],
                y[m],
                marker=marker,
                s=24,
                color=DIRECTION_COLOURS[sign],
                zorder=5,
                label=label,
            )


def _draw_swings(ax: Axes, table: EventTable, window: _Window) -> int:
    rows = np.flatnonzero((table["anchor"] >= window.lo) & (table["anchor"] <= window.hi))
    x, y = table["anchor"][rows], table["level"][rows]
    high = table["direction"][rows] > 0
    # Highs get a marker pointing down from above, lows one pointing up from below.
    _markers(ax, x, y, table["direction"][rows], "swings", "v", "^")
    from .detect import _LABELS

    labels = [_LABELS[int(v)] if 0 <= int(v) < len(_LABELS) else "" for v in table["label"][rows]]
    _annotate(ax, x, y, labels, high)
    return len(rows)


def _draw_displacement(ax: Axes, table: EventTable, window: _Window) -> int:
    rows = np.flatnonzero((table["known_at"] >= window.lo) & (table["known_at"] <= window.hi))
    d = table["direction"][rows]
    y = np.where(d > 0, table["bottom"][rows], table["top"][rows])
    _markers(ax, table["known_at"][rows], y, d, "displacement", "^", "v")
    return len(rows)


def _draw_liquidity(ax: Axes, table: Any, window: _Window) -> int:
    rows = _in_window(table, window)
    if len(rows):
        _level_lines(ax, table, rows, window, "level", ":", label="equal highs/lows")
        names = ["EQH" if n == "equal_highs" else "EQL" for n in _kind_names(table, rows)]
        x = table["known_at"][rows]
        _annotate(ax, x, table["level"][rows], names, table["direction"][rows] > 0)
    sweeps = table.sweeps
    at = np.flatnonzero((sweeps["known_at"] >= window.lo) & (sweeps["known_at"] <= window.hi))
    kinds = np.array(_kind_names(sweeps, at))
    for kind, marker in (("sweep", "x"), ("run", "o")):
        m = at[kinds == kind] if len(at) else at
        if len(m):
            ax.scatter(
                sweeps["known_at"][m],
                sweeps["level"][m],
                marker=marker,
                s=30,
                facecolors="none" if marker == "o" else None,
                color=_colours(sweeps["direction"][m]),
                zorder=5,
                label=f"liquidity {kind}s",
            )
    return len(rows) + len(at)


def _draw_sessions(ax: Axes, table: Any, window: _Window) -> int:
    from matplotlib.collections import PolyCollection
    from matplotlib.patches import Patch

    first, bars = table["anchor"], table["bars"]
    last = first + bars - 1
    rows = np.flatnonzero((first <= window.hi) & (last >= window.lo))
    names = list(table.windows or [])
    codes = table["window"][rows]
    handles = []
    for code in np.unique(codes):
        m = rows[codes == code]
        colour = _SESSION_COLOURS[int(code) % len(_SESSION_COLOURS)]
        # One artist per window name: bands spanning the axes' height (axes y from 0 to 1).
        x0, x1 = first[m] - 0.5, last[m] + 0.5
        bands = _rectangles(x0, x1, np.zeros(len(m)), np.ones(len(m)))
        ax.add_collection(
            PolyCollection(
                bands,
                facecolors=colour,
                alpha=0.45,
                linewidths=0,
                zorder=0,
                transform=ax.get_xaxis_transform(),
                gid=f"{table.name}:{int(code)}",
            )
        )
        name = names[int(code)] if int(code) < len(names) else str(code)
        handles.append(Patch(color=colour, alpha=0.45, label=name))
    if handles:
        _SESSION_HANDLES.setdefault(ax, []).extend(handles)
    return len(rows)


_SESSION_HANDLES: weakref.WeakKeyDictionary[Any, list[Any]] = weakref.WeakKeyDictionary()


def _draw_generic(ax: Axes, table: EventTable, window: _Window) -> int:
    if "level" in table:
        return _draw_breaks(ax, table, window)
    at = "bar" if "bar" in table else "known_at"
    rows = np.flatnonzero((table[at] >= window.lo) & (table[at] <= window.hi))
    ylim = ax.get_ylim()
    ax.scatter(table[at][rows], np.full(len(rows), ylim[0]), marker="|", s=40, label=table.name)
    return len(rows)


def _draw(ax: Axes, table: Any, window: _Window, options: dict[str, Any]) -> int:
    from .detect import EventTable, LiquidityTable, SessionTable, ZoneTable

    if not isinstance(table, EventTable):
        raise InvalidTypeError(
            f"ictcore.plot draws native tables (ictcore.fvg(...), ...), got {type(table).__name__}"
        )
    if isinstance(table, ZoneTable):
        return _draw_zones(ax, table, window, options)
    if isinstance(table, LiquidityTable):
        return _draw_liquidity(ax, table, window)
    if isinstance(table, SessionTable):
        return _draw_sessions(ax, table, window)
    if table.name == "swings":
        return _draw_swings(ax, table, window)
    if table.name == "displacement":
        return _draw_displacement(ax, table, window)
    return _draw_generic(ax, table, window)


def _legend(ax: Axes) -> None:
    from matplotlib.patches import Patch

    handles, labels = ax.get_legend_handles_labels()
    seen: dict[str, Any] = {}
    states_shown = set()
    for handle, label in zip(handles, labels, strict=True):
        state = label.rsplit(" ", 1)[-1]
        if state in STATE_COLOURS:
            states_shown.add(state)
        elif label not in seen:
            seen[label] = handle
    out = [
        Patch(
            facecolor=STATE_COLOURS[s],
            alpha=_ZONE_ALPHA,
            label=s.replace("_", " "),
            hatch="////" if s == "pending" else None,
            edgecolor="#555555",
        )
        for s in STATE_COLOURS
        if s in states_shown
    ]
    out += list(seen.values())
    # One entry per session window, however many times sessions were drawn on these axes.
    windows = {h.get_label(): h for h in _SESSION_HANDLES.get(ax, [])}
    out += list(windows.values())
    if out:
        # Outside the plot, on the right: a legend over the candles hides what it explains.
        ax.legend(handles=out, loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=7)


def plot(
    candles: Any,
    *tables: EventTable,
    start: Any = None,
    end: Any = None,
    last: int | None = 300,
    ax: Axes | None = None,
    alive_at: Any = None,
    min_size_atr: float | None = None,
    states: Iterable[str] | None = None,
    max_zones: int | None = 150,
    tz: str = "UTC",
    title: str | None = None,
    figsize: tuple[float, float] = (14.0, 7.0),
) -> Figure:
    """A chart of ``candles`` and any native tables computed on them.

    - Window: bars ``start``..``end`` (each a bar position — negative counts from the end — or
      a time: the last bar at or before it). Without ``start``, the ``last`` bars up to
      ``end`` (default: the series' end; ``last=None``: from the first bar).
    - Zone filters: ``alive_at`` (a bar or time: only zones alive at its close),
      ``min_size_atr`` (tables with ``size_atr``), ``states`` (only zones in one of these
      states at the window's last bar, e.g. ``("formed", "touched")``), ``max_zones`` (the
      newest zones drawn in the window; ``None``: all). A chart of a long series stays
      readable by default: 300 bars, at most 150 zones per table.
    - ``tz``: the time zone of the axis labels; ``ax``: draw on these axes instead of a new
      figure; ``title``.

    Returns the figure (``fig.savefig("chart.png")``; in a notebook it shows itself).
    Needs matplotlib (``pip install 'ictcore[plot]'``).
    """
    from .detect import _candles

    plt = _pyplot()
    data = _candles(candles)
    window = _window(data.time, start, end, last, tz)
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    else:
        fig = ax.figure
    _WINDOWS[ax] = window
    _format_bars(ax, window)
    _draw_candles(ax, data, window)
    options = {
        "alive_at": alive_at,
        "min_size_atr": min_size_atr,
        "states": states,
        "max_zones": max_zones,
    }
    for table in tables:
        _check_fits(table, data)
        _draw(ax, table, window, options)
    _legend(ax)
    ax.grid(True, alpha=0.2)
    if title:
        ax.set_title(title)
    return fig  # type: ignore[no-any-return]


def _check_fits(table: Any, candles: Candles) -> None:
    """A table computed on other candles would be drawn at the wrong bars: refuse it."""
    from .detect import EventTable

    if not isinstance(table, EventTable) or not len(table) or "anchor_time" not in table:
        return
    last = int(np.max(table["known_at"]))
    if last >= len(candles):
        raise InvalidInputError(
            f"{table.name} has rows known at bar {last}, beyond these {len(candles)} candles: "
            "it was computed on another series"
        )
    at = table["anchor"]
    if not np.array_equal(candles.time[at], table["anchor_time"]):
        raise InvalidInputError(
            f"{table.name}'s anchor times differ from these candles' times: "
            "it was computed on another series"
        )


def plot_table(
    table: EventTable, ax: Axes | None = None, candles: Any = None, **options: Any
) -> Axes:
    """Draws one table: on ``ax`` (axes made by :func:`plot` keep their window; other axes
    get the table's whole range, x in bar positions), or on a new chart of ``candles``.
    ``options`` as :func:`plot`'s zone filters. Returns the axes."""
    if ax is None:
        if candles is None:
            raise InvalidInputError("table.plot() needs ax= (an axes) or candles= to draw on")
        figure = plot(candles, table, **options)
        return figure.axes[0]
    _pyplot()
    window = _WINDOWS.get(ax)
    if window is None:
        if not len(table):
            return ax
        lo, hi = int(np.min(table["anchor"])), int(np.max(table["known_at"]))
        window = _Window(lo, hi, None, "UTC")
        ax.set_xlim(lo - 0.5, hi + 0.5)
    known = {"alive_at", "min_size_atr", "states", "max_zones"}
    unknown = set(options) - known
    if unknown:
        raise InvalidInputError(f"unknown option(s) {sorted(unknown)}; options: {sorted(known)}")
    _draw(ax, table, window, {"max_zones": 150, **options})
    _legend(ax)
    return ax
