"""The API reference builds from the docstrings with warnings as errors, and covers every
public module."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BUILD = Path(__file__).resolve().parent.parent / "docs" / "build.py"


def test_api_reference_builds_without_warnings(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(BUILD), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    pages = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.html")}
    for module in ("ictcore", "ictcore/charts", "ictcore/pool", "ictcore/store", "ictcore/dask"):
        assert f"{module}.html" in pages
    top = (tmp_path / "ictcore.html").read_text()
    assert "DetectorPool" in top and "plot" in top
