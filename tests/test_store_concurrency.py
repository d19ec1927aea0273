"""Readers never block and never see a step back (promise S3): two reader processes read the
last row in a loop while this process appends and forces several growth renames; every
reader sees row counts that never decrease and values that are exactly the written ones,
and ends without an exception or a signal."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ictcore import Candles, CandleStore

pytestmark = pytest.mark.slow

MINUTE = 60_000_000_000
READER = """
import sys, time
from ictcore import CandleStore
store = CandleStore(sys.argv[1])
print("ready", flush=True)
deadline = time.monotonic() + float(sys.argv[2])
seen = reads = 0
while time.monotonic() < deadline:
    try:
        c = store.read("X", "1m")
    except FileNotFoundError:
        continue
    n = len(c)
    assert n >= seen, f"row count went back from {seen} to {n}"
    if n:
        i = n - 1
        assert c.time[i] == i * 60_000_000_000, (i, c.time[i])
        assert c.close[i] == 1.0 + (i % 1000) * 1e-4, (i, c.close[i])
    seen, reads = n, reads + 1
print(seen, reads)
"""


def batch(lo: int, hi: int) -> Candles:
    i = np.arange(lo, hi)
    price = 1.0 + (i % 1000) * 1e-4
    return Candles._trusted(i.astype(np.int64) * MINUTE, price, price, price, price, price)


def test_readers_see_monotonic_consistent_rows_during_appends_and_growth(tmp_path: Path) -> None:
    store = CandleStore(tmp_path)
    store.append("X", "1m", batch(0, 100))
    readers = [
        subprocess.Popen(
            [sys.executable, "-c", READER, str(tmp_path), "6"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for reader in readers:  # appends start once both readers are reading
        assert reader.stdout is not None and reader.stdout.readline().strip() == "ready"
    rows = 100
    capacity_changes = 0
    path = store._store.path("X", "1m")
    inode = path.stat().st_ino
    while rows < 60_000:
        store.append("X", "1m", batch(rows, rows + 150), durability="os")
        rows += 150
        if path.stat().st_ino != inode:
            inode, capacity_changes = path.stat().st_ino, capacity_changes + 1
    for reader in readers:
        out, err = reader.communicate(timeout=120)
        assert reader.returncode == 0, err  # a signal would give a negative code
        seen, reads = map(int, out.split())
        assert reads > 0 and seen <= rows
    assert capacity_changes >= 3  # the readers lived through several growth renames
