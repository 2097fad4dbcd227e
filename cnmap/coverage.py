"""Walking coverage: who can walk to a community organisation within N minutes, and who cannot.

:func:`coverage` places the area's residents on residential points
(:func:`cnmap.residents.residential_points`), snaps them and the organisations onto the
nearest walkable street edge, runs one multi-source shortest-path search for the walk to the
nearest organisation and bounded searches for the number of organisations within each time
limit (:mod:`cnmap.network`), and sums the people by LSOA, ward and IMD decile
(:func:`cnmap.aggregate.coverage_figures`).

Walking time is distance divided by an explicit speed (default 4.8 km/h = 80 m/min, so
15 minutes = 1,200 m). A crow-flies mode (straight-line distance times a detour factor,
calibrated on the network when one is given) is available for places without a network; its
results are labelled ``mode="crow_flies"`` everywhere.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import geopandas as gpd
import numpy as np
import pandas as pd

from cnmap import _check
from cnmap import schema as S
from cnmap.aggregate import coverage_figures_by, weighted_median
from cnmap.errors import MissingColumnError, ValidationError
from cnmap.geo import to_bng
from cnmap.params import CoverageParams
from cnmap.residents import residential_points

if TYPE_CHECKING:
    from cnmap.area import Area
    from cnmap.network import WalkNetwork
    from cnmap.network.cover import SnapCoverage
    from cnmap.network.snap import SnapResult

__all__ = [
    "CoverageLike",
    "CoverageResult",
    "coverage",
    "DEFAULT_SPEED_KMH",
    "WALKING_PERSONAS",
    "calibrate_detour_factor",
    "weighted_median",
]

log = logging.getLogger(__name__)

DEFAULT_SPEED_KMH = 4.8
MODES = ("network", "crow_flies")
UNTYPED = S.UNTYPED


def _personas() -> dict[str, float]:
    from cnmap.network import WALKING_SPEEDS

    return dict(WALKING_SPEEDS)


WALKING_PERSONAS: dict[str, float]  # filled lazily by __getattr__ (numba import is slow)


def __getattr__(name: str) -> Any:
    if name == "WALKING_PERSONAS":
        return _personas()
    raise AttributeError(name)


# ---------------------------------------------------------------------------------------------
# result


@runtime_checkable
class CoverageLike(Protocol):
    """What the analyses (thin areas, maps, exports) read from a coverage result.

    :class:`CoverageResult` is one; so is any object with these attributes.
    """

    @property
    def thresholds(self) -> tuple[int | float, ...]:
        """The time limits computed, in minutes."""
        ...

    @property
    def speed_kmh(self) -> float:
        """The walking speed, km/h."""
        ...

    @property
    def lsoas(self) -> gpd.GeoDataFrame:
        """One row per LSOA with its coverage figures."""
        ...

    @property
    def wards(self) -> gpd.GeoDataFrame:
        """One row per ward with its coverage figures."""
        ...

    @property
    def residents(self) -> gpd.GeoDataFrame:
        """One row per residential point with its walks."""
        ...

    @property
    def organisations(self) -> gpd.GeoDataFrame:
        """The organisations placed."""
        ...

    @property
    def params(self) -> Mapping[str, Any]:
        """Every parameter of the run, by name."""
        ...

    @property
    def parameters(self) -> CoverageParams:
        """The parameters as a typed object."""
        ...

    @property
    def types(self) -> tuple[str, ...]:
        """The organisation types (slugs)."""
        ...

    @property
    def area(self) -> Area | None:
        """The area the coverage is of, when known."""
        ...


@dataclass(frozen=True, eq=False)
class CoverageResult:
    """Walking coverage of an area's residents by a set of organisations.

    See ``docs/coverage.md`` for every column. Frames are in EPSG:27700.

    Attributes
    ----------
    thresholds
        The time limits in minutes, ascending.
    speed_kmh
        Walking speed used to turn metres into minutes.
    mode
        ``"network"`` (street network) or ``"crow_flies"`` (straight line x detour factor).
    lsoas, wards
        One row per LSOA / ward: population, ``pop_covered_{T}min``, ``share_covered_{T}min``,
        ``mean_reachable_{T}min``, ``mean_walk_min``, ``median_walk_min``, ``pop_unplaced``
        and the same by organisation type (``share_covered_{T}min_{type}``,
        ``mean_walk_min_{type}``). Names from :mod:`cnmap.schema` (``share_covered(15)``).
    deciles
        The equity view: the same by IMD decile (1 = most deprived 10% in England).
    totals
        One row per threshold for the whole area.
    organisations
        The organisations used, with ``snap_distance_m`` and ``snapped``.
    residents
        Residential points with their weight (people) and walking results.
    quality
        Problems found (organisations or residents too far from any street, ...).
    params
        Every parameter that changes the result, and the data vintages, as a dict
        (:attr:`parameters` is the typed view).
    sources
        Provenance of the data used.
    """

    thresholds: tuple[int | float, ...]
    speed_kmh: float
    mode: str
    lsoas: gpd.GeoDataFrame
    wards: gpd.GeoDataFrame
    deciles: pd.DataFrame
    totals: pd.DataFrame
    organisations: gpd.GeoDataFrame
    residents: gpd.GeoDataFrame
    quality: pd.DataFrame
    params: dict[str, Any]
    sources: pd.DataFrame
    types: tuple[str, ...] = ()
    area: Area | None = field(default=None, repr=False)
    network: WalkNetwork | None = field(default=None, repr=False)

    @property
    def parameters(self) -> CoverageParams:
        """The parameters, typed (:class:`cnmap.params.CoverageParams`)."""
        return CoverageParams.from_mapping(self.params)

    @property
    def headline_minutes(self) -> int | float:
        """15 if it is among the thresholds, else the largest threshold."""
        return S.default_minutes(self.thresholds)

    def metres(self, minutes: float) -> float:
        """Walking distance in metres for ``minutes`` at this result's speed."""
        m = _check.non_negative_number("minutes", minutes, unit="minutes")
        return m * self.speed_kmh * 1000.0 / 60.0

    def share_covered(self, minutes: float | None = None) -> float:
        """Share of the area's population within ``minutes`` of an organisation."""
        m = self.headline_minutes if minutes is None else minutes
        row = self.totals.loc[self.totals[S.MINUTES] == m]
        if row.empty:
            raise ValidationError(
                f"minutes={m} is not among this result's thresholds "
                f"{list(self.thresholds)}; run coverage(..., minutes=[..., {m}])"
            )
        return float(row[S.SHARE_COVERED].iloc[0])

    def catchments(
        self,
        minutes: float | None = None,
        *,
        per_organisation: bool = False,
        buffer_m: float = 50.0,
        simplify_m: float = 5.0,
    ) -> gpd.GeoDataFrame:
        """Walking catchments of the organisations (reached streets, buffered), for display.

        Network mode only: made from the street network by buffering the reached edges, with
        partly reached edges cut at the limit.
        """
        if self.network is None:
            raise ValidationError(
                "catchments need the street network: this result was computed "
                "in crow-flies mode; use mode='network'"
            )
        from cnmap.network import catchments as _catchments

        m = self.headline_minutes if minutes is None else minutes
        buffer_m = _check.non_negative_number("buffer_m", buffer_m, unit="metres")
        simplify_m = _check.non_negative_number("simplify_m", simplify_m, unit="metres")
        snapped = self.organisations.loc[self.organisations[S.SNAPPED]]
        out = _catchments(
            self.network,
            snapped.set_index(S.ORG_ID).geometry,
            cutoff_m=self.metres(m),
            per_source=per_organisation,
            buffer_m=buffer_m,
            simplify_m=simplify_m,
            max_snap_m=self.parameters.max_snap_m,
        )
        out[S.MINUTES] = m
        return out

    def summary(self) -> str:
        """A few lines for logs and notebooks."""
        lines = [
            f"Coverage ({self.mode}, {self.speed_kmh:g} km/h) of "
            f"{self.parameters.population:,.0f} residents by "
            f"{int(self.organisations[S.SNAPPED].sum())} organisations:"
        ]
        for _, r in self.totals.iterrows():
            lines.append(
                f"  {r[S.MINUTES]:g} min ({r[S.METRES]:,.0f} m): "
                f"{r[S.POP_COVERED]:,.0f} people ({r[S.SHARE_COVERED]:.1%})"
            )
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"CoverageResult({self.mode}, {len(self.lsoas)} LSOAs, {len(self.wards)} wards, "
            f"minutes={list(self.thresholds)}, speed={self.speed_kmh:g} km/h, "
            f"{self.share_covered():.1%} within {self.headline_minutes:g} min)"
        )


