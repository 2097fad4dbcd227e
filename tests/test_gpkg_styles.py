"""cnmap.gpkg_styles: QGIS's layer_styles table in the GeoPackage, one styled row per layer,
QML and SLD that parse as XML and refer to fields the layers have."""

from __future__ import annotations

import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import Point, box

from cnmap.export import write_tables
from cnmap.gpkg_styles import (
    LAYER_STYLES_COLUMNS,
    SHARE_STEPS,
    TYPE_COLOURS,
    layer_styles_frame,
    style_for,
    write_layer_styles,
)

BNG = "EPSG:27700"
SLD = "{http://www.opengis.net/sld}"
SE = "{http://www.opengis.net/se}"
OGC = "{http://www.opengis.net/ogc}"


def qml_root(text: str) -> ET.Element:
    """The QML document without its DOCTYPE line, parsed."""
    assert text.startswith("<!DOCTYPE qgis")
    return ET.fromstring(text.split("\n", 1)[1])


def areas(n: int = 3) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "lsoa_code": [f"E0{i}" for i in range(n)],
            "lsoa_name": [f"Area {i}" for i in range(n)],
            "share_covered_15min (%)": np.linspace(20, 100, n),
            "population": [100] * n,
        },
        geometry=[box(i * 100, 0, i * 100 + 90, 90) for i in range(n)],
        crs=BNG,
    )


def points(types: list[str]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"org_id": [str(i) for i in range(len(types))], "type": types},
        geometry=[Point(i, i) for i in range(len(types))],
        crs=BNG,
    )


def test_area_layer_graduated_on_the_headline_share():
    st = style_for(
        "lsoas",
        pd.DataFrame(columns=["lsoa_code", "share_covered_10min_pct", "share_covered_15min_pct"]),
        "MultiPolygon",
        minutes=15,
    )
    assert st.field == "share_covered_15min_pct" and st.geometry == "polygon"
    assert [(r.lower, r.upper) for r in st.ranges] == list(
        zip(SHARE_STEPS, SHARE_STEPS[1:], strict=False)
    )
    assert st.ranges[0].label == "under 50%" and st.ranges[-1].label == "95% to 100%"
    root = qml_root(st.qml())
    r = root.find("renderer-v2")
    assert r.get("type") == "graduatedSymbol" and r.get("attr") == "share_covered_15min_pct"
    assert len(r.findall("ranges/range")) == 5 == len(r.findall("symbols/symbol"))
    assert root.findtext("layerGeometryType") == "2"
    sld = ET.fromstring(st.sld())
    rules = sld.findall(f".//{SE}Rule")
    assert len(rules) == 5
    last = rules[-1].find(f"{OGC}Filter/{OGC}And")
    assert last.find(f"{OGC}PropertyIsLessThanOrEqualTo/{OGC}Literal").text == "100"
    # 10 minutes asked for: that field
    st10 = style_for(
        "wards",
        pd.DataFrame(columns=["share_covered_10min_pct", "share_covered_15min_pct"]),
        "Polygon",
        minutes=10,
    )
    assert st10.field == "share_covered_10min_pct"


def test_thin_layers_single_symbol_with_labels():
    st = style_for("thin_lsoas", areas(), "Polygon")
    root = qml_root(st.qml())
    assert root.find("renderer-v2").get("type") == "singleSymbol"
    assert root.get("labelsEnabled") == "1"
    assert root.find("labeling/settings/text-style").get("fieldName") == "lsoa_name"
    wards = style_for("thin_wards", pd.DataFrame(columns=["ward_name"]), "Polygon")
    opts = {
        o.get("name"): o.get("value") for o in qml_root(wards.qml()).iter("Option") if o.get("name")
    }
    assert opts["style"] == "no" and opts["outline_width"] == "0.8"  # an outline, no fill


def test_organisations_one_distinct_colour_per_type_and_hostile_types_escaped():
    evil = ['<script>alert("x")</script>', "food & drink", "youth"]
    st = style_for("organisations", points(evil), "Point")
    assert [c.value for c in st.categories] == sorted(evil)
    colours = [c.symbol.fill for c in st.categories]
    assert len(set(colours)) == len(colours)
    qml = st.qml()
    assert "<script>" not in qml  # escaped by the XML writer
    root = qml_root(qml)
    cats = root.findall("renderer-v2/categories/category")
    assert sorted(c.get("value") for c in cats) == sorted(evil)  # read back exactly
    sld = ET.fromstring(st.sld())
    lits = [e.text for e in sld.iter(f"{OGC}Literal")]
    assert sorted(lits) == sorted(evil)
    many = style_for(
        "organisations", points([f"t{i}" for i in range(len(TYPE_COLOURS) + 1)]), "Point"
    )
    assert many.single is not None and not many.categories  # too many types: one colour


