"""Who reaches what: a sparse matrix of walking distances from every source to every point.

:func:`reach_matrix` answers, for each source (a candidate venue, an organisation) and each
point (a residential point), "how many metres is the walk, if it is within the cutoff?" It
runs one bounded Dijkstra search per source, once, in compiled code (numba) in parallel
threads, and keeps only the pairs within ``cutoff_m``: a ``scipy.sparse.csr_matrix`` of shape
``(n_sources, n_points)``.

The distances follow exactly the conventions of :mod:`cnmap.network`:

- a source or point is snapped onto the nearest point of the nearest walkable edge
  (:func:`cnmap.network.snap_points`), and the straight-line *access* distance to the street
  is added at both ends;
- a source on edge (u, v) starts the search at u with ``access + along_u`` and at v with
  ``access + along_v``; a point on edge (u', v') is reached at ``min(D[u'] + along_u',
  D[v'] + along_v') + access``;
- when the source and the point lie on the same edge, the direct walk along it
  (``|pos_point - pos_source| + both access distances``) is used when shorter;
- a pair counts when its distance is ``<= cutoff_m``.

So the row sums of ``reach_matrix(...) > 0`` are the counts of
:func:`cnmap.network.count_within` with ``points=``, and the column minima are the distances of
:func:`cnmap.network.distance_at_points` (where within the cutoff).

Sources or points that are not placed on the network (farther than ``max_snap_m`` from any
street, or without geometry) have empty rows / columns.

:func:`crow_flies_reach_matrix` is the straight-line twin (distance x detour factor), for
results computed in crow-flies mode.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import sparse

from cnmap import _check
from cnmap.errors import ValidationError
from cnmap.geo import to_bng
from cnmap.network import _kernels
from cnmap.network.paths import _in_threads, _point_tables, _threads
from cnmap.network.snap import SnapResult, snap_points

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd

    from cnmap.network.build import WalkNetwork

__all__ = ["reach_matrix", "crow_flies_reach_matrix"]

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# preparation


def _snapped(net: WalkNetwork, obj: Any, max_snap_m: float, what: str) -> SnapResult:
    if isinstance(obj, SnapResult):
        obj.check_network(net)
        return obj
    import geopandas as gpd

    if not isinstance(obj, gpd.GeoSeries | gpd.GeoDataFrame):
        raise ValidationError(
            f"{what} must be points (a GeoSeries or GeoDataFrame, or a "
            f"SnapResult from cnmap.network.snap_points), not "
            f"{type(obj).__name__}"
        )
    return snap_points(net, obj, max_snap_m=max_snap_m)


def _cutoff(cutoff_m: Any) -> float:
    c = _check.number("cutoff_m", cutoff_m, unit="metres")
    if c < 0:
        raise ValidationError(
            f"cutoff_m={cutoff_m!r} must be a finite distance >= 0 in metres "
            "(a reach matrix without a limit would be dense)"
        )
    return c


def _snap_limit(max_snap_m: Any) -> float:
    return _check.non_negative_number("max_snap_m", max_snap_m, unit="metres")


# ---------------------------------------------------------------------------------------------
# public


def _pairs(
    net: WalkNetwork, S: SnapResult, P: SnapResult, cutoff: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(source, point, metres) of every pair within ``cutoff``: one bounded search per placed
    source, the sources dealt to parallel threads."""
    placed = np.asarray(S.ok, dtype=bool)
    R = net._routing
    src_edge = np.where(placed, S.edge, -1).astype(np.int64)
    src_u = R.nodes(np.where(placed, S.u, 0).astype(np.int64))
    src_v = R.nodes(np.where(placed, S.v, 0).astype(np.int64))
    acc = np.nan_to_num(np.asarray(S.access_m, dtype=np.float64))
    au = np.nan_to_num(np.asarray(S.along_u_m, dtype=np.float64))
    av = np.nan_to_num(np.asarray(S.along_v_m, dtype=np.float64))
    node_ptr, node_pt, node_extra, edge_ptr, edge_pt, pt_pos, pt_acc = _point_tables(P, R)
    n_chunks = _threads(max(int(placed.sum()), 1))

    def chunk(c: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        out: tuple[np.ndarray, np.ndarray, np.ndarray] = _kernels.reach_chunk(
            R.indptr,
            R.indices,
            R.data,
            src_u,
            acc + au,
            src_v,
            acc + av,
            src_edge,
            au,
            acc,
            node_ptr,
            node_pt,
            node_extra,
            edge_ptr,
            edge_pt,
            pt_pos,
            pt_acc,
            cutoff,
            c,
            n_chunks,
        )
        return out

    parts = _in_threads(chunk, n_chunks)
    src, pt, dist = (np.concatenate([p[i] for p in parts]) for i in range(3))
    return src, pt, dist


def reach_matrix(
    net: WalkNetwork,
    sources: gpd.GeoSeries | gpd.GeoDataFrame | SnapResult,
    points: gpd.GeoSeries | gpd.GeoDataFrame | SnapResult,
    *,
    cutoff_m: float,
    max_snap_m: float = 500.0,
) -> sparse.csr_matrix:
    """Walking distance (metres) from every source to every point within ``cutoff_m``.

    Parameters
    ----------
    net
        The walk network (:func:`cnmap.network.read_walk_network`).
    sources
        Source points (GeoSeries/GeoDataFrame in any CRS, or a :class:`SnapResult` made on
        ``net``): one row each, in order.
    points
        Destination points (e.g. residential points): one column each, in order.
    cutoff_m
        Walking distance limit in metres; pairs with a distance ``<= cutoff_m`` are stored.
    max_snap_m
        Snapping limit: sources and points farther than this from any walkable edge are not
        placed and get an empty row / column.

    Returns
    -------
    scipy.sparse.csr_matrix
        Shape ``(len(sources), len(points))``, float64 metres, sorted column indices. Stored
        entries are exactly the pairs within the cutoff; a stored distance can be 0 (a source
        and a point at the same spot on a street), so use the sparsity structure
        (``m.indptr``/``m.indices``, or ``m.getnnz(axis=...)``), not ``m != 0``, to test reach.
    """
    cutoff = _cutoff(cutoff_m)
    max_snap_m = _snap_limit(max_snap_m)
    S = _snapped(net, sources, max_snap_m, "sources")
    P = _snapped(net, points, max_snap_m, "points")
    n_src, n_pts = len(S), len(P)
    pairs = _pairs(net, S, P, cutoff)
    order = np.argsort(pairs[0], kind="stable")
    row, idx, val = pairs[0][order], pairs[1][order], pairs[2][order]
    indptr = np.zeros(n_src + 1, dtype=np.int64)
    np.cumsum(np.bincount(row, minlength=n_src), out=indptr[1:])
    nnz = int(indptr[-1])
    placed = np.asarray(S.ok, dtype=bool)
    m = sparse.csr_matrix((val, idx, indptr), shape=(n_src, n_pts))
    m.sort_indices()
    log.info(
        "reach_matrix: %d sources (%d placed) x %d points (%d placed), cutoff %.0f m: %d pairs",
        n_src,
        int(placed.sum()),
        n_pts,
        int(np.asarray(P.ok).sum()),
        cutoff,
        nnz,
    )
    return m


def crow_flies_reach_matrix(
    sources: gpd.GeoSeries | gpd.GeoDataFrame,
    points: gpd.GeoSeries | gpd.GeoDataFrame,
    *,
    cutoff_m: float,
    detour_factor: float = 1.0,
) -> sparse.csr_matrix:
    """Straight-line twin of :func:`reach_matrix`: ``distance x detour_factor <= cutoff_m``.

    Both inputs are reprojected to EPSG:27700; missing geometries get empty rows / columns.
    The stored value is the straight-line distance times ``detour_factor`` (metres).
    """
    import geopandas as gpd
    from scipy.spatial import cKDTree

    cutoff = _cutoff(cutoff_m)
    detour_factor = _check.number(
        "detour_factor", detour_factor, unit="walking / straight-line distance"
    )
    if detour_factor < 1.0:
        raise ValidationError(f"detour_factor={detour_factor!r} must be >= 1")

    def xy(obj: Any, what: str) -> tuple[np.ndarray, np.ndarray]:
        if not isinstance(obj, gpd.GeoSeries | gpd.GeoDataFrame):
            raise ValidationError(f"{what} must be a GeoSeries or GeoDataFrame of points")
        gs = obj.geometry if isinstance(obj, gpd.GeoDataFrame) else obj
        if gs.crs is None:
            from cnmap.errors import CRSError

            raise CRSError(f"the {what} have no CRS; set it, e.g. .set_crs('EPSG:27700')")
        gs = to_bng(gs, name=f"the {what}")
        ok = ~(gs.isna() | gs.is_empty).to_numpy()
        c = np.full((len(gs), 2), np.nan)
        if ok.any():
            c[ok, 0] = gs[ok].x.to_numpy()
            c[ok, 1] = gs[ok].y.to_numpy()
        return c, ok

    s, sok = xy(sources, "sources")
    p, pok = xy(points, "points")
    si, pi = np.flatnonzero(sok), np.flatnonzero(pok)
    if si.size == 0 or pi.size == 0:
        return sparse.csr_matrix((len(s), len(p)), dtype=np.float64)
    d = cKDTree(s[si]).sparse_distance_matrix(
        cKDTree(p[pi]), max_distance=cutoff / detour_factor, output_type="coo_matrix"
    )
    # sparse_distance_matrix drops exact zeros: add coincident pairs back explicitly
    rows, cols, vals = d.row, d.col, d.data * detour_factor
    same = cKDTree(s[si]).query_ball_tree(cKDTree(p[pi]), r=0.0)
    extra = [(i, j) for i, js in enumerate(same) for j in js]
    if extra:
        er, ec = np.array(extra, dtype=np.int64).T
        have = set(zip(rows.tolist(), cols.tolist(), strict=True))
        add = np.array([(a, b) not in have for a, b in zip(er, ec, strict=True)], dtype=bool)
        rows = np.concatenate([rows, er[add]])
        cols = np.concatenate([cols, ec[add]])
        vals = np.concatenate([vals, np.zeros(int(add.sum()))])
    keep = vals <= cutoff
    m = sparse.csr_matrix((vals[keep], (si[rows[keep]], pi[cols[keep]])), shape=(len(s), len(p)))
    m.sort_indices()
    return m
