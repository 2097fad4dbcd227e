"""Where infrastructure is thin: deprivation (need) against walking provision, by LSOA and ward.

:func:`thin_areas` takes a :class:`~cnmap.coverage.CoverageResult` and sets, for every LSOA
and ward, three groups of figures side by side:

need
    deprivation on the English Indices of Deprivation: the IMD or one domain chosen to fit the
    service (Income for food and advice, Health for health services, Barriers to Housing and
    Services for access...). LSOAs carry the national rank and decile of that index; wards the
    MHCLG population-weighted *average rank* (:func:`cnmap.deprivation.summarise`).
provision (at one time limit ``minutes``, default the result's headline 15 minutes)
    ``share_covered`` (share of residents within ``minutes`` of an organisation),
    ``mean_reachable`` (population-weighted mean number of distinct organisations a resident
    reaches within ``minutes``: "organisations within reach per resident"),
    ``orgs_located`` and ``orgs_per_1000`` (organisations whose point lies in the area, per
    1,000 residents) and ``mean_walk_min`` (population-weighted mean walk to the nearest).
the gap
    ``pop_out_of_reach`` (residents more than ``minutes`` from any organisation) and
    ``deprived_pop_out_of_reach``: the same for residents of LSOAs in deciles
    ``1..max_decile`` of the chosen index.

The rule (all parameters explicit and recorded in ``params``)::

    thin = deprivation_decile <= max_decile  AND  share_covered < min_share_covered

For wards, ``deprivation_decile`` is the national decile that the ward's average rank
falls in. Wards also get ``left_behind``: in the worst ``left_behind_pct`` % of the area's
wards on deprivation (average rank) AND in the worst ``left_behind_pct`` % on provision.
Every area gets a 3x3 ``bivariate_class`` ``"d-p"`` (deprivation tercile 1..3, 3 = most
deprived, by provision tercile 1..3, 1 = least provision, terciles within the area) and a
``rank`` (1 = thinnest); every flagged area a plain-English ``reason``. See ``docs/thin.md``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd

from cnmap import _check
from cnmap import iod as _iod
from cnmap import schema as S
from cnmap.aggregate import group_sums
from cnmap.coverage import CoverageLike
from cnmap.errors import MissingColumnError, ValidationError
from cnmap.layers.base import NeedLayer
from cnmap.layers.domain import NeedDomain, NeedRanks, is_need_domain, layer_on_lsoas, need_domain
from cnmap.params import ThinParams, ThinRule

__all__ = [
    "ThinResult",
    "thin_areas",
    "SERVICE_DOMAINS",
    "PROVISION_MEASURES",
    "LSOA_COLUMNS",
    "WARD_COLUMNS",
]

log = logging.getLogger(__name__)

#: Deprivation index that fits a kind of service (``domain=`` accepts these words too).
SERVICE_DOMAINS: dict[str, str] = {
    "food": "income",
    "advice": "income",
    "debt": "income",
    "money": "income",
    "welfare": "income",
    "health": "health",
    "access": "barriers",
    "housing": "barriers",
    "employment": "employment",
    "jobs": "employment",
    "education": "education",
    "skills": "education_adult_skills",
    "children": "idaci",
    "older people": "idaopi",
}

#: Provision measures: name -> True when a higher value means more provision.
PROVISION_MEASURES: dict[str, bool] = {
    "share_covered": True,
    "mean_reachable": True,
    "orgs_per_1000": True,
    "mean_walk_min": False,
}

#: How a ward is flagged thin (``ward_rule``).
WARD_RULES: tuple[str, ...] = ("ward", "any_lsoa", "either")

_WORDS: dict[str, str] = {
    "imd": "IMD",
    "income": "Income deprivation",
    "employment": "Employment deprivation",
    "education": "Education deprivation",
    "health": "Health deprivation",
    "crime": "Crime",
    "barriers": "Barriers to housing and services",
    "living_environment": "Living environment deprivation",
    "idaci": "IDACI (children in income-deprived households)",
    "idaopi": "IDAOPI (older people in income-deprived households)",
}

#: Columns of the ranked LSOA table (:meth:`ThinResult.ranked`), when present.
LSOA_COLUMNS: tuple[str, ...] = (
    "rank",
    S.LSOA_CODE,
    S.LSOA_NAME,
    S.WARD_CODE,
    S.WARD_NAME,
    S.POPULATION,
    "deprivation_domain",
    "deprivation_rank",
    "deprivation_decile",
    "deprivation_score",
    "share_covered",
    "pop_covered",
    "pop_out_of_reach",
    "deprived_pop_out_of_reach",
    "mean_reachable",
    "orgs_located",
    "orgs_per_1000",
    "mean_walk_min",
    "deprivation_tercile",
    "provision_tercile",
    "bivariate_class",
    "thin",
    "share_covered_cluster",
    "reason",
)

#: Columns of the ranked ward table (:meth:`ThinResult.ranked`), when present.
WARD_COLUMNS: tuple[str, ...] = (
    "rank",
    S.WARD_CODE,
    S.WARD_NAME,
    S.POPULATION,
    "n_lsoas",
    "deprivation_domain",
    "deprivation_average_rank",
    "deprivation_rank_in_area",
    "deprivation_decile",
    "deprivation_extent",
    "deprivation_share_lsoas_most_deprived_10",
    "deprived_pop",
    "share_covered",
    "pop_covered",
    "pop_out_of_reach",
    "deprived_pop_out_of_reach",
    "mean_reachable",
    "orgs_located",
    "orgs_per_1000",
    "mean_walk_min",
    "provision_rank_in_area",
    "n_thin_lsoas",
    "deprivation_tercile",
    "provision_tercile",
    "bivariate_class",
    "thin_ward_figures",
    "thin",
    "left_behind",
    "share_covered_cluster",
    "reason",
)


# ---------------------------------------------------------------------------------------------
# result


@dataclass(frozen=True, eq=False)
class ThinResult:
    """Thin-infrastructure classification of LSOAs and wards (:func:`thin_areas`).

    Attributes
    ----------
    lsoas, wards
        GeoDataFrames (EPSG:27700): the coverage columns plus deprivation, provision, the gap,
        ``thin``, ``bivariate_class``, ``rank``, ``reason`` (and ``left_behind`` for wards).
        See ``docs/thin.md``.
    params
        Every parameter of the rule and of the coverage it was built on, as a dict
        (:attr:`parameters` is the typed view).
    notes
        Fallbacks and caveats met on the way (e.g. a domain score absent from the data).
    """

    lsoas: gpd.GeoDataFrame
    wards: gpd.GeoDataFrame
    params: dict[str, Any]
    notes: tuple[str, ...] = ()
    coverage: CoverageLike | None = field(default=None, repr=False)

    @property
    def parameters(self) -> ThinParams:
        """The parameters, typed (:class:`cnmap.params.ThinParams`)."""
        return ThinParams.from_mapping(self.params)

    def ranked(
        self, level: str = "lsoas", *, flagged_only: bool = True, geometry: bool = False
    ) -> pd.DataFrame:
        """The areas in rank order (1 = thinnest) with the main columns.

        Parameters
        ----------
        level
            ``"lsoas"`` or ``"wards"``.
        flagged_only
            Only the flagged areas (``thin``; for wards ``thin`` or ``left_behind``).
        geometry
            Keep the geometry (a GeoDataFrame) or not (a DataFrame).
        """
        if level not in ("lsoas", "wards"):
            raise ValidationError(f"level={level!r}: use 'lsoas' or 'wards'")
        frame = self.lsoas if level == "lsoas" else self.wards
        cols = [
            c for c in (LSOA_COLUMNS if level == "lsoas" else WARD_COLUMNS) if c in frame.columns
        ]
        cols += [
            c
            for c in frame.columns
            if c.startswith("share_covered_")
            and c.split("_")[-1] in ("z", "p", "q")
            and c not in cols
        ]
        if flagged_only:
            mask = frame["thin"].to_numpy(bool)
            if level == "wards":
                mask = mask | frame["left_behind"].to_numpy(bool)
            frame = frame.loc[mask]
        frame = frame.sort_values("rank")
        if geometry:
            return gpd.GeoDataFrame(
                frame[[*cols, S.GEOMETRY]], geometry=S.GEOMETRY, crs=self.lsoas.crs
            ).reset_index(drop=True)
        return pd.DataFrame(frame[cols]).reset_index(drop=True)

    def summary(self, n: int = 5) -> str:
        """A few lines: how many thin LSOAs and wards, and the first ``n`` with reasons."""
        p = self.parameters
        lt = self.lsoas
        thin = lt["thin"].to_numpy(bool)
        lines = [
            f"Thin infrastructure at {p.minutes:g} minutes ({p.domain_label} decile <= "
            f"{p.max_decile}, share covered < {p.min_share_covered:.0%}): "
            f"{int(thin.sum())} of {len(lt)} LSOAs, "
            f"{lt.loc[thin, 'deprived_pop_out_of_reach'].sum():,.0f} deprived residents out of "
            f"reach; {int(self.wards['thin'].sum())} of {len(self.wards)} wards thin, "
            f"{int(self.wards['left_behind'].sum())} left behind (worst "
            f"{p.left_behind_pct:g}% on both).",
        ]
        for _, r in self.ranked("lsoas").head(n).iterrows():
            lines.append(
                f"  {int(r['rank'])}. {r[S.LSOA_CODE]} ({r.get(S.WARD_NAME, '')}): {r['reason']}"
            )
        wr = self.ranked("wards").head(n)
        for _, r in wr.iterrows():
            lines.append(
                f"  ward {int(r['rank'])}. {r.get(S.WARD_NAME, r[S.WARD_CODE])}: {r['reason']}"
            )
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"ThinResult({int(self.lsoas['thin'].sum())} thin of {len(self.lsoas)} LSOAs, "
            f"{int(self.wards['thin'].sum())} thin and {int(self.wards['left_behind'].sum())} "
            f"left-behind of {len(self.wards)} wards; {self.parameters.domain} at "
            f"{self.parameters.minutes:g} min)"
        )


# ---------------------------------------------------------------------------------------------
# helpers


def _worst_first_rank(keys: list[np.ndarray], method: str = "average") -> np.ndarray:
    """1-based rank with 1 = worst, ordering by ``keys`` (each: smaller = worse) in turn.

    Rows whose first key is NaN get NaN; NaN in a later key counts as best. Rows equal on
    every key tie (``method``: "average" or "min" of their positions).
    """
    n = len(keys[0])
    out = np.full(n, np.nan)
    valid = np.isfinite(keys[0])
    idx = np.flatnonzero(valid)
    if idx.size == 0:
        return out
    ks = [np.where(np.isfinite(k), k, np.inf)[idx] for k in keys]
    order = np.lexsort(ks[::-1])
    sk = np.column_stack([k[order] for k in ks])
    new = np.r_[True, (sk[1:] != sk[:-1]).any(axis=1)]
    gid = np.cumsum(new) - 1
    pos = pd.Series(np.arange(1, idx.size + 1, dtype=float))
    agg = pos.groupby(gid).transform("mean" if method == "average" else "min").to_numpy()
    out[idx[order]] = agg
    return out


def _terciles(worst_rank: np.ndarray, worst_is: int) -> np.ndarray:
    """Equal-count terciles from a worst-first rank: the worst third gets ``worst_is`` (1 or 3)."""
    m = np.isfinite(worst_rank).sum()
    out = np.full(len(worst_rank), np.nan)
    if m == 0:
        return out
    pct = (worst_rank - 0.5) / m
    t: np.ndarray = np.clip(np.ceil(pct * 3), 1, 3)  # 1 = worst third
    return t if worst_is == 1 else 4 - t


def _bivariate(dep_t: np.ndarray, prov_t: np.ndarray) -> pd.Series:
    ok = np.isfinite(dep_t) & np.isfinite(prov_t)
    lab = [f"{int(d)}-{int(p)}" if o else None for d, p, o in zip(dep_t, prov_t, ok, strict=True)]
    return pd.Series(lab, dtype="str")


def _ordinal(k: float) -> str:
    k = int(k)
    suffix = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"{k}{suffix}"


def _minutes_words(t: float) -> str:
    return f"{t:g} minute's" if t == 1 else f"{t:g} minutes'"


def _people(x: float) -> str:
    v = round(float(x))
    return f"{v:,} resident" if v == 1 else f"{v:,} residents"


def _count_located(points: gpd.GeoSeries, polygons: gpd.GeoDataFrame) -> np.ndarray:
    """Number of points inside each polygon (a point on a shared border counts once)."""
    n = len(polygons)
    if len(points) == 0 or n == 0:
        return np.zeros(n, dtype="int64")
    inp, tree = polygons.sindex.query(points.reset_index(drop=True), predicate="intersects")
    first = pd.Series(tree).groupby(inp).min().to_numpy()
    return np.bincount(first, minlength=n).astype("int64")


def _resolve_domain(domain: str, lsoas: pd.DataFrame) -> tuple[str, str | None, list[str]]:
    """(index, service word or None, notes). Raises when the index has no rank column."""
    if not isinstance(domain, str) or not domain.strip():
        raise ValidationError(
            f"domain={domain!r} must be an IoD index name (e.g. 'imd', "
            f"'income') or a service word ({sorted(SERVICE_DOMAINS)})"
        )
    key = domain.strip().lower()
    service = None
    if key in SERVICE_DOMAINS:
        service, key = key, SERVICE_DOMAINS[key]
    if key not in _iod.INDICES:
        raise ValidationError(
            f"domain={domain!r} is neither an IoD index ({list(_iod.INDICES)}) "
            f"nor a service word ({sorted(SERVICE_DOMAINS)})"
        )
    available = [d for d in _iod.INDICES if f"{d}_rank" in lsoas.columns]
    rank_c, dec_c, score_c = f"{key}_rank", f"{key}_decile", f"{key}_score"
    have = [c for c in (score_c, rank_c, dec_c) if c in lsoas.columns]
    notes: list[str] = []
    if rank_c not in lsoas.columns:
        what = f"only {have}" if have else "no score, rank or decile column"
        raise MissingColumnError(
            f"thin_areas: domain {key!r}{f' (for {service!r})' if service else ''} needs the "
            f"national rank column {rank_c!r} in coverage.lsoas (for deciles, terciles and ward "
            f"average ranks), but the LSOAs have {what} for it. Indices with ranks here: "
            f"{available}; pass domain= one of them, or load an IoD table with {rank_c!r}."
        )
    if score_c not in lsoas.columns:
        notes.append(
            f"no {score_c!r} column in the data: the national ranks and deciles of "
            f"{key!r} are used, no score is reported"
        )
    if dec_c not in lsoas.columns:
        notes.append(
            f"no {dec_c!r} column: deciles derived from the national rank as ceil(10 x rank / N)"
        )
    return key, service, notes


# ---------------------------------------------------------------------------------------------
# the options: checked once, read by every step as a ThinRule

#: What :func:`thin_areas` reads from its coverage (the members of :class:`CoverageLike`).
_COVERAGE_ATTRIBUTES = (
    "lsoas",
    "wards",
    "thresholds",
    "residents",
    "organisations",
    "params",
    "parameters",
    "types",
    "speed_kmh",
    "area",
)


def _check_coverage(coverage: object) -> None:
    """A coverage result (:class:`~cnmap.coverage.CoverageLike`), or a ValidationError."""
    if isinstance(coverage, CoverageLike):
        return
    missing = next(a for a in _COVERAGE_ATTRIBUTES if not hasattr(coverage, a))
    raise ValidationError(
        f"thin_areas needs the result of cnmap.coverage(...), not "
        f"{type(coverage).__name__} (it has no {missing!r})"
    )


def _time_limit(coverage: CoverageLike, minutes: Any) -> int | float:
    """The coverage threshold asked for (``15.0`` gives the stored ``15``), or the default."""
    thresholds = tuple(coverage.thresholds)
    if minutes is None:
        return S.default_minutes(thresholds)
    if not _check.is_number(minutes) or minutes not in thresholds:
        raise ValidationError(
            f"minutes={minutes!r} is not among the coverage thresholds "
            f"{list(thresholds)}; run coverage(..., minutes=[..., "
            f"{minutes}]) or choose one of those"
        )
    return thresholds[thresholds.index(minutes)]


def _check_options(
    max_decile: Any, min_share_covered: Any, left_behind_pct: Any, ward_rule: Any, provision: Any
) -> None:
    if (
        isinstance(max_decile, bool)
        or not isinstance(max_decile, (int, np.integer))
        or not 1 <= max_decile <= 10
    ):
        raise ValidationError(f"max_decile={max_decile!r} must be a whole number from 1 to 10")
    if not (isinstance(min_share_covered, (int, float)) and 0 < min_share_covered <= 1):
        raise ValidationError(
            f"min_share_covered={min_share_covered!r} must be a share in (0, 1], e.g. 0.5 for 50%"
        )
    if not (isinstance(left_behind_pct, (int, float)) and 0 < left_behind_pct <= 100):
        raise ValidationError(
            f"left_behind_pct={left_behind_pct!r} must be a percentage in (0, 100], e.g. 10"
        )
    if ward_rule not in WARD_RULES:
        raise ValidationError(f"ward_rule={ward_rule!r} is not one of {WARD_RULES}")
    if provision not in PROVISION_MEASURES:
        raise ValidationError(f"provision={provision!r} is not one of {list(PROVISION_MEASURES)}")


def _edition(coverage: CoverageLike) -> int:
    """The IoD edition of the coverage's area (2019 or 2025)."""
    area_iod = coverage.area.iod if coverage.area is not None else None
    edition = coverage.parameters.iod or area_iod
    if edition not in _iod.N_LSOAS_ENGLAND:
        raise ValidationError(
            f"cannot tell the IoD edition of this coverage (params['iod'] = "
            f"{edition!r}); it must be one of {list(_iod.N_LSOAS_ENGLAND)}"
        )
    return int(edition)


