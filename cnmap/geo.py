"""Spatial joins and areal weighting in British National Grid (EPSG:27700).

Pure functions: they take frames and explicit parameters, return new frames, and never read
files, fetch data or modify their inputs.

- :func:`assign_areas` — which LSOA and ward each point falls in (vectorised spatial index);
- :func:`lsoa_to_ward` — add ward codes to an LSOA-level table through a lookup;
- :func:`apportion` — area-weighted apportionment of LSOA counts onto any polygons;
- :func:`to_bng`, :func:`to_wgs84` — reprojection with a clear error on a missing CRS;
- :func:`repair_geometries` — make invalid polygons valid (logged, never silent).

Spatial indexing uses shapely's STRtree through ``GeoDataFrame.sindex``; see ``docs/data.md``
for why rtree is not used.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import NamedTuple, TypeVar, cast

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from cnmap.columns import BNG, LSOA_CODE, WARD_CODE, WARD_NAME, WGS84
from cnmap.errors import CRSError, MissingColumnError, ValidationError

__all__ = [
    "assign_areas",
    "lsoa_to_ward",
    "apportion",
    "Apportionment",
    "to_bng",
    "to_wgs84",
    "repair_geometries",
    "check_same_crs",
]

log = logging.getLogger(__name__)

#: A GeoDataFrame or a GeoSeries (the reprojection helpers return what they are given).
GeoT = TypeVar("GeoT", gpd.GeoDataFrame, gpd.GeoSeries)

_POINT_TYPES = {"Point"}
_POLYGON_TYPES = {"Polygon", "MultiPolygon"}


# --------------------------------------------------------------------------------------
# CRS helpers
# --------------------------------------------------------------------------------------


def _name(label: str | None, default: str) -> str:
    return label if label else default


def check_same_crs(**frames: gpd.GeoDataFrame | gpd.GeoSeries) -> None:
    """Raise :class:`CRSError` unless every frame has a CRS and they are all equal.

    Parameters
    ----------
    **frames
        Frames to check, by name (the name is used in the error message).
    """
    crs_seen = None
    first = None
    for label, frame in frames.items():
        if frame.crs is None:
            raise CRSError(
                f"{label} has no coordinate reference system; set it first, e.g. "
                f"{label}.set_crs('{BNG}') for British National Grid metres or "
                f"{label}.set_crs('{WGS84}') for longitude/latitude"
            )
        if crs_seen is None:
            crs_seen, first = frame.crs, label
        elif not frame.crs.equals(crs_seen):
            fix = first if frame.crs.equals(BNG) else label
            raise CRSError(
                f"{first} is in {crs_seen.to_string()} but {label} is in "
                f"{frame.crs.to_string()}; put both in British National Grid, e.g. "
                f"cnmap.geo.to_bng({fix})"
            )


def to_bng(gdf: GeoT, *, name: str | None = None) -> GeoT:
    """Return a copy of ``gdf`` in British National Grid (EPSG:27700).

    The one reprojection to British National Grid of the package: every metric computation
    (distances, areas, buffers) runs on its result.

    Parameters
    ----------
    gdf
        A GeoDataFrame or GeoSeries with a CRS.
    name
        How to call the frame in error messages.

    Returns
    -------
    geopandas.GeoDataFrame or geopandas.GeoSeries
        A copy (also when ``gdf`` is already in EPSG:27700); ``gdf`` is not modified.

    Raises
    ------
    CRSError
        If ``gdf`` has no CRS (a missing CRS is never guessed).

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point
    >>> pt = gpd.GeoSeries([Point(-1.8904, 52.4862)], crs="EPSG:4326")  # Birmingham
    >>> b = to_bng(pt)
    >>> b.crs.to_epsg(), int(round(b.x.iloc[0], -2)), int(round(b.y.iloc[0], -2))
    (27700, 407500, 287600)
    """
    return _to(gdf, BNG, _name(name, "gdf"))


def to_wgs84(gdf: GeoT, *, name: str | None = None) -> GeoT:
    """Return a copy of ``gdf`` in longitude/latitude (EPSG:4326), for web maps only.

    Parameters
    ----------
    gdf
        A GeoDataFrame or GeoSeries with a CRS.
    name
        How to call the frame in error messages.

    Returns
    -------
    geopandas.GeoDataFrame or geopandas.GeoSeries
        A copy; ``gdf`` is not modified.

    Raises
    ------
    CRSError
        If ``gdf`` has no CRS.
    """
    return _to(gdf, WGS84, _name(name, "gdf"))


def _to(gdf: GeoT, crs: str, label: str) -> GeoT:
    if gdf.crs is None:
        raise CRSError(
            f"{label} has no coordinate reference system, so it cannot be reprojected to {crs}; "
            f"set the CRS its coordinates are in first, e.g. {label}.set_crs('{WGS84}') for "
            f"longitude/latitude or {label}.set_crs('{BNG}') for eastings/northings"
        )
    # the same CRS written another way (e.g. a .prj's British National Grid): no transform, as
    # a transform between two spellings of one CRS can shift points by metres
    if gdf.crs.equals(crs) or gdf.crs.to_epsg() == _EPSG[crs]:
        return gdf.copy()
    return gdf.to_crs(crs)


_EPSG = {BNG: 27700, WGS84: 4326}


def repair_geometries(
    gdf: gpd.GeoDataFrame, *, name: str = "layer", id_col: str | None = None
) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Return a copy whose invalid polygons are repaired with ``shapely.make_valid``.

    The repair keeps only polygonal parts (``method="structure"``), so a polygon stays a
    (Multi)Polygon. Each repair is logged at INFO level with the feature's id.

    Parameters
    ----------
    gdf
        Polygon layer.
    name
        Layer name for log messages.
    id_col
        Column identifying features in log messages (default: the index).

    Returns
    -------
    (GeoDataFrame, list of str)
        The repaired copy and the ids of the repaired features.
    """
    out = gdf.copy()
    geoms = out.geometry.values
    invalid = ~shapely.is_valid(np.asarray(geoms)) & ~shapely.is_missing(np.asarray(geoms))
    if not invalid.any():
        return out, []
    fixed = shapely.make_valid(np.asarray(geoms)[invalid], method="structure", keep_collapsed=False)
    col = out.geometry.name
    out.loc[invalid, col] = fixed
    ids = out.loc[invalid, id_col] if id_col else out.index[invalid]
    repaired = [str(i) for i in ids]
    log.info(
        "%s: repaired %d invalid geometries with make_valid: %s",
        name,
        len(repaired),
        ", ".join(repaired[:20]) + (" ..." if len(repaired) > 20 else ""),
    )
    return out, repaired


