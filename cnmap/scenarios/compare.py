"""Scenario B against scenario A: who gains and who loses coverage, and the equity measures.

:func:`compare` counts gains and losses per residential point, then sums them by LSOA, ward and
IMD decile (:func:`cnmap.aggregate.group_sums`) and for the whole area, with the change in mean
walking time and the concentration indices of coverage over deprivation
(:func:`concentration_index`). ``compare(a, a)`` is exactly zero. Column names come from
:mod:`cnmap.schema` (``pop_gained(15)``, ``side(share_covered(15), "a")``...).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from cnmap import _check
from cnmap import schema as S
from cnmap.aggregate import group_sums
from cnmap.errors import MissingColumnError, ValidationError
from cnmap.scenarios.scenario import Scenario

if TYPE_CHECKING:  # pragma: no cover
    from cnmap.area import Area
    from cnmap.coverage import CoverageResult
    from cnmap.network import WalkNetwork

__all__ = ["Comparison", "compare", "concentration_index"]

log = logging.getLogger(__name__)

_KINDS = ("standard", "wagstaff", "erreygers")
#: Concentration index kinds and the prefix of their columns in ``Comparison.equity``.
_CI_LABELS = (("standard", "ci"), ("wagstaff", "ci_wagstaff"), ("erreygers", "ci_erreygers"))
_WALK_CHANGE = "walk_change_min"
_MEAN_WALK_CHANGE = "mean_walk_change_min"


# ---------------------------------------------------------------------------------------------
# equity measures


def _fractional_ranks(kv: np.ndarray, wv: np.ndarray) -> np.ndarray:
    """Weighted fractional ranks ``(W_before + w / 2) / W``, one rank per tied group."""
    W = wv.sum()
    order = np.argsort(kv, kind="stable")
    ks, ws = kv[order], wv[order]
    _, start = np.unique(ks, return_index=True)
    gw = np.add.reduceat(ws, start)
    before = np.concatenate([[0.0], np.cumsum(gw)[:-1]])
    r_group = (before + gw / 2.0) / W
    R = np.empty_like(kv)
    R[order] = np.repeat(r_group, np.diff(np.append(start, ks.size)))
    return R


def concentration_index(
    y: Any, rank_key: Any, weights: Any | None = None, *, kind: str = "erreygers"
) -> float:
    """Concentration index of an outcome in ``[0, 1]`` over a deprivation ranking.

    People are ranked from the most deprived (smallest ``rank_key``, e.g. the IMD rank where
    1 = most deprived in England) to the least deprived, with weighted fractional ranks
    ``R_i = (W_before + w_i / 2) / W``; people with the same ``rank_key`` (e.g. the residents
    of one LSOA) share one rank. With ``mu`` the weighted mean of ``y``:

    - ``"standard"``: ``C = 2 cov_w(y, R) / mu``;
    - ``"wagstaff"``: ``C / (1 - mu)``, the correction for a binary outcome (range -1..1);
    - ``"erreygers"``: ``4 mu C = 8 cov_w(y, R)`` (range -1..1).

    When nobody or everybody is covered (``mu`` 0 or 1) there is no inequality and every kind
    is 0. No valid rows at all gives NaN.

    Positive values: the outcome (coverage) is concentrated among the *less* deprived;
    negative: among the *more* deprived; 0: no association with deprivation.

    Parameters
    ----------
    y
        The outcome of every person or group, between 0 and 1 (e.g. covered or not).
    rank_key
        Deprivation order (smaller = more deprived).
    weights
        People per row (default 1). Rows with a weight <= 0 or a missing value are left out.
    kind
        ``"standard"``, ``"wagstaff"`` or ``"erreygers"``.

    Returns
    -------
    float

    Examples
    --------
    >>> concentration_index([0, 0, 1, 1], [1, 2, 3, 4])
    1.0
    """
    if kind not in _KINDS:
        raise ValidationError(f"kind={kind!r} is not one of 'standard', 'wagstaff', 'erreygers'")
    yv = np.asarray(y, dtype=float)
    kv = np.asarray(rank_key, dtype=float)
    wv = np.ones_like(yv) if weights is None else np.asarray(weights, dtype=float)
    if not (yv.shape == kv.shape == wv.shape):
        raise ValidationError("y, rank_key and weights must have the same length")
    ok = np.isfinite(yv) & np.isfinite(kv) & np.isfinite(wv) & (wv > 0)
    yv, kv, wv = yv[ok], kv[ok], wv[ok]
    if yv.size == 0:
        return float("nan")
    if (yv < 0).any() or (yv > 1).any():
        raise ValidationError(
            "the concentration index here is for outcomes between 0 and 1 (e.g. covered or not)"
        )
    W = wv.sum()
    R = _fractional_ranks(kv, wv)
    mu = float((wv * yv).sum() / W)
    rbar = float((wv * R).sum() / W)
    cov = float((wv * (yv - mu) * (R - rbar)).sum() / W)
    if kind == "erreygers":
        return 8.0 * cov
    if mu == 0.0 or mu == 1.0:
        return 0.0  # nobody or everybody covered: no inequality to measure
    c = 2.0 * cov / mu
    return c if kind == "standard" else c / (1.0 - mu)


# ---------------------------------------------------------------------------------------------
# the result


@dataclass(frozen=True, eq=False)
class Comparison:
    """Scenario B against scenario A, per residential point, summed by area.

    Attributes
    ----------
    name_a, name_b
        Labels of the two scenarios.
    thresholds
        Minutes compared.
    lsoas, wards, deciles
        Per group: ``population``; per threshold T: ``pop_covered_{T}min_a``/``_b``,
        ``pop_gained_{T}min`` (covered in B, not in A), ``pop_lost_{T}min`` (covered in A, not
        in B), ``net_change_{T}min`` (gained - lost), ``share_covered_{T}min_a``/``_b``,
        ``share_change_{T}min``; ``mean_walk_min_a``/``_b`` and ``mean_walk_change_min`` (the
        population-weighted mean of each point's change, over points with a walk in both).
    totals
        One row per threshold with the same measures for the whole area.
    equity
        One row per threshold: concentration indices of coverage over the IMD rank for A and
        B (standard, Wagstaff, Erreygers) and their changes, and the coverage share of the most
        and least deprived deciles present.
    residents
        Per residential point: ``covered_{T}min_a``/``_b``, ``gained_{T}min``, ``lost_{T}min``,
        ``walk_min_a``/``_b``, ``walk_change_min``.
    params
        ``{"a": params of A, "b": params of B, "minutes": [...], "rank_by": ...}``.
    """

    name_a: str
    name_b: str
    thresholds: tuple[int | float, ...]
    lsoas: gpd.GeoDataFrame
    wards: gpd.GeoDataFrame
    deciles: pd.DataFrame
    totals: pd.DataFrame
    equity: pd.DataFrame
    residents: gpd.GeoDataFrame
    params: dict[str, Any] = field(default_factory=dict)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The comparison tables by name, for export."""
        return {
            "totals": self.totals,
            "equity": self.equity,
            "deciles": self.deciles,
            "wards": self.wards,
            "lsoas": self.lsoas,
        }

    def _ward_lines(self) -> list[str]:
        """The wards gaining and losing most at the headline limit."""
        t = S.default_minutes(self.thresholds)
        net = S.net_change(t)
        w = self.wards.sort_values(net)
        lines = []
        for label, rows in (
            ("gaining", w.loc[w[net] > 0].tail(3).iloc[::-1]),
            ("losing", w.loc[w[net] < 0].head(3)),
        ):
            if len(rows):
                lines.append(
                    f"  wards {label} most at {t:g} min: "
                    + ", ".join(
                        f"{n} ({v:+,.0f})"
                        for n, v in zip(rows[S.WARD_NAME], rows[net], strict=True)
                    )
                )
        return lines

    def summary(self) -> str:
        """A few lines for logs, notebooks and the command line."""
        lines = [f"{self.name_b!r} against {self.name_a!r}:"]
        eq = self.equity.set_index(S.MINUTES)
        for _, r in self.totals.iterrows():
            t = r[S.MINUTES]
            lines.append(
                f"  {t:g} min: covered {r['share_covered_a']:.1%} -> {r['share_covered_b']:.1%}; "
                f"{r['pop_gained']:,.0f} people gain, {r['pop_lost']:,.0f} lose, net "
                f"{r['net_change']:+,.0f}; concentration index (Erreygers) "
                f"{eq.loc[t, 'ci_erreygers_a']:+.3f} -> {eq.loc[t, 'ci_erreygers_b']:+.3f}"
            )
        mw = self.totals[_MEAN_WALK_CHANGE].iloc[0]
        lines.append(f"  mean walking time to the nearest organisation: {mw:+.2f} min per person")
        return "\n".join(lines + self._ward_lines())

    def __repr__(self) -> str:
        return (
            f"Comparison({self.name_b!r} vs {self.name_a!r}, minutes={list(self.thresholds)}, "
            f"{len(self.lsoas)} LSOAs, {len(self.wards)} wards)"
        )


# ---------------------------------------------------------------------------------------------
# checks


def _scenario_name(result: CoverageResult, default: str) -> str:
    sc = result.params.get("scenario")
    return str(sc.get("name")) if isinstance(sc, dict) and sc.get("name") else default


def _same_residents(a: CoverageResult, b: CoverageResult) -> None:
    ra, rb = a.residents, b.residents
    same = len(ra) == len(rb)
    if same:
        same = (
            np.array_equal(ra[S.LSOA_CODE].to_numpy(), rb[S.LSOA_CODE].to_numpy())
            and np.array_equal(ra[S.WEIGHT].to_numpy(float), rb[S.WEIGHT].to_numpy(float))
            and np.allclose(ra.geometry.x.to_numpy(), rb.geometry.x.to_numpy(), atol=1e-6, rtol=0)
            and np.allclose(ra.geometry.y.to_numpy(), rb.geometry.y.to_numpy(), atol=1e-6, rtol=0)
        )
    if not same:
        raise ValidationError(
            f"the two results place the residents differently (a: {len(ra):,} points from "
            f"{a.params.get('residents')!r}, b: {len(rb):,} points from "
            f"{b.params.get('residents')!r}); run both with the same residents= and area"
        )


def _check_comparable(
    a: CoverageResult, b: CoverageResult, minutes: Any
) -> tuple[int | float, ...]:
    """The time limits to compare, after checking that ``a`` and ``b`` can be compared."""
    for key, label in (
        (S.LAD_CODE, "area"),
        ("lsoa_vintage", "LSOA vintage"),
        ("iod", "IoD edition"),
    ):
        if a.params.get(key) != b.params.get(key):
            raise ValidationError(
                f"the two results are for different places or data: {label} "
                f"{a.params.get(key)!r} (a) vs {b.params.get(key)!r} (b); "
                "compute both on the same area (cnmap.load_area)"
            )
    _same_residents(a, b)
    if minutes is None:
        if tuple(a.thresholds) != tuple(b.thresholds):
            raise ValidationError(
                f"the two results use different time limits ({list(a.thresholds)} "
                f"vs {list(b.thresholds)}); run both with the same minutes=, "
                "or pass compare(..., minutes=[...]) with limits both have"
            )
        return tuple(a.thresholds)
    ts = _check.minutes_tuple("minutes", minutes)
    for t in ts:
        if t not in a.thresholds or t not in b.thresholds:
            raise ValidationError(
                f"minutes={t} is not among the time limits of both results "
                f"(a: {list(a.thresholds)}, b: {list(b.thresholds)})"
            )
    return ts


def _rank_key(res: gpd.GeoDataFrame, lsoas: pd.DataFrame) -> tuple[np.ndarray, str]:
    """Deprivation order of every resident (smaller = more deprived) and what it is."""
    L = lsoas.set_index(S.LSOA_CODE)
    for col, sign in (("imd_rank", 1.0), ("imd_score", -1.0), (S.IMD_DECILE, 1.0)):
        if col in L.columns:
            vals = pd.to_numeric(L[col], errors="coerce")
            return sign * vals.reindex(res[S.LSOA_CODE]).to_numpy(float), col
    raise MissingColumnError(
        "the LSOAs carry no deprivation (imd_rank, imd_score or imd_decile); "
        "load the area with cnmap.load_area to get IoD columns"
    )


# ---------------------------------------------------------------------------------------------
# per point, then summed


def _per_point(a: CoverageResult, b: CoverageResult, ts: tuple[int | float, ...]) -> pd.DataFrame:
    """One row per residential point: its keys, weight, coverage in A and B, gains, losses and
    walking times (``Comparison.residents`` without the geometry)."""
    ra, rb = a.residents, b.residents
    P = pd.DataFrame(
        {
            S.LSOA_CODE: ra[S.LSOA_CODE].to_numpy(),
            S.WARD_CODE: ra[S.WARD_CODE].to_numpy(),
            S.WEIGHT: ra[S.WEIGHT].to_numpy(float),
        }
    )
    if S.IMD_DECILE in a.lsoas.columns:
        dec = a.lsoas.set_index(S.LSOA_CODE)[S.IMD_DECILE]
        P[S.IMD_DECILE] = pd.to_numeric(dec, errors="coerce").reindex(P[S.LSOA_CODE]).to_numpy()
    for t in ts:
        ca = ra[S.covered(t)].to_numpy(bool)
        cb = rb[S.covered(t)].to_numpy(bool)
        P[S.side(S.covered(t), "a")] = ca
        P[S.side(S.covered(t), "b")] = cb
        P[S.gained(t)] = cb & ~ca
        P[S.lost(t)] = ca & ~cb
    wa = ra[S.WALK_MIN].to_numpy(float)
    wb = rb[S.WALK_MIN].to_numpy(float)
    P[S.side(S.WALK_MIN, "a")] = wa
    P[S.side(S.WALK_MIN, "b")] = wb
    both = np.isfinite(wa) & np.isfinite(wb)
    P[_WALK_CHANGE] = np.where(both, wb - np.where(both, wa, 0.0), np.nan)
    return P


def _group_table(P: pd.DataFrame, key: str, ts: tuple[int | float, ...]) -> pd.DataFrame:
    """The comparison's figures summed by ``key`` (the index): people covered in A and B,
    gained, lost, net change, shares, and the mean walks and their change."""
    people: dict[str, np.ndarray] = {}
    for t in ts:
        for col in (S.side(S.covered(t), "a"), S.side(S.covered(t), "b"), S.gained(t), S.lost(t)):
            people[col] = P[col].to_numpy(bool)
    means = {
        c: P[c].to_numpy(float)
        for c in (S.side(S.WALK_MIN, "a"), S.side(S.WALK_MIN, "b"), _WALK_CHANGE)
    }
    s = group_sums(P[key].to_numpy(), P[S.WEIGHT].to_numpy(float), people=people, means=means)
    cols: dict[str, Any] = {S.POPULATION: s.population}
    for t in ts:
        ca, cb = S.side(S.covered(t), "a"), S.side(S.covered(t), "b")
        cols[S.side(S.pop_covered(t), "a")] = s.people(ca)
        cols[S.side(S.pop_covered(t), "b")] = s.people(cb)
        cols[S.pop_gained(t)] = s.people(S.gained(t))
        cols[S.pop_lost(t)] = s.people(S.lost(t))
        cols[S.net_change(t)] = s.people(S.gained(t)) - s.people(S.lost(t))
        cols[S.side(S.share_covered(t), "a")] = s.share(ca)
        cols[S.side(S.share_covered(t), "b")] = s.share(cb)
        cols[S.share_change(t)] = s.share(cb) - s.share(ca)
    cols[S.side(S.MEAN_WALK_MIN, "a")] = s.mean(S.side(S.WALK_MIN, "a"))
    cols[S.side(S.MEAN_WALK_MIN, "b")] = s.mean(S.side(S.WALK_MIN, "b"))
    cols[_MEAN_WALK_CHANGE] = s.mean(_WALK_CHANGE)
    out = pd.DataFrame(cols, index=s.index)
    out.index.name = key
    return out


def _area_tables(
    a: CoverageResult, P: pd.DataFrame, ts: tuple[int | float, ...]
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, pd.DataFrame]:
    """The LSOA and ward tables (with their names and outlines) and the decile table."""
    lbase = a.lsoas[
        [
            c
            for c in (
                S.LSOA_CODE,
                S.LSOA_NAME,
                S.WARD_CODE,
                S.WARD_NAME,
                "imd_rank",
                S.IMD_DECILE,
                S.GEOMETRY,
            )
            if c in a.lsoas.columns
        ]
    ]
    lsoas = gpd.GeoDataFrame(
        lbase.merge(
            _group_table(P, S.LSOA_CODE, ts), left_on=S.LSOA_CODE, right_index=True, how="left"
        ),
        geometry=S.GEOMETRY,
        crs=a.lsoas.crs,
    )
    wbase = a.wards[[c for c in (S.WARD_CODE, S.WARD_NAME, S.GEOMETRY) if c in a.wards.columns]]
    wards = gpd.GeoDataFrame(
        wbase.merge(
            _group_table(P, S.WARD_CODE, ts), left_on=S.WARD_CODE, right_index=True, how="left"
        ),
        geometry=S.GEOMETRY,
        crs=a.wards.crs,
    )
    if S.IMD_DECILE in P.columns and P[S.IMD_DECILE].notna().any():
        deciles = _group_table(P, S.IMD_DECILE, ts).reset_index()
        deciles = deciles.loc[deciles[S.IMD_DECILE].notna()].astype({S.IMD_DECILE: int})
        deciles = deciles.reset_index(drop=True)
    else:
        deciles = pd.DataFrame(columns=[S.IMD_DECILE])
    return lsoas, wards, deciles


def _weighted_mean(values: np.ndarray, w: np.ndarray, mask: np.ndarray) -> float:
    return float(np.average(values[mask], weights=w[mask])) if mask.any() else np.nan


def _totals_row(P: pd.DataFrame, t: int | float) -> dict[str, Any]:
    """The whole area at limit ``t`` (one row of ``Comparison.totals``)."""
    w = P[S.WEIGHT].to_numpy(float)
    total = float(w.sum())
    wa = P[S.side(S.WALK_MIN, "a")].to_numpy(float)
    wb = P[S.side(S.WALK_MIN, "b")].to_numpy(float)
    both = np.isfinite(wa) & np.isfinite(wb)
    g = float(w[P[S.gained(t)].to_numpy(bool)].sum())
    lo = float(w[P[S.lost(t)].to_numpy(bool)].sum())
    pa = float(w[P[S.side(S.covered(t), "a")].to_numpy(bool)].sum())
    pb = float(w[P[S.side(S.covered(t), "b")].to_numpy(bool)].sum())
    return {
        S.MINUTES: t,
        S.POPULATION: total,
        "pop_covered_a": pa,
        "pop_covered_b": pb,
        "pop_gained": g,
        "pop_lost": lo,
        "net_change": g - lo,
        "share_covered_a": pa / total if total else np.nan,
        "share_covered_b": pb / total if total else np.nan,
        "share_change": (pb / total - pa / total) if total else np.nan,
        S.side(S.MEAN_WALK_MIN, "a"): _weighted_mean(wa, w, np.isfinite(wa)),
        S.side(S.MEAN_WALK_MIN, "b"): _weighted_mean(wb, w, np.isfinite(wb)),
        _MEAN_WALK_CHANGE: _weighted_mean(P[_WALK_CHANGE].to_numpy(), w, both),
    }


def _equity_row(
    P: pd.DataFrame, t: int | float, key: np.ndarray, rank_by: str, deciles: pd.DataFrame
) -> dict[str, Any]:
    """Concentration indices at limit ``t`` for A and B, and the extreme deciles' coverage
    (one row of ``Comparison.equity``)."""
    w = P[S.WEIGHT].to_numpy(float)
    ca = P[S.side(S.covered(t), "a")].to_numpy(bool)
    cb = P[S.side(S.covered(t), "b")].to_numpy(bool)
    row: dict[str, Any] = {S.MINUTES: t, "rank_by": rank_by}
    for kind, label in _CI_LABELS:
        va = concentration_index(ca.astype(float), key, w, kind=kind)
        vb = concentration_index(cb.astype(float), key, w, kind=kind)
        row[S.side(label, "a")] = va
        row[S.side(label, "b")] = vb
        row[f"{label}_change"] = vb - va
    if len(deciles):
        share_a, share_b = S.side(S.share_covered(t), "a"), S.side(S.share_covered(t), "b")
        for end, d in (("most", deciles.iloc[0]), ("least", deciles.iloc[-1])):
            row[f"{end}_deprived_decile"] = int(d[S.IMD_DECILE])
            row[f"share_{end}_deprived_a"] = float(d[share_a])
            row[f"share_{end}_deprived_b"] = float(d[share_b])
    return row


def _compare_results(
    a: CoverageResult, b: CoverageResult, ts: tuple[int | float, ...], name_a: str, name_b: str
) -> Comparison:
    P = _per_point(a, b, ts)
    lsoas, wards, deciles = _area_tables(a, P, ts)
    key, rank_by = _rank_key(a.residents, a.lsoas)
    totals = pd.DataFrame([_totals_row(P, t) for t in ts])
    equity = pd.DataFrame([_equity_row(P, t, key, rank_by, deciles) for t in ts])
    ra = a.residents
    residents = gpd.GeoDataFrame(P, geometry=ra.geometry.values, crs=ra.crs)
    params = {
        "a": a.params,
        "b": b.params,
        "minutes": list(ts),
        "rank_by": rank_by,
        "name_a": name_a,
        "name_b": name_b,
    }
    return Comparison(
        name_a=name_a,
        name_b=name_b,
        thresholds=ts,
        lsoas=lsoas,
        wards=wards,
        deciles=deciles,
        totals=totals,
        equity=equity,
        residents=residents,
        params=params,
    )


def _as_result(
    x: Any, label: str, area: Area | None, network: WalkNetwork | None
) -> CoverageResult:
    """``x`` as a coverage result: a result as it is, a scenario run on the area."""
    from cnmap.coverage import CoverageResult

    if isinstance(x, CoverageResult):
        return x
    if isinstance(x, Scenario):
        if area is None:
            raise ValidationError(
                f"{label} is a Scenario: pass area= (and network=) so that "
                "it can be run, or pass its CoverageResult"
            )
        return x.run(area, network)
    raise ValidationError(f"{label} must be a CoverageResult or a Scenario, not {type(x).__name__}")


def compare(
    a: Any,
    b: Any,
    *,
    area: Area | None = None,
    network: WalkNetwork | None = None,
    minutes: float | Iterable[float] | None = None,
    name_a: str | None = None,
    name_b: str | None = None,
) -> Comparison:
    """Who gains and who loses walking coverage going from scenario A to scenario B.

    Parameters
    ----------
    a, b
        Two :class:`cnmap.coverage.CoverageResult` (or two :class:`Scenario`, run here on
        ``area`` and ``network``). They must cover the same area with the same residential
        points and, unless ``minutes`` is given, the same time limits.
    area, network
        Needed only when ``a``/``b`` are scenarios.
    minutes
        Time limits to compare (each must be in both results); default all of them.
    name_a, name_b
        Labels; default the scenario names (or ``"a"``/``"b"``).

    Returns
    -------
    Comparison
        ``compare(a, a)`` has every gain, loss, net change, share change, walking-time change
        and concentration-index change exactly 0.
    """
    ra = _as_result(a, "a", area, network)
    rb = ra if b is a else _as_result(b, "b", area, network)
    ts = _check_comparable(ra, rb, minutes)
    out = _compare_results(
        ra, rb, ts, name_a or _scenario_name(ra, "a"), name_b or _scenario_name(rb, "b")
    )
    log.info("%s", out.summary())
    return out
