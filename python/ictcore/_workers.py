"""Worker processes that run Python detectors for a :class:`~ictcore.DetectorPool`.

They are started on the pool's first call with a Python detector and reused by later ones.
Nothing large is pickled: a task names a stored series (the worker maps it from the store
itself) or a file of candles in a directory the call made (in ``/dev/shm`` where there is
one), and a worker writes the result's columns to a file there that the parent maps. The
functions travel once per worker, by cloudpickle (by value for ``__main__`` and notebook
functions, by reference for importable ones).

Processes start by ``forkserver`` where the platform has it (it is not a fork of a process
that runs threads, and it preloads ictcore once), else ``spawn``. A worker ignores SIGINT:
Ctrl-C reaches the parent, which kills the workers that hold a task. A worker that dies
fails the task it held; another takes its place.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

import numpy as np

from ._pyresult import encode
from .candles import Candles

_log = logging.getLogger("ictcore.workers")

#: Columns of a candles file: time, then the five prices and volume (8 bytes each).
CANDLE_COLUMNS = ("time", "open", "high", "low", "close", "volume")
_ALIGN = 64
#: Candles or results up to this size travel in the message itself: a file to create, map
#: and remove costs more than pickling this much (and it is not a large pickle).
INLINE_BYTES = 256 * 1024


@dataclass
class Task:
    """One series and the detectors to run on it. ``source`` is ``("store", path, symbol,
    timeframe, start, end, rows, first_time, last_time)``, ``("file", path, rows)`` or
    ``("inline", candles)``; ``detectors`` (name, function id, parameters); ``out`` the file
    for results too large to travel in the reply."""

    source: tuple[Any, ...]
    detectors: list[tuple[str, str, dict[str, Any]]]
    out: str
    tag: Any = None
    rows: int = 0
    sent_at: float = 0.0


@dataclass
class Failure:
    """A detector's (or a whole task's) exception as it crossed from the worker."""

    exception: BaseException | None  # None when it did not pickle
    kind: str
    message: str
    trace: str


@dataclass
class Done:
    """A finished task: per detector (name, Failure) or (name, layout, compute seconds);
    or the Failure of the whole task (its series could not be read). ``inline`` holds the
    result columns when they travel in the reply (a layout then indexes it), else they are
    in the task's ``out`` file."""

    results: list[tuple[Any, ...]] = field(default_factory=list)
    failure: Failure | None = None
    inline: list[Any] | None = None


def write_candles(path: str, candles: Candles) -> None:
    """Writes candles for a worker to map (one copy, no pickle)."""
    with open(path, "xb") as f:
        for name in CANDLE_COLUMNS:
            f.write(np.ascontiguousarray(getattr(candles, name)).data)


def read_candles(path: str, rows: int) -> Candles:
    if rows == 0:
        empty = np.empty(0)
        return Candles._trusted(empty.view(np.int64), empty, empty, empty, empty, empty)
    data = np.memmap(path, dtype=np.uint8, mode="r")
    if len(data) != rows * 8 * len(CANDLE_COLUMNS):
        raise OSError(f"{path}: {len(data)} bytes where {rows} candles were written")
    prices = [
        np.frombuffer(data, dtype=np.float64, count=rows, offset=i * rows * 8)
        for i in range(1, len(CANDLE_COLUMNS))
    ]
    time = np.frombuffer(data, dtype=np.int64, count=rows)
    return Candles._trusted(time, *prices)


def read_results(
    path: str, layout: list[tuple[str, str, int, int]], inline: list[Any] | None
) -> dict[str, Any]:
    """The columns of a result: from the reply, or read-only views of the file it wrote."""
    if inline is not None:
        return {name: inline[offset] for name, _, offset, _ in layout}
    size = os.path.getsize(path) if layout else 0
    data = np.memmap(path, dtype=np.uint8, mode="r") if size else np.empty(0, np.uint8)
    out = {}
    for name, dtype, offset, count in layout:
        out[name] = np.frombuffer(data, dtype=np.dtype(dtype), count=count, offset=offset)
    return out


def _write_results(path: str, columns: list[tuple[str, Any]]) -> list[tuple[str, str, int, int]]:
    layout = []
    offset = 0
    with open(path, "xb") as f:
        for name, array in columns:
            pad = -offset % _ALIGN
            f.write(b"\0" * pad)
            offset += pad
            layout.append((name, array.dtype.str, offset, len(array)))
            f.write(array.data)
            offset += array.nbytes
    return layout


def _failure(e: BaseException) -> Failure:
    try:
        exception: BaseException | None = pickle.loads(pickle.dumps(e))
    except Exception:
        exception = None
    trace = "".join(traceback.format_exception(type(e), e, e.__traceback__))
    return Failure(exception, type(e).__qualname__, str(e), trace)


