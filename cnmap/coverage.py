"""Walking coverage: who can walk to a community organisation within N minutes, and who cannot.

:func:`coverage` places the area's residents on residential points
(:func:`cnmap.residents.residential_points`), snaps them and the organisations onto the
nearest walkable street edge, runs one multi-source shortest-path search for the walk to the
nearest organisation and bounded searches for the number of organisations within each time
limit (:mod:`cnmap.network`), and sums the people by LSOA, ward and IMD decile.

Walking time is distance divided by an explicit speed (default 4.8 km/h = 80 m/min, so
15 minutes = 1,200 m). A crow-flies mode (straight-line distance times a detour factor,
calibrated on the network when one is given) is available for places without a network; its
results are labelled ``mode="crow_flies"`` everywhere.
"""

from __future__ import annotations

import logging
import re
import sys
import types
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from cnmap import _check
from cnmap import columns as C
from cnmap.errors import MissingColumnError, ValidationError
from cnmap.residents import residential_points

if TYPE_CHECKING:
    from cnmap.area import Area
    from cnmap.network import WalkNetwork

__all__ = [
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
UNTYPED = "unspecified"


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
        ``mean_walk_min_{type}``).
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
        Every parameter that changes the result, and the data vintages.
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
    def headline_minutes(self) -> int | float:
        """15 if it is among the thresholds, else the largest threshold."""
        return 15 if 15 in self.thresholds else self.thresholds[-1]

    def metres(self, minutes: float) -> float:
        """Walking distance in metres for ``minutes`` at this result's speed."""
        m = _check.non_negative_number("minutes", minutes, unit="minutes")
        return m * self.speed_kmh * 1000.0 / 60.0

    def share_covered(self, minutes: float | None = None) -> float:
        """Share of the area's population within ``minutes`` of an organisation."""
        m = self.headline_minutes if minutes is None else minutes
        row = self.totals.loc[self.totals["minutes"] == m]
        if row.empty:
            raise ValidationError(f"minutes={m} is not among this result's thresholds "
                                  f"{list(self.thresholds)}; run coverage(..., minutes=[..., {m}])")
        return float(row["share_covered"].iloc[0])

    def catchments(self, minutes: float | None = None, *, per_organisation: bool = False,
                   buffer_m: float = 50.0, simplify_m: float = 5.0) -> gpd.GeoDataFrame:
        """Walking catchments of the organisations (reached streets, buffered), for display.

        Network mode only: made from the street network by buffering the reached edges, with
        partly reached edges cut at the limit.
        """
        if self.network is None:
            raise ValidationError("catchments need the street network: this result was computed "
                                  "in crow-flies mode; use mode='network'")
        from cnmap.network import catchments as _catchments

        m = self.headline_minutes if minutes is None else minutes
        buffer_m = _check.non_negative_number("buffer_m", buffer_m, unit="metres")
        simplify_m = _check.non_negative_number("simplify_m", simplify_m, unit="metres")
        snapped = self.organisations.loc[self.organisations["snapped"]]
        out = _catchments(self.network, snapped.set_index(C.ORG_ID).geometry,
                          cutoff_m=self.metres(m), per_source=per_organisation,
                          buffer_m=buffer_m, simplify_m=simplify_m,
                          max_snap_m=self.params["max_snap_m"])
        out["minutes"] = m
        return out

    def summary(self) -> str:
        """A few lines for logs and notebooks."""
        lines = [f"Coverage ({self.mode}, {self.speed_kmh:g} km/h) of "
                 f"{self.params.get('population', 0):,.0f} residents by "
                 f"{int(self.organisations['snapped'].sum())} organisations:"]
        for _, r in self.totals.iterrows():
            lines.append(f"  {r['minutes']:g} min ({r['metres']:,.0f} m): "
                         f"{r['pop_covered']:,.0f} people ({r['share_covered']:.1%})")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"CoverageResult({self.mode}, {len(self.lsoas)} LSOAs, {len(self.wards)} wards, "
                f"minutes={list(self.thresholds)}, speed={self.speed_kmh:g} km/h, "
                f"{self.share_covered():.1%} within {self.headline_minutes:g} min)")


