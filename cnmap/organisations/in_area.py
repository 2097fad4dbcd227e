"""Points against the area: which lie outside its boundary (and how far), and the LSOA and
ward each point falls in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from cnmap import columns as C
from cnmap.geo import to_bng
from cnmap.organisations.cells import area_name

__all__ = ["AreaCheck", "area_codes", "check_area"]


@dataclass(frozen=True)
class AreaCheck:
    """Rows inside the area's boundary, rows too far outside it, and a message for each."""

    inside: np.ndarray
    far: np.ndarray
    text: np.ndarray


def check_area(
    area: Any, x: np.ndarray, y: np.ndarray, placed: np.ndarray, keep_outside_m: float
) -> AreaCheck:
    """Which placed points lie inside the area, and which farther than ``keep_outside_m``
    outside it.

    Parameters
    ----------
    area
        An :class:`cnmap.Area` (its ``boundary``).
    x, y
        EPSG:27700 coordinates per row.
    placed
        Rows with coordinates.
    keep_outside_m
        Points up to this distance (m) outside the boundary are not ``far``.

    Returns
    -------
    AreaCheck
        ``inside`` and ``far`` per row, and the ``outside_area`` message of the far rows.
    """
    n = len(placed)
    boundary = to_bng(area.boundary, name="area.boundary").geometry.union_all()
    inside = np.zeros(n, dtype=bool)
    inside[placed] = shapely.intersects_xy(boundary, x[placed], y[placed])
    out_idx = np.flatnonzero(placed & ~inside)
    dist = np.zeros(n)
    if len(out_idx):
        dist[out_idx] = shapely.distance(boundary, shapely.points(x[out_idx], y[out_idx]))
    far = placed & ~inside & (dist > keep_outside_m)
    lad = area_name(area)
    text = np.full(n, "", dtype=object)
    for i in np.flatnonzero(far):
        text[i] = (
            f"the point is {dist[i]:,.0f} m outside {lad} (keep_outside_m={keep_outside_m:g}); "
            "check the location, or raise keep_outside_m to keep it"
        )
    return AreaCheck(inside, far, text)


def area_codes(points: gpd.GeoSeries, area: Any) -> tuple[Any, Any, Any]:
    """LSOA code, ward code and ward name per point (missing without an area)."""
    n = len(points)
    if area is None or n == 0:
        blank = pd.array([pd.NA] * n, dtype="str")
        return blank, blank.copy(), blank.copy()
    from cnmap.geo import assign_areas

    pts = gpd.GeoDataFrame(geometry=points.reset_index(drop=True), crs=C.BNG)
    joined = assign_areas(pts, area.lsoas, area.wards)
    out = []
    for c in (C.LSOA_CODE, C.WARD_CODE, C.WARD_NAME):
        out.append(
            joined[c].astype("str").to_numpy()
            if c in joined.columns
            else pd.array([pd.NA] * n, dtype="str")
        )
    return out[0], out[1], out[2]
