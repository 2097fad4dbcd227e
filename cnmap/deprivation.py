"""MHCLG summary measures of deprivation for groups of LSOAs (wards, districts, any area).

:func:`summarise` implements the summary measures that MHCLG publishes for local authority
districts and other higher-level geographies in the English Indices of Deprivation (IoD2019
Research Report, Appendix A "Summary measures"; Technical Report, chapter on summary measures
for higher-level geographies; File 10 for lower-tier local authority districts). For a group
:math:`G` of LSOAs, an index ``d`` with LSOA scores :math:`s_i`, national ranks
:math:`r_i` (1 = most deprived), relevant population :math:`w_i` and :math:`N` LSOAs in
England (32,844 for IoD2019, 33,755 for IoD2025):

``average_score``
    :math:`\\sum_G w_i s_i / \\sum_G w_i`.
``average_rank``
    :math:`\\sum_G w_i (N + 1 - r_i) / \\sum_G w_i`: ranks are reversed so that the most
    deprived LSOA in England counts :math:`N`; a higher value is more deprived.
``proportion_most_deprived_10``
    share of the group's LSOAs (unweighted) in the most deprived 10% nationally,
    :math:`r_i \\le N/10` (decile 1 when only deciles are given).
``extent``
    :math:`\\sum_G w_i e(p_i) / \\sum_G w_i` with national percentile
    :math:`p_i = \\lceil 100 r_i / N \\rceil` and weight :math:`e(p) = 1` for
    :math:`p \\le 10`, :math:`e(p) = 0.95 - 0.9 (p - 11)/19` for :math:`11 \\le p \\le 30`
    (0.95 at the 11th percentile, down in 19 equal steps to 0.05 at the 30th) and 0 beyond.
``local_concentration``
    population-weighted average reversed rank :math:`N + 1 - r_i` of the group's most
    deprived LSOAs that together hold exactly 10% of the group's population: LSOAs are
    taken in order of national rank, and the last one counts only with the part of its
    population needed to reach 10%.
``income_scale``, ``employment_scale``
    numbers of people income / employment deprived:
    :math:`\\sum_G s_i w_i` with the Income domain rate over total population and the
    Employment domain rate over the working-age population.

Each measure across the groups is also ranked (``rank_of_<column>``; 1 = most deprived,
i.e. the highest value; ties share the lowest rank).

The same measures are computed for IoD2025 (on 2021 LSOAs, N = 33,755) as for IoD2019:
from the official File 7 rows they reproduce MHCLG's IoD2025 File 10 for Birmingham (IMD
average score 38.115, average rank 25,089.35, 0.4279 of its LSOAs in the most deprived 10%,
282 of 659) and, over all 296 districts of the all-England table, its rank of 2 on that
proportion. The six IoD2025 sub-domains (:data:`cnmap.iod.SUBDOMAINS`) can be summarised
too (``domains=``); they are weighted by total population.

The population weights follow MHCLG (:data:`cnmap.iod.DOMAIN_POPULATION`): total
population for the IMD and most domains, working-age for Employment, children aged 0-15 for
IDACI and adults aged 60+ for IDAOPI. ``population_weights="total"`` uses total population
for every index instead. A measure whose inputs are absent is left out, never estimated;
``df.attrs["left_out"]`` says which and why.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from . import iod as _iod
from .columns import LSOA_CODE, POPULATION, WARD_CODE, WARD_NAME
from .errors import MissingColumnError, ValidationError

if TYPE_CHECKING:
    from .area import Area

__all__ = [
    "MEASURES",
    "SCALE_MEASURES",
    "RANKED_DESCENDING",
    "extent_weight",
    "summarise",
    "ward_profiles",
]

logger = logging.getLogger(__name__)

#: Per-index summary measures (output columns ``<index>_<measure>``).
MEASURES: tuple[str, ...] = (
    "average_score",
    "average_rank",
    "proportion_most_deprived_10",
    "extent",
    "local_concentration",
)

#: Scale measures: output column -> (score column, population column).
SCALE_MEASURES: dict[str, tuple[str, str]] = {
    "income_scale": ("income_score", "pop_total"),
    "employment_scale": ("employment_score", "pop_working_age"),
}

#: Every measure is more deprived when larger, so each is ranked in descending order.
RANKED_DESCENDING: tuple[str, ...] = MEASURES + tuple(SCALE_MEASURES)

#: Share of the group's population that local concentration looks at.
LOCAL_CONCENTRATION_SHARE = 0.10


def extent_weight(percentile: np.ndarray | pd.Series | float) -> np.ndarray:
    """MHCLG's extent weight for national percentiles of deprivation (1 = most deprived).

    1 for percentiles 1-10; 0.95 at the 11th percentile falling by (0.95 - 0.05) / 19 per
    percentile to 0.05 at the 30th; 0 from the 31st (IoD2019 Technical Report, Appendix N).

    Examples
    --------
    >>> extent_weight([10, 11, 20, 30, 31]).round(4).tolist()
    [1.0, 0.95, 0.5237, 0.05, 0.0]
    """
    p = np.asarray(percentile, dtype="float64")
    taper = 0.95 - (p - 11.0) * (0.9 / 19.0)
    return np.where(p <= 10, 1.0, np.where(p <= 30, taper, 0.0))


def _national_percentile(rank: np.ndarray, n: int) -> np.ndarray:
    """Percentile of a national rank: ceil(100 * rank / N), computed exactly on integers."""
    r = rank.astype("int64")
    return (100 * r + n - 1) // n


def _groups(table: pd.DataFrame, by: Any, original_columns: Sequence[str]) -> tuple[pd.Series, str]:
    """Group label of every LSOA, and the name of the group column."""
    if isinstance(by, str):
        if by not in table.columns:
            short = _iod.short_name_for(by)
            if short is not None and short in table.columns:
                by_col = short
            else:
                raise MissingColumnError(
                    f"summarise: group column {by!r} not in the table (columns: "
                    f"{list(original_columns)[:10]}...). Pass an existing column or a mapping "
                    "from LSOA code to group."
                )
        else:
            by_col = by
        groups = table[by_col]
        name = by_col
        missing = groups.isna().to_numpy()
        if missing.any():
            codes = table.loc[missing, LSOA_CODE].tolist()
            raise ValidationError(
                f"summarise: {int(missing.sum())} LSOA(s) have no value in group column "
                f"{by!r}: {codes[:5]}{' ...' if len(codes) > 5 else ''}. Fill the group or "
                "remove those LSOAs from the table before summarising."
            )
        return groups.reset_index(drop=True), name
    if isinstance(by, (Mapping, pd.Series)):
        mapping = pd.Series(by) if isinstance(by, Mapping) else by
        if mapping.index.has_duplicates:
            dups = mapping.index[mapping.index.duplicated()].unique().tolist()
            raise ValidationError(
                f"summarise: the LSOA-to-group mapping lists LSOA(s) {dups[:5]} more than "
                "once. Give each LSOA one group."
            )
        name = mapping.name if isinstance(mapping.name, str) and mapping.name else "group"
        keys = pd.Index(mapping.index.astype(str).str.strip().str.upper())
        mapping = pd.Series(mapping.to_numpy(), index=keys)
        groups = table[LSOA_CODE].map(mapping)
        missing = groups.isna().to_numpy()
        if missing.any():
            codes = table.loc[missing, LSOA_CODE].tolist()
            raise ValidationError(
                f"summarise: {len(codes)} LSOA(s) of the table have no group in the mapping: "
                f"{codes[:5]}{' ...' if len(codes) > 5 else ''}. Add them to the mapping or "
                "remove them from the table first (nothing is dropped silently)."
            )
        extra = keys.difference(pd.Index(table[LSOA_CODE]))
        if len(extra):
            logger.info(
                "summarise: %d LSOA(s) in the mapping are not in the table: %s",
                len(extra),
                list(extra[:5]),
            )
        return groups.reset_index(drop=True), name
    raise ValidationError(
        f"summarise: by must be a column name or an LSOA-to-group mapping (dict or Series), "
        f"not {type(by).__name__}."
    )


def _weighted_mean(
    values: np.ndarray, weights: np.ndarray, codes: np.ndarray, n_groups: int
) -> np.ndarray:
    num = np.bincount(codes, weights=values * weights, minlength=n_groups)
    den = np.bincount(codes, weights=weights, minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def _local_concentration(
    rev_rank: np.ndarray,
    rank: np.ndarray,
    weights: np.ndarray,
    codes: np.ndarray,
    n_groups: int,
    share: float,
) -> np.ndarray:
    """Weighted mean reversed rank of each group's most deprived LSOAs holding `share` of
    its population, the last one partially. Vectorised: one sort, cumulative sums."""
    order = np.lexsort((rank, codes))  # by group, then most deprived first
    c, w, rr = codes[order], weights[order], rev_rank[order]
    total = np.bincount(c, weights=w, minlength=n_groups)
    target = share * total
    cum = np.cumsum(w)
    # cumulative population before each LSOA within its own group
    group_start_cum = np.concatenate(([0.0], np.cumsum(total)))[:-1]
    before = cum - w - group_start_cum[c]
    take = np.clip(target[c] - before, 0.0, w)
    num = np.bincount(c, weights=take * rr, minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(target > 0, num / np.where(target > 0, target, 1.0), np.nan)


@dataclass(frozen=True)
class _Grouping:
    """Each LSOA's group number (0..n_groups-1) and the number of LSOAs in each group."""

    codes: np.ndarray
    n_groups: int
    sizes: np.ndarray


