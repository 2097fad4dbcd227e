"""cnmap.thin: a hand-checked street of four LSOAs and two wards, every error, Birmingham.

The street (x in metres from its west end; residents 10 m off the street; one organisation at
x = 0; 4.8 km/h = 80 m/min, so 15 minutes = 1,200 m)::

    LSOA  ward  IMD rank (decile)  residents (x: people)      walk (m)     within 15 min
    A     W1    100 (1)            50: 100, 450: 100          60, 460      200 of 200
    B     W1    5000 (2)           550: 200, 950: 200         560, 960     400 of 400
    C     W2    1500 (1)           1050: 300, 1450: 100       1060, 1460   300 of 400
    D     W2    3000 (1)           1550: 100, 1950: 300       1560, 1960   0 of 400
"""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString, Point, box

from cnmap.area import Area
from cnmap.coverage import coverage
from cnmap.errors import MissingColumnError, ValidationError
from cnmap.network import walk_network_from_graph
from cnmap.thin import ThinResult, thin_areas

BNG = "EPSG:27700"
X0, Y0 = 400000.0, 280000.0
N19 = 32844  # LSOAs in England, IoD2019
A, B, C, D = "E01000001", "E01000002", "E01000003", "E01000004"  # the four LSOAs


def street(n: int = 21, step: float = 100.0):
    G = nx.MultiGraph(crs=BNG)
    for i in range(n):
        G.add_node(i, x=X0 + i * step, y=Y0)
    for i in range(n - 1):
        G.add_edge(
            i,
            i + 1,
            length=step,
            geometry=LineString([(X0 + i * step, Y0), (X0 + (i + 1) * step, Y0)]),
        )
    return walk_network_from_graph(G)


def street_area(iod_cols: dict | None = None, iod: int = 2019) -> Area:
    cols = (
        {
            "imd_rank": [100, 5000, 1500, 3000],
            "imd_decile": [1, 2, 1, 1],
            "imd_score": [60.0, 35.0, 50.0, 45.0],
            "income_rank": [200, 9000, 700, 30000],
            "income_decile": [1, 3, 1, 10],
            "crime_rank": [32844, 1, 16000, 3285],
        }
        if iod_cols is None
        else iod_cols
    )
    lsoas = gpd.GeoDataFrame(
        {
            "lsoa_code": [A, B, C, D],
            "lsoa_name": [A, B, C, D],
            "ward_code": ["W1", "W1", "W2", "W2"],
            "ward_name": ["One", "One", "Two", "Two"],
            "population": [200.0, 400.0, 400.0, 400.0],
            "pop_total": [200, 400, 400, 400],
            **cols,
        },
        geometry=[
            box(X0 + 500 * k - (50 if k == 0 else 0), Y0 - 100, X0 + 500 * (k + 1), Y0 + 100)
            for k in range(4)
        ],
        crs=BNG,
    )
    wards = gpd.GeoDataFrame(
        {"ward_code": ["W1", "W2"], "ward_name": ["One", "Two"], "lad_code": ["X", "X"]},
        geometry=[
            box(X0 - 50, Y0 - 100, X0 + 1000, Y0 + 100),
            box(X0 + 1000, Y0 - 100, X0 + 2000, Y0 + 100),
        ],
        crs=BNG,
    )
    return Area(
        lad_code="X",
        lad_name="Street",
        wards=wards,
        lsoas=lsoas,
        boundary=wards.dissolve(),
        lookup=lsoas[["lsoa_code", "ward_code"]],
        sources=pd.DataFrame({"id": ["hand"], "attribution": ["made by hand"]}),
        iod=iod,
    )


def street_residents() -> gpd.GeoDataFrame:
    xs = [50, 450, 550, 950, 1050, 1450, 1550, 1950]
    return gpd.GeoDataFrame(
        {
            "lsoa_code": [A, A, B, B, C, C, D, D],
            "ward_code": ["W1"] * 4 + ["W2"] * 4,
            "weight": [100.0, 100.0, 200.0, 200.0, 300.0, 100.0, 100.0, 300.0],
        },
        geometry=[Point(X0 + x, Y0 + 10) for x in xs],
        crs=BNG,
    )


def orgs_at(xs, types=None) -> gpd.GeoDataFrame:
    data = {
        "org_id": [f"o{i}" for i in range(len(xs))],
        "name": [f"Org {i}" for i in range(len(xs))],
    }
    if types is not None:
        data["type"] = types
    return gpd.GeoDataFrame(data, geometry=[Point(X0 + x, Y0) for x in xs], crs=BNG)


