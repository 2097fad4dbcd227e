"""Snap points (organisations, people) onto the nearest point of the nearest walkable edge.

Snapping is to an *edge*, not to its nearest node: a point halfway along a 300 m street is
150 m from either end, not 0 m from the nearer one. The straight-line walk from the point to
the street (the *access* distance) is added to every walking distance. Points farther than
``max_snap_m`` from any edge are flagged, not placed, and listed in ``SnapResult.rejected``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely

from cnmap.errors import CRSError, ValidationError

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd

    from cnmap.network.build import WalkNetwork

__all__ = ["SnapResult", "snap_points", "DEFAULT_MAX_SNAP_M"]

log = logging.getLogger(__name__)

#: Default largest straight-line distance from a point to the network (metres).
DEFAULT_MAX_SNAP_M = 500.0

REASON_FAR = "farther than max_snap_m from any walkable edge"
REASON_MISSING = "missing, empty or non-finite geometry"


def _net_key(net: WalkNetwork) -> tuple[int, int, float]:
    return (net.n_nodes, net.n_edges, round(float(net.edge_length.sum()), 3))


@dataclass(frozen=True, eq=False)
class SnapResult:
    """Where each point joins the network.

    Attributes
    ----------
    index
        The input's index labels (one entry per input point, in input order).
    edge
        Edge index of the nearest edge (-1 where the geometry was missing).
    u, v
        Node positions of that edge's ends (-1 where missing).
    fraction
        Position along the edge geometry, 0 at ``u`` and 1 at ``v``.
    along_u_m, along_v_m
        Metres along the edge from the snap point to ``u`` and to ``v``
        (``fraction * length`` and ``(1 - fraction) * length``, using the edge's length).
    access_m
        Straight-line metres from the point to the snap point (added to walking distances).
    x, y
        Snap point coordinates (network CRS).
    ok
        True where the point is placed (access within ``max_snap_m``); False points are left
        out of every search and listed in :attr:`rejected`.
    reason
        Why a point is not placed (empty string where ok).
    max_snap_m
        The limit used.
    crs
        The network's CRS.
    """

    index: pd.Index
    edge: np.ndarray
    u: np.ndarray
    v: np.ndarray
    fraction: np.ndarray
    along_u_m: np.ndarray
    along_v_m: np.ndarray
    access_m: np.ndarray
    x: np.ndarray
    y: np.ndarray
    ok: np.ndarray
    reason: np.ndarray
    max_snap_m: float
    crs: str
    network_key: tuple[int, int, float] = field(repr=False)

    def __len__(self) -> int:
        return int(self.edge.shape[0])

    @property
    def n_ok(self) -> int:
        return int(self.ok.sum())

    def to_frame(self) -> pd.DataFrame:
        """All snapping results as a DataFrame indexed like the input."""
        return pd.DataFrame({
            "edge": self.edge, "u": self.u, "v": self.v, "fraction": self.fraction,
            "along_u_m": self.along_u_m, "along_v_m": self.along_v_m,
            "access_m": self.access_m, "x": self.x, "y": self.y, "ok": self.ok,
            "reason": pd.array(self.reason, dtype="str"),
        }, index=self.index)

    @property
    def rejected(self) -> pd.DataFrame:
        """Quality report: points not placed, with the reason and the distance found."""
        f = self.to_frame()
        return f.loc[~self.ok, ["reason", "access_m", "edge"]]

    def check_network(self, net: WalkNetwork) -> None:
        """Raise if these points were snapped on a different network."""
        if self.network_key != _net_key(net):
            raise ValidationError("these points were snapped on a different network "
                                  f"({self.network_key[0]:,} nodes / {self.network_key[1]:,} "
                                  f"edges, not {net.n_nodes:,} / {net.n_edges:,}); snap them "
                                  "again with snap_points(net, points)")


def _points_array(net: WalkNetwork, points: Any) -> tuple[np.ndarray, pd.Index]:
    import geopandas as gpd

    if isinstance(points, gpd.GeoDataFrame):
        gs = points.geometry
    elif isinstance(points, gpd.GeoSeries):
        gs = points
    else:
        raise ValidationError(f"points must be a GeoSeries or GeoDataFrame (got "
                              f"{type(points).__name__}); build one with "
                              "geopandas.points_from_xy(x, y, crs=...)")
    if gs.crs is None:
        raise CRSError("the points have no CRS; set it (e.g. .set_crs('EPSG:4326') for "
                       "lon/lat or 'EPSG:27700' for eastings/northings)")
    if gs.crs != net.crs:
        gs = gs.to_crs(net.crs)
    return np.asarray(gs.to_numpy(), dtype=object), points.index


#: Points per thread below which the nearest-edge queries run in one thread.
THREAD_MIN_POINTS = 20_000


def _nearest_edges(tree: shapely.STRtree, pts: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(query position, nearest edge, distance) for every point: GEOS's nearest-neighbour
    search, in parallel threads over contiguous blocks of the points for large inputs (GEOS
    releases the GIL; each point's answer does not depend on the others)."""
    import os

    n_chunks = max(1, min(os.cpu_count() or 1, pts.shape[0] // THREAD_MIN_POINTS))

    def block(c: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        lo, hi = bounds[c], bounds[c + 1]
        (q, e), d = tree.query_nearest(pts[lo:hi], return_distance=True, all_matches=False)
        return q + lo, e, d

    bounds = np.linspace(0, pts.shape[0], n_chunks + 1).astype(np.int64)
    if n_chunks == 1:
        parts = [block(0)]
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=n_chunks) as pool:
            parts = list(pool.map(block, range(n_chunks)))
    q, e, d = (np.concatenate([p[i] for p in parts]) for i in range(3))
    return q, e, d


def snap_points(net: WalkNetwork, points: gpd.GeoSeries | gpd.GeoDataFrame, *,
                max_snap_m: float = DEFAULT_MAX_SNAP_M) -> SnapResult:
    """Snap points to the nearest point on the nearest edge of the network.

    Parameters
    ----------
    net
        The walk network.
    points
        Point GeoSeries/GeoDataFrame in any CRS (reprojected to the network's).
    max_snap_m
        Largest straight-line distance (metres) from a point to the network. Farther points
        are flagged (``ok=False``), not placed, and reported in ``.rejected``.

    Returns
    -------
    SnapResult
    """
    if not np.isfinite(max_snap_m) or max_snap_m < 0:
        raise ValidationError(f"max_snap_m must be a distance >= 0 in metres, got {max_snap_m}")
    geoms, index = _points_array(net, points)
    n = geoms.shape[0]
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    types = np.full(n, 1, dtype=np.int64)
    types[~missing] = shapely.get_type_id(geoms[~missing])
    not_point = (~missing) & (types != 0)
    if not_point.any():
        rows = np.flatnonzero(not_point)
        raise ValidationError(
            f"points must be Points; rows {[index[i] for i in rows[:5]]} are "
            f"{sorted(set(shapely.get_type_id(geoms[rows]).tolist()))} (geometry type ids); "
            "use .representative_point() for polygons")
    xy = np.full((n, 2), np.nan)
    xy[~missing] = shapely.get_coordinates(geoms[~missing])
    missing |= ~np.isfinite(xy).all(axis=1)
    valid = np.flatnonzero(~missing)

    edge = np.full(n, -1, dtype=np.int64)
    access = np.full(n, np.nan)
    frac = np.full(n, np.nan)
    if valid.size:
        pts = shapely.points(xy[valid])
        q, e, dist = _nearest_edges(net.edge_tree, pts)
        edge[valid[q]] = e
        access[valid[q]] = dist
        lines = net.edge_geometry[edge[valid]]
        f = shapely.line_locate_point(lines, pts, normalized=True)
        frac[valid] = np.where(np.isfinite(f), f, 0.0)
    has = edge >= 0
    u = np.full(n, -1, dtype=np.int64)
    v = np.full(n, -1, dtype=np.int64)
    u[has] = net.edge_u[edge[has]]
    v[has] = net.edge_v[edge[has]]
    length = np.full(n, np.nan)
    length[has] = net.edge_length[edge[has]]
    along_u = frac * length
    along_v = length - along_u
    sx = np.full(n, np.nan)
    sy = np.full(n, np.nan)
    if has.any():
        sp = shapely.line_interpolate_point(net.edge_geometry[edge[has]], frac[has],
                                            normalized=True)
        c = shapely.get_coordinates(sp)
        sx[has], sy[has] = c[:, 0], c[:, 1]
    far = has & (access > max_snap_m)
    ok = has & ~far
    reason = np.full(n, "", dtype=object)
    reason[~has] = REASON_MISSING
    reason[far] = REASON_FAR
    if (~ok).any():
        log.warning("snap_points: %d of %d points not placed (%d farther than %.0f m from the "
                    "network, %d without geometry); see SnapResult.rejected",
                    int((~ok).sum()), n, int(far.sum()), max_snap_m, int((~has).sum()))
    log.info("snap_points: %d points, median access %.1f m", n,
             float(np.nanmedian(access)) if has.any() else float("nan"))
    from cnmap.network.build import _readonly

    return SnapResult(index=index, edge=_readonly(edge), u=_readonly(u), v=_readonly(v),
                      fraction=_readonly(frac), along_u_m=_readonly(along_u),
                      along_v_m=_readonly(along_v), access_m=_readonly(access),
                      x=_readonly(sx), y=_readonly(sy), ok=_readonly(ok),
                      reason=_readonly(reason), max_snap_m=float(max_snap_m), crs=net.crs,
                      network_key=_net_key(net))
