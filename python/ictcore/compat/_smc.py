"""``smc``: a drop-in for ``smartmoneyconcepts.smc`` 0.0.27 with the numerics in Rust.

Same classmethods, signatures, defaults, column names, order and dtypes, and the same values
cell for cell, quirks included, in the input's dtypes as the library computes in them:
float32 columns give float32 arithmetic and result columns, int32 (and other narrow
integer) volume sums wrap, NaN volumes in ``ob`` are computed with (float64, float32, int64
and int32 columns, mixed per column, are checked against the library). What differs, on
purpose:

- no import banner, and the caller's DataFrame is never modified;
- bad input raises a clear error instead of computing on it: NaN/inf prices and a missing
  time (NaT) (:class:`~ictcore.exceptions.InvalidInputError`, a ``ValueError``, naming column
  and row),
  a missing column (:class:`~ictcore.exceptions.MissingColumnError`, a ``KeyError`` and so a
  ``LookupError``, naming the column; this includes ``volume`` for ``ob`` and
  ``previous_high_low``), an unsorted or duplicate index for the time-based functions;
- the swing frame is read by position, so one with a DatetimeIndex works too;
- ``previous_high_low`` supports the aliases listed in ``ictcore.compat.TIME_FRAME_ALIASES``
  on a tz-naive or UTC index.
"""

from __future__ import annotations

import operator

from pandas import DataFrame

from ..exceptions import InvalidInputError, InvalidTypeError
from ._cached import mark_swings, run
from ._frames import (
    columns,
    datetime_index,
    frame,
    increasing_nanoseconds,
    nanoseconds,
)

_UTC_NAMES = frozenset({"UTC", "Etc/UTC", "Etc/GMT", "GMT", "UTC+00:00", "Z", "utc"})


