"""A live cycle through the pool: append one bar to every 1m series of the W1 portfolio (or a
``--days`` fraction of it), then ``DetectorPool.analyze`` the five native detectors of the
engine's live loop over every series, with a disk cache. Resumed runs (the default) step only
the new bars and store what they added; the baseline is the same call with ``resume=False``,
which recomputes each changed series from its first bar. One run, each arm in this process
over its own store and cache:

    python benches/bench_resume.py --days 60
    python benches/bench_resume.py --days 364 --out BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from workloads import LIVE_DETECTORS, append_next_bar, write_portfolio, write_section

from ictcore import AnalysisCache, CandleStore, DetectorPool

DETECTORS = LIVE_DETECTORS


def append_one_bar(store: CandleStore, minute_series: list[str], step: int) -> None:
    for symbol in minute_series:
        append_next_bar(store, symbol, "1m", 60_000_000_000, step)


ARMS = {
    "resumed, results held (default)": {"resume": True, "keep": True},
    "resumed, keep=False": {"resume": True, "keep": False},
    "recomputed (resume=False)": {"resume": False, "keep": True},
}


def cycles(
    pool: DetectorPool,
    store: CandleStore,
    requests: list,
    minute: list[str],
    n: int,
    options: dict,
):
    walls, rows = [], []
    for step in range(n):
        append_one_bar(store, minute, step)
        start = time.perf_counter()
        result = pool.analyze(requests, DETECTORS, progress=False, **options)
        walls.append(time.perf_counter() - start)
        rows.append(result.stats["rows_computed"])
        assert not result.errors
    return walls, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--symbols", type=int, default=77)
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        arms = {}
        for i, (arm, options) in enumerate(ARMS.items()):
            store = CandleStore(root / str(i) / "store")
            candles = write_portfolio(store, args.days, args.symbols)
            requests = [(s.symbol, s.timeframe) for s in store.series()]
            minute = [s.symbol for s in store.series() if s.timeframe == "1m"]
            cache = AnalysisCache(root / str(i) / "cache")
            pool = DetectorPool(store=store, cache=cache)
            start = time.perf_counter()
            first = pool.analyze(requests, DETECTORS, progress=False, **options)
            cold = time.perf_counter() - start
            del first
            written = cache.stats()["raw_bytes_written"]
            walls, rows = cycles(pool, store, requests, minute, args.cycles, options)
            per_cycle = (cache.stats()["raw_bytes_written"] - written) / args.cycles
            arms[arm] = (cold, walls, rows, per_cycle, cache.stats()["bytes_on_disk"])
    base = statistics.median(arms["recomputed (resume=False)"][1])
    heading = "## Resumed pool runs (live cycle)"
    lines = [
        heading,
        "",
        f"`python benches/bench_resume.py --days {args.days} --symbols {args.symbols} "
        f"--cycles {args.cycles}`: {candles:,} candles in {len(requests)} series; each cycle "
        f"appends one bar to each of the {len(minute)} 1m series, then "
        "`DetectorPool(store=..., cache=AnalysisCache(dir)).analyze(series, detectors, ...)` "
        f"with {', '.join(d.removeprefix('native.') for d in DETECTORS)}, 2 workers, "
        "release build, one run, each arm over its own store and cache.",
        "",
        "| arm | first run | cycle (median) | bars stepped per cycle | written per cycle (raw) "
        "| cache on disk | vs recomputed |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for arm, (cold, walls, rows, per_cycle, disk) in arms.items():
        median = statistics.median(walls)
        lines.append(
            f"| {arm} | {cold:.2f} s | {median * 1e3:.0f} ms | "
            f"{int(statistics.median(rows)):,} | {per_cycle / 2**20:,.1f} MB | "
            f"{disk / 2**20:,.0f} MB | {base / median:.1f}x |"
        )
    lines += [
        "",
        "A resumed run steps from the newest stored state of each series and detector (what "
        "is still open, kept in the memory tier too); it stores its own state only when "
        "stepping to it again would cost more than reading it back, with the rows its bars "
        "added (linked to the state before; every 16th link holds the whole tables) when a "
        "run from the first bar found that the rows read back faster than they recompute. "
        "Series whose state does not pay (short higher-timeframe series) are recomputed. "
        "With results held, a cycle also hands out every table whole: the rows before "
        "(held in the memory tier, else read along the links, else recomputed) followed by "
        "the new ones.",
    ]
    print("\n".join(lines))
    if args.out:
        write_section(args.out, heading, lines)


if __name__ == "__main__":
    main()
