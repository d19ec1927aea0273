"""Data in: CSV parsing with a source time zone against UTC (the cost of ``tz=``), against
pandas doing the same conversion (``read_csv`` + ``to_datetime`` + ``tz_localize``); and
``Candles.from_polars`` / ``from_arrow`` against ``from_pandas`` on the same bars, in one
run:

    python benches/bench_inputs.py                  # 1M one-minute bars
    python benches/bench_inputs.py --rows 200000 --out BENCHMARKS.md

The zoned file is a MetaTrader 5 export in Athens wall-clock time (its repeated autumn
hour held twice); the UTC file has the same rows stamped in UTC.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from workloads import best, write_section

import ictcore

ZONE = "Europe/Athens"


def write_export(path: Path, stamps: pd.DatetimeIndex, seed: int = 7) -> None:
    rng = np.random.default_rng(seed)
    close = 1.1 + np.cumsum(rng.normal(0, 1e-4, len(stamps)))
    open_ = np.concatenate([[close[0]], close[:-1]])
    spread = np.abs(rng.normal(0, 1e-4, len(stamps)))
    frame = pd.DataFrame(
        {
            "Date": stamps.strftime("%Y.%m.%d %H:%M:%S"),
            "Open": open_.round(5),
            "High": (np.maximum(open_, close) + spread).round(5),
            "Low": (np.minimum(open_, close) - spread).round(5),
            "Close": close.round(5),
            "Tickvol": rng.integers(1, 500, len(stamps)),
        }
    )
    frame.to_csv(path, index=False)


def pandas_zoned(path: Path) -> np.ndarray:
    raw = pd.read_csv(path)
    wall = pd.DatetimeIndex(pd.to_datetime(raw["Date"], format="%Y.%m.%d %H:%M:%S"))
    return wall.tz_localize(ZONE, ambiguous="infer").tz_convert("UTC").as_unit("ns").asi8


def frames(candles: ictcore.Candles, rows: int, repeat: int) -> list[str]:
    """``from_pandas`` vs ``from_polars`` vs ``from_arrow`` on the same bars (a DatetimeIndex
    frame; a polars frame and a pyarrow table with a UTC time column)."""
    out = [
        f"Candles from {rows:,} bars already in memory, best of {repeat}:",
        "",
        "| from | time | vs from_pandas |",
        "|---|---|---|",
    ]
    sources: dict[str, tuple[object, object]] = {
        "from_pandas": (ictcore.Candles.from_pandas, candles.to_pandas())
    }
    try:
        sources["from_polars"] = (ictcore.Candles.from_polars, candles.to_polars())
        sources["from_arrow (polars frame)"] = (ictcore.Candles.from_arrow, candles.to_polars())
    except ictcore.MissingDependencyError:
        out.append("(polars not installed)")
    try:
        sources["from_arrow (pyarrow table)"] = (ictcore.Candles.from_arrow, candles.to_arrow())
    except ictcore.MissingDependencyError:
        out.append("(pyarrow not installed)")
    base = None
    for name, (make, data) in sources.items():
        seconds = best(lambda make=make, data=data: make(data), repeat)  # type: ignore[misc]
        base = base or seconds
        out.append(f"| {name} | {seconds * 1e3:.2f} ms | {seconds / base:.2f}x |")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", type=Path, help="write a section into this BENCHMARKS.md")
    args = parser.parse_args()
    # Minute bars through an autumn transition (starting in summer 2024).
    utc = pd.date_range("2024-09-01", periods=args.rows, freq="1min", tz="UTC")
    with tempfile.TemporaryDirectory() as tmp:
        zoned, plain = Path(tmp) / "zoned.csv", Path(tmp) / "utc.csv"
        write_export(zoned, utc.tz_convert(ZONE).tz_localize(None))
        write_export(plain, utc.tz_localize(None))
        loaded = ictcore.read_csv(plain)
        truth = utc.as_unit("ns").asi8
        assert np.array_equal(ictcore.read_csv(zoned, tz=ZONE).time, truth)
        assert np.array_equal(pandas_zoned(zoned), truth)
        runs = {
            "ictcore, UTC": best(lambda: ictcore.read_csv(plain), args.repeat),
            f"ictcore, tz={ZONE}": best(lambda: ictcore.read_csv(zoned, tz=ZONE), args.repeat),
            "ictcore, tz=+02:00": best(lambda: ictcore.read_csv(plain, tz="+02:00"), args.repeat),
            "pandas, zone converted": best(lambda: pandas_zoned(zoned), max(1, args.repeat // 2)),
        }
    base = runs["ictcore, UTC"]
    heading = "## Data in: source time zones, polars and Arrow"
    lines = [
        heading,
        "",
        f"`python benches/bench_inputs.py --rows {args.rows}`: `read_csv` of {args.rows:,} "
        "one-minute bars (MT5 export layout), best of "
        f"{args.repeat}, release build, 2 cores.",
        "",
        "| parse | time | rows/s | vs ictcore UTC |",
        "|---|---|---|---|",
    ]
    for name, seconds in runs.items():
        lines.append(
            f"| {name} | {seconds * 1e3:.0f} ms | {args.rows / seconds / 1e6:.2f} M | "
            f"{seconds / base:.2f}x |"
        )
    pandas_s = runs["pandas, zone converted"]
    zoned_s = runs[f"ictcore, tz={ZONE}"]
    lines += ["", f"ictcore with `tz={ZONE}` is {pandas_s / zoned_s:.1f}x faster than pandas."]
    lines += ["", *frames(loaded, args.rows, args.repeat)]
    print("\n".join(lines))
    if args.out:
        write_section(args.out, heading, lines)


if __name__ == "__main__":
    main()
