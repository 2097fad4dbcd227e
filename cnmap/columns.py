"""Column names used throughout cnmap, kept in one place.

IoD (deprivation) short names live in :mod:`cnmap.iod`.
"""

from __future__ import annotations

# coordinate reference systems
BNG = "EPSG:27700"  # British National Grid: every metric computation
WGS84 = "EPSG:4326"  # longitude/latitude: input and web maps only

# geography
LSOA_CODE = "lsoa_code"
LSOA_NAME = "lsoa_name"
WARD_CODE = "ward_code"
WARD_NAME = "ward_name"
LAD_CODE = "lad_code"
LAD_NAME = "lad_name"
POPULATION = "population"
GEOMETRY = "geometry"

# organisations
ORG_ID = "org_id"
NAME = "name"
ORG_TYPE = "type"
SERVICES = "services"
ADDRESS = "address"
POSTCODE = "postcode"
LAT = "lat"
LON = "lon"
EASTING = "easting"
NORTHING = "northing"
SOURCE_ROW = "source_row"  # 1-based row number in the input file (header = row 0)
COORD_SOURCE = "coord_source"  # "latlon", "bng", "postcode", "address_postcode", "geometry"
REASON = "reason"
SITE = "site"  # 1, 2, ... for the sites of one input row (a MultiPoint feature); see cnmap.organisations
OPENING_HOURS = "opening_hours"

# The single home of cnmap's column names is :mod:`cnmap.schema` (these constants, and the
# builders that name columns by time limit and type, e.g. ``share_covered(15)``). This module
# re-exports it for older imports; the names above equal schema's (tests/test_schema.py).
from cnmap.schema import *  # noqa: E402, F403
