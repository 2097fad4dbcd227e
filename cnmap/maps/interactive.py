"""Interactive coverage maps (folium / Leaflet) for planners, with light, safe data.

:func:`coverage_map` draws a :class:`~cnmap.coverage.CoverageResult` (and optionally a
:class:`~cnmap.thin.ThinResult`) as a folium map that tells its story first: a title naming the
place, a headline ("92.6% of residents live within a 15-minute walk ... of 446 organisations"),
the data and their dates, the thin areas listed with their reasons (a click zooms to each), and
an "about this map" panel in plain English. Its layers are switched in a LayerControl;
:func:`save_html` writes it, optionally self-contained (no CDN).

How the page stays light and safe:

- boundaries are simplified as a *coverage* (every shared border simplified once with
  :func:`shapely.coverage_simplify`, so neighbours never gap or overlap), reprojected to
  EPSG:4326 only here, and their coordinates rounded (:func:`simplify_for_web`);
- the LSOA geometry is written to the page once and shared by every LSOA layer (IMD
  deciles, share covered, bivariate, thin): each layer adds only a style index and its
  tooltip values per LSOA; hovering an LSOA shows the values of every LSOA layer that is
  on, whichever layer is on top, and ward outlines let the hover through;
- every text that comes from data (names, addresses, opening hours, reasons, layer
  names...) and every sentence of the panels is HTML-escaped in Python before it is written
  (:func:`._style.esc`, braces as ``&#123;`` / ``&#125;``); the page's small HTML builders
  only concatenate escaped strings. Data are embedded with :func:`._safe.inert_json`, the
  ``tojson`` filter of every cnmap element template (``{ } # % < > & '`` inside strings
  written as ``\\u00XX``), so nothing can close the ``<script>`` element and no text is
  evaluated as a Jinja2 template when branca renders the page (see ``docs/security.md``).

The layers, bottom to top (:data:`LAYER_KEYS`; ``show=`` picks those on when the map opens,
default :data:`DEFAULT_SHOW`):

``imd``
    LSOAs by national IMD decile (1 = most deprived 10% in England), with legend.
``share``
    LSOAs by ``share_covered_{minutes}min`` in coverage classes (``classes``), the gaps
    darkest; the legend gives the number of areas and residents in each class.
``bivariate``
    National deprivation deciles (1-2, 3-5, 6-10; ``thin.lsoas["deprivation_decile"]`` if
    given, else ``imd_decile``) by walking provision, the share of residents within the walk in
    fixed bands (under 75%, 75-95%, 95% or more), with a 3x3 legend that says so.
need layers (``need_layers=``, :class:`~cnmap.maps.need.MapLayer`)
    LSOAs in 5 quantile classes of a need value (Census shares, DERI, IoD), purple, "no data"
    grey; tooltip: the value and the share within the walk; off when the map opens.
``thin``
    LSOAs flagged ``thin`` in ``thin.lsoas``, thick black outline, with their reason.
``catchments``
    ``result.catchments(minutes)``: the streets within the walk (no hover).
``wards``
    Ward outlines; tooltip: residents, share within the walk, average walk to the nearest,
    deprivation (``ward_profiles``' IMD average rank, else the result's or ``thin``'s ward
    columns), thin and left-behind flags and reason (``thin.wards``). Searchable by name.
``organisations``
    Organisations as markers of a distinct colour-blind-safe colour and shape per type
    (readable type names from ``type_labels``), neutral grey cluster bubbles, approximately
    placed organisations hollow and said so in the popup, organisations at the same point
    spread apart; popup: name, type, services, address, postcode (once), opening hours in
    words.

Hovering an LSOA shows the values of every LSOA layer that is on, whatever the layer order, and
the ward outlines let the hover through while an LSOA layer is on. On a phone the layer list,
the legends and the panel's lists start folded. The map also has a fullscreen button, a metric
scale bar, ward search, and the data attribution (OS, ONS and MHCLG under the Open Government
Licence v3.0, OpenStreetMap contributors under the ODbL).

folium is imported lazily (first call).
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..columns import (
    ADDRESS,
    BNG,
    COORD_SOURCE,
    LSOA_CODE,
    LSOA_NAME,
    NAME,
    OPENING_HOURS,
    ORG_TYPE,
    POPULATION,
    POSTCODE,
    SERVICES,
    WARD_CODE,
    WARD_NAME,
    WGS84,
)
from ..errors import CRSError, MissingColumnError, OptionalDependencyError, ValidationError
from ..geo import to_bng, to_wgs84
from . import _style as S
from ._payloads import AreaPayload, OrgPayload, SharedGeometry
from ._safe import inert_html
from .need import MapLayer

if TYPE_CHECKING:
    import folium

__all__ = [
    "LAYER_KEYS",
    "DEFAULT_SHOW",
    "POPUP_FIELDS",
    "BASEMAPS",
    "DEFAULT_TILES",
    "Basemap",
    "MapFacts",
    "coverage_map",
    "map_facts",
    "save_html",
    "simplify_for_web",
    "layer_names",
]

logger = logging.getLogger(__name__)

#: Keys of the layers :func:`coverage_map` can draw, bottom to top (``show=`` takes these).
LAYER_KEYS: tuple[str, ...] = (
    "imd",
    "share",
    "bivariate",
    "thin",
    "catchments",
    "wards",
    "organisations",
)
#: Organisation popup rows by default: column -> label.
POPUP_FIELDS: dict[str, str] = {
    ORG_TYPE: "Type",
    SERVICES: "Services",
    ADDRESS: "Address",
    POSTCODE: "Postcode",
    OPENING_HOURS: "Opening hours",
}

#: Layers switched on when the map opens: the gaps first (coverage classes, thin areas).
DEFAULT_SHOW: tuple[str, ...] = ("share", "thin", "wards", "organisations")

#: Referrer policy of the base-map tile requests (Leaflet ``referrerPolicy``) and of the page
#: (``<meta name="referrer">``): tile servers see the site a map is served from, not the page.
REFERRER_POLICY = S.REFERRER_POLICY


@dataclass(frozen=True)
class Basemap:
    """A base map the layer control offers: tile URL template, attribution (HTML), zooms."""

    name: str
    url: str
    attribution: str
    max_native_zoom: int
    subdomains: str = "abc"


_OSM_ATTR = (
    '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
)

#: Base maps by key. CARTO's and Esri's tile servers answer requests without a referrer, so
#: they draw in a map opened from a local file; OpenStreetMap's own tile servers refuse such
#: requests (their tile usage policy asks for a referrer), so their tiles only draw in a map
#: served from a website. See docs/maps.md, "Base maps".
BASEMAPS: dict[str, Basemap] = {
    "carto_light": Basemap(
        "Light grey (CARTO)",
        "https://{s}.basemaps.cartocdn.com/light_all/{z}/{x}/{y}{r}.png",
        f'{_OSM_ATTR} &copy; <a href="https://carto.com/attributions">CARTO</a>',
        20,
        "abcd",
    ),
    "esri_grey": Basemap(
        "Grey canvas (Esri)",
        "https://server.arcgisonline.com/ArcGIS/rest/services/Canvas/World_Light_Gray_Base/"
        "MapServer/tile/{z}/{y}/{x}",
        "Tiles &copy; Esri &mdash; Esri, DeLorme, NAVTEQ",
        16,
    ),
    "osm": Basemap(
        "OpenStreetMap (needs the map served from a website)",
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        _OSM_ATTR,
        19,
    ),
}
#: Base maps offered by default, the first one shown.
DEFAULT_TILES: tuple[str, ...] = ("carto_light", "esri_grey", "osm")

_AVG_RANK_RANKED = ("rank_of_imd_average_rank",)
_AVG_RANK_VALUE = ("imd_average_rank", "imd_avg_rank", "average_rank", "avg_rank")
#: LSOAs in England by IoD edition (national ranks run 1..n).
_N_LSOAS_ENGLAND = {2015: 32844, 2019: 32844, 2025: 33755}


def _fmt_min(minutes: float) -> str:
    return f"{minutes:g}"


def layer_names(minutes: float) -> dict[str, str]:
    """Names shown in the LayerControl, by layer key, for a threshold of ``minutes``."""
    t = _fmt_min(minutes)
    return {
        "imd": "Deprivation: national IMD decile (LSOAs)",
        "share": f"Residents within {t} min walk (LSOAs)",
        "bivariate": "Deprivation × walking provision (LSOAs)",
        "thin": "Thin areas: deprived and poorly reached (LSOAs)",
        "catchments": f"{t}-minute walking catchments",
        "wards": "Wards",
        "organisations": "Organisations",
    }


# --------------------------------------------------------------------------------------
# geometry: simplify as a coverage, reproject, round
# --------------------------------------------------------------------------------------


def _as_bng(gdf: gpd.GeoDataFrame, label: str) -> gpd.GeoDataFrame:
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise ValidationError(f"{label} must be a GeoDataFrame, got {type(gdf).__name__}")
    if gdf.crs is None:
        raise CRSError(
            f"{label} has no CRS; set it first (cnmap works in British National Grid: "
            f"gdf.set_crs('{BNG}'))"
        )
    return gdf if gdf.crs.to_epsg() == 27700 else to_bng(gdf, name=label)


def _round(geoms: np.ndarray, precision: int) -> np.ndarray:
    return cast(np.ndarray, shapely.transform(geoms, lambda xy: np.round(xy, precision)))


def _drop_small_holes(geoms: np.ndarray, min_hole_m2: float) -> np.ndarray:
    """Remove interior rings smaller than ``min_hole_m2`` from (multi)polygons."""
    parts, index = shapely.get_parts(geoms, return_index=True)
    if len(parts) == 0 or not (shapely.get_type_id(parts) == 3).all():
        logger.info("holes kept: the geometries are not all (multi)polygons")
        return geoms
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    is_exterior = np.r_[True, ring_part[1:] != ring_part[:-1]]
    keep = is_exterior | (shapely.area(shapely.polygons(rings)) >= min_hole_m2)
    new_parts = np.empty(len(parts), dtype=object)
    kept_rings, kept_part = rings[keep], ring_part[keep]
    starts = np.searchsorted(kept_part, np.arange(len(parts)))
    ends = np.searchsorted(kept_part, np.arange(len(parts)), side="right")
    for k in range(len(parts)):  # one step per polygon part
        shell, holes = kept_rings[starts[k]], kept_rings[starts[k] + 1 : ends[k]]
        new_parts[k] = shapely.Polygon(shell, list(holes))
    out = np.empty(len(geoms), dtype=object)
    for i in range(len(geoms)):
        sel = new_parts[index == i]
        out[i] = sel[0] if len(sel) == 1 else shapely.multipolygons(list(sel))
    return out


def _coverage_ok(geoms: np.ndarray) -> bool:
    if not hasattr(shapely, "coverage_simplify"):  # shapely < 2.1
        return False
    try:
        return bool(shapely.coverage_is_valid(geoms))
    except shapely.errors.GEOSException:
        return False


def simplify_for_web(
    gdf: gpd.GeoDataFrame,
    *,
    tolerance_m: float = 15.0,
    precision: int = 5,
    coverage: bool = True,
    min_hole_m2: float = 0.0,
) -> gpd.GeoDataFrame:
    """Return a light copy of ``gdf`` for a web map: simplified, in EPSG:4326, rounded.

    Parameters
    ----------
    gdf
        Polygons in any CRS with a definition (simplified in EPSG:27700, metres).
    tolerance_m
        Simplification tolerance in metres (0: none). For a coverage this is the
        Visvalingam-Whyatt tolerance of :func:`shapely.coverage_simplify` (triangles
        smaller than ``tolerance_m`` squared are removed), otherwise the Douglas-Peucker distance.
    precision
        Decimal places kept in longitude/latitude (5 is about 1 m).
    coverage
        The polygons form a coverage (neighbours share borders, no overlaps), such as wards
        or LSOAs: simplify every shared border once with :func:`shapely.coverage_simplify`,
        so that neighbours still meet exactly. If the input is not a valid coverage (or
        shapely < 2.1), each polygon is simplified on its own (``preserve_topology``) and a
        warning is logged. ``False``: always simplify each geometry on its own.
    min_hole_m2
        Interior rings (holes) smaller than this area are removed (catchments made of
        buffered streets have many small holes; 0 keeps all).

    Returns
    -------
    geopandas.GeoDataFrame
        A copy in EPSG:4326, same rows and columns; the caller's frame is not changed.

    Raises
    ------
    CRSError
        ``gdf`` has no CRS.
    """
    bng = _as_bng(gdf, "simplify_for_web input")
    geoms = np.asarray(bng.geometry.values, dtype=object)
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    work = geoms[present]
    if tolerance_m > 0 and len(work):
        if coverage and _coverage_ok(work):
            work = shapely.coverage_simplify(work, tolerance_m, simplify_boundary=True)
        else:
            if coverage:
                logger.warning(
                    "simplify_for_web: the %d polygons are not a valid coverage (overlaps or "
                    "unmatched shared edges); simplifying each polygon on its own",
                    len(work),
                )
            work = shapely.simplify(work, tolerance_m, preserve_topology=True)
    if min_hole_m2 > 0 and len(work):
        work = _drop_small_holes(np.asarray(work, dtype=object), min_hole_m2)
    geoms = geoms.copy()
    geoms[present] = work
    out = gpd.GeoDataFrame(bng.drop(columns=bng.geometry.name), geometry=list(geoms), crs=BNG)
    out = to_wgs84(out)
    rounded = np.asarray(out.geometry.values, dtype=object).copy()
    rounded[present] = _round(rounded[present], precision)
    # rounding can make a ring touch itself at a vertex: repair those few (vertices kept)
    bad = present & ~shapely.is_valid(rounded)
    if bad.any():
        rounded[bad] = shapely.make_valid(rounded[bad], method="linework")
        logger.debug("simplify_for_web: repaired %d geometries after rounding", int(bad.sum()))
    return out.set_geometry(list(rounded), crs=WGS84)


def _points_wgs84(gdf: gpd.GeoDataFrame, precision: int, label: str) -> gpd.GeoDataFrame:
    out = to_wgs84(gdf, name=label)
    geoms = np.asarray(out.geometry.values, dtype=object)
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    finite = np.isfinite(shapely.get_coordinates(geoms[ok])).all(axis=1)
    ok[np.flatnonzero(ok)[~finite]] = False  # e.g. a projection of a point without lat/lon
    if (~ok).any():
        logger.warning("%s: %d row(s) without a location are not drawn", label, int((~ok).sum()))
        out = out.loc[ok].copy()
        geoms = geoms[ok]
    return out.set_geometry(list(_round(geoms, precision)), crs=WGS84)


# --------------------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------------------


def _thresholds(result: Any) -> tuple[float, ...]:
    th = getattr(result, "thresholds", None)
    if th:
        return tuple(th)
    cols = getattr(getattr(result, "lsoas", None), "columns", [])
    pat = re.compile(r"share_covered_(\d+(?:\.\d+)?)min")
    found = sorted({float(m.group(1)) for c in cols if (m := pat.fullmatch(str(c)))})
    return tuple(int(x) if x.is_integer() else x for x in found)


def _choose_minutes(result: Any, minutes: float | None) -> float:
    th = _thresholds(result)
    if minutes is None:
        if not th:
            raise ValidationError(
                "coverage_map: the result has no thresholds and no share_covered_<T>min "
                "columns; pass a cnmap.coverage result"
            )
        return 15 if 15 in th else max(th)
    if th and minutes not in th:
        raise ValidationError(
            f"coverage_map: minutes={minutes!r} is not one of the result's thresholds {th}; "
            "pass one of them or recompute coverage with that threshold"
        )
    return minutes


def _require(frame: Any, cols: Sequence[str], label: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise ValidationError(f"coverage_map: {label} must be a (Geo)DataFrame")
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise MissingColumnError(
            f"coverage_map: {label} has no column(s) {missing} (it has "
            f"{list(frame.columns)[:15]}); pass the result of cnmap.coverage / cnmap.thin_areas"
        )


def _attributes(frame: pd.DataFrame) -> pd.DataFrame:
    """A plain DataFrame of ``frame``'s non-geometry columns."""
    geom = [c for c in frame.columns if isinstance(frame[c].dtype, gpd.array.GeometryDtype)]
    return pd.DataFrame(frame.drop(columns=geom))


