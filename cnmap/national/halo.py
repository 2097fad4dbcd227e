"""One piece of a partitioned run: its residents, and everything within a halo around them.

A national run is cut into pieces (districts). A piece holds its own residents and only the
organisations, and in network mode the part of the walk network, near them:

- **organisations** whose straight-line distance to the nearest resident of the piece is at
  most ``R`` (the *halo radius*, first the walk limit);
- **network edges** whose geometry comes within ``R + max_snap_m`` of a resident, with every
  other edge joining two nodes of those edges (the sub-network is the *induced* subgraph on
  their nodes, so the shortest of parallel edges is the whole network's).

Why the piece's answers are exact (equal to one run over everything, to the last digit):

1. Every walk is at least as long as the straight line (the access legs are straight lines,
   the edges are followed along their geometry). A walk of length ``d <= R`` from a resident
   therefore never leaves the disc of radius ``R`` around it: each edge it touches comes within
   ``R`` of the resident and is kept, and the organisation it reaches is within ``R`` and kept.
2. An organisation within ``R`` of a resident joins the network at its nearest edge, which is
   within ``max_snap_m`` of it, so within ``R + max_snap_m`` of the resident: kept. Every
   closer edge is kept too, so it snaps to the same point as in the whole network (and an
   organisation farther than ``max_snap_m`` from every edge is left out in both).
3. A resident snaps to its nearest edge (within ``max_snap_m <= R + max_snap_m``): kept.
4. The piece is a subgraph with fewer organisations: no walk in it is shorter than in the
   whole network, and by 1-3 every walk of length ``<= R`` is present with the same edges,
   lengths and access legs, so the same floating-point sums.

Hence a resident whose walk in the piece is at most ``R`` has exactly the whole-run walk, and
every count "within ``T`` minutes" is exact when ``T``'s distance is at most ``R``. Residents
whose nearest organisation (of any type) lies farther than ``R`` are computed again with the
radius widened, until every resident is resolved or the halo holds every organisation and the
whole network (then the piece *is* the whole run). The next radius is at least double the last,
and at least the longest walk still unresolved *as found in the halo*: that walk is a real walk
in the whole network (same access legs, a subgraph's edges), so the exact walk is no longer and
the next pass resolves it. With several organisation types, whose nearest may be tens of
kilometres away, this takes two or three passes instead of one per doubling.

The network may be given whole, or as a :class:`NetworkSource` that builds on demand the part
of a larger network around some points (a partitioned run then never holds the whole network:
each task builds its own halo). In straight-line mode the same argument
holds with the straight line times the detour factor (at least the straight line), and the
first radius is already the longest walk to the nearest organisation (found with a k-d tree
on every organisation), so one pass resolves everyone.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from cnmap import columns as C
from cnmap import schema as S
from cnmap.errors import ValidationError

if TYPE_CHECKING:
    from cnmap.area import Area
    from cnmap.network import WalkNetwork
    from cnmap.network.build import EdgeCoords

__all__ = [
    "NetworkSource",
    "WalkSpec",
    "HaloPass",
    "HaloResult",
    "halo_walks",
    "organisations_within",
    "sub_network",
    "type_slugs",
    "UNTYPED",
]

log = logging.getLogger(__name__)

#: The type given to organisations without one (as :func:`cnmap.coverage.coverage` does).
UNTYPED = S.UNTYPED
#: A walk within this relative margin of the radius is computed again with a wider halo.
_RADIUS_MARGIN = 1e-9
#: Most passes (1.2 km doubled 12 times is about 4,900 km: all of England).
MAX_PASSES = 13


@runtime_checkable
class NetworkSource(Protocol):
    """A walk network too large to hold, built piece by piece around some points."""

    def around(self, xy: np.ndarray, radius_m: float) -> tuple[WalkNetwork, bool]:
        """The part of the network a halo of ``radius_m`` around ``xy`` needs.

        Parameters
        ----------
        xy
            Points (n x 2, the network's CRS).
        radius_m
            Halo radius.

        Returns
        -------
        tuple
            ``(network, whole)``: a network holding every edge that comes within ``radius_m``
            of a point and every edge joining two ends of those edges, with the nodes and
            edges in the whole network's order and its node ids; ``whole`` is True when that
            is the whole network.
        """
        ...


@dataclass(frozen=True)
class WalkSpec:
    """The walking parameters shared by every piece (what :func:`cnmap.coverage` is given).

    Attributes
    ----------
    minutes
        Time limits, ascending.
    speed_kmh
        Walking speed.
    mode
        ``"network"`` or ``"crow_flies"``.
    detour_factor
        Straight-line mode: walking / straight-line distance (>= 1).
    max_snap_m
        Largest distance from a point to the street network (network mode).
    type_col
        Organisation type column (None: no breakdown by type).
    """

    minutes: tuple[int | float, ...]
    speed_kmh: float
    mode: str = "crow_flies"
    detour_factor: float | None = None
    max_snap_m: float = 500.0
    type_col: str | None = C.ORG_TYPE

    @property
    def metres_per_minute(self) -> float:
        """The walking speed in metres per minute."""
        return self.speed_kmh * 1000.0 / 60.0

    @property
    def walk_limit_m(self) -> float:
        """The longest time limit as a distance: the first halo radius."""
        return float(max(self.minutes)) * self.metres_per_minute

    def coverage_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`cnmap.coverage.coverage` for this spec."""
        return {
            "minutes": list(self.minutes),
            "speed_kmh": self.speed_kmh,
            "mode": self.mode,
            "detour_factor": self.detour_factor if self.mode == "crow_flies" else None,
            "max_snap_m": self.max_snap_m,
            "type_col": self.type_col,
            "by_type": self.type_col is not None,
        }


@dataclass(frozen=True)
class HaloPass:
    """One computation of a piece: the radius, and how many residents, organisations and
    network nodes it held."""

    radius_m: float
    residents: int
    organisations: int
    network_nodes: int
    unresolved: int
    whole: bool


@dataclass(frozen=True)
class HaloResult:
    """Per-resident walks of a piece, in the order of its residents.

    Attributes
    ----------
    residents
        The columns of :attr:`cnmap.coverage.CoverageResult.residents` (``lsoa_code``,
        ``ward_code``, ``weight``, ``placed``, ``walk_m``, ``walk_min``,
        ``n_reachable_{T}min``, ``covered_{T}min`` and the by-type columns), without geometry.
    passes
        The computations made (the first at the walk limit, then wider radii).
    types
        Organisation types (slugs) of the by-type columns.
    """

    residents: pd.DataFrame
    passes: tuple[HaloPass, ...]
    types: tuple[str, ...] = field(default=())

    @property
    def radius_m(self) -> float:
        """The radius within which every resident's walks are exact (the last pass's)."""
        return self.passes[-1].radius_m if self.passes else float("nan")


# ---------------------------------------------------------------------------------------------
# organisation types (the slugs cnmap.coverage gives them)


def type_slugs(orgs: gpd.GeoDataFrame, type_col: str | None) -> np.ndarray:
    """Each organisation's type as :func:`cnmap.coverage.coverage` names it in its columns."""
    if type_col is None or type_col not in orgs.columns:
        return np.full(len(orgs), UNTYPED, dtype=object)
    t = orgs[type_col].astype(object).where(orgs[type_col].notna(), UNTYPED)
    return np.array([S.type_slug(v) for v in t], dtype=object)


def _types(slugs: np.ndarray) -> tuple[str, ...]:
    kinds = sorted(set(slugs.tolist()))
    return () if kinds in ([], [UNTYPED]) else tuple(kinds)


# ---------------------------------------------------------------------------------------------
# the halo


def _xy(points: gpd.GeoSeries | gpd.GeoDataFrame) -> np.ndarray:
    geoms = np.asarray(points.geometry.values if hasattr(points, "geometry") else points.values)
    xy: np.ndarray = shapely.get_coordinates(geoms)
    return xy


def organisations_within(
    orgs_xy: np.ndarray, residents_xy: np.ndarray, radius_m: float
) -> np.ndarray:
    """Mask of the organisations within ``radius_m`` (straight line) of some resident."""
    if len(orgs_xy) == 0 or len(residents_xy) == 0:
        return np.zeros(len(orgs_xy), dtype=bool)
    # the tree's bound is strict: search a hair beyond, keep what is at most radius_m away
    bound = float(np.nextafter(radius_m, np.inf))
    d, _ = cKDTree(residents_xy).query(orgs_xy, k=1, distance_upper_bound=bound)
    return np.asarray(d <= radius_m)


def _edge_reach(coords: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Half the longest segment of each edge of a flat geometry array: every point of the edge
    is at most that far from one of its vertices."""
    seg = np.zeros(len(coords))
    seg[:-1] = np.hypot(np.diff(coords[:, 0]), np.diff(coords[:, 1]))
    seg[offsets[1:] - 1] = 0.0  # the last vertex of an edge starts no segment of it
    return np.asarray(np.maximum.reduceat(seg, offsets[:-1]) / 2.0)


def _lines(coords: np.ndarray, offsets: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """LineStrings of some edges of a flat geometry array."""
    counts = offsets[edges + 1] - offsets[edges]
    first = np.repeat(offsets[edges] - np.cumsum(counts) + counts, counts)
    lines: np.ndarray = shapely.linestrings(
        coords[first + np.arange(int(counts.sum()))],
        indices=np.repeat(np.arange(edges.size), counts),
    )
    return lines


def _edges_near(net: WalkNetwork, residents_xy: np.ndarray, radius_m: float) -> np.ndarray:
    """Mask of the edges whose geometry comes within ``radius_m`` of some resident.

    An edge with a vertex within ``radius_m`` of a resident is near; one whose vertices are all
    farther than ``radius_m`` plus half its longest segment is not; only the edges in between
    are measured exactly (a k-d tree on the vertices does the rest, in a fraction of the time
    of a nearest-geometry search with a kilometres-wide bound).
    """
    if len(residents_xy) == 0 or net.n_edges == 0:
        return np.zeros(net.n_edges, dtype=bool)
    flat = net.edge_coords
    coords, offsets = flat.coords, flat.offsets
    reach = _edge_reach(coords, offsets)
    bound = float(np.nextafter(radius_m + float(reach.max(initial=0.0)) + 1e-6, np.inf))
    d, _ = cKDTree(residents_xy).query(coords, k=1, distance_upper_bound=bound)
    dmin = np.minimum.reduceat(d, offsets[:-1])
    mask = np.asarray(dmin <= radius_m)
    maybe = np.flatnonzero(~mask & (dmin - reach <= radius_m + 1e-6))
    if maybe.size:
        tree = shapely.STRtree(shapely.points(residents_xy))
        hit, dist = tree.query_nearest(
            _lines(coords, offsets, maybe), all_matches=False, return_distance=True
        )
        mask[maybe[np.asarray(hit)[0][np.asarray(dist) <= radius_m]]] = True
    return mask


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


def _induced_csr(
    net: WalkNetwork, keep: np.ndarray, new_pos: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The whole network's CSR restricted to the kept nodes (lengths and order unchanged)."""
    rows = np.repeat(np.arange(net.n_nodes), np.diff(net.indptr))
    sel = keep[rows] & keep[net.indices]
    r, c, w = new_pos[rows[sel]], new_pos[net.indices[sel]], net.data[sel]
    n = int(keep.sum())
    indptr = np.zeros(n + 1, dtype=net.indptr.dtype)
    np.cumsum(np.bincount(r, minlength=n), out=indptr[1:])
    return indptr, c.astype(net.indices.dtype), w


def _flat_subset(net: WalkNetwork, edges: np.ndarray) -> EdgeCoords:
    """Some edges' geometries, as flat coordinates (LineStrings are made when needed)."""
    from cnmap.network.build import EdgeCoords

    flat = net.edge_coords
    counts = flat.offsets[edges + 1] - flat.offsets[edges]
    offsets = np.zeros(edges.size + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    first = np.repeat(flat.offsets[edges] - offsets[:-1], counts)
    return EdgeCoords(
        coords=_readonly(flat.coords[first + np.arange(int(offsets[-1]))]), offsets=offsets
    )


def sub_network(
    net: WalkNetwork, residents_xy: np.ndarray, radius_m: float
) -> tuple[WalkNetwork, bool]:
    """The part of ``net`` a piece needs: ``(sub-network, True if it is all of net)``.

    The nodes are the ends of the edges within ``radius_m`` of a resident; the sub-network is
    the subgraph they induce (every edge joining two of them), nodes and edges kept in their
    order. Components are not pruned: a piece may be disconnected inside its halo.
    """
    near = _edges_near(net, residents_xy, radius_m)
    keep = np.zeros(net.n_nodes, dtype=bool)
    keep[net.edge_u[near]] = True
    keep[net.edge_v[near]] = True
    if keep.all():
        return net, True
    new_pos = np.full(net.n_nodes, -1, dtype=np.int64)
    new_pos[keep] = np.arange(int(keep.sum()))
    edges = keep[net.edge_u] & keep[net.edge_v]
    indptr, indices, data = _induced_csr(net, keep, new_pos)
    length = net.edge_length[edges]
    note = (
        f"halo of {radius_m:,.0f} m around a piece's residents: {int(keep.sum()):,} of "
        f"{net.n_nodes:,} nodes"
    )
    report = dataclasses.replace(
        net.report,
        nodes=int(keep.sum()),
        edges=int(edges.sum()),
        total_length_km=round(float(length.sum()) / 1000.0, 3),
        notes=(*net.report.notes, note),
    )
    sub = type(net)(
        node_ids=_readonly(net.node_ids[keep]),
        x=_readonly(net.x[keep]),
        y=_readonly(net.y[keep]),
        indptr=_readonly(indptr),
        indices=_readonly(indices),
        data=_readonly(data),
        edge_u=_readonly(new_pos[net.edge_u[edges]]),
        edge_v=_readonly(new_pos[net.edge_v[edges]]),
        edge_length=_readonly(length),
        edge_geometry=_flat_subset(net, np.flatnonzero(edges)),
        crs=net.crs,
        report=report,
    )
    return sub, False


# ---------------------------------------------------------------------------------------------
# the passes


def _check_inputs(
    residents: gpd.GeoDataFrame,
    orgs: gpd.GeoDataFrame,
    spec: WalkSpec,
    network: WalkNetwork | NetworkSource | None,
) -> None:
    for name, frame in (("residents", residents), ("organisations", orgs)):
        if (
            not isinstance(frame, gpd.GeoDataFrame)
            or frame.crs is None
            or frame.crs.to_epsg() != 27700
        ):
            raise ValidationError(f"halo_walks: {name} must be a GeoDataFrame in EPSG:27700")
    if len(orgs) == 0:
        raise ValidationError("halo_walks: there are no organisations")
    if spec.mode == "network" and network is None:
        raise ValidationError("halo_walks: mode='network' needs network=")
    if spec.mode == "crow_flies" and spec.detour_factor is None:
        raise ValidationError("halo_walks: straight-line mode needs a detour factor")


def _walk_columns(types: Sequence[str]) -> list[str]:
    return [S.walk_min(k) for k in (None, *types)]


def _complete_types(frame: pd.DataFrame, spec: WalkSpec, types: Sequence[str]) -> pd.DataFrame:
    """Add the by-type columns of types absent from the halo: nothing reached (yet)."""
    extra: dict[str, Any] = {}
    placed = frame[S.PLACED].to_numpy(bool)
    for k in types:
        if S.walk_min(k) in frame.columns:
            continue
        for t in spec.minutes:
            extra[S.covered(t, k)] = np.zeros(len(frame), dtype=bool)
            extra[S.n_reachable(t, k)] = np.zeros(len(frame))
        extra[S.walk_min(k)] = np.where(placed, np.inf, np.nan)
    return frame.assign(**extra) if extra else frame


def _unresolved(
    frame: pd.DataFrame, types: Sequence[str], radius_m: float, spec: WalkSpec
) -> np.ndarray:
    """Residents with a walk (to the nearest organisation, or of a type) beyond the radius."""
    limit = radius_m * (1.0 - _RADIUS_MARGIN) / spec.metres_per_minute
    out = np.zeros(len(frame), dtype=bool)
    for col in _walk_columns(types):
        v = frame[col].to_numpy(float)
        out |= ~np.isnan(v) & ~(v <= limit)
    return out


def _one_pass(
    residents: gpd.GeoDataFrame,
    orgs: gpd.GeoDataFrame,
    area: Area,
    network: WalkNetwork | None,
    spec: WalkSpec,
) -> pd.DataFrame:
    from cnmap.coverage import coverage

    r = coverage(orgs, area, residents=residents, network=network, **spec.coverage_kwargs())
    return pd.DataFrame(r.residents.drop(columns="geometry"))


def _halo_network(
    network: WalkNetwork | NetworkSource | None, xy: np.ndarray, radius_m: float, spec: WalkSpec
) -> tuple[WalkNetwork | None, bool]:
    if spec.mode != "network" or network is None:
        return None, True
    # a margin over R + max_snap_m: extra edges change nothing, a missing one would
    reach = (radius_m + spec.max_snap_m) * (1.0 + 1e-9) + 1e-6
    if isinstance(network, NetworkSource):
        part, whole = network.around(xy, reach)
        sub, all_of_part = sub_network(part, xy, reach)
        return sub, whole and all_of_part
    return sub_network(network, xy, reach)


def _next_radius(
    frame: pd.DataFrame, left: np.ndarray, types: Sequence[str], radius_m: float, spec: WalkSpec
) -> float:
    """Double the radius, or more: the longest unresolved walk found in this halo (a real walk
    of the whole network, so at least as long as the exact one)."""
    found = frame[_walk_columns(types)].to_numpy(float)[left]
    found = found[np.isfinite(found)]
    longest = float(found.max()) * spec.metres_per_minute if found.size else 0.0
    return max(2.0 * radius_m, longest * (1.0 + 1e-6) + 1e-6)


def _merge(parts: list[tuple[np.ndarray, pd.DataFrame]], n: int) -> pd.DataFrame:
    """Per-resident frames of the passes, later passes replacing earlier rows."""
    first_pos, first = parts[0]
    if len(first_pos) != n:
        raise AssertionError("the first pass must hold every resident")
    out = first.copy()
    for pos, frame in parts[1:]:
        out.iloc[pos, [out.columns.get_loc(c) for c in frame.columns]] = frame[
            list(frame.columns)
        ].to_numpy(dtype=object)
    return out.astype(first.dtypes.to_dict())


def _first_radius(
    spec: WalkSpec, orgs_xy: np.ndarray, res_xy: np.ndarray, slugs: np.ndarray, types: Sequence[str]
) -> float:
    """The walk limit; in straight-line mode, at least the longest walk to the nearest
    organisation (of each type), so that one pass resolves everyone."""
    radius = spec.walk_limit_m
    if spec.mode != "crow_flies" or spec.detour_factor is None or len(res_xy) == 0:
        return radius
    for mask in [np.ones(len(orgs_xy), dtype=bool), *(slugs == k for k in types)]:
        d, _ = cKDTree(orgs_xy[mask]).query(res_xy, k=1)
        radius = max(radius, float(d.max()) * spec.detour_factor * (1.0 + 1e-6) + 1e-6)
    return radius


def halo_walks(
    residents: gpd.GeoDataFrame,
    orgs: gpd.GeoDataFrame,
    area: Area,
    *,
    spec: WalkSpec,
    network: WalkNetwork | NetworkSource | None = None,
) -> HaloResult:
    """Walks of a piece's residents computed on its halo only, exact (see the module text).

    Parameters
    ----------
    residents
        The piece's residential points (EPSG:27700; ``lsoa_code``, ``ward_code``,
        ``weight``), e.g. rows of :func:`cnmap.residents.residential_points`.
    orgs
        Every organisation (EPSG:27700, points), not only the piece's: the halo is chosen here.
    area
        The area whose LSOAs and wards the residents' codes belong to.
    spec
        Walking parameters.
    network
        The walk network (network mode), covering the piece and its surroundings, or a
        :class:`NetworkSource` building the part of it each pass needs.

    Returns
    -------
    HaloResult
    """
    _check_inputs(residents, orgs, spec, network)
    slugs = type_slugs(orgs, spec.type_col)
    types = _types(slugs)
    orgs_xy, res_xy = _xy(orgs), _xy(residents)
    todo = np.arange(len(residents))
    radius = _first_radius(spec, orgs_xy, res_xy, slugs, types)
    parts: list[tuple[np.ndarray, pd.DataFrame]] = []
    passes: list[HaloPass] = []
    last = radius
    for _ in range(MAX_PASSES):
        near = organisations_within(orgs_xy, res_xy[todo], radius)
        net, whole_net = _halo_network(network, res_xy[todo], radius, spec)
        whole = bool(near.all()) and whole_net
        sub = residents.iloc[todo]
        next_radius = radius * 2.0
        if near.any():
            frame = _complete_types(_one_pass(sub, orgs.loc[near], area, net, spec), spec, types)
            left = (
                np.zeros(len(todo), dtype=bool)
                if whole
                else _unresolved(frame, types, radius, spec)
            )
            parts.append((todo, frame))
            next_radius = _next_radius(frame, left, types, radius, spec)
        else:
            left = np.ones(len(todo), dtype=bool)
        passes.append(
            HaloPass(
                radius,
                len(todo),
                int(near.sum()),
                0 if net is None else net.n_nodes,
                int(left.sum()),
                whole,
            )
        )
        if not left.any():
            break
        todo, last, radius = todo[left], radius, next_radius
    else:
        raise ValidationError(
            f"halo_walks: {len(todo)} residents still have no organisation "
            f"within {last:,.0f} m after {MAX_PASSES} passes"
        )
    return HaloResult(residents=_merge(parts, len(residents)), passes=tuple(passes), types=types)