def test_residents_and_catchments():
    res = style_for(
        "residents", pd.DataFrame(columns=["walk_min", "weight"]), "Point", limits=(5, 10, 15, 20)
    )
    assert res.field == "walk_min"
    assert [(r.lower, r.upper) for r in res.ranges][:4] == [(0, 5), (5, 10), (10, 15), (15, 20)]
    assert res.ranges[-1].label == "over 20 minutes"
    one = style_for("catchments", pd.DataFrame({"minutes": [15]}), "MultiPolygon")
    assert one.single is not None and one.single.fill_opacity == 0.25
    two = style_for("catchments", pd.DataFrame({"minutes": [10, 15]}), "MultiPolygon")
    assert [c.value for c in two.categories] == ["10", "15"]
    other = style_for("anything", pd.DataFrame(columns=["a"]), "LineString")
    assert other.geometry == "line" and qml_root(other.qml()).findtext("layerGeometryType") == "1"


def test_layer_styles_frame_has_qgis_columns():
    st = [style_for("lsoas", areas(), "Polygon", minutes=15)]
    f = layer_styles_frame(st)
    assert tuple(f.columns) == LAYER_STYLES_COLUMNS
    assert f.loc[0, "f_table_name"] == "lsoas" and bool(f.loc[0, "useAsDefault"])
    assert len(f.loc[0, "styleName"]) <= 30


def _styles(path: Path) -> pd.DataFrame:
    with sqlite3.connect(path) as con:
        return pd.read_sql("select * from layer_styles", con)


@pytest.mark.slow
def test_geopackage_has_one_default_style_per_layer(tmp_path):
    tables = {
        "lsoas": areas(),
        "organisations": points(["a", "b"]),
        "stats": pd.DataFrame({"x": [1]}),
    }
    gis = {"catchments": gpd.GeoDataFrame({"minutes": [15]}, geometry=[box(0, 0, 1, 1)], crs=BNG)}
    out = write_tables(tables, tmp_path, formats=["gpkg"], gis_layers=gis, style_minutes=15)
    gpkg = out["gpkg"][0]
    layers = dict(pyogrio.list_layers(gpkg))
    spatial = [n for n, g in layers.items() if g is not None]
    assert sorted(spatial) == ["catchments", "lsoas", "organisations"]
    styles = _styles(gpkg)
    assert list(styles.columns) == ["id", *LAYER_STYLES_COLUMNS]
    assert sorted(styles["f_table_name"]) == sorted(spatial)  # one row per layer
    assert (styles["useAsDefault"] == 1).all()
    with sqlite3.connect(gpkg) as con:
        geom_cols = dict(con.execute("select table_name, column_name from gpkg_geometry_columns"))
        contents = dict(con.execute("select table_name, data_type from gpkg_contents"))
        fields = {t: {r[1] for r in con.execute(f'pragma table_info("{t}")')} for t in spatial}
    assert contents["layer_styles"] == "attributes"  # listed, as QGIS writes it
    for _, row in styles.iterrows():
        assert row["f_geometry_column"] == geom_cols[row["f_table_name"]]
        root = qml_root(row["styleQML"])
        attr = root.find("renderer-v2").get("attr")
        assert attr is None or attr in fields[row["f_table_name"]], (row["f_table_name"], attr)
        sld = ET.fromstring(row["styleSLD"])
        assert sld.tag == f"{SLD}StyledLayerDescriptor"
        assert sld.find(f"{SLD}NamedLayer/{SE}Name").text == row["f_table_name"]
    lsoa = styles.set_index("f_table_name").loc["lsoas"]
    assert qml_root(lsoa["styleQML"]).find("renderer-v2").get("attr") == "share_covered_15min_pct"


def test_write_layer_styles_on_its_own(tmp_path):
    p = tmp_path / "x.gpkg"
    areas().to_file(p, layer="lsoas", driver="GPKG", engine="pyogrio")
    n = write_layer_styles(p, [style_for("lsoas", areas(), "Polygon")])
    assert n == 1 and len(_styles(p)) == 1


@pytest.mark.slow
def test_birmingham_geopackage_styles(shared_data, tmp_path):
    import cnmap
    from cnmap.coverage import coverage
    from cnmap.export import export_coverage
    from cnmap.network import read_walk_network
    from cnmap.thin import thin_areas

    area = cnmap.load_area("E08000025", lsoa_vintage=2011, iod=2019)
    orgs = cnmap.read_organisations(
        shared_data / "birmingham/seed_organisations.csv", area=area, type_col="kind"
    )
    net = read_walk_network(shared_data / "birmingham/osm/birmingham_walk_osm_2021-08.gpkg")
    cov = coverage(orgs, area, network=net, minutes=[10, 15])
    out = export_coverage(cov, tmp_path, thin=thin_areas(cov), formats=["gpkg"])
    gpkg = out["gpkg"][0]
    layers = {n for n, g in pyogrio.list_layers(gpkg) if g is not None}
    assert {
        "lsoas",
        "wards",
        "thin_lsoas",
        "thin_wards",
        "organisations",
        "residents",
        "catchments",
    } <= layers
    styles = _styles(gpkg)
    assert sorted(styles["f_table_name"]) == sorted(layers)
    org = styles.set_index("f_table_name").loc["organisations", "styleQML"]
    kinds = sorted(set(orgs.organisations["type"].dropna().astype(str)))
    values = [c.get("value") for c in qml_root(org).findall("renderer-v2/categories/category")]
    assert values == kinds
