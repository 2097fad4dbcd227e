"""Where to open next: maximal coverage on a reach matrix, and its adapter for coverage results.

Two layers, as spopt splits its models (``from_cost_matrix`` and ``from_geodataframe``):

- :func:`maximal_coverage` is the pure solver. It takes a sparse reach matrix (candidates x
  points: a stored entry means the candidate reaches the point), a weight per point and the
  number of sites, and returns a :class:`SiteSelection` (candidate rows in pick order, the
  marginal gain of each). Greedy maximal coverage, then single swaps with restarts.
- :func:`suggest_sites` is the adapter. It checks a :class:`cnmap.coverage.CoverageResult` and
  the candidate venues, weights the residents still out of reach (:func:`target_weights`),
  builds the reach matrix on the coverage's network (:func:`cnmap.reach.reach_matrix`), calls
  the solver and explains every pick in a :class:`SiteSuggestion`.

See ``docs/scenarios.md`` for the method and its measured gap to the exact optimum.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy import sparse

from cnmap import schema as S
from cnmap.errors import CRSError, MissingColumnError, ValidationError
from cnmap.geo import to_bng

if TYPE_CHECKING:  # pragma: no cover
    from cnmap.coverage import CoverageResult

__all__ = [
    "SiteSelection",
    "SiteParams",
    "SiteSuggestion",
    "maximal_coverage",
    "suggest_sites",
    "target_weights",
]

log = logging.getLogger(__name__)

#: Columns of :attr:`SiteSuggestion.sites` (and geometry).
SITE_COLUMNS = (
    "rank",
    "candidate_id",
    "name",
    "gain",
    "people_newly_covered",
    "cumulative_gain",
    "share_of_target",
    "share_covered_after",
    "why",
    "wards",
)
_FLOAT_COLUMNS = (
    "gain",
    "people_newly_covered",
    "cumulative_gain",
    "share_of_target",
    "share_covered_after",
)


# ---------------------------------------------------------------------------------------------
# the pure solver


@dataclass(frozen=True)
class SiteSelection:
    """The sites :func:`maximal_coverage` picked.

    Attributes
    ----------
    k
        The number of sites asked for.
    sites
        Candidate rows of the reach matrix, in greedy order: each pick adds the most weight
        not covered by the earlier ones (and by ``existing``).
    gains
        The weight each pick newly covers, in that order (never increasing).
    greedy_total
        The weight covered by the plain greedy picks.
    total
        The weight covered by ``sites`` (>= ``greedy_total``).
    n_swaps
        Swaps made by the interchange search (0 without ``improve``).
    method
        How the sites were found, in words.
    """

    k: int
    sites: tuple[int, ...]
    gains: tuple[float, ...]
    greedy_total: float
    total: float
    n_swaps: int
    method: str


def _whole(name: str, value: Any, minimum: int, what: str = "") -> int:
    """A whole number >= ``minimum`` (not a boolean)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValidationError(f"{name}={value!r} must be a whole number {what}>= {minimum}")
    return int(value)


def _incidence(reach: Any) -> sparse.csr_matrix:
    """The reach matrix as 0/1 float64 CSR (stored entries = reachable; values ignored)."""
    try:
        R = sparse.csr_matrix(reach)
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            f"reach must be a 2-D matrix (candidates x points), sparse or "
            f"dense, not {type(reach).__name__} ({exc})"
        ) from None
    B = R.copy()
    B.sum_duplicates()
    B.data = np.ones(B.data.shape, dtype=np.float64)
    return B


def _point_weights(weights: Any, n_points: int, existing: Any) -> np.ndarray:
    """Weights per point, zero where ``existing`` already covers the point."""
    w = np.asarray(weights, dtype=float)
    if w.shape != (n_points,):
        raise ValidationError(
            f"weights has shape {w.shape}; give one weight per point (column of reach): {n_points}"
        )
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValidationError("weights must be finite numbers >= 0")
    if existing is None:
        return w
    ex = np.asarray(existing)
    if ex.shape != (n_points,) or ex.dtype != bool:
        raise ValidationError(
            f"existing must be a boolean array with one value per point "
            f"({n_points}): True where a point is already covered"
        )
    return np.where(ex, 0.0, w)