@pytest.fixture(scope="module")
def cov():
    return coverage(
        orgs_at([0]),
        street_area(),
        network=street(),
        residents=street_residents(),
        minutes=[5, 10, 15],
    )


@pytest.fixture(scope="module")
def th(cov):
    return thin_areas(cov)


# --------------------------------------------------------------------------------------------
# hand-checked


def test_lsoa_figures_by_hand(th):
    L = th.lsoas.set_index("lsoa_code")
    assert L["share_covered"].to_dict() == pytest.approx({A: 1.0, B: 1.0, C: 0.75, D: 0.0})
    assert L["pop_out_of_reach"].to_dict() == pytest.approx({A: 0, B: 0, C: 100, D: 400})
    # deprived = IMD decile <= 2: all four LSOAs here
    assert L["deprived_pop_out_of_reach"].to_dict() == pytest.approx({A: 0, B: 0, C: 100, D: 400})
    assert L["mean_reachable"].to_dict() == pytest.approx({A: 1, B: 1, C: 0.75, D: 0})
    assert L["orgs_located"].to_dict() == {A: 1, B: 0, C: 0, D: 0}
    assert L["orgs_per_1000"].to_dict() == pytest.approx({A: 5.0, B: 0, C: 0, D: 0})
    # D: (100 x 1560 + 300 x 1960) / 400 m at 80 m/min = 23.25 min
    assert L.loc[D, "mean_walk_min"] == pytest.approx(23.25)
    assert L["deprivation_decile"].tolist() == [1, 2, 1, 1]
    assert L["deprivation_score"].tolist() == [60.0, 35.0, 50.0, 45.0]
    assert L["thin"].to_dict() == {A: False, B: False, C: False, D: True}


def test_classes_ranks_and_reasons_by_hand(th):
    L = th.lsoas.set_index("lsoa_code")
    # deprivation worst-first A(100) C(1500) D(3000) B(5000): terciles 3, 2, 2, 1
    # provision worst-first D(0) C(.75) B(1.0, 0 orgs located) A(1.0, 5 per 1,000): 1, 2, 2, 3
    assert L["bivariate_class"].to_dict() == {A: "3-3", B: "1-2", C: "2-2", D: "2-1"}
    assert L["deprivation_rank_in_area"].tolist() == [1, 4, 2, 3]
    assert L["provision_rank_in_area"].tolist() == [4, 3, 2, 1]
    # D thin first; then C (100 deprived residents out of reach); then A, B by national rank
    assert L["rank"].to_dict() == {D: 1, C: 2, A: 3, B: 4}
    assert L.loc[D, "reason"] == (
        "IMD decile 1; 400 residents more than 15 minutes' walk "
        "from any organisation (share covered 0%); nearest on "
        "average 23 minutes away"
    )
    assert (L.loc[[A, B, C], "reason"] == "").all()
    assert th.ranked()["lsoa_code"].tolist() == [D]
    assert th.ranked(flagged_only=False)["lsoa_code"].tolist() == [D, C, A, B]
    assert isinstance(th.ranked(geometry=True), gpd.GeoDataFrame)


def test_wards_by_hand(th):
    W = th.wards.set_index("ward_code")
    # average reversed rank: W1 (200 x 32745 + 400 x 27845) / 600; W2 (31345 + 29845) / 2
    assert W.loc["W1", "deprivation_average_rank"] == pytest.approx(17_687_000 / 600)
    assert W.loc["W2", "deprivation_average_rank"] == pytest.approx(30595)
    # equivalent national rank 32845 - average: W1 3366.7 -> decile 2; W2 2250 -> decile 1
    assert W["deprivation_decile"].tolist() == [2, 1]
    assert W["share_covered"].tolist() == pytest.approx([1.0, 300 / 800])
    assert W["pop_out_of_reach"].tolist() == pytest.approx([0, 500])
    assert W["deprived_pop_out_of_reach"].tolist() == pytest.approx([0, 500])
    assert W["n_thin_lsoas"].tolist() == [0, 1]
    assert W["thin_ward_figures"].tolist() == [False, True]  # decile 1 and 37.5% < 50%
    assert W["thin"].tolist() == [False, True]
    # 2 wards, worst 10% -> the worst 1: W2 on both deprivation and provision
    assert W["left_behind"].tolist() == [False, True]
    assert W["bivariate_class"].tolist() == ["1-3", "3-1"]
    assert W["rank"].tolist() == [2, 1]
    r = W.loc["W2", "reason"]
    assert r.startswith(
        f"1 thin LSOA: {D} (IMD decile 1, 0% covered); 500 residents of IMD "
        "decile 1-2 LSOAs living in the ward more than 15 minutes' walk"
    )
    assert "ward: IMD decile 1 by average rank, 500 residents more than" in r
    assert "(share covered 38%)" in r
    assert (
        "among the worst 10% of 2 wards on both deprivation (1st most deprived by average "
        "rank) and provision (1st least provided)" in r
    )
    assert W.loc["W1", "reason"] == ""


