"""Drop-in replacement for ``smartmoneyconcepts`` 0.0.27.

Change ``from smartmoneyconcepts import smc`` to ``from ictcore.compat import smc``: the same
DataFrames, bit for bit, computed in Rust. ``set_cache(ictcore.AnalysisCache(...))`` (or
``with caching(cache):``) caches every ``smc`` result, keeping the signatures unchanged.
"""

from __future__ import annotations

from .. import _ictcore
from ._cached import caching, get_cache, set_cache
from ._smc import smc

#: The library's built-in sessions: name -> (start, end), "HH:MM" in UTC as it writes them.
SESSIONS: dict[str, tuple[str, str]] = {
    name: (start, end) for name, start, end in _ictcore.compat_session_table()
}

#: Frequency aliases ``smc.previous_high_low`` accepts (``N`` = an optional positive integer).
TIME_FRAME_ALIASES: tuple[str, ...] = (
    "Nns",
    "Nus",
    "Nms",
    "Ns",
    "Nmin",
    "Nh",
    "ND",
    "W",
    "W-MON",
    "W-TUE",
    "W-WED",
    "W-THU",
    "W-FRI",
    "W-SAT",
    "W-SUN",
    "ME",
    "MS",
    "QE",
    "QE-<MON>",
    "QS",
    "QS-<MON>",
    "YE",
    "YE-<MON>",
    "YS",
    "YS-<MON>",
)

__all__ = ["SESSIONS", "TIME_FRAME_ALIASES", "caching", "get_cache", "set_cache", "smc"]
