"""One pure locator per location source: geometry, latitude/longitude, easting/northing, and
postcodes (a postcode column, or a postcode found inside the address).

Each locator takes the source's values and the rows to try, and returns a :class:`Location`:
the coordinates of the rows it placed (EPSG:27700 and WGS84), and for each row it could not
place a reason code of :data:`~cnmap.organisations.REASONS` with a message naming the value
and the fix. The locators share no state; :func:`cnmap.organisations.place.place_rows` runs
them in order and keeps each row's first location and first failure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import Transformer

from cnmap import columns as C
from cnmap.geo import to_bng, to_wgs84
from cnmap.organisations.cells import fmt_coord, grouped_thousands, has_shape, short, show, to_float
from cnmap.organisations.postcodes import (
    STATUS_MALFORMED,
    STATUS_NO_COORDINATES,
    STATUS_OK,
    STATUS_UNKNOWN,
    extract_postcode,
)
from cnmap.organisations.table import log

__all__ = [
    "Location",
    "PostcodeQuery",
    "address_query",
    "locate_bng",
    "locate_geometry",
    "locate_latlon",
    "locate_postcodes",
    "postcode_query",
]

# coordinate sanity ranges
_GB_LAT = (49.75, 61.01)  # EPSG:27700 area of use
_GB_LON = (-9.01, 2.01)
_ENG_LAT = (49.8, 55.9)  # England, for spotting swapped values
_ENG_LON = (-6.5, 2.0)
_BNG_E = (0.0, 700_000.0)
_BNG_N = (0.0, 1_300_000.0)
_OUT_OF_RANGE = "coordinates_out_of_range"
#: lat, lon (WGS84) and x, y (EPSG:27700) per row
Coords = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Location:
    """What one location source made of the rows it was given.

    Attributes
    ----------
    ok
        Rows placed by this source.
    lat, lon
        WGS84 degrees of the placed rows (NaN elsewhere).
    x, y
        EPSG:27700 metres of the placed rows (NaN elsewhere).
    code
        Reason code for each row this source could not place (``""`` elsewhere).
    text
        The message for each such row (``""`` elsewhere).
    notes
        Remarks about the source as a whole (thousands separators, non-point geometries).
    postcode
        Postcodes found inside addresses, for the rows placed by them (address source only).
    """

    ok: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    x: np.ndarray
    y: np.ndarray
    code: np.ndarray
    text: np.ndarray
    notes: tuple[str, ...] = ()
    postcode: pd.Series | None = None


@dataclass(frozen=True)
class PostcodeQuery:
    """The postcodes of the rows to try, before they are looked up.

    Attributes
    ----------
    values
        Normalised postcodes, one per input row (missing where none).
    present
        Rows to look up.
    shown
        What a message quotes for each row (the cell as typed, or the postcode found).
    suffix
        Added after the quoted postcode (``" (found in address)"``).
    code, text
        Failures found before any lookup (an address without a postcode).
    in_address
        Whether the postcodes come from the address column.
    """

    values: pd.Series
    present: np.ndarray
    shown: np.ndarray
    suffix: str
    code: np.ndarray
    text: np.ndarray
    in_address: bool = False


def _blank_codes(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.full(n, "", dtype=object), np.full(n, "", dtype=object)


def _nan(n: int) -> np.ndarray:
    return np.full(n, np.nan)


def _between(v: np.ndarray, lo_hi: tuple[float, float]) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.asarray((v >= lo_hi[0]) & (v <= lo_hi[1]), dtype=bool)


def check_latlon(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Reason code per row (``""`` when the pair is plausible for Great Britain)."""
    code = np.full(len(lat), "", dtype=object)
    with np.errstate(invalid="ignore"):
        big = (np.abs(lat) >= 1000) & (np.abs(lon) >= 1000)
    bng = big & (
        (_between(lon, _BNG_E) & _between(lat, _BNG_N))
        | (_between(lat, _BNG_E) & _between(lon, _BNG_N))
    )
    swapped = _between(lat, _ENG_LON) & _between(lon, _ENG_LAT)
    ok = _between(lat, _GB_LAT) & _between(lon, _GB_LON)
    code[~ok] = _OUT_OF_RANGE
    code[~ok & swapped] = "swapped_latlon"
    code[~ok & bng] = "bng_in_latlon"
    return code


