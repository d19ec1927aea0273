"""Format stability (promise S9): golden files of every released format version read back
exactly (tests/data/golden/README.md describes their content)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from ictcore import CandleStore

GOLDEN = Path(__file__).parent / "data" / "golden"


def test_format_1_0(tmp_path: Path) -> None:
    # Read from a copy: the golden file itself is never opened for writing.
    root = tmp_path / "format-1.0"
    shutil.copytree(GOLDEN / "format-1.0", root)
    store = CandleStore(root, create=False)
    [info] = store.series()
    assert (info.symbol, info.timeframe, info.rows) == ("EUR/USD", "1m", 11)
    c = store.read("EUR/USD", "1m")
    i = np.arange(10)
    start = np.datetime64("2024-01-01T00:00", "ns").astype(np.int64)
    np.testing.assert_array_equal(c.time, start + np.arange(11) * 60_000_000_000)
    np.testing.assert_array_equal(c.open[:10], 1.0 + i / 100)
    np.testing.assert_array_equal(c.high[:10], 1.0 + i / 100 + 0.005)
    np.testing.assert_array_equal(c.low[:10], 1.0 + i / 100 - 0.005)
    np.testing.assert_array_equal(c.volume[:10], i * 10.0)
    assert (c.open[10], c.high[10], c.low[10], c.close[10], c.volume[10]) == (
        1.1,
        1.2,
        1.0,
        1.15,
        7.0,
    )
    assert store.verify()
    # Still appendable by this version.
    store.append("EUR/USD", "1m", store.read("EUR/USD", "1m")._slice(0, 0))


@pytest.mark.parametrize("version", sorted(p.name for p in GOLDEN.glob("format-*")))
def test_every_golden_version_verifies(tmp_path: Path, version: str) -> None:
    root = tmp_path / version
    shutil.copytree(GOLDEN / version, root)
    assert CandleStore(root, create=False).verify()
