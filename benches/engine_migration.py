"""The user's situation reproduced: smartmoneyconcepts serial and over multiprocessing, against
ictcore, on the same generated portfolio (W1 or a ``--days`` fraction), written to
BENCHMARKS.md ("## Engine migration (W1)").

    pip install '.[bench]'
    python benches/engine_migration.py              # full W1: 77 symbols x 6 timeframes

Arms, each in its own process (so each peak RSS is its own):
  (a) smartmoneyconcepts, serial;  (b) smartmoneyconcepts over ``multiprocessing.Pool(2)``
      (candles pickled to the workers, as the engine does) — both on a fraction of the
      portfolio (``--smc-days`` days of ``--smc-symbols`` symbols; the library is quadratic in
      places and would take hours on W1) and extrapolated to W1 by candles/s, labelled so;
  (c) ictcore, one thread (DetectorPool(workers=1), no cache); (c') all cores, no cache;
  (d) DetectorPool, cold cache;  (e) DetectorPool, warm cache (a new process: disk hits);
  (f) after appending one bar to every 1m series (only those are recomputed).
All eight detectors with their default parameters (swing_length 50; sessions "London").
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import workloads

HERE = Path(__file__).resolve()


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _smc_all(args: tuple[Any, Any]) -> int:
    """The eight smartmoneyconcepts calls on one series (what the engine's worker does)."""
    os.environ.setdefault("SMC_CREDIT", "0")
    from smartmoneyconcepts import smc

    frame = args[1]
    swings = smc.swing_highs_lows(frame, 50)
    smc.fvg(frame)
    smc.bos_choch(frame, swings)
    smc.ob(frame, swings)
    smc.liquidity(frame, swings)
    smc.previous_high_low(frame, "1D")
    smc.sessions(frame, "London")
    smc.retracements(frame, swings)
    return len(frame)


def arm(name: str, store_path: Path, cache_path: Path, smc_series: list[str]) -> dict[str, Any]:
    """Runs one arm in this process; returns its measures."""
    from ictcore import AnalysisCache, Candles, CandleStore, Config, DetectorPool

    store = CandleStore(store_path)
    requests = [(s.symbol, s.timeframe) for s in store.series()]
    if name in ("a", "b"):
        frames = []
        for key in smc_series:
            symbol, timeframe = key.split("/")
            frames.append((key, store.read(symbol, timeframe).to_pandas()))
        candles = sum(len(f) for _, f in frames)
        start = time.perf_counter()
        if name == "a":
            for item in frames:
                _smc_all(item)
        else:
            with multiprocessing.get_context("fork").Pool(2) as pool:
                pool.map(_smc_all, frames, chunksize=1)
        seconds = time.perf_counter() - start
        children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        return {"seconds": seconds, "candles": candles, "rss_mb": max(_rss_mb(), children)}
    # The engine's config sizes the cache (200 MB memory tier, 1 h TTL).
    cache = None if name in ("c", "p") else AnalysisCache.from_config(Config(), cache_path)
    pool = DetectorPool(workers=1 if name == "c" else None, store=store, cache=cache)
    if name == "f":
        for symbol, timeframe in requests:
            if timeframe == "1m":
                last = store.read(symbol, timeframe)
                t = int(last.time[-1]) + 60_000_000_000
                p = float(last.close[-1])
                store.append(
                    symbol,
                    timeframe,
                    Candles.from_numpy(
                        time=[t], open=[p], high=[p], low=[p], close=[p], volume=[1.0]
                    ),
                )
    start = time.perf_counter()
    result = pool.analyze(requests, progress=False, keep=False)  # smc arms keep nothing either
    seconds = time.perf_counter() - start
    s = result.stats
    return {
        "seconds": seconds,
        "candles": s["candles"],
        "rss_mb": _rss_mb(),
        "misses": s["misses"],
        "hits": s["memory_hits"] + s["disk_hits"],
        "workers": s["workers"],
        "utilisation": s["utilisation"],
        "failed": len(result.errors),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=364)
    parser.add_argument("--symbols", type=int, default=77)
    parser.add_argument("--smc-days", type=int, default=3)
    parser.add_argument("--smc-symbols", type=int, default=2)
    parser.add_argument("--out", type=Path, default=workloads.ROOT / "BENCHMARKS.md")
    parser.add_argument("--arm", help=argparse.SUPPRESS)
    parser.add_argument("--store", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--cache", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--smc-series", nargs="*", default=[], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.arm:
        print(json.dumps(arm(args.arm, args.store, args.cache, args.smc_series)))
        return

    from ictcore import Candles, CandleStore
    from ictcore.synthetic import portfolio

    work = Path(tempfile.mkdtemp(prefix="ictcore-migration-"))
    try:
        total = workloads.write_portfolio(CandleStore(work / "store"), args.days, args.symbols)
        # The smartmoneyconcepts fraction: the first symbols' series over the first days.
        sample = CandleStore(work / "sample")
        smc_series = []
        for symbol, timeframe, cols in portfolio(days=args.smc_days, symbols=args.smc_symbols):
            sample.write(symbol, timeframe, Candles._trusted(**cols))
            smc_series.append(f"{symbol}/{timeframe}")
        print(f"W1 store: {total:,} candles; smc sample: {len(smc_series)} series", file=sys.stderr)

        def run(name: str, store_path: Path) -> dict[str, Any]:
            cmd = [
                sys.executable,
                str(HERE),
                "--arm",
                name,
                "--store",
                str(store_path),
                "--cache",
                str(work / "cache"),
                "--smc-series",
                *smc_series,
            ]
            done = subprocess.run(cmd, capture_output=True, text=True, check=True)
            result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
            print(name, result, file=sys.stderr)
            return result

        arms = {
            name: run(name, work / ("sample" if name in "ab" else "store")) for name in "abcpdef"
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def rate(r: dict[str, Any]) -> float:
        return float(r["candles"]) / float(r["seconds"])

    smc_serial_w1 = total / rate(arms["a"])
    smc_pool_w1 = total / rate(arms["b"])
    c = arms["c"]["seconds"]
    lines = [
        "## Engine migration (W1)",
        "",
        f"One run of `python benches/engine_migration.py --days {args.days} --symbols "
        f"{args.symbols}` on {time.strftime('%Y-%m-%d')} ({os.cpu_count()} cores): "
        f"{total:,} candles, all eight detectors (defaults). Each arm runs in its own process; "
        "RSS is that process's peak (for (b) the largest of parent and workers).",
        "",
        "| arm | time | vs (a) serial smc | vs (c) one thread | peak RSS |",
        "|---|---:|---:|---:|---:|",
        f"| (a) smartmoneyconcepts serial — measured on {arms['a']['candles']:,} candles "
        f"({args.smc_symbols} symbols x {args.smc_days} days), **extrapolated** to W1 by "
        f"candles/s | {smc_serial_w1:,.0f} s (measured {arms['a']['seconds']:.1f} s) | 1x | "
        f"{smc_serial_w1 / c:.2f}x slower | {arms['a']['rss_mb']:.0f} MB |",
        f"| (b) smartmoneyconcepts, multiprocessing.Pool(2) — same sample, **extrapolated** | "
        f"{smc_pool_w1:,.0f} s (measured {arms['b']['seconds']:.1f} s) | "
        f"{smc_serial_w1 / smc_pool_w1:.2f}x | — | {arms['b']['rss_mb']:.0f} MB |",
    ]
    for name, label in [
        ("c", "(c) ictcore, one thread, no cache"),
        ("p", f"(c') DetectorPool ({arms['p']['workers']} workers), no cache"),
        ("d", f"(d) DetectorPool ({arms['d']['workers']} workers), cold cache"),
        ("e", "(e) DetectorPool, warm cache (new process: disk tier)"),
        ("f", "(f) after one new bar on each 1m series"),
    ]:
        r = arms[name]
        extra = f", {r['misses']} computed / {r['hits']} from cache" if name in "def" else ""
        lines.append(
            f"| {label}{extra} | {r['seconds']:.3f} s | {smc_serial_w1 / r['seconds']:,.0f}x | "
            f"{c / r['seconds']:.2f}x | {r['rss_mb']:.0f} MB |"
        )
    d = arms["d"]
    lines += [
        "",
        f"Targets on W1: cold <= 3 s: {d['seconds']:.2f} s with the cache filled on the way "
        f"({arms['p']['seconds']:.2f} s without a cache); warm <= 0.3 s: "
        f"{arms['e']['seconds']:.2f} s; parallel efficiency >= 0.9 per core: "
        f"{c / arms['p']['seconds'] / arms['p']['workers']:.2f} (no cache), "
        f"{c / d['seconds'] / d['workers']:.2f} (cold cache, its writes included); "
        f"peak RSS <= 500 MB: {max(arms[k]['rss_mb'] for k in 'cpdef'):.0f} MB.",
        "",
    ]
    workloads.write_section(args.out, lines[0], lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