# --------------------------------------------------------------------------------------
# point -> LSOA / ward
# --------------------------------------------------------------------------------------


def _require(frame: pd.DataFrame, cols: Sequence[str], label: str, hint: str = "") -> None:
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise MissingColumnError(
            f"{label} lacks column(s) {missing} (has {list(frame.columns)}){hint}"
        )


def _first_hit(points: np.ndarray, polys: gpd.GeoDataFrame, key: np.ndarray) -> np.ndarray:
    """For each point, the position in ``polys`` of the polygon it lies in (-1: none).

    A point on a shared border lies in several polygons: the one with the smallest ``key``
    (code) wins, so the answer does not depend on row order.
    """
    result = np.full(len(points), -1, dtype=np.int64)
    if len(points) == 0 or len(polys) == 0:
        return result
    pt_idx, poly_idx = polys.sindex.query(points, predicate="intersects")
    if len(pt_idx) == 0:
        return result
    order = np.lexsort((key[poly_idx], pt_idx))  # by point, then by code
    pt_idx, poly_idx = pt_idx[order], poly_idx[order]
    first = np.r_[True, pt_idx[1:] != pt_idx[:-1]]
    result[pt_idx[first]] = poly_idx[first]
    return result


def _codes(series: pd.Series) -> np.ndarray:
    return cast(np.ndarray, series.astype(str).to_numpy(dtype=object))


