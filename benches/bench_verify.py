"""The cost of checking stored blocks when they are first read (issue 13, T4), on W1,
written to BENCHMARKS.md ("## Read-time block verification (W1)").

    pip install '.[bench]'
    python benches/bench_verify.py                       # this build alone
    python benches/bench_verify.py --baseline OLD_PYTHON # and a build from before the checks

Every arm runs in a new process on one W1 store (the files in the page cache, as a live
engine has them): ``load`` maps every series with ``CandleStore.load_batch`` (this build
checks each block's xxh3 on that first read; a build from before only maps); ``cold``
analyses the portfolio with all eight detectors through a new cache (``keep=False``, the
engine's config); ``warm`` runs the same in a new process over the filled cache. With
``--baseline`` the same arms run under another interpreter that has an older ictcore
installed (e.g. a virtualenv built from the commit before the checks), on the same store,
alternating, best of ``--repeat``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import workloads

HERE = Path(__file__).resolve()


def arm(name: str, store_path: Path, cache_path: Path) -> dict[str, Any]:
    """One arm in this process."""
    import ictcore
    from ictcore import AnalysisCache, CandleStore, Config, DetectorPool

    store = CandleStore(store_path, create=False)
    requests = [(s.symbol, s.timeframe) for s in store.series()]
    start = time.perf_counter()
    if name == "load":
        loaded = store.load_batch(requests)
        candles = sum(len(c) for c in loaded)
    elif name.endswith("default"):
        # What a user gets by default: a cache with its defaults, analyze() with its
        # defaults (keep=True: every result held; a progress bar on stderr).
        pool = DetectorPool(store=store, cache=AnalysisCache(cache_path))
        result = pool.analyze(requests)
        assert not result.errors, result.errors
        candles = result.stats["candles"]
    else:
        cache = AnalysisCache.from_config(Config(), cache_path)
        pool = DetectorPool(store=store, cache=cache)
        result = pool.analyze(requests, progress=False, keep=False)
        assert not result.errors, result.errors
        candles = result.stats["candles"]
    return {
        "seconds": time.perf_counter() - start,
        "candles": candles,
        "version": ictcore.__version__,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=364)
    parser.add_argument("--symbols", type=int, default=77)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument(
        "--arms",
        default="load,cold,warm",
        help="comma-separated; also cold-default,warm-default (user defaults, keep=True: "
        "every dense frame held, ~10 GB on full W1, so use them with --days)",
    )
    parser.add_argument("--baseline", help="python of a build from before the checks")
    parser.add_argument("--baseline-label", default="before the checks")
    parser.add_argument("--out", type=Path, default=workloads.ROOT / "BENCHMARKS.md")
    parser.add_argument("--arm", help=argparse.SUPPRESS)
    parser.add_argument("--store", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--cache", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.arm:
        print(json.dumps(arm(args.arm, args.store, args.cache)))
        return

    from ictcore import CandleStore

    work = Path(tempfile.mkdtemp(prefix="ictcore-verify-"))
    arms = args.arms.split(",")
    heading = "## Read-time block verification (W1)"
    if args.arms != "load,cold,warm":
        heading += f" with {args.arms}, {args.days} days"
    builds = {"this build": sys.executable}
    if args.baseline:
        builds[args.baseline_label] = args.baseline
    best: dict[tuple[str, str], float] = {}
    try:
        total = workloads.write_portfolio(CandleStore(work / "store"), args.days, args.symbols)
        print(f"store: {total:,} candles", file=sys.stderr)
        for round_ in range(args.repeat):
            for label, python in builds.items():
                cache = work / f"cache-{round_}-{len(label)}"
                for name in arms:
                    cmd = [python, str(HERE), "--arm", name, "--store", str(work / "store"),
                           "--cache", str(cache)]  # fmt: skip
                    result = workloads.child_json(*cmd)
                    print(label, name, result, file=sys.stderr)
                    key = (label, name)
                    best[key] = min(best.get(key, float("inf")), result["seconds"])
                shutil.rmtree(cache, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    lines = [
        heading,
        "",
        f"`python benches/bench_verify.py --days {args.days} --symbols {args.symbols}"
        f"{' --arms ' + args.arms if args.arms != 'load,cold,warm' else ''}"
        f"{' --baseline OLD' if args.baseline else ''}` on {time.strftime('%Y-%m-%d')} "
        f"({os.cpu_count()} cores): {total:,} candles; each arm a new process, best of "
        f"{args.repeat}. `load` = `load_batch` of every series (this build checks every "
        "block's checksum on that first read); `cold`/`warm` = `DetectorPool.analyze` of all "
        "eight detectors, keep=False, through a new / the filled cache. This build checks "
        "stored blocks in the pool only before computing from them, and keys whole stored "
        "series by the block checksums their writer recorded, so a warm run reads no candle. "
        "`*-default` = `DetectorPool(store=..., cache=AnalysisCache(dir)).analyze(requests)` "
        "with every default (keep=True).",
        "",
        "| arm | " + " | ".join(builds) + (" | ratio |" if args.baseline else " |"),
        "|---|" + "---:|" * (len(builds) + (1 if args.baseline else 0)),
    ]
    for name in arms:
        cells = [f"{best[label, name]:.3f} s" for label in builds]
        if args.baseline:
            ratio = best["this build", name] / best[args.baseline_label, name]
            cells.append(f"{ratio:.2f}x")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    workloads.write_section(args.out, heading, lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
