"""DetectorPool (issue 6): results equal the compat functions called one by one, parallel ==
serial, one bad series fails alone, the cache skips unchanged work, cancellation, async, and
the engine's config."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ictcore
from ictcore import AnalysisCache, Candles, CandleStore, Config, DetectorPool
from ictcore.compat import smc
from ictcore.synthetic import portfolio, synthetic_frame

CONFIG = Path(__file__).parent / "data" / "config" / "optimization_config.json"
PARAMS = {
    "swing_highs_lows": {"swing_length": 5},
    "bos_choch": {"swing_length": 5, "close_break": False},
    "ob": {"swing_length": 5},
    "liquidity": {"swing_length": 5, "range_percent": 0.02},
    "retracements": {"swing_length": 5},
    "fvg": {"join_consecutive": True},
    "previous_high_low": {"time_frame": "4h"},
    "sessions": {"session": "New York kill zone"},
}


def compat_results(df: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The eight functions called one by one, as the engine would."""
    swings = smc.swing_highs_lows(df, 5)
    return {
        "fvg": smc.fvg(df, join_consecutive=True),
        "swing_highs_lows": swings,
        "bos_choch": smc.bos_choch(df, swings, close_break=False),
        "ob": smc.ob(df, swings),
        "liquidity": smc.liquidity(df, swings, range_percent=0.02),
        "previous_high_low": smc.previous_high_low(df, "4h"),
        "sessions": smc.sessions(df, "New York kill zone"),
        "retracements": smc.retracements(df, swings),
    }


def default_results(df: pd.DataFrame, swing_length: int = 50) -> dict[str, pd.DataFrame]:
    """The eight functions with the pool's defaults (one swings frame for every reader)."""
    sw = smc.swing_highs_lows(df, swing_length)
    return {
        "fvg": smc.fvg(df),
        "swing_highs_lows": sw,
        "bos_choch": smc.bos_choch(df, sw),
        "ob": smc.ob(df, sw),
        "liquidity": smc.liquidity(df, sw),
        "previous_high_low": smc.previous_high_low(df),
        "sessions": smc.sessions(df, "London"),
        "retracements": smc.retracements(df, sw),
    }


@pytest.fixture(scope="module")
def small_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[CandleStore, list[Any]]:
    root = tmp_path_factory.mktemp("pool") / "store"
    store = CandleStore(root)
    requests = []
    for symbol, timeframe, cols in portfolio(days=10, symbols=3, seed=7):
        store.write(symbol, timeframe, Candles._trusted(**cols))
        requests.append((symbol, timeframe))
    return store, requests


def test_results_equal_the_compat_functions(small_store: tuple[CandleStore, list[Any]]) -> None:
    store, requests = small_store
    pool = DetectorPool(workers=2, store=store)
    result = pool.analyze(requests, params=PARAMS, progress=False)
    assert not result.errors and len(result) == 8 * len(requests)
    for symbol, timeframe in requests:
        df = store.read(symbol, timeframe).to_pandas()
        for name, expected in compat_results(df).items():
            pd.testing.assert_frame_equal(
                result[symbol, timeframe, name], expected, check_exact=True
            )
    # In-memory requests (DataFrames, Candles) give the same frames.
    df = store.read("SYM001", "15m").to_pandas()
    memory = pool.analyze(
        {("A", "15m"): df, ("B", "15m"): Candles.from_pandas(df)}, params=PARAMS, progress=False
    )
    for name in ictcore.DETECTORS:
        pd.testing.assert_frame_equal(memory["A", "15m", name], result["SYM001", "15m", name])
        pd.testing.assert_frame_equal(memory["B", "15m", name], result["SYM001", "15m", name])
    s = result.stats
    assert s["requests"] == len(requests) and s["candles"] > 0 and s["workers"] == 2
    assert set(s["compute_seconds"]) == set(ictcore.DETECTORS)


@settings(max_examples=15, deadline=None)
@given(workers=st.integers(1, 4), seed=st.integers(0, 1000))
def test_parallel_equals_serial(
    small_store: tuple[CandleStore, list[Any]], workers: int, seed: int
) -> None:
    """Property: any worker count and any request order give the serial results."""
    store, requests = small_store
    serial = DetectorPool(workers=1, store=store).analyze(requests, params=PARAMS, progress=False)
    shuffled = list(requests)
    random.Random(seed).shuffle(shuffled)
    parallel = DetectorPool(workers=workers, store=store).analyze(
        shuffled, params=PARAMS, progress=False
    )
    assert set(parallel) == set(serial)
    for key in serial:
        for column, values in serial.arrays(*key).items():
            np.testing.assert_array_equal(parallel.arrays(*key)[column], values, err_msg=str(key))


