"""Shared fixtures: the reference library (banner off), EURUSD frames, hypothesis profiles.

Profiles: ``ci`` (default, sized for CI) and ``deep`` (thousands of examples per property,
run on demand: ``HYPOTHESIS_PROFILE=deep pytest tests/test_parity_generated.py``).
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ["SMC_CREDIT"] = "0"  # the reference library prints a banner on import otherwise

import pandas as pd
import pytest
from hypothesis import HealthCheck, settings

DATA = Path(__file__).parent / "data" / "smc-eurusd"

for _name, _examples in (("ci", 400), ("deep", 5000)):
    settings.register_profile(
        _name,
        max_examples=_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        print_blob=True,
    )
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def load_eurusd(volume: str = "Volume") -> pd.DataFrame:
    """EURUSD 15m with a DatetimeIndex; ``volume`` picks the column used as volume."""
    raw = pd.read_csv(DATA / "EURUSD_15M.csv")
    frame = raw[["Open", "High", "Low", "Close", volume]].rename(columns={volume: "Volume"})
    frame.index = pd.DatetimeIndex(pd.to_datetime(raw["Date"], format="%Y.%m.%d %H:%M:%S"))
    return frame


@pytest.fixture(scope="session", params=["Volume", "Tickvol"])
def eurusd(request: pytest.FixtureRequest) -> pd.DataFrame:
    """EURUSD with the all-zero ``Volume`` column, then with ``Tickvol`` as volume."""
    return load_eurusd(request.param)


@pytest.fixture(scope="session")
def eurusd_volume() -> pd.DataFrame:
    return load_eurusd("Volume")
