"""AnalysisCache (issue 5): promises C1-C8 of storage-and-cache.md from Python, and the
compat layer through the cache (cached == recomputed, bit for bit)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ictcore import AnalysisCache
from ictcore.compat import caching, get_cache, set_cache, smc
from ictcore.synthetic import synthetic_frame

DATA = Path(__file__).parent / "data" / "smc-eurusd" / "EURUSD_15M.csv"


def eurusd() -> pd.DataFrame:
    raw = pd.read_csv(DATA).rename(columns=str.lower)
    return raw.drop(columns=["volume"]).rename(columns={"tickvol": "volume"})


def detector(x: np.ndarray, k: int) -> dict[str, np.ndarray]:
    return {
        "rolling": np.convolve(x, np.ones(k), mode="same"),
        "above": x > x.mean(),
        "rank": np.argsort(np.argsort(x)).astype(np.int32),
    }


def test_get_or_compute_round_trip_and_read_only_views(tmp_path: Path) -> None:
    cache = AnalysisCache(tmp_path / "c")
    x = np.random.default_rng(1).normal(size=5000)
    calls = []

    def compute() -> dict[str, np.ndarray]:
        calls.append(1)
        return detector(x, 5)

    first = cache.get_or_compute("roll", {"k": 5}, {"x": x}, compute)
    again = cache.get_or_compute("roll", {"k": 5}, {"x": x}, compute)
    expected = detector(x, 5)
    assert len(calls) == 1
    for got in (first, again):
        assert list(got) == ["rolling", "above", "rank"]
        for name, array in got.items():
            np.testing.assert_array_equal(array, expected[name])
            assert array.dtype == expected[name].dtype
            assert not array.flags.writeable
    assert np.shares_memory(first["rolling"], again["rolling"])  # a memory hit copies nothing
    frame = cache.get_or_compute("roll", {"k": 5}, {"x": x}, compute, as_frame=True)
    frame.loc[0, "rolling"] = 1.0  # a writable copy
    # Another cache object (another process) over the directory: a disk hit, equal values.
    other = AnalysisCache(tmp_path / "c")
    from_disk = other.get_or_compute("roll", {"k": 5}, {"x": x}, compute)
    assert len(calls) == 1
    for name, array in from_disk.items():
        np.testing.assert_array_equal(array, expected[name])
    assert other.stats()["disk_hits"] == 1


def test_statistics_count_exactly(tmp_path: Path) -> None:
    """C7: a scripted sequence with exact expected counts."""
    cache = AnalysisCache(tmp_path, disk_writes="all")
    x = np.arange(1000.0)
    run = [0]

    def compute() -> dict[str, np.ndarray]:
        run[0] += 1
        return {"y": x * 2}

    for k in (1, 1, 2, 1, 3, 2):
        cache.get_or_compute("d", {"k": k}, {"x": x}, compute)
    s = cache.stats()
    assert (s["misses"], s["memory_hits"], s["disk_hits"], s["corrupt"]) == (3, 3, 0, 0)
    assert (s["entries"], s["disk_writes"], run[0]) == (3, 3, 3)
    assert s["bytes_in_memory"] == 3 * (8000 + 512)
    assert s["bytes_on_disk"] > 0 and s["compression_ratio"] > 1
    cache.clear()
    assert cache.stats()["entries"] == 0 and cache.stats()["bytes_on_disk"] == 0


def test_keys_are_stable_across_processes_and_sensitive() -> None:
    """C2: the same request has the same key in another process; reordering parameters keeps
    it; any changed byte, dtype, parameter, detector or mode changes it."""
    cache = AnalysisCache()
    x = np.linspace(0, 1, 100)
    key = cache.key("d", {"a": 1, "b": 0.5, "c": "x", "d": None, "e": True}, {"x": x})
    assert key == cache.key("d", {"e": True, "d": None, "c": "x", "b": 0.5, "a": 1}, {"x": x})
    code = (
        "import numpy as np, ictcore;"
        "print(ictcore.AnalysisCache().key('d', {'a': 1, 'b': 0.5, 'c': 'x', 'd': None, "
        "'e': True}, {'x': np.linspace(0, 1, 100)}))"
    )
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert other.stdout.strip() == key
    changed = x.copy()
    changed[37] = np.nextafter(changed[37], 2)
    variants = [
        cache.key("d", {"a": 1, "b": 0.5, "c": "x", "d": None, "e": True}, {"x": changed}),
        cache.key("d", {"a": 1, "b": 0.5, "c": "x", "d": None, "e": False}, {"x": x}),
        cache.key("d", {"a": 1.0, "b": 0.5, "c": "x", "d": None, "e": True}, {"x": x}),
        cache.key("d", {"a": 1, "b": 0.5, "c": "x", "d": None, "e": True}, {"y": x}),
        cache.key("d", {"a": 1, "b": 0.5, "c": "x", "d": None, "e": True}, {"x": x.astype("f4")}),
        cache.key("d2", {"a": 1, "b": 0.5, "c": "x", "d": None, "e": True}, {"x": x}),
        cache.key("d", {"a": 1, "b": 0.5, "c": "x", "d": None, "e": True}, {"x": x}, mode="compat"),
        cache.key("d", {"a": 1, "b": 0.5, "c": "x", "e": True}, {"x": x}),
    ]
    assert len(set(variants)) == len(variants) and key not in variants
    # NaN is keyed by its bits (the same NaN finds its entry; caching accepts what a call
    # accepts), and differs from every number.
    nan = cache.key("d", {"b": float("nan")}, {"x": x})
    assert nan == cache.key("d", {"b": float("nan")}, {"x": x}) and nan not in variants
    with pytest.raises(TypeError, match="parameter 'b'"):
        cache.key("d", {"b": [1]}, {"x": x})
    with pytest.raises(TypeError, match="dtype complex128"):
        cache.key("d", {}, {"x": x.astype(complex)})


def damage(path: Path, how: str, other: Path) -> None:
    raw = bytearray(path.read_bytes())
    if how == "flip":
        raw[len(raw) // 2] ^= 0x04
    elif how == "truncate":
        del raw[len(raw) - 9 :]
    elif how == "zero":
        raw[40:] = bytes(len(raw) - 40)
    elif how == "swap":
        raw = bytearray(other.read_bytes())
    elif how == "version":
        raw[8] = 7
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("how", ["flip", "truncate", "zero", "swap", "version"])
def test_damaged_entries_are_recomputed_never_returned(tmp_path: Path, how: str) -> None:
    """C1 from Python: a damaged entry is a miss, a recompute equal to a fresh computation,
    a counted corrupt entry; the file is quarantined and replaced."""
    x = np.random.default_rng(2).normal(size=3000)
    writer = AnalysisCache(tmp_path, disk_writes="all")
    for k in (3, 4):
        writer.get_or_compute("roll", {"k": k}, {"x": x}, lambda k=k: detector(x, k))
    entries = sorted(tmp_path.glob("*/*.ictc"))
    assert len(entries) == 2
    key = writer.key("roll", {"k": 3}, {"x": x})
    path = tmp_path / key[:2] / f"{key}.ictc"
    damage(path, how, next(p for p in entries if p != path))
    reader = AnalysisCache(tmp_path)
    got = reader.get_or_compute("roll", {"k": 3}, {"x": x}, lambda: detector(x, 3))
    for name, array in detector(x, 3).items():
        np.testing.assert_array_equal(got[name], array)
    s = reader.stats()
    assert (s["corrupt"], s["misses"], s["disk_hits"]) == (1, 1, 0)
    assert path.with_suffix(".corrupt").exists() and path.exists()
    # The recomputed entry replaced the damaged one: a fresh cache reads it from disk.
    fresh = AnalysisCache(tmp_path)
    back = fresh.get_or_compute("roll", {"k": 3}, {"x": x}, lambda: {})
    np.testing.assert_array_equal(back["rolling"], detector(x, 3)["rolling"])
    assert fresh.stats()["disk_hits"] == 1


def test_sixteen_threads_compute_once() -> None:
    """C6: identical concurrent requests run the computation once."""
    cache = AnalysisCache()
    x = np.arange(100_000.0)
    calls = []
    barrier = threading.Barrier(16)
    results: list[Any] = []

    def compute() -> dict[str, np.ndarray]:
        calls.append(1)
        threading.Event().wait(0.05)
        return {"y": x + 1}

    def worker() -> None:
        barrier.wait()
        results.append(cache.get_or_compute("slow", {}, {"x": x}, compute))

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(results) == 16
    assert all(np.array_equal(r["y"], x + 1) for r in results)
    s = cache.stats()
    assert (s["misses"], s["memory_hits"]) == (1, 15)


def test_errors_propagate_and_nothing_is_cached(tmp_path: Path) -> None:
    cache = AnalysisCache(tmp_path)
    x = np.arange(10.0)

    def broken() -> dict[str, np.ndarray]:
        raise ZeroDivisionError("detector failed")

    with pytest.raises(ZeroDivisionError, match="detector failed"):
        cache.get_or_compute("d", {}, {"x": x}, broken)
    with pytest.raises(TypeError, match="result column 'y'"):
        cache.get_or_compute("d", {}, {"x": x}, lambda: {"y": x.astype(complex)})
    assert cache.stats()["entries"] == 0 and not list(tmp_path.glob("*/*.ictc"))
    assert cache.get_or_compute("d", {}, {"x": x}, lambda: {"y": x})["y"].sum() == 45
    with pytest.raises(ValueError, match="eviction"):
        AnalysisCache(eviction="fifo")
    with pytest.raises(ValueError, match="ttl_seconds"):
        AnalysisCache(ttl_seconds=-1)
    with pytest.raises(ValueError, match="max_memory_bytes"):
        AnalysisCache(max_memory_bytes=-5)


def test_budgets_hold(tmp_path: Path) -> None:
    """C5/T5: memory within its budget after pending work; disk within its budget plus one
    entry after every write (60 writes of 3x the budget in all), and within it after a
    sweep."""
    x = np.arange(10_000.0)  # 80 kB results
    cache = AnalysisCache(
        tmp_path, max_memory_bytes=500_000, max_disk_bytes=200_000, disk_writes="all"
    )
    written = 0
    for k in range(60):
        cache.get_or_compute("d", {"k": k}, {"x": x}, lambda k=k: {"y": x * k + np.sin(x)})
        s = cache.stats()
        one = s["compressed_bytes_written"] - written + 1024
        written = s["compressed_bytes_written"]
        assert s["bytes_on_disk"] <= 200_000 + one, (k, s)
    assert written > 3 * 200_000
    s = cache.stats()
    assert s["bytes_in_memory"] <= 500_000 and s["evictions"] > 0
    swept = cache.sweep()
    assert swept["ran"] and swept["bytes_on_disk"] <= 200_000
    assert cache.stats()["bytes_on_disk"] <= 200_000


FUNCTIONS = [
    ("fvg", lambda df, s: smc.fvg(df, join_consecutive=True)),
    ("swing_highs_lows", lambda df, s: s),
    ("bos_choch", lambda df, s: smc.bos_choch(df, s, close_break=False)),
    ("ob", lambda df, s: smc.ob(df, s)),
    ("liquidity", lambda df, s: smc.liquidity(df, s, range_percent=0.02)),
    ("retracements", lambda df, s: smc.retracements(df, s)),
    ("previous_high_low", lambda df, s: smc.previous_high_low(df, "4h")),
    ("sessions", lambda df, s: smc.sessions(df, "London", time_zone="UTC+2")),
]


def all_eight(df: pd.DataFrame) -> dict[str, pd.DataFrame]:
    swings = smc.swing_highs_lows(df, 7)
    return {name: fn(df, swings) for name, fn in FUNCTIONS}


def timed(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    out.index = pd.date_range("2024-01-01", periods=len(frame), freq="15min")
    return out


def test_compat_results_through_the_cache_are_identical(tmp_path: Path) -> None:
    """cached == recomputed for all eight functions: a miss, a memory hit and (in a new
    cache over the same directory) a disk hit each equal the uncached frames, dtypes and
    all; and the caller can still modify the frames."""
    df = timed(eurusd()).iloc[:6000]
    plain = all_eight(df)
    assert get_cache() is None
    cache = AnalysisCache(tmp_path, disk_writes="all")  # W0-sized frames recompute faster
    with caching(cache):
        assert get_cache() is cache
        miss, hit = all_eight(df), all_eight(df)
    set_cache(AnalysisCache(tmp_path))
    try:
        from_disk = all_eight(df)
        disk_stats = get_cache().stats()  # type: ignore[union-attr]
    finally:
        set_cache(None)
    for name, expected in plain.items():
        for got in (miss[name], hit[name], from_disk[name]):
            pd.testing.assert_frame_equal(got, expected, check_exact=True)
    s = cache.stats()
    assert (s["misses"], s["memory_hits"]) == (8, 8)  # swings once per all_eight call
    assert disk_stats["disk_hits"] == 8 and disk_stats["misses"] == 0
    hit["fvg"].loc[0, "Top"] = 1.0  # writable


@settings(deadline=None)
@given(
    n=st.integers(0, 400),
    seed=st.integers(0, 2**16),
    shape=st.sampled_from(["walk", "btc", "ties", "trend"]),
)
def test_cached_equals_recomputed_on_generated_series(n: int, seed: int, shape: str) -> None:
    """Property: for generated series, every compat frame read back from the cache (memory
    tier) equals a fresh computation bit for bit."""
    df = timed(synthetic_frame(seed, n, shape).reset_index(drop=True))
    plain = all_eight(df)
    with caching(AnalysisCache()) as cache:
        all_eight(df)
        cached = all_eight(df)
    assert cache.stats()["misses"] == 8
    for name, expected in plain.items():
        pd.testing.assert_frame_equal(cached[name], expected, check_exact=True)


WORKER = r"""
import os, random, sys, threading
import numpy as np
import ictcore
root, seed = sys.argv[1], int(sys.argv[2])
cache = ictcore.AnalysisCache(root, max_disk_bytes=400_000)
x = np.arange(20_000.0)
def work(t):
    rng = random.Random(seed * 100 + t)
    for _ in range(60):
        k = rng.randrange(12)
        if rng.random() < 0.1:
            cache.sweep()
        got = cache.get_or_compute("d", {"k": k}, {"x": x}, lambda: {"y": x * k, "z": x + k})
        assert np.array_equal(got["y"], x * k) and np.array_equal(got["z"], x + k), k
threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
[t.start() for t in threads]
[t.join() for t in threads]
print(cache.stats()["corrupt"])
"""


def test_processes_and_threads_share_a_directory(tmp_path: Path) -> None:
    """C3: 4 processes x 4 threads of random get/put/sweep on a small key space, with a
    budget that forces evictions: every answer is right, and afterwards every entry on disk
    validates."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(tmp_path), str(seed)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in range(4)
    ]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        assert out.strip() == "0"
    check = AnalysisCache(tmp_path)
    x = np.arange(20_000.0)
    for path in tmp_path.glob("*/*.ictc"):
        assert path.stat().st_size > 0
    for k in range(12):
        got = check.get_or_compute("d", {"k": k}, {"x": x}, lambda k=k: {"y": x * k, "z": x + k})
        assert np.array_equal(got["y"], x * k)
    assert check.stats()["corrupt"] == 0
    assert not list(tmp_path.glob("*/.*.tmp"))


KILLED = r"""
import sys
import numpy as np
import ictcore
cache = ictcore.AnalysisCache(sys.argv[1], sync_writes=True, disk_writes="all")
rng = np.random.default_rng(int(sys.argv[2]))
print("ready", flush=True)
k = 0
while True:
    x = rng.normal(size=200_000)
    cache.get_or_compute("big", {"k": k}, {"x": x}, lambda: {"y": np.cumsum(x), "z": x * 3})
    k += 1
"""


