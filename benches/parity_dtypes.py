"""Parity counts per input dtype: ictcore.compat against smartmoneyconcepts 0.0.27 on the
same frames, cell for cell (values and dtypes), for float64, float32, int64 and int32
columns and a per-column mix; and, to show the cases are real, how many cells the library's
own float32/int32 answer differs from its float64 answer on the same values.

    python benches/parity_dtypes.py                # EURUSD 15m + 60 generated frames
    python benches/parity_dtypes.py --generated 200
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

import pandas as pd

os.environ.setdefault("SMC_CREDIT", "0")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from smartmoneyconcepts import smc as reference
from test_parity_dtypes import CALLS, PRICES, in_dtypes

from ictcore.compat import smc as compat
from ictcore.synthetic import synthetic_frame

from conftest import load_eurusd

MIX = {"open": "float32", "high": "float32", "low": "float32", "close": "int64", "volume": "int32"}


def cells(a: pd.DataFrame, b: pd.DataFrame, dtypes: bool = True) -> tuple[int, int]:
    """(cells compared, cells that differ in value, or in dtype when ``dtypes``)."""
    total = a.size
    differ = 0
    for column in a.columns:
        x, y = a[column], b[column]
        if dtypes and x.dtype != y.dtype:
            differ += len(x)
            continue
        x, y = x.astype("float64"), y.astype("float64")
        same = (x.to_numpy() == y.to_numpy()) | (x.isna().to_numpy() & y.isna().to_numpy())
        differ += int((~same).sum())
    return total, differ


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generated", type=int, default=60)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=RuntimeWarning)
    eurusd = load_eurusd("Tickvol").rename(columns=str.lower)
    big = eurusd.assign(volume=eurusd["volume"] * 1_000_000)  # int32 sums overflow
    frames = [eurusd, big] + [
        synthetic_frame(seed, 1500, shape)
        for seed in range(args.generated)
        for shape in ("walk", "ties", "btc")[seed % 3 : seed % 3 + 1]
    ]
    plans = {
        d: dict.fromkeys((*PRICES, "volume"), d) for d in ("float64", "float32", "int64", "int32")
    }
    plans["mixed per column"] = MIX
    print(
        "| input dtypes | calls | cells compared | differ from the library "
        "| cells where the library's answer differs from its float64 one |"
    )
    print("|---|---|---|---|---|")
    for label, plan in plans.items():
        calls = compared = differ = moved = 0
        for frame in frames:
            typed = in_dtypes(frame, plan, scale=1e5 if frame is eurusd or frame is big else 100.0)
            wide = typed.astype("float64")
            for call in CALLS.values():
                want = call(reference, typed)
                got = call(compat, typed)
                n, d = cells(got, want)
                calls, compared, differ = calls + 1, compared + n, differ + d
                moved += cells(want, call(reference, wide), dtypes=False)[1]
        print(f"| {label} | {calls} | {compared:,} | {differ} | {moved:,} |")


if __name__ == "__main__":
    main()