# ---------------------------------------------------------------------------------------------
# helpers


def _as_minutes(minutes: float | Iterable[float]) -> tuple[int | float, ...]:
    """``minutes`` as sorted, distinct time limits (see :func:`cnmap._check.minutes_tuple`)."""
    return _check.minutes_tuple("minutes", minutes)


def _speed(speed_kmh: float | None, persona: str | None) -> tuple[float, str | None]:
    from cnmap.network.speeds import resolve_speed  # lazily: the network package loads numba

    return resolve_speed(speed_kmh, persona)


def _check_arguments(
    mode: Any,
    max_snap_m: Any,
    network: Any,
    residents: Any,
    type_col: Any,
    by_type: Any,
    detour_factor: Any,
) -> float:
    """Types and ranges of :func:`coverage`'s other arguments; returns ``max_snap_m``."""
    if not isinstance(mode, str) or mode not in MODES:
        raise ValidationError(f"mode={mode!r} is not one of {MODES}")
    snap = _check.positive_number("max_snap_m", max_snap_m, unit="metres")
    if network is not None:
        from cnmap.network import WalkNetwork

        if not isinstance(network, WalkNetwork):
            raise ValidationError(
                f"network= must be a walk network from "
                f"cnmap.network.read_walk_network(path), not "
                f"{type(network).__name__}"
            )
    if not isinstance(residents, str | gpd.GeoDataFrame):
        raise ValidationError(
            f"residents= must be 'postcodes', 'streets', 'centroids' or a "
            f"GeoDataFrame of points, not {type(residents).__name__}"
        )
    _check.optional_text("type_col", type_col, what="a column name")
    _check.flag("by_type", by_type)
    if detour_factor is not None:
        _check.number("detour_factor", detour_factor, unit="walking / straight-line distance")
    return snap