def _by_code(frame: pd.DataFrame, code: str) -> pd.DataFrame:
    """``frame`` indexed by its ``code`` column as text (first row of each code kept)."""
    out = frame.drop_duplicates(code)
    out.index = pd.Index(out[code].astype(str).tolist())
    return out


def _col(frame: pd.DataFrame, name: str) -> list[Any]:
    if name in frame.columns:
        return cast(list[Any], frame[name].tolist())
    return [None] * len(frame)


def _yes_no(value: object) -> str:
    if S._missing(value):
        return "n/a"
    return "yes" if bool(value) else "no"


def _org_frame(result: Any, organisations: Any) -> gpd.GeoDataFrame | None:
    src = organisations if organisations is not None else getattr(result, "organisations", None)
    if src is None:
        return None
    if not isinstance(src, gpd.GeoDataFrame) and hasattr(src, "organisations"):
        src = src.organisations  # an OrganisationTable
    if not isinstance(src, gpd.GeoDataFrame):
        raise ValidationError(
            "coverage_map: organisations must be a GeoDataFrame or an OrganisationTable "
            f"(cnmap.read_organisations), got {type(src).__name__}"
        )
    if src.crs is None:
        raise CRSError(
            "coverage_map: organisations have no CRS; set it (e.g. gdf.set_crs('EPSG:27700'))"
        )
    return src


def _catchments(result: Any, catchments: Any, minutes: float) -> gpd.GeoDataFrame | None:
    """The catchment polygons to draw: given, computed by the result, or None."""
    if catchments is None or catchments is False:
        return None
    if isinstance(catchments, gpd.GeoDataFrame):
        if "minutes" in catchments.columns:
            sel = catchments["minutes"] == minutes
            if sel.any():
                return catchments.loc[sel]
        return catchments
    if catchments is not True:
        raise ValidationError(
            "coverage_map: catchments must be True, False or a GeoDataFrame of catchment "
            f"polygons (result.catchments(minutes)), got {type(catchments).__name__}"
        )
    fn = getattr(result, "catchments", None)
    if not callable(fn):
        return None
    try:
        return fn(minutes)
    except ValidationError as exc:  # e.g. crow-flies results have no street network
        logger.info("coverage_map: no catchment layer (%s)", exc)
        return None


_RANK_LABEL = "Deprivation (IMD average rank)"


def _ward_rank(
    codes: Sequence[str], candidates: Sequence[pd.DataFrame | None]
) -> tuple[str, list[str | None]] | None:
    """(label, formatted IMD average-rank text per ward code), or None if none is given."""
    for frame in candidates:
        if frame is None:
            continue
        table = frame
        if WARD_CODE not in table.columns:
            if table.index.name != WARD_CODE:
                continue
            table = table.reset_index()
        lookup = _by_code(_attributes(table), WARD_CODE)
        for col in _AVG_RANK_RANKED:
            if col in lookup.columns:
                vals = lookup[col].reindex(list(codes)).tolist()
                n = int(pd.to_numeric(lookup[col], errors="coerce").notna().sum())
                return _RANK_LABEL, [
                    "n/a" if S._missing(v) else f"{int(v)} of {n} wards (1 = most deprived)"
                    for v in vals
                ]
        for col in _AVG_RANK_VALUE:
            if col in lookup.columns:
                vals = lookup[col].reindex(list(codes)).tolist()
                note = " (higher = more deprived)" if col.startswith("imd_") else ""
                return _RANK_LABEL, [
                    "n/a" if S._missing(v) else f"{S.fmt_int(v)}{note}" for v in vals
                ]
    return None


#: Columns that may say how an organisation was placed; text naming a centroid (ward, LSOA,
#: postcode district...) marks it as placed approximately.
_PLACEMENT_TEXT = ("location_source", "location_note", "coord_note", "geo_source")
#: ``coord_source`` values of approximate placements.
_APPROXIMATE_SOURCES = frozenset({"ward_centroid", "lsoa_centroid", "centroid", "area", "ward"})
_CENTROID = re.compile(
    r"\b(ward|lsoa|msoa|output area|district|borough|neighbourhood)\b[^.;()]{0,30}\bcentroid"
    r"|\bcentroid of (the |its )?(ward|lsoa|msoa|output area|district|borough)\b",
    re.I,
)


