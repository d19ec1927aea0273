"""The quickstart notebook runs end to end, and so does the demo command."""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from ictcore import CandleStore
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
    assert not any("DIFFERENT" in o.get("text", "") for o in outputs)
    # No warnings on stderr (a progress bar asking for ipywidgets, say).
    stderr = [o.get("text", "") for o in outputs if o.get("name") == "stderr"]
    assert not [t for t in stderr if "Warning" in t], stderr
    if path.name in CHARTED:
        images = [o for o in outputs if "image/png" in o.get("data", {})]
        assert len(images) >= 1, f"{path.name} shows no chart"


#: The notebooks that show charts (ictcore.plot).
CHARTED = ("quickstart.ipynb", "engine_migration.ipynb", "live_loop.ipynb")


def test_notebooks_exist() -> None:
    for name in CHARTED:
        assert (NOTEBOOKS / name).exists()


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


def test_import_and_verify_commands(tmp_path: Path) -> None:
    data = Path(__file__).parent / "data" / "smc-eurusd" / "EURUSD_15M.csv"
    store = tmp_path / "store"
    done = subprocess.run(
        [sys.executable, "-m", "ictcore", "import", str(data), str(store)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "EURUSD 15m: 24,424 rows added (volume: tickvol)" in done.stdout
    ok = subprocess.run(
        [sys.executable, "-m", "ictcore", "verify", str(store)], capture_output=True, text=True
    )
    assert ok.returncode == 0 and "1 series verified, no problem" in ok.stdout
    # Damage one stored value: verify names the file and fails.
    path = next(store.rglob("*.ictc"))
    stamp = int(CandleStore(store).read("EURUSD", "15m").time[1234])
    raw = bytearray(path.read_bytes())
    raw[raw.find(stamp.to_bytes(8, "little"))] ^= 0x01
    path.write_bytes(bytes(raw))
    bad = subprocess.run(
        [sys.executable, "-m", "ictcore", "verify", str(store)], capture_output=True, text=True
    )
    assert bad.returncode == 1 and str(path) in bad.stdout


def test_scan_and_bench_commands(tmp_path: Path) -> None:
    data = Path(__file__).parent / "data" / "smc-eurusd" / "EURUSD_15M.csv"
    store = tmp_path / "store"
    main(["import", str(data), str(store)])
    scan = [sys.executable, "-m", "ictcore", "scan", str(store), "--cache", str(tmp_path / "c")]
    done = subprocess.run([*scan, "--no-progress"], capture_output=True, text=True, check=True)
    assert "15m" in done.stdout and "24,424" in done.stdout
    assert "1 series x 8 detectors" in done.stdout and "misses 8" in done.stdout
    again = subprocess.run([*scan, "--no-progress"], capture_output=True, text=True, check=True)
    # The disk tier answered everything the first scan kept; W0's dense compat frames
    # recompute faster than they read back, so they are not kept (disk_writes="paying") and
    # recomputed. Which ones pay is timed, so each scan is read for what it kept.
    pattern = r"hits (\d+), misses (\d+) \((\d+) not kept"
    first_hits, first_misses, first_not_kept = map(int, re.search(pattern, done.stdout).groups())
    hits, misses, _ = map(int, re.search(pattern, again.stdout).groups())
    assert (first_hits, first_misses) == (0, 8), done.stdout
    assert hits + misses == 8 and hits == first_misses - first_not_kept, (done.stdout, again.stdout)
    some = subprocess.run(
        [*scan, "--no-progress", "--detectors", "fvg", "ob", "--timeframes", "1h"],
        capture_output=True,
        text=True,
    )
    assert some.returncode == 1 and "no series match" in some.stdout
    bench = subprocess.run(
        [sys.executable, "-m", "ictcore", "bench", "--days", "3", "--symbols", "2"],
        capture_output=True,
        text=True,
    )
    assert "parallel speed-up" in bench.stdout and "peak private memory" in bench.stdout, (
        bench.stderr
    )
    assert bench.returncode in (0, 1)  # 1 when a target is missed on this machine


def _tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_bench_reports_the_kpis_of_a_users_store_as_json(tmp_path: Path) -> None:
    data = Path(__file__).parent / "data" / "smc-eurusd" / "EURUSD_15M.csv"
    store = tmp_path / "store"
    main(["import", str(data), str(store)])
    before = _tree_digest(store)
    config = json.loads(
        (Path(__file__).parent / "data" / "config" / "optimization_config.json").read_text()
    )
    config["mt5_connection"] = {"server": "Broker-Demo"}  # the engine's own section
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    command = [sys.executable, "-m", "ictcore", "bench", "--store", str(store), "--json"]
    done = subprocess.run(
        [*command, "--config", str(config_path), "--cycles", "3"], capture_output=True, text=True
    )
    assert done.returncode in (0, 1), done.stderr
    report = json.loads(done.stdout)
    assert (report["series"], report["candles"], report["cycles"]) == (1, 24_424, 3)
    measures = {m["name"].split(" (")[0]: m for m in report["measures"]}
    speedup = measures["parallel speed-up"]
    assert speedup["value"] > 0 and speedup["target"] == ">= 2x"
    assert speedup["met"] == (speedup["value"] >= 2.0)
    for name in ("total analysis time", "live cycle time"):
        assert measures[name]["value"] > 0 and measures[name]["met"] is not None
    rate = measures["cache hit rate over 3 replayed live cycles"]
    assert 0 <= rate["value"] <= 1 and rate["target"] == ">= 80%"
    # The replay's last three minutes of a 15m series: at most one new bar.
    assert "series changed per cycle" in rate["detail"]
    assert measures["peak private memory"]["value"] > 0
    assert measures["peak private memory"]["target"] == "<= 500 MB"
    assert measures["store bytes on disk"]["value"] >= 24_424 * 48
    ratio = measures["cache compression ratio"]["value"]
    assert ratio is None or ratio > 1
    notes = "\n".join(report["notes"])
    assert "mt5_connection: the engine's own section" in notes
    assert "batch_processing.batch_size: not applied" in notes
    assert report["all_met"] == all(m["met"] is not False for m in report["measures"])
    # Read only: the user's store is byte for byte as it was.
    assert _tree_digest(store) == before
    # Every result kept: every unchanged series' results are cache hits.
    keep_all = subprocess.run(
        [*command, "--keep-all", "--detectors", "fvg", "native.fvg"], capture_output=True, text=True
    )
    report = json.loads(keep_all.stdout)
    measures = {m["name"]: m for m in report["measures"]}
    assert measures["... of the results of unchanged series"]["value"] == 1.0
    assert not any(name.startswith("live session poll") for name in measures)
    # Native detectors only: a live session polls the same cycles.
    native = subprocess.run(
        [*command, "--detectors", "native.fvg", "native.structure"], capture_output=True, text=True
    )
    measures = {m["name"]: m for m in json.loads(native.stdout)["measures"]}
    poll = measures["live session poll (median), the same cycles"]
    assert poll["value"] > 0 and poll["met"] is not None


def test_demo_scans_a_generated_portfolio() -> None:
    out = io.StringIO()
    from ictcore.cli import portfolio_demo

    portfolio_demo(days=3, symbols=2, out=out)
    text = out.getvalue()
    assert "generated 12 series" in text, text
    # Whatever the cache keeps of this small portfolio, the warm run reads all of it back.
    assert "warm cache hit rate: 100%" in text or "none of the 96 results" in text, text