def _organisations_frame(orgs: Any, type_col: str | None) -> gpd.GeoDataFrame:
    """A GeoDataFrame (EPSG:27700) with org_id, name, type from an OrganisationTable or frame."""
    gdf = getattr(orgs, "organisations", orgs)
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise ValidationError(
            "orgs must be the result of cnmap.read_organisations or a "
            f"GeoDataFrame of points, not {type(orgs).__name__}"
        )
    if gdf.crs is None:
        from cnmap.errors import CRSError

        raise CRSError(
            "the organisations GeoDataFrame has no CRS; set it (e.g. "
            "gdf.set_crs('EPSG:4326')) or read it with cnmap.read_organisations"
        )
    gdf = to_bng(gdf, name="organisations")
    bad = gdf.geometry.isna() | gdf.geometry.is_empty | (gdf.geom_type != "Point")
    if bad.any():
        rows = list(gdf.index[bad][:5])
        raise ValidationError(
            f"organisations at index {rows} have no point geometry; read them "
            "with cnmap.read_organisations, which reports such rows as rejected"
        )
    if S.ORG_ID not in gdf.columns:
        gdf[S.ORG_ID] = [f"org{i}" for i in range(len(gdf))]
    gdf[S.ORG_ID] = gdf[S.ORG_ID].astype(str)
    if gdf[S.ORG_ID].duplicated().any():
        dup = gdf.loc[gdf[S.ORG_ID].duplicated(), S.ORG_ID].iloc[0]
        raise ValidationError(
            f"organisation id {dup!r} appears twice in column {S.ORG_ID!r}; ids must be unique"
        )
    if S.NAME not in gdf.columns:
        gdf[S.NAME] = gdf[S.ORG_ID]
    if type_col == S.ORG_TYPE and type_col not in gdf.columns:
        type_col = None  # the default column is optional: no breakdown by type
    if type_col is not None and type_col not in gdf.columns:
        raise MissingColumnError(
            f"type_col={type_col!r} is not a column of the organisations "
            f"(columns: {list(gdf.columns)}); pass type_col=None to skip "
            "coverage by type"
        )
    if type_col is not None:
        t = gdf[type_col].astype(object).where(gdf[type_col].notna(), UNTYPED)
        gdf["_type"] = [S.type_slug(v) for v in t]
    else:
        gdf["_type"] = UNTYPED
    return gdf.reset_index(drop=True)


def _check_residents(res: gpd.GeoDataFrame, area: Area) -> None:
    """User residential points: weights are people (finite, >= 0), codes are the area's."""
    w = pd.to_numeric(res[S.WEIGHT], errors="coerce").to_numpy(float)
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        rows = list(res.index[bad][:5])
        raise ValidationError(
            f"residents column 'weight' is missing, not a number or negative "
            f"at rows {rows}; give every point a number of people >= 0"
        )
    for col, frame in ((S.LSOA_CODE, area.lsoas), (S.WARD_CODE, area.wards)):
        if frame is None or col not in frame.columns:
            continue
        unknown = ~res[col].isin(frame[col]).to_numpy()
        if unknown.any():
            rows = list(res.index[unknown][:5])
            vals = list(pd.unique(res[col].to_numpy()[unknown])[:5])
            raise ValidationError(
                f"residents column {col!r} has codes {vals} (rows {rows}) that "
                f"are not in area {area.lad_code}; their people would be left out "
                "of the tables: fix the codes or drop those points first"
            )


# ---------------------------------------------------------------------------------------------
# settings of one run


@dataclass(frozen=True)
class _Settings:
    """The checked settings of one :func:`coverage` call."""

    mode: str
    thresholds: tuple[int | float, ...]
    metres: dict[int | float, float]
    speed_kmh: float
    persona: str | None
    types: tuple[str, ...]
    max_snap_m: float

    @property
    def metres_per_minute(self) -> float:
        return self.speed_kmh * 1000.0 / 60.0


@dataclass(frozen=True)
class _Walks:
    """Walks of every residential point: ``frame`` has ``walk_m``, ``walk_m_{type}``,
    ``n_reachable_{T}min`` and ``n_reachable_{T}min_{type}`` (one array each)."""

    frame: dict[str, np.ndarray]
    placed: np.ndarray
    quality: list[dict[str, Any]]
    detour: float | None = None
    detour_info: dict[str, float] | None = None
    snap_coverage: dict[str, Any] | None = None


def _types_of(og: gpd.GeoDataFrame, type_col: str | None, by_type: bool) -> tuple[str, ...]:
    """Organisation types for the by-type columns (none without type information)."""
    found = sorted(set(og["_type"])) if by_type and type_col is not None else []
    return () if found == [UNTYPED] else tuple(found)


