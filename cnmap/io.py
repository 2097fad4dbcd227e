"""Reading organisation lists: the names of :mod:`cnmap.organisations`, kept here for code that
imports them from ``cnmap.io``.

:func:`read_organisations` is the entry point. Every input row ends up either in
``OrganisationTable.organisations`` (a GeoDataFrame in EPSG:27700 with ward and LSOA codes) or
in ``OrganisationTable.rejected`` with a reason code and a message naming the row and the fix.
See ``docs/organisations.md`` for the detection rules. The logger of these functions is still
called ``cnmap.io``.
"""

from __future__ import annotations

import cnmap.organisations as _organisations
from cnmap.organisations import CoordMode as CoordMode  # the values of coords=, as before
from cnmap.organisations import (
    OrganisationTable,
    normalise_type,
    read_organisations,
    split_services,
    split_types,
)

__all__ = [
    "read_organisations",
    "OrganisationTable",
    "REASONS",
    "COLUMN_ALIASES",
    "split_services",
    "normalise_type",
    "split_types",
]

#: Reject reason codes and what they mean.
REASONS = _organisations.REASONS
#: Column spellings recognised automatically (after lower-casing and replacing every run of
#: characters other than letters and digits with "_"), in order of preference.
COLUMN_ALIASES = _organisations.COLUMN_ALIASES
