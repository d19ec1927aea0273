"""polars and Arrow in and out: Candles.from_polars / from_arrow (zero-copy where the layout
allows), EventTable / Candles / AnalysisResult to_arrow / to_polars, and the package without
either installed."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

import ictcore
from ictcore import Candles, DetectorPool, InvalidInputError, MissingColumnError
from ictcore.exceptions import InvalidTypeError
from ictcore.synthetic import synthetic_frame

pl = pytest.importorskip("polars")
pa = pytest.importorskip("pyarrow")


@pytest.fixture(scope="module")
def candles() -> Candles:
    frame = synthetic_frame(11, 500, "walk")
    return Candles.from_pandas(frame)


def same(a: Candles, b: Candles) -> None:
    for column in ("time", "open", "high", "low", "close", "volume"):
        assert np.array_equal(getattr(a, column), getattr(b, column)), column


def test_round_trips(candles: Candles) -> None:
    same(Candles.from_polars(candles.to_polars()), candles)
    same(Candles.from_arrow(candles.to_arrow()), candles)
    same(Candles.from_arrow(candles.to_polars()), candles)  # polars through the capsule
    same(Candles.from_arrow(candles.to_arrow().to_batches()[0]), candles)
    assert candles.to_arrow().schema.field("time").type == pa.timestamp("ns", tz="UTC")
    assert candles.to_polars().schema["time"] == pl.Datetime("ns", "UTC")


def test_float64_columns_are_read_without_a_copy(candles: Candles) -> None:
    frame = candles.to_polars()
    got = Candles.from_polars(frame)
    assert np.shares_memory(got.close, frame.get_column("close").to_numpy())
    table = candles.to_arrow()
    got = Candles.from_arrow(table)
    assert np.shares_memory(got.close, table.column("close").chunks[0].to_numpy())
    # Several chunks are joined (a copy), and still right.
    chunked = pa.concat_tables([table.slice(0, 100), table.slice(100)])
    assert chunked.column("close").num_chunks == 2
    same(Candles.from_arrow(chunked), candles)


def test_time_zones_units_and_mt5_columns() -> None:
    seconds = 1_709_251_200 + 60 * np.arange(5)
    rates = {
        "time": seconds,
        "open": [1.0] * 5,
        "high": [2.0] * 5,
        "low": [0.5] * 5,
        "close": [1.5] * 5,
        "tick_volume": np.arange(5, dtype=np.uint64) + 7,
        "real_volume": np.zeros(5, dtype=np.uint64),
    }
    expected = seconds * 1_000_000_000
    for got in (Candles.from_polars(pl.DataFrame(rates)), Candles.from_arrow(pa.table(rates))):
        assert np.array_equal(got.time, expected)
        assert np.array_equal(got.volume, np.arange(5) + 7.0)  # tick_volume as volume
    real = Candles.from_polars(pl.DataFrame(rates), volume_column="real_volume")
    assert not real.volume.any()
    ms = Candles.from_arrow(pa.table({**rates, "time": seconds * 1000}))
    assert np.array_equal(ms.time, expected)
    # A zoned datetime column is converted to UTC, in both libraries.
    utc = pd.date_range("2024-03-30 22:00", periods=5, freq="1h", tz="UTC")
    athens = pl.Series("Time", utc.tz_convert("Europe/Athens"))
    frame = pl.DataFrame(rates).drop("time").insert_column(0, athens)
    assert np.array_equal(Candles.from_polars(frame).time, utc.as_unit("ns").asi8)
    assert np.array_equal(Candles.from_arrow(frame.to_arrow()).time, utc.as_unit("ns").asi8)


def test_bad_inputs_are_named() -> None:
    base = {"open": [1.0, 1.0], "high": [2.0, 2.0], "low": [0.5, 0.5], "close": [1.5, 1.5]}
    with pytest.raises(InvalidInputError, match="no time column"):
        Candles.from_polars(pl.DataFrame(base))
    two = {**base, "time": [1, 2], "Date": [1, 2]}
    with pytest.raises(InvalidInputError, match="several time columns"):
        Candles.from_arrow(pa.table(two))
    partial = {"time": [10**9, 2 * 10**9], "open": [1.0, 1.0], "high": [2.0, 2.0], "low": [1, 1]}
    with pytest.raises(MissingColumnError, match="close") as info:
        Candles.from_polars(pl.DataFrame(partial))
    assert info.value.column == "close"
    nulls = pa.table({"time": [10**9, 2 * 10**9], **base, "close": [1.5, None]})
    with pytest.raises(InvalidInputError, match="close.*row 1"):
        Candles.from_arrow(nulls)
    with pytest.raises(InvalidTypeError, match="collect"):
        Candles.from_polars(pl.DataFrame(base).lazy())
    with pytest.raises(InvalidTypeError, match="__arrow_c_stream__"):
        Candles.from_arrow({"time": [1]})
    with pytest.raises(InvalidInputError, match="row 1"):
        Candles.from_polars(pl.DataFrame({"time": [10**9, 5], **base}))


def test_event_tables_to_arrow_and_polars(candles: Candles) -> None:
    for table in (
        ictcore.fvg(candles),
        ictcore.structure(candles),
        ictcore.sessions(candles),
        ictcore.fvg(candles).transitions,
    ):
        expected = table.to_pandas()
        arrow = table.to_arrow()
        assert arrow.column_names == list(expected.columns)
        pd.testing.assert_frame_equal(arrow.to_pandas(), expected, check_categorical=False)
        frame = table.to_polars()
        assert frame.columns == list(expected.columns)
        for name in expected.columns:
            want = expected[name]
            got = frame.get_column(name)
            if isinstance(want.dtype, pd.CategoricalDtype):
                assert got.cast(pl.String).to_list() == want.astype(str).tolist(), name
            elif isinstance(want.dtype, pd.DatetimeTZDtype):
                expected_ns = pd.DatetimeIndex(want).as_unit("ns").asi8
                assert np.array_equal(got.cast(pl.Int64).to_numpy(), expected_ns), name
            else:
                assert np.array_equal(got.to_numpy(), want.to_numpy()), name
    sessions = ictcore.sessions(candles)
    assert sessions.to_arrow().schema.metadata[b"windows"].decode() == ",".join(sessions.windows)


def test_pool_results_as_arrow_and_polars(candles: Candles) -> None:
    frame = candles.to_pandas()
    result = DetectorPool(workers=2).analyze(
        [("X", "1h", frame)], ["fvg", "native.fvg"], progress=False
    )
    compat = result.to_arrow("X", "1h", "fvg")
    pd.testing.assert_frame_equal(compat.to_pandas(), result.frame("X", "1h", "fvg"))
    assert result.to_polars("X", "1h", "fvg").columns == list(compat.column_names)
    native = result.to_arrow("X", "1h", "native.fvg")
    assert native.num_rows == len(result["X", "1h", "native.fvg"])
    assert result.to_polars("X", "1h", "native.fvg").height == native.num_rows


def test_the_package_works_without_polars_and_pyarrow() -> None:
    code = textwrap.dedent(
        """
        import sys
        sys.modules["polars"] = None
        sys.modules["pyarrow"] = None
        import ictcore
        from ictcore.synthetic import synthetic_frame
        c = ictcore.Candles.from_pandas(synthetic_frame(1, 50, "walk"))
        assert len(ictcore.fvg(c).to_pandas()) >= 0
        for call in (lambda: c.to_arrow(), lambda: c.to_polars(),
                     lambda: ictcore.Candles.from_polars(object())):
            try:
                call()
            except ictcore.MissingDependencyError as e:
                assert "pip install 'ictcore[" in str(e), e
                assert isinstance(e, ImportError)
            else:
                raise AssertionError("no error")
        print("ok")
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