def test_a_killed_writer_leaves_no_partial_entry(tmp_path: Path) -> None:
    """C4: SIGKILL a process writing entries at random moments (ICTCORE_CACHE_KILLS times,
    20 in CI); afterwards reopening removes its temp files and every entry validates."""
    import random
    import time

    rng = random.Random(5)
    kills = int(os.environ.get("ICTCORE_CACHE_KILLS", "20"))
    orphans = 0  # temp files left by a kill (each next child's open sweeps them)
    for i in range(kills):
        with subprocess.Popen(
            [sys.executable, "-c", KILLED, str(tmp_path), str(i)],
            stdout=subprocess.PIPE,
            text=True,
        ) as p:
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
            time.sleep(rng.uniform(0.02, 0.4))
            p.kill()
            p.wait()
        orphans += len(list(tmp_path.glob("*/.*.tmp")))
    assert orphans > 0, "no kill landed mid-write: the test did not test anything"
    reopened = AnalysisCache(tmp_path)  # the sweep at open removes dead writers' temp files
    assert not list(tmp_path.glob("*/.*.tmp"))
    entries = list(tmp_path.glob("*/*.ictc"))
    assert entries, "no entry was ever completed"
    assert reopened.verify() == []
    assert reopened.stats()["corrupt"] == 0


