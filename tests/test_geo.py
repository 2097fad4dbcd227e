"""cnmap.geo on hand-checkable squares."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString, Point, Polygon, box

from cnmap.errors import CRSError, MissingColumnError, ValidationError
from cnmap.geo import (
    apportion,
    assign_areas,
    check_same_crs,
    lsoa_to_ward,
    repair_geometries,
    to_bng,
    to_wgs84,
)

BNG = "EPSG:27700"


@pytest.fixture
def lsoas() -> gpd.GeoDataFrame:
    # 2 x 2 grid of 100 m squares; codes deliberately not in row order
    #   L3 | L4        (y 100..200)
    #   L2 | L1        (y 0..100)
    return gpd.GeoDataFrame(
        {
            "lsoa_code": ["L2", "L1", "L3", "L4"],
            "ward_code": ["W1", "W2", "W1", "W2"],
            "ward_name": ["West", "East", "West", "East"],
            "population": [1000.0, 400.0, 600.0, 2.0],
        },
        geometry=[
            box(0, 0, 100, 100),
            box(100, 0, 200, 100),
            box(0, 100, 100, 200),
            box(100, 100, 200, 200),
        ],
        crs=BNG,
    )


@pytest.fixture
def wards() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"ward_code": ["W2", "W1"], "ward_name": ["East", "West"]},
        geometry=[box(100, 0, 200, 200), box(0, 0, 100, 200)],
        crs=BNG,
    )


def _points(xy, crs=BNG) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"id": range(len(xy))}, geometry=[Point(p) for p in xy], crs=crs)


# ------------------------------------------------------------------ assign_areas


def test_assign_areas_inside_outside_and_wards_from_lsoas(lsoas):
    pts = _points([(50, 50), (150, 50), (50, 150), (150, 150), (500, 500)])
    out = assign_areas(pts, lsoas)
    assert out["lsoa_code"].tolist()[:4] == ["L2", "L1", "L3", "L4"]
    assert pd.isna(out["lsoa_code"].iloc[4])
    assert out["ward_code"].tolist()[:4] == ["W1", "W2", "W1", "W2"]
    assert out["ward_name"].tolist()[:4] == ["West", "East", "West", "East"]
    assert pd.isna(out["ward_code"].iloc[4]) and pd.isna(out["ward_name"].iloc[4])
    assert "lsoa_code" not in pts.columns  # caller's frame untouched
    assert out.index.equals(pts.index)


def test_assign_areas_border_points_get_exactly_one_smallest_code(lsoas, wards):
    # (100, 50) is on the L2/L1 border, (100, 100) is the corner of all four squares
    pts = _points([(100, 50), (100, 100), (0, 0), (50, 100)])
    out = assign_areas(pts, lsoas, wards)
    assert out["lsoa_code"].tolist() == ["L1", "L1", "L2", "L2"]
    assert out["ward_code"].tolist() == ["W1", "W1", "W1", "W1"]
    # reversing the polygon order must not change the answer
    out2 = assign_areas(pts, lsoas.iloc[::-1], wards.iloc[::-1])
    assert out2["lsoa_code"].tolist() == out["lsoa_code"].tolist()
    assert out2["ward_code"].tolist() == out["ward_code"].tolist()
    assert len(out) == len(pts)


def test_assign_areas_with_ward_polygons_overrides_lsoa_ward(lsoas, wards):
    pts = _points([(150, 150)])
    # LSOA says W2 too, but use wards that disagree to prove wards= is used
    wards2 = wards.assign(ward_code=["WX", "WY"], ward_name=["X", "Y"])
    out = assign_areas(pts, lsoas, wards2)
    assert out.loc[0, "ward_code"] == "WX" and out.loc[0, "ward_name"] == "X"


def test_assign_areas_missing_and_empty_geometries(lsoas):
    pts = gpd.GeoDataFrame({"id": [1, 2, 3]}, geometry=[Point(10, 10), None, Point()], crs=BNG)
    out = assign_areas(pts, lsoas)
    assert out["lsoa_code"].iloc[0] == "L2"
    assert out["lsoa_code"].iloc[1:].isna().all()


def test_assign_areas_errors(lsoas, wards):
    pts = _points([(50, 50)])
    with pytest.raises(CRSError, match="points has no coordinate reference system"):
        assign_areas(pts.set_crs(None, allow_override=True), lsoas)
    with pytest.raises(
        CRSError, match=r"points is in EPSG:4326 but lsoas is in EPSG:27700.*to_bng\(points\)"
    ):
        assign_areas(_points([(-1.9, 52.5)], crs="EPSG:4326"), lsoas)
    with pytest.raises(
        CRSError, match=r"points is in EPSG:27700 but wards is in EPSG:4326.*to_bng\(wards\)"
    ):
        assign_areas(pts, lsoas, wards.to_crs(4326))
    with pytest.raises(MissingColumnError, match=r"lsoas lacks column\(s\) \['ward_code'\]"):
        assign_areas(pts, lsoas.drop(columns=["ward_code"]))
    with pytest.raises(MissingColumnError, match=r"lsoas lacks column\(s\) \['lsoa_code'\]"):
        assign_areas(pts, lsoas.drop(columns=["lsoa_code"]))
    line = gpd.GeoDataFrame({"id": [0]}, geometry=[LineString([(0, 0), (1, 1)])], crs=BNG)
    with pytest.raises(ValidationError, match="non-point geometries"):
        assign_areas(line, lsoas)


def test_assign_areas_many_points_vectorised(lsoas):
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 200, size=(20_000, 2))
    out = assign_areas(_points(xy), lsoas)
    left = xy[:, 0] < 100
    low = xy[:, 1] < 100
    expected = np.where(
        left & low, "L2", np.where(~left & low, "L1", np.where(left & ~low, "L3", "L4"))
    )
    assert (out["lsoa_code"].to_numpy() == expected).all()


# ------------------------------------------------------------------ lsoa_to_ward


def test_lsoa_to_ward_joins_and_keeps_order(lsoas):
    table = pd.DataFrame({"code": ["L4", "L2", "L4"], "v": [1, 2, 3]}, index=[10, 11, 12])
    lookup = pd.DataFrame(lsoas[["lsoa_code", "ward_code", "ward_name"]])
    out = lsoa_to_ward(table, lookup, lsoa_col="code")
    assert out.index.tolist() == [10, 11, 12]
    assert out["ward_code"].tolist() == ["W2", "W1", "W2"]
    assert out["ward_name"].tolist() == ["East", "West", "East"]
    assert "ward_code" not in table.columns


def test_lsoa_to_ward_unmatched_listed(lsoas):
    table = pd.DataFrame({"lsoa_code": ["L1", "E01999999", "E01888888"]})
    lookup = pd.DataFrame(lsoas[["lsoa_code", "ward_code"]])
    with pytest.raises(ValidationError, match=r"2 row\(s\).*\['E01888888', 'E01999999'\]"):
        lsoa_to_ward(table, lookup)


def test_lsoa_to_ward_ambiguous_lookup_and_missing_column(lsoas):
    lookup = pd.DataFrame({"lsoa_code": ["L1", "L1"], "ward_code": ["W1", "W2"]})
    with pytest.raises(ValidationError, match=r"more than one ward: \['L1'\]"):
        lsoa_to_ward(pd.DataFrame({"lsoa_code": ["L1"]}), lookup)
    with pytest.raises(MissingColumnError, match="pass lsoa_col="):
        lsoa_to_ward(pd.DataFrame({"code": ["L1"]}), lookup)


# ------------------------------------------------------------------ apportion


def test_apportion_hand_checked(lsoas):
    # "left" covers the western half of L2 and L3 (x 0..50); "rest" covers everything else.
    polys = gpd.GeoDataFrame(
        {"name": ["left", "rest"]},
        geometry=[box(0, 0, 50, 200), Polygon([(50, 0), (200, 0), (200, 200), (50, 200)])],
        crs=BNG,
    )
    res = apportion(polys, lsoas, id_col="name")
    t = res.table.set_index("name")
    assert t.loc["left", "population"] == pytest.approx(0.5 * 1000 + 0.5 * 600, abs=1e-9)
    assert t.loc["rest", "population"] == pytest.approx(500 + 400 + 300 + 2, abs=1e-9)
    assert t["population"].sum() == pytest.approx(2002.0, abs=1e-9)
    assert t.loc["left", "n_lsoas"] == 2 and t.loc["rest", "n_lsoas"] == 4
    s = res.shares.set_index(["name", "lsoa_code"])
    assert s.loc[("left", "L2"), "lsoa_share"] == pytest.approx(0.5)
    assert s.loc[("rest", "L1"), "overlap_m2"] == pytest.approx(10_000)
    assert len(res.shares) == 6  # touching-only pairs (left/L1) are not overlaps
    assert np.allclose(res.lsoa_allocation["share_allocated"], 1.0, atol=1e-12)
    assert res.table.crs == lsoas.crs


def test_apportion_conserves_totals_on_irregular_tiling(lsoas):
    # split the 200 x 200 square into 7 vertical strips of irregular width
    xs = [0, 13.3, 41.7, 77.7, 100.1, 133.3, 170.9, 200]
    polys = gpd.GeoDataFrame(
        geometry=[box(a, 0, b, 200) for a, b in zip(xs[:-1], xs[1:], strict=True)], crs=BNG
    )
    lsoas = lsoas.assign(households=[10.0, 20.0, 30.0, 40.0])
    res = apportion(polys, lsoas, columns=["population", "households"])
    assert res.table["population"].sum() == pytest.approx(2002.0, abs=1e-9)
    assert res.table["households"].sum() == pytest.approx(100.0, abs=1e-9)
    assert res.table["polygon_id"].tolist() == list(range(7))


def test_apportion_partial_cover_reported(lsoas):
    polys = gpd.GeoDataFrame({"pid": ["a"]}, geometry=[box(0, 0, 100, 50)], crs=BNG)
    res = apportion(polys, lsoas, id_col="pid")
    assert res.table["population"].iloc[0] == pytest.approx(500.0)
    alloc = res.lsoa_allocation.set_index("lsoa_code")["share_allocated"]
    assert alloc["L2"] == pytest.approx(0.5) and alloc["L4"] == 0.0


def test_apportion_errors(lsoas):
    polys = gpd.GeoDataFrame({"pid": ["a", "a"]}, geometry=[box(0, 0, 1, 1)] * 2, crs=BNG)
    with pytest.raises(ValidationError, match=r"duplicate ids \(pid\)"):
        apportion(polys, lsoas, id_col="pid")
    with pytest.raises(CRSError, match="needs areas in metres"):
        apportion(polys.to_crs(4326), lsoas.to_crs(4326))
    with pytest.raises(MissingColumnError, match=r"\['households'\]"):
        apportion(polys.iloc[:1], lsoas, columns=["households"])
    with pytest.raises(ValidationError, match="not numeric"):
        apportion(polys.iloc[:1], lsoas.assign(population=["1", "2", "3", "4"]))
    with pytest.raises(ValidationError, match=r"missing for LSOA\(s\) \['L1'\]"):
        apportion(polys.iloc[:1], lsoas.assign(population=[1.0, np.nan, 3.0, 4.0]))
    pts = gpd.GeoDataFrame(geometry=[Point(0, 0)], crs=BNG)
    with pytest.raises(ValidationError, match="non-polygon geometries"):
        apportion(pts, lsoas)


# ------------------------------------------------------------------ CRS helpers


def test_to_bng_and_back():
    g = gpd.GeoDataFrame(geometry=[Point(-1.8986, 52.4796)], crs="EPSG:4326")  # Victoria Sq
    b = to_bng(g)
    assert b.crs.to_epsg() == 27700
    assert b.geometry.x.iloc[0] == pytest.approx(406_900, abs=300)
    assert b.geometry.y.iloc[0] == pytest.approx(286_900, abs=300)
    w = to_wgs84(b)
    assert w.crs.to_epsg() == 4326
    assert w.geometry.x.iloc[0] == pytest.approx(-1.8986, abs=1e-7)
    assert g.crs.to_epsg() == 4326  # unchanged
    same = to_bng(b)
    assert same is not b and same.geometry.equals(b.geometry)


def test_crs_helpers_missing_crs():
    g = gpd.GeoDataFrame(geometry=[Point(0, 0)])
    with pytest.raises(CRSError, match=r"orgs has no coordinate reference system.*set_crs"):
        to_bng(g, name="orgs")
    with pytest.raises(CRSError, match="no coordinate reference system"):
        to_wgs84(g)
    with pytest.raises(CRSError, match="b has no coordinate"):
        check_same_crs(a=g.set_crs(BNG), b=g)


def test_repair_geometries_bowtie():
    bowtie = Polygon([(0, 0), (2, 2), (2, 0), (0, 2), (0, 0)])
    g = gpd.GeoDataFrame({"code": ["X", "Y"]}, geometry=[bowtie, box(0, 0, 1, 1)], crs=BNG)
    fixed, ids = repair_geometries(g, name="test", id_col="code")
    assert ids == ["X"]
    assert fixed.is_valid.all()
    assert fixed.geometry.iloc[0].geom_type == "MultiPolygon"
    assert fixed.geometry.iloc[0].area == pytest.approx(2.0)
    assert not g.is_valid.iloc[0]  # input untouched


def test_to_bng_leaves_bng_spelled_another_way_untransformed():
    import pyproj
    from shapely.geometry import Point

    from cnmap.geo import to_bng

    # British National Grid as a PROJ string without its datum shift (as some files carry it)
    proj = (
        "+proj=tmerc +lat_0=49 +lon_0=-2 +k=0.9996012717 +x_0=400000 +y_0=-100000 +ellps=airy "
        "+units=m +no_defs"
    )
    gs = gpd.GeoSeries([Point(407500.123, 287600.456)], crs=pyproj.CRS(proj))
    assert not gs.crs.equals("EPSG:27700") and gs.crs.to_epsg() == 27700
    out = to_bng(gs)
    assert out is not gs and (out.x.iloc[0], out.y.iloc[0]) == (407500.123, 287600.456)
