"""Native causal detectors: causality by prefix replay, streaming == batch (with revised
forming bars and pickling), lifecycle invariants, ``active_at`` against a brute-force scan,
agreement with smartmoneyconcepts where the definitions coincide, and bad input."""

from __future__ import annotations

import os
import pickle
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import ictcore
from ictcore import Candles, Engine, EventTable, LiquidityTable, ZoneTable
from ictcore.exceptions import InvalidInputError

from .conftest import load_eurusd

ALL = tuple(ictcore.detect.PRESET)
TABLES = tuple(t for d in ALL for t in ictcore.detect.TABLES[d])


def candles_of(frame: pd.DataFrame) -> Candles:
    return Candles.from_pandas(frame)


def with_logs(tables: dict[str, EventTable]) -> dict[str, EventTable]:
    """The tables with each zone table's transition log as ``<name>_transitions``."""
    out = dict(tables)
    for name, table in tables.items():
        if isinstance(table, ZoneTable):
            out[f"{name}_transitions"] = table.transitions
        if isinstance(table, LiquidityTable):
            out[f"{name}_sweeps"] = table.sweeps
    return out


def all_tables(c: Candles) -> dict[str, EventTable]:
    """Every native detector, some with non-default parameters."""
    return with_logs(
        {
            "swings": ictcore.swings(c, left=4, right=3),
            "structure": ictcore.structure(c, left=3, right=3),
            "structure_wick": ictcore.structure(c, left=2, right=5, break_on="wick"),
            "fvg": ictcore.fvg(c),
            "volume_imbalance": ictcore.volume_imbalance(c),
            "opening_gaps": ictcore.opening_gaps(c),
            "displacement": ictcore.displacement(c, min_body_atr=1.0),
            "order_blocks": ictcore.order_blocks(c, left=3, right=4),
            "order_blocks_wick": ictcore.order_blocks(c, break_on="wick"),
            "mitigation_blocks": ictcore.mitigation_blocks(c, left=2, right=2),
            "liquidity": ictcore.liquidity(c, left=3, right=2, tolerance_atr=0.5),
            "liquidity_ticks": ictcore.liquidity(c, tolerance_atr=0.0, tolerance_price=0.0005),
            "dealing_ranges": ictcore.dealing_ranges(c, left=3, right=3),
            "bpr": ictcore.bpr(c, window=6),
            "rejection_blocks": ictcore.rejection_blocks(c, left=3, right=2, min_wick_body=1.0),
            "sessions": ictcore.sessions(c, "Europe/London", {"ldn": ("07:00", "10:00")}),
            "structure_layers": ictcore.structure_layers(c, internal=(3, 3), swing=(10, 8)),
            "mss": ictcore.mss(c, left=3, right=2, min_displacement=0.5),
            "cisd": ictcore.cisd(c, min_run=3, lookback=6),
            "new_opening_gaps": ictcore.new_opening_gaps(c, "Europe/London", "21:00", "22:00"),
            "midnight_gaps": ictcore.new_opening_gaps(c, close_at="00:00", open_at="00:00"),
        }
    )


def known_column(name: str) -> str:
    return "bar" if name.endswith("_transitions") else "known_at"


def rewrites(c: Candles, ends: list[int]) -> tuple[int, int]:
    """Prefix replay: cells of rows known within each prefix that differ from the full run
    (rows missing on either side count as rewrites too), and rows compared."""
    full = all_tables(c)
    bad = compared = 0
    for end in ends:
        part = all_tables(_prefix(c, end))
        for name, table in part.items():
            k = known_column(name)
            a = {col: table[col][table[k] < end] for col in table.columns}
            f = full[name]
            b = {col: f[col][f[k] < end] for col in f.columns}
            rows_a, rows_b = len(a[k]), len(b[k])
            bad += abs(rows_a - rows_b) * len(a)
            n = min(rows_a, rows_b)
            for col in a:
                x, y = a[col][:n], b[col][:n]
                same = (x == y) | (np.isnan(x) & np.isnan(y)) if x.dtype.kind == "f" else x == y
                bad += int(np.count_nonzero(~same))
            compared += n
    return bad, compared


