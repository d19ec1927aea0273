"""Python detectors in the pool: equal to a serial run, isolated per series, cached."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydetector_funcs import dies_on, pivots, raises_on_long, rolling_range, with_version

import ictcore
from ictcore import (
    AnalysisCache,
    Candles,
    CandleStore,
    DetectorError,
    DetectorPool,
    InvalidInputError,
    WorkerDiedError,
)
from ictcore._pyresult import encode, to_frame
from ictcore.synthetic import synthetic_frame

SIZES = {"A": 800, "B": 1200, "C": 1600, "D": 2000, "E": 2600}
REQUESTS = [(s, "5m") for s in SIZES]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> CandleStore:
    store = CandleStore(tmp_path_factory.mktemp("py") / "store")
    for i, (symbol, n) in enumerate(SIZES.items()):
        store.write(symbol, "5m", synthetic_frame(i, n))
    return store


@pytest.fixture(scope="module")
def pool(store: CandleStore) -> Iterator[DetectorPool]:
    with DetectorPool(workers=2, store=store) as pool:
        yield pool


def serial(function: Any, candles: Candles, **params: Any) -> pd.DataFrame:
    """What the detector gives called directly, as the pool hands results out."""
    return to_frame(dict(encode(function(candles, **params), "serial")))


def scratch_dirs() -> set[str]:
    """The scratch directories of pool calls (``/dev/shm`` or the temp directory)."""
    import tempfile

    places = ["/dev/shm", tempfile.gettempdir()]
    return {
        os.path.join(d, n)
        for d in places
        if os.path.isdir(d)
        for n in os.listdir(d)
        if n.startswith("ictcore-")
    }


def test_stored_series_equal_a_serial_run(pool: DetectorPool, store: CandleStore) -> None:
    params = {"rolling_range": {"window": 9}, "pivots": {"span": 2}}
    before = scratch_dirs()
    result = pool.analyze(REQUESTS, ["native.fvg", rolling_range, pivots], params, progress=False)
    assert scratch_dirs() <= before  # the call removed what it made
    assert not result.errors
    assert result.stats["python_computed"] == 2 * len(SIZES)
    for symbol, timeframe in REQUESTS:
        candles = store.read(symbol, timeframe)
        for function, name in ((rolling_range, "rolling_range"), (pivots, "pivots")):
            expected = serial(function, candles, **params[name])
            pd.testing.assert_frame_equal(result[symbol, timeframe, name], expected)
        # The native detector's table is the one it gives alone.
        alone = ictcore.fvg(candles)
        np.testing.assert_array_equal(
            result[symbol, timeframe, "native.fvg"].to_pandas()["top"], alone.to_pandas()["top"]
        )
    frame = result["E", "5m", "pivots"]
    assert str(frame.index.tz) == "UTC" and frame.index.name == "time"
    assert set(frame["kind"].dropna()) == {"high", "low"}


@settings(max_examples=8, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 400), min_size=1, max_size=5),
    window=st.integers(1, 12),
)
def test_in_memory_series_equal_a_serial_run(
    pool: DetectorPool, sizes: list[int], window: int
) -> None:
    frames = {(f"S{i}", "1m"): synthetic_frame(i, n) for i, n in enumerate(sizes)}
    result = pool.analyze(frames, {rolling_range: {"window": window}}, progress=False)
    assert not result.errors
    for key, frame in frames.items():
        expected = serial(rolling_range, Candles.from_pandas(frame), window=window)
        pd.testing.assert_frame_equal(result[(*key, "rolling_range")], expected)


def test_large_series_and_results_travel_through_files(pool: DetectorPool) -> None:
    """Candles and results above the inline size go through files in the call's scratch
    directory (mapped, not pickled); they are removed when the call ends."""
    from ictcore._workers import INLINE_BYTES

    frames = {(f"L{i}", "1m"): synthetic_frame(10 + i, 12_000 + 1000 * i) for i in range(3)}
    assert INLINE_BYTES < 12_000 * 48
    before = scratch_dirs()
    result = pool.analyze(frames, [rolling_range, pivots], progress=False)
    assert scratch_dirs() <= before
    assert not result.errors
    for key, frame in frames.items():
        candles = Candles.from_pandas(frame)
        held = result.arrays(*key, "rolling_range")
        assert sum(a.nbytes for a in held.values()) > INLINE_BYTES
        assert not held["high"].flags.writeable
        pd.testing.assert_frame_equal(
            result[(*key, "rolling_range")], serial(rolling_range, candles)
        )
        pd.testing.assert_frame_equal(result[(*key, "pivots")], serial(pivots, candles))


def test_in_process_equals_worker_processes(store: CandleStore, pool: DetectorPool) -> None:
    with DetectorPool(workers=2, store=store, processes=0) as inline:
        here = inline.analyze(REQUESTS, [pivots], progress=False)
    there = pool.analyze(REQUESTS, [pivots], progress=False)
    assert "python_workers_started" not in here.stats
    for key in there:
        pd.testing.assert_frame_equal(here[key], there[key])


def test_a_raising_detector_fails_its_series_alone(pool: DetectorPool) -> None:
    result = pool.analyze(REQUESTS, [raises_on_long, rolling_range], progress=False)
    failed = {k for k in SIZES if SIZES[k] > 1500}
    assert set(result.errors) == {(s, "5m") for s in failed}
    error = result.errors["D", "5m"]
    assert isinstance(error, DetectorError)
    assert (error.symbol, error.timeframe) == ("D", "5m")
    assert "raises_on_long" in str(error) and "more than 1500" in str(error)
    assert isinstance(error.__cause__, ValueError)
    # A failed series has no results at all; the others have all theirs.
    assert {k[:2] for k in result} == {(s, "5m") for s in SIZES if s not in failed}
    assert result["A", "5m", "raises_on_long"]["rows"].tolist() == [800]
    with pytest.raises(ictcore.BatchError, match="more than 1500"):
        pool.analyze(REQUESTS, [raises_on_long], progress=False, on_error="raise")


@pytest.mark.parametrize("how", ["exit", "segfault"])
def test_a_dying_worker_fails_its_series_alone(pool: DetectorPool, how: str) -> None:
    result = pool.analyze(REQUESTS, {dies_on: {"rows": 1600, "how": how}}, progress=False)
    assert set(result.errors) == {("C", "5m")}
    error = result.errors["C", "5m"]
    assert isinstance(error, WorkerDiedError)
    assert ("exit code 3" if how == "exit" else "SIGSEGV") in str(error)
    assert result.stats["python_workers_replaced"] == 1
    for symbol, n in SIZES.items():
        if symbol != "C":
            assert result[symbol, "5m", "dies_on"]["rows"].tolist() == [n]
    # The pool stays usable, its replaced worker included.
    again = pool.analyze(REQUESTS, [dies_on], progress=False)
    assert not again.errors and len(again) == len(SIZES)


def test_second_run_comes_from_the_cache(store: CandleStore, tmp_path: Path) -> None:
    cache = AnalysisCache(tmp_path / "cache", disk_writes="all")
    detectors = {rolling_range: {"window": 4}, pivots: {}, "native.swings": {}}
    with DetectorPool(workers=2, store=store, cache=cache) as pool:
        first = pool.analyze(REQUESTS, detectors, progress=False)
        second = pool.analyze(REQUESTS, detectors, progress=False)
        assert first.stats["python_computed"] == 2 * len(SIZES)
        assert second.stats["python_computed"] == 0
        assert second.stats["python_cached"] == 2 * len(SIZES)
        assert second.stats.get("python_workers_started", 0) == 0
        for key in first:
            if key[2] != "native.swings":
                pd.testing.assert_frame_equal(first[key], second[key])
        # Other parameters are other results.
        other = pool.analyze(REQUESTS, {rolling_range: {"window": 5}}, progress=False)
        assert other.stats["python_computed"] == len(SIZES)
    # A new pool and cache object over the same directory reads them from disk.
    reopened = AnalysisCache(tmp_path / "cache")
    with DetectorPool(workers=2, store=store, cache=reopened) as pool:
        third = pool.analyze(REQUESTS, detectors, progress=False)
    assert third.stats["python_computed"] == 0
    assert reopened.stats()["disk_hits"] >= 2 * len(SIZES)
    for key in first:
        if key[2] != "native.swings":
            pd.testing.assert_frame_equal(first[key], third[key])


def test_default_cache_keeps_python_results_in_memory(
    pool: DetectorPool, store: CandleStore, tmp_path: Path
) -> None:
    cache = AnalysisCache(tmp_path / "cache")  # disk_writes="paying"
    with DetectorPool(workers=2, store=store, cache=cache) as pool:
        pool.analyze(REQUESTS, [rolling_range], progress=False)
        second = pool.analyze(REQUESTS, [rolling_range], progress=False)
    assert (second.stats["python_computed"], second.stats["python_cached"]) == (0, len(SIZES))


def test_an_appended_series_is_recomputed(tmp_path: Path) -> None:
    store = CandleStore(tmp_path / "store")
    frame = synthetic_frame(7, 600)
    store.write("X", "1m", frame.iloc[:500])
    with DetectorPool(workers=2, store=store, cache=AnalysisCache(tmp_path / "c")) as pool:
        before = pool.analyze([("X", "1m")], [rolling_range], progress=False)
        store.append("X", "1m", frame.iloc[500:])
        after = pool.analyze([("X", "1m")], [rolling_range], progress=False)
    assert after.stats["python_computed"] == 1
    assert len(before["X", "1m", "rolling_range"]) == 500
    expected = serial(rolling_range, store.read("X", "1m"))
    pd.testing.assert_frame_equal(after["X", "1m", "rolling_range"], expected)


def test_identity_covers_source_closure_and_version(tmp_path: Path) -> None:
    cache = AnalysisCache(tmp_path / "cache")
    candles = Candles.from_pandas(synthetic_frame(1, 300))

    def make(scale: float) -> Any:
        def scaled(candles: Candles) -> dict[str, Any]:
            return {"x": candles.close * scale}

        return scaled

    with DetectorPool(workers=1, cache=cache, processes=0) as pool:
        one = pool.analyze({("S", "1m"): candles}, [make(1.0)], progress=False)
        two = pool.analyze({("S", "1m"): candles}, [make(2.0)], progress=False)
        assert two.stats["python_computed"] == 1  # another closure value: another key
        np.testing.assert_array_equal(two["S", "1m", "scaled"]["x"], candles.close * 2.0)
        assert one["S", "1m", "scaled"]["x"].tolist() == candles.close.tolist()
        named = pool.analyze({("S", "1m"): candles}, [with_version], progress=False)
        assert list(named.keys()) == [("S", "1m", "versioned")]
    holder = np.zeros(3)

    def unkeyable(candles: Candles) -> dict[str, Any]:
        return {"x": candles.close + holder[0]}

    with (
        DetectorPool(workers=1, cache=cache, processes=0) as pool,
        pytest.raises(InvalidInputError, match="version"),
    ):
        pool.analyze({("S", "1m"): candles}, [unkeyable], progress=False)
    # Without a cache nothing needs a key.
    with DetectorPool(workers=1, processes=0) as pool:
        assert not pool.analyze({("S", "1m"): candles}, [unkeyable], progress=False).errors


def test_live_sessions_rerun_python_detectors_where_series_changed(tmp_path: Path) -> None:
    store = CandleStore(tmp_path / "store")
    frames = {s: synthetic_frame(20 + i, 700) for i, s in enumerate("XYZ")}
    for symbol, frame in frames.items():
        store.write(symbol, "1m", frame.iloc[:600])
    series = [(s, "1m") for s in frames]
    cache = AnalysisCache(tmp_path / "cache")
    with DetectorPool(workers=2, store=store, cache=cache) as pool:
        session = pool.live(series, ["native.fvg", rolling_range])
        assert session.detectors == ["native.fvg", "rolling_range"]
        first = session.poll()
        assert {k[:2] for k in first if k[2] == "rolling_range"} == set(series)
        quiet = session.poll()
        assert not [k for k in quiet if k[2] == "rolling_range"]
        store.append("Y", "1m", frames["Y"].iloc[600:])
        second = session.poll()
        assert [k for k in second if k[2] == "rolling_range"] == [("Y", "1m", "rolling_range")]
        expected = serial(rolling_range, store.read("Y", "1m"))
        pd.testing.assert_frame_equal(second["Y", "1m", "rolling_range"], expected)
        assert second.stats["python_computed"] == 1
        # Python detectors alone need no native session.
        alone = pool.live(series, [pivots])
        assert len(alone.poll()) == 3 and alone.restored == 0 and alone.save()["series"] == 0


def test_keep_false_fetches_on_access(store: CandleStore, tmp_path: Path) -> None:
    with DetectorPool(workers=2, store=store, cache=AnalysisCache(tmp_path / "c")) as pool:
        result = pool.analyze(REQUESTS, [pivots], keep=False, progress=False)
        assert result.held_bytes() == 0
        expected = serial(pivots, store.read("B", "5m"))
        pd.testing.assert_frame_equal(result["B", "5m", "pivots"], expected)


def test_refusals(pool: DetectorPool) -> None:
    frames = {("S", "1m"): synthetic_frame(1, 50)}
    with pytest.raises(InvalidInputError, match="two detectors are named"):
        pool.analyze(frames, [lambda c: {}, lambda c: {}], progress=False)

    def fvg(candles: Candles) -> dict[str, Any]:
        return {}

    with pytest.raises(InvalidInputError, match="built-in"):
        pool.analyze(frames, [fvg], progress=False)
    with pytest.raises(ictcore.InvalidTypeError):
        pool.analyze(frames, [42], progress=False)  # type: ignore[list-item]
    with pytest.raises(InvalidInputError, match="processes"):
        DetectorPool(processes=-1)
    missing = pool.analyze([("A", "5m"), ("NOPE", "5m")], [rolling_range], progress=False)
    assert set(missing.errors) == {("NOPE", "5m")} and len(missing) == 1
    bad = pool.analyze(frames, [lambda c: [1, 2]], progress=False)
    assert "must return a DataFrame or a mapping" in str(bad.errors["S", "1m"])


def test_async_and_pickled_pools(pool: DetectorPool, store: CandleStore) -> None:
    import pickle

    future = pool.analyze_async(REQUESTS[:2], [rolling_range])
    beside = pool.analyze(REQUESTS, [pivots], progress=False)  # waits for the workers
    result = future.result(timeout=120)
    assert not beside.errors and len(beside) == len(REQUESTS)
    assert not result.errors and len(result) == 2
    clone = pickle.loads(pickle.dumps(pool))
    with clone:
        again = clone.analyze(REQUESTS[:2], [rolling_range], progress=False)
    for key in result:
        pd.testing.assert_frame_equal(result[key], again[key])


def test_result_columns_round_trip() -> None:
    index = pd.date_range("2024-03-01", periods=4, freq="h", tz="Europe/London", name="t")
    frame = pd.DataFrame(
        {
            "f": [1.0, np.nan, 3.0, 4.0],
            "i": np.arange(4, dtype=np.int64),
            "b": [True, False, True, False],
            "s": ["a", None, "b", "a"],
            "naive": pd.date_range("2024-01-01", periods=4, freq="D"),
        },
        index=index,
    )
    back = to_frame(dict(encode(frame, "x")))
    pd.testing.assert_frame_equal(back, frame, check_freq=False)
    with pytest.raises(ictcore.InvalidTypeError, match="column 'o'"):
        encode({"o": np.array([object()], dtype=object)}, "x")
    with pytest.raises(ictcore.InvalidTypeError, match="different lengths"):
        encode({"a": np.zeros(2), "b": np.zeros(3)}, "x")


def test_cancelling_a_running_call_stops_its_workers(tmp_path: Path) -> None:
    import concurrent.futures

    from pydetector_funcs import slow

    frames = {(f"S{i}", "1m"): synthetic_frame(i, 100) for i in range(4)}
    with DetectorPool(workers=2) as pool:
        future = pool.analyze_async(frames, {slow: {"pid_dir": str(tmp_path)}})
        deadline = time.monotonic() + 120
        while len(list(tmp_path.iterdir())) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        busy = [int(p.name) for p in tmp_path.iterdir()]
        assert len(busy) == 2
        started = time.monotonic()
        future.cancel()
        with pytest.raises(concurrent.futures.CancelledError):
            future.result(timeout=30)
        assert time.monotonic() - started < 10  # not the 60 s the detector sleeps
        for pid in busy:
            assert not Path(f"/proc/{pid}").exists()
        after = pool.analyze(frames, {slow: {"seconds": 0.0}}, progress=False)
        assert not after.errors and len(after) == 4


def test_a_script_without_a_main_guard(tmp_path: Path) -> None:
    """Workers are not told the main script, so a script without ``if __name__ ==
    "__main__"`` is not run again in each of them (its functions arrive by cloudpickle)."""
    script = tmp_path / "engine.py"
    script.write_text(
        textwrap.dedent(
            """
            import ictcore
            from ictcore.synthetic import synthetic_frame
            SCALE = 2.0
            def doubled(candles):
                return {"x": candles.close * SCALE}
            frames = {("A", "1m"): synthetic_frame(0, 300), ("B", "1m"): synthetic_frame(1, 9000)}
            result = ictcore.DetectorPool(workers=2).analyze(frames, [doubled], progress=False)
            assert not result.errors, result.errors
            print("ran", len(result))
            """
        )
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("ran") == 1 and "ran 2" in done.stdout


CTRL_C = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    import ictcore
    from ictcore.synthetic import synthetic_frame
    from pydetector_funcs import slow
    frames = {{(f"S{{i}}", "1m"): synthetic_frame(i, 100) for i in range(6)}}
    pool = ictcore.DetectorPool(workers=2)
    print("ready", flush=True)
    try:
        pool.analyze(frames, {{slow: {{"pid_dir": {pids!r}}}}}, progress=False)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        result = pool.analyze(frames, {{slow: {{"seconds": 0.0}}}}, progress=False)
        print("after", len(result), len(result.errors), flush=True)
    """
)


def test_ctrl_c_stops_the_workers(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()
    script = CTRL_C.format(tests=str(Path(__file__).parent), pids=str(pids))
    child = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    while len(list(pids.iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    busy = [int(p.name) for p in pids.iterdir()]
    assert len(busy) == 2, "both workers should be running the slow detector"
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    assert "interrupted" in out and "after 6 0" in out, (out, err)
    for pid in busy:  # the workers that held a task were killed (and reaped)
        assert (
            not Path(f"/proc/{pid}").exists()
            or "State:\tZ" in Path(f"/proc/{pid}/status").read_text()
        )
