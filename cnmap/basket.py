"""Basket coverage: who can walk to at least one organisation of *each* required kind.

A person's needs rarely stop at one service: food support, money and debt advice and help to
get online often go together. :func:`basket_coverage` counts the residents who reach, within
the time limit, at least one organisation of every required type (a "basket", e.g. food +
advice + digital), by LSOA, ward and IMD decile.

Types come from the organisations' ``type`` column and their services (``services_list``, or
the ``services`` text split at ``;``), normalised to lower-case tokens (``"Food bank"`` ->
``food_bank``): a service keyword counts as a type. A requirement can list alternatives
(``{"food": ["food_bank", "food", "pantry"]}``): any of them satisfies it.

The test is made per residential point, from the coverage result's per-resident walks:
the stored ``covered_{T}min_{type}`` columns when the requirement is one of the coverage's
types, otherwise the walking distance to the nearest matching organisation computed on the same
network, with the same snapping and speed (crow-flies results: straight line x the same detour
factor).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from cnmap import _check
from cnmap import schema as S
from cnmap.aggregate import group_sums
from cnmap.errors import ValidationError

if TYPE_CHECKING:  # pragma: no cover
    from cnmap.coverage import CoverageResult
    from cnmap.network.snap import SnapResult

__all__ = ["BasketResult", "basket_coverage", "organisation_tokens", "match_types"]

log = logging.getLogger(__name__)


def _slug(value: object) -> str:
    """The coverage module's normalisation of a type label (lower case, ``_`` separators)."""
    s = re.sub(r"[^0-9a-z]+", "_", str(value).strip().lower()).strip("_")
    return s


def _services(v: Any) -> list[str]:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return []
    if isinstance(v, list | tuple | set | np.ndarray):
        return [str(s) for s in v]
    return [s for s in str(v).split(";") if s.strip()]


def organisation_tokens(orgs: pd.DataFrame) -> list[frozenset[str]]:
    """The set of type tokens of every organisation: its type(s) and each of its services."""
    n = len(orgs)
    types = (
        orgs[S.ORG_TYPE].astype(object)
        if S.ORG_TYPE in orgs.columns
        else pd.Series([None] * n, dtype=object)
    )
    if "services_list" in orgs.columns:
        services = orgs["services_list"].astype(object)
    elif S.SERVICES in orgs.columns:
        services = orgs[S.SERVICES].astype(object)
    else:
        services = pd.Series([None] * n, dtype=object)
    extra = (
        orgs["types_list"].astype(object)
        if "types_list" in orgs.columns
        else pd.Series([()] * n, dtype=object)
    )
    out = []
    for t, s, more in zip(types.to_numpy(), services.to_numpy(), extra.to_numpy(), strict=True):
        toks = set()
        if t is not None and not (isinstance(t, float) and np.isnan(t)) and _slug(t):
            toks.add(_slug(t))
        if isinstance(more, tuple):
            toks.update(x for x in (_slug(v) for v in more) if x)
        toks.update(x for x in (_slug(v) for v in _services(s)) if x)
        out.append(frozenset(toks))
    return out


def _requirements(required: Any) -> dict[str, tuple[str, ...]]:
    if isinstance(required, str):
        required = [required]
    if isinstance(required, Mapping):
        items = list(required.items())
    elif isinstance(required, Iterable):
        items = []
        for r in required:
            if isinstance(r, str):
                items.append((r, [r]))
            elif isinstance(r, Sequence) and r and all(isinstance(x, str) for x in r):
                items.append(("_or_".join(_slug(x) for x in r), list(r)))
            else:
                raise ValidationError(
                    f"required type {r!r} must be a string or a list of alternative strings"
                )
    else:
        raise ValidationError(
            "required_types must be a list of types (e.g. ['food', 'advice', "
            "'digital']) or a mapping name -> alternatives"
        )
    out: dict[str, tuple[str, ...]] = {}
    for name, alts in items:
        alts = [alts] if isinstance(alts, str) else list(alts)
        key = _slug(name)
        toks = tuple(dict.fromkeys(_slug(a) for a in alts if _slug(a)))
        if not key or not toks:
            raise ValidationError(
                f"required type {name!r} -> {alts!r} has no usable name; give "
                "words such as 'food' or 'advice'"
            )
        if key in out:
            raise ValidationError(f"required type {name!r} is given twice")
        out[key] = toks
    if not out:
        raise ValidationError("required_types is empty: give at least one type")
    return out


