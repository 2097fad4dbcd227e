"""cnmap.services: public service lists read with their provenance, every row accounted for
(hand-made files and the Birmingham lists of the mirror), the library + GP + food store basket
by hand, and on Birmingham checked against an independent nearest-neighbour computation."""

from __future__ import annotations

import csv
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from scipy.spatial import cKDTree

import cnmap.layers as L
from cnmap.coverage import coverage
from cnmap.errors import DataFetchError, ValidationError
from cnmap.groups import GROUP_COLUMNS
from cnmap.layers.base import NeedLayer
from cnmap.organisations import REASONS
from cnmap.services import (
    BASKET,
    SERVICE_SOURCES,
    basket_areas,
    basket_group_coverage,
    combine_services,
    read_food_stores,
    read_gp_practices,
    read_libraries,
    read_schools,
    read_service,
    read_services,
    service_shares,
    service_sources,
    services_basket,
)
from tests.helpers import lattice as LT

BHAM = "E08000025"
LINE = LT.line_area()  # LSOAs L1 (x < 500) and L2 in ward W1; LSOA vintage 2011


def file_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def hand_layer() -> NeedLayer:
    table = pd.DataFrame({"lsoa_code": ["L1", "L2"], "a": [60, 10], "b": [30, 90]})
    table["t"] = table["a"] + table["b"]
    return NeedLayer(
        name="hand",
        title="hand-made",
        table=table,
        lsoa_vintage=2011,
        source="hand",
        vintage="now",
        licence="none",
        attribution="",
        total="t",
        groups=("a", "b"),
    )


# ---------------------------------------------------------------------------------------------
# reading, on hand-made files


GP_HEADER = (
    "org_code,name,address1,address2,address3,address4,postcode,open_date,close_date,"
    "status_code,commissioner,prescribing_setting,cpo_easting,cpo_northing,"
    "cpo_positional_quality,cpo_admin_district,cpo_admin_ward"
)


