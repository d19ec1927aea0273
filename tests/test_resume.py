"""Resumed pool runs (the default with a disk cache): a native detector over a stored series
steps only the bars appended since its last run (from the run state it stored), and its
tables, the stored rows followed by the new ones, equal a batch run bit for bit; a
rewritten series, a damaged state and a new pool still give the batch answer. Most tests
store every state (``disk_writes="all"``) to count the bars stepped exactly; the default
stores a state only when stepping to it again would cost more than reading it back."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ictcore
from ictcore import AnalysisCache, Candles, CandleStore, DetectorPool
from ictcore.synthetic import synthetic_frame

DETECTORS = ["native.swings", "native.fvg", "native.structure", "native.liquidity"]


def every_state(root: Path) -> AnalysisCache:
    """A cache that stores every run state (so the bars stepped are exactly the new ones)."""
    return AnalysisCache(root / "cache", disk_writes="all")


def bars(n: int, seed: int = 3) -> Candles:
    frame = synthetic_frame(seed, n, "walk")
    return Candles.from_pandas(frame)


def cut(c: Candles, lo: int, hi: int) -> Candles:
    return c._slice(lo, hi)


def assert_batch_of(
    result: ictcore.AnalysisResult, store: CandleStore, detector: str, symbol: str = "A"
) -> None:
    """``result``'s table of ``detector`` is a batch run's over the stored series, bit for
    bit, metadata included."""
    got = result.arrays(symbol, "1m", detector)
    expected = (
        DetectorPool()
        .analyze([(symbol, "1m", store.read(symbol, "1m"))], [detector], progress=False)
        .arrays(symbol, "1m", detector)
    )
    assert list(got) == list(expected), detector
    for column in got:
        assert got[column].tobytes() == expected[column].tobytes(), (detector, column)
    assert getattr(got, "meta", None) == getattr(expected, "meta", None)


def assert_batch(result: ictcore.AnalysisResult, store: CandleStore, symbol: str) -> None:
    for detector in DETECTORS:
        assert_batch_of(result, store, detector, symbol)


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(0, 40), min_size=1, max_size=5))
def test_cycles_of_appends_step_only_the_new_bars(
    tmp_path_factory: pytest.TempPathFactory, appends: list[int]
) -> None:
    root = tmp_path_factory.mktemp("resume")
    store = CandleStore(root / "store")
    all_bars = bars(600 + sum(appends))
    store.write("A", "1m", cut(all_bars, 0, 600))
    cache = AnalysisCache(root / "cache", disk_writes="all")
    pool = DetectorPool(store=store, cache=cache, workers=2)
    first = pool.analyze([("A", "1m")], DETECTORS, progress=False, resume=True)
    assert first.stats["rows_computed"] == 600 * len(DETECTORS)
    assert_batch(first, store, "A")
    at = 600
    for k in appends:
        if k:
            store.append("A", "1m", cut(all_bars, at, at + k))
        at += k
        result = pool.analyze([("A", "1m")], DETECTORS, progress=False, resume=True)
        assert_batch(result, store, "A")
        # Only the new bars are stepped (none when nothing was appended: the tables of
        # these rows are still in the memory tier).
        assert result.stats["rows_computed"] == k * len(DETECTORS)
        assert result.stats["resumed"] == (len(DETECTORS) if k else 0)
        assert result.stats["memory_hits"] == (0 if k else len(DETECTORS))


def test_rewritten_series_and_damaged_states_recompute(tmp_path: Path) -> None:
    store = CandleStore(tmp_path / "store")
    c = bars(900)
    store.write("A", "1m", cut(c, 0, 800))
    cache = AnalysisCache(tmp_path / "cache", disk_writes="all")
    pool = DetectorPool(store=store, cache=cache, workers=1)
    pool.analyze([("A", "1m")], DETECTORS, progress=False, resume=True)
    # Rewritten with other bars (not an append): nothing resumes, the answer is the batch's.
    store.write("A", "1m", cut(bars(900, seed=8), 0, 850))
    again = pool.analyze([("A", "1m")], DETECTORS, progress=False, resume=True)
    assert again.stats["resumed"] == 0 and again.stats["recomputed"] == len(DETECTORS)
    assert_batch(again, store, "A")
    # Every cache file damaged: states are refused, results recomputed, still the batch's.
    for path in (tmp_path / "cache").rglob("*"):
        if path.is_file() and path.suffix not in (".lock",) and path.stat().st_size > 64:
            data = bytearray(path.read_bytes())
            data[len(data) // 2] ^= 0xFF
            path.write_bytes(bytes(data))
    store.append("A", "1m", cut(bars(900, seed=8), 850, 860))
    # A new cache object: the states this one keeps in memory are out of the picture.
    pool = DetectorPool(store=store, cache=every_state(tmp_path), workers=1)
    damaged = pool.analyze([("A", "1m")], DETECTORS, progress=False, resume=True)
    assert damaged.stats["resumed"] == 0
    assert_batch(damaged, store, "A")


def test_a_new_process_resumes_from_what_it_can_find(tmp_path: Path) -> None:
    """A pool in another process does not know the rows of the last state: it finds the
    state of all the rows (nothing appended since), the one the series' note of the newest
    stored state points to (any number of bars), or of all but the newest row (one bar, the
    note lost)."""
    store = CandleStore(tmp_path / "store")
    c = bars(12_000)
    store.write("A", "1m", cut(c, 0, 10_000))
    pool = DetectorPool(store=store, cache=every_state(tmp_path), workers=1)
    pool.analyze([("A", "1m")], ["native.fvg"], progress=False)
    code = textwrap.dedent(
        f"""
        import json, ictcore
        store = ictcore.CandleStore({str(tmp_path / "store")!r}, create=False)
        pool = ictcore.DetectorPool(store=store, cache=ictcore.AnalysisCache(
            {str(tmp_path / "cache")!r}, disk_writes="all"), workers=1)
        r = pool.analyze([("A", "1m")], ["native.fvg"], progress=False)
        print(json.dumps([r.stats["resumed"], r.stats["rows_computed"]]))
        """
    )

    def new_process() -> tuple[int, int]:
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=os.environ.copy()
        )
        assert out.returncode == 0, out.stderr
        resumed, rows = json.loads(out.stdout)
        return resumed, rows

    assert new_process() == (1, 0)  # nothing appended: the state of all the rows
    store.append("A", "1m", cut(c, 10_000, 10_001))
    assert new_process() == (1, 1)  # one bar
    store.append("A", "1m", cut(c, 10_001, 10_100))
    assert new_process() == (1, 99)  # 99 bars: the note points to the state at 10,001 rows
    # The notes lost (every entry that is not a state): one bar more finds the state of all
    # but the newest row.
    for path in (tmp_path / "cache").rglob("*"):
        if path.is_file() and path.stat().st_size < 300 and not path.name.startswith("."):
            path.unlink()
    store.append("A", "1m", cut(c, 10_100, 10_101))
    assert new_process() == (1, 1)
    result = pool.analyze([("A", "1m")], ["native.fvg"], progress=False)
    assert_batch_of(result, store, "native.fvg")


def test_resume_false_starts_from_the_first_bar(tmp_path: Path) -> None:
    store = CandleStore(tmp_path / "store")
    c = bars(700)
    store.write("A", "1m", cut(c, 0, 600))
    pool = DetectorPool(store=store, cache=every_state(tmp_path), workers=1)
    pool.analyze([("A", "1m")], ["native.fvg"], progress=False)
    store.append("A", "1m", cut(c, 600, 650))
    result = pool.analyze([("A", "1m")], ["native.fvg"], progress=False, resume=False)
    assert result.stats["resumed"] == 0 and result.stats["recomputed"] == 1
    assert result.stats["rows_computed"] == 650
    # The default resumes, from the state its first run stored (after 600 bars: the run
    # with resume=False stored none).
    store.append("A", "1m", cut(c, 650, 700))
    default = pool.analyze([("A", "1m")], ["native.fvg"], progress=False)
    assert default.stats["resumed"] == 1 and default.stats["rows_computed"] == 100


def test_long_runs_of_cycles_with_and_without_held_results(tmp_path: Path) -> None:
    """Each cycle stores only the rows its bars added, linked to the state before; every
    16th link the whole tables are stored again. Cycles that hold nothing (``keep=False``)
    and a new process in between still give the batch's tables."""
    store = CandleStore(tmp_path / "store")
    c = bars(1_000)
    store.write("A", "1m", cut(c, 0, 500))
    pool = DetectorPool(store=store, cache=every_state(tmp_path), workers=1)
    at = 500
    for cycle in range(40):
        store.append("A", "1m", cut(c, at, at + 10))
        at += 10
        keep = cycle % 3 == 0
        result = pool.analyze([("A", "1m")], DETECTORS, progress=False, keep=keep)
        assert result.stats["rows_computed"] == (10 if cycle else 510) * len(DETECTORS)
        if keep or cycle % 7 == 0:
            # Without keep, the tables are read back from the stored states on access.
            assert_batch(result, store, "A")
        if cycle == 20:
            pool = DetectorPool(store=store, cache=every_state(tmp_path), workers=1)
            again = pool.analyze([("A", "1m")], DETECTORS, progress=False)
            # A new pool finds the state of exactly these rows: nothing stepped.
            assert again.stats["rows_computed"] == 0
            assert again.stats["disk_hits"] == len(DETECTORS)
            assert_batch(again, store, "A")


