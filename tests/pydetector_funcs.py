"""Python detectors for the pool's tests (a module of its own: worker processes import it by
name, which they cannot do with test modules under pytest's importlib mode)."""

from __future__ import annotations

import os
import signal
from typing import Any

import numpy as np
import pandas as pd

from ictcore import Candles, detector


def rolling_range(candles: Candles, window: int = 5) -> dict[str, Any]:
    """Numpy/pandas-heavy: rolling high/low channel and where the close breaks it."""
    high = pd.Series(candles.high).rolling(window).max().to_numpy()
    low = pd.Series(candles.low).rolling(window).min().to_numpy()
    close = candles.close
    return {
        "high": high,
        "low": low,
        "breakout": np.nan_to_num(np.sign(close - np.roll(high, 1))).astype(np.int32),
        "time": candles.time.view("datetime64[ns]"),
    }


def pivots(candles: Candles, span: int = 3) -> pd.DataFrame:
    """Pure Python (holds the GIL): a loop over the bars marking pivot highs and lows."""
    high, low = candles.high.tolist(), candles.low.tolist()
    kind: list[str | None] = []
    level: list[float] = []
    for i in range(len(high)):
        lo, hi = max(0, i - span), min(len(high), i + span + 1)
        if high[i] == max(high[lo:hi]):
            kind.append("high")
            level.append(high[i])
        elif low[i] == min(low[lo:hi]):
            kind.append("low")
            level.append(low[i])
        else:
            kind.append(None)
            level.append(float("nan"))
    index = pd.DatetimeIndex(candles.time.view("datetime64[ns]"), name="time").tz_localize("UTC")
    return pd.DataFrame({"kind": kind, "level": level}, index=index)


def raises_on_long(candles: Candles, limit: int = 1500) -> dict[str, Any]:
    """Raises on series longer than ``limit``."""
    if len(candles) > limit:
        raise ValueError(f"{len(candles)} candles is more than {limit}")
    return {"rows": np.array([len(candles)], dtype=np.int64)}


def dies_on(candles: Candles, rows: int = -1, how: str = "exit") -> dict[str, Any]:
    """Kills its own process on the series of ``rows`` candles."""
    if len(candles) == rows:
        if how == "exit":
            os._exit(3)
        os.kill(os.getpid(), signal.SIGSEGV)
    return {"rows": np.array([len(candles)], dtype=np.int64)}


def slow(candles: Candles, pid_dir: str = "", seconds: float = 60.0) -> dict[str, Any]:
    """Writes its pid to ``pid_dir``, then sleeps (for Ctrl-C tests)."""
    import time

    if pid_dir:
        with open(os.path.join(pid_dir, str(os.getpid())), "w"):
            pass
    time.sleep(seconds)
    return {"rows": np.array([len(candles)], dtype=np.int64)}


@detector(name="versioned", version=1)
def with_version(candles: Candles) -> dict[str, Any]:
    return {"mean": np.array([candles.close.mean()])}


def logged_slow(candles: Candles, log: str = "", seconds: float = 0.2) -> dict[str, Any]:
    """Appends ``start <rows> <time>`` and ``end <rows> <time>`` lines to ``log`` around a
    sleep (for tests that kill a worker mid-run)."""
    import time

    with open(log, "a") as f:
        f.write(f"start {len(candles)} {time.time()}\n")
    time.sleep(seconds)
    with open(log, "a") as f:
        f.write(f"end {len(candles)} {time.time()}\n")
    return {"rows": np.array([len(candles)], dtype=np.int64)}