def run_task(
    task: Task,
    functions: dict[str, Callable[..., Any]],
    broken: dict[str, BaseException],
    stores: dict[str, Any],
) -> Done:
    """Runs a task where it is called (a worker process, or the parent with no workers)."""
    try:
        candles = _open(task.source, stores)
    except Exception as e:
        return Done(failure=_failure(e))
    done = Done()
    columns: list[tuple[str, Any]] = []
    for name, fid, params in task.detectors:
        start = time.perf_counter()
        try:
            if fid in broken:
                raise broken[fid]
            encoded = encode(functions[fid](candles, **params), f"detector {name!r}")
        except Exception as e:
            done.results.append((name, _failure(e)))
            continue
        seconds = time.perf_counter() - start
        first = len(columns)
        columns += encoded
        done.results.append((name, (first, len(columns)), seconds))
    if sum(a.nbytes for _, a in columns) <= INLINE_BYTES:
        done.inline = [a for _, a in columns]
        layout = [(n, a.dtype.str, i, len(a)) for i, (n, a) in enumerate(columns)]
    else:
        layout = _write_results(task.out, columns)
    done.results = [
        r if isinstance(r[1], Failure) else (r[0], layout[r[1][0] : r[1][1]], r[2])
        for r in done.results
    ]
    return done


def _open(source: tuple[Any, ...], stores: dict[str, Any]) -> Candles:
    if source[0] in ("given", "inline"):  # in the calling process, or small enough to send
        candles: Candles = source[1]
        return candles
    if source[0] == "file":
        return read_candles(source[1], source[2])
    _, path, symbol, timeframe, start, end, rows, first, last = source
    from .store import CandleStore

    store = stores.get(path)
    if store is None:
        store = stores[path] = CandleStore(path, create=False)
    for attempt in range(2):
        candles = store.read(symbol, timeframe, start, end)
        # The parent keyed the result by the rows it read: use exactly those. Appends only
        # add rows after them; a series rewritten since is refused, not analysed as another.
        if len(candles) >= rows and (
            rows == 0 or (candles.time[0] == first and candles.time[rows - 1] == last)
        ):
            return candles._slice(0, rows)
        if attempt == 0:
            store.refresh()
    raise OSError(
        f"{symbol} {timeframe}: the stored series changed while it was analysed "
        f"({len(candles)} rows where {rows} were read); run again"
    )


