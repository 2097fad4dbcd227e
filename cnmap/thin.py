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

from cnmap import columns as C
from cnmap import iod as _iod
from cnmap.errors import MissingColumnError, ValidationError

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
    "rank", C.LSOA_CODE, C.LSOA_NAME, C.WARD_CODE, C.WARD_NAME, C.POPULATION,
    "deprivation_domain", "deprivation_rank", "deprivation_decile", "deprivation_score",
    "share_covered", "pop_covered", "pop_out_of_reach", "deprived_pop_out_of_reach",
    "mean_reachable", "orgs_located", "orgs_per_1000", "mean_walk_min",
    "deprivation_tercile", "provision_tercile", "bivariate_class", "thin",
    "share_covered_cluster", "reason",
)

#: Columns of the ranked ward table (:meth:`ThinResult.ranked`), when present.
WARD_COLUMNS: tuple[str, ...] = (
    "rank", C.WARD_CODE, C.WARD_NAME, C.POPULATION, "n_lsoas",
    "deprivation_domain", "deprivation_average_rank", "deprivation_rank_in_area",
    "deprivation_decile", "deprivation_extent", "deprivation_share_lsoas_most_deprived_10",
    "deprived_pop",
    "share_covered", "pop_covered", "pop_out_of_reach", "deprived_pop_out_of_reach",
    "mean_reachable", "orgs_located", "orgs_per_1000", "mean_walk_min",
    "provision_rank_in_area", "n_thin_lsoas", "deprivation_tercile", "provision_tercile",
    "bivariate_class", "thin_ward_figures", "thin", "left_behind", "share_covered_cluster",
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
        Every parameter of the rule and of the coverage it was built on.
    notes
        Fallbacks and caveats met on the way (e.g. a domain score absent from the data).
    """

    lsoas: gpd.GeoDataFrame
    wards: gpd.GeoDataFrame
    params: dict[str, Any]
    notes: tuple[str, ...] = ()
    coverage: Any = field(default=None, repr=False)

    def ranked(self, level: str = "lsoas", *, flagged_only: bool = True,
               geometry: bool = False) -> pd.DataFrame:
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
        cols = [c for c in (LSOA_COLUMNS if level == "lsoas" else WARD_COLUMNS)
                if c in frame.columns]
        cols += [c for c in frame.columns if c.startswith("share_covered_")
                 and c.split("_")[-1] in ("z", "p", "q") and c not in cols]
        if flagged_only:
            mask = frame["thin"].to_numpy(bool)
            if level == "wards":
                mask = mask | frame["left_behind"].to_numpy(bool)
            frame = frame.loc[mask]
        frame = frame.sort_values("rank")
        if geometry:
            return gpd.GeoDataFrame(frame[[*cols, "geometry"]], geometry="geometry",
                                    crs=self.lsoas.crs).reset_index(drop=True)
        return pd.DataFrame(frame[cols]).reset_index(drop=True)

    def summary(self, n: int = 5) -> str:
        """A few lines: how many thin LSOAs and wards, and the first ``n`` with reasons."""
        p = self.params
        lt = self.lsoas
        thin = lt["thin"].to_numpy(bool)
        lines = [
            f"Thin infrastructure at {p['minutes']:g} minutes ({p['domain_label']} decile <= "
            f"{p['max_decile']}, share covered < {p['min_share_covered']:.0%}): "
            f"{int(thin.sum())} of {len(lt)} LSOAs, "
            f"{lt.loc[thin, 'deprived_pop_out_of_reach'].sum():,.0f} deprived residents out of "
            f"reach; {int(self.wards['thin'].sum())} of {len(self.wards)} wards thin, "
            f"{int(self.wards['left_behind'].sum())} left behind (worst "
            f"{p['left_behind_pct']:g}% on both).",
        ]
        for _, r in self.ranked("lsoas").head(n).iterrows():
            lines.append(f"  {int(r['rank'])}. {r[C.LSOA_CODE]} ({r.get(C.WARD_NAME, '')}): "
                         f"{r['reason']}")
        wr = self.ranked("wards").head(n)
        for _, r in wr.iterrows():
            lines.append(f"  ward {int(r['rank'])}. {r.get(C.WARD_NAME, r[C.WARD_CODE])}: "
                         f"{r['reason']}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"ThinResult({int(self.lsoas['thin'].sum())} thin of {len(self.lsoas)} LSOAs, "
                f"{int(self.wards['thin'].sum())} thin and {int(self.wards['left_behind'].sum())} "
                f"left-behind of {len(self.wards)} wards; {self.params['domain']} at "
                f"{self.params['minutes']:g} min)")


# ---------------------------------------------------------------------------------------------
# helpers


def _slug(value: object) -> str:
    from cnmap.coverage import _slug as slug

    return slug(value)


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
    t = np.clip(np.ceil(pct * 3), 1, 3)  # 1 = worst third
    out = t if worst_is == 1 else 4 - t
    return out


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
        raise ValidationError(f"domain={domain!r} must be an IoD index name (e.g. 'imd', "
                              f"'income') or a service word ({sorted(SERVICE_DOMAINS)})")
    key = domain.strip().lower()
    service = None
    if key in SERVICE_DOMAINS:
        service, key = key, SERVICE_DOMAINS[key]
    if key not in _iod.INDICES:
        raise ValidationError(f"domain={domain!r} is neither an IoD index ({list(_iod.INDICES)}) "
                              f"nor a service word ({sorted(SERVICE_DOMAINS)})")
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
            f"{available}; pass domain= one of them, or load an IoD table with {rank_c!r}.")
    if score_c not in lsoas.columns:
        notes.append(f"no {score_c!r} column in the data: the national ranks and deciles of "
                     f"{key!r} are used, no score is reported")
    if dec_c not in lsoas.columns:
        notes.append(f"no {dec_c!r} column: deciles derived from the national rank as "
                     "ceil(10 x rank / N)")
    return key, service, notes


# ---------------------------------------------------------------------------------------------
# the public function


def thin_areas(
    coverage: Any,
    *,
    minutes: float | None = None,
    domain: str = "imd",
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
    max_decile
        LSOAs in national deciles ``1..max_decile`` of the index count as deprived (default 2:
        the most deprived 20% in England).
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
        The index's rank column is absent (the message lists the indices available).
    """
    for attr in ("lsoas", "wards", "thresholds", "residents", "organisations", "params"):
        if not hasattr(coverage, attr):
            raise ValidationError(f"thin_areas needs the result of cnmap.coverage(...), not "
                                  f"{type(coverage).__name__} (it has no {attr!r})")
    thresholds = tuple(coverage.thresholds)
    if minutes is None:
        T: int | float = 15 if 15 in thresholds else thresholds[-1]
    else:
        T = minutes
        if T not in thresholds:
            raise ValidationError(f"minutes={minutes!r} is not among the coverage thresholds "
                                  f"{list(thresholds)}; run coverage(..., minutes=[..., "
                                  f"{minutes}]) or choose one of those")
    if isinstance(max_decile, bool) or not isinstance(max_decile, (int, np.integer)) \
            or not 1 <= max_decile <= 10:
        raise ValidationError(f"max_decile={max_decile!r} must be a whole number from 1 to 10")
    if not (isinstance(min_share_covered, (int, float)) and 0 < min_share_covered <= 1):
        raise ValidationError(f"min_share_covered={min_share_covered!r} must be a share in "
                              "(0, 1], e.g. 0.5 for 50%")
    if not (isinstance(left_behind_pct, (int, float)) and 0 < left_behind_pct <= 100):
        raise ValidationError(f"left_behind_pct={left_behind_pct!r} must be a percentage in "
                              "(0, 100], e.g. 10")
    if ward_rule not in WARD_RULES:
        raise ValidationError(f"ward_rule={ward_rule!r} is not one of {WARD_RULES}")
    if provision not in PROVISION_MEASURES:
        raise ValidationError(f"provision={provision!r} is not one of {list(PROVISION_MEASURES)}")

    L0 = coverage.lsoas
    W0 = coverage.wards
    for col in (C.LSOA_CODE, C.WARD_CODE, C.POPULATION):
        if col not in L0.columns:
            raise MissingColumnError(f"coverage.lsoas has no {col!r} column; build the coverage "
                                     "with cnmap.coverage on an area from cnmap.load_area")
    d, service, notes = _resolve_domain(domain, L0)
    edition = coverage.params.get("iod") or getattr(getattr(coverage, "area", None), "iod", None)
    if edition not in _iod.N_LSOAS_ENGLAND:
        raise ValidationError(f"cannot tell the IoD edition of this coverage (params['iod'] = "
                              f"{edition!r}); it must be one of {list(_iod.N_LSOAS_ENGLAND)}")
    N = _iod.N_LSOAS_ENGLAND[int(edition)]

    # which organisations: all, or one type
    types = tuple(getattr(coverage, "types", ()) or ())
    K: str | None = None
    if org_type is not None:
        K = _slug(org_type)
        if K not in types:
            raise ValidationError(f"org_type={org_type!r} is not a type of this coverage "
                                  f"(types: {list(types) or 'none: the organisations had no type'}"
                                  "); run coverage with type_col=... or pick one of those")
    if K is not None and provision == "mean_reachable":
        raise ValidationError(
            f"provision='mean_reachable' is not available with org_type={org_type!r}: the "
            "coverage counts organisations reachable for all types together only; use "
            "provision='share_covered', 'orgs_per_1000' or 'mean_walk_min'")
    if org_label is not None:
        what = str(org_label).strip()
    elif K is not None:
        what = K.replace("_", " ")
    elif len(types) == 1:
        what = types[0].replace("_", " ")
    else:
        what = "organisation"
    if not what:
        raise ValidationError("org_label is empty; give words such as 'warm space'")
    sfx = f"_{K}" if K else ""

    # ---------------- LSOAs
    L = L0.copy()
    pop = L[C.POPULATION].to_numpy(float)
    rank = pd.to_numeric(L[f"{d}_rank"], errors="coerce").to_numpy(float)
    if np.nanmax(rank, initial=0) > N or np.nanmin(rank, initial=1) < 1:
        raise ValidationError(f"column {d}_rank has values outside 1..{N} (IoD{edition} ranks "
                              "LSOAs in England from 1 = most deprived)")
    if f"{d}_decile" in L.columns:
        decile = pd.to_numeric(L[f"{d}_decile"], errors="coerce").to_numpy(float)
    else:
        decile = np.where(np.isfinite(rank), np.ceil(10 * rank / N), np.nan)
    score = (pd.to_numeric(L[f"{d}_score"], errors="coerce").to_numpy(float)
             if f"{d}_score" in L.columns else None)
    if K:
        share = L[f"share_covered_{T}min{sfx}"].to_numpy(float)
        pop_cov = share * pop
        mean_reach = np.full(len(L), np.nan)
        walk = L[f"mean_walk_min{sfx}"].to_numpy(float)
        notes.append(f"organisations reachable per resident is not available by type: "
                     f"mean_reachable is left empty for {K!r}")
        if "mean_walk_min" in L.columns:
            L = L.rename(columns={"mean_walk_min": "mean_walk_min_all"})
    else:
        pop_cov = L[f"pop_covered_{T}min"].to_numpy(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(pop > 0, pop_cov / np.where(pop > 0, pop, 1), np.nan)
        mean_reach = L[f"mean_reachable_{T}min"].to_numpy(float)
        walk = L["mean_walk_min"].to_numpy(float)
    orgs = coverage.organisations
    if K and "type_slug" in orgs.columns:
        orgs = orgs.loc[orgs["type_slug"] == K]
    located = _count_located(orgs.geometry, L)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_1000 = np.where(pop > 0, located / np.where(pop > 0, pop, 1) * 1000.0, np.nan)
    deprived = np.isfinite(decile) & (decile <= max_decile)
    out_of_reach = pop - pop_cov
    dep_out = np.where(deprived, out_of_reach, 0.0)
    no_pop = ~(pop > 0)
    if no_pop.any():
        notes.append(f"{int(no_pop.sum())} LSOA(s) have no residents "
                     f"({list(L.loc[no_pop, C.LSOA_CODE][:5])}): no share covered, not "
                     "classed, never thin")

    L["deprivation_domain"] = d
    L["deprivation_rank"] = pd.array(rank, dtype="Int64")
    L["deprivation_decile"] = pd.array(decile, dtype="Int64")
    if score is not None:
        L["deprivation_score"] = score
    L["deprived"] = deprived
    L["share_covered"] = share
    L["pop_covered"] = pop_cov
    L["pop_out_of_reach"] = out_of_reach
    L["deprived_pop_out_of_reach"] = dep_out
    L["mean_reachable"] = mean_reach
    L["orgs_located"] = located
    L["orgs_per_1000"] = per_1000
    L["mean_walk_min"] = walk

    def provision_keys(fr: pd.DataFrame) -> list[np.ndarray]:
        order = [provision] + [m for m in PROVISION_MEASURES if m != provision]
        ks = []
        for m in order:
            v = fr[m].to_numpy(float)
            ks.append(v if PROVISION_MEASURES[m] else -v)
        share_ok = np.isfinite(fr["share_covered"].to_numpy(float))
        ks[0] = np.where(share_ok, ks[0], np.nan)
        return ks

    dep_keys = [rank] + ([-score] if score is not None else [])
    L["deprivation_rank_in_area"] = pd.array(_worst_first_rank(dep_keys, "min"), dtype="Int64")
    L["provision_rank_in_area"] = pd.array(_worst_first_rank(provision_keys(L), "min"),
                                           dtype="Int64")
    dep_t = _terciles(_worst_first_rank(dep_keys), worst_is=3)
    prov_t = _terciles(_worst_first_rank(provision_keys(L)), worst_is=1)
    L["deprivation_tercile"] = pd.array(dep_t, dtype="Int64")
    L["provision_tercile"] = pd.array(prov_t, dtype="Int64")
    L["bivariate_class"] = _bivariate(dep_t, prov_t).to_numpy()
    thin = deprived & (share < min_share_covered) & (pop > 0)
    L["thin"] = thin

    # ---------------- wards
    ward_dep, wnotes = _ward_deprivation(L0, d, int(edition), N)
    notes += wnotes
    Wd = W0.copy()
    wcode = Wd[C.WARD_CODE].astype(str)
    wpop = Wd[C.POPULATION].to_numpy(float)
    if K:
        wshare = Wd[f"share_covered_{T}min{sfx}"].to_numpy(float)
        wpop_cov = wshare * wpop
        wreach = np.full(len(Wd), np.nan)
        wwalk = Wd[f"mean_walk_min{sfx}"].to_numpy(float)
        if "mean_walk_min" in Wd.columns:
            Wd = Wd.rename(columns={"mean_walk_min": "mean_walk_min_all"})
    else:
        wpop_cov = Wd[f"pop_covered_{T}min"].to_numpy(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            wshare = np.where(wpop > 0, wpop_cov / np.where(wpop > 0, wpop, 1), np.nan)
        wreach = Wd[f"mean_reachable_{T}min"].to_numpy(float)
        wwalk = Wd["mean_walk_min"].to_numpy(float)
    wlocated = _count_located(orgs.geometry, Wd)
    # deprived residents out of reach, by the ward each resident lives in (as the coverage
    # ward tables): residents of deprived LSOAs not within T minutes
    R = coverage.residents
    cov_col = f"covered_{T}min{sfx}"
    deprived_codes = set(L.loc[deprived, C.LSOA_CODE])
    in_dep = R[C.LSOA_CODE].isin(deprived_codes).to_numpy()
    wgt = R["weight"].to_numpy(float)
    covered = R[cov_col].to_numpy(bool)
    rw = R[C.WARD_CODE].astype(str).to_numpy()
    rl = R[C.LSOA_CODE].astype(str).to_numpy()
    lk = pd.Series(L[C.WARD_CODE].astype(str).to_numpy(), index=L[C.LSOA_CODE].astype(str))
    same = pd.Series(rl).map(lk).to_numpy() == rw
    in_own = pd.Series(np.where(same, wgt, 0.0)).groupby(rl).sum()
    tot = pd.Series(wgt).groupby(rl).sum()
    n_mostly_elsewhere = int(((in_own / tot.where(tot > 0)) < 0.5).sum())
    if n_mostly_elsewhere:
        notes.append(f"{n_mostly_elsewhere} LSOA(s) have most of their residents (by residential "
                     "point location) in another ward than their LSOA-to-ward best fit: ward "
                     "figures count residents in the ward they live in (as the coverage ward "
                     "tables), while LSOA ward names, thin-LSOA counts and ward average ranks "
                     "follow the best fit")
    dep_pop_w = pd.Series(np.where(in_dep, wgt, 0.0)).groupby(rw).sum()
    dep_out_w = pd.Series(np.where(in_dep & ~covered, wgt, 0.0)).groupby(rw).sum()

    Wd["n_lsoas"] = wcode.map(L[C.WARD_CODE].astype(str).value_counts()).fillna(0).astype("int64").to_numpy()
    Wd["deprivation_domain"] = d
    for c in ward_dep.columns:
        Wd[c] = ward_dep[c].reindex(wcode).to_numpy()
    Wd["deprived_pop"] = dep_pop_w.reindex(wcode).fillna(0.0).to_numpy()
    Wd["share_covered"] = wshare
    Wd["pop_covered"] = wpop_cov
    Wd["pop_out_of_reach"] = wpop - wpop_cov
    Wd["deprived_pop_out_of_reach"] = dep_out_w.reindex(wcode).fillna(0.0).to_numpy()
    Wd["mean_reachable"] = wreach
    Wd["orgs_located"] = wlocated
    with np.errstate(invalid="ignore", divide="ignore"):
        Wd["orgs_per_1000"] = np.where(wpop > 0, wlocated / np.where(wpop > 0, wpop, 1) * 1000, np.nan)
    Wd["mean_walk_min"] = wwalk
    thin_by_ward = L.loc[thin].groupby(L.loc[thin, C.WARD_CODE].astype(str)).size()
    Wd["n_thin_lsoas"] = thin_by_ward.reindex(wcode).fillna(0).astype("int64").to_numpy()
    avg = Wd["deprivation_average_rank"].to_numpy(float)
    wdep_keys = [-avg]
    Wd["deprivation_rank_in_area"] = pd.array(_worst_first_rank(wdep_keys, "min"), dtype="Int64")
    Wd["provision_rank_in_area"] = pd.array(_worst_first_rank(provision_keys(Wd), "min"),
                                            dtype="Int64")
    wdep_t = _terciles(_worst_first_rank(wdep_keys), worst_is=3)
    wprov_t = _terciles(_worst_first_rank(provision_keys(Wd)), worst_is=1)
    Wd["deprivation_tercile"] = pd.array(wdep_t, dtype="Int64")
    Wd["provision_tercile"] = pd.array(wprov_t, dtype="Int64")
    Wd["bivariate_class"] = _bivariate(wdep_t, wprov_t).to_numpy()
    wdec = Wd["deprivation_decile"].to_numpy(float)
    Wd["deprivation_decile"] = pd.array(wdec, dtype="Int64")
    ward_own = np.isfinite(wdec) & (wdec <= max_decile) & (wshare < min_share_covered) & (wpop > 0)
    has_thin = Wd["n_thin_lsoas"].to_numpy() > 0
    Wd["thin_ward_figures"] = ward_own
    Wd["thin"] = {"ward": ward_own, "any_lsoa": has_thin, "either": ward_own | has_thin}[ward_rule]
    n_valid = int(Wd["provision_rank_in_area"].notna().sum())
    k_worst = max(1, math.ceil(n_valid * left_behind_pct / 100.0)) if n_valid else 0
    wd_r = Wd["deprivation_rank_in_area"].to_numpy(dtype=float, na_value=np.nan)
    wp_r = Wd["provision_rank_in_area"].to_numpy(dtype=float, na_value=np.nan)
    Wd["left_behind"] = (np.nan_to_num(wd_r, nan=np.inf) <= k_worst) & \
        (np.nan_to_num(wp_r, nan=np.inf) <= k_worst)

    # ---------------- cold spots (optional)
    cs_params = None
    if cold_spots:
        from cnmap.hotspots import cold_spots as _cold_spots

        opts = dict(cold_spot_options or {})
        if "prefix" in opts:
            raise ValidationError("cold_spot_options cannot set 'prefix': thin_areas names the "
                                  "columns share_covered_*")
        opts.setdefault("method", "gi_star")
        # FDR over hundreds of areas needs p-values below 1/1000: 9,999 permutations
        opts.setdefault("permutations", 9999)
        L, cs_l = _add_cold_spots(L, _cold_spots, opts, notes, "LSOA")
        Wd, cs_w = _add_cold_spots(Wd, _cold_spots, opts, notes, "ward")
        cs_params = {"lsoas": cs_l, "wards": cs_w}
    elif cold_spot_options:
        raise ValidationError("cold_spot_options were given but cold_spots=False; pass "
                              "cold_spots=True to compute them")

    # ---------------- reasons and ranks
    word = _WORDS.get(d, _iod.DOMAIN_LABELS.get(d, d))
    dec_words = f"decile 1-{max_decile}" if max_decile > 1 else "decile 1"
    mins = _minutes_words(T)
    cold_label = "LL" if cs_params and opts.get("method") == "local_moran" else "cold spot"

    def cold_words(fr: pd.DataFrame, i: int) -> str:
        if "share_covered_cluster" in fr.columns and fr["share_covered_cluster"].iat[i] == cold_label:
            a = opts.get("alpha", 0.05)
            return (f"; part of a cold spot of walking coverage "
                    f"({'Gi*' if cold_label == 'cold spot' else 'local Moran LL'}, "
                    f"{f'FDR {a:.0%}' if opts.get('fdr', True) else f'p <= {a:g}'})")
        return ""

    reasons = []
    for i in range(len(L)):
        if not thin[i]:
            reasons.append("")
            continue
        reasons.append(
            f"{word} decile {int(decile[i])}; {_people(out_of_reach[i])} more than {mins} walk "
            f"from any {what} (share covered {share[i]:.0%}); nearest on average "
            f"{walk[i]:.0f} minutes away" + cold_words(L, i))
    L["reason"] = pd.array(reasons, dtype="str")

    wlb = Wd["left_behind"].to_numpy(bool)
    wdep_out = Wd["deprived_pop_out_of_reach"].to_numpy(float)
    wout = Wd["pop_out_of_reach"].to_numpy(float)
    # thin LSOAs of each ward, in rank order, for the ward reasons
    lrank_tmp = _lsoa_order(L, thin, dep_out, rank, out_of_reach)
    tl = pd.DataFrame({"w": L[C.WARD_CODE].astype(str).to_numpy(), "code": L[C.LSOA_CODE].astype(str).to_numpy(),
                       "dec": decile, "share": share, "r": lrank_tmp})[thin].sort_values("r")
    thin_list = {w: g for w, g in tl.groupby("w", sort=False)}
    wreasons = []
    for i in range(len(Wd)):
        if not (Wd["thin"].iat[i] or wlb[i]):
            wreasons.append("")
            continue
        parts = []
        g = thin_list.get(wcode.iat[i])
        if g is not None and len(g):
            items = [f"{c} ({word} decile {int(dd)}, {sh:.0%} covered)"
                     for c, dd, sh in zip(g["code"][:3], g["dec"][:3], g["share"][:3], strict=True)]
            more = f" and {len(g) - 3} more" if len(g) > 3 else ""
            parts.append(f"{len(g)} thin LSOA{'s' if len(g) > 1 else ''}: "
                         f"{', '.join(items)}{more}")
        if wdep_out[i] > 0.5:
            parts.append(f"{_people(wdep_out[i])} of {word} {dec_words} LSOAs living in the ward "
                         f"more than {mins} walk from any {what}")
        dep_part = (f"{word} decile {int(wdec[i])} by average rank"
                    if np.isfinite(wdec[i]) else f"no {word} average rank")
        parts.append(f"ward: {dep_part}, {_people(wout[i])} more than {mins} walk from any "
                     f"{what} (share covered {wshare[i]:.0%})")
        if wlb[i]:
            parts.append(f"among the worst {left_behind_pct:g}% of {n_valid} wards on both "
                         f"deprivation ({_ordinal(wd_r[i])} most deprived by average rank) and "
                         f"provision ({_ordinal(wp_r[i])} least provided)")
        wreasons.append("; ".join(parts) + cold_words(Wd, i))
    Wd["reason"] = pd.array(wreasons, dtype="str")

    # rank: flagged first, then deprived residents out of reach, then deprivation
    L["rank"] = lrank_tmp
    wflag = Wd["thin"].to_numpy(bool) | wlb
    worder = np.lexsort((wcode.to_numpy(), -np.nan_to_num(wout), -np.nan_to_num(avg, nan=-np.inf),
                         -wdep_out, ~wflag))
    wrank = np.empty(len(Wd), dtype="int64")
    wrank[worder] = np.arange(1, len(Wd) + 1)
    Wd["rank"] = wrank

    params: dict[str, Any] = {
        "minutes": T,
        "metres": float(T) * float(coverage.speed_kmh) * 1000.0 / 60.0
        if hasattr(coverage, "speed_kmh") else None,
        "domain": d, "domain_requested": domain, "service": service,
        "domain_label": word, "iod": int(edition), "n_lsoas_england": N,
        "max_decile": int(max_decile), "min_share_covered": float(min_share_covered),
        "left_behind_pct": float(left_behind_pct), "left_behind_n_wards": k_worst,
        "org_type": K, "org_label": what, "provision": provision,
        "provision_order": [provision] + [m for m in PROVISION_MEASURES if m != provision],
        "rule": (f"thin = {d}_decile <= {max_decile} and share covered within {T:g} min < "
                 f"{min_share_covered:g}"),
        "ward_rule": ward_rule,
        "ward_rule_text": (f"ward figures: decile of the ward's population-weighted average {d} "
                      f"rank <= {max_decile} and ward share covered < {min_share_covered:g}; "
                      f"any_lsoa: the ward holds a thin LSOA; thin = {ward_rule}; "
                      f"left_behind = among the worst {left_behind_pct:g}% of wards "
                      f"({k_worst} of {n_valid}) on both average rank and provision"),
        "ward_deprivation": "MHCLG average rank (cnmap.deprivation.summarise)",
        "cold_spots": cs_params,
        "coverage": {k: coverage.params.get(k) for k in (
            "mode", "minutes", "speed_kmh", "persona", "residents", "lad_code", "lsoa_vintage",
            "iod", "n_organisations", "n_organisations_placed", "population")},
    }
    result = ThinResult(
        lsoas=gpd.GeoDataFrame(L, geometry="geometry", crs=L0.crs),
        wards=gpd.GeoDataFrame(Wd, geometry="geometry", crs=W0.crs),
        params=params, notes=tuple(notes), coverage=coverage)
    for n_ in notes:
        log.info("thin_areas: %s", n_)
    log.info("%s", repr(result))
    return result


def _lsoa_order(L: pd.DataFrame, thin: np.ndarray, dep_out: np.ndarray, rank: np.ndarray,
                out_of_reach: np.ndarray) -> np.ndarray:
    """Rank 1..n: thin first, then deprived residents out of reach (more first), national
    deprivation rank (more deprived first), all residents out of reach, LSOA code."""
    order = np.lexsort((L[C.LSOA_CODE].astype(str).to_numpy(), -np.nan_to_num(out_of_reach),
                        np.nan_to_num(rank, nan=np.inf), -np.nan_to_num(dep_out), ~thin))
    out = np.empty(len(L), dtype="int64")
    out[order] = np.arange(1, len(L) + 1)
    return out


def _ward_deprivation(lsoas: pd.DataFrame, d: str, edition: int, N: int
                      ) -> tuple[pd.DataFrame, list[str]]:
    """Ward deprivation from :func:`cnmap.deprivation.summarise`: average rank and friends."""
    from cnmap.deprivation import summarise

    notes: list[str] = []
    keep = [C.LSOA_CODE, C.WARD_CODE, f"{d}_rank"]
    keep += [c for c in _iod.POPULATION_COLUMNS if c in lsoas.columns]
    if "pop_total" not in lsoas.columns:
        keep.append(C.POPULATION)
    tab = pd.DataFrame(lsoas[keep]).copy()
    tab[C.WARD_CODE] = tab[C.WARD_CODE].astype(str)
    pop_col = _iod.DOMAIN_POPULATION.get(d, "pop_total")
    weights: Literal["domain", "total"] = "domain"
    if pop_col not in tab.columns and not (pop_col == "pop_total" and C.POPULATION in tab.columns):
        weights = "total"
        notes.append(f"no {pop_col!r} column for weighting {d!r} ward average ranks: total "
                     "population used instead")
    prof = summarise(tab, C.WARD_CODE, edition=edition, domains=[d], population_weights=weights)
    avg = prof[f"{d}_average_rank"].astype(float)
    eq_rank = N + 1 - avg
    out = pd.DataFrame(index=prof.index.astype(str))
    out["deprivation_average_rank"] = avg.to_numpy()
    out["deprivation_decile"] = np.clip(np.ceil(10 * eq_rank.to_numpy() / N), 1, 10)
    out["deprivation_extent"] = prof[f"{d}_extent"].to_numpy(float)
    out["deprivation_share_lsoas_most_deprived_10"] = \
        prof[f"{d}_proportion_most_deprived_10"].to_numpy(float)
    return out, notes


def _add_cold_spots(frame: gpd.GeoDataFrame, fn: Any, opts: dict[str, Any], notes: list[str],
                    what: str) -> tuple[gpd.GeoDataFrame, dict[str, Any] | None]:
    ok = np.isfinite(frame["share_covered"].to_numpy(float))
    if ok.sum() < 5:
        notes.append(f"cold spots not computed for {what}s: fewer than 5 with residents")
        return frame, None
    if np.ptp(frame["share_covered"].to_numpy(float)[ok]) == 0:
        notes.append(f"cold spots not computed for {what}s: every {what} has the same share "
                     "covered")
        frame = frame.copy()
        frame["share_covered_cluster"] = pd.array(
            ["not significant" if o else None for o in ok], dtype="str")
        return frame, None
    sub = frame.loc[ok, ["share_covered", "geometry"]]
    res = fn(sub, "share_covered", prefix="share_covered", **opts)
    if (~ok).any():
        notes.append(f"cold spots of {what}s computed without the {int((~ok).sum())} "
                     f"{what}(s) that have no residents")
    frame = frame.copy()
    for c in res.columns:
        if c.startswith("share_covered_"):
            col = pd.Series(res[c].to_numpy(), index=sub.index).reindex(frame.index)
            frame[c] = col.to_numpy() if c != "share_covered_cluster" else \
                pd.array(col.to_numpy(dtype=object), dtype="str")
    return frame, res.attrs.get("cold_spots")