# ---------------------------------------------------------------------------------------------
# helpers


def _slug(value: object) -> str:
    s = re.sub(r"[^0-9a-z]+", "_", str(value).strip().lower()).strip("_")
    return s or UNTYPED


def _as_minutes(minutes: float | Iterable[float]) -> tuple[int | float, ...]:
    """``minutes`` as sorted, distinct time limits (see :func:`cnmap._check.minutes_tuple`)."""
    return _check.minutes_tuple("minutes", minutes)


def _speed(speed_kmh: float | None, persona: str | None) -> tuple[float, str | None]:
    persona = _check.optional_text("persona", persona, what="a walking persona name")
    speed = None if speed_kmh is None else _check.speed_kmh("speed_kmh", speed_kmh)
    if persona is not None:
        speeds = _personas()
        if persona not in speeds:
            raise ValidationError(f"persona={persona!r} is unknown; choose one of {sorted(speeds)} "
                                  "or give speed_kmh")
        if speed is not None and not np.isclose(speed, speeds[persona]):
            raise ValidationError(f"persona={persona!r} walks at {speeds[persona]} km/h but "
                                  f"speed_kmh={speed_kmh} was also given; give one of them")
        return float(speeds[persona]), persona
    return (DEFAULT_SPEED_KMH if speed is None else speed), None


def _check_arguments(mode: Any, max_snap_m: Any, network: Any, residents: Any, type_col: Any,
                     by_type: Any, detour_factor: Any) -> float:
    """Types and ranges of :func:`coverage`'s other arguments; returns ``max_snap_m``."""
    if not isinstance(mode, str) or mode not in MODES:
        raise ValidationError(f"mode={mode!r} is not one of {MODES}")
    snap = _check.positive_number("max_snap_m", max_snap_m, unit="metres")
    if network is not None:
        from cnmap.network import WalkNetwork

        if not isinstance(network, WalkNetwork):
            raise ValidationError(f"network= must be a walk network from "
                                  f"cnmap.network.read_walk_network(path), not "
                                  f"{type(network).__name__}")
    if not isinstance(residents, str | gpd.GeoDataFrame):
        raise ValidationError(f"residents= must be 'postcodes', 'streets', 'centroids' or a "
                              f"GeoDataFrame of points, not {type(residents).__name__}")
    _check.optional_text("type_col", type_col, what="a column name")
    _check.flag("by_type", by_type)
    if detour_factor is not None:
        _check.number("detour_factor", detour_factor, unit="walking / straight-line distance")
    return snap


