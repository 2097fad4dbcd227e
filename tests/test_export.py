"""cnmap.export: CSV / XLSX / GeoPackage written and read back; the documented sheets."""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyogrio
import pytest
from openpyxl import load_workbook
from shapely.geometry import LineString, Point, box

from cnmap.area import Area
from cnmap.coverage import coverage
from cnmap.errors import CRSError, ValidationError
from cnmap.export import (
    EMPTY_PREFIX,
    FAR_FROM_POSTCODE,
    SHEET_DESCRIPTIONS,
    export_coverage,
    people_table,
    postcode_distances,
    sheet_name,
    ward_population_note,
    write_tables,
)
from cnmap.network import walk_network_from_graph
from cnmap.thin import thin_areas

BNG = "EPSG:27700"
X0, Y0 = 400000.0, 280000.0
DOCS = Path(__file__).resolve().parents[1] / "docs" / "outputs.md"


def tables() -> dict[str, pd.DataFrame]:
    pts = gpd.GeoDataFrame(
        {
            "org_id": ["a", "b"],
            "name": ['=HYPERLINK("http://x")', "Caf\u00e9 \x07bell"],
            "services_list": [("food", "advice"), ()],
            "open": [True, False],
        },
        geometry=[Point(-1.9, 52.48), Point(-1.88, 52.47)],
        crs="EPSG:4326",
    )
    stats = pd.DataFrame(
        {
            "share_covered_15min": [0.25, np.nan],
            "population": [1234.4, 99.0],
            "n": pd.array([3, None], dtype="Int64"),
            "mean_walk_min": [7.26, np.inf],
        },
        index=pd.Index(["W1", "W2"], name="ward_code"),
    )
    return {"organisations": pts, "ward stats": stats}


def read_sheet(ws) -> list[tuple]:
    return [tuple(c.value for c in row) for row in ws.iter_rows()]


def test_write_tables_all_formats(tmp_path):
    t = tables()
    out = write_tables(
        t,
        tmp_path / "out",
        params={"minutes": [5, 15], "nested": {"a": 1}},
        sources=pd.DataFrame(
            {"title": ["Hand data"], "licence": ["OGL-UK-3.0"], "attribution": ["made by hand"]}
        ),
        stem="demo",
        notes=["a caveat"],
        title="Demo export",
    )
    d = tmp_path / "out"
    assert [p.name for p in out["csv"]] == [
        "organisations.csv",
        "ward_stats.csv",
        "parameters.csv",
        "sources.csv",
    ]
    assert out["xlsx"] == [d / "demo.xlsx"] and out["gpkg"] == [d / "demo.gpkg"]
    assert t["organisations"].crs.to_epsg() == 4326  # inputs untouched

    # CSV: no geometry; named index kept as a column; tuples as text
    org = pd.read_csv(d / "organisations.csv")
    assert "geometry" not in org.columns and org.loc[0, "services_list"] == "food, advice"
    ws = pd.read_csv(d / "ward_stats.csv")
    assert ws.columns[0] == "ward_code" and ws.loc[0, "population"] == 1234.4
    par = pd.read_csv(d / "parameters.csv")
    assert dict(zip(par["parameter"], par["value"], strict=True)) == {
        "minutes": "5, 15",
        "nested.a": "1",
    }

    # XLSX
    wb = load_workbook(d / "demo.xlsx")
    assert wb.sheetnames == ["README", "organisations", "ward_stats"]  # as the file names
    rd = [v for row in read_sheet(wb["README"]) for v in row if v is not None]
    assert rd[0] == "Demo export"
    for text in (
        "Sheets",
        "Parameters",
        "minutes",
        "5, 15",
        "nested.a",
        "Hand data",
        "OGL-UK-3.0",
        "made by hand",
        "Notes",
        "a caveat",
        "Column guide",
        "population",
    ):
        assert text in rd, text
    s = wb["organisations"]
    assert s.freeze_panes == "A2" and s.auto_filter.ref == "A1:D3"
    assert [c.value for c in s[1]] == ["org_id", "name", "services_list", "open"]
    assert all(c.font.b for c in s[1])
    assert s["B2"].value == '=HYPERLINK("http://x")' and s["B2"].data_type == "s"  # not a formula
    assert s["B3"].value == "Caf\u00e9 bell"  # control character removed
    assert s["D2"].value is True
    assert s.column_dimensions["B"].width >= len('=HYPERLINK("http://x")')
    s = wb["ward_stats"]
    assert [c.value for c in s[1]] == [
        "ward_code",
        "share_covered_15min",
        "population",
        "n",
        "mean_walk_min",
    ]
    assert s["B2"].value == 0.25 and s["B2"].number_format == "0.0%"
    assert s["C2"].number_format == "#,##0" and s["E2"].number_format == "0.0"
    assert s["B3"].value is None and s["D3"].value is None and s["E3"].value is None  # NaN, NA, inf

    # GeoPackage: spatial tables only, in EPSG:27700, plus the readme tables and the styles
    layers = dict(pyogrio.list_layers(d / "demo.gpkg"))
    assert layers == {
        "organisations": "Point",
        "readme_parameters": None,
        "readme_sources": None,
        "layer_styles": None,
    }
    g = gpd.read_file(d / "demo.gpkg", layer="organisations")
    assert g.crs.to_epsg() == 27700
    exp = t["organisations"].to_crs(BNG)
    assert np.allclose(g.geometry.x, exp.geometry.x) and g.loc[0, "services_list"] == "food, advice"
    assert pyogrio.read_dataframe(d / "demo.gpkg", layer="readme_parameters").shape == (2, 2)
    # written unsynced into a part file, flushed once and renamed; GDAL's setting restored
    assert pyogrio.get_gdal_config_option("OGR_SQLITE_SYNCHRONOUS") is None
    assert not list(d.glob(".*.part.gpkg"))