def _serve(conn: Connection) -> None:
    """A worker's loop: functions arrive once, then tasks, one at a time."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import cloudpickle

    functions: dict[str, Callable[..., Any]] = {}
    broken: dict[str, BaseException] = {}
    stores: dict[str, Any] = {}
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message[0] == "functions":
            for fid, blob in message[1].items():
                try:
                    functions[fid] = cloudpickle.loads(blob)
                except Exception as e:
                    broken[fid] = e
        elif message[0] == "tasks":
            for task in message[1]:
                conn.send(run_task(task, functions, broken, stores))
        else:
            return


def _context() -> Any:
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["ictcore"])
        return context
    return multiprocessing.get_context("spawn")


@contextlib.contextmanager
def _main_hidden() -> Iterator[None]:
    """Starts processes without telling them the user's main script: multiprocessing would
    run it again in each (so a script without an ``if __name__ == "__main__"`` guard would
    start the pool's work in every worker). Workers need nothing from it: functions from
    ``__main__`` arrive whole, by cloudpickle."""
    main = sys.modules.get("__main__")
    saved = {a: getattr(main, a) for a in ("__file__", "__spec__") if hasattr(main, a)}
    try:
        if main is not None:
            if "__file__" in saved:
                del main.__file__
            if "__spec__" in saved:
                main.__spec__ = None
        yield
    finally:
        for attr, value in saved.items():
            setattr(main, attr, value)


class _Worker:
    def __init__(self, context: Any) -> None:
        parent, child = context.Pipe()
        self.process = context.Process(
            target=_serve, args=(child,), daemon=True, name="ictcore-python-detectors"
        )
        # multiprocessing refuses children to a daemonic process (a Dask worker under its
        # nanny is one), lest they outlive it. Ours cannot: a worker ends when its pipe to
        # this process reads EOF, which it does when this process ends, however it ends.
        config = multiprocessing.current_process()._config  # type: ignore[attr-defined]
        daemonic = config.get("daemon", False)
        config["daemon"] = False
        try:
            with _main_hidden():
                self.process.start()
        finally:
            config["daemon"] = daemonic
        child.close()
        self.conn: Connection = parent
        self.functions: set[str] = set()

    def stop(self, kill: bool) -> None:
        if not kill and self.process.is_alive():
            with contextlib.suppress(OSError):
                self.conn.send(("stop",))
            self.process.join(2)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)
        self.conn.close()

    def death(self) -> str:
        self.process.join(1)
        code = self.process.exitcode
        if code is not None and code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exit code {code}"


class WorkerProcesses:
    """Up to ``size`` worker processes, started when first needed and kept for later calls."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.started = 0
        self.replaced = 0
        self._workers: list[_Worker] = []
        self._pid = os.getpid()
        self._context: Any = None
        # One call at a time uses the workers (analyze_async runs beside the caller).
        self._lock = threading.Lock()

    def run(
        self,
        functions: dict[str, bytes],
        tasks: list[Task],
        finished: Callable[[Task, Done | str], None],
        weight: Callable[[Task], int] = lambda task: 1,
        cancel: threading.Event | None = None,
    ) -> None:
        """Runs ``tasks``; ``finished(task, Done)`` as each ends, or ``finished(task,
        why)`` when its worker died. Ctrl-C (or any exception) kills the busy workers.

        Light tasks travel in batches (fewer round trips); a worker replies to each task as
        it ends, so when it dies the task it was running fails and the rest of its batch is
        handed to another worker."""
        if os.getpid() != self._pid:  # a forked child: those workers are its parent's
            self._workers, self._pid = [], os.getpid()
            self._lock = threading.Lock()
        with self._lock:
            self._run(functions, tasks, finished, weight, cancel)

    def _run(
        self,
        functions: dict[str, bytes],
        tasks: list[Task],
        finished: Callable[[Task, Done | str], None],
        weight: Callable[[Task], int],
        cancel: threading.Event | None,
    ) -> None:
        queue = deque(tasks)
        # A batch holds about an eighth of a worker's share of the work (at most 64 tasks).
        batch_weight = max(1, sum(weight(t) for t in tasks) // (8 * self.size))
        busy: dict[_Worker, deque[Task]] = {}
        failed_sends = 0
        try:
            while queue or busy:
                while queue and len(busy) < self.size:
                    batch = [queue.popleft()]
                    total = weight(batch[0])
                    while queue and len(batch) < 64 and total + weight(queue[0]) <= batch_weight:
                        total += weight(queue[0])
                        batch.append(queue.popleft())
                    worker = self._idle(busy)
                    if self._send(worker, functions, batch):
                        busy[worker] = deque(batch)
                        failed_sends = 0
                        continue
                    failed_sends += 1
                    if failed_sends >= 3:  # workers die as they start: fail, do not spin
                        for task in batch:
                            finished(task, "could not be sent a task")
                    else:
                        queue.extendleft(reversed(batch))  # never started: another takes it
                # Wake now and then to see a cancellation (Ctrl-C interrupts the wait itself).
                ready = wait(
                    [w.conn for w in busy] + [w.process.sentinel for w in busy],
                    timeout=None if cancel is None else 0.05,
                )
                if cancel is not None and cancel.is_set():
                    raise concurrent.futures.CancelledError("the analyze call was cancelled")
                for worker in [w for w in busy if w.conn in ready or w.process.sentinel in ready]:
                    self._collect(worker, busy, queue, finished)
        except BaseException:
            for worker in busy:
                self._retire(worker, kill=True)
            raise

    def _collect(
        self,
        worker: _Worker,
        busy: dict[_Worker, deque[Task]],
        queue: deque[Task],
        finished: Callable[[Task, Done | str], None],
    ) -> None:
        """Takes the replies a worker has sent; handles its death."""
        held = busy[worker]
        while held:
            try:
                if not worker.conn.poll() and worker.process.is_alive():
                    return  # nothing more yet
                result: Done | None = worker.conn.recv()
            except (EOFError, OSError, pickle.UnpicklingError):
                result = None  # its end of the pipe closed: it died
            if result is None:
                why = worker.death()
                _log.warning(
                    "worker process %d died (%s) running a task; it is replaced and the %d "
                    "task(s) it had not started go to another",
                    worker.process.pid,
                    why,
                    len(held) - 1,
                )
                self._retire(worker)
                del busy[worker]
                finished(held.popleft(), why)  # the task it was running
                queue.extendleft(reversed(held))  # the ones it had not started
                return
            finished(held.popleft(), result)
            if held:  # the next one's round trip starts now (for the cost it records)
                held[0].sent_at = time.perf_counter()
        del busy[worker]

    def _send(self, worker: _Worker, functions: dict[str, bytes], batch: list[Task]) -> bool:
        try:
            missing = {k: v for k, v in functions.items() if k not in worker.functions}
            if missing:
                worker.conn.send(("functions", missing))
                worker.functions |= missing.keys()
            now = time.perf_counter()
            for task in batch:
                task.sent_at = now
            worker.conn.send(("tasks", batch))
            return True
        except OSError:
            self._retire(worker)
            return False

    def _idle(self, busy: dict[_Worker, deque[Task]]) -> _Worker:
        for worker in self._workers:
            if worker not in busy:
                return worker
        if self._context is None:
            self._context = _context()
        worker = _Worker(self._context)
        self._workers.append(worker)
        self.started += 1
        _log.info("started worker process %d for Python detectors", worker.process.pid)
        return worker

    def _retire(self, worker: _Worker, kill: bool = True) -> None:
        if worker in self._workers:
            self._workers.remove(worker)
            self.replaced += 1
        worker.stop(kill)

    def close(self) -> None:
        """Stops the workers (those of this process)."""
        if os.getpid() != self._pid:
            return
        workers, self._workers = self._workers, []
        for worker in workers:
            worker.stop(kill=False)

    @property
    def alive(self) -> int:
        return sum(1 for w in self._workers if w.process.is_alive())