def _organisations_frame(orgs: Any, type_col: str | None) -> gpd.GeoDataFrame:
    """A GeoDataFrame (EPSG:27700) with org_id, name, type from an OrganisationTable or frame."""
    gdf = getattr(orgs, "organisations", orgs)
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise ValidationError("orgs must be the result of cnmap.read_organisations or a "
                              f"GeoDataFrame of points, not {type(orgs).__name__}")
    if gdf.crs is None:
        from cnmap.errors import CRSError

        raise CRSError("the organisations GeoDataFrame has no CRS; set it (e.g. "
                       "gdf.set_crs('EPSG:4326')) or read it with cnmap.read_organisations")
    gdf = gdf.to_crs(C.BNG) if gdf.crs.to_epsg() != 27700 else gdf.copy()
    bad = gdf.geometry.isna() | gdf.geometry.is_empty | (gdf.geom_type != "Point")
    if bad.any():
        rows = list(gdf.index[bad][:5])
        raise ValidationError(f"organisations at index {rows} have no point geometry; read them "
                              "with cnmap.read_organisations, which reports such rows as rejected")
    if C.ORG_ID not in gdf.columns:
        gdf[C.ORG_ID] = [f"org{i}" for i in range(len(gdf))]
    gdf[C.ORG_ID] = gdf[C.ORG_ID].astype(str)
    if gdf[C.ORG_ID].duplicated().any():
        dup = gdf.loc[gdf[C.ORG_ID].duplicated(), C.ORG_ID].iloc[0]
        raise ValidationError(f"organisation id {dup!r} appears twice in column {C.ORG_ID!r}; "
                              "ids must be unique")
    if C.NAME not in gdf.columns:
        gdf[C.NAME] = gdf[C.ORG_ID]
    if type_col == C.ORG_TYPE and type_col not in gdf.columns:
        type_col = None  # the default column is optional: no breakdown by type
    if type_col is not None and type_col not in gdf.columns:
        raise MissingColumnError(f"type_col={type_col!r} is not a column of the organisations "
                                 f"(columns: {list(gdf.columns)}); pass type_col=None to skip "
                                 "coverage by type")
    if type_col is not None:
        t = gdf[type_col].astype(object).where(gdf[type_col].notna(), UNTYPED)
        gdf["_type"] = [_slug(v) for v in t]
    else:
        gdf["_type"] = UNTYPED
    return gdf.reset_index(drop=True)


def _check_residents(res: gpd.GeoDataFrame, area: Area) -> None:
    """User residential points: weights are people (finite, >= 0), codes are the area's."""
    w = pd.to_numeric(res["weight"], errors="coerce").to_numpy(float)
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        rows = list(res.index[bad][:5])
        raise ValidationError(f"residents column 'weight' is missing, not a number or negative "
                              f"at rows {rows}; give every point a number of people >= 0")
    for col, frame in ((C.LSOA_CODE, area.lsoas), (C.WARD_CODE, area.wards)):
        if frame is None or col not in frame.columns:
            continue
        unknown = ~res[col].isin(frame[col]).to_numpy()
        if unknown.any():
            rows = list(res.index[unknown][:5])
            vals = list(pd.unique(res[col].to_numpy()[unknown])[:5])
            raise ValidationError(f"residents column {col!r} has codes {vals} (rows {rows}) that "
                                  f"are not in area {area.lad_code}; their people would be left out "
                                  "of the tables: fix the codes or drop those points first")


def weighted_median(keys: np.ndarray, values: np.ndarray, weights: np.ndarray) -> pd.Series:
    """Weighted median of ``values`` within each key (NaN values ignored).

    The median is the smallest value whose cumulative weight reaches half the key's total.
    """
    df = pd.DataFrame({"k": keys, "v": values, "w": weights})
    df = df[np.isfinite(df["v"]) & (df["w"] > 0)]
    if df.empty:
        return pd.Series(dtype=float)
    df = df.sort_values(["k", "v"], kind="stable")
    cum = df.groupby("k", sort=False)["w"].cumsum()
    half = df.groupby("k", sort=False)["w"].transform("sum") / 2.0
    first = df.loc[cum >= half - 1e-9].groupby("k", sort=False)["v"].first()
    return first


