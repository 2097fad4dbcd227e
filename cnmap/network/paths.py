"""Shortest walking distances on the network's arrays (compiled Dijkstra, no Python loop over
nodes or organisations).

- :func:`distance_to_nearest` — one multi-source search: metres from every node to the nearest
  source (and which source it is);
- :func:`distance_at_points` — the same for snapped points (people), exact on the point's edge;
- :func:`count_within` — how many distinct sources lie within a walking distance of every node
  or point, optionally per group (e.g. organisation type).

Sources are node ids (array-like of integers; a pandas Series keeps its index as the source
labels) or points (GeoSeries/GeoDataFrame, or a :class:`SnapResult`), snapped onto the nearest
edge: a source on edge (u, v) starts the search at u with ``access + along_u`` and at v with
``access + along_v``. Distances are metres; a cutoff keeps everything ``<= cutoff_m``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from cnmap.errors import ValidationError
from cnmap.network import _kernels
from cnmap.network.build import NODE_ID
from cnmap.network.snap import DEFAULT_MAX_SNAP_M, SnapResult, snap_points

if TYPE_CHECKING:  # pragma: no cover
    from cnmap.network.build import WalkNetwork

__all__ = ["distance_to_nearest", "distance_at_points", "count_within"]

log = logging.getLogger(__name__)

DISTANCE = "distance_m"
SOURCE = "source"
COUNT = "count"


@dataclass(frozen=True)
class _Sources:
    """Sources prepared for the kernels (only the usable ones, ``active``)."""

    kind: str  # "nodes" or "points"
    labels: pd.Index  # labels of all input sources
    active: np.ndarray  # input positions of the sources searched from
    src_ptr: np.ndarray
    seed_node: np.ndarray
    seed_dist: np.ndarray
    edge: np.ndarray  # per active source; -1 for node sources
    pos: np.ndarray  # metres from the edge's u end
    access: np.ndarray
    n_unplaced: int

    @property
    def n(self) -> int:
        return int(self.labels.shape[0])


def _is_points(obj: Any) -> bool:
    import geopandas as gpd

    return isinstance(obj, SnapResult | gpd.GeoSeries | gpd.GeoDataFrame)


def _snap(net: WalkNetwork, points: Any, max_snap_m: float) -> SnapResult:
    if isinstance(points, SnapResult):
        points.check_network(net)
        return points
    return snap_points(net, points, max_snap_m=max_snap_m)


def _as_sources(net: WalkNetwork, sources: Any, max_snap_m: float) -> _Sources:
    if _is_points(sources):
        snap = _snap(net, sources, max_snap_m)
        active = np.flatnonzero(snap.ok)
        k = active.size
        seed_node = np.empty(2 * k, dtype=np.int64)
        seed_dist = np.empty(2 * k, dtype=np.float64)
        seed_node[0::2] = snap.u[active]
        seed_node[1::2] = snap.v[active]
        seed_dist[0::2] = snap.access_m[active] + snap.along_u_m[active]
        seed_dist[1::2] = snap.access_m[active] + snap.along_v_m[active]
        return _Sources("points", snap.index, active, np.arange(0, 2 * k + 1, 2, dtype=np.int64),
                        seed_node, seed_dist, snap.edge[active].astype(np.int64),
                        snap.along_u_m[active].astype(np.float64),
                        snap.access_m[active].astype(np.float64), int(len(snap) - k))
    if isinstance(sources, str | bytes) or np.isscalar(sources):
        raise ValidationError(f"sources must be node ids (array-like of integers) or points "
                              f"(GeoSeries/GeoDataFrame); got {sources!r}")
    labels = sources.index if isinstance(sources, pd.Series) else None
    ids = np.asarray(sources.to_numpy() if isinstance(sources, pd.Series) else sources)
    if ids.ndim != 1:
        ids = ids.ravel()
    if labels is None:
        labels = pd.RangeIndex(ids.shape[0])
    if ids.size and not np.issubdtype(ids.dtype, np.integer):
        try:
            f = ids.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise ValidationError("sources must be node ids (integers) or points "
                                  f"(GeoSeries/GeoDataFrame); got values of dtype {ids.dtype}") \
                from exc
        bad = ~np.isfinite(f) | (f != np.round(f))
        if bad.any():
            rows = [labels[i] for i in np.flatnonzero(bad)[:5]]
            raise ValidationError(f"source node ids must be whole numbers; rows {rows} are not "
                                  "(missing or fractional); drop or fix them")
        ids = f.astype(np.int64)
    pos = net.node_index(ids) if ids.size else np.zeros(0, dtype=np.int64)
    k = pos.size
    return _Sources("nodes", labels, np.arange(k), np.arange(k + 1, dtype=np.int64),
                    pos.astype(np.int64), np.zeros(k), np.full(k, -1, dtype=np.int64),
                    np.zeros(k), np.zeros(k), 0)


def _cutoff(cutoff_m: float | None, *, required: bool = False) -> float:
    if cutoff_m is None:
        if required:
            raise ValidationError("cutoff_m is required (metres); e.g. metres_for_minutes(15, "
                                  "4.8) = 1200")
        return float("inf")
    c = float(cutoff_m)
    if np.isnan(c) or c < 0:
        raise ValidationError(f"cutoff_m must be metres >= 0 (or None), got {cutoff_m!r}")
    return c


def _labels_at(labels: pd.Index, pos: np.ndarray) -> Any:
    """Source labels at input positions ``pos`` (-1 -> missing): a nullable integer array for
    integer labels, else an object array with None."""
    has = pos >= 0
    vals = labels.to_numpy()
    if np.issubdtype(vals.dtype, np.integer):
        taken = vals[np.where(has, pos, 0)] if vals.size else np.zeros(pos.shape[0], np.int64)
        return pd.arrays.IntegerArray(taken.astype(np.int64), ~has)
    out = np.full(pos.shape[0], None, dtype=object)
    out[has] = vals[pos[has]]
    return out


def distance_to_nearest(net: WalkNetwork, sources: Any, *, cutoff_m: float | None = None,
                        max_snap_m: float = DEFAULT_MAX_SNAP_M,
                        return_source: bool = False) -> pd.Series | pd.DataFrame:
    """Walking distance (metres) from every node to the nearest source: one multi-source search.

    Parameters
    ----------
    net
        The walk network.
    sources
        Node ids (array-like of integers; a Series keeps its index as source labels) or
        points (GeoSeries/GeoDataFrame, or a :class:`SnapResult`) snapped onto edges.
    cutoff_m
        Search limit in metres; nodes farther away get ``inf``. None: no limit.
    max_snap_m
        Snapping limit for point sources (farther points are left out, see
        :func:`snap_points`).
    return_source
        Also return which source is nearest (its label; missing where none within reach).

    Returns
    -------
    pandas.Series or pandas.DataFrame
        ``distance_m`` indexed by node id (``inf`` beyond the cutoff or unreachable), or with
        ``return_source`` a DataFrame with ``distance_m`` and ``source``. ``.attrs`` record
        ``cutoff_m``, ``n_sources``, ``n_sources_unplaced`` and ``source_kind``.
    """
    cutoff = _cutoff(cutoff_m)
    S = _as_sources(net, sources, max_snap_m)
    seed_label = np.repeat(S.active, np.diff(S.src_ptr)).astype(np.int64)
    dist, lab = _kernels.multi_source(net.indptr, net.indices, net.data, S.seed_node,
                                      S.seed_dist, seed_label, cutoff)
    index = pd.Index(net.node_ids, name=NODE_ID)
    attrs = {"cutoff_m": cutoff_m, "n_sources": S.n, "n_sources_unplaced": S.n_unplaced,
             "source_kind": S.kind, "max_snap_m": max_snap_m if S.kind == "points" else None}
    log.info("distance_to_nearest: %d sources (%d unplaced), cutoff %s m, %d of %d nodes "
             "reached", S.n, S.n_unplaced, cutoff_m, int(np.isfinite(dist).sum()), dist.size)
    if not return_source:
        out = pd.Series(dist, index=index, name=DISTANCE)
    else:
        out = pd.DataFrame({DISTANCE: dist, SOURCE: _labels_at(S.labels, lab)}, index=index)
    out.attrs.update(attrs)
    return out


def distance_at_points(net: WalkNetwork, node_distances: pd.Series | pd.DataFrame,
                       points: Any, *, sources: Any = None,
                       max_snap_m: float = DEFAULT_MAX_SNAP_M) -> pd.Series | pd.DataFrame:
    """Walking distance to the nearest source for snapped destination points (people).

    The distance at a point on edge (u, v) is ``min(D[u] + along_u, D[v] + along_v) + access``;
    when a source lies on the same edge, the direct walk along the edge
    (``|pos_point - pos_source| + access_point + access_source``) is used if shorter.

    Parameters
    ----------
    net
        The walk network.
    node_distances
        Output of :func:`distance_to_nearest` on ``net`` (Series, or DataFrame with
        ``source``, which is then carried over).
    points
        Destination points (GeoSeries/GeoDataFrame or :class:`SnapResult`).
    sources
        The point sources given to :func:`distance_to_nearest` (needed for the same-edge case;
        required when those sources were points). Ignored for node-id sources.
    max_snap_m
        Snapping limit for the points (and for ``sources`` given as points).

    Returns
    -------
    pandas.Series or pandas.DataFrame
        ``distance_m`` per point (index of ``points``): ``inf`` beyond the cutoff used for
        ``node_distances``, ``NaN`` for points not placed on the network (see
        :attr:`SnapResult.rejected`). With a ``source`` column in ``node_distances``, a
        DataFrame with ``distance_m`` and ``source``.
    """
    with_source = isinstance(node_distances, pd.DataFrame)
    col = node_distances[DISTANCE] if with_source else node_distances
    if not isinstance(col, pd.Series):
        raise ValidationError("node_distances must be the Series/DataFrame returned by "
                              "distance_to_nearest")
    if len(col) != net.n_nodes or not np.array_equal(col.index.to_numpy(), net.node_ids):
        try:
            col = col.reindex(pd.Index(net.node_ids, name=NODE_ID))
        except ValueError as exc:
            raise ValidationError("node_distances must be indexed by this network's node ids "
                                  "(distance_to_nearest output)") from exc
        if with_source:
            node_distances = node_distances.reindex(pd.Index(net.node_ids, name=NODE_ID))
    D = col.to_numpy(dtype=np.float64, na_value=np.inf)
    cutoff_m = node_distances.attrs.get("cutoff_m")
    cutoff = _cutoff(cutoff_m)
    kind = node_distances.attrs.get("source_kind")
    if kind == "points" and sources is None:
        raise ValidationError("node_distances came from point sources: pass the same sources= "
                              "so that a person and an organisation on the same street are "
                              "measured directly along it")

    P = _snap(net, points, max_snap_m)
    ok = P.ok
    m = len(P)
    d_u = np.full(m, np.inf)
    d_v = np.full(m, np.inf)
    d_u[ok] = D[P.u[ok]] + P.along_u_m[ok]
    d_v[ok] = D[P.v[ok]] + P.along_v_m[ok]
    use_v = d_v < d_u
    d = np.where(use_v, d_v, d_u)
    d[ok] += P.access_m[ok]
    src_node = np.where(use_v, P.v, P.u)
    direct = np.full(m, np.inf)
    direct_lab = np.full(m, -1, dtype=np.int64)
    if sources is not None and _is_points(sources):
        S = _as_sources(net, sources, max_snap_m)
        if S.active.size:
            o = np.argsort(S.edge, kind="stable")
            pe = np.where(ok, P.edge, -1).astype(np.int64)
            direct, direct_lab = _kernels.same_edge_nearest(
                pe, np.nan_to_num(P.along_u_m), np.nan_to_num(P.access_m), S.edge[o], S.pos[o],
                S.access[o], S.active[o].astype(np.int64))
    use_direct = direct < d
    d = np.where(use_direct, direct, d)
    d[d > cutoff] = np.inf
    d[~ok] = np.nan
    out_index = P.index
    if not with_source:
        out = pd.Series(d, index=out_index, name=DISTANCE)
    else:
        via_node = ok & np.isfinite(d) & ~use_direct
        src = pd.Series(pd.api.extensions.take(node_distances[SOURCE].array,
                                               np.where(via_node, src_node, -1),
                                               allow_fill=True))
        fill = ok & np.isfinite(d) & use_direct
        if fill.any():
            labs = pd.Series(_labels_at(S.labels, direct_lab))
            src = src.mask(pd.Series(fill), labs)
        out = pd.DataFrame({DISTANCE: d, SOURCE: src.to_numpy()}, index=out_index)
    out.attrs.update({"cutoff_m": cutoff_m, "n_points": m, "n_points_unplaced": int((~ok).sum()),
                      "max_snap_m": P.max_snap_m})
    return out


def _groups(sources: Any, groups: Any, n: int) -> tuple[np.ndarray, list[Any]]:
    if groups is None:
        return np.zeros(n, dtype=np.int64), []
    if isinstance(groups, str):
        if not hasattr(sources, "columns") or groups not in sources.columns:
            raise ValidationError(f"groups={groups!r} names no column of the sources; pass a "
                                  "column name of the sources GeoDataFrame or an array of labels")
        vals = sources[groups]
    else:
        vals = pd.Series(np.asarray(groups, dtype=object) if not isinstance(groups, pd.Series)
                         else groups.to_numpy())
    if len(vals) != n:
        raise ValidationError(f"groups has {len(vals)} values but there are {n} sources; give one "
                              "label per source")
    isna = pd.isna(pd.Series(np.asarray(vals, dtype=object))).to_numpy()
    if isna.any():
        rows = np.flatnonzero(isna)[:5].tolist()
        raise ValidationError(f"groups has missing labels at source positions {rows}; give "
                              "every source a group (e.g. 'other')")
    codes, uniques = pd.factorize(pd.Series(np.asarray(vals, dtype=object)), sort=True)
    return codes.astype(np.int64), list(uniques)


def _point_tables(P: SnapResult) -> tuple[np.ndarray, ...]:
    """CSR node -> (point, along + access) and edge -> points, for placed points."""
    ok = np.flatnonzero(P.ok)
    n_nodes = P.network_key[0]
    n_edges = P.network_key[1]
    nodes = np.concatenate([P.u[ok], P.v[ok]])
    pts = np.concatenate([ok, ok])
    extra = np.concatenate([P.along_u_m[ok] + P.access_m[ok], P.along_v_m[ok] + P.access_m[ok]])
    o = np.argsort(nodes, kind="stable")
    node_ptr = np.zeros(n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(nodes, minlength=n_nodes), out=node_ptr[1:])
    e = P.edge[ok]
    oe = np.argsort(e, kind="stable")
    edge_ptr = np.zeros(n_edges + 1, dtype=np.int64)
    np.cumsum(np.bincount(e, minlength=n_edges), out=edge_ptr[1:])
    pos = np.nan_to_num(P.along_u_m).astype(np.float64)
    acc = np.nan_to_num(P.access_m).astype(np.float64)
    return (node_ptr, pts[o].astype(np.int64), extra[o].astype(np.float64), edge_ptr,
            ok[oe].astype(np.int64), pos, acc)


def count_within(net: WalkNetwork, sources: Any, *, cutoff_m: float, groups: Any = None,
                 points: Any = None, max_snap_m: float = DEFAULT_MAX_SNAP_M) -> pd.DataFrame:
    """Number of distinct sources within ``cutoff_m`` metres' walk of every node (or point).

    Each source counts at most once per node/point, however many routes reach it; two
    sources at the same place are two sources. One bounded Dijkstra per (distinct) source,
    compiled and run in parallel threads.

    Parameters
    ----------
    net
        The walk network.
    sources
        Node ids or points (as for :func:`distance_to_nearest`).
    cutoff_m
        Walking distance limit in metres (a source exactly at the limit counts).
    groups
        Optional group label per source (array-like), or the name of a column of a sources
        GeoDataFrame (e.g. the organisation type): adds one count column per group.
    points
        Optional destination points (GeoSeries/GeoDataFrame or :class:`SnapResult`): count at
        these points instead of at the nodes; a source counts for a point when its walking
        distance to the point (via the point's edge ends, or directly along a shared edge,
        plus both access distances) is ``<= cutoff_m``.
    max_snap_m
        Snapping limit for point sources and points.

    Returns
    -------
    pandas.DataFrame
        Indexed by node id (or by the points' index): ``count`` and, with ``groups``, one
        column per group label (sorted). Point counts are nullable integers, missing for
        points not placed on the network. ``.attrs`` record the parameters.
    """
    import numba

    cutoff = _cutoff(cutoff_m, required=True)
    S = _as_sources(net, sources, max_snap_m)
    codes_all, labels = _groups(sources, groups, S.n)
    n_groups = max(len(labels), 1)
    code = codes_all[S.active]

    # merge identical sources (same seeds, edge position and group) into weights
    k = S.active.size
    sizes = np.diff(S.src_ptr)
    if k:
        a_node = S.seed_node[S.src_ptr[:-1]]
        b_node = np.where(sizes > 1, S.seed_node[np.minimum(S.src_ptr[:-1] + 1,
                                                           S.seed_node.size - 1)], -1)
        a_d = S.seed_dist[S.src_ptr[:-1]]
        b_d = np.where(sizes > 1, S.seed_dist[np.minimum(S.src_ptr[:-1] + 1,
                                                        S.seed_dist.size - 1)], 0.0)
        key = pd.DataFrame({"a": a_node, "b": b_node, "ad": a_d, "bd": b_d, "e": S.edge,
                            "p": S.pos, "x": S.access, "g": code})
        grp = key.groupby(list(key.columns), sort=False)
        first = grp.ngroup().to_numpy()
        _, rep = np.unique(first, return_index=True)
        weight = np.bincount(first).astype(np.int64)
    else:
        rep = np.zeros(0, dtype=np.int64)
        weight = np.zeros(0, dtype=np.int64)
    # rebuild the seed arrays for the representatives
    starts = S.src_ptr[:-1][rep]
    lens = sizes[rep]
    src_ptr = np.zeros(rep.size + 1, dtype=np.int64)
    np.cumsum(lens, out=src_ptr[1:])
    take = np.repeat(starts - src_ptr[:-1], lens) + np.arange(int(src_ptr[-1]))
    seed_node = S.seed_node[take]
    seed_dist = S.seed_dist[take]

    if points is not None:
        P = _snap(net, points, max_snap_m)
        (node_ptr, node_pt_idx, node_pt_extra, edge_ptr, edge_pt_idx, pt_pos,
         pt_acc) = _point_tables(P)
        n_points = len(P)
    else:
        P = None
        empty_i = np.zeros(0, dtype=np.int64)
        empty_f = np.zeros(0, dtype=np.float64)
        node_ptr = np.zeros(1, dtype=np.int64)
        edge_ptr = np.zeros(1, dtype=np.int64)
        node_pt_idx, node_pt_extra, edge_pt_idx = empty_i, empty_f, empty_i
        pt_pos, pt_acc = empty_f, empty_f
        n_points = 0
    n_chunks = max(1, min(numba.get_num_threads(), max(rep.size, 1)))
    node_counts, pt_counts = _kernels.count_within(
        net.indptr, net.indices, net.data, src_ptr, seed_node, seed_dist,
        code[rep].astype(np.int64), weight, n_groups, cutoff,
        node_ptr, node_pt_idx, node_pt_extra, S.edge[rep].astype(np.int64),
        S.pos[rep].astype(np.float64), S.access[rep].astype(np.float64), edge_ptr, edge_pt_idx,
        pt_pos, pt_acc, n_points, n_chunks)

    cols = [str(g) for g in labels]
    if COUNT in cols:
        raise ValidationError(f"a group is called {COUNT!r}, which clashes with the total column; "
                              "rename that group")
    attrs = {"cutoff_m": float(cutoff_m), "n_sources": S.n, "n_sources_unplaced": S.n_unplaced,
             "groups": cols, "source_kind": S.kind}
    if P is None:
        data = {COUNT: node_counts.sum(axis=1)}
        if labels:
            data.update({c: node_counts[:, j] for j, c in enumerate(cols)})
        out = pd.DataFrame(data, index=pd.Index(net.node_ids, name=NODE_ID))
    else:
        mask = ~P.ok

        def nullable(values: np.ndarray) -> pd.arrays.IntegerArray:
            return pd.arrays.IntegerArray(values.astype(np.int64), mask.copy())

        data = {COUNT: nullable(pt_counts.sum(axis=1))}
        if labels:
            data.update({c: nullable(pt_counts[:, j]) for j, c in enumerate(cols)})
        out = pd.DataFrame(data, index=P.index)
        attrs.update({"n_points": n_points, "n_points_unplaced": int(mask.sum())})
    out.attrs.update(attrs)
    log.info("count_within: %d sources (%d distinct searches), cutoff %.0f m, %s",
             S.n, rep.size, cutoff, "points" if P is not None else "nodes")
    return out
