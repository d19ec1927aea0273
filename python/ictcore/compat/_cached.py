"""Optional caching of ``smc`` results, without changing the 0.0.27 signatures: a cache set
with :func:`set_cache` (for the process) or :func:`caching` (for a ``with`` block, per thread
and asyncio task) is used by every ``smc`` call. Cached results are the same frames, bit for
bit: the key covers every array and parameter the native function reads."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from .. import _ictcore
from .._columns import columns_of
from ..cache import AnalysisCache, ParamValue
from ..exceptions import InvalidTypeError
from ._frames import ARITHMETIC_DTYPES, dtype_name, swing_columns

_default: AnalysisCache | None = None
_scoped: contextvars.ContextVar[AnalysisCache | None] = contextvars.ContextVar(
    "ictcore_compat_cache", default=None
)


def set_cache(cache: AnalysisCache | None) -> None:
    """Caches every ``smc`` result in ``cache`` from now on (None: stop caching)."""
    global _default
    if cache is not None and not isinstance(cache, AnalysisCache):
        raise InvalidTypeError(
            f"expected an ictcore.AnalysisCache or None, got {type(cache).__name__}"
        )
    _default = cache


def get_cache() -> AnalysisCache | None:
    """The cache ``smc`` calls use here: the innermost :func:`caching` block's, else the one
    set with :func:`set_cache`, else None."""
    return _scoped.get() or _default


@contextlib.contextmanager
def caching(cache: AnalysisCache) -> Iterator[AnalysisCache]:
    """``with caching(cache):`` caches the ``smc`` calls made inside the block."""
    if not isinstance(cache, AnalysisCache):
        raise InvalidTypeError(f"expected an ictcore.AnalysisCache, got {type(cache).__name__}")
    token = _scoped.set(cache)
    try:
        yield cache
    finally:
        _scoped.reset(token)


#: ``DataFrame.attrs`` key under which :meth:`smc.swing_highs_lows` records what a swings
#: frame was computed from (while a cache is in use).
_SWINGS_MARK = "ictcore.swing_highs_lows"


def _digest(arrays: list[npt.NDArray[Any]]) -> str:
    return _ictcore.digest(arrays)


def mark_swings(
    result: pd.DataFrame, swing_length: int, ohlc: Mapping[str, npt.NDArray[Any]]
) -> None:
    """Records on a swings frame (``attrs``) its swing length and digests of the highs/lows
    it was computed from and of its own columns, so the swing-based detectors can key their
    results as the pool does — by swing length and candles — while the frame is unchanged."""
    if get_cache() is None:
        return
    high_low, level = swing_columns(result)
    result.attrs[_SWINGS_MARK] = (
        swing_length,
        _digest([ohlc["high"], ohlc["low"]]),
        _digest([high_low, level]),
    )


def _swing_key(
    swings: pd.DataFrame,
    params: dict[str, ParamValue],
    inputs: dict[str, npt.NDArray[Any]],
    high_low: npt.NDArray[Any],
    level: npt.NDArray[Any],
) -> tuple[dict[str, ParamValue], dict[str, npt.NDArray[Any]]]:
    """The key parameters and inputs of a swing-based detector: the pool's (its swing length
    and the candles) when ``swings`` is provably ``swing_highs_lows(swing_length)`` of these
    very candles — its mark holds and both digests still match — else the swing columns'
    contents (any frame the caller built or changed)."""
    mark = swings.attrs.get(_SWINGS_MARK)
    if (
        isinstance(mark, tuple)
        and len(mark) == 3
        and mark[1] == _digest([inputs["high"], inputs["low"]])
        and mark[2] == _digest([high_low, level])
    ):
        return {**params, "swing_length": mark[0]}, inputs
    return params, {**inputs, "HighLow": high_low, "Level": level}


def run(
    detector: str,
    params: Mapping[str, ParamValue],
    inputs: Mapping[str, npt.NDArray[Any]],
    swings: pd.DataFrame | None = None,
    key_names: Mapping[str, str] | None = None,
) -> dict[str, npt.NDArray[Any]]:
    """Compat detector ``detector``'s columns (writable arrays the caller owns) through the
    core's one compat entry point (the pool's too), and through the current cache if there is
    one, keyed as the pool keys the same computation (``key_names`` renames inputs for the
    key, e.g. the sessions' wall clock)."""
    columns = dict(inputs)
    swing_cols = None if swings is None else swing_columns(swings)
    # The dtypes the library would compute in (float32, narrow integers), if any.
    dtypes = dict(getattr(inputs, "dtypes", {}))
    if swings is not None and (level := dtype_name(swings["Level"])) in ARITHMETIC_DTYPES:
        dtypes["Level"] = level

    def call() -> dict[str, npt.NDArray[Any]]:
        return dict(
            columns_of(_ictcore.compat_run(detector, dict(params), columns, swing_cols, dtypes))
        )

    cache = get_cache()
    if cache is None:
        return call()
    try:
        _ictcore.keyable_params(dict(params))
    except (TypeError, ValueError):
        # A parameter no key can hold exactly: computed as without a cache (caching must
        # never change what a call accepts or returns).
        return call()
    key_params = dict(params)
    if dtypes:
        key_params["input_dtypes"] = ",".join(f"{k}={v}" for k, v in sorted(dtypes.items()))
    key_inputs = {(key_names or {}).get(n, n): a for n, a in columns.items()}
    if swings is not None and swing_cols is not None:
        key_params, key_inputs = _swing_key(swings, key_params, key_inputs, *swing_cols)
    _, out = cache._lookup(detector, key_params, key_inputs, call, "compat")
    return {name: np.array(array) for name, array in out.items()}