def test_one_bad_series_fails_alone(
    small_store: tuple[CandleStore, list[Any]], tmp_path: Path
) -> None:
    store, _ = small_store
    damaged = CandleStore(tmp_path / "store")
    good = store.read("SYM000", "1h")
    for symbol in ("GOOD", "BAD", "BOOM"):
        damaged.write(symbol, "1h", good)
    damaged._store.path("BAD", "1h").write_bytes(b"not a candle file" * 500)
    nan = good.to_pandas()
    nan.iloc[30, 3] = np.nan
    pool = DetectorPool(workers=2, store=damaged)
    detectors = {
        **{d: PARAMS[d] for d in ictcore.DETECTORS},
        "_panic_for_tests": {"symbol": "BOOM"},
    }
    result = pool.analyze(
        [("GOOD", "1h"), ("BAD", "1h"), ("MISSING", "1h"), ("NAN", "1h", nan), ("BOOM", "1h")],
        detectors,
        progress=False,
    )
    assert set(result.errors) == {("BAD", "1h"), ("MISSING", "1h"), ("NAN", "1h"), ("BOOM", "1h")}
    assert isinstance(result.errors["BAD", "1h"], ictcore.CorruptFileError)
    assert isinstance(result.errors["MISSING", "1h"], FileNotFoundError)
    assert isinstance(result.errors["NAN", "1h"], ValueError) and "row 30" in str(
        result.errors["NAN", "1h"]
    )
    assert "panic" in str(result.errors["BOOM", "1h"])
    expected = compat_results(good.to_pandas())
    for name in ictcore.DETECTORS:
        pd.testing.assert_frame_equal(result["GOOD", "1h", name], expected[name], check_exact=True)
    with pytest.raises(ictcore.BatchError) as info:
        pool.analyze([("GOOD", "1h"), ("MISSING", "1h")], progress=False, on_error="raise")
    assert set(info.value.errors) == {("MISSING", "1h")}
    again = pool.analyze([("GOOD", "1h")], params={"fvg": {}}, detectors=["fvg"], progress=False)
    assert not again.errors
    with pytest.raises(ictcore.UnknownNameError, match="detector 'fvgg'"):
        pool.analyze([("GOOD", "1h")], detectors=["fvgg"], progress=False)
    with pytest.raises(ValueError, match="ob.swing_lenght"):
        pool.analyze([("GOOD", "1h")], detectors={"ob": {"swing_lenght": 5}}, progress=False)


def test_the_cache_skips_unchanged_series(
    small_store: tuple[CandleStore, list[Any]], tmp_path: Path
) -> None:
    source, requests = small_store
    store = CandleStore(tmp_path / "store")
    for symbol, timeframe in requests:
        store.write(symbol, timeframe, source.read(symbol, timeframe))
    cache = AnalysisCache(tmp_path / "cache", disk_writes="all")
    pool = DetectorPool(workers=2, store=store, cache=cache)
    cold = pool.analyze(requests, params=PARAMS, progress=False)
    warm = pool.analyze(requests, params=PARAMS, progress=False)
    assert cold.stats["misses"] > 0
    assert warm.stats["misses"] == 0 and warm.stats["memory_hits"] == 8 * len(requests)
    for key in cold:
        pd.testing.assert_frame_equal(warm[key], cold[key], check_exact=True)
    # One bar appended to one series: only its detectors run again.
    last = store.read("SYM002", "1m")
    t = int(last.time[-1]) + 60_000_000_000
    bar = Candles.from_numpy(
        time=np.array([t]),
        open=np.array([1.0]),
        high=np.array([1.0]),
        low=np.array([1.0]),
        close=np.array([1.0]),
        volume=np.array([1.0]),
    )
    store.append("SYM002", "1m", bar)
    after = pool.analyze(requests, params=PARAMS, progress=False)
    assert after.stats["misses"] == 8  # the eight of SYM002 1m (swings shared)
    df = store.read("SYM002", "1m").to_pandas()
    pd.testing.assert_frame_equal(after["SYM002", "1m", "ob"], compat_results(df)["ob"])
    # keep=False holds nothing, and reads each result from the cache when asked for it.
    lean = pool.analyze(requests, params=PARAMS, progress=False, keep=False)
    assert lean.stats["misses"] == 0 and len(lean) == len(after)
    hits_before = cache.stats()["memory_hits"]
    pd.testing.assert_frame_equal(lean["SYM002", "1m", "ob"], after["SYM002", "1m", "ob"])
    assert cache.stats()["memory_hits"] == hits_before + 1  # a hit needs no swings
    # A new process-like pool over the same cache directory reads everything from disk.
    fresh = DetectorPool(workers=2, store=store, cache=AnalysisCache(tmp_path / "cache"))
    disk = fresh.analyze(requests, params=PARAMS, progress=False)
    assert disk.stats["misses"] == 0 and disk.stats["disk_hits"] >= 8 * len(requests)


