"""Crash safety of appends (promise S1): a child process appends batches in a loop and is
SIGKILLed at random moments; after every kill the store holds whole batches only, the values
are exactly the input's, verify() passes, and the next writer carries on.

Iterations: 200 in CI; ``ICTCORE_CRASH_ITERATIONS=1000 pytest tests/test_store_crash.py``
for the deep run."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ictcore import Candles, CandleStore
from ictcore.synthetic import synthetic_frame

pytestmark = pytest.mark.slow

ITERATIONS = int(os.environ.get("ICTCORE_CRASH_ITERATIONS", "200"))
ROWS = 200_000
SEED = 11

CHILD = """
import sys
import numpy as np
import pandas as pd
from ictcore import CandleStore, Candles
from ictcore.synthetic import synthetic_frame

root, rows, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
frame = synthetic_frame(seed, rows, "walk")
frame.index = pd.date_range("2024-01-01", periods=rows, freq="1min")
data = Candles.from_pandas(frame)
sizes = np.random.default_rng(seed).integers(1, 500, size=rows)
bounds = np.concatenate([[0], np.cumsum(sizes)])
store = CandleStore(root)
try:
    done = len(store.read("X", "1m"))
except FileNotFoundError:
    done = 0
k = int(np.searchsorted(bounds, done))
assert bounds[k] == done, (done, bounds[k])
print("ready", flush=True)
while bounds[k] < rows:
    lo, hi = int(bounds[k]), min(int(bounds[k + 1]), rows)
    store.append("X", "1m", data._slice(lo, hi), durability="os")
    k += 1
"""


def test_sigkill_mid_append_never_leaves_a_partial_batch(tmp_path: Path) -> None:
    frame = synthetic_frame(SEED, ROWS, "walk")
    frame.index = pd.date_range("2024-01-01", periods=ROWS, freq="1min")
    data = Candles.from_pandas(frame)
    sizes = np.random.default_rng(SEED).integers(1, 500, size=ROWS)
    bounds = set(np.concatenate([[0], np.cumsum(sizes)]).tolist())
    rng = random.Random(5)
    store_path = tmp_path / "store"
    previous = 0
    kills = completed = 0
    for _ in range(ITERATIONS):
        with subprocess.Popen(
            [sys.executable, "-c", CHILD, str(store_path), str(ROWS), str(SEED)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as child:
            assert child.stdout is not None and child.stderr is not None
            ready = child.stdout.readline()
            assert ready.strip() == "ready", child.stderr.read()
            time.sleep(rng.uniform(0, 0.02))
            child.send_signal(signal.SIGKILL)
            child.wait()
        kills += child.returncode == -signal.SIGKILL
        try:
            stored = CandleStore(store_path).read("X", "1m")
        except FileNotFoundError:
            # Killed before the first batch was committed: a new series appears whole (it is
            # written aside and renamed), so there is none yet, as it should be.
            assert previous == 0, "a committed series disappeared"
            continue
        n = len(stored)
        assert n in bounds or n == ROWS, f"{n} rows is not a whole number of batches"
        assert n >= previous, "committed rows went back"
        previous = n
        np.testing.assert_array_equal(stored.time, data.time[:n])
        np.testing.assert_array_equal(stored.close, data.close[:n])
        np.testing.assert_array_equal(stored.volume, data.volume[:n])
        report = CandleStore(store_path).verify()
        assert report, str(report)
        if n == ROWS:  # the child finished: start over in a fresh store
            shutil.rmtree(store_path)
            previous = 0
            completed += 1
    # Nearly every kill must have landed while the child was appending.
    assert kills >= ITERATIONS - completed - 1, (kills, completed)
