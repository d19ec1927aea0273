"""``Config``: the engine's optimisation config (``optimization_config.json``), validated.

Every key of ictcore's four sections (``detector_pool``, ``batch_processing``,
``cache_optimization``, ``performance_targets``) is checked; a wrong type, an impossible value
or an unknown key in them (a typo would otherwise be ignored silently) raises ``ValueError``
naming the key, e.g. ``batch_processing.max_buffer_size: '50XB' is not a size like '50MB'``.
Other top-level sections are the engine's own: they are kept out of ictcore and listed in
:attr:`Config.notes`, as are the keys ictcore reads but does not apply (each with why).
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .exceptions import InvalidInputError

__all__ = ["Config", "parse_size"]

_UNITS = {
    "": 1,
    "B": 1,
    "KB": 10**3,
    "MB": 10**6,
    "GB": 10**9,
    "KIB": 2**10,
    "MIB": 2**20,
    "GIB": 2**30,
}


_SIZE = re.compile(r"\s*([0-9]{1,4000})(?:\.([0-9]{1,4000}))?\s*([A-Za-z]*)\s*")
#: The largest size accepted (1 EiB): what the cache and pool take, with room for the disk
#: tier's 10x of the memory budget.
MAX_SIZE = 2**60
#: Bounds that the pool and cache enforce, checked here so a config fails when it is read.
MAX_WORKERS = 1024
MAX_TTL_SECONDS = 100 * 365 * 24 * 3600


def parse_size(text: Any, key: str = "size") -> int:
    """Bytes of a size such as ``"50MB"``, ``"1.5GB"``, ``"512MiB"`` or a plain int (at most
    1 EiB; computed exactly, without floats)."""
    if isinstance(text, bool):
        raise InvalidInputError(f"{key}: {text!r} is not a size like '50MB'")
    if isinstance(text, int):
        value = text
    else:
        match = re.fullmatch(
            r"\s*([0-9]{1,4000})(?:\.([0-9]{1,4000}))?\s*([A-Za-z]*)\s*", str(text)
        )
        unit = match.group(3).upper() if match else None
        if not match or unit not in _UNITS:
            raise InvalidInputError(f"{key}: {text!r} is not a size like '50MB'")
        fraction = match.group(2) or ""
        scale = 10 ** len(fraction)
        value = (int(match.group(1)) * scale + int(fraction or 0)) * _UNITS[unit] // scale
    if value < 0:
        raise InvalidInputError(f"{key}: {text!r} is negative")
    if value > MAX_SIZE:
        raise InvalidInputError(f"{key}: {text!r} is more than 1 EiB")
    return value


@dataclass(frozen=True)
class Config:
    """Pool, batch, cache settings and performance targets (defaults: the shipped config)."""

    max_pool_size: int = 4
    min_pool_size: int = 2
    adaptive_sizing: bool = True
    batch_size: int = 100
    max_buffer_bytes: int = 50 * 10**6
    async_threshold: int = 10
    cache_max_bytes: int = 200 * 10**6
    cache_ttl_seconds: float | None = 3600.0
    compression_enabled: bool = True
    parallel_speedup_min: float = 2.0
    total_analysis_max_seconds: float = 3.0
    memory_max_mb: float = 500.0
    #: Target of ``ictcore bench``'s cache hit rate over replayed live cycles (optional key
    #: ``performance_targets.cache_hit_rate_min``).
    cache_hit_rate_min: float = 0.8
    #: What ictcore left aside: the engine's own sections, and keys it reads but does not
    #: apply, each with why.
    notes: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def from_json(cls, path: str | os.PathLike[str]) -> Config:
        """Reads and validates a config file."""
        p = Path(path)
        try:
            data = json.loads(p.read_text())
        except json.JSONDecodeError as e:
            raise InvalidInputError(f"{p}: not valid JSON: {e}") from e
        return cls.from_dict(data, source=str(p))

    @classmethod
    def from_dict(cls, data: Any, source: str = "config") -> Config:
        """Validates a parsed config (the JSON's structure)."""
        reader = _Reader(data, source)
        pool = reader.section("detector_pool")
        batch = reader.section("batch_processing")
        cache = reader.section("cache_optimization")
        targets = reader.section("performance_targets")
        big = 10**12  # counts beyond any machine: a typo, not a setting
        config = cls(
            max_pool_size=pool.integer("max_pool_size", 4, minimum=1, maximum=MAX_WORKERS),
            min_pool_size=pool.integer("min_pool_size", 2, minimum=1, maximum=MAX_WORKERS),
            adaptive_sizing=pool.flag("adaptive_sizing", True),
            batch_size=batch.integer("batch_size", 100, minimum=1, maximum=big),
            max_buffer_bytes=batch.size("max_buffer_size", 50 * 10**6),
            async_threshold=batch.integer("async_threshold", 10, minimum=0, maximum=big),
            cache_max_bytes=cache.size("max_cache_size", 200 * 10**6),
            cache_ttl_seconds=cache.number(
                "cache_ttl_seconds", 3600.0, positive=True, maximum=MAX_TTL_SECONDS
            ),
            compression_enabled=cache.flag("compression_enabled", True),
            parallel_speedup_min=targets.number("parallel_speedup_min", 2.0, positive=True),
            total_analysis_max_seconds=targets.number(
                "total_analysis_max_seconds", 3.0, positive=True
            ),
            memory_max_mb=targets.number("memory_max_mb", 500.0, positive=True),
            cache_hit_rate_min=targets.number(
                "cache_hit_rate_min", 0.8, positive=True, maximum=1.0
            ),
            notes=tuple(_not_applied(data)),
        )
        for section in (pool, batch, cache, targets):
            section.done()
        if config.min_pool_size > config.max_pool_size:
            raise InvalidInputError(
                f"{source}: detector_pool.min_pool_size ({config.min_pool_size}) is above "
                f"detector_pool.max_pool_size ({config.max_pool_size})"
            )
        return config

    def workers(self) -> int:
        """Worker threads for a pool: max_pool_size, capped by the cores (with adaptive
        sizing), never below min_pool_size."""
        cores = os.cpu_count() or 1
        wanted = min(self.max_pool_size, cores) if self.adaptive_sizing else self.max_pool_size
        return max(self.min_pool_size, wanted)


_SECTIONS = ("detector_pool", "batch_processing", "cache_optimization", "performance_targets")

#: Keys ictcore reads (and checks) but does not apply, and why.
_NOT_APPLIED = {
    ("batch_processing", "batch_size"): (
        "not applied: the pool takes a whole portfolio in one call and schedules its series "
        "itself, longest first (batch_processing.max_buffer_size bounds its read-ahead)"
    ),
    ("batch_processing", "async_threshold"): (
        "not applied: a call is asynchronous when you make it so (DetectorPool.analyze_async)"
    ),
}


def _not_applied(data: dict[str, Any]) -> list[str]:
    notes = [
        f"{name}: the engine's own section, left to it" for name in data if name not in _SECTIONS
    ]
    for (section, key), why in _NOT_APPLIED.items():
        if isinstance(data.get(section), dict) and key in data[section]:
            notes.append(f"{section}.{key}: {why}")
    return notes


class _Reader:
    """Typed reads of one JSON object whose errors name the key path."""

    def __init__(self, data: Any, path: str) -> None:
        if not isinstance(data, dict):
            raise InvalidInputError(f"{path}: expected an object, got {type(data).__name__}")
        self.data = dict(data)
        self.path = path
        self.seen: set[str] = set()

    def _get(self, key: str) -> Any:
        self.seen.add(key)
        return self.data.get(key)

    def key(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path != "config" else key

    def section(self, key: str) -> _Reader:
        value = self._get(key)
        return _Reader({} if value is None else value, key)

    def integer(self, key: str, default: int, minimum: int, maximum: int) -> int:
        value = self._get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise InvalidInputError(f"{self.key(key)}: expected an int >= {minimum}, got {value!r}")
        if value > maximum:
            raise InvalidInputError(f"{self.key(key)}: {value!r} is more than {maximum}")
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self._get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise InvalidInputError(f"{self.key(key)}: expected true or false, got {value!r}")
        return value

    def number(self, key: str, default: float, positive: bool, maximum: float = 1e300) -> float:
        value = self._get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidInputError(f"{self.key(key)}: expected a number, got {value!r}")
        try:
            number = float(value)
        except OverflowError:
            number = float("inf")
        if not math.isfinite(number):
            raise InvalidInputError(f"{self.key(key)}: expected a finite number, got {value!r}")
        if positive and not number > 0:
            raise InvalidInputError(f"{self.key(key)}: must be positive, got {value!r}")
        if number > maximum:
            raise InvalidInputError(f"{self.key(key)}: {value!r} is more than {maximum:g}")
        return number

    def size(self, key: str, default: int) -> int:
        value = self._get(key)
        return default if value is None else parse_size(value, self.key(key))

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.seen)
        if unknown:
            raise InvalidInputError(f"{self.key(unknown[0])}: unknown key")