def _allowed_mask(allowed: Any, n_candidates: int) -> np.ndarray:
    """Candidates that may be picked, as a boolean mask."""
    if allowed is None:
        return np.ones(n_candidates, dtype=bool)
    a = np.asarray(allowed)
    if a.dtype == bool:
        if a.shape != (n_candidates,):
            raise ValidationError(f"allowed has {a.size} values for {n_candidates} candidates")
        return a.copy()
    if a.size and (
        not np.issubdtype(a.dtype, np.integer) or a.min() < 0 or a.max() >= n_candidates
    ):
        raise ValidationError(
            f"allowed must list candidate rows 0 to {n_candidates - 1} (or be a boolean mask)"
        )
    return _mask_of(a.astype(np.int64).ravel(), n_candidates)


def _mask_of(rows: Sequence[int] | np.ndarray, n: int) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    mask[list(rows)] = True
    return mask


def _covered_by(B: sparse.csr_matrix, sites: Sequence[int], n: int) -> np.ndarray:
    cov = np.zeros(n, dtype=bool)
    for j in sites:
        cov[B.indices[B.indptr[j] : B.indptr[j + 1]]] = True
    return cov


def _greedy_order(
    B: sparse.csr_matrix, wt: np.ndarray, k: int, allowed: np.ndarray, forced: Sequence[int] = ()
) -> list[tuple[int, float]]:
    """Greedy picks ``(candidate, gain)`` with positive gain, at most ``k``.

    The gains are recomputed exactly at every step (``B @ weights of the uncovered``): with
    non-negative weights, rounded sums are monotone, so the gains never increase. ``forced``
    sites count as already open (they are not listed).
    """
    n_c, n_p = B.shape
    mask = allowed.copy()
    covered = _covered_by(B, list(forced), n_p)
    mask[list(forced)] = False
    out: list[tuple[int, float]] = []
    for _ in range(k):
        if n_c == 0:
            break
        gains = B @ np.where(covered, 0.0, wt)
        gains[~mask] = -1.0
        j = int(np.argmax(gains))
        if gains[j] <= 0:
            break
        out.append((j, float(gains[j])))
        mask[j] = False
        covered[B.indices[B.indptr[j] : B.indptr[j + 1]]] = True
    return out


def _interchange(
    B: sparse.csr_matrix,
    wt: np.ndarray,
    sites: Sequence[int],
    allowed: np.ndarray,
    max_rounds: int = 200,
) -> tuple[list[int], int]:
    """Improve a set of sites by single swaps (one chosen site for one other allowed
    candidate) while a swap covers more weight (vertex-substitution local search)."""
    chosen = list(sites)
    cnt = np.zeros(B.shape[1], dtype=np.int64)
    for j in chosen:
        cnt[B.indices[B.indptr[j] : B.indptr[j + 1]]] += 1
    tol = 1e-9 * max(1.0, float(wt.sum()))
    swaps = 0
    for _ in range(max_rounds):
        best = (tol, -1, -1)
        for pos, s in enumerate(chosen):
            cols = B.indices[B.indptr[s] : B.indptr[s + 1]]
            loss = float(wt[cols[cnt[cols] == 1]].sum())
            after = cnt.copy()
            after[cols] -= 1
            gains = B @ np.where(after == 0, wt, 0.0)
            gains[chosen] = -np.inf
            gains[~allowed] = -np.inf
            c = int(np.argmax(gains))
            delta = float(gains[c]) - loss
            if delta > best[0]:
                best = (delta, pos, c)
        if best[1] < 0:
            break
        _, pos, c = best
        s = chosen[pos]
        cnt[B.indices[B.indptr[s] : B.indptr[s + 1]]] -= 1
        cnt[B.indices[B.indptr[c] : B.indptr[c + 1]]] += 1
        chosen[pos] = c
        swaps += 1
    return chosen, swaps


