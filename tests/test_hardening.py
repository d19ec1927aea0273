"""Adversarial tests: each class of the hardening review (issue 13), tried as a hostile or
careless user would. Each class has tests that fail on the build before the fixes (run
against it: 18 of these 21 failed; the other three are regression guards: a sparse 1 TiB
entry, which the old reader already refused, uint64 times, and a write racing a mutating
thread, whose race the old build lost only sometimes)."""

from __future__ import annotations

import contextlib
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ictcore
from ictcore import AnalysisCache, Candles, CandleStore


def _candles(n: int = 50, start: int = 0) -> Candles:
    t = (1_700_000_000 + 60 * np.arange(start, start + n, dtype=np.int64)) * 10**9
    close = 1.1 + np.cumsum(np.sin(np.arange(start, start + n) * 0.7)) * 1e-3
    return Candles(t, close.copy(), close + 1e-4, close - 1e-4, close, np.ones(n))


def _run(code: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Runs code in a fresh interpreter; a signal or a hang is a failure of the caller."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# -- class 1: the cache and the store remove only files they wrote ---------------------------


@pytest.mark.parametrize(
    ("folder", "name"), [("ab", "draft.tmp"), ("db", "users.sqlite"), ("AA", "1h.ictc")]
)
def test_a_cache_refuses_a_directory_holding_foreign_files(
    tmp_path: Path, folder: str, name: str
) -> None:
    (tmp_path / folder).mkdir()
    (tmp_path / folder / name).write_bytes(b"user data")
    with pytest.raises(ValueError, match="not an ictcore cache directory"):
        AnalysisCache(tmp_path, ttl_seconds=1)
    assert (tmp_path / folder / name).read_bytes() == b"user data"


def test_a_cache_rooted_at_a_store_is_refused_and_the_series_survive(tmp_path: Path) -> None:
    store = CandleStore(tmp_path)
    store.write("AA", "1h", _candles())
    with pytest.raises(ValueError, match="not an ictcore cache directory"):
        AnalysisCache(tmp_path, ttl_seconds=1, max_disk_bytes=1)
    assert len(store.read("AA", "1h")) == 50


def test_clear_and_sweep_leave_files_the_cache_did_not_write(tmp_path: Path) -> None:
    cache = AnalysisCache(tmp_path / "c", ttl_seconds=0.5, max_disk_bytes=1, disk_writes="all")
    x = np.arange(100.0)
    cache.get_or_compute("d", {"k": 1}, {"x": x}, lambda: {"y": x * 2})
    shard = next(p for p in (tmp_path / "c").iterdir() if p.is_dir())
    (shard / "draft.tmp").write_bytes(b"draft")
    (shard / "notes.corrupt").write_bytes(b"notes")
    cache.clear()
    cache.sweep()
    assert (shard / "draft.tmp").read_bytes() == b"draft"
    assert (shard / "notes.corrupt").read_bytes() == b"notes"
    assert not list(shard.glob("*.ictc"))


# -- class 2: no write through links --------------------------------------------------------


def test_a_linked_series_lock_is_not_written_through(tmp_path: Path) -> None:
    target = tmp_path / "precious.txt"
    target.write_text("precious")
    store = CandleStore(tmp_path / "store")
    store.write("EURUSD", "1m", _candles())
    lock = tmp_path / "store" / "EURUSD" / "1m.ictc.lock"
    if lock.exists():
        lock.unlink()
    lock.symlink_to(target)
    with pytest.raises(OSError, match="symbolic link"):
        store.append("EURUSD", "1m", _candles(5, start=100))
    assert target.read_text() == "precious"
    assert len(store.read("EURUSD", "1m")) == 50


def test_a_linked_sweep_lock_is_not_truncated(tmp_path: Path) -> None:
    target = tmp_path / "precious.txt"
    target.write_text("precious")
    root = tmp_path / "cache"
    AnalysisCache(root)
    (root / ".sweep.lock").unlink()
    (root / ".sweep.lock").symlink_to(target)
    with pytest.raises(OSError, match="symbolic link"):
        AnalysisCache(root)
    assert target.read_text() == "precious"


# -- class 3: lengths are checked before anything is allocated -------------------------------


def _reseal(entry: bytearray) -> None:
    """Recomputes an entry's header checksum (xxh3 is integrity, not authentication)."""
    import xxhash  # the reference implementation, not ictcore's

    at = 8 + 2 + 16 + 16
    for _ in range(2):
        (n,) = struct.unpack_from("<H", entry, at)
        at += 2 + n
    (columns,) = struct.unpack_from("<I", entry, at)
    at += 4
    for _ in range(columns):
        (n,) = struct.unpack_from("<H", entry, at)
        at += 2 + n + 2 + 16
    at += 16
    struct.pack_into("<Q", entry, at, xxhash.xxh3_64_intdigest(bytes(entry[:at])))


def test_a_crafted_cache_entry_is_a_miss_not_an_abort(tmp_path: Path) -> None:
    """A column length of 2**36 with a valid header checksum: the reader used to allocate
    64 GiB and abort the interpreter."""
    root = tmp_path / "cache"
    x = np.arange(1000.0)
    AnalysisCache(root, disk_writes="all").get_or_compute("d", {}, {"x": x}, lambda: {"y": x})
    (entry,) = root.glob("*/*.ictc")
    data = bytearray(entry.read_bytes())
    at = data.index(b"y\x01") + 3  # name "y", dtype float64, filter -> raw length
    for claimed in (2**36, 2**40 + 8, 2**63):
        struct.pack_into("<Q", data, at, claimed)
        _reseal(data)
        entry.write_bytes(bytes(data))
        code = f"""
            import numpy as np, ictcore
            c = ictcore.AnalysisCache({str(root)!r})
            x = np.arange(1000.0)
            c.get_or_compute("d", {{}}, {{"x": x}}, lambda: {{"y": x}})
            s = c.stats()
            assert s["misses"] == 1 and s["corrupt"] == 1, s
            print("ok")
        """
        done = _run(code)
        assert done.returncode == 0 and "ok" in done.stdout, (claimed, done.stderr[-2000:])
        for p in root.glob("*/*.corrupt"):
            p.unlink()
        entry.write_bytes(bytes(data))


def test_a_file_too_large_for_an_entry_is_not_read(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    x = np.arange(10.0)
    cache = AnalysisCache(root, disk_writes="all")
    cache.get_or_compute("d", {}, {"x": x}, lambda: {"y": x})
    (entry,) = root.glob("*/*.ictc")
    with entry.open("r+b") as f:
        f.truncate(2**40)  # sparse: a terabyte that is not there
    fresh = AnalysisCache(root, max_disk_bytes=2**42)  # no sweep removes it first
    fresh.get_or_compute("d", {}, {"x": x}, lambda: {"y": x})
    s = fresh.stats()
    assert s["misses"] == 1 and s["corrupt"] == 1, s


# -- class 4: fork never hangs ----------------------------------------------------------------

_FORK_HAMMER = """
import os, sys, threading, time, warnings
import numpy as np
import ictcore

root = sys.argv[1]
store = ictcore.CandleStore(os.path.join(root, "store"))
cache = ictcore.AnalysisCache(os.path.join(root, "cache"))
pool = ictcore.DetectorPool(workers=2, cache=cache, store=store)
t = (1_700_000_000 + 60 * np.arange(3000, dtype=np.int64)) * 10**9
p = 1.1 + np.cumsum(np.sin(np.arange(3000) * 0.7)) * 1e-3
for sym in ("A", "B"):
    store.write(sym, "1m", ictcore.Candles(t, p, p + 1e-4, p - 1e-4, p, np.ones(3000)))
x = np.arange(1000.0)
stop = threading.Event()

def slow(k):
    def compute():
        time.sleep(0.05)  # holds the key "being computed" while the main thread forks
        return {"y": x * k}
    return compute

def hammer(i):
    n = 0
    while not stop.is_set():
        n += 1
        store.read("A", "1m")
        cache.get_or_compute("slow", {"k": n % 7}, {"x": x}, slow(n % 7))
        if i == 0:
            pool.analyze([("A", "1m"), ("B", "1m")], ["fvg", "native.fvg"], progress=False)
        if i == 1:
            cache.clear()
            more = ictcore.Candles(t[-1:] + 60 * 10**9 * n, p[-1:], p[-1:], p[-1:], p[-1:], [1.0])
            store.append("B", "1m", more, durability="os")

threads = [threading.Thread(target=hammer, args=(i,)) for i in range(3)]
for th in threads:
    th.start()
hung = 0
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork with threads
    for attempt in range(12):
        time.sleep(0.03 * (attempt % 4))
        pid = os.fork()
        if pid == 0:
            # Everything the threads were inside of, used again in the child.
            store.read("A", "1m")
            cache.get_or_compute("slow", {"k": attempt % 7}, {"x": x}, slow(attempt % 7))
            r = pool.analyze([("A", "1m")], ["fvg"], progress=False)
            os._exit(0 if not r.errors else 3)
        deadline = time.monotonic() + 30
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                if os.waitstatus_to_exitcode(status) != 0:
                    print("child failed", status, flush=True)
                    os._exit(2)
                break
            if time.monotonic() > deadline:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                hung += 1
                break
            time.sleep(0.01)
stop.set()
for th in threads:
    th.join()
print("hung", hung, flush=True)
os._exit(1 if hung else 0)
"""


def test_children_forked_while_threads_use_every_shared_object_do_not_hang(
    tmp_path: Path,
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _FORK_HAMMER, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-2000:])


# -- class 5: a re-entrant request is an error, not a deadlock --------------------------------


def test_a_reentrant_get_or_compute_raises_naming_the_key() -> None:
    code = """
        import numpy as np, ictcore
        cache = ictcore.AnalysisCache()
        x = np.arange(10.0)
        key = cache.key("d", {"k": 1}, {"x": x})
        def compute():
            return cache.get_or_compute("d", {"k": 1}, {"x": x}, lambda: {"y": x})
        try:
            cache.get_or_compute("d", {"k": 1}, {"x": x}, compute)
        except ictcore.IctError as e:
            assert key in str(e) and "re-entrant" in str(e), e
            print("raised")
        out = cache.get_or_compute("d", {"k": 1}, {"x": x}, lambda: {"y": x + 1})
        assert out["y"][0] == 1.0
    """
    done = _run(code, timeout=60)
    assert done.returncode == 0 and "raised" in done.stdout, done.stderr[-2000:]


# -- class 6: no silent wrong answers ---------------------------------------------------------


def _frame(n: int = 40) -> pd.DataFrame:
    c = _candles(n)
    return c.to_pandas()


def test_a_stale_date_column_never_wins_over_the_index() -> None:
    """The index was converted (Athens -> UTC), the Date column kept: 2-3 h apart."""
    df = _frame()
    df["Date"] = df.index.tz_convert("Europe/Athens").tz_localize(None)
    with pytest.raises(ValueError, match="'Date' that does not match"):
        Candles.from_pandas(df)
    df["Date"] = df.index  # agreeing: fine
    assert np.array_equal(Candles.from_pandas(df).time, _candles(40).time)


def test_row_numbers_are_never_times() -> None:
    df = _frame().reset_index(drop=True)
    with pytest.raises(ValueError, match="no time"):
        Candles.from_pandas(df)
    df["timestamp"] = _frame().index
    assert np.array_equal(Candles.from_pandas(df).time, _candles(40).time)
    df["time"] = _frame().index
    with pytest.raises(ValueError, match="several time columns"):
        Candles.from_pandas(df)


def test_uint64_times_beyond_int64_are_refused() -> None:
    c = _candles(3)
    t = c.time.astype(np.uint64)
    t[2] = np.uint64(2**63 + 5)
    with pytest.raises(ValueError, match="row 2"):
        Candles(t, c.open, c.high, c.low, c.close)
    # One row alone is increasing: it used to wrap to 1677 without a word.
    with pytest.raises(ValueError, match="beyond int64"):
        Candles(t[2:], c.open[:1], c.high[:1], c.low[:1], c.close[:1])


def test_keys_keep_exact_types_and_big_ints() -> None:
    cache = AnalysisCache()
    x = np.arange(5.0)
    keys = [
        cache.key("d", {"k": v}, {"x": x})
        for v in (2**64, 2**64 + 1, 1, 1.0, True, np.True_, np.int64(1), np.float32(1.0))
    ]
    assert len(set(keys)) == len(keys)
    got = [
        cache.get_or_compute("d", {"k": v}, {"x": x}, lambda v=v: {"y": x + float(v % 7)})
        for v in (2**64, 2**64 + 1)
    ]
    assert not np.array_equal(got[0]["y"], got[1]["y"])


def test_caching_never_changes_behaviour() -> None:
    from ictcore.compat import caching, smc

    df = _frame(300)
    swings = smc.swing_highs_lows(df, 5)
    plain = smc.liquidity(df, swings, float("nan"))
    with caching(AnalysisCache()):
        cached = smc.liquidity(df, swings, float("nan"))
        again = smc.liquidity(df, swings, float("nan"))
    pd.testing.assert_frame_equal(plain, cached)
    pd.testing.assert_frame_equal(plain, again)


def test_the_pool_checks_in_memory_candles_every_run() -> None:
    pool = ictcore.DetectorPool(workers=2)
    c = _candles(200)
    assert not pool.analyze([("X", "1m", c)], ["fvg"], progress=False).errors
    c.close[10] = np.nan
    r = pool.analyze([("X", "1m", c)], ["fvg", "native.fvg"], progress=False)
    assert "close" in str(r.errors["X", "1m"]) and "row 10" in str(r.errors["X", "1m"])
    c = _candles(200)
    c.time = c.time[::-1].copy()
    r = pool.analyze([("X", "1m", c)], ["fvg"], progress=False)
    assert "increasing" in str(r.errors["X", "1m"])
    c = _candles(200)
    c.close = c.close[:-1]
    r = pool.analyze([("X", "1m", c)], ["fvg"], progress=False)
    assert "close" in str(r.errors["X", "1m"]) and "199 rows" in str(r.errors["X", "1m"])


def test_duplicate_requests_are_refused() -> None:
    pool = ictcore.DetectorPool(workers=1)
    a, b = _candles(100), _candles(100, start=7)
    with pytest.raises(ValueError, match="requested twice"):
        pool.analyze([("X", "1m", a), ("X", "1m", b)], ["fvg"], progress=False)
    with pytest.raises(ValueError, match="requested twice"):
        pool.analyze([("X", "1m", a), ("X", "1m", a)], ["fvg"], progress=False)


def test_store_writes_validate_the_bytes_they_write(tmp_path: Path) -> None:
    """Another thread mutating the arrays while the store writes them (the GIL released)
    can no longer get unvalidated values stored: the store copies them first."""
    import threading

    store = CandleStore(tmp_path)
    n = 400_000
    c = _candles(n)
    stop = threading.Event()

    saved = c.close[n // 2 :].copy()

    def vandal() -> None:
        while not stop.is_set():
            c.close[n // 2 :] = np.nan
            c.close[n // 2 :] = saved

    thread = threading.Thread(target=vandal)
    thread.start()
    try:
        for i in range(20):
            with contextlib.suppress(ValueError):  # caught the NaN: refused, nothing stored
                store.write("X", f"{i + 1}m", c)
    finally:
        stop.set()
        thread.join()
    for s in store.series():
        assert store.verify(s.symbol, s.timeframe), s
        assert np.isfinite(store.read(s.symbol, s.timeframe).close).all()


def test_a_flipped_bit_in_stored_data_is_never_analysed(tmp_path: Path) -> None:
    store = CandleStore(tmp_path)
    store.write("X", "1m", _candles(70_000))
    (path,) = (s.path for s in store.series())
    assert len(store.read("X", "1m")) == 70_000
    with open(path, "r+b") as f:  # a byte of row 5 of a price column's first block
        data = f.read()
        at = data.index(np.float64(_candles(70_000).close[5]).tobytes(), 8192)
        f.seek(at)
        f.write(b"\x00")
    fresh = CandleStore(tmp_path)
    with pytest.raises(ictcore.CorruptFileError, match=r"rows 0\.\.65536"):
        fresh.read("X", "1m")
    pool = ictcore.DetectorPool(workers=1, store=fresh)
    r = pool.analyze([("X", "1m")], ["fvg"], progress=False)
    assert isinstance(r.errors["X", "1m"], ictcore.CorruptFileError)


def test_duplicate_session_window_names_are_refused() -> None:
    with pytest.raises(ValueError, match="given twice"):
        ictcore.sessions(_candles(100), windows=["london_open", "london_open"])


# -- class 7: resource limits -----------------------------------------------------------------


def test_config_values_the_pool_or_cache_would_refuse_fail_when_read() -> None:
    from ictcore import Config

    cases = {
        ("cache_optimization", "max_cache_size", "9" * 400 + "GB"): "more than 1 EiB",
        ("cache_optimization", "cache_ttl_seconds", 1e300): "more than",
        ("cache_optimization", "cache_ttl_seconds", float("inf")): "finite",
        ("detector_pool", "max_pool_size", 5000): "more than 1024",
        ("batch_processing", "max_buffer_size", "1.5EB"): "not a size",
    }
    for (section, key, value), message in cases.items():
        with pytest.raises(ValueError, match=message) as e:
            Config.from_dict({section: {key: value}})
        assert f"{section}.{key}" in str(e.value)
    with pytest.raises(ValueError, match="max_memory_bytes"):
        AnalysisCache(max_memory_bytes=2**70)


def test_a_growth_that_fails_on_a_full_disk_leaves_nothing_behind(tmp_path: Path) -> None:
    """A file-size limit (as a full disk would) makes the growth's new file fail part way:
    the append fails, the series keeps its rows, and no temp file is left."""
    code = f"""
        import resource, signal
        import numpy as np, ictcore
        store = ictcore.CandleStore({str(tmp_path)!r})
        t = (1_700_000_000 + 60 * np.arange(2000, dtype=np.int64)) * 10**9
        p = np.full(2000, 1.1)
        store.write("X", "1m", ictcore.Candles(t[:1000], p[:1000], p[:1000], p[:1000], p[:1000]))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail (EFBIG)
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))
        try:
            q = p[1000:]
            store.append("X", "1m", ictcore.Candles(t[1000:], q, q, q, q))
        except OSError as e:
            print("refused", e)
        print(len(store.read("X", "1m")))
    """
    done = _run(code)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "refused" in done.stdout and done.stdout.split()[-1] == "1000", done.stdout
    left = sorted(p.name for p in (tmp_path / "X").iterdir())
    assert left == ["1m.ictc", "1m.ictc.lock"], left
