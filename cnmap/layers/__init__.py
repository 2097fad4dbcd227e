"""Need layers: who lives in each LSOA (Census 2021), digital exclusion risk (DERI), IoD2025.

Each reader returns a :class:`NeedLayer`, one row per LSOA with its source, vintage, licence and
attribution; :func:`join_layers` adds layers to an area's LSOA table by LSOA code, across the
2011 and 2021 vintages (ONS exact-fit lookup, counts shared by population). See
``docs/need_layers.md``.

- :func:`read_ethnic_group` (TS021), :func:`read_disability` (TS038),
  :func:`read_household_deprivation` (TS011), :func:`read_age` (RM121): counts by group;
- :func:`read_deri` (GMCA DERI v1.6) and :func:`read_iod2025` (IoD2025 domains): scores;
- :func:`score_bands`: residents by quintile of a score (e.g. the most digitally excluded LSOAs);
- :func:`join_layers`, :func:`convert_layer`, :func:`read_lsoa_lookup`, :func:`layer_sources`;
- :func:`report_layers`: the count layers of the "who is served" table for one area;
- :class:`NeedDomain`: one column of a layer as the measure of need of
  ``cnmap.thin_areas(domain=...)``, :func:`need_ranks` (national or within-area deciles),
  :func:`read_need_columns` (the tables' ``[output] need_columns``, :data:`TABLE_COLUMNS`).
"""

from __future__ import annotations

from cnmap.layers.bands import score_bands
from cnmap.layers.base import MissingLSOAError, NeedLayer, mirror_path, share_column
from cnmap.layers.census import (
    read_age,
    read_disability,
    read_ethnic_group,
    read_household_deprivation,
)
from cnmap.layers.deri import DERI_GUIDANCE, read_deri
from cnmap.layers.domain import (
    NEED_COLUMNS,
    TABLE_COLUMNS,
    NeedDomain,
    NeedRanks,
    need_ranks,
    read_need_columns,
)
from cnmap.layers.iod import read_iod2025
from cnmap.layers.join import (
    convert_layer,
    join_layers,
    layer_sources,
    read_lsoa_lookup,
)
from cnmap.layers.report import report_layers

__all__ = [
    "NeedLayer",
    "MissingLSOAError",
    "mirror_path",
    "share_column",
    "read_ethnic_group",
    "read_disability",
    "read_household_deprivation",
    "read_age",
    "read_deri",
    "DERI_GUIDANCE",
    "read_iod2025",
    "score_bands",
    "read_lsoa_lookup",
    "convert_layer",
    "join_layers",
    "layer_sources",
    "report_layers",
    "NeedDomain",
    "NeedRanks",
    "need_ranks",
    "read_need_columns",
    "NEED_COLUMNS",
    "TABLE_COLUMNS",
]