def _improve(
    B: sparse.csr_matrix,
    wt: np.ndarray,
    picks: list[tuple[int, float]],
    allowed: np.ndarray,
    restarts: int,
    tol: float,
) -> tuple[list[int], int]:
    """The best set found by swaps from greedy starts forced to open with each of the
    ``restarts`` best single sites (the plain greedy set if none is better by ``tol``)."""
    k, n_p = len(picks), B.shape[1]
    best_set = [j for j, _ in picks]
    best_val = float(wt[_covered_by(B, best_set, n_p)].sum())
    first = B @ wt
    first[~allowed] = -1.0
    starts = [int(x) for x in np.argsort(-first, kind="stable")[:restarts] if first[x] > 0]
    n_swaps = 0
    for st in starts or [picks[0][0]]:
        rest = _greedy_order(B, wt, k - 1, allowed, forced=[st])
        seed_set = [st] + [j for j, _ in rest]
        if len(seed_set) < k:
            continue
        chosen, ns = _interchange(B, wt, seed_set, allowed)
        val = float(wt[_covered_by(B, chosen, n_p)].sum())
        n_swaps += ns
        if val > best_val + tol:
            best_set, best_val = chosen, val
    return best_set, n_swaps


def maximal_coverage(
    reach: Any,
    weights: Any,
    k: int,
    *,
    allowed: Any = None,
    existing: Any = None,
    improve: bool = True,
    restarts: int = 10,
    tol: float | None = None,
) -> SiteSelection:
    """Pick ``k`` candidates that together reach the most weight (maximal covering).

    Greedy first: each step adds the candidate reaching the most weight not yet covered,
    recomputing every gain exactly. The objective is monotone submodular, so the gains never
    increase and the greedy total is at least ``1 - 1/e`` (63%) of the optimum. With
    ``improve`` the greedy set is then improved by single swaps (one picked site for another
    candidate) while a swap covers more weight, also starting from each of the ``restarts``
    candidates with the largest weight on their own, and the best set found is listed in greedy
    order (so the gains still never increase).

    Parameters
    ----------
    reach
        Candidates x points, sparse (e.g. :func:`cnmap.reach.reach_matrix`) or dense: a stored
        entry means the candidate reaches the point (its value, e.g. metres, is ignored; a
        stored 0 counts).
    weights
        Weight of every point (people, deprived people...), finite and >= 0.
    k
        Number of sites (fewer when no other candidate adds any weight).
    allowed
        Candidates that may be picked: row numbers or a boolean mask. None: all.
    existing
        Boolean mask of the points already covered (by organisations already open): they
        count for nothing. None: none.
    improve
        Swaps and restarts after the greedy (see above). False: the plain greedy, whose picks
        are nested (the first 3 of ``k=5`` are the picks for ``k=3``).
    restarts
        With ``improve``: greedy starts forced to open with each of the ``restarts`` best
        single sites.
    tol
        A restart's set replaces the best one only when it covers more than ``tol`` more
        weight; default ``1e-9 * max(1, weights.sum())``.

    Returns
    -------
    SiteSelection

    Examples
    --------
    >>> import numpy as np
    >>> reach = np.array([[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1]], dtype=bool)
    >>> sel = maximal_coverage(reach, [5.0, 1.0, 1.0, 5.0], 2)
    >>> sel.sites, sel.gains
    ((0, 2), (6.0, 6.0))
    """
    B = _incidence(reach)
    n_c, n_p = B.shape
    wt = _point_weights(weights, n_p, existing)
    k = _whole("k", k, 1, "of sites ")
    restarts = _whole("restarts", restarts, 0)
    mask = _allowed_mask(allowed, n_c)
    tol = 1e-9 * max(1.0, float(wt.sum())) if tol is None else float(tol)
    picks = _greedy_order(B, wt, k, mask)
    greedy_total = float(wt[_covered_by(B, [j for j, _ in picks], n_p)].sum())
    n_swaps = 0
    if improve and len(picks) == k and int(mask.sum()) > len(picks):
        best_set, n_swaps = _improve(B, wt, picks, mask, restarts, tol)
        picks = _greedy_order(B, wt, len(best_set), _mask_of(best_set, n_c))
    method = "greedy maximal coverage" + (
        f" + interchange ({restarts} restarts)" if improve else ""
    )
    total = float(wt[_covered_by(B, [j for j, _ in picks], n_p)].sum())
    return SiteSelection(
        k=k,
        sites=tuple(j for j, _ in picks),
        gains=tuple(g for _, g in picks),
        greedy_total=greedy_total,
        total=total,
        n_swaps=n_swaps,
        method=method,
    )


# ---------------------------------------------------------------------------------------------
# target weights


