"""The native detector registry: the extension declares every detector once (name,
parameters, tables, schemas); everything Python derives from it must know each one. A
detector declared in the core but missing from any derived place fails here."""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import pytest

import ictcore
from ictcore import _ictcore, detect

from .conftest import load_eurusd

DECLARED = [d["name"] for d in _ictcore.NATIVE_DECLARATIONS]

# Python signatures that group declared parameters differently (documented in their
# docstrings): declared name -> (Python argument, how to read the declared value from it).
_GROUPED: dict[str, dict[str, str]] = {
    "structure_layers": {
        "internal_left": "internal",
        "internal_right": "internal",
        "swing_left": "swing",
        "swing_right": "swing",
    },
}


def test_the_registry_lists_every_detector_once() -> None:
    assert len(DECLARED) == len(set(DECLARED)) >= 17
    assert list(detect.PRESET) == DECLARED
    assert list(detect.TABLES) == DECLARED
    assert list(ictcore.NATIVE_DETECTORS) == [f"native.{n}" for n in DECLARED]


@pytest.mark.parametrize("name", DECLARED)
def test_each_declared_detector_is_derived_everywhere(name: str) -> None:
    declaration = detect.DECLARATIONS[name]
    # A public function, exported from the package.
    function = getattr(ictcore, name)
    assert function is getattr(detect, name)
    assert name in ictcore.__all__ and name in detect.__all__
    assert declaration["doc"]
    # Its signature takes every declared parameter with the declared default.
    signature = inspect.signature(function).parameters
    grouped = _GROUPED.get(name, {})
    for param, _type, default, doc in declaration["params"]:
        assert doc, f"{name}.{param} has no doc"
        if param in grouped:
            assert grouped[param] in signature
            continue
        assert param in signature, f"{name}() lacks {param}"
        given = signature[param].default
        if name == "sessions" and param == "windows":
            given = ",".join(given)
        assert given == default, f"{name}.{param}: {given!r} != declared {default!r}"
    # Its tables have the declared names, columns and dtypes, and its class is the declared one.
    frame = load_eurusd("Tickvol").iloc[:1500]
    result = function(frame)
    assert type(result).__name__ == declaration["shape"]
    tables = {result.name: result}
    if isinstance(result, detect.ZoneTable):
        tables[f"{name}_transitions"] = result.transitions
    if isinstance(result, detect.LiquidityTable):
        tables[f"{name}_sweeps"] = result.sweeps
    assert list(tables) == list(detect.TABLES[name])
    for (table_name, schema), table in zip(declaration["tables"], tables.values(), strict=True):
        got = [(c, str(table[c].dtype)) for c in table.columns]
        assert got == [tuple(c) for c in schema], table_name
    # The pool runs it by name and gives the same tables, in the same class.
    pool = ictcore.DetectorPool(workers=1)
    pooled = pool.analyze([("X", "1m", frame)], [f"native.{name}"], progress=False)
    again = pooled["X", "1m", f"native.{name}"]
    assert type(again) is type(result)
    _same(again, result)
    # And the Engine, fed bar by bar in one batch.
    engine = ictcore.Engine([name])
    engine.update_many(frame)
    _same(engine.events(name), result)


def _same(a: Any, b: Any) -> None:
    assert a.columns == b.columns
    for c in a.columns:
        np.testing.assert_array_equal(a[c], b[c])
    for log in ("transitions", "sweeps"):
        if hasattr(b, log):
            _same(getattr(a, log), getattr(b, log))
    if hasattr(b, "windows"):
        assert a.windows == b.windows
