"""Resumed pool runs (experimental, off by default; ``_resume_native=True``): a native
detector over a stored series with a disk cache steps only the bars appended since its last
run (from the run state it stored), and its tables equal a batch run bit for bit; a
rewritten series, a damaged state and a new pool still give the batch answer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ictcore
from ictcore import AnalysisCache, Candles, CandleStore, DetectorPool
from ictcore.synthetic import synthetic_frame

DETECTORS = ["native.swings", "native.fvg", "native.structure", "native.liquidity"]


def bars(n: int, seed: int = 3) -> Candles:
    frame = synthetic_frame(seed, n, "walk")
    return Candles.from_pandas(frame)


def cut(c: Candles, lo: int, hi: int) -> Candles:
    return c._slice(lo, hi)


def assert_batch(result: ictcore.AnalysisResult, store: CandleStore, symbol: str) -> None:
    series = store.read(symbol, "1m")
    for detector in DETECTORS:
        got = result.arrays(symbol, "1m", detector)
        name = detector.removeprefix("native.")
        expected = (
            ictcore.DetectorPool()
            .analyze([(symbol, "1m", series)], [detector], progress=False)
            .arrays(symbol, "1m", detector)
        )
        assert list(got) == list(expected), name
        for column in got:
            assert got[column].tobytes() == expected[column].tobytes(), (name, column)


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(0, 40), min_size=1, max_size=5))
def test_cycles_of_appends_step_only_the_new_bars(
    tmp_path_factory: pytest.TempPathFactory, appends: list[int]
) -> None:
    root = tmp_path_factory.mktemp("resume")
    store = CandleStore(root / "store")
    all_bars = bars(600 + sum(appends))
    store.write("A", "1m", cut(all_bars, 0, 600))
    pool = DetectorPool(store=store, cache=AnalysisCache(root / "cache"), workers=2)
    first = pool.analyze([("A", "1m")], DETECTORS, progress=False, _resume_native=True)
    assert first.stats["rows_computed"] == 600 * len(DETECTORS)
    assert_batch(first, store, "A")
    at = 600
    for k in appends:
        if k:
            store.append("A", "1m", cut(all_bars, at, at + k))
        at += k
        result = pool.analyze([("A", "1m")], DETECTORS, progress=False, _resume_native=True)
        assert_batch(result, store, "A")
        # Only the new bars are stepped (none when nothing was appended: the tables come
        # from the stored state of exactly these rows, a disk hit).
        assert result.stats["rows_computed"] == k * len(DETECTORS)
        assert result.stats["resumed"] == len(DETECTORS)
        assert result.stats["disk_hits"] == (0 if k else len(DETECTORS))


def test_rewritten_series_and_damaged_states_recompute(tmp_path: Path) -> None:
    store = CandleStore(tmp_path / "store")
    c = bars(900)
    store.write("A", "1m", cut(c, 0, 800))
    cache = AnalysisCache(tmp_path / "cache")
    pool = DetectorPool(store=store, cache=cache, workers=1)
    pool.analyze([("A", "1m")], DETECTORS, progress=False, _resume_native=True)
    # Rewritten with other bars (not an append): nothing resumes, the answer is the batch's.
    store.write("A", "1m", cut(bars(900, seed=8), 0, 850))
    again = pool.analyze([("A", "1m")], DETECTORS, progress=False, _resume_native=True)
    assert again.stats["resumed"] == 0 and again.stats["recomputed"] == len(DETECTORS)
    assert_batch(again, store, "A")
    # Every cache file damaged: states are refused, results recomputed, still the batch's.
    for path in (tmp_path / "cache").rglob("*"):
        if path.is_file() and path.suffix not in (".lock",) and path.stat().st_size > 64:
            data = bytearray(path.read_bytes())
            data[len(data) // 2] ^= 0xFF
            path.write_bytes(bytes(data))
    store.append("A", "1m", cut(bars(900, seed=8), 850, 860))
    damaged = pool.analyze([("A", "1m")], DETECTORS, progress=False, _resume_native=True)
    assert damaged.stats["resumed"] == 0
    assert_batch(damaged, store, "A")


def test_a_new_process_resumes_from_the_last_block_boundary(tmp_path: Path) -> None:
    """States are also stored at block boundaries (65,536 rows), which a pool in another
    process finds from the series alone."""
    store = CandleStore(tmp_path / "store")
    c = bars(70_100)
    store.write("A", "1m", cut(c, 0, 70_000))
    pool = DetectorPool(store=store, cache=AnalysisCache(tmp_path / "cache"), workers=1)
    pool.analyze([("A", "1m")], ["native.fvg"], progress=False, _resume_native=True)
    store.append("A", "1m", cut(c, 70_000, 70_100))
    code = textwrap.dedent(
        f"""
        import json, ictcore
        store = ictcore.CandleStore({str(tmp_path / "store")!r}, create=False)
        pool = ictcore.DetectorPool(store=store, cache=ictcore.AnalysisCache(
            {str(tmp_path / "cache")!r}), workers=1)
        r = pool.analyze([("A", "1m")], ["native.fvg"], progress=False, _resume_native=True)
        print(json.dumps([r.stats["resumed"], r.stats["rows_computed"]]))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=os.environ.copy()
    )
    assert out.returncode == 0, out.stderr
    resumed, rows = json.loads(out.stdout)
    assert resumed == 1 and rows == 70_100 - 65_536
    result = pool.analyze([("A", "1m")], ["native.fvg"], progress=False, _resume_native=True)
    got = result.arrays("A", "1m", "native.fvg")
    expected = (
        DetectorPool()
        .analyze(
            [("A", "1m", store.read("A", "1m"))],
            ["native.fvg"],
            progress=False,
            _resume_native=True,
        )
        .arrays("A", "1m", "native.fvg")
    )
    for column in got:
        assert np.array_equal(got[column], expected[column], equal_nan=True), column


def test_by_default_runs_start_from_the_first_bar(tmp_path: Path) -> None:
    store = CandleStore(tmp_path / "store")
    c = bars(700)
    store.write("A", "1m", cut(c, 0, 600))
    pool = DetectorPool(store=store, cache=AnalysisCache(tmp_path / "cache"), workers=1)
    pool.analyze([("A", "1m")], ["native.fvg"], progress=False)
    store.append("A", "1m", cut(c, 600, 650))
    result = pool.analyze([("A", "1m")], ["native.fvg"], progress=False)
    assert result.stats["resumed"] == 0 and result.stats["recomputed"] == 1
    assert result.stats["rows_computed"] == 650