def _join_names(names: list[str], more: int) -> str:
    if more > 0:
        return ", ".join(names) + f" and {more} other ward{'s' if more > 1 else ''}"
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def _deciles_label(deciles: Sequence[int]) -> str:
    d = sorted(set(int(x) for x in deciles))
    if len(d) == 1:
        return f"IMD decile {d[0]}"
    if d == list(range(d[0], d[-1] + 1)):
        return f"IMD decile {d[0]}-{d[-1]}"
    return "IMD deciles " + ", ".join(map(str, d))


def _deprived_weights(cov: CoverageResult, deprived_deciles: Sequence[int]) -> np.ndarray:
    """People at each point in LSOAs of ``deprived_deciles``, else 0."""
    res = cov.residents
    if not deprived_deciles:
        raise ValidationError("deprived_deciles is empty; give IMD deciles such as (1, 2)")
    bad = [d for d in deprived_deciles if not 1 <= int(d) <= 10]
    if bad:
        raise ValidationError(f"deprived_deciles {bad} are not IMD deciles (1 to 10)")
    if S.IMD_DECILE in res.columns:
        dec = pd.to_numeric(res[S.IMD_DECILE], errors="coerce").to_numpy()
    else:
        L = cov.lsoas.set_index(S.LSOA_CODE)
        if S.IMD_DECILE not in L.columns:
            raise MissingColumnError(
                "weight='deprived_population' needs imd_decile on the "
                "LSOAs; load the area with cnmap.load_area"
            )
        dec = pd.to_numeric(L[S.IMD_DECILE], errors="coerce").reindex(res[S.LSOA_CODE]).to_numpy()
    sel = np.isin(dec, [int(d) for d in deprived_deciles])
    return np.where(sel, res[S.WEIGHT].to_numpy(float), 0.0)


def _lsoa_count_weights(cov: CoverageResult, column: str) -> np.ndarray:
    """An LSOA count column spread over the LSOA's points in proportion to their people."""
    res = cov.residents
    L = cov.lsoas.set_index(S.LSOA_CODE)
    col = pd.to_numeric(L[column], errors="coerce")
    pop = pd.to_numeric(L[S.POPULATION], errors="coerce")
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = (col / pop).reindex(res[S.LSOA_CODE]).to_numpy(float)
    ratio = np.where(np.isfinite(ratio), ratio, 0.0)
    if (ratio < 0).any():
        raise ValidationError(f"LSOA column {column!r} has negative values")
    weights: np.ndarray = res[S.WEIGHT].to_numpy(float) * ratio
    return weights


def target_weights(
    coverage: CoverageResult,
    weight: str = "deprived_population",
    deprived_deciles: Sequence[int] = (1, 2),
) -> tuple[np.ndarray, str]:
    """The weight of every residential point of a coverage result, and what it counts.

    Parameters
    ----------
    coverage
        A coverage result (its ``residents`` and ``lsoas``).
    weight
        ``"deprived_population"`` (people in LSOAs of ``deprived_deciles``), ``"population"``,
        a numeric column of ``coverage.residents`` (people per point), or a count column of
        ``coverage.lsoas`` (e.g. ``"pop_60_plus"``, spread over the LSOA's points in proportion
        to their people).
    deprived_deciles
        IMD deciles counted as deprived (1 = most deprived 10% in England).

    Returns
    -------
    tuple of numpy.ndarray and str
        One weight per row of ``coverage.residents``, and a label for sentences ("residents
        of IMD decile 1-2 LSOAs").
    """
    res = coverage.residents
    if weight == "population":
        return res[S.WEIGHT].to_numpy(float), "residents"
    if weight == "deprived_population":
        return (
            _deprived_weights(coverage, deprived_deciles),
            f"residents of {_deciles_label(deprived_deciles)} LSOAs",
        )
    if weight in res.columns:
        v = pd.to_numeric(res[weight], errors="coerce").to_numpy(float)
        if not np.isfinite(v).all() or (v < 0).any():
            raise ValidationError(
                f"weight column {weight!r} of the residents must hold numbers >= 0 for every point"
            )
        return v, f"{weight}"
    if weight in coverage.lsoas.columns:
        return (
            _lsoa_count_weights(coverage, weight),
            f"{weight.replace('_', ' ')} (LSOA share of residents)",
        )
    raise MissingColumnError(
        f"weight={weight!r} is not 'deprived_population', 'population', a "
        "column of coverage.residents or a column of coverage.lsoas"
    )


