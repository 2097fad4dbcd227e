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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from cnmap.errors import ValidationError
from cnmap.network import _kernels
from cnmap.network.build import NODE_ID, Routing
from cnmap.network.snap import DEFAULT_MAX_SNAP_M, SnapResult, snap_points

if TYPE_CHECKING:  # pragma: no cover
    from cnmap.network.build import WalkNetwork

__all__ = [
    "distance_to_nearest",
    "distance_at_points",
    "count_within",
    "count_within_limits",
    "nearest_by_group",
    "LimitCounts",
]

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
        return _Sources(
            "points",
            snap.index,
            active,
            np.arange(0, 2 * k + 1, 2, dtype=np.int64),
            seed_node,
            seed_dist,
            snap.edge[active].astype(np.int64),
            snap.along_u_m[active].astype(np.float64),
            snap.access_m[active].astype(np.float64),
            int(len(snap) - k),
        )
    if isinstance(sources, str | bytes) or np.isscalar(sources):
        raise ValidationError(
            f"sources must be node ids (array-like of integers) or points "
            f"(GeoSeries/GeoDataFrame); got {sources!r}"
        )
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
            raise ValidationError(
                "sources must be node ids (integers) or points "
                f"(GeoSeries/GeoDataFrame); got values of dtype {ids.dtype}"
            ) from exc
        bad = ~np.isfinite(f) | (f != np.round(f))
        if bad.any():
            rows = [labels[i] for i in np.flatnonzero(bad)[:5]]
            raise ValidationError(
                f"source node ids must be whole numbers; rows {rows} are not "
                "(missing or fractional); drop or fix them"
            )
        ids = f.astype(np.int64)
    pos = net.node_index(ids) if ids.size else np.zeros(0, dtype=np.int64)
    k = pos.size
    return _Sources(
        "nodes",
        labels,
        np.arange(k),
        np.arange(k + 1, dtype=np.int64),
        pos.astype(np.int64),
        np.zeros(k),
        np.full(k, -1, dtype=np.int64),
        np.zeros(k),
        np.zeros(k),
        0,
    )


def _cutoff(cutoff_m: float | None, *, required: bool = False) -> float:
    if cutoff_m is None:
        if required:
            raise ValidationError(
                "cutoff_m is required (metres); e.g. metres_for_minutes(15, 4.8) = 1200"
            )
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


def distance_to_nearest(
    net: WalkNetwork,
    sources: Any,
    *,
    cutoff_m: float | None = None,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
    return_source: bool = False,
) -> pd.Series | pd.DataFrame:
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
    R = net._routing
    dist, lab = _kernels.multi_source(
        R.indptr, R.indices, R.data, R.nodes(S.seed_node), S.seed_dist, seed_label, cutoff
    )
    dist, lab = R.by_node(dist), R.by_node(lab)
    index = pd.Index(net.node_ids, name=NODE_ID)
    attrs = {
        "cutoff_m": cutoff_m,
        "n_sources": S.n,
        "n_sources_unplaced": S.n_unplaced,
        "source_kind": S.kind,
        "max_snap_m": max_snap_m if S.kind == "points" else None,
    }
    log.info(
        "distance_to_nearest: %d sources (%d unplaced), cutoff %s m, %d of %d nodes reached",
        S.n,
        S.n_unplaced,
        cutoff_m,
        int(np.isfinite(dist).sum()),
        dist.size,
    )
    if not return_source:
        out = pd.Series(dist, index=index, name=DISTANCE)
    else:
        out = pd.DataFrame({DISTANCE: dist, SOURCE: _labels_at(S.labels, lab)}, index=index)
    out.attrs.update(attrs)
    return out