def test_read_service_hand_made_file(tmp_path: Path) -> None:
    f = tmp_path / "gp.csv"
    f.write_text(
        "\n".join(
            [
                GP_HEADER,
                "A1,FIRST SURGERY,1 High St,,,,B1 1AA,19740401,,A,15E,4,407000,286000,10,X,Y",
                "A2,SECOND SURGERY,2 High St,,,,B1 1AA,19740401,,A,15E,4,,,,X,Y",  # by postcode
                "A3,THIRD SURGERY,3 High St,,,,B99 9ZZ,19740401,,A,15E,4,,,,X,Y",  # unknown postcode
                "A4,FIRST SURGERY,1 High St,,,,B1 1AA,19740401,,A,15E,4,407001,286001,10,X,Y",
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    lookup = pd.DataFrame({"postcode": ["B1 1AA"], "lat": [52.48], "lon": [-1.9]})
    t = read_gp_practices(path=f, postcodes=lookup)
    assert (t.n_input, t.n_matched, t.n_rejected) == (4, 3, 1)
    assert t.rejected["reason"].tolist() == ["unknown_postcode"]
    o = t.organisations
    assert o["org_id"].tolist() == ["A1", "A2", "A4"]  # same name 1 m apart: both kept
    assert o["coord_source"].tolist() == ["bng", "postcode", "bng"]
    assert set(o["type"]) == {"gp"} and set(o["service"]) == {"gp"}
    assert set(o["dataset"]) == {"GP practices"}
    assert set(o["licence"]) == {"Open Government Licence v3.0"}
    assert set(o["vintage"]) == {"2019-11-19"}
    assert t.source == str(f)
    assert t.params["service"]["key"] == "gp"
    assert "Organisation Data Service" in t.params["service"]["attribution"]


def test_read_service_windows_1252_file(tmp_path: Path) -> None:
    f = tmp_path / "schools.csv"
    f.write_bytes(
        "URN,EstablishmentName,SchoolCapacity,Postcode,Easting,Northing\n"
        "1,St Ch\xe9rie's Primary,210,B1 1AA,407000,286000\n".encode("cp1252")
    )
    t = read_schools(path=f)
    assert t.organisations["name"].tolist() == ["St Ch\xe9rie's Primary"]
    assert t.organisations["type"].tolist() == ["primary_school"]
    assert any("Windows-1252" in n for n in t.notes)


def test_read_service_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="unknown service 'pharmacy'"):
        read_service("pharmacy")
    bad = tmp_path / "bad.csv"
    bad.write_text("name,postcode\nA,B1 1AA\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="no column"):
        read_libraries(path=bad)
    clash = tmp_path / "clash.csv"
    clash.write_text(
        "Library name,Postcode,cpo_easting,cpo_northing,service\nA,B1 1AA,407000,286000,x\n",
        encoding="utf-8",
    )
    with pytest.raises(ValidationError, match="'service' column"):
        read_libraries(path=clash)
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(ValidationError, match="not a readable CSV"):
        read_gp_practices(path=empty)
    with pytest.raises(ValidationError, match="phase"):
        read_schools(phase="nursery")
    with pytest.raises(ValidationError, match="paths given"):
        read_services(keys=["gp"], paths={"library": bad})
    with pytest.raises(ValidationError, match="keys is empty"):
        read_services(keys=[])
    monkeypatch.setenv("CNMAP_DATA_MIRROR", str(tmp_path))
    with pytest.raises(DataFetchError, match="birmingham/services"):
        read_food_stores()


# ---------------------------------------------------------------------------------------------
# the basket, by hand
#
# Residents 10 m off a straight street at x = 50 (L1, 100 people), 450 (L1, 200) and 950 (L2,
# 300); straight line at 80 m a minute (5 min = 400 m, 10 min = 800 m).
# library at x = 0; GP at 0 and 1000; food store at 500.
#   x=50:  library 50, GP 50, food 450   -> 5 min: library, GP;    10 min: all three
#   x=450: library 450, GP 450, food 50  -> 5 min: food;           10 min: all three
#   x=950: library 950, GP 50, food 450  -> 5 min: GP;             10 min: GP, food


def line_services() -> tuple:
    orgs = LT.orgs_at([0, 0, 1000, 500], types=["library", "gp", "gp", "food_store"])
    cov = coverage(
        orgs,
        LINE,
        residents=LT.line_residents(),
        minutes=[5, 10],
        mode="crow_flies",
        detour_factor=1.0,
    )
    return cov, services_basket(cov)


def test_basket_by_hand() -> None:
    cov, basket = line_services()
    shares = service_shares(basket).set_index(["minutes", "service"])["share_covered"]
    assert shares[(5, "library")] == pytest.approx(100 / 600)
    assert shares[(5, "gp")] == pytest.approx(400 / 600)
    assert shares[(5, "food_store")] == pytest.approx(200 / 600)
    assert shares[(5, "basket")] == 0
    assert shares[(10, "library")] == pytest.approx(300 / 600)
    assert shares[(10, "gp")] == pytest.approx(1.0)
    assert shares[(10, "food_store")] == pytest.approx(1.0)
    assert shares[(10, "basket")] == pytest.approx(300 / 600)
    assert basket.share(10) == pytest.approx(0.5)
    areas = basket_areas(basket, by="lsoa", minutes=10).set_index("code")
    assert areas.loc["L1", "share_basket"] == pytest.approx(1.0)
    assert areas.loc["L2", "share_basket"] == 0
    assert areas.loc["L2", "weakest"] == "library" and pd.isna(areas.loc["L1", "weakest"])
    assert areas.loc["L2", "pop_without_basket"] == pytest.approx(300)
    assert list(areas.index) == ["L2", "L1"]  # least served first
    ward = basket_areas(basket, by="ward", minutes=10)
    assert ward["share_basket"].tolist() == pytest.approx([0.5])


def test_basket_group_coverage_by_hand() -> None:
    cov, basket = line_services()
    out = basket_group_coverage(cov, basket, hand_layer(), minutes=10)
    assert list(out.columns) == ["service", "service_label", *GROUP_COLUMNS]
    got = out.set_index(["service", "group"])["share_covered"]
    # 10 min basket: every point of L1 (a 60, b 30), none of L2 (a 10, b 90)
    assert got[("basket", "a")] == pytest.approx(60 / 70)
    assert got[("basket", "b")] == pytest.approx(30 / 120)
    assert got[("library", "a")] == pytest.approx(60 / 70)
    assert got[("gp", "b")] == pytest.approx(1.0)
    assert got[("basket", "t")] == pytest.approx(90 / 190)
    assert set(out["service"]) == {"library", "gp", "food_store", "basket"}
    five = basket_group_coverage(cov, basket, hand_layer(), minutes=5)
    assert (five.loc[five["service"] == "basket", "covered"] == 0).all()
    # gp at 5 min: x=50 (1/3 of L1) and x=950 (all of L2)
    g5 = five.set_index(["service", "group"])["covered"]
    assert g5[("gp", "a")] == pytest.approx(60 / 3 + 10)


def test_basket_errors() -> None:
    cov, basket = line_services()
    with pytest.raises(ValidationError, match="lsoa' or 'ward"):
        basket_areas(basket, by="district")
    with pytest.raises(ValidationError, match="not among"):
        service_shares(basket, minutes=20)
    with pytest.raises(ValidationError, match="services is empty"):
        services_basket(cov, [])
    other = coverage(
        LT.orgs_at([0, 500], types=["gp", "library"]),
        LINE,
        residents=LT.line_residents(xs=(50, 950), weights=(1.0, 2.0)),
        minutes=[5, 10],
        mode="crow_flies",
        detour_factor=1.0,
    )
    with pytest.raises(ValidationError, match="not computed from this coverage"):
        basket_group_coverage(other, basket, hand_layer())
    with pytest.raises(ValidationError, match="no organisation has type"):
        services_basket(other, ["gp", "food_store"])
    with pytest.raises(ValidationError, match="read_service"):
        combine_services([LT.orgs_at([0])])


# ---------------------------------------------------------------------------------------------
# Birmingham


@pytest.fixture(scope="module")
def bham(shared_data: Path):
    import cnmap

    area = cnmap.load_area(BHAM, lsoa_vintage=2021, iod=2025)
    tables = read_services(area, SERVICE_SOURCES)
    return area, tables


@pytest.mark.slow
@pytest.mark.parametrize("key", list(SERVICE_SOURCES))
def test_birmingham_lists_account_for_every_row(bham, shared_data: Path, key: str) -> None:
    _, tables = bham
    t = tables[key]
    src = SERVICE_SOURCES[key]
    rows = file_rows(shared_data / "birmingham" / "services" / src.file)
    assert t.n_input == len(rows)
    assert t.n_matched == len(rows) - t.n_rejected
    assert len(t.organisations) == t.n_matched
    assert set(t.rejected["reason"]) <= set(REASONS)
    assert (t.rejected["reason_text"].str.len() > 0).all()
    kept_rows = sorted(t.organisations["source_row"].tolist() + t.rejected["source_row"].tolist())
    assert kept_rows == list(range(1, len(rows) + 1))
    o = t.organisations
    assert set(o["type"]) == {key} and set(o["service"]) == {key}
    assert o.crs.to_epsg() == 27700
    inside = o["in_area"].to_numpy(bool)
    assert o.loc[inside, "lsoa_code"].notna().all()
    assert (o.loc[~inside].geometry.distance(bham[0].boundary.union_all()) <= 250).all()
    assert set(o["licence"]) == {src.licence} and set(o["vintage"]) == {src.vintage}
    id_col = src.columns.get("id_col")
    if id_col is not None:  # the register's own ids, in file order
        want = [
            r[id_col] for i, r in enumerate(rows, start=1) if i not in set(t.rejected["source_row"])
        ]
        assert o["org_id"].tolist() == want


@pytest.mark.slow
def test_birmingham_list_specifics(bham) -> None:
    area, tables = bham
    gp = tables["gp"]
    assert gp.n_matched == 173 - gp.n_rejected
    libs = tables["library"].organisations
    shard = libs[libs["name"] == "Shard End Library"]
    assert len(shard) == 1 and shard["coord_source"].iloc[0] == "postcode"  # no CPO 2018 point
    assert (libs.loc[libs["name"] != "Shard End Library", "coord_source"] == "bng").all()
    stores = tables["food_store"].organisations
    assert "1010000938" in set(stores["org_id"])  # Asda Quinton, 74 m outside the boundary
    strict = read_food_stores(area, keep_outside_m=0)
    rej = strict.rejected.set_index("name")["reason"]
    assert rej.get("Asda Quinton Supermarket") == "outside_area"
    assert strict.n_matched == tables["food_store"].n_matched - strict.n_rejected


@pytest.mark.slow
def test_birmingham_sources_table(bham) -> None:
    _, tables = bham
    src = service_sources(tables)
    assert src["key"].tolist() == list(SERVICE_SOURCES)
    assert (src["rows"] == src["kept"] + src["rejected"]).all()
    assert src["licence"].str.len().gt(0).all()
    assert src["attribution"].str.contains("Crown copyright").all()
    assert src.set_index("key").loc["gp", "licence"] == "Open Government Licence v3.0"
    assert "GEOLYTIX" in src.set_index("key").loc["food_store", "attribution"]
    combined = combine_services(tables)
    assert len(combined) == src["kept"].sum()
    assert combined["org_id"].is_unique
    prefix = combined["org_id"].str.split(":", n=1).str[0]
    assert (prefix == combined["service"]).all()
    with pytest.raises(ValidationError, match="twice"):
        combine_services([tables["gp"], tables["gp"]])


def independent_basket(
    cov, orgs: gpd.GeoDataFrame, minutes: float, detour: float
) -> dict[str, np.ndarray]:
    """Within reach of each service, from the coordinates alone (nearest neighbour)."""
    res = cov.residents
    rxy = np.column_stack([res.geometry.x, res.geometry.y])
    reach = minutes * cov.speed_kmh * 1000 / 60
    out = {}
    for key in BASKET:
        sel = orgs[orgs["service"] == key]
        d, _ = cKDTree(np.column_stack([sel.geometry.x, sel.geometry.y])).query(rxy)
        out[key] = d * detour <= reach + 1e-9
    out["basket"] = np.logical_and.reduce([out[k] for k in BASKET])
    return out


@pytest.mark.slow
def test_birmingham_basket_against_nearest_neighbours(bham) -> None:
    area, tables = bham
    orgs = combine_services({k: tables[k] for k in BASKET})
    cov = coverage(orgs, area, minutes=[5, 15], mode="crow_flies", detour_factor=1.4)
    basket = services_basket(cov)
    shares = service_shares(basket)
    mine = independent_basket(cov, orgs, 15, 1.4)
    w = cov.residents["weight"].to_numpy(float)
    at15 = shares[shares["minutes"] == 15].set_index("service")["share_covered"]
    for key, has in mine.items():
        assert at15[key] == pytest.approx(w[has].sum() / w.sum(), abs=1e-9)
    assert all(at15["basket"] <= at15[k] for k in BASKET)
    assert 0 < at15["basket"] < 1
    lsoas = basket_areas(basket, by="lsoa")
    assert len(lsoas) == len(area.lsoas)
    singles = lsoas[[f"share_{k}" for k in BASKET]].min(axis=1)
    assert (lsoas["share_basket"] <= singles + 1e-12).all()
    wards = basket_areas(basket, by="ward")
    assert len(wards) == 69
    assert (wards["population"] * wards["share_basket"]).sum() == pytest.approx(
        w[mine["basket"]].sum(), rel=1e-9
    )

    age = L.read_age()
    groups = basket_group_coverage(cov, basket, [L.read_ethnic_group(), age], minutes=15)
    by = groups.pivot_table(index="group", columns="service", values="share_covered")
    assert (by["basket"] <= by[list(BASKET)].min(axis=1) + 1e-12).all()
    total = groups[(groups["service"] == "basket") & (groups["group"] == "ethnic_total")]
    assert total["residents"].iloc[0] == 1_144_941
    parts = groups[
        (groups["service"] == "basket")
        & (groups["layer"] == "ethnic_group")
        & (groups["kind"] == "group")
    ]
    assert parts["covered"].sum() == pytest.approx(total["covered"].iloc[0], rel=1e-12)


@pytest.mark.slow
def test_figures_quoted_in_the_docs(bham, shared_data: Path) -> None:
    """The Birmingham tables of docs/need_layers.md's basket section are what the code gives."""
    from cnmap.network import read_walk_network

    area, tables = bham
    net = read_walk_network(shared_data / "birmingham" / "osm" / "birmingham_walk_osm_2021-08.gpkg")
    cov = coverage(
        combine_services({k: tables[k] for k in BASKET}), area, minutes=[5, 15], network=net
    )
    basket = services_basket(cov)
    text = (Path(__file__).resolve().parents[1] / "docs" / "need_layers.md").read_text(
        encoding="utf-8"
    )
    shares = service_shares(basket)
    by = shares.pivot_table(index="service", columns="minutes", values="share_covered")
    labels = shares.drop_duplicates("service").set_index("service")["label"]
    for key in (*BASKET, "basket"):
        line = f"| {labels[key]} | {by.loc[key, 5]:.1%} | {by.loc[key, 15]:.1%} |"
        assert line in text, line
    wards = basket_areas(basket, by="ward")
    weakest = wards["weakest"].value_counts()
    assert weakest.idxmax() == "library"
    assert f"`weakest` in {weakest['library']} of the 69 wards" in text
    assert f"in {int((wards['share_basket'] == 0).sum())} wards no resident" in text
    groups = basket_group_coverage(cov, basket, L.report_layers(area), minutes=15)
    rows = groups[groups["service"] == "basket"].set_index("group")
    names = {"deri_score_q1": "DERI quintile 1 (most at risk)", "deri_score_q4": "DERI quintile 4"}
    for g in (
        "ethnic_total",
        "ethnic_asian",
        "ethnic_white",
        "disabled",
        "age_75_plus",
        "deri_score_q1",
        "deri_score_q4",
    ):
        r = rows.loc[g]
        line = (
            f"| {names.get(g, r['label'])} | {r['residents']:,.0f} | "
            f"{r['share_covered']:.1%} | {100 * r['gap_vs_all']:+.1f} |"
        )
        assert line in text, line
