"""Testing helpers for ictcore and for code built on it: hypothesis strategies that generate
OHLCV DataFrames of every shape the detectors must survive (requires ``hypothesis``)."""

from .strategies import ohlcv_frames, synthetic_frame

__all__ = ["ohlcv_frames", "synthetic_frame"]