def test_formats_subset_and_rewrite(tmp_path):
    out = write_tables(tables(), tmp_path, formats=("csv",))
    assert set(out) == {"csv"} and not (tmp_path / "cnmap.xlsx").exists()
    out = write_tables({"x": pd.DataFrame({"a": [1]})}, tmp_path, formats="gpkg")
    assert out["gpkg"] == []  # no spatial table: no GeoPackage
    write_tables(tables(), tmp_path, formats=["gpkg"])
    write_tables({"only": tables()["organisations"]}, tmp_path, formats=["gpkg"])
    assert "ward_stats" not in dict(pyogrio.list_layers(tmp_path / "cnmap.gpkg"))
    assert list(dict(pyogrio.list_layers(tmp_path / "cnmap.gpkg"))) == [
        "only",
        "readme_parameters",
        "layer_styles",
    ]  # replaced, not appended
    write_tables({"only": tables()["organisations"]}, tmp_path, formats=["gpkg"], styles=False)
    assert "layer_styles" not in dict(pyogrio.list_layers(tmp_path / "cnmap.gpkg"))


def test_sheet_names():
    long = "a very long table name that Excel would refuse"
    assert sheet_name(long) == long[:31]
    assert sheet_name("x[1]:y?") == "x_1__y_"
    assert sheet_name("lsoas", taken=["LSOAS", "lsoas~2"]) == "lsoas~3"
    assert len(sheet_name(long, taken=[long[:31]])) == 31


def test_long_and_clashing_names(tmp_path):
    long = {
        "thin_infrastructure_lsoas_ranked_by_need": pd.DataFrame({"a": [1]}),
        "thin_infrastructure_lsoas_ranked_by_reach": pd.DataFrame({"a": [2]}),
    }
    write_tables(long, tmp_path, formats=["xlsx"])
    names = load_workbook(tmp_path / "cnmap.xlsx").sheetnames
    assert names == ["README", "thin_infrastructure_lsoas_ranke", "thin_infrastructure_lsoas_ran~2"]
    assert all(len(n) <= 31 for n in names)


def test_errors(tmp_path):
    with pytest.raises(ValidationError, match="no tables"):
        write_tables({}, tmp_path)
    with pytest.raises(ValidationError, match="formats="):
        write_tables(tables(), tmp_path, formats=("pdf",))
    with pytest.raises(ValidationError, match="is a list, not a DataFrame"):
        write_tables({"a": [1, 2]}, tmp_path)
    with pytest.raises(ValidationError, match="reserved"):
        write_tables({"README": pd.DataFrame({"a": [1]})}, tmp_path)
    with pytest.raises(ValidationError, match="same file name"):
        write_tables({"a b": pd.DataFrame({"a": [1]}), "a_b": pd.DataFrame({"a": [1]})}, tmp_path)
    f = tmp_path / "file.txt"
    f.write_text("x")
    with pytest.raises(ValidationError, match="is a file"):
        write_tables(tables(), f)
    nocrs = tables()["organisations"].set_crs(None, allow_override=True)
    with pytest.raises(CRSError, match="table 'o' has geometry but no CRS"):
        write_tables({"o": nocrs}, tmp_path, formats=["gpkg"])
    with pytest.raises(ValidationError, match="needs the result of cnmap.coverage"):
        export_coverage(tables()["ward stats"], tmp_path)


