"""What a worker process does with a pool it was handed (a module of its own, so processes
started by ``spawn`` or ``forkserver`` import it by name: test modules are imported by
pytest under names those processes cannot import)."""

from __future__ import annotations

import numpy as np

from ictcore import DetectorPool

DETECTORS = ["native.fvg", "native.structure", "fvg"]


def analyze_in_worker(pool: DetectorPool, symbol: str) -> dict[str, dict[str, bytes]]:
    """Analyzes one stored series with the pool; its columns' bytes by detector."""
    result = pool.analyze([(symbol, "1m")], DETECTORS, progress=False)
    assert not result.errors
    return {
        d: {c: np.asarray(v).tobytes() for c, v in result.arrays(symbol, "1m", d).items()}
        for d in DETECTORS
    }
