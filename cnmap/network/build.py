"""The compact walk network (:class:`WalkNetwork`) and the builder every reader shares.

A :class:`WalkNetwork` is a set of arrays: node ids and coordinates (EPSG:27700), a symmetric
CSR adjacency of edge lengths in metres, and per-edge arrays (end nodes, length, geometry).
Every input form (GeoPackage, GraphML, OSM XML, PBF, a networkx graph, osmnx online) ends in
:func:`_assemble`, which projects, orients, de-duplicates, keeps the largest connected
component and records what it did in a :class:`NetworkReport`.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, overload

import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from cnmap.columns import BNG
from cnmap.errors import CRSError, GraphError

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd
    import networkx as nx

__all__ = [
    "WalkNetwork",
    "NetworkReport",
    "NetworkExtent",
    "walk_network_from_graph",
    "walk_network_from_gdfs",
]

log = logging.getLogger(__name__)

NODE_ID = "node_id"


@dataclass(frozen=True)
class NetworkReport:
    """What the builder read, changed and dropped.

    Attributes
    ----------
    source
        Where the network came from (a path, ``"networkx graph"`` or ``"osmnx online"``).
    reader
        ``"gpkg"``, ``"graphml"``, ``"osm_xml"``, ``"osm_pbf"``, ``"graph"``, ``"gdfs"`` or
        ``"online"``.
    crs_in, crs
        CRS of the input and of the network.
    nodes_read, edges_read
        Nodes and edges (rows, or directed edges for a directed graph) in the input.
    duplicate_edges
        Edges removed as exact copies of another edge (same ends, length and geometry): the
        reverse twin of every two-way street in a directed (osmnx ``MultiDiGraph``) input.
    components
        Connected components of the undirected input graph.
    nodes_dropped, edges_dropped
        Nodes and edges outside the largest connected component, removed.
    nodes, edges
        Nodes and edges kept.
    parallel_edges
        Kept edges that join the same two nodes as another kept edge (the CSR keeps the
        shortest; all stay in the edge arrays for snapping and catchments).
    self_loops
        Kept edges that start and end at the same node (e.g. pedestrian areas drawn as rings):
        useless for routing between nodes, kept for snapping.
    lengths_from_file, lengths_from_geometry
        Edge lengths taken from the input's ``length`` (metres), or computed from the
        projected geometry where the input had none.
    geometries_filled
        Edges without geometry, given a straight line between their end nodes.
    total_length_km
        Sum of kept edge lengths.
    """

    source: str
    reader: str
    crs_in: str
    crs: str
    nodes_read: int
    edges_read: int
    duplicate_edges: int
    components: int
    nodes_dropped: int
    edges_dropped: int
    nodes: int
    edges: int
    parallel_edges: int
    self_loops: int
    lengths_from_file: int
    lengths_from_geometry: int
    geometries_filled: int
    total_length_km: float
    notes: tuple[str, ...] = ()
    extent: NetworkExtent | None = None

    def to_dict(self) -> dict[str, Any]:
        """The report as a plain dict (JSON-serialisable)."""
        d = dataclasses.asdict(self)
        d["notes"] = list(self.notes)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NetworkReport:
        """The report from its :meth:`to_dict` form (as cached with the network)."""
        d = dict(d)
        d["notes"] = tuple(d.get("notes", ()))
        ext = d.get("extent")
        d["extent"] = NetworkExtent.from_dict(ext) if isinstance(ext, dict) else None
        return cls(**d)

    def __str__(self) -> str:
        text = (
            f"{self.source} ({self.reader}): read {self.nodes_read:,} nodes / "
            f"{self.edges_read:,} edges; {self.duplicate_edges:,} duplicate edges removed; "
            f"{self.components:,} components, dropped {self.nodes_dropped:,} nodes / "
            f"{self.edges_dropped:,} edges outside the largest; kept {self.nodes:,} nodes / "
            f"{self.edges:,} edges ({self.total_length_km:,.1f} km), "
            f"{self.parallel_edges:,} parallel edges, {self.self_loops:,} self-loops"
        )
        return text if self.extent is None else f"{text}; {self.extent}"


@dataclass(frozen=True)
class NetworkExtent:
    """Where a district's network was cut (see :func:`cnmap.network.walk_network_for_district`).

    Attributes
    ----------
    lad_code
        The district's code (empty when not given).
    buffer_m
        Metres of network kept around the district boundary.
    walk_limit_m, snap_limit_m
        The walk and snapping limits the buffer was chosen for (their sum is the least
        buffer that lets a resident at the boundary reach everything within the limit).
    district_km2, extent_km2
        Areas of the district and of the district plus buffer.
    district_wkt
        The district boundary in the network's CRS (WKT, rounded to 1 m); the extent is
        this polygon buffered by ``buffer_m``.
    source
        ``"osm_pbf"`` (an extract) or ``"overpass"`` (osmnx, online).
    source_file, source_sha256
        The extract read (empty online) and its SHA-256.
    osm_timestamp
        Replication timestamp of the extract (or the download time online), ISO 8601.
    walk_filter
        The way filter applied.
    clip
        How edges were clipped to the extent.
    district_share_near, ring_share_near
        Share of the district, and of the buffer ring around it, within ``snap_limit_m``
        of a kept edge (sampled on a grid): a ring share far below the district's says the
        source does not cover the buffer (an extract cut at the district boundary).
    """

    lad_code: str
    buffer_m: float
    walk_limit_m: float
    snap_limit_m: float
    district_km2: float
    extent_km2: float
    district_wkt: str = field(repr=False)
    source: str
    source_file: str
    source_sha256: str
    osm_timestamp: str
    walk_filter: str
    clip: str
    district_share_near: float
    ring_share_near: float

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NetworkExtent:
        """The extent from its dict form (unknown keys ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def district(self) -> shapely.Geometry:
        """The district boundary (network CRS)."""
        return shapely.from_wkt(self.district_wkt)

    def polygon(self) -> shapely.Geometry:
        """The district plus buffer (network CRS): the area the network was cut to."""
        return shapely.buffer(self.district(), self.buffer_m)

    def __str__(self) -> str:
        who = self.lad_code or "district"
        ring = (
            ""
            if not np.isfinite(self.ring_share_near)
            else f" and {self.ring_share_near:.1%} of the buffer ring"
        )
        return (
            f"{who} + {self.buffer_m:,.0f} m buffer ({self.extent_km2:,.1f} km²) from "
            f"{self.source}; {self.district_share_near:.1%} of the district{ring} within "
            f"{self.snap_limit_m:,.0f} m of an edge"
        )


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


#: Networks with at least this many nodes are searched on a spatially renumbered copy.
ROUTING_REORDER_MIN_NODES = 500_000


def _morton(x: np.ndarray, y: np.ndarray, cell_m: float = 64.0) -> np.ndarray:
    """Morton (Z-order) code of each point on a ``cell_m`` grid."""

    def spread(v: np.ndarray) -> np.ndarray:
        v = v & np.uint64(0xFFFFFFFF)
        for shift, mask in (
            (16, 0x0000FFFF0000FFFF),
            (8, 0x00FF00FF00FF00FF),
            (4, 0x0F0F0F0F0F0F0F0F),
            (2, 0x3333333333333333),
            (1, 0x5555555555555555),
        ):
            v = (v | (v << np.uint64(shift))) & np.uint64(mask)
        return v

    xi = ((x - x.min()) / cell_m).astype(np.uint64)
    yi = ((y - y.min()) / cell_m).astype(np.uint64)
    out: np.ndarray = spread(xi) | (spread(yi) << np.uint64(1))
    return out


@dataclass(frozen=True, eq=False)
class Routing:
    """The CSR arrays the searches run on, and the renumbering of the nodes (``new_of_old``:
    the search position of each node position; None when the network's own order is used)."""

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    new_of_old: np.ndarray | None

    @classmethod
    def spatial(
        cls, indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, x: np.ndarray, y: np.ndarray
    ) -> Routing:
        """The same arcs (every stored entry kept) with the nodes in Morton order."""
        n = x.shape[0]
        order = np.argsort(_morton(x, y), kind="stable")
        new_of_old = np.empty(n, dtype=np.int64)
        new_of_old[order] = np.arange(n)
        rows = new_of_old[np.repeat(np.arange(n), np.diff(indptr))]
        cols = new_of_old[indices]
        o = np.lexsort((cols, rows))
        ptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=n), out=ptr[1:])
        return cls(
            _readonly(ptr),
            _readonly(cols[o].astype(np.int32)),
            _readonly(data[o].astype(np.float64)),
            _readonly(new_of_old),
        )

    def nodes(self, pos: np.ndarray) -> np.ndarray:
        """Search positions of node positions."""
        return pos if self.new_of_old is None else self.new_of_old[pos]

    def by_node(self, values: np.ndarray) -> np.ndarray:
        """Per-node results of a search, back in the network's node order."""
        return values if self.new_of_old is None else values[self.new_of_old]