# --------------------------------------------------------------------------------------------
# export_coverage: the documented sheets


def small_coverage():
    G = nx.MultiGraph(crs=BNG)
    for i in range(11):
        G.add_node(i, x=X0 + i * 100, y=Y0)
    for i in range(10):
        G.add_edge(
            i,
            i + 1,
            length=100.0,
            geometry=LineString([(X0 + i * 100, Y0), (X0 + (i + 1) * 100, Y0)]),
        )
    net = walk_network_from_graph(G)
    lsoas = gpd.GeoDataFrame(
        {
            "lsoa_code": ["E01000001", "E01000002"],
            "lsoa_name": ["West", "East"],
            "ward_code": ["W1", "W1"],
            "ward_name": ["Ward", "Ward"],
            "population": [300.0, 300.0],
            "imd_rank": [30000, 10],
            "imd_decile": [10, 1],
        },
        geometry=[
            box(X0 - 50, Y0 - 100, X0 + 500, Y0 + 100),
            box(X0 + 500, Y0 - 100, X0 + 1050, Y0 + 100),
        ],
        crs=BNG,
    )
    wards = gpd.GeoDataFrame(
        {"ward_code": ["W1"], "ward_name": ["Ward"], "lad_code": ["X"]},
        geometry=[box(X0 - 50, Y0 - 100, X0 + 1050, Y0 + 100)],
        crs=BNG,
    )
    area = Area(
        lad_code="X",
        lad_name="Line",
        wards=wards,
        lsoas=lsoas,
        boundary=wards,
        lookup=lsoas[["lsoa_code", "ward_code"]],
        sources=pd.DataFrame({"title": ["Hand-made"], "licence": ["CC0"]}),
    )
    res = gpd.GeoDataFrame(
        {
            "lsoa_code": ["E01000001", "E01000002"],
            "ward_code": ["W1", "W1"],
            "weight": [300.0, 300.0],
        },
        geometry=[Point(X0 + 50, Y0 + 10), Point(X0 + 950, Y0 + 10)],
        crs=BNG,
    )
    orgs = gpd.GeoDataFrame({"org_id": ["o1"], "name": ["Hall"]}, geometry=[Point(X0, Y0)], crs=BNG)
    return coverage(orgs, area, network=net, residents=res, minutes=[5, 15]), area


def documented_sheets() -> list[str]:
    text = DOCS.read_text(encoding="utf-8")
    section = text.split("<!-- sheets -->")[1].split("<!-- /sheets -->")[0]
    return re.findall(r"^\| `([A-Za-z_]+)` \|", section, flags=re.M)


