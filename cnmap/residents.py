"""Where people live: residential points carrying each LSOA's population.

Coverage is measured for people, not for polygons. cnmap places each LSOA's population on
points where people live and walks from those points:

1. **Postcode points** (default). Every postcode centroid of the ONS postcode lookup that falls
   inside an LSOA receives an equal share of that LSOA's population, so each LSOA's total is
   kept exactly. Postcodes are small (about 15 households on average) and follow the housing,
   so their centroids sample where residents are far better than an LSOA centroid does.
2. **Street-length fallback**. An LSOA with no postcode point inside it gets points at the
   midpoints of the walkable street segments inside it, weighted by segment length (people live
   along streets). With no network either, its representative point carries the population.

Limits: the lookup has no household counts, so a postcode of 3 homes weighs as much as one of
40 in the same LSOA; non-residential ("large user") postcodes cannot be told apart in the
B-area file and receive a share too; postcode centroids are about a building's accuracy at best.
The population itself is whatever ``area.lsoas["population"]`` holds (for IoD2019, ONS mid-2015
estimates excluding prisoners).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from cnmap import schema as S
from cnmap.errors import MissingColumnError, ValidationError
from cnmap.geo import to_bng

if TYPE_CHECKING:
    from cnmap.area import Area

__all__ = ["residential_points", "RESIDENT_METHODS"]

log = logging.getLogger(__name__)

RESIDENT_METHODS = ("postcodes", "streets", "centroids")


def _postcode_points(postcodes: pd.DataFrame, crs: object) -> gpd.GeoDataFrame:
    if {S.EASTING, S.NORTHING} <= set(postcodes.columns):
        x = pd.to_numeric(postcodes[S.EASTING], errors="coerce").to_numpy(float)
        y = pd.to_numeric(postcodes[S.NORTHING], errors="coerce").to_numpy(float)
        pts = gpd.GeoDataFrame(
            {S.POSTCODE: postcodes[S.POSTCODE].to_numpy()},
            geometry=gpd.points_from_xy(x, y),
            crs=S.BNG,
        )
    elif {S.LAT, S.LON} <= set(postcodes.columns):
        x = pd.to_numeric(postcodes[S.LON], errors="coerce").to_numpy(float)
        y = pd.to_numeric(postcodes[S.LAT], errors="coerce").to_numpy(float)
        pts = gpd.GeoDataFrame(
            {S.POSTCODE: postcodes[S.POSTCODE].to_numpy()},
            geometry=gpd.points_from_xy(x, y),
            crs=S.WGS84,
        )
        pts = to_bng(pts, name="postcodes")
    else:
        raise MissingColumnError(
            "postcode lookup has neither easting/northing nor lat/lon columns; "
            f"columns seen: {list(postcodes.columns)}"
        )
    ok = np.isfinite(shapely.get_x(pts.geometry.values)) & np.isfinite(
        shapely.get_y(pts.geometry.values)
    )
    pts = pts.loc[ok]
    return pts.to_crs(crs) if crs is not None else pts


def _street_points(lsoas: gpd.GeoDataFrame, edge_geoms: np.ndarray | None) -> gpd.GeoDataFrame:
    """Midpoints of street pieces inside each LSOA, weighted by piece length."""
    if edge_geoms is None or len(edge_geoms) == 0 or len(lsoas) == 0:
        return gpd.GeoDataFrame(
            {S.LSOA_CODE: [], "raw_weight": []},
            geometry=gpd.GeoSeries([], crs=lsoas.crs),
            crs=lsoas.crs,
        )
    tree = shapely.STRtree(edge_geoms)
    poly_idx, edge_idx = tree.query(lsoas.geometry.values, predicate="intersects")
    pieces = shapely.intersection(edge_geoms[edge_idx], lsoas.geometry.values[poly_idx])
    lengths = shapely.length(pieces)
    keep = lengths > 0
    pieces, lengths, poly_idx = pieces[keep], lengths[keep], poly_idx[keep]
    mids = shapely.line_interpolate_point(pieces, 0.5, normalized=True)
    # a multi-part piece's interpolated point is still on the piece; good enough for a sample point
    return gpd.GeoDataFrame(
        {S.LSOA_CODE: lsoas[S.LSOA_CODE].to_numpy()[poly_idx], "raw_weight": lengths},
        geometry=mids,
        crs=lsoas.crs,
    )


def residential_points(
    area: Area,
    *,
    method: str = "postcodes",
    edge_geometries: np.ndarray | None = None,
) -> gpd.GeoDataFrame:
    """Points where the area's residents live, each carrying a share of its LSOA's population.

    Parameters
    ----------
    area
        The area (``area.lsoas`` with ``lsoa_code``, ``population``, ``ward_code`` and
        geometry; ``area.postcodes`` for the postcode method).
    method
        ``"postcodes"`` (postcode centroids, falling back to streets then centroids per LSOA),
        ``"streets"`` (street-length weighting everywhere) or ``"centroids"`` (one point per
        LSOA: crude, for comparison).
    edge_geometries
        Walkable street geometries in the LSOAs' CRS (a shapely array, e.g. the walk
        network's edges), used by the street-length method and the fallback.

    Returns
    -------
    geopandas.GeoDataFrame
        ``lsoa_code``, ``ward_code``, ``weight`` (people), ``placement`` (which method placed
        the point) and point geometry, in the LSOAs' CRS. ``weight`` sums to each LSOA's
        population exactly.
    """
    if method not in RESIDENT_METHODS:
        raise ValidationError(f"method={method!r} is not one of {RESIDENT_METHODS}")
    lsoas = _checked_lsoas(area)
    frames: list[gpd.GeoDataFrame] = []
    placed: set[str] = set()

    if method == "postcodes":
        if area.postcodes is None or len(area.postcodes) == 0:
            log.warning("area has no postcode lookup; placing residents along streets instead")
        else:
            pts = _postcode_points(area.postcodes, lsoas.crs)
            joined = gpd.sjoin(
                pts, lsoas[[S.LSOA_CODE, S.GEOMETRY]], how="inner", predicate="within"
            )
            joined = joined[~joined.index.duplicated(keep="first")]  # a point on a shared border
            pc = gpd.GeoDataFrame(
                {
                    S.LSOA_CODE: joined[S.LSOA_CODE].to_numpy(),
                    "raw_weight": np.ones(len(joined)),
                    "placement": "postcode",
                },
                geometry=joined.geometry.values,
                crs=lsoas.crs,
            )
            frames.append(pc)
            placed = set(pc[S.LSOA_CODE])

    if method in ("postcodes", "streets"):
        todo = lsoas[~lsoas[S.LSOA_CODE].isin(placed)]
        if len(todo):
            st = _street_points(todo, edge_geometries)
            st["placement"] = "street"
            frames.append(st)
            placed |= set(st[S.LSOA_CODE])
            if method == "postcodes":
                log.info("%d LSOAs had no postcode point; used street-length weighting", len(todo))

    rest = lsoas[~lsoas[S.LSOA_CODE].isin(placed)]
    if len(rest):
        frames.append(
            gpd.GeoDataFrame(
                {
                    S.LSOA_CODE: rest[S.LSOA_CODE].to_numpy(),
                    "raw_weight": np.ones(len(rest)),
                    "placement": "centroid",
                },
                geometry=rest.geometry.representative_point().values,
                crs=lsoas.crs,
            )
        )
        if method != "centroids":
            log.info(
                "%d LSOAs had neither postcodes nor streets; used one interior point", len(rest)
            )

    pts = _share_population(pd.concat(frames, ignore_index=True), lsoas)
    pts[S.WARD_CODE] = _ward_of_points(pts, area)
    return pts


def _checked_lsoas(area: Area) -> gpd.GeoDataFrame:
    """The area's LSOA codes, populations (finite, >= 0) and geometry."""
    lsoas = area.lsoas
    for col in (S.LSOA_CODE, S.POPULATION):
        if col not in lsoas.columns:
            raise MissingColumnError(
                f"area.lsoas has no {col!r} column; load it with cnmap.load_area"
            )
    lsoas = lsoas[[S.LSOA_CODE, S.POPULATION, S.GEOMETRY]].reset_index(drop=True)
    pop_vals = pd.to_numeric(lsoas[S.POPULATION], errors="coerce").to_numpy(float)
    bad = ~np.isfinite(pop_vals) | (pop_vals < 0)
    if bad.any():
        codes = lsoas.loc[bad, S.LSOA_CODE].tolist()
        raise ValidationError(
            f"area.lsoas column {S.POPULATION!r} is missing, not a number or "
            f"negative for LSOA(s) {codes[:5]}; their residents cannot be "
            "placed: fill the population (cnmap.load_area does) or drop them"
        )
    return lsoas