def check_bng(e: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Reason code per row (``""`` when the pair is on the British National Grid)."""
    ok = _between(e, _BNG_E) & _between(n, _BNG_N)
    with np.errstate(invalid="ignore"):
        ok &= ~((np.abs(e) < 1000) & (np.abs(n) < 1000))  # degrees, not metres
    code = np.full(len(e), "", dtype=object)
    code[~ok] = _OUT_OF_RANGE
    return code


def latlon_hint(code: str, lat_name: str, lon_name: str) -> str:
    """The fix for a latitude/longitude pair with reason ``code``."""
    if code == "bng_in_latlon":
        return (
            "these look like British National Grid metres, not degrees; pass "
            f"easting_col={lon_name!r}, northing_col={lat_name!r} (or coords='bng')"
        )
    if code == "swapped_latlon":
        return (
            "latitude and longitude look swapped (latitude in England is 49.8..55.9, "
            "longitude -6.5..2); swap the two values"
        )
    return (
        f"outside Great Britain (latitude {_GB_LAT[0]}..{_GB_LAT[1]}, longitude "
        f"{_GB_LON[0]}..{_GB_LON[1]}); check the values"
    )


def _bng_hint(e: float, n: float) -> str:
    if abs(e) < 1000 and abs(n) < 1000:
        return "these look like degrees, not metres; pass lat_col=/lon_col= instead"
    return (
        "outside the British National Grid (easting 0..700000, northing 0..1300000); "
        "check the values"
    )


def _placed_latlon(lat: np.ndarray, lon: np.ndarray, ok: np.ndarray) -> Coords:
    """lat, lon, x, y of the rows ``ok`` placed by degrees (NaN elsewhere)."""
    n = len(ok)
    la, lo, x, y = _nan(n), _nan(n), _nan(n), _nan(n)
    la[ok], lo[ok] = lat[ok], lon[ok]
    if ok.any():
        tr = Transformer.from_crs(C.WGS84, C.BNG, always_xy=True)
        x[ok], y[ok] = tr.transform(lo[ok], la[ok])
    return la, lo, x, y


def _placed_bng(e: np.ndarray, n_: np.ndarray, ok: np.ndarray) -> Coords:
    """lat, lon, x, y of the rows ``ok`` placed by metres (NaN elsewhere)."""
    n = len(ok)
    la, lo, x, y = _nan(n), _nan(n), _nan(n), _nan(n)
    x[ok], y[ok] = e[ok], n_[ok]
    if ok.any():
        tr = Transformer.from_crs(C.BNG, C.WGS84, always_xy=True)
        lo[ok], la[ok] = tr.transform(x[ok], y[ok])
    return la, lo, x, y


@dataclass(frozen=True)
class _Grid:
    """How a coordinate pair of one kind is checked and placed."""

    #: reason code per row (``""`` when plausible): :func:`check_latlon` or :func:`check_bng`
    check: Callable[[np.ndarray, np.ndarray], np.ndarray]
    #: lat, lon, x, y of the rows placed: :func:`_placed_latlon` or :func:`_placed_bng`
    place: Callable[[np.ndarray, np.ndarray, np.ndarray], Coords]


_DEGREES = _Grid(check_latlon, _placed_latlon)  # (latitude, longitude)
_METRES = _Grid(check_bng, _placed_bng)  # (easting, northing)


def _locate_pair(
    a: np.ndarray,
    b: np.ndarray,
    rows: np.ndarray,
    grid: _Grid,
    message: Callable[[int, str], str],
    failed: tuple[np.ndarray, np.ndarray],
    notes: tuple[str, ...] = (),
) -> Location:
    """The skeleton of the coordinate locators: check the pairs of ``rows``, place the
    plausible ones, and fail the others with ``message(row, code)``.

    Parameters
    ----------
    a, b
        The pair's values per row (latitude/longitude, or easting/northing).
    rows
        Rows with both values to check.
    grid
        The kind of pair (:data:`_DEGREES` or :data:`_METRES`).
    message
        The failure message of a row, from its position and reason code.
    failed
        Reason codes and messages of failures found before (copied, then completed).
    notes
        Remarks about the source as a whole.
    """
    check = grid.check(a, b)
    good = rows & (check == "")
    code, text = failed[0].copy(), failed[1].copy()
    for i in np.flatnonzero(rows & (check != "")):
        code[i] = check[i]
        text[i] = message(int(i), str(check[i]))
    return Location(good, *grid.place(a, b, good), code, text, notes)


@dataclass(frozen=True)
class _Pair:
    """A coordinate column pair as numbers, and the rows that are not numbers or half blank."""

    a: np.ndarray
    b: np.ndarray
    both: np.ndarray
    code: np.ndarray
    text: np.ndarray


def _numeric_pair(
    a_col: pd.Series, b_col: pd.Series, names: tuple[str, str], cand: np.ndarray, units: str
) -> _Pair:
    """Parse a coordinate column pair; failures for values that are not numbers or half blank."""
    a_c, b_c = names
    metres = units == "metres"
    a, a_bad = to_float(a_col, thousands=metres)
    b, b_bad = to_float(b_col, thousands=metres)
    both = cand & ~np.isnan(a) & ~np.isnan(b)
    notnum = cand & (a_bad | b_bad)
    half = cand & ~both & ~notnum & (np.isnan(a) ^ np.isnan(b))
    raw_a, raw_b = a_col.to_numpy(), b_col.to_numpy()
    code, text = _blank_codes(len(a))
    for i in np.flatnonzero(notnum):
        code[i] = _OUT_OF_RANGE
        text[i] = (
            f"{a_c}={short(show(raw_a[i]), 30)!r}, {b_c}={short(show(raw_b[i]), 30)!r} "
            f"are not numbers in {units}; fix the values or give a postcode"
        )
    for i in np.flatnonzero(half):
        code[i] = "missing_coordinates"
        text[i] = (
            f"{a_c} is blank but {b_c} is given"
            if np.isnan(a[i])
            else f"{b_c} is blank but {a_c} is given"
        ) + "; give both, or a postcode"
    return _Pair(a, b, both, code, text)


def locate_latlon(
    lat: pd.Series, lon: pd.Series, candidates: np.ndarray, *, names: tuple[str, str]
) -> Location:
    """Place rows by their latitude/longitude columns (WGS84 decimal degrees).

    Parameters
    ----------
    lat, lon
        The two columns (numbers, or text with decimal commas or missing-value spellings).
    candidates
        Rows to try.
    names
        The columns' names, for messages.

    Returns
    -------
    Location
        Rows placed; failures ``coordinates_out_of_range`` (not numbers, outside Great
        Britain), ``swapped_latlon``, ``bng_in_latlon``, ``missing_coordinates`` (one blank).
    """
    pair = _numeric_pair(lat, lon, names, candidates, "decimal degrees")
    la, lo = pair.a, pair.b

    def message(i: int, code: str) -> str:
        where = f"{names[0]}={fmt_coord(la[i])}, {names[1]}={fmt_coord(lo[i])}"
        return f"{where}: {latlon_hint(code, names[0], names[1])}"

    return _locate_pair(la, lo, pair.both, _DEGREES, message, (pair.code, pair.text))


def _thousands_note(
    cols: tuple[pd.Series, pd.Series],
    names: tuple[str, str],
    cand: np.ndarray,
    source_row: np.ndarray,
    label: str,
) -> tuple[str, ...]:
    """A note when easting/northing cells were written with thousands separators."""
    grouped = cand & (grouped_thousands(cols[0]) | grouped_thousands(cols[1]))
    if not grouped.any():
        return ()
    i = int(np.flatnonzero(grouped)[0])
    a, b = short(show(cols[0].iloc[i]), 20), short(show(cols[1].iloc[i]), 20)
    return (
        f"{label}: {int(grouped.sum())} row(s) write {names[0]}/{names[1]} with thousands "
        f"separators (row {source_row[i]}: {a!r}, {b!r}); read as whole metres",
    )


def locate_bng(
    easting: pd.Series,
    northing: pd.Series,
    candidates: np.ndarray,
    *,
    names: tuple[str, str],
    source_row: np.ndarray,
    label: str,
) -> Location:
    """Place rows by their easting/northing columns (British National Grid metres).

    Parameters
    ----------
    easting, northing
        The two columns (numbers, or text such as ``"406,123"``).
    candidates
        Rows to try.
    names
        The columns' names, for messages.
    source_row
        1-based input row of each row, for the note on thousands separators.
    label
        The file, starting that note.

    Returns
    -------
    Location
        Rows placed; failures ``coordinates_out_of_range`` (not numbers, off the grid, or
        degrees) and ``missing_coordinates`` (one blank).
    """
    pair = _numeric_pair(easting, northing, names, candidates, "metres")
    notes = _thousands_note((easting, northing), names, candidates, source_row, label)
    e, no = pair.a, pair.b

    def message(i: int, code: str) -> str:
        where = f"{names[0]}={fmt_coord(e[i])}, {names[1]}={fmt_coord(no[i])}"
        return f"{where}: {_bng_hint(e[i], no[i])}"

    return _locate_pair(e, no, pair.both, _METRES, message, (pair.code, pair.text), notes)


def _points(
    geometry: gpd.GeoSeries, present: np.ndarray, label: str
) -> tuple[gpd.GeoSeries, tuple[str, ...]]:
    """The geometries of the rows ``present`` as points (a note for polygons and lines)."""
    gg = geometry[present]
    if (gg.geom_type == "Point").all():
        return gg, ()
    n_shapes = int((gg.geom_type != "Point").sum())
    note = (
        f"{label}: {n_shapes} non-point geometries (polygons or lines) were "
        "placed at an interior point (shapely representative_point)"
    )
    log.info(note)
    return gg.representative_point(), (note,)


def _geographic(gg: gpd.GeoSeries, present: np.ndarray, crs: Any) -> Location:
    """Place points given in a geographic CRS (checked as latitude/longitude)."""
    n = len(present)
    crs_name = crs.to_string()
    gg = to_wgs84(gg, name="geometry")
    glon, glat = _nan(n), _nan(n)
    glon[present], glat[present] = gg.x.to_numpy(), gg.y.to_numpy()

    def message(i: int, code: str) -> str:
        where = f"geometry POINT ({fmt_coord(glon[i])} {fmt_coord(glat[i])}) ({crs_name})"
        return f"{where}: {latlon_hint(code, 'geometry', 'geometry')}"

    return _locate_pair(glat, glon, present, _DEGREES, message, _blank_codes(n))


def _projected(gg: gpd.GeoSeries, present: np.ndarray, crs_name: str) -> Location:
    """Place points given in a projected CRS (reprojected to EPSG:27700 and checked)."""
    n = len(present)
    gb = to_bng(gg, name="geometry")
    ge, gn = _nan(n), _nan(n)
    ge[present], gn[present] = gb.x.to_numpy(), gb.y.to_numpy()

    def message(i: int, code: str) -> str:
        return (
            f"geometry ({fmt_coord(ge[i])}, {fmt_coord(gn[i])}) in EPSG:27700 lies outside "
            f"Great Britain; check the layer's CRS ({crs_name})"
        )

    return _locate_pair(ge, gn, present, _METRES, message, _blank_codes(n))


def locate_geometry(geometry: gpd.GeoSeries, candidates: np.ndarray, *, label: str) -> Location:
    """Place rows by their geometry (points; polygons and lines at an interior point).

    Parameters
    ----------
    geometry
        One geometry per row, with a CRS.
    candidates
        Rows to try.
    label
        The file, starting the note on non-point geometries.

    Returns
    -------
    Location
        Rows placed; failures as for latitude/longitude (geographic CRS) or
        ``coordinates_out_of_range`` (projected CRS).
    """
    n = len(candidates)
    present = has_shape(geometry) & candidates
    if not present.any():
        return Location(present, _nan(n), _nan(n), _nan(n), _nan(n), *_blank_codes(n))
    gg, notes = _points(geometry, present, label)
    crs = geometry.crs
    if crs is not None and crs.is_geographic:
        loc = _geographic(gg, present, crs)
    else:
        loc = _projected(gg, present, crs.to_string() if crs is not None else "?")
    return Location(loc.ok, loc.lat, loc.lon, loc.x, loc.y, loc.code, loc.text, notes)


def postcode_query(postcodes: pd.Series, typed: pd.Series, candidates: np.ndarray) -> PostcodeQuery:
    """The rows to look up by their postcode column.

    Parameters
    ----------
    postcodes
        The postcode column, normalised (:func:`~cnmap.postcodes.normalise_postcodes`).
    typed
        The column as typed (quoted by messages).
    candidates
        Rows to try.

    Returns
    -------
    PostcodeQuery
        The candidate rows with a postcode.
    """
    present = candidates & postcodes.notna().to_numpy()
    return PostcodeQuery(postcodes, present, typed.to_numpy(), "", *_blank_codes(len(present)))


def address_query(addresses: pd.Series, candidates: np.ndarray, *, column: str) -> PostcodeQuery:
    """The rows to look up by the postcode found inside their address.

    Parameters
    ----------
    addresses
        The address column (cleaned text; missing when blank).
    candidates
        Rows to try.
    column
        The address column's name, for messages.

    Returns
    -------
    PostcodeQuery
        The candidate rows whose address holds a postcode; a ``missing_coordinates``
        failure for each candidate address without one.
    """
    n = len(candidates)
    has_addr = candidates & addresses.notna().to_numpy()
    values = pd.Series(pd.NA, index=addresses.index, dtype="str")
    code, text = _blank_codes(n)
    if not has_addr.any():
        return PostcodeQuery(values, has_addr, values.to_numpy(), "", code, text, True)
    values[has_addr] = extract_postcode(addresses[has_addr])
    present = has_addr & values.notna().to_numpy()
    a_vals = addresses.to_numpy()
    for i in np.flatnonzero(has_addr & ~present):
        code[i] = "missing_coordinates"
        text[i] = (
            f"no coordinates and no postcode found in {column} {short(a_vals[i])!r}; "
            "add a postcode or lat/lon"
        )
    suffix = f" (found in {column})"
    return PostcodeQuery(values, present, values.to_numpy(), suffix, code, text, True)


_POSTCODE_FAILURES = (
    (
        STATUS_MALFORMED,
        "malformed_postcode",
        "is not a valid UK postcode; check the spelling or give lat/lon",
    ),
    (STATUS_UNKNOWN, "unknown_postcode", ""),
    (
        STATUS_NO_COORDINATES,
        "postcode_without_coordinates",
        "is in the ONS postcode lookup but has no coordinates (a non-geographic "
        "postcode); give lat/lon",
    ),
)


def locate_postcodes(
    query: PostcodeQuery, geo: pd.DataFrame | None, *, unknown_message: str
) -> Location:
    """Place rows by their looked-up postcodes.

    Parameters
    ----------
    query
        The rows and postcodes to place (:func:`postcode_query`, :func:`address_query`).
    geo
        The lookup's answer for ``query.values[query.present]``
        (:meth:`~cnmap.postcodes.PostcodeLookup.geocode`); None when nothing was looked up.
    unknown_message
        What the message of an unknown postcode says after the postcode.

    Returns
    -------
    Location
        Rows placed at the postcode's centroid; failures ``malformed_postcode``,
        ``unknown_postcode``, ``postcode_without_coordinates``, and those of the query.
    """
    n = len(query.present)
    code, text = query.code.copy(), query.text.copy()
    if geo is None or not query.present.any():
        return Location(np.zeros(n, dtype=bool), _nan(n), _nan(n), _nan(n), _nan(n), code, text)
    st = np.full(n, "", dtype=object)
    st[query.present] = geo["status"].to_numpy()
    for status, reason, msg in _POSTCODE_FAILURES:
        msg = msg or unknown_message
        for i in np.flatnonzero(query.present & (st == status)):
            code[i] = reason
            text[i] = f"postcode {short(show(query.shown[i]), 30)!r}{query.suffix} {msg}"
    good = query.present & (st == STATUS_OK)
    ok_local = geo["status"].to_numpy() == STATUS_OK
    lat, lon, x, y = _nan(n), _nan(n), _nan(n), _nan(n)
    for arr, c in ((lat, C.LAT), (lon, C.LON), (x, C.EASTING), (y, C.NORTHING)):
        arr[good] = geo[c].to_numpy()[ok_local]
    found = query.values.where(good) if query.in_address else None
    return Location(good, lat, lon, x, y, code, text, (), found)