def _resident_points(
    residents: str | gpd.GeoDataFrame, area: Area, network: WalkNetwork | None
) -> tuple[gpd.GeoDataFrame, str]:
    """The residential points (EPSG:27700) and how they were made."""
    if not isinstance(residents, gpd.GeoDataFrame):
        edges = network.edge_geometry if network is not None else None
        return residential_points(area, method=residents, edge_geometries=edges), residents
    for col in (S.LSOA_CODE, S.WARD_CODE, S.WEIGHT):
        if col not in residents.columns:
            raise MissingColumnError(
                f"residents has no {col!r} column; give residential "
                "points with lsoa_code, ward_code and weight (people)"
            )
    if residents.crs is None:
        from cnmap.errors import CRSError

        raise CRSError(
            "the residents GeoDataFrame has no CRS; set it (e.g. residents.set_crs('EPSG:27700'))"
        )
    _check_residents(residents, area)
    return to_bng(residents, name="residents").reset_index(drop=True), "user points"


def calibrate_detour_factor(
    net: WalkNetwork,
    residents: gpd.GeoDataFrame,
    orgs: gpd.GeoDataFrame,
    *,
    max_snap_m: float = 500.0,
    sample: int = 5000,
    min_euclid_m: float = 100.0,
    seed: int = 0,
) -> dict[str, float]:
    """Ratio of walking distance to straight-line distance, measured on the network.

    For a random sample of residential points, the walking distance to the nearest
    organisation (by network) is divided by the straight-line distance to that same
    organisation; pairs closer than ``min_euclid_m`` are ignored (access distances dominate).

    Returns
    -------
    dict
        ``median`` (the factor used), ``mean``, ``p25``, ``p75`` and ``n`` pairs.
    """
    from cnmap.network import distance_at_points, distance_to_nearest, snap_points

    rng = np.random.default_rng(seed)
    pts = (
        residents
        if len(residents) <= sample
        else residents.iloc[np.sort(rng.choice(len(residents), sample, replace=False))]
    )
    S = snap_points(net, orgs.geometry.reset_index(drop=True), max_snap_m=max_snap_m)
    nd = distance_to_nearest(net, S, return_source=True)
    P = snap_points(net, pts.geometry.reset_index(drop=True), max_snap_m=max_snap_m)
    d = distance_at_points(net, nd, P, sources=S)
    src = pd.to_numeric(pd.Series(d["source"]), errors="coerce").to_numpy()
    ok = np.isfinite(d["distance_m"].to_numpy(float)) & np.isfinite(src)
    px = pts.geometry.x.to_numpy()[ok]
    py = pts.geometry.y.to_numpy()[ok]
    sidx = src[ok].astype(int)
    ox = orgs.geometry.x.to_numpy()[sidx]
    oy = orgs.geometry.y.to_numpy()[sidx]
    eu = np.hypot(px - ox, py - oy)
    nw = d["distance_m"].to_numpy(float)[ok]
    keep = eu >= min_euclid_m
    ratio = nw[keep] / eu[keep]
    if ratio.size == 0:
        raise ValidationError(
            "no resident-organisation pair is far enough apart to calibrate a "
            "detour factor; give detour_factor explicitly"
        )
    return {
        "median": float(np.median(ratio)),
        "mean": float(ratio.mean()),
        "p25": float(np.percentile(ratio, 25)),
        "p75": float(np.percentile(ratio, 75)),
        "n": float(ratio.size),
    }


# ---------------------------------------------------------------------------------------------
# the walking searches


def _network_walks(
    net: WalkNetwork, res: gpd.GeoDataFrame, orgs: gpd.GeoDataFrame, run: _Settings
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray, SnapCoverage]:
    """Every walk of the residents on the network, snapping each point once.

    Three kinds of search: one multi-source search for the nearest organisation; one
    bounded search per organisation at the largest limit for the counts within every limit
    (by type); one search per type for the nearest organisation of each type.
    """
    from cnmap.network import check_snap_coverage, distance_at_points, distance_to_nearest
    from cnmap.network.snap import snap_points_together

    # residents and organisations snapped in one pass over the network, once for every search
    P, S_ = snap_points_together(
        net,
        [res.geometry.reset_index(drop=True), orgs.geometry.reset_index(drop=True)],
        max_snap_m=run.max_snap_m,
    )
    # a network that does not cover the area: warn above 1 %, refuse above 10 % of residents
    guard = check_snap_coverage(P, res[S.WEIGHT].to_numpy(float), max_snap_m=run.max_snap_m)
    out: dict[str, np.ndarray] = {}
    out.update(_counts_on_network(net, S_, P, orgs, run))
    out.update(_nearest_by_type(net, S_, P, orgs, run))
    if run.types:
        # every organisation has a type, so the nearest of all is the nearest of the nearest
        # of each type: the same numbers as a search from all of them (a search's distances
        # are the smallest sums over the paths, and adding a point's part of its edge keeps
        # the order), without that search
        walk = np.array(out[S.walk_m(run.types[0])], dtype=float)
        for k in run.types[1:]:
            np.minimum(walk, out[S.walk_m(k)], out=walk)
        out[S.WALK_M] = walk
    else:
        nd = distance_to_nearest(net, S_)
        out[S.WALK_M] = distance_at_points(net, nd, P, sources=S_).to_numpy(float)
    return out, P.ok, S_.ok, S_.access_m, guard


