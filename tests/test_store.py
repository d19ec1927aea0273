"""CandleStore (issue 4, first part): round trip, append rules, zero-copy read-only views that
outlive the store and a growth, damage located by verify, bad files refused."""

from __future__ import annotations

import gc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ictcore
from ictcore import Candles, CandleStore
from ictcore.synthetic import synthetic_frame


def frame(seed: int, n: int) -> pd.DataFrame:
    return synthetic_frame(seed, n, "walk")


def test_write_read_round_trip(tmp_path: Path) -> None:
    store = CandleStore(tmp_path / "store")
    data = frame(1, 5000)
    store.write("EUR/USD", "15m", data)
    got = store.read("EUR/USD", "15m")
    expected = Candles.from_pandas(data)
    for name in ("time", "open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(getattr(got, name), getattr(expected, name))
    pd.testing.assert_frame_equal(got.to_pandas(), expected.to_pandas(), check_exact=True)
    [info] = store.series()
    assert (info.symbol, info.timeframe, info.rows) == ("EUR/USD", "15m", 5000)
    assert info.first == pd.Timestamp(data.index[0], tz="UTC")


def test_appends_extend_and_bad_batches_store_nothing(tmp_path: Path) -> None:
    store = CandleStore(tmp_path)
    data = frame(2, 3000)
    store.append("X", "1m", data.iloc[:1000], durability="os")
    store.append("X", "1m", data.iloc[1000:2000])
    with pytest.raises(ValueError, match="does not come after the stored last time"):
        store.append("X", "1m", data.iloc[1999:2500])
    with pytest.raises(ValueError, match="does not come after"):
        store.append("X", "1m", data.iloc[10:20])
    bad = data.iloc[2000:2100].copy()
    bad.iloc[37, bad.columns.get_loc("high")] = bad["low"].iloc[37] - 1
    with pytest.raises(ValueError, match="row 37: high"):
        store.append("X", "1m", bad)
    with pytest.raises(ValueError, match="durability"):
        store.append("X", "1m", data.iloc[2000:], durability="sometimes")
    assert len(store.read("X", "1m")) == 2000
    store.append("X", "1m", data.iloc[2000:])
    np.testing.assert_array_equal(store.read("X", "1m").close, data["close"].to_numpy())


def test_reads_are_zero_copy_read_only_and_outlive_store_and_growth(tmp_path: Path) -> None:
    store = CandleStore(tmp_path)
    data = frame(3, 2000)
    store.append("X", "1h", data.iloc[:500])  # room for 1024 rows
    a = store.read("X", "1h")
    b = store.read("X", "1h")
    assert np.shares_memory(a.close, b.close)
    assert not a.close.flags.writeable and not a.close.flags.owndata
    with pytest.raises(ValueError, match="read-only"):
        a.close[0] = 0.0
    before = a.close.copy()
    # An append within capacity is seen by the next read, through the same mapping.
    store.append("X", "1h", data.iloc[500:510])
    c = store.read("X", "1h")
    assert len(c) == 510 and np.shares_memory(a.close, c.close)
    # Growth: the file's capacity is exceeded, so it is rewritten and renamed.
    store.append("X", "1h", data.iloc[510:])
    del store, b, c
    gc.collect()
    np.testing.assert_array_equal(a.close, before)  # the old mapping is still valid
    assert len(CandleStore(tmp_path).read("X", "1h")) == 2000


def test_time_range_reads(tmp_path: Path) -> None:
    store = CandleStore(tmp_path)
    data = frame(4, 500)
    store.write("X", "5m", data)
    start, end = data.index[100], data.index[200]
    part = store.read("X", "5m", start=start, end=end)
    assert len(part) == 100
    assert part.time[0] == start.value
    assert len(store.read("X", "5m", start=data.index[-1] + pd.Timedelta("1D"))) == 0


def test_verify_locates_damage(tmp_path: Path) -> None:
    store = CandleStore(tmp_path)
    data = frame(5, 3000)
    store.write("X", "1m", data)
    assert store.verify()
    path = store._store.path("X", "1m")
    raw = bytearray(path.read_bytes())
    # Damage the stored time of row 1234 (its bytes are unique in the file).
    at = raw.find(np.int64(Candles.from_pandas(data).time[1234]).tobytes())
    assert at > 0
    raw[at] ^= 0xFF
    path.write_bytes(bytes(raw))
    report = store.verify()
    assert not report
    [problem] = report.problems
    assert problem.file == path
    assert (problem.column, problem.block, problem.rows) == ("time", 0, (0, 3000))


def test_bad_files_raise_corrupt_file_error_with_the_path(tmp_path: Path) -> None:
    store = CandleStore(tmp_path)
    store.write("X", "1m", frame(6, 100))
    path = store._store.path("X", "1m")
    path.write_bytes(b"not a candle file" * 1000)
    with pytest.raises(ictcore.CorruptFileError, match="bad magic") as info:
        store.read("X", "1m")
    assert str(path) in str(info.value)
    path.write_bytes(b"short")
    with pytest.raises(ictcore.CorruptFileError, match="shorter than its header"):
        store.read("X", "1m")
    with pytest.raises(FileNotFoundError):
        store.read("Y", "1m")
    with pytest.raises(FileNotFoundError):
        CandleStore(tmp_path / "missing", create=False)
    with pytest.raises(ValueError, match="timeframe"):
        store.read("X", "1M")


DATA = Path(__file__).parent / "data" / "smc-eurusd" / "EURUSD_15M.csv"


def test_import_mt5_export_equals_pandas(tmp_path: Path) -> None:
    store = CandleStore(tmp_path)
    [done] = store.import_csv(DATA)
    assert (done.symbol, done.timeframe, done.volume_column) == ("EURUSD", "15m", "tickvol")
    raw = pd.read_csv(DATA)
    got = store.read("EURUSD", "15m")
    assert done.rows == len(raw) == len(got)
    parsed = pd.to_datetime(raw["Date"], format="%Y.%m.%d %H:%M:%S")
    expected_time = parsed.dt.as_unit("ns").astype("int64")
    np.testing.assert_array_equal(got.time, expected_time.to_numpy())
    for ours, theirs in [("open", "Open"), ("high", "High"), ("low", "Low"), ("close", "Close")]:
        np.testing.assert_array_equal(getattr(got, ours), raw[theirs].to_numpy())
    np.testing.assert_array_equal(got.volume, raw["Tickvol"].to_numpy(dtype=np.float64))
    # Importing the same file again merges (nothing to add); with on_overlap="error" the
    # overlap is refused; replace rewrites.
    [again] = store.import_csv(DATA)
    assert (again.rows, again.added) == (len(raw), 0)
    with pytest.raises(ValueError, match="^EURUSD 15m: column 'time': row 0 .* does not come"):
        store.import_csv(DATA, on_overlap="error")
    store.import_csv(DATA, if_exists="replace", volume="none")
    assert not store.read("EURUSD", "15m").volume.any()


def test_read_csv_parses_what_pandas_parses(tmp_path: Path) -> None:
    raw = pd.read_csv(DATA)
    got = ictcore.read_csv(DATA)
    parsed = pd.to_datetime(raw["Date"], format="%Y.%m.%d %H:%M:%S")
    np.testing.assert_array_equal(got.time, parsed.dt.as_unit("ns").astype("int64").to_numpy())
    np.testing.assert_array_equal(got.close, raw["Close"].to_numpy())
    np.testing.assert_array_equal(got.volume, raw["Tickvol"].to_numpy(dtype=np.float64))
    # A file large enough to be parsed in parallel chunks, CRLF line ends, ISO times.
    data = frame(11, 150_000)
    path = tmp_path / "big.csv"
    data.rename_axis("time").to_csv(path, lineterminator="\r\n", date_format="%Y-%m-%dT%H:%M:%S")
    big = ictcore.read_csv(path, format="ohlcv")
    back = big.to_pandas()
    np.testing.assert_array_equal(back.index.asi8, data.index.as_unit("ns").asi8)
    for name in ("open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(back[name].to_numpy(), data[name].to_numpy(), err_msg=name)
    with pytest.raises(ValueError, match="format must be"):
        ictcore.read_csv(path, format="xlsx")


def test_a_bad_line_is_named_and_nothing_is_stored(tmp_path: Path) -> None:
    text = DATA.read_text().splitlines()
    text[101] = text[101].replace(",", ",x", 1)  # line 102 of the file
    bad = tmp_path / "EURUSD_M15.csv"
    bad.write_text("\n".join(text))
    store = CandleStore(tmp_path / "store")
    with pytest.raises(ValueError, match=r"EURUSD_M15\.csv, line 102: open"):
        store.import_csv(bad)
    assert store.series() == []


def test_import_a_directory_of_generic_csvs(tmp_path: Path) -> None:
    src = tmp_path / "csv"
    src.mkdir()
    for name, seed, step in [("BTC-USD_1h.csv", 1, "1h"), ("ETH-USD_H4.csv", 2, "4h")]:
        bars = frame(seed, 300)
        # Bars as far apart as the name says (imports check the spacing).
        bars.index = pd.date_range("2024-01-01", periods=300, freq=step, name="timestamp")
        bars.to_csv(src / name)
    store = CandleStore(tmp_path / "store")
    done = store.import_csv(src, format="ohlcv")
    assert [(d.symbol, d.timeframe, d.rows) for d in done] == [
        ("BTC-USD", "1h", 300),
        ("ETH-USD", "4h", 300),
    ]
    np.testing.assert_array_equal(store.read("BTC-USD", "1h").close, frame(1, 300)["close"])


def test_load_batch_in_order_with_per_request_errors(tmp_path: Path) -> None:
    store = CandleStore(tmp_path)
    frames = {(f"S{i}", tf): frame(i, 200 + i) for i in range(3) for tf in ("1m", "1h")}
    for (symbol, tf), data in frames.items():
        store.write(symbol, tf, data)
    requests = [("S2", "1h"), ("S0", "1m"), ("S1", "1h", frames["S1", "1h"].index[10], None)]
    got = store.load_batch(requests)
    assert [len(c) for c in got] == [202, 200, 191]
    np.testing.assert_array_equal(got[1].close, frames["S0", "1m"]["close"])
    # A missing and a damaged series fail alone.
    store._store.path("S0", "1h").write_bytes(b"garbage" * 2000)
    mixed = [("S0", "1m"), ("NOPE", "1m"), ("S0", "1h")]
    with pytest.raises(ictcore.BatchError) as info:
        store.load_batch(mixed)
    assert set(info.value.errors) == {("NOPE", "1m"), ("S0", "1h")}
    assert "NOPE" in str(info.value) and "bad magic" in str(info.value)
    out = store.load_batch(mixed, on_error="return")
    assert isinstance(out[0], Candles) and len(out[0]) == 200
    assert isinstance(out[1], FileNotFoundError)
    assert isinstance(out[2], ictcore.CorruptFileError)


def test_header_bit_flips_are_all_reported(tmp_path: Path) -> None:
    """Flip bits of both header slots (every bit of the first 440 bytes, where the fields
    are, and of the checksum; every 61st bit of the padding): verify() names the slot each
    time, and reads still get a consistent commit from the other slot."""
    import os

    store = CandleStore(tmp_path)
    data = frame(7, 64)
    store.append("X", "1m", data.iloc[:32])
    store.append("X", "1m", data.iloc[32:])
    path = store._store.path("X", "1m")
    fd = os.open(path, os.O_RDWR)
    try:
        bits = [b for b in range(4096 * 8) if b < 440 * 8 or b >= 4088 * 8 or b % 61 == 0]
        for slot, name in [(0, "header slot A"), (4096, "header slot B")]:
            for bit in bits:
                at = slot + bit // 8
                [byte] = os.pread(fd, 1, at)
                os.pwrite(fd, bytes([byte ^ (1 << (bit % 8))]), at)
                report = store.verify()
                assert [p.column for p in report.problems] == [name], (name, bit)
                assert len(store.read("X", "1m")) in (32, 64)
                os.pwrite(fd, bytes([byte]), at)
    finally:
        os.close(fd)
    assert store.verify() and len(store.read("X", "1m")) == 64


def test_refresh_reports_what_changed_since_the_last_refresh(tmp_path: Path) -> None:
    writer = CandleStore(tmp_path)
    data = frame(12, 300)
    writer.write("A", "1m", data.iloc[:100])
    writer.write("B", "1h", data.iloc[:50])
    reader = CandleStore(tmp_path)
    assert [(s.symbol, s.rows) for s in reader.refresh()] == [("A", 100), ("B", 50)]
    assert reader.refresh() == []
    old = reader.read("A", "1m")
    writer.append("A", "1m", data.iloc[100:120])
    writer.write("B", "1h", data.iloc[:50])  # rewritten: same rows, a new file
    writer.write("C", "5m", data.iloc[:10])
    changed = reader.refresh()
    assert [(s.symbol, s.timeframe, s.rows) for s in changed] == [
        ("A", "1m", 120),
        ("B", "1h", 50),
        ("C", "5m", 10),
    ]
    assert reader.refresh() == []
    assert len(old) == 100 and len(reader.read("A", "1m")) == 120
    np.testing.assert_array_equal(old.close, data["close"].to_numpy()[:100])
