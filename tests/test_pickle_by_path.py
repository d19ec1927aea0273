"""The store, the cache and the pool pickle by path (issue 17, item 5): another process
(a ``multiprocessing`` or ``concurrent.futures`` worker) reopens them there and maps the
series itself, so no candle is pickled, and what is cached on disk is shared."""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import pickle
from pathlib import Path

import numpy as np
import pytest
from pool_workers import DETECTORS, analyze_in_worker

from ictcore import AnalysisCache, Candles, CandleStore, DetectorPool
from ictcore.synthetic import synthetic_frame


def filled_store(root: Path) -> CandleStore:
    store = CandleStore(root / "store")
    for seed, symbol in enumerate(("A", "B")):
        store.write(symbol, "1m", Candles.from_pandas(synthetic_frame(seed + 1, 3_000, "walk")))
    return store


def test_pickles_reopen_the_same_directories(tmp_path: Path) -> None:
    store = filled_store(tmp_path)
    cache = AnalysisCache(tmp_path / "cache", max_memory_bytes=2**20, disk_writes="all")
    pool = DetectorPool(workers=1, store=store, cache=cache)
    again = pickle.loads(pickle.dumps(pool))
    assert again.store is not None and again.store.path == store.path
    assert again.cache is not None and again.cache.path == cache.path
    assert again.workers == 1 and again.cache._settings == cache._settings
    assert [s.symbol for s in again.store.series()] == ["A", "B"]
    first = pool.analyze([("A", "1m")], DETECTORS, progress=False)
    # The pickled pool's cache reads what the first one wrote (every result: "all").
    second = again.analyze([("A", "1m")], DETECTORS, progress=False)
    assert second.stats["disk_hits"] == len(DETECTORS)
    for d in DETECTORS:
        got, expected = second.arrays("A", "1m", d), first.arrays("A", "1m", d)
        assert list(got) == list(expected)
        for c in got:
            assert np.asarray(got[c]).tobytes() == np.asarray(expected[c]).tobytes()


def test_a_relative_path_pickles_as_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = CandleStore("rel-store")
    cache = AnalysisCache("rel-cache")
    data = pickle.dumps((store, cache))
    monkeypatch.chdir("/")
    store2, cache2 = pickle.loads(data)
    assert store2.path == tmp_path / "rel-store"
    assert cache2.path == tmp_path / "rel-cache"


def test_a_memory_only_cache_arrives_empty() -> None:
    cache = AnalysisCache(max_memory_bytes=2**20)
    cache.get_or_compute("d", {}, {"x": np.arange(3.0)}, lambda: {"y": np.arange(3.0)})
    again = pickle.loads(pickle.dumps(cache))
    assert again.path is None and again.stats()["entries"] == 0


def test_a_store_gone_before_unpickling_is_an_error_naming_it(tmp_path: Path) -> None:
    store = CandleStore(tmp_path / "gone")
    data = pickle.dumps(store)
    (tmp_path / "gone").rename(tmp_path / "moved")
    with pytest.raises(Exception, match="gone"):
        pickle.loads(data)


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_worker_processes_analyze_with_a_pool_they_were_handed(tmp_path: Path, method: str) -> None:
    store = filled_store(tmp_path)
    pool = DetectorPool(workers=1, store=store, cache=AnalysisCache(tmp_path / "cache"))
    local = {symbol: analyze_in_worker(pool, symbol) for symbol in ("A", "B")}
    context = multiprocessing.get_context(method)
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=context) as executor:
        remote = dict(
            zip(
                ("A", "B"),
                executor.map(analyze_in_worker, [pool, pool], ["A", "B"]),
                strict=True,
            )
        )
    assert remote == local
