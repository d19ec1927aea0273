"""The engine plan's KPIs measured on a store (``ictcore bench``): parallel speed-up, total
analysis time, the cache's hit rate over replayed live cycles, live cycle time, peak memory,
compression and disk bytes, each against its target from the config.

Nothing is written to the store: the replay feeds a copy of it (cut at the replay's start)
in a temporary directory, where the cache lives too.
"""

from __future__ import annotations

import os
import resource
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .cache import AnalysisCache
from .config import Config
from .pool import NATIVE_DETECTORS, AnalysisResult, DetectorPool
from .store import CandleStore

MINUTE_NS = 60 * 10**9


@dataclass
class Measure:
    """One KPI: its value, the target (text) and whether it was met (None: no target)."""

    name: str
    value: float | None
    unit: str
    target: str | None = None
    met: bool | None = None
    detail: str = ""

    def text(self) -> str:
        if self.value is None:
            return "n/a"
        if self.unit == "%":
            return f"{self.value:.0%}"
        if self.unit == "x":
            return f"{self.value:.2f}x"
        if self.unit == "s":
            return f"{self.value:.3f} s"
        if self.unit == "MB":
            return f"{self.value:,.0f} MB"
        if self.unit == "bytes":
            return f"{self.value:,.0f}"
        return f"{self.value:g} {self.unit}".strip()


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (mapped file pages included)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _private_mb() -> float | None:
    """This process's resident private memory now (Linux ``RssAnon``), in MB: what it
    allocated, without the pages of files it maps, which the kernel can drop and reread."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


class PrivateMemoryPeak:
    """Samples :func:`_private_mb` every 10 ms on a daemon thread; :attr:`peak` is the
    highest seen (None where the system does not tell)."""

    def __init__(self) -> None:
        self.peak = _private_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ictcore-memory", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            now = _private_mb()
            if now is not None and (self.peak is None or now > self.peak):
                self.peak = now

    def __enter__(self) -> PrivateMemoryPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _read_back(result: AnalysisResult, series: Any = None) -> None:
    # What the engine does with a result: take it, one at a time (all of W1's dense compat
    # frames at once would not fit in memory); only those of ``series`` when given.
    for key in result:
        if series is None or key[:2] in series:
            result[key]


def _timed(call: Callable[[], AnalysisResult]) -> tuple[AnalysisResult, float]:
    start = time.perf_counter()
    result = call()
    return result, time.perf_counter() - start


def replay_minutes(times: Sequence[np.ndarray], cycles: int) -> list[int]:
    """The replayed cycles' times (ns): ``cycles`` whole minutes ending at the newest bar
    of the store, preceded by the time the replay starts from."""
    newest = max(int(t[-1]) for t in times if len(t))
    end = newest - newest % MINUTE_NS
    return [end - k * MINUTE_NS for k in range(cycles, -1, -1)]


def measure(
    store: CandleStore,
    requests: list[tuple[str, str]],
    detectors: Sequence[str],
    config: Config,
    cycles: int = 5,
    log: Callable[[str], None] = lambda _: None,
    disk_writes: str = "paying",
) -> dict[str, Any]:
    """Runs the measures and returns the report (what ``--json`` prints); the cache is
    sized by ``config`` and keeps results by ``disk_writes`` (see :class:`AnalysisCache`)."""
    with PrivateMemoryPeak() as memory:
        report = _measure(store, requests, detectors, config, cycles, log, disk_writes)
    private = memory.peak
    report["measures"].append(
        asdict(
            Measure(
                "peak private memory (sampled every 10 ms)",
                private,
                "MB",
                f"<= {config.memory_max_mb:g} MB",
                None if private is None else private <= config.memory_max_mb,
                "what this process allocated, without the mapped store's pages",
            )
        )
    )
    # Decided here, once every measure (the memory peak included) is in.
    report["all_met"] = all(m["met"] is not False for m in report["measures"])
    return report


def _measure(
    store: CandleStore,
    requests: list[tuple[str, str]],
    detectors: Sequence[str],
    config: Config,
    cycles: int,
    log: Callable[[str], None],
    disk_writes: str,
) -> dict[str, Any]:
    workers = config.workers()
    info = {(s.symbol, s.timeframe): s for s in store.series()}
    candles = sum(info[r].rows for r in requests)
    store_bytes = sum(store._store.path(*r).stat().st_size for r in requests)
    measures: list[Measure] = []

    log(f"single thread: {len(requests)} series, {candles:,} candles")
    single_pool = DetectorPool(workers=1, store=store, config=config, processes=0)
    _, single = _timed(lambda: single_pool.analyze(requests, detectors, progress=False, keep=False))
    log(f"{workers} workers")
    pool = DetectorPool(workers=workers, store=store, config=config, processes=0)
    _, parallel = _timed(lambda: pool.analyze(requests, detectors, progress=False, keep=False))
    speedup = single / parallel if parallel > 0 else None
    measures.append(
        Measure(
            f"parallel speed-up ({workers} workers on {os.cpu_count()} cores)",
            speedup,
            "x",
            f">= {config.parallel_speedup_min:g}x",
            None if speedup is None else speedup >= config.parallel_speedup_min,
            f"single thread {single:.3f} s",
        )
    )
    limit = config.total_analysis_max_seconds
    measures.append(
        Measure(
            "total analysis time (parallel, no cache)",
            parallel,
            "s",
            f"<= {limit:g} s",
            parallel <= limit,
        )
    )

    with tempfile.TemporaryDirectory(prefix="ictcore-bench-cache-") as tmp:
        cache = AnalysisCache.from_config(config, Path(tmp) / "cache", disk_writes)
        cached = DetectorPool(workers=workers, store=store, cache=cache, config=config, processes=0)
        log("cold cache, every result read back")
        result, cold = _timed(lambda: cached.analyze(requests, detectors, progress=False))
        start = time.perf_counter()
        _read_back(result)
        cold += time.perf_counter() - start
        del result
        stats = cache.stats()
        measures.append(
            Measure(
                "total analysis time (cold cache, results read back)",
                cold,
                "s",
                f"<= {limit:g} s",
                cold <= limit,
            )
        )
        raw, packed = int(stats["raw_bytes_written"]), int(stats["compressed_bytes_written"])
        measures.append(
            Measure(
                "cache compression ratio (raw / on disk)",
                raw / packed if packed else None,
                "x",
                detail=f"{stats['disk_writes']} of {len(requests) * len(detectors)} results "
                "kept on disk (the rest recompute faster than they read back)",
            )
        )
        measures.append(Measure("cache bytes on disk", float(stats["bytes_on_disk"]), "bytes"))
        measures.append(
            Measure(
                "store bytes on disk",
                float(store_bytes),
                "bytes",
                detail=f"{store_bytes / max(candles, 1):.1f} bytes per candle",
            )
        )
        cycle_times, hits, lookups, changed, polls = _replay(
            store, requests, detectors, cached, cycles, Path(tmp), log
        )

    rate = hits / lookups if lookups else None
    measures.append(
        Measure(
            f"cache hit rate over {cycles} replayed live cycles",
            rate,
            "%",
            f">= {config.cache_hit_rate_min:.0%}",
            None if rate is None else rate >= config.cache_hit_rate_min,
            f"{hits} hits of {lookups} lookups; series changed per cycle: "
            + ", ".join(str(c) for c in changed),
        )
    )
    # What a cache could have served: the results of series no new bar reached.
    servable = sum(len(requests) - c for c in changed) * len(detectors)
    measures.append(
        Measure(
            "... of the results of unchanged series",
            min(1.0, hits / servable) if servable else None,
            "%",
            detail=f"{servable} lookups were for series no new bar reached; "
            + (
                "the cache keeps every result (--keep-all)"
                if disk_writes == "all"
                else "the cache does not keep results that compute faster than they read back "
                "(dense compat frames), so those are recomputed (--keep-all keeps them)"
            ),
        )
    )
    median = statistics.median(cycle_times) if cycle_times else None
    measures.append(
        Measure(
            "live cycle time (median, new results read back)",
            median,
            "s",
            f"<= {limit:g} s",
            None if median is None else median <= limit,
            "max " + (f"{max(cycle_times):.3f} s" if cycle_times else "n/a"),
        )
    )
    if polls:
        measures.append(
            Measure(
                "live session poll (median), the same cycles",
                statistics.median(polls),
                "s",
                f"<= {limit:g} s",
                statistics.median(polls) <= limit,
                f"max {max(polls):.3f} s; pool.live steps only the new bars and returns "
                "the new rows (native detectors only)",
            )
        )
    measures.append(
        Measure(
            "peak resident memory (this process)",
            peak_rss_mb(),
            "MB",
            detail="mapped store pages included: the kernel drops and rereads those",
        )
    )
    return {
        "store": str(store.path),
        "series": len(requests),
        "candles": candles,
        "detectors": list(detectors),
        "workers": workers,
        "cores": os.cpu_count(),
        "cycles": cycles,
        "disk_writes": disk_writes,
        "measures": [asdict(m) for m in measures],
        "notes": list(config.notes),
    }


def _replay(
    store: CandleStore,
    requests: list[tuple[str, str]],
    detectors: Sequence[str],
    cached: DetectorPool,
    cycles: int,
    work: Path,
    log: Callable[[str], None],
) -> tuple[list[float], int, int, list[int], list[float]]:
    """Replays the last ``cycles`` minutes as the live engine runs them: a feed appends to a
    store the bars opened by each minute, and the pool analyses the whole portfolio from it
    through the cache; the results of the series a new bar reached are read back (the engine
    has the others). The store is a copy, in ``work``, of ``store`` cut at the replay's
    start; ``store`` itself is only read. A series no bar reached keeps its content, so its
    results can be cache hits.

    When every detector is native, a :class:`~ictcore.LiveSession` over the same store polls
    each cycle too (after the pool's call, so each sees the same bars): its poll times are
    the last list returned (empty otherwise)."""
    series = {r: store.read(*r) for r in requests}
    minutes = replay_minutes([c.time for c in series.values()], cycles)
    live_store = CandleStore(work / "replay-store")
    pool = DetectorPool(
        workers=cached.workers, store=live_store, cache=cached.cache, config=cached.config
    )
    times: list[float] = []
    polls: list[float] = []
    session = None
    hits = lookups = 0
    changed: list[int] = []
    stored = dict.fromkeys(requests, 0)
    for k, minute in enumerate(minutes):
        moved = set()
        for r, c in series.items():
            n = int(np.searchsorted(c.time, minute, side="right"))
            if n > stored[r]:
                bars = c._slice(stored[r], n)
                if stored[r]:
                    live_store.append(*r, bars)
                else:
                    live_store.write(*r, bars)
                stored[r] = n
                moved.add(r)
        present = [r for r in requests if stored[r]]
        start = time.perf_counter()
        result = pool.analyze(present, detectors, progress=False)
        _read_back(result, moved)
        seconds = time.perf_counter() - start
        result_stats = result.stats
        del result
        if all(d in NATIVE_DETECTORS for d in detectors):
            if session is None:
                # Made at the replay's start; its first poll steps the whole history.
                session = pool.live(present, detectors)
                session.poll()
            else:
                start = time.perf_counter()
                session.poll()
                polls.append(time.perf_counter() - start)
        if k == 0:
            log(f"replay from {np.datetime64(minute, 'ns')} UTC ({cycles} cycles)")
        else:
            s = result_stats
            hits += int(s["memory_hits"] + s["disk_hits"])
            lookups += int(s["memory_hits"] + s["disk_hits"] + s["misses"])
            times.append(seconds)
            changed.append(len(moved))
    return times, hits, lookups, changed, polls


def print_report(report: dict[str, Any], out: Any = sys.stdout) -> None:
    """The report as a table, then the notes."""
    print(
        f"{report['series']} series, {report['candles']:,} candles, "
        f"{len(report['detectors'])} detectors, {report['workers']} workers on "
        f"{report['cores']} cores",
        file=out,
    )
    print(f"{'measure':<56} {'measured':>14} {'target':>10}  verdict", file=out)
    for m in report["measures"]:
        shown = Measure(**m)
        verdict = {True: "met", False: "MISSED", None: ""}[shown.met]
        print(f"{shown.name:<56} {shown.text():>14} {shown.target or '':>10}  {verdict}", file=out)
        if shown.detail:
            print(f"{'':<4}{shown.detail}", file=out)
    for note in report["notes"]:
        print(f"note: {note}", file=out)
