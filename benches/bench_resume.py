"""A live cycle through the pool: append one bar to every 1m series of the W1 portfolio (or a
``--days`` fraction of it), then ``DetectorPool.analyze`` the five native detectors of the
engine's live loop over every series. Resumed runs (a disk cache holding run states) step only
the new bars; the baseline is the same call through a memory-only cache, which recomputes
each changed series from its first bar. One run, both arms in this process:

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


def cycles(
    pool: DetectorPool, store: CandleStore, requests: list, minute: list[str], n: int, resume: bool
):
    walls, rows = [], []
    for step in range(n):
        append_one_bar(store, minute, step)
        start = time.perf_counter()
        result = pool.analyze(
            requests, DETECTORS, progress=False, keep=False, _resume_native=resume
        )
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
        for arm in ("resumed (disk cache)", "recomputed (memory cache)"):
            store = CandleStore(root / arm.split()[0] / "store")
            candles = write_portfolio(store, args.days, args.symbols)
            requests = [(s.symbol, s.timeframe) for s in store.series()]
            minute = [s.symbol for s in store.series() if s.timeframe == "1m"]
            cache = AnalysisCache(root / arm.split()[0] / "cache" if "disk" in arm else None)
            pool = DetectorPool(store=store, cache=cache)
            start = time.perf_counter()
            first = pool.analyze(
                requests, DETECTORS, progress=False, keep=False, _resume_native="disk" in arm
            )
            cold = time.perf_counter() - start
            written = cache.stats()["raw_bytes_written"]
            walls, rows = cycles(pool, store, requests, minute, args.cycles, "disk" in arm)
            per_cycle = (cache.stats()["raw_bytes_written"] - written) / args.cycles
            arms[arm] = (cold, walls, rows, first.stats["rows_computed"])
            if "disk" in arm:
                state_bytes = per_cycle
    base = statistics.median(arms["recomputed (memory cache)"][1])
    heading = "## Resumed pool runs (live cycle)"
    lines = [
        heading,
        "",
        f"`python benches/bench_resume.py --days {args.days} --symbols {args.symbols} "
        f"--cycles {args.cycles}`: {candles:,} candles in {len(requests)} series; each cycle "
        f"appends one bar to each of the {len(minute)} 1m series, then analyses every series "
        f"with {', '.join(d.removeprefix('native.') for d in DETECTORS)} (`keep=False`), "
        "2 workers, release build, one run.",
        "",
        "| arm | first run | cycle (median) | bars stepped per cycle | vs recomputed |",
        "|---|---:|---:|---:|---:|",
    ]
    for arm, (cold, walls, rows, first_rows) in arms.items():
        median = statistics.median(walls)
        lines.append(
            f"| {arm} | {cold:.3f} s ({first_rows:,} bars stepped) | {median * 1e3:.1f} ms | "
            f"{int(statistics.median(rows)):,} | {base / median:.1f}x |"
        )
    lines += [
        "",
        f"A resumed cycle writes {state_bytes / 2**20:,.0f} MB of run states (each changed "
        "series' state holds its detector's whole event log); that I/O costs more than the "
        "bar-steps it saves, so resuming stays off (`_resume_native=True` turns it on) "
        "until states hold only what is still open.",
    ]
    print("\n".join(lines))
    if args.out:
        write_section(args.out, heading, lines)


if __name__ == "__main__":
    main()