@pytest.mark.slow
def test_export_coverage_holds_the_documented_sheets(tmp_path):
    cov, area = small_coverage()
    th = thin_areas(cov, minutes=5)
    from cnmap.deprivation import ward_profiles

    out = export_coverage(
        cov,
        tmp_path,
        thin=th,
        profiles=ward_profiles(area),
        sources=pd.DataFrame({"title": ["Organisations list"], "licence": ["unstated"]}),
    )
    wb = load_workbook(out["xlsx"][0])
    assert wb.sheetnames == [
        "README",
        "thin_lsoas",
        "thin_wards",
        "lsoas",
        "wards",
        "deciles",
        "totals",
        "organisations",
        "ward_deprivation",
        "quality",
    ]
    assert wb.sheetnames == documented_sheets()
    assert set(wb.sheetnames[1:]) <= set(SHEET_DESCRIPTIONS)
    # thin_lsoas: the thin LSOA only, with its reason; shares as percentages
    s = wb["thin_lsoas"]
    head = [c.value for c in s[1]]
    assert s.max_row == 2  # header + the one thin LSOA
    row = dict(zip(head, [c.value for c in s[2]], strict=True))
    assert row["rank"] == 1 and row["lsoa_code"] == "E01000002" and row["thin"] is True
    assert row["reason"].startswith("IMD decile 1; 300 residents more than 5 minutes' walk")
    assert "share_covered" not in head and row["share_covered (%)"] == 0.0
    assert s.cell(2, head.index("share_covered (%)") + 1).number_format == "0.0"
    assert "geometry" not in head
    # every LSOA in lsoas, with its thin flag and rank
    lsoas = pd.read_csv(tmp_path / "lsoas.csv")
    assert lsoas["lsoa_code"].tolist() == ["E01000001", "E01000002"]
    assert lsoas["thin"].tolist() == [False, True] and sorted(lsoas["rank"]) == [1, 2]
    assert lsoas["share_covered_5min (%)"].tolist() == [100.0, 0.0]
    rd = [v for row in read_sheet(wb["README"]) for v in row if v is not None]
    assert rd[0] == "cnmap walking coverage - Line (X)"
    for text in (
        "thin.rule",
        "coverage.speed_kmh",
        "Hand-made",
        "CC0",
        "Organisations list",
        "unstated",
        "thin_lsoas",
        "ward_deprivation",
    ):
        assert text in rd, text
    layers = dict(pyogrio.list_layers(out["gpkg"][0]))
    assert {
        "thin_lsoas",
        "thin_wards",
        "lsoas",
        "wards",
        "organisations",
        "residents",
        "catchments",
        "layer_styles",
    } <= set(layers)
    assert layers["residents"] == "Point" and "deciles" not in layers and "quality" not in layers
    g = gpd.read_file(out["gpkg"][0], layer="thin_lsoas")
    assert g.crs.to_epsg() == 27700 and g.loc[0, "rank"] == 1 and bool(g.loc[0, "thin"])
    assert g.loc[0, "share_covered_pct"] == 0.0  # GIS field names without brackets
    res = gpd.read_file(out["gpkg"][0], layer="residents")
    assert len(res) == 2 and res["weight"].sum() == 600.0 and "walk_min" in res.columns
    catch = gpd.read_file(out["gpkg"][0], layer="catchments")
    assert len(catch) == 1 and catch["minutes"].tolist() == [15] and catch.area.sum() > 0
    # CSV mirror of the sheets
    assert {p.stem for p in out["csv"]} >= set(wb.sheetnames[1:])
    thin_csv = pd.read_csv(tmp_path / "thin_lsoas.csv")
    assert thin_csv["lsoa_code"].tolist() == ["E01000002"]
    # without thin and profiles: only the coverage sheets
    out2 = export_coverage(cov, tmp_path / "plain", formats=["xlsx"])
    assert load_workbook(out2["xlsx"][0]).sheetnames == [
        "README",
        "lsoas",
        "wards",
        "deciles",
        "totals",
        "organisations",
        "quality",
    ]
    with pytest.raises(ValidationError, match="thin must be the result of cnmap.thin_areas"):
        export_coverage(cov, tmp_path, thin=cov)


def test_people_table_whole_people_and_percentages():
    df = pd.DataFrame(
        {
            "ward_code": ["W1", "W2"],
            "population": [1234.5, np.nan],
            "pop_covered_15min": [1000.49, 7.0],
            "share_covered_15min": [0.81234, 1.0],
            "share_covered_z": [2.5, -1.0],
            "imd_extent": [0.5, 0.0],
            "mean_walk_min": [7.26, 3.04],
            "mean_reachable_15min": [2.3456, 0.0],
            "income_scale": [10.4, 3.6],
            "thin": [True, False],
        }
    )
    got = people_table(df)
    assert list(got.columns) == [
        "ward_code",
        "population",
        "pop_covered_15min",
        "share_covered_15min (%)",
        "share_covered_z",
        "imd_extent (%)",
        "mean_walk_min",
        "mean_reachable_15min",
        "income_scale",
        "thin",
    ]
    assert str(got["population"].dtype) == "Int64"
    assert got["population"].tolist()[0] == 1235 and pd.isna(got["population"].iloc[1])
    assert got["pop_covered_15min"].tolist() == [1000, 7]
    assert got["share_covered_15min (%)"].tolist() == [81.2, 100.0]
    assert got["share_covered_z"].tolist() == [2.5, -1.0]  # a z-score, not a share
    assert got["imd_extent (%)"].tolist() == [50.0, 0.0]
    assert got["mean_walk_min"].tolist() == [7.3, 3.0]
    assert got["mean_reachable_15min"].tolist() == [2.35, 0.0]
    assert got["income_scale"].tolist() == [10, 4] and got["thin"].tolist() == [True, False]
    assert df["population"].iloc[0] == 1234.5  # the input is not changed


def test_people_table_leaves_values_that_are_not_shares():
    df = pd.DataFrame({"share_covered": [0.5, 1.7]})  # out of 0..1: not converted
    assert people_table(df).columns.tolist() == ["share_covered"]


