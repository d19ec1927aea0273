"""One version source: Cargo.toml's workspace version is the installed package's, the
extension's ``ictcore.__version__`` and ``ictcore --version``'s."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

import ictcore

ROOT = Path(__file__).resolve().parent.parent


def test_every_version_is_cargos() -> None:
    cargo = (ROOT / "Cargo.toml").read_text()
    section = cargo.split("[workspace.package]", 1)[1]
    version = re.search(r'^version\s*=\s*"([^"]+)"', section, flags=re.M)
    assert version is not None
    assert ictcore.__version__ == version.group(1)
    assert importlib.metadata.version("ictcore") == version.group(1)
    shown = subprocess.run(
        [sys.executable, "-m", "ictcore", "--version"], capture_output=True, text=True, check=True
    )
    assert shown.stdout.strip() == f"ictcore {version.group(1)}"
    # Nothing else spells it out: the [project] table declares it dynamic.
    project = (ROOT / "pyproject.toml").read_text().split("\n[project]\n")[1].split("\n[")[0]
    assert re.search(r"^version\s*=", project, flags=re.M) is None
    assert 'dynamic = ["version"]' in project


def test_the_licence_is_in_the_installed_metadata() -> None:
    meta = importlib.metadata.metadata("ictcore")
    assert meta["License-Expression"] == "MIT" or "MIT" in (meta["License"] or "")
    files = importlib.metadata.files("ictcore") or []
    assert any(f.name == "LICENSE" for f in files)
    extras = set(meta.get_all("Provides-Extra") or [])
    assert {"test", "bench", "plot", "dask", "polars", "arrow"} <= extras
