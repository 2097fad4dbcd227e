"""Which input columns hold the name, type, services, coordinates, postcode, address and id;
where the header row is; which location sources a table offers, in which order."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

import geopandas as gpd
import numpy as np
import pandas as pd

from cnmap.errors import CRSError, MissingColumnError, ValidationError
from cnmap.organisations.cells import columns_seen, filled, has_shape, norm_col, short, to_float

__all__ = ["COLUMN_ALIASES", "ColumnPlan", "ColumnRoles", "plan_columns", "resolve_columns"]

#: Column spellings recognised automatically (after lower-casing and replacing every run of
#: characters other than letters and digits with "_"), in order of preference.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "name": (
        "name",
        "organisation_name",
        "organization_name",
        "org_name",
        "organisation",
        "organization",
        "title",
        "venue_name",
        "venue",
        "group_name",
        "site_name",
        "provider_name",
        "provider",
        "charity_name",
    ),
    "type": (
        "type",
        "org_type",
        "organisation_type",
        "organization_type",
        "type_of_organisation",
        "type_of_organization",
        "kind",
        "category",
    ),
    "services": (
        "services",
        "service",
        "services_offered",
        "activities",
        "activity",
        "offer",
        "offers",
        "what_we_offer",
    ),
    "lat": ("lat", "latitude", "y"),
    "lon": ("lon", "lng", "long", "longitude", "x"),
    "easting": ("easting", "eastings", "east", "bng_easting", "bng_e", "oseast1m", "x_bng"),
    "northing": ("northing", "northings", "north", "bng_northing", "bng_n", "osnrth1m", "y_bng"),
    "postcode": (
        "postcode",
        "post_code",
        "postal_code",
        "postcodes",
        "pcd",
        "pcds",
        "pcd2",
        "zip",
        "zip_code",
        "zipcode",
    ),
    "address": (
        "address",
        "full_address",
        "address_full",
        "location",
        "street_address",
        "venue_address",
        "addr",
    ),
    "id": ("org_id", "id", "organisation_id", "organization_id"),
}
#: Columns holding OSM ``opening_hours`` syntax, copied to the standard ``opening_hours``.
HOURS_ALIASES = ("opening_hours", "hours_osm", "osm_opening_hours", "opening_hours_osm")
_COORD_SUFFIXES = ("_wgs84", "_wgs_84", "_deg", "_degrees", "_dd", "_bng", "_osgb", "_osgb36", "_m")
#: Roles whose columns are read as text (leading zeros kept, ``NA`` kept as text).
_TEXT_ROLES = ("name", "type", "services", "postcode", "address", "id")
#: Location sources in the order ``coords="auto"`` tries them.
SOURCE_ORDER = ("geometry", "latlon", "bng", "postcode", "address")
_NEED = {
    "geometry": "a spatial file or GeoDataFrame with geometries",
    "latlon": "latitude/longitude columns (or lat_col=, lon_col=)",
    "bng": "easting/northing columns (or easting_col=, northing_col=)",
    "postcode": "a postcode column (or postcode_col=)",
    "address": "an address column (or address_col=)",
}
#: The header is looked for in this many rows; a header found further down is an error.
HEADER_ROWS = 40
_HEADER_SEARCH = 1000


@dataclass(frozen=True)
class ColumnRoles:
    """The input column of each role (None: no such column), or the names a caller gave."""

    name: str | None = None
    type: str | None = None
    services: str | None = None
    lat: str | None = None
    lon: str | None = None
    easting: str | None = None
    northing: str | None = None
    postcode: str | None = None
    address: str | None = None
    id: str | None = None

    def get(self, role: str) -> str | None:
        """The column of ``role`` (a key of :data:`COLUMN_ALIASES`)."""
        return cast("str | None", getattr(self, role))

    def items(self) -> Iterator[tuple[str, str | None]]:
        """(role, column) pairs in the order of :data:`COLUMN_ALIASES`."""
        return ((f.name, self.get(f.name)) for f in dataclasses.fields(self))

    def used(self) -> set[str]:
        """The columns that have a role."""
        return {v for _, v in self.items() if v is not None}


@dataclass(frozen=True)
class ColumnPlan:
    """The columns read and the location sources to try, in order."""

    columns: ColumnRoles
    order: list[str]
    notes: list[str]


def match_name(col: Any) -> str:
    """A column name as matched against :data:`COLUMN_ALIASES` (``lat_wgs84`` -> ``lat``)."""
    n = norm_col(col)
    for suf in _COORD_SUFFIXES:
        if n.endswith(suf) and len(n) > len(suf):
            stem = n[: -len(suf)]
            if any(stem in COLUMN_ALIASES[r] for r in ("lat", "lon", "easting", "northing")):
                return stem
    return n


def wanted_names(explicit: ColumnRoles) -> set[str]:
    """Names that mark a header row: the aliases (but ``x``/``y``) and the columns given."""
    names = {a for aliases in COLUMN_ALIASES.values() for a in aliases} - {"x", "y"}
    names |= {match_name(v) for _, v in explicit.items() if v}
    return names


def text_columns(explicit: ColumnRoles) -> set[str]:
    """Matched names of the columns read as text (name, type, services, postcode, ...)."""
    names = {a for r in _TEXT_ROLES for a in COLUMN_ALIASES[r]}
    return names | {match_name(explicit.get(r)) for r in _TEXT_ROLES if explicit.get(r)}


def header_index(rows: Sequence[Sequence[Any]], wanted: set[str]) -> int | None:
    """Index of the first row that looks like a header (>=2 cells, one a known column name)."""
    for i, row in enumerate(rows):
        cells = [c for c in row if filled(c)]
        if len(cells) >= 2 and any(match_name(c) in wanted for c in cells):
            return i
    return None


def find_header(rows: Sequence[Sequence[Any]], wanted: set[str], label: str, unit: str) -> int:
    """Header row index in the first :data:`HEADER_ROWS` rows (0 when none looks like one).

    A header-like row further down is an error naming it: rows that far down are more likely
    data than a header, so it is not guessed.
    """
    h = header_index(rows[:HEADER_ROWS], wanted)
    if h is not None:
        return h
    late = header_index(rows[HEADER_ROWS:_HEADER_SEARCH], wanted)
    if late is None:
        return 0
    pos = HEADER_ROWS + late
    cells = ", ".join(short(str(c).strip(), 20) for c in rows[pos] if filled(c))
    raise ValidationError(
        f"{label}: the header row ({short(cells, 60)}) is on {unit} {pos + 1}, below the first "
        f"{HEADER_ROWS} {unit}s where it is looked for; delete the {pos} {unit}s above it"
    )


def resolve_columns(frame: pd.DataFrame, explicit: ColumnRoles, label: str) -> ColumnRoles:
    """The column of each role: the one given (exact or by matched name), else the first alias.

    Raises
    ------
    MissingColumnError
        A column given is not in the frame.
    """
    cols = list(frame.columns)
    seen: dict[str, Any] = {}
    for c in cols:
        seen.setdefault(match_name(c), c)
    out: dict[str, str | None] = {}
    for role, aliases in COLUMN_ALIASES.items():
        given = explicit.get(role)
        if given is None:
            out[role] = next((seen[a] for a in aliases if a in seen), None)
        elif given in frame.columns:
            out[role] = given
        elif match_name(given) in seen:
            out[role] = seen[match_name(given)]
        else:
            raise MissingColumnError(
                f"{label}: column {given!r} (passed as {role}_col=) not found; columns seen: "
                f"{columns_seen(cols)}"
            )
    return ColumnRoles(**out)


def xy_as_bng(
    frame: pd.DataFrame, cols: ColumnRoles, explicit: ColumnRoles
) -> tuple[ColumnRoles, list[str]]:
    """Columns called x/y holding metres are easting/northing, not degrees (with a note)."""
    lat, lon = cols.lat, cols.lon
    if (
        lat is None
        or lon is None
        or explicit.lat
        or explicit.lon
        or cols.easting
        or cols.northing
        or match_name(lat) != "y"
        or match_name(lon) != "x"
    ):
        return cols, []
    yv, _ = to_float(frame[lat])
    xv, _ = to_float(frame[lon])
    vals = np.abs(np.r_[xv, yv])
    vals = vals[np.isfinite(vals)]
    if not (vals.size and float(np.median(vals)) > 1000):
        return cols, []
    bng = dataclasses.replace(cols, easting=lon, northing=lat, lat=None, lon=None)
    return bng, [f"columns {lon!r}/{lat!r} hold metres: read as easting/northing (EPSG:27700)"]


def _location_order(
    available: dict[str, bool], coords: str, columns: Sequence[Any], label: str
) -> list[str]:
    """The sources to try: every available one (``auto``) or the one asked for."""
    if coords == "auto":
        order = [s for s in SOURCE_ORDER if available[s]]
        if not order:
            raise MissingColumnError(
                f"{label}: no location columns found; columns seen: {columns_seen(columns)}. "
                "Give latitude/longitude (lat, latitude / lon, lng, longitude), easting/northing, "
                "a postcode column (postcode, post_code, postal_code, pcd), or an address containing "
                "a postcode (address, full_address, location); or name them with lat_col=/lon_col=, "
                "easting_col=/northing_col=, postcode_col= or address_col="
            )
        return order
    if not available[coords]:
        raise MissingColumnError(
            f"{label}: coords={coords!r} needs {_NEED[coords]}; columns seen: "
            f"{columns_seen(columns)}"
        )
    return [coords]


def plan_columns(
    frame: pd.DataFrame,
    geometry: gpd.GeoSeries | None,
    explicit: ColumnRoles,
    coords: str,
    label: str,
) -> ColumnPlan:
    """Resolve the columns and the location sources of a table.

    Parameters
    ----------
    frame
        The input rows (without geometry).
    geometry
        Their geometry, for spatial inputs.
    explicit
        The columns the caller named (``name_col=`` ...).
    coords
        ``"auto"`` or the one location source to use.
    label
        The file, for messages.

    Returns
    -------
    ColumnPlan
        The column of each role, the sources to try in order, and notes.

    Raises
    ------
    MissingColumnError
        A named column is absent, no name column, or no (or not the asked) location source.
    CRSError
        Geometries without a CRS.
    """
    cols = resolve_columns(frame, explicit, label)
    cols, xy_notes = xy_as_bng(frame, cols, explicit)
    if cols.name is None:
        raise MissingColumnError(
            f"{label}: no name column found; columns seen: {columns_seen(frame.columns)}. "
            f"Expected one of {list(COLUMN_ALIASES['name'][:8])}..., or pass name_col='<column>'"
        )
    has_geom = geometry is not None and bool(has_shape(geometry).any())
    available = {
        "geometry": has_geom,
        "latlon": cols.lat is not None and cols.lon is not None,
        "bng": cols.easting is not None and cols.northing is not None,
        "postcode": cols.postcode is not None,
        "address": cols.address is not None,
    }
    order = _location_order(available, coords, frame.columns, label)
    if has_geom and geometry is not None and geometry.crs is None:
        raise CRSError(
            f"{label}: the GeoDataFrame has no CRS; set it with .set_crs('EPSG:4326') or .set_crs('EPSG:27700')"
        )
    return ColumnPlan(columns=cols, order=order, notes=[f"{label}: {t}" for t in xy_notes])