def test_numbers_agree_with_coverage_tables(cov, th):
    L = th.lsoas
    assert np.allclose(L["pop_covered"], cov.lsoas["pop_covered_15min"])
    dep = L["deprived"]
    assert np.allclose(
        L.loc[dep, "deprived_pop_out_of_reach"],
        cov.lsoas.loc[dep, "population"] - cov.lsoas.loc[dep, "pop_covered_15min"],
    )
    assert (L.loc[~dep, "deprived_pop_out_of_reach"] == 0).all()
    assert th.wards["deprived_pop_out_of_reach"].sum() == pytest.approx(
        L["deprived_pop_out_of_reach"].sum()
    )
    assert np.allclose(
        th.wards["pop_out_of_reach"], cov.wards["population"] - cov.wards["pop_covered_15min"]
    )
    # the caller's coverage is untouched
    assert "thin" not in cov.lsoas.columns and "reason" not in cov.wards.columns


def test_params_and_summary(th):
    p = th.params
    assert p["minutes"] == 15 and p["domain"] == "imd" and p["max_decile"] == 2
    assert p["min_share_covered"] == 0.5 and p["left_behind_pct"] == 10.0
    assert p["left_behind_n_wards"] == 1 and p["ward_rule"] == "either"
    assert p["rule"] == "thin = imd_decile <= 2 and share covered within 15 min < 0.5"
    assert p["coverage"]["mode"] == "network" and p["iod"] == 2019
    s = th.summary()
    assert (
        "1 of 4 LSOAs, 400 deprived residents out of reach; 1 of 2 wards thin, 1 left behind" in s
    )
    assert f"1. {D} (Two): IMD decile 1" in s
    assert repr(th).startswith("ThinResult(1 thin of 4 LSOAs")
    assert isinstance(th, ThinResult)


def test_other_thresholds_and_parameters(cov):
    t5 = thin_areas(cov, minutes=5)
    L = t5.lsoas.set_index("lsoa_code")
    # 5 min = 400 m: A half covered (not < 0.5), B, C, D nobody
    assert L["share_covered"].tolist() == pytest.approx([0.5, 0, 0, 0])
    assert L["thin"].tolist() == [False, True, True, True]
    assert "more than 5 minutes' walk" in L.loc[B, "reason"]
    t = thin_areas(cov, max_decile=1, min_share_covered=0.8)
    assert t.lsoas.set_index("lsoa_code")["thin"].to_dict() == {
        A: False,
        B: False,
        C: True,
        D: True,
    }  # B is decile 2
    assert t.lsoas.set_index("lsoa_code").loc[C, "reason"].startswith("IMD decile 1; 100 residents")
    wr = thin_areas(cov, ward_rule="any_lsoa", left_behind_pct=100)
    assert wr.wards["left_behind"].tolist() == [True, True]  # worst 100%: every ward
    assert thin_areas(cov, ward_rule="ward").wards["thin"].tolist() == [False, True]
    byreach = thin_areas(cov, provision="mean_walk_min")
    assert byreach.lsoas.set_index("lsoa_code")["provision_rank_in_area"].tolist() == [4, 3, 2, 1]
    assert byreach.params["provision_order"][0] == "mean_walk_min"