def match_types(orgs: pd.DataFrame, required: Any) -> dict[str, np.ndarray]:
    """Boolean mask of the organisations satisfying each requirement (see module notes)."""
    req = _requirements(required)
    toks = organisation_tokens(orgs)
    masks = {
        k: np.array([bool(t.intersection(alts)) for t in toks], dtype=bool)
        for k, alts in req.items()
    }
    missing = [k for k, m in masks.items() if not m.any()]
    if missing:
        seen = pd.Series([t for s in toks for t in s]).value_counts()
        what = "; ".join(
            " or ".join(repr(a) for a in req[k]) + ("" if req[k] == (k,) else f" (for {k!r})")
            for k in missing
        )
        raise ValidationError(
            f"no organisation has type or service {what}; the most common types and services are "
            f"{list(seen.index[:25])}; check the spelling or give alternatives, e.g. "
            "{'food': ['food_bank', 'food']}"
        )
    return masks


@dataclass(frozen=True, eq=False)
class BasketResult:
    """Who reaches at least one organisation of each required type.

    Attributes
    ----------
    requirements
        Requirement name -> accepted type tokens.
    thresholds
        Minutes evaluated.
    lsoas, wards, deciles
        Per group: ``population``, ``pop_basket_{T}min``, ``share_basket_{T}min`` and, per
        requirement ``R``, ``share_{R}_{T}min`` (reach at least one of R).
    totals
        One row per threshold: ``minutes``, ``population``, ``pop_basket``, ``share_basket`` and
        ``pop_without_{R}`` (people lacking R).
    residents
        Per residential point: ``weight``, ``walk_m_{R}``, ``has_{R}_{T}min``, ``basket_{T}min``.
    organisations
        Number of organisations meeting each requirement.
    params
        Parameters (requirements, minutes, speed, source of each requirement's walks).
    """

    requirements: dict[str, tuple[str, ...]]
    thresholds: tuple[int | float, ...]
    lsoas: gpd.GeoDataFrame
    wards: gpd.GeoDataFrame
    deciles: pd.DataFrame
    totals: pd.DataFrame
    residents: gpd.GeoDataFrame
    organisations: pd.DataFrame
    params: dict[str, Any] = field(default_factory=dict)

    def share(self, minutes: float | None = None) -> float:
        """Share of the population with the whole basket within ``minutes``."""
        m = self.thresholds[-1] if minutes is None else minutes
        row = self.totals.loc[self.totals["minutes"] == m]
        if row.empty:
            raise ValidationError(f"minutes={m} is not among {list(self.thresholds)}")
        return float(row["share_basket"].iloc[0])

    def summary(self) -> str:
        """The basket's coverage in a few lines of text."""
        reqs = " + ".join(self.requirements)
        lines = [f"Basket {reqs}:"]
        for _, r in self.totals.iterrows():
            lines.append(
                f"  {r['minutes']:g} min: {r['pop_basket']:,.0f} people "
                f"({r['share_basket']:.1%}) reach all of them"
            )
        return "\n".join(lines)


class _Snapped:
    """The residents and the organisations of a coverage result snapped onto its network,
    once for every requirement (snapped when first needed)."""

    def __init__(self, cov: CoverageResult) -> None:
        self.cov = cov
        self._pair: tuple[SnapResult, SnapResult] | None = None

    def get(self) -> tuple[SnapResult, SnapResult]:
        """(residents, organisations), in the result's row order."""
        if self._pair is None:
            from cnmap.network.snap import snap_points_together

            cov = self.cov
            if cov.network is None:
                raise ValidationError(
                    "this coverage result has no network attached; recompute it "
                    "with coverage(..., network=net)"
                )
            people, places = snap_points_together(
                cov.network,
                [
                    cov.residents.geometry.reset_index(drop=True),
                    cov.organisations.geometry.reset_index(drop=True),
                ],
                max_snap_m=float(cov.parameters.max_snap_m),
            )
            self._pair = (people, places)
        return self._pair


def _walks_for(cov: CoverageResult, mask: np.ndarray, snapped: _Snapped) -> np.ndarray:
    """Walking metres from every residential point to the nearest organisation in ``mask``."""
    res = cov.residents
    orgs = cov.organisations
    keep = np.asarray(mask, dtype=bool)
    if "snapped" in orgs.columns:
        keep = keep & orgs["snapped"].to_numpy(bool)
    if not keep.any():
        return np.full(len(res), np.inf)
    if cov.mode == "network":
        from cnmap.network import distance_at_points, distance_to_nearest

        assert cov.network is not None  # checked by _Snapped.get
        P, places = snapped.get()
        S = places.take(keep)
        nd = distance_to_nearest(cov.network, S)
        d = distance_at_points(cov.network, nd, P, sources=S).to_numpy(float)
        return np.where(np.isnan(d), np.inf, d)
    orgs = orgs.loc[keep]
    from scipy.spatial import cKDTree

    detour = float(cov.parameters.detour_factor or 1.0)
    oxy = np.column_stack([orgs.geometry.x.to_numpy(), orgs.geometry.y.to_numpy()])
    rxy = np.column_stack([res.geometry.x.to_numpy(), res.geometry.y.to_numpy()])
    d, _ = cKDTree(oxy).query(rxy, k=1)
    return np.asarray(d) * detour


