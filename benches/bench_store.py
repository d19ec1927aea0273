"""Candle-store benchmarks on W1 (or a ``--days`` fraction of it), written to BENCHMARKS.md.

    pip install '.[bench]'
    python benches/bench_store.py --days 364      # the full W1: 77 symbols x 6 timeframes

Measures, in one run:
- writing W1 into a store (rows/s);
- opening and viewing all 462 series with ``load_batch``, warm (target < 50 ms), against
  ``np.load`` of the same columns as .npy files and ``pandas.read_csv`` of CSV copies
  (CSV only for a subset: it is slow), and ``pandas.read_parquet`` when pyarrow is installed;
- CSV import throughput against ``pandas.read_csv`` on the same file (target >= 3x);
- append latency per batch for both durability modes.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import workloads
from workloads import best

import ictcore
from ictcore import Candles, CandleStore
from ictcore.synthetic import portfolio


def drop_page_cache() -> bool:
    """Empties the kernel's page cache (root only); False when not allowed."""
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("1\n")
        return True
    except OSError:
        return False


def cold(fn) -> float | None:  # type: ignore[no-untyped-def]
    """The time of ``fn`` right after the page cache was dropped (best of 2), or None."""
    times = []
    for _ in range(2):
        if not drop_page_cache():
            return None
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=364)
    parser.add_argument("--symbols", type=int, default=77)
    parser.add_argument("--csv-series", type=int, default=12, help="series compared as CSV")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent.parent / "BENCHMARKS.md")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="ictcore-bench-"))
    try:
        store = CandleStore(work / "store")
        npy = work / "npy"
        npy.mkdir()
        requests = []
        rows = 0
        start = time.perf_counter()
        written = {}
        for symbol, timeframe, cols in portfolio(args.days, args.symbols):
            c = Candles._trusted(**cols)
            store.write(symbol, timeframe, c)
            written[symbol, timeframe] = cols
            requests.append((symbol, timeframe))
            rows += len(c)
        write_s = time.perf_counter() - start
        for (symbol, timeframe), cols in written.items():
            np.save(npy / f"{symbol}_{timeframe}.npy", np.column_stack(list(cols.values())))
        print(f"wrote {len(requests)} series, {rows:,} candles", file=sys.stderr)

        load_s = best(lambda: store.load_batch(requests))
        fresh_s = best(lambda: CandleStore(work / "store").load_batch(requests), repeat=3)
        npy_files = sorted(npy.glob("*.npy"))
        npy_s = best(lambda: [np.load(p) for p in npy_files], repeat=3)

        # CSV and parquet for a subset (the largest series first: the 1m ones).
        subset = [r for r in requests if r[1] == "1m"][: args.csv_series]
        csv_dir = work / "csv"
        csv_dir.mkdir()
        for symbol, timeframe in subset:
            cols = written[symbol, timeframe]
            frame = pd.DataFrame({k: v for k, v in cols.items() if k != "time"})
            frame.insert(0, "time", pd.to_datetime(cols["time"]).strftime("%Y-%m-%d %H:%M:%S"))
            frame.to_csv(csv_dir / f"{symbol}_{timeframe}.csv", index=False)
        subset_rows = sum(len(written[r]["time"]) for r in subset)
        csv_files = sorted(csv_dir.glob("*.csv"))
        read_csv_s = best(lambda: [pd.read_csv(p) for p in csv_files], repeat=2)
        read_csv_dates_s = best(
            lambda: [pd.read_csv(p, parse_dates=["time"]) for p in csv_files], repeat=2
        )
        our_csv_s = best(lambda: [ictcore.read_csv(p) for p in csv_files], repeat=3)
        subset_load_s = best(lambda: store.load_batch(subset))
        parquet_rows = ["| `pandas.read_parquet` | pyarrow not installed: not measured |"]
        if importlib.util.find_spec("pyarrow"):
            pq_dir = work / "pq"
            pq_dir.mkdir()
            for p in csv_files:
                pd.read_csv(p, parse_dates=["time"]).to_parquet(pq_dir / (p.stem + ".parquet"))
            pq_files = sorted(pq_dir.glob("*.parquet"))
            pq_s = best(lambda: [pd.read_parquet(p) for p in pq_files], repeat=3)
            parquet_rows = [
                f"| `pandas.read_parquet` of the same {len(subset)} series, warm | "
                f"{pq_s * 1e3:.1f} ms ({pq_s / subset_load_s:,.0f}x slower than "
                "`load_batch`) |"
            ]
            pq_cold = cold(lambda: [pd.read_parquet(p) for p in pq_files])
            if pq_cold is not None:
                parquet_rows.append(
                    f"| `pandas.read_parquet` of them, cold page cache | {pq_cold * 1e3:.0f} ms |"
                )

        # Cold page cache (root only): a new store object maps and reads every page.
        def touch_all(batch: list[Candles]) -> None:
            for c in batch:
                for name in ("time", "open", "high", "low", "close", "volume"):
                    getattr(c, name).sum()

        store_cold = cold(lambda: touch_all(CandleStore(work / "store").load_batch(requests)))
        subset_cold = cold(lambda: touch_all(CandleStore(work / "store").load_batch(subset)))
        npy_cold = cold(lambda: [np.load(p).sum() for p in npy_files])
        if store_cold is None or subset_cold is None or npy_cold is None:
            cold_rows = ["| cold page cache | not measured: dropping the page cache needs root |"]
        else:
            cold_rows = [
                f"| `load_batch` of all {len(requests)} series + reading every value, cold "
                f"page cache | {store_cold * 1e3:.0f} ms ({rows * 48 / store_cold / 1e9:.2f} "
                "GB/s) |",
                f"| `np.load` + sum of the same .npy files, cold page cache | "
                f"{npy_cold * 1e3:.0f} ms |",
                f"| `load_batch` of the {len(subset)} CSV-compared series + reading every "
                f"value, cold | {subset_cold * 1e3:.0f} ms |",
            ]

        # Import throughput: the same CSV files, ictcore vs pandas.read_csv.
        def import_all() -> None:
            target = CandleStore(work / f"import-{time.perf_counter_ns()}")
            target.import_csv(csv_dir, format="ohlcv")

        import_s = best(import_all, repeat=2)

        # Append latency per batch (one 1m bar, then 60 bars), both durability modes.
        latency = {}
        for mode in ("full", "os"):
            s = CandleStore(work / f"append-{mode}")
            cols = written[subset[0]]
            step = 60
            times = []
            for k in range(0, 200 * step, step):
                part = Candles._trusted(*(v[k : k + step] for v in cols.values()))
                t0 = time.perf_counter()
                s.append("X", "1m", part, durability=mode)
                times.append(time.perf_counter() - t0)
            latency[mode] = statistics.median(times[10:])

        lines = [
            "## Candle store (W1)",
            "",
            f"One run of `python benches/bench_store.py --days {args.days} --symbols "
            f"{args.symbols}` on {time.strftime('%Y-%m-%d')}: {len(requests)} series, "
            f"{rows:,} candles ({rows * 48 / 1e9:.2f} GB of columns).",
            "",
            "| measure | result |",
            "|---|---:|",
            f"| write all series (`CandleStore.write`) | {write_s:.1f} s, "
            f"{rows / write_s / 1e6:.1f} M candles/s |",
            f"| `load_batch` of all {len(requests)} series, warm (same store object) | "
            f"{load_s * 1e3:.1f} ms |",
            f"| `load_batch` of all {len(requests)} series, warm, new store object | "
            f"{fresh_s * 1e3:.1f} ms |",
            f"| `np.load` of the same data as {len(npy_files)} .npy files, warm | "
            f"{npy_s * 1e3:.1f} ms ({npy_s / fresh_s:,.0f}x slower) |",
            f"| `pandas.read_csv` of {len(subset)} 1m series ({subset_rows:,} rows) | "
            f"{read_csv_s * 1e3:.0f} ms vs `load_batch` {subset_load_s * 1e3:.2f} ms "
            f"({read_csv_s / subset_load_s:,.0f}x) |",
            *parquet_rows,
            *cold_rows,
            f"| `pandas.read_csv` of those files (time as text / `parse_dates`) | "
            f"{read_csv_s * 1e3:.0f} ms / {read_csv_dates_s * 1e3:.0f} ms |",
            f"| `ictcore.read_csv` of the same files (parse + checks, no storing) | "
            f"{our_csv_s * 1e3:.0f} ms: {read_csv_s / our_csv_s:.2f}x / "
            f"{read_csv_dates_s / our_csv_s:.2f}x pandas |",
            "| CSV import of those files into a new store (`import_csv`: parse, checks, "
            f"durable write) | {import_s * 1e3:.0f} ms, "
            f"{subset_rows / import_s / 1e6:.2f} M rows/s: {read_csv_s / import_s:.2f}x / "
            f"{read_csv_dates_s / import_s:.2f}x pandas |",
            f'| append of a 60-row batch, median (`durability="full"`) | '
            f"{latency['full'] * 1e3:.2f} ms |",
            f'| append of a 60-row batch, median (`durability="os"`) | '
            f"{latency['os'] * 1e3:.2f} ms |",
            "",
        ]
        workloads.write_section(args.out, lines[0], lines)
        print("\n".join(lines))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