def test_domains_services_and_fallbacks(cov):
    inc = thin_areas(cov, domain="food")  # food -> income; income has no score column
    assert inc.params["domain"] == "income" and inc.params["service"] == "food"
    assert inc.lsoas["deprivation_decile"].tolist() == [1, 3, 1, 10]
    assert "deprivation_score" not in inc.lsoas.columns
    assert any("no 'income_score' column" in n for n in inc.notes)
    assert inc.lsoas.set_index("lsoa_code")["thin"].to_dict() == {
        A: False,
        B: False,
        C: False,
        D: False,
    }  # D is income decile 10
    # a rank without decile: the decile is derived as ceil(10 x rank / N)
    cr = thin_areas(cov, domain="crime")
    assert cr.lsoas["deprivation_decile"].tolist() == [10, 1, 5, 2]
    assert any("deciles derived from the national rank" in n for n in cr.notes)
    assert cr.lsoas.set_index("lsoa_code").loc[D, "reason"].startswith("Crime decile 2; 400")
    with pytest.raises(
        MissingColumnError,
        match=r"'health_rank'.*no score, rank or decile column"
        r".*Indices with ranks here: \['imd', 'income', 'crime'\]",
    ):
        thin_areas(cov, domain="health")
    with pytest.raises(MissingColumnError, match=r"domain 'barriers' \(for 'access'\)"):
        thin_areas(cov, domain="access")


def test_organisation_types_and_wording():
    area, net, res = street_area(), street(), street_residents()
    two = coverage(
        orgs_at([0, 2000], types=["Food bank", "Advice"]),
        area,
        network=net,
        residents=res,
        minutes=[15],
    )
    overall = thin_areas(two)
    assert not overall.lsoas["thin"].any()  # the advice centre at the east end covers D
    food = thin_areas(two, org_type="Food bank")
    L = food.lsoas.set_index("lsoa_code")
    assert L["thin"].to_dict() == {A: False, B: False, C: False, D: True}
    assert "from any food bank (share covered 0%)" in L.loc[D, "reason"]
    assert L["mean_reachable"].isna().all() and "mean_walk_min_all" in food.lsoas.columns
    assert L.loc[D, "mean_walk_min"] == pytest.approx(23.25)
    assert L["orgs_located"].tolist() == [1, 0, 0, 0]
    assert food.params["org_type"] == "food_bank"
    one = coverage(
        orgs_at([0], types=["Warm space"]), area, network=net, residents=res, minutes=[15]
    )
    assert "from any warm space" in thin_areas(one).lsoas.set_index("lsoa_code").loc[D, "reason"]
    lab = thin_areas(one, org_label="warm hub")
    assert "from any warm hub" in lab.lsoas.set_index("lsoa_code").loc[D, "reason"]
    # organisations reachable is not computed by type: ordering by it would leave every
    # tercile, bivariate class and left-behind flag empty, so it is refused, not done silently
    with pytest.raises(ValidationError, match="provision='mean_reachable' is not available"):
        thin_areas(two, org_type="Food bank", provision="mean_reachable")
    by_walk = thin_areas(two, org_type="Food bank", provision="mean_walk_min")
    assert by_walk.lsoas["bivariate_class"].notna().all()


def test_cold_spot_option_needs_five_areas(cov):
    t = thin_areas(cov, cold_spots=True, cold_spot_options={"permutations": 0})
    assert any("cold spots not computed for LSOAs" in n for n in t.notes)
    assert t.params["cold_spots"] == {"lsoas": None, "wards": None}


def test_errors(cov):
    with pytest.raises(ValidationError, match="needs the result of cnmap.coverage"):
        thin_areas(cov.lsoas)
    with pytest.raises(
        ValidationError, match=r"minutes=7 is not among the coverage thresholds \[5, 10, 15\]"
    ):
        thin_areas(cov, minutes=7)
    for bad in (0, 11, 2.5, True):
        with pytest.raises(ValidationError, match="max_decile"):
            thin_areas(cov, max_decile=bad)
    for bad in (0, 1.5, -0.1):
        with pytest.raises(ValidationError, match="min_share_covered"):
            thin_areas(cov, min_share_covered=bad)
    for bad in (0, 150):
        with pytest.raises(ValidationError, match="left_behind_pct"):
            thin_areas(cov, left_behind_pct=bad)
    with pytest.raises(ValidationError, match="provision='density'"):
        thin_areas(cov, provision="density")
    with pytest.raises(ValidationError, match="ward_rule='all'"):
        thin_areas(cov, ward_rule="all")
    with pytest.raises(ValidationError, match="domain='poverty' is neither an IoD index"):
        thin_areas(cov, domain="poverty")
    with pytest.raises(ValidationError, match="must be an IoD index name"):
        thin_areas(cov, domain="")
    with pytest.raises(ValidationError, match="org_type='food' is not a type of this coverage"):
        thin_areas(cov, org_type="food")
    with pytest.raises(ValidationError, match="org_label is empty"):
        thin_areas(cov, org_label="  ")
    with pytest.raises(ValidationError, match="cold_spots=False"):
        thin_areas(cov, cold_spot_options={"alpha": 0.1})


