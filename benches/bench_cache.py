"""Analysis-cache benchmarks, written to BENCHMARKS.md ("## Analysis cache").

    pip install '.[bench]'
    python benches/bench_cache.py            # W0 + 1M generated, and the eviction replay

Measures, in one run:
- per compat function, on W0 and on 1M generated candles: the time of a plain call
  (recompute), of a memory hit and of a disk hit (a new cache object over the same
  directory, so its memory tier is empty); a hit includes hashing the inputs for the key
  and copying the cached columns into the returned frame;
- the compression ratio of the real detector outputs written to disk (target >= 5x over
  the raw column bytes);
- the hit rate of the two eviction policies replaying a trace of repeated W1 scans under
  memory budgets (result sizes scaled down by ``--scale`` with the budgets, which keeps the
  hit rates while fitting in memory).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import workloads
from workloads import best

from ictcore import AnalysisCache
from ictcore.compat import caching, smc
from ictcore.synthetic import TIMEFRAMES


def latency_rows(name: str, frame: Any, work: Path, repeat: int) -> tuple[list[str], float]:
    swings = smc.swing_highs_lows(frame, 5)
    root = work / name
    rows = []
    writer = AnalysisCache(root, disk_writes="all")  # the disk tier itself is measured
    for fn_name, call in workloads.CALLS.items():

        def plain(call: workloads.Call = call) -> Any:
            return call(smc, frame, swings)

        recompute = best(plain, repeat)
        with caching(writer):
            plain()  # the miss: computes and writes the entry
            memory = best(plain, repeat)

        def disk_hit() -> float:
            fresh = AnalysisCache(root, disk_writes="all")
            with caching(fresh):
                start = time.perf_counter()
                plain()
                elapsed = time.perf_counter() - start
            assert fresh.stats()["disk_hits"] == 1
            return elapsed

        disk = min(disk_hit() for _ in range(repeat))
        rows.append(
            f"| {name} | {fn_name} | {recompute * 1e3:.2f} | {memory * 1e3:.2f} "
            f"({recompute / memory:.1f}x) | {disk * 1e3:.2f} ({recompute / disk:.1f}x) |"
        )
    stats = writer.stats()
    return rows, float(stats["compression_ratio"])


def replay(scale: int, rounds: int) -> list[str]:
    """Hit rates of LRU and TinyLFU on repeated W1 scans: every round analyses all 462 series
    x 8 detectors (longest first, as the pool orders work), then re-analyses the 1h/4h/1d
    series three times (the live loop between full runs)."""
    rows_per_day = {tf: 24 * 60 // minutes for tf, minutes in TIMEFRAMES.items()}
    days, symbols, detectors = 364 * 5 // 7, 77, 8
    keys = [
        (s, tf, d, max(1, days * rows_per_day[tf] // scale))
        for tf in TIMEFRAMES
        for s in range(symbols)
        for d in range(detectors)
    ]
    live = [k for k in keys if k[1] in ("1h", "4h", "1d")]
    trace = []
    for _ in range(rounds):
        trace += keys + live * 3
    total = sum(32 * n + 512 for *_, n in keys)  # 4 float64 columns a result
    out = []
    for share in (0.1, 0.3, 0.6):
        rates = {}
        for policy in ("lru", "tinylfu"):
            cache = AnalysisCache(max_memory_bytes=int(total * share), eviction=policy)
            for s, tf, d, n in trace:
                cache.get_or_compute(
                    f"d{d}",
                    {"symbol": s, "timeframe": tf},
                    {},
                    lambda n=n: {c: np.zeros(n) for c in ("a", "b", "c", "d")},
                )
            st = cache.stats()
            rates[policy] = st["memory_hits"] / (st["memory_hits"] + st["misses"])
        out.append(f"| {share:.0%} of all results | {rates['lru']:.1%} | {rates['tinylfu']:.1%} |")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--scale", type=int, default=64, help="W1 result sizes / scale")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent.parent / "BENCHMARKS.md")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ictcore-cache-bench-"))
    try:
        w0_rows, w0_ratio = latency_rows("W0", workloads.w0(), work, repeat=20)
        big_rows, big_ratio = latency_rows(
            f"{args.big // 1000}k", workloads.generated(args.big), work, repeat=3
        )
        trace_rows = replay(args.scale, args.rounds)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    lines = [
        "## Analysis cache",
        "",
        f"One run of `python benches/bench_cache.py` on {time.strftime('%Y-%m-%d')} (release "
        "build). Times in ms, best of several; a hit includes hashing the inputs for the key "
        "and copying the cached columns into the returned frame.",
        "",
        "| workload | function | recompute | memory hit (speed-up) | disk hit (speed-up) |",
        "|---|---|---:|---:|---:|",
        *w0_rows,
        *big_rows,
        "",
        f"Compression of the detector outputs written to disk (raw column bytes / lz4 "
        f"bytes): W0 {w0_ratio:.1f}x, {args.big // 1000}k generated {big_ratio:.1f}x.",
        "",
        f"Memory-tier hit rate replaying {args.rounds} rounds of W1 analysis (462 series x 8 "
        "detectors, longest first, then the 1h/4h/1d series three more times), by memory "
        f"budget (result sizes / {args.scale}, budgets likewise):",
        "",
        "| budget | LRU | TinyLFU |",
        "|---|---:|---:|",
        *trace_rows,
        "",
    ]
    workloads.write_section(args.out, lines[0], lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