def _approximate(orgs: pd.DataFrame) -> list[str | None]:
    """Per organisation: None if placed at its address, else a plain note on its placement.

    An ``approximate`` column (True/False) decides when present; otherwise ``coord_source``
    values such as ``"ward_centroid"`` and placement notes (``location_source``,
    ``coord_note``...) that name a ward or area centroid mark the row.
    """
    n = len(orgs)
    if "approximate" in orgs.columns:
        flags = [not S._missing(v) and bool(v) for v in orgs["approximate"]]
        return ["approximate location" if f else None for f in flags]
    out: list[str | None] = [None] * n
    for i, src in enumerate(_col(orgs, COORD_SOURCE)):
        if not S._missing(src) and str(src).lower() in _APPROXIMATE_SOURCES:
            out[i] = "approximate: placed at the centre of its area, not at an address"
    for col in (c for c in _PLACEMENT_TEXT if c in orgs.columns):
        for i, text in enumerate(orgs[col].tolist()):
            if out[i] is None and not S._missing(text) and _CENTROID.search(str(text)):
                where = "ward" if re.search(r"\bward\b", str(text), re.I) else "area"
                out[i] = f"approximate: placed at the centre of its {where}, not at an address"
    return out


def _overlap_offsets(
    lat: np.ndarray, lon: np.ndarray, radius_px: float = 9.0
) -> list[tuple[float, float]]:
    """A small pixel offset for each of several organisations at the same point (a ring
    around it, in input order), (0, 0) for the others: they stay apart at every zoom."""
    keys = list(zip(np.round(lat, 5).tolist(), np.round(lon, 5).tolist(), strict=True))
    groups: dict[tuple[float, float], list[int]] = {}
    for i, k in enumerate(keys):
        groups.setdefault(k, []).append(i)
    out = [(0.0, 0.0)] * len(keys)
    for members in groups.values():
        if len(members) < 2:
            continue
        for j, i in enumerate(members):
            a = 2 * math.pi * j / len(members) - math.pi / 2
            out[i] = (round(radius_px * math.cos(a), 1), round(radius_px * math.sin(a), 1))
    return out


# --------------------------------------------------------------------------------------
# what the map says: facts read from the result, and the story panel
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MapFacts:
    """The figures and dates the map's title panel states (read by :func:`map_facts`)."""

    place: str | None
    minutes: float
    metres: float | None
    speed_kmh: float | None
    mode: str | None
    detour: float | None
    share: float | None
    population: float | None
    pop_out: float | None
    n_organisations: int | None
    dates: dict[str, str] = field(default_factory=dict)


_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def _params(obj: Any) -> dict[str, Any]:
    p = getattr(obj, "params", None)
    return p if isinstance(p, dict) else {}


def _place(result: Any) -> str | None:
    area = getattr(result, "area", None)
    for value in (
        getattr(area, "lad_name", None),
        _params(result).get("lad_name"),
        getattr(area, "lad_code", None),
        _params(result).get("lad_code"),
    ):
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _totals(result: Any, minutes: float) -> tuple[float | None, float | None, float | None]:
    """(share covered, population, residents out of reach) of the whole area at ``minutes``."""
    tot = getattr(result, "totals", None)
    if isinstance(tot, pd.DataFrame) and {"minutes", "share_covered", "population"} <= set(
        tot.columns
    ):
        row = tot.loc[tot["minutes"] == minutes]
        if len(row):
            share, pop = float(row["share_covered"].iloc[0]), float(row["population"].iloc[0])
            return share, pop, pop * (1 - share)
    lsoas = getattr(result, "lsoas", None)
    col = f"pop_covered_{_fmt_min(minutes)}min"
    if isinstance(lsoas, pd.DataFrame) and {col, POPULATION} <= set(lsoas.columns):
        pop = float(pd.to_numeric(lsoas[POPULATION], errors="coerce").sum())
        covered = float(pd.to_numeric(lsoas[col], errors="coerce").sum())
        if pop > 0:
            return covered / pop, pop, pop - covered
    return None, None, None


def _metres(result: Any, minutes: float, speed: float | None) -> float | None:
    fn = getattr(result, "metres", None)
    if callable(fn):
        try:
            return float(fn(minutes))
        except (TypeError, ValueError, ValidationError):
            pass
    return None if speed is None else minutes * speed * 1000 / 60


def _month_year(text: str) -> str | None:
    """``"...walk_osm_2021-08.gpkg"`` -> ``"August 2021"`` (a date in a name), else None."""
    m = re.search(r"(?<!\d)((?:19|20)\d\d)-(0[1-9]|1[0-2])(?:-\d\d)?(?!\d)", text)
    if m is None:
        return None
    return f"{_MONTHS[int(m.group(2)) - 1]} {m.group(1)}"


def _osm_date(params: dict[str, Any]) -> str | None:
    net = params.get("network")
    if not isinstance(net, dict):
        return None
    for key in ("osm_date", "date", "snapshot", "vintage"):
        if isinstance(net.get(key), str) and net[key].strip():
            return _month_year(net[key]) or net[key].strip()
    src = net.get("source")
    return _month_year(Path(str(src)).name) if src else None


def _dates(result: Any) -> dict[str, str]:
    """Data and dates in plain words: deprivation, areas, residents, streets."""
    area = getattr(result, "area", None)
    params, aparams = _params(result), _params(area)
    out: dict[str, str] = {}
    iod = getattr(area, "iod", None) or params.get("iod")
    if iod:
        out["Deprivation"] = f"English Indices of Deprivation {iod} (national ranks)"
    lsoa = getattr(area, "lsoa_vintage", None) or params.get("lsoa_vintage")
    if lsoa:
        out["Areas"] = f"{lsoa} Census neighbourhoods (LSOAs)"
    mid = re.search(r"mid-(\d{4})", str(aparams.get("population_source", "")))
    if mid:
        out["Residents"] = f"mid-{mid.group(1)} population estimates"
    mode = getattr(result, "mode", None) or params.get("mode")
    osm = _osm_date(params)
    if mode == "crow_flies":
        out["Walks"] = "straight-line distance × a detour factor (no street map)"
    elif osm:
        out["Streets"] = f"OpenStreetMap, {osm}"
    elif mode == "network":
        out["Streets"] = "OpenStreetMap"
    return out


def map_facts(
    result: Any,
    minutes: float | None = None,
    *,
    place: str | None = None,
    n_organisations: int | None = None,
    dates: Mapping[str, str] | None = None,
) -> MapFacts:
    """What the map's title panel states, read from a coverage result.

    ``place`` defaults to ``result.area.lad_name`` (else the LAD code in ``result.params``);
    ``dates`` adds to or replaces the data dates read from the result and its area (IoD
    edition, LSOA vintage, population year, OpenStreetMap date found in the network's
    parameters or file name).
    """
    t = _choose_minutes(result, minutes)
    params = _params(result)
    speed = getattr(result, "speed_kmh", None) or params.get("speed_kmh")
    share, pop, out = _totals(result, t)
    if n_organisations is None:
        orgs = getattr(result, "organisations", None)
        n_organisations = len(orgs) if isinstance(orgs, pd.DataFrame) else None
    detour = params.get("detour_factor")
    return MapFacts(
        place=place or _place(result),
        minutes=t,
        metres=_metres(result, t, None if speed is None else float(speed)),
        speed_kmh=None if speed is None else float(speed),
        mode=getattr(result, "mode", None) or params.get("mode"),
        detour=float(detour) if isinstance(detour, int | float) else None,
        share=share,
        population=pop,
        pop_out=out,
        n_organisations=n_organisations,
        dates={**_dates(result), **dict(dates or {})},
    )


def _walk_phrase(f: MapFacts) -> str:
    """``"15-minute walk (1,200 m at 4.8 km/h)"``."""
    t = _fmt_min(f.minutes)
    if f.metres is None or f.speed_kmh is None:
        return f"{t}-minute walk"
    how = f"{f.metres:,.0f} m at {f.speed_kmh:g} km/h"
    if f.mode == "crow_flies":
        how += ", estimated from straight-line distance"
        if f.detour:
            how += f" × {f.detour:g}"
    return f"{t}-minute walk ({how})"


def headline_text(f: MapFacts, what: str = "organisations") -> str:
    """The headline sentence (plain text): share of residents, walk, organisations."""
    orgs = f"{f.n_organisations:,} {what}" if f.n_organisations is not None else what
    if f.share is None:
        return f"Who lives within a {_walk_phrase(f)} of {orgs}."
    pct = "100%" if f.share >= 1 else f"{min(100 * f.share, 99.9):.1f}%"
    text = f"{pct} of residents live within a {_walk_phrase(f)} of {orgs}."
    if f.pop_out is not None and f.pop_out >= 0.5:
        text += f" {f.pop_out:,.0f} live further away."
    return text


@dataclass(frozen=True)
class ThinItem:
    """One thin area of the list: feature index in the LSOA layer, name, ward, reason."""

    i: int
    name: str
    ward: str | None
    reason: str | None
    rank: float


def _thin_rule(thin: Any) -> tuple[int, float, str, float | None]:
    """(max_decile, min_share_covered, deprivation label, minutes) of the thin rule."""
    p = _params(thin)
    dec = p.get("max_decile", 2)
    share = p.get("min_share_covered", 0.5)
    label = str(p.get("domain_label") or "IMD")
    return int(dec), float(share), label, p.get("minutes")


def _thin_items(lsoas: pd.DataFrame, joined: pd.DataFrame | None) -> list[ThinItem]:
    """The thin LSOAs, thinnest first (``rank``), with their position in ``lsoas``."""
    if joined is None or "thin" not in joined.columns:
        return []
    flags = [not S._missing(v) and bool(v) for v in joined["thin"].tolist()]
    ranks, reasons = _col(joined, "rank"), _col(joined, "reason")
    names, codes, wards = _col(lsoas, LSOA_NAME), _col(lsoas, LSOA_CODE), _col(lsoas, WARD_NAME)
    items = []
    for i, flag in enumerate(flags):
        if not flag:
            continue
        name = names[i] if not S._missing(names[i]) else codes[i]
        ward = None if S._missing(wards[i]) else str(wards[i])
        reason = None if S._missing(reasons[i]) or not str(reasons[i]) else str(reasons[i])
        items.append(ThinItem(i, str(name), ward, reason, _number(ranks[i], math.inf)))
    return sorted(items, key=lambda it: (it.rank, it.i))