def _check_options(population_weights: str, domains: Sequence[str] | None) -> None:
    if population_weights not in ("domain", "total"):
        raise ValidationError(
            f"population_weights={population_weights!r}: use 'domain' (MHCLG's relevant "
            "population for each index) or 'total'."
        )
    if domains is not None:
        unknown = [d for d in domains if d not in _iod.INDICES]
        if unknown:
            raise ValidationError(
                f"domains {unknown} are not IoD indices; choose from {_iod.INDICES}."
            )


def _national_n(t: pd.DataFrame, ed: int, n_lsoas: int | None) -> int:
    """N the ranks run over: the edition's count, or ``n_lsoas`` checked against the ranks."""
    if n_lsoas is None:
        return _iod.N_LSOAS_ENGLAND[ed]
    if isinstance(n_lsoas, bool) or not isinstance(n_lsoas, (int, np.integer)) or n_lsoas < 1:
        raise ValidationError(f"n_lsoas={n_lsoas!r} must be a positive whole number.")
    n = int(n_lsoas)
    for c in (f"{d}_rank" for d in _iod.INDICES):
        if c in t.columns and int(t[c].max()) > n:
            raise ValidationError(
                f"summarise: column {c!r} has rank {int(t[c].max())} > n_lsoas={n}. "
                "n_lsoas is the number of LSOAs ranked nationally; raise it or leave it "
                "out to use the edition's figure."
            )
    return n