def _minutes_list(cov: CoverageResult, minutes: Any) -> tuple[int | float, ...]:
    return tuple(cov.thresholds) if minutes is None else _check.minutes_tuple("minutes", minutes)


def _stored_type(
    cov: CoverageResult, alts: tuple[str, ...], mask: np.ndarray, thresholds: Sequence[int | float]
) -> str | None:
    """The coverage type whose stored columns answer this requirement exactly, if any."""
    slugs = cov.organisations.get(S.TYPE_SLUG)
    if len(alts) != 1 or alts[0] not in cov.types or slugs is None:
        return None
    if not np.array_equal(slugs.to_numpy() == alts[0], mask):
        return None
    if not all(S.covered(t, alts[0]) in cov.residents.columns for t in thresholds):
        return None
    return alts[0]


def _requirement_walks(
    cov: CoverageResult,
    req: Mapping[str, tuple[str, ...]],
    masks: Mapping[str, np.ndarray],
    thresholds: Sequence[int | float],
    R: pd.DataFrame,
) -> dict[str, str]:
    """Add ``walk_m_{R}`` and ``has_{R}_{T}min`` to ``R`` for every requirement; returns where
    each requirement's walks come from."""
    res = cov.residents
    per_m = cov.speed_kmh * 1000.0 / 60.0
    placed = R[S.PLACED].to_numpy(bool)
    snapped = _Snapped(cov)
    source: dict[str, str] = {}
    for k, alts in req.items():
        kind = _stored_type(cov, alts, masks[k], thresholds)
        if kind is not None:
            for t in thresholds:
                R[S.has(k, t)] = res[S.covered(t, kind)].to_numpy(bool)
            wk = res.get(S.walk_min(kind))
            R[S.walk_m(k)] = wk.to_numpy(float) * per_m if wk is not None else np.nan
            source[k] = f"coverage column covered_{{T}}min_{kind}"
        else:
            d = _walks_for(cov, masks[k], snapped)
            R[S.walk_m(k)] = d
            for t in thresholds:
                R[S.has(k, t)] = placed & (d <= float(t) * per_m + 1e-9)
            source[k] = f"computed ({cov.mode}) from {int(masks[k].sum())} organisations"
    return source


def _by_key(
    R: pd.DataFrame, key: str, req: Mapping[str, tuple[str, ...]], thresholds: Sequence[int | float]
) -> pd.DataFrame:
    """Basket figures of the residents grouped by ``key`` (population-weighted)."""
    people = {S.basket(t): R[S.basket(t)].to_numpy(bool) for t in thresholds}
    people.update({S.has(k, t): R[S.has(k, t)].to_numpy(bool) for t in thresholds for k in req})
    sums = group_sums(R[key].to_numpy(), R[S.WEIGHT].to_numpy(float), people=people)
    out = pd.DataFrame(index=sums.index)
    out[S.POPULATION] = sums.population
    for t in thresholds:
        out[S.pop_basket(t)] = sums.people(S.basket(t))
        out[S.share_basket(t)] = sums.share(S.basket(t))
        for k in req:
            out[S.share_with(k, t)] = sums.share(S.has(k, t))
    out.index.name = key
    return out


def _area_tables(
    cov: CoverageResult,
    R: pd.DataFrame,
    req: Mapping[str, tuple[str, ...]],
    thresholds: Sequence[int | float],
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, pd.DataFrame]:
    """Basket figures by LSOA, ward and IMD decile."""
    lbase = cov.lsoas[
        [
            c
            for c in (S.LSOA_CODE, S.LSOA_NAME, S.WARD_CODE, S.WARD_NAME, S.IMD_DECILE, S.GEOMETRY)
            if c in cov.lsoas.columns
        ]
    ]
    lsoas = gpd.GeoDataFrame(
        lbase.merge(
            _by_key(R, S.LSOA_CODE, req, thresholds),
            left_on=S.LSOA_CODE,
            right_index=True,
            how="left",
        ),
        geometry=S.GEOMETRY,
        crs=cov.lsoas.crs,
    )
    wbase = cov.wards[[c for c in (S.WARD_CODE, S.WARD_NAME, S.GEOMETRY) if c in cov.wards.columns]]
    wards = gpd.GeoDataFrame(
        wbase.merge(
            _by_key(R, S.WARD_CODE, req, thresholds),
            left_on=S.WARD_CODE,
            right_index=True,
            how="left",
        ),
        geometry=S.GEOMETRY,
        crs=cov.wards.crs,
    )
    if S.IMD_DECILE in R.columns:
        deciles = _by_key(R, S.IMD_DECILE, req, thresholds).reset_index()
        deciles = deciles.loc[deciles[S.IMD_DECILE].notna()].astype({S.IMD_DECILE: int})
    else:
        deciles = pd.DataFrame(columns=[S.IMD_DECILE])
    return lsoas, wards, deciles


