"""ictcore: the native (Rust) core of an ICT / Smart Money Concepts analysis engine.

- ``ictcore.compat.smc``: a drop-in for ``smartmoneyconcepts`` 0.0.27, bit for bit, much faster.
- ``ictcore.Candles``: one validated OHLCV series, the native input type.
- ``ictcore.exceptions``: ``IctError`` and its subclasses.
"""

from __future__ import annotations

from . import compat, exceptions
from ._ictcore import __version__
from .candles import Candles
from .exceptions import (
    CorruptFileError,
    IctError,
    InvalidInputError,
    MissingColumnError,
    UnknownNameError,
)

__all__ = [
    "Candles",
    "CorruptFileError",
    "IctError",
    "InvalidInputError",
    "MissingColumnError",
    "UnknownNameError",
    "__version__",
    "compat",
    "exceptions",
]
