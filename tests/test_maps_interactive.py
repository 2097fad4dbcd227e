"""cnmap.maps.coverage_map / save_html: layers, escaping, attribution, size, inputs, errors.

The coverage and thin results are CoverageResult-like / ThinResult-like objects built from
the real Birmingham boundaries, IoD2019 and warm spaces (tests/helpers/fake_results.py),
following SCHEMA.md; one organisation and one ward carry HTML/script injections.
"""

from __future__ import annotations

import json
import re

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from jinja2.utils import htmlsafe_json_dumps

from cnmap.errors import CnmapError, CRSError, MissingColumnError, ValidationError
from cnmap.maps import _style as S
from cnmap.maps import coverage_map, layer_names, save_html
from cnmap.maps import interactive as I
from cnmap.maps._assets import external_resources
from tests.helpers import fake_results as F


@pytest.fixture(scope="module")
def cov(shared_data):
    return F.coverage(shared_data)


@pytest.fixture(scope="module")
def thin(cov):
    return F.thin(cov)


@pytest.fixture(scope="module")
def profiles(cov):
    return F.ward_profiles(cov)


@pytest.fixture(scope="module")
def full_html(cov, thin, profiles, tmp_path_factory):
    m = coverage_map(cov, thin=thin, ward_profiles=profiles, tiles=None)
    path = save_html(m, tmp_path_factory.mktemp("maps") / "full.html", self_contained=True)
    return path.read_text(encoding="utf-8")


def js(value) -> str:
    """How a string appears inside the page's script data (Jinja's tojson)."""
    return str(htmlsafe_json_dumps(value))


# --------------------------------------------------------------------------------------
# layers and controls
# --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_every_layer_is_in_the_layer_control(full_html):
    control = re.search(r"var (layer_control_\w+)_layers = \{(.*?)\};", full_html, re.S)
    assert control, "no LayerControl in the page"
    overlays = control.group(2)
    for name in layer_names(15).values():
        assert js(name) in overlays, name
    # the LayerControl script comes after every layer it lists
    listed = re.findall(r":\s*(cnmap_area_layer_\w+|marker_cluster_\w+),", overlays)
    assert len(listed) == len(layer_names(15))
    for var in listed:
        assert full_html.index(f"var {var} =") < full_html.index(control.group(0))


@pytest.mark.slow
def test_default_visibility_and_show(cov, thin):
    html = coverage_map(cov, thin=thin, tiles=None).get_root().render()
    added = set(re.findall(r"(cnmap_area_layer_\w+|marker_cluster_\w+)\.addTo\(map_", html))
    assert len(added) == 4  # share, thin, wards, organisations: the gaps open visible
    assert I.DEFAULT_SHOW == ("share", "thin", "wards", "organisations")
    html = coverage_map(cov, thin=thin, tiles=None, show=["thin", "imd"]).get_root().render()
    added = set(re.findall(r"(cnmap_area_layer_\w+|marker_cluster_\w+)\.addTo\(map_", html))
    assert len(added) == 2


def test_controls_fullscreen_search_scale(full_html):
    assert "L.control.fullscreen(" in full_html
    assert "new L.Control.Search(" in full_html
    assert 'propertyName: "name"' in full_html
    assert "L.control.scale()" in full_html  # folium's control_scale=True
    assert "L.markerClusterGroup(" in full_html


def test_attribution_on_the_map(full_html):
    assert js(S.ATTRIBUTION_HTML) in full_html
    assert "addAttribution(" in full_html
    text = S.ATTRIBUTION_HTML
    assert "Contains OS data © Crown copyright and database right" in text
    assert "Open Government Licence v3.0" in text and "ONS and MHCLG" in text
    assert "© OpenStreetMap contributors" in text and "ODbL" in text


def test_tiles_none_has_no_tile_layer(full_html, cov):
    assert "L.tileLayer(" not in full_html
    html = coverage_map(cov, tiles="OpenStreetMap").get_root().render()
    assert "L.tileLayer(" in html and "tile.openstreetmap.org" in html


