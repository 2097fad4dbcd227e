"""Column names, kept for older imports: the single home is :mod:`cnmap.schema`.

:mod:`cnmap.schema` holds the constants (``LSOA_CODE``, ``POPULATION``, ``BNG``...) and the
builders that name columns by time limit and type (e.g. ``share_covered(15)``); this module
re-exports them unchanged. IoD (deprivation) short names live in :mod:`cnmap.iod`.
"""

from __future__ import annotations

from cnmap.schema import *  # noqa: F403
from cnmap.schema import __all__  # noqa: F401
