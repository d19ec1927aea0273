"""The pool on a Dask cluster: one call analyses a portfolio across machines.

``ictcore.dask.analyze(requests, detectors, client=client, store=..., cache=...)`` is
:meth:`DetectorPool.analyze <ictcore.DetectorPool.analyze>` spread over the workers of a
``distributed.Client`` (``pip install 'ictcore[dask]'``), with the same results.

Topology: run one Dask worker per node with one thread (``dask worker --nthreads 1
--resources ictcore=1``); inside it a :class:`~ictcore.DetectorPool` uses the node's cores
(its threads for built-in detectors, its processes for Python ones). Dask only moves batches
of series names to the workers and summaries back. If some workers have the ``ictcore``
resource, only those are used.

Locality: each series goes to the worker its (symbol, timeframe) hashes to (rendezvous
hashing on the workers' names, so adding or losing a worker moves only its share), so the
worker's cache is warm for it on the next call. Batches of about ``batch_candles`` candles
keep tasks at a second of work or more. ``store`` is a path every worker can read: a replica
at the same path on every node, or one shared directory (readers are safe on a network file
system; a writer must be the only one and local to its disk, so do not append to a store on
NFS while workers read it). ``cache`` is a directory path on each node (node-local disk);
without one, each worker keeps a memory cache.

Results stay on the workers by default (``returns="summary"``): the call returns the keys,
row counts, errors and stats, and ``result[key]`` fetches one result from the worker that
holds it (recomputing it there if its cache has let it go). ``returns="arrays"`` gathers
every result's columns; ``returns="parquet:DIR"`` has each worker write its results as
Parquet files under ``DIR/<symbol>/<timeframe>/<detector>.parquet`` (``DIR`` shared or
node-local; pyarrow needed on the workers).

Failures: a missing or damaged series fails alone (``result.errors``). A worker that dies
mid-batch is replaced by the cluster and its batch retried (``retries``) elsewhere or on its
replacement: cache keys are content hashes, so results already cached are not computed
again. A batch that fails for good fails its series with that error. Ctrl-C cancels the
call's tasks on the cluster and raises KeyboardInterrupt.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from . import _interop
from ._columns import TableColumns, expanded
from .cache import AnalysisCache
from .exceptions import IctError, InvalidInputError
from .pool import (
    DETECTORS,
    NATIVE_DETECTORS,
    AnalysisResult,
    DetectorPool,
    Key,
    _detector_specs,
    _split_detectors,
)
from .store import CandleStore

_log = logging.getLogger("ictcore.dask")

__all__ = ["DistributedResult", "analyze"]

Series = tuple[Any, ...]

#: The batch stats summed per worker and in total.
_COUNTED = (
    "memory_hits",
    "disk_hits",
    "misses",
    "resumed",
    "recomputed",
    "rows_computed",
    "python_computed",
    "python_cached",
)

#: Per worker process: the pools made for (store, cache, threads), reused by later batches.
_POOLS: dict[tuple[Any, ...], DetectorPool] = {}


class DistributedResult(AnalysisResult):
    """An :class:`~ictcore.AnalysisResult` whose results live on the cluster's workers (or
    were gathered, with ``returns="arrays"``). :attr:`workers` says which worker analysed
    each series; ``stats["per_worker"]`` what each did; :attr:`rows` the row count of each
    result (without fetching it); :attr:`files` the Parquet files written."""

    workers: dict[tuple[str, str], str]
    rows: dict[Key, int]
    files: dict[Key, str]


def _rendezvous(series: tuple[str, str], names: list[str]) -> int:
    """The index of the worker a series belongs to: the highest hash of (series, worker)."""

    def score(name: str) -> bytes:
        text = f"{series[0]}\0{series[1]}\0{name}".encode()
        return hashlib.blake2b(text, digest_size=8).digest()

    return max(range(len(names)), key=lambda i: score(names[i]))


def _workers(client: Any, required: bool = True) -> list[tuple[str, str, str]]:
    """(address, name, host) of the workers to use: those with the ``ictcore`` resource, or
    all. None at all is an error when ``required`` (a call's start), else an empty list (a
    worker being replaced mid-call: the caller looks again later)."""
    info = client.scheduler_info(n_workers=-1)["workers"]
    chosen = [a for a, w in info.items() if "ictcore" in (w.get("resources") or {})]
    addresses = sorted(chosen or info)
    if not addresses and required:
        raise IctError("the Dask cluster has no workers")
    return [(a, str(info[a].get("name", a)), str(info[a].get("host", ""))) for a in addresses]


def _has_resource(client: Any) -> bool:
    """Whether some worker declares the ``ictcore`` resource (then every task asks for one,
    so a worker runs one batch at a time whatever its thread count)."""
    info = client.scheduler_info(n_workers=-1)["workers"]
    return any("ictcore" in (w.get("resources") or {}) for w in info.values())


def _pool_for(store: str, cache: Any, threads: int | None, sharing: int) -> DetectorPool:
    """This worker process's pool for the store and cache (made once, reused): ``threads``,
    or this node's cores shared among the ``sharing`` ictcore workers on it."""
    threads = threads or max(1, (os.cpu_count() or 1) // max(1, sharing))
    key = (store, repr(cache), threads)
    pool = _POOLS.get(key)
    if pool is None:
        held: AnalysisCache | None
        if isinstance(cache, AnalysisCache):
            held = cache
        elif cache is False:
            held = None  # every call computes; a fetch computes again
        elif cache is None:
            held = AnalysisCache(None)
        else:
            held = AnalysisCache(cache)
        pool = _POOLS[key] = DetectorPool(
            workers=threads, store=CandleStore(store, create=False), cache=held
        )
    return pool


def _held_columns(result: AnalysisResult, key: Key) -> dict[str, Any]:
    """A result's columns as they travel: dense (compat frames expanded), metadata kept."""
    held = result._held(key)
    if key[2] in result._python:
        return held
    out = expanded(held) if isinstance(held, TableColumns) else held
    if isinstance(held, TableColumns) and isinstance(out, TableColumns) and out is not held:
        out.meta = {k: v for k, v in held.meta.items() if not k.startswith("compact.")}
    return out


def _run_batch(
    store: str,
    cache: Any,
    threads: int | None,
    sharing: int,
    batch: list[Series],
    detectors: list[tuple[Any, dict[str, Any]]],
    returns: str,
    cancel: str,
) -> dict[str, Any]:
    """A task: one batch of series on this worker's pool. The call's Dask ``Event`` named
    ``cancel`` stops it (Dask cannot stop a task that is running)."""
    import distributed
    from distributed import get_client, get_worker

    started = time.perf_counter()
    pool = _pool_for(store, cache, threads, sharing)
    stop, finished = threading.Event(), threading.Event()
    event: Any = distributed.Event(cancel, client=get_client())  # type: ignore[no-untyped-call]

    def watch() -> None:
        # Asks every half second (a blocking wait on the scheduler would be left pending
        # there when the batch ends, and logged as an error if the cluster then closes).
        while not finished.wait(0.5):
            try:
                if event.is_set():
                    stop.set()
                    return
            except Exception:  # the scheduler is gone: the task is lost anyway
                return

    watcher = threading.Thread(target=watch, name="ictcore-cancel-watch", daemon=True)
    watcher.start()
    try:
        result = pool.analyze(batch, dict(detectors), progress=False, cancel=stop)
    finally:
        finished.set()
    rows: dict[Key, int] = {}
    arrays: dict[Key, Any] = {}
    files: dict[Key, str] = {}
    for key in result:
        rows[key] = _row_count(result, key)
        if returns == "arrays":
            arrays[key] = _held_columns(result, key)
        elif returns != "summary":
            files[key] = _write_parquet(result, key, returns.removeprefix("parquet:"))
    return {
        "worker": get_worker().address,
        "series": [tuple(s[:2]) for s in batch],
        "rows": rows,
        "arrays": arrays,
        "files": files,
        "errors": dict(result.errors),
        "stats": dict(result.stats),
        "seconds": time.perf_counter() - started,
    }


def _row_count(result: AnalysisResult, key: Key) -> int:
    """A result's rows, without expanding it (a compat frame held compact knows its own)."""
    if key[2] in NATIVE_DETECTORS:
        return len(result[key])  # its main table (the others travel in the same columns)
    held = result._held(key)
    if isinstance(held, TableColumns) and "compact.rows" in held.meta:
        return int(held.meta["compact.rows"])
    lengths = [len(a) for name, a in held.items() if not name.startswith(("\0labels", "@"))]
    return max(lengths, default=0)


def _write_parquet(result: AnalysisResult, key: Key, root: str) -> str:
    """Writes one result under ``root`` (temp file, then renamed); returns its path."""
    pq = _interop.require("pyarrow.parquet", "arrow", 'returns="parquet:DIR"')
    symbol, timeframe, detector = key
    folder = Path(root) / symbol / timeframe
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{detector}.parquet"
    partial = folder / f".{detector}.{os.getpid()}.{uuid.uuid4().hex}.partial"
    pq.write_table(result.to_arrow(*key), partial)
    os.replace(partial, path)
    return str(path)


def _fetch(
    store: str,
    cache: Any,
    threads: int | None,
    sharing: int,
    series: Series,
    detector: tuple[Any, dict[str, Any]],
) -> dict[str, Any]:
    """A task: one result, from this worker's cache (or computed again)."""
    pool = _pool_for(store, cache, threads, sharing)
    result = pool.analyze([series], dict([detector]), progress=False)
    if result.errors:
        raise next(iter(result.errors.values()))
    key = next(iter(result))
    return _held_columns(result, key)


def _as_path(what: str, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, CandleStore):
        return os.path.abspath(value.path)
    if isinstance(value, AnalysisCache):
        return None if value.path is None else os.path.abspath(value.path)
    if isinstance(value, str | os.PathLike):
        return os.path.abspath(os.fspath(value))
    raise InvalidInputError(f"{what} must be a path, got {type(value).__name__}", parameter=what)


def analyze(
    requests: Iterable[Series],
    detectors: Any = DETECTORS,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    client: Any,
    store: str | os.PathLike[str] | CandleStore,
    cache: str | os.PathLike[str] | AnalysisCache | bool | None = None,
    returns: str = "summary",
    batch_candles: int = 2_000_000,
    threads: int | None = None,
    retries: int = 2,
    affinity: bool = True,
    progress: bool | Callable[[int, int], None] = False,
) -> DistributedResult:
    """:meth:`DetectorPool.analyze <ictcore.DetectorPool.analyze>` over a Dask cluster (see
    the module documentation).

    Parameters:
        requests: ``(symbol, timeframe)`` or ``(symbol, timeframe, start, end)`` of stored
            series.
        detectors, params: as for ``DetectorPool.analyze`` (built-in names and Python
            functions; the functions travel to the workers by cloudpickle).
        client: a ``distributed.Client``.
        store: the store's path on the workers (a CandleStore: its path).
        cache: a cache directory path on each worker (an AnalysisCache: its path and its
            settings); None (default) for a memory cache per worker, which keeps results
            for fetching and later calls; False for none (every call computes, and so does
            each fetch).
        returns: ``"summary"`` (default: results stay on the workers, fetched on access),
            ``"arrays"`` (gathered) or ``"parquet:DIR"`` (written by the workers).
        batch_candles: about how many candles a task holds (series are not split).
        threads: the pool threads per worker (default: the cores of its node shared among
            the ictcore workers on that node).
        retries: times a batch is retried after its worker died.
        affinity: send each series to the worker it hashes to (default); False lets the
            scheduler place batches freely (caches then warm up more slowly).
        progress: a tqdm bar over batches (True), none, or a callable ``(done, total)``.
    """
    distributed: Any = _interop.require("distributed", "dask", "ictcore.dask.analyze")
    if returns != "summary" and returns != "arrays" and not returns.startswith("parquet:"):
        raise InvalidInputError(
            f'returns must be "summary", "arrays" or "parquet:DIR", got {returns!r}',
            parameter="returns",
        )
    if returns.startswith("parquet:"):
        returns = "parquet:" + os.path.abspath(returns.removeprefix("parquet:"))
    if batch_candles < 1:
        raise InvalidInputError("batch_candles must be at least 1", parameter="batch_candles")
    store_path = _as_path("store", store)
    if store_path is None:  # pragma: no cover - a store is required by the signature
        raise InvalidInputError("a store is needed", parameter="store")
    cache_arg: Any = (
        cache if isinstance(cache, AnalysisCache) or cache is False else _as_path("cache", cache)
    )
    specs = _detector_specs(detectors, params)
    python = _split_detectors(specs)[1]
    # Python detectors travel as PythonDetector: their identity (a hash of their source)
    # is taken here, where the source is; a worker may not have it (a notebook cell).
    by_name: dict[str, tuple[Any, dict[str, Any]]] = {}
    for detector, p in specs:
        by_name[detector if isinstance(detector, str) else detector.name] = (detector, p)
    pairs = list(by_name.values())
    series = _series_list(requests)

    if not _workers(client, required=False):  # a worker may be restarting: wait a little
        with contextlib.suppress(Exception):
            client.wait_for_workers(1, timeout=30)
    workers = _workers(client)
    per_host: dict[str, int] = {}
    for _, _, host in workers:
        per_host[host] = per_host.get(host, 0) + 1
    sharing = {name: per_host[host] for _, name, host in workers}
    rows_of = _rows(client, store_path, workers[0][0])
    names = [name for _, name, _ in workers]
    assigned: dict[str | None, list[Series]] = {}
    for s in series:
        owner = names[_rendezvous((s[0], s[1]), names)] if affinity else None
        assigned.setdefault(owner, []).append(s)
    resources = {"ictcore": 1} if _has_resource(client) else None

    def submit(function: Any, *args: Any, name: str | None, strict: bool) -> Any:
        """Submits to the worker called ``name`` (its address now): only there when
        ``strict`` (affinity; a loose restriction is only a hint the scheduler overrides
        under load), else preferably there."""
        address = {n: a for a, n, _ in _workers(client, required=False)}.get(name or "")
        return client.submit(
            function,
            store_path,
            cache_arg,
            threads,
            sharing.get(name or "", max(per_host.values())),
            *args,
            workers=[address] if address else None,
            allow_other_workers=bool(address) and not strict,
            retries=retries,
            resources=resources,
            pure=False,
            key=f"ictcore-{function.__name__.strip('_')}-{uuid.uuid4().hex}",
        )

    # Set when the call is interrupted: running batches see it and stop (left set, so a
    # batch that looks later sees it too; the scheduler keeps one flag per cancelled call).
    cancel = f"ictcore-cancel-{uuid.uuid4().hex}"
    started = time.perf_counter()
    # Each batch: (its series, the worker name it belongs to, times it was resubmitted).
    pending: dict[Any, tuple[Any, list[Series], str | None, int]] = {}
    total = 0
    for owner, items in assigned.items():
        for batch in _batches(items, rows_of, batch_candles):
            future = submit(_run_batch, batch, pairs, returns, cancel, name=owner, strict=True)
            pending[future.key] = (future, batch, owner, 0)
            total += 1
    bar = _bar(total, progress)
    outcomes: list[dict[str, Any]] = []
    failed: dict[tuple[str, str], BaseException] = {}
    done = 0
    try:
        while pending:
            try:
                finished = distributed.wait(
                    [p[0] for p in pending.values()], timeout=1.0, return_when="FIRST_COMPLETED"
                ).done
            except (TimeoutError, asyncio.TimeoutError):
                finished = set()
            # ``wait`` also wakes for a future whose worker died ("lost"): it runs again
            # (or is resubmitted below), so only finished and failed ones are taken.
            ended = [f for f in finished if f.status in ("finished", "error", "cancelled")]
            taken = 0
            for future in ended:
                batch = pending[future.key][1]
                try:
                    if future.status == "cancelled":  # by someone else on the cluster
                        raise IctError(f"batch {future.key} was cancelled on the cluster")
                    # Its worker may die before the result is fetched: then it runs again
                    # (or is resubmitted below), so the fetch does not wait for ever.
                    outcomes.append(future.result(timeout=5))
                except (TimeoutError, asyncio.TimeoutError):  # one type from Python 3.11
                    continue
                except Exception as e:  # the batch failed for good: its series fail with it
                    for s in batch:
                        failed[s[0], s[1]] = e
                del pending[future.key]
                taken += 1
                done += 1
                if bar is not None:
                    bar(done, total)
            if not taken:
                _resubmit_orphans(client, pending, submit, (pairs, returns, cancel), retries)
                if finished:
                    time.sleep(0.1)  # lost futures wake ``wait`` at once: do not spin
    except BaseException:
        distributed.Event(cancel, client=client).set()
        client.cancel([p[0] for p in pending.values()])
        raise
    python_names = frozenset(d.name for d, _ in python)

    by_address = {a: n for a, n, _ in workers}

    def fetch(key: Key, holder: str | None) -> Any:
        name = by_address.get(holder or "")
        return submit(_fetch, key[:2], by_name[key[2]], name=name, strict=False).result()

    result = _result(outcomes, failed, time.perf_counter() - started, fetch, python_names)
    result.stats["batches"] = total
    return result


def _resubmit_orphans(
    client: Any,
    pending: dict[Any, tuple[Any, list[Series], str | None, int]],
    submit: Callable[..., Any],
    args: tuple[Any, ...],
    retries: int,
) -> None:
    """Batches held to a worker that is gone (killed, its node lost; a restarted worker has
    a new address) go to the worker their series hash to now; after ``retries`` such moves a
    batch runs wherever the scheduler puts it."""
    current = _workers(client, required=False)
    if not current:
        return  # no worker right now (one is being replaced): look again next time
    alive = {a for a, _, _ in current}
    names = [n for _, n, _ in current]
    held = client.run_on_scheduler(_restrictions_of, list(pending))
    for key, (future, batch, owner, moves) in list(pending.items()):
        restriction = held.get(key)
        if restriction is None or restriction & alive:
            continue
        client.cancel([future])
        del pending[key]
        name = names[_rendezvous((batch[0][0], batch[0][1]), names)] if owner else None
        _log.warning(
            "a batch of %d series held to a worker that is gone goes to %s",
            len(batch),
            name or "any worker",
        )
        moved = submit(_run_batch, batch, *args, name=name, strict=moves < retries)
        pending[moved.key] = (moved, batch, owner, moves + 1)


def _restrictions_of(keys: list[Any], dask_scheduler: Any = None) -> dict[Any, set[str]]:
    """On the scheduler: the worker addresses each unfinished task is held to (strictly)."""
    out: dict[Any, set[str]] = {}
    for key in keys:
        task = dask_scheduler.tasks.get(key) if dask_scheduler is not None else None
        if task is None or task.state in ("memory", "erred") or task.loose_restrictions:
            continue
        if task.worker_restrictions:
            out[key] = set(task.worker_restrictions)
    return out


def _series_list(requests: Iterable[Series]) -> list[Series]:
    out: list[Series] = []
    seen: set[tuple[str, str]] = set()
    for item in requests:
        if not isinstance(item, tuple) or len(item) not in (2, 4):
            raise InvalidInputError(
                "a distributed request is (symbol, timeframe) or (symbol, timeframe, start, "
                f"end) of a stored series; got {item!r}"
            )
        key = (str(item[0]), str(item[1]))
        if key in seen:
            raise InvalidInputError(f"{key!r} is requested twice")
        seen.add(key)
        out.append((key[0], key[1], *item[2:]))
    return out


def _stored_rows(store: str) -> dict[tuple[str, str], int]:
    """A task: the row count of every stored series (to size batches)."""
    return {(s.symbol, s.timeframe): s.rows for s in CandleStore(store, create=False).series()}


def _rows(client: Any, store: str, address: str) -> dict[tuple[str, str], int]:
    """Row counts of the stored series: read here if this machine has the store, else asked
    of a worker."""
    if os.path.isdir(store):
        try:
            return _stored_rows(store)
        except Exception:
            pass  # not readable here: ask a worker
    future = client.submit(_stored_rows, store, workers=[address], pure=False)
    rows: dict[tuple[str, str], int] = future.result()
    return rows


def _batches(
    items: list[Series], rows: Mapping[tuple[str, str], int], limit: int
) -> list[list[Series]]:
    """Series in batches of about ``limit`` candles, the longest first."""
    ordered = sorted(items, key=lambda s: -rows.get((s[0], s[1]), 0))
    batches: list[list[Series]] = []
    current: list[Series] = []
    size = 0
    for s in ordered:
        n = rows.get((s[0], s[1]), 0)
        if current and size + n > limit:
            batches.append(current)
            current, size = [], 0
        current.append(s)
        size += n
    if current:
        batches.append(current)
    return batches


def _bar(total: int, progress: Any) -> Callable[[int, int], None] | None:
    from .pool import _progress_bar

    if callable(progress):
        user: Callable[[int, int], None] = progress
        return user
    bar = _progress_bar(total, progress, desc="dask batches")
    return None if bar is None else (lambda done, total: bar(done, total, 0))


def _result(
    outcomes: list[dict[str, Any]],
    failed: dict[tuple[str, str], BaseException],
    seconds: float,
    fetch: Callable[[Key, str | None], Any],
    python: frozenset[str],
) -> DistributedResult:
    """The merged outcomes of every batch; results not gathered are fetched on access from
    the worker that holds them."""
    columns: dict[Key, Any] = {}
    rows: dict[Key, int] = {}
    files: dict[Key, str] = {}
    errors: dict[tuple[str, str], BaseException] = dict(failed)
    holder: dict[tuple[str, str], str] = {}
    per_worker: dict[str, dict[str, Any]] = {}
    totals: dict[str, float] = {}
    for out in outcomes:
        worker = out["worker"]
        for s in out["series"]:
            holder[s[0], s[1]] = worker
        errors.update(out["errors"])
        rows.update(out["rows"])
        files.update(out["files"])
        for key in out["rows"]:
            columns[key] = out["arrays"].get(key)
        mine = per_worker.setdefault(worker, {"batches": 0, "series": 0, "seconds": 0.0})
        mine["batches"] += 1
        mine["series"] += len(out["series"])
        mine["seconds"] += out["seconds"]
        for name in _COUNTED:
            value = out["stats"].get(name, 0)
            mine[name] = mine.get(name, 0) + value
            totals[name] = totals.get(name, 0) + value
    for key in [k for k in columns if k[:2] in errors]:
        del columns[key]
    stats: dict[str, Any] = {
        **totals,
        "wall_seconds": seconds,
        "workers": len(per_worker),
        "per_worker": per_worker,
        "failed": len(errors),
        "requests": len(holder | dict.fromkeys(failed, "")),
    }
    result = DistributedResult(
        columns, errors, stats, lambda key: fetch(key, holder.get(key[:2])), python
    )
    result.workers = holder
    result.rows = {k: v for k, v in rows.items() if k[:2] not in errors}
    result.files = {k: v for k, v in files.items() if k[:2] not in errors}
    return result
