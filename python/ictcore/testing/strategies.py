"""Hypothesis strategies for OHLCV DataFrames.

Shapes covered (``ohlcv_frames`` mixes them all):

- ``walk``: 5-decimal FX random walks (lognormal steps, the spec's synthetic set);
- ``btc``: BTC-scale prices (tens of thousands, 2 decimals) where float32 rounding bites;
- ``ties``: small integer prices with heavy ties, plateaus and outside bars;
- ``trend``: a persistent drift that leaves gaps and blocks unmitigated;
- very short series (0, 1, 2 candles, fewer than 3 x swing_length).

Every frame has a strictly increasing DatetimeIndex with irregular gaps (minutes to days, so
session and higher-timeframe bins are exercised), lower-case OHLCV columns, and
high >= max(open, close), low <= min(open, close).
"""

# No `from __future__ import annotations` here: `st.composite` hands this signature on, and
# tools that read it (documentation generators) evaluate it in hypothesis' namespace.
from typing import Any

import pandas as pd
from hypothesis import strategies as st

from ..synthetic import synthetic_frame

__all__ = ["ohlcv_frames", "synthetic_frame"]


@st.composite
def ohlcv_frames(draw: Any, min_size: int = 0, max_size: int = 600) -> pd.DataFrame:
    """A generated OHLCV frame (see the module docstring for the shapes)."""
    shape = draw(st.sampled_from(["walk", "walk", "btc", "ties", "ties", "trend"]))
    n = draw(
        st.one_of(
            st.integers(min_size, min(max_size, max(min_size, 8))),
            st.integers(min_size, max_size),
        )
    )
    seed = draw(st.integers(0, 2**32 - 1))
    return synthetic_frame(seed, n, shape)
