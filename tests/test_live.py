"""Live sessions (``DetectorPool.live``): the rows polled over a session's life add up to the
batch tables bit for bit — whatever the appends, with a writer process appending meanwhile,
across restarts from saved states — and a poll steps only the bars appended since the last
one; rewritten series are recomputed and reported reset; errors stay per series."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ictcore
from ictcore import Candles, CandleStore, DetectorPool, InvalidInputError, LiveUpdate
from ictcore.synthetic import synthetic_frame

ALL = list(ictcore.NATIVE_DETECTORS)
FEW = ["native.swings", "native.fvg", "native.order_blocks", "native.liquidity"]


def bars(n: int, seed: int = 5) -> Candles:
    return Candles.from_pandas(synthetic_frame(seed, n, "walk"))


class Held:
    """What a consumer of polls keeps: every polled table's columns, per (series, detector,
    table); a reset series starts over."""

    def __init__(self) -> None:
        self.parts: dict[tuple[Any, ...], list[dict[str, np.ndarray]]] = {}

    def take(self, update: LiveUpdate) -> None:
        for series in update.reset:
            for key in [k for k in self.parts if k[:2] == series]:
                del self.parts[key]
        for (symbol, timeframe, detector), table in update.items():
            for part, t in tables_of(table).items():
                self.parts.setdefault((symbol, timeframe, detector, part), []).append(
                    {c: t[c] for c in t}
                )

    def table(self, *key: str) -> dict[str, np.ndarray]:
        parts = self.parts.get(tuple(key), [])
        if not parts:
            return {}
        return {c: np.concatenate([p[c] for p in parts]) for c in parts[0]}


def tables_of(table: ictcore.EventTable) -> dict[str, ictcore.EventTable]:
    out = {"main": table}
    for log in ("transitions", "sweeps"):
        if hasattr(table, log):
            out[log] = getattr(table, log)
    return out


def assert_batch(held: Held, store: CandleStore, symbol: str, detectors: list[str]) -> None:
    series = store.read(symbol, "1m")
    batch = DetectorPool(workers=1).analyze([(symbol, "1m", series)], detectors, progress=False)
    for detector in detectors:
        for part, want in tables_of(batch[symbol, "1m", detector]).items():
            got = held.table(symbol, "1m", detector, part)
            if len(want) == 0:
                assert all(len(v) == 0 for v in got.values()), (detector, part)
                continue
            assert list(got) == list(want), (detector, part)
            for column in want:
                assert got[column].tobytes() == want[column].tobytes(), (detector, part, column)


@settings(max_examples=12, deadline=None)
@given(
    st.lists(st.sampled_from([0, 1, 2, 7, 60, 250]), min_size=1, max_size=8),
    st.lists(st.booleans(), min_size=8, max_size=8),
)
def test_polled_rows_add_up_to_the_batch_across_appends_and_restarts(
    tmp_path_factory: pytest.TempPathFactory, appends: list[int], restarts: list[bool]
) -> None:
    root = tmp_path_factory.mktemp("live")
    store = CandleStore(root / "store")
    every = bars(400 + sum(appends))
    store.write("A", "1m", every._slice(0, 400))
    pool = DetectorPool(store=store, workers=2)
    session = pool.live([("A", "1m")], ALL, state_dir=root / "states")
    held = Held()
    update = session.poll()
    assert update.reset == {("A", "1m")} and update.stats["rows_computed"] == 400
    held.take(update)
    at = 400
    for n, restart in zip(appends, restarts, strict=False):
        if n:
            store.append("A", "1m", every._slice(at, at + n))
            at += n
        update = session.poll()
        assert not update.errors and not update.reset
        assert update.stats["rows_computed"] == n  # only the new bars were stepped
        held.take(update)
        if restart:
            session.save()
            session = pool.live([("A", "1m")], ALL, state_dir=root / "states")
            assert session.restored == 1
    assert_batch(held, store, "A", ALL)


def appender_script() -> str:
    return """
import sys, time
import numpy as np
from ictcore import Candles, CandleStore
from ictcore.synthetic import synthetic_frame
store = CandleStore(sys.argv[1])
every = Candles.from_pandas(synthetic_frame(5, int(sys.argv[2]), "walk"))
at = int(sys.argv[3])
print("ready", flush=True)
rng = np.random.default_rng(1)
while at < len(every):
    n = int(min(rng.integers(1, 40), len(every) - at))
    store.append("A", "1m", every._slice(at, at + n), durability="os")
    at += n
    time.sleep(0.002)
