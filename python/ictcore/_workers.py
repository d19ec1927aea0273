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

import contextlib
import multiprocessing
import os
import pickle
import signal
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

import numpy as np

from ._pyresult import encode
from .candles import Candles

#: Columns of a candles file: time, then the five prices and volume (8 bytes each).
CANDLE_COLUMNS = ("time", "open", "high", "low", "close", "volume")
_ALIGN = 64


@dataclass
class Task:
    """One series and the detectors to run on it. ``source`` is ``("store", path, symbol,
    timeframe, start, end, rows, first_time, last_time)`` or ``("file", path, rows)``;
    ``detectors`` (name, function id, parameters); ``out`` the file for the results."""

    source: tuple[Any, ...]
    detectors: list[tuple[str, str, dict[str, Any]]]
    out: str
    tag: Any = None


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
    or the Failure of the whole task (its series could not be read)."""

    results: list[tuple[Any, ...]] = field(default_factory=list)
    failure: Failure | None = None


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


def read_results(path: str, layout: list[tuple[str, str, int, int]]) -> dict[str, Any]:
    """The columns a worker wrote, as read-only views of the mapped file."""
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
    layout = _write_results(task.out, columns) if columns else []
    done.results = [
        r if isinstance(r[1], Failure) else (r[0], layout[r[1][0] : r[1][1]], r[2])
        for r in done.results
    ]
    return done


def _open(source: tuple[Any, ...], stores: dict[str, Any]) -> Candles:
    if source[0] == "given":  # in the calling process
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
        elif message[0] == "task":
            conn.send(run_task(message[1], functions, broken, stores))
        else:
            return


def _context() -> Any:
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["ictcore"])
        return context
    return multiprocessing.get_context("spawn")


class _Worker:
    def __init__(self, context: Any) -> None:
        parent, child = context.Pipe()
        self.process = context.Process(
            target=_serve, args=(child,), daemon=True, name="ictcore-python-detectors"
        )
        self.process.start()
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

    def run(
        self,
        functions: dict[str, bytes],
        tasks: list[Task],
        finished: Callable[[Task, Done | str], None],
    ) -> None:
        """Runs ``tasks``; ``finished(task, Done)`` as each ends, or ``finished(task,
        why)`` when its worker died. Ctrl-C (or any exception) kills the busy workers."""
        if os.getpid() != self._pid:  # a forked child: those workers are its parent's
            self._workers, self._pid = [], os.getpid()
        queue = deque(tasks)
        busy: dict[_Worker, Task] = {}
        try:
            while queue or busy:
                while queue and len(busy) < self.size:
                    worker = self._idle(busy)
                    task = queue.popleft()
                    if not self._send(worker, functions, task):
                        queue.appendleft(task)  # it never started: the next worker takes it
                        continue
                    busy[worker] = task
                ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy])
                for worker in [w for w in busy if w.conn in ready or w.process.sentinel in ready]:
                    task = busy.pop(worker)
                    try:
                        result: Done | None = worker.conn.recv() if worker.conn.poll() else None
                    except (EOFError, OSError, pickle.UnpicklingError):
                        result = None
                    if result is None:
                        why = worker.death()
                        self._retire(worker)
                        finished(task, why)
                    else:
                        finished(task, result)
        except BaseException:
            for worker in busy:
                self._retire(worker, kill=True)
            raise

    def _send(self, worker: _Worker, functions: dict[str, bytes], task: Task) -> bool:
        try:
            missing = {k: v for k, v in functions.items() if k not in worker.functions}
            if missing:
                worker.conn.send(("functions", missing))
                worker.functions |= missing.keys()
            worker.conn.send(("task", task))
            return True
        except OSError:
            self._retire(worker)
            return False

    def _idle(self, busy: dict[_Worker, Task]) -> _Worker:
        for worker in self._workers:
            if worker not in busy:
                return worker
        if self._context is None:
            self._context = _context()
        worker = _Worker(self._context)
        self._workers.append(worker)
        self.started += 1
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