def test_lsoa_geometry_written_once(full_html, cov, thin):
    # four LSOA layers share one FeatureCollection
    datas = re.findall(r"var (cnmap_data_\w+) = \{", full_html)
    assert len(datas) == 3  # LSOAs, catchments, wards
    n_lsoa_layers = len(re.findall(r"layer\.addData\(" + datas[0] + r"\)", full_html))
    assert n_lsoa_layers == 4


def test_legends_present(full_html):
    for title in (
        "Deprivation (IMD), national deciles",
        "Residents within a 15-minute walk",
        "Organisations (414)",
        "Thin areas",
        "Walking catchments",
        "Deprivation × walking provision",
    ):
        assert js(S.esc(title))[1:-1] in full_html, title


# --------------------------------------------------------------------------------------
# escaping
# --------------------------------------------------------------------------------------


def test_script_injection_is_escaped_in_html(full_html):
    assert F.EVIL not in full_html
    assert "alert(1)" in full_html  # the name is there, as text
    escaped = js(S.esc(F.EVIL))[1:-1]  # &lt;script&gt;... inside JSON
    assert escaped in full_html
    assert "<img src=x" not in full_html
    assert "<b>Bold</b>" not in full_html
    # no raw "<" from data inside any script: every data block is tojson-escaped
    for block in re.findall(r"var cnmap_data_\w+ = (\{.*?\});\n", full_html, re.S):
        assert "<" not in block


def test_payloads_escape_every_text(cov, thin, profiles):
    pts = I._points_wgs84(cov.organisations, 5, "orgs")
    p = I._org_payload(pts, "Organisations")
    first = p.points[0]
    assert first[3] == "&lt;script&gt;alert(1)&lt;/script&gt;"
    row = dict(zip(p.labels, first[4], strict=True))
    assert row["Address"] == "1 &lt;b&gt;Bold&lt;/b&gt; Street &amp; Co"
    assert row["Opening hours"] == "Mo-Fr 09:00-17:00 &lt;i&gt;"
    wards = I.simplify_for_web(cov.wards)
    rank = I._ward_rank(list(wards["ward_code"]), [profiles])
    wp = I._ward_payload(wards, "share_covered_15min", 15, "Wards", rank, thin.wards)
    why = [r[wp.labels.index("Why")] for r in wp.rows if r[wp.labels.index("Why")]]
    assert why and all("&lt;incl. E05" in w and "<" not in w for w in why)


def test_ward_tooltip_values(cov, thin, profiles):
    wards = I.simplify_for_web(cov.wards)
    rank = I._ward_rank(list(wards["ward_code"]), [profiles])
    p = I._ward_payload(wards, "share_covered_15min", 15, "Wards", rank, thin.wards)
    assert p.labels == [
        "Ward code",
        "Residents",
        "Within a 15-minute walk",
        "Average walk to the nearest",
        "Deprivation (IMD average rank)",
        "Holds a thin area",
        "Left behind (in the worst 10% of wards on both deprivation and access)",
        "Why",
    ]
    i = int((cov.wards["ward_code"] == "E05011118").to_numpy().nonzero()[0][0])
    row = dict(zip(p.labels, p.rows[i], strict=True))
    lsoas = cov.lsoas[cov.lsoas["ward_code"] == "E05011118"]
    pop = lsoas["population"].sum()
    share = lsoas["pop_covered_15min"].sum() / pop
    assert row["Residents"] == f"{pop:,.0f}"
    assert row["Within a 15-minute walk"] == f"{100 * share:.0f}%"  # whole percent for people
    expected_rank = int(profiles.loc["E05011118", "rank_of_imd_average_rank"])
    assert row["Deprivation (IMD average rank)"] == (
        f"{expected_rank} of 69 wards (1 = most deprived)"
    )
    thin_row = thin.wards.set_index("ward_code").loc["E05011118"]
    assert row["Holds a thin area"] == ("yes" if thin_row["thin"] else "no")
    walk = (lsoas["mean_walk_min"] * lsoas["population"]).sum() / pop
    assert row["Average walk to the nearest"] == f"{walk:.0f} minutes"