def assign_areas(
    points: gpd.GeoDataFrame,
    lsoas: gpd.GeoDataFrame,
    wards: gpd.GeoDataFrame | None = None,
) -> gpd.GeoDataFrame:
    """Return a copy of ``points`` with the LSOA and ward each point lies in.

    Parameters
    ----------
    points
        Point geometries (missing or empty geometries get no area).
    lsoas
        LSOA polygons with a ``lsoa_code`` column (and ``ward_code``/``ward_name`` when
        ``wards`` is not given), in the same CRS as ``points``.
    wards
        Ward polygons with ``ward_code`` (and optionally ``ward_name``). If None, each
        point's ward is its LSOA's ``ward_code``/``ward_name`` (the lookup's best fit).

    Returns
    -------
    GeoDataFrame
        A copy of ``points`` with ``lsoa_code``, ``ward_code`` and ``ward_name`` (missing
        where a point lies outside every polygon). Existing columns of those names are
        replaced.

    Notes
    -----
    Points are matched with ``intersects`` so a point exactly on a border is not lost; such a
    point is given to the polygon with the smallest code, so the result is deterministic and
    every point gets at most one LSOA and one ward.

    Raises
    ------
    CRSError
        If a frame has no CRS or the CRSs differ.
    MissingColumnError
        If a required code column is absent.
    ValidationError
        If ``points`` holds non-point geometries.
    """
    frames: dict[str, gpd.GeoDataFrame] = {"points": points, "lsoas": lsoas}
    if wards is not None:
        frames["wards"] = wards
    check_same_crs(**frames)
    _require(lsoas, [LSOA_CODE], "lsoas")
    if wards is None:
        _require(
            lsoas,
            [WARD_CODE],
            "lsoas",
            "; pass wards=... or add ward codes with cnmap.geo.lsoa_to_ward first",
        )
    else:
        _require(wards, [WARD_CODE], "wards")

    geoms = np.asarray(points.geometry.values)
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    types = shapely.get_type_id(geoms[present])
    bad = types != shapely.GeometryType.POINT
    if bad.any():
        rows = points.index[present][bad][:10].tolist()
        raise ValidationError(
            f"points holds non-point geometries (rows {rows}); pass points, e.g. "
            f"gdf.representative_point() for polygons"
        )

    out = points.copy()
    n = len(out)
    lsoa_pos = np.full(n, -1, dtype=np.int64)
    lsoa_pos[present] = _first_hit(geoms[present], lsoas, _codes(lsoas[LSOA_CODE]))
    hit = lsoa_pos >= 0

    lsoa_code = np.full(n, None, dtype=object)
    lsoa_code[hit] = lsoas[LSOA_CODE].to_numpy(dtype=object)[lsoa_pos[hit]]
    ward_code = np.full(n, None, dtype=object)
    ward_name = np.full(n, None, dtype=object)
    if wards is None:
        ward_code[hit] = lsoas[WARD_CODE].to_numpy(dtype=object)[lsoa_pos[hit]]
        if WARD_NAME in lsoas.columns:
            ward_name[hit] = lsoas[WARD_NAME].to_numpy(dtype=object)[lsoa_pos[hit]]
    else:
        ward_pos = np.full(n, -1, dtype=np.int64)
        ward_pos[present] = _first_hit(geoms[present], wards, _codes(wards[WARD_CODE]))
        whit = ward_pos >= 0
        ward_code[whit] = wards[WARD_CODE].to_numpy(dtype=object)[ward_pos[whit]]
        if WARD_NAME in wards.columns:
            ward_name[whit] = wards[WARD_NAME].to_numpy(dtype=object)[ward_pos[whit]]

    out[LSOA_CODE] = pd.array(lsoa_code, dtype="str")
    out[WARD_CODE] = pd.array(ward_code, dtype="str")
    out[WARD_NAME] = pd.array(ward_name, dtype="str")
    log.info(
        "assign_areas: %d of %d points in an LSOA, %d in a ward",
        int(hit.sum()),
        n,
        int(pd.notna(out[WARD_CODE]).sum()),
    )
    return out