_MAX_LISTED = 100


def _number(value: object, default: float) -> float:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default
    return default if math.isnan(v) else v


def _thin_li(it: ThinItem) -> str:
    ward = "" if it.ward is None else f", {S.esc(it.ward)}"
    why = "" if it.reason is None else f'<div class="cnmap-why">{S.esc(it.reason)}</div>'
    return (
        f'<li data-cnmap-i="{it.i}" tabindex="0" title="Zoom to this area">'
        f"<b>{S.esc(it.name)}</b>{ward}{why}</li>"
    )


def _thin_list_html(
    items: Sequence[ThinItem], rule: tuple[int, float, str, float | None], minutes: float
) -> str:
    dec, share, label, _ = rule
    t = _fmt_min(minutes)
    if not items:
        return (
            f'<p class="cnmap-gapline">No thin areas: every neighbourhood among the most '
            f"deprived {10 * dec}% in England ({S.esc(label)}) has at least "
            f"{100 * share:.0f}% of its residents within a {t}-minute walk.</p>"
        )
    n = len(items)
    head = (
        f'<p class="cnmap-gapline"><b>{n} thin area{"" if n == 1 else "s"}</b>: among the '
        f"most deprived {10 * dec}% of neighbourhoods in England ({S.esc(label)}) and fewer "
        f"than {100 * share:.0f}% of residents within a {t}-minute walk.</p>"
    )
    rows = "".join(_thin_li(it) for it in items[:_MAX_LISTED])
    more = (
        f"<p>…and {n - _MAX_LISTED} more (see the thin areas table).</p>" if n > _MAX_LISTED else ""
    )
    return (
        f'{head}<details class="cnmap-fold cnmap-thin" open><summary>Where they are '
        f"(click one to zoom to it)</summary><ol>{rows}</ol>{more}</details>"
    )


def _about_html(
    f: MapFacts, rule: tuple[int, float, str, float | None] | None, approximate: bool
) -> str:
    t = _fmt_min(f.minutes)
    speed = "" if f.speed_kmh is None else f" at {f.speed_kmh:g} km/h"
    if f.mode == "crow_flies":
        walks = (
            f"Walking distances are estimated from straight-line distance"
            f"{'' if not f.detour else f' × {f.detour:g}'}{speed}, from where people "
            "live to the nearest organisation."
        )
    else:
        walks = (
            f"Walks follow streets and paths (OpenStreetMap){speed}, from where people "
            "live (postcode points, shared by population) to the nearest organisation."
        )
    parts = [
        "Each small area is an LSOA: a neighbourhood of about 1,500 residents used for "
        f"official statistics. Its colour shows the share of its residents who live within a "
        f"{t}-minute walk of at least one organisation on the map: dark red where few do, "
        "pale yellow where nearly all do.",
        walks,
    ]
    if rule is not None:
        dec, share, label, _ = rule
        index = "Index of Multiple Deprivation (IMD)" if label == "IMD" else label
        parts.append(
            f"Thin areas (thick black outline) are among the most deprived {10 * dec}% of "
            f"neighbourhoods in England on the {index}, and fewer than {100 * share:.0f}% of "
            f"their residents live within a {t}-minute walk of an organisation."
        )
    parts.append(
        "Deprivation is from the English Indices of Deprivation, which rank every "
        "neighbourhood in England: decile 1 is the most deprived 10%, decile 10 the least."
    )
    org = (
        "Each symbol is an organisation, coloured and shaped by type; a number in a grey "
        "circle is a group of nearby organisations (click it to zoom in)."
    )
    if approximate:
        org += (
            " Hollow symbols with a dashed outline are placed approximately (for example at "
            "the centre of their ward) because no address was found."
        )
    parts.append(org)
    parts.append(
        "Hover over an area for its figures; click an organisation for its details. The "
        "layers button (top right) switches between views; the search (top left) finds a ward."
    )
    body = "".join(f"<p>{S.esc(x)}</p>" for x in parts)
    return f'<details class="cnmap-about"><summary>About this map</summary>{body}</details>'


def _story_html(
    f: MapFacts,
    title: str,
    what: str,
    thin_part: str | None,
    rule: tuple[int, float, str, float | None] | None,
    approximate: bool,
) -> str:
    """The title panel: title, headline, thin areas, data and dates, about (escaped here)."""
    dates = "".join(f"<li>{S.esc(k)}: {S.esc(v)}</li>" for k, v in f.dates.items())
    data = (
        f'<details class="cnmap-fold cnmap-dates" open><summary>Data and dates</summary>'
        f"<ul>{dates}</ul></details>"
        if dates
        else ""
    )
    return (
        f'<div class="cnmap-title">{S.esc(title)}</div>'
        f'<p class="cnmap-headline">{S.esc(headline_text(f, what))}</p>'
        f"{thin_part or ''}{data}{_about_html(f, rule, approximate)}"
    )


def _default_title(f: MapFacts, what: str) -> str:
    where = f.place or "This area"
    return f"{where}: who can walk to {what} in {_fmt_min(f.minutes)} minutes"


# --------------------------------------------------------------------------------------
# layer payloads (pure: plain Python data, every text escaped)
# --------------------------------------------------------------------------------------


def _shared(
    gdf: gpd.GeoDataFrame, titles: Sequence[str], extra: dict[str, Sequence[Any]] | None = None
) -> SharedGeometry:
    texts = shapely.to_geojson(np.asarray(gdf.geometry.values, dtype=object))
    features = []
    for i, text in enumerate(texts):
        props: dict[str, Any] = {"i": i, "t": titles[i]}
        for k, vals in (extra or {}).items():
            props[k] = vals[i]
        features.append(
            {
                "type": "Feature",
                "properties": props,
                "geometry": None if text is None else json.loads(text),
            }
        )
    return SharedGeometry({"type": "FeatureCollection", "features": features}, len(features))


def _choropleth_styles(colours: Sequence[str], opacity: float) -> list[dict[str, Any]]:
    return [
        {"fillColor": c, "color": "#ffffff", "weight": 0.4, "fillOpacity": opacity, "opacity": 0.8}
        for c in colours
    ]


_HOVER = {"weight": 2.5, "color": "#222222"}


def _lsoa_titles(lsoas: pd.DataFrame) -> list[str]:
    return [
        S.esc(c) if S._missing(n) else f"{S.esc(n)} ({S.esc(c)})"
        for c, n in zip(_col(lsoas, LSOA_CODE), _col(lsoas, LSOA_NAME), strict=True)
    ]


def _national_rank(rank: object, n: int | None) -> str:
    if S._missing(rank):
        return "n/a"
    return S.fmt_int(rank) + ("" if n is None else f" of {n:,}")


def _imd_payload(lsoas: pd.DataFrame, name: str, iod: Any = None) -> AreaPayload:
    palette = [*S.IMD_DECILE_COLOURS, S.MISSING_COLOUR]
    idx = [palette.index(S.decile_colour(d)) for d in _col(lsoas, "imd_decile")]
    items = [
        (
            c,
            f"{i + 1}"
            + (" most deprived 10%" if i == 0 else " least deprived 10%" if i == 9 else ""),
        )
        for i, c in enumerate(S.IMD_DECILE_COLOURS)
    ]
    n = _N_LSOAS_ENGLAND.get(int(iod)) if isinstance(iod, int) else None
    edition = f" {iod}" if iod else ""
    return AreaPayload(
        key="imd",
        name=name,
        styles=_choropleth_styles(palette, 0.75),
        style_index=idx,
        labels=[
            "Ward",
            "Deprivation decile in England",
            "National rank (1 = most deprived)",
            "Residents",
        ],
        rows=[
            [S.esc(w), S.esc(S.decile_words(d)), S.esc(_national_rank(r, n)), S.fmt_int(p)]
            for w, d, r, p in zip(
                _col(lsoas, WARD_NAME),
                _col(lsoas, "imd_decile"),
                _col(lsoas, "imd_rank"),
                _col(lsoas, POPULATION),
                strict=True,
            )
        ],
        highlight=_HOVER,
        legend=S.legend_html(
            f"Deprivation (IMD{edition}), national deciles",
            items,
            note="1 = most deprived 10% of neighbourhoods in England",
        ),
    )


def _covered_text(share: object, pop: object, covered: object) -> str:
    if S._missing(share):
        return "n/a"
    if S._missing(pop) or S._missing(covered):
        return S.fmt_pct(share)
    return f"{S.fmt_pct(share)} ({S.fmt_int(covered)} of {S.fmt_int(pop)})"


def _class_legend_items(
    share: Sequence[Any], pops: Sequence[Any], edges: Sequence[float], colours: Sequence[str]
) -> list[tuple[str, str]]:
    """Legend rows, gaps first: label, number of areas and residents in each class."""
    n = [0] * len(colours)
    people = [0.0] * len(colours)
    for s, p in zip(share, pops, strict=True):
        k = S.class_of(s, edges)
        if k >= 0:
            n[k] += 1
            people[k] += 0.0 if S._missing(p) else float(p)
    return [
        (c, f"{lab}: {n[k]:,} area{'' if n[k] == 1 else 's'}, {people[k]:,.0f} residents")
        for k, (c, lab) in enumerate(zip(colours, S.class_labels(edges), strict=True))
    ]


def _share_payload(
    lsoas: pd.DataFrame,
    share_col: str,
    minutes: float,
    name: str,
    classes: str | Sequence[float] = "steps",
) -> AreaPayload:
    share = _col(lsoas, share_col)
    edges = S.coverage_edges(share, classes)
    colours = S.gap_colours(len(edges) - 1)
    palette = [*colours, S.MISSING_COLOUR]
    t = _fmt_min(minutes)
    pops = _col(lsoas, POPULATION)
    covered = _col(lsoas, f"pop_covered_{t}min")
    return AreaPayload(
        key="share",
        name=name,
        styles=_choropleth_styles(palette, 0.72),
        style_index=[S.class_of(s, edges) % len(palette) for s in share],
        labels=["Ward", "Residents", f"Within a {t}-minute walk", "Average walk to the nearest"],
        rows=[
            [S.esc(w), S.fmt_int(p), S.esc(_covered_text(s, p, c)), S.esc(S.fmt_walk(mw))]
            for w, p, s, c, mw in zip(
                _col(lsoas, WARD_NAME),
                pops,
                share,
                covered,
                _col(lsoas, "mean_walk_min"),
                strict=True,
            )
        ],
        highlight=_HOVER,
        legend=S.legend_html(
            f"Residents within a {t}-minute walk",
            _class_legend_items(share, pops, edges, colours),
            note="share of each area's residents; darkest = biggest gap",
        ),
    )


