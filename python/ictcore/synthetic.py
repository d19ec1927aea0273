"""Deterministic synthetic OHLCV data (numpy only): the demo's embedded default and the
generator behind ``ictcore.testing``'s strategies."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from .exceptions import InvalidInputError

__all__ = ["SHAPES", "TIMEFRAMES", "portfolio", "synthetic_frame"]

#: The shapes ``synthetic_frame`` makes.
SHAPES = ("walk", "btc", "ties", "trend")

_GAPS_MINUTES = np.array([1, 5, 15, 15, 15, 60, 60 * 4, 60 * 24, 60 * 24 * 3, 7], dtype=np.int64)


def _index(rng: np.random.Generator, n: int, start: pd.Timestamp) -> pd.DatetimeIndex:
    gaps = rng.choice(_GAPS_MINUTES, size=n) if n else np.zeros(0, dtype=np.int64)
    minutes = np.cumsum(gaps) - (gaps[0] if n else 0)
    index: pd.DatetimeIndex = pd.DatetimeIndex(start + pd.to_timedelta(minutes, unit="min"))
    return index


def synthetic_frame(seed: int, n: int, shape: str = "walk") -> pd.DataFrame:
    """One deterministic OHLCV frame of ``n`` candles.

    Shapes: ``walk`` (5-decimal FX random walk), ``btc`` (BTC-scale, 2 decimals), ``ties``
    (small integer prices with heavy ties and plateaus), ``trend`` (persistent drift). The
    index is strictly increasing with irregular gaps from one minute to three days;
    high >= max(open, close) and low <= min(open, close).
    """
    if shape not in SHAPES:
        raise InvalidInputError(f"unknown shape {shape!r}; choose one of {SHAPES}")
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2020-01-01") + pd.Timedelta(minutes=int(rng.integers(0, 60 * 24 * 400)))
    if shape == "ties":
        o = rng.integers(0, 12, size=n).astype(np.float64)
        c = rng.integers(0, 12, size=n).astype(np.float64)
        up = rng.choice([0.0, 0.0, 1.0, 2.0], size=n)
        down = rng.choice([0.0, 0.0, 1.0, 2.0], size=n)
        h = np.maximum(o, c) + up
        low = np.minimum(o, c) - down
    else:
        scale, decimals, sigma, drift = {
            "walk": (1.1, 5, 0.0008, 0.0),
            "btc": (30_000.0, 2, 0.004, 0.0),
            "trend": (1.1, 5, 0.0006, 0.0012 * (1 if rng.random() < 0.5 else -1)),
        }[shape]
        steps = rng.normal(drift, sigma, size=n)
        close = scale * np.exp(np.cumsum(steps))
        open_ = np.concatenate([[scale], close[:-1]]) if n else close
        wick_up = np.abs(rng.normal(0, sigma * scale * 0.6, size=n))
        wick_dn = np.abs(rng.normal(0, sigma * scale * 0.6, size=n))
        o = np.round(open_, decimals)
        c = np.round(close, decimals)
        h = np.round(np.maximum(o, c) + wick_up, decimals)
        low = np.round(np.minimum(o, c) - wick_dn, decimals)
    volume = np.round(rng.lognormal(5, 1, size=n))
    frame: pd.DataFrame = pd.DataFrame(
        {"open": o, "high": h, "low": low, "close": c, "volume": volume},
        index=_index(rng, n, start),
    )
    return frame


#: The W1 portfolio's timeframes and their length in minutes.
TIMEFRAMES: dict[str, int] = {"1m": 1, "5m": 5, "15m": 15, "1h": 60, "4h": 240, "1d": 1440}


def _weekday_minutes(days: int, start: np.datetime64) -> npt.NDArray[np.int64]:
    """int64 ns of every minute of the weekdays (24x5 FX hours) in ``days`` calendar days."""
    minutes = np.arange(days * 1440, dtype=np.int64)
    stamps = start.astype("datetime64[m]") + minutes.astype("timedelta64[m]")
    weekday = (stamps.astype("datetime64[D]").astype(np.int64) + 3) % 7  # 0 = Monday
    kept = stamps[weekday < 5]
    nanos: npt.NDArray[np.int64] = kept.astype("datetime64[ns]").astype(np.int64)
    return nanos


def _one_symbol(
    rng: np.random.Generator, time: npt.NDArray[np.int64]
) -> dict[str, npt.NDArray[np.float64]]:
    """1-minute OHLCV of a regime-switching random walk with 5-decimal prices."""
    n = len(time)
    # Volatility regimes (calm / normal / wild) switching as a Markov chain every ~2 days,
    # plus a drift regime, so trends that leave gaps open and long plateaus both occur.
    switches = rng.random(n) < 1 / 2880
    regime = np.cumsum(switches) % 3
    vol = np.array([0.00008, 0.00020, 0.00055])[rng.permutation(3)][regime]
    drift = rng.normal(0, 0.00003, size=int(switches.sum()) + 1)[np.cumsum(switches)]
    steps = rng.normal(drift, vol)
    base = float(rng.uniform(0.5, 150.0))
    close = np.round(base * np.exp(np.cumsum(steps)), 5)
    open_ = np.concatenate([[np.round(base, 5)], close[:-1]])
    wick = np.abs(rng.normal(0, vol * base * 0.7, size=(2, n)))
    high = np.round(np.maximum(open_, close) + wick[0], 5)
    low = np.round(np.minimum(open_, close) - wick[1], 5)
    volume = np.round(rng.lognormal(3, 1, size=n))
    return {"open": open_, "high": high, "low": low, "close": close, "volume": volume}


def _aggregate(
    time: npt.NDArray[np.int64], cols: dict[str, npt.NDArray[np.float64]], minutes: int
) -> tuple[npt.NDArray[np.int64], dict[str, npt.NDArray[np.float64]]]:
    """Bars of ``minutes`` (aligned to the epoch, so 1d bars are UTC days) from 1m bars."""
    if minutes == 1:
        return time, cols
    width = minutes * 60_000_000_000
    bins = time // width
    starts = np.flatnonzero(np.concatenate([[True], bins[1:] != bins[:-1]]))
    ends = np.concatenate([starts[1:], [len(time)]]) - 1
    return bins[starts] * width, {
        "open": cols["open"][starts],
        "high": np.maximum.reduceat(cols["high"], starts),
        "low": np.minimum.reduceat(cols["low"], starts),
        "close": cols["close"][ends],
        "volume": np.add.reduceat(cols["volume"], starts),
    }


def portfolio(
    days: int = 364, symbols: int = 77, seed: int = 2024
) -> Iterator[tuple[str, str, dict[str, npt.NDArray[Any]]]]:
    """The W1 benchmark portfolio: ``symbols`` x {1m, 5m, 15m, 1h, 4h, 1d} over ``days``
    calendar days of 24x5 hours from Monday 2024-01-01, deterministic for a seed. Yields
    (symbol, timeframe, columns) with ``time`` (int64 ns) and float64 OHLCV columns; the full
    default is about 28.7M 1-minute candles (37M candles over all timeframes)."""
    time = _weekday_minutes(days, np.datetime64("2024-01-01"))
    for k in range(symbols):
        rng = np.random.default_rng([seed, k])
        one_minute = _one_symbol(rng, time)
        for timeframe, minutes in TIMEFRAMES.items():
            t, cols = _aggregate(time, one_minute, minutes)
            yield f"SYM{k:03d}", timeframe, {"time": t, **cols}