# ---------------------------------------------------------------------------------------------
# the adapter's result


@dataclass(frozen=True)
class SiteParams:
    """Every parameter and headline figure of a :func:`suggest_sites` call."""

    k: int
    minutes: int | float
    metres: float
    weight: str
    deprived_deciles: tuple[int, ...] | None
    target: str
    target_total: float
    target_points: int
    n_candidates: int
    n_candidates_unplaced: int
    mode: str
    speed_kmh: float
    max_snap_m: float
    stopped: str
    method: str
    greedy_total: float
    total: float
    n_swaps: int

    def as_dict(self) -> dict[str, Any]:
        """The parameters as a plain dict (tuples as lists), keys in field order."""
        return {
            f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v
            for f in dataclasses.fields(self)
        }


@dataclass(frozen=True, eq=False)
class SiteSuggestion:
    """The sites :func:`suggest_sites` picked, explained.

    For code written against the GeoDataFrame that ``suggest_sites`` used to return, a
    suggestion also behaves as its :attr:`sites` table: ``s["gain"]``, ``len(s)``,
    ``s.attrs["params"]``, ``s.crs`` and every other attribute of the table.

    Attributes
    ----------
    sites
        One row per pick (EPSG:27700): ``rank``, ``candidate_id``, ``name``, ``gain`` (target
        people newly covered), ``people_newly_covered`` (all residents newly covered),
        ``cumulative_gain``, ``share_of_target`` (cumulative share of the target people out of
        reach), ``share_covered_after`` (share of all residents covered with the picks so far),
        ``why``, ``wards``, geometry. ``attrs["params"]`` holds :attr:`params`.
    params
        The parameters and totals as a dict (:attr:`parameters` is the typed view).
    selection
        The solver's answer (:func:`maximal_coverage`): candidate rows of the candidates
        table, after it was reset to 0, 1, 2...
    """

    sites: gpd.GeoDataFrame
    params: dict[str, Any]
    selection: SiteSelection

    @property
    def parameters(self) -> SiteParams:
        """The parameters, typed."""
        p = dict(self.params)
        if p["deprived_deciles"] is not None:
            p["deprived_deciles"] = tuple(p["deprived_deciles"])
        return SiteParams(**p)

    @property
    def gains(self) -> pd.DataFrame:
        """The picks without their geometry: one row per site, the gains and the reasons."""
        return pd.DataFrame(self.sites.drop(columns=self.sites.geometry.name))

    def __len__(self) -> int:
        return len(self.sites)

    def __getitem__(self, key: Any) -> Any:
        return self.sites[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self.sites)

    def __contains__(self, key: object) -> bool:
        return key in self.sites

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in {"sites", "params", "selection"}:
            raise AttributeError(name)
        return getattr(self.sites, name)

    def __repr__(self) -> str:
        p = self.params
        return (
            f"SiteSuggestion({len(self.sites)} of k={p['k']} sites from "
            f"{p['n_candidates']} candidates, {p['total']:,.0f} of {p['target_total']:,.0f} "
            f"{p['target']} out of reach within {p['minutes']:g} minutes)\n{self.sites!r}"
        )


# ---------------------------------------------------------------------------------------------
# the adapter


@dataclass(frozen=True)
class _Targets:
    """The residents out of reach with a positive weight, and the totals the rows report."""

    points: np.ndarray  # rows of coverage.residents (placed on the network)
    weights: np.ndarray
    people: np.ndarray
    wards: np.ndarray
    label: str
    total: float  # target weight out of reach, placed or not
    pop_total: float
    pop_covered: float


def _checked_coverage(coverage: Any) -> CoverageResult:
    from cnmap.coverage import CoverageResult

    if not isinstance(coverage, CoverageResult):
        raise ValidationError(
            "suggest_sites needs a CoverageResult (cnmap.coverage.coverage), "
            f"not {type(coverage).__name__}"
        )
    return coverage


def _time_limit(cov: CoverageResult, minutes: float | None) -> int | float:
    """The limit: default the coverage's headline one; must be among its limits."""
    t = cov.headline_minutes if minutes is None else minutes
    if t not in cov.thresholds:
        raise ValidationError(
            f"minutes={t} is not among the coverage's time limits "
            f"{list(cov.thresholds)}; run coverage(..., minutes=[..., {t}])"
        )
    return S.minutes_value(t)


