"""Benchmark workloads shared by ``bench_compat.py`` and the pytest-benchmark file.

- W0: ``tests/data/smc-eurusd/EURUSD_15M.csv``, 24,424 real EURUSD 15-minute candles, with
  ``Tickvol`` as volume.
- ``generated(n)``: an n-candle 5-decimal FX random walk on a regular 15-minute index
  (``ictcore.synthetic``, seed 42), the spec's synthetic set.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from ictcore.synthetic import synthetic_frame

os.environ.setdefault("SMC_CREDIT", "0")

ROOT = Path(__file__).resolve().parent.parent
EURUSD = ROOT / "tests" / "data" / "smc-eurusd" / "EURUSD_15M.csv"


#: The native detectors of the engine's live loop (the live, resume and cache benchmarks).
LIVE_DETECTORS = [
    "native.swings",
    "native.structure",
    "native.fvg",
    "native.order_blocks",
    "native.liquidity",
]


def w0() -> pd.DataFrame:
    raw = pd.read_csv(EURUSD)
    frame = raw[["Open", "High", "Low", "Close", "Tickvol"]].rename(columns={"Tickvol": "volume"})
    frame.index = pd.DatetimeIndex(pd.to_datetime(raw["Date"], format="%Y.%m.%d %H:%M:%S"))
    return frame


def generated(n: int) -> pd.DataFrame:
    frame = synthetic_frame(42, n, "walk")
    frame.index = pd.date_range("2020-01-01", periods=n, freq="15min")
    return frame


Call = Callable[[Any, pd.DataFrame, pd.DataFrame], pd.DataFrame]

#: The eight functions with their default options, as the engine calls them. Swing-based ones
#: get precomputed swings (L=5), so their time excludes the swing computation.
CALLS: dict[str, Call] = {
    "fvg": lambda m, f, s: m.fvg(f),
    "swing_highs_lows": lambda m, f, s: m.swing_highs_lows(f, 5),
    "bos_choch": lambda m, f, s: m.bos_choch(f, s),
    "ob": lambda m, f, s: m.ob(f, s),
    "liquidity": lambda m, f, s: m.liquidity(f, s),
    "previous_high_low": lambda m, f, s: m.previous_high_low(f, "1D"),
    "sessions": lambda m, f, s: m.sessions(f, "London"),
    "retracements": lambda m, f, s: m.retracements(f, s),
}

#: Functions whose library implementation is quadratic (the >= 1000x target at 200k).
QUADRATIC = ("fvg", "bos_choch", "ob", "liquidity")


def best(fn: Callable[[], Any], repeat: int = 5) -> float:
    """The shortest of ``repeat`` timed calls of ``fn``, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def write_section(path: Path, heading: str, lines: list[str]) -> None:
    """Puts ``lines`` (which start with the ``## heading`` line) into BENCHMARKS.md in place of
    that section — up to the next ``## `` heading — or at the end, keeping the others."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    old = text.splitlines()
    if heading in old:
        start = old.index(heading)
        end = next((i for i in range(start + 1, len(old)) if old[i].startswith("## ")), len(old))
        # A blank line before the next section's heading.
        after = ["", *old[end:]] if end < len(old) else []
        new = old[:start] + lines + after
    else:
        new = [*old, "", *lines]
    path.write_text("\n".join(new).rstrip() + "\n")


def write_portfolio(store: Any, days: int, symbols: int) -> int:
    """Writes the W1 portfolio (or a ``days``/``symbols`` fraction) into a CandleStore;
    returns the number of candles."""
    from ictcore import Candles
    from ictcore.synthetic import portfolio

    total = 0
    for symbol, timeframe, cols in portfolio(days=days, symbols=symbols):
        store.write(symbol, timeframe, Candles._trusted(**cols))
        total += len(cols["time"])
    return total


def append_next_bar(store: Any, symbol: str, timeframe: str, span_ns: int, step: int) -> None:
    """Appends one synthetic bar ``span_ns`` after the series' last one, moving from its last
    close by a small deterministic step (the live-cycle benchmarks' feed)."""
    import numpy as np

    from ictcore import Candles

    last = store.read(symbol, timeframe)
    t = int(last.time[-1]) + span_ns
    close = float(last.close[-1])
    move = 1e-4 * ((step * 7 + len(symbol)) % 5 - 2)
    bar = Candles(
        np.array([t]),
        np.array([close]),
        np.array([max(close, close + move) + 1e-5]),
        np.array([min(close, close + move) - 1e-5]),
        np.array([close + move]),
        np.array([1.0]),
    )
    store.append(symbol, timeframe, bar, durability="os")


def child_json(python: str, *args: str) -> Any:
    """Runs ``python *args`` (a script or ``-c CODE``) in its own process, so its peak RSS
    and imports are its own, and returns the JSON its last output line holds."""
    import json
    import subprocess

    done = subprocess.run([python, *args], check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])
