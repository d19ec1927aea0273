"""Hypothesis fuzzing of every public entry point, in a subprocess: an exception of an
undocumented type is a finding the script reports; a signal (segfault, abort) or a hang of
the process is a failure this test reports, naming the call that was running.

``ICTCORE_FUZZ_EXAMPLES`` sets the examples per entry point (CI: 60; a deep run:
``ICTCORE_FUZZ_EXAMPLES=5000 pytest tests/test_fuzz.py``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("fuzz_entry_points.py")


@pytest.mark.hypothesis
def test_no_public_entry_point_crashes_hangs_or_raises_undocumented_errors(
    tmp_path: Path,
) -> None:
    examples = os.environ.get("ICTCORE_FUZZ_EXAMPLES", "60")
    log = tmp_path / "current-call.txt"
    timeout = 120 + 4 * int(examples)
    try:
        done = subprocess.run(
            [sys.executable, str(SCRIPT), str(tmp_path), str(log), examples],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"hung for {timeout} s in: {log.read_text()[:3000]}")
    running = log.read_text()[:3000] if log.exists() else "?"
    assert done.returncode >= 0, f"killed by signal {-done.returncode} in: {running}"
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