def test_bad_iod_inputs():
    net, res = street(), street_residents()
    far = street_area({"imd_rank": [1, 2, 3, 40000], "imd_decile": [1, 1, 1, 10]})
    c = coverage(orgs_at([0]), far, network=net, residents=res, minutes=[15])
    with pytest.raises(ValidationError, match=r"imd_rank has values outside 1..32844"):
        thin_areas(c)
    odd = street_area(iod=2020)
    c2 = coverage(orgs_at([0]), odd, network=net, residents=res, minutes=[15])
    with pytest.raises(ValidationError, match="IoD edition"):
        thin_areas(c2)


# --------------------------------------------------------------------------------------------
# Birmingham with the warm spaces (real data through the mirror)


@pytest.fixture(scope="module")
def birmingham(shared_data):
    import cnmap
    from cnmap.network import read_walk_network

    area = cnmap.load_area("E08000025", lsoa_vintage=2011, iod=2019)
    orgs = cnmap.read_organisations(
        shared_data / "birmingham/osm/warm_spaces_birmingham.geojson", area=area
    )
    net = read_walk_network(shared_data / "birmingham/osm/birmingham_walk_osm_2021-08.gpkg")
    cov = coverage(orgs, area, network=net, minutes=[5, 10, 15, 20])
    return area, cov, thin_areas(cov, org_label="warm space")


@pytest.mark.slow
def test_birmingham_ranked_thin_lsoas_and_wards(birmingham):
    area, cov, th = birmingham
    L, W = th.lsoas, th.wards
    assert len(L) == 639 and len(W) == 69
    thin = L["thin"].to_numpy(bool)
    assert thin.sum() == 7
    assert sorted(L["rank"]) == list(range(1, 640)) and sorted(W["rank"]) == list(range(1, 70))
    assert sorted(L.loc[thin, "rank"]) == list(range(1, 8))  # thin LSOAs first
    top = th.ranked("lsoas")
    assert top["lsoa_code"].iloc[0] == "E01009340"  # Sparkbrook & Balsall Heath East, 13%
    # every flagged area has a reason quoting its own numbers; no other area has one
    for _, r in top.iterrows():
        assert r["reason"].startswith(
            f"IMD decile {r['deprivation_decile']}; "
            f"{round(r['pop_out_of_reach']):,} residents more than 15 "
            "minutes' walk from any warm space"
        )
        assert f"(share covered {r['share_covered']:.0%})" in r["reason"]
        assert r["deprivation_decile"] <= 2 and r["share_covered"] < 0.5
    assert (L.loc[~thin, "reason"] == "").all()
    assert (top["deprived_pop_out_of_reach"].diff().dropna() <= 0).all()
    # numbers agree with the coverage tables
    c = cov.lsoas
    assert np.allclose(
        L.loc[thin, "deprived_pop_out_of_reach"],
        c.loc[thin, "population"] - c.loc[thin, "pop_covered_15min"],
    )
    assert np.allclose(L["share_covered"], c["share_covered_15min"])
    assert np.allclose(
        W["pop_out_of_reach"], cov.wards["population"] - cov.wards["pop_covered_15min"]
    )
    assert W["deprived_pop_out_of_reach"].sum() == pytest.approx(
        L["deprived_pop_out_of_reach"].sum()
    )
    assert (W["deprived_pop_out_of_reach"] <= W["pop_out_of_reach"] + 1e-6).all()
    assert W["n_thin_lsoas"].sum() == 7
    assert W["population"].sum() == pytest.approx(1_112_305, abs=1)
    # ward deprivation is MHCLG's average rank, as ward_profiles gives it
    from cnmap.deprivation import ward_profiles

    prof = ward_profiles(area, domains=["imd"])
    assert np.allclose(
        W.set_index("ward_code")["deprivation_average_rank"],
        prof["imd_average_rank"].reindex(W["ward_code"]),
    )
    # wards: thin wards hold the thin LSOAs; each flagged ward has a reason
    wflag = W["thin"] | W["left_behind"]
    assert wflag.sum() >= 1 and (W.loc[wflag, "reason"].str.len() > 0).all()
    assert (W.loc[~wflag, "reason"] == "").all()
    assert set(L["bivariate_class"]) == {f"{d}-{p}" for d in (1, 2, 3) for p in (1, 2, 3)}
    counts = L["deprivation_tercile"].value_counts()
    assert counts.max() - counts.min() <= 1  # equal-count terciles of 639
    s = th.summary()
    assert "7 of 639 LSOAs" in s and "E01009340" in s