def _populations(t: pd.DataFrame) -> tuple[dict[str, np.ndarray], str]:
    """Population columns; pop_total, or the area's `population` column as total population."""
    pops: dict[str, np.ndarray] = {}
    for c in _iod.POPULATION_COLUMNS:
        if c in t.columns:
            pops[c] = t[c].to_numpy(dtype="float64")
    if "pop_total" in pops or POPULATION not in t.columns:
        return pops, "pop_total"
    pop_vals = pd.to_numeric(t[POPULATION], errors="coerce")
    bad = (pop_vals.isna() | (pop_vals < 0)).to_numpy()
    if bad.any():
        # leaving the weighted measures out here would hide the gap behind a wrong
        # "no population column" reason; a blank pop_total is an error too
        codes = t.loc[bad, LSOA_CODE].tolist()
        raise ValidationError(
            f"summarise: column {POPULATION!r} is blank, not a number or negative for "
            f"LSOA(s) {codes[:5]}{' ...' if len(codes) > 5 else ''}. Fill it (e.g. from "
            "IoD File 7's total population) or drop the column to leave the "
            "population-weighted measures out."
        )
    pops["pop_total"] = pop_vals.to_numpy(dtype="float64")
    return pops, POPULATION


def _rank_measures(
    rank: np.ndarray, d: str, w: np.ndarray | None, no_w: str, g: _Grouping, n: int
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Measures of one index from its ranks: proportion in the most deprived 10%, average
    rank, extent and local concentration (the last three need the population ``w``)."""
    out: dict[str, np.ndarray] = {}
    left_out: dict[str, str] = {}
    rev = (n + 1 - rank).astype("float64")
    in_top10 = 100 * rank <= 10 * n
    out[f"{d}_proportion_most_deprived_10"] = (
        np.bincount(g.codes, weights=in_top10.astype("float64"), minlength=g.n_groups) / g.sizes
    )
    if w is not None:
        out[f"{d}_average_rank"] = _weighted_mean(rev, w, g.codes, g.n_groups)
        out[f"{d}_extent"] = _weighted_mean(
            extent_weight(_national_percentile(rank, n)), w, g.codes, g.n_groups
        )
        out[f"{d}_local_concentration"] = _local_concentration(
            rev, rank, w, g.codes, g.n_groups, LOCAL_CONCENTRATION_SHARE
        )
    else:
        for m in ("average_rank", "extent", "local_concentration"):
            left_out[f"{d}_{m}"] = no_w
    return out, left_out


def _domain_measures(
    t: pd.DataFrame, d: str, w: np.ndarray | None, pop_col: str, g: _Grouping, n: int
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Measures of one index, and the reason for each measure left out."""
    out: dict[str, np.ndarray] = {}
    left_out: dict[str, str] = {}
    score_c, rank_c, decile_c = f"{d}_score", f"{d}_rank", f"{d}_decile"
    has_score = score_c in t.columns
    no_w = f"no {pop_col} population column"
    if has_score and w is not None:
        out[f"{d}_average_score"] = _weighted_mean(
            t[score_c].to_numpy(dtype="float64"), w, g.codes, g.n_groups
        )
    else:
        left_out[f"{d}_average_score"] = f"no {score_c} column" if not has_score else no_w
    if rank_c in t.columns:
        out_r, left_r = _rank_measures(t[rank_c].to_numpy(dtype="int64"), d, w, no_w, g, n)
        return out | out_r, left_out | left_r
    for m in ("average_rank", "extent", "local_concentration"):
        left_out[f"{d}_{m}"] = f"no {rank_c} column"
    if decile_c in t.columns:
        dec1 = (t[decile_c].to_numpy() == 1).astype("float64")
        out[f"{d}_proportion_most_deprived_10"] = (
            np.bincount(g.codes, weights=dec1, minlength=g.n_groups) / g.sizes
        )
    else:
        left_out[f"{d}_proportion_most_deprived_10"] = f"no {rank_c} or {decile_c} column"
    return out, left_out


def _scale_measures(
    t: pd.DataFrame, pops: Mapping[str, np.ndarray], domains: Sequence[str], g: _Grouping
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Income and employment scale (rate x denominator summed), and reasons for gaps."""
    out: dict[str, np.ndarray] = {}
    left_out: dict[str, str] = {}
    for col, (score_c, pop_col) in SCALE_MEASURES.items():
        domain = score_c.removesuffix("_score")
        if domain not in domains:
            continue
        if score_c in t.columns and pop_col in pops:
            out[col] = np.bincount(
                g.codes,
                weights=t[score_c].to_numpy(dtype="float64") * pops[pop_col],
                minlength=g.n_groups,
            )
        else:
            left_out[col] = (
                f"no {score_c} column"
                if score_c not in t.columns
                else (f"no {pop_col} population column")
            )
    return out, left_out


def _summary_frame(
    out: dict[str, np.ndarray], domains: Sequence[str], index: pd.Index
) -> tuple[pd.DataFrame, list[str]]:
    """The summary table (counts, measures, then ``rank_of_<measure>``) and its measures."""
    if "population" in out and np.all(out["population"] == np.round(out["population"])):
        out["population"] = out["population"].astype("int64")
    measure_cols = [f"{d}_{m}" for d in domains for m in MEASURES if f"{d}_{m}" in out]
    measure_cols += [c for c in SCALE_MEASURES if c in out]
    head = [c for c in ("n_lsoas", "population") if c in out]
    result = pd.DataFrame({c: out[c] for c in head + measure_cols}, index=index)
    ranks = {
        f"rank_of_{c}": result[c].rank(ascending=False, method="min").astype("Int64")
        for c in measure_cols
    }
    return pd.concat([result, pd.DataFrame(ranks, index=index)], axis=1), measure_cols


def summarise(
    table: pd.DataFrame,
    by: str | Mapping[str, Any] | pd.Series,
    *,
    edition: int | None = None,
    n_lsoas: int | None = None,
    domains: Sequence[str] | None = None,
    population_weights: Literal["domain", "total"] = "domain",
) -> pd.DataFrame:
    """MHCLG summary measures of deprivation for groups of LSOAs.

    Parameters
    ----------
    table
        One row per LSOA: the official IoD File 7 layout (any subset of its columns) or
        cnmap's normalised table (:func:`cnmap.iod.read_iod`). Not modified.
    by
        Column of ``table`` holding each LSOA's group (e.g. ``"ward_code"``, ``"lad_code"``),
        or a mapping (dict or Series) from LSOA code to group. Every LSOA of the table must
        have a group.
    edition
        IoD edition (2019 or 2025); default: detected by :func:`cnmap.iod.read_iod`.
    n_lsoas
        Number of LSOAs in England that the ranks run over (N); default
        :data:`cnmap.iod.N_LSOAS_ENGLAND` of the edition. Every rank must be <= N.
    domains
        Indices to summarise (from :data:`cnmap.iod.INDICES`); default every one of
        :data:`cnmap.iod.DOMAINS` (the IMD, 7 domains, IDACI, IDAOPI) that has a rank,
        decile or score column.
    population_weights
        ``"domain"`` (default, MHCLG): each index is weighted by its relevant population
        (:data:`cnmap.iod.DOMAIN_POPULATION`); ``"total"``: total population for all.

    Returns
    -------
    pandas.DataFrame
        One row per group, indexed by group (sorted; index name ``by`` or the mapping's
        name, else ``"group"``). Columns: ``n_lsoas``, ``population`` (total population),
        then ``<index>_<measure>`` for each measure of :data:`MEASURES` whose inputs are
        present, ``income_scale`` / ``employment_scale`` where the rates and denominators
        are present, then ``rank_of_<column>`` for each of those (1 = most deprived; ties
        take the lowest rank). ``attrs``: ``iod_edition``, ``n_lsoas_england``,
        ``population_weights``, ``group_by``, ``measures`` (computed) and ``left_out``
        (column -> reason) for measures whose inputs are absent.

    Raises
    ------
    MissingColumnError
        ``by`` names no column; or no index has any usable column.
    ValidationError
        An LSOA has no group; a mapping repeats an LSOA; unknown ``domains`` or
        ``population_weights``; a rank above ``n_lsoas``; or invalid IoD values (see
        :func:`cnmap.iod.read_iod`).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"lsoa_code": ["E01000001", "E01000002"],
    ...                   "imd_rank": [1, 32844], "pop_total": [1000, 3000]})
    >>> summarise(t, {"E01000001": "A", "E01000002": "A"})["imd_average_rank"].item()
    8211.75
    """
    _check_options(population_weights, domains)
    original_columns = [str(c) for c in table.columns]
    t = _iod.read_iod(table, edition=edition)
    ed = int(t.attrs["iod_edition"])
    n = _national_n(t, ed, n_lsoas)
    groups, group_name = _groups(t, by, original_columns)
    g, uniques = _grouping(groups)
    pops, pop_source = _populations(t)
    domains = _chosen_domains(t, domains, original_columns)
    out, left_out = _all_measures(t, pops, domains, population_weights, g, n)
    result, measure_cols = _summary_frame(out, domains, pd.Index(uniques, name=group_name))
    result.attrs = {
        "iod_edition": ed,
        "n_lsoas_england": n,
        "population_weights": population_weights,
        "population_source": pop_source,
        "group_by": group_name if isinstance(by, str) else f"mapping ({group_name})",
        "domains": list(domains),
        "measures": measure_cols,
        "left_out": left_out,
    }
    if left_out:
        logger.info(
            "summarise: %d measure(s) left out for lack of inputs: %s",
            len(left_out),
            sorted(left_out),
        )
    logger.info(
        "summarise: %d groups, %d LSOAs, %d measures (IoD%d, N=%d)",
        g.n_groups,
        len(t),
        len(measure_cols),
        ed,
        n,
    )
    return result


def _grouping(groups: Any) -> tuple[_Grouping, pd.Index]:
    """Each LSOA's group number (groups sorted) and the groups."""
    codes_, uniques = pd.factorize(groups, sort=True)
    codes = np.asarray(codes_, dtype="int64")
    n_groups = len(uniques)
    sizes = np.bincount(codes, minlength=n_groups).astype("int64")
    return _Grouping(codes, n_groups, sizes), uniques


