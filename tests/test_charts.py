"""ictcore.plot: every native table drawn headless, zones drawn where and as they lived,
filters, refusals; the HTML views of tables and candles."""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

import ictcore
from ictcore.detect import PRESET
from ictcore.synthetic import synthetic_frame

matplotlib.use("Agg")
import matplotlib.pyplot as plt


@pytest.fixture(scope="module")
def candles() -> ictcore.Candles:
    return ictcore.Candles.from_pandas(synthetic_frame(7, 6_000))


@pytest.fixture(autouse=True)
def _close_figures() -> None:
    yield
    plt.close("all")


def _collections(ax: object, prefix: str) -> dict[str, object]:
    return {
        c.get_gid(): c  # type: ignore[attr-defined]
        for c in ax.collections  # type: ignore[attr-defined]
        if (c.get_gid() or "").startswith(prefix)
    }


@pytest.mark.parametrize("name", sorted(PRESET))
def test_every_table_kind_is_drawn_to_a_png(name: str, tmp_path: Path) -> None:
    # The random walk opens each bar at the last close (no gaps): "ties" has them.
    candles = ictcore.Candles.from_pandas(synthetic_frame(7, 6_000, "ties"))
    table = getattr(ictcore, name)(candles)
    if not len(table):
        candles = ictcore.Candles.from_pandas(synthetic_frame(7, 6_000, "walk"))
        table = getattr(ictcore, name)(candles)
    assert len(table)
    fig = ictcore.plot(candles, table, last=None, title=name)
    path = tmp_path / f"{name}.png"
    fig.savefig(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ax = fig.axes[0]
    # The candles (wicks and bodies) and at least one artist of the table.
    assert len(ax.collections) + len(ax.texts) > 2


def test_zones_are_drawn_from_anchor_to_death_split_by_state(candles: ictcore.Candles) -> None:
    fvg = ictcore.fvg(candles)
    lo, hi = 4_000, 4_299
    fig = ictcore.plot(candles, fvg, start=lo, end=hi, max_zones=None)
    drawn = _collections(fig.axes[0], "fvg:")
    frame = fvg.to_pandas()
    dead = fvg.dead_at()
    right = hi + 0.5

    # One hatched rectangle per zone whose anchor..known_at stretch meets the window.
    pending = frame[(frame.anchor <= hi) & (frame.known_at >= lo)]
    pieces = drawn["fvg:pending"].get_paths()  # type: ignore[attr-defined]
    assert len(pieces) == len(pending)

    # Every zone alive at the window's last bar reaches the right edge in exactly one piece,
    # in the colour of its state there.
    state = fvg.state_at(hi)
    alive = (state >= 0) & ((dead < 0) | (dead > hi))
    at_edge = 0
    for gid, collection in drawn.items():
        if gid == "fvg:pending":
            continue
        name = gid.split(":")[1]
        ends = [p.vertices[:, 0].max() for p in collection.get_paths()]  # type: ignore[attr-defined]
        at_edge_here = sum(1 for e in ends if e == right)
        at_edge += at_edge_here
        code = list(fvg.STATES).index(name)
        assert at_edge_here == int(np.sum(alive & (state == code)))
    assert at_edge == int(alive.sum())


def test_filters_alive_at_states_size_and_count(candles: ictcore.Candles) -> None:
    fvg = ictcore.fvg(candles)
    hi = len(candles) - 1
    fig = ictcore.plot(candles, fvg, alive_at=hi, max_zones=None)
    ends = [
        p.vertices[:, 0].max()
        for gid, c in _collections(fig.axes[0], "fvg:").items()
        if gid != "fvg:pending"
        for p in c.get_paths()  # type: ignore[attr-defined]
    ]
    assert sum(1 for e in ends if e == hi + 0.5) == len(fvg.active_at(hi))

    fig = ictcore.plot(candles, fvg, states=("formed",), max_zones=None)
    gids = set(_collections(fig.axes[0], "fvg:"))
    pending = _collections(fig.axes[0], "fvg:")["fvg:pending"].get_paths()  # type: ignore[attr-defined]
    # Zones still "formed" at the last bar, whose hatched stretch lies in the last 300 bars.
    expected = (fvg.state_at(hi) == 0) & (fvg["known_at"] >= hi - 299)
    assert len(pending) == int(expected.sum())
    assert "fvg:filled" not in gids

    fig = ictcore.plot(candles, fvg, last=None, max_zones=7)
    pending = _collections(fig.axes[0], "fvg:")["fvg:pending"].get_paths()  # type: ignore[attr-defined]
    assert len(pending) == 7

    big = float(np.nanquantile(fvg["size_atr"], 0.9))
    fig = ictcore.plot(candles, fvg, last=None, max_zones=None, min_size_atr=big)
    pending = _collections(fig.axes[0], "fvg:")["fvg:pending"].get_paths()  # type: ignore[attr-defined]
    assert len(pending) == int(np.sum(fvg["size_atr"] >= big))


def test_window_by_time_and_labels_in_a_zone(candles: ictcore.Candles) -> None:
    times = pd.to_datetime(candles.time, utc=True)
    fig = ictcore.plot(candles, start=times[100], end=times[199], tz="America/New_York")
    ax = fig.axes[0]
    assert ax.get_xlim() == (99.5, 199.5)
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert labels


def test_table_plot_draws_onto_existing_axes(candles: ictcore.Candles) -> None:
    fig = ictcore.plot(candles, last=300)
    ax = fig.axes[0]
    before = len(ax.collections)
    assert ictcore.structure(candles).plot(ax=ax) is ax
    assert ictcore.fvg(candles).plot(ax=ax, max_zones=3) is ax
    assert len(ax.collections) > before
    assert len(_collections(ax, "fvg:")["fvg:pending"].get_paths()) <= 3  # type: ignore[attr-defined]
    # Without ictcore's axes: the table's own range on a plain axes; or a new chart.
    _, plain = plt.subplots()
    ictcore.swings(candles).plot(ax=plain)
    sessions = ictcore.sessions(candles)
    ax = sessions.plot(candles=candles)
    sessions.plot(ax=ax)  # drawn twice: the legend still names each window once
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(labels) == len(set(labels)) and "asian" in labels
    assert candles.plot(ictcore.fvg(candles)).axes


def test_refusals(candles: ictcore.Candles) -> None:
    other = ictcore.Candles.from_pandas(synthetic_frame(8, 6_000))
    with pytest.raises(ictcore.InvalidInputError, match="another series"):
        ictcore.plot(candles, ictcore.fvg(other))
    with pytest.raises(ictcore.InvalidInputError, match="another series"):
        ictcore.plot(other.to_pandas().iloc[:100], ictcore.fvg(other))
    with pytest.raises(ictcore.InvalidTypeError, match="native tables"):
        ictcore.plot(candles, candles.to_pandas())
    with pytest.raises(ictcore.InvalidInputError, match="ax="):
        ictcore.fvg(candles).plot()
    with pytest.raises(ictcore.InvalidInputError, match="unknown"):
        ictcore.plot(candles, ictcore.fvg(candles), states=("gone",))
    with pytest.raises(ictcore.InvalidInputError, match="after end"):
        ictcore.plot(candles, start=500, end=100)
    with pytest.raises(ictcore.InvalidInputError, match="outside"):
        ictcore.plot(candles, end=10**7)
    with pytest.raises(ictcore.InvalidInputError, match="before"):
        ictcore.plot(candles, end=pd.Timestamp("1990-01-01"))


def test_missing_matplotlib_names_the_extra(
    candles: ictcore.Candles, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ictcore.MissingDependencyError, match=r"ictcore\[plot\]"):
        ictcore.plot(candles)


def test_html_views(candles: ictcore.Candles) -> None:
    liquidity = ictcore.liquidity(candles)
    text = liquidity._repr_html_()
    assert f"{len(liquidity):,} rows" in text
    assert "equal_highs" in text and "equal_lows" in text
    assert "<table" in text and "more rows" in text
    assert "<table" in ictcore.fvg(candles).transitions._repr_html_()
    shown = candles._repr_html_()
    assert "6000 rows" in shown and "<table" in shown
    empty = ictcore.fvg(candles.to_pandas().iloc[:2])
    assert "0 rows" in empty._repr_html_()
