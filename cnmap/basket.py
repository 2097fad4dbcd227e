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
from cnmap import columns as C
from cnmap.errors import ValidationError

if TYPE_CHECKING:  # pragma: no cover
    from cnmap.coverage import CoverageResult

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
    types = orgs[C.ORG_TYPE].astype(object) if C.ORG_TYPE in orgs.columns else \
        pd.Series([None] * n, dtype=object)
    if "services_list" in orgs.columns:
        services = orgs["services_list"].astype(object)
    elif C.SERVICES in orgs.columns:
        services = orgs[C.SERVICES].astype(object)
    else:
        services = pd.Series([None] * n, dtype=object)
    extra = orgs["types_list"].astype(object) if "types_list" in orgs.columns else \
        pd.Series([()] * n, dtype=object)
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
                raise ValidationError(f"required type {r!r} must be a string or a list of "
                                      "alternative strings")
    else:
        raise ValidationError("required_types must be a list of types (e.g. ['food', 'advice', "
                              "'digital']) or a mapping name -> alternatives")
    out: dict[str, tuple[str, ...]] = {}
    for name, alts in items:
        alts = [alts] if isinstance(alts, str) else list(alts)
        key = _slug(name)
        toks = tuple(dict.fromkeys(_slug(a) for a in alts if _slug(a)))
        if not key or not toks:
            raise ValidationError(f"required type {name!r} -> {alts!r} has no usable name; give "
                                  "words such as 'food' or 'advice'")
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
    masks = {k: np.array([bool(t.intersection(alts)) for t in toks], dtype=bool)
             for k, alts in req.items()}
    missing = [k for k, m in masks.items() if not m.any()]
    if missing:
        seen = pd.Series([t for s in toks for t in s]).value_counts()
        what = "; ".join(" or ".join(repr(a) for a in req[k])
                         + ("" if req[k] == (k,) else f" (for {k!r})") for k in missing)
        raise ValidationError(
            f"no organisation has type or service {what}; the most common types and services are "
            f"{list(seen.index[:25])}; check the spelling or give alternatives, e.g. "
            "{'food': ['food_bank', 'food']}")
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
        reqs = " + ".join(self.requirements)
        lines = [f"Basket {reqs}:"]
        for _, r in self.totals.iterrows():
            lines.append(f"  {r['minutes']:g} min: {r['pop_basket']:,.0f} people "
                         f"({r['share_basket']:.1%}) reach all of them")
        return "\n".join(lines)


def _walks_for(cov: CoverageResult, mask: np.ndarray) -> np.ndarray:
    """Walking metres from every residential point to the nearest organisation in ``mask``."""
    res = cov.residents
    orgs = cov.organisations.loc[mask]
    if "snapped" in orgs.columns:
        orgs = orgs.loc[orgs["snapped"].to_numpy(bool)]
    if len(orgs) == 0:
        return np.full(len(res), np.inf)
    if cov.mode == "network":
        if cov.network is None:
            raise ValidationError("this coverage result has no network attached; recompute it "
                                  "with coverage(..., network=net)")
        from cnmap.network import distance_at_points, distance_to_nearest, snap_points

        max_snap = float(cov.params.get("max_snap_m", 500.0))
        S = snap_points(cov.network, orgs.geometry.reset_index(drop=True), max_snap_m=max_snap)
        P = snap_points(cov.network, res.geometry.reset_index(drop=True), max_snap_m=max_snap)
        nd = distance_to_nearest(cov.network, S)
        d = distance_at_points(cov.network, nd, P, sources=S).to_numpy(float)
        return np.where(np.isnan(d), np.inf, d)
    from scipy.spatial import cKDTree

    detour = float(cov.params.get("detour_factor") or 1.0)
    oxy = np.column_stack([orgs.geometry.x.to_numpy(), orgs.geometry.y.to_numpy()])
    rxy = np.column_stack([res.geometry.x.to_numpy(), res.geometry.y.to_numpy()])
    d, _ = cKDTree(oxy).query(rxy, k=1)
    return d * detour


def _minutes_list(cov: CoverageResult, minutes: Any) -> tuple[int | float, ...]:
    return tuple(cov.thresholds) if minutes is None else _check.minutes_tuple("minutes", minutes)