def _counts_on_network(
    net: WalkNetwork, S_: SnapResult, P: SnapResult, orgs: gpd.GeoDataFrame, run: _Settings
) -> dict[str, np.ndarray]:
    """``n_reachable_{T}min`` and ``n_reachable_{T}min_{type}``: one search per organisation
    at the largest limit answers every limit. Integer counts (views of the counts array):
    they become floats column by column in the residents table."""
    from cnmap.network import count_within_limits

    groups = orgs["_type"].to_numpy() if run.types else None
    cnt = count_within_limits(
        net, S_, limits_m=[run.metres[t] for t in run.thresholds], groups=groups, points=P
    )
    col = {str(g): j for j, g in enumerate(cnt.groups)}
    out: dict[str, np.ndarray] = {}
    for i, t in enumerate(run.thresholds):
        out[S.n_reachable(t)] = cnt.total(i)
        for k in run.types:
            out[S.n_reachable(t, k)] = (
                cnt.counts[:, i, col[k]] if k in col else np.zeros(len(P), dtype=np.int32)
            )
    return out


def _nearest_by_type(
    net: WalkNetwork, S_: SnapResult, P: SnapResult, orgs: gpd.GeoDataFrame, run: _Settings
) -> dict[str, np.ndarray]:
    """``walk_m_{type}``: the walk to the nearest organisation of each type (no limit), from
    the organisations snapped once."""
    if not run.types:
        return {}
    from cnmap.network import nearest_by_group

    d = nearest_by_group(net, S_, P, groups=orgs["_type"].to_numpy())
    return {S.walk_m(k): d[k].to_numpy(float) for k in run.types}


def _crow_flies_walks(
    res: gpd.GeoDataFrame, orgs: gpd.GeoDataFrame, run: _Settings, detour: float
) -> dict[str, np.ndarray]:
    from scipy.spatial import cKDTree

    rxy = np.column_stack([res.geometry.x.to_numpy(), res.geometry.y.to_numpy()])
    kinds = orgs["_type"].to_numpy()

    def points(mask: np.ndarray) -> np.ndarray:
        return np.column_stack([orgs.geometry.x.to_numpy()[mask], orgs.geometry.y.to_numpy()[mask]])

    def nearest(mask: np.ndarray) -> np.ndarray:
        if not mask.any():
            return np.full(len(rxy), np.inf)
        d, _ = cKDTree(points(mask)).query(rxy, k=1)
        return np.asarray(d) * detour

    def within(mask: np.ndarray, m: float) -> np.ndarray:
        if not mask.any():
            return np.zeros(len(rxy))
        found = cKDTree(points(mask)).query_ball_point(rxy, r=m / detour, return_length=True)
        return np.asarray(found).astype(float)

    allm = np.ones(len(orgs), dtype=bool)
    out: dict[str, np.ndarray] = {S.WALK_M: nearest(allm)}
    for t, m in run.metres.items():
        out[S.n_reachable(t)] = within(allm, m)
        for k in run.types:
            out[S.n_reachable(t, k)] = within(kinds == k, m)
    for k in run.types:
        out[S.walk_m(k)] = nearest(kinds == k)
    return out


def _walks_on_network(
    net: WalkNetwork, res: gpd.GeoDataFrame, og: gpd.GeoDataFrame, run: _Settings
) -> _Walks:
    """Network mode: walks, and the organisations' snapping (columns added to ``og``)."""
    frame, res_ok, org_ok, org_access, guard = _network_walks(net, res, og, run)
    quality: list[dict[str, Any]] = []
    if guard.note:
        quality.append({"what": "network coverage", "id": "", "detail": guard.note})
    for i in np.flatnonzero(~org_ok):
        quality.append(
            {
                "what": "organisation not placed",
                "id": og[S.ORG_ID].iat[i],
                "detail": f"{og[S.NAME].iat[i]!s}: farther than {run.max_snap_m:g} m "
                "from any walkable street",
            }
        )
    n_bad = int((~res_ok).sum())
    if n_bad:
        quality.append(
            {
                "what": "residential points not placed",
                "id": "",
                "detail": f"{n_bad} points ({res[S.WEIGHT].to_numpy()[~res_ok].sum():,.0f} "
                f"people) farther than {run.max_snap_m:g} m from any walkable "
                "street; counted as not covered",
            }
        )
    og[S.SNAP_DISTANCE_M] = org_access
    og[S.SNAPPED] = org_ok
    return _Walks(frame=frame, placed=res_ok, quality=quality, snap_coverage=guard.to_dict())


def _walks_crow_flies(
    net: WalkNetwork | None,
    res: gpd.GeoDataFrame,
    og: gpd.GeoDataFrame,
    run: _Settings,
    detour_factor: float | None,
) -> _Walks:
    """Crow-flies mode: straight line x a detour factor (given, or calibrated on ``net``)."""
    detour_info = None
    if detour_factor is None:
        if net is None:
            raise ValidationError(
                "mode='crow_flies' needs detour_factor=... (walking distance "
                "/ straight-line distance), or network=... to calibrate it"
            )
        detour_info = calibrate_detour_factor(net, res, og, max_snap_m=run.max_snap_m)
        detour = detour_info["median"]
    else:
        detour = float(detour_factor)
        if not np.isfinite(detour) or detour < 1.0:
            raise ValidationError(
                f"detour_factor={detour_factor!r} must be >= 1 (walking is "
                "never shorter than the straight line)"
            )
    frame = _crow_flies_walks(res, og, run, detour)
    og[S.SNAP_DISTANCE_M] = 0.0
    og[S.SNAPPED] = True
    return _Walks(
        frame=frame,
        placed=np.ones(len(res), dtype=bool),
        quality=[],
        detour=detour,
        detour_info=detour_info,
    )


