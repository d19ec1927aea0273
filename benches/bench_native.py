"""Native causal detectors against the closest peers that install from PyPI, written to
BENCHMARKS.md ("## Native detectors").

    pip install '.[bench]'
    python benches/bench_native.py              # W0, 1M and W2 (10M) candles
    python benches/bench_native.py --w2 2000000 # a smaller W2

Batch: every native detector (one thread, input checks and table building included);
``swings``/``structure``/``fvg`` against pyvsmc 0.3.7 (Numba; ``detect_swings``,
``detect_structure``, ``detect_fvg(compute_mitigation=True)``, JIT warmed up first) and
PyIndicators 0.22.0 (pure Python; ``swing_structure``, ``market_structure_choch_bos``,
``fair_value_gap``; W0 and 1M only — it needs seconds per 100k candles). The definitions
differ (pyvsmc's pivots are a centred window; neither keeps a lifecycle log), so these are
the closest calls, not the same computation. Streaming: ``ictcore.Engine`` fed bar by bar
from a Python loop, and in batches of 1,000 bars (``update_many``), against a talipp 2.7.0
EMA fed by ``add`` (the per-bar loop of an incremental-TA library; talipp has no SMC).
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import workloads

import ictcore


def _timed(fn: Callable[[], Any], repeat: int) -> float:
    return workloads.best(fn, repeat)


def batch_rows(name: str, frame: pd.DataFrame, with_pyindicators: bool) -> list[str]:
    import pyvsmc

    c = ictcore.Candles.from_pandas(frame)
    n = len(frame)
    h, lo, cl = c.high, c.low, c.close
    repeat = 5 if n <= 1_000_000 else 2
    functions = {name: getattr(ictcore, name) for name in ictcore.detect.PRESET}
    ours = {name: functools.partial(f, c) for name, f in functions.items()}
    peer = {
        "swings": lambda: pyvsmc.detect_swings(h, lo, window_size=5),
        "structure": lambda: pyvsmc.detect_structure(h, lo, cl, window_size=5),
        "fvg": lambda: pyvsmc.detect_fvg(h, lo, compute_mitigation=True, close=cl),
    }
    pi_frame = frame.rename(columns=str.title)
    if with_pyindicators:
        import pyindicators as pi

        slow = {
            "swings": lambda: pi.swing_structure(pi_frame.copy(), swing_length=5),
            "structure": lambda: pi.market_structure_choch_bos(pi_frame.copy(), length=5),
            "fvg": lambda: pi.fair_value_gap(pi_frame.copy()),
        }
    rows = []
    for detector in ours:
        t_ours = _timed(ours[detector], repeat)
        if detector in peer:
            peer[detector]()  # Numba JIT (cached on disk after the first run)
            t_peer = _timed(peer[detector], repeat)
            peer_cell = f"{t_peer * 1e3:,.1f} ms ({t_peer / t_ours:.1f}x)"
        else:
            peer_cell = "—"
        if with_pyindicators and detector in slow:
            t_pi = _timed(slow[detector], 1)
            pi_cell = f"{t_pi * 1e3:,.1f} ms ({t_pi / t_ours:,.0f}x)"
        else:
            pi_cell = "not run" if detector in peer else "—"
        rows.append(
            f"| {detector} | {name} ({n:,}) | {t_ours * 1e3:,.1f} ms | {n / t_ours / 1e6:.1f} M/s "
            f"| {peer_cell} | {pi_cell} |"
        )
        print(rows[-1], file=sys.stderr)
    return rows


def streaming_rows(frame: pd.DataFrame) -> list[str]:
    from talipp.indicators import EMA

    c = ictcore.Candles.from_pandas(frame)
    n = len(frame)
    bars = list(
        zip(
            c.time.tolist(),
            c.open.tolist(),
            c.high.tolist(),
            c.low.tolist(),
            c.close.tolist(),
            c.volume.tolist(),
            strict=True,
        )
    )

    def per_bar() -> None:
        e = ictcore.Engine()
        for bar in bars:
            e.update(bar)

    def batches_all() -> None:
        e = ictcore.Engine(tuple(ictcore.detect.PRESET))
        for start in range(0, n, 1000):
            e.update_many(_slice(c, start, start + 1000))

    def batches() -> None:
        e = ictcore.Engine()
        for start in range(0, n, 1000):
            e.update_many(_slice(c, start, start + 1000))

    closes = c.close.tolist()

    def talipp_ema() -> None:
        ema = EMA(20)
        for x in closes:
            ema.add(x)

    t_bar = _timed(per_bar, 2)
    t_batch = _timed(batches, 3)
    t_all = _timed(batches_all, 3)
    t_talipp = _timed(talipp_ema, 2)
    return [
        f"| ictcore.Engine (swings + structure + fvg), `update(bar)` per bar from Python | "
        f"{n / t_bar:,.0f} |",
        f"| ictcore.Engine (swings + structure + fvg), `update_many` in batches of 1,000 | "
        f"{n / t_batch:,.0f} |",
        f"| ictcore.Engine (all {len(ictcore.detect.PRESET)} native detectors), `update_many` in "
        f"batches of 1,000 | {n / t_all:,.0f} |",
        f"| talipp 2.7.0 EMA(20), `add(close)` per bar | {n / t_talipp:,.0f} |",
    ]


def _slice(c: ictcore.Candles, a: int, b: int) -> ictcore.Candles:
    return ictcore.Candles._trusted(
        c.time[a:b], c.open[a:b], c.high[a:b], c.low[a:b], c.close[a:b], c.volume[a:b]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--m1", type=int, default=1_000_000, help="candles of the 1M workload")
    parser.add_argument("--w2", type=int, default=10_000_000, help="candles of W2")
    parser.add_argument("--out", type=Path, default=workloads.ROOT / "BENCHMARKS.md")
    args = parser.parse_args()
    w0 = workloads.w0()
    m1 = workloads.generated(args.m1)
    w2 = _w2(args.w2)
    rows = [
        *batch_rows("W0", w0, True),
        *batch_rows("generated", m1, True),
        *batch_rows("W2", w2, False),
    ]
    stream = streaming_rows(workloads.generated(200_000))
    lines = [
        "## Native detectors",
        "",
        f"One run of `python benches/bench_native.py` on {time.strftime('%Y-%m-%d')} "
        f"({os.cpu_count()} cores, one thread used), release build. Time is the best of "
        "several calls (PyIndicators: one call); the ratio is the peer's time over ictcore's. "
        "Closest calls, not identical definitions: pyvsmc's pivots are a centred window and "
        "its FVG mitigation is a flag per gap; ictcore also builds the lifecycle log and every "
        "quality column. Target: >= 20 M candles/s per detector on 1M candles.",
        "",
        "| detector | workload (candles) | ictcore | ictcore throughput | pyvsmc 0.3.7 (Numba) "
        "| PyIndicators 0.22.0 |",
        "|---|---|---:|---:|---:|---:|",
        *rows,
        "",
        "Streaming (200,000 generated bars; target >= 1M bar updates/s for the default set "
        "from Python in batches):",
        "",
        "| loop | bar updates/s |",
        "|---|---:|",
        *stream,
    ]
    workloads.write_section(args.out, lines[0], lines)
    print("\n".join(lines))


def _w2(n: int) -> pd.DataFrame:
    """W2: one long 1m series with the worst cases of the detectors: nine tenths a random walk
    with a steady drift (gaps and swings left behind, never revisited, so open zones pile
    up), then a tenth of plateaus with ties (prices on a 12-tick grid)."""
    from ictcore.synthetic import synthetic_frame

    prices = ["open", "high", "low", "close"]
    head = synthetic_frame(7, n - n // 10, "walk")
    head[prices] = head[prices].to_numpy() + np.linspace(0.0, 2.0, len(head))[:, None]
    tail = synthetic_frame(8, n // 10, "ties")
    tail[prices] = tail[prices].to_numpy() * 1e-4 + float(head["close"].iloc[-1])
    frame = pd.concat([head, tail], ignore_index=True)
    frame.index = pd.date_range("2000-01-03", periods=n, freq="min")
    return frame


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
