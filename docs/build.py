"""Builds the API reference from the docstrings: pdoc over every public module of ictcore,
any warning an error (an annotation that cannot be resolved, a module that fails to import).

    python docs/build.py [--out DIR]   # default: docs/api (not committed)

Needs the package installed (the extension built) and ``pip install 'ictcore[docs]'``;
``ictcore.dask`` and ``ictcore.testing`` need their extras (``dask``, ``test``) too.
"""

from __future__ import annotations

import argparse
import pkgutil
import subprocess
import sys
from pathlib import Path


def public_modules() -> list[str]:
    """ictcore and its public (no leading ``_``) submodules. pdoc adds by itself the
    submodules a package's ``__all__`` names, and refuses a module given twice."""
    import ictcore

    names = [m.name for m in pkgutil.iter_modules(ictcore.__path__, "ictcore.")]
    public = [n for n in names if not n.rsplit(".", 1)[1].startswith("_")]
    return ["ictcore", *sorted(n for n in public if n.rsplit(".", 1)[1] not in ictcore.__all__)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "api")
    args = parser.parse_args(argv)
    command = [sys.executable, "-W", "error", "-m", "pdoc", *public_modules(), "-o", str(args.out)]
    return subprocess.run(command, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
