"""The default pool path on a portfolio: ``DetectorPool(workers=N).analyze(requests)`` with
the eight compat detectors and ``keep=True`` (the default), no cache — wall time, the
process's peak RSS and the result bytes it holds, with 1 and 2 workers; optionally the same
under an older build, in one run:

    python benches/bench_keep.py --days 364                   # W1 (37M candles)
    python benches/bench_keep.py --days 30 --baseline OLD_PY  # and an older build

Each arm runs in its own process (its peak RSS is its own) over one store written first.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import workloads

_CHILD = r"""
import json, resource, sys, time
import ictcore
store = ictcore.CandleStore(sys.argv[1], create=False)
workers = int(sys.argv[2])
requests = list(store.series())
pool = ictcore.DetectorPool(store=store, workers=workers)
start = time.perf_counter()
result = pool.analyze([(s.symbol, s.timeframe) for s in requests], progress=False)
wall = time.perf_counter() - start
held = getattr(result, "held_bytes", None)
held = held() if held else sum(
    a.nbytes for k in result for a in result.arrays(*k).values()
)
# One frame read back (what a caller does), to show access works and what it costs.
key = next(iter(result))
start = time.perf_counter()
result.frame(*key)
read = time.perf_counter() - start
status = dict(
    line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line
)
anon_mb = int(status.get("RssAnon", "0 kB").split()[0]) / 1024
file_mb = int(status.get("RssFile", "0 kB").split()[0]) / 1024
print(json.dumps({
    "anon_mb": anon_mb,
    "file_mb": file_mb,
    "wall": wall,
    "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "held_mb": held / 2**20,
    "candles": result.stats["candles"],
    "failed": len(result.errors),
    "read_one_ms": read * 1e3,
}))
"""


def measure(python: str, store: Path, workers: int) -> dict[str, float]:
    result: dict[str, float] = workloads.child_json(python, "-c", _CHILD, str(store), str(workers))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=364)
    parser.add_argument("--symbols", type=int, default=77)
    parser.add_argument("--baseline", help="python of an older build")
    parser.add_argument("--baseline-label", default="before compact results")
    args = parser.parse_args()
    import ictcore

    builds = {"this build": sys.executable}
    if args.baseline:
        builds[args.baseline_label] = args.baseline
    with tempfile.TemporaryDirectory() as tmp:
        store = ictcore.CandleStore(Path(tmp) / "store")
        candles = workloads.write_portfolio(store, args.days, args.symbols)
        rows = []
        for label, python in builds.items():
            for workers in (1, 2):
                r = measure(python, store.path, workers)
                rows.append((label, workers, r))
    print(
        f"One run of `python benches/bench_keep.py --days {args.days} --symbols {args.symbols}"
        f"{' --baseline OLD' if args.baseline else ''}` on {time.strftime('%Y-%m-%d')} "
        f"({candles:,} candles; release builds; 2 cores; each arm its own process).\n"
    )
    print(
        "| build | workers | wall s | 1 / 2 workers | peak RSS MB | RSS at end: anonymous / "
        "file-backed (the store's mapped pages) MB | results held MB |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    walls = {(label, w): r["wall"] for label, w, r in rows}
    for label, workers, r in rows:
        speedup = walls[label, 1] / r["wall"]
        print(
            f"| {label} | {workers} | {r['wall']:.2f} | {speedup:.2f}x | {r['rss_mb']:,.0f} "
            f"| {r['anon_mb']:,.0f} / {r['file_mb']:,.0f} | {r['held_mb']:,.0f} |"
        )


if __name__ == "__main__":
    main()
