"""Polygon and boundary paths of the static maps, prepared once and shared between figures.

The report maps of a run draw the same LSOAs and wards again and again (coverage, deprivation,
thin areas, deprivation against provision). Turning thousands of shapely rings into
matplotlib paths is the same work each time, so the paths are kept in a small cache keyed by
the geometries' content (their WKB): the second map of the same areas reuses the first one's
paths, whatever frame (a copy, another result's table of the same areas) holds them.

Paths are made as geopandas makes them (rings normalised, one compound path per polygon or
multipolygon; boundaries as their line parts), so the maps are drawn pixel for pixel as by
``GeoDataFrame.plot``. Frames holding anything but polygons are left to geopandas
(:func:`polygonal`).

Simplifying the rings to half a pixel of the saved figure was tried: with the generalised
(BGC) boundaries the maps use, it removed under 10% of the vertices and no measurable time,
while moving edge pixels, so the paths keep every vertex.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

if TYPE_CHECKING:
    import geopandas as gpd
    from matplotlib.axes import Axes
    from matplotlib.collections import Collection

__all__ = ["polygonal", "fill_polygons", "draw_boundaries", "clear_cache"]

_CACHE_SIZE = 16
_CACHE: OrderedDict[tuple[str, str], _Shapes] = OrderedDict()


@dataclass(frozen=True)
class _Shapes:
    """Paths (polygons) or line arrays (boundaries), and the row of the frame each draws."""

    items: tuple[Any, ...]
    rows: np.ndarray


def clear_cache() -> None:
    """Forget every prepared path (the next map makes them again)."""
    _CACHE.clear()


def polygonal(frame: gpd.GeoDataFrame | gpd.GeoSeries) -> bool:
    """Whether every geometry is a polygon or a multipolygon (or missing): the frames these
    helpers draw (others, e.g. geometry collections, are drawn by geopandas)."""
    types = shapely.get_type_id(np.asarray(frame.geometry.values, dtype=object))
    return bool(np.isin(types, (-1, 3, 6)).all())  # missing, Polygon, MultiPolygon


def _key(kind: str, geoms: np.ndarray) -> tuple[str, str]:
    digest = hashlib.blake2b(digest_size=20)
    for wkb in shapely.to_wkb(geoms).tolist():
        digest.update(b"\x00" if wkb is None else len(wkb).to_bytes(8, "little") + wkb)
    return kind, digest.hexdigest()


def _cached(kind: str, geoms: np.ndarray, make: Any) -> _Shapes:
    key = _key(kind, geoms)
    hit = _CACHE.get(key)
    if hit is not None:
        _CACHE.move_to_end(key)
        return hit
    shapes: _Shapes = make(geoms)
    _CACHE[key] = shapes
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return shapes


def _polygon_path(geom: Any) -> Any:
    """One compound path of a polygon or multipolygon (exteriors and holes), as geopandas."""
    from matplotlib.path import Path

    parts = [geom] if geom.geom_type == "Polygon" else list(geom.geoms)
    rings = []
    for part in parts:
        rings.append(Path(np.asarray(part.exterior.coords)[:, :2], closed=True))
        rings.extend(Path(np.asarray(r.coords)[:, :2], closed=True) for r in part.interiors)
    return Path.make_compound_path(*rings)


def _make_polygons(geoms: np.ndarray) -> _Shapes:
    paths, rows = [], []
    for row, geom in enumerate(shapely.normalize(geoms).tolist()):
        if geom is not None and not geom.is_empty:
            paths.append(_polygon_path(geom))
            rows.append(row)
    return _Shapes(tuple(paths), np.asarray(rows, dtype=int))


def _make_lines(geoms: np.ndarray) -> _Shapes:
    lines = shapely.normalize(shapely.boundary(geoms))
    parts, rows = shapely.get_parts(lines, return_index=True)
    arrays = tuple(np.asarray(shapely.get_coordinates(p))[:, :2] for p in parts.tolist())
    return _Shapes(arrays, np.asarray(rows, dtype=int))


def fill_polygons(
    ax: Axes,
    frame: gpd.GeoDataFrame,
    face: Sequence[str],
    *,
    edgecolor: str = "white",
    linewidth: float = 0.25,
) -> Collection:
    """Fill the polygons of ``frame`` with one colour per row (``face``) and outline them,
    with the shared paths; the axes' limits are left to the caller."""
    from matplotlib.collections import PathCollection

    geoms = np.asarray(frame.geometry.values, dtype=object)
    shapes = _cached("polygons", geoms, _make_polygons)
    colours = np.asarray(face, dtype=object)[shapes.rows].tolist()
    coll = PathCollection(
        list(shapes.items), facecolors=colours, edgecolors=edgecolor, linewidths=linewidth
    )
    ax.add_collection(coll, autolim=False)
    return coll


def draw_boundaries(
    ax: Axes,
    frame: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    color: str,
    linewidth: float,
    zorder: float | None = None,
) -> Collection:
    """Draw the boundaries of the polygons of ``frame`` as lines (the shared line arrays)."""
    from matplotlib.collections import LineCollection

    geoms = np.asarray(frame.geometry.values, dtype=object)
    shapes = _cached("boundaries", geoms, _make_lines)
    coll = LineCollection(list(shapes.items), colors=color, linewidths=linewidth)
    if zorder is not None:
        coll.set_zorder(zorder)
    ax.add_collection(coll, autolim=False)
    return coll