def _organisations(
    coverage: CoverageLike, org_type: str | None, org_label: str | None, provision: str
) -> tuple[str | None, str]:
    """The organisation type analysed (None: all) and the words for it in reasons."""
    types = tuple(coverage.types or ())
    kind: str | None = None
    if org_type is not None:
        kind = S.type_slug(org_type)
        if kind not in types:
            raise ValidationError(
                f"org_type={org_type!r} is not a type of this coverage "
                f"(types: {list(types) or 'none: the organisations had no type'}"
                "); run coverage with type_col=... or pick one of those"
            )
    if kind is not None and provision == "mean_reachable":
        raise ValidationError(
            f"provision='mean_reachable' is not available with org_type={org_type!r}: the "
            "coverage counts organisations reachable for all types together only; use "
            "provision='share_covered', 'orgs_per_1000' or 'mean_walk_min'"
        )
    if org_label is not None:
        what = str(org_label).strip()
    elif kind is not None:
        what = kind.replace("_", " ")
    elif len(types) == 1:
        what = types[0].replace("_", " ")
    else:
        what = "organisation"
    if not what:
        raise ValidationError("org_label is empty; give words such as 'warm space'")
    return kind, what


# ---------------------------------------------------------------------------------------------
# step 1: figures (need and provision), one function for LSOAs and wards


