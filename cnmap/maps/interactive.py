"""Interactive coverage maps (folium / Leaflet) with light, safe data.

:func:`coverage_map` draws a :class:`~cnmap.coverage.CoverageResult` (and optionally a
:class:`~cnmap.thin.ThinResult`) as a folium map whose layers are switched in a
LayerControl; :func:`save_html` writes it, optionally self-contained (no CDN).

How the page stays light and safe:

- boundaries are simplified as a *coverage* (every shared border simplified once with
  :func:`shapely.coverage_simplify`, so neighbours never gap or overlap), reprojected to
  EPSG:4326 only here, and their coordinates rounded (:func:`simplify_for_web`);
- the LSOA geometry is written to the page once and shared by every LSOA layer (IMD
  deciles, share covered, bivariate, thin): each layer adds only a style index and its
  tooltip values per LSOA;
- every text that comes from data (names, addresses, opening hours, reasons, layer
  names...) is HTML-escaped in Python before it is written (:func:`._style.esc`, braces as
  ``&#123;`` / ``&#125;``); the page's small tooltip builder only concatenates escaped
  strings. Data are embedded with :func:`._safe.inert_json`, the ``tojson`` filter of every
  cnmap element template (``{ } # % < > & '`` inside strings written as ``\\u00XX``), so
  nothing can close the ``<script>`` element and no text is evaluated as a Jinja2 template
  when branca renders the page (see ``docs/security.md``).

folium is imported lazily (first call).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..columns import (
    ADDRESS,
    BNG,
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
from . import _style as S
from ._safe import inert_template

if TYPE_CHECKING:
    import folium

__all__ = [
    "LAYER_KEYS",
    "DEFAULT_SHOW",
    "POPUP_FIELDS",
    "coverage_map",
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

#: Layers switched on when the map opens.
DEFAULT_SHOW: tuple[str, ...] = ("share", "wards", "organisations")

_AVG_RANK_RANKED = ("rank_of_imd_average_rank",)
_AVG_RANK_VALUE = ("imd_average_rank", "imd_avg_rank", "average_rank", "avg_rank")


def _fmt_min(minutes: float) -> str:
    return f"{minutes:g}"


def layer_names(minutes: float) -> dict[str, str]:
    """Names shown in the LayerControl, by layer key, for a threshold of ``minutes``."""
    t = _fmt_min(minutes)
    return {
        "imd": "IMD decile (LSOAs)",
        "share": f"Residents within {t} min walk (LSOAs)",
        "bivariate": "Deprivation × provision (LSOAs)",
        "thin": "Thin infrastructure (LSOAs)",
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
    return gdf if gdf.crs.to_epsg() == 27700 else gdf.to_crs(BNG)


def _round(geoms: np.ndarray, precision: int) -> np.ndarray:
    return shapely.transform(geoms, lambda xy: np.round(xy, precision))


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
    out = gpd.GeoDataFrame(
        bng.drop(columns=bng.geometry.name), geometry=list(geoms), crs=BNG
    ).to_crs(WGS84)
    rounded = np.asarray(out.geometry.values, dtype=object).copy()
    rounded[present] = _round(rounded[present], precision)
    # rounding can make a ring touch itself at a vertex: repair those few (vertices kept)
    bad = present & ~shapely.is_valid(rounded)
    if bad.any():
        rounded[bad] = shapely.make_valid(rounded[bad], method="linework")
        logger.debug("simplify_for_web: repaired %d geometries after rounding", int(bad.sum()))
    return out.set_geometry(list(rounded), crs=WGS84)


def _points_wgs84(gdf: gpd.GeoDataFrame, precision: int, label: str) -> gpd.GeoDataFrame:
    out = gdf.to_crs(WGS84) if gdf.crs.to_epsg() != 4326 else gdf.copy()
    geoms = np.asarray(out.geometry.values, dtype=object)
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
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
        return frame[name].tolist()
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
                return "IMD average rank", [
                    "n/a" if S._missing(v) else f"{int(v)} of {n} wards (1 = most deprived)"
                    for v in vals
                ]
        for col in _AVG_RANK_VALUE:
            if col in lookup.columns:
                vals = lookup[col].reindex(list(codes)).tolist()
                label = "IMD average rank"
                if col.startswith("imd_"):
                    label += " (reversed: higher = more deprived)"
                return label, [S.fmt_int(v) for v in vals]
    return None


# --------------------------------------------------------------------------------------
# layer payloads (pure: plain Python data, every text escaped)
# --------------------------------------------------------------------------------------


@dataclass
class AreaPayload:
    """What one polygon layer writes into the page.

    ``style_index[i]`` picks ``styles[k]`` for feature ``i`` (-1: not drawn); ``rows[i]``
    are the escaped tooltip values under ``labels`` (None: row left out).
    """

    key: str
    name: str
    styles: list[dict[str, Any]]
    style_index: list[int]
    labels: list[str]
    rows: list[list[str | None]]
    highlight: dict[str, Any] | None = None
    legend: str | None = None
    legend_position: str = "bottomleft"


@dataclass
class SharedGeometry:
    """Features written once and shared by several layers (properties: ``i``, ``t``...)."""

    fc: dict[str, Any]
    n: int


@dataclass
class OrgPayload:
    """Organisation markers: ``points[k] = [lat, lon, colour index, name, rows]``."""

    name: str
    colours: list[str]
    labels: list[str]
    points: list[list[Any]]
    legend: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


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


def _imd_payload(lsoas: pd.DataFrame, name: str) -> AreaPayload:
    palette = [*S.IMD_DECILE_COLOURS, S.MISSING_COLOUR]
    idx = []
    for d in _col(lsoas, "imd_decile"):
        c = S.decile_colour(d)
        idx.append(palette.index(c))
    items = [
        (
            c,
            f"{i + 1}"
            + (" most deprived 10%" if i == 0 else " least deprived 10%" if i == 9 else ""),
        )
        for i, c in enumerate(S.IMD_DECILE_COLOURS)
    ]
    return AreaPayload(
        key="imd",
        name=name,
        styles=_choropleth_styles(palette, 0.75),
        style_index=idx,
        labels=["Ward", "IMD decile", "IMD rank", "Population"],
        rows=[
            [S.esc(w), S.esc(d), S.fmt_int(r), S.fmt_int(p)]
            for w, d, r, p in zip(
                _col(lsoas, WARD_NAME),
                _col(lsoas, "imd_decile"),
                _col(lsoas, "imd_rank"),
                _col(lsoas, POPULATION),
                strict=True,
            )
        ],
        highlight=_HOVER,
        legend=S.legend_html("IMD decile (England)", items, note="1 = most deprived 10% of LSOAs"),
    )


def _share_payload(lsoas: pd.DataFrame, share_col: str, minutes: float, name: str) -> AreaPayload:
    palette = [*S.SHARE_COLOURS, S.MISSING_COLOUR]
    share = _col(lsoas, share_col)
    t = _fmt_min(minutes)
    return AreaPayload(
        key="share",
        name=name,
        styles=_choropleth_styles(palette, 0.7),
        style_index=[palette.index(S.share_colour(s)) for s in share],
        labels=["Ward", "Population", f"Within {t} min walk", "Mean walk to nearest"],
        rows=[
            [S.esc(w), S.fmt_int(p), S.fmt_share(s), S.fmt_minutes(mw)]
            for w, p, s, mw in zip(
                _col(lsoas, WARD_NAME),
                _col(lsoas, POPULATION),
                share,
                _col(lsoas, "mean_walk_min"),
                strict=True,
            )
        ],
        highlight=_HOVER,
        legend=S.legend_html(
            f"Residents within {t} min walk",
            list(zip(S.SHARE_COLOURS, S.share_labels(), strict=True)),
            note="share of each LSOA's population",
        ),
    )


def _bivariate_payload(lsoas: pd.DataFrame, joined: pd.DataFrame, name: str) -> AreaPayload:
    keys = list(S.BIVARIATE_COLOURS)
    palette = [*S.BIVARIATE_COLOURS.values(), S.MISSING_COLOUR]
    cls = _col(joined, "bivariate_class")
    idx = [keys.index(str(c)) if not S._missing(c) and str(c) in keys else len(keys) for c in cls]
    return AreaPayload(
        key="bivariate",
        name=name,
        styles=_choropleth_styles(palette, 0.85),
        style_index=idx,
        labels=["Ward", "Class", "Deprivation decile", "Share covered"],
        rows=[
            [S.esc(w), S.esc(S.bivariate_label(c)), S.esc(d), S.fmt_share(s)]
            for w, c, d, s in zip(
                _col(lsoas, WARD_NAME),
                cls,
                _col(joined, "deprivation_decile"),
                _col(joined, "share_covered"),
                strict=True,
            )
        ],
        highlight=_HOVER,
        legend=S.bivariate_legend_html(),
    )


def _thin_payload(lsoas: pd.DataFrame, joined: pd.DataFrame, name: str) -> AreaPayload:
    flag = [False if S._missing(v) else bool(v) for v in _col(joined, "thin")]
    n = sum(flag)
    return AreaPayload(
        key="thin",
        name=name,
        styles=[
            {
                "color": S.THIN_COLOUR,
                "weight": 2.5,
                "fillColor": S.THIN_COLOUR,
                "fillOpacity": 0.3,
                "dashArray": "4 3",
            }
        ],
        style_index=[0 if f else -1 for f in flag],
        labels=["Ward", "Why", "Rank (1 = thinnest)", "Deprived residents out of reach"],
        rows=[
            [S.esc(w), S.esc(r), S.esc(k), S.fmt_int(o)] if f else []
            for f, w, r, k, o in zip(
                flag,
                _col(lsoas, WARD_NAME),
                _col(joined, "reason"),
                _col(joined, "rank"),
                _col(joined, "deprived_pop_out_of_reach"),
                strict=True,
            )
        ],
        highlight={"weight": 4},
        legend=S.legend_html(
            "Thin infrastructure",
            [(S.THIN_COLOUR, f"thin LSOA ({n})")],
            note="deprived and poorly reached: see each area's reason",
        ),
    )


def _ward_payload(
    wards: pd.DataFrame,
    share_col: str,
    minutes: float,
    name: str,
    rank: tuple[str, list[str | None]] | None,
    thin_wards: pd.DataFrame | None,
) -> AreaPayload:
    t = _fmt_min(minutes)
    labels = ["Code"]
    cols: list[list[str | None]] = [[S.esc(c) for c in _col(wards, WARD_CODE)]]
    for col, label, fmt in (
        (POPULATION, "Population", S.fmt_int),
        (share_col, f"Within {t} min walk", S.fmt_share),
        ("mean_walk_min", "Mean walk to nearest", S.fmt_minutes),
    ):
        if col in wards.columns:
            labels.append(label)
            cols.append([fmt(v) for v in _col(wards, col)])
    if rank is not None:
        labels.append(rank[0])
        cols.append(list(rank[1]))
    if thin_wards is not None:
        tw = _by_code(_attributes(thin_wards), WARD_CODE).reindex(
            [str(c) for c in _col(wards, WARD_CODE)]
        )
        if "thin" in tw.columns:
            labels.append("Thin infrastructure")
            cols.append([_yes_no(v) for v in tw["thin"].tolist()])
        if "left_behind" in tw.columns:
            labels.append("Left behind (dual threshold)")
            cols.append([_yes_no(v) for v in tw["left_behind"].tolist()])
        if "reason" in tw.columns:
            labels.append("Why")
            cols.append([None if S._missing(v) or not str(v) else S.esc(v) for v in tw["reason"]])
    rows = [list(r) for r in zip(*cols, strict=True)] if cols else []
    return AreaPayload(
        key="wards",
        name=name,
        styles=[
            {
                "color": S.WARD_LINE_COLOUR,
                "weight": 1.4,
                "fillColor": "#000000",
                "fillOpacity": 0.0,
                "opacity": 0.9,
            }
        ],
        style_index=[0] * len(wards),
        labels=labels,
        rows=rows,
        highlight={"weight": 3.5, "color": "#000000", "fillOpacity": 0.06},
    )


def _org_payload(
    pts: gpd.GeoDataFrame, name: str, popup_fields: Mapping[str, str] | None = None
) -> OrgPayload:
    types = _col(pts, ORG_TYPE)
    colours = S.type_colours(types)
    keys = ["unknown" if S._missing(x) or str(x) == "" else str(x) for x in types]
    order = list(colours)
    fields = POPUP_FIELDS if popup_fields is None else popup_fields
    present = [(c, S.esc(lab)) for c, lab in fields.items() if c in pts.columns]
    values = [_col(pts, c) for c, _ in present]
    names = _col(pts, NAME)
    xs = shapely.get_x(np.asarray(pts.geometry.values, dtype=object))
    ys = shapely.get_y(np.asarray(pts.geometry.values, dtype=object))
    points = []
    for i in range(len(pts)):
        row = [None if S._missing(v[i]) or str(v[i]) == "" else S.esc(v[i]) for v in values]
        points.append(
            [
                float(ys[i]),
                float(xs[i]),
                order.index(keys[i]),
                S.esc(names[i], missing="(no name)"),
                row,
            ]
        )
    counts = pd.Series(keys).value_counts()
    items = [(c, f"{k} ({int(counts.get(k, 0))})") for k, c in colours.items()]
    return OrgPayload(
        name=name,
        colours=[colours[k] for k in order],
        labels=[lab for _, lab in present],
        points=points,
        legend=S.legend_html("Organisations", items, shape="circle"),
    )


# --------------------------------------------------------------------------------------
# folium elements (defined on first use: folium is imported lazily)
# --------------------------------------------------------------------------------------

_RUNTIME_JS = """
function cnmapTip(title, labels, row) {
  var h = '<div class="cnmap-tip"><b>' + title + '</b>';
  if (row && row.length) {
    h += '<table>';
    for (var k = 0; k < labels.length; k++) {
      if (row[k] === null || row[k] === undefined || row[k] === '') { continue; }
      h += '<tr><th>' + labels[k] + '</th><td>' + row[k] + '</td></tr>';
    }
    h += '</table>';
  }
  return h + '</div>';
}
"""

_CSS = (
    ".cnmap-tip table{border-collapse:collapse;margin-top:2px}"
    ".cnmap-tip th{text-align:left;font-weight:normal;color:#555;padding:1px 8px 1px 0;"
    "vertical-align:top}"
    ".cnmap-tip td{padding:1px 0;max-width:260px;white-space:normal}"
    ".leaflet-tooltip .cnmap-tip td{white-space:normal;min-width:60px}"
    ".cnmap-dot{width:12px;height:12px;border-radius:50%;border:1.5px solid #222;"
    "box-sizing:border-box}"
    ".cnmap-org{background:transparent;border:none}"
    ".cnmap-legend-box{margin-bottom:6px}"
    ".leaflet-control-attribution{max-width:55%;font-size:11px}"
)

_ELEMENTS: dict[str, Any] = {}


def _elements() -> dict[str, Any]:
    if _ELEMENTS:
        return _ELEMENTS
    try:
        import folium
        import folium.plugins
    except ImportError as exc:  # pragma: no cover - folium is a core dependency
        raise OptionalDependencyError("cnmap.maps needs folium: pip install folium") from exc
    from branca.element import MacroElement
    from folium.elements import JSCSSMixin
    from folium.map import Layer

    class Runtime(MacroElement):
        """The page's stylesheet and tooltip builder (once per map)."""

        _template = inert_template(
            """
            {% macro header(this, kwargs) %}
            <style>{{ this.css }}</style>
            <script>{{ this.js }}</script>
            {% endmacro %}
            """,
            constants=("css", "js"),  # cnmap's own stylesheet and script, no data
        )

        def __init__(self) -> None:
            super().__init__()
            self._name = "CnmapRuntime"
            self.css = _CSS
            self.js = _RUNTIME_JS

    class SharedData(MacroElement):
        """A GeoJSON FeatureCollection written once, used by several layers."""

        _template = inert_template(
            """
            {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = {{ this.fc|tojson }};
            {% endmacro %}
            """
        )

        def __init__(self, shared: SharedGeometry) -> None:
            super().__init__()
            self._name = "CnmapData"
            self.fc = shared.fc

    class AreaLayer(Layer):
        """A polygon layer drawn from shared features with per-feature style and tooltip."""

        _template = inert_template(
            """
            {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = (function() {
                var styles = {{ this.p.styles|tojson }};
                var idx = {{ this.p.style_index|tojson }};
                var labels = {{ this.p.labels|tojson }};
                var rows = {{ this.p.rows|tojson }};
                var hl = {{ this.p.highlight|tojson }};
                var layer = L.geoJson(null, {
                    filter: function(f) { return idx[f.properties.i] >= 0; },
                    style: function(f) { return styles[idx[f.properties.i]]; },
                    onEachFeature: function(f, l) {
                        var i = f.properties.i;
                        l.bindTooltip(function() {
                            return cnmapTip(f.properties.t, labels, rows[i]);
                        }, {sticky: true});
                        if (hl) {
                            l.on('mouseover', function() { l.setStyle(hl); });
                            l.on('mouseout', function() { layer.resetStyle(l); });
                        }
                    }
                });
                layer.addData({{ this.data.get_name() }});
                return layer;
            })();
            {% endmacro %}
            """
        )

        def __init__(self, payload: AreaPayload, data: Any, show: bool) -> None:
            super().__init__(name=payload.name, overlay=True, control=True, show=show)
            self._name = "CnmapAreaLayer"
            self.p = payload
            self.data = data
            self.key = payload.key

    class OrgMarkers(MacroElement):
        """Organisation markers added to the parent cluster / feature group."""

        _template = inert_template(
            """
            {% macro script(this, kwargs) %}
            (function() {
                var pts = {{ this.p.points|tojson }};
                var colours = {{ this.p.colours|tojson }};
                var labels = {{ this.p.labels|tojson }};
                var group = {{ this._parent.get_name() }};
                var markers = [];
                pts.forEach(function(p) {
                    var icon = L.divIcon({
                        className: 'cnmap-org',
                        html: '<div class="cnmap-dot" style="background:' + colours[p[2]] + '"></div>',
                        iconSize: [12, 12], iconAnchor: [6, 6], popupAnchor: [0, -6]
                    });
                    var m = L.marker([p[0], p[1]], {icon: icon, keyboard: false});
                    m.bindPopup(function() { return cnmapTip(p[3], labels, p[4]); }, {maxWidth: 320});
                    m.bindTooltip(p[3], {direction: 'top', offset: [0, -6]});
                    markers.push(m);
                });
                if (group.addLayers) { group.addLayers(markers); }
                else { markers.forEach(function(m) { group.addLayer(m); }); }
            })();
            {% endmacro %}
            """
        )

        def __init__(self, payload: OrgPayload) -> None:
            super().__init__()
            self._name = "CnmapOrgMarkers"
            self.p = payload

    class Legend(MacroElement):
        """A legend box shown while its layer is on the map."""

        _template = inert_template(
            """
            {% macro script(this, kwargs) %}
            (function() {
                var map = {{ this._parent.get_name() }};
                var layer = {{ this.layer.get_name() }};
                var ctl = L.control({position: {{ this.position|tojson }}});
                ctl.onAdd = function() {
                    var div = L.DomUtil.create('div', 'cnmap-legend-box');
                    div.innerHTML = {{ this.html|tojson }};
                    L.DomEvent.disableClickPropagation(div);
                    return div;
                };
                var shown = false;
                function sync() {
                    var on = map.hasLayer(layer);
                    if (on && !shown) { ctl.addTo(map); shown = true; }
                    if (!on && shown) { ctl.remove(); shown = false; }
                }
                map.on('layeradd layerremove', sync);
                sync();
            })();
            {% endmacro %}
            """
        )

        def __init__(self, layer: Any, html: str, position: str = "bottomleft") -> None:
            super().__init__()
            self._name = "CnmapLegend"
            self.layer = layer
            self.html = html
            self.position = position

    class Attribution(MacroElement):
        """Adds the data licences to Leaflet's attribution control (always visible)."""

        _template = inert_template(
            """
            {% macro script(this, kwargs) %}
            (function() {
                var map = {{ this._parent.get_name() }};
                if (!map.attributionControl) {
                    map.attributionControl = L.control.attribution().addTo(map);
                }
                map.attributionControl.addAttribution({{ this.text|tojson }});
            })();
            {% endmacro %}
            """
        )

        def __init__(self, text: str) -> None:
            super().__init__()
            self._name = "CnmapAttribution"
            self.text = text

    class WardSearch(JSCSSMixin, MacroElement):
        """leaflet-search over a polygon layer; suggestions are written as text, not HTML."""

        _template = inert_template(
            """
            {% macro script(this, kwargs) %}
            (function() {
                var layer = {{ this.layer.get_name() }};
                var map = {{ this._parent.get_name() }};
                var ctl = new L.Control.Search({
                    layer: layer,
                    propertyName: {{ this.property|tojson }},
                    collapsed: true,
                    textPlaceholder: {{ this.placeholder|tojson }},
                    position: 'topleft',
                    initial: false,
                    marker: false,
                    buildTip: function(text) {
                        var li = L.DomUtil.create('li', '');
                        li.textContent = text;
                        return li;
                    },
                    moveToLocation: function(latlng, title, map) {
                        map.fitBounds(latlng.layer.getBounds());
                    }
                });
                ctl.on('search:locationfound', function(e) {
                    if (!map.hasLayer(layer)) { map.addLayer(layer); }
                    layer.resetStyle();
                    e.layer.setStyle({color: '#ff7f00', weight: 4});
                    e.layer.openTooltip(e.layer.getBounds().getCenter());
                });
                ctl.on('search:collapsed', function() { layer.resetStyle(); });
                map.addControl(ctl);
            })();
            {% endmacro %}
            """
        )
        default_js = list(folium.plugins.Search.default_js)
        default_css = list(folium.plugins.Search.default_css)

        def __init__(self, layer: Any, property: str, placeholder: str) -> None:
            super().__init__()
            self._name = "CnmapWardSearch"
            self.layer = layer
            self.property = property
            self.placeholder = placeholder

    _ELEMENTS.update(
        folium=folium,
        Runtime=Runtime,
        SharedData=SharedData,
        AreaLayer=AreaLayer,
        OrgMarkers=OrgMarkers,
        Legend=Legend,
        Attribution=Attribution,
        WardSearch=WardSearch,
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
            self.el["Legend"](layer, payload.legend, position=payload.legend_position).add_to(
                self.m
            )


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


def _new_map(
    folium: Any,
    wards: gpd.GeoDataFrame,
    tiles: str | None,
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
        maxZoom=19,  # Leaflet option: markercluster needs it when there are no tiles
        width=width,
        height=height,
    )
    if tiles is not None:
        folium.TileLayer(tiles, opacity=tile_opacity, control=False).add_to(m)
    m.fit_bounds([[miny, minx], [maxy, maxx]])
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


def _lsoa_payloads(
    lsoas: pd.DataFrame,
    joined: pd.DataFrame | None,
    names: Mapping[str, str],
    share_col: str,
    minutes: float,
) -> list[AreaPayload]:
    """The LSOA layers whose inputs are present (imd, share, bivariate, thin)."""
    out: list[AreaPayload] = []
    if "imd_decile" in lsoas.columns:
        out.append(_imd_payload(lsoas, names["imd"]))
    else:
        logger.info("coverage_map: result.lsoas has no imd_decile; IMD layer left out")
    if share_col in lsoas.columns:
        out.append(_share_payload(lsoas, share_col, minutes, names["share"]))
    else:
        logger.info("coverage_map: result.lsoas has no %s; share layer left out", share_col)
    if joined is not None and "bivariate_class" in joined.columns:
        out.append(_bivariate_payload(lsoas, joined, names["bivariate"]))
    if joined is not None and "thin" in joined.columns:
        out.append(_thin_payload(lsoas, joined, names["thin"]))
    return out


def _draw_lsoas(
    canvas: _Canvas,
    lsoas: pd.DataFrame,
    thin_lsoas: pd.DataFrame | None,
    names: Mapping[str, str],
    share_col: str,
    minutes: float,
) -> None:
    """Every LSOA layer, drawn from one shared copy of the LSOA geometry."""
    payloads = _lsoa_payloads(lsoas, _thin_joined(lsoas, thin_lsoas), names, share_col, minutes)
    if payloads:
        data = canvas.add_data(_shared(lsoas, _lsoa_titles(lsoas)))
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
            [(S.CATCHMENT_COLOUR, f"within {_fmt_min(minutes)} min walk")],
        ),
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
    canvas.el["Legend"](group, payload.legend, position="bottomright").add_to(canvas.m)


