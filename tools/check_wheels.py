"""Checks the release artefacts in a directory (default ``dist``): every wheel is abi3 for
CPython >= 3.10, tagged manylinux2014 / manylinux_2_17 for its architecture, holds an
extension built for that architecture, links no shared library beyond the manylinux
allowance (``auditwheel show``), carries the licence and the package's one version; the
sdist holds what a build from it needs. Exits 1 naming every problem.

    python tools/check_wheels.py [DIST]
"""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: ELF e_machine of each wheel architecture.
MACHINES = {"x86_64": 62, "aarch64": 183}
POLICY = "manylinux_2_17"


def cargo_version() -> str:
    """The one version source: the Cargo workspace's."""
    section = (ROOT / "Cargo.toml").read_text().split("[workspace.package]", 1)[1]
    found = re.search(r'^version\s*=\s*"([^"]+)"', section, flags=re.M)
    if found is None:
        raise SystemExit("Cargo.toml: no [workspace.package] version")
    return found.group(1)


def check_wheel(path: Path, version: str) -> list[str]:
    problems = []
    match = re.fullmatch(r"ictcore-([^-]+)-cp310-abi3-(.+)\.whl", path.name)
    if match is None:
        return [f"{path.name}: not an ictcore abi3 (cp310) wheel name"]
    if match.group(1) != version:
        problems.append(f"{path.name}: version {match.group(1)}, Cargo.toml says {version}")
    platforms = match.group(2).split(".")
    arch = next((a for a in MACHINES if platforms[0].endswith(a)), None)
    if arch is None or f"{POLICY}_{arch}" not in platforms:
        problems.append(f"{path.name}: platform tags {platforms}, expected {POLICY}_<arch>")
        return problems
    with zipfile.ZipFile(path) as wheel:
        names = wheel.namelist()
        extensions = [n for n in names if n.endswith(".so")]
        if len(extensions) != 1:
            problems.append(f"{path.name}: {len(extensions)} extension modules: {extensions}")
        for name in extensions:
            head = wheel.read(name)[:20]
            machine = int.from_bytes(head[18:20], "little")
            if head[:4] != b"\x7fELF" or machine != MACHINES[arch]:
                problems.append(f"{path.name}: {name} is ELF machine {machine}, not {arch}")
        if not any(re.search(r"\.dist-info/(licenses/)?LICENSE$", n) for n in names):
            problems.append(f"{path.name}: no LICENSE in the .dist-info")
        metadata = next((n for n in names if n.endswith(".dist-info/METADATA")), None)
        text = wheel.read(metadata).decode() if metadata else ""
        for field in (f"Version: {version}", "Requires-Python: >=3.10", "License"):
            if field not in text:
                problems.append(f"{path.name}: METADATA lacks {field!r}")
        for extra in ("test", "bench", "plot", "dask", "polars"):
            if f"Provides-Extra: {extra}" not in text:
                problems.append(f"{path.name}: METADATA lacks the extra {extra!r}")
    shown = subprocess.run(
        [sys.executable, "-m", "auditwheel", "show", str(path)], capture_output=True, text=True
    )
    said = " ".join(shown.stdout.split())
    if (
        shown.returncode != 0
        or f'consistent with the following platform tag: "{POLICY}_{arch}"' not in said
    ):
        problems.append(f"{path.name}: auditwheel show: {said or shown.stderr.strip()}")
    return problems


def check_sdist(path: Path, version: str) -> list[str]:
    if path.name != f"ictcore-{version}.tar.gz":
        return [f"{path.name}: expected ictcore-{version}.tar.gz"]
    with tarfile.open(path) as sdist:
        names = {n.split("/", 1)[1] for n in sdist.getnames() if "/" in n}
    needed = [
        "pyproject.toml",
        "Cargo.toml",
        "Cargo.lock",
        "LICENSE",
        "README.md",
        "src/lib.rs",
        "python/Cargo.toml",
        "python/src/lib.rs",
        "python/ictcore/__init__.py",
        "python/ictcore/py.typed",
    ]
    return [f"{path.name}: lacks {n}" for n in needed if n not in names]


def main(argv: list[str]) -> int:
    dist = Path(argv[0]) if argv else ROOT / "dist"
    version = cargo_version()
    wheels = sorted(dist.glob("*.whl"))
    sdists = sorted(dist.glob("*.tar.gz"))
    problems = [] if wheels else [f"{dist}: no wheel"]
    for wheel in wheels:
        problems += check_wheel(wheel, version)
    for sdist in sdists:
        problems += check_sdist(sdist, version)
    for path in wheels + sdists:
        print(f"{path.name}  {path.stat().st_size / 2**20:.1f} MiB")
    for problem in problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    print("all artefacts check out" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