# ---------------------------------------------------------------------------------------------
# per-resident results and tables


#: A column of :func:`_columnar_frame`: name, kind (``"f"`` float, ``"c"`` float written
#: first, ``"b"`` boolean, ``"o"`` other) and a function giving its values.
_Column = tuple[str, str, Callable[[], Any] | None]


def _per_resident(res: gpd.GeoDataFrame, walks: _Walks, run: _Settings, area: Area) -> pd.DataFrame:
    """One row per residential point: weight, placed, walks, covered within each limit and
    the LSOA's IMD decile (when the area has deciles).

    The walks are taken out of ``walks.frame`` as they go into the table: the counts (one
    array for every limit and type) are written first and let go before the rest."""
    W = walks.frame
    walk_m = np.asarray(W.pop(S.WALK_M), dtype=float)
    per_min = run.metres_per_minute
    placed = np.asarray(walks.placed, dtype=bool)
    walk_by_type = {k: W.pop(S.walk_m(k)) for k in run.types}

    def within(values: Any, m: float) -> Callable[[], np.ndarray]:
        return lambda: placed & (np.asarray(values, dtype=float) <= m + 1e-9)

    def as_float(values: Any, scale: float = 1.0) -> Callable[[], np.ndarray]:
        return lambda: np.asarray(values, dtype=float) / scale

    plan: list[_Column] = [
        (S.LSOA_CODE, "o", lambda: res[S.LSOA_CODE].to_numpy()),
        (S.WARD_CODE, "o", lambda: res[S.WARD_CODE].to_numpy()),
        (S.WEIGHT, "f", lambda: res[S.WEIGHT].to_numpy(float)),
        (S.PLACED, "b", lambda: placed),
        (S.WALK_M, "f", lambda: walk_m),
        (S.WALK_MIN, "f", as_float(walk_m, per_min)),
    ]
    for t, m in run.metres.items():
        plan += [
            (S.n_reachable(t), "c", as_float(W.pop(S.n_reachable(t)))),
            (S.covered(t), "b", within(walk_m, m)),
        ]
        for k in run.types:
            plan += [
                (S.covered(t, k), "b", within(walk_by_type[k], m)),
                (S.n_reachable(t, k), "c", as_float(W.pop(S.n_reachable(t, k)))),
            ]
    plan += [(S.walk_min(k), "f", as_float(walk_by_type[k], per_min)) for k in run.types]
    del walk_by_type
    if S.IMD_DECILE in area.lsoas.columns:
        dec = area.lsoas.set_index(S.LSOA_CODE)[S.IMD_DECILE]
        plan.append((S.IMD_DECILE, "o", lambda: dec.reindex(res[S.LSOA_CODE]).to_numpy()))
    return _columnar_frame(len(res), plan)


def _columnar_frame(n: int, plan: list[_Column]) -> pd.DataFrame:
    """A frame whose float (``"f"``, ``"c"``) and boolean (``"b"``) columns are each written
    straight into one block, column by column, so that no column is held twice (a frame
    built from a dict of arrays copies them all into its blocks); the other columns
    (``"o"``) are typed as the DataFrame constructor types them.

    The ``"c"`` columns are written first, and each column's function is dropped from
    ``plan`` once it is written, so that the arrays only it holds can go before the other
    columns are made."""
    from pandas.api.internals import create_dataframe_from_blocks

    def take(i: int) -> Any:
        fn = plan[i][2]
        assert fn is not None
        plan[i] = (plan[i][0], plan[i][1], None)
        return fn()

    blocks: list[tuple[Any, np.ndarray]] = []
    for kinds, dtype in (("cf", np.float64), ("b", np.bool_)):
        pos = [i for kind in kinds for i, p in enumerate(plan) if p[1] == kind]
        block = np.empty((len(pos), n), dtype=dtype)
        for row, i in enumerate(pos):
            block[row] = take(i)
        blocks.append((block, np.asarray(pos, dtype=np.intp)))
    for i, p in enumerate(plan):
        if p[1] == "o":
            col = pd.Series(take(i))
            values = (
                col.array if not isinstance(col.dtype, np.dtype) else col.to_numpy().reshape(1, -1)
            )
            blocks.append((values, np.array([i], dtype=np.intp)))
    return create_dataframe_from_blocks(
        blocks, index=pd.RangeIndex(n), columns=pd.Index([p[0] for p in plan])
    )


class _ColumnKeys(Mapping[str, np.ndarray]):
    """Columns of ``R`` as grouping keys, each made into an array only when read: a column of
    strings becomes millions of Python strings as an array, so the keys are not all held at
    once (the grouping reads each key once)."""

    def __init__(self, R: pd.DataFrame, names: Sequence[str]) -> None:
        self._R = R
        self._names = list(names)

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._names:
            raise KeyError(name)
        return np.asarray(self._R[name].to_numpy())

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