# --------------------------------------------------------------------------------------
# LSOA -> ward through a lookup
# --------------------------------------------------------------------------------------


def lsoa_to_ward(
    table: pd.DataFrame,
    lookup: pd.DataFrame,
    *,
    lsoa_col: str = LSOA_CODE,
) -> pd.DataFrame:
    """Return a copy of ``table`` with ``ward_code`` and ``ward_name`` from ``lookup``.

    Parameters
    ----------
    table
        Any LSOA-level table (e.g. IoD rows, counts) with an LSOA code column.
    lookup
        LSOA to ward lookup with ``lsoa_code``, ``ward_code`` and optionally ``ward_name``
        (as :attr:`cnmap.Area.lookup`). Each LSOA must map to exactly one ward.
    lsoa_col
        Name of the LSOA code column in ``table``.

    Returns
    -------
    DataFrame
        Same rows, index and order as ``table``; existing ward columns are replaced.

    Raises
    ------
    MissingColumnError
        If a code column is absent.
    ValidationError
        If the lookup gives one LSOA several wards, or some LSOAs of ``table`` are not in
        the lookup (all of them are listed).
    """
    _require(table, [lsoa_col], "table", "; pass lsoa_col= to name the LSOA code column")
    _require(lookup, [LSOA_CODE, WARD_CODE], "lookup")
    cols = [LSOA_CODE, WARD_CODE] + ([WARD_NAME] if WARD_NAME in lookup.columns else [])
    lk = lookup[cols].drop_duplicates()
    dup = lk[LSOA_CODE].duplicated(keep=False)
    if dup.any():
        codes = sorted(lk.loc[dup, LSOA_CODE].astype(str).unique())
        raise ValidationError(
            f"lookup maps {len(codes)} LSOA(s) to more than one ward: {codes[:20]}; "
            f"use a best-fit lookup with one ward per LSOA"
        )
    ward_of = lk.set_index(LSOA_CODE)[WARD_CODE]
    keys = table[lsoa_col]
    codes = keys.map(ward_of)
    missing = codes.isna()
    if missing.any():
        bad = keys[missing]
        listed = sorted({str(c) for c in bad})
        raise ValidationError(
            f"{len(bad)} row(s) of table have an LSOA code (column {lsoa_col!r}) not in the "
            f"lookup: {listed[:30]}{' ...' if len(listed) > 30 else ''}; check the LSOA vintage "
            f"(2011 vs 2021 codes) and the local authority of the lookup"
        )
    out = table.copy()
    out[WARD_CODE] = codes.astype("str")
    if WARD_NAME in lk.columns:
        out[WARD_NAME] = keys.map(lk.set_index(LSOA_CODE)[WARD_NAME]).astype("str")
    return out


# --------------------------------------------------------------------------------------
# area-weighted apportionment
# --------------------------------------------------------------------------------------


class Apportionment(NamedTuple):
    """Result of :func:`apportion`.

    Attributes
    ----------
    table
        One row per target polygon (its id column and geometry kept), with the apportioned
        ``columns`` and ``n_lsoas`` (LSOAs it overlaps).
    shares
        One row per (polygon, LSOA) overlap: the polygon id, ``lsoa_code``, ``overlap_m2``,
        ``lsoa_share`` (fraction of the LSOA's area inside the polygon; the weight used) and
        the apportioned value of each column.
    lsoa_allocation
        One row per LSOA: ``lsoa_code`` and ``share_allocated`` (sum of its shares: 1 when
        the polygons tile it, below 1 where part of it is outside every polygon, above 1
        where polygons overlap).
    """

    table: gpd.GeoDataFrame
    shares: pd.DataFrame
    lsoa_allocation: pd.DataFrame