@pytest.mark.slow
def test_birmingham_domains_and_cold_spots(birmingham):
    _, cov, _ = birmingham
    health = thin_areas(cov, domain="health")
    assert any("no 'health_score' column" in n for n in health.notes)
    assert health.lsoas["deprivation_decile"].notna().all()
    access = thin_areas(cov, domain="access")
    assert access.params["domain"] == "barriers" and access.lsoas["thin"].sum() >= 1
    cs = thin_areas(cov, cold_spots=True, cold_spot_options={"seed": 1})
    lab = cs.lsoas["share_covered_cluster"]
    assert lab.notna().all() and set(lab) <= {"cold spot", "hot spot", "not significant"}
    assert cs.params["cold_spots"]["lsoas"]["permutations"] == 9999
    assert cs.params["cold_spots"]["lsoas"]["fdr"] is True
    assert (lab == "cold spot").sum() >= 1
    # cold spots have low coverage
    assert (
        cs.lsoas.loc[lab == "cold spot", "share_covered"].mean() < cs.lsoas["share_covered"].mean()
    )
    assert cs.wards["share_covered_cluster"].notna().all()
    flagged_cold = cs.lsoas["thin"] & (lab == "cold spot")
    assert (
        cs.lsoas.loc[flagged_cold, "reason"]
        .str.contains(r"part of a cold spot of walking coverage \(Gi\*, FDR 5%\)")
        .all()
    )
    # local Moran on the 639 LSOAs: low-low clusters where the cold spots are
    from cnmap.hotspots import cold_spots

    lm = cold_spots(
        cs.lsoas[["share_covered", "geometry"]],
        "share_covered",
        method="local_moran",
        permutations=9999,
        seed=1,
    )
    ll = lm["share_covered_cluster"] == "LL"
    assert set(lm["share_covered_cluster"]) <= {"HH", "LL", "HL", "LH", "not significant"}
    assert ll.sum() >= 1 and (lm.loc[ll, "share_covered"] < lm["share_covered"].mean()).all()


def test_cold_spots_skipped_when_every_area_has_the_same_share():
    from cnmap.thin import _add_cold_spots

    frame = gpd.GeoDataFrame(
        {"share_covered": [1.0] * 5 + [np.nan]},
        geometry=[box(k, 0, k + 1, 1) for k in range(6)],
        crs=BNG,
    )
    notes: list[str] = []
    out, info = _add_cold_spots(frame, None, {}, notes, "LSOA")
    assert info is None and "every LSOA has the same share covered" in notes[0]
    assert out["share_covered_cluster"].iloc[:5].eq("not significant").all()
    assert pd.isna(out["share_covered_cluster"].iloc[5])