def basket_coverage(coverage: CoverageResult, required_types: Any, *,
                    minutes: float | Iterable[float] | None = None) -> BasketResult:
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
        raise ValidationError("basket_coverage needs a CoverageResult from cnmap.coverage.coverage, "
                              f"not {type(coverage).__name__}")
    thresholds = _minutes_list(coverage, minutes)
    req = _requirements(required_types)
    masks = match_types(coverage.organisations, req)
    res = coverage.residents
    placed = res["placed"].to_numpy(bool) if "placed" in res.columns else np.ones(len(res), bool)
    w = res["weight"].to_numpy(float)
    per_m = coverage.speed_kmh * 1000.0 / 60.0
    R = pd.DataFrame({C.LSOA_CODE: res[C.LSOA_CODE].to_numpy(),
                      C.WARD_CODE: res[C.WARD_CODE].to_numpy(), "weight": w, "placed": placed})
    if "imd_decile" in res.columns:
        R["imd_decile"] = res["imd_decile"].to_numpy()
    source: dict[str, str] = {}
    for k, alts in req.items():
        slugs = coverage.organisations.get("type_slug")
        stored = (len(alts) == 1 and alts[0] in coverage.types and slugs is not None
                  and np.array_equal(slugs.to_numpy() == alts[0], masks[k])
                  and all(f"covered_{t}min_{alts[0]}" in res.columns for t in thresholds))
        if stored:
            for t in thresholds:
                R[f"has_{k}_{t}min"] = res[f"covered_{t}min_{alts[0]}"].to_numpy(bool)
            wk = res.get(f"walk_min_{alts[0]}")
            R[f"walk_m_{k}"] = wk.to_numpy(float) * per_m if wk is not None else np.nan
            source[k] = f"coverage column covered_{{T}}min_{alts[0]}"
        else:
            d = _walks_for(coverage, masks[k])
            R[f"walk_m_{k}"] = d
            for t in thresholds:
                R[f"has_{k}_{t}min"] = placed & (d <= float(t) * per_m + 1e-9)
            source[k] = f"computed ({coverage.mode}) from {int(masks[k].sum())} organisations"
    for t in thresholds:
        R[f"basket_{t}min"] = np.logical_and.reduce(
            [R[f"has_{k}_{t}min"].to_numpy(bool) for k in req])

    def agg(key: str) -> pd.DataFrame:
        frame = {"_k": R[key].to_numpy(), "population": w}
        for t in thresholds:
            frame[f"pop_basket_{t}min"] = np.where(R[f"basket_{t}min"], w, 0.0)
            for k in req:
                frame[f"_h_{k}_{t}"] = np.where(R[f"has_{k}_{t}min"], w, 0.0)
        s = pd.DataFrame(frame).groupby("_k", sort=True).sum()
        out = pd.DataFrame(index=s.index)
        out["population"] = s["population"]
        pop = s["population"].to_numpy()
        with np.errstate(invalid="ignore", divide="ignore"):
            for t in thresholds:
                out[f"pop_basket_{t}min"] = s[f"pop_basket_{t}min"]
                out[f"share_basket_{t}min"] = s[f"pop_basket_{t}min"].to_numpy() / pop
                for k in req:
                    out[f"share_{k}_{t}min"] = s[f"_h_{k}_{t}"].to_numpy() / pop
        out.index.name = key
        return out

    lbase = coverage.lsoas[[c for c in (C.LSOA_CODE, "lsoa_name", C.WARD_CODE, C.WARD_NAME,
                                        "imd_decile", "geometry") if c in coverage.lsoas.columns]]
    lsoas = gpd.GeoDataFrame(lbase.merge(agg(C.LSOA_CODE), left_on=C.LSOA_CODE, right_index=True,
                                         how="left"), geometry="geometry", crs=coverage.lsoas.crs)
    wbase = coverage.wards[[c for c in (C.WARD_CODE, C.WARD_NAME, "geometry")
                            if c in coverage.wards.columns]]
    wards = gpd.GeoDataFrame(wbase.merge(agg(C.WARD_CODE), left_on=C.WARD_CODE, right_index=True,
                                         how="left"), geometry="geometry", crs=coverage.wards.crs)
    if "imd_decile" in R.columns:
        deciles = agg("imd_decile").reset_index()
        deciles = deciles.loc[deciles["imd_decile"].notna()].astype({"imd_decile": int})
    else:
        deciles = pd.DataFrame(columns=["imd_decile"])
    total = float(w.sum())
    rows = []
    for t in thresholds:
        row: dict[str, Any] = {"minutes": t, "population": total,
                               "pop_basket": float(w[R[f"basket_{t}min"].to_numpy(bool)].sum())}
        row["share_basket"] = row["pop_basket"] / total if total else float("nan")
        for k in req:
            row[f"pop_without_{k}"] = float(w[~R[f"has_{k}_{t}min"].to_numpy(bool)].sum())
        rows.append(row)
    totals = pd.DataFrame(rows)
    orgs = pd.DataFrame({"requirement": list(req), "accepts": ["; ".join(v) for v in req.values()],
                         "n_organisations": [int(masks[k].sum()) for k in req],
                         "walks": [source[k] for k in req]})
    params = {"requirements": {k: list(v) for k, v in req.items()}, "minutes": list(thresholds),
              "speed_kmh": coverage.speed_kmh, "mode": coverage.mode,
              "max_snap_m": coverage.params.get("max_snap_m"), "walks": source,
              "coverage_params": coverage.params}
    result = BasketResult(requirements=req, thresholds=thresholds, lsoas=lsoas, wards=wards,
                          deciles=deciles, totals=totals,
                          residents=gpd.GeoDataFrame(R, geometry=res.geometry.values, crs=res.crs),
                          organisations=orgs, params=params)
    log.info("%s", result.summary())
    return result