def apportion(
    polygons: gpd.GeoDataFrame,
    lsoas: gpd.GeoDataFrame,
    *,
    columns: Sequence[str] = ("population",),
    id_col: str | None = None,
    lsoa_col: str = LSOA_CODE,
) -> Apportionment:
    """Area-weighted apportionment of LSOA counts onto arbitrary polygons.

    Each LSOA's count is split among the polygons in proportion to the share of the LSOA's
    area each polygon covers: ``value(polygon) = Σ count(lsoa) × area(lsoa ∩ polygon) /
    area(lsoa)``.

    Parameters
    ----------
    polygons
        Target polygons (custom neighbourhoods, Pioneer Places, 2021 LSOAs...) in a projected
        CRS (EPSG:27700).
    lsoas
        Source LSOA polygons carrying the counts, same CRS.
    columns
        Count columns of ``lsoas`` to apportion (additive quantities only: people,
        households; never rates, scores or ranks).
    id_col
        Column identifying the target polygons (unique). Default: the index of ``polygons``,
        exposed as column ``polygon_id``.
    lsoa_col
        LSOA code column of ``lsoas`` (unique).

    Returns
    -------
    Apportionment
        ``(table, shares, lsoa_allocation)``; see :class:`Apportionment`.

    Notes
    -----
    **Uniform-density assumption.** People are assumed to be spread evenly over each LSOA's
    area. This is wrong in detail (parks, industrial land, reservoirs hold nobody), so values
    for polygons much smaller than an LSOA are rough; use a finer population surface where
    that matters. Totals are conserved exactly (to floating-point rounding) for polygons that
    tile the LSOAs without gaps or overlaps; ``lsoa_allocation`` shows where they do not.

    Raises
    ------
    CRSError
        If a CRS is missing, they differ, or the CRS is geographic (areas need metres).
    MissingColumnError, ValidationError
        For absent, non-numeric or missing count values, duplicate ids, or non-polygon
        geometries.
    """
    columns = list(columns)
    _check_apportion_inputs(polygons, lsoas, columns, lsoa_col)
    pid_name, pid = _polygon_ids(polygons, id_col)
    for label, frame in (("polygons", polygons), ("lsoas", lsoas)):
        _check_polygonal(frame, label)
    poly_pos, lsoa_pos, overlap, share = _overlaps(polygons, lsoas, lsoa_col)
    shares = pd.DataFrame(
        {
            pid_name: pid.to_numpy()[poly_pos],
            lsoa_col: lsoas[lsoa_col].to_numpy()[lsoa_pos],
            "overlap_m2": overlap,
            "lsoa_share": share,
        }
    )
    for col in columns:
        shares[col] = lsoas[col].to_numpy(dtype=float)[lsoa_pos] * share

    table = gpd.GeoDataFrame(
        {pid_name: pid.to_numpy()}, geometry=polygons.geometry.to_numpy(), crs=polygons.crs
    )
    n = len(polygons)
    for col in columns:
        table[col] = np.bincount(poly_pos, weights=shares[col].to_numpy(), minlength=n)
    table["n_lsoas"] = np.bincount(poly_pos, minlength=n)
    lsoa_allocation = _lsoa_allocation(lsoas[lsoa_col], lsoa_pos, share, lsoa_col)
    log.info("apportion: %d polygons, %d overlaps, columns %s", n, len(shares), columns)
    return Apportionment(table=table, shares=shares, lsoa_allocation=lsoa_allocation)


def _check_apportion_inputs(
    polygons: gpd.GeoDataFrame, lsoas: gpd.GeoDataFrame, columns: list[str], lsoa_col: str
) -> None:
    """CRS (shared, projected), LSOA codes (unique) and counts (numeric, complete) of
    :func:`apportion`'s inputs; raises naming the rows and the fix."""
    check_same_crs(polygons=polygons, lsoas=lsoas)
    if not polygons.crs.is_projected:
        raise CRSError(
            f"apportion needs areas in metres but the data are in {polygons.crs.to_string()}; "
            f"reproject both frames with cnmap.geo.to_bng(...)"
        )
    _require(lsoas, [lsoa_col, *columns], "lsoas")
    if lsoas[lsoa_col].duplicated().any():
        dups = sorted(lsoas.loc[lsoas[lsoa_col].duplicated(), lsoa_col].astype(str).unique())
        raise ValidationError(f"lsoas has duplicate codes in {lsoa_col!r}: {dups[:20]}")
    for col in columns:
        _check_count_column(lsoas, col, lsoa_col)