def _bivariate_payload(
    lsoas: pd.DataFrame, joined: pd.DataFrame | None, share_col: str, minutes: float, name: str
) -> AreaPayload:
    """Deprivation (national deciles) by provision (share of residents within the walk, in
    absolute bands: the same in every city)."""
    t = _fmt_min(minutes)
    use_thin = joined is not None and "deprivation_decile" in joined.columns
    deciles = _col(joined, "deprivation_decile") if use_thin else _col(lsoas, "imd_decile")
    domain = "IMD"
    if use_thin and "deprivation_domain" in joined.columns:  # type: ignore[union-attr]
        dom = [d for d in _col(joined, "deprivation_domain") if not S._missing(d)]
        domain = str(dom[0]).replace("_", " ") if dom and str(dom[0]) != "imd" else "IMD"
    keys = list(S.BIVARIATE_COLOURS)
    palette = [*S.BIVARIATE_COLOURS.values(), S.MISSING_COLOUR]
    share = _col(lsoas, share_col)
    idx: list[int] = []
    rows: list[list[str | None]] = []
    for w, d, s in zip(_col(lsoas, WARD_NAME), deciles, share, strict=True):
        db, pb = S.deprivation_band(d), S.provision_band(s)
        idx.append(keys.index(f"{db}-{pb}") if db and pb else len(keys))
        rows.append(
            [S.esc(w), S.esc(S.deprivation_words(db, d)), S.esc(S.provision_words(pb, s, t))]
        )
    return AreaPayload(
        key="bivariate",
        name=name,
        styles=_choropleth_styles(palette, 0.85),
        style_index=idx,
        labels=["Ward", "Deprivation", "Walking provision"],
        rows=rows,
        highlight=_HOVER,
        legend=S.bivariate_legend_html(t, domain),
    )


def _areas(n: int) -> str:
    return f"{n:,} area{'' if n == 1 else 's'}"


def _need_legend(layer: MapLayer, idx: Sequence[int], edges: Sequence[float]) -> str:
    """Legend of a need layer: each class's range of values and number of areas, then the
    areas without a value."""
    n_classes = max(len(edges) - 1, 1) if edges else 0
    colours = S.need_colours(n_classes, reverse=not layer.higher_is_need)
    counts = [sum(1 for i in idx if i == k) for k in range(n_classes)]
    items: list[tuple[str, str]] = []
    for k, colour in enumerate(colours):
        lo, hi = edges[k], edges[min(k + 1, len(edges) - 1)]
        span = layer.format(lo) if lo == hi else f"{layer.format(lo)} to {layer.format(hi)}"
        items.append((colour, f"{span}: {_areas(counts[k])}"))
    n_missing = sum(1 for i in idx if i < 0)
    if n_missing:
        items.append((S.MISSING_COLOUR, f"no data: {_areas(n_missing)}"))
    dark = "highest" if layer.higher_is_need else "lowest"
    note = (
        f"{n_classes} classes with equal numbers of the {_areas(len(idx) - n_missing)} with "
        f"data (quantiles); darkest = {dark} value; grey = no data"
    )
    return S.legend_html(layer.title, items, note=note)


def _need_payload(
    lsoas: pd.DataFrame, layer: MapLayer, share_col: str, minutes: float, key: str
) -> AreaPayload:
    """A need layer: LSOAs in quantile classes of the layer's values (on the map's LSOAs),
    "no data" grey; tooltip: its value and the share of residents within the walk."""
    values = layer.aligned(_col(lsoas, LSOA_CODE))
    edges = S.quantile_edges(values)
    idx = [S.quantile_class(v, edges) for v in values]
    n_missing = sum(1 for i in idx if i < 0)
    if n_missing == len(idx) and len(idx):
        logger.warning(
            "coverage_map: need layer %r has no value for any of the %d LSOAs of the map "
            "(LSOA codes of another vintage? see cnmap.layers.convert_layer)",
            layer.title,
            len(idx),
        )
    elif n_missing:
        logger.info("coverage_map: need layer %r: no data for %d LSOAs", layer.title, n_missing)
    n_classes = max(len(edges) - 1, 1) if edges else 0
    palette = [*S.need_colours(n_classes, reverse=not layer.higher_is_need), S.MISSING_COLOUR]
    t = _fmt_min(minutes)
    covered = zip(
        _col(lsoas, share_col),
        _col(lsoas, POPULATION),
        _col(lsoas, f"pop_covered_{t}min"),
        strict=True,
    )
    return AreaPayload(
        key=key,
        name=layer.title,
        styles=_choropleth_styles(palette, 0.75),
        style_index=[i % len(palette) for i in idx],
        labels=[S.esc(layer.label), f"Within a {t}-minute walk"],
        rows=[
            [S.esc(layer.format(v)), S.esc(_covered_text(s, p, c))]
            for v, (s, p, c) in zip(values, covered, strict=True)
        ],
        highlight=_HOVER,
        legend=_need_legend(layer, idx, edges),
        options={
            "interactive": True,
            "group": "lsoa",
            "className": "cnmap-area cnmap-need",
            "breaks": list(edges),
        },
    )


def _thin_badges(lsoas: gpd.GeoDataFrame, items: Sequence[ThinItem]) -> list[list[Any]]:
    """``[lat, lon, number in the list, feature index]`` of each listed thin area."""
    geoms = np.asarray(lsoas.geometry.values, dtype=object)
    out = []
    for k, it in enumerate(items[:_MAX_LISTED], start=1):
        g = geoms[it.i]
        if g is None or shapely.is_empty(g):
            continue
        pt = shapely.point_on_surface(g)
        out.append([round(pt.y, 5), round(pt.x, 5), str(k), it.i])
    return out


def _thin_payload(lsoas: pd.DataFrame, joined: pd.DataFrame, name: str) -> AreaPayload:
    flag = [False if S._missing(v) else bool(v) for v in _col(joined, "thin")]
    n = sum(flag)
    items = _thin_items(lsoas, joined)
    badges = _thin_badges(lsoas, items) if isinstance(lsoas, gpd.GeoDataFrame) else []
    return AreaPayload(
        key="thin",
        name=name,
        styles=[
            {
                "color": S.THIN_LINE_COLOUR,
                "weight": 3.5,
                "opacity": 1.0,
                "fillColor": S.THIN_LINE_COLOUR,
                "fillOpacity": 0.12,
            }
        ],
        style_index=[0 if f else -1 for f in flag],
        labels=["Ward", "Thin area", "Why it is thin"],
        rows=[
            [S.esc(w), S.esc(f"yes: {S.fmt_int(k)} of {n} (1 = thinnest)"), S.esc(r)] if f else []
            for f, w, r, k in zip(
                flag,
                _col(lsoas, WARD_NAME),
                _col(joined, "reason"),
                _col(joined, "rank"),
                strict=True,
            )
        ],
        highlight={"weight": 5.5},
        legend=S.legend_html(
            "Thin areas",
            [(S.THIN_LINE_COLOUR, f"thin area ({n}), numbered as in the list")],
            note="deprived and poorly reached; the panel (top left) gives each reason",
            shape="outline",
        ),
        options={
            "interactive": True,
            "group": "lsoa",
            "className": "cnmap-thin-area",
            "badges": badges,
        },
    )


def _ward_thin_columns(
    thin_wards: pd.DataFrame, codes: list[str], left_pct: Any
) -> list[tuple[str, list[str | None]]]:
    tw = _by_code(_attributes(thin_wards), WARD_CODE).reindex(codes)
    out: list[tuple[str, list[str | None]]] = []
    if "thin" in tw.columns:
        out.append(("Holds a thin area", [_yes_no(v) for v in tw["thin"].tolist()]))
    if "left_behind" in tw.columns:
        pct = f"{float(left_pct):g}%" if isinstance(left_pct, int | float) else "10%"
        out.append(
            (
                f"Left behind (in the worst {pct} of wards on both deprivation and access)",
                [_yes_no(v) for v in tw["left_behind"].tolist()],
            )
        )
    if "reason" in tw.columns:
        out.append(
            ("Why", [None if S._missing(v) or not str(v) else S.esc(v) for v in tw["reason"]])
        )
    return out


def _ward_payload(
    wards: pd.DataFrame,
    share_col: str,
    minutes: float,
    name: str,
    rank: tuple[str, list[str | None]] | None,
    thin_wards: pd.DataFrame | None,
    thin_params: dict[str, Any] | None = None,
) -> AreaPayload:
    t = _fmt_min(minutes)
    labels = ["Ward code"]
    cols: list[list[str | None]] = [[S.esc(c) for c in _col(wards, WARD_CODE)]]
    for col, label, fmt in (
        (POPULATION, "Residents", S.fmt_int),
        (share_col, f"Within a {t}-minute walk", S.fmt_pct),
        ("mean_walk_min", "Average walk to the nearest", S.fmt_walk),
    ):
        if col in wards.columns:
            labels.append(label)
            cols.append([S.esc(fmt(v)) for v in _col(wards, col)])
    if rank is not None:
        labels.append(rank[0])
        cols.append([None if v is None else S.esc(v) for v in rank[1]])
    if thin_wards is not None:
        codes = [str(c) for c in _col(wards, WARD_CODE)]
        left = (thin_params or {}).get("left_behind_pct")
        for label, values in _ward_thin_columns(thin_wards, codes, left):
            labels.append(S.esc(label))
            cols.append(values)
    rows = [list(r) for r in zip(*cols, strict=True)] if cols else []
    return AreaPayload(
        key="wards",
        name=name,
        styles=[
            {
                "color": S.WARD_LINE_COLOUR,
                "weight": 1.3,
                "fillColor": "#000000",
                "fillOpacity": 0.0,
                "opacity": 0.85,
            }
        ],
        style_index=[0] * len(wards),
        labels=labels,
        rows=rows,
        highlight={"weight": 3.5, "color": "#000000", "fillOpacity": 0.06},
        options={"interactive": True, "group": "wards", "className": "cnmap-ward"},
    )


_HOURS_COLUMNS = (OPENING_HOURS, "hours_osm")


