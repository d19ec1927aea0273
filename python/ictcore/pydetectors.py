"""The engine's own detectors, written in Python, run by :class:`~ictcore.DetectorPool`.

A Python detector is any function ``f(candles, **params)`` that takes
:class:`~ictcore.Candles` (read-only, zero-copy views) and returns a DataFrame or a mapping
of 1-D arrays (numeric, bool, datetime64 or str columns). Put it among a pool's
``detectors`` beside the built-in names; its results are keyed by its ``__name__`` (or the
name :func:`detector` gives it) and its parameters come from ``params[name]``.

With a cache, results are keyed by the function's identity, its parameters and the series'
content. The identity is its qualified name and a hash of its source and of the values its
closure and defaults hold; what the function reads from elsewhere (module globals, helper
functions, files) is not seen, so a detector whose results depend on such things declares a
``version`` with :func:`detector` and changes it when they change.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from .exceptions import InvalidInputError

__all__ = ["PythonDetector", "detector"]

F = TypeVar("F", bound=Callable[..., Any])

_KEYABLE = (int, float, bool, str, type(None))


@overload
def detector(function: F, /) -> F: ...
@overload
def detector(*, name: str | None = None, version: str | int | None = None) -> Callable[[F], F]: ...
def detector(
    function: Any = None, /, *, name: str | None = None, version: str | int | None = None
) -> Any:
    """Declares a Python detector's name (its results' key; default ``__name__``) and
    version (default: a hash of its source, closure and defaults). Returns the function
    itself::

        @ictcore.detector(name="my_fvg", version=2)
        def fvg_filtered(candles, min_gap=0.0): ...
    """

    def declare(f: F) -> F:
        if not callable(f):
            raise InvalidInputError(f"@detector needs a callable, got {f!r}")
        if name is not None:
            f.__ictcore_name__ = str(name)  # type: ignore[attr-defined]
        if version is not None:
            f.__ictcore_version__ = str(version)  # type: ignore[attr-defined]
        return f

    return declare(function) if function is not None else declare


@dataclass(frozen=True)
class PythonDetector:
    """A callable among a pool's detectors, as the pool runs it: its ``name`` (the key of
    its results), the ``function``, and ``identity`` (what the cache key records of the
    function; None when it cannot be derived, see :func:`detector`)."""

    name: str
    function: Callable[..., Any]
    identity: str | None
    why_no_identity: str = ""

    @classmethod
    def of(cls, function: Callable[..., Any]) -> PythonDetector:
        name = getattr(function, "__ictcore_name__", None) or getattr(function, "__name__", None)
        if not name:
            raise InvalidInputError(
                f"the detector {function!r} has no __name__; name it with "
                "@ictcore.detector(name=...)"
            )
        identity, why = _identity(function)
        return cls(str(name), function, identity, why)

    def cache_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The parameters as a cache key records them, with the function's identity."""
        if self.identity is None:
            raise InvalidInputError(
                f"detector {self.name!r} cannot be cached: {self.why_no_identity}; declare "
                "its version with @ictcore.detector(version=...) (and change it whenever "
                "its results would change)",
                parameter=self.name,
            )
        out: dict[str, Any] = {"\0function": self.identity}
        for key, value in params.items():
            text = _keyable(value)
            if text is None:
                raise InvalidInputError(
                    f"parameter {key!r} of detector {self.name!r} is a "
                    f"{type(value).__name__}, which a cache key cannot record; pass int, "
                    "float, bool, str, None, or tuples/lists of them",
                    parameter=key,
                )
            out[key] = value if isinstance(value, _KEYABLE) else f"\0{text}"
        return out


def _keyable(value: Any) -> str | None:
    """A text that tells the value apart from every other one, or None."""
    if isinstance(value, _KEYABLE):
        return f"{type(value).__name__}:{value!r}"
    if isinstance(value, tuple | list):
        parts = [_keyable(v) for v in value]
        if any(p is None for p in parts):
            return None
        return f"{type(value).__name__}[{','.join(p for p in parts if p is not None)}]"
    return None


def _identity(function: Callable[..., Any]) -> tuple[str | None, str]:
    """(identity, why there is none)."""
    qualified = (
        f"{getattr(function, '__module__', '?')}."
        f"{getattr(function, '__qualname__', type(function).__qualname__)}"
    )
    version = getattr(function, "__ictcore_version__", None)
    if version is not None:
        return f"{qualified}@{version}", ""
    if not inspect.isfunction(function):
        return None, f"it is a {type(function).__name__}, not a plain function"
    digest = hashlib.sha256(qualified.encode())
    why = _hash_function(function, digest, depth=0)
    return (None, why) if why else (f"{qualified}#{digest.hexdigest()[:32]}", "")


def _hash_function(function: Any, digest: Any, depth: int) -> str:
    """Adds the function's source, closure and defaults to ``digest``; returns why they
    cannot be, or ''."""
    try:
        source = inspect.getsource(function)
    except (OSError, TypeError):
        return f"the source of {function.__qualname__} cannot be read"
    digest.update(source.encode())
    values: list[tuple[str, Any]] = []
    code = function.__code__
    for name, cell in zip(code.co_freevars, function.__closure__ or (), strict=True):
        try:
            values.append((name, cell.cell_contents))
        except ValueError:  # an empty cell: a name the closure has not bound yet
            values.append((name, None))
    values += [(f"default {i}", v) for i, v in enumerate(function.__defaults__ or ())]
    values += list((function.__kwdefaults__ or {}).items())
    for name, value in values:
        text = _keyable(value)
        if text is not None:
            digest.update(f"{name}={text};".encode())
        elif inspect.isfunction(value) and depth < 4:
            why = _hash_function(value, digest, depth + 1)
            if why:
                return why
        elif inspect.ismodule(value):
            digest.update(f"{name}=module {value.__name__};".encode())
        else:
            return (
                f"{function.__qualname__} holds {name!r}, a {type(value).__name__} whose "
                "value a cache key cannot record"
            )
    return ""
