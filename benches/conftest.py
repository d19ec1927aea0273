"""pytest-benchmark comparisons (opt-in: ``pip install '.[bench]' && pytest benches/``)."""

import os
import sys
from pathlib import Path

os.environ.setdefault("SMC_CREDIT", "0")
sys.path.insert(0, str(Path(__file__).resolve().parent))
