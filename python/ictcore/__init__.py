"""ictcore: the native (Rust) core of an ICT / Smart Money Concepts analysis engine.

- ``ictcore.compat.smc``: a drop-in for ``smartmoneyconcepts`` 0.0.27, bit for bit, much faster.
- ``ictcore.Candles``: one validated OHLCV series, the native input type.
- ``ictcore.CandleStore``: memory-mapped candle files with zero-copy batch reads, atomic
  crash-safe appends, verification and CSV import; ``ictcore.read_csv`` parses a candle
  CSV (MT5 or OHLCV) without storing it.
- ``ictcore.AnalysisCache``: detector results cached in memory and compressed on disk, keyed
  by a content hash, so a stale or damaged entry is never returned.
- ``ictcore.DetectorPool``: all detectors over whole portfolios from the store, in parallel
  with the GIL released, through the cache; ``ictcore.Config`` reads the engine's config;
  ``DetectorPool.live`` gives a ``LiveSession`` whose polls step only the bars appended
  since the previous poll. Python functions of your own run beside the built-in detectors,
  in the pool's worker processes (``ictcore.pydetectors``, ``ictcore.detector``).
- ``ictcore.dask.analyze``: the pool's call over a Dask cluster (``ictcore[dask]``).
- ``ictcore.swings``, ``structure``, ``structure_layers``, ``fvg``, ``volume_imbalance``,
  ``opening_gaps``, ``displacement``, ``order_blocks``, ``mitigation_blocks``, ``liquidity``,
  ``dealing_ranges``, ``bpr``, ``rejection_blocks``, ``sessions``, ``mss``, ``cisd``,
  ``new_opening_gaps``: native
  **causal** detectors returning event tables (every row knows its ``known_at`` bar; zones
  carry a lifecycle log and ``active_at``); ``ictcore.Engine`` runs them bar by bar on a
  live series.
- ``ictcore.plot``: a matplotlib chart of candles and any native tables (zones by lifecycle
  state, structure, liquidity, sessions); ``table.plot(ax=...)`` adds one (``ictcore[plot]``).
  Tables and ``Candles`` show as HTML in notebooks.
- Logging: the ``ictcore`` logger (``ictcore.pool``: one INFO line per call and a WARNING
  per failed series; ``ictcore.workers``: worker processes started and died;
  ``ictcore.dask``: batches moved off a lost worker; ``ictcore.cache``: damaged entries set
  aside; ``ictcore.store``: recoveries). Quiet unless the application configures logging.
- ``ictcore.exceptions``: ``IctError`` and its subclasses.

Memory: result columns of long series (>= 1 MiB each) are kept after they are freed, up to
192 MiB, and reused by later calls of the same length, which spares the kernel's page faults
and zeroing (a quarter of the run time on 1M candles). ``ictcore.kept_memory()`` tells how
much is kept; ``ictcore.release_memory()`` returns it to the system.
"""

from __future__ import annotations

import logging

from . import compat, exceptions
from ._ictcore import __version__, kept_memory, release_memory
from .cache import AnalysisCache
from .candles import Candles
from .charts import plot
from .config import Config
from .detect import (
    Engine,
    EventTable,
    LiquidityTable,
    SessionTable,
    ZoneTable,
    bpr,
    cisd,
    dealing_ranges,
    displacement,
    fvg,
    liquidity,
    mitigation_blocks,
    mss,
    new_opening_gaps,
    opening_gaps,
    order_blocks,
    rejection_blocks,
    sessions,
    structure,
    structure_layers,
    swings,
    volume_imbalance,
)
from .exceptions import (
    BatchError,
    CorruptFileError,
    DetectorError,
    IctError,
    InvalidInputError,
    InvalidTypeError,
    MissingColumnError,
    MissingDependencyError,
    UnknownNameError,
    WorkerDiedError,
)
from .live import LiveSession, LiveUpdate
from .pool import DETECTORS, NATIVE_DETECTORS, AnalysisResult, DetectorPool
from .pydetectors import PythonDetector, detector
from .store import CandleStore, read_csv

# A library logs and the application decides what shows: without a handler of its own,
# nothing from the "ictcore" loggers is printed (not even warnings, which Python's
# last-resort handler would otherwise write to stderr).
logging.getLogger("ictcore").addHandler(logging.NullHandler())

__all__ = [
    "DETECTORS",
    "NATIVE_DETECTORS",
    "AnalysisCache",
    "AnalysisResult",
    "BatchError",
    "CandleStore",
    "Candles",
    "Config",
    "CorruptFileError",
    "DetectorError",
    "DetectorPool",
    "Engine",
    "EventTable",
    "IctError",
    "InvalidInputError",
    "InvalidTypeError",
    "LiquidityTable",
    "LiveSession",
    "LiveUpdate",
    "MissingColumnError",
    "MissingDependencyError",
    "PythonDetector",
    "SessionTable",
    "UnknownNameError",
    "WorkerDiedError",
    "ZoneTable",
    "__version__",
    "bpr",
    "cisd",
    "compat",
    "dealing_ranges",
    "detector",
    "displacement",
    "exceptions",
    "fvg",
    "kept_memory",
    "liquidity",
    "mitigation_blocks",
    "mss",
    "new_opening_gaps",
    "opening_gaps",
    "order_blocks",
    "plot",
    "read_csv",
    "rejection_blocks",
    "release_memory",
    "sessions",
    "structure",
    "structure_layers",
    "swings",
    "volume_imbalance",
]
