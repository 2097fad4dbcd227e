"""cnmap.scenarios.sites: the pure maximal_coverage solver (by hand, against brute force,
properties, errors) and suggest_sites as its adapter (same picks, the SiteSuggestion result,
time limits given as floats)."""

from __future__ import annotations

import itertools

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import sparse

from cnmap import schema as S
from cnmap.coverage import coverage
from cnmap.errors import ValidationError
from cnmap.scenarios import (
    SiteParams,
    SiteSelection,
    SiteSuggestion,
    maximal_coverage,
    suggest_sites,
    target_weights,
)
from tests.helpers import lattice as L

# three candidates, four points: 0 reaches points 0-1, 1 reaches 1-2, 2 reaches 2-3
REACH = np.array([[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1]], dtype=bool)
WEIGHTS = np.array([5.0, 1.0, 1.0, 5.0])

LINE_NET = L.line_network()
LINE_AREA = L.line_area()
LAT_N = 8
LAT_NET = L.lattice_network(LAT_N, 100.0)
LAT_AREA = L.lattice_area(LAT_N, 100.0)


# ---------------------------------------------------------------------------------------------
# maximal_coverage, by hand


def test_maximal_coverage_by_hand():
    sel = maximal_coverage(REACH, WEIGHTS, 2)
    assert isinstance(sel, SiteSelection)
    assert sel.sites == (0, 2) and sel.gains == (6.0, 6.0)
    assert sel.total == sel.greedy_total == 12.0
    # the restart opening with candidate 1 swaps it for candidate 2 (counted, not better)
    assert sel.n_swaps == 1
    assert sel.method == "greedy maximal coverage + interchange (10 restarts)"
    # one site: the first of the two best (ties go to the lower row)
    assert maximal_coverage(REACH, WEIGHTS, 1).sites == (0,)
    # more sites than useful: stops when nobody is left to cover
    three = maximal_coverage(REACH, WEIGHTS, 3)
    assert three.sites == (0, 2) and three.total == 12.0
    plain = maximal_coverage(REACH, WEIGHTS, 2, improve=False)
    assert plain.sites == (0, 2) and plain.method == "greedy maximal coverage"


def test_existing_and_allowed():
    # points 0 and 1 are already covered: only 2 and 3 count, candidate 2 covers both
    sel = maximal_coverage(REACH, WEIGHTS, 1, existing=np.array([True, True, False, False]))
    assert sel.sites == (2,) and sel.gains == (6.0,)
    # candidate 0 may not be picked: row numbers or a mask give the same answer
    rows = maximal_coverage(REACH, WEIGHTS, 2, allowed=[1, 2])
    mask = maximal_coverage(REACH, WEIGHTS, 2, allowed=np.array([False, True, True]))
    assert rows == mask
    assert rows.sites == (2, 1) and rows.gains == (6.0, 1.0)
    assert maximal_coverage(REACH, WEIGHTS, 2, allowed=[]).sites == ()


def test_reach_values_are_ignored_and_stored_zeros_count():
    # distances with an explicit stored 0 (a candidate on top of a point): the same as 0/1
    R = sparse.csr_matrix(REACH.astype(float) * 250.0)
    R.data[0] = 0.0  # candidate 0 -> point 0 at 0 m, still stored
    assert R.nnz == 6
    before = R.data.copy()
    assert maximal_coverage(R, WEIGHTS, 2) == maximal_coverage(REACH, WEIGHTS, 2)
    np.testing.assert_array_equal(R.data, before)  # the input is not changed
    assert maximal_coverage(sparse.csr_array(REACH), WEIGHTS, 2).sites == (0, 2)