@pytest.mark.slow
def test_empty_tables_say_why(tmp_path):
    cov, area = small_coverage()
    th = thin_areas(cov, minutes=15)  # both LSOAs within 15 minutes: nothing is thin
    out = export_coverage(cov, tmp_path, thin=th)
    assert len(cov.quality) == 0 and not th.lsoas["thin"].any()
    flagged = int((th.wards["thin"] | th.wards["left_behind"]).sum())
    assert len(pd.read_csv(tmp_path / "thin_wards.csv")) == max(flagged, 1)
    for name in ("quality", "thin_lsoas"):
        rows = pd.read_csv(tmp_path / f"{name}.csv", dtype=str)
        assert len(rows) == 1, name
        first = rows.iloc[0, 0]
        assert first.startswith(EMPTY_PREFIX), (name, first)
        assert rows.iloc[0, 1:].isna().all()
    quality = pd.read_csv(tmp_path / "quality.csv").iloc[0, 0]
    assert "no problems found" in quality and "500 m" in quality
    assert "no LSOA is thin" in pd.read_csv(tmp_path / "thin_lsoas.csv").iloc[0, 0]
    wb = load_workbook(out["xlsx"][0])
    assert wb["quality"]["A2"].value.startswith(EMPTY_PREFIX)
    rd = [v for row in read_sheet(wb["README"]) for v in row if isinstance(v, str)]
    assert any(v.startswith("quality: (no rows) no problems found") for v in rd)
    import sqlite3

    with sqlite3.connect(out["gpkg"][0]) as con:
        desc = dict(con.execute("select table_name, description from gpkg_contents"))
    assert "(no rows) no LSOA is thin" in desc["thin_lsoas"]
    assert dict(pyogrio.list_layers(out["gpkg"][0]))["thin_lsoas"] is not None


def test_write_tables_explains_any_empty_table(tmp_path):
    write_tables(
        {"rejected": pd.DataFrame({"row": pd.Series([], dtype=int), "reason": []})},
        tmp_path,
        formats=["csv"],
        empty_reasons={"rejected": "every row was placed"},
    )
    rows = pd.read_csv(tmp_path / "rejected.csv")
    assert rows.columns.tolist() == ["row", "reason"]
    assert rows["row"].tolist() == ["(no rows) every row was placed"]
    write_tables({"other": pd.DataFrame({"a": []})}, tmp_path, formats=["csv"])
    assert pd.read_csv(tmp_path / "other.csv")["a"].tolist() == ["(no rows) nothing to list"]
    # the run's rejected rows: a standard reason without being told
    rej = pd.DataFrame({"dataset": pd.Series([], dtype=object), "reason": []})
    write_tables({"rejected_organisations": rej}, tmp_path, formats=["csv", "xlsx"])
    got = pd.read_csv(tmp_path / "rejected_organisations.csv")
    assert got["dataset"].tolist() == ["(no rows) every row of every organisations list was placed"]
    ws = load_workbook(tmp_path / "cnmap.xlsx")["rejected_organisations"]
    assert ws.max_row == 2 and ws["A2"].value.startswith("(no rows) every row")


def lookup_frame(points: dict[str, tuple[float, float]]) -> pd.DataFrame:
    """A postcode lookup placing each postcode at a BNG point."""
    from pyproj import Transformer

    to_wgs = Transformer.from_crs(BNG, "EPSG:4326", always_xy=True)
    rows = []
    for pc, (e, n) in points.items():
        lon, lat = to_wgs.transform(e, n)
        rows.append({"postcode": pc, "lat": lat, "lon": lon, "easting": e, "northing": n})
    return pd.DataFrame(rows)


def test_postcode_distances_flags_organisations_far_from_their_postcode():
    orgs = gpd.GeoDataFrame(
        {
            "org_id": ["a", "b", "c", "d"],
            "name": ["Near", "Far", "No code", "Column"],
            "address": ["1 High St, Town B1 1AA", "2 Low Rd B2 2BB", "somewhere", None],
            "postcode": [None, None, None, "b11aa"],
        },
        geometry=[Point(X0, Y0), Point(X0, Y0), Point(X0, Y0), Point(X0 + 300, Y0 + 400)],
        crs=BNG,
    )
    lookup = lookup_frame({"B1 1AA": (X0 + 600, Y0 + 800), "B2 2BB": (X0 + 3000, Y0)})
    got = postcode_distances(orgs, lookup, max_m=1000)
    assert got["postcode_checked"].tolist()[:2] == ["B1 1AA", "B2 2BB"]
    assert pd.isna(got["postcode_checked"].iloc[2]) and got["postcode_checked"].iloc[3] == "B1 1AA"
    d = got["postcode_distance_m"].to_numpy()
    assert np.allclose(d[[0, 1, 3]], [1000.0, 3000.0, 500.0], atol=0.01) and np.isnan(d[2])
    assert got["far_from_postcode"].tolist() == [False, True, False, False]  # 1,000 m is not more