def test_cancellation_and_async(small_store: tuple[CandleStore, list[Any]], tmp_path: Path) -> None:
    store, requests = small_store
    cache = AnalysisCache(tmp_path / "cache", disk_writes="all")
    pool = DetectorPool(workers=1, store=store, cache=cache)
    calls = []

    def interrupt(done: int, total: int) -> None:
        calls.append(done)
        if done >= 1:  # once a series has finished (under load the first report may be 0)
            raise KeyboardInterrupt

    # 20 distinct 200k-candle series: a run long enough for progress reports mid-way.
    many = {}
    for k in range(20):
        frame = synthetic_frame(100 + k, 200_000, "walk")
        frame.index = pd.date_range("2024-01-01", periods=len(frame), freq="1min")
        many[f"M{k}", "1m"] = frame
    with pytest.raises(KeyboardInterrupt):
        pool.analyze(many, params=PARAMS, progress=interrupt)
    assert calls and calls[-1] < len(many), "the interrupt came after the run, not during it"
    assert 0 < cache.stats()["entries"] < 8 * len(many)  # stopped early, kept what finished
    assert cache.verify() == []
    future = pool.analyze_async(requests, params=PARAMS)
    result = future.result(timeout=120)
    direct = pool.analyze(requests, params=PARAMS, progress=False)
    for key in direct:
        pd.testing.assert_frame_equal(result[key], direct[key], check_exact=True)

    async def main() -> ictcore.AnalysisResult:
        return await asyncio.wrap_future(pool.analyze_async(requests[:2], params=PARAMS))

    assert len(asyncio.run(main())) == 16


def test_the_engine_config(tmp_path: Path) -> None:
    config = Config.from_json(CONFIG)
    assert (config.max_pool_size, config.min_pool_size, config.batch_size) == (4, 2, 100)
    assert config.max_buffer_bytes == 50_000_000 and config.cache_max_bytes == 200_000_000
    assert config.cache_ttl_seconds == 3600 and config.memory_max_mb == 500
    assert DetectorPool(config=config).workers == config.workers() >= 2
    assert AnalysisCache.from_config(config).stats()["entries"] == 0
    base = json.loads(CONFIG.read_text())
    cases = [
        (("batch_processing", "max_buffer_size"), "50XB", "batch_processing.max_buffer_size"),
        (("detector_pool", "max_pool_size"), 0, "detector_pool.max_pool_size"),
        (("detector_pool", "adaptive_sizing"), "yes", "detector_pool.adaptive_sizing"),
        (("cache_optimization", "cache_ttl_seconds"), -1, "cache_optimization.cache_ttl_seconds"),
        (("performance_targets", "memory_max_mb"), "a lot", "performance_targets.memory_max_mb"),
        (("detector_pool", "max_pool_sise"), 4, "detector_pool.max_pool_sise: unknown key"),
    ]
    for (section, key), value, message in cases:
        data = json.loads(json.dumps(base))
        data[section][key] = value
        path = tmp_path / "bad.json"
        path.write_text(json.dumps(data))
        with pytest.raises(ValueError, match=message.replace(".", r"\.")):
            Config.from_json(path)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        Config.from_json(path)