def test_compression_off_writes_columns_as_they_are_and_reads_the_same(tmp_path: Path) -> None:
    """The engine config's ``compression_enabled: false`` takes effect through
    ``AnalysisCache.from_config``; results are the same either way."""
    from ictcore import Candles, Config, DetectorPool

    candles = Candles.from_pandas(synthetic_frame(5, 20_000))
    config = Config.from_dict({"cache_optimization": {"compression_enabled": False}})
    plain = AnalysisCache.from_config(config, tmp_path / "plain", disk_writes="all")
    packed = AnalysisCache(tmp_path / "packed", disk_writes="all")
    results = []
    for cache in (plain, packed):
        DetectorPool(cache=cache).analyze({("A", "1m"): candles}, progress=False)
        # A new object over the directory: every result read back from disk.
        again = AnalysisCache(cache.path, disk_writes="all")
        result = DetectorPool(cache=again).analyze({("A", "1m"): candles}, progress=False)
        assert result.stats["disk_hits"] == len(result)
        results.append({k: result.frame(*k) for k in result})
    stats = plain.stats()
    assert stats["compressed_bytes_written"] == stats["raw_bytes_written"] > 0
    assert packed.stats()["compression_ratio"] > 2
    for key, frame in results[0].items():
        pd.testing.assert_frame_equal(frame, results[1][key], check_exact=True)