def _org_value(col: str, value: object, labels: Mapping[str, str] | None) -> str | None:
    """One popup value as plain text (None: row left out): type names, hours in words."""
    if S._missing(value) or str(value) == "":
        return None
    if col == ORG_TYPE:
        return S.type_label(value, labels)
    if col in _HOURS_COLUMNS:
        return S.hours_in_words(value) or str(value)
    return str(value)


def _org_rows(
    pts: pd.DataFrame, fields: Mapping[str, str], type_labels: Mapping[str, str] | None
) -> tuple[list[str], list[list[str | None]]]:
    """Escaped popup labels and rows; the postcode is written once (not repeated after an
    address that holds it)."""
    present = [c for c in fields if c in pts.columns]
    values = {c: _col(pts, c) for c in present}
    rows = []
    for i in range(len(pts)):
        row = {c: _org_value(c, values[c][i], type_labels) for c in present}
        if ADDRESS in row or POSTCODE in row:
            addr, pc = S.address_and_postcode(row.get(ADDRESS), row.get(POSTCODE))
            if ADDRESS in row:
                row[ADDRESS] = addr
            if POSTCODE in row:
                row[POSTCODE] = pc
        rows.append([None if row[c] is None else S.esc(row[c]) for c in present])
    return [S.esc(fields[c]) for c in present], rows


def _org_legend(
    keys: Sequence[str],
    symbols: Mapping[str, tuple[str, str]],
    type_labels: Mapping[str, str] | None,
    flags: Sequence[int],
    cluster: bool,
) -> str:
    counts = pd.Series(list(keys), dtype=object).value_counts()
    items = [
        (c, f"{S.type_label(k, type_labels)} ({int(counts.get(k, 0))})", shape)
        for k, (c, shape) in symbols.items()
    ]
    notes = []
    if any(f & 1 for f in flags):
        notes.append("hollow, dashed: placed approximately (centre of its ward)")
    n_far = sum(1 for f in flags if f & 2)
    if n_far:
        notes.append(
            f"red ring ({n_far}): placed more than 1 km from its address postcode, "
            "check its location"
        )
    if cluster:
        notes.append("grey circles: groups of nearby organisations, click to zoom in")
    return S.legend_html(f"Organisations ({len(keys):,})", items, note="; ".join(notes) or None)


def _far_from_postcode(pts: pd.DataFrame) -> list[str | None]:
    """Per organisation: None, or a plain note when it is placed far from its own address
    postcode (``far_from_postcode`` with ``postcode_distance_m`` and ``postcode_checked``, as
    :func:`cnmap.export.postcode_distances` gives them)."""
    if "far_from_postcode" not in pts.columns:
        return [None] * len(pts)
    dist, code = _col(pts, "postcode_distance_m"), _col(pts, "postcode_checked")
    out: list[str | None] = []
    for i, flag in enumerate(pts["far_from_postcode"].tolist()):
        if S._missing(flag) or not bool(flag):
            out.append(None)
            continue
        d = _number(dist[i], math.nan)
        how_far = "far" if math.isnan(d) else f"{d / 1000:.1f} km"
        pc = "" if S._missing(code[i]) else f" {code[i]}"
        out.append(f"placed {how_far} from the centre of its address postcode{pc}: check it")
    return out


def _with_location_rows(
    labels: list[str],
    rows: list[list[str | None]],
    notes: Sequence[tuple[str, Sequence[str | None]]],
) -> tuple[list[str], list[list[str | None]]]:
    """Add a popup row per kind of location note that some organisation has."""
    for label, values in notes:
        if any(v is not None for v in values):
            labels = [*labels, label]
            rows = [
                [*r, None if v is None else S.esc(v)] for r, v in zip(rows, values, strict=True)
            ]
    return labels, rows


def _org_payload(
    pts: gpd.GeoDataFrame,
    name: str,
    popup_fields: Mapping[str, str] | None = None,
    type_labels: Mapping[str, str] | None = None,
    cluster: bool = True,
) -> OrgPayload:
    types = _col(pts, ORG_TYPE)
    symbols = S.type_symbols(types)
    keys = ["unknown" if S._missing(x) or str(x) == "" else str(x) for x in types]
    order = list(symbols)
    labels, rows = _org_rows(
        pts, POPUP_FIELDS if popup_fields is None else popup_fields, type_labels
    )
    approx, far = _approximate(pts), _far_from_postcode(pts)
    labels, rows = _with_location_rows(
        labels, rows, [("Location", approx), ("Location check", far)]
    )
    flags = [(1 if a else 0) | (2 if f else 0) for a, f in zip(approx, far, strict=True)]
    geoms = np.asarray(pts.geometry.values, dtype=object)
    xs, ys = shapely.get_x(geoms), shapely.get_y(geoms)
    offsets = _overlap_offsets(ys, xs)
    names = _col(pts, NAME)
    points = [
        [
            float(ys[i]),
            float(xs[i]),
            order.index(keys[i]),
            S.esc(names[i], missing="(no name)"),
            rows[i],
            flags[i],
            offsets[i][0],
            offsets[i][1],
        ]
        for i in range(len(pts))
    ]
    return OrgPayload(
        name=name,
        colours=[symbols[k][0] for k in order],
        shapes=[symbols[k][1] for k in order],
        labels=labels,
        points=points,
        legend=_org_legend(keys, symbols, type_labels, flags, cluster),
    )


# --------------------------------------------------------------------------------------
# folium elements (cnmap.maps._elements, imported on first use: folium is imported lazily)
# --------------------------------------------------------------------------------------

_ELEMENTS: dict[str, Any] = {}


def _elements() -> dict[str, Any]:
    """folium and cnmap's map element classes (:mod:`cnmap.maps._elements`), imported on first
    use (folium is imported lazily)."""
    if _ELEMENTS:
        return _ELEMENTS
    try:
        import folium
        import folium.plugins
    except ImportError as exc:  # pragma: no cover - folium is a core dependency
        raise OptionalDependencyError("cnmap.maps needs folium: pip install folium") from exc
    from . import _elements as E

    _ELEMENTS.update(
        folium=folium,
        Runtime=E.Runtime,
        SharedData=E.SharedData,
        AreaLayer=E.AreaLayer,
        OrgMarkers=E.OrgMarkers,
        Panel=E.Panel,
        Attribution=E.Attribution,
        WardSearch=E.WardSearch,
    )
    return _ELEMENTS


# --------------------------------------------------------------------------------------
# drawing on the map
# --------------------------------------------------------------------------------------


@dataclass
class _Canvas:
    """The map being drawn on: adds layers under distinct names and remembers them."""

    m: Any
    el: dict[str, Any]
    show: set[str]
    drawn: dict[str, Any] = field(default_factory=dict)
    taken: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.taken = {c.layer_name for c in self.m._children.values() if hasattr(c, "layer_name")}

    def unique(self, name: str) -> str:
        """``name`` as HTML (Leaflet's layer control writes names as HTML), made distinct
        from the layers already on the map ("Wards (2)")."""
        name = S.esc(name)
        out, k = name, 2
        while out in self.taken:
            out, k = f"{name} ({k})", k + 1
        self.taken.add(out)
        return out

    def add_data(self, shared: SharedGeometry) -> Any:
        data = self.el["SharedData"](shared)
        data.add_to(self.m)
        return data

    def add_area(self, payload: AreaPayload, data: Any) -> None:
        payload.name = self.unique(payload.name)
        layer = self.el["AreaLayer"](payload, data, show=payload.key in self.show)
        layer.add_to(self.m)
        self.drawn[payload.key] = layer
        if payload.legend:
            self.el["Panel"](layer, payload.legend, position=payload.legend_position).add_to(self.m)


def _show_set(show: Sequence[str] | None) -> set[str]:
    show_set = set(DEFAULT_SHOW if show is None else show)
    unknown = show_set - set(LAYER_KEYS)
    if unknown:
        raise ValidationError(
            f"coverage_map: show={sorted(unknown)} names unknown layers; use some of {LAYER_KEYS}"
        )
    return show_set


def _thin_frames(thin: Any) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """``thin.lsoas`` and ``thin.wards`` (None if absent), checked."""
    thin_lsoas = getattr(thin, "lsoas", None) if thin is not None else None
    thin_wards = getattr(thin, "wards", None) if thin is not None else None
    if thin_lsoas is not None:
        _require(thin_lsoas, [LSOA_CODE], "thin.lsoas")
    if thin_wards is not None:
        _require(thin_wards, [WARD_CODE], "thin.wards")
    return thin_lsoas, thin_wards


def _tile_specs(tiles: Any) -> list[Any]:
    if tiles is None:
        return []
    if isinstance(tiles, str) or not isinstance(tiles, Sequence):
        return [tiles]
    return list(tiles)


def _add_tiles(folium: Any, m: Any, tiles: Any, opacity: float) -> None:
    """Base maps: one (no control entry) or several (radio buttons, the first one shown),
    each with the referrer policy set on its tile requests."""
    specs = _tile_specs(tiles)
    several = len(specs) > 1
    for k, spec in enumerate(specs):
        kw: dict[str, Any] = {
            "opacity": opacity,
            "overlay": False,
            "control": several,
            "show": k == 0,
            "referrer_policy": REFERRER_POLICY,
        }
        tile_layer(folium, spec, **kw).add_to(m)


def tile_layer(folium: Any, spec: Any, **options: Any) -> Any:
    """A folium ``TileLayer`` for a base map: a name of :data:`BASEMAPS` (its URL,
    attribution and zoom limits) or anything ``folium.TileLayer`` takes; ``options`` are
    passed on (``control``, ``show``, ``referrer_policy``...)."""
    base = BASEMAPS.get(spec) if isinstance(spec, str) else None
    if base is None:
        return folium.TileLayer(spec, **options)
    return folium.TileLayer(
        base.url,
        attr=base.attribution,
        name=base.name,
        max_zoom=19,
        max_native_zoom=base.max_native_zoom,
        subdomains=base.subdomains,
        **options,
    )