def _aggregate(res: pd.DataFrame, key: str, thresholds: Sequence[int | float],
               types: Sequence[str]) -> pd.DataFrame:
    """Population-weighted coverage figures of residents grouped by ``key``."""
    w = res["weight"].to_numpy(float)
    g = res[key].to_numpy()
    frame: dict[str, np.ndarray] = {"_k": g, "population": w}
    placed = res["placed"].to_numpy(bool)
    frame["pop_unplaced"] = np.where(placed, 0.0, w)
    for t in thresholds:
        cov = res[f"covered_{t}min"].to_numpy(bool)
        frame[f"pop_covered_{t}min"] = np.where(cov, w, 0.0)
        frame[f"_nw_{t}"] = w * res[f"n_reachable_{t}min"].to_numpy(float)
        for k in types:
            frame[f"_cov_{t}_{k}"] = np.where(res[f"covered_{t}min_{k}"].to_numpy(bool), w, 0.0)
            frame[f"_nw_{t}_{k}"] = w * res[f"n_reachable_{t}min_{k}"].to_numpy(float)
    walk = res["walk_min"].to_numpy(float)
    fin = np.isfinite(walk)
    frame["_ww"] = np.where(fin, w * np.where(fin, walk, 0.0), 0.0)
    frame["_wf"] = np.where(fin, w, 0.0)
    for k in types:
        wk = res[f"walk_min_{k}"].to_numpy(float)
        fk = np.isfinite(wk)
        frame[f"_ww_{k}"] = np.where(fk, w * np.where(fk, wk, 0.0), 0.0)
        frame[f"_wf_{k}"] = np.where(fk, w, 0.0)
    sums = pd.DataFrame(frame).groupby("_k", sort=True).sum()
    pop = sums["population"].to_numpy()
    cols: dict[str, Any] = {"population": pop, "pop_unplaced": sums["pop_unplaced"].to_numpy()}
    with np.errstate(invalid="ignore", divide="ignore"):
        for t in thresholds:
            cols[f"pop_covered_{t}min"] = sums[f"pop_covered_{t}min"].to_numpy()
            cols[f"share_covered_{t}min"] = sums[f"pop_covered_{t}min"].to_numpy() / pop
            cols[f"mean_reachable_{t}min"] = sums[f"_nw_{t}"].to_numpy() / pop
        cols["mean_walk_min"] = sums["_ww"].to_numpy() / sums["_wf"].to_numpy()
        cols["median_walk_min"] = weighted_median(g, walk, w).reindex(sums.index).to_numpy()
        for t in thresholds:
            for k in types:
                cols[f"share_covered_{t}min_{k}"] = sums[f"_cov_{t}_{k}"].to_numpy() / pop
                cols[f"mean_reachable_{t}min_{k}"] = sums[f"_nw_{t}_{k}"].to_numpy() / pop
        for k in types:
            cols[f"mean_walk_min_{k}"] = sums[f"_ww_{k}"].to_numpy() / sums[f"_wf_{k}"].to_numpy()
    out = pd.DataFrame(cols, index=sums.index)
    out.index.name = key
    return out


def calibrate_detour_factor(net: WalkNetwork, residents: gpd.GeoDataFrame,
                            orgs: gpd.GeoDataFrame, *, max_snap_m: float = 500.0,
                            sample: int = 5000, min_euclid_m: float = 100.0,
                            seed: int = 0) -> dict[str, float]:
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
    pts = residents if len(residents) <= sample else residents.iloc[
        np.sort(rng.choice(len(residents), sample, replace=False))]
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
        raise ValidationError("no resident-organisation pair is far enough apart to calibrate a "
                              "detour factor; give detour_factor explicitly")
    return {"median": float(np.median(ratio)), "mean": float(ratio.mean()),
            "p25": float(np.percentile(ratio, 25)), "p75": float(np.percentile(ratio, 75)),
            "n": float(ratio.size)}


# ---------------------------------------------------------------------------------------------
# the walking searches