def _totals(
    R: pd.DataFrame, req: Mapping[str, tuple[str, ...]], thresholds: Sequence[int | float]
) -> pd.DataFrame:
    """One row per time limit for the whole area."""
    w = R[S.WEIGHT].to_numpy(float)
    total = float(w.sum())
    rows = []
    for t in thresholds:
        row: dict[str, Any] = {
            S.MINUTES: t,
            S.POPULATION: total,
            "pop_basket": float(w[R[S.basket(t)].to_numpy(bool)].sum()),
        }
        row["share_basket"] = row["pop_basket"] / total if total else float("nan")
        for k in req:
            row[S.pop_without(k)] = float(w[~R[S.has(k, t)].to_numpy(bool)].sum())
        rows.append(row)
    return pd.DataFrame(rows)


def basket_coverage(
    coverage: CoverageResult, required_types: Any, *, minutes: float | Iterable[float] | None = None
) -> BasketResult:
    """Share of residents within reach of at least one organisation of each required type.

    Parameters
    ----------
    coverage
        A :class:`cnmap.coverage.CoverageResult` (its residents, organisations, network, speed
        and snapping limit are reused).
    required_types
        The basket: a list of types (``["food_bank", "advice", "digital"]``; a list inside it
        gives alternatives) or a mapping ``name -> alternatives``
        (``{"food": ["food_bank", "food"], "advice": "advice"}``). Types are matched against the
        organisations' normalised ``type`` and services.
    minutes
        Time limit(s); default the coverage result's thresholds.

    Returns
    -------
    BasketResult
    """
    from cnmap.coverage import CoverageResult

    if not isinstance(coverage, CoverageResult):
        raise ValidationError(
            "basket_coverage needs a CoverageResult from cnmap.coverage.coverage, "
            f"not {type(coverage).__name__}"
        )
    thresholds = _minutes_list(coverage, minutes)
    req = _requirements(required_types)
    masks = match_types(coverage.organisations, req)
    res = coverage.residents
    placed = res[S.PLACED].to_numpy(bool) if S.PLACED in res.columns else np.ones(len(res), bool)
    R = pd.DataFrame(
        {
            S.LSOA_CODE: res[S.LSOA_CODE].to_numpy(),
            S.WARD_CODE: res[S.WARD_CODE].to_numpy(),
            S.WEIGHT: res[S.WEIGHT].to_numpy(float),
            S.PLACED: placed,
        }
    )
    if S.IMD_DECILE in res.columns:
        R[S.IMD_DECILE] = res[S.IMD_DECILE].to_numpy()
    source = _requirement_walks(coverage, req, masks, thresholds, R)
    for t in thresholds:
        R[S.basket(t)] = np.logical_and.reduce([R[S.has(k, t)].to_numpy(bool) for k in req])
    lsoas, wards, deciles = _area_tables(coverage, R, req, thresholds)
    orgs = pd.DataFrame(
        {
            "requirement": list(req),
            "accepts": ["; ".join(v) for v in req.values()],
            "n_organisations": [int(masks[k].sum()) for k in req],
            "walks": [source[k] for k in req],
        }
    )
    params = {
        "requirements": {k: list(v) for k, v in req.items()},
        "minutes": list(thresholds),
        "speed_kmh": coverage.speed_kmh,
        "mode": coverage.mode,
        "max_snap_m": coverage.parameters.max_snap_m,
        "walks": source,
        "coverage_params": coverage.params,
    }
    result = BasketResult(
        requirements=req,
        thresholds=thresholds,
        lsoas=lsoas,
        wards=wards,
        deciles=deciles,
        totals=_totals(R, req, thresholds),
        residents=gpd.GeoDataFrame(R, geometry=res.geometry.values, crs=res.crs),
        organisations=orgs,
        params=params,
    )
    log.info("%s", result.summary())
    return result
