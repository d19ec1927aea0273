"""Engine checkpoints against the pickle they replace: bytes and time to save and to restore
an Engine after N bars, through ``checkpoint()``/``from_checkpoint`` (what pickling now
uses) and through the former pickle (every bar, replayed on load), in one run:

    python benches/bench_checkpoint.py                      # 248k bars, default detectors
    python benches/bench_checkpoint.py --all --out BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import pickle
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from workloads import best, generated, write_section

import ictcore
from ictcore import Candles, Engine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=248_000)
    parser.add_argument("--all", action="store_true", help="every native detector")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    detectors = tuple(ictcore.detect.PRESET) if args.all else ("swings", "structure", "fvg")
    candles = Candles.from_pandas(generated(args.bars))
    engine = Engine(detectors)
    engine.update_many(candles)

    data = engine.checkpoint()
    old_state = {
        "detectors": engine.detectors,
        "params": engine.params,
        "bars": engine._native.bars(),
    }
    old_pickle = pickle.dumps(old_state)
    new_pickle = pickle.dumps(engine)

    def old_load() -> None:
        e = object.__new__(Engine)
        e.__setstate__(pickle.loads(old_pickle))

    runs = {
        "checkpoint()": best(engine.checkpoint, args.repeat),
        "from_checkpoint()": best(lambda: Engine.from_checkpoint(data), args.repeat),
        "pickle.dumps (checkpoint)": best(lambda: pickle.dumps(engine), args.repeat),
        "pickle.loads (checkpoint)": best(lambda: pickle.loads(new_pickle), args.repeat),
        "former pickle.dumps (bars)": best(lambda: pickle.dumps(old_state), args.repeat),
        "former pickle.loads (bars, replayed)": best(old_load, args.repeat),
    }
    replay = runs["former pickle.loads (bars, replayed)"]
    heading = "## Engine checkpoints"
    lines = [
        heading,
        "",
        f"`python benches/bench_checkpoint.py --bars {args.bars}{' --all' if args.all else ''}`: "
        f"an Engine of {', '.join(detectors)} after {args.bars:,} generated bars, best of "
        f"{args.repeat}, release build.",
        "",
        f"- checkpoint: {len(data) / 2**20:.2f} MB ({len(data) / args.bars:.1f} bytes per bar); "
        f"pickle now {len(new_pickle) / 2**20:.2f} MB, former pickle "
        f"{len(old_pickle) / 2**20:.2f} MB",
        "",
        "| operation | time |",
        "|---|---|",
        *(f"| {name} | {seconds * 1e3:.1f} ms |" for name, seconds in runs.items()),
        "",
        f"Restoring is {replay / runs['pickle.loads (checkpoint)']:.1f}x faster than the replay "
        "it replaces. The bars are most of the bytes (48 a bar); detector state is the rest.",
    ]
    print("\n".join(lines))
    if args.out:
        write_section(args.out, heading, lines)


if __name__ == "__main__":
    main()