def _new_map(
    folium: Any,
    wards: gpd.GeoDataFrame,
    tiles: Any,
    tile_opacity: float,
    width: str | int,
    height: str | int,
) -> Any:
    minx, miny, maxx, maxy = wards.total_bounds
    m = folium.Map(
        location=[(miny + maxy) / 2, (minx + maxx) / 2],
        zoom_start=11,
        tiles=None,
        control_scale=True,
        zoom_control="topright",
        zoomSnap=0.25,
        cnmapBounds=[[miny, minx], [maxy, maxx]],  # first view: fitted beside the panels
        maxZoom=19,  # Leaflet option: markercluster needs it when there are no tiles
        width=width,
        height=height,
    )
    _add_tiles(folium, m, tiles, tile_opacity)
    # no fit_bounds here: the title panel fits the areas beside itself (cnmapFit), and an
    # animated first fit would end after it and undo it
    return m


def _thin_joined(lsoas: pd.DataFrame, thin_lsoas: pd.DataFrame | None) -> pd.DataFrame | None:
    """``thin_lsoas`` rows in the order of ``lsoas`` (None without a thin result)."""
    if thin_lsoas is None:
        return None
    ids = [str(c) for c in _col(lsoas, LSOA_CODE)]
    tl = _by_code(_attributes(thin_lsoas), LSOA_CODE)
    missing = sorted(set(tl.index) - set(ids))
    if missing:
        logger.warning(
            "coverage_map: %d LSOA(s) of thin.lsoas are not in result.lsoas and are not "
            "drawn (e.g. %s)",
            len(missing),
            missing[:3],
        )
    return tl.reindex(ids)


@dataclass
class _LsoaInputs:
    """What the LSOA layers are drawn from."""

    lsoas: pd.DataFrame
    joined: pd.DataFrame | None
    share_col: str
    minutes: float
    classes: str | Sequence[float]
    iod: Any
    need: tuple[MapLayer, ...] = ()


def _lsoa_payloads(inp: _LsoaInputs, names: Mapping[str, str]) -> list[AreaPayload]:
    """The LSOA layers whose inputs are present (imd, share, bivariate, need, thin)."""
    lsoas, joined = inp.lsoas, inp.joined
    out: list[AreaPayload] = []
    if "imd_decile" in lsoas.columns:
        out.append(_imd_payload(lsoas, names["imd"], inp.iod))
    else:
        logger.info("coverage_map: result.lsoas has no imd_decile; IMD layer left out")
    has_share = inp.share_col in lsoas.columns
    if has_share:
        out.append(_share_payload(lsoas, inp.share_col, inp.minutes, names["share"], inp.classes))
    else:
        logger.info("coverage_map: result.lsoas has no %s; share layer left out", inp.share_col)
    has_decile = "imd_decile" in lsoas.columns or (
        joined is not None and "deprivation_decile" in joined.columns
    )
    if has_share and has_decile:
        out.append(
            _bivariate_payload(lsoas, joined, inp.share_col, inp.minutes, names["bivariate"])
        )
    for k, layer in enumerate(inp.need):
        out.append(_need_payload(lsoas, layer, inp.share_col, inp.minutes, f"need{k}"))
    if joined is not None and "thin" in joined.columns:
        out.append(_thin_payload(lsoas, joined, names["thin"]))
    return out


def _draw_lsoas(canvas: _Canvas, inp: _LsoaInputs, names: Mapping[str, str]) -> None:
    """Every LSOA layer, drawn from one shared copy of the LSOA geometry."""
    payloads = _lsoa_payloads(inp, names)
    if payloads:
        data = canvas.add_data(_shared(inp.lsoas, _lsoa_titles(inp.lsoas)))
        for payload in payloads:
            canvas.add_area(payload, data)


def _catchment_title(minutes: float) -> str:
    return S.esc(f"Within {_fmt_min(minutes)} minutes' walk of an organisation")


def _catchment_payload(n: int, minutes: float, name: str) -> AreaPayload:
    return AreaPayload(
        key="catchments",
        name=name,
        styles=[
            {
                "color": S.CATCHMENT_COLOUR,
                "weight": 0.8,
                "fillColor": S.CATCHMENT_COLOUR,
                "fillOpacity": 0.25,
            }
        ],
        style_index=[0] * n,
        labels=[],
        rows=[[] for _ in range(n)],
        legend=S.legend_html(
            "Walking catchments",
            [
                (
                    S.CATCHMENT_COLOUR,
                    f"streets within a {_fmt_min(minutes)}-minute walk of an organisation",
                )
            ],
        ),
        options={"interactive": False, "group": "catchments", "className": "cnmap-catchment"},
    )


def _draw_wards(canvas: _Canvas, wards: pd.DataFrame, payload: AreaPayload) -> None:
    """Wards above the areas; their raw names are written for the search only."""
    wnames = _col(wards, WARD_NAME)
    data = canvas.add_data(
        _shared(
            wards,
            [S.esc(n) for n in wnames],
            {"name": ["" if S._missing(n) else str(n) for n in wnames]},  # raw: search only
        )
    )
    canvas.add_area(payload, data)


def _draw_organisations(canvas: _Canvas, payload: OrgPayload, cluster: bool) -> None:
    from folium.plugins import MarkerCluster

    show = "organisations" in canvas.show
    group = (
        MarkerCluster(
            name=payload.name,
            show=show,
            options={
                "showCoverageOnHover": False,
                "disableClusteringAtZoom": 16,
                "maxClusterRadius": 45,
                "chunkedLoading": True,
            },
        )
        if cluster
        else canvas.el["folium"].FeatureGroup(name=payload.name, show=show)
    )
    group.add_to(canvas.m)
    canvas.el["OrgMarkers"](payload).add_to(group)
    canvas.drawn["organisations"] = group
    canvas.el["Panel"](group, payload.legend, position="bottomright").add_to(canvas.m)


def _has(m: Any, cls: Any, **attrs: Any) -> bool:
    return any(
        isinstance(c, cls) and all(getattr(c, k, None) == v for k, v in attrs.items())
        for c in m._children.values()
    )


def _add_controls(canvas: _Canvas, story: str | None, attributions: Sequence[str] = ()) -> None:
    """Title panel, fullscreen, ward search and attribution (once each; ``attributions``:
    more attribution HTML, of the need layers), then the layer control, last."""
    from folium.plugins import Fullscreen

    m, el = canvas.m, canvas.el
    if story is not None and not _has(m, el["Panel"], css_class="cnmap-story"):
        el["Panel"](
            canvas.drawn.get("thin"), story, "topleft", follow=False, css_class="cnmap-story"
        ).add_to(m)
    if not _has(m, Fullscreen):
        Fullscreen(position="topleft").add_to(m)
    if not _has(m, el["WardSearch"]):
        el["WardSearch"](canvas.drawn["wards"], "name", "Search ward").add_to(m)
    for text in (S.ATTRIBUTION_HTML, *attributions):
        if not _has(m, el["Attribution"], text=text):
            el["Attribution"](text).add_to(m)
    for key, child in list(m._children.items()):  # the LayerControl must follow the layers
        if isinstance(child, el["folium"].LayerControl):
            del m._children[key]
    el["folium"].LayerControl(collapsed=False, position="topright").add_to(m)


# --------------------------------------------------------------------------------------
# the map
# --------------------------------------------------------------------------------------


def _draw_catchments(
    canvas: _Canvas,
    result: Any,
    catchments: Any,
    t: float,
    names: Mapping[str, str],
    tolerance_m: float,
    precision: int,
    min_hole_m2: float,
) -> None:
    cat = _catchments(result, catchments, t)
    if cat is None or not len(cat):
        return
    cat = simplify_for_web(
        cat, tolerance_m=tolerance_m, precision=precision, coverage=False, min_hole_m2=min_hole_m2
    )
    canvas.add_area(
        _catchment_payload(len(cat), t, names["catchments"]),
        canvas.add_data(_shared(cat, [_catchment_title(t)] * len(cat))),
    )


@dataclass
class _Story:
    """What the title panel says."""

    facts: MapFacts
    title: str
    what: str
    thin_part: str | None
    rule: tuple[int, float, str, float | None] | None
    approximate: bool = False

    def html(self) -> str:
        return _story_html(
            self.facts, self.title, self.what, self.thin_part, self.rule, self.approximate
        )


def _story(result: Any, thin: Any, inp: _LsoaInputs, opts: Mapping[str, Any]) -> _Story:
    facts = map_facts(
        result,
        inp.minutes,
        place=opts.get("place"),
        n_organisations=opts.get("n_organisations"),
        dates=opts.get("dates"),
    )
    what = opts.get("what") or "organisations"
    rule = _thin_rule(thin) if thin is not None else None
    thin_part = None
    if rule is not None and inp.joined is not None and "thin" in inp.joined.columns:
        thin_part = _thin_list_html(_thin_items(inp.lsoas, inp.joined), rule, inp.minutes)
    title = opts.get("title") or _default_title(facts, what)
    return _Story(facts, title, what, thin_part, rule)


def _set_title(m: Any, title: str) -> None:
    """The browser tab's title (``<title>``), HTML-escaped (braces as character references)."""
    root = m.get_root()
    if not getattr(root, "title", None):
        root.title = inert_html(title)


def _draw_org_layer(
    canvas: _Canvas,
    result: Any,
    organisations: Any,
    names: Mapping[str, str],
    opts: Mapping[str, Any],
) -> tuple[int | None, bool]:
    """The organisation layer; returns (organisations drawn, any placed approximately)."""
    orgs = _org_frame(result, organisations)
    if orgs is None or not len(orgs):
        return (None if orgs is None else 0), False
    pts = _points_wgs84(orgs, opts["precision"], "organisations")
    payload = _org_payload(
        pts,
        canvas.unique(names["organisations"]),
        opts.get("popup_fields"),
        opts.get("type_labels"),
        opts["cluster"],
    )
    _draw_organisations(canvas, payload, opts["cluster"])
    return len(pts), any(p[5] & 1 for p in payload.points)


@dataclass
class _Frames:
    """The result's (and thin result's) frames, checked, and the map's simplified copies."""

    wards_in: pd.DataFrame
    thin_lsoas: pd.DataFrame | None
    thin_wards: pd.DataFrame | None
    wards: gpd.GeoDataFrame
    lsoas: gpd.GeoDataFrame


