# Hand-written stub of the native module (checked by `python -m mypy.stubtest ictcore._ictcore`).
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, final

import numpy as np
import numpy.typing as npt

__version__: str
DETECTORS: list[str]
NATIVE_DECLARATIONS: list[dict[str, Any]]
NATIVE_DETECTORS: list[str]
NATIVE_KINDS: list[tuple[int, str]]
SWING_LABELS: list[str]
ZONE_STATES: list[str]
__all__ = [
    "DETECTORS",
    "NATIVE_DECLARATIONS",
    "NATIVE_DETECTORS",
    "NATIVE_KINDS",
    "SWING_LABELS",
    "ZONE_STATES",
    "ActiveIndex",
    "Cache",
    "CachedResult",
    "Engine",
    "Live",
    "Mapping",
    "Pool",
    "Store",
    "__version__",
    "_panic_for_tests",
    "check_time_index",
    "compat_run",
    "compat_session_table",
    "digest",
    "kept_memory",
    "keyable_params",
    "native_run",
    "read_csv",
    "release_memory",
    "resolved_params",
    "result_digest",
    "validate_candles",
]

_F64 = npt.NDArray[np.float64]
_F32 = npt.NDArray[np.float32]
_I32 = npt.NDArray[np.int32]
_I64 = npt.NDArray[np.int64]

class _CandlesLike(Protocol):
    """One series as one argument: ``ictcore.Candles`` or anything with these arrays."""

    time: _I64
    open: _F64
    high: _F64
    low: _F64
    close: _F64
    volume: _F64

def validate_candles(candles: _CandlesLike) -> None: ...
def compat_run(
    name: str,
    params: dict[str, Any],
    columns: dict[str, npt.NDArray[Any]],
    swings: tuple[_F64, _F64] | None = None,
    dtypes: dict[str, str] | None = None,
) -> list[tuple[str, str, npt.NDArray[Any]]]: ...
def compat_session_table() -> list[tuple[str, str, str]]: ...
def digest(arrays: list[_F64]) -> str: ...
def resolved_params(
    detectors: list[tuple[str, dict[str, Any]]],
) -> list[tuple[str, dict[str, Any]]]: ...
def result_digest(columns: list[tuple[str, npt.NDArray[Any]]]) -> str: ...
def check_time_index(time: _I64) -> None: ...
def keyable_params(params: dict[str, Any]) -> None: ...
def _panic_for_tests() -> None: ...
def release_memory() -> int: ...
def kept_memory() -> int: ...

@final
class Mapping:
    """Owner of a read-only file mapping (the base object of zero-copy views)."""

@final
class Store:
    def __new__(cls, root: str, create: bool = True) -> Store: ...
    @property
    def root(self) -> Path: ...
    def append(
        self, symbol: str, timeframe: str, candles: _CandlesLike, durability: str = "full"
    ) -> None: ...
    def write(self, symbol: str, timeframe: str, candles: _CandlesLike) -> None: ...
    def read(self, symbol: str, timeframe: str) -> tuple[_I64, _F64, _F64, _F64, _F64, _F64]: ...
    def load_batch(
        self, requests: list[tuple[str, str]]
    ) -> list[tuple[_I64, _F64, _F64, _F64, _F64, _F64] | BaseException]: ...
    def series(self) -> list[dict[str, Any]]: ...
    def refresh(self) -> list[dict[str, Any]]: ...
    def verify(self, symbol: str, timeframe: str) -> list[tuple[str, int | None, int, int]]: ...
    def import_csv(
        self,
        csv: str,
        symbol: str,
        timeframe: str,
        volume: str = "auto",
        if_exists: str = "append",
        tz: str = "UTC",
        on_overlap: str = "merge",
    ) -> tuple[int, int, str | None]: ...
    def path(self, symbol: str, timeframe: str) -> Path: ...

def read_csv(
    csv: str, volume: str = "auto", tz: str = "UTC"
) -> tuple[_I64, tuple[_F64, _F64, _F64, _F64, _F64], str | None]: ...