def _network_walks(net: WalkNetwork, res: gpd.GeoDataFrame, orgs: gpd.GeoDataFrame,
                   metres: dict[int | float, float], types: Sequence[str], max_snap_m: float,
                   by_type: bool) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    from cnmap.network import count_within, distance_at_points, distance_to_nearest, snap_points

    P = snap_points(net, res.geometry.reset_index(drop=True), max_snap_m=max_snap_m)
    S = snap_points(net, orgs.geometry.reset_index(drop=True), max_snap_m=max_snap_m)
    out: dict[str, np.ndarray] = {}
    nd = distance_to_nearest(net, S)
    out["walk_m"] = distance_at_points(net, nd, P, sources=S).to_numpy(float)
    groups = orgs["_type"].to_numpy() if by_type and types else None
    for t, m in metres.items():
        cnt = count_within(net, S, cutoff_m=m, groups=groups, points=P)
        out[f"n_reachable_{t}min"] = cnt["count"].to_numpy(dtype=float, na_value=0.0)
        for k in (types if groups is not None else ()):
            col = cnt[k].to_numpy(dtype=float, na_value=0.0) if k in cnt.columns else np.zeros(len(res))
            out[f"_n_{t}_{k}"] = col
    if groups is not None:
        for k in types:
            sel = orgs.index[orgs["_type"] == k]
            Sk = snap_points(net, orgs.geometry.loc[sel].reset_index(drop=True),
                             max_snap_m=max_snap_m)
            ndk = distance_to_nearest(net, Sk)
            out[f"walk_m_{k}"] = distance_at_points(net, ndk, P, sources=Sk).to_numpy(float)
    return pd.DataFrame(out), P.ok, S.ok, S.access_m


def _crow_flies_walks(res: gpd.GeoDataFrame, orgs: gpd.GeoDataFrame,
                      metres: dict[int | float, float], types: Sequence[str], detour: float,
                      by_type: bool) -> pd.DataFrame:
    from scipy.spatial import cKDTree

    rxy = np.column_stack([res.geometry.x.to_numpy(), res.geometry.y.to_numpy()])
    out: dict[str, np.ndarray] = {}

    def nearest(mask: np.ndarray) -> np.ndarray:
        if not mask.any():
            return np.full(len(rxy), np.inf)
        oxy = np.column_stack([orgs.geometry.x.to_numpy()[mask], orgs.geometry.y.to_numpy()[mask]])
        d, _ = cKDTree(oxy).query(rxy, k=1)
        return d * detour

    def within(mask: np.ndarray, m: float) -> np.ndarray:
        if not mask.any():
            return np.zeros(len(rxy))
        oxy = np.column_stack([orgs.geometry.x.to_numpy()[mask], orgs.geometry.y.to_numpy()[mask]])
        return cKDTree(oxy).query_ball_point(rxy, r=m / detour, return_length=True).astype(float)

    allm = np.ones(len(orgs), dtype=bool)
    out["walk_m"] = nearest(allm)
    for t, m in metres.items():
        out[f"n_reachable_{t}min"] = within(allm, m)
        if by_type:
            for k in types:
                out[f"_n_{t}_{k}"] = within(orgs["_type"].to_numpy() == k, m)
    if by_type:
        for k in types:
            out[f"walk_m_{k}"] = nearest(orgs["_type"].to_numpy() == k)
    return pd.DataFrame(out)


# ---------------------------------------------------------------------------------------------
# the public function