def _candidate_frame(
    candidates: Any, id_col: str | None, name_col: str | None
) -> tuple[gpd.GeoDataFrame, np.ndarray, np.ndarray]:
    """The candidates in EPSG:27700 (index 0, 1, 2...), their ids and their names."""
    cand = getattr(candidates, "organisations", candidates)
    if not isinstance(cand, gpd.GeoDataFrame):
        raise ValidationError(
            "candidates must be an OrganisationTable or a GeoDataFrame of "
            f"points, not {type(candidates).__name__}"
        )
    if len(cand) == 0:
        raise ValidationError("there are no candidate sites")
    if cand.crs is None:
        raise CRSError("the candidates have no CRS; set it (e.g. .set_crs('EPSG:4326'))")
    cand = to_bng(cand, name="candidates").reset_index(drop=True)
    for col, what in ((id_col, "id_col"), (name_col, "name_col")):
        if col is not None and col not in cand.columns:
            raise MissingColumnError(
                f"{what}={col!r} is not a column of the candidates (columns: {list(cand.columns)})"
            )
    icol = id_col or (S.ORG_ID if S.ORG_ID in cand.columns else None)
    ids = cand[icol].astype(str).to_numpy() if icol else np.array([str(i) for i in cand.index])
    ncol = name_col or (S.NAME if S.NAME in cand.columns else None)
    names = cand[ncol].astype(str).to_numpy() if ncol else ids
    return cand, ids, names


def _targets(
    cov: CoverageResult, t: int | float, weight: str, deprived_deciles: Sequence[int]
) -> _Targets:
    res = cov.residents
    wt_all, label = target_weights(cov, weight, deprived_deciles)
    placed = res[S.PLACED].to_numpy(bool) if S.PLACED in res.columns else np.ones(len(res), bool)
    uncovered = ~res[S.covered(t)].to_numpy(bool)
    tgt = np.flatnonzero(uncovered & placed & (wt_all > 0))
    w = res[S.WEIGHT].to_numpy(float)
    return _Targets(
        points=tgt,
        weights=wt_all[tgt],
        people=w[tgt],
        wards=res[S.WARD_CODE].to_numpy()[tgt],
        label=label,
        total=float(wt_all[uncovered & (wt_all > 0)].sum()),
        pop_total=float(res[S.WEIGHT].sum()),
        pop_covered=float(w[~uncovered].sum()),
    )


def _reach(
    cov: CoverageResult, cand: gpd.GeoDataFrame, tg: _Targets, metres: float, max_snap: float
) -> sparse.csr_matrix:
    """Candidates x target points within ``metres``, as the coverage measured them."""
    from cnmap.reach import crow_flies_reach_matrix, reach_matrix

    if not tg.points.size:
        return sparse.csr_matrix((len(cand), 0))
    pts = cov.residents.iloc[tg.points].geometry
    if cov.mode == "network":
        if cov.network is None:
            raise ValidationError(
                "this coverage result has no network attached; recompute "
                "it with coverage(..., network=net)"
            )
        return reach_matrix(cov.network, cand.geometry, pts, cutoff_m=metres, max_snap_m=max_snap)
    return crow_flies_reach_matrix(
        cand.geometry,
        pts,
        cutoff_m=metres,
        detour_factor=float(cov.params.get("detour_factor") or 1.0),
    )


def _why(  # noqa: PLR0913 (private: one pick's figures, called once per pick)
    rank: int,
    gain: float,
    people: float,
    newly: np.ndarray,
    tg: _Targets,
    ward_names: dict[Any, Any],
    t: int | float,
    weight: str,
    max_wards: int,
) -> tuple[str, str]:
    """A pick's reason in words, and the wards of the people it newly covers."""
    by_ward = pd.Series(tg.weights[newly], index=tg.wards[newly]).groupby(level=0).sum()
    by_ward = by_ward[by_ward > 0].sort_values(ascending=False)
    wn = [str(ward_names.get(c, c)) for c in by_ward.index]
    where = _join_names(wn[:max_wards], max(0, len(wn) - max_wards))
    extra = (
        f" ({people:,.0f} residents in all)"
        if weight != "population" and abs(people - gain) > 0.5
        else ""
    )
    why = (
        f"covers {gain:,.0f} {tg.label}{extra} not within {t:g} minutes of any "
        "organisation" + (" or an earlier pick" if rank > 1 else "") + f", in {where}"
    )
    return why, "; ".join(wn)


