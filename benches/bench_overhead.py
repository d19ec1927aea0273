"""The fixed cost of one ``DetectorPool.analyze`` call: a warm cache hit on an 86-bar series
(the work is microseconds, so the time is the call's own overhead), written to BENCHMARKS.md
("## Pool call overhead").

    pip install '.[bench]'
    python benches/bench_overhead.py [--baseline OTHER_PYTHON --baseline-label NAME]

``--baseline`` runs the same measurement under another interpreter with another ictcore
installed (a virtualenv of an earlier commit), in the same run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import workloads

MEASURE = """
import time, numpy as np, ictcore
n = 86
t = (1_700_000_000 + 60 * np.arange(n, dtype=np.int64)) * 10**9
c = 1.1 + np.cumsum(np.sin(np.arange(n) * 0.37)) * 1e-3
hi, lo = np.maximum(c, np.roll(c, 1)) + 1e-4, np.minimum(c, np.roll(c, 1)) - 1e-4
candles = ictcore.Candles(t, np.roll(c, 1), hi, lo, c, np.ones(n))
pool = ictcore.DetectorPool(workers=2, cache=ictcore.AnalysisCache())
pool.analyze([("X", "1m", candles)], ["fvg"], progress=False)
times = []
for _ in range(200):
    start = time.perf_counter()
    pool.analyze([("X", "1m", candles)], ["fvg"], progress=False)
    times.append(time.perf_counter() - start)
print(min(times), sorted(times)[len(times) // 2])
"""


def measure(python: str) -> tuple[float, float]:
    done = subprocess.run([python, "-c", MEASURE], capture_output=True, text=True, check=True)
    best, median = done.stdout.split()
    return float(best), float(median)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", help="python of another build")
    parser.add_argument("--baseline-label", default="baseline")
    parser.add_argument("--out", type=Path, default=workloads.ROOT / "BENCHMARKS.md")
    args = parser.parse_args()
    builds = {"this build": sys.executable}
    if args.baseline:
        builds[args.baseline_label] = args.baseline
    lines = [
        "## Pool call overhead",
        "",
        f"`python benches/bench_overhead.py` on {time.strftime('%Y-%m-%d')} "
        f"({os.cpu_count()} cores): `DetectorPool(workers=2).analyze` of `fvg` on an "
        "86-bar in-memory series, a memory-tier hit (the work is microseconds); 200 calls in "
        "a new process, best and median.",
        "",
        "| build | best | median |",
        "|---|---:|---:|",
    ]
    for label, python in builds.items():
        best, median = measure(python)
        lines.append(f"| {label} | {best * 1e3:.3f} ms | {median * 1e3:.3f} ms |")
    workloads.write_section(args.out, "## Pool call overhead", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