@final
class CachedResult: ...

@final
class Cache:
    def __new__(
        cls,
        path: str | None,
        max_memory_bytes: int,
        max_disk_bytes: int,
        ttl_seconds: float | None,
        eviction: str,
        sync_writes: bool,
        disk_writes: str = "paying",
        compression: bool = True,
    ) -> Cache: ...
    @property
    def path(self) -> Path | None: ...
    def key(
        self,
        detector: str,
        mode: str,
        params: dict[str, Any],
        inputs: list[tuple[str, npt.NDArray[Any]]],
    ) -> str: ...
    def get_or_compute(
        self,
        detector: str,
        mode: str,
        params: dict[str, Any],
        inputs: list[tuple[str, npt.NDArray[Any]]],
        compute: Callable[[], list[tuple[str, npt.NDArray[Any]]]],
    ) -> tuple[str, list[tuple[str, str, Any]]]: ...
    def lookup(self, key: str) -> tuple[str, list[tuple[str, str, Any]]] | None: ...
    def keep_computed(
        self,
        key: str,
        detector: str,
        columns: list[tuple[str, npt.NDArray[Any]]],
        compute_seconds: float,
    ) -> None: ...
    def stats(self) -> dict[str, int | float]: ...
    def clear(self) -> None: ...
    def sweep(self) -> dict[str, int | bool]: ...
    def verify(self) -> list[tuple[Path, str]]: ...

@final
class Pool:
    def __new__(cls, workers: int | None, buffer_bytes: int) -> Pool: ...
    @property
    def workers(self) -> int: ...
    def analyze(
        self,
        requests: list[
            tuple[str, str, int | None, int | None, _CandlesLike | None, dict[str, str] | None]
        ],
        detectors: list[tuple[str, dict[str, Any]]],
        store: Store | None,
        cache: Cache | None,
        progress: Callable[[int, int, int], None] | None,
        keep: bool = True,
        dense: bool = False,
        resume: bool = False,
    ) -> tuple[list[Any], dict[str, Any]]: ...

@final
class Live:
    def __new__(
        cls,
        pool: Pool,
        store: Store,
        requests: list[tuple[str, str]],
        detectors: list[tuple[str, dict[str, Any]]],
        state_dir: Path | None = None,
    ) -> Live: ...
    @property
    def restored(self) -> int: ...
    @property
    def state_dir(self) -> Path | None: ...
    def poll(self) -> tuple[list[Any], dict[str, Any]]: ...
    def save(self) -> tuple[int, int]: ...

# (column, dtype, read-only array) per column, then (key, "meta", str) per metadata item.
_Table = list[tuple[str, str, Any]]
_Counts = list[tuple[str, int]]

def native_run(name: str, params: dict[str, Any], candles: _CandlesLike) -> list[_Table]: ...

@final
class Engine:
    def __new__(cls, specs: list[tuple[str, dict[str, Any]]]) -> Engine: ...
    def update(
        self, time: int, open: float, high: float, low: float, close: float, volume: float
    ) -> _Counts: ...
    def update_last(
        self, time: int, open: float, high: float, low: float, close: float, volume: float
    ) -> _Counts: ...
    def update_many(self, candles: _CandlesLike) -> _Counts: ...
    def table(self, name: str, start: int = 0) -> _Table: ...
    def counts(self) -> _Counts: ...
    def __len__(self) -> int: ...
    def bars(self) -> tuple[_I64, _F64, _F64, _F64, _F64, _F64]: ...
    def checkpoint(self) -> bytes: ...
    @staticmethod
    def from_checkpoint(data: bytes) -> Engine: ...
    def specs(self) -> list[tuple[str, dict[str, Any]]]: ...

@final
class ActiveIndex:
    def __new__(cls, starts: _I64, ends: _I64) -> ActiveIndex: ...
    def query(self, t: int) -> _I64: ...