print(at)
"""


@pytest.mark.slow
def test_polling_while_another_process_appends(tmp_path: Path) -> None:
    store = CandleStore(tmp_path / "store")
    total, start = 30_000, 500
    every = bars(total)
    store.write("A", "1m", every._slice(0, start))
    session = DetectorPool(store=store, workers=2).live([("A", "1m")], FEW)
    held = Held()
    writer = subprocess.Popen(
        [sys.executable, "-c", appender_script(), str(tmp_path / "store"), str(total), str(start)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
    polls = stepped = 0
    while writer.poll() is None:
        update = session.poll()
        assert not update.errors, update.errors
        held.take(update)
        polls += 1
        stepped += update.stats["rows_computed"]
    _, err = writer.communicate(timeout=60)
    assert writer.returncode == 0, err
    update = session.poll()
    held.take(update)
    stepped += update.stats["rows_computed"]
    assert stepped == total  # every bar stepped exactly once
    assert polls > 5  # the polls overlapped the appends
    assert_batch(held, store, "A", FEW)


def test_a_rewritten_series_is_reported_reset_with_its_whole_tables(tmp_path: Path) -> None:
    store = CandleStore(tmp_path / "store")
    store.write("A", "1m", bars(800)._slice(0, 600))
    session = DetectorPool(store=store).live([("A", "1m")], FEW)
    session.poll()
    assert session.poll().stats["rows_computed"] == 0  # nothing new, nothing stepped
    other = bars(700, seed=9)
    store.write("A", "1m", other)
    update = session.poll()
    assert update.reset == {("A", "1m")}
    assert update.stats["rows_computed"] == 700
    held = Held()
    held.take(update)
    assert_batch(held, store, "A", FEW)


def test_a_saved_state_of_other_rows_is_not_used(tmp_path: Path) -> None:
    store = CandleStore(tmp_path / "store")
    store.write("A", "1m", bars(500))
    pool = DetectorPool(store=store)
    with pool.live([("A", "1m")], FEW, state_dir=tmp_path / "states") as session:
        session.poll()
    store.write("A", "1m", bars(520, seed=11))  # rewritten while no session ran
    session = pool.live([("A", "1m")], FEW, state_dir=tmp_path / "states")
    assert session.restored == 1
    update = session.poll()
    assert update.reset == {("A", "1m")} and update.stats["rows_computed"] == 520
    held = Held()
    held.take(update)
    assert_batch(held, store, "A", FEW)
    # Other parameters are other states.
    params = {"native.fvg": {"min_size_atr": 0.5}}
    other = pool.live([("A", "1m")], FEW, params=params, state_dir=tmp_path / "states")
    assert other.restored == 0


def test_a_restarted_session_reports_only_what_is_new(tmp_path: Path) -> None:
    store = CandleStore(tmp_path / "store")
    every = bars(3000)
    store.write("A", "1m", every._slice(0, 2900))
    pool = DetectorPool(store=store)
    held = Held()
    with pool.live([("A", "1m")], FEW, state_dir=tmp_path / "states") as session:
        held.take(session.poll())
    store.append("A", "1m", every._slice(2900, 3000))
    session = pool.live([("A", "1m")], FEW, state_dir=tmp_path / "states")
    update = session.poll()
    assert not update.reset and update.stats["rows_computed"] == 100
    held.take(update)
    assert_batch(held, store, "A", FEW)


def test_errors_stay_with_their_series(tmp_path: Path) -> None:
    store = CandleStore(tmp_path / "store")
    store.write("A", "1m", bars(300))
    session = DetectorPool(store=store).live([("A", "1m"), ("MISSING", "1m")], FEW)
    update = session.poll()
    assert set(update.errors) == {("MISSING", "1m")}
    assert isinstance(update.errors["MISSING", "1m"], FileNotFoundError)
    assert ("A", "1m", "native.fvg") in update
    assert update.stats["failed"] == 1


def test_what_a_live_session_refuses(tmp_path: Path) -> None:
    store = CandleStore(tmp_path / "store")
    pool = DetectorPool(store=store)
    with pytest.raises(InvalidInputError, match="compat detector"):
        pool.live([("A", "1m")], ["fvg"])
    with pytest.raises(InvalidInputError, match="store"):
        DetectorPool().live([("A", "1m")], FEW)
    with pytest.raises(InvalidInputError, match="twice"):
        pool.live([("A", "1m"), ("A", "1m")], FEW)
    with pytest.raises(InvalidInputError, match=r"\(symbol, timeframe\)"):
        pool.live([("A", "1m", 5)], FEW)  # type: ignore[list-item]
    with pytest.raises(InvalidInputError, match="state_dir"):
        pool.live([("A", "1m")], FEW).save()


def test_foreign_files_in_the_state_dir_are_left_alone(tmp_path: Path) -> None:
    store = CandleStore(tmp_path / "store")
    store.write("A", "1m", bars(300))
    states = tmp_path / "states"
    pool = DetectorPool(store=store)
    with pool.live([("A", "1m")], FEW, state_dir=states) as session:
        session.poll()
    (name,) = [p.name for p in states.iterdir()]
    # A file that is not a state under a state's name is neither read nor replaced.
    (states / name).write_bytes(b"not a state")
    session = pool.live([("A", "1m")], FEW, state_dir=states)
    assert session.restored == 0
    session.poll()
    with pytest.raises(InvalidInputError, match="not a live state"):
        session.save()
    assert (states / name).read_bytes() == b"not a state"
    assert [p.name for p in states.iterdir()] == [name]  # no temp file left behind


def test_updates_iterator_and_callbacks_stop_when_asked(tmp_path: Path) -> None:
    store = CandleStore(tmp_path / "store")
    every = bars(400)
    store.write("A", "1m", every._slice(0, 300))
    session = DetectorPool(store=store).live([("A", "1m")], FEW)
    stop = threading.Event()
    seen: list[LiveUpdate] = []

    def on_update(update: LiveUpdate) -> None:
        seen.append(update)
        if len(seen) == 1:
            store.append("A", "1m", every._slice(300, 400))
        else:
            stop.set()

    session.run(on_update, interval=0.01, stop=stop)
    assert len(seen) == 2
    assert seen[0].reset and seen[1].stats["rows_computed"] == 100
    assert list(session.updates(0.01, stop=stop)) == []  # already stopped


SAVER = """
import sys
from ictcore import Candles, CandleStore, DetectorPool
from ictcore.synthetic import synthetic_frame
root = sys.argv[1]
store = CandleStore(root + "/store")
every = Candles.from_pandas(synthetic_frame(5, 20_000, "walk"))
session = DetectorPool(store=store, workers=1).live(
    [("A", "1m")], {FEW!r}, state_dir=root + "/states"
)
session.poll()
session.save()
print("ready", flush=True)
while True:  # appends, polls and saves until killed
    at = len(store.read("A", "1m"))
    store.append("A", "1m", every._slice(at, at + 3), durability="os")
    session.poll()
    session.save()
