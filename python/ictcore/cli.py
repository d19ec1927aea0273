"""Command line: ``ictcore demo``, ``ictcore import SRC STORE``, ``ictcore verify STORE``,
``ictcore scan STORE``, ``ictcore bench`` (also ``python -m ictcore ...``).

``demo`` runs the eight ``ictcore.compat.smc`` functions on generated candles (no network,
no data files), prints the events each found and its throughput and, where
``smartmoneyconcepts`` is installed, times the same calls there and confirms the results are
identical, cell for cell; then it generates a small W1-shaped portfolio into a temporary
store and scans it with the detector pool: single-thread, parallel cold, parallel warm.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from . import __version__
from .compat import smc
from .synthetic import SHAPES, synthetic_frame

Call = Callable[[Any, pd.DataFrame, Any], pd.DataFrame]

# name, call(module, frame, swings), column counted as "events"
CALLS: list[tuple[str, Call, str]] = [
    ("fvg", lambda m, f, s: m.fvg(f), "FVG"),
    ("swing_highs_lows", lambda m, f, s: m.swing_highs_lows(f, 5), "HighLow"),
    ("bos_choch", lambda m, f, s: m.bos_choch(f, s), "BrokenIndex"),
    ("ob", lambda m, f, s: m.ob(f, s), "OB"),
    ("liquidity", lambda m, f, s: m.liquidity(f, s), "Liquidity"),
    ("previous_high_low", lambda m, f, s: m.previous_high_low(f, "1D"), "PreviousHigh"),
    ("sessions", lambda m, f, s: m.sessions(f, "London"), "Active"),
    ("retracements", lambda m, f, s: m.retracements(f, s), "Direction"),
]


def _timed(fn: Callable[[], pd.DataFrame], repeat: int) -> tuple[pd.DataFrame, float]:
    best = float("inf")
    out = pd.DataFrame()
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return out, best


def _events(frame: pd.DataFrame, column: str) -> int:
    values = frame[column]
    return int((values.notna() & (values != 0)).sum())


def _reference() -> Any | None:
    if importlib.util.find_spec("smartmoneyconcepts") is None:
        return None
    os.environ.setdefault("SMC_CREDIT", "0")  # its import banner
    from smartmoneyconcepts import smc as reference

    return reference


def demo(candles: int, seed: int, shape: str, compare: bool, out: Any = sys.stdout) -> bool:
    """Runs the demo; returns False if a comparison found a difference."""
    frame = synthetic_frame(seed, candles, shape)
    # Regular 15-minute candles, the shape of the user's data.
    frame.index = pd.date_range("2024-01-01", periods=candles, freq="15min")
    print(
        f"ictcore {__version__} demo: {candles:,} generated 15-minute candles "
        f"(shape {shape!r}, seed {seed}); ictcore.compat.smc vs smartmoneyconcepts 0.0.27",
        file=out,
    )
    reference = _reference() if compare else None
    if compare and reference is None:
        print("(smartmoneyconcepts is not installed: no comparison)", file=out)
    swings = smc.swing_highs_lows(frame, 5)
    ref_swings = reference.swing_highs_lows(frame, 5) if reference is not None else None
    header = f"{'function':<18} {'events':>7} {'ictcore ms':>11} {'candles/s':>12}"
    if reference is not None:
        header += f" {'smc ms':>9} {'speed-up':>9}  identical"
    print(header, file=out)
    total_ours = total_ref = 0.0
    all_same = True
    for name, call, column in CALLS:
        ours, t_ours = _timed(partial(call, smc, frame, swings), repeat=3)
        total_ours += t_ours
        line = (
            f"{name:<18} {_events(ours, column):>7,} {t_ours * 1e3:>11.2f} "
            f"{candles / t_ours:>12,.0f}"
        )
        if reference is not None:
            theirs, t_ref = _timed(partial(call, reference, frame, ref_swings), repeat=1)
            total_ref += t_ref
            same = _identical(ours, theirs)
            all_same &= same
            line += f" {t_ref * 1e3:>9.1f} {t_ref / t_ours:>8.0f}x  {'yes' if same else 'NO'}"
        print(line, file=out)
    line = f"{'all eight':<18} {'':>7} {total_ours * 1e3:>11.2f} {candles / total_ours:>12,.0f}"
    if reference is not None:
        line += f" {total_ref * 1e3:>9.1f} {total_ref / total_ours:>8.0f}x  "
        line += "yes" if all_same else "NO"
    print(line, file=out)
    if reference is not None:
        verdict = "identical" if all_same else "DIFFERENT (please report this)"
        print(f"results: {verdict}, cell for cell and dtype for dtype", file=out)
    print(file=out)
    native_demo(frame, out)
    return all_same


def native_demo(frame: pd.DataFrame, out: Any = sys.stdout) -> None:
    """The native causal detectors on the demo's candles: rows, speed, and the replay test
    (cells rewritten over 30 growing prefixes) against the look-ahead of the compat layer."""
    import ictcore

    from .detect import PRESET, replay_rewrites

    head = frame.iloc[: min(len(frame), 6000)]
    print(
        f"native causal detectors on the same candles; replay test on the first {len(head):,}: "
        "cells rewritten over 30 growing prefixes (0 = no look-ahead)",
        file=out,
    )
    print(f"{'detector':<18} {'rows':>7} {'ms':>9} {'candles/s':>12} {'rewrites':>9}", file=out)
    candles = ictcore.Candles.from_pandas(frame)
    for name in PRESET:
        function = getattr(ictcore, name)
        table, seconds = _timed(partial(function, candles), repeat=3)
        rewrites = replay_rewrites(function, head)
        print(
            f"{name:<18} {len(table):>7,} {seconds * 1e3:>9.2f} {len(frame) / seconds:>12,.0f} "
            f"{rewrites:>9,}",
            file=out,
        )
    compat = [
        ("swing_highs_lows", lambda f: smc.swing_highs_lows(f, 5)),
        ("fvg", smc.fvg),
        ("bos_choch", lambda f: smc.bos_choch(f, smc.swing_highs_lows(f, 5))),
        ("liquidity", lambda f: smc.liquidity(f, smc.swing_highs_lows(f, 5))),
    ]
    cells = ", ".join(f"{name} {replay_rewrites(fn, head):,}" for name, fn in compat)
    print(f"compat (= smartmoneyconcepts) rewrites on the same test: {cells}", file=out)


def _identical(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    try:
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    except AssertionError:
        return False
    return True


def import_command(
    source: Path,
    store_path: Path,
    fmt: str,
    if_exists: str,
    out: Any,
    symbol: str | None = None,
    timeframe: str | None = None,
    tz: str = "UTC",
    on_overlap: str = "merge",
) -> int:
    """Imports a CSV file or directory into a store, with a progress bar over the files."""
    from tqdm import tqdm

    from .store import CandleStore

    files = sorted(source.glob("*.csv")) if source.is_dir() else [source]
    if not files:
        print(f"no *.csv file in {source}", file=sys.stderr)
        return 1
    store = CandleStore(store_path)
    total = 0
    failed = 0
    for path in tqdm(files, desc="import", unit="file", disable=len(files) < 2):
        try:
            [done] = store.import_csv(
                path,
                symbol=symbol,
                timeframe=timeframe,
                format=fmt,
                if_exists=if_exists,
                tz=tz,
                on_overlap=on_overlap,
            )
        except (OSError, ValueError) as exc:
            failed += 1
            print(f"FAILED {path}: {exc}", file=out)
            continue
        total += done.added
        volume = done.volume_column or "zeros"
        kept = f", {done.rows - done.added:,} already stored" if done.added != done.rows else ""
        print(
            f"{done.symbol} {done.timeframe}: {done.added:,} rows added{kept} (volume: {volume})",
            file=out,
        )
    print(f"imported {total:,} rows from {len(files) - failed} file(s) into {store_path}", file=out)
    return 1 if failed else 0


def verify_command(store_path: Path, out: Any) -> int:
    """Verifies every series of a store; exit status 1 when anything is damaged."""
    from .store import CandleStore

    report = CandleStore(store_path, create=False).verify()
    print(report, file=out)
    return 0 if report else 1


def _generate_store(root: Path, days: int, symbols: int, out: Any) -> list[tuple[str, str]]:
    from .candles import Candles
    from .store import CandleStore
    from .synthetic import portfolio

    store = CandleStore(root)
    requests = []
    candles = 0
    for symbol, timeframe, cols in portfolio(days=days, symbols=symbols):
        store.write(symbol, timeframe, Candles._trusted(**cols))
        requests.append((symbol, timeframe))
        candles += len(cols["time"])
    print(
        f"generated {len(requests)} series ({symbols} symbols x 6 timeframes, {days} days), "
        f"{candles:,} candles, into {root}",
        file=out,
    )
    return requests


def _timed_scan(
    store_path: Path,
    requests: list[tuple[str, str]],
    detectors: Sequence[str],
    workers: int | None,
    cache: Any,
) -> tuple[Any, float]:
    from .pool import DetectorPool
    from .store import CandleStore

    pool = DetectorPool(workers=workers, store=CandleStore(store_path), cache=cache)
    start = time.perf_counter()
    result = pool.analyze(requests, detectors, progress=False, keep=False)
    return result, time.perf_counter() - start


def portfolio_demo(days: int, symbols: int, out: Any = sys.stdout) -> None:
    """Scans a generated portfolio single-thread, parallel cold and parallel warm."""
    import tempfile

    from ._kpis import peak_rss_mb
    from .cache import AnalysisCache
    from .pool import DETECTORS

    with tempfile.TemporaryDirectory(prefix="ictcore-demo-") as tmp:
        root = Path(tmp)
        requests = _generate_store(root / "store", days, symbols, out)
        _, single = _timed_scan(root / "store", requests, DETECTORS, 1, None)
        _, parallel = _timed_scan(root / "store", requests, DETECTORS, None, None)
        cache = AnalysisCache(root / "cache")
        cold_result, cold = _timed_scan(root / "store", requests, DETECTORS, None, cache)
        kept = int(cache.stats()["disk_writes"])
        warm_result, warm = _timed_scan(root / "store", requests, DETECTORS, None, cache)
        hits, kept_rate, recomputed = _warm_hits(warm_result.stats, kept)
        workers = cold_result.stats["workers"]
        print(f"{'scan (all 8 detectors)':<34} {'seconds':>8} {'speed-up':>9}", file=out)
        print(f"{'single thread, no cache':<34} {single:>8.3f} {'1.0x':>9}", file=out)
        label = f"{workers} workers, no cache"
        print(f"{label:<34} {parallel:>8.3f} {single / parallel:>8.1f}x", file=out)
        print(
            f"{f'{workers} workers, cold cache':<34} {cold:>8.3f} {single / cold:>8.1f}x", file=out
        )
        print(
            f"{f'{workers} workers, warm cache':<34} {warm:>8.3f} {single / warm:>8.1f}x", file=out
        )
        if kept_rate is None:
            warm_text = (
                f"warm cache: none of the {recomputed} results is worth keeping (each "
                "recomputes faster than it reads back)"
            )
        else:
            warm_text = (
                f"warm cache hit rate: {kept_rate:.0%} of the results worth keeping ({hits} "
                f"read back; {recomputed} recomputed: cheaper than reading them back)"
            )
        print(f"{warm_text}; peak memory {peak_rss_mb():.0f} MB", file=out)


def _warm_hits(stats: dict[str, Any], kept: int) -> tuple[int, float | None, int]:
    """(hits, hit rate over the ``kept`` results the cold run wrote or None when it wrote
    none, results recomputed) of a warm run: with ``disk_writes="paying"`` a result that
    recomputes faster than it reads back is never kept, so a warm run recomputes it by
    design, not as a miss (and one near the line may be kept by the warm run instead: timing
    decides, so only the cold run's writes count as what the warm run could read)."""
    hits = stats["memory_hits"] + stats["disk_hits"]
    return hits, (min(1.0, hits / kept) if kept else None), stats["misses"]


def scan_command(args: argparse.Namespace, out: Any) -> int:
    """Runs the pool over a store and prints a summary by timeframe."""
    from .cache import AnalysisCache
    from .config import Config
    from .pool import DETECTORS, DetectorPool
    from .store import CandleStore

    store = CandleStore(args.store, create=False)
    config = Config.from_json(args.config) if args.config else None
    series = store.series()
    requests = [
        (s.symbol, s.timeframe)
        for s in series
        if (not args.symbols or s.symbol in args.symbols)
        and (not args.timeframes or s.timeframe in args.timeframes)
    ]
    if not requests:
        print("no series match", file=out)
        return 1
    cache = None
    if args.cache:
        cache = (
            AnalysisCache.from_config(config, args.cache) if config else AnalysisCache(args.cache)
        )
    pool = DetectorPool(workers=args.workers, cache=cache, store=store, config=config)
    detectors = args.detectors or list(DETECTORS)
    result = pool.analyze(requests, detectors, progress=not args.no_progress, keep=False)
    s = result.stats
    rows: dict[str, list[int]] = {}
    for s_info in series:
        if (s_info.symbol, s_info.timeframe) in requests:
            r = rows.setdefault(s_info.timeframe, [0, 0])
            r[0] += 1
            r[1] += s_info.rows
    print(f"{'timeframe':<10} {'series':>7} {'candles':>13}", file=out)
    for timeframe, (n, candles) in rows.items():
        print(f"{timeframe:<10} {n:>7} {candles:>13,}", file=out)
    hits = s["memory_hits"] + s["disk_hits"]
    not_kept = 0 if cache is None else cache.stats()["skipped_writes"]
    print(
        f"{len(requests)} series x {len(detectors)} detectors in {s['wall_seconds']:.3f} s "
        f"with {s['workers']} workers ({s['candles_per_second'] / 1e6:.1f}M candles/s, "
        f"utilisation {s['utilisation']:.0%}); cache hits {hits}, misses {s['misses']} "
        f"({not_kept} not kept: cheaper to recompute than to read back)",
        file=out,
    )
    for (symbol, timeframe), error in result.errors.items():
        print(f"FAILED {symbol} {timeframe}: {error}", file=out)
    return 1 if result.errors else 0


def bench_command(args: argparse.Namespace, out: Any) -> int:
    """The engine plan's KPIs against the config's targets, on ``--store`` (the user's own
    candles, never written to) or on a generated W1 portfolio; exit 1 when one is missed."""
    import json
    import tempfile

    from ._kpis import measure, print_report
    from .config import Config
    from .pool import DETECTORS
    from .store import CandleStore

    config = Config.from_json(args.config) if args.config else Config()
    detectors = args.detectors or list(DETECTORS)
    if args.cycles < 1:
        print("--cycles must be at least 1", file=sys.stderr)
        return 2

    def log(text: str) -> None:
        print(text, file=sys.stderr if args.json else out, flush=True)

    with tempfile.TemporaryDirectory(prefix="ictcore-bench-") as tmp:
        if args.store is None:
            root = Path(tmp) / "store"
            _generate_store(root, args.days, args.symbols, sys.stderr if args.json else out)
            store = CandleStore(root)
        else:
            store = CandleStore(args.store, create=False)
        requests = [
            (s.symbol, s.timeframe)
            for s in store.series()
            if (not args.only_symbols or s.symbol in args.only_symbols)
            and (not args.timeframes or s.timeframe in args.timeframes)
        ]
        if not requests:
            print("no series match", file=sys.stderr)
            return 1
        report = measure(
            store,
            requests,
            detectors,
            config,
            cycles=args.cycles,
            log=log,
            disk_writes="all" if args.keep_all else "paying",
        )
    if args.json:
        print(json.dumps(report, indent=2), file=out)
    else:
        print_report(report, out)
    return 0 if report["all_met"] else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ictcore", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"ictcore {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p_demo = sub.add_parser("demo", help="run the compat functions on generated candles")
    p_demo.add_argument("--candles", type=int, default=30_000, help="candles to generate")
    p_demo.add_argument("--seed", type=int, default=7)
    p_demo.add_argument("--shape", choices=SHAPES, default="walk")
    p_demo.add_argument(
        "--no-compare", action="store_true", help="skip the smartmoneyconcepts comparison"
    )
    p_import = sub.add_parser("import", help="import CSV candles (a file or a directory)")
    p_import.add_argument("source", type=Path, help="a CSV file or a directory of *.csv")
    p_import.add_argument("store", type=Path, help="the store directory (created if needed)")
    p_import.add_argument("--format", choices=("auto", "mt5", "ohlcv"), default="auto")
    p_import.add_argument("--if-exists", choices=("append", "replace", "error"), default="append")
    p_import.add_argument("--symbol", help="the series' symbol (default: from the file name)")
    p_import.add_argument(
        "--timeframe", help="the series' timeframe, e.g. 1m, 1h, 1d (default: from the file name)"
    )
    p_import.add_argument(
        "--tz",
        default="UTC",
        help="zone of the file's naive times: an IANA name (Europe/Athens), an offset (+02:00) "
        "or a shifted zone (America/New_York+07:00); default UTC",
    )
    p_import.add_argument(
        "--on-overlap",
        choices=("merge", "replace", "error"),
        default="merge",
        help="rows at times already stored: merge (must be equal; the rest is added), "
        "replace (the file wins over its time range) or error",
    )
    p_verify = sub.add_parser("verify", help="check every file and block checksum of a store")
    p_verify.add_argument("store", type=Path)
    p_demo.add_argument("--days", type=int, default=60, help="days of the generated portfolio")
    p_demo.add_argument("--symbols", type=int, default=16, help="symbols of the portfolio")
    p_scan = sub.add_parser("scan", help="run the detectors over a store with the pool")
    p_scan.add_argument("store", type=Path)
    p_scan.add_argument("--symbols", nargs="*", help="only these symbols")
    p_scan.add_argument("--timeframes", nargs="*", help="only these timeframes")
    p_scan.add_argument("--detectors", nargs="*", help="detector names (default: all eight)")
    p_scan.add_argument("--cache", type=Path, help="analysis cache directory")
    p_scan.add_argument("--workers", type=int, help="worker threads (default: the cores)")
    p_scan.add_argument("--config", type=Path, help="optimization_config.json")
    p_scan.add_argument("--no-progress", action="store_true")
    p_bench = sub.add_parser(
        "bench", help="the engine plan's KPIs on a store (default: a generated W1) vs targets"
    )
    p_bench.add_argument("--store", type=Path, help="your store (read only; default: generate)")
    p_bench.add_argument("--config", type=Path, help="optimization_config.json (the targets)")
    p_bench.add_argument("--json", action="store_true", help="the report as JSON on stdout")
    p_bench.add_argument(
        "--cycles", type=int, default=5, help="live cycles (minutes) replayed (default 5)"
    )
    p_bench.add_argument("--detectors", nargs="*", help="detector names (default: all eight)")
    p_bench.add_argument(
        "--keep-all",
        action="store_true",
        help="the cache keeps every result (default: only those that pay, as AnalysisCache)",
    )
    p_bench.add_argument(
        "--only-symbols", nargs="*", metavar="SYMBOL", help="only these symbols of the store"
    )
    p_bench.add_argument("--timeframes", nargs="*", help="only these timeframes")
    p_bench.add_argument(
        "--days", type=int, default=364, help="generated: days of W1 (364: all of it)"
    )
    p_bench.add_argument("--symbols", type=int, default=77, help="generated: symbols")
    args = parser.parse_args(argv)
    if args.command == "scan":
        return scan_command(args, sys.stdout)
    if args.command == "bench":
        return bench_command(args, sys.stdout)
    if args.command == "import":
        return import_command(
            args.source,
            args.store,
            args.format,
            args.if_exists,
            sys.stdout,
            symbol=args.symbol,
            timeframe=args.timeframe,
            tz=args.tz,
            on_overlap=args.on_overlap,
        )
    if args.command == "verify":
        return verify_command(args.store, sys.stdout)
    if args.command == "demo":
        if args.candles < 1:
            parser.error("--candles must be at least 1")
        same = demo(args.candles, args.seed, args.shape, not args.no_compare)
        if args.days > 0 and args.symbols > 0:
            print(file=sys.stdout)
            portfolio_demo(args.days, args.symbols)
        return 0 if same else 1
    return 2  # pragma: no cover - argparse enforces the subcommand


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