def test_cold_spot_option_on_a_ten_lsoa_street():
    # ten 200 m LSOAs, residents at their centres, one organisation at x = 0: at 15 minutes
    # (1,200 m) the six western LSOAs are covered, the four eastern ones not at all
    codes = [f"E0100010{k}" for k in range(10)]
    lsoas = gpd.GeoDataFrame(
        {
            "lsoa_code": codes,
            "lsoa_name": codes,
            "ward_code": ["W1"] * 5 + ["W2"] * 5,
            "ward_name": ["One"] * 5 + ["Two"] * 5,
            "population": [100.0] * 10,
            "imd_rank": [1000 + k for k in range(10)],
            "imd_decile": [1] * 10,
        },
        geometry=[
            box(X0 + 200 * k - (50 if k == 0 else 0), Y0 - 100, X0 + 200 * (k + 1), Y0 + 100)
            for k in range(10)
        ],
        crs=BNG,
    )
    wards = lsoas.dissolve("ward_code", as_index=False)[["ward_code", "ward_name", "geometry"]]
    area = Area(
        lad_code="X",
        lad_name="Street",
        wards=wards,
        lsoas=lsoas,
        boundary=wards.dissolve(),
        lookup=lsoas[["lsoa_code", "ward_code"]],
        sources=pd.DataFrame({"id": ["hand"]}),
    )
    res = gpd.GeoDataFrame(
        {"lsoa_code": codes, "ward_code": ["W1"] * 5 + ["W2"] * 5, "weight": [100.0] * 10},
        geometry=[Point(X0 + 200 * k + 100, Y0 + 10) for k in range(10)],
        crs=BNG,
    )
    cov = coverage(orgs_at([0]), area, network=street(), residents=res, minutes=[15])
    t = thin_areas(
        cov, cold_spots=True, cold_spot_options={"permutations": 0, "fdr": False, "alpha": 0.05}
    )
    L = t.lsoas.set_index("lsoa_code")
    assert L["share_covered"].tolist() == [1.0] * 6 + [0.0] * 4
    assert L["thin"].tolist() == [False] * 6 + [True] * 4
    # Gi* with binary queen weights along the line: LSOA 8 and its neighbours 7 and 9 all 0
    x = L["share_covered"].to_numpy()
    s = np.sqrt((x**2).mean() - x.mean() ** 2)
    z8 = (0 - x.mean() * 3) / (s * np.sqrt((10 * 3 - 9) / 9))
    assert L["share_covered_gi_z"].iat[8] == pytest.approx(z8)
    cold = L["share_covered_cluster"] == "cold spot"
    assert cold.iat[8] and not cold.iloc[:5].any()
    assert (
        L.loc[cold & L["thin"], "reason"]
        .str.endswith("; part of a cold spot of walking coverage (Gi*, p <= 0.05)")
        .all()
    )
    assert (cold & L["thin"]).sum() >= 1
    assert t.params["cold_spots"]["lsoas"]["permutations"] == 0
    assert "share_covered_cluster" in t.ranked().columns
    with pytest.raises(ValidationError, match="cannot set 'prefix'"):
        thin_areas(cov, cold_spots=True, cold_spot_options={"prefix": "x"})


# --------------------------------------------------------------------------------------------
# minutes given as a float or a numpy number: the same columns (schema builders), no KeyError


@pytest.mark.parametrize("minutes", [15.0, np.float64(15), np.int64(15)])
def test_minutes_as_float_or_numpy_number(cov, th, minutes):
    t = thin_areas(cov, minutes=minutes)
    pd.testing.assert_frame_equal(t.lsoas, th.lsoas)
    pd.testing.assert_frame_equal(t.wards, th.wards)
    assert t.params == th.params and t.params["minutes"] == 15
    assert isinstance(t.params["minutes"], int)  # the coverage's own threshold is recorded


def test_minutes_as_float_by_type_and_fractional_threshold():
    area, net, res = street_area(), street(), street_residents()
    two = coverage(
        orgs_at([0, 2000], types=["Food bank", "Advice"]),
        area,
        network=net,
        residents=res,
        minutes=[7.5, 15],
    )
    food = thin_areas(two, org_type="Food bank", minutes=15.0)
    assert food.lsoas.set_index("lsoa_code")["thin"].to_dict() == {
        A: False,
        B: False,
        C: False,
        D: True,
    }
    half = thin_areas(two, minutes=np.float64(7.5))  # 600 m: A and B's west half
    assert half.params["minutes"] == 7.5
    assert half.lsoas["share_covered"].tolist() == pytest.approx(
        two.lsoas["share_covered_7.5min"].tolist()
    )


@pytest.mark.parametrize("bad", ["15", True, [15]])
def test_minutes_that_are_not_numbers_are_refused(cov, bad):
    with pytest.raises(ValidationError, match="is not among the coverage thresholds"):
        thin_areas(cov, minutes=bad)


def test_typed_parameters_and_declared_input(cov, th):
    from cnmap.coverage import CoverageLike
    from cnmap.params import ThinParams

    assert isinstance(cov, CoverageLike)
    p = th.parameters
    assert isinstance(p, ThinParams) and p.as_dict() == th.params
    assert p.minutes == 15 and p.provision_order[0] == "share_covered"
    assert p.coverage["mode"] == cov.parameters.mode == "network"
    with pytest.raises(ValidationError, match=r"it has no 'lsoas'"):
        thin_areas(object())
