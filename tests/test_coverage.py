"""cnmap.coverage: hand-checked lattice, property tests and the Birmingham acceptance run."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import Point

from cnmap.coverage import coverage, weighted_median
from cnmap.errors import CRSError, MissingColumnError, ValidationError

# the hand-made street, area and residents shared with the scenario, reach, hours and basket
# tests: one street of 11 nodes 100 m apart; LSOA L1 (x < 500, decile 1), L2 (decile 9); one ward
from tests.helpers import lattice as L

BNG, X0, Y0 = L.BNG, L.X0, L.Y0
line_network, line_area, line_residents, orgs_at = (
    L.line_network,
    L.line_area,
    L.line_residents,
    L.orgs_at,
)


@pytest.fixture(scope="module")
def line():
    return line_network(), line_area(), line_residents()


def test_line_hand_checked(line):
    net, area, res = line
    r = coverage(orgs_at([0]), area, network=net, residents=res, minutes=[5, 10, 15])
    # walks: 50 + 10 = 60 m, 450 + 10 = 460 m, 950 + 10 = 960 m; 80 m/min: 0.75, 5.75, 12 min
    np.testing.assert_allclose(r.residents["walk_m"], [60, 460, 960])
    np.testing.assert_allclose(r.residents["walk_min"], [0.75, 5.75, 12.0])
    t = r.totals.set_index("minutes")
    assert t.loc[5, "metres"] == pytest.approx(400)
    assert t.loc[5, "pop_covered"] == 100 and t.loc[10, "pop_covered"] == 300
    assert t.loc[15, "pop_covered"] == 600 and t.loc[15, "share_covered"] == 1.0
    L = r.lsoas.set_index("lsoa_code")
    assert L.loc["L1", "share_covered_5min"] == pytest.approx(1 / 3)
    assert L.loc["L1", "share_covered_10min"] == 1.0 and L.loc["L2", "share_covered_10min"] == 0.0
    assert L.loc["L1", "mean_walk_min"] == pytest.approx((100 * 0.75 + 200 * 5.75) / 300)
    assert L.loc["L1", "median_walk_min"] == pytest.approx(5.75)
    assert L.loc["L2", "mean_reachable_15min"] == 1.0
    W = r.wards.set_index("ward_code")
    assert W.loc["W1", "population"] == 600 and W.loc["W1", "pop_covered_10min"] == 300
    d = r.deciles.set_index("imd_decile")
    assert d.loc[1, "share_covered_5min"] == pytest.approx(1 / 3) and d.loc[9, "population"] == 300
    assert np.isnan(d.loc[5, "population"])  # no LSOA in decile 5
    assert r.params["speed_kmh"] == 4.8 and r.params["minutes"] == [5, 10, 15]


def test_line_by_type_and_speed(line):
    net, area, res = line
    r = coverage(
        orgs_at([0, 1000], types=["Advice", "Food bank"]),
        area,
        network=net,
        residents=res,
        minutes=[5],
        speed_kmh=2.4,
    )  # 40 m/min: 5 min = 200 m
    assert r.types == ("advice", "food_bank")
    np.testing.assert_allclose(r.residents["walk_m"], [60, 460, 60])
    np.testing.assert_allclose(
        r.residents["walk_min_food_bank"], [(950 + 10) / 40, 560 / 40, 60 / 40]
    )
    L = r.lsoas.set_index("lsoa_code")
    assert L.loc["L2", "share_covered_5min_food_bank"] == 1.0
    assert L.loc["L2", "share_covered_5min_advice"] == 0.0
    assert L.loc["L1", "share_covered_5min_advice"] == pytest.approx(1 / 3)
    assert r.params["speed_kmh"] == 2.4


def test_same_street_direct_walk(line):
    net, area, res = line
    # organisation in the middle of the edge 400-500, 5 m off the street: the resident at 450
    # is on the same edge: 5 (org access) + 0 along + 10 (resident access) = 15 m
    org = gpd.GeoDataFrame({"name": ["Mid"]}, geometry=[Point(X0 + 450, Y0 - 5)], crs=BNG)
    r = coverage(org, area, network=net, residents=res, minutes=[1])
    assert r.residents["walk_m"].iloc[1] == pytest.approx(15.0)
    assert r.residents["walk_m"].iloc[0] == pytest.approx(5 + 400 + 10)


def test_persona_older_walkers(line):
    net, area, res = line
    std = coverage(orgs_at([0]), area, network=net, residents=res, minutes=[10])
    old = coverage(orgs_at([0]), area, network=net, residents=res, minutes=[10], persona="older")
    assert old.speed_kmh < std.speed_kmh and old.params["persona"] == "older"
    assert old.totals["pop_covered"].iloc[0] <= std.totals["pop_covered"].iloc[0]


def test_crow_flies_explicit_factor(line):
    _, area, res = line
    r = coverage(
        orgs_at([0]), area, residents=res, minutes=[5], mode="crow_flies", detour_factor=1.0
    )
    assert r.mode == "crow_flies" and r.params["detour_factor"] == 1.0
    assert r.residents["walk_m"].iloc[0] == pytest.approx(np.hypot(50, 10))
    r2 = coverage(
        orgs_at([0]), area, residents=res, minutes=[5], mode="crow_flies", detour_factor=2.0
    )
    assert r2.residents["walk_m"].iloc[0] == pytest.approx(2 * np.hypot(50, 10))
    with pytest.raises(ValidationError, match="catchments need the street network"):
        r.catchments()


def test_far_resident_reported_not_covered(line):
    net, area, res = line
    far = pd.concat(
        [
            res,
            gpd.GeoDataFrame(
                {"lsoa_code": ["L2"], "ward_code": ["W1"], "weight": [50.0]},
                geometry=[Point(X0 + 900, Y0 + 900)],
                crs=BNG,
            ),
        ],
        ignore_index=True,
    )
    r = coverage(orgs_at([0]), area, network=net, residents=far, minutes=[20], max_snap_m=500)
    assert not r.residents["covered_20min"].iloc[3]
    assert r.lsoas.set_index("lsoa_code").loc["L2", "pop_unplaced"] == 50
    assert "residential points not placed" in set(r.quality["what"])
    assert r.totals["population"].iloc[0] == 650


def test_errors(line):
    net, area, res = line
    with pytest.raises(ValidationError, match="needs network="):
        coverage(orgs_at([0]), area, residents=res)
    with pytest.raises(ValidationError, match="positive number of minutes"):
        coverage(orgs_at([0]), area, network=net, residents=res, minutes=[-5])
    with pytest.raises(ValidationError, match="persona='jogger' is unknown"):
        coverage(orgs_at([0]), area, network=net, residents=res, persona="jogger")
    with pytest.raises(ValidationError, match="mode='bus'"):
        coverage(orgs_at([0]), area, network=net, residents=res, mode="bus")
    with pytest.raises(ValidationError, match="detour_factor"):
        coverage(orgs_at([0]), area, residents=res, mode="crow_flies")
    with pytest.raises(MissingColumnError, match="type_col='kind'"):
        coverage(orgs_at([0]), area, network=net, residents=res, type_col="kind")
    with pytest.raises(CRSError, match="no CRS"):
        coverage(orgs_at([0]).set_crs(None, allow_override=True), area, network=net, residents=res)
    with pytest.raises(ValidationError, match="at least one point"):
        coverage(orgs_at([]), area, network=net, residents=res)
    with pytest.raises(MissingColumnError, match="weight"):
        coverage(orgs_at([0]), area, network=net, residents=res.drop(columns="weight"))


def test_weighted_median_by_hand():
    m = weighted_median(
        np.array(["a", "a", "a", "b"]),
        np.array([3.0, 1.0, 2.0, np.nan]),
        np.array([1.0, 1.0, 5.0, 1.0]),
    )
    assert m["a"] == 2.0 and "b" not in m.index


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(xs=st.lists(st.floats(0, 1000), min_size=1, max_size=4), extra=st.floats(0, 1000))
@pytest.mark.slow
def test_properties_on_the_line(line, xs, extra):
    net, area, res = line
    a = coverage(orgs_at(xs), area, network=net, residents=res, minutes=[2, 5, 10, 15])
    b = coverage(orgs_at([*xs, extra]), area, network=net, residents=res, minutes=[2, 5, 10, 15])
    cov = a.lsoas[[f"pop_covered_{t}min" for t in (2, 5, 10, 15)]].to_numpy()
    assert (np.diff(cov, axis=1) >= -1e-9).all()  # never falls as minutes grow
    assert (
        b.lsoas.filter(like="pop_covered").to_numpy() >= cov - 1e-9
    ).all()  # adding never lowers
    assert (b.residents["walk_m"].to_numpy() <= a.residents["walk_m"].to_numpy() + 1e-9).all()


# --------------------------------------------------------------------------------------------
# Birmingham (real data through the mirror)


@pytest.fixture(scope="module")
def birmingham(shared_data):
    import cnmap
    from cnmap.network import read_walk_network

    area = cnmap.load_area("E08000025", lsoa_vintage=2011, iod=2019)
    orgs = cnmap.read_organisations(
        shared_data / "birmingham/osm/warm_spaces_birmingham.geojson", area=area
    )
    net = read_walk_network(shared_data / "birmingham/osm/birmingham_walk_osm_2021-08.gpkg")
    return area, orgs, net


@pytest.mark.slow
def test_birmingham_warm_spaces_acceptance(birmingham):
    area, orgs, net = birmingham
    r = coverage(orgs, area, network=net, minutes=[5, 10, 15, 20], speed_kmh=4.8)
    assert len(r.wards) == 69 and r.wards["share_covered_15min"].notna().all()
    assert r.wards["population"].sum() == pytest.approx(1_112_305, abs=1)
    assert r.lsoas["population"].sum() == pytest.approx(1_112_305, abs=1)
    assert len(r.lsoas) == 639
    shares = r.totals["share_covered"].to_numpy()
    assert (np.diff(shares) >= 0).all()
    # per-LSOA and per-ward coverage never falls as minutes grow
    for frame in (r.lsoas, r.wards):
        cov = frame[[f"pop_covered_{t}min" for t in (5, 10, 15, 20)]].to_numpy()
        assert (np.diff(cov, axis=1) >= -1e-6).all()
    # numbers agree across tables: decile and ward totals equal the city total
    t15 = r.totals.set_index("minutes").loc[15, "pop_covered"]
    assert r.wards["pop_covered_15min"].sum() == pytest.approx(t15)
    assert r.deciles["pop_covered_15min"].sum() == pytest.approx(t15)
    assert 0.5 < r.share_covered(15) < 1.0
    assert r.params["metres"][2] == pytest.approx(1200)


@pytest.mark.slow
def test_birmingham_adding_organisations_never_lowers_coverage(birmingham):
    area, orgs, net = birmingham
    full = orgs.organisations
    rng = np.random.default_rng(7)
    subset = full.iloc[np.sort(rng.choice(len(full), len(full) // 2, replace=False))]
    a = coverage(subset, area, network=net, minutes=[10, 15], type_col=None)
    b = coverage(full, area, network=net, minutes=[10, 15], type_col=None)
    for t in (10, 15):
        assert (
            b.lsoas[f"pop_covered_{t}min"].to_numpy()
            >= a.lsoas[f"pop_covered_{t}min"].to_numpy() - 1e-6
        ).all()
        assert (
            b.wards[f"pop_covered_{t}min"].to_numpy()
            >= a.wards[f"pop_covered_{t}min"].to_numpy() - 1e-6
        ).all()
    assert (b.residents["walk_m"].to_numpy() <= a.residents["walk_m"].to_numpy() + 1e-6).all()
    assert b.share_covered(15) > a.share_covered(15)


def test_cnmap_coverage_is_callable_after_module_import(line):
    import importlib
    import sys

    import cnmap

    importlib.import_module("cnmap.coverage")  # importing the module again leaves the name
    mod = sys.modules["cnmap.coverage"]
    assert cnmap.coverage is mod.coverage and not isinstance(cnmap.coverage, type(sys))
    net, area, res = line
    r = cnmap.coverage(orgs_at([0]), area, network=net, residents=res, minutes=[5])
    assert isinstance(r, mod.CoverageResult) and r.totals["pop_covered"].iloc[0] == 100


def test_mean_reachable_by_type(line):
    net, area, res = line
    r = coverage(
        orgs_at([0, 100, 1000], types=["a", "a", "b"]),
        area,
        network=net,
        residents=res,
        minutes=[15],
    )  # 1,200 m: every resident reaches all three
    L = r.lsoas.set_index("lsoa_code")
    assert (
        L.loc["L1", "mean_reachable_15min_a"] == 2.0
        and L.loc["L1", "mean_reachable_15min_b"] == 1.0
    )
    assert L.loc["L1", "mean_reachable_15min"] == 3.0
    r5 = coverage(
        orgs_at([0, 100, 1000], types=["a", "a", "b"]),
        area,
        network=net,
        residents=res,
        minutes=[5],
    )  # 400 m: x=50 reaches both a's; x=450 reaches the one at 100 (360 m)
    L5 = r5.lsoas.set_index("lsoa_code")
    assert L5.loc["L1", "mean_reachable_5min_a"] == pytest.approx((100 * 2 + 200 * 1) / 300)
    assert L5.loc["L2", "mean_reachable_5min_b"] == 1.0


def test_no_organisation_placed_gives_zero_coverage_not_a_crash(line):
    # the only organisation is 5 km from the street: nobody can walk to it
    net, area, res = line
    far = gpd.GeoDataFrame(
        {"org_id": ["far"], "name": ["Far away"]}, geometry=[Point(X0 + 500, Y0 + 5000)], crs=BNG
    )
    r = coverage(far, area, network=net, residents=res, minutes=[15])
    assert r.totals["pop_covered"].iloc[0] == 0.0 and r.share_covered(15) == 0.0
    assert np.isnan(r.totals["mean_walk_min"].iloc[0])
    assert r.lsoas["mean_walk_min"].isna().all() and (r.lsoas["share_covered_15min"] == 0).all()
    assert not r.organisations["snapped"].iloc[0]
    assert list(r.quality["id"]) == ["far"]


def test_bad_residents_and_populations_are_errors_not_silent_drops(line):
    import dataclasses

    from cnmap.residents import residential_points

    net, area, res = line
    nan_w = res.copy()
    nan_w.loc[1, "weight"] = np.nan
    with pytest.raises(ValidationError, match=r"'weight'.*rows \[1\]"):
        coverage(orgs_at([0]), area, network=net, residents=nan_w)
    neg_w = res.copy()
    neg_w.loc[2, "weight"] = -5.0
    with pytest.raises(ValidationError, match=r"rows \[2\]"):
        coverage(orgs_at([0]), area, network=net, residents=neg_w)
    # a point in an LSOA / ward that is not the area's would be counted in the totals but in no
    # LSOA / ward row
    stray = res.copy()
    stray.loc[0, "lsoa_code"] = "E01999999"
    with pytest.raises(ValidationError, match=r"E01999999.*rows \[0\]"):
        coverage(orgs_at([0]), area, network=net, residents=stray)
    stray_w = res.copy()
    stray_w.loc[2, "ward_code"] = "W9"
    with pytest.raises(ValidationError, match=r"ward_code.*W9"):
        coverage(orgs_at([0]), area, network=net, residents=stray_w)
    with pytest.raises(CRSError, match="residents"):
        coverage(orgs_at([0]), area, network=net, residents=res.set_crs(None, allow_override=True))
    # an LSOA without population: its people would silently vanish from every table
    lsoas = area.lsoas.copy()
    lsoas.loc[1, "population"] = np.nan
    holed = dataclasses.replace(area, lsoas=lsoas)
    with pytest.raises(ValidationError, match=r"population.*\['L2'\]"):
        residential_points(holed, method="centroids")
    with pytest.raises(ValidationError, match=r"\['L2'\]"):
        coverage(orgs_at([0]), holed, network=net, residents="streets")
    # the caller's frames are untouched
    assert (
        res["weight"].tolist() == [100.0, 200.0, 300.0] and area.lsoas["population"].notna().all()
    )


def test_typed_parameters_and_column_builders(line):
    from cnmap import schema as S
    from cnmap.params import CoverageParams

    net, area, res = line
    r = coverage(
        orgs_at([0, 1000], types=["Advice", "Food bank"]),
        area,
        network=net,
        residents=res,
        minutes=[7.5, 15.0],
    )
    assert r.thresholds == (7.5, 15) and r.headline_minutes == 15
    p = r.parameters
    assert isinstance(p, CoverageParams) and p.as_dict() == r.params
    assert p.speed_kmh == r.params["speed_kmh"] == 4.8 and p.minutes == (7.5, 15)
    assert p.organisation_types == ("advice", "food_bank")
    # every table column named by the schema builders, whatever the minutes' type
    for m in (7.5, np.float64(7.5), 15, 15.0, np.float64(15)):
        for k in (None, "advice", "food_bank"):
            assert S.covered(m, k) in r.residents.columns
            assert S.n_reachable(m, k) in r.residents.columns
            assert S.share_covered(m, k) in r.lsoas.columns
            assert S.mean_reachable(m, k) in r.wards.columns
        assert S.pop_covered(m) in r.deciles.columns
    assert S.mean_walk_min("food_bank") in r.lsoas.columns
    assert S.walk_min("advice") in r.residents.columns
    assert r.share_covered(15.0) == r.share_covered(15)
    # the shared aggregation gives the LSOA table's figures from the residents
    from cnmap.aggregate import coverage_figures

    figs = coverage_figures(r.residents, "lsoa_code", r.thresholds, r.types)
    pd.testing.assert_frame_equal(
        figs.reset_index(drop=True),
        pd.DataFrame(
            r.lsoas.set_index("lsoa_code").loc[figs.index, list(figs.columns)]
        ).reset_index(drop=True),
    )


@pytest.mark.parametrize(
    ("far_people", "status"),
    [(0.0, None), (5.0, None), (10.0, "warn"), (50.0, "warn"), (100.0, "refuse")],
)
def test_network_that_does_not_cover_the_residents_is_guarded(line, far_people, status):
    """Residents the network cannot place: a note above 1 %, a refusal above 10 %."""
    net, area, res = line
    far = (
        res
        if not far_people
        else pd.concat(
            [
                res,
                gpd.GeoDataFrame(
                    {"lsoa_code": ["L2"], "ward_code": ["W1"], "weight": [far_people]},
                    geometry=[Point(X0 + 900, Y0 + 900)],
                    crs=BNG,
                ),
            ],
            ignore_index=True,
        )
    )
    share = far_people / (600.0 + far_people)
    if status == "refuse":
        with pytest.raises(ValidationError, match=r"14\.3 ?%.*(network|crow_flies)"):
            coverage(orgs_at([0]), area, network=net, residents=far, minutes=[20])
        return
    r = coverage(orgs_at([0]), area, network=net, residents=far, minutes=[20])
    guard = r.params["snap_coverage"]
    assert guard["share_unplaced"] == pytest.approx(share)
    notes = r.quality[r.quality["what"] == "network coverage"]
    if status is None:
        assert guard["status"] == "ok" and notes.empty  # 0.8 % unplaced: no note
    else:
        assert guard["status"] == status and len(notes) == 1
        assert f"{share:.1%}".rstrip("%") in notes["detail"].iat[0]