def _prefix(c: Candles, end: int) -> Candles:
    return Candles(c.time[:end], c.open[:end], c.high[:end], c.low[:end], c.close[:end],
                   c.volume[:end])  # fmt: skip


def test_prefix_replay_on_eurusd_rewrites_nothing() -> None:
    """The replay of ``ict-concepts.md`` §4.1 (30 prefixes of the first 6,000 bars, where
    smartmoneyconcepts rewrites up to 144 cells per detector) scores 0 for every table."""
    c = candles_of(load_eurusd("Tickvol").iloc[:6000])
    bad, compared = rewrites(c, list(range(200, 6000, 200)))
    assert bad == 0
    assert compared > 20_000


def _series(draw: Any, n: int) -> pd.DataFrame:
    steps = draw(st.lists(st.integers(-4, 4), min_size=n, max_size=n))
    wicks = draw(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=n, max_size=n))
    close = 100 + np.cumsum(steps).astype(float)
    open_ = np.concatenate([[100.0], close[:-1]])
    high = np.maximum(open_, close) + [w[0] for w in wicks]
    low = np.minimum(open_, close) - [w[1] for w in wicks]
    index = pd.date_range("2024-01-01", periods=n, freq="min")
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": 1.0 + np.arange(n)},
        index=index,
    )


@st.composite
def series(draw: Any, min_size: int = 0, max_size: int = 300) -> pd.DataFrame:
    return _series(draw, draw(st.integers(min_size, max_size)))


