"""Comparison helpers for parity with the installed smartmoneyconcepts 0.0.27."""

from __future__ import annotations

import pandas as pd
from smartmoneyconcepts import smc as reference  # noqa: F401  (re-exported for the tests)

from ictcore.compat import smc as compat  # noqa: F401

SWING_LENGTHS = (1, 2, 3, 5, 10, 50)


def assert_same(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Cell-for-cell equality: values exact, NaN positions, dtypes, column names and order,
    index type."""
    assert list(got.columns) == list(expected.columns)
    assert got.dtypes.to_dict() == expected.dtypes.to_dict()
    pd.testing.assert_frame_equal(got, expected, check_exact=True, check_dtype=True)