def test_export_flags_organisations_far_from_their_postcode_in_quality(tmp_path):
    cov, area = small_coverage()
    cov.organisations["address"] = ["Village Hall, B2 2BB"]
    import dataclasses

    cov = dataclasses.replace(
        cov, area=dataclasses.replace(area, postcodes=lookup_frame({"B2 2BB": (X0 + 2500, Y0)}))
    )
    export_coverage(cov, tmp_path, formats=["csv"])
    q = pd.read_csv(tmp_path / "quality.csv")
    assert q["what"].tolist() == [FAR_FROM_POSTCODE] and q["id"].tolist() == ["o1"]
    assert "Hall: placed 2.5 km from its address postcode B2 2BB" in q["detail"].iloc[0]
    o = pd.read_csv(tmp_path / "organisations.csv")
    assert o["far_from_postcode"].tolist() == [True] and o["postcode_distance_m"].tolist() == [2500]
    export_coverage(cov, tmp_path / "off", formats=["csv"], postcode_check_m=None)
    assert pd.read_csv(tmp_path / "off" / "quality.csv")["what"].iloc[0].startswith(EMPTY_PREFIX)


def test_ward_population_note_names_both_definitions():
    wards = pd.DataFrame(
        {"ward_code": ["W1", "W2"], "ward_name": ["North", "South"], "population": [100.0, 300.0]}
    )
    profiles = pd.DataFrame(
        {"ward_name": ["North", "South"], "population": [150, 250]},
        index=pd.Index(["W1", "W2"], name="ward_code"),
    )
    note = ward_population_note({"wards": wards, "ward_deprivation": profiles})
    assert note is not None
    assert "up to 50 people, North (W1): 100 in wards, 150 in ward_deprivation" in note
    assert "the ward they live in" in note and "best fit" in note
    assert "the totals for all wards agree (400)" in note
    same = profiles.assign(population=[100, 300])
    assert ward_population_note({"wards": wards, "ward_deprivation": same}) is None
    lsoa_level = pd.DataFrame({"lsoa_code": ["E1"], "ward_code": ["W1"], "population": [5.0]})
    assert ward_population_note({"wards": wards, "thin_lsoas": lsoa_level}) is None


@pytest.mark.slow
def test_birmingham_export_readable(shared_data, tmp_path):
    import cnmap
    from cnmap.deprivation import ward_profiles
    from cnmap.network import read_walk_network

    area = cnmap.load_area("E08000025", lsoa_vintage=2011, iod=2019)
    orgs = cnmap.read_organisations(
        shared_data / "birmingham/osm/warm_spaces_birmingham.geojson", area=area
    )
    net = read_walk_network(shared_data / "birmingham/osm/birmingham_walk_osm_2021-08.gpkg")
    cov = coverage(orgs, area, network=net, minutes=[10, 15, 20])
    th = thin_areas(cov, org_label="warm space")
    out = export_coverage(cov, tmp_path, thin=th, profiles=ward_profiles(area), catchments=False)
    n_thin = int(th.lsoas["thin"].sum())
    assert n_thin > 0
    wb = load_workbook(out["xlsx"][0], read_only=True)
    assert wb.sheetnames == documented_sheets()
    rows = list(wb["thin_lsoas"].iter_rows(values_only=True))
    head = rows[0]
    assert len(rows) == n_thin + 1  # the thin LSOAs only
    first = dict(zip(head, rows[1], strict=True))
    assert first["rank"] == 1 and first["thin"] is True and first["reason"].startswith("IMD decile")
    assert len(list(wb["lsoas"].iter_rows(values_only=True))) == 640  # every LSOA
    # people as whole numbers, shares as percentages, in the CSV too
    thin_csv = pd.read_csv(tmp_path / "thin_lsoas.csv")
    assert len(thin_csv) == n_thin
    for col in ("population", "pop_out_of_reach", "deprived_pop_out_of_reach"):
        assert pd.api.types.is_integer_dtype(thin_csv[col]), col
    assert "share_covered (%)" in thin_csv.columns and thin_csv["share_covered (%)"].max() <= 100
    wards_csv = pd.read_csv(tmp_path / "wards.csv")
    assert len(wards_csv) == 69 and pd.api.types.is_integer_dtype(wards_csv["population"])
    assert wards_csv["share_covered_15min (%)"].between(0, 100).all()
    rd = [v for row in wb["README"].iter_rows(values_only=True) for v in row if v is not None]
    assert "cnmap walking coverage - Birmingham (E08000025)" in rd
    assert any(isinstance(v, str) and "Open Government Licence" in v for v in rd)
    assert any(isinstance(v, str) and "OpenStreetMap" in v for v in rd)
    # ward_deprivation adds LSOAs up by best fit, wards counts where people live: a note says so
    assert any(
        isinstance(v, str) and v.startswith("Ward populations differ between sheets") for v in rd
    )
    # the warm spaces list has organisations placed far from their own postcode
    q = pd.read_csv(tmp_path / "quality.csv")
    far = q.loc[q["what"] == FAR_FROM_POSTCODE]
    assert len(far) >= 1 and far["detail"].str.contains("km from its address postcode").all()
    layers = dict(pyogrio.list_layers(out["gpkg"][0]))
    assert (
        layers["thin_lsoas"] in ("MultiPolygon", "Polygon") and layers["organisations"] == "Point"
    )
    assert layers["residents"] == "Point" and "catchments" not in layers
    wb.close()