def _same_edge_nearest(
    pt_edge: np.ndarray,
    pt_pos: np.ndarray,
    pt_access: np.ndarray,
    src_edge: np.ndarray,
    src_pos: np.ndarray,
    src_access: np.ndarray,
    src_label: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """For every point, the shortest direct along-edge walk to a source on its own edge
    (``|pos_point - pos_source| + access_source + access_point``) and that source's label
    (the first in input order among equals); inf / -1 where no source shares the edge."""
    m = pt_edge.shape[0]
    out = np.full(m, np.inf)
    lab = np.full(m, -1, dtype=np.int64)
    if m == 0 or src_edge.size == 0:
        return out, lab
    o = np.argsort(src_edge, kind="stable")
    se = src_edge[o]
    lo = np.searchsorted(se, pt_edge, side="left")
    n = np.searchsorted(se, pt_edge, side="right") - lo
    n[pt_edge < 0] = 0
    if not n.any():
        return out, lab
    pi = np.repeat(np.arange(m), n)
    sj = o[np.repeat(lo - (np.cumsum(n) - n), n) + np.arange(int(n.sum()))]
    d = np.abs(pt_pos[pi] - src_pos[sj]) + src_access[sj] + pt_access[pi]
    first = np.lexsort((sj, d, pi))
    keep = first[np.r_[True, pi[first][1:] != pi[first][:-1]]]
    out[pi[keep]] = d[keep]
    lab[pi[keep]] = src_label[sj[keep]]
    return out, lab


def _via_ends(D: np.ndarray, P: SnapResult) -> tuple[np.ndarray, np.ndarray]:
    """Distance at every point through the nearer end of its edge (``min(D[u] + along_u,
    D[v] + along_v) + access``; inf for points not placed) and whether that end is ``v``."""
    ok = P.ok
    m = len(P)
    d_u = np.full(m, np.inf)
    d_v = np.full(m, np.inf)
    d_u[ok] = D[P.u[ok]] + P.along_u_m[ok]
    d_v[ok] = D[P.v[ok]] + P.along_v_m[ok]
    use_v = d_v < d_u
    d = np.where(use_v, d_v, d_u)
    d[ok] += P.access_m[ok]
    return d, use_v


def _point_edges(P: SnapResult) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every point's edge (-1: not placed), position along it and access, for
    :func:`_same_edge_nearest`."""
    pe = np.where(P.ok, P.edge, -1).astype(np.int64)
    return pe, np.nan_to_num(P.along_u_m), np.nan_to_num(P.access_m)


def _direct(
    P: SnapResult,
    S: _Sources,
    sel: np.ndarray | None = None,
    at: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The same-edge walk from the point sources ``S`` (those of ``sel``, a mask over the
    active sources, when given) to every point of ``P`` (label = the source's input
    position); ``at`` is :func:`_point_edges` of ``P`` when already made."""
    pe, pos, acc = _point_edges(P) if at is None else at
    keep = slice(None) if sel is None else sel
    return _same_edge_nearest(
        pe,
        pos,
        acc,
        S.edge[keep],
        S.pos[keep],
        S.access[keep],
        S.active[keep].astype(np.int64),
    )


def distance_at_points(
    net: WalkNetwork,
    node_distances: pd.Series | pd.DataFrame,
    points: Any,
    *,
    sources: Any = None,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
) -> pd.Series | pd.DataFrame:
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
        raise ValidationError(
            "node_distances must be the Series/DataFrame returned by distance_to_nearest"
        )
    if len(col) != net.n_nodes or not np.array_equal(col.index.to_numpy(), net.node_ids):
        try:
            col = col.reindex(pd.Index(net.node_ids, name=NODE_ID))
        except ValueError as exc:
            raise ValidationError(
                "node_distances must be indexed by this network's node ids "
                "(distance_to_nearest output)"
            ) from exc
        if with_source:
            node_distances = node_distances.reindex(pd.Index(net.node_ids, name=NODE_ID))
    D = col.to_numpy(dtype=np.float64, na_value=np.inf)
    cutoff_m = node_distances.attrs.get("cutoff_m")
    cutoff = _cutoff(cutoff_m)
    kind = node_distances.attrs.get("source_kind")
    if kind == "points" and sources is None:
        raise ValidationError(
            "node_distances came from point sources: pass the same sources= "
            "so that a person and an organisation on the same street are "
            "measured directly along it"
        )

    P = _snap(net, points, max_snap_m)
    ok = P.ok
    m = len(P)
    d, use_v = _via_ends(D, P)
    src_node = np.where(use_v, P.v, P.u)
    direct = np.full(m, np.inf)
    direct_lab = np.full(m, -1, dtype=np.int64)
    if sources is not None and _is_points(sources):
        S = _as_sources(net, sources, max_snap_m)
        direct, direct_lab = _direct(P, S)
    use_direct = direct < d
    d = np.where(use_direct, direct, d)
    d[d > cutoff] = np.inf
    d[~ok] = np.nan
    out_index = P.index
    if not with_source:
        out = pd.Series(d, index=out_index, name=DISTANCE)
    else:
        via_node = ok & np.isfinite(d) & ~use_direct
        src = pd.Series(
            pd.api.extensions.take(
                node_distances[SOURCE].array, np.where(via_node, src_node, -1), allow_fill=True
            )
        )
        fill = ok & np.isfinite(d) & use_direct
        if fill.any():
            labs = pd.Series(_labels_at(S.labels, direct_lab))
            src = src.mask(pd.Series(fill), labs)
        out = pd.DataFrame({DISTANCE: d, SOURCE: src.to_numpy()}, index=out_index)
    out.attrs.update(
        {
            "cutoff_m": cutoff_m,
            "n_points": m,
            "n_points_unplaced": int((~ok).sum()),
            "max_snap_m": P.max_snap_m,
        }
    )
    return out


# ---------------------------------------------------------------------------------------------
# by group: the nearest source of every group, and counts within several limits


def _threads(n_jobs: int) -> int:
    """Worker threads for ``n_jobs`` independent searches (numba's thread count, at most)."""
    import numba

    return max(1, min(int(numba.get_num_threads()), n_jobs))


def _in_threads(fn: Callable[[int], Any], n_chunks: int) -> list[Any]:
    """``[fn(0), ..., fn(n_chunks - 1)]``, run in threads (the kernels release the GIL)."""
    if n_chunks <= 1:
        return [fn(0)]
    with ThreadPoolExecutor(max_workers=n_chunks) as pool:
        return list(pool.map(fn, range(n_chunks)))


def _groups(sources: Any, groups: Any, n: int) -> tuple[np.ndarray, list[Any]]:
    if groups is None:
        return np.zeros(n, dtype=np.int64), []
    if isinstance(groups, str):
        if not hasattr(sources, "columns") or groups not in sources.columns:
            raise ValidationError(
                f"groups={groups!r} names no column of the sources; pass a "
                "column name of the sources GeoDataFrame or an array of labels"
            )
        vals = sources[groups]
    else:
        vals = pd.Series(
            np.asarray(groups, dtype=object)
            if not isinstance(groups, pd.Series)
            else groups.to_numpy()
        )
    if len(vals) != n:
        raise ValidationError(
            f"groups has {len(vals)} values but there are {n} sources; give one label per source"
        )
    isna = pd.isna(pd.Series(np.asarray(vals, dtype=object))).to_numpy()
    if isna.any():
        rows = np.flatnonzero(isna)[:5].tolist()
        raise ValidationError(
            f"groups has missing labels at source positions {rows}; give "
            "every source a group (e.g. 'other')"
        )
    codes, uniques = pd.factorize(pd.Series(np.asarray(vals, dtype=object)), sort=True)
    return codes.astype(np.int64), list(uniques)


def nearest_by_group(
    net: WalkNetwork,
    sources: Any,
    points: Any,
    *,
    groups: Any,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
) -> pd.DataFrame:
    """Walking distance (metres) from every point to the nearest source of each group.

    One search per group from that group's sources (no cutoff), run in parallel threads; the
    sources are snapped once for all groups. Each column equals :func:`distance_to_nearest`
    on that group's sources followed by :func:`distance_at_points` (same-edge walks
    included).

    Parameters
    ----------
    net
        The walk network.
    sources
        Node ids or points (as for :func:`distance_to_nearest`).
    points
        Destination points (GeoSeries/GeoDataFrame or :class:`SnapResult`).
    groups
        A group label per source, or the name of a column of a sources GeoDataFrame.
    max_snap_m
        Snapping limit for point sources and points.

    Returns
    -------
    pandas.DataFrame
        One column per group label (sorted), indexed like ``points``: ``inf`` where no source
        of the group can be reached, ``NaN`` for points not placed.
    """
    S = _as_sources(net, sources, max_snap_m)
    codes, labels = _groups(sources, groups, S.n)
    P = _snap(net, points, max_snap_m)
    out = _nearest_by_code(net, S, codes[S.active], max(len(labels), 1), P)
    cols = [str(g) for g in labels] if labels else ["all"]
    return pd.DataFrame(out, index=P.index, columns=cols)


def _nearest_by_code(
    net: WalkNetwork, S: _Sources, code: np.ndarray, n_groups: int, P: SnapResult
) -> np.ndarray:
    """``(n_points, n_groups)`` distances to the nearest source of each group code (``code``
    per active source)."""
    out = np.empty((len(P), n_groups))
    R = net._routing
    # each search stops once the ends of every placed point's edge are settled
    target = np.zeros(net.n_nodes, dtype=np.bool_)
    target[R.nodes(np.concatenate([P.u[P.ok], P.v[P.ok]]))] = True
    n_target = int(target.sum())
    sizes = np.diff(S.src_ptr)
    seed_code = np.repeat(code, sizes)
    n_chunks = _threads(n_groups)
    at = _point_edges(P) if S.kind == "points" else None  # once for every group

    def group(g: int) -> None:
        mine = seed_code == g
        dist = _kernels.nearest_until(
            R.indptr,
            R.indices,
            R.data,
            R.nodes(S.seed_node[mine]),
            S.seed_dist[mine],
            target,
            n_target,
        )
        d, _ = _via_ends(R.by_node(dist), P)
        if S.kind == "points":
            direct, _ = _direct(P, S, code == g, at)
            d = np.where(direct < d, direct, d)
        d[~P.ok] = np.nan
        out[:, g] = d

    def chunk(c: int) -> None:
        for g in range(c, n_groups, n_chunks):
            group(g)

    _in_threads(chunk, n_chunks)
    return out


@dataclass(frozen=True)
class LimitCounts:
    """Sources within each of several walking limits (:func:`count_within_limits`).

    Attributes
    ----------
    counts
        ``(n_targets, n_limits, n_groups)`` int32: sources of each group within each limit of
        every node (or point). Points not placed count nothing.
    limits_m
        The limits, ascending (metres).
    groups
        The group labels (sorted), empty without groups (one group then).
    placed
        Per point, whether it was placed on the network (all True for nodes).
    """

    counts: np.ndarray
    limits_m: tuple[float, ...]
    groups: tuple[Any, ...]
    placed: np.ndarray

    def total(self, i: int) -> np.ndarray:
        """All groups' sources within limit ``i``, per target (int64)."""
        return np.asarray(self.counts[:, i, :].sum(axis=1, dtype=np.int64))


@dataclass(frozen=True)
class _Distinct:
    """Sources merged where identical (same seeds, edge position and group), as weights."""

    src_ptr: np.ndarray
    seed_node: np.ndarray
    seed_dist: np.ndarray
    group: np.ndarray
    weight: np.ndarray
    edge: np.ndarray
    pos: np.ndarray
    access: np.ndarray


def _distinct(S: _Sources, code: np.ndarray, near: np.ndarray | None = None) -> _Distinct:
    """The distinct sources of ``S`` (``code``: group per active source), one search each;
    with ``near`` (a position per active source, e.g. its first seed's search position, which
    is in Morton order) the searches are ordered by it, so that one search after another
    reads the same part of the network (fewer cache misses; the counts do not depend on the
    order)."""
    k = S.active.size
    sizes = np.diff(S.src_ptr)
    if k:
        a_node = S.seed_node[S.src_ptr[:-1]]
        b_node = np.where(
            sizes > 1, S.seed_node[np.minimum(S.src_ptr[:-1] + 1, S.seed_node.size - 1)], -1
        )
        a_d = S.seed_dist[S.src_ptr[:-1]]
        b_d = np.where(
            sizes > 1, S.seed_dist[np.minimum(S.src_ptr[:-1] + 1, S.seed_dist.size - 1)], 0.0
        )
        key = pd.DataFrame(
            {
                "a": a_node,
                "b": b_node,
                "ad": a_d,
                "bd": b_d,
                "e": S.edge,
                "p": S.pos,
                "x": S.access,
                "g": code,
            }
        )
        first = key.groupby(list(key.columns), sort=False).ngroup().to_numpy()
        _, rep = np.unique(first, return_index=True)
        weight = np.bincount(first).astype(np.int32)
        if near is not None:
            o = np.argsort(near[rep], kind="stable")
            rep, weight = rep[o], weight[o]
    else:
        rep = np.zeros(0, dtype=np.int64)
        weight = np.zeros(0, dtype=np.int32)
    starts = S.src_ptr[:-1][rep]
    lens = sizes[rep]
    src_ptr = np.zeros(rep.size + 1, dtype=np.int64)
    np.cumsum(lens, out=src_ptr[1:])
    take = np.repeat(starts - src_ptr[:-1], lens) + np.arange(int(src_ptr[-1]))
    return _Distinct(
        src_ptr,
        S.seed_node[take],
        S.seed_dist[take],
        code[rep].astype(np.int64),
        weight,
        S.edge[rep].astype(np.int64),
        S.pos[rep].astype(np.float64),
        S.access[rep].astype(np.float64),
    )


def _point_tables(P: SnapResult, R: Routing) -> tuple[np.ndarray, ...]:
    """CSR search node -> (point, along + access) and edge -> points, for placed points."""
    ok = np.flatnonzero(P.ok)
    n_nodes = P.network_key[0]
    n_edges = P.network_key[1]
    nodes = R.nodes(np.concatenate([P.u[ok], P.v[ok]]))
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
    return (
        node_ptr,
        pts[o].astype(np.int64),
        extra[o].astype(np.float64),
        edge_ptr,
        ok[oe].astype(np.int64),
        pos,
        acc,
    )


def _no_points() -> tuple[np.ndarray, ...]:
    empty_i = np.zeros(0, dtype=np.int64)
    empty_f = np.zeros(0, dtype=np.float64)
    one = np.zeros(1, dtype=np.int64)
    return one, empty_i, empty_f, one, empty_i, empty_f, empty_f


def _limits(limits_m: Any) -> np.ndarray:
    vals = np.atleast_1d(np.asarray(limits_m, dtype=np.float64))
    if vals.size == 0:
        raise ValidationError("limits_m is empty; give one or more walking distances in metres")
    for v in vals:
        _cutoff(float(v), required=True)
    if np.isinf(vals).any():
        raise ValidationError(
            "limits_m must be finite metres (counting every source of a "
            "connected network needs no search)"
        )
    if (np.diff(vals) <= 0).any():
        raise ValidationError(f"limits_m must be distinct and ascending, got {vals.tolist()}")
    return vals


def _count_buckets(
    net: WalkNetwork,
    D: _Distinct,
    n_groups: int,
    limits: np.ndarray,
    tables: tuple[np.ndarray, ...],
    at_points: bool,
) -> np.ndarray:
    """Counts within every limit (cumulated over the limits), all threads summed."""
    n_chunks = _threads(max(D.group.size, 1))
    R = net._routing
    (node_ptr, node_pt_idx, node_pt_extra, edge_ptr, edge_pt_idx, pt_pos, pt_acc) = tables

    def chunk(c: int) -> np.ndarray:
        out: np.ndarray = _kernels.count_chunk(
            R.indptr,
            R.indices,
            R.data,
            D.src_ptr,
            R.nodes(D.seed_node),
            D.seed_dist,
            D.group,
            D.weight,
            n_groups,
            limits,
            at_points,
            node_ptr,
            node_pt_idx,
            node_pt_extra,
            D.edge,
            D.pos,
            D.access,
            edge_ptr,
            edge_pt_idx,
            pt_pos,
            pt_acc,
            c,
            n_chunks,
        )
        return out

    parts = _in_threads(chunk, n_chunks)
    counts = parts[0]
    for extra in parts[1:]:
        counts += extra
    del parts
    np.cumsum(counts, axis=1, out=counts)
    return counts if at_points else R.by_node(counts)


def count_within_limits(
    net: WalkNetwork,
    sources: Any,
    *,
    limits_m: Any,
    groups: Any = None,
    points: Any = None,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
) -> LimitCounts:
    """Number of distinct sources within each of several walking limits, in one pass.

    One bounded search per distinct source, at the largest limit, answers every limit (see
    :func:`count_within`, which this equals limit by limit). Searches run in parallel threads.

    Parameters
    ----------
    net
        The walk network.
    sources
        Node ids or points (as for :func:`distance_to_nearest`).
    limits_m
        Walking distance limits in metres, ascending.
    groups
        Optional group label per source, or a column name of a sources GeoDataFrame.
    points
        Optional destination points (GeoSeries/GeoDataFrame or :class:`SnapResult`): count
        at these points instead of at the nodes.
    max_snap_m
        Snapping limit for point sources and points.

    Returns
    -------
    LimitCounts
    """
    limits = _limits(limits_m)
    S = _as_sources(net, sources, max_snap_m)
    codes_all, labels = _groups(sources, groups, S.n)
    return _count_limits(net, S, (codes_all, labels), limits, points, max_snap_m)


def _count_limits(
    net: WalkNetwork,
    S: _Sources,
    grouped: tuple[np.ndarray, list[Any]],
    limits: np.ndarray,
    points: Any,
    max_snap_m: float,
) -> LimitCounts:
    """:func:`count_within_limits` on prepared sources (``grouped``: a group code per source
    and the group labels)."""
    codes_all, labels = grouped
    R = net._routing
    D = _distinct(S, codes_all[S.active], R.nodes(S.seed_node[S.src_ptr[:-1]]))
    if points is not None:
        P = _snap(net, points, max_snap_m)
        tables, placed = _point_tables(P, net._routing), np.asarray(P.ok, dtype=bool)
    else:
        tables, placed = _no_points(), np.ones(net.n_nodes, dtype=bool)
    counts = _count_buckets(net, D, max(len(labels), 1), limits, tables, points is not None)
    log.info(
        "count_within_limits: %d sources (%d distinct searches), limits %s m, %s",
        S.n,
        D.group.size,
        limits.tolist(),
        "points" if points is not None else "nodes",
    )
    return LimitCounts(
        counts=counts, limits_m=tuple(float(v) for v in limits), groups=tuple(labels), placed=placed
    )


def count_within(
    net: WalkNetwork,
    sources: Any,
    *,
    cutoff_m: float,
    groups: Any = None,
    points: Any = None,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
) -> pd.DataFrame:
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
    cutoff = _cutoff(cutoff_m, required=True)
    S = _as_sources(net, sources, max_snap_m)
    codes, labels = _groups(sources, groups, S.n)
    cols = [str(g) for g in labels]
    if COUNT in cols:
        raise ValidationError(
            f"a group is called {COUNT!r}, which clashes with the total column; rename that group"
        )
    P = _snap(net, points, max_snap_m) if points is not None else None
    res = _count_limits(net, S, (codes, labels), _limits([cutoff]), P, max_snap_m)
    counts = res.counts[:, 0, :]
    attrs = {
        "cutoff_m": float(cutoff_m),
        "n_sources": S.n,
        "n_sources_unplaced": S.n_unplaced,
        "groups": cols,
        "source_kind": S.kind,
    }
    if P is None:
        data = {COUNT: counts.sum(axis=1, dtype=np.int64)}
        if labels:
            data.update({c: counts[:, j].astype(np.int64) for j, c in enumerate(cols)})
        out = pd.DataFrame(data, index=pd.Index(net.node_ids, name=NODE_ID))
    else:
        mask = ~P.ok

        def nullable(values: np.ndarray) -> pd.arrays.IntegerArray:
            return pd.arrays.IntegerArray(values.astype(np.int64), mask.copy())

        data = {COUNT: nullable(counts.sum(axis=1, dtype=np.int64))}
        if labels:
            data.update({c: nullable(counts[:, j]) for j, c in enumerate(cols)})
        out = pd.DataFrame(data, index=P.index)
        attrs.update({"n_points": len(P), "n_points_unplaced": int(mask.sum())})
    out.attrs.update(attrs)
    return out