def test_lsoa_payload_colours(cov):
    lsoas = I.simplify_for_web(cov.lsoas)
    p = I._imd_payload(lsoas, "IMD")
    for i in (0, 100, 500):
        d = int(cov.lsoas["imd_decile"].iloc[i])
        assert p.styles[p.style_index[i]]["fillColor"] == S.IMD_DECILE_COLOURS[d - 1]
    p = I._share_payload(lsoas, "share_covered_15min", 15, "share")
    s = cov.lsoas["share_covered_15min"]
    # fixed steps 50/75/90/95%: the gaps darkest (dark red), nearly all covered pale
    assert p.styles[p.style_index[int(s.idxmax())]]["fillColor"] == S.GAP_COLOURS[-1]
    assert p.styles[p.style_index[int(s.idxmin())]]["fillColor"] == S.GAP_COLOURS[0]
    for i in range(len(s)):
        v = s.iloc[i]
        k = 0 if v < 0.5 else 1 if v < 0.75 else 2 if v < 0.9 else 3 if v < 0.95 else 4
        assert p.styles[p.style_index[i]]["fillColor"] == S.GAP_COLOURS[k], (i, v)


# --------------------------------------------------------------------------------------
# size and self-contained mode
# --------------------------------------------------------------------------------------


def test_full_birmingham_fixture_is_small(full_html):
    size = len(full_html.encode("utf-8"))
    assert size <= 8_000_000
    # regression guard: boundaries shared and simplified (measured ~1.2 MB)
    assert size <= 2_500_000, size


def test_self_contained_has_no_remote_scripts(full_html):
    assert external_resources(full_html) == []
    assert "<script src=" not in full_html
    assert "L.Control.Search" in full_html  # leaflet-search inlined
    assert "bootstrap" not in full_html.lower()
    assert "fontawesome" not in full_html.lower()


def test_cdn_mode_links_scripts(cov, tmp_path):
    path = save_html(coverage_map(cov, tiles=None), tmp_path / "cdn.html")
    urls = external_resources(path.read_text())
    assert any("leaflet" in u and u.endswith(".js") for u in urls)
    assert any("markercluster" in u for u in urls)


def test_self_contained_refuses_unknown_assets(cov, tmp_path):
    from folium.plugins import MiniMap

    m = coverage_map(cov, tiles=None)
    MiniMap().add_to(m)
    with pytest.raises(CnmapError, match="Control.MiniMap"):
        save_html(m, tmp_path / "x.html", self_contained=True)
    assert not (tmp_path / "x.html").exists()


# --------------------------------------------------------------------------------------
# optional layers, stacking, inputs and errors
# --------------------------------------------------------------------------------------


def _overlays(html: str) -> list[str]:
    block = re.search(r"overlays :\s*\{(.*?)\}", html, re.S).group(1)
    return [json.loads(k) for k in re.findall(r'^\s*("(?:[^"\\]|\\.)*")\s*:', block, re.M)]


@pytest.mark.slow
def test_layers_left_out_when_inputs_absent(cov):
    lsoas = cov.lsoas.drop(columns=["imd_decile"])
    bare = F.FakeCoverage(**{**cov.__dict__, "lsoas": lsoas, "_cache": {}})
    bare.organisations = cov.organisations.iloc[0:0]
    names = _overlays(coverage_map(bare, tiles=None, catchments=False).get_root().render())
    assert names == [layer_names(15)["share"], "Wards"]


def test_crow_flies_catchments_error_is_skipped(cov):
    class NoNetwork(F.FakeCoverage):
        def catchments(self, minutes=None, per_organisation=False):
            raise ValidationError("catchments need the street network")

    r = NoNetwork(**{**cov.__dict__, "_cache": {}})
    names = _overlays(coverage_map(r, tiles=None).get_root().render())
    assert layer_names(15)["catchments"] not in names


def test_catchments_given_as_frame(cov):
    cat = cov.catchments(10)
    names = _overlays(coverage_map(cov, minutes=10, catchments=cat, tiles=None).get_root().render())
    assert layer_names(10)["catchments"] in names


@pytest.mark.slow
def test_stacking_on_an_existing_map(cov, thin):
    m = coverage_map(cov, minutes=10, tiles=None)
    m2 = coverage_map(cov, minutes=20, m=m, thin=thin)
    assert m2 is m
    html = m.get_root().render()
    names = _overlays(html)
    assert layer_names(10)["share"] in names and layer_names(20)["share"] in names
    assert "Wards" in names and "Wards (2)" in names
    assert html.count("L.control.layers(") == 1
    assert html.count("L.control.fullscreen(") == 1