def _chosen_domains(
    t: pd.DataFrame, domains: Sequence[str] | None, original_columns: list[str]
) -> Sequence[str]:
    """The indices to summarise: ``domains``, or every index with a column in ``t``."""
    if domains is None:
        domains = [d for d in _iod.DOMAINS if any(f"{d}_{m}" in t.columns for m in _iod.MEASURES)]
    if not domains:
        raise MissingColumnError(
            "summarise: the table has no score, rank or decile column of any IoD index "
            f"(columns: {original_columns[:10]}). Give IoD File 7 columns."
        )
    return domains


def _all_measures(
    t: pd.DataFrame,
    pops: dict[str, np.ndarray],
    domains: Sequence[str],
    population_weights: str,
    g: _Grouping,
    n: int,
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Every group's LSOA count, population and measures, and the reason for each measure
    left out."""
    out: dict[str, np.ndarray] = {"n_lsoas": g.sizes}
    left_out: dict[str, str] = {}
    if "pop_total" in pops:
        out["population"] = np.bincount(g.codes, weights=pops["pop_total"], minlength=g.n_groups)
    else:
        left_out["population"] = "no total population column (pop_total)"
    for d in domains:
        pop_col = _iod.DOMAIN_POPULATION[d] if population_weights == "domain" else "pop_total"
        out_d, left_d = _domain_measures(t, d, pops.get(pop_col), pop_col, g, n)
        out.update(out_d)
        left_out.update(left_d)
    out_s, left_s = _scale_measures(t, pops, domains, g)
    out.update(out_s)
    left_out.update(left_s)
    return out, left_out


def ward_profiles(
    area: Area,
    *,
    domains: Sequence[str] | None = None,
    population_weights: Literal["domain", "total"] = "domain",
) -> pd.DataFrame:
    """Deprivation summary measures for every ward of an :class:`~cnmap.area.Area`.

    Applies :func:`summarise` to ``area.lsoas`` grouped by ``ward_code`` (the LSOA-to-ward
    best fit of the area's lookup).

    Parameters
    ----------
    area
        An area from :func:`cnmap.load_area`; ``area.lsoas`` must have ``ward_code``,
        ``ward_name`` and IoD short-name columns.
    domains, population_weights
        As for :func:`summarise`.

    Returns
    -------
    pandas.DataFrame
        One row per ward of ``area.wards`` (index ``ward_code``), with ``ward_name`` first and
        then the columns of :func:`summarise`. ``attrs`` as :func:`summarise`, plus
        ``lad_code``.

    Raises
    ------
    MissingColumnError
        ``area.lsoas`` has no ``ward_code`` column.
    ValidationError
        A ward of ``area.wards`` has no LSOA (its measures would be undefined), or see
        :func:`summarise`.
    """
    lsoas = area.lsoas
    if WARD_CODE not in lsoas.columns:
        raise MissingColumnError(
            f"ward_profiles: area {area.lad_code} LSOAs have no {WARD_CODE!r} column; build "
            "the area with cnmap.load_area, which joins each LSOA to its ward."
        )
    geom_cols = [c for c in lsoas.columns if str(lsoas[c].dtype) == "geometry"]
    table = pd.DataFrame(lsoas.drop(columns=geom_cols))
    table.attrs = {"iod_edition": getattr(area, "iod", None)}
    prof = summarise(table, WARD_CODE, domains=domains, population_weights=population_weights)
    names = None
    if area.wards is not None and WARD_CODE in area.wards.columns:
        wards = area.wards.drop_duplicates(WARD_CODE).set_index(WARD_CODE)
        missing = wards.index.difference(prof.index)
        if len(missing):
            raise ValidationError(
                f"ward_profiles: ward(s) {list(missing)[:5]} of area {area.lad_code} have no "
                "LSOA assigned in area.lsoas, so their measures are undefined; check the "
                "LSOA-to-ward lookup."
            )
        if WARD_NAME in wards.columns:
            names = wards[WARD_NAME]
    if names is None and WARD_NAME in lsoas.columns:
        names = pd.Series(lsoas[WARD_NAME].to_numpy(), index=lsoas[WARD_CODE].to_numpy())
        names = names[~names.index.duplicated()]
    result = prof.copy()
    if names is not None:
        result.insert(0, WARD_NAME, names.reindex(result.index).to_numpy())
    result.attrs = {**prof.attrs, "lad_code": area.lad_code}
    return result