def _map_frames(result: Any, thin: Any, tolerance_m: float, precision: int) -> _Frames:
    """Check the frames the map needs, then simplify the wards and LSOAs for the web."""
    wards_in = getattr(result, "wards", None)
    lsoas_in = getattr(result, "lsoas", None)
    _require(wards_in, [WARD_CODE, WARD_NAME], "result.wards")
    _require(lsoas_in, [LSOA_CODE], "result.lsoas")
    thin_lsoas, thin_wards = _thin_frames(thin)
    return _Frames(
        wards_in=cast(pd.DataFrame, wards_in),
        thin_lsoas=thin_lsoas,
        thin_wards=thin_wards,
        wards=simplify_for_web(wards_in, tolerance_m=tolerance_m, precision=precision),
        lsoas=simplify_for_web(lsoas_in, tolerance_m=tolerance_m, precision=precision),
    )


def _prepare_map(
    el: Mapping[str, Any],
    m: Any,
    wards: gpd.GeoDataFrame,
    tiles: Any,
    tile_opacity: float,
    width: str | int,
    height: str | int,
) -> Any:
    """``m``, or a new map around the wards; with cnmap's runtime (once)."""
    if m is None:
        m = _new_map(el["folium"], wards, tiles, tile_opacity, width, height)
    if not _has(m, el["Runtime"]):
        el["Runtime"]().add_to(m)
    return m


def _need_layers(layers: Sequence[MapLayer] | MapLayer) -> tuple[MapLayer, ...]:
    """``need_layers`` as a tuple of map layers, checked."""
    out = (layers,) if isinstance(layers, MapLayer) else tuple(layers)
    for k, layer in enumerate(out):
        if not isinstance(layer, MapLayer):
            raise ValidationError(
                f"coverage_map: need_layers[{k}] is a {type(layer).__name__}, not a MapLayer; "
                "make one from a need layer's column with cnmap.maps.map_layer(layer, column)"
            )
    return out


def _lsoa_inputs(
    result: Any,
    fr: _Frames,
    minutes: float,
    classes: str | Sequence[float],
    need: tuple[MapLayer, ...],
) -> _LsoaInputs:
    iod = getattr(getattr(result, "area", None), "iod", None) or _params(result).get("iod")
    return _LsoaInputs(
        fr.lsoas,
        _thin_joined(fr.lsoas, fr.thin_lsoas),
        f"share_covered_{_fmt_min(minutes)}min",
        minutes,
        classes,
        iod,
        need,
    )


def _draw_ward_layer(
    canvas: _Canvas,
    fr: _Frames,
    ward_profiles: pd.DataFrame | None,
    minutes: float,
    name: str,
    thin: Any,
) -> None:
    """The ward outlines, with their deprivation rank from the first source that has it."""
    wards = fr.wards
    rank = _ward_rank(
        [str(c) for c in _col(wards, WARD_CODE)],
        [
            ward_profiles,
            _attributes(fr.wards_in),
            None if fr.thin_wards is None else _attributes(fr.thin_wards),
        ],
    )
    share_col = f"share_covered_{_fmt_min(minutes)}min"
    payload = _ward_payload(wards, share_col, minutes, name, rank, fr.thin_wards, _params(thin))
    _draw_wards(canvas, wards, payload)


def _finish(
    canvas: _Canvas,
    result: Any,
    thin: Any,
    inp: _LsoaInputs,
    names: Mapping[str, str],
    opts: Mapping[str, Any],
    new: bool,
) -> None:
    """Organisations, then the title panel (new maps only), controls and the tab's title."""
    n_orgs, approx = _draw_org_layer(canvas, result, opts.get("organisations"), names, opts)
    story = _story(result, thin, inp, {**opts, "n_organisations": n_orgs})
    story.approximate = approx
    attributions = dict.fromkeys(S.esc(x.attribution) for x in inp.need if x.attribution.strip())
    _add_controls(canvas, story.html() if new else None, list(attributions))
    _set_title(canvas.m, story.title)


def _log_drawn(canvas: _Canvas, fr: _Frames, minutes: float) -> None:
    logger.info(
        "coverage_map: %d wards, %d LSOAs, layers %s at %s min",
        len(fr.wards),
        len(fr.lsoas),
        [k for k in LAYER_KEYS if k in canvas.drawn],
        _fmt_min(minutes),
    )


def coverage_map(  # noqa: PLR0913 (public API: keyword-only options, as osmnx)
    result: Any,
    *,
    thin: Any = None,
    organisations: Any = None,
    minutes: float | None = None,
    ward_profiles: pd.DataFrame | None = None,
    m: folium.Map | None = None,
    tiles: Any = DEFAULT_TILES,
    tile_opacity: float = 0.85,
    show: Sequence[str] | None = None,
    catchments: bool | gpd.GeoDataFrame = True,
    popup_fields: Mapping[str, str] | None = None,
    type_labels: Mapping[str, str] | None = None,
    classes: str | Sequence[float] = "steps",
    need_layers: Sequence[MapLayer] = (),
    title: str | None = None,
    place: str | None = None,
    what: str | None = None,
    dates: Mapping[str, str] | None = None,
    tolerance_m: float = 15.0,
    catchment_tolerance_m: float = 10.0,
    min_hole_m2: float = 5000.0,
    precision: int = 5,
    cluster: bool = True,
    width: str | int = "100%",
    height: str | int = "100%",
) -> folium.Map:
    """Interactive map of walking coverage, deprivation and thin infrastructure, for planners.

    A title panel tells its story; the layers (what each shows: module documentation and
    ``docs/maps.md``) are in the layer control, a layer whose input is absent left out.

    Parameters
    ----------
    result
        A :class:`~cnmap.coverage.CoverageResult`, or any object with its ``wards``, ``lsoas``,
        ``thresholds``, ``organisations`` and ``catchments(minutes)`` (``totals``,
        ``speed_kmh``, ``mode``, ``params`` and ``area`` give the headline and the dates).
    thin
        Optional :class:`~cnmap.thin.ThinResult` (``lsoas``/``wards`` with ``thin``, ``reason``).
    organisations
        Organisations drawn instead of ``result.organisations`` (GeoDataFrame, OrganisationTable).
    minutes
        The threshold shown (of ``result.thresholds``); default 15 if computed, else the largest.
    ward_profiles
        Ward deprivation profiles (:func:`cnmap.ward_profiles`) for the IMD average rank.
    m
        An existing folium map to add the layers to (its LayerControl moved after them).
    tiles, tile_opacity
        Base maps: keys of :data:`BASEMAPS`, folium tiles names or xyzservices providers
        (several: radio buttons, the first shown; None: no base map), and their opacity.
    show
        Layer keys (:data:`LAYER_KEYS`) on when the map opens; default :data:`DEFAULT_SHOW`.
    catchments
        True: ``result.catchments(minutes)`` (left out if the result cannot make them); a
        GeoDataFrame: these polygons (rows whose ``minutes`` is ``minutes`` if that column
        exists); False: no catchment layer.
    popup_fields, type_labels
        Organisation columns in popups, column -> label (default :data:`POPUP_FIELDS`), and
        readable names of organisation types (e.g. ``{"warm_space": "Warm space"}``).
    classes
        Coverage classes of ``share``: ``"steps"`` (under 50%, 50-75%, 75-90%, 90-95%,
        95-100%), ``"natural"``, ``"quantiles"`` or inner edges, e.g. ``(0.6, 0.8, 0.9)``.
    need_layers
        :class:`~cnmap.maps.MapLayer` s (:func:`~cnmap.maps.map_layer`), each a layer of LSOAs
        in 5 quantile classes, off when the map opens (LSOAs without a value grey, "no data").
    title, place, what, dates
        The title (default "<place>: who can walk to <what> in <minutes> minutes"), the place
        (default ``result.area.lad_name``), what the organisations are, plural, and data dates
        to add or replace in the panel, label -> text.
    tolerance_m, catchment_tolerance_m, min_hole_m2, precision
        Simplification tolerances (m) of boundaries (simplified as coverages, see
        :func:`simplify_for_web`) and of catchments, the area (m²) below which catchment holes
        are filled, and decimal places of longitude/latitude (5 is about 1 m).
    cluster, width, height
        Cluster organisation markers (Leaflet.markercluster); size of a new map.

    Returns
    -------
    folium.Map
        The map (``m`` if given).

    Raises
    ------
    MissingColumnError, CRSError
        A frame of ``result`` or ``thin`` lacks a documented column, or has no CRS.
    ValidationError
        ``minutes`` is not a threshold of the result, ``show`` names an unknown layer, or a
        need layer is not a :class:`~cnmap.maps.MapLayer`.
    """
    el = _elements()
    show_set = _show_set(show)
    need = _need_layers(need_layers)
    t = _choose_minutes(result, minutes)
    names = layer_names(t)
    fr = _map_frames(result, thin, tolerance_m, precision)
    new = m is None
    m = _prepare_map(el, m, fr.wards, tiles, tile_opacity, width, height)
    canvas = _Canvas(m, el, show_set)
    inp = _lsoa_inputs(result, fr, t, classes, need)
    _draw_lsoas(canvas, inp, names)
    _draw_catchments(
        canvas, result, catchments, t, names, catchment_tolerance_m, precision, min_hole_m2
    )
    _draw_ward_layer(canvas, fr, ward_profiles, t, names["wards"], thin)
    opts = {
        "organisations": organisations,
        "precision": precision,
        "cluster": cluster,
        "popup_fields": popup_fields,
        "type_labels": type_labels,
        "title": title,
        "place": place,
        "what": what,
        "dates": dates,
    }
    _finish(canvas, result, thin, inp, names, opts, new)
    _log_drawn(canvas, fr, t)
    return cast("folium.Map", m)


def save_html(m: Any, path: str | Path, *, self_contained: bool = False) -> Path:
    """Write a folium map to an HTML file.

    Parameters
    ----------
    m
        A folium map (from :func:`coverage_map` or anything folium).
    path
        Output file; parent folders are created.
    self_contained
        Inline every script and stylesheet from files shipped with cnmap (no CDN), so the
        file opens with no network. Base-map tiles still need the network; without them the
        map shows its layers on a blank background.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    CnmapError
        ``self_contained=True`` and the map uses a script or stylesheet that cnmap does not
        ship (see :func:`cnmap.maps._assets.inline_assets`).
    """
    from ._assets import inline_assets

    path = Path(path)
    text = m.get_root().render()
    if self_contained:
        text = inline_assets(text)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    logger.info(
        "save_html: wrote %s (%.2f MB%s)",
        path,
        path.stat().st_size / 1e6,
        ", self-contained" if self_contained else "",
    )
    return path