""".replace("{FEW!r}", repr(FEW))


@pytest.mark.slow
def test_a_session_killed_while_saving_resumes_from_a_whole_state(tmp_path: Path) -> None:
    """SIGKILL a process that appends, polls and saves in a loop, at random moments: the
    states it leaves are whole (the previous one or the new one, never a part), a new
    session resumes from them, the temp files of the killed saves are removed, and what it
    polls next equals the batch rows that became known after the state's bars."""
    import random
    import time

    store = CandleStore(tmp_path / "store")
    store.write("A", "1m", bars(20_000)._slice(0, 2_000))
    rng = random.Random(3)
    for _ in range(6):
        with subprocess.Popen(
            [sys.executable, "-c", SAVER, str(tmp_path)], stdout=subprocess.PIPE, text=True
        ) as child:
            assert child.stdout is not None and child.stdout.readline().strip() == "ready"
            time.sleep(rng.uniform(0.02, 0.3))
            child.kill()
            child.wait()
    pool = DetectorPool(store=store)
    session = pool.live([("A", "1m")], FEW, state_dir=tmp_path / "states")
    assert session.restored == 1
    assert not list((tmp_path / "states").glob(".*.tmp"))
    stored = len(store.read("A", "1m"))
    update = session.poll()
    assert not update.errors and not update.reset
    seen = stored - update.stats["rows_computed"]  # bars the saved state had stepped
    assert 2_000 <= seen <= stored
    batch = DetectorPool(workers=1).analyze(
        [("A", "1m", store.read("A", "1m"))], FEW, progress=False
    )
    for detector in FEW:
        want = batch["A", "1m", detector]
        got = update.get(("A", "1m", detector))
        new = want["known_at"] >= seen
        if got is None:
            assert not new.any(), detector
            continue
        for column in want.columns:
            assert got[column].tobytes() == want[column][new].tobytes(), (detector, column)