def test_csv_formula_injection_guarded(tmp_path):
    """Text a spreadsheet would run as a formula gets a leading ' in the CSV (numbers, the
    XLSX and the GeoPackage keep the values); csv_guard_formulas=False writes them as given."""
    t = {
        "orgs": pd.DataFrame(
            {
                "name": [
                    '=HYPERLINK("http://x")',
                    "+44 121",
                    "-cmd|' /C calc'!A0",
                    "@SUM(A1)",
                    "\tTab",
                    "Plain - name",
                    None,
                ],
                "value": [-1.5, 2.0, -3.0, 4.0, 5.0, 6.0, 7.0],
            }
        )
    }
    src = t["orgs"].copy()
    write_tables(
        t,
        tmp_path / "a",
        formats=["csv", "xlsx"],
        params={"note": "=1+1"},
        sources=pd.DataFrame({"title": ["@evil"]}),
    )
    text = (tmp_path / "a" / "orgs.csv").read_text()
    for bad in ("\n=HYPERLINK", "\n+44", "\n-cmd", "\n@SUM", "\n\tTab"):
        assert bad not in text, bad
    got = pd.read_csv(tmp_path / "a" / "orgs.csv", keep_default_na=False)
    assert got["name"].tolist()[:6] == ["'" + v for v in src["name"][:5]] + ["Plain - name"]
    assert got["value"].tolist() == src["value"].tolist()  # negative numbers unchanged
    assert "'=1+1" in (tmp_path / "a" / "parameters.csv").read_text()
    assert "'@evil" in (tmp_path / "a" / "sources.csv").read_text()
    pd.testing.assert_frame_equal(t["orgs"], src)  # caller's table untouched
    ws = load_workbook(tmp_path / "a" / "cnmap.xlsx")["orgs"]
    assert ws["A2"].value == '=HYPERLINK("http://x")' and ws["A2"].data_type == "s"
    write_tables(t, tmp_path / "b", formats=["csv"], csv_guard_formulas=False)
    raw = pd.read_csv(tmp_path / "b" / "orgs.csv", keep_default_na=False)
    assert raw["name"].tolist()[:5] == src["name"].tolist()[:5]


