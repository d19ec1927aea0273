"""ictcore logs through Python's logging (the "ictcore" logger): quiet by default; pool
calls, failed series, damaged cache entries and store recoveries when asked for."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import ictcore
from ictcore.synthetic import synthetic_frame


def _store(tmp_path: Path) -> ictcore.CandleStore:
    store = ictcore.CandleStore(tmp_path / "store")
    store.write("EURUSD", "15m", ictcore.Candles.from_pandas(synthetic_frame(3, 3_000)))
    return store


def _damage_every_entry(root: Path) -> int:
    entries = [p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")]
    for path in entries:
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    return len(entries)


def test_pool_calls_and_failed_series_are_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = _store(tmp_path)
    pool = ictcore.DetectorPool(store=store, workers=2)
    with caplog.at_level(logging.INFO, logger="ictcore"):
        pool.analyze([("EURUSD", "15m"), ("GBPUSD", "1h")], ["fvg"], progress=False)
    info = [r for r in caplog.records if r.name == "ictcore.pool" and r.levelno == logging.INFO]
    assert len(info) == 1 and "analyzed 2 series x 1 detectors" in info[0].getMessage()
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(m.startswith("GBPUSD 1h failed") for m in warned)


def test_a_damaged_cache_entry_is_logged_by_the_core(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = _store(tmp_path)
    root = tmp_path / "cache"
    cache = ictcore.AnalysisCache(root, disk_writes="all")
    ictcore.DetectorPool(store=store, cache=cache).analyze(
        [("EURUSD", "15m")], ["native.fvg"], progress=False, resume=False
    )
    assert _damage_every_entry(root) >= 1
    again = ictcore.AnalysisCache(root, disk_writes="all")
    with caplog.at_level(logging.WARNING, logger="ictcore"):
        result = ictcore.DetectorPool(store=store, cache=again).analyze(
            [("EURUSD", "15m")], ["native.fvg"], progress=False, resume=False
        )
    assert not result.errors and again.stats()["corrupt"] >= 1
    damaged = [r for r in caplog.records if r.name == "ictcore.cache"]
    assert damaged and "damaged cache entry" in damaged[0].getMessage()
    assert str(root) in damaged[0].getMessage()


def test_a_store_recovery_is_logged_by_the_core(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = _store(tmp_path)
    series = store._store.path("EURUSD", "15m")
    # What a writer that crashed mid-append leaves: an empty temp file of its own naming.
    left = series.parent / f".{series.name}.999999-0.tmp"
    left.write_bytes(b"")
    last = store.read("EURUSD", "15m")
    bar = ictcore.Candles(
        last.time[-1:] + 900 * 10**9,
        last.close[-1:],
        last.close[-1:] + 1,
        last.close[-1:] - 1,
        last.close[-1:],
    )
    with caplog.at_level(logging.INFO, logger="ictcore"):
        store.append("EURUSD", "15m", bar)
    assert not left.exists()
    removed = [r.getMessage() for r in caplog.records if r.name == "ictcore.store"]
    assert removed and "a temp file a crashed writer" in removed[0] and left.name in removed[0]


def test_nothing_is_printed_unless_the_application_asks(tmp_path: Path) -> None:
    """Warnings included: Python's last-resort handler would print them to stderr."""
    script = textwrap.dedent(
        f"""
        import ictcore
        from ictcore.synthetic import synthetic_frame
        store = ictcore.CandleStore({str(tmp_path / "s")!r})
        store.write("A", "1h", ictcore.Candles.from_pandas(synthetic_frame(1, 500)))
        pool = ictcore.DetectorPool(store=store)
        pool.analyze([("A", "1h"), ("B", "1h")], ["fvg"], progress=False)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "" and done.stdout == ""
