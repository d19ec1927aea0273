"""Every Python snippet of README.md runs as written, in order, as one script, from a
directory laid out like a fresh clone (its test data, nothing else), and cites no file a
clone does not have."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def snippets() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_snippets() -> None:
    assert len(snippets()) >= 10


@pytest.mark.slow
def test_readme_snippets_run_in_order(tmp_path: Path) -> None:
    data = tmp_path / "tests" / "data" / "smc-eurusd"
    shutil.copytree(ROOT / "tests" / "data" / "smc-eurusd", data)
    script = tmp_path / "readme_snippets.py"
    # No `if __name__ == "__main__"` guard, as a user pasting the snippets would write them.
    script.write_text("\n\n".join(snippets()))
    env = {**os.environ, "MPLBACKEND": "Agg"}
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]


def test_readme_cites_only_files_a_clone_has() -> None:
    text = README.read_text()
    cited = set(re.findall(r"`([\w./-]+\.(?:md|csv|py|ipynb|json|toml|rs))`", text))
    cited |= set(re.findall(r"\]\(([\w./-]+)\)", text))
    missing = sorted(c for c in cited if "/" in c or c.endswith(".md") if not (ROOT / c).exists())
    assert not missing, f"README.md cites files a clone does not have: {missing}"
