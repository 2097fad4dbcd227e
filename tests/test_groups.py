"""cnmap.groups: group coverage and its comparison (hand-checked, properties, errors),
organisation attributes (hand-made and the report's seed organisations), provision against need,
and Birmingham runs (Census totals reproduced, shares in [0, 1], groups adding up)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cnmap.layers as L
from cnmap.coverage import coverage
from cnmap.errors import ValidationError
from cnmap.groups import (
    ATTRIBUTE_COLUMNS,
    COMPARE_COLUMNS,
    GROUP_COLUMNS,
    compare_group_coverage,
    group_coverage,
    organisation_attributes,
    provision_vs_need,
)
from cnmap.layers.base import NeedLayer
from tests.helpers import lattice as LT

BHAM = "E08000025"
DOCS = Path(__file__).resolve().parents[1] / "docs" / "need_layers.md"
AREA = LT.line_area()  # LSOA L1 (x < 500) and L2, LSOA vintage 2011


def hand_layer(codes=("L1", "L2"), a=(60, 10), b=(30, 90), vintage=2011) -> NeedLayer:
    table = pd.DataFrame({"lsoa_code": list(codes), "a": list(a), "b": list(b)})
    table["t"] = table["a"] + table["b"]
    table["ab"] = table["t"]
    return NeedLayer(
        name="hand",
        title="hand-made",
        table=table,
        lsoa_vintage=vintage,
        source="hand",
        vintage="now",
        licence="none",
        attribution="",
        total="t",
        groups=("a", "b"),
        combined={"ab": ("a", "b")},
        labels={"a": "Group A"},
    )


def line_cov(xs, minutes=(5, 10), weights=(100.0, 200.0, 300.0)):
    """Residents at x = 50 (L1, w 100), 450 (L1, w 200), 950 (L2, w 300), 10 m off the street;
    organisations at ``xs`` on it; straight line, 80 m a minute (5 min = 400 m)."""
    return coverage(
        LT.orgs_at(xs),
        AREA,
        residents=LT.line_residents(weights=weights),
        minutes=list(minutes),
        mode="crow_flies",
        detour_factor=1.0,
    )


def row(table: pd.DataFrame, group: str, minutes: int) -> pd.Series:
    sel = table[(table["group"] == group) & (table["minutes"] == minutes)]
    assert len(sel) == 1
    return sel.iloc[0]


# ---------------------------------------------------------------------------------------------
# hand-checked


def test_group_coverage_by_hand() -> None:
    res = line_cov([0])  # 5 min: only x=50 (1/3 of L1's weight); 10 min: all of L1, none of L2
    out = group_coverage(res, hand_layer())
    assert list(out.columns) == list(GROUP_COLUMNS)
    a5, b5, t5 = row(out, "a", 5), row(out, "b", 5), row(out, "t", 5)
    assert (a5["residents"], a5["covered"]) == (70, pytest.approx(20.0))
    assert b5["covered"] == pytest.approx(10.0) and t5["covered"] == pytest.approx(30.0)
    assert a5["share_covered"] == pytest.approx(20 / 70)
    assert a5["gap_vs_all"] == pytest.approx(20 / 70 - 30 / 190)
    assert a5["label"] == "Group A" and a5["kind"] == "group" and t5["kind"] == "all"
    a10, b10 = row(out, "a", 10), row(out, "b", 10)
    assert a10["share_covered"] == pytest.approx(60 / 70)
    assert b10["share_covered"] == pytest.approx(30 / 120)
    assert b10["not_covered"] == pytest.approx(90.0)
    assert row(out, "ab", 10)["covered"] == pytest.approx(90.0)
    only = group_coverage(res, hand_layer(), minutes=10, groups=["b"])
    assert only["group"].tolist() == ["t", "b"] and set(only["minutes"]) == {10}


def test_lsoa_whose_points_weigh_nothing_shares_equally() -> None:
    res = line_cov([0], weights=(0.0, 0.0, 300.0))  # L1's two points weigh 0
    a5 = row(group_coverage(res, hand_layer()), "a", 5)
    assert a5["covered"] == pytest.approx(60 / 2)


def test_compare_by_hand() -> None:
    a, b = line_cov([0]), line_cov([1000])  # b: x=950 reached, x=50 lost, x=450 never (5 min)
    before = (a.residents.copy(), b.residents.copy())
    layer = hand_layer()
    table_before = layer.table.copy()
    out = compare_group_coverage(a, b, layer, minutes=5)
    assert list(out.columns) == list(COMPARE_COLUMNS)
    ra, rb = row(out, "a", 5), row(out, "b", 5)
    assert ra["gained"] == pytest.approx(10.0) and ra["lost"] == pytest.approx(20.0)
    assert rb["gained"] == pytest.approx(90.0) and rb["lost"] == pytest.approx(10.0)
    assert rb["share_change"] == pytest.approx(90 / 120 - 10 / 120)
    assert ra["net_change"] == pytest.approx(ra["covered_b"] - ra["covered_a"])
    pd.testing.assert_frame_equal(a.residents, before[0])
    pd.testing.assert_frame_equal(b.residents, before[1])
    pd.testing.assert_frame_equal(layer.table, table_before)


def test_errors() -> None:
    res = line_cov([0])
    with pytest.raises(L.MissingLSOAError, match="L2"):
        group_coverage(res, hand_layer(codes=("L1", "L3")))
    with pytest.raises(ValidationError, match="on LSOA 2021 but the coverage result on LSOA 2011"):
        group_coverage(res, hand_layer(vintage=2021))
    scores = NeedLayer(
        name="s",
        title="s",
        table=pd.DataFrame({"lsoa_code": ["L1", "L2"], "s": [1.0, 2.0]}),
        lsoa_vintage=2011,
        source="",
        vintage="",
        licence="",
        attribution="",
        scores=("s",),
    )
    with pytest.raises(ValidationError, match="score_bands"):
        group_coverage(res, scores)
    with pytest.raises(ValidationError, match="not among the time limits"):
        group_coverage(res, hand_layer(), minutes=15)
    with pytest.raises(ValidationError, match="not count columns"):
        group_coverage(res, hand_layer(), groups=["zz"])
    other = line_cov([0], weights=(1.0, 2.0, 3.0))
    with pytest.raises(ValidationError, match="place the residents differently"):
        compare_group_coverage(res, other, hand_layer())


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n_lsoa=st.integers(1, 6), n_pts=st.integers(1, 40))
@pytest.mark.slow
def test_properties(seed: int, n_lsoa: int, n_pts: int) -> None:
    """Groups add up to the total, covered <= residents, gained - lost = change."""
    rng = np.random.default_rng(seed)
    codes = [f"Q{i}" for i in range(n_lsoa)]
    lsoa = rng.integers(0, n_lsoa, n_pts)
    res_a = pd.DataFrame(
        {
            "lsoa_code": np.array(codes)[lsoa],
            "weight": rng.random(n_pts) * 10,
            "covered_15min": rng.random(n_pts) < 0.5,
        }
    )
    res_b = res_a.assign(covered_15min=rng.random(n_pts) < 0.5)

    class Fake:
        thresholds = (15,)
        headline_minutes = 15
        params = {"lsoa_vintage": 2021}
        area = None
        lsoas = pd.DataFrame({"lsoa_code": codes})

        def __init__(self, residents):
            self.residents = residents

    a_counts = rng.integers(0, 500, n_lsoa)
    layer = hand_layer(codes=codes, a=a_counts, b=rng.integers(0, 500, n_lsoa), vintage=2021)
    fa: Any = Fake(res_a)
    fb: Any = Fake(res_b)
    out = group_coverage(fa, layer)
    tot, groups = out[out["kind"] == "all"].iloc[0], out[out["kind"] == "group"]
    assert groups["covered"].sum() == pytest.approx(tot["covered"], abs=1e-6)
    assert groups["residents"].sum() == tot["residents"] == layer.table["t"].sum()
    assert (out["covered"] <= out["residents"] + 1e-9).all() and (out["covered"] >= -1e-12).all()
    share = out["share_covered"].dropna()
    assert ((share >= 0) & (share <= 1 + 1e-12)).all()
    cmp = compare_group_coverage(fa, fb, layer)
    assert np.allclose(cmp["covered_b"] - cmp["covered_a"], cmp["gained"] - cmp["lost"])


# ---------------------------------------------------------------------------------------------
# organisation attributes


def test_organisation_attributes_by_hand() -> None:
    orgs = pd.DataFrame(
        {
            "name": ["A", "B", "C", "D"],
            "BAME_led": ["yes", "No", "unknown", None],
            "led_by": [None, None, None, "Black-led women's group"],
            "kind": ["community_anchor", "pioneer_place", "other", None],
            "services": ["food bank; debt advice", "computer access; GP link", "", None],
            "networks": [None, "Neighbourhood Network Scheme (Erdington)", None, "NNS"],
            "annual_income": [5_000, 250_000, None, 2e7],
            "staff": [None, None, 12, None],
        }
    )
    before = orgs.copy()
    out = organisation_attributes(orgs)
    pd.testing.assert_frame_equal(orgs, before)
    assert set(ATTRIBUTE_COLUMNS) <= set(out.columns)
    assert out["is_bame_led"].tolist()[:2] == [True, False] and out["is_bame_led"].isna()[2]
    assert out["is_bame_led"].iloc[3]  # from the led_by text
    assert out["is_community_anchor"].tolist() == [True, False, False, False]
    assert out["is_pioneer_place"].tolist() == [False, True, False, False]
    assert out["in_neighbourhood_network_scheme"].tolist() == [False, True, False, True]
    assert out["offers_food"].tolist()[:2] == [True, False] and out["offers_food"].isna()[3]
    assert out["offers_advice"].iloc[0] and out["offers_digital_support"].iloc[1]
    assert out["offers_health"].iloc[1] and not out["offers_health"].iloc[0]
    assert out["size_band"].tolist() == [
        "micro (under £10k)",
        "medium (£100k-£1m)",
        "10-49 staff",
        "major (£10m-£100m)",
    ]
    assert out["size_basis"].tolist() == ["income", "income", "staff", "income"]
    assert out.loc[out["offers_food"].fillna(False), "name"].tolist() == ["A"]


def seed_organisations(shared: Path) -> gpd.GeoDataFrame:
    df = pd.read_csv(shared / "birmingham" / "seed_organisations.csv")
    df = df.dropna(subset=["lat", "lon"]).reset_index(drop=True)
    return gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["lon"], df["lat"]), crs="EPSG:4326")


def test_seed_organisation_attributes(shared_data: Path) -> None:
    raw = pd.read_csv(shared_data / "birmingham" / "seed_organisations.csv")
    out = organisation_attributes(raw)
    bame = out.loc[out["is_bame_led"].fillna(False), "name"].tolist()
    assert len(bame) == (raw["bame_led"] == "yes").sum() == 4 and "Pashtun Trust" in bame
    assert out["is_bame_led"].isna().sum() == (raw["bame_led"] == "unknown").sum()
    assert out.loc[out["is_pioneer_place"], "name"].tolist() == [
        "Glebe Farm and Tile Cross Pioneer Place"
    ]
    assert out["is_community_anchor"].sum() == (raw["kind"] == "community_anchor").sum()
    food = set(out.loc[out["offers_food"].fillna(False), "name"])
    assert {"Villa Road Soup Kitchen (Handsworth)", "Elim Life Church"} <= food
    assert "Banners Gate Neighbourhood Forum" not in food
    assert out["size_band"].isna().all()  # the file has no income or staff column


# ---------------------------------------------------------------------------------------------
# provision against need


def test_provision_vs_need_by_hand() -> None:
    res = line_cov([0])  # 10 min: L1 fully covered, L2 not
    out = provision_vs_need(res, hand_layer(), "a", minutes=10, bands=2)
    b = out.bands.set_index("band")
    assert b.loc[1, "n_lsoas"] == 1 and b.loc[1, "max_group_share"] == pytest.approx(60 / 90)
    assert b.loc[1, "share_covered"] == 1.0 and b.loc[2, "share_covered"] == 0.0
    assert b.loc[1, "n_organisations"] == 1 and b.loc[2, "n_organisations"] == 0
    s = out.summary
    assert s["share_group_covered"] == pytest.approx(60 / 70)
    assert s["share_others_covered"] == pytest.approx(30 / 120)
    assert s["coverage_ratio"] == pytest.approx((60 / 70) / (30 / 120))
    assert s["location_quotient_top_band"] == pytest.approx(1.0 / (60 / 70))
    assert s["spearman_lsoa"] == pytest.approx(1.0)
    with pytest.raises(ValidationError, match="one count column"):
        provision_vs_need(res, hand_layer(), "t", minutes=10)


# ---------------------------------------------------------------------------------------------
# Birmingham


@pytest.fixture(scope="module")
def bham(shared_data: Path):
    import cnmap

    area = cnmap.load_area(BHAM, lsoa_vintage=2021, iod=2025)
    warm = gpd.read_file(shared_data / "birmingham" / "osm" / "warm_spaces_birmingham.geojson")
    warm = warm[warm.geom_type == "Point"].reset_index(drop=True)
    res = coverage(warm, area, minutes=[5, 15], mode="crow_flies", detour_factor=1.4, type_col=None)
    age = L.read_age()
    deri = L.read_deri(lsoa_vintage=2021)
    codes = area.lsoas["lsoa_code"]
    layers = [
        L.read_ethnic_group(),
        L.read_disability(),
        L.read_household_deprivation(),
        age,
        L.score_bands(deri, "deri_score", population=age.subset(codes)),
    ]
    return area, warm, res, layers


@pytest.mark.slow
def test_birmingham_group_coverage(bham) -> None:
    area, _, res, layers = bham
    out = group_coverage(res, layers)
    codes = area.lsoas["lsoa_code"]
    for ly in layers:
        rows = out[(out["layer"] == ly.name) & (out["minutes"] == 15)]
        t = ly.subset(codes).table
        total = rows[rows["kind"] == "all"].iloc[0]
        assert total["residents"] == pytest.approx(t[ly.total].sum())  # the Census count
        parts = rows[rows["kind"] == "group"]
        assert parts["residents"].sum() == pytest.approx(total["residents"])
        assert parts["covered"].sum() == pytest.approx(total["covered"], rel=1e-12)
    assert row(out, "ethnic_total", 15)["residents"] == 1_144_941
    assert row(out, "age_total", 15)["residents"] == 1_144_931
    assert out["share_covered"].between(0, 1).all()
    # the DERI bands: the most at-risk quintile holds about a fifth of the residents
    q1 = row(out, "deri_score_q1", 15)
    assert 0.15 < q1["residents"] / row(out, "deri_score_all", 15)["residents"] < 0.25
    # 5 minutes never covers more than 15
    assert (
        out[out.minutes == 5]["covered"].to_numpy()
        <= out[out.minutes == 15]["covered"].to_numpy() + 1e-9
    ).all()


@pytest.mark.slow
def test_birmingham_total_row_equals_coverage_when_counts_are_the_population(bham) -> None:
    area, _, res, _ = bham
    table = area.lsoas[["lsoa_code", "population"]].rename(columns={"population": "p"})
    layer = NeedLayer(
        name="pop",
        title="area population",
        table=table.assign(q=0.0),
        lsoa_vintage=2021,
        source="",
        vintage="",
        licence="",
        attribution="",
        total="p",
        groups=("q",),
    )
    out = group_coverage(res, layer, minutes=15)
    assert row(out, "p", 15)["share_covered"] == pytest.approx(res.share_covered(15), abs=1e-12)


@pytest.mark.slow
def test_birmingham_2011_through_the_lookup(shared_data: Path) -> None:
    import cnmap

    area = cnmap.load_area(BHAM, lsoa_vintage=2011, iod=2019)
    warm = gpd.read_file(shared_data / "birmingham" / "osm" / "warm_spaces_birmingham.geojson")
    res = coverage(
        warm[warm.geom_type == "Point"],
        area,
        minutes=15,
        mode="crow_flies",
        detour_factor=1.4,
        type_col=None,
    )
    eth = L.read_ethnic_group()
    lookup = L.read_lsoa_lookup()
    weights = area.lsoas.set_index("lsoa_code")["population"]
    eth11 = L.convert_layer(
        eth, 2011, lookup=lookup, weights=weights, codes=area.lsoas["lsoa_code"]
    )
    out = group_coverage(res, eth11)
    assert row(out, "ethnic_total", 15)["residents"] == pytest.approx(1_144_941)
    assert out["share_covered"].between(0, 1).all()


@pytest.mark.slow
def test_birmingham_compare_and_provision(bham, shared_data: Path) -> None:
    area, warm, res, layers = bham
    half = coverage(
        warm.iloc[::2], area, minutes=[5, 15], mode="crow_flies", detour_factor=1.4, type_col=None
    )
    cmp = compare_group_coverage(res, half, layers, minutes=15)
    assert (cmp["gained"] >= 0).all() and (cmp["lost"] >= 0).all()
    assert (cmp["share_change"] <= 1e-12).all()  # a subset of the places never covers more
    assert np.allclose(cmp["covered_b"] - cmp["covered_a"], cmp["net_change"])

    seeds = organisation_attributes(seed_organisations(shared_data))
    bame_led = seeds[seeds["is_bame_led"].fillna(False)]
    cov = coverage(bame_led, area, minutes=15, mode="crow_flies", detour_factor=1.4, type_col=None)
    pn = provision_vs_need(cov, layers[0], "ethnic_minority", minutes=15)
    b = pn.bands
    assert b["n_lsoas"].sum() == 659 and b["n_organisations"].sum() == len(bame_led) == 3
    assert b["share_of_group_residents"].sum() == pytest.approx(1.0)
    assert (
        b["min_group_share"].iloc[:-1].to_numpy() >= b["max_group_share"].iloc[1:].to_numpy()
    ).all()
    assert (
        b["group_residents"].sum()
        == row(group_coverage(res, layers[0]), "ethnic_minority", 15)["residents"]
    )
    assert -1 <= pn.summary["spearman_lsoa"] <= 1


@pytest.mark.slow
def test_figures_quoted_in_the_docs(shared_data: Path) -> None:
    """The Birmingham table and sentence of docs/need_layers.md are what the code gives."""
    import cnmap
    from cnmap.network import read_walk_network

    area = cnmap.load_area(BHAM, lsoa_vintage=2021, iod=2025)
    net = read_walk_network(shared_data / "birmingham" / "osm" / "birmingham_walk_osm_2021-08.gpkg")
    warm = cnmap.read_organisations(
        shared_data / "birmingham" / "osm" / "warm_spaces_birmingham.geojson", area=area
    )
    res = coverage(warm, area, minutes=15, network=net)
    age = L.read_age()
    bands = L.score_bands(
        L.read_deri(lsoa_vintage=2021), "deri_score", population=age.subset(area.lsoas["lsoa_code"])
    )
    eth = L.read_ethnic_group()
    out = group_coverage(
        res, [eth, L.read_disability(), L.read_household_deprivation(), age, bands], minutes=15
    )
    text = DOCS.read_text(encoding="utf-8")
    assert f"the {int(res.organisations['snapped'].sum())} warm spaces" in text
    names = {
        "deri_score_q1": "DERI quintile 1 (most at risk)",
        "deri_score_q5": "DERI quintile 5 (least at risk)",
    }
    quoted = [
        "ethnic_total",
        "ethnic_asian",
        "ethnic_black",
        "ethnic_mixed",
        "ethnic_white",
        "ethnic_other",
        "disabled",
        "households_deprived_2plus",
        "age_65_plus",
        "age_75_plus",
        *names,
    ]
    for g in quoted:
        r = row(out, g, 15)
        line = (
            f"| {names.get(g, r['label'])} | {r['residents']:,.0f} | "
            f"{r['share_covered']:.1%} | {100 * r['gap_vs_all']:+.1f} |"
        )
        assert line in text, line

    seeds = cnmap.read_organisations(
        shared_data / "birmingham" / "seed_organisations.csv", area=area
    )
    tagged = organisation_attributes(seeds.organisations)
    bame_led = tagged[tagged["is_bame_led"].fillna(False)]
    pn = provision_vs_need(
        coverage(bame_led, area, minutes=15, network=net), eth, "ethnic_minority"
    )
    s = pn.summary
    sentence = (
        f"the three located BAME-led organisations of the report reach "
        f"{s['share_group_covered']:.1%} of\nBirmingham's Black, Asian and minority "
        f"ethnic residents within 15 minutes against {s['share_others_covered']:.1%} of\n"
        f"everyone else; all three stand in the fifth of LSOAs with the highest minority "
        f"share, where\n{s['share_group_top_band']:.1%} of those residents live."
    )
    assert len(bame_led) == 3 and s["share_organisations_top_band"] == 1.0
    assert sentence in text, sentence
    assert re.search(r"\| White \| [\d,]+ \| [\d.]+% \| -", text)  # White below the average
