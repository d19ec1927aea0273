"""``python -m ictcore``: the command line (see :mod:`ictcore.cli`)."""

import sys

from .cli import main

sys.exit(main())
