"""Walking catchments for maps: the streets reached within a distance, buffered.

A catchment is made from the network, not from a convex hull: every edge reached within the
limit is kept, an edge reached only partly is cut where the walk runs out, and the pieces are
buffered, merged and simplified for display.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
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


def reached_edges(
    net: WalkNetwork,
    sources: Any,
    *,
    cutoff_m: float,
    per_source: bool = False,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
) -> gpd.GeoDataFrame:
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

    p = _piece_arrays(net, S, cutoff, per_source)
    lines = (
        shapely.linestrings(p.xy, indices=p.vertex_piece)
        if p.vertex_piece.size
        else np.zeros(0, dtype=object)
    )
    return gpd.GeoDataFrame(
        {"source_pos": p.source_pos, "edge": p.edge, "start_m": p.start_m, "end_m": p.end_m},
        geometry=np.asarray(lines, dtype=object),
        crs=net.crs,
    )


@dataclass(frozen=True)
class _Pieces:
    """Reached stretches of edges: per piece its source position, edge and metres from the
    edge's u end; the pieces' vertices (``xy``, with the piece of each vertex)."""

    source_pos: np.ndarray
    edge: np.ndarray
    start_m: np.ndarray
    end_m: np.ndarray
    xy: np.ndarray
    vertex_piece: np.ndarray


def _dissolved_pieces(
    net: WalkNetwork, S: Any, cutoff: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Reached stretches of edges for all sources together, from one multi-source search:
    an edge is wholly reached when the walks left at its ends cover it, else reached from
    each reached end for the walk left there (the per-source kernel's rule)."""
    R = net._routing
    dist, _ = _kernels.multi_source(
        R.indptr,
        R.indices,
        R.data,
        R.nodes(S.seed_node),
        S.seed_dist,
        np.zeros(S.seed_node.size, np.int64),
        cutoff,
    )
    D = R.by_node(dist)
    ru = cutoff - D[net.edge_u]  # -inf where the end is not reached
    rv = cutoff - D[net.edge_v]
    L = net.edge_length
    whole = (ru >= 0) & (rv >= 0) & (ru + rv >= L)
    from_u = ~whole & (ru > 0)
    from_v = ~whole & (rv > 0)
    e = np.arange(net.n_edges)
    edge = np.concatenate([e[whole], e[from_u], e[from_v]])
    a = np.concatenate(
        [
            np.zeros(int(whole.sum())),
            np.zeros(int(from_u.sum())),
            np.maximum(L[from_v] - rv[from_v], 0.0),
        ]
    )
    b = np.concatenate([L[whole], np.minimum(ru[from_u], L[from_u]), L[from_v]])
    return np.zeros(edge.size, dtype=np.int64), edge, a, b


def _piece_arrays(net: WalkNetwork, S: Any, cutoff: float, per_source: bool) -> _Pieces:
    if per_source:
        node_ptr, node_edges = net._node_edges
        group_of_active = np.arange(S.active.size)
        p_src, p_edge, p_a, p_b = _kernels.reached_pieces(
            net.indptr,
            net.indices,
            net.data,
            S.src_ptr,
            S.seed_node,
            S.seed_dist,
            cutoff,
            node_ptr,
            node_edges,
            net.edge_u,
            net.edge_v,
            net.edge_length,
        )
    else:
        group_of_active = np.zeros(S.active.size, dtype=np.int64)
        p_src, p_edge, p_a, p_b = _dissolved_pieces(net, S, cutoff)
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
    out_xy, idx = _substrings(
        coords, offsets, cum, p_edge.astype(np.int64), p_a * scale, p_b * scale
    )
    source_pos = S.active[p_src] if per_source else np.zeros(p_src.size, dtype=np.int64)
    return _Pieces(source_pos, p_edge, p_a, p_b, out_xy, idx)


