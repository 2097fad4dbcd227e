"""Walking catchments for maps: the streets reached within a distance, buffered.

A catchment is made from the network, not from a convex hull: every edge reached within the
limit is kept, an edge reached only partly is cut where the walk runs out, and the pieces are
buffered, merged and simplified for display.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely

from cnmap.errors import ValidationError
from cnmap.network import _kernels
from cnmap.network.paths import _as_sources, _cutoff, _labels_at
from cnmap.network.snap import DEFAULT_MAX_SNAP_M

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd

    from cnmap.network.build import WalkNetwork

__all__ = ["catchments", "reached_edges"]

log = logging.getLogger(__name__)


def reached_edges(net: WalkNetwork, sources: Any, *, cutoff_m: float, per_source: bool = False,
                  max_snap_m: float = DEFAULT_MAX_SNAP_M) -> gpd.GeoDataFrame:
    """The stretches of street reached within ``cutoff_m`` metres, as line pieces.

    Parameters
    ----------
    net
        The walk network.
    sources
        Node ids or points (as for :func:`cnmap.network.distance_to_nearest`).
    cutoff_m
        Walking distance in metres.
    per_source
        One set of pieces per source (column ``source_pos``, the source's position in the
        input) instead of the union for all sources (``source_pos`` 0).
    max_snap_m
        Snapping limit for point sources.

    Returns
    -------
    geopandas.GeoDataFrame
        ``source_pos``, ``edge`` (edge index), ``start_m`` and ``end_m`` (metres from the
        edge's u end) and the cut LineString. Stretches of one edge reached by the same
        source (or, dissolved, by any source) are merged, so pieces never overlap.
    """
    cutoff = _cutoff(cutoff_m, required=True)
    S = _as_sources(net, sources, max_snap_m)
    return _pieces(net, S, cutoff, per_source)


def _pieces(net: WalkNetwork, S: Any, cutoff: float, per_source: bool) -> gpd.GeoDataFrame:
    import geopandas as gpd

    node_ptr, node_edges = net._node_edges
    if per_source:
        src_ptr = S.src_ptr
        group_of_active = np.arange(S.active.size)
    else:
        src_ptr = np.array([0, S.seed_node.size], dtype=np.int64)
        group_of_active = np.zeros(S.active.size, dtype=np.int64)
    p_src, p_edge, p_a, p_b = _kernels.reached_pieces(
        net.indptr, net.indices, net.data, src_ptr, S.seed_node, S.seed_dist, cutoff,
        node_ptr, node_edges, net.edge_u, net.edge_v, net.edge_length)
    if S.kind == "points" and S.active.size:
        # the stretch around each source on its own edge (reached directly, not via a node)
        r = cutoff - S.access
        has = r > 0
        e = S.edge[has]
        L = net.edge_length[e]
        a = np.clip(S.pos[has] - r[has], 0.0, L)
        b = np.clip(S.pos[has] + r[has], 0.0, L)
        p_src = np.concatenate([p_src, group_of_active[has]])
        p_edge = np.concatenate([p_edge, e])
        p_a = np.concatenate([p_a, a])
        p_b = np.concatenate([p_b, b])
    keep = p_b > p_a
    p_src, p_edge, p_a, p_b = _merge_intervals(p_src[keep], p_edge[keep], p_a[keep], p_b[keep])
    coords, offsets, cum, geom_len = net._flat_geometry
    L = net.edge_length[p_edge]
    scale = np.divide(geom_len[p_edge], L, out=np.zeros_like(L), where=L > 0)
    out_xy, idx = _kernels.substrings(coords, offsets, cum, p_edge.astype(np.int64),
                                      p_a * scale, p_b * scale)
    lines = shapely.linestrings(out_xy, indices=idx) if idx.size else np.zeros(0, dtype=object)
    source_pos = S.active[p_src] if per_source else np.zeros(p_src.size, dtype=np.int64)
    return gpd.GeoDataFrame({"source_pos": source_pos, "edge": p_edge, "start_m": p_a,
                             "end_m": p_b}, geometry=np.asarray(lines, dtype=object),
                            crs=net.crs)


def _merge_intervals(src: np.ndarray, edge: np.ndarray, a: np.ndarray,
                     b: np.ndarray) -> tuple[np.ndarray, ...]:
    """Merge overlapping or touching [a, b] stretches of the same edge for the same source."""
    if src.size == 0:
        return src, edge, a, b
    o = np.lexsort((a, edge, src))
    src, edge, a, b = src[o], edge[o], a[o], b[o]
    block_start = np.ones(src.size, dtype=bool)
    block_start[1:] = (src[1:] != src[:-1]) | (edge[1:] != edge[:-1])
    block = np.cumsum(block_start) - 1
    running = pd.Series(b).groupby(block).cummax().to_numpy()
    prev = np.empty_like(running)
    prev[0] = -np.inf
    prev[1:] = running[:-1]
    new = block_start | (a > prev)
    starts = np.flatnonzero(new)
    return src[starts], edge[starts], a[starts], np.maximum.reduceat(b, starts)


def catchments(net: WalkNetwork, sources: Any, *, cutoff_m: float, per_source: bool = False,
               buffer_m: float = 50.0, simplify_m: float = 5.0,
               max_snap_m: float = DEFAULT_MAX_SNAP_M) -> gpd.GeoDataFrame:
    """Walking catchment polygons: reached streets (partly reached ones cut at the limit),
    buffered, merged and simplified. Not convex hulls.

    Parameters
    ----------
    net
        The walk network.
    sources
        Node ids or points (as for :func:`cnmap.network.distance_to_nearest`).
    cutoff_m
        Walking distance in metres (e.g. ``metres_for_minutes(15, 4.8)`` = 1,200).
    per_source
        One polygon per source (row per input source, in input order; sources not placed on
        the network get an empty geometry and ``placed=False``) instead of one dissolved
        polygon for all.
    buffer_m
        Buffer around the reached streets (metres): how far either side of a street counts
        as reached on the map.
    simplify_m
        Simplification tolerance (metres) for lighter maps; 0 keeps every vertex.
    max_snap_m
        Snapping limit for point sources.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``source`` (the source's label; ``"all"`` when dissolved), ``placed``,
        ``reached_m`` (metres of street reached), ``cutoff_m``, ``buffer_m``, ``simplify_m``
        and the polygon geometry, in the network's CRS.
    """
    import geopandas as gpd

    for name, val in (("buffer_m", buffer_m), ("simplify_m", simplify_m)):
        if not np.isfinite(val) or val < 0:
            raise ValidationError(f"{name} must be metres >= 0, got {val!r}")
    cutoff = _cutoff(cutoff_m, required=True)
    S = _as_sources(net, sources, max_snap_m)
    pieces = _pieces(net, S, cutoff, per_source)
    n_out = S.n if per_source else 1
    grp = pieces["source_pos"].to_numpy()
    geoms = pieces.geometry.to_numpy()
    polys = np.full(n_out, None, dtype=object)
    reached = np.bincount(grp, weights=(pieces["end_m"] - pieces["start_m"]).to_numpy(),
                          minlength=n_out) if grp.size else np.zeros(n_out)
    if grp.size:
        # buffer each piece (vectorised), then merge per group: GEOS buffers a large
        # MultiLineString very slowly, while merging buffered pieces is fast.
        lines = shapely.simplify(geoms, simplify_m) if simplify_m > 0 else geoms
        pieces_poly = shapely.buffer(lines, max(buffer_m, 1e-6), quad_segs=4)
        if per_source:
            o = np.argsort(grp, kind="stable")
            present, dense = np.unique(grp[o], return_inverse=True)
            multi = shapely.multipolygons(pieces_poly[o], indices=dense)
            merged = shapely.make_valid(multi, method="structure", keep_collapsed=False)
        else:
            present = np.array([0])
            merged = np.array([shapely.union_all(pieces_poly)], dtype=object)
        if simplify_m > 0:
            merged = shapely.simplify(merged, simplify_m, preserve_topology=True)
        polys[present] = merged
    placed = np.zeros(n_out, dtype=bool)
    if per_source:
        placed[S.active] = True
    else:
        placed[0] = S.active.size > 0
    if per_source:
        src = _labels_at(S.labels, np.arange(S.n))
    else:
        src = np.array(["all"], dtype=object)
    out = gpd.GeoDataFrame({"source": src, "placed": placed, "reached_m": reached,
                            "cutoff_m": float(cutoff_m), "buffer_m": float(buffer_m),
                            "simplify_m": float(simplify_m)},
                           geometry=polys, crs=net.crs)
    log.info("catchments: %d polygon(s), cutoff %.0f m, buffer %.0f m", n_out, cutoff_m,
             buffer_m)
    return out