def test_a_pool_killed_while_storing_states_loses_nothing(tmp_path: Path) -> None:
    """SIGKILL while a pool stores run states (temp file, then rename): the next pool
    resumes from whatever whole state it finds, and its tables are the batch's."""
    store = CandleStore(tmp_path / "store")
    c = bars(140_000)
    store.write("A", "1m", cut(c, 0, 130_000))
    code = textwrap.dedent(
        f"""
        import ictcore
        store = ictcore.CandleStore({str(tmp_path / "store")!r}, create=False)
        pool = ictcore.DetectorPool(store=store, cache=ictcore.AnalysisCache(
            {str(tmp_path / "cache")!r}, disk_writes="all"), workers=2)
        print("ready", flush=True)
        while True:
            pool.analyze([("A", "1m")], {DETECTORS!r}, progress=False, keep=False)
            ictcore.AnalysisCache({str(tmp_path / "cache")!r}).clear()
        """
    )
    for delay in (0.3, 0.6, 0.9):
        child = subprocess.Popen(
            [sys.executable, "-c", code], stdout=subprocess.PIPE, env=os.environ.copy()
        )
        assert child.stdout is not None and child.stdout.readline().strip() == b"ready"
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
    store.append("A", "1m", cut(c, 130_000, 140_000))
    pool = DetectorPool(store=store, cache=every_state(tmp_path), workers=1)
    assert_batch(pool.analyze([("A", "1m")], DETECTORS, progress=False), store, "A")