def _site_rows(
    R: sparse.csr_matrix,
    sel: SiteSelection,
    tg: _Targets,
    labels: tuple[np.ndarray, np.ndarray],
    ward_names: dict[Any, Any],
    t: int | float,
    weight: str,
    max_wards: int,
) -> pd.DataFrame:
    """One row per pick, in order, with the candidate's position in ``_pos``."""
    ids, names = labels
    covered = np.zeros(tg.points.size, dtype=bool)
    rows: list[dict[str, Any]] = []
    cum, cum_people = 0.0, 0.0
    for rank, (j, gain) in enumerate(zip(sel.sites, sel.gains, strict=True), start=1):
        cols = R.indices[R.indptr[j] : R.indptr[j + 1]]
        newly = cols[~covered[cols]]
        people = float(tg.people[newly].sum())
        covered[newly] = True
        cum += gain
        cum_people += people
        why, wards = _why(rank, gain, people, newly, tg, ward_names, t, weight, max_wards)
        rows.append(
            {
                "rank": rank,
                "candidate_id": ids[j],
                "name": names[j],
                "gain": gain,
                "people_newly_covered": people,
                "cumulative_gain": cum,
                "share_of_target": cum / tg.total if tg.total else np.nan,
                "share_covered_after": (tg.pop_covered + cum_people) / tg.pop_total
                if tg.pop_total
                else np.nan,
                "why": why,
                "wards": wards,
                "_pos": j,
            }
        )
    types = {"rank": int, "_pos": int, **dict.fromkeys(_FLOAT_COLUMNS, float)}
    return pd.DataFrame(rows, columns=[*SITE_COLUMNS, "_pos"]).astype(types)