@dataclass(frozen=True, eq=False)
class EdgeCoords:
    """Edge geometries as flat arrays: edge ``i`` runs through the vertices
    ``coords[offsets[i]:offsets[i + 1]]`` (float64 x/y, at least two per edge).

    A loaded network keeps its geometries in this form (16 bytes a vertex); shapely
    LineStrings (about ten times more memory) are made from it when a snap or a map first
    needs them.
    """

    coords: np.ndarray
    offsets: np.ndarray

    @classmethod
    def of(cls, geoms: np.ndarray) -> EdgeCoords:
        """The flat form of LineStrings."""
        coords, index = shapely.get_coordinates(geoms, return_index=True)
        offsets = np.zeros(len(geoms) + 1, dtype=np.int64)
        np.cumsum(np.bincount(index, minlength=len(geoms)), out=offsets[1:])
        return cls(coords=coords, offsets=offsets)

    def linestrings(self) -> np.ndarray:
        """The edges as shapely LineStrings."""
        counts = np.diff(self.offsets)
        lines: np.ndarray = shapely.linestrings(
            self.coords, indices=np.repeat(np.arange(counts.size), counts)
        )
        return lines


class _EdgeGeometry:
    """``WalkNetwork.edge_geometry``: given as LineStrings or as :class:`EdgeCoords`, in which
    case the LineStrings are made on first use (and kept)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = f"_{name}"

    @overload
    def __get__(self, obj: None, objtype: type | None = None) -> _EdgeGeometry: ...
    @overload
    def __get__(self, obj: WalkNetwork, objtype: type | None = None) -> np.ndarray: ...

    def __get__(
        self, obj: WalkNetwork | None, objtype: type | None = None
    ) -> np.ndarray | _EdgeGeometry:
        if obj is None:  # a required field of the dataclass: no default
            raise AttributeError(self.slot)
        value = obj.__dict__[self.slot]
        if isinstance(value, EdgeCoords):
            value = _readonly(value.linestrings())
            obj.__dict__[self.slot] = value
            log.debug("walk network: %d edge LineStrings made", value.shape[0])
        geoms: np.ndarray = value
        return geoms

    def __set__(self, obj: WalkNetwork, value: np.ndarray | EdgeCoords) -> None:
        if isinstance(value, EdgeCoords):
            obj.__dict__["_edge_coords"] = value
        obj.__dict__[self.slot] = value


@dataclass(frozen=True, eq=False)
class WalkNetwork:
    """An undirected walking network held as arrays (EPSG:27700 unless stated, metres).

    Attributes
    ----------
    node_ids
        int64 node identifiers (OSM ids, or the input's ids), one per node position.
    x, y
        float64 node coordinates in ``crs``.
    indptr, indices, data
        Symmetric CSR adjacency: for node position ``i``, neighbours
        ``indices[indptr[i]:indptr[i+1]]`` at lengths ``data[...]`` metres (the shortest of
        any parallel edges; self-loops are not stored).
    edge_u, edge_v
        Node positions of each edge's ends. Each geometry starts at ``u`` and ends at ``v``.
    edge_length
        Edge lengths in metres (see :class:`NetworkReport` for where they came from).
    edge_geometry
        shapely LineStrings in ``crs``. A network read from the cache holds them as flat
        coordinates (:class:`EdgeCoords`, see :attr:`edge_coords`) and makes the LineStrings
        on first use: routing needs the arrays only.
    crs
        The network's CRS (``"EPSG:27700"`` by default).
    report
        :class:`NetworkReport`.
    """

    node_ids: np.ndarray
    x: np.ndarray
    y: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    edge_u: np.ndarray
    edge_v: np.ndarray
    edge_length: np.ndarray
    crs: str
    report: NetworkReport
    # required (the descriptor gives no default); last so that type checkers accept it
    edge_geometry: _EdgeGeometry = _EdgeGeometry()

    def __repr__(self) -> str:
        return (
            f"WalkNetwork({self.n_nodes:,} nodes, {self.n_edges:,} edges, "
            f"{float(self.edge_length.sum()) / 1000:,.1f} km, crs={self.crs!r})"
        )

    @property
    def edge_coords(self) -> EdgeCoords:
        """The edge geometries as flat coordinates (no LineStrings made)."""
        flat = self.__dict__.get("_edge_coords")
        if flat is None:
            flat = EdgeCoords.of(self.edge_geometry)
            self.__dict__["_edge_coords"] = flat
        return flat

    @property
    def geometry_built(self) -> bool:
        """Whether the edge LineStrings exist (a cached network makes them on first use)."""
        return not isinstance(self.__dict__.get("_edge_geometry"), EdgeCoords)

    def with_report(self, report: NetworkReport) -> WalkNetwork:
        """The same network with another report (the geometries are not made)."""
        return WalkNetwork(
            node_ids=self.node_ids,
            x=self.x,
            y=self.y,
            indptr=self.indptr,
            indices=self.indices,
            data=self.data,
            edge_u=self.edge_u,
            edge_v=self.edge_v,
            edge_length=self.edge_length,
            edge_geometry=self.__dict__["_edge_geometry"],
            crs=self.crs,
            report=report,
        )

    @property
    def n_nodes(self) -> int:
        """The number of nodes."""
        return int(self.node_ids.shape[0])

    @property
    def n_edges(self) -> int:
        """The number of edges in the routing arrays (``edge_u``)."""
        return int(self.edge_u.shape[0])

    @property
    def adjacency(self) -> sparse.csr_matrix:
        """The adjacency as a scipy ``csr_matrix`` of lengths (metres)."""
        n = self.n_nodes
        return sparse.csr_matrix((self.data, self.indices, self.indptr), shape=(n, n))

    @cached_property
    def _id_order(self) -> np.ndarray:
        return np.argsort(self.node_ids, kind="stable")

    @cached_property
    def _sorted_ids(self) -> np.ndarray:
        return np.asarray(self.node_ids[self._id_order], dtype=np.int64)

    def node_index(self, ids: Any) -> np.ndarray:
        """Positions of node ids; raises :class:`GraphError` naming ids not in the network."""
        ids = np.asarray(ids)
        if ids.size and not np.issubdtype(ids.dtype, np.integer):
            raise GraphError(
                f"node ids must be integers, got dtype {ids.dtype}; pass the "
                "network's node ids (net.node_ids) or points (a GeoSeries)"
            )
        ids = ids.astype(np.int64, copy=False).ravel()
        order = self._id_order
        # the ids sorted once: a search in a contiguous array, not through ``sorter``
        pos = np.searchsorted(self._sorted_ids, ids)
        pos = np.clip(pos, 0, self.n_nodes - 1)
        found = self._sorted_ids[pos] == ids
        if not found.all():
            bad = np.unique(ids[~found])
            raise GraphError(
                f"{bad.size} node id(s) are not in the network (e.g. {bad[:5].tolist()}); "
                f"the network has {self.n_nodes:,} nodes ({self.report.nodes_dropped:,} nodes "
                "outside the largest connected component were dropped, see net.report). "
                "Pass ids from net.node_ids, or give the places as points to snap them."
            )
        return np.asarray(order[pos])

    @cached_property
    def _routing(self) -> Routing:
        """The CSR the searches run on: for a large network its nodes are renumbered in
        spatial (Morton) order, so that a search touches memory that lies together (about
        twice as fast from a million nodes up; the distances are the same numbers)."""
        if self.n_nodes < ROUTING_REORDER_MIN_NODES:
            return Routing(self.indptr, self.indices, self.data, None)
        return Routing.spatial(self.indptr, self.indices, self.data, self.x, self.y)

    @cached_property
    def edge_tree(self) -> shapely.STRtree:
        """STRtree over the edge geometries (built on first use)."""
        return shapely.STRtree(self.edge_geometry)

    @cached_property
    def _flat_geometry(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(coords, offsets, cumulative vertex distance, geometry length) of the edges."""
        coords, offsets = self.edge_coords.coords, self.edge_coords.offsets
        counts = np.diff(offsets)
        seg = np.hypot(np.diff(coords[:, 0]), np.diff(coords[:, 1]))
        cum = np.zeros(coords.shape[0])
        np.cumsum(seg, out=cum[1:])
        starts = cum[offsets[:-1]]
        cum = cum - np.repeat(starts, counts)
        geom_len = cum[offsets[1:] - 1]
        return coords, offsets, cum, geom_len

    @cached_property
    def _node_edges(self) -> tuple[np.ndarray, np.ndarray]:
        """CSR node position -> incident edge indices (a self-loop listed once)."""
        loops = self.edge_u == self.edge_v
        e = np.arange(self.n_edges)
        nodes = np.concatenate([self.edge_u, self.edge_v[~loops]])
        edges = np.concatenate([e, e[~loops]])
        order = np.argsort(nodes, kind="stable")
        ptr = np.zeros(self.n_nodes + 1, dtype=np.int64)
        np.cumsum(np.bincount(nodes, minlength=self.n_nodes), out=ptr[1:])
        return ptr, edges[order].astype(np.int64)

    def nodes_frame(self) -> gpd.GeoDataFrame:
        """Nodes as a GeoDataFrame indexed by node id (columns ``x``, ``y``)."""
        import geopandas as gpd

        idx = pd.Index(self.node_ids, name=NODE_ID)
        return gpd.GeoDataFrame(
            {"x": self.x, "y": self.y},
            geometry=gpd.points_from_xy(self.x, self.y),
            index=idx,
            crs=self.crs,
        )

    def edges_frame(self) -> gpd.GeoDataFrame:
        """Edges as a GeoDataFrame (``u``, ``v`` node ids, ``length`` m, geometry)."""
        import geopandas as gpd

        return gpd.GeoDataFrame(
            {
                "u": self.node_ids[self.edge_u],
                "v": self.node_ids[self.edge_v],
                "length": self.edge_length,
            },
            geometry=np.asarray(self.edge_geometry),
            crs=self.crs,
        )

    def to_networkx(self) -> nx.MultiGraph:
        """The network as an undirected ``networkx.MultiGraph`` (attribute ``length``)."""
        import networkx as nx

        G = nx.MultiGraph(crs=self.crs)
        G.add_nodes_from(
            (int(i), {"x": float(a), "y": float(b)})
            for i, a, b in zip(self.node_ids, self.x, self.y, strict=True)
        )
        u = self.node_ids[self.edge_u].tolist()
        v = self.node_ids[self.edge_v].tolist()
        G.add_edges_from(
            (a, b, {"length": float(w)})
            for a, b, w in zip(u, v, self.edge_length.tolist(), strict=True)
        )
        return G


# ----------------------------------------------------------------------------------------
# builder


def _crs_string(crs: Any) -> str:
    try:
        c = CRS.from_user_input(crs)
    except Exception as exc:  # pyproj raises CRSError of its own
        raise CRSError(
            f"unknown CRS {crs!r}: {exc}; give an EPSG code such as 'EPSG:27700'"
        ) from exc
    epsg = c.to_epsg()
    return f"EPSG:{epsg}" if epsg else c.to_string()


def _check_projected(crs: str) -> None:
    c = CRS.from_user_input(crs)
    if not c.is_projected:
        raise CRSError(
            f"the network CRS must be projected in metres, got {crs}; use "
            f"'EPSG:27700' (British National Grid) for Great Britain"
        )


def _project_xy(
    x: np.ndarray, y: np.ndarray, crs_in: str, crs: str
) -> tuple[np.ndarray, np.ndarray]:
    if crs_in == crs:
        return x.astype(np.float64), y.astype(np.float64)
    tr = Transformer.from_crs(crs_in, crs, always_xy=True)
    px, py = tr.transform(x, y)
    return np.asarray(px, dtype=np.float64), np.asarray(py, dtype=np.float64)


def _project_geoms(geoms: np.ndarray, crs_in: str, crs: str) -> np.ndarray:
    if crs_in == crs:
        return geoms
    tr = Transformer.from_crs(crs_in, crs, always_xy=True)

    def fn(c: np.ndarray) -> np.ndarray:
        px, py = tr.transform(c[:, 0], c[:, 1])
        return np.column_stack([px, py])

    return np.asarray(shapely.transform(geoms, fn))


def _checked_nodes(
    node_ids: Any, nx_: Any, ny_: Any, n_edges: int, source: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Integer, unique node ids with finite coordinates (and at least one edge)."""
    node_ids = np.asarray(node_ids)
    if node_ids.size and not np.issubdtype(node_ids.dtype, np.integer):
        try:
            node_ids = node_ids.astype(np.int64)
        except (TypeError, ValueError) as exc:
            raise GraphError(
                f"{source}: node ids must be integers (got {node_ids.dtype}); "
                "relabel the nodes with integer ids"
            ) from exc
    node_ids = node_ids.astype(np.int64)
    n_read = node_ids.shape[0]
    if n_read == 0 or n_edges == 0:
        raise GraphError(
            f"{source}: the network is empty ({n_read} nodes, {n_edges} edges); "
            "check the file/area and the walk filter"
        )
    uniq, counts = np.unique(node_ids, return_counts=True)
    if (counts > 1).any():
        raise GraphError(
            f"{source}: duplicate node ids, e.g. {uniq[counts > 1][:5].tolist()}; "
            "each node needs a unique id"
        )
    x = np.asarray(nx_, dtype=np.float64)
    y = np.asarray(ny_, dtype=np.float64)
    bad = ~(np.isfinite(x) & np.isfinite(y))
    if bad.any():
        raise GraphError(
            f"{source}: {int(bad.sum())} node(s) without coordinates, e.g. ids "
            f"{node_ids[bad][:5].tolist()}; every node needs x/y (or a point)"
        )
    return node_ids, x, y


def _locate(node_ids: np.ndarray, ids: Any, which: str, source: str) -> np.ndarray:
    """Positions in ``node_ids`` of an edge end's node ids."""
    order = np.argsort(node_ids, kind="stable")
    sorted_ids = node_ids[order]
    ids = np.asarray(ids).astype(np.int64)
    pos = np.clip(np.searchsorted(sorted_ids, ids), 0, node_ids.shape[0] - 1)
    ok = sorted_ids[pos] == ids
    if not ok.all():
        rows = np.flatnonzero(~ok)
        raise GraphError(
            f"{source}: {rows.size} edge(s) have a '{which}' node that is not "
            f"in the nodes (edge rows {rows[:5].tolist()}, ids "
            f"{ids[rows[:5]].tolist()}); the nodes and edges do not match"
        )
    return np.asarray(order[pos])


def _edge_geometries(
    geoms: np.ndarray | None,
    u: np.ndarray,
    v: np.ndarray,
    px: np.ndarray,
    py: np.ndarray,
    crs_in: str,
    crs: str,
    source: str,
) -> tuple[np.ndarray, int]:
    """Projected LineStrings, straight lines where missing, each oriented from u to v;
    and how many were filled."""
    if geoms is None:
        geoms = np.full(u.shape[0], None, dtype=object)
    geoms = np.asarray(geoms, dtype=object)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if (~missing).any():
        gt = shapely.get_type_id(geoms[~missing])
        if (gt != 1).any():
            raise GraphError(
                f"{source}: edge geometries must be LineStrings "
                f"(found geometry type ids {np.unique(gt).tolist()})"
            )
        geoms = geoms.copy()
        geoms[~missing] = _project_geoms(geoms[~missing], crs_in, crs)
    n_filled = int(missing.sum())
    if n_filled:
        geoms = geoms.copy()
        line = np.stack(
            [
                np.column_stack([px[u[missing]], py[u[missing]]]),
                np.column_stack([px[v[missing]], py[v[missing]]]),
            ],
            axis=1,
        )
        geoms[missing] = shapely.linestrings(line)
    first = shapely.get_coordinates(shapely.get_point(geoms, 0))
    du = (first[:, 0] - px[u]) ** 2 + (first[:, 1] - py[u]) ** 2
    dv = (first[:, 0] - px[v]) ** 2 + (first[:, 1] - py[v]) ** 2
    flip = dv < du
    if flip.any():
        geoms = geoms.copy()
        geoms[flip] = shapely.reverse(geoms[flip])
    return geoms, n_filled


def _edge_lengths(
    length: np.ndarray | None, geoms: np.ndarray, source: str
) -> tuple[np.ndarray, np.ndarray]:
    """Lengths (metres; from the geometry where not finite) and where they were computed."""
    if length is None:
        length = np.full(geoms.shape[0], np.nan)
    length = np.asarray(length, dtype=np.float64).copy()
    need = ~np.isfinite(length)
    if need.any():
        length[need] = shapely.length(geoms[need])
    if (length < 0).any():
        rows = np.flatnonzero(length < 0)
        raise GraphError(
            f"{source}: negative edge length in rows {rows[:5].tolist()}; "
            "lengths must be metres >= 0"
        )
    return length, need


def _duplicates(u: np.ndarray, v: np.ndarray, length: np.ndarray, geoms: np.ndarray) -> np.ndarray:
    """Exact copies of an earlier edge (same ends, length to 1 mm, midpoint to 1 cm): the
    reverse twin of each edge of a directed graph."""
    mid = shapely.get_coordinates(shapely.line_interpolate_point(geoms, 0.5, normalized=True))
    key = pd.DataFrame(
        {
            "a": np.minimum(u, v),
            "b": np.maximum(u, v),
            "len": np.round(length, 3),
            "mx": np.round(mid[:, 0], 2),
            "my": np.round(mid[:, 1], 2),
        }
    )
    return np.asarray(key.duplicated(keep="first").to_numpy())


def _largest_component(n: int, u: np.ndarray, v: np.ndarray) -> tuple[int, np.ndarray]:
    """(number of components, mask of the nodes of the largest)."""
    adj = sparse.coo_matrix((np.ones(u.shape[0]), (u, v)), shape=(n, n)).tocsr()
    n_comp, comp = connected_components(adj, directed=False)
    sizes = np.bincount(comp, minlength=n_comp)
    return int(n_comp), comp == int(np.argmax(sizes))


def _csr(
    n: int, u: np.ndarray, v: np.ndarray, length: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    """Symmetric CSR (indptr, indices, lengths) keeping the shortest of parallel edges and no
    self-loops; and the counts of parallel edges and self-loops."""
    loops = u == v
    rows = np.concatenate([u[~loops], v[~loops]])
    cols = np.concatenate([v[~loops], u[~loops]])
    w = np.concatenate([length[~loops], length[~loops]])
    o = np.lexsort((w, cols, rows))
    rows, cols, w = rows[o], cols[o], w[o]
    first_of_pair = np.ones(rows.shape[0], dtype=bool)
    first_of_pair[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
    rows, cols, w = rows[first_of_pair], cols[first_of_pair], w[first_of_pair]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    parallel = int((~loops).sum()) - int(first_of_pair.sum()) // 2
    return indptr, cols, w, parallel, int(loops.sum())


def _assemble(  # noqa: PLR0913 (the shared builder: raw node and edge arrays, options keyword-only)
    node_ids: np.ndarray,
    nx_: np.ndarray,
    ny_: np.ndarray,
    u_ids: np.ndarray,
    v_ids: np.ndarray,
    length: np.ndarray | None,
    geoms: np.ndarray | None,
    *,
    crs_in: Any,
    crs: Any = BNG,
    source: str,
    reader: str,
    notes: tuple[str, ...] = (),
) -> WalkNetwork:
    """Build a :class:`WalkNetwork` from raw arrays in ``crs_in`` (the shared builder).

    ``geoms`` may hold None for edges without geometry (a straight line is used); ``length``
    may hold NaN (computed from the projected geometry).
    """
    crs_in = _crs_string(crs_in)
    crs = _crs_string(crs)
    _check_projected(crs)
    e_read = int(np.asarray(u_ids).shape[0])
    node_ids, x, y = _checked_nodes(node_ids, nx_, ny_, e_read, source)
    n_read = node_ids.shape[0]
    u = _locate(node_ids, u_ids, "u", source)
    v = _locate(node_ids, v_ids, "v", source)
    px, py = _project_xy(x, y, crs_in, crs)
    geoms, n_filled = _edge_geometries(geoms, u, v, px, py, crs_in, crs, source)
    length, need = _edge_lengths(length, geoms, source)
    n_geom_len = int(need.sum())

    keep_e = ~_duplicates(u, v, length, geoms)
    n_dup = int((~keep_e).sum())
    u, v, length, geoms, need = u[keep_e], v[keep_e], length[keep_e], geoms[keep_e], need[keep_e]

    n_comp, keep_node = _largest_component(n_read, u, v)
    keep_edge = keep_node[u]
    new_pos = np.full(n_read, -1, dtype=np.int64)
    new_pos[keep_node] = np.arange(int(keep_node.sum()))
    node_ids, px, py = node_ids[keep_node], px[keep_node], py[keep_node]
    u, v = new_pos[u[keep_edge]], new_pos[v[keep_edge]]
    length, geoms, need = length[keep_edge], geoms[keep_edge], need[keep_edge]
    n = node_ids.shape[0]
    indptr, cols, w, parallel, n_loops = _csr(n, u, v, length)

    report = NetworkReport(
        source=source,
        reader=reader,
        crs_in=crs_in,
        crs=crs,
        nodes_read=n_read,
        edges_read=e_read,
        duplicate_edges=n_dup,
        components=n_comp,
        nodes_dropped=int((~keep_node).sum()),
        edges_dropped=int((~keep_edge).sum()),
        nodes=int(n),
        edges=int(u.shape[0]),
        parallel_edges=parallel,
        self_loops=n_loops,
        lengths_from_file=int((~need).sum()),
        lengths_from_geometry=int(need.sum()),
        geometries_filled=n_filled,
        total_length_km=round(float(length.sum()) / 1000.0, 3),
        notes=tuple(notes),
    )
    if n_geom_len:
        log.info("%s: %d edge lengths computed from the projected geometry", source, n_geom_len)
    net = WalkNetwork(
        node_ids=_readonly(node_ids),
        x=_readonly(px),
        y=_readonly(py),
        indptr=_readonly(indptr),
        indices=_readonly(cols.astype(np.int32)),
        data=_readonly(w.astype(np.float64)),
        edge_u=_readonly(u.astype(np.int64)),
        edge_v=_readonly(v.astype(np.int64)),
        edge_length=_readonly(length),
        edge_geometry=_readonly(geoms),
        crs=crs,
        report=report,
    )
    log.info("walk network: %s", report)
    return net


# ----------------------------------------------------------------------------------------
# public builders from in-memory forms


def walk_network_from_graph(
    G: nx.Graph, *, crs: str = BNG, source: str = "networkx graph"
) -> WalkNetwork:
    """Build a :class:`WalkNetwork` from a networkx graph in osmnx's layout.

    Parameters
    ----------
    G
        A graph (``MultiDiGraph`` from osmnx, or any networkx graph) whose nodes have ``x``
        and ``y`` and whose ``G.graph["crs"]`` names their CRS (osmnx's default is
        EPSG:4326). Edges may have ``length`` (metres; kept) and ``geometry`` (a LineString
        in the same CRS; a straight line is used where absent). Directions are ignored:
        every edge is walkable both ways, and the reverse twins of a directed graph are
        removed as duplicates.
    crs
        CRS of the network (projected, metres).
    source
        Label recorded in the report.

    Returns
    -------
    WalkNetwork
    """
    return _from_graph(G, crs=crs, source=source, reader="graph")


def _from_graph(G: nx.Graph, *, crs: str, source: str, reader: str) -> WalkNetwork:
    arrays = _graph_arrays(G, source=source)
    return _assemble(*arrays, crs_in=G.graph["crs"], crs=crs, source=source, reader=reader)


GraphArrays = tuple[
    np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray
]


def _graph_arrays(G: nx.Graph, *, source: str) -> GraphArrays:
    """(node ids, x, y, u ids, v ids, lengths, geometries) of a networkx graph, in the
    graph's CRS (``G.graph["crs"]``, required)."""
    if "crs" not in G.graph:
        raise CRSError(
            f"{source}: the graph has no G.graph['crs']; set it to the CRS of the "
            "nodes' x/y (osmnx graphs have it)"
        )
    n = G.number_of_nodes()
    node_ids = np.fromiter(G.nodes, dtype=np.int64, count=n) if n else np.zeros(0, np.int64)
    try:
        xs = np.fromiter((d["x"] for _, d in G.nodes(data=True)), dtype=np.float64, count=n)
        ys = np.fromiter((d["y"] for _, d in G.nodes(data=True)), dtype=np.float64, count=n)
    except KeyError as exc:
        raise GraphError(f"{source}: every node needs 'x' and 'y' attributes") from exc
    if G.is_multigraph():
        edges = list(G.edges(keys=True, data=True))
        us = [e[0] for e in edges]
        vs = [e[1] for e in edges]
        datas = [e[3] for e in edges]
    else:
        edges2 = list(G.edges(data=True))
        us = [e[0] for e in edges2]
        vs = [e[1] for e in edges2]
        datas = [e[2] for e in edges2]
    length = np.array([float(d.get("length", np.nan)) for d in datas], dtype=np.float64)
    geoms = np.empty(len(datas), dtype=object)
    geoms[:] = [d.get("geometry") for d in datas]
    return (
        node_ids,
        xs,
        ys,
        np.asarray(us, dtype=np.int64),
        np.asarray(vs, dtype=np.int64),
        length,
        geoms,
    )


def walk_network_from_gdfs(
    nodes: gpd.GeoDataFrame,
    edges: gpd.GeoDataFrame,
    *,
    crs: str = BNG,
    source: str = "GeoDataFrames",
) -> WalkNetwork:
    """Build a :class:`WalkNetwork` from node and edge GeoDataFrames (osmnx's layout).

    Parameters
    ----------
    nodes
        Point GeoDataFrame; ids from an ``osmid`` column, else the index (integers).
    edges
        LineString GeoDataFrame with ``u`` and ``v`` columns (or index levels) naming node
        ids, and optionally ``length`` in metres.
    crs
        CRS of the network (projected, metres).
    source
        Label recorded in the report.
    """
    from cnmap.errors import MissingColumnError

    if nodes.crs is None or edges.crs is None:
        raise CRSError(f"{source}: nodes and edges need a CRS (set it with .set_crs())")
    if "osmid" in nodes.columns:
        ids = nodes["osmid"].to_numpy()
    else:
        ids = nodes.index.to_numpy()
    pts = nodes.geometry.to_numpy()
    coords = shapely.get_coordinates(pts)
    if coords.shape[0] != len(nodes):
        raise GraphError(f"{source}: every node needs a point geometry")
    e = edges.reset_index() if not {"u", "v"} <= set(edges.columns) else edges
    for col in ("u", "v"):
        if col not in e.columns:
            raise MissingColumnError(
                f"{source}: edges have no '{col}' column; osmnx layout "
                "needs u and v naming the end nodes' ids"
            )
    length = e["length"].to_numpy(dtype=np.float64) if "length" in e.columns else None
    edges_geoms = (
        e.geometry.to_numpy() if edges.crs == nodes.crs else e.geometry.to_crs(nodes.crs).to_numpy()
    )
    return _assemble(
        ids,
        coords[:, 0],
        coords[:, 1],
        e["u"].to_numpy(),
        e["v"].to_numpy(),
        length,
        np.asarray(edges_geoms, dtype=object),
        crs_in=nodes.crs,
        crs=crs,
        source=source,
        reader="gdfs",
    )