def _check_count_column(lsoas: pd.DataFrame, col: str, lsoa_col: str) -> None:
    """A count column to apportion: numeric, no missing value."""
    if not pd.api.types.is_numeric_dtype(lsoas[col]):
        raise ValidationError(
            f"lsoas column {col!r} is not numeric (dtype {lsoas[col].dtype}); convert it "
            f"with pd.to_numeric before apportioning"
        )
    if lsoas[col].isna().any():
        bad = lsoas.loc[lsoas[col].isna(), lsoa_col].astype(str).tolist()
        raise ValidationError(
            f"lsoas column {col!r} is missing for LSOA(s) {bad[:20]}; fill or drop them "
            f"explicitly first"
        )


def _check_polygonal(frame: gpd.GeoDataFrame, label: str) -> None:
    """Every geometry of ``frame`` a (Multi)Polygon."""
    g = np.asarray(frame.geometry.values)
    ok = shapely.get_type_id(g) == shapely.GeometryType.POLYGON
    ok |= shapely.get_type_id(g) == shapely.GeometryType.MULTIPOLYGON
    if not ok.all():
        rows = frame.index[~ok][:10].tolist()
        raise ValidationError(
            f"{label} has missing or non-polygon geometries at rows {rows}; apportion "
            f"needs (Multi)Polygons"
        )


def _polygon_ids(polygons: gpd.GeoDataFrame, id_col: str | None) -> tuple[str, pd.Series]:
    """The target polygons' id column name and ids (unique): ``id_col``, or the index as
    ``polygon_id``."""
    if id_col is None:
        pid_name = "polygon_id"
        pid = pd.Series(polygons.index.to_numpy(), index=polygons.index)
    else:
        _require(polygons, [id_col], "polygons", "; pass id_col=None to use the index")
        pid_name = id_col
        pid = polygons[id_col]
    if pid.duplicated().any():
        dups = pid[pid.duplicated()].astype(str).unique().tolist()
        raise ValidationError(f"polygons have duplicate ids ({pid_name}): {dups[:20]}")
    return pid_name, pid


def _overlaps(
    polygons: gpd.GeoDataFrame, lsoas: gpd.GeoDataFrame, lsoa_col: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every (polygon, LSOA) pair that overlaps with a positive area: polygon positions, LSOA
    positions, overlap in m² and share of the LSOA's area."""
    poly_geoms = np.asarray(polygons.geometry.values)
    lsoa_geoms = np.asarray(lsoas.geometry.values)
    poly_pos, lsoa_pos = lsoas.sindex.query(poly_geoms, predicate="intersects")
    inter = shapely.intersection(poly_geoms[poly_pos], lsoa_geoms[lsoa_pos])
    overlap = shapely.area(inter)
    lsoa_area = shapely.area(lsoa_geoms)
    zero = lsoa_area <= 0
    if zero.any():
        raise ValidationError(
            f"lsoas has zero-area polygons: {lsoas.loc[zero, lsoa_col].astype(str).tolist()[:20]}"
        )
    keep = overlap > 0
    poly_pos, lsoa_pos, overlap = poly_pos[keep], lsoa_pos[keep], overlap[keep]
    return poly_pos, lsoa_pos, overlap, overlap / lsoa_area[lsoa_pos]


def _lsoa_allocation(
    codes: pd.Series, lsoa_pos: np.ndarray, share: np.ndarray, lsoa_col: str
) -> pd.DataFrame:
    """The share of each LSOA allocated to the polygons (logged where it is not 1)."""
    allocated = np.bincount(lsoa_pos, weights=share, minlength=len(codes))
    off = np.abs(allocated - 1.0) > 1e-6
    if off.any():
        log.info(
            "apportion: %d of %d LSOAs are not fully tiled by the polygons (outside or "
            "overlapping); see lsoa_allocation",
            int(off.sum()),
            len(codes),
        )
    return pd.DataFrame({lsoa_col: codes.to_numpy(), "share_allocated": allocated})