def test_workbook_cells_number_formats_and_layout(tmp_path):
    """Each kind of value as the openpyxl writer stored it (values, types, number formats),
    header bold on grey, column widths as computed, frozen header, filters over the rows."""
    import datetime as dt
    import decimal

    df = pd.DataFrame(
        {
            "name": ["=1+1", "Smiles\r\n@x", None],
            "population": [1.4, np.nan, 3.6],
            "share_covered_15min": [0.1, 0.25, np.nan],
            "pop_out_of_reach": pd.array([1, None, 3], dtype="Int64"),
            "thin": [True, False, True],
            "mixed": [True, "x", 2.5],
            "mean_walk_min": [1.25, np.inf, 3.0],
            "deprivation_rank": [1, 2, 3],
            "when": pd.to_datetime(["2024-01-01 10:00", None, "2024-03-01 00:00"]),
            "p": [0.01, 0.2, 0.3],
            "path": [Path("a/b"), decimal.Decimal("1.5"), dt.date(2024, 5, 6)],
        }
    )
    write_tables({"t": df}, tmp_path, formats=["xlsx"])
    wb = load_workbook(tmp_path / "cnmap.xlsx")
    assert wb.sheetnames == ["README", "t"]
    ws = wb["t"]
    got = [
        [None if c.value is None else (c.value, c.number_format) for c in r] for r in ws.iter_rows()
    ]
    g = "General"
    assert got[0] == [(c, g) for c in df.columns]
    assert got[1:] == [
        [
            ("=1+1", g),
            (1.4, "#,##0"),
            (0.1, "0.0%"),
            (1, "#,##0"),
            (True, g),
            (True, g),
            (1.25, "0.0"),
            (1, "0"),
            (dt.datetime(2024, 1, 1, 10, 0), "yyyy-mm-dd h:mm:ss"),
            (0.01, "0.000"),
            ("a/b", g),
        ],
        [("Smiles\n@x", g), None, (0.25, "0.0%"), None, (False, g), ("x", g), None, (2, "0")]
        + [None, (0.2, "0.000"), (1.5, g)],
        [None, (3.6, "#,##0"), None, (3, "#,##0"), (True, g), (2.5, g), (3, "0.0"), (3, "0")]
        + [(dt.datetime(2024, 3, 1), "yyyy-mm-dd h:mm:ss"), (0.3, "0.000")]
        + [(dt.datetime(2024, 5, 6), "yyyy-mm-dd")],
    ]
    assert not [c.coordinate for r in ws.iter_rows() for c in r if c.data_type == "f"]
    assert all(c.font.b and c.fill.fgColor.rgb[-6:] == "DDDDDD" for c in ws[1])
    assert not any(c.font.b for c in ws[2])
    widths = {i: d.width for d in ws.column_dimensions.values() for i in range(d.min, d.max + 1)}
    assert widths == dict(enumerate([12, 12, 21, 18, 8, 8, 15, 18, 21, 8, 12], start=1))
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:K4"
    readme = wb["README"]
    assert readme["A1"].value == "cnmap export" and readme["A1"].font.sz == 14
    assert readme.column_dimensions["A"].width == 34 and readme.column_dimensions["B"].width == 40


def test_organisations_of_one_area_share_one_postcode_lookup(tmp_path):
    from cnmap.export import area_postcode_lookup, quality_table

    cov, area = small_coverage()
    cov.organisations["address"] = ["Village Hall, B2 2BB"]
    import dataclasses

    area = dataclasses.replace(area, postcodes=lookup_frame({"B2 2BB": (X0 + 2500, Y0)}))
    cov = dataclasses.replace(cov, area=area)
    lookup = area_postcode_lookup(area)
    assert area_postcode_lookup(area) is lookup
    other = dataclasses.replace(area, postcodes=lookup_frame({"B2 2BB": (X0, Y0)}))
    assert area_postcode_lookup(other) is not lookup
    first = quality_table(cov)
    table = lookup.table()
    assert quality_table(cov).equals(first) and lookup.table() is table  # prepared once
    assert "placed 2.5 km from its address postcode B2 2BB" in first["detail"].iloc[0]
    # a different area object: its own lookup, its own answer
    moved = dataclasses.replace(cov, area=other)
    assert quality_table(moved)["what"].tolist() == []


@pytest.mark.parametrize("fmt", [None, "0.0%", "#,##0"])
def test_float_column_widths_as_the_per_value_rule(fmt):
    from cnmap.export import _cell_values, _width

    rng = np.random.default_rng(3)
    cases = [
        [0.0, -0.0],
        [-0.0, 0.04],
        [-0.04, 0.0],
        [9.95, 9.94, -9.95],
        [999.95, -99.96, np.nan, np.inf, -np.inf],
        [np.nan, np.inf],
        [],
        list(rng.normal(0, 1e6, 3000)),  # only the first 2,000 count
        list(rng.normal(0, 10, 50)) + [1e15],
    ]
    for values in cases:
        s = pd.Series(values, dtype="float64")
        cells = _cell_values(s)
        assert _width("h", cells, fmt, s) == _width("h", cells, fmt), values[:5]