def _sites_frame(df: pd.DataFrame, cand: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    geometry = cand.geometry.to_numpy()[df["_pos"].to_numpy(int)] if len(df) else []
    return gpd.GeoDataFrame(df[list(SITE_COLUMNS)], geometry=geometry, crs=S.BNG)


def _unplaced_candidates(cov: CoverageResult, cand: gpd.GeoDataFrame, max_snap: float) -> int:
    """Candidates too far from any walkable street to be picked (network mode)."""
    if cov.mode != "network" or cov.network is None:
        return 0
    from cnmap.network import snap_points

    n = int((~snap_points(cov.network, cand.geometry, max_snap_m=max_snap).ok).sum())
    if n:
        log.warning(
            "suggest_sites: %d of %d candidates are farther than %.0f m from any "
            "walkable street and cannot be picked",
            n,
            len(cand),
            max_snap,
        )
    return n


def _ward_names(cov: CoverageResult) -> dict[Any, Any]:
    if S.WARD_NAME not in cov.wards.columns:
        return {}
    names: dict[Any, Any] = cov.wards.set_index(S.WARD_CODE)[S.WARD_NAME].to_dict()
    return names


def _site_params(  # noqa: PLR0913 (private: the call parameters recorded as SiteParams)
    cov: CoverageResult,
    cand: gpd.GeoDataFrame,
    tg: _Targets,
    sel: SiteSelection,
    df: pd.DataFrame,
    *,
    t: int | float,
    weight: str,
    deciles: Sequence[int],
    metres: float,
    max_snap: float,
) -> SiteParams:
    """What a suggestion records: the call's parameters, the targets, why the search stopped
    early (if it did), and the totals."""
    k = sel.k
    stopped = (
        ""
        if len(sel.sites) == k
        else (
            f"stopped after {len(sel.sites)} site(s): no other candidate brings any target "
            f"resident within {t:g} minutes"
        )
    )
    return SiteParams(
        k=k,
        minutes=t,
        metres=metres,
        weight=weight,
        deprived_deciles=tuple(int(d) for d in deciles)
        if weight == "deprived_population"
        else None,
        target=tg.label,
        target_total=tg.total,
        target_points=int(tg.points.size),
        n_candidates=int(len(cand)),
        n_candidates_unplaced=_unplaced_candidates(cov, cand, max_snap),
        mode=cov.mode,
        speed_kmh=cov.speed_kmh,
        max_snap_m=max_snap,
        stopped=stopped,
        method=sel.method,
        greedy_total=sel.greedy_total,
        total=float(df["cumulative_gain"].iloc[-1]) if len(df) else 0.0,
        n_swaps=sel.n_swaps,
    )


def suggest_sites(  # noqa: PLR0913 (public API: keyword-only options, as osmnx)
    coverage: CoverageResult,
    candidates: Any,
    k: int,
    *,
    minutes: float | None = None,
    weight: str = "deprived_population",
    deprived_deciles: Sequence[int] = (1, 2),
    id_col: str | None = None,
    name_col: str | None = None,
    improve: bool = True,
    restarts: int = 10,
    max_wards_named: int = 3,
) -> SiteSuggestion:
    """The next ``k`` best sites: maximal coverage of the residents still out of reach.

    Each pick adds the candidate that brings the most *target* people within ``minutes`` who
    are not covered by the existing organisations (nor by the sites already picked), weighted
    by ``weight``: :func:`maximal_coverage` on the reach matrix of the candidates and those
    residents, measured as the coverage measured its walks (network, speed, snapping limit;
    crow-flies results use the straight line x the same detour factor). Greedy gains never
    increase and the greedy total is at least ``1 - 1/e`` (63%) of the optimum; with
    ``improve=True`` (default) swaps and restarts improve the set, listed in greedy order.
    ``docs/scenarios.md`` reports the gaps to the exact optimum measured with an
    integer-programming solver.

    Parameters
    ----------
    coverage
        The current coverage (:func:`cnmap.coverage.coverage`); its residents, network,
        speed and snapping limit are used.
    candidates
        Candidate venues: an OrganisationTable or GeoDataFrame of points (warm spaces,
        libraries, community buildings...).
    k
        Number of sites to pick (fewer rows when no candidate adds anyone).
    minutes
        Time limit; default the coverage's headline (:func:`cnmap.schema.default_minutes`).
    weight, deprived_deciles
        Who counts, and how much (:func:`target_weights`).
    id_col, name_col
        Candidate id and name columns (default ``org_id``/``name`` when present).
    improve
        Improve the greedy set by single swaps. False: the plain greedy picks, which are
        nested (the first 3 of ``k=5`` are the picks for ``k=3``); True: a set at least as
        good, not necessarily nested.
    restarts
        With ``improve``: also start the greedy + swaps from each of the ``restarts``
        candidates with the largest gain on their own as the first pick, and keep the best set.
    max_wards_named
        Wards named in ``why``.

    Returns
    -------
    SiteSuggestion
        ``.sites``: one row per pick (``rank``, ``candidate_id``, ``name``, ``gain``,
        ``people_newly_covered``, ``cumulative_gain``, ``share_of_target``,
        ``share_covered_after``, ``why``, ``wards``, geometry); ``.params``: the parameters,
        the plain greedy total (``greedy_total``), the final ``total`` and the number of swaps
        (also in ``.sites.attrs["params"]``). It also behaves as the ``.sites`` table.
    """
    cov = _checked_coverage(coverage)
    k = _whole("k", k, 1, "of sites ")
    restarts = _whole("restarts", restarts, 0)
    t = _time_limit(cov, minutes)
    cand, ids, names = _candidate_frame(candidates, id_col, name_col)
    tg = _targets(cov, t, weight, deprived_deciles)
    metres = cov.metres(t)
    max_snap = float(cov.params.get("max_snap_m", 500.0))
    R = _reach(cov, cand, tg, metres, max_snap)
    sel = maximal_coverage(
        R, tg.weights, k, improve=improve, restarts=restarts, tol=1e-9 * max(1.0, tg.total)
    )
    df = _site_rows(R, sel, tg, (ids, names), _ward_names(cov), t, weight, max_wards_named)
    sites = _sites_frame(df, cand)
    p = _site_params(
        cov,
        cand,
        tg,
        sel,
        df,
        t=t,
        weight=weight,
        deciles=deprived_deciles,
        metres=metres,
        max_snap=max_snap,
    )
    params = p.as_dict()
    sites.attrs["params"] = params
    if p.stopped:
        log.info("suggest_sites: %s", p.stopped)
    log.info(
        "suggest_sites: %d picks cover %.0f of %.0f %s out of reach",
        len(sites),
        p.total,
        tg.total,
        tg.label,
    )
    return SiteSuggestion(sites=sites, params=params, selection=sel)