def _share_population(pts: pd.DataFrame, lsoas: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Each LSOA's population shared among its points in proportion to ``raw_weight``."""
    pop = lsoas.set_index(S.LSOA_CODE)[S.POPULATION].astype(float)
    total_raw = pts.groupby(S.LSOA_CODE)["raw_weight"].transform("sum").to_numpy()
    pts[S.WEIGHT] = (
        pts["raw_weight"].to_numpy() / total_raw * pop.reindex(pts[S.LSOA_CODE]).to_numpy()
    )
    pts = pts.drop(columns="raw_weight")
    return gpd.GeoDataFrame(pts, geometry=S.GEOMETRY, crs=lsoas.crs)


def _ward_of_points(pts: gpd.GeoDataFrame, area: Area) -> np.ndarray:
    """Ward of each point by location (LSOAs do not nest in wards); the few points in the slivers
    between independently generalised ward and LSOA boundaries take the nearest ward. Without
    ward polygons, the LSOA's best-fit ward is used."""
    wards = area.wards
    if wards is None or len(wards) == 0 or S.WARD_CODE not in wards.columns:
        lut = area.lsoas.set_index(S.LSOA_CODE)[S.WARD_CODE]
        best_fit: np.ndarray = lut.reindex(pts[S.LSOA_CODE]).to_numpy()
        return best_fit
    w = wards[[S.WARD_CODE, S.GEOMETRY]].to_crs(pts.crs).reset_index(drop=True)
    tree = shapely.STRtree(w.geometry.values)
    pidx, widx = tree.query(pts.geometry.values, predicate="intersects")
    out = np.full(len(pts), None, dtype=object)
    first = np.unique(pidx, return_index=True)[1]  # lowest ward index on shared borders
    out[pidx[first]] = w[S.WARD_CODE].to_numpy()[widx[first]]
    missing = np.flatnonzero(pd.isna(out))
    if len(missing):
        near = tree.query_nearest(pts.geometry.values[missing], return_distance=False)
        out[missing[near[0]]] = w[S.WARD_CODE].to_numpy()[near[1]]
    return out
