"""The compat comparisons as pytest-benchmark tests, for users who benchmark from pytest.

    pip install '.[bench]' && pytest benches/ --benchmark-group-by=param:function

Each function on W0 (EURUSD 15m) through ictcore.compat and through smartmoneyconcepts;
swing-based functions get precomputed swings. smc runs a single round (it is slow).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
import workloads
from smartmoneyconcepts import smc as reference

from ictcore.compat import smc

pytestmark = pytest.mark.benchmark


@pytest.fixture(scope="module")
def w0() -> tuple[pd.DataFrame, pd.DataFrame]:
    frame = workloads.w0()
    return frame, smc.swing_highs_lows(frame, 5)


@pytest.mark.parametrize("function", list(workloads.CALLS))
def test_ictcore(benchmark: Any, w0: tuple[pd.DataFrame, pd.DataFrame], function: str) -> None:
    frame, swings = w0
    call = workloads.CALLS[function]
    out = benchmark(call, smc, frame, swings)
    ref_swings = reference.swing_highs_lows(frame, 5)
    pd.testing.assert_frame_equal(out, call(reference, frame, ref_swings), check_exact=True)


@pytest.mark.parametrize("function", list(workloads.CALLS))
def test_smartmoneyconcepts(
    benchmark: Any, w0: tuple[pd.DataFrame, pd.DataFrame], function: str
) -> None:
    frame, _ = w0
    swings = reference.swing_highs_lows(frame, 5)
    call = workloads.CALLS[function]
    out = benchmark.pedantic(call, args=(reference, frame, swings), rounds=1, iterations=1)
    assert len(out) == len(frame)
