"""The quickstart notebook runs end to end, and so does the demo command."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from ictcore.cli import demo, main

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


@pytest.mark.slow
@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.name)
def test_notebook_executes(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("identical" in o.get("text", "") for o in outputs)


def test_notebooks_exist() -> None:
    assert (NOTEBOOKS / "quickstart.ipynb").exists()


def test_demo_compares_and_finds_identical_results() -> None:
    out = io.StringIO()
    assert demo(3000, seed=1, shape="walk", compare=True, out=out)
    text = out.getvalue()
    for name in ("fvg", "swing_highs_lows", "bos_choch", "ob", "liquidity",
                 "previous_high_low", "sessions", "retracements"):  # fmt: skip
        assert f"\n{name} " in text
    assert "results: identical" in text


def test_demo_without_comparison() -> None:
    out = io.StringIO()
    assert demo(500, seed=2, shape="ties", compare=False, out=out)
    assert "candles/s" in out.getvalue() and "identical" not in out.getvalue()


def test_console_entry_points() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ictcore", "demo", "--candles", "800", "--no-compare"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "all eight" in done.stdout
    with pytest.raises(SystemExit):
        main(["demo", "--candles", "0"])