@dataclass(frozen=True, eq=False)
class _Provision:
    """Provision figures of one level's areas at the rule's time limit."""

    frame: gpd.GeoDataFrame  # a copy of the coverage table (``mean_walk_min_all`` by type)
    share: np.ndarray
    pop_covered: np.ndarray
    mean_reachable: np.ndarray
    walk: np.ndarray
    located: np.ndarray

    @property
    def out_of_reach(self) -> np.ndarray:
        pop: np.ndarray = self.frame[S.POPULATION].to_numpy(float)
        out: np.ndarray = pop - self.pop_covered
        return out


def _provision(table: gpd.GeoDataFrame, orgs: gpd.GeoDataFrame, rule: ThinRule) -> _Provision:
    """Share covered, people covered, reach, walk and organisations located, by area."""
    frame = table.copy()
    pop = frame[S.POPULATION].to_numpy(float)
    t, kind = rule.minutes, rule.org_type
    if kind:
        share = frame[S.share_covered(t, kind)].to_numpy(float)
        pop_cov = share * pop
        reach = np.full(len(frame), np.nan)
        walk = frame[S.mean_walk_min(kind)].to_numpy(float)
        if S.MEAN_WALK_MIN in frame.columns:
            frame = frame.rename(columns={S.MEAN_WALK_MIN: "mean_walk_min_all"})
    else:
        pop_cov = frame[S.pop_covered(t)].to_numpy(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(pop > 0, pop_cov / np.where(pop > 0, pop, 1), np.nan)
        reach = frame[S.mean_reachable(t)].to_numpy(float)
        walk = frame[S.MEAN_WALK_MIN].to_numpy(float)
    located = _count_located(orgs.geometry, frame)
    return _Provision(
        frame=frame,
        share=share,
        pop_covered=pop_cov,
        mean_reachable=reach,
        walk=walk,
        located=located,
    )


def _figures(prov: _Provision, need: dict[str, Any], deprived_out: np.ndarray) -> gpd.GeoDataFrame:
    """The area table with its need columns, then the provision figures and the gap."""
    frame = prov.frame
    for col, value in need.items():
        frame[col] = value
    pop = frame[S.POPULATION].to_numpy(float)
    frame["share_covered"] = prov.share
    frame["pop_covered"] = prov.pop_covered
    frame["pop_out_of_reach"] = prov.out_of_reach
    frame["deprived_pop_out_of_reach"] = deprived_out
    frame["mean_reachable"] = prov.mean_reachable
    frame["orgs_located"] = prov.located
    with np.errstate(invalid="ignore", divide="ignore"):
        frame["orgs_per_1000"] = np.where(
            pop > 0, prov.located / np.where(pop > 0, pop, 1) * 1000.0, np.nan
        )
    frame["mean_walk_min"] = prov.walk
    return frame


def _lsoa_need(lsoas: pd.DataFrame, rule: ThinRule) -> tuple[dict[str, Any], list[np.ndarray]]:
    """Need columns of the LSOAs (national rank, decile, score, deprived) and the keys that
    order them worst first."""
    d, n = rule.domain, rule.n_lsoas_england
    rank = pd.to_numeric(lsoas[f"{d}_rank"], errors="coerce").to_numpy(float)
    if np.nanmax(rank, initial=0) > n or np.nanmin(rank, initial=1) < 1:
        raise ValidationError(
            f"column {d}_rank has values outside 1..{n} (IoD{rule.iod} ranks "
            "LSOAs in England from 1 = most deprived)"
        )
    if f"{d}_decile" in lsoas.columns:
        decile = pd.to_numeric(lsoas[f"{d}_decile"], errors="coerce").to_numpy(float)
    else:
        decile = np.where(np.isfinite(rank), np.ceil(10 * rank / n), np.nan)
    need: dict[str, Any] = {
        "deprivation_domain": d,
        "deprivation_rank": pd.array(rank, dtype="Int64"),
        "deprivation_decile": pd.array(decile, dtype="Int64"),
    }
    keys = [rank]
    if f"{d}_score" in lsoas.columns:
        score = pd.to_numeric(lsoas[f"{d}_score"], errors="coerce").to_numpy(float)
        need["deprivation_score"] = score
        keys.append(-score)
    need["deprived"] = np.isfinite(decile) & (decile <= rule.max_decile)
    return need, keys


def _ward_need(
    coverage: CoverageLike,
    need_lsoas: pd.DataFrame,
    lsoas: pd.DataFrame,
    rule: ThinRule,
    notes: list[str],
) -> tuple[dict[str, Any], np.ndarray]:
    """Need columns of the wards (average rank and friends, deprived residents) and the
    deprived residents out of reach, by the ward each resident lives in."""
    ward_dep, wnotes = _ward_deprivation(need_lsoas, rule.domain, rule.iod, rule.n_lsoas_england)
    notes += wnotes
    wcode = coverage.wards[S.WARD_CODE].astype(str)
    counts = lsoas[S.WARD_CODE].astype(str).value_counts()
    need: dict[str, Any] = {
        "n_lsoas": wcode.map(counts).fillna(0).astype("int64").to_numpy(),
        "deprivation_domain": rule.domain,
    }
    for c in ward_dep.columns:
        need[c] = ward_dep[c].reindex(wcode).to_numpy()
    need["deprivation_decile"] = pd.array(need["deprivation_decile"], dtype="Int64")
    dep_pop, dep_out = _deprived_residents(coverage.residents, lsoas, rule, notes)
    need["deprived_pop"] = dep_pop.reindex(wcode).fillna(0.0).to_numpy()
    return need, dep_out.reindex(wcode).fillna(0.0).to_numpy()


def _deprived_residents(
    residents: pd.DataFrame, lsoas: pd.DataFrame, rule: ThinRule, notes: list[str]
) -> tuple[pd.Series, pd.Series]:
    """Residents of deprived LSOAs, and those of them out of reach, by the ward they live in
    (as the coverage ward tables)."""
    deprived_codes = set(lsoas.loc[lsoas["deprived"].to_numpy(bool), S.LSOA_CODE])
    in_dep = residents[S.LSOA_CODE].isin(deprived_codes).to_numpy()
    wgt = residents[S.WEIGHT].to_numpy(float)
    covered = residents[S.covered(rule.minutes, rule.org_type)].to_numpy(bool)
    rw = residents[S.WARD_CODE].astype(str).to_numpy()
    rl = residents[S.LSOA_CODE].astype(str).to_numpy()
    best_fit = pd.Series(
        lsoas[S.WARD_CODE].astype(str).to_numpy(), index=lsoas[S.LSOA_CODE].astype(str)
    )
    same = pd.Series(rl).map(best_fit).to_numpy() == rw
    own = group_sums(rl, wgt, people={"own ward": same})
    n_mostly_elsewhere = int((own.share("own ward") < 0.5).sum())
    if n_mostly_elsewhere:
        notes.append(
            f"{n_mostly_elsewhere} LSOA(s) have most of their residents (by residential "
            "point location) in another ward than their LSOA-to-ward best fit: ward "
            "figures count residents in the ward they live in (as the coverage ward "
            "tables), while LSOA ward names, thin-LSOA counts and ward average ranks "
            "follow the best fit"
        )
    by_ward = group_sums(rw, wgt, people={"deprived": in_dep, "out": in_dep & ~covered})
    return (
        pd.Series(by_ward.people("deprived"), index=by_ward.index),
        pd.Series(by_ward.people("out"), index=by_ward.index),
    )


# ---------------------------------------------------------------------------------------------
# step 2: ranks and classes within the area


def _provision_keys(frame: pd.DataFrame, provision: str) -> list[np.ndarray]:
    """Provision measures, chosen one first, each oriented so that smaller = less provision."""
    order = [provision] + [m for m in PROVISION_MEASURES if m != provision]
    ks = []
    for m in order:
        v = frame[m].to_numpy(float)
        ks.append(v if PROVISION_MEASURES[m] else -v)
    share_ok = np.isfinite(frame["share_covered"].to_numpy(float))
    ks[0] = np.where(share_ok, ks[0], np.nan)
    return ks


def _add_classes(frame: gpd.GeoDataFrame, dep_keys: list[np.ndarray], provision: str) -> None:
    """Ranks in the area (1 = worst), terciles and the 3x3 bivariate class."""
    prov_keys = _provision_keys(frame, provision)
    frame["deprivation_rank_in_area"] = pd.array(_worst_first_rank(dep_keys, "min"), dtype="Int64")
    frame["provision_rank_in_area"] = pd.array(_worst_first_rank(prov_keys, "min"), dtype="Int64")
    dep_t = _terciles(_worst_first_rank(dep_keys), worst_is=3)
    prov_t = _terciles(_worst_first_rank(prov_keys), worst_is=1)
    frame["deprivation_tercile"] = pd.array(dep_t, dtype="Int64")
    frame["provision_tercile"] = pd.array(prov_t, dtype="Int64")
    frame["bivariate_class"] = _bivariate(dep_t, prov_t).to_numpy()


def _float(frame: pd.DataFrame, col: str) -> np.ndarray:
    """A column as floats, missing values (``<NA>`` in Int64 columns) as NaN."""
    values: np.ndarray = frame[col].to_numpy(dtype=float, na_value=np.nan)
    return values


# ---------------------------------------------------------------------------------------------
# step 3: the rule


def _lsoa_thin(lsoas: pd.DataFrame, rule: ThinRule) -> np.ndarray:
    """Thin: deprived and share covered below the threshold (LSOAs with residents only)."""
    pop = lsoas[S.POPULATION].to_numpy(float)
    share = lsoas["share_covered"].to_numpy(float)
    deprived: np.ndarray = lsoas["deprived"].to_numpy(bool)
    thin: np.ndarray = deprived & (share < rule.min_share_covered) & (pop > 0)
    return thin


def _add_ward_flags(wards: gpd.GeoDataFrame, rule: ThinRule) -> int:
    """``thin_ward_figures``, ``thin`` (by ``ward_rule``) and ``left_behind``; returns the
    number of wards in the worst ``left_behind_pct`` %."""
    wdec = _float(wards, "deprivation_decile")
    wpop = wards[S.POPULATION].to_numpy(float)
    share = wards["share_covered"].to_numpy(float)
    own = (
        np.isfinite(wdec)
        & (wdec <= rule.max_decile)
        & (share < rule.min_share_covered)
        & (wpop > 0)
    )
    has_thin = wards["n_thin_lsoas"].to_numpy() > 0
    wards["thin_ward_figures"] = own
    wards["thin"] = {"ward": own, "any_lsoa": has_thin, "either": own | has_thin}[rule.ward_rule]
    n_valid = int(wards["provision_rank_in_area"].notna().sum())
    k_worst = max(1, math.ceil(n_valid * rule.left_behind_pct / 100.0)) if n_valid else 0
    worst_dep = np.nan_to_num(_float(wards, "deprivation_rank_in_area"), nan=np.inf) <= k_worst
    worst_prov = np.nan_to_num(_float(wards, "provision_rank_in_area"), nan=np.inf) <= k_worst
    wards["left_behind"] = worst_dep & worst_prov
    return k_worst


# ---------------------------------------------------------------------------------------------
# the two levels: figures -> classes -> rule


def _lsoa_table(
    coverage: CoverageLike,
    need_lsoas: pd.DataFrame,
    orgs: gpd.GeoDataFrame,
    rule: ThinRule,
    notes: list[str],
) -> gpd.GeoDataFrame:
    """The LSOAs with need (ranks of ``need_lsoas``), provision, classes and ``thin``."""
    need, dep_keys = _lsoa_need(need_lsoas, rule)
    prov = _provision(coverage.lsoas, orgs, rule)
    if rule.org_type:
        notes.append(
            f"organisations reachable per resident is not available by type: "
            f"mean_reachable is left empty for {rule.org_type!r}"
        )
    pop = prov.frame[S.POPULATION].to_numpy(float)
    no_pop = ~(pop > 0)
    if no_pop.any():
        notes.append(
            f"{int(no_pop.sum())} LSOA(s) have no residents "
            f"({list(prov.frame.loc[no_pop, S.LSOA_CODE][:5])}): no share covered, not "
            "classed, never thin"
        )
    L = _figures(prov, need, np.where(need["deprived"], prov.out_of_reach, 0.0))
    _add_classes(L, dep_keys, rule.provision)
    L["thin"] = _lsoa_thin(L, rule)
    return L


def _ward_table(  # noqa: PLR0913 (private: the two tables, the rule and the notes)
    coverage: CoverageLike,
    need_lsoas: pd.DataFrame,
    L: gpd.GeoDataFrame,
    orgs: gpd.GeoDataFrame,
    rule: ThinRule,
    notes: list[str],
) -> tuple[gpd.GeoDataFrame, int]:
    """The wards with need, provision, classes, ``thin`` and ``left_behind``."""
    need, deprived_out = _ward_need(coverage, need_lsoas, L, rule, notes)
    W = _figures(_provision(coverage.wards, orgs, rule), need, deprived_out)
    thin = L["thin"].to_numpy(bool)
    thin_by_ward = L.loc[thin].groupby(L.loc[thin, S.WARD_CODE].astype(str)).size()
    wcode = W[S.WARD_CODE].astype(str)
    W["n_thin_lsoas"] = thin_by_ward.reindex(wcode).fillna(0).astype("int64").to_numpy()
    _add_classes(W, [-W["deprivation_average_rank"].to_numpy(float)], rule.provision)
    k_worst = _add_ward_flags(W, rule)
    return W, k_worst


# ---------------------------------------------------------------------------------------------
# cold spots (optional)


def _cold_spots_step(
    L: gpd.GeoDataFrame,
    W: gpd.GeoDataFrame,
    cold_spots: bool,
    options: dict[str, Any] | None,
    notes: list[str],
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, dict[str, Any] | None, dict[str, Any]]:
    """Gi* (or local Moran) cold spots of ``share_covered`` on both levels, when asked."""
    if not cold_spots:
        if options:
            raise ValidationError(
                "cold_spot_options were given but cold_spots=False; pass "
                "cold_spots=True to compute them"
            )
        return L, W, None, {}
    from cnmap.hotspots import cold_spots as _cold_spots

    opts = dict(options or {})
    if "prefix" in opts:
        raise ValidationError(
            "cold_spot_options cannot set 'prefix': thin_areas names the columns share_covered_*"
        )
    opts.setdefault("method", "gi_star")
    # FDR over hundreds of areas needs p-values below 1/1000: 9,999 permutations
    opts.setdefault("permutations", 9999)
    L, cs_l = _add_cold_spots(L, _cold_spots, opts, notes, "LSOA")
    W, cs_w = _add_cold_spots(W, _cold_spots, opts, notes, "ward")
    return L, W, {"lsoas": cs_l, "wards": cs_w}, opts


# ---------------------------------------------------------------------------------------------
# step 4: ranking and reasons


def _lsoa_ranks(L: pd.DataFrame) -> np.ndarray:
    """Rank 1..n: thin first, then deprived residents out of reach (more first), national
    deprivation rank (more deprived first), all residents out of reach, LSOA code."""
    order = np.lexsort(
        (
            L[S.LSOA_CODE].astype(str).to_numpy(),
            -np.nan_to_num(L["pop_out_of_reach"].to_numpy(float)),
            np.nan_to_num(_float(L, "deprivation_rank"), nan=np.inf),
            -np.nan_to_num(L["deprived_pop_out_of_reach"].to_numpy(float)),
            ~L["thin"].to_numpy(bool),
        )
    )
    out = np.empty(len(L), dtype="int64")
    out[order] = np.arange(1, len(L) + 1)
    return out


def _ward_ranks(W: pd.DataFrame) -> np.ndarray:
    """Rank 1..n: flagged first, then deprived residents out of reach, deprivation (average
    rank), all residents out of reach, ward code."""
    flagged = W["thin"].to_numpy(bool) | W["left_behind"].to_numpy(bool)
    order = np.lexsort(
        (
            W[S.WARD_CODE].astype(str).to_numpy(),
            -np.nan_to_num(W["pop_out_of_reach"].to_numpy(float)),
            -np.nan_to_num(W["deprivation_average_rank"].to_numpy(float), nan=-np.inf),
            -W["deprived_pop_out_of_reach"].to_numpy(float),
            ~flagged,
        )
    )
    out = np.empty(len(W), dtype="int64")
    out[order] = np.arange(1, len(W) + 1)
    return out


@dataclass(frozen=True)
class _Words:
    """The fixed parts of the reasons."""

    index: str  # "IMD", "Income deprivation", ...
    what: str  # "organisation", "warm space", ...
    minutes: str  # "15 minutes'"
    deciles: str  # "decile 1-2"
    left_behind_pct: float
    cold_label: str  # the cluster label of a cold spot
    cold: str  # the words added to the reason of an area in a cold spot
    within: str = ""  # after "decile N": "" (national) or " within Birmingham" (area deciles)

    @classmethod
    def of(
        cls, rule: ThinRule, cs_params: dict[str, Any] | None, opts: dict[str, Any], within: str
    ) -> _Words:
        local_moran = bool(cs_params) and opts.get("method") == "local_moran"
        a = opts.get("alpha", 0.05)
        test = f"FDR {a:.0%}" if opts.get("fdr", True) else f"p <= {a:g}"
        return cls(
            index=rule.domain_label,
            what=rule.org_label,
            minutes=_minutes_words(rule.minutes),
            deciles=f"decile 1-{rule.max_decile}" if rule.max_decile > 1 else "decile 1",
            left_behind_pct=rule.left_behind_pct,
            cold_label="LL" if local_moran else "cold spot",
            cold=f"; part of a cold spot of walking coverage "
            f"({'local Moran LL' if local_moran else 'Gi*'}, {test})",
            within=within,
        )

    def in_cold_spot(self, frame: pd.DataFrame) -> np.ndarray:
        if "share_covered_cluster" not in frame.columns:
            return np.zeros(len(frame), dtype=bool)
        cold: np.ndarray = (frame["share_covered_cluster"] == self.cold_label).to_numpy(
            dtype=bool, na_value=False
        )
        return cold


def _within(ranks: NeedRanks | None, coverage: CoverageLike) -> str:
    """Words after "decile N" in reasons: none for national deciles."""
    return "" if ranks is None or ranks.national else f" within {_area_name(coverage)}"


def _lsoa_reasons(L: pd.DataFrame, words: _Words) -> list[str]:
    """A plain-English reason for every thin LSOA ("" for the others)."""
    thin = L["thin"].to_numpy(bool)
    decile = _float(L, "deprivation_decile")
    out = L["pop_out_of_reach"].to_numpy(float)
    share = L["share_covered"].to_numpy(float)
    walk = L["mean_walk_min"].to_numpy(float)
    cold = words.in_cold_spot(L)
    return [
        (
            f"{words.index} decile {int(decile[i])}{words.within}; {_people(out[i])} more than "
            f"{words.minutes} walk from any {words.what} (share covered {share[i]:.0%}); "
            f"nearest on average {walk[i]:.0f} minutes away" + (words.cold if cold[i] else "")
        )
        if thin[i]
        else ""
        for i in range(len(L))
    ]


def _thin_lsoa_words(L: pd.DataFrame, lsoa_rank: np.ndarray, words: _Words) -> dict[str, str]:
    """For each ward, its thin LSOAs in rank order: "2 thin LSOAs: E01... (IMD decile 1, ...)"."""
    thin = L["thin"].to_numpy(bool)
    tl = pd.DataFrame(
        {
            "w": L[S.WARD_CODE].astype(str).to_numpy(),
            "code": L[S.LSOA_CODE].astype(str).to_numpy(),
            "dec": _float(L, "deprivation_decile"),
            "share": L["share_covered"].to_numpy(float),
            "r": lsoa_rank,
        }
    )[thin].sort_values("r")
    out: dict[str, str] = {}
    for w, g in tl.groupby("w", sort=False):
        items = [
            f"{c} ({words.index} decile {int(dd)}{words.within}, {sh:.0%} covered)"
            for c, dd, sh in zip(g["code"][:3], g["dec"][:3], g["share"][:3], strict=True)
        ]
        more = f" and {len(g) - 3} more" if len(g) > 3 else ""
        out[str(w)] = f"{len(g)} thin LSOA{'s' if len(g) > 1 else ''}: {', '.join(items)}{more}"
    return out


def _ward_reasons(W: pd.DataFrame, thin_lsoas: dict[str, str], words: _Words) -> list[str]:
    """A plain-English reason for every thin or left-behind ward ("" for the others)."""
    wcode = W[S.WARD_CODE].astype(str).to_numpy()
    left_behind = W["left_behind"].to_numpy(bool)
    flagged = W["thin"].to_numpy(bool) | left_behind
    dep_out = W["deprived_pop_out_of_reach"].to_numpy(float)
    out = W["pop_out_of_reach"].to_numpy(float)
    share = W["share_covered"].to_numpy(float)
    wdec = _float(W, "deprivation_decile")
    dep_r, prov_r = _float(W, "deprivation_rank_in_area"), _float(W, "provision_rank_in_area")
    n_valid = int(W["provision_rank_in_area"].notna().sum())
    cold = words.in_cold_spot(W)
    reasons = []
    for i in range(len(W)):
        if not flagged[i]:
            reasons.append("")
            continue
        parts = [thin_lsoas[wcode[i]]] if wcode[i] in thin_lsoas else []
        if dep_out[i] > 0.5:
            parts.append(
                f"{_people(dep_out[i])} of {words.index} {words.deciles}{words.within} LSOAs living "
                f"in the ward more than {words.minutes} walk from any {words.what}"
            )
        dep_part = (
            f"{words.index} decile {int(wdec[i])}{words.within} by average rank"
            if np.isfinite(wdec[i])
            else f"no {words.index} average rank"
        )
        parts.append(
            f"ward: {dep_part}, {_people(out[i])} more than {words.minutes} walk from "
            f"any {words.what} (share covered {share[i]:.0%})"
        )
        if left_behind[i]:
            parts.append(
                f"among the worst {words.left_behind_pct:g}% of {n_valid} wards on "
                f"both deprivation ({_ordinal(dep_r[i])} most deprived by average "
                f"rank) and provision ({_ordinal(prov_r[i])} least provided)"
            )
        reasons.append("; ".join(parts) + (words.cold if cold[i] else ""))
    return reasons


# ---------------------------------------------------------------------------------------------
# the record


def _record(
    rule: ThinRule,
    coverage: CoverageLike,
    wards: pd.DataFrame,
    k_worst: int,
    cold_spots: dict[str, Any] | None,
    ranks: NeedRanks | None = None,
) -> dict[str, Any]:
    """The parameters recorded with the result (:class:`ThinParams` as a dict; for a need
    layer's column, ``need_domain``: its provenance and how its deciles are made)."""
    d, t = rule.domain, rule.minutes
    n_valid = int(wards["provision_rank_in_area"].notna().sum())
    cov = coverage.parameters.as_dict()
    decile = f"{d}_decile" if ranks is None else f"{d}_decile ({ranks.scope})"
    ward_dep = "MHCLG average rank (cnmap.deprivation.summarise)"
    if ranks is not None:
        ward_dep += (
            f" of the LSOAs' {'national' if ranks.national else 'area'} ranks of "
            f"{ranks.domain.column}, weighted by the LSOAs' population"
        )
    params = ThinParams(
        minutes=t,
        metres=float(t) * float(coverage.speed_kmh) * 1000.0 / 60.0,
        domain=d,
        domain_requested=rule.domain_requested,
        service=rule.service,
        domain_label=rule.domain_label,
        iod=rule.iod,
        n_lsoas_england=rule.n_lsoas_england,
        max_decile=rule.max_decile,
        min_share_covered=rule.min_share_covered,
        left_behind_pct=rule.left_behind_pct,
        left_behind_n_wards=k_worst,
        org_type=rule.org_type,
        org_label=rule.org_label,
        provision=rule.provision,
        provision_order=rule.provision_order,
        rule=(
            f"thin = {decile} <= {rule.max_decile} and share covered within {t:g} min < "
            f"{rule.min_share_covered:g}"
        ),
        ward_rule=rule.ward_rule,
        ward_rule_text=(
            f"ward figures: decile of the ward's population-weighted average {d} "
            f"rank <= {rule.max_decile} and ward share covered < "
            f"{rule.min_share_covered:g}; any_lsoa: the ward holds a thin LSOA; "
            f"thin = {rule.ward_rule}; left_behind = among the worst "
            f"{rule.left_behind_pct:g}% of wards ({k_worst} of {n_valid}) on both "
            "average rank and provision"
        ),
        ward_deprivation=ward_dep,
        cold_spots=cold_spots,
        coverage={k: cov[k] for k in _COVERAGE_RECORD},
    ).as_dict()
    if ranks is not None:
        params["need_domain"] = ranks.provenance()
    return params


#: The coverage parameters recorded with a thin-areas result.
_COVERAGE_RECORD = (
    "mode",
    "minutes",
    "speed_kmh",
    "persona",
    "residents",
    "lad_code",
    "lsoa_vintage",
    "iod",
    "n_organisations",
    "n_organisations_placed",
    "population",
)


# ---------------------------------------------------------------------------------------------
# the public function


def _rule(  # noqa: PLR0913 (private: thin_areas' options checked into one ThinRule)
    coverage: CoverageLike,
    minutes: Any,
    domain: DomainLike,
    max_decile: int,
    min_share_covered: float,
    left_behind_pct: float,
    ward_rule: str,
    org_type: str | None,
    org_label: str | None,
    provision: str,
) -> tuple[ThinRule, list[str], NeedRanks | None]:
    """Every option checked, as one :class:`~cnmap.params.ThinRule`, notes on the way and,
    for a need layer's column, its ranks over the LSOAs."""
    _check_coverage(coverage)
    t = _time_limit(coverage, minutes)
    _check_options(max_decile, min_share_covered, left_behind_pct, ward_rule, provision)
    for col in (S.LSOA_CODE, S.WARD_CODE, S.POPULATION):
        if col not in coverage.lsoas.columns:
            raise MissingColumnError(
                f"coverage.lsoas has no {col!r} column; build the coverage "
                "with cnmap.coverage on an area from cnmap.load_area"
            )
    edition = _edition(coverage)
    ranks = None
    if is_need_domain(domain):
        ranks = _need_ranks(coverage, domain)
        d, service, notes = ranks.domain.key, None, _need_notes(ranks)
        label, n_ranked = str(ranks.domain.label), ranks.n
    else:
        d, service, notes = _resolve_domain(str(domain), coverage.lsoas)
        label, n_ranked = _WORDS.get(d, _iod.DOMAIN_LABELS.get(d, d)), _iod.N_LSOAS_ENGLAND[edition]
    kind, what = _organisations(coverage, org_type, org_label, provision)
    rule = ThinRule(
        minutes=t,
        domain=d,
        domain_requested=_requested(domain),
        service=service,
        domain_label=label,
        iod=edition,
        n_lsoas_england=n_ranked,
        max_decile=int(max_decile),
        min_share_covered=float(min_share_covered),
        left_behind_pct=float(left_behind_pct),
        ward_rule=ward_rule,
        org_type=kind,
        org_label=what,
        provision=provision,
        provision_order=(provision, *[m for m in PROVISION_MEASURES if m != provision]),
    )
    return rule, notes, ranks


#: What ``thin_areas(domain=...)`` takes: an IoD index name or service word, a need column
#: name, a :class:`~cnmap.layers.NeedDomain` or a ``(NeedLayer, column)`` pair.
DomainLike = str | NeedDomain | tuple[NeedLayer, str]


def _requested(domain: DomainLike) -> str:
    if isinstance(domain, NeedDomain):
        return f"{domain.layer.name}:{domain.column}"
    if isinstance(domain, tuple):
        return f"{domain[0].name}:{domain[1]}"
    return domain


def _area_name(coverage: CoverageLike) -> str:
    area = coverage.area
    return str(area.lad_name) if area is not None else "the area"


def _need_ranks(coverage: CoverageLike, domain: DomainLike) -> NeedRanks:
    """A need layer's column on the coverage's LSOAs, ranked (national or within the area)."""
    from cnmap.layers.domain import need_ranks

    spec = need_domain(domain, coverage.area)
    lsoas = coverage.lsoas
    codes = [str(c) for c in lsoas[S.LSOA_CODE]]
    vintage = coverage.parameters.lsoa_vintage or spec.layer.lsoa_vintage
    weights = pd.Series(
        pd.to_numeric(lsoas[S.POPULATION], errors="coerce").to_numpy(float), index=codes
    )
    layer = layer_on_lsoas(spec.layer, codes, int(vintage), weights=weights)
    on_area = NeedDomain(layer, spec.column, spec.higher_is_need, spec.label)
    return need_ranks(on_area, codes, area_name=_area_name(coverage))


def _need_notes(ranks: NeedRanks) -> list[str]:
    """Where the need measure comes from and how its deciles are made, and the layer's notes."""
    p = ranks.domain.provenance()
    way = "higher" if p["higher_is_need"] else "lower"
    return [
        f"need measure: {p['label']} ({p['column']}; {way} = more need) from the need layer "
        f"{p['layer']!r} ({p['layer_title']}): {p['source']}; {p['vintage']}; {p['licence']}. "
        f"{p['attribution']}",
        f"deciles: {ranks.scope}",
        *ranks.notes,
        *ranks.domain.layer.notes,
    ]


def _need_frame(lsoas: pd.DataFrame, ranks: NeedRanks | None) -> pd.DataFrame:
    """The LSOAs' need columns read by the rule: the coverage's own IoD columns, or the need
    column's ranks, deciles and values as ``<key>_rank``, ``<key>_decile``, ``<key>_score``."""
    if ranks is None:
        return lsoas
    d = ranks.domain.key
    frame = pd.DataFrame(lsoas[[S.LSOA_CODE, S.WARD_CODE, S.POPULATION]]).copy()
    frame[f"{d}_rank"] = ranks.rank
    frame[f"{d}_decile"] = ranks.decile
    frame[f"{d}_score"] = ranks.values
    return frame


def thin_areas(  # noqa: PLR0913 - the public signature: every option is a keyword
    coverage: CoverageLike,
    *,
    minutes: float | None = None,
    domain: DomainLike = "imd",
    max_decile: int = 2,
    min_share_covered: float = 0.5,
    left_behind_pct: float = 10.0,
    ward_rule: str = "either",
    org_type: str | None = None,
    org_label: str | None = None,
    provision: str = "share_covered",
    cold_spots: bool = False,
    cold_spot_options: dict[str, Any] | None = None,
) -> ThinResult:
    """Where need is high and provision is thin: LSOAs and wards, flagged, classed and ranked.

    Parameters
    ----------
    coverage
        A :class:`~cnmap.coverage.CoverageResult` (from :func:`cnmap.coverage`). Not modified.
    minutes
        The time limit (one of ``coverage.thresholds``); default the headline (15 if computed,
        else the largest).
    domain
        The deprivation index: ``"imd"`` (default) or any IoD index short name
        (:data:`cnmap.iod.INDICES`: ``"income"``, ``"health"``, ``"barriers"``...), or a service
        word mapped by :data:`SERVICE_DOMAINS` (``"food"`` and ``"advice"`` -> income,
        ``"health"`` -> health, ``"access"`` -> barriers). ``coverage.lsoas`` must hold the
        index's national rank (``<domain>_rank``); its decile is derived from the rank when
        absent and its score is optional.

        Or a need layer's column (``docs/need_layers.md``): a name from
        :data:`cnmap.layers.NEED_COLUMNS` (``"disabled_share"``, ``"deri_score"``,
        ``"iod2025_barriers_geographical"``...; its layer is read for ``coverage.area``), a
        ``(NeedLayer, column)`` pair or a :class:`cnmap.layers.NeedDomain` (column and
        direction, ``higher_is_need``). Deciles are national when the layer carries national
        ranks (IoD2025), otherwise within the area's LSOAs by LSOA count (1 = the tenth with the
        most need); ``params["need_domain"]`` records the column, direction, the layer's
        source, vintage and licence, and the deciles' scope.
    max_decile
        LSOAs in national deciles ``1..max_decile`` of the index count as deprived (default 2:
        the most deprived 20% in England); for a need layer ranked within the area, the
        deciles are the area's.
    min_share_covered
        An area is thin when it is deprived and fewer than this share of its residents are
        within ``minutes`` of an organisation (default 0.5).
    left_behind_pct
        Wards in the worst ``left_behind_pct`` % of the area's wards on deprivation (average
        rank) and on provision are ``left_behind`` (default 10: with 69 wards, the worst 7 on
        each).
    ward_rule
        When a ward is ``thin``: ``"ward"`` (the rule on the ward's own figures: the decile of
        its average rank and its share covered), ``"any_lsoa"`` (it holds at least one thin
        LSOA: pockets that ward averages hide) or ``"either"`` (default).
    org_type
        Analyse one organisation type of the coverage (``coverage.types``, e.g. ``"food_bank"``)
        instead of all organisations.
    org_label
        Words for the organisations in reasons (default: the type, e.g. "food bank", when the
        coverage is of one type, else "organisation"); e.g. ``"warm space"``.
    provision
        The provision measure that orders areas for terciles, the left-behind flag and ties:
        one of :data:`PROVISION_MEASURES` (default ``"share_covered"``); the others break ties
        in the order share covered, organisations reachable, organisations per 1,000,
        walking time. ``"mean_reachable"`` is not available with ``org_type`` (the coverage
        counts reachable organisations of all types together only).
    cold_spots
        Add Getis-Ord Gi* cold spots of ``share_covered`` (:func:`cnmap.hotspots.cold_spots`;
        needs ``cnmap[spatialstats]``): columns ``share_covered_gi_z``, ``share_covered_p``,
        ``share_covered_q`` and ``share_covered_cluster`` on LSOAs and wards.
    cold_spot_options
        Keyword arguments for :func:`cnmap.hotspots.cold_spots` (``alpha``, ``fdr``,
        ``weights``, ``permutations``, ``seed``, ``method``). Here ``permutations`` defaults
        to 9,999: with false-discovery-rate control over hundreds of areas, the 1/1,000 floor
        of 999 permutations rarely lets any area be significant.

    Returns
    -------
    ThinResult

    Raises
    ------
    ValidationError
        ``minutes`` not computed, unknown domain, type or provision measure, a parameter out of
        range, or ``coverage`` is not a coverage result.
    MissingColumnError
        The index's rank column is absent (the message lists the indices available), or a need
        layer has no such column (the message lists its columns).
    MissingLSOAError
        A need layer has no row for some LSOAs of the coverage (the message names them).
    """
    rule, notes, ranks = _rule(
        coverage,
        minutes,
        domain,
        max_decile,
        min_share_covered,
        left_behind_pct,
        ward_rule,
        org_type,
        org_label,
        provision,
    )
    result = _classify(coverage, rule, notes, ranks, cold_spots, cold_spot_options)
    for note in notes:
        log.info("thin_areas: %s", note)
    log.info("%s", repr(result))
    return result


def _classify(  # noqa: PLR0913 (private: the resolved rule and thin_areas' cold-spot options)
    coverage: CoverageLike,
    rule: ThinRule,
    notes: list[str],
    ranks: NeedRanks | None,
    cold_spots: bool,
    cold_spot_options: dict[str, Any] | None,
) -> ThinResult:
    """The LSOA and ward tables of :func:`thin_areas` under a resolved rule: figures, flags,
    optional cold spots, reasons and ranks."""
    orgs = coverage.organisations
    if rule.org_type and S.TYPE_SLUG in orgs.columns:
        orgs = orgs.loc[orgs[S.TYPE_SLUG] == rule.org_type]
    need_lsoas = _need_frame(coverage.lsoas, ranks)
    L = _lsoa_table(coverage, need_lsoas, orgs, rule, notes)
    W, k_worst = _ward_table(coverage, need_lsoas, L, orgs, rule, notes)
    L, W, cs_params, cs_options = _cold_spots_step(L, W, cold_spots, cold_spot_options, notes)
    words = _Words.of(rule, cs_params, cs_options, _within(ranks, coverage))
    lsoa_rank = _lsoa_ranks(L)
    L["reason"] = pd.array(_lsoa_reasons(L, words), dtype="str")
    W["reason"] = pd.array(
        _ward_reasons(W, _thin_lsoa_words(L, lsoa_rank, words), words), dtype="str"
    )
    L["rank"] = lsoa_rank
    W["rank"] = _ward_ranks(W)
    params = _record(rule, coverage, W, k_worst, cs_params, ranks)
    return ThinResult(
        lsoas=gpd.GeoDataFrame(L, geometry=S.GEOMETRY, crs=coverage.lsoas.crs),
        wards=gpd.GeoDataFrame(W, geometry=S.GEOMETRY, crs=coverage.wards.crs),
        params=params,
        notes=tuple(notes),
        coverage=coverage,
    )


def _ward_deprivation(
    lsoas: pd.DataFrame, d: str, edition: int, N: int
) -> tuple[pd.DataFrame, list[str]]:
    """Ward deprivation from :func:`cnmap.deprivation.summarise`: average rank and friends."""
    from cnmap.deprivation import summarise

    notes: list[str] = []
    if d not in _iod.INDICES:  # a need layer's column: its ranks, weighted by the population
        tab = pd.DataFrame(
            {
                S.LSOA_CODE: lsoas[S.LSOA_CODE].to_numpy(),
                S.WARD_CODE: lsoas[S.WARD_CODE].astype(str).to_numpy(),
                "imd_rank": lsoas[f"{d}_rank"].to_numpy(float),
                "pop_total": lsoas[S.POPULATION].to_numpy(float),
            }
        ).dropna(subset=["imd_rank"])
        prof = summarise(
            tab,
            S.WARD_CODE,
            edition=edition,
            n_lsoas=N,
            domains=["imd"],
            population_weights="total",
        )
        prof = prof.rename(columns=lambda c: c.replace("imd_", f"{d}_", 1))
    else:
        prof = _iod_ward_profile(lsoas, d, edition, notes)
    avg = prof[f"{d}_average_rank"].astype(float)
    eq_rank = N + 1 - avg
    out = pd.DataFrame(index=prof.index.astype(str))
    out["deprivation_average_rank"] = avg.to_numpy()
    out["deprivation_decile"] = np.clip(np.ceil(10 * eq_rank.to_numpy() / N), 1, 10)
    out["deprivation_extent"] = prof[f"{d}_extent"].to_numpy(float)
    out["deprivation_share_lsoas_most_deprived_10"] = prof[
        f"{d}_proportion_most_deprived_10"
    ].to_numpy(float)
    return out, notes


def _iod_ward_profile(lsoas: pd.DataFrame, d: str, edition: int, notes: list[str]) -> pd.DataFrame:
    """:func:`cnmap.deprivation.summarise` of the IoD index ``d`` by ward (MHCLG weights)."""
    from cnmap.deprivation import summarise

    keep = [S.LSOA_CODE, S.WARD_CODE, f"{d}_rank"]
    keep += [c for c in _iod.POPULATION_COLUMNS if c in lsoas.columns]
    if "pop_total" not in lsoas.columns:
        keep.append(S.POPULATION)
    tab = pd.DataFrame(lsoas[keep]).copy()
    tab[S.WARD_CODE] = tab[S.WARD_CODE].astype(str)
    pop_col = _iod.DOMAIN_POPULATION.get(d, "pop_total")
    weights: Literal["domain", "total"] = "domain"
    if pop_col not in tab.columns and not (pop_col == "pop_total" and S.POPULATION in tab.columns):
        weights = "total"
        notes.append(
            f"no {pop_col!r} column for weighting {d!r} ward average ranks: total "
            "population used instead"
        )
    return summarise(tab, S.WARD_CODE, edition=edition, domains=[d], population_weights=weights)


def _add_cold_spots(
    frame: gpd.GeoDataFrame, fn: Any, opts: dict[str, Any], notes: list[str], what: str
) -> tuple[gpd.GeoDataFrame, dict[str, Any] | None]:
    ok = np.isfinite(frame["share_covered"].to_numpy(float))
    if ok.sum() < 5:
        notes.append(f"cold spots not computed for {what}s: fewer than 5 with residents")
        return frame, None
    if np.ptp(frame["share_covered"].to_numpy(float)[ok]) == 0:
        notes.append(
            f"cold spots not computed for {what}s: every {what} has the same share covered"
        )
        frame = frame.copy()
        frame["share_covered_cluster"] = pd.array(
            ["not significant" if o else None for o in ok], dtype="str"
        )
        return frame, None
    sub = frame.loc[ok, ["share_covered", "geometry"]]
    res = fn(sub, "share_covered", prefix="share_covered", **opts)
    if (~ok).any():
        notes.append(
            f"cold spots of {what}s computed without the {int((~ok).sum())} "
            f"{what}(s) that have no residents"
        )
    frame = frame.copy()
    for c in res.columns:
        if c.startswith("share_covered_"):
            col = pd.Series(res[c].to_numpy(), index=sub.index).reindex(frame.index)
            frame[c] = (
                col.to_numpy()
                if c != "share_covered_cluster"
                else pd.array(col.to_numpy(dtype=object), dtype="str")
            )
    return frame, res.attrs.get("cold_spots")
