"""Comparison helpers for parity with the installed smartmoneyconcepts 0.0.27."""

from __future__ import annotations

import pandas as pd
from smartmoneyconcepts import smc as reference  # noqa: F401  (re-exported for the tests)

from ictcore.compat import smc as compat

SWING_LENGTHS = (1, 2, 3, 5, 10, 50)


def assert_same(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Cell-for-cell equality: values exact, NaN positions, dtypes, column names and order,
    index type."""
    assert list(got.columns) == list(expected.columns)
    assert got.dtypes.to_dict() == expected.dtypes.to_dict()
    pd.testing.assert_frame_equal(got, expected, check_exact=True, check_dtype=True)


def every_call(frame: pd.DataFrame) -> list[pd.DataFrame]:
    """All eight compat functions on one frame (swing-based ones on its L=5 swings)."""
    swings = compat.swing_highs_lows(frame, 5)
    return [
        compat.fvg(frame, True),
        swings,
        compat.bos_choch(frame, swings),
        compat.ob(frame, swings),
        compat.liquidity(frame, swings),
        compat.retracements(frame, swings),
        compat.previous_high_low(frame, "4h"),
        compat.sessions(frame, "London", time_zone="UTC+1"),
    ]