def test_swaps_find_what_the_greedy_misses():
    # the classic trap: candidate 0 reaches the middle four people, candidates 1 and 2 three
    # each at either end; the greedy opens 0 first and then adds one person, the swaps find
    # the two ends (everybody)
    reach = np.array([[0, 1, 1, 1, 1, 0], [1, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1]], dtype=bool)
    w = np.ones(6)
    plain = maximal_coverage(reach, w, 2, improve=False)
    best = maximal_coverage(reach, w, 2)
    assert plain.sites == (0, 1) and plain.gains == (4.0, 1.0)
    assert best.sites == (1, 2) and best.gains == (3.0, 3.0) and best.total == 6.0
    assert best.greedy_total == 5.0 and best.n_swaps >= 1
    assert brute_force(reach, w, 2) == 6.0


def brute_force(reach: np.ndarray, w: np.ndarray, k: int) -> float:
    n_c = reach.shape[0]
    best = 0.0
    for combo in itertools.combinations(range(n_c), min(k, n_c)):
        best = max(best, float(w[reach[list(combo)].any(axis=0)].sum()))
    return best


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 100_000),
    n_c=st.integers(1, 7),
    n_p=st.integers(0, 12),
    k=st.integers(1, 4),
    density=st.floats(0.05, 0.6),
)
def test_against_brute_force(seed, n_c, n_p, k, density):
    rng = np.random.default_rng(seed)
    reach = rng.random((n_c, n_p)) < density
    w = rng.integers(0, 20, n_p).astype(float)
    best = brute_force(reach, w, k)
    sel = maximal_coverage(sparse.csr_matrix(reach), w, k)
    plain = maximal_coverage(reach, w, k, improve=False)
    g = np.array(sel.gains)
    assert (g > 0).all() and (np.diff(g) <= 0).all()
    assert len(set(sel.sites)) == len(sel.sites) <= k
    assert (
        sel.total
        == pytest.approx(g.sum())
        == pytest.approx(float(w[reach[list(sel.sites)].any(axis=0)].sum()) if sel.sites else 0.0)
    )
    assert plain.total - 1e-9 <= sel.total <= best + 1e-9
    assert plain.total >= (1 - 1 / np.e) * best - 1e-9
    # the plain greedy picks are nested
    if k > 1:
        assert maximal_coverage(reach, w, k - 1, improve=False).sites == plain.sites[: k - 1]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"k": 0}, "k=0 must be a whole number of sites >= 1"),
        ({"k": 2.5}, "k=2.5"),
        ({"k": True}, "k=True"),
        ({"restarts": -1}, "restarts=-1 must be a whole number >= 0"),
        ({"weights": [1.0, 2.0]}, "one weight per point"),
        ({"weights": [1.0, -2.0, 0.0, 0.0]}, "finite numbers >= 0"),
        ({"weights": [1.0, np.nan, 0.0, 0.0]}, "finite numbers >= 0"),
        ({"existing": [0, 1, 0, 0]}, "existing must be a boolean array"),
        ({"allowed": [0, 3]}, "candidate rows 0 to 2"),
        ({"allowed": [True, False]}, "allowed has 2 values for 3 candidates"),
        ({"reach": "not a matrix"}, "reach must be a 2-D matrix"),
    ],
)
def test_maximal_coverage_errors(kwargs, match):
    args = {"reach": REACH, "weights": WEIGHTS, "k": 2, **kwargs}
    with pytest.raises(ValidationError, match=match):
        maximal_coverage(args.pop("reach"), args.pop("weights"), args.pop("k"), **args)


# ---------------------------------------------------------------------------------------------
# suggest_sites: the adapter


def line_cov(xs, minutes=(5, 10)):
    return coverage(
        L.orgs_at(xs),
        LINE_AREA,
        network=LINE_NET,
        residents=L.line_residents(),
        minutes=list(minutes),
    )


def line_candidates() -> gpd.GeoDataFrame:
    cands = L.orgs_at([500, 900, 700])
    cands["org_id"] = ["c500", "c900", "c700"]
    return cands