class smc:
    """Smart Money Concepts indicators, bit-for-bit equal to ``smartmoneyconcepts`` 0.0.27."""

    __version__ = "0.0.27"

    @classmethod
    def fvg(cls, ohlc: DataFrame, join_consecutive: bool = False) -> DataFrame:
        """FVG - Fair Value Gap.

        A bullish gap is a bullish candle whose previous high is below the next low; a bearish
        gap a bearish candle whose previous low is above the next high.

        Parameters:
            ohlc: DataFrame with open, high, low, close columns (any case).
            join_consecutive: merge runs of adjacent same-direction gaps into their last row,
                with the highest top and the lowest bottom.

        Returns:
            DataFrame with FVG (1 bullish, -1 bearish, NaN), Top, Bottom and MitigatedIndex
            (the first candle from i+2 on that touches the gap's near edge; 0 if none).
        """
        return frame(run("fvg", {"join_consecutive": bool(join_consecutive)}, columns(ohlc)))

    @classmethod
    def swing_highs_lows(cls, ohlc: DataFrame, swing_length: int = 50) -> DataFrame:
        """Swing highs and lows.

        A swing high is a candle whose high is the highest of the ``swing_length - 1`` candles
        before it and ``swing_length`` after it (the library's asymmetric window); lows
        likewise. Consecutive swings of one type keep only the most extreme; the first and
        last rows are set opposite to the first and last swing.

        Parameters:
            ohlc: DataFrame with open, high, low, close columns.
            swing_length: candles to look back and forward (an integer >= 0).

        Returns:
            DataFrame with HighLow (1 high, -1 low, NaN) and Level.
        """
        length = operator.index(swing_length)
        if length < 0:
            raise InvalidInputError(f"swing_length must be an integer >= 0, got {length}")
        c = columns(ohlc)
        result = frame(run("swing_highs_lows", {"swing_length": length}, c.only("high", "low")))
        mark_swings(result, length, c)
        return result

    @classmethod
    def bos_choch(
        cls, ohlc: DataFrame, swing_highs_lows: DataFrame, close_break: bool = True
    ) -> DataFrame:
        """BOS - Break of Structure, CHoCH - Change of Character.

        Parameters:
            ohlc: DataFrame with open, high, low, close columns.
            swing_highs_lows: the frame returned by :meth:`swing_highs_lows`.
            close_break: break on the close (True) or on the high/low (False).

        Returns:
            DataFrame with BOS, CHOCH (1 bullish, -1 bearish, NaN), Level (float32) and
            BrokenIndex (the candle that broke the level).
        """
        params = {"close_break": bool(close_break)}
        return frame(run("bos_choch", params, columns(ohlc), swing_highs_lows))

    @classmethod
    def ob(
        cls,
        ohlc: DataFrame,
        swing_highs_lows: DataFrame,
        close_mitigation: bool = False,
    ) -> DataFrame:
        """OB - Order Blocks.

        Parameters:
            ohlc: DataFrame with open, high, low, close and volume columns.
            swing_highs_lows: the frame returned by :meth:`swing_highs_lows`.
            close_mitigation: mitigate on the candle body (True) or the wick (False).

        Returns:
            DataFrame with OB (1 bullish, -1 bearish, NaN), Top, Bottom, OBVolume (float32),
            MitigatedIndex and Percentage (float32).
        """
        params = {"close_mitigation": bool(close_mitigation)}
        c = columns(ohlc, extra=("volume",))
        return frame(run("ob", params, c, swing_highs_lows))

    @classmethod
    def liquidity(
        cls, ohlc: DataFrame, swing_highs_lows: DataFrame, range_percent: float = 0.01
    ) -> DataFrame:
        """Liquidity: several swing highs (lows) within a small band of each other.

        Parameters:
            ohlc: DataFrame with open, high, low, close columns.
            swing_highs_lows: the frame returned by :meth:`swing_highs_lows`.
            range_percent: band half-width as a fraction of the whole frame's high-low range.

        Returns:
            DataFrame (all float32) with Liquidity (1, -1, NaN), Level, End (last member row)
            and Swept (the candle that traded through the band, 0 if none).
        """
        params = {"range_percent": float(range_percent)}
        return frame(run("liquidity", params, columns(ohlc), swing_highs_lows))

    @classmethod
    def previous_high_low(cls, ohlc: DataFrame, time_frame: str = "1D") -> DataFrame:
        """Previous high and low of a higher time frame.

        Parameters:
            ohlc: DataFrame with open, high, low, close and volume columns and a time index
                (tz-naive or UTC), strictly increasing.
            time_frame: a pandas frequency alias, see ``ictcore.compat.TIME_FRAME_ALIASES``
                (``15min``, ``1h``, ``4h``, ``1D``, ``W``, ``ME``, ...).

        Returns:
            DataFrame with PreviousHigh, PreviousLow (float32) and BrokenHigh, BrokenLow
            (int32, 1 once price traded beyond the level).
        """
        if not isinstance(time_frame, str):
            raise InvalidTypeError(f"time_frame must be a str, got {type(time_frame).__name__}")
        c = columns(ohlc, extra=("volume",))
        index = datetime_index(ohlc)
        if index.tz is not None and str(index.tz) not in _UTC_NAMES:
            raise InvalidInputError(
                f"previous_high_low: the index is tz-aware ({index.tz}); ictcore.compat "
                "supports tz-naive or UTC indexes here. Use df.tz_convert('UTC') or "
                "df.tz_localize(None) first."
            )
        times = increasing_nanoseconds(index)
        inputs = {"time": times, "high": c["high"], "low": c["low"]}
        return frame(run("previous_high_low", {"time_frame": time_frame}, inputs))

    @classmethod
    def sessions(
        cls,
        ohlc: DataFrame,
        session: str,
        start_time: str = "",
        end_time: str = "",
        time_zone: str = "UTC",
    ) -> DataFrame:
        """Sessions: which candles fall in a trading session or kill zone.

        Parameters:
            ohlc: DataFrame with open, high, low, close columns and a time index.
            session: Sydney, Tokyo, London, New York, Asian kill zone, London open kill zone,
                New York kill zone, london close kill zone, or Custom.
            start_time, end_time: ``HH:MM``, required for Custom.
            time_zone: the zone of the candles' times. As in the library, "UTC+2"/"GMT+2" map
                to the POSIX zone Etc/GMT+2, which is UTC-2 (a sign inversion kept for
                compatibility); IANA names such as "Europe/London" work as expected.

        Returns:
            DataFrame with Active (int32) and High, Low (float32): running extremes over runs
            of active candles, 0 when inactive.
        """
        c = columns(ohlc)
        index = datetime_index(ohlc)
        nanos = increasing_nanoseconds(index)
        if time_zone != "UTC":
            # QUIRK (library): GMT/UTC offsets become POSIX Etc/GMT zones, whose sign is
            # inverted. Localisation is pandas' own, so zone rules and errors are identical.
            zone = time_zone.replace("GMT", "Etc/GMT").replace("UTC", "Etc/GMT")
            index = index.tz_localize(zone).tz_convert("UTC")
        if index.tz is not None:  # HH:MM of the wall clock in the index's zone
            nanos = nanoseconds(index.tz_localize(None))
        params = {"session": session, "start_time": start_time, "end_time": end_time}
        inputs = {"time": nanos, "high": c["high"], "low": c["low"]}
        # Keyed as the pool keys it: the times are the candles' wall clock, not UTC.
        return frame(run("sessions", params, inputs, key_names={"time": "wall_clock"}))

    @classmethod
    def retracements(cls, ohlc: DataFrame, swing_highs_lows: DataFrame) -> DataFrame:
        """Retracements: how much of the last swing leg the current candle has retraced.

        Parameters:
            ohlc: DataFrame with open, high, low, close columns.
            swing_highs_lows: the frame returned by :meth:`swing_highs_lows`.

        Returns:
            DataFrame with Direction (int32: 1 after a swing high, -1 after a swing low),
            CurrentRetracement% and DeepestRetracement%.
        """
        return frame(run("retracements", {}, columns(ohlc), swing_highs_lows))
