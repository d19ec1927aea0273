"""Hypothesis fuzzing of ictcore's public entry points, run as a script in its own process
by ``test_fuzz.py`` (which reports a signal or a hang of this process as a failure).

Every call gets arbitrary, often hostile, arguments. A call may succeed or raise one of the
documented errors (``ValueError``, ``TypeError``, ``LookupError``, ``OSError`` and
``ictcore.IctError`` subclasses); anything else — another exception type, a crash, a hang —
is a finding. Before each call the script writes what it is about to call to the file given
as its second argument, so a crash names its input.

Usage: ``python fuzz_entry_points.py WORKDIR LOGFILE [EXAMPLES]``.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ictcore
from ictcore.compat import smc

WORK = Path(sys.argv[1])
LOG = Path(sys.argv[2])
EXAMPLES = int(sys.argv[3]) if len(sys.argv) > 3 else 100
ALLOWED = (ValueError, TypeError, LookupError, OSError, ictcore.IctError)
findings: list[str] = []
counter = [0]


def call(what: str, fn: Callable[[], Any]) -> None:
    """Runs one call; records anything but success or a documented error."""
    counter[0] += 1
    with LOG.open("w") as log:
        log.write(what[:20_000])
    try:
        fn()
    except ALLOWED:
        pass
    except Exception:
        findings.append(f"{what[:2000]}\n{traceback.format_exc()}")


# -- strategies ------------------------------------------------------------------------------

floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e-300, 1e300, 1.1, 1.10001]),
)
ints = st.one_of(
    st.integers(-(2**70), 2**70),
    st.sampled_from([0, 1, -1, 2**31, 2**63 - 1, 2**63, 2**64 - 1]),
)
param_values = st.one_of(
    st.none(),
    st.booleans(),
    ints,
    floats,
    st.text(max_size=30),
    st.sampled_from(["London", "New York", "1D", "4h", "W", "UTC+2", "close", "wick", "ny_am"]),
    st.builds(np.int64, st.integers(-(2**63), 2**63 - 1)),
    st.builds(np.float32, st.floats(width=32)),
    st.just(np.True_),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)
param_names = st.sampled_from(
    [
        "swing_length",
        "join_consecutive",
        "close_break",
        "range_percent",
        "time_frame",
        "session",
        "start",
        "end",
        "time_zone",
        "left",
        "right",
        "break_on",
        "min_size_atr",
        "window",
        "tolerance_atr",
        "tolerance_price",
        "windows",
        "zone",
        "min_run",
        "lookback",
        "min_body_atr",
        "internal",
        "swing",
        "x",
        "",
    ]
)
params = st.dictionaries(param_names, param_values, max_size=4)


@st.composite
def columns(draw: Any, n: int | None = None) -> np.ndarray:
    size = draw(st.integers(0, 60)) if n is None else n
    kind = draw(st.sampled_from(["f8", "f4", "i8", "u8", "i4", "O", "M8[ns]", "bool"]))
    values = draw(st.lists(floats, min_size=size, max_size=size))
    try:
        with np.errstate(all="ignore"):
            return np.asarray(values, dtype=np.float64).astype(kind)
    except (ValueError, TypeError, OverflowError):
        return np.asarray(values, dtype=np.float64)


@st.composite
def candles_args(draw: Any) -> tuple[Any, ...]:
    n = draw(st.integers(0, 60))
    base = draw(st.sampled_from([0, 1_700_000_000 * 10**9, 2**62, -(2**62)]))
    step = draw(st.sampled_from([60 * 10**9, 1, 0, -(60 * 10**9), 2**60]))
    with np.errstate(over="ignore"):
        time = np.int64(base) + np.arange(n, dtype=np.int64) * np.int64(step)
    if draw(st.booleans()):
        time = draw(columns(n))
    prices = [draw(columns(draw(st.sampled_from([n, n, n, max(n - 1, 0)])))) for _ in range(5)]
    return (time, *prices)


@st.composite
def frames(draw: Any) -> pd.DataFrame:
    n = draw(st.integers(0, 80))
    close = 1.1 + np.cumsum(draw(st.lists(st.floats(-1e-3, 1e-3), min_size=n, max_size=n)))
    spread = np.abs(draw(st.lists(st.floats(0, 1e-3), min_size=n, max_size=n)))
    data = {
        "open": np.roll(close, 1),
        "high": np.maximum(close, np.roll(close, 1)) + spread,
        "low": np.minimum(close, np.roll(close, 1)) - spread,
        "close": close,
        "volume": np.ones(n),
    }
    frame = pd.DataFrame(data)
    index = draw(st.sampled_from(["datetime", "range", "tz", "dup", "date-col", "strings"]))
    times = pd.date_range(
        "2024-03-08", periods=n, freq=draw(st.sampled_from(["1min", "15min", "1h"]))
    )
    if index == "datetime":
        frame.index = times
    elif index == "tz":
        frame.index = times.tz_localize("Europe/Athens", ambiguous="NaT", nonexistent="NaT")
    elif index == "dup" and n > 2:
        frame.index = times[[0, *range(n - 1)]]
    elif index == "date-col":
        frame["Date"] = times
    elif index == "strings":
        frame.index = [str(t) for t in times]
    if draw(st.booleans()) and n:
        column = draw(st.sampled_from(list(data)))
        frame.loc[frame.index[draw(st.integers(0, n - 1))], column] = draw(floats)
    if draw(st.booleans()):
        frame = frame.rename(columns=str.upper)
    return frame


def good_candles(n: int = 300) -> ictcore.Candles:
    t = (1_700_000_000 + 60 * np.arange(n, dtype=np.int64)) * 10**9
    c = 1.1 + np.cumsum(np.sin(np.arange(n) * 0.37)) * 1e-3
    return ictcore.Candles(
        t,
        np.roll(c, 1),
        np.maximum(c, np.roll(c, 1)) + 1e-4,
        np.minimum(c, np.roll(c, 1)) - 1e-4,
        c,
        np.ones(n),
    )


GOOD = good_candles()
_ENGINE = ictcore.Engine(list(ictcore.detect.PRESET))
_ENGINE.update_many(GOOD)
CHECKPOINT = _ENGINE.checkpoint()
SMC = list(ictcore.DETECTORS)  # the eight compat functions
NATIVE = [name.removeprefix("native.") for name in ictcore.NATIVE_DETECTORS]
STORE = ictcore.CandleStore(WORK / "store")
CACHE = ictcore.AnalysisCache(WORK / "cache", max_disk_bytes=2**24)
POOL = ictcore.DetectorPool(workers=2, store=STORE, cache=CACHE)
STORE.write("EURUSD", "1m", GOOD)


def fuzz(strategy: Any) -> Callable[[Callable[..., None]], Callable[[], None]]:
    return lambda f: settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )(given(strategy)(f))


@fuzz(candles_args())
def candles(args: tuple[Any, ...]) -> None:
    call(f"Candles{args!r}", lambda: ictcore.Candles(*args))


@fuzz(frames())
def from_pandas(frame: pd.DataFrame) -> None:
    call(f"Candles.from_pandas({frame!r})", lambda: ictcore.Candles.from_pandas(frame))


@fuzz(st.tuples(frames(), st.sampled_from(SMC), params))
def compat(args: tuple[pd.DataFrame, str, dict[str, Any]]) -> None:
    frame, name, p = args

    def run() -> None:
        if name in ("bos_choch", "ob", "liquidity", "retracements"):
            swings = smc.swing_highs_lows(frame, 5)
            getattr(smc, name)(frame, swings, **p)
        else:
            getattr(smc, name)(frame, **p)

    call(f"smc.{name}({frame!r}, **{p!r})", run)


@fuzz(st.tuples(st.sampled_from(NATIVE), params, st.booleans()))
def native(args: tuple[str, dict[str, Any], bool]) -> None:
    name, p, engine = args
    if engine:
        call(
            f"Engine([{name!r}], {{{name!r}: {p!r}}})",
            lambda: ictcore.Engine([name], {name: p}).update_many(GOOD),
        )
    else:
        call(f"ictcore.{name}(GOOD, **{p!r})", lambda: getattr(ictcore, name)(GOOD, **p))


symbols = st.one_of(
    st.text(max_size=80),
    st.sampled_from(["..", ".", "EUR/USD", "a\x00b", "X" * 64, "X" * 65, "ÄÖ€", " ", "-"]),
)
timeframes = st.one_of(
    st.text(max_size=6), st.sampled_from(["1m", "0m", "99999999999999999999w", "1M"])
)


STORE_OPS = ["write", "append", "read", "verify", "load_batch", "refresh", "series", "clear"]


@fuzz(st.tuples(symbols, timeframes, st.sampled_from(STORE_OPS), param_values))
def store(args: tuple[str, str, str, Any]) -> None:
    symbol, timeframe, op, extra = args

    def run() -> None:
        if op == "read":
            STORE.read(symbol, timeframe, start=extra)
        elif op == "verify":
            STORE.verify(symbol, timeframe)
        elif op == "load_batch":
            STORE.load_batch([(symbol, timeframe), ("EURUSD", "1m", extra, None)])
        elif op == "refresh":
            STORE.refresh()
        elif op == "series":
            STORE.series()
        elif op == "clear":  # the cache's maintenance, interleaved with store writes
            CACHE.sweep()
            CACHE.verify()
            CACHE.clear()
        else:
            getattr(STORE, op)(symbol, timeframe, GOOD)

    call(f"store.{op}({symbol!r}, {timeframe!r})", run)


@fuzz(st.binary(max_size=3000))
def csv(data: bytes) -> None:
    header = b"<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>\n"
    path = WORK / "EURUSD_M1.csv"
    path.write_bytes(header + data if data[:1] != b"!" else data)
    call(f"read_csv({data!r})", lambda: ictcore.read_csv(path))
    call(f"import_csv({data!r})", lambda: STORE.import_csv(path, if_exists="replace"))


@fuzz(st.tuples(params, st.sampled_from(["f8", "i8", "f4", "u1", "bool", "c16", "O"])))
def cache(args: tuple[dict[str, Any], str]) -> None:
    p, dtype = args
    x = np.arange(20).astype(dtype)
    call(
        f"cache.get_or_compute(d, {p!r}, x:{dtype})",
        lambda: CACHE.get_or_compute("d", p, {"x": x}, lambda: {"y": np.arange(3.0)}),
    )


requests = st.lists(
    st.one_of(
        st.tuples(symbols, timeframes),
        st.tuples(
            st.just("EURUSD"),
            st.just("1m"),
            st.one_of(st.none(), st.text(max_size=12)),
            st.one_of(st.none(), st.integers()),
        ),
        st.tuples(symbols, st.just("1m"), st.just(GOOD)),
        st.integers(),
    ),
    max_size=3,
)


@fuzz(
    st.tuples(
        requests,
        st.lists(st.sampled_from(SMC + ["native." + n for n in NATIVE] + ["x"]), max_size=3),
        st.dictionaries(st.sampled_from(SMC), params, max_size=2),
    )
)
def pool(args: tuple[list[Any], list[str], dict[str, Any]]) -> None:
    reqs, detectors, p = args
    call(
        f"pool.analyze({reqs!r}, {detectors!r}, {p!r})",
        lambda: POOL.analyze(reqs, detectors or ["fvg"], p, progress=False),
    )


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), ints, floats, st.text(max_size=10)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
config_trees = st.dictionaries(
    st.sampled_from(
        ["detector_pool", "batch_processing", "cache_optimization", "performance_targets", "other"]
    ),
    st.dictionaries(
        st.sampled_from(
            [
                "max_pool_size",
                "min_pool_size",
                "adaptive_sizing",
                "batch_size",
                "max_buffer_size",
                "async_threshold",
                "max_cache_size",
                "cache_ttl_seconds",
                "compression_enabled",
                "parallel_speedup_min",
                "total_analysis_max_seconds",
                "memory_max_mb",
                "x",
            ]
        ),
        json_values,
        max_size=4,
    ),
    max_size=4,
)


@fuzz(config_trees)
def config(tree: dict[str, Any]) -> None:
    def run() -> None:
        c = ictcore.Config.from_dict(tree)
        ictcore.AnalysisCache.from_config(c)
        ictcore.DetectorPool(config=c)

    call(f"Config.from_dict({json.dumps(tree, default=repr)})", run)


@fuzz(
    st.tuples(
        st.sampled_from(["pool", "cache", "engine", "store"]),
        param_values,
        param_values,
        param_values,
    )
)
def constructors(args: tuple[str, Any, Any, Any]) -> None:
    what, a, b, c = args
    make: dict[str, Callable[[], Any]] = {
        "pool": lambda: ictcore.DetectorPool(workers=a),
        "cache": lambda: ictcore.AnalysisCache(max_memory_bytes=a, max_disk_bytes=b, ttl_seconds=c),
        "engine": lambda: ictcore.Engine(a, b),
        "store": lambda: ictcore.CandleStore(WORK / "stores" / str(a)[:20]).write(
            str(b), str(c), GOOD
        ),
    }
    call(f"{what}({a!r}, {b!r}, {c!r})", make[what])


bars = st.one_of(
    st.tuples(ints, floats, floats, floats, floats, floats),
    st.dictionaries(
        st.sampled_from(["time", "Time", "open", "high", "low", "close", "volume", "Date", "x"]),
        st.one_of(floats, ints, st.text(max_size=20), st.none()),
        max_size=7,
    ),
    st.lists(floats, max_size=7),
    param_values,
)


@fuzz(st.tuples(st.lists(bars, max_size=6), st.integers(-(2**70), 2**70)))
def engine(args: tuple[list[Any], int]) -> None:
    updates, t = args

    def run() -> None:
        e = ictcore.Engine(["swings", "structure", "fvg", "liquidity", "sessions"])
        e.update_many(GOOD)
        for bar in updates:
            with contextlib.suppress(*ALLOWED):
                e.update(bar)
            with contextlib.suppress(*ALLOWED):
                e.update_last(bar)

    call(f"engine({updates!r})", run)
    table = ictcore.fvg(GOOD)
    call(f"ZoneTable.active_at({t!r})", lambda: table.active_at(t))
    call(f"ZoneTable.state_at({t!r})", lambda: table.state_at(t))


@fuzz(st.tuples(st.binary(max_size=200), st.integers(0, 10**6), st.integers(0, 255)))
def checkpoint(args: tuple[bytes, int, int]) -> None:
    noise, at, value = args
    good = CHECKPOINT
    changed = bytearray(good)
    changed[at % len(good)] = value
    for data in (noise, bytes(changed), good[: at % len(good)]):
        call(
            f"Engine.from_checkpoint({data[:40]!r}...)",
            lambda d=data: ictcore.Engine.from_checkpoint(d),
        )


if __name__ == "__main__":
    harnesses = (
        candles,
        from_pandas,
        compat,
        native,
        store,
        csv,
        cache,
        pool,
        config,
        constructors,
        engine,
        checkpoint,
    )
    for harness in harnesses:
        harness()
    print(f"{counter[0]} calls, {len(findings)} findings", flush=True)
    for finding in findings[:20]:
        print("-" * 70)
        print(finding)
    sys.stdout.flush()
    os._exit(1 if findings else 0)
