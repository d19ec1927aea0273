"""Optional caching of ``smc`` results, without changing the 0.0.27 signatures: a cache set
with :func:`set_cache` (for the process) or :func:`caching` (for a ``with`` block, per thread
and asyncio task) is used by every ``smc`` call. Cached results are the same frames, bit for
bit: the key covers every array and parameter the native function reads."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import _ictcore
from ..cache import AnalysisCache, ParamValue

_default: AnalysisCache | None = None
_scoped: contextvars.ContextVar[AnalysisCache | None] = contextvars.ContextVar(
    "ictcore_compat_cache", default=None
)


def set_cache(cache: AnalysisCache | None) -> None:
    """Caches every ``smc`` result in ``cache`` from now on (None: stop caching)."""
    global _default
    if cache is not None and not isinstance(cache, AnalysisCache):
        raise TypeError(f"expected an ictcore.AnalysisCache or None, got {type(cache).__name__}")
    _default = cache


def get_cache() -> AnalysisCache | None:
    """The cache ``smc`` calls use here: the innermost :func:`caching` block's, else the one
    set with :func:`set_cache`, else None."""
    return _scoped.get() or _default


@contextlib.contextmanager
def caching(cache: AnalysisCache) -> Iterator[AnalysisCache]:
    """``with caching(cache):`` caches the ``smc`` calls made inside the block."""
    if not isinstance(cache, AnalysisCache):
        raise TypeError(f"expected an ictcore.AnalysisCache, got {type(cache).__name__}")
    token = _scoped.set(cache)
    try:
        yield cache
    finally:
        _scoped.reset(token)


def run(
    detector: str,
    params: Mapping[str, ParamValue],
    inputs: Mapping[str, npt.NDArray[Any]],
    call: Callable[[], tuple[npt.NDArray[Any], ...]],
    names: tuple[str, ...],
) -> tuple[npt.NDArray[Any], ...]:
    """``call()``'s arrays, through the current cache if there is one (as writable copies,
    since result frames may be modified by the caller)."""
    cache = get_cache()
    if cache is None:
        return call()
    try:
        _ictcore.keyable_params(dict(params))
    except (TypeError, ValueError):
        # A parameter no key can hold exactly: computed as without a cache (caching must
        # never change what a call accepts or returns).
        return call()

    def compute() -> dict[str, npt.NDArray[Any]]:
        return dict(zip(names, call(), strict=True))

    _, out = cache._lookup(detector, params, inputs, compute, "compat")
    return tuple(np.array(out[name]) for name in names)