def _tables(
    R: pd.DataFrame, area: Area, run: _Settings
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, pd.DataFrame]:
    """Coverage by LSOA (the area's LSOA table plus the figures), by ward and by IMD decile
    (empty without deciles): the per-resident columns are read once for the three tables."""
    has_deciles = S.IMD_DECILE in R.columns
    names = [S.LSOA_CODE, S.WARD_CODE] + ([S.IMD_DECILE] if has_deciles else [])
    figs = coverage_figures_by(R, _ColumnKeys(R, names), run.thresholds, run.types)
    base = area.lsoas.drop(columns=[c for c in area.lsoas.columns if c == S.POPULATION])
    lsoas = base.merge(figs[S.LSOA_CODE], left_on=S.LSOA_CODE, right_index=True, how="left")
    wbase = area.wards[
        [c for c in area.wards.columns if c in (S.WARD_CODE, S.WARD_NAME, S.GEOMETRY)]
    ]
    wards = wbase.merge(figs[S.WARD_CODE], left_on=S.WARD_CODE, right_index=True, how="left")
    deciles = (
        _decile_table(figs[S.IMD_DECILE], area)
        if has_deciles
        else pd.DataFrame(columns=[S.IMD_DECILE])
    )
    return (
        gpd.GeoDataFrame(lsoas, geometry=S.GEOMETRY, crs=area.lsoas.crs),
        gpd.GeoDataFrame(wards, geometry=S.GEOMETRY, crs=area.wards.crs),
        deciles,
    )


def _decile_table(deciles: pd.DataFrame, area: Area) -> pd.DataFrame:
    """The decile figures with the number of LSOAs, one row for each decile 1-10."""
    deciles.index = deciles.index.astype(int)
    deciles.insert(1, "n_lsoas", area.lsoas.groupby(S.IMD_DECILE).size().reindex(deciles.index))
    return deciles.reindex(pd.Index(range(1, 11), name=S.IMD_DECILE)).reset_index()


def _totals(R: pd.DataFrame, run: _Settings) -> pd.DataFrame:
    """One row per time limit for the whole area."""
    total_pop = float(R[S.WEIGHT].sum())
    totals = pd.DataFrame(
        {
            S.MINUTES: list(run.thresholds),
            S.METRES: [run.metres[t] for t in run.thresholds],
            S.POPULATION: total_pop,
            S.POP_COVERED: [float(R[S.WEIGHT][R[S.covered(t)]].sum()) for t in run.thresholds],
        }
    )
    totals[S.SHARE_COVERED] = totals[S.POP_COVERED] / total_pop
    fin = np.isfinite(R[S.WALK_MIN].to_numpy(float))
    w_fin = R[S.WEIGHT].to_numpy(float)[fin]
    # NaN when nobody reaches any organisation (e.g. none is within max_snap_m of a street)
    totals[S.MEAN_WALK_MIN] = (
        float(np.average(R[S.WALK_MIN].to_numpy(float)[fin], weights=w_fin))
        if w_fin.sum() > 0
        else np.nan
    )
    return totals


def _record(
    run: _Settings,
    R: pd.DataFrame,
    resident_method: str,
    og: gpd.GeoDataFrame,
    walks: _Walks,
    area: Area,
    network: WalkNetwork | None,
    type_col: str | None,
) -> CoverageParams:
    """The parameters recorded with the result."""
    return CoverageParams(
        mode=run.mode,
        minutes=run.thresholds,
        speed_kmh=run.speed_kmh,
        persona=run.persona,
        metres=tuple(run.metres[t] for t in run.thresholds),
        max_snap_m=run.max_snap_m,
        residents=resident_method,
        n_residential_points=int(len(R)),
        population=float(R[S.WEIGHT].sum()),
        type_col=type_col if run.types else None,
        organisation_types=run.types,
        n_organisations=int(len(og)),
        n_organisations_placed=int(og[S.SNAPPED].sum()),
        detour_factor=None if run.mode == "network" else walks.detour,
        detour_calibration=walks.detour_info,
        lad_code=area.lad_code,
        lsoa_vintage=area.lsoa_vintage,
        iod=area.iod,
        network=None
        if network is None
        else {
            "source": getattr(network.report, "source", None),
            "n_nodes": network.n_nodes,
            "n_edges": network.n_edges,
        },
        snap_coverage=walks.snap_coverage,
    )


# ---------------------------------------------------------------------------------------------
# the public function


def _give_back_memory() -> None:
    """Return the memory freed so far to the operating system (glibc's ``malloc_trim``).

    glibc keeps freed blocks of up to 32 MB in its heaps (a column of 3 million points is
    24 MB), where they still count in the process's resident memory; on a large area that is
    hundreds of MB between the steps of :func:`coverage`. A no-op where there is no glibc.
    """
    import ctypes

    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return
    trim(0)


