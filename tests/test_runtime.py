"""Runtime guarantees of the bindings: no panic reaches Python, the GIL is released (threads
run concurrently and give the serial results), and results never share state."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest

import ictcore
from ictcore import _ictcore
from ictcore.compat import smc
from ictcore.synthetic import synthetic_frame

from parity import every_call


def test_a_panic_becomes_an_ict_error_naming_the_function() -> None:
    with pytest.raises(ictcore.IctError, match="_panic_for_tests.*deliberate panic"):
        _ictcore._panic_for_tests()
    # The module keeps working afterwards.
    assert len(smc.fvg(synthetic_frame(1, 50))) == 50


def test_threads_give_the_serial_results() -> None:
    frames = [synthetic_frame(seed, 20_000, shape) for seed, shape in enumerate(
        ["walk", "trend", "btc", "ties"] * 3
    )]  # fmt: skip
    serial = [every_call(f) for f in frames]
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(every_call, frames))
    for got, expected in zip(parallel, serial, strict=True):
        for a, b in zip(got, expected, strict=True):
            pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_results_do_not_alias_each_other_or_the_input() -> None:
    frame = synthetic_frame(3, 500)
    first = smc.fvg(frame)
    second = smc.fvg(frame)
    first.loc[:, "Top"] = 0.0
    assert not second["Top"].eq(0.0).all()
    assert not frame["low"].eq(0.0).any()


def test_long_results_are_recycled_and_can_be_released() -> None:
    frame = synthetic_frame(8, 300_000)
    ictcore.release_memory()
    assert ictcore.kept_memory() == 0
    first = smc.fvg(frame)
    del first  # its 2.4 MB columns go to the allocator's cache, not back to the kernel
    assert ictcore.kept_memory() >= 4 * 300_000 * 8
    second = smc.fvg(frame)  # same length: served from the cache
    pd.testing.assert_frame_equal(second, smc.fvg(frame), check_exact=True)
    released = ictcore.release_memory()
    assert released > 0 and ictcore.kept_memory() == 0


def _fvg_rows(seed: int) -> int:
    return int(smc.fvg(synthetic_frame(seed, 300_000))["FVG"].notna().sum())


def test_forked_workers_work_like_the_parent() -> None:
    """The engine's multiprocessing path: fork after ictcore has run (and kept memory)."""
    import multiprocessing

    smc.fvg(synthetic_frame(0, 300_000))  # leaves recycled blocks behind in the parent
    expected = [_fvg_rows(seed) for seed in range(4)]
    with multiprocessing.get_context("fork").Pool(2) as pool:
        assert pool.map(_fvg_rows, range(4)) == expected