def _add_controls(canvas: _Canvas) -> None:
    """Fullscreen, ward search and attribution (once), then the layer control, last."""
    from folium.plugins import Fullscreen

    m, el = canvas.m, canvas.el
    children = list(m._children.values())
    if not any(isinstance(c, Fullscreen) for c in children):
        Fullscreen(position="topleft").add_to(m)
    if not any(isinstance(c, el["WardSearch"]) for c in children):
        el["WardSearch"](canvas.drawn["wards"], "name", "Search ward").add_to(m)
    if not any(isinstance(c, el["Attribution"]) for c in children):
        el["Attribution"](S.ATTRIBUTION_HTML).add_to(m)
    for key, child in list(m._children.items()):  # the LayerControl must follow the layers
        if isinstance(child, el["folium"].LayerControl):
            del m._children[key]
    el["folium"].LayerControl(collapsed=False, position="topright").add_to(m)


# --------------------------------------------------------------------------------------
# the map
# --------------------------------------------------------------------------------------


def coverage_map(
    result: Any,
    *,
    thin: Any = None,
    organisations: Any = None,
    minutes: float | None = None,
    ward_profiles: pd.DataFrame | None = None,
    m: folium.Map | None = None,
    tiles: str | None = "OpenStreetMap",
    tile_opacity: float = 0.6,
    show: Sequence[str] | None = None,
    catchments: bool | gpd.GeoDataFrame = True,
    popup_fields: Mapping[str, str] | None = None,
    tolerance_m: float = 15.0,
    catchment_tolerance_m: float = 10.0,
    min_hole_m2: float = 5000.0,
    precision: int = 5,
    cluster: bool = True,
    width: str | int = "100%",
    height: str | int = "100%",
) -> folium.Map:
    """Interactive map of walking coverage, deprivation and thin infrastructure.

    Layers, bottom to top (each in the LayerControl; a layer whose input is absent is left
    out):

    ``imd``
        LSOAs by IMD decile (``imd_decile``; 1 = most deprived 10% in England), with legend.
    ``share``
        LSOAs by ``share_covered_{minutes}min`` (five 20% classes), with legend.
    ``bivariate``
        ``thin.lsoas["bivariate_class"]``: deprivation tercile by provision tercile, with a
        3x3 legend.
    ``thin``
        LSOAs flagged ``thin`` in ``thin.lsoas``, outlined in red, with their reason.
    ``catchments``
        ``result.catchments(minutes)``: the dissolved walking catchments.
    ``wards``
        Ward boundaries; tooltip: ward, population, share of residents within ``minutes``
        walk, mean walk to the nearest organisation, IMD average rank (``ward_profiles``,
        else the result's or ``thin``'s ward columns) and the thin flag, left-behind flag and
        reason (``thin.wards``). Searchable by ward name.
    ``organisations``
        Organisations as clustered markers coloured by type; popup: name, type, services,
        address, postcode, opening hours.

    The map also has a fullscreen button, a metric scale bar, ward search, and the data
    attribution (OS, ONS and MHCLG under the Open Government Licence v3.0, OpenStreetMap
    contributors under the ODbL) in the attribution control.

    Parameters
    ----------
    result
        A :class:`~cnmap.coverage.CoverageResult`, or any object with its documented
        attributes ``wards``, ``lsoas``, ``thresholds``, ``organisations`` and
        ``catchments(minutes)``.
    thin
        Optional :class:`~cnmap.thin.ThinResult` (``lsoas``/``wards`` with ``thin``,
        ``reason``, ``bivariate_class``...).
    organisations
        Organisations to draw instead of ``result.organisations``: a GeoDataFrame or an
        ``OrganisationTable``.
    minutes
        The threshold shown (one of ``result.thresholds``); default 15 if computed, else the
        largest.
    ward_profiles
        Ward deprivation profiles (:func:`cnmap.ward_profiles`) for the IMD average rank.
    m
        An existing folium map to add the layers to (like ``GeoDataFrame.explore``); its
        LayerControl, if any, is moved after the new layers.
    tiles
        Base map tiles (a folium tiles name or xyzservices provider); None: no base map (the
        layers still draw). Default OpenStreetMap's standard tiles (xyzservices marks CARTO's
        basemaps as needing an API key).
    tile_opacity
        Opacity of the base map, so that the choropleths stay readable.
    show
        Layer keys (:data:`LAYER_KEYS`) switched on when the map opens; default
        :data:`DEFAULT_SHOW`.
    catchments
        True: draw ``result.catchments(minutes)`` (left out if the result cannot make them,
        e.g. crow-flies mode); a GeoDataFrame: these catchment polygons (rows whose
        ``minutes`` equals ``minutes`` if that column exists), useful when they are already
        computed; False: no catchment layer.
    popup_fields
        Organisation columns shown in popups, column -> label, in order; default
        :data:`POPUP_FIELDS` (type, services, address, postcode, opening hours). Columns
        that are absent are skipped.
    tolerance_m
        Simplification tolerance (m) of ward and LSOA boundaries, simplified as coverages
        (shared borders stay shared; see :func:`simplify_for_web`).
    catchment_tolerance_m, min_hole_m2
        Simplification tolerance (m) of catchments, and the area (m²) below which their
        holes (block interiors) are filled.
    precision
        Decimal places of longitude/latitude (5 is about 1 m).
    cluster
        Cluster organisation markers (Leaflet.markercluster).
    width, height
        Size of a new map.

    Returns
    -------
    folium.Map
        The map (``m`` if given).

    Raises
    ------
    MissingColumnError
        ``result.wards``/``result.lsoas`` (or ``thin``'s frames) lack a documented column.
    ValidationError
        ``minutes`` is not one of the result's thresholds, or ``show`` names an unknown layer.
    CRSError
        A frame has no CRS.
    """
    el = _elements()
    show_set = _show_set(show)
    t = _choose_minutes(result, minutes)
    names = layer_names(t)
    share_col = f"share_covered_{_fmt_min(t)}min"

    wards_in = getattr(result, "wards", None)
    lsoas_in = getattr(result, "lsoas", None)
    _require(wards_in, [WARD_CODE, WARD_NAME], "result.wards")
    _require(lsoas_in, [LSOA_CODE], "result.lsoas")
    thin_lsoas, thin_wards = _thin_frames(thin)

    wards = simplify_for_web(wards_in, tolerance_m=tolerance_m, precision=precision)
    lsoas = simplify_for_web(lsoas_in, tolerance_m=tolerance_m, precision=precision)
    if m is None:
        m = _new_map(el["folium"], wards, tiles, tile_opacity, width, height)
    if not any(isinstance(c, el["Runtime"]) for c in m._children.values()):
        el["Runtime"]().add_to(m)
    canvas = _Canvas(m, el, show_set)

    _draw_lsoas(canvas, lsoas, thin_lsoas, names, share_col, t)
    cat = _catchments(result, catchments, t)
    if cat is not None and len(cat):
        cat = simplify_for_web(
            cat,
            tolerance_m=catchment_tolerance_m,
            precision=precision,
            coverage=False,
            min_hole_m2=min_hole_m2,
        )
        canvas.add_area(
            _catchment_payload(len(cat), t, names["catchments"]),
            canvas.add_data(_shared(cat, [_catchment_title(t)] * len(cat))),
        )
    rank = _ward_rank(
        [str(c) for c in _col(wards, WARD_CODE)],
        [
            ward_profiles,
            _attributes(wards_in),
            None if thin_wards is None else _attributes(thin_wards),
        ],
    )
    _draw_wards(canvas, wards, _ward_payload(wards, share_col, t, names["wards"], rank, thin_wards))
    orgs = _org_frame(result, organisations)
    if orgs is not None and len(orgs):
        payload = _org_payload(
            _points_wgs84(orgs, precision, "organisations"),
            canvas.unique(names["organisations"]),
            popup_fields,
        )
        _draw_organisations(canvas, payload, cluster)
    _add_controls(canvas)
    logger.info(
        "coverage_map: %d wards, %d LSOAs, layers %s at %s min",
        len(wards),
        len(lsoas),
        [k for k in LAYER_KEYS if k in canvas.drawn],
        _fmt_min(t),
    )
    return m


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
