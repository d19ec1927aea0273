"""Deterministic synthetic OHLCV data (numpy only): the demo's embedded default and the
generator behind ``ictcore.testing``'s strategies."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["SHAPES", "synthetic_frame"]

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
        raise ValueError(f"unknown shape {shape!r}; choose one of {SHAPES}")
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