@pytest.mark.slow
def test_organisations_argument_and_table(cov):
    few = cov.organisations.iloc[:3].to_crs("EPSG:4326")
    html = coverage_map(cov, organisations=few, tiles=None).get_root().render()
    pts = json.loads(re.search(r"var pts = (\[.*?\]);\n", html, re.S).group(1))
    assert len(pts) == 3
    assert pts[1][0] == pytest.approx(few.geometry.iloc[1].y, abs=1e-5)
    table = type("T", (), {"organisations": few.iloc[:2]})()
    html = coverage_map(cov, organisations=table, tiles=None).get_root().render()
    assert len(json.loads(re.search(r"var pts = (\[.*?\]);\n", html, re.S).group(1))) == 2


def test_popup_fields_choice(cov):
    orgs = cov.organisations.assign(hours_text="Tuesday 10-2")
    pts = I._points_wgs84(orgs, 5, "orgs")
    p = I._org_payload(pts, "Organisations", {"hours_text": "Opening hours", "name": "Name"})
    assert p.labels == ["Opening hours", "Name"]
    assert p.points[2][4][0] == "Tuesday 10-2"


def test_errors(cov):
    with pytest.raises(ValidationError, match="minutes=12 is not one of"):
        coverage_map(cov, minutes=12)
    with pytest.raises(ValidationError, match="unknown layers"):
        coverage_map(cov, show=["roads"])
    bad = F.FakeCoverage(
        **{**cov.__dict__, "wards": cov.wards.drop(columns=["ward_name"]), "_cache": {}}
    )
    with pytest.raises(MissingColumnError, match="ward_name"):
        coverage_map(bad)
    nocrs = F.FakeCoverage(
        **{**cov.__dict__, "lsoas": cov.lsoas.set_crs(None, allow_override=True), "_cache": {}}
    )
    with pytest.raises(CRSError, match="no CRS"):
        coverage_map(nocrs)
    with pytest.raises(ValidationError, match="catchments must be"):
        coverage_map(cov, catchments="yes")


def test_does_not_mutate_inputs(cov, thin):
    before = (cov.lsoas.copy(), cov.wards.copy(), thin.lsoas.copy())
    coverage_map(cov, thin=thin, tiles=None)
    pd.testing.assert_frame_equal(before[0], cov.lsoas)
    pd.testing.assert_frame_equal(before[1], cov.wards)
    pd.testing.assert_frame_equal(before[2], thin.lsoas)
    assert cov.lsoas.crs.to_epsg() == 27700


def test_points_without_location_are_reported(cov, caplog):
    orgs = cov.organisations.copy()
    orgs.loc[orgs.index[:2], "geometry"] = None
    with caplog.at_level("WARNING"):
        pts = I._points_wgs84(orgs, 5, "organisations")
    assert len(pts) == len(orgs) - 2
    assert "2 row(s) without a location" in caplog.text


def test_empty_geometry_and_holes():
    sq = shapely.box(0, 0, 1000, 1000)
    small = shapely.box(100, 100, 130, 130)  # 900 m2
    big = shapely.box(500, 500, 700, 700)  # 40,000 m2
    poly = sq.difference(small).difference(big)
    gdf = gpd.GeoDataFrame({"k": [1, 2]}, geometry=[poly, None], crs="EPSG:27700")
    out = I.simplify_for_web(gdf, tolerance_m=0, coverage=False, min_hole_m2=5000)
    back = out.to_crs(27700)
    assert len(back.geometry.iloc[0].interiors) == 1
    assert back.geometry.iloc[0].area == pytest.approx(1000 * 1000 - 200 * 200, rel=1e-3)
    assert out.geometry.iloc[1] is None


def test_functions_are_small():
    """Every function of cnmap.maps.interactive is at most 120 lines (docstring included)."""
    import ast
    from pathlib import Path

    source = Path(I.__file__).read_text(encoding="utf-8")
    long = [
        (node.name, node.end_lineno - node.lineno + 1)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > 120
    ]
    assert long == []