def test_minutes_as_a_float_is_the_same_limit():
    a = line_cov([0])
    cands = line_candidates()
    whole = suggest_sites(a, cands, 2, minutes=5)
    decimal = suggest_sites(a, cands, 2, minutes=5.0)
    pd.testing.assert_frame_equal(decimal.sites, whole.sites)
    assert decimal.params == whole.params
    assert decimal.params["minutes"] == 5 and isinstance(decimal.params["minutes"], int)
    assert decimal.sites["why"].str.contains("within 5 minutes").all()
    # numpy scalars too
    assert suggest_sites(a, cands, 2, minutes=np.float64(10)).params["minutes"] == 10
    with pytest.raises(ValidationError, match="minutes=7.5 is not among"):
        suggest_sites(a, cands, 1, minutes=7.5)


def test_the_suggestion_object():
    a = line_cov([0], minutes=(5,))
    cands = line_candidates()
    s = suggest_sites(a, cands, 2, weight="population")
    assert isinstance(s, SiteSuggestion) and isinstance(s.sites, gpd.GeoDataFrame)
    assert list(s.sites.columns) == [
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
        "geometry",
    ]
    assert s.params is s.sites.attrs["params"]
    p = s.parameters
    assert isinstance(p, SiteParams) and p.as_dict() == s.params
    assert p.k == 2 and p.minutes == 5 and p.deprived_deciles is None and p.total == 500.0
    assert suggest_sites(a, cands, 1).parameters.deprived_deciles == (1, 2)
    gains = s.gains
    assert type(gains) is pd.DataFrame and "geometry" not in gains.columns
    assert gains["candidate_id"].tolist() == ["c700"]
    # the solver's rows are rows of the candidates
    assert [cands["org_id"].iloc[j] for j in s.selection.sites] == ["c700"]
    # it still reads as the table it used to be
    assert len(s) == 1 and s["gain"].tolist() == [500.0] and "gain" in s
    assert list(s) == list(s.sites.columns)
    assert s.crs == s.sites.crs and s.attrs["params"]["k"] == 2
    assert s.geometry.x.iloc[0] == pytest.approx(L.X0 + 700)
    assert s.iloc[0]["name"] == s.sites.iloc[0]["name"]
    assert repr(s).startswith(
        "SiteSuggestion(1 of k=2 sites from 3 candidates, 500 of 500 "
        "residents out of reach within 5 minutes)"
    )
    with pytest.raises(AttributeError):
        s.no_such_attribute  # noqa: B018


def lattice_case(seed: int, n_cand: int, m: int = 60):
    rng = np.random.default_rng(seed)
    res = L.lattice_residents(rng, LAT_N, 100.0, m)
    existing = L.random_points(rng, 1, LAT_N, 100.0).assign(org_id="existing")
    cands = L.random_points(rng, n_cand, LAT_N, 100.0, off=rng.uniform(0, 10))
    cov = coverage(existing, LAT_AREA, network=LAT_NET, residents=res, minutes=[3, 5])
    return cov, cands


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 100_000),
    n_cand=st.integers(1, 12),
    k=st.integers(1, 5),
    weight=st.sampled_from(["population", "deprived_population"]),
    minutes=st.sampled_from([3, 5]),
)
@pytest.mark.slow
def test_suggest_sites_is_the_solver_on_the_reach_matrix(seed, n_cand, k, weight, minutes):
    from cnmap.reach import reach_matrix

    cov, cands = lattice_case(seed, n_cand)
    s = suggest_sites(cov, cands, k, weight=weight, minutes=minutes)
    res = cov.residents
    w, _ = target_weights(cov, weight)
    R = reach_matrix(
        cov.network,
        cands.geometry,
        res.geometry,
        cutoff_m=cov.metres(minutes),
        max_snap_m=cov.params["max_snap_m"],
    )
    sel = maximal_coverage(R, w, k, existing=res[S.covered(minutes)].to_numpy(bool))
    assert sel.total == pytest.approx(s.params["total"])
    assert sel.greedy_total == pytest.approx(s.params["greedy_total"])
    assert list(s.selection.sites) == list(sel.sites)
    np.testing.assert_allclose(s.sites["gain"], sel.gains)