@pytest.mark.parametrize("detector", ictcore.NATIVE_DETECTORS)
def test_every_native_detector_resumes_through_stored_links(tmp_path: Path, detector: str) -> None:
    """Each cycle in a new pool and cache object: the tables are the stored rows read back
    along the links (metadata included) followed by the new rows, and equal the batch's."""
    store = CandleStore(tmp_path / "store")
    c = bars(3_000, seed=5)
    store.write("A", "1m", cut(c, 0, 2_000))
    at = 2_000
    for cycle in range(4):
        pool = DetectorPool(store=store, cache=every_state(tmp_path), workers=1)
        result = pool.analyze([("A", "1m")], [detector], progress=False)
        assert result.stats["resumed"] == (1 if cycle else 0)
        assert_batch_of(result, store, detector)
        # One bar, none (the state of all the rows), 30 (the series' note of the newest).
        more = [1, 0, 30, 0][cycle]
        if more:
            store.append("A", "1m", cut(c, at, at + more))
        at += more


def test_by_default_a_state_is_stored_when_stepping_to_it_again_costs_more(
    tmp_path: Path,
) -> None:
    """With the default ``disk_writes="paying"``, a run of a few bars stores nothing (the
    next run steps from the state before: the bars add up), a long run stores its state;
    the tables are the batch's either way."""
    store = CandleStore(tmp_path / "store")
    c = bars(200_000, seed=9)
    store.write("A", "1m", cut(c, 0, 199_000))
    cache = AnalysisCache(tmp_path / "cache")
    pool = DetectorPool(store=store, cache=cache, workers=1)
    pool.analyze([("A", "1m")], ["native.fvg"], progress=False)
    stepped = []
    for k in (1, 1, 1):
        at = store.series()[0].rows
        store.append("A", "1m", cut(c, at, at + k))
        result = pool.analyze([("A", "1m")], ["native.fvg"], progress=False)
        stepped.append(result.stats["rows_computed"])
        assert result.stats["resumed"] == 1
        assert_batch_of(result, store, "native.fvg")
    # One bar is not worth a stored state: each run steps from the first run's state.
    assert stepped == [1, 2, 3]
    assert cache.stats()["skipped_writes"] >= 3
    # A new process (a new cache object): without held results the state resumes; with
    # them, the rows come from the stored entry when it kept them (fvg's rows read back
    # slower than they recompute, so they were not kept: the tables are recomputed).
    pool = DetectorPool(store=store, cache=AnalysisCache(tmp_path / "cache"), workers=1)
    quiet = pool.analyze([("A", "1m")], ["native.fvg"], progress=False, keep=False)
    assert quiet.stats["resumed"] == 1 and quiet.stats["rows_computed"] == 3
    pool = DetectorPool(store=store, cache=AnalysisCache(tmp_path / "cache"), workers=1)
    held = pool.analyze([("A", "1m")], ["native.fvg"], progress=False)
    assert held.stats["resumed"] + held.stats["recomputed"] == 1
    assert_batch_of(held, store, "native.fvg")
