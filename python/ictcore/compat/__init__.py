"""Drop-in replacement for ``smartmoneyconcepts`` 0.0.27.

Change ``from smartmoneyconcepts import smc`` to ``from ictcore.compat import smc``: the same
DataFrames, bit for bit, computed in Rust.
"""

from __future__ import annotations

from ._smc import smc

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

__all__ = ["TIME_FRAME_ALIASES", "smc"]