def _settings(
    orgs: Any,
    minutes: float | Iterable[float],
    speed_kmh: float | None,
    persona: str | None,
    network: WalkNetwork | None,
    mode: str,
    max_snap_m: float,
    type_col: str | None,
) -> tuple[_Settings, gpd.GeoDataFrame]:
    """Checked settings and the organisations frame (with its ``_type`` column); ``type_col``
    is None when the by-type columns are not wanted."""
    thresholds = _as_minutes(minutes)
    speed, persona_used = _speed(speed_kmh, persona)
    if mode == "network" and network is None:
        raise ValidationError(
            "mode='network' needs network=...: load one with "
            "cnmap.network.read_walk_network(path), or use mode='crow_flies' "
            "with a detour_factor"
        )
    metres = {t: float(t) * speed * 1000.0 / 60.0 for t in thresholds}
    og = _organisations_frame(orgs, type_col)
    if len(og) == 0:
        raise ValidationError("there are no organisations: coverage needs at least one point")
    run = _Settings(
        mode=mode,
        thresholds=thresholds,
        metres=metres,
        speed_kmh=speed,
        persona=persona_used,
        types=_types_of(og, type_col, True),
        max_snap_m=max_snap_m,
    )
    return run, og


def coverage(  # noqa: PLR0913 (public signature, every option keyword-only)
    orgs: Any,
    area: Area,
    *,
    minutes: float | Iterable[float] = 15,
    speed_kmh: float | None = None,
    persona: str | None = None,
    network: WalkNetwork | None = None,
    mode: str = "network",
    residents: str | gpd.GeoDataFrame = "postcodes",
    max_snap_m: float = 500.0,
    type_col: str | None = S.ORG_TYPE,
    by_type: bool = True,
    detour_factor: float | None = None,
) -> CoverageResult:
    """Walking coverage of an area's residents by organisations.

    Parameters
    ----------
    orgs
        Organisations: the result of :func:`cnmap.read_organisations` or a GeoDataFrame of
        points (any CRS; ``org_id``, ``name`` and ``type`` columns used when present).
    area
        The area (:func:`cnmap.load_area`), giving LSOAs with population and deprivation.
    minutes
        One time limit or several (e.g. ``[5, 10, 15, 20]``), in minutes.
    speed_kmh
        Walking speed; default 4.8 km/h (80 m/min: 15 minutes = 1,200 m).
    persona
        A named walking speed instead of ``speed_kmh`` (``"standard"`` 4.8 km/h,
        ``"older"`` 3.3 km/h, ...; see :data:`cnmap.network.WALKING_SPEEDS`).
    network
        The walk network (:func:`cnmap.network.read_walk_network`). Required for
        ``mode="network"``; in crow-flies mode it calibrates the detour factor.
    mode
        ``"network"`` or ``"crow_flies"`` (straight-line distance x ``detour_factor``).
    residents
        ``"postcodes"``, ``"streets"`` or ``"centroids"`` (see
        :func:`cnmap.residents.residential_points`), or your own GeoDataFrame of points with
        ``lsoa_code``, ``ward_code`` and ``weight`` (people).
    max_snap_m
        Residents and organisations farther than this from any walkable street are not placed
        on the network; they are reported in ``quality`` (residents count as not covered).
    type_col
        Organisation column holding the type, for coverage by type (None: no breakdown). The
        default ``"type"`` is used only when the organisations have it.
    by_type
        Whether to compute the by-type columns.
    detour_factor
        Crow-flies mode: walking distance / straight-line distance. None: calibrated on
        ``network`` (required then).

    Returns
    -------
    CoverageResult
    """
    max_snap_m = _check_arguments(
        mode, max_snap_m, network, residents, type_col, by_type, detour_factor
    )
    run, og = _settings(
        orgs, minutes, speed_kmh, persona, network, mode, max_snap_m, type_col if by_type else None
    )
    res, resident_method = _resident_points(residents, area, network)
    if mode == "network":
        assert network is not None
        walks = _walks_on_network(network, res, og, run)
    else:
        walks = _walks_crow_flies(network, res, og, run, detour_factor)
    _give_back_memory()  # the searches' scratch
    R = _per_resident(res, walks, run, area)
    walks.frame.clear()  # every walk is in R now: the counts and distances are let go
    _give_back_memory()
    lsoas, wards, deciles = _tables(R, area, run)
    _give_back_memory()
    params = _record(run, R, resident_method, og, walks, area, network, type_col)
    result = CoverageResult(
        thresholds=run.thresholds,
        speed_kmh=run.speed_kmh,
        mode=mode,
        lsoas=lsoas,
        wards=wards,
        deciles=deciles,
        totals=_totals(R, run),
        organisations=gpd.GeoDataFrame(
            og.drop(columns="_type").assign(type_slug=og["_type"]), geometry=S.GEOMETRY, crs=S.BNG
        ),
        # the per-resident blocks as they are: copying them would double the memory
        residents=gpd.GeoDataFrame(R, geometry=res.geometry.values, crs=res.crs, copy=False),
        quality=pd.DataFrame(walks.quality, columns=["what", "id", "detail"]),
        params=params.as_dict(),
        sources=area.sources,
        types=run.types,
        area=area,
        network=network if mode == "network" else None,
    )
    log.info("%s", result.summary())
    return result