def test_a_forked_child_gets_its_own_workers(small_store: tuple[CandleStore, list[Any]]) -> None:
    """The pool's threads do not survive fork; a child process using the parent's pool gets
    new ones (instead of hanging on threads that do not exist) and the same results."""
    import multiprocessing

    store, requests = small_store
    pool = DetectorPool(workers=2, store=store)
    parent = pool.analyze(requests[:4], params=PARAMS, progress=False)

    def child(conn: Any) -> None:
        result = pool.analyze(requests[:4], params=PARAMS, progress=False)
        conn.send({key: result.arrays(*key)["Top"].tolist() for key in result if key[2] == "ob"})

    ctx = multiprocessing.get_context("fork")
    here, there = ctx.Pipe()
    proc = ctx.Process(target=child, args=(there,))
    proc.start()
    assert here.poll(60), "the child hung"
    got = here.recv()
    proc.join(30)
    assert proc.exitcode == 0
    for key, level in got.items():
        np.testing.assert_array_equal(level, parent.arrays(*key)["Top"])


def test_keep_false_fills_the_disk_tier_only(
    small_store: tuple[CandleStore, list[Any]], tmp_path: Path
) -> None:
    """A cold keep=False scan writes every result to disk without filling the memory tier (the
    swings the detectors share stay with each series' task: a portfolio's swings would fill
    the tier), and each result read back lazily is the one a plain run gives."""
    store, requests = small_store
    cache = AnalysisCache(tmp_path / "cache", disk_writes="all")
    lean = DetectorPool(workers=2, store=store, cache=cache).analyze(
        requests, params=PARAMS, progress=False, keep=False
    )
    assert lean.stats["misses"] == 8 * len(requests)
    assert cache.stats()["entries"] == 0
    assert len(list((tmp_path / "cache").glob("*/*.ictc"))) == 8 * len(requests)
    full = DetectorPool(workers=2, store=store).analyze(requests, params=PARAMS, progress=False)
    for key in full:
        pd.testing.assert_frame_equal(lean[key], full[key], check_exact=True)


def test_native_session_windows_travel_with_the_table(tmp_path: Path) -> None:
    """The names a session table's ``window`` codes index come with the result — computed,
    and from a disk entry read by a fresh cache — not from whatever the reader assumes the
    parameters were."""
    frame = synthetic_frame(3, 4000)
    params = {"native.sessions": {"windows": "early=01:00-03:00,late=09:00-10:00"}}
    direct = ictcore.sessions(
        frame, windows={"early": ("01:00", "03:00"), "late": ("09:00", "10:00")}
    )
    assert direct.windows == ["early", "late"]
    for round_ in range(2):
        # 0: computed; 1: a new cache object reading the disk entry.
        pool = DetectorPool(workers=2, cache=AnalysisCache(tmp_path / "cache"))
        got = pool.analyze([("X", "1m", frame)], ["native.sessions"], params, progress=False)
        assert got.stats["disk_hits"] == round_
        table = got["X", "1m", "native.sessions"]
        assert isinstance(table, ictcore.SessionTable)
        assert table.windows == ["early", "late"]
        assert table.to_pandas()["window"].tolist() == direct.to_pandas()["window"].tolist()
        assert got.arrays("X", "1m", "native.sessions").meta == {"windows": "early,late"}


def test_compat_and_the_pool_share_one_cache_entry(tmp_path: Path) -> None:
    """``smc`` under ``caching()`` and the pool compute compat results through one core entry
    point and one key: a frame the smc functions analysed is all hits for the pool (the pool
    takes ``swing_highs_lows``' ``swing_length`` for every swing-based detector), and a
    changed swings frame is keyed by its contents, never mistaken for the original."""
    frame = synthetic_frame(5, 3000)
    cache = AnalysisCache(tmp_path / "cache", disk_writes="all")
    with ictcore.compat.caching(cache):
        expected = default_results(frame, 10)
        sw = expected["swing_highs_lows"]
    entries = cache.stats()["entries"]
    assert entries == len(expected)
    pool = DetectorPool(workers=2, cache=cache)
    got = pool.analyze(
        [("X", "1m", frame)],
        list(expected),
        params={"swing_highs_lows": {"swing_length": 10}},
        progress=False,
    )
    assert got.stats["memory_hits"] == len(expected), got.stats
    assert cache.stats()["entries"] == entries
    for name, want in expected.items():
        pd.testing.assert_frame_equal(got.frame("X", "1m", name), want, check_exact=True)
    # A swings frame changed after it was computed is its contents, not swing_length=10.
    changed = sw.copy()
    changed.iloc[200, 0], changed.iloc[200, 1] = 1.0, float(frame["high"].iloc[200])
    with ictcore.compat.caching(cache):
        cached = smc.ob(frame, changed)
    pd.testing.assert_frame_equal(cached, smc.ob(frame, changed), check_exact=True)
    assert cache.stats()["entries"] == entries + 1


