"""Snap points (organisations, people) onto the nearest point of the nearest walkable edge.

Snapping is to an *edge*, not to its nearest node: a point halfway along a 300 m street is
150 m from either end, not 0 m from the nearer one. The straight-line walk from the point to
the street (the *access* distance) is added to every walking distance. Points farther than
``max_snap_m`` from any edge are flagged, not placed, and listed in ``SnapResult.rejected``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely

from cnmap.errors import CRSError, ValidationError

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd

    from cnmap.network.build import WalkNetwork

__all__ = ["SnapResult", "snap_points", "snap_points_together", "DEFAULT_MAX_SNAP_M"]

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
        """The number of points snapped."""
        return int(self.ok.sum())

    def to_frame(self) -> pd.DataFrame:
        """All snapping results as a DataFrame indexed like the input."""
        return pd.DataFrame(
            {
                "edge": self.edge,
                "u": self.u,
                "v": self.v,
                "fraction": self.fraction,
                "along_u_m": self.along_u_m,
                "along_v_m": self.along_v_m,
                "access_m": self.access_m,
                "x": self.x,
                "y": self.y,
                "ok": self.ok,
                "reason": pd.array(self.reason, dtype="str"),
            },
            index=self.index,
        )

    @property
    def rejected(self) -> pd.DataFrame:
        """Quality report: points not placed, with the reason and the distance found."""
        f = self.to_frame()
        return f.loc[~self.ok, ["reason", "access_m", "edge"]]

    def take(self, positions: Any) -> SnapResult:
        """The points at ``positions`` (integer positions, or a boolean mask over the points)
        as a :class:`SnapResult` of their own: the same as snapping only those points."""
        pos = np.asarray(positions)
        if pos.dtype == np.bool_:
            if pos.shape != (len(self),):
                raise ValidationError(
                    f"a mask over the points needs {len(self)} values, got {pos.shape[0]}"
                )
            pos = np.flatnonzero(pos)
        pos = pos.astype(np.int64, copy=False)
        if pos.size and (pos.min() < -len(self) or pos.max() >= len(self)):
            raise ValidationError(f"positions must be within 0..{len(self) - 1}")
        from cnmap.network.build import _readonly

        def cut(a: np.ndarray) -> np.ndarray:
            return _readonly(a[pos])

        return SnapResult(
            index=self.index[pos],
            edge=cut(self.edge),
            u=cut(self.u),
            v=cut(self.v),
            fraction=cut(self.fraction),
            along_u_m=cut(self.along_u_m),
            along_v_m=cut(self.along_v_m),
            access_m=cut(self.access_m),
            x=cut(self.x),
            y=cut(self.y),
            ok=cut(self.ok),
            reason=cut(self.reason),
            max_snap_m=self.max_snap_m,
            crs=self.crs,
            network_key=self.network_key,
        )

    def check_network(self, net: WalkNetwork) -> None:
        """Raise if these points were snapped on a different network."""
        if self.network_key != _net_key(net):
            raise ValidationError(
                "these points were snapped on a different network "
                f"({self.network_key[0]:,} nodes / {self.network_key[1]:,} "
                f"edges, not {net.n_nodes:,} / {net.n_edges:,}); snap them "
                "again with snap_points(net, points)"
            )


def _points_array(net: WalkNetwork, points: Any) -> tuple[np.ndarray, pd.Index]:
    import geopandas as gpd

    if isinstance(points, gpd.GeoDataFrame):
        gs = points.geometry
    elif isinstance(points, gpd.GeoSeries):
        gs = points
    else:
        raise ValidationError(
            f"points must be a GeoSeries or GeoDataFrame (got "
            f"{type(points).__name__}); build one with "
            "geopandas.points_from_xy(x, y, crs=...)"
        )
    if gs.crs is None:
        raise CRSError(
            "the points have no CRS; set it (e.g. .set_crs('EPSG:4326') for "
            "lon/lat or 'EPSG:27700' for eastings/northings)"
        )
    if gs.crs != net.crs:
        gs = gs.to_crs(net.crs)
    return np.asarray(gs.to_numpy(), dtype=object), points.index


#: Points per thread below which the nearest-edge queries run in one thread.
THREAD_MIN_POINTS = 20_000


def _nearest_edges(
    tree: shapely.STRtree, pts: np.ndarray, max_distance: float | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(query position, nearest edge, distance) for every point: GEOS's nearest-neighbour
    search, in parallel threads over contiguous blocks of the points for large inputs (GEOS
    releases the GIL; each point's answer does not depend on the others)."""
    import os

    n_chunks = max(1, min(os.cpu_count() or 1, pts.shape[0] // THREAD_MIN_POINTS))

    def block(c: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        lo, hi = bounds[c], bounds[c + 1]
        (q, e), d = tree.query_nearest(
            pts[lo:hi], max_distance=max_distance, return_distance=True, all_matches=False
        )
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


Located = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]

#: Networks with at least this many edges, whose LineStrings have not been made, are snapped
#: cell by cell (the LineStrings of one cell of the map at a time) rather than all at once.
SNAP_BY_CELL_MIN_EDGES = 1_000_000
#: Side of a snapping cell and the first margin around it (metres).
SNAP_CELL_M = 10_000.0
SNAP_MARGIN_M = 1_000.0


#: Grid cell (metres) of the nearest-segment search of large networks, and how far it looks.
SNAP_GRID_CELL_M = 100.0
SNAP_GRID_MAX_CELLS = 60_000_000


def _locate(net: WalkNetwork, xy: np.ndarray, max_snap_m: float) -> Located:
    """(nearest edge, distance, fraction along it, snap x, snap y) of finite points."""
    if net.n_edges >= SNAP_BY_CELL_MIN_EDGES and not net.geometry_built:
        return _locate_by_grid(net, xy, max(SNAP_MARGIN_M, max_snap_m))
    return _locate_on(net.edge_tree, net.edge_geometry, np.arange(net.n_edges), xy)


def _locate_by_grid(net: WalkNetwork, xy: np.ndarray, reach_m: float) -> Located:
    """:func:`_locate` for a large network without its LineStrings: the nearest segment of
    every point through a grid of segments (compiled), looking up to ``reach_m`` away; then
    GEOS's distance, position along the edge and snap point on the edges found (their
    LineStrings only). Points with no edge within ``reach_m`` are looked for cell by cell."""
    edge = _nearest_by_grid(net, xy, reach_m)  # the grid is let go before GEOS measures
    found = edge >= 0
    out = [np.full(xy.shape[0], -1, dtype=np.int64)] + [
        np.full(xy.shape[0], np.nan) for _ in range(4)
    ]
    if found.any():
        rows = np.flatnonzero(found)
        out[0][rows] = edge[rows]
        _measure_on_edges(net.edge_coords, edge[rows], xy[rows], rows, out)
    if not found.all():
        rest = _locate_by_cell(net, xy[~found], reach_m)
        for arr, val in zip(out, rest, strict=True):
            arr[~found] = val
    return out[0], out[1], out[2], out[3], out[4]


def _nearest_by_grid(net: WalkNetwork, xy: np.ndarray, reach_m: float) -> np.ndarray:
    """The nearest edge of every point (-1: none within ``reach_m``), through a grid of the
    network's segments (compiled, in parallel threads)."""
    from cnmap.network import _kernels
    from cnmap.network.paths import _in_threads, _threads

    flat = net.edge_coords
    lo_xy, hi_xy = flat.coords.min(axis=0), flat.coords.max(axis=0)
    cell = SNAP_GRID_CELL_M
    while np.prod(np.floor((hi_xy - lo_xy) / cell) + 1) > SNAP_GRID_MAX_CELLS:
        cell *= 2.0
    ncx, ncy = (int(v) for v in np.floor((hi_xy - lo_xy) / cell) + 1)
    cell_ptr, cell_seg, seg_edge = _kernels.segment_grid(
        flat.coords, flat.offsets, lo_xy[0], lo_xy[1], cell, ncx, ncy
    )
    rings = int(np.ceil(reach_m / cell))
    n_chunks = _threads(max(xy.shape[0] // 10_000, 1))
    bounds = np.linspace(0, xy.shape[0], n_chunks + 1).astype(np.int64)

    def part(c: int) -> tuple[np.ndarray, np.ndarray]:
        out: tuple[np.ndarray, np.ndarray] = _kernels.nearest_segment(
            xy,
            flat.coords,
            cell_ptr,
            cell_seg,
            seg_edge,
            lo_xy[0],
            lo_xy[1],
            cell,
            ncx,
            ncy,
            rings,
            bounds[c],
            bounds[c + 1],
        )
        return out

    return np.concatenate([p[0] for p in _in_threads(part, n_chunks)])


#: Points measured on their edges by GEOS at a time (the LineStrings and Points of one block
#: are let go before the next: the memory held stays that of a block).
MEASURE_BLOCK = 200_000


def _measure_on_edges(
    flat: Any, edge: np.ndarray, xy: np.ndarray, rows: np.ndarray, out: list[np.ndarray]
) -> None:
    """GEOS's distance, fraction along the edge (0 where GEOS gives none) and snap point of
    every point ``xy`` on its edge ``edge``, written into ``out[1:]`` at ``rows``: blocks of
    :data:`MEASURE_BLOCK` points, in parallel threads (GEOS releases the GIL; each point's
    answer is its own, so the numbers do not depend on the blocks)."""
    from cnmap.network.paths import _in_threads, _threads

    n_blocks = -(-rows.size // MEASURE_BLOCK)
    n_workers = _threads(n_blocks)

    def block(b: int) -> None:
        lo, hi = b * MEASURE_BLOCK, min((b + 1) * MEASURE_BLOCK, rows.size)
        ids, inverse = np.unique(edge[lo:hi], return_inverse=True)
        mine = _lines(flat, ids)[inverse]
        pts = shapely.points(xy[lo:hi])
        f = shapely.line_locate_point(mine, pts, normalized=True)
        frac = np.where(np.isfinite(f), f, 0.0)
        c = shapely.get_coordinates(shapely.line_interpolate_point(mine, frac, normalized=True))
        at = rows[lo:hi]
        out[1][at] = shapely.distance(mine, pts)
        out[2][at] = frac
        out[3][at] = c[:, 0]
        out[4][at] = c[:, 1]

    def worker(w: int) -> None:
        for b in range(w, n_blocks, n_workers):
            block(b)

    _in_threads(worker, n_workers)


def _lines(flat: Any, ids: np.ndarray) -> np.ndarray:
    """LineStrings of the edges ``ids`` from the flat coordinates."""
    nv = flat.offsets[ids + 1] - flat.offsets[ids]
    vert = np.repeat(flat.offsets[ids] - (np.cumsum(nv) - nv), nv) + np.arange(int(nv.sum()))
    lines: np.ndarray = shapely.linestrings(
        flat.coords[vert], indices=np.repeat(np.arange(ids.size), nv)
    )
    return lines


def _locate_on(
    tree: shapely.STRtree,
    lines: np.ndarray,
    edge_ids: np.ndarray,
    xy: np.ndarray,
    max_distance: float | None = None,
) -> Located:
    """Nearest of ``lines`` (edges ``edge_ids``, in ``tree``) to every point, where on it
    (fraction of its length; 0 where GEOS gives none) and the snap point. With
    ``max_distance``, points farther than that from every line get edge -1 and NaN."""
    pts = shapely.points(xy)
    q, e, dist = _nearest_edges(tree, pts, max_distance)
    n = xy.shape[0]
    near = np.full(n, -1, dtype=np.int64)
    access = np.full(n, np.nan)
    near[q] = e
    access[q] = dist
    frac = np.full(n, np.nan)
    sx = np.full(n, np.nan)
    sy = np.full(n, np.nan)
    mine = lines[near[q]]
    f = shapely.line_locate_point(mine, pts[q], normalized=True)
    frac[q] = np.where(np.isfinite(f), f, 0.0)
    c = shapely.get_coordinates(shapely.line_interpolate_point(mine, frac[q], normalized=True))
    sx[q], sy[q] = c[:, 0], c[:, 1]
    edge = np.full(n, -1, dtype=np.int64)
    edge[q] = edge_ids[near[q]]
    return edge, access, frac, sx, sy


def _edge_boxes(net: WalkNetwork) -> np.ndarray:
    """(xmin, ymin, xmax, ymax) of every edge, from the flat coordinates."""
    flat = net.edge_coords
    starts = flat.offsets[:-1]
    x, y = flat.coords[:, 0], flat.coords[:, 1]
    return np.column_stack(
        [
            np.minimum.reduceat(x, starts),
            np.minimum.reduceat(y, starts),
            np.maximum.reduceat(x, starts),
            np.maximum.reduceat(y, starts),
        ]
    )


def _cell_edges(
    boxes: np.ndarray, origin: np.ndarray, margin: float, cells: np.ndarray, n_cols: int
) -> tuple[np.ndarray, np.ndarray]:
    """CSR (over ``cells``, sorted keys) of the edges whose box comes within ``margin`` of
    each cell."""
    if margin > SNAP_CELL_M:  # a later round: few cells, each against every edge box
        parts = [_near_box(boxes, origin, margin, int(c), n_cols) for c in cells]
        ptr = np.zeros(cells.size + 1, dtype=np.int64)
        np.cumsum([p.size for p in parts], out=ptr[1:])
        return ptr, np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    lo = np.floor((boxes[:, :2] - margin - origin) / SNAP_CELL_M).astype(np.int64)
    hi = np.floor((boxes[:, 2:] + margin - origin) / SNAP_CELL_M).astype(np.int64)
    lo, hi = np.clip(lo, 0, None), np.clip(hi, 0, None)
    nx_, ny_ = hi[:, 0] - lo[:, 0] + 1, hi[:, 1] - lo[:, 1] + 1
    tot = nx_ * ny_
    edge = np.repeat(np.arange(boxes.shape[0]), tot)
    k = np.arange(int(tot.sum())) - np.repeat(np.cumsum(tot) - tot, tot)
    key = (lo[edge, 1] + k // nx_[edge]) * n_cols + lo[edge, 0] + k % nx_[edge]
    keep = np.isin(key, cells)
    edge, key = edge[keep], key[keep]
    o = np.argsort(key, kind="stable")
    ptr = np.searchsorted(key[o], np.concatenate([cells, [np.iinfo(np.int64).max]]))
    return ptr, edge[o]


def _near_box(
    boxes: np.ndarray, origin: np.ndarray, margin: float, cell: int, n_cols: int
) -> np.ndarray:
    """Edges whose box comes within ``margin`` of cell ``cell``."""
    x0 = origin[0] + (cell % n_cols) * SNAP_CELL_M - margin
    y0 = origin[1] + (cell // n_cols) * SNAP_CELL_M - margin
    x1, y1 = x0 + SNAP_CELL_M + 2 * margin, y0 + SNAP_CELL_M + 2 * margin
    hit = (boxes[:, 2] >= x0) & (boxes[:, 0] <= x1) & (boxes[:, 3] >= y0) & (boxes[:, 1] <= y1)
    return np.flatnonzero(hit)


def _locate_by_cell(net: WalkNetwork, xy: np.ndarray, margin: float) -> Located:
    """:func:`_locate`, one square cell of points at a time, each against the edges within
    ``margin`` of the cell (their LineStrings made for that cell only). A point farther than
    ``margin`` from every such edge is looked for again with a four times larger margin, so
    every answer is the nearest edge of the whole network (among edges at exactly the same
    distance, the one GEOS meets first in the cell's tree)."""
    boxes = _edge_boxes(net)
    origin = boxes[:, :2].min(axis=0)
    n_cols = int((boxes[:, 2].max() - origin[0]) // SNAP_CELL_M) + 2
    cell = np.floor((xy - origin) / SNAP_CELL_M).astype(np.int64)
    # a point off the grid is looked for in the nearest cell, and trusted only once every
    # edge is a candidate (the last round)
    inside = (cell >= 0).all(axis=1) & (cell[:, 0] < n_cols)
    cell = np.clip(cell, 0, None)
    key = cell[:, 1] * n_cols + np.minimum(cell[:, 0], n_cols - 1)
    out: list[np.ndarray] = [np.full(xy.shape[0], -1, dtype=np.int64)] + [
        np.full(xy.shape[0], np.nan) for _ in range(4)
    ]
    todo = np.arange(xy.shape[0])
    span = float(np.hypot(*(boxes[:, 2:].max(axis=0) - origin)))
    while todo.size:
        last = margin >= span
        _cells_round(net, xy, key, todo, (boxes, origin, n_cols), margin, out)
        found = (out[1][todo] <= margin) & inside[todo]
        todo = todo[~found] if not last else todo[:0]
        margin *= 4.0
    return out[0], out[1], out[2], out[3], out[4]


def _cells_round(
    net: WalkNetwork,
    xy: np.ndarray,
    key: np.ndarray,
    todo: np.ndarray,
    grid: tuple[np.ndarray, np.ndarray, int],
    margin: float,
    out: list[np.ndarray],
) -> None:
    """One pass over the cells holding the points ``todo`` (results written into ``out``);
    ``grid`` is the edges' boxes, the grid's origin and its number of columns."""
    boxes, origin, n_cols = grid
    cells, inverse = np.unique(key[todo], return_inverse=True)
    ptr, edges = _cell_edges(boxes, origin, margin, cells, n_cols)
    order = np.argsort(inverse, kind="stable")
    pptr = np.searchsorted(inverse[order], np.arange(cells.size + 1))
    flat = net.edge_coords

    def job(c: int) -> None:
        ids = edges[ptr[c] : ptr[c + 1]]
        pts = todo[order[pptr[c] : pptr[c + 1]]]
        if ids.size == 0:
            return
        lines = _lines(flat, ids)
        # (GEOS's max_distance would drop the points beyond the margin, but measured slower)
        got = _locate_on(shapely.STRtree(lines), lines, ids, xy[pts])
        for arr, val in zip(out, got, strict=True):
            arr[pts] = val

    import os
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=max(1, min(os.cpu_count() or 1, cells.size))) as pool:
        list(pool.map(job, range(cells.size)))


def snap_points(
    net: WalkNetwork,
    points: gpd.GeoSeries | gpd.GeoDataFrame,
    *,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
) -> SnapResult:
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
    return snap_points_together(net, [points], max_snap_m=max_snap_m)[0]


def snap_points_together(
    net: WalkNetwork,
    parts: Sequence[gpd.GeoSeries | gpd.GeoDataFrame],
    *,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
) -> list[SnapResult]:
    """:func:`snap_points` for several sets of points (e.g. people and organisations) in one
    pass over the network: each set's result is the one :func:`snap_points` gives it."""
    if not np.isfinite(max_snap_m) or max_snap_m < 0:
        raise ValidationError(f"max_snap_m must be a distance >= 0 in metres, got {max_snap_m}")
    inputs = [_checked_points(net, points) for points in parts]
    xy = np.concatenate([x for x, _ in inputs]) if inputs else np.zeros((0, 2))
    valid = np.flatnonzero(np.isfinite(xy).all(axis=1))
    n = xy.shape[0]
    cols = {
        "edge": np.full(n, -1, dtype=np.int64),
        "access": np.full(n, np.nan),
        "frac": np.full(n, np.nan),
        "x": np.full(n, np.nan),
        "y": np.full(n, np.nan),
    }
    if valid.size:
        located = _locate(net, xy[valid], max_snap_m)
        for arr, val in zip(cols.values(), located, strict=True):
            arr[valid] = val
    out, start = [], 0
    for _, index in inputs:
        part = slice(start, start + len(index))
        out.append(_result(net, index, {k: v[part] for k, v in cols.items()}, max_snap_m))
        start = part.stop
    return out


def _checked_points(net: WalkNetwork, points: Any) -> tuple[np.ndarray, pd.Index]:
    """The points' coordinates in the network's CRS (NaN for missing, empty or non-finite
    geometries) and their index; raises for geometries that are not points."""
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
            "use .representative_point() for polygons"
        )
    xy = np.full((n, 2), np.nan)
    xy[~missing] = shapely.get_coordinates(geoms[~missing])
    return xy, index


def _result(
    net: WalkNetwork, index: pd.Index, cols: dict[str, np.ndarray], max_snap_m: float
) -> SnapResult:
    """The :class:`SnapResult` of one set of points from where they were located."""
    from cnmap.network.build import _readonly

    n = len(index)
    edge, access, frac = cols["edge"], cols["access"], cols["frac"]
    has = edge >= 0
    u = np.full(n, -1, dtype=np.int64)
    v = np.full(n, -1, dtype=np.int64)
    u[has] = net.edge_u[edge[has]]
    v[has] = net.edge_v[edge[has]]
    length = np.full(n, np.nan)
    length[has] = net.edge_length[edge[has]]
    along_u = frac * length
    along_v = length - along_u
    far = has & (access > max_snap_m)
    ok = has & ~far
    reason = np.full(n, "", dtype=object)
    reason[~has] = REASON_MISSING
    reason[far] = REASON_FAR
    if (~ok).any():
        log.warning(
            "snap_points: %d of %d points not placed (%d farther than %.0f m from the "
            "network, %d without geometry); see SnapResult.rejected",
            int((~ok).sum()),
            n,
            int(far.sum()),
            max_snap_m,
            int((~has).sum()),
        )
    log.info(
        "snap_points: %d points, median access %.1f m",
        n,
        float(np.nanmedian(access)) if has.any() else float("nan"),
    )
    return SnapResult(
        index=index,
        edge=_readonly(edge),
        u=_readonly(u),
        v=_readonly(v),
        fraction=_readonly(frac),
        along_u_m=_readonly(along_u),
        along_v_m=_readonly(along_v),
        access_m=_readonly(access),
        x=_readonly(cols["x"]),
        y=_readonly(cols["y"]),
        ok=_readonly(ok),
        reason=_readonly(reason),
        max_snap_m=float(max_snap_m),
        crs=net.crs,
        network_key=_net_key(net),
    )
