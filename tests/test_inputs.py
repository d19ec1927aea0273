"""What the compat layer accepts: read-only, non-contiguous, int and nullable columns, and it
never modifies the caller's frame."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ictcore.testing import synthetic_frame

from parity import assert_same, compat, every_call, reference


@pytest.fixture
def frame() -> pd.DataFrame:
    return synthetic_frame(9, 3000, "walk")


def test_caller_frame_is_never_modified(frame: pd.DataFrame) -> None:
    before = frame.copy(deep=True)
    index_before = frame.index.copy()
    every_call(frame)
    pd.testing.assert_frame_equal(frame, before, check_exact=True)
    assert frame.index.equals(index_before) and frame.index.tz is None


def test_read_only_and_strided_columns(frame: pd.DataFrame) -> None:
    expected = every_call(frame)
    # Strided views: every other row of a frame twice as long, made read-only.
    doubled = pd.DataFrame(
        {c: np.repeat(frame[c].to_numpy(), 2)[::2] for c in frame.columns}, index=frame.index
    )
    for c in doubled.columns:
        doubled[c].to_numpy().flags.writeable = False
    for got, exp in zip(every_call(doubled), expected, strict=True):
        pd.testing.assert_frame_equal(got, exp, check_exact=True)


def test_float32_int_and_nullable_dtypes_are_accepted() -> None:
    ints = synthetic_frame(4, 400, "ties").astype(np.int64)
    assert_same(compat.fvg(ints), reference.fvg(ints))
    nullable = ints.astype("Int64")
    pd.testing.assert_frame_equal(compat.fvg(nullable), compat.fvg(ints), check_exact=True)
    f32 = synthetic_frame(4, 400, "walk").astype(np.float32)
    out = compat.swing_highs_lows(f32, 3)  # computed on the exact float64 widening
    assert out["HighLow"].notna().any()


def test_swing_frame_with_datetime_index_is_read_by_position(frame: pd.DataFrame) -> None:
    swings = compat.swing_highs_lows(frame, 5)
    indexed = swings.set_axis(frame.index)
    pd.testing.assert_frame_equal(
        compat.bos_choch(frame, indexed), compat.bos_choch(frame, swings), check_exact=True
    )


def test_output_has_a_fresh_range_index(frame: pd.DataFrame) -> None:
    for out in every_call(frame):
        assert isinstance(out.index, pd.RangeIndex)
        assert out.index.equals(pd.RangeIndex(len(frame)))
