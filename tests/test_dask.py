"""``ictcore.dask.analyze`` on a LocalCluster: the local pool's results, per-series errors,
locality, and a worker killed mid-run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

pytest.importorskip("distributed")

from distributed import Client, LocalCluster
from pydetector_funcs import logged_slow, pivots, rolling_range

import ictcore.dask
from ictcore import AnalysisCache, CandleStore, DetectorPool, EventTable
from ictcore.synthetic import synthetic_frame

SERIES = {f"S{i}": 900 + 250 * i for i in range(8)}
REQUESTS = [(s, "5m") for s in SERIES]
DETECTORS = ["fvg", "swing_highs_lows", "native.fvg", "native.structure", rolling_range, pivots]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> CandleStore:
    store = CandleStore(tmp_path_factory.mktemp("dask") / "store")
    for i, (symbol, n) in enumerate(SERIES.items()):
        store.write(symbol, "5m", synthetic_frame(40 + i, n))
    return store


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            resources={"ictcore": 1},
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def same(a: Any, b: Any) -> None:
    if isinstance(a, EventTable):
        pd.testing.assert_frame_equal(a.to_pandas(), b.to_pandas())
        for log in ("transitions", "sweeps"):
            if getattr(a, log, None) is not None:
                pd.testing.assert_frame_equal(
                    getattr(a, log).to_pandas(), getattr(b, log).to_pandas()
                )
    else:
        pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize("returns", ["summary", "arrays"])
def test_equal_to_the_local_pool(
    client: Client, store: CandleStore, tmp_path: Path, returns: str
) -> None:
    params = {"rolling_range": {"window": 7}, "swing_highs_lows": {"swing_length": 10}}
    requests = [*REQUESTS, ("MISSING", "5m")]
    with DetectorPool(workers=2, store=store) as pool:
        local = pool.analyze(requests, DETECTORS, params, progress=False)
    result = ictcore.dask.analyze(
        requests,
        DETECTORS,
        params,
        client=client,
        store=store,
        cache=tmp_path / "cache",
        returns=returns,
        batch_candles=3000,
    )
    assert set(result.errors) == set(local.errors) == {("MISSING", "5m")}
    assert set(result) == set(local)
    for key in local:
        same(local[key], result[key])
        assert result.rows[key] == len(local.frame(*key))
    stats = result.stats
    assert stats["workers"] == 2 and stats["batches"] > 2
    assert sum(w["series"] for w in stats["per_worker"].values()) == len(requests)
    assert set(result.workers.values()) <= set(client.scheduler_info()["workers"])


def test_parquet_files_written_by_the_workers(
    client: Client, store: CandleStore, tmp_path: Path
) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "parquet"
    result = ictcore.dask.analyze(
        REQUESTS[:3], ["native.fvg", rolling_range], client=client, store=store,
        returns=f"parquet:{out}",
    )  # fmt: skip
    assert len(result.files) == 6
    for key, path in result.files.items():
        assert Path(path).is_relative_to(out)
        written, fetched = pq.read_table(path), result.to_arrow(*key)
        assert written.schema.equals(fetched.schema)  # NaN != NaN in Table.equals
        pd.testing.assert_frame_equal(written.to_pandas(), fetched.to_pandas())
    assert not list(out.rglob("*.partial"))


def test_series_stay_with_their_worker_and_its_cache(
    client: Client, store: CandleStore, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    detectors = ["native.fvg", "native.swings", rolling_range]
    first = ictcore.dask.analyze(REQUESTS, detectors, client=client, store=store, cache=cache)
    second = ictcore.dask.analyze(REQUESTS, detectors, client=client, store=store, cache=cache)
    assert first.workers == second.workers
    assert len(set(first.workers.values())) == 2  # both workers got series
    # Each series ran on the worker its name hashes to (held there, not only hinted).
    from ictcore.dask import _rendezvous, _workers

    workers = _workers(client)
    names = [n for _, n, _ in workers]
    by_name = {n: a for a, n, _ in workers}
    for series, address in first.workers.items():
        assert address == by_name[names[_rendezvous(series, names)]]
    # Every result of the second call is a hit in the worker that made it.
    native = second.stats["memory_hits"] + second.stats["disk_hits"]
    assert native == 2 * len(REQUESTS) and second.stats["misses"] == 0
    assert second.stats["python_cached"] == len(REQUESTS)
    assert second.stats["python_computed"] == 0
    # Placed by the scheduler instead: the same results, wherever they ran.
    free = ictcore.dask.analyze(
        REQUESTS, detectors, client=client, store=store, cache=cache, affinity=False
    )
    for key in first:
        same(first[key], free[key])


def test_native_runs_resume_on_the_workers(client: Client, tmp_path: Path) -> None:
    """With a cache directory, a second call over appended series steps only the new bars
    (each series on the worker that stored its state), and equals the local pool."""
    store = CandleStore(tmp_path / "store")
    frames = {s: synthetic_frame(60 + i, 1500) for i, s in enumerate("PQRS")}
    for symbol, frame in frames.items():
        store.write(symbol, "1m", frame.iloc[:1400])
    requests = [(s, "1m") for s in frames]
    detectors = ["native.fvg", "native.swings"]
    cache = AnalysisCache(tmp_path / "cache", disk_writes="all")
    first = ictcore.dask.analyze(requests, detectors, client=client, store=store, cache=cache)
    assert first.stats["rows_computed"] == 2 * 4 * 1400
    for symbol, frame in frames.items():
        store.append(symbol, "1m", frame.iloc[1400:])
    second = ictcore.dask.analyze(requests, detectors, client=client, store=store, cache=cache)
    assert second.stats["resumed"] == 2 * 4
    assert second.stats["rows_computed"] == 2 * 4 * 100
    with DetectorPool(workers=2, store=store) as pool:
        local = pool.analyze(requests, detectors, progress=False, resume=False)
    for key in local:
        same(local[key], second[key])


def test_a_worker_killed_mid_run(client: Client, store: CandleStore, tmp_path: Path) -> None:
    log = tmp_path / "log"
    log.touch()
    cache = AnalysisCache(tmp_path / "cache", disk_writes="all")
    detector = {logged_slow: {"log": str(log), "seconds": 0.4}}
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = ictcore.dask.analyze(
                REQUESTS, detector, client=client, store=store, cache=cache, batch_candles=1
            )
        except BaseException as e:  # re-raised below, with its traceback
            outcome["error"] = e

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 120
    while log.read_text().count("end") < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    busy = [a for a, keys in client.processing().items() if keys]
    pids = client.run(os.getpid)
    killed_at = time.time()
    os.kill(pids[busy[0]], signal.SIGKILL)
    thread.join(240)
    if "error" in outcome:
        raise outcome["error"]
    result = outcome["result"]
    assert not result.errors and len(result) == len(REQUESTS)
    for key in result:
        frame = result[key]
        assert frame["rows"].tolist() == [SERIES[key[0]]]
    # A series whose result was cached before the kill was not computed again.
    ends: dict[str, list[float]] = {}
    for line in log.read_text().splitlines():
        kind, rows, at = line.split()
        if kind == "end":
            ends.setdefault(rows, []).append(float(at))
    assert sorted(int(r) for r in ends) == sorted(SERIES.values())
    for rows, times in ends.items():
        if min(times) < killed_at - 0.2:
            assert len(times) == 1, (rows, times, killed_at)


def test_ctrl_c_cancels_the_tasks_on_the_cluster(
    client: Client, store: CandleStore, tmp_path: Path
) -> None:
    import _thread

    log = tmp_path / "log"
    log.touch()
    # Ctrl-C one second in, while every worker is inside its batch.
    timer = threading.Timer(1.0, _thread.interrupt_main)
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        ictcore.dask.analyze(
            REQUESTS,
            {logged_slow: {"log": str(log), "seconds": 0.5}},
            client=client,
            store=store,
            batch_candles=10**9,  # one batch per worker: the running ones must stop inside
        )
    timer.join()
    deadline = time.monotonic() + 30
    while any(client.processing().values()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(client.processing().values())  # nothing left running or queued
    time.sleep(2.0)  # the running batches see the cancellation within 0.5 s
    started = log.read_text().count("start")
    time.sleep(1.5)
    assert log.read_text().count("start") == started  # nothing starts any more
    assert started < len(REQUESTS)


def test_the_package_works_without_dask() -> None:
    code = (
        "import sys; sys.modules['distributed'] = None; sys.modules['dask'] = None\n"
        "import ictcore, ictcore.dask\n"
        "try:\n"
        "    ictcore.dask.analyze([('A', '1m')], client=None, store='.')\n"
        "except ictcore.MissingDependencyError as e:\n"
        "    print('refused:', e)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "pip install 'ictcore[dask]'" in done.stdout


def test_refusals(client: Client, store: CandleStore) -> None:
    with pytest.raises(ictcore.InvalidInputError, match="returns"):
        ictcore.dask.analyze(REQUESTS, client=client, store=store, returns="csv")
    with pytest.raises(ictcore.InvalidInputError, match="twice"):
        ictcore.dask.analyze([REQUESTS[0]] * 2, client=client, store=store)
    with pytest.raises(ictcore.InvalidInputError, match="stored series"):
        ictcore.dask.analyze(
            [("A", "1m", synthetic_frame(0, 10))],  # type: ignore[list-item]
            client=client,
            store=store,
        )