@given(series(min_size=30))
def test_prefix_replay_on_generated_series(frame: pd.DataFrame) -> None:
    c = candles_of(frame)
    bad, _ = rewrites(c, list(range(10, len(frame), max(1, len(frame) // 12))))
    assert bad == 0


def assert_tables_equal(a: EventTable, b: EventTable) -> None:
    assert a.columns == b.columns
    for col in a.columns:
        x, y = a[col], b[col]
        assert x.dtype == y.dtype, col
        # Bit for bit: compare the bytes (NaN payloads included).
        assert x.tobytes() == y.tobytes(), col


def batch_snapshot(c: Candles) -> dict[str, EventTable]:
    functions = {name: getattr(ictcore, name) for name in ALL}
    return with_logs({name: f(c) for name, f in functions.items()})


def engine_snapshot(e: Engine) -> dict[str, EventTable]:
    return with_logs(e.snapshot())


@given(series(), st.lists(st.integers(0, 3), min_size=300, max_size=300), st.data())
def test_streaming_with_revisions_equals_batch(
    frame: pd.DataFrame, revisions: list[int], data: Any
) -> None:
    """Bar by bar, each bar first seen as up to three provisional versions (update, then
    update_last), then its final version: the tables equal the batch run bit for bit. A
    pickle round trip in the middle changes nothing."""
    c = candles_of(frame)
    e = Engine(ALL)
    pickle_at = data.draw(st.integers(0, max(0, len(frame) - 1)))
    for i in range(len(frame)):
        bar = (int(c.time[i]), c.open[i], c.high[i], c.low[i], c.close[i], c.volume[i])
        provisional = (bar[0], bar[1], bar[2] + 2.0, bar[3] - 1.0, bar[3] - 1.0, bar[5])
        e.update(provisional)
        for k in range(revisions[i]):
            e.update_last((bar[0], bar[1], bar[2] + k, bar[3], bar[4] - k, bar[5]))
        new = e.update_last(bar)
        # What the final version of bar i made known is stamped at bar i.
        for name, table in new.items():
            k = known_column(name)
            assert np.all(table[k] == i), name
        if i == pickle_at:
            e = pickle.loads(pickle.dumps(e))
    streamed, batch = engine_snapshot(e), batch_snapshot(c)
    for name in TABLES:
        assert_tables_equal(streamed[name], batch[name])


@given(series(min_size=1), st.data())
def test_checkpoint_and_the_rest_equal_batch(frame: pd.DataFrame, data: Any) -> None:
    """A checkpoint at any bar, restored (no bar stepped), then the remaining bars: the
    batch tables, bit for bit; the restored engine keeps its detectors and parameters."""
    c = candles_of(frame)
    at = data.draw(st.integers(0, len(frame)))
    e = Engine(ALL, params={"swings": {"left": 3, "right": 2}})
    e.update_many(c._slice(0, at))
    restored = Engine.from_checkpoint(e.checkpoint())
    assert len(restored) == at
    assert restored.detectors == e.detectors
    assert restored._native.specs() == e._native.specs()  # every parameter, resolved
    restored.update_many(c._slice(at, len(c)))
    e2 = Engine(ALL, params={"swings": {"left": 3, "right": 2}})
    e2.update_many(c)
    for name in TABLES:
        assert_tables_equal(engine_snapshot(restored)[name], engine_snapshot(e2)[name])


def test_damaged_checkpoints_raise_corrupt_file_error() -> None:
    e = Engine(ALL)
    e.update_many(candles_of(load_eurusd().iloc[:500]))
    good = e.checkpoint()
    for bad in (good[:-1], good[:40], b"", b"not a checkpoint", good[:60] + b"x" + good[61:]):
        with pytest.raises(ictcore.CorruptFileError):
            Engine.from_checkpoint(bad)
    with pytest.raises(ictcore.CorruptFileError, match="revision"):
        Engine.from_checkpoint(good[:12] + (99).to_bytes(8, "little") + good[20:])
    with pytest.raises(ictcore.InvalidTypeError):
        Engine.from_checkpoint("text")  # type: ignore[arg-type]


def test_pickles_are_checkpoints_and_old_pickles_still_load() -> None:
    c = candles_of(load_eurusd().iloc[:800])
    e = Engine(("swings", "fvg"))
    e.update_many(c)
    state = e.__getstate__()
    assert set(state) == {"checkpoint", "params"}
    # The format before checkpoints (parameters and bars) is replayed.
    old = object.__new__(Engine)
    old.__setstate__({"detectors": e.detectors, "params": e.params, "bars": e._native.bars()})
    back = pickle.loads(pickle.dumps(e))
    for name in ("swings", "fvg"):
        assert_tables_equal(old.events(name), e.events(name))
        assert_tables_equal(back.events(name), e.events(name))


def test_update_returns_exactly_the_rows_known_at_that_bar() -> None:
    frame = load_eurusd("Tickvol").iloc[:3000]
    c = candles_of(frame)
    e = Engine(ALL)
    seen: dict[str, list[np.ndarray]] = {name: [] for name in TABLES}
    for row in frame.itertuples():
        bar = {
            "time": row.Index,
            "open": row.Open,
            "high": row.High,
            "low": row.Low,
            "close": row.Close,
            "volume": row.Volume,
        }
        for name, table in e.update(bar).items():
            seen[name].append(table["id"])
    batch = batch_snapshot(c)
    for name in TABLES:
        assert len(batch[name]) > 0, name
        if name.endswith("_transitions"):
            assert sum(len(x) for x in seen[name]) == len(batch[name])
        else:
            np.testing.assert_array_equal(np.concatenate(seen[name]), batch[name]["id"])
    # update_many from a second engine: the same tables.
    e2 = Engine(ALL)
    added = e2.update_many(c)
    for name in TABLES:
        assert_tables_equal(added[name], batch[name])


def test_fvg_lifecycle_invariants_and_active_at() -> None:
    """Transitions go forward one state at a time, never before the zone is known;
    ``active_at`` equals a brute-force scan; ``state_at`` agrees with the log."""
    z = ictcore.fvg(candles_of(load_eurusd("Tickvol")))
    log = z.transitions
    assert len(z) > 1000
    last_state: dict[int, tuple[int, int]] = {}
    for zid, state, bar in zip(log["id"], log["state"], log["bar"], strict=True):
        prev = last_state.get(int(zid))
        if prev is None:
            assert state == 0 and bar == z["known_at"][zid]
        else:
            assert state == prev[0] + 1 and bar >= prev[1]
        last_state[int(zid)] = (int(state), int(bar))
    assert np.all(np.diff(log["bar"]) >= 0)
    dead = z.dead_at()
    known = z["known_at"]
    for t in [-1, 0, 5, 100, 5000, 12345, 20000, len(known) + 30_000]:
        brute = np.flatnonzero((known <= t) & ((dead < 0) | (dead > t)))
        np.testing.assert_array_equal(z.active_at(t)["id"], brute)
        states = z.state_at(t)
        assert np.all((states >= 0) == (known <= t))
        alive = (states >= 0) & (states != ZoneTable.STATES.index("dead"))
        np.testing.assert_array_equal(np.flatnonzero(alive), brute)
    # A time maps to the last bar at or before it.
    t = pd.Timestamp(load_eurusd("Tickvol").index[12345])
    np.testing.assert_array_equal(z.active_at(t)["id"], z.active_at(12345)["id"])


def test_a_hand_made_bullish_fvg_walks_its_whole_lifecycle() -> None:
    """Bar 0 high 10; bar 2 low 12 > 10: bullish zone [10, 12], CE 11, formed at bar 2 (anchor
    1). Bar 3 low 12.5: nothing; bar 4 low 11.8: touched; bar 5 low 11: CE; bar 6 low 9.9 with
    close 10.5: filled; bar 7 close 9.5 < 10: inverted; bar 8 close 12.5 > 12: dead."""
    rows = [
        (9.0, 10.0, 8.5, 9.5),
        (9.5, 14.0, 9.4, 13.8),
        (13.8, 14.5, 12.0, 14.0),
        (14.0, 14.2, 12.5, 13.0),
        (13.0, 13.2, 11.8, 12.9),
        (12.9, 13.0, 11.0, 12.2),
        (12.2, 12.4, 9.9, 10.5),
        (10.5, 11.2, 9.2, 9.5),
        (9.5, 12.8, 9.4, 12.5),
    ]
    frame = pd.DataFrame(
        rows,
        columns=["open", "high", "low", "close"],
        index=pd.date_range("2024-01-01", periods=len(rows), freq="h"),
    )
    z = ictcore.fvg(frame)
    df = z.to_pandas()
    assert len(df) == 1
    assert (df.loc[0, "anchor"], df.loc[0, "known_at"], df.loc[0, "direction"]) == (1, 2, 1)
    assert (df.loc[0, "bottom"], df.loc[0, "top"], df.loc[0, "ce"]) == (10.0, 12.0, 11.0)
    log = z.transitions.to_pandas()
    assert list(zip(log["state"], log["bar"], strict=True)) == [
        ("formed", 2),
        ("touched", 4),
        ("mean_threshold", 5),
        ("filled", 6),
        ("inverted", 7),
        ("dead", 8),
    ]
    assert df.loc[0, "anchor_time"] == frame.index[1].tz_localize("UTC")
    assert list(z.active_at(7)["id"]) == [0] and len(z.active_at(8)) == 0


def test_fvg_equals_smartmoneyconcepts_where_the_definitions_agree() -> None:
    """smartmoneyconcepts marks a gap on the middle candle and also requires that candle to
    close in the gap's direction; on those gaps both give the same rows, tops and bottoms."""
    os.environ.setdefault("SMC_CREDIT", "0")
    from smartmoneyconcepts import smc

    frame = load_eurusd("Tickvol")
    ohlc = frame.rename(columns=str.lower)
    ref = smc.fvg(ohlc)
    z = ictcore.fvg(frame)
    anchor, direction = z["anchor"], z["direction"]
    body = (ohlc["close"].to_numpy() - ohlc["open"].to_numpy())[anchor]
    keep = np.sign(body) == direction
    rows = np.flatnonzero(~np.isnan(ref["FVG"].to_numpy()))
    np.testing.assert_array_equal(anchor[keep], rows)
    np.testing.assert_array_equal(direction[keep], ref["FVG"].to_numpy()[rows])
    np.testing.assert_array_equal(z["top"][keep], ref["Top"].to_numpy()[rows])
    np.testing.assert_array_equal(z["bottom"][keep], ref["Bottom"].to_numpy()[rows])


def test_tables_convert_to_pandas_with_names_and_times() -> None:
    c = candles_of(load_eurusd("Tickvol").iloc[:2000])
    s = ictcore.swings(c).to_pandas()
    assert set(s["kind"].cat.categories) <= {"swing_high", "swing_low"}
    assert set(s["label"].astype(str)) <= {"first", "HH", "LH", "EH", "HL", "LL", "EL"}
    assert str(s["known_at_time"].dtype) == "datetime64[ns, UTC]"
    assert (s["known_at"] - s["anchor"] == 5).all()
    b = ictcore.structure(c).to_pandas()
    assert set(b["kind"].astype(str)) <= {"bos", "choch"} and b["initial"].dtype == bool
    assert b["initial"].sum() == 1
    with pytest.raises(KeyError, match="no column 'nope'"):
        ictcore.swings(c)["nope"]


def test_tick_based_tolerance_joins_levels_within_a_fixed_distance() -> None:
    """``tolerance_atr=0, tolerance_price=x``: every pool row was joined within exactly x
    (the ``tolerance`` column), a wider x joins more swings, and x=0 joins only equal
    levels (a pool's level is then the level of each of its members)."""
    c = candles_of(load_eurusd("Tickvol").iloc[:6000])
    joins = []
    for x in (0.0, 0.0002, 0.0006):
        pools = ictcore.liquidity(c, tolerance_atr=0.0, tolerance_price=x)
        assert np.all(pools["tolerance"] == x)
        joins.append(len(pools))
    assert joins[0] < joins[1] < joins[2]
    sw = ictcore.swings(c)
    exact = ictcore.liquidity(c, tolerance_atr=0.0)
    for row in range(len(exact)):
        side = sw["direction"] == exact["direction"][row]
        members = sw["level"][side & (sw["known_at"] <= exact["known_at"][row])]
        assert np.count_nonzero(members == exact["level"][row]) >= exact["members"][row]
    with pytest.raises(ValueError, match="'liquidity.tolerance_price'"):
        ictcore.liquidity(c, tolerance_price=-1.0)


def test_new_opening_gaps_on_eurusd_follow_the_futures_day() -> None:
    """On EURUSD (15-minute bars, 24 hours a day), read in New York time by pandas: each gap
    runs from the close of the last bar opening before 17:00 of a trading day (18:00 to
    18:00) to the open of the first bar of the next one, and week opens carry an NWOG too."""
    frame = load_eurusd("Tickvol")
    gaps = ictcore.new_opening_gaps(candles_of(frame)).to_pandas()
    ny = frame.index.tz_localize("UTC").tz_convert("America/New_York")
    shifted = ny - pd.Timedelta(hours=18)
    day = np.asarray((shifted.tz_localize(None) - pd.Timestamp("1970-01-01")).days)
    minute = np.asarray(shifted.hour * 60 + shifted.minute)
    close = frame["Close"].to_numpy()
    open_ = frame["Open"].to_numpy()
    expected = []
    settle = None
    for t in range(len(frame)):
        if t > 0 and day[t] > day[t - 1] and settle is not None and open_[t] != close[settle]:
            named = pd.Timestamp("1970-01-02") + pd.Timedelta(days=int(day[t]))
            before = pd.Timestamp("1970-01-02") + pd.Timedelta(days=int(day[settle]))
            kinds = ["ndog"]
            if named.isocalendar()[:2] != before.isocalendar()[:2]:
                kinds.append("nwog")
            for kind in kinds:
                lo, hi = sorted((close[settle], open_[t]))
                expected.append((kind, settle, t, lo, hi))
        if minute[t] < 23 * 60:
            settle = t
    got = list(
        zip(
            gaps["kind"].astype(str),
            gaps["anchor"],
            gaps["known_at"],
            gaps["bottom"],
            gaps["top"],
            strict=True,
        )
    )
    assert got == expected
    assert sum(k == "nwog" for k, *_ in got) >= 10


def test_bad_input_and_parameters_name_the_problem() -> None:
    frame = load_eurusd("Tickvol").iloc[:100].copy()
    frame.iloc[40, 1] = np.nan
    with pytest.raises(InvalidInputError, match=r"'High'|'high'.*row 40"):
        ictcore.fvg(frame)
    c = candles_of(load_eurusd("Tickvol").iloc[:100])
    with pytest.raises(ValueError, match="'swings.left'"):
        ictcore.swings(c, left=0)
    with pytest.raises(ValueError, match="'structure.break_on'"):
        ictcore.structure(c, break_on="body")
    with pytest.raises(ValueError, match="'fvg.min_size_atr'"):
        ictcore.fvg(c, min_size_atr=-1)
    with pytest.raises(TypeError, match="Candles, a pandas DataFrame"):
        ictcore.fvg([1, 2, 3])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown detector"):
        Engine(["ob"])
    with pytest.raises(ValueError, match="invalid parameter 'swings.length'"):
        Engine(params={"swings": {"length": 3}})
    e = Engine()
    e.update((1, 1.0, 2.0, 0.5, 1.5, 1.0))
    with pytest.raises(InvalidInputError, match="'close'.*row 1"):
        e.update((2, 1.0, 2.0, 0.5, float("inf"), 1.0))
    with pytest.raises(InvalidInputError, match="'time'"):
        e.update((1, 1.0, 2.0, 0.5, 1.5, 1.0))
    with pytest.raises(InvalidInputError, match="'open'"):
        e.update_last((1, float("nan"), 2.0, 0.5, 1.5, 1.0))
    assert len(e) == 1  # the bad revision kept the bar
    with pytest.raises(ValueError, match="missing"):
        e.update({"time": 5, "open": 1.0})


def test_the_pool_runs_native_detectors_through_the_cache(tmp_path: Any) -> None:
    """``native.*`` requests give the tables the functions give (any worker count), and a
    second run takes them all from the cache."""
    from ictcore.synthetic import portfolio

    store = ictcore.CandleStore(tmp_path / "store")
    for symbol, timeframe, cols in portfolio(days=4, symbols=3):
        store.write(symbol, timeframe, Candles._trusted(**cols))
    requests = [(s.symbol, s.timeframe) for s in store.series()]
    params = {"native.structure": {"left": 3, "break_on": "wick"}}
    detectors = list(ictcore.NATIVE_DETECTORS)
    cache = ictcore.AnalysisCache(tmp_path / "cache", disk_writes="all")
    for workers in (1, 2):
        pool = ictcore.DetectorPool(workers=workers, store=store, cache=cache)
        result = pool.analyze(requests, detectors, params=params, progress=False)
        assert not result.errors
        for symbol, timeframe in requests:
            c = store.read(symbol, timeframe)
            expected = {f"native.{name}": getattr(ictcore, name)(c) for name in ALL}
            expected["native.structure"] = ictcore.structure(c, left=3, break_on="wick")
            for name, table in expected.items():
                got = result[symbol, timeframe, name]
                assert_tables_equal(got, table)
                if isinstance(table, ZoneTable):
                    assert isinstance(got, ZoneTable)
                    assert_tables_equal(got.transitions, table.transitions)
                if isinstance(table, LiquidityTable):
                    assert isinstance(got, LiquidityTable)
                    assert_tables_equal(got.sweeps, table.sweeps)
        stats = result.stats
        if workers == 1:
            assert stats["misses"] == len(ALL) * len(requests)
        else:
            assert stats["misses"] == 0
            assert stats["memory_hits"] == len(ALL) * len(requests)
    frame = result.frame(*requests[0], "native.fvg")
    assert "ce" in frame.columns and str(frame["known_at_time"].dtype) == "datetime64[ns, UTC]"
    with pytest.raises(ictcore.UnknownNameError, match=r"native\.swings"):
        pool.analyze(requests, ["native.nope"], progress=False)
    with pytest.raises(ValueError, match="break_on"):
        pool.analyze(requests, {"native.structure": {"break_on": "body"}}, progress=False)


def test_the_shipped_replay_test_catches_look_ahead() -> None:
    """``replay_rewrites`` scores 0 for every native detector and counts the rewrites of the
    look-ahead compat functions (so the 0s are not vacuous)."""
    from ictcore.compat import smc
    from ictcore.detect import PRESET, replay_rewrites

    frame = load_eurusd("Tickvol").iloc[:3000].rename(columns=str.lower)
    for name in PRESET:
        assert replay_rewrites(getattr(ictcore, name), frame) == 0, name
    assert replay_rewrites(smc.fvg, frame) > 0
    assert replay_rewrites(lambda f: smc.swing_highs_lows(f, 10), frame) > 0
    assert replay_rewrites(lambda f: smc.liquidity(f, smc.swing_highs_lows(f, 10)), frame) > 0


def test_sessions_in_a_zone_with_dst() -> None:
    """The London open kill zone on EURUSD read in New York time: 07:00-10:00 UTC in winter,
    06:00-09:00 UTC in US summer; each row's high/low are those of its bars."""
    frame = load_eurusd("Tickvol")
    table = ictcore.sessions(frame, windows=["london_open"])
    df = table.to_pandas()
    assert len(df) > 100 and set(df["window"].astype(str)) == {"london_open"}
    hours = set(zip(df["window_start"].dt.hour, df["window_end"].dt.hour, strict=True))
    assert {(7, 10), (6, 9)} <= hours
    c = candles_of(frame)
    for row in df.itertuples():
        inside = (c.time >= row.window_start.value) & (c.time < row.window_end.value)
        assert row.high == c.high[inside].max() and row.low == c.low[inside].min()
        assert row.known_at == np.flatnonzero(inside)[-1] + 1
    with pytest.raises(ictcore.UnknownNameError, match="time zone"):
        ictcore.sessions(frame, zone="Mars/Olympus")
    with pytest.raises(ictcore.UnknownNameError, match="session window"):
        ictcore.sessions(frame, windows=["tea_time"])


def test_engine_takes_bars_in_the_shapes_users_have() -> None:
    """Tuples, dicts, ``iterrows()`` rows and ``itertuples()`` rows (any column case, time from
    the index) all feed the same bars."""
    frame = load_eurusd("Tickvol").iloc[:400]
    expected = ictcore.fvg(frame)
    feeds = {
        "iterrows": lambda e: [e.update(row) for _, row in frame.iterrows()],
        "itertuples": lambda e: [e.update(row) for row in frame.itertuples()],
        "dicts": lambda e: [
            e.update({"Date": t, "Open": o, "High": h, "Low": lo, "Close": c, "Volume": v})
            for t, o, h, lo, c, v in zip(frame.index, *frame.to_numpy().T, strict=True)
        ],
    }
    for feed in feeds.values():
        engine = Engine(["fvg"])
        feed(engine)
        assert_tables_equal(engine.events("fvg"), expected)


def test_crafted_checkpoints_never_raise_a_panic() -> None:
    """Bytes changed behind a recomputed checksum (no accident does that) restore or are
    refused; an engine restored from them fails with an IctError, never a PanicException."""
    xxhash = pytest.importorskip("xxhash")
    c = candles_of(load_eurusd().iloc[:300])
    e = Engine(("swings", "structure", "fvg", "liquidity"))
    e.update_many(c._slice(0, 200))
    good = e.checkpoint()
    rng = np.random.default_rng(5)
    restored = failed = 0
    for _ in range(1500):
        bad = bytearray(good)
        at = int(rng.integers(36, len(bad)))
        bad[at] ^= 1 << int(rng.integers(0, 8))
        bad[28:36] = xxhash.xxh3_64_intdigest(bytes(bad[36:])).to_bytes(8, "little")
        try:
            r = Engine.from_checkpoint(bytes(bad))
        except ictcore.CorruptFileError:
            continue
        restored += 1
        try:
            r.update_many(c._slice(200, 300))
            r.snapshot()
        except ictcore.IctError:
            failed += 1
    assert restored > 0