def coverage(
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
    type_col: str | None = C.ORG_TYPE,
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
    max_snap_m = _check_arguments(mode, max_snap_m, network, residents, type_col, by_type,
                                  detour_factor)
    thresholds = _as_minutes(minutes)
    speed, persona_used = _speed(speed_kmh, persona)
    if mode == "network" and network is None:
        raise ValidationError("mode='network' needs network=...: load one with "
                              "cnmap.network.read_walk_network(path), or use mode='crow_flies' "
                              "with a detour_factor")
    metres = {t: float(t) * speed * 1000.0 / 60.0 for t in thresholds}
    og = _organisations_frame(orgs, type_col if by_type else None)
    if len(og) == 0:
        raise ValidationError("there are no organisations: coverage needs at least one point")
    types = sorted(set(og["_type"])) if by_type and type_col is not None else []
    if types == [UNTYPED]:
        types = []  # no type information: no breakdown

    # residents
    if isinstance(residents, gpd.GeoDataFrame):
        for col in (C.LSOA_CODE, C.WARD_CODE, "weight"):
            if col not in residents.columns:
                raise MissingColumnError(f"residents has no {col!r} column; give residential "
                                         "points with lsoa_code, ward_code and weight (people)")
        if residents.crs is None:
            from cnmap.errors import CRSError

            raise CRSError("the residents GeoDataFrame has no CRS; set it (e.g. "
                           "residents.set_crs('EPSG:27700'))")
        _check_residents(residents, area)
        res = residents.to_crs(C.BNG).reset_index(drop=True)
        resident_method = "user points"
    else:
        edges = network.edge_geometry if network is not None else None
        res = residential_points(area, method=residents, edge_geometries=edges)
        resident_method = residents

    quality: list[dict[str, Any]] = []
    detour_info: dict[str, float] | None = None
    if mode == "network":
        assert network is not None
        walks, res_ok, org_ok, org_access = _network_walks(
            network, res, og, metres, types, max_snap_m, by_type)
        for i in np.flatnonzero(~org_ok):
            quality.append({"what": "organisation not placed", "id": og[C.ORG_ID].iat[i],
                            "detail": f"{og[C.NAME].iat[i]!s}: farther than {max_snap_m:g} m "
                                      "from any walkable street"})
        n_bad = int((~res_ok).sum())
        if n_bad:
            quality.append({"what": "residential points not placed", "id": "",
                            "detail": f"{n_bad} points ({res['weight'].to_numpy()[~res_ok].sum():,.0f} "
                                      f"people) farther than {max_snap_m:g} m from any walkable "
                                      "street; counted as not covered"})
        og["snap_distance_m"] = org_access
        og["snapped"] = org_ok
    else:
        if detour_factor is None:
            if network is None:
                raise ValidationError("mode='crow_flies' needs detour_factor=... (walking distance "
                                      "/ straight-line distance), or network=... to calibrate it")
            detour_info = calibrate_detour_factor(network, res, og, max_snap_m=max_snap_m)
            detour = detour_info["median"]
        else:
            detour = float(detour_factor)
            if not np.isfinite(detour) or detour < 1.0:
                raise ValidationError(f"detour_factor={detour_factor!r} must be >= 1 (walking is "
                                      "never shorter than the straight line)")
        walks = _crow_flies_walks(res, og, metres, types, detour, by_type)
        res_ok = np.ones(len(res), dtype=bool)
        og["snap_distance_m"] = 0.0
        og["snapped"] = True

    # per-resident results
    walk_m = walks["walk_m"].to_numpy(float)
    per_min = speed * 1000.0 / 60.0
    rcols: dict[str, np.ndarray] = {
        C.LSOA_CODE: res[C.LSOA_CODE].to_numpy(), C.WARD_CODE: res[C.WARD_CODE].to_numpy(),
        "weight": res["weight"].to_numpy(float), "placed": res_ok,
        "walk_m": walk_m, "walk_min": walk_m / per_min,
    }
    for t, m in metres.items():
        rcols[f"n_reachable_{t}min"] = walks[f"n_reachable_{t}min"].to_numpy(float)
        rcols[f"covered_{t}min"] = res_ok & (walk_m <= m + 1e-9)
        for k in types:
            rcols[f"covered_{t}min_{k}"] = res_ok & (walks[f"walk_m_{k}"].to_numpy(float) <= m + 1e-9)
            rcols[f"n_reachable_{t}min_{k}"] = walks[f"_n_{t}_{k}"].to_numpy(float)
    for k in types:
        rcols[f"walk_min_{k}"] = walks[f"walk_m_{k}"].to_numpy(float) / per_min
    R = pd.DataFrame(rcols)

    # by LSOA, ward, decile
    lsoa_stats = _aggregate(R, C.LSOA_CODE, thresholds, types)
    base = area.lsoas.drop(columns=[c for c in area.lsoas.columns if c == C.POPULATION])
    lsoas = base.merge(lsoa_stats, left_on=C.LSOA_CODE, right_index=True, how="left")
    ward_stats = _aggregate(R, C.WARD_CODE, thresholds, types)
    wbase = area.wards[[c for c in area.wards.columns if c in (C.WARD_CODE, C.WARD_NAME, "geometry")]]
    wards = wbase.merge(ward_stats, left_on=C.WARD_CODE, right_index=True, how="left")
    if "imd_decile" in area.lsoas.columns:
        dec = area.lsoas.set_index(C.LSOA_CODE)["imd_decile"]
        R["imd_decile"] = dec.reindex(R[C.LSOA_CODE]).to_numpy()
        deciles = _aggregate(R.dropna(subset=["imd_decile"]).astype({"imd_decile": int}),
                             "imd_decile", thresholds, types)
        deciles.insert(1, "n_lsoas", area.lsoas.groupby("imd_decile").size().reindex(deciles.index))
        deciles = deciles.reindex(pd.Index(range(1, 11), name="imd_decile")).reset_index()
    else:
        deciles = pd.DataFrame(columns=["imd_decile"])
    total_pop = float(R["weight"].sum())
    totals = pd.DataFrame({
        "minutes": list(thresholds),
        "metres": [metres[t] for t in thresholds],
        "population": total_pop,
        "pop_covered": [float(R["weight"][R[f"covered_{t}min"]].sum()) for t in thresholds],
    })
    totals["share_covered"] = totals["pop_covered"] / total_pop
    fin = np.isfinite(R["walk_min"].to_numpy(float))
    w_fin = R["weight"].to_numpy(float)[fin]
    # NaN when nobody reaches any organisation (e.g. none is within max_snap_m of a street)
    totals["mean_walk_min"] = (float(np.average(R["walk_min"].to_numpy(float)[fin], weights=w_fin))
                               if w_fin.sum() > 0 else np.nan)

    residents_out = gpd.GeoDataFrame(R, geometry=res.geometry.values, crs=res.crs)
    params: dict[str, Any] = {
        "mode": mode, "minutes": list(thresholds), "speed_kmh": speed, "persona": persona_used,
        "metres": [metres[t] for t in thresholds], "max_snap_m": max_snap_m,
        "residents": resident_method, "n_residential_points": int(len(res)),
        "population": total_pop, "type_col": type_col if types else None,
        "organisation_types": types, "n_organisations": int(len(og)),
        "n_organisations_placed": int(og["snapped"].sum()),
        "detour_factor": None if mode == "network" else detour,
        "detour_calibration": detour_info,
        "lad_code": area.lad_code, "lsoa_vintage": area.lsoa_vintage, "iod": area.iod,
        "network": None if network is None else {
            "source": getattr(network.report, "source", None),
            "n_nodes": network.n_nodes, "n_edges": network.n_edges},
        "ward_method": "residential point location (nearest ward for border slivers)",
    }
    result = CoverageResult(
        thresholds=thresholds, speed_kmh=speed, mode=mode,
        lsoas=gpd.GeoDataFrame(lsoas, geometry="geometry", crs=area.lsoas.crs),
        wards=gpd.GeoDataFrame(wards, geometry="geometry", crs=area.wards.crs),
        deciles=deciles, totals=totals,
        organisations=gpd.GeoDataFrame(og.drop(columns="_type").assign(type_slug=og["_type"]),
                                       geometry="geometry", crs=C.BNG),
        residents=residents_out,
        quality=pd.DataFrame(quality, columns=["what", "id", "detail"]),
        params=params, sources=area.sources, types=tuple(types), area=area,
        network=network if mode == "network" else None,
    )
    log.info("%s", result.summary())
    return result


# ``cnmap.coverage`` is both this module and its main function: importing the module makes
# Python set the package attribute ``cnmap.coverage`` to the module, so the module itself is
# made callable (``cnmap.coverage(orgs, area, ...)`` calls :func:`coverage`).
class _CallableModule(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> CoverageResult:
        return coverage(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