def test_swing_highs_lows_sets_the_swing_length_of_its_readers() -> None:
    """smartmoneyconcepts users pass one swings frame to every swing-based detector: in the
    pool ``params["swing_highs_lows"]["swing_length"]`` is their default too, and a
    detector's own ``swing_length`` overrides it."""
    frame = synthetic_frame(6, 2500)
    pool = DetectorPool(workers=1)
    got = pool.analyze(
        [("X", "1m", frame)],
        ["swing_highs_lows", "bos_choch", "ob", "liquidity", "retracements"],
        params={"swing_highs_lows": {"swing_length": 7}, "liquidity": {"swing_length": 12}},
        progress=False,
    )
    sw7, sw12 = smc.swing_highs_lows(frame, 7), smc.swing_highs_lows(frame, 12)
    expected = {
        "bos_choch": smc.bos_choch(frame, sw7),
        "ob": smc.ob(frame, sw7),
        "liquidity": smc.liquidity(frame, sw12),
        "retracements": smc.retracements(frame, sw7),
    }
    for name, want in expected.items():
        pd.testing.assert_frame_equal(got.frame("X", "1m", name), want, check_exact=True)
    assert not got.frame("X", "1m", "ob").equals(smc.ob(frame, smc.swing_highs_lows(frame, 50)))


def test_held_compat_results_are_compact_and_expand_exactly() -> None:
    """With the default ``keep=True`` the pool holds compat frames compact (sparse rows, runs)
    and expands them on access, bit for bit equal to the smc frames."""
    frame = synthetic_frame(8, 20_000)
    pool = DetectorPool(workers=2)
    got = pool.analyze([("X", "1m", frame)], progress=False)
    dense = 0
    expected = default_results(frame)
    for name, want in expected.items():
        arrays = got.arrays("X", "1m", name)
        assert list(arrays) == list(want.columns)
        for column in want.columns:
            np.testing.assert_array_equal(arrays[column], want[column].to_numpy(), strict=True)
        pd.testing.assert_frame_equal(got.frame("X", "1m", name), want, check_exact=True)
        dense += int(want.memory_usage(index=False).sum())
    assert got.held_bytes() * 4 < dense, (got.held_bytes(), dense)


def test_a_large_result_is_recomputed_on_access_and_checked(tmp_path: Path) -> None:
    """A frame whose compact form is still large (retracements: a column that changes on
    every row) is held as a digest and recomputed when asked for — equal to the smc frame —
    and a series changed since the run is an error naming it, never a different answer."""
    frame = synthetic_frame(9, 6000)
    store = CandleStore(tmp_path / "store")
    store.write("X", "1m", frame)
    pool = DetectorPool(store=store, workers=2)
    got = pool.analyze(
        [("X", "1m")],
        ["swing_highs_lows", "retracements"],
        params={"swing_highs_lows": {"swing_length": 20}},
        progress=False,
    )
    assert "deferred.digest" in got._columns["X", "1m", "retracements"].meta
    want = smc.retracements(frame, smc.swing_highs_lows(frame, 20))
    pd.testing.assert_frame_equal(got.frame("X", "1m", "retracements"), want, check_exact=True)
    again = pool.analyze([("X", "1m")], ["retracements"], progress=False)
    nxt = frame.iloc[-1:].copy()
    nxt.index = nxt.index + pd.Timedelta(minutes=1)
    store.append("X", "1m", nxt)
    with pytest.raises(ictcore.IctError, match="changed since") as info:
        again.arrays("X", "1m", "retracements")
    assert (info.value.symbol, info.value.timeframe) == ("X", "1m")


def test_config_tolerates_the_engines_sections_and_names_what_it_does_not_apply() -> None:
    data = json.loads(CONFIG.read_text())
    data["logging"] = {"level": "INFO"}
    data["cache_optimization"]["compression_enabled"] = False
    config = Config.from_dict(data)
    notes = "\n".join(config.notes)
    assert "logging: the engine's own section" in notes
    assert "batch_processing.batch_size: not applied" in notes
    assert "batch_processing.async_threshold: not applied" in notes
    assert "compression_enabled" not in notes  # applied: AnalysisCache.from_config
    assert Config.from_dict({}).notes == ()
    # A typo inside ictcore's own sections is still an error naming the key.
    data["detector_pool"]["max_pool_sise"] = 4
    with pytest.raises(ValueError, match=r"detector_pool\.max_pool_sise: unknown key"):
        Config.from_dict(data)