def _substrings(
    coords: np.ndarray,
    offsets: np.ndarray,
    cum: np.ndarray,
    edge: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Cut pieces out of the edge lines: each piece is the point at ``start`` along its edge
    (geometry units, interpolated), the edge's vertices strictly between ``start`` and
    ``end``, and the point at ``end``. Returns the flat coordinates and the piece of each."""
    n = edge.size
    lo = offsets[edge]
    nv = offsets[edge + 1] - lo
    piece = np.repeat(np.arange(n), nv)
    vert = np.repeat(lo - (np.cumsum(nv) - nv), nv) + np.arange(int(nv.sum()))
    c = cum[vert]
    inner = (c > start[piece]) & (c < end[piece])
    first = _along(coords, cum, lo, nv, piece, c, start)
    last = _along(coords, cum, lo, nv, piece, c, end)
    # each piece: its start point, its inner vertices, its end point (pieces in order)
    key = np.concatenate([piece[inner] * 3 + 1, np.arange(n) * 3, np.arange(n) * 3 + 2])
    xy = np.concatenate([coords[vert[inner]], first, last])
    o = np.argsort(key, kind="stable")
    return xy[o], key[o] // 3


def _along(
    coords: np.ndarray,
    cum: np.ndarray,
    lo: np.ndarray,
    nv: np.ndarray,
    piece: np.ndarray,
    c: np.ndarray,
    d: np.ndarray,
) -> np.ndarray:
    """The point at distance ``d`` along each piece's edge line (its first vertex at or
    before 0, its last vertex at or beyond the line's length)."""
    # last vertex at or before d (the edge's first vertex when none)
    j = lo + np.maximum(
        np.bincount(piece, weights=c <= d[piece], minlength=lo.size).astype(np.int64) - 1, 0
    )
    last = lo + nv - 1
    nxt = np.minimum(j + 1, last)
    seg = cum[nxt] - cum[j]
    t = np.divide(d - cum[j], seg, out=np.zeros_like(d), where=seg > 0)
    out = coords[j] + t[:, None] * (coords[nxt] - coords[j])
    out[d <= 0] = coords[lo[d <= 0]]
    beyond = d >= cum[last]
    out[beyond] = coords[last[beyond]]
    return np.asarray(out)


def _merge_intervals(
    src: np.ndarray, edge: np.ndarray, a: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, ...]:
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


#: Raster cell (metres) per metre of buffer for drawn catchments: 50 m buffers on a 10 m grid.
CELL_PER_BUFFER = 0.2
#: The distance-field route is used from this buffer up (below it the cells would be tiny).
RASTER_MIN_BUFFER_M = 20.0
#: ... and while the grid has at most this many cells (else the pieces are merged as vectors).
RASTER_MAX_CELLS = 60_000_000
METHODS = ("auto", "raster", "vector")


def catchments(
    net: WalkNetwork,
    sources: Any,
    *,
    cutoff_m: float,
    per_source: bool = False,
    buffer_m: float = 50.0,
    simplify_m: float = 5.0,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
    method: str = "auto",
) -> gpd.GeoDataFrame:
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
    method
        How the dissolved polygon is drawn. ``"vector"``: every reached piece buffered
        (rounded, 4 segments a quarter circle) and the buffers merged. ``"raster"``: the
        exact distance to the reached streets on a grid of ``buffer_m / 5`` cells, the
        ``buffer_m`` contour traced (linear interpolation) and simplified; several times
        faster, the area within 1% of the vector route (slightly larger: the vector buffers
        cut the round ends short). ``"auto"`` (default): raster for a dissolved polygon with
        ``buffer_m >= 20`` on a grid of at most 60 million cells, else vector. Polygons per
        source are always vector.

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
    if method not in METHODS:
        raise ValidationError(f"method={method!r} is not one of {METHODS}")
    cutoff = _cutoff(cutoff_m, required=True)
    S = _as_sources(net, sources, max_snap_m)
    p = _piece_arrays(net, S, cutoff, per_source)
    n_out = S.n if per_source else 1
    grp = p.source_pos
    polys = np.full(n_out, None, dtype=object)
    reached = (
        np.bincount(grp, weights=p.end_m - p.start_m, minlength=n_out)
        if grp.size
        else np.zeros(n_out)
    )
    if grp.size:
        present, merged = _draw(p, n_out, per_source, buffer_m, simplify_m, method)
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
    out = gpd.GeoDataFrame(
        {
            "source": src,
            "placed": placed,
            "reached_m": reached,
            "cutoff_m": float(cutoff_m),
            "buffer_m": float(buffer_m),
            "simplify_m": float(simplify_m),
        },
        geometry=polys,
        crs=net.crs,
    )
    log.info("catchments: %d polygon(s), cutoff %.0f m, buffer %.0f m", n_out, cutoff_m, buffer_m)
    return out


def _draw(
    p: _Pieces, n_out: int, per_source: bool, buffer_m: float, simplify_m: float, method: str
) -> tuple[np.ndarray, np.ndarray]:
    """(groups present, their polygons) from the reached pieces."""
    if not per_source and method != "vector":
        grid = _Grid.around(p.xy, buffer_m)
        if method == "raster" or (
            buffer_m >= RASTER_MIN_BUFFER_M and grid.n_cells <= RASTER_MAX_CELLS
        ):
            return np.array([0]), np.array([grid.contour(p, buffer_m, simplify_m)], dtype=object)
    lines = shapely.linestrings(p.xy, indices=p.vertex_piece)
    if simplify_m > 0:
        lines = shapely.simplify(lines, simplify_m)
    # buffer each piece (vectorised), then merge per group: GEOS buffers a large
    # MultiLineString very slowly, while merging buffered pieces is fast.
    pieces_poly = shapely.buffer(lines, max(buffer_m, 1e-6), quad_segs=4)
    if per_source:
        grp = p.source_pos
        o = np.argsort(grp, kind="stable")
        present, dense = np.unique(grp[o], return_inverse=True)
        multi = shapely.multipolygons(pieces_poly[o], indices=dense)
        merged = shapely.make_valid(multi, method="structure", keep_collapsed=False)
    else:
        present = np.array([0])
        merged = np.array([shapely.union_all(pieces_poly)], dtype=object)
    if simplify_m > 0:
        merged = shapely.simplify(merged, simplify_m, preserve_topology=True)
    return present, merged


@dataclass(frozen=True)
class _Grid:
    """A grid of points ``(x0 + i * cell, y0 + k * cell)`` over the lines plus the buffer."""

    x0: float
    y0: float
    cell: float
    nx: int
    ny: int

    @classmethod
    def around(cls, xy: np.ndarray, buffer_m: float) -> _Grid:
        cell = max(buffer_m * CELL_PER_BUFFER, 1e-3)
        xmin, ymin = xy.min(axis=0)
        xmax, ymax = xy.max(axis=0)
        pad = buffer_m + 2.0 * cell
        x0, y0 = xmin - pad, ymin - pad
        return cls(
            x0, y0, cell, int((xmax + pad - x0) / cell) + 2, int((ymax + pad - y0) / cell) + 2
        )

    @property
    def n_cells(self) -> int:
        return self.nx * self.ny

    def field(self, p: _Pieces, radius: float, simplify_m: float) -> np.ndarray:
        """Distance from every grid point to the pieces simplified by ``simplify_m`` (exact
        up to ``radius + cell``), computed in horizontal bands, one per thread."""
        from cnmap.network.paths import _in_threads, _threads

        coords, ptr = _simplified(p, simplify_m)
        out = np.full((self.ny, self.nx), radius + self.cell, dtype=np.float64)
        n_chunks = _threads(max(self.ny // 64, 1))
        bands = np.linspace(0, self.ny, n_chunks + 1).astype(np.int64)

        def band(c: int) -> None:
            _kernels.distance_field(
                coords, ptr, self.x0, self.y0, self.cell, radius, out, bands[c], bands[c + 1]
            )

        _in_threads(band, n_chunks)
        return out

    def contour(self, p: _Pieces, radius: float, simplify_m: float) -> shapely.Geometry:
        """The area within ``radius`` of the pieces: the traced contour, simplified."""
        import contourpy

        z = self.field(p, radius, simplify_m)
        gen = contourpy.contour_generator(
            x=self.x0 + self.cell * np.arange(self.nx),
            y=self.y0 + self.cell * np.arange(self.ny),
            z=z,
            fill_type="OuterOffset",
        )
        filled = gen.filled(-1.0, radius)  # OuterOffset: (shells and holes, ring offsets)
        polys = np.asarray(
            [
                _polygon(np.asarray(xy), np.asarray(off), simplify_m)
                for xy, off in zip(filled[0], filled[1], strict=True)
            ],
            dtype=object,
        )
        bad = ~shapely.is_valid(polys)
        if bad.any():  # a simplified ring crossing another: repaired
            polys[bad] = shapely.make_valid(polys[bad])
            return shapely.union_all(polys)
        return shapely.multipolygons(polys)


def _simplified(p: _Pieces, simplify_m: float) -> tuple[np.ndarray, np.ndarray]:
    """The pieces' vertices after Douglas-Peucker at ``simplify_m`` (as the vector route
    simplifies the pieces before buffering them), and the CSR pointer of each piece."""
    n = int(p.vertex_piece[-1]) + 1
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(p.vertex_piece, minlength=n), out=ptr[1:])
    if simplify_m <= 0:
        return p.xy, ptr
    keep = _kernels.simplify_keep(p.xy, ptr, simplify_m)
    np.cumsum(np.bincount(p.vertex_piece[keep], minlength=n), out=ptr[1:])
    return np.ascontiguousarray(p.xy[keep]), ptr


def _polygon(xy: np.ndarray, offsets: np.ndarray, simplify_m: float) -> shapely.Geometry:
    """A polygon from a traced shell and its holes, each ring simplified on its own (a ring
    that simplifies badly is kept as traced)."""
    rings = shapely.linearrings(
        xy, indices=np.repeat(np.arange(offsets.size - 1), np.diff(offsets))
    )
    if simplify_m > 0:
        simple = shapely.simplify(rings, simplify_m, preserve_topology=False)
        ok = shapely.is_valid(simple) & (shapely.get_num_coordinates(simple) >= 4)
        rings = np.where(ok, simple, rings)
    return shapely.polygons(rings[0], rings[1:])
