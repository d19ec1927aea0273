"""Streaming throughput of ``ictcore.Engine`` with every native detector in one engine, this
build against another (a build from before shared inputs), in one run:

    python benches/bench_engine_graph.py                          # this build only
    python benches/bench_engine_graph.py --baseline OLD_PYTHON    # and an older build

Each build runs in its own process on the same generated series (``ictcore.synthetic``,
seeded); the best of ``--repeat`` runs counts. Arms: all native detectors fed in batches of
1,000 bars (``update_many``), and the nested chain alone (swings, structure, order blocks,
dealing ranges, mitigation blocks), where shared inputs matter most.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import workloads

_CHILD = r"""
import json, sys, time
import ictcore
from ictcore import synthetic

n, repeat = int(sys.argv[1]), int(sys.argv[2])
frame = synthetic.synthetic_frame(7, n)
c = ictcore.Candles.from_pandas(frame)
cols = (c.time, c.open, c.high, c.low, c.close, c.volume)
arms = {
    "all": tuple(ictcore.detect.PRESET),
    "chain": ("swings", "structure", "order_blocks", "dealing_ranges", "mitigation_blocks"),
}
out = {}
for arm, detectors in arms.items():
    best = float("inf")
    for _ in range(repeat):
        e = ictcore.Engine(detectors)
        start = time.perf_counter()
        for a in range(0, n, 1000):
            e.update_many(ictcore.Candles(*(x[a : a + 1000] for x in cols)))
        best = min(best, time.perf_counter() - start)
    out[arm] = {"bars_per_second": n / best, "detectors": len(detectors)}
print(json.dumps(out))
"""


def measure(python: str, bars: int, repeat: int) -> dict[str, dict[str, float]]:
    result: dict[str, dict[str, float]] = workloads.child_json(
        python, "-c", _CHILD, str(bars), str(repeat)
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline", help="python of another build")
    parser.add_argument("--baseline-label", default="before shared inputs")
    args = parser.parse_args()
    builds = {"this build": sys.executable}
    if args.baseline:
        builds[args.baseline_label] = args.baseline
    results = {label: measure(py, args.bars, args.repeat) for label, py in builds.items()}
    print(
        f"One run of `python benches/bench_engine_graph.py --bars {args.bars}"
        f"{' --baseline OLD' if args.baseline else ''}` on {time.strftime('%Y-%m-%d')} "
        "(release builds, best of "
        f"{args.repeat}); bars per second, `update_many` in batches of 1,000.\n"
    )
    header = "| engine | " + " | ".join(builds) + (" | ratio |" if args.baseline else " |")
    print(header)
    print("|---|" + "---:|" * (len(builds) + (1 if args.baseline else 0)))
    names = {"all": "all native detectors", "chain": "swings ⊂ structure ⊂ blocks ⊂ ranges"}
    for arm, label in names.items():
        count = int(results["this build"][arm]["detectors"])
        cells = [f"{results[b][arm]['bars_per_second']:,.0f}" for b in builds]
        row = f"| {label} ({count}) | " + " | ".join(cells)
        if args.baseline:
            ratio = (
                results["this build"][arm]["bars_per_second"]
                / results[args.baseline_label][arm]["bars_per_second"]
            )
            row += f" | {ratio:.2f}x"
        print(row + " |")


if __name__ == "__main__":
    main()
