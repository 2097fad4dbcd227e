"""The HTML map as a planner reads it (issue 11, "The HTML map (planner)").

First the page's content, read from the generated HTML: title and headline panel (place, what
was measured, data and dates, about), thin areas listed with their reasons, coverage classes
with the areas and residents in each, the bivariate view on national deciles with absolute
provision, readable type names and distinct symbols, approximately placed organisations,
overlapping points spread, popups (postcode once, hours in words), base maps and the referrer
policy. Then the same page in headless Chromium (desktop 1366x768 and phone 390x844): hover
through the ward outlines whatever the layer order, a click on a thin area zooms to it, phone
controls folded and nothing cut off. Screenshots are kept in tests/screenshots/ (gitignored)
for a person to look at after a run.

The maps are built from tests/helpers/fake_results.py (real Birmingham boundaries,
IoD2019 and warm spaces) plus the 29 report organisations of the data mirror, some placed at
their ward's centroid.
"""

from __future__ import annotations

import dataclasses
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from cnmap.maps import _elements as E
from cnmap.maps import _style as S
from cnmap.maps import coverage_map, save_html
from cnmap.maps import interactive as I
from tests.helpers import fake_results as F

SCREENSHOTS = Path(__file__).parent / "screenshots"
SUTTON_VESEY_CENTROID = (52.55998, -1.85782)  # two report organisations placed here


# --------------------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------------------


def _seed_organisations(shared: Path) -> gpd.GeoDataFrame:
    seed = pd.read_csv(shared / "birmingham/seed_organisations.csv").dropna(subset=["lat", "lon"])
    return gpd.GeoDataFrame(
        {
            "org_id": [f"seed{i:02d}" for i in range(len(seed))],
            "name": seed["name"],
            "type": seed["kind"],
            "services": seed["services"],
            "address": pd.NA,
            "postcode": seed["postcode"],
            "opening_hours": pd.NA,
            "location_source": seed["location_source"],
        },
        geometry=gpd.points_from_xy(seed["lon"], seed["lat"]),
        crs="EPSG:4326",
    ).to_crs("EPSG:27700")


@pytest.fixture(scope="module")
def data(shared_data):
    cov = F.coverage(shared_data, evil=False)
    warm = F.organisations(shared_data, evil=False).drop(columns=["snap_distance_m", "snapped"])
    seed = _seed_organisations(shared_data)
    orgs = gpd.GeoDataFrame(pd.concat([warm, seed], ignore_index=True), crs="EPSG:27700")
    cov = dataclasses.replace(
        cov,
        organisations=orgs,
        area=SimpleNamespace(
            lad_name="Birmingham",
            lad_code="E08000025",
            iod=2019,
            lsoa_vintage=2011,
            params={"population_source": "IoD2019 denominators (mid-2015)"},
        ),
        params={**cov.params, "network": {"source": "/x/birmingham_walk_osm_2021-08.gpkg"}},
        _cache={},
    )
    return {"cov": cov, "thin": F.thin(cov), "profiles": F.ward_profiles(cov), "seed": seed}


@pytest.fixture(scope="module")
def html(data, tmp_path_factory):
    m = coverage_map(data["cov"], thin=data["thin"], ward_profiles=data["profiles"], tiles=None)
    path = save_html(m, tmp_path_factory.mktemp("planner") / "map.html", self_contained=True)
    return path.read_text(encoding="utf-8")


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def shown(fragment: str) -> str:
    """The text a browser shows for an HTML fragment."""
    p = _Text()
    p.feed(fragment)
    p.close()
    return " ".join("".join(p.parts).split())


def panels(page: str) -> list[str]:
    """HTML of every panel and legend box of the page (as the page writes them)."""
    return [json.loads(h) for h in re.findall(r"^\s*div\.innerHTML = (.*);$", page, re.M)]


def story(page: str) -> str:
    (found,) = [p for p in panels(page) if 'class="cnmap-title"' in p]
    return found


def area_layer(page: str, name: str) -> dict[str, Any]:
    """Labels, rows, styles and style index of the area layer called ``name``."""
    control = re.search(r"overlays\s*:\s*\{(.*?)\n\s*\},", page, re.S).group(1)
    var = dict((json.loads(k), v) for k, v in re.findall(r'^\s*(".*") : (\w+),$', control, re.M))
    body = re.search(rf"var {var[name]} = \(function\(\) \{{(.*?)return layer;", page, re.S)
    out = {}
    for key in ("styles", "idx", "labels", "rows", "opts"):
        out[key] = json.loads(re.search(rf"^\s*var {key} = (.*);$", body.group(1), re.M).group(1))
    return out


def org_points(page: str) -> tuple[list[list[Any]], list[str], list[str], list[str]]:
    m = re.search(
        r"var pts = (.*);\n\s*var colours = (.*);\n\s*var labels = (.*);\n"
        r"\s*var shapes = (.*);\n",
        page,
    )
    return tuple(json.loads(m.group(k)) for k in (1, 2, 3, 4))  # type: ignore[return-value]


# --------------------------------------------------------------------------------------
# title, headline, data and dates, about
# --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_title_names_the_place_and_headline_states_the_measure(html, data):
    cov = data["cov"]
    assert "<title>Birmingham: who can walk to organisations in 15 minutes</title>" in html
    text = shown(story(html))
    share = float(cov.totals.set_index("minutes").loc[15, "share_covered"])
    n = len(cov.organisations)
    assert (
        f"{100 * share:.1f}% of residents live within a 15-minute walk (1,200 m at "
        f"4.8 km/h, estimated from straight-line distance) of {n} organisations."
    ) in text
    out = float(cov.totals.set_index("minutes").loc[15, "population"]) * (1 - share)
    assert f"{out:,.0f} live further away." in text


def test_data_and_dates_are_read_from_the_result(html):
    text = shown(story(html))
    assert "Deprivation: English Indices of Deprivation 2019 (national ranks)" in text
    assert "Areas: 2011 Census neighbourhoods (LSOAs)" in text
    assert "Residents: mid-2015 population estimates" in text
    # crow-flies results say how walks were estimated instead of naming a street map
    assert "Walks: straight-line distance × a detour factor" in text
    assert "/x/" not in text  # no machine path


def test_map_facts_network_mode_and_osm_date(data):
    cov = dataclasses.replace(data["cov"], mode="network", _cache={})
    f = I.map_facts(cov, 15)
    assert f.place == "Birmingham" and f.metres == pytest.approx(1200)
    assert f.dates["Streets"] == "OpenStreetMap, August 2021"
    assert "Walks" not in f.dates
    assert I.headline_text(f, "warm spaces").startswith(
        f"{100 * f.share:.1f}% of residents live within a 15-minute walk (1,200 m at 4.8 km/h) "
        f"of {len(cov.organisations)} warm spaces."
    )
    f2 = I.map_facts(cov, 10, place="Brum", dates={"Organisations": "Warm Welcome, Jan 2025"})
    assert f2.place == "Brum" and f2.dates["Organisations"] == "Warm Welcome, Jan 2025"
    assert f2.metres == pytest.approx(800)


def test_about_panel_in_plain_english(html):
    about = re.search(r'<details class="cnmap-about">(.*?)</details>', story(html), re.S)
    text = shown(about.group(1))
    assert text.startswith("About this map")
    for phrase in (
        "a neighbourhood of about 1,500 residents",
        "dark red where few do, pale yellow where nearly all do",
        "Thin areas (thick black outline) are among the most deprived 20%",
        "decile 1 is the most deprived 10%",
        "Hollow symbols with a dashed outline are placed approximately",
    ):
        assert phrase in text, phrase


@pytest.mark.slow
def test_title_place_and_what_are_the_users_and_stay_text(data, tmp_path):
    hostile = "{{7*7}} <b>Town</b> & {% raw %}"
    m = coverage_map(data["cov"], tiles=None, catchments=False, place=hostile, what="warm spaces")
    page = save_html(m, tmp_path / "m.html").read_text("utf-8")
    assert "{{" not in page and "{%" not in page and "<b>Town" not in page
    title = re.search(r"<title>(.*?)</title>", page).group(1)
    assert shown(title) == f"{hostile}: who can walk to warm spaces in 15 minutes"
    assert shown(story(page)).startswith(f"{hostile}: who can walk to warm spaces")
    m = coverage_map(data["cov"], tiles=None, catchments=False, title="My own title")
    assert "<title>My own title</title>" in m.get_root().render()


@pytest.mark.slow
def test_stacked_map_has_one_title_panel(data):
    m = coverage_map(data["cov"], minutes=10, tiles=None, catchments=False)
    coverage_map(data["cov"], minutes=20, m=m, tiles=None, catchments=False)
    page = m.get_root().render()
    assert len([p for p in panels(page) if 'class="cnmap-title"' in p]) == 1
    assert page.count("<title>") == 1


# --------------------------------------------------------------------------------------
# the gaps first: thin areas, coverage classes
# --------------------------------------------------------------------------------------


def test_thin_areas_listed_thinnest_first_with_reasons(html, data):
    tl = data["thin"].lsoas
    thin = tl[tl["thin"]].sort_values("rank")
    assert len(thin) >= 3
    panel = story(html)
    items = re.findall(r'<li data-cnmap-i="(\d+)"[^>]*>(.*?)</li>', panel, re.S)
    assert len(items) == len(thin)
    codes = data["cov"].lsoas["lsoa_code"].tolist()
    for (i, item), (_, row) in zip(items, thin.iterrows(), strict=True):
        assert codes[int(i)] == row["lsoa_code"]  # the index the click zooms to
        text = shown(item)
        assert text.startswith(f"{row['lsoa_name']}, {row['ward_name']}")
        assert row["reason"] in text
    assert f"{len(thin)} thin areas: among the most deprived 20%" in shown(panel)
    # the thin layer is on when the map opens and numbers its areas as the list does
    layer = area_layer(html, I.layer_names(15)["thin"])
    badges = layer["opts"]["badges"]
    assert [b[2] for b in badges] == [str(k) for k in range(1, len(thin) + 1)]
    assert [b[3] for b in badges] == [int(i) for i, _ in items]
    var = re.search(r'"Thin areas: deprived and poorly reached \(LSOAs\)" : (\w+),', html)
    assert f"{var.group(1)}.addTo(map_" in html


@pytest.mark.slow
def test_no_thin_area_is_said_plainly(data, tmp_path):
    thin = F.thin(data["cov"])
    thin.lsoas["thin"] = False
    m = coverage_map(data["cov"], thin=thin, tiles=None, catchments=False)
    text = shown(story(m.get_root().render()))
    assert (
        "No thin areas: every neighbourhood among the most deprived 20% in England (IMD) "
        "has at least 50% of its residents within a 15-minute walk."
    ) in text


def test_coverage_classes_show_areas_and_residents(html, data):
    ls = data["cov"].lsoas
    share, pop = ls["share_covered_15min"], ls["population"]
    legend = shown(next(p for p in panels(html) if "Residents within a 15-minute walk" in p))
    edges = [0, 0.5, 0.75, 0.9, 0.95, 1.0000001]
    labels = ["under 50%", "50–75%", "75–90%", "90–95%", "95–100%"]
    for lab, lo, hi in zip(labels, edges[:-1], edges[1:], strict=True):
        sel = (share >= lo) & (share < hi)
        n = int(sel.sum())
        assert f"{lab}: {n:,} area{'' if n == 1 else 's'}, {pop[sel].sum():,.0f} residents" in (
            legend
        ), lab
    layer = area_layer(html, I.layer_names(15)["share"])
    colours = [layer["styles"][k]["fillColor"] for k in layer["idx"]]
    assert len(set(colours)) == 5  # every class is used: differences show


@pytest.mark.slow
def test_coverage_classes_from_the_data_or_given(data):
    ls = I.simplify_for_web(data["cov"].lsoas)
    p = I._share_payload(ls, "share_covered_15min", 15, "s", classes="natural")
    edges = S.coverage_edges(ls["share_covered_15min"].tolist(), "natural")
    assert edges[0] == 0 and edges[-1] == 1 and len(edges) == 6
    assert edges != S.COVERAGE_STEPS
    assert len(p.styles) == len(edges)  # one colour per class, and grey for missing
    q = I._share_payload(ls, "share_covered_15min", 15, "s", classes=(0.6, 0.9))
    legend = shown(q.legend)
    assert "under 60%" in legend and "60–90%" in legend and "90–100%" in legend
    with pytest.raises(ValueError, match="classes="):
        S.coverage_edges([0.5], "jenks")


# --------------------------------------------------------------------------------------
# bivariate: national deciles, absolute provision, said in words
# --------------------------------------------------------------------------------------


def test_bivariate_uses_national_deciles_and_absolute_provision(html, data):
    layer = area_layer(html, I.layer_names(15)["bivariate"])
    assert layer["labels"] == ["Ward", "Deprivation", "Walking provision"]
    ls = data["cov"].lsoas
    keys = list(S.BIVARIATE_COLOURS)
    for i, (row, k) in enumerate(zip(layer["rows"], layer["idx"], strict=True)):
        share, decile = ls["share_covered_15min"].iloc[i], int(ls["imd_decile"].iloc[i])
        d = 3 if decile <= 2 else 2 if decile <= 5 else 1
        p = 3 if share >= 0.95 else 2 if share >= 0.75 else 1
        assert keys[k] == f"{d}-{p}", (i, decile, share)
        # an area 95% covered or more is never "low" provision: the bands are absolute
        word = {1: "low", 2: "middle", 3: "high"}[p]
        assert shown(row[2]) == f"{word}: {S.fmt_pct(share)} within a 15-minute walk"
        assert (
            shown(row[1]) == f"{ {1: 'lower', 2: 'middle', 3: 'high'}[d] }: decile {decile} of 10"
        )
    assert any(shown(r[2]).startswith("high: 9") for r in layer["rows"])
    legend = shown(next(p for p in panels(html) if "Deprivation × walking provision" in p))
    assert (
        "Provision: share of an area's residents within a 15-minute walk of an "
        "organisation (low: under 75%; middle: 75% to 95%; high: 95% or more), the same "
        "bands in every place."
    ) in legend
    assert "national IMD deciles (high: 1–2, the most deprived 20% in England" in legend


def test_bivariate_follows_the_thin_domain(data):
    thin = F.thin(data["cov"])
    thin.lsoas["deprivation_decile"] = 1  # as if every LSOA were in income decile 1
    thin.lsoas["deprivation_domain"] = "income"
    ls = I.simplify_for_web(data["cov"].lsoas)
    joined = I._thin_joined(ls, thin.lsoas)
    p = I._bivariate_payload(ls, joined, "share_covered_15min", 15, "b")
    assert all(list(S.BIVARIATE_COLOURS)[k].startswith("3-") for k in p.style_index)
    assert "national income deciles" in shown(p.legend)


# --------------------------------------------------------------------------------------
# organisations: names, symbols, approximate placements, overlaps, popups
# --------------------------------------------------------------------------------------


def test_type_names_readable_and_overridable():
    assert S.type_label("food_bank") == "Food bank"
    assert S.type_label("warm_space") == "Warm space"
    assert S.type_label("community_anchor") == "Community anchor organisation"
    assert S.type_label("mobile_library_stop") == "Mobile library stop"  # fallback
    assert S.type_label("warm_space", {"warm_space": "Warm Welcome space"}) == (
        "Warm Welcome space"
    )
    assert S.type_label("Café & Bar") == "Café & Bar"  # free text kept as written
    assert S.type_label(None) == "Type not given"


def test_symbols_distinct_and_never_grey(html, data):
    pts, colours, labels, shapes = org_points(html)
    symbols = list(zip(colours, shapes, strict=True))
    types = data["cov"].organisations["type"].fillna("unknown")
    assert len(symbols) == types.nunique() >= 12
    assert len(set(symbols)) == len(symbols)  # no two types share a symbol
    assert S.OTHER_COLOUR not in colours and "#999999" not in colours
    assert set(colours) <= set(S.ORG_TYPE_COLOURS)
    legend = shown(
        next(
            p
            for p in panels(html)
            if p.startswith('<details class="cnmap-legend') and "Organisations (" in p
        )
    )
    counts = types.value_counts()
    assert f"Warm space ({counts['warm_space']})" in legend
    assert f"Neighbourhood forum ({counts['neighbourhood_forum']})" in legend
    assert "warm_space" not in legend
    many = S.type_symbols([f"type{i}" for i in range(20)] + [None])
    assert len(set(many.values())) == 21


@pytest.mark.slow
def test_user_type_labels_reach_legend_and_popup(data):
    m = coverage_map(
        data["cov"], tiles=None, catchments=False, type_labels={"warm_space": "Warm Welcome space"}
    )
    page = m.get_root().render()
    pts, _, labels, _ = org_points(page)
    k = labels.index("Type")
    assert "Warm Welcome space" in {p[4][k] for p in pts}
    assert any("Warm Welcome space (" in shown(p) for p in panels(page))


def test_cluster_bubbles_are_neutral():
    css = E.CSS
    assert ".marker-cluster-small div" in css and "rgba(255,255,255,0.95)" in css
    assert "rgba(90,90,90,0.28)" in css


def test_approximate_placements_are_drawn_and_said(html, data):
    pts, _, labels, _ = org_points(html)
    seed = data["seed"]
    approx_names = set(seed.loc[seed["location_source"].str.contains("ward centroid"), "name"])
    assert len(approx_names) >= 5
    k = labels.index("Location")
    for p in pts:
        name = shown(p[3])
        assert (p[5] == 1) == (name in approx_names), name
        if p[5] & 1:
            assert p[4][k] == "approximate: placed at the centre of its ward, not at an address"
        else:
            assert p[4][k] is None
    assert "cnmap-approx" in html
    legend = next(p for p in panels(html) if "Organisations (" in p)
    assert "hollow, dashed: placed approximately" in shown(legend)


def test_approximate_column_and_coord_source(data):
    orgs = data["cov"].organisations.iloc[:4].copy()
    orgs["coord_source"] = ["geometry", "ward_centroid", "postcode", "geometry"]
    assert [a is not None for a in I._approximate(orgs)] == [False, True, False, False]
    orgs["approximate"] = [True, False, False, True]
    assert [a is not None for a in I._approximate(orgs)] == [True, False, False, True]


def _far_flagged(orgs: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Two organisations flagged as cnmap.export.postcode_distances flags them."""
    orgs = orgs.copy()
    orgs["postcode_checked"] = orgs["postcode"]
    orgs["postcode_distance_m"] = 12.0
    orgs["far_from_postcode"] = False
    orgs.loc[
        orgs.index[[3, 7]], ["postcode_checked", "postcode_distance_m", "far_from_postcode"]
    ] = ["B30 1AA", 1712.0, True]
    return orgs


def test_far_from_postcode_flagged_on_the_map(data, tmp_path):
    orgs = _far_flagged(data["cov"].organisations)
    m = coverage_map(data["cov"], organisations=orgs, tiles=None, catchments=False, cluster=False)
    page = m.get_root().render()
    pts, _, labels, _ = org_points(page)
    k = labels.index("Location check")
    far = [p for p in pts if p[5] & 2]
    assert [shown(p[3]) for p in far] == [orgs["name"].iloc[3], orgs["name"].iloc[7]]
    assert {p[4][k] for p in far} == {
        "placed 1.7 km from the centre of its address postcode B30 1AA: check it"
    }
    assert all(p[4][k] is None for p in pts if not p[5] & 2)
    legend = shown(next(p for p in panels(page) if "Organisations (" in p))
    assert "red ring (2): placed more than 1 km from its address postcode" in legend
    assert "cnmap-far" in page


def test_overlapping_points_are_spread(html):
    pts, *_ = org_points(html)
    at = {}
    for p in pts:
        at.setdefault((round(p[0], 5), round(p[1], 5)), []).append((p[6], p[7]))
    shared = [v for v in at.values() if len(v) > 1]
    assert shared, "the report organisations share ward centroids"
    for offsets in shared:
        assert len(set(offsets)) == len(offsets)  # every one moved apart
        for a, b in zip(offsets, offsets[1:], strict=False):
            assert np.hypot(a[0] - b[0], a[1] - b[1]) >= 8
    alone = [v[0] for v in at.values() if len(v) == 1]
    assert all(o == [0, 0] or o == (0, 0) for o in alone)


def test_popup_postcode_once_and_hours_in_words(html, data):
    pts, _, labels, _ = org_points(html)
    rows = {shown(p[3]): dict(zip(labels, p[4], strict=True)) for p in pts}
    bromford = rows["Bromford Bridge Christian Church"]
    assert bromford["Address"] == "Bromford Drive, Birmingham, West Midlands B36 8QS"
    assert bromford["Postcode"] is None
    assert bromford["Opening hours"].split("<br>") == [  # one line per group of days
        "Tuesday and Friday 10am to 2pm",
        "Thursday 6pm to 8pm",
        "Sunday 10am to 1:30pm",
    ]
    seed = rows["ACP Group (Sparkbrook)"]
    assert seed["Postcode"] == "B11 1LU" and seed["Type"] == "Community anchor organisation"


def test_points_that_project_to_infinity_are_not_drawn(caplog):
    pts = gpd.GeoDataFrame(
        geometry=gpd.points_from_xy([-1.9, np.nan], [52.5, np.nan]), crs="EPSG:4326"
    ).to_crs("EPSG:27700")
    with caplog.at_level("WARNING"):
        out = I._points_wgs84(pts, 5, "organisations")
    assert len(out) == 1 and "1 row(s) without a location" in caplog.text


def test_hours_in_words():
    w = S.hours_in_words
    assert w("Mo-Fr 09:00-17:00; PH off") == "Monday to Friday 9am to 5pm\nClosed on bank holidays"
    assert w("Tu 09:30-12:30,13:30-17:30") == "Tuesday 9:30am to 12:30pm and 1:30pm to 5:30pm"
    assert w("Mo,We 12:00-24:00") == "Monday and Wednesday noon to midnight"
    assert w("24/7") == "Open all day, every day"
    assert w("09:00-17:00") == "Every day 9am to 5pm"
    assert w("Su off") == "Sunday closed"
    for raw in ("Mo-Fr 09:00-17:00 <i>", "Jan-Mar Mo 10:00-12:00", "by appointment", None):
        assert w(raw) is None  # shown as written by the caller


def test_address_and_postcode():
    ap = S.address_and_postcode
    assert ap("1 High St, B36 8QS B36 8QS", None) == ("1 High St, B36 8QS", None)
    assert ap("1 High St, b36 8qs", "B36 8QS") == ("1 High St, b36 8qs", None)
    assert ap("1 High St", "B36 8QS") == ("1 High St", "B36 8QS")
    assert ap(None, "B36 8QS") == (None, "B36 8QS")
    assert ap("B1 1AA then B2 2BB", "B3 3CC") == ("B1 1AA then B2 2BB", "B3 3CC")


def test_tooltips_in_plain_words_with_units(html, data):
    share = area_layer(html, I.layer_names(15)["share"])
    assert share["labels"] == [
        "Ward",
        "Residents",
        "Within a 15-minute walk",
        "Average walk to the nearest",
    ]
    ls = data["cov"].lsoas
    i = int(ls["share_covered_15min"].sub(0.5).abs().idxmin())
    row = share["rows"][i]
    s, p = ls.loc[i, "share_covered_15min"], ls.loc[i, "population"]
    assert shown(row[2]) == f"{S.fmt_pct(s)} ({s * p:,.0f} of {p:,.0f})"
    assert re.fullmatch(r"\d+ minutes?|under 1 minute", shown(row[3]))
    imd = area_layer(html, I.layer_names(15)["imd"])
    d = int(ls.loc[i, "imd_decile"])
    assert imd["labels"][1:3] == [
        "Deprivation decile in England",
        "National rank (1 = most deprived)",
    ]
    assert shown(imd["rows"][i][1]) == S.decile_words(d) and S.decile_words(d).startswith(
        f"{d} of 10"
    )
    assert shown(imd["rows"][i][2]) == f"{ls.loc[i, 'imd_rank']:,.0f} of 32,844"
    assert S.decile_words(2) == "2 of 10 (most deprived 20%)"
    assert S.decile_words(9) == "9 of 10 (least deprived 20%)"
    assert S.fmt_pct(0.996) == "over 99%" and S.fmt_pct(0.001) == "under 1%"


# --------------------------------------------------------------------------------------
# base maps and the referrer policy; page constants
# --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_default_base_maps_work_from_a_local_file(data):
    page = coverage_map(data["cov"], catchments=False).get_root().render()
    assert '<meta name="referrer" content="strict-origin-when-cross-origin">' in page
    tiles = re.findall(r"L\.tileLayer\(\s*\"(.*?)\",\s*(\{.*?\})\s*\)", page, re.S)
    assert [u for u, _ in tiles] == [I.BASEMAPS[k].url for k in I.DEFAULT_TILES]
    for _, opts in tiles:
        o = json.loads(re.sub(r",\s*\}$", "}", opts))  # folium leaves a trailing comma
        assert o["referrerPolicy"] == "strict-origin-when-cross-origin"
    assert "basemaps.cartocdn.com" in tiles[0][0]  # shown first: answers without a referrer
    base = re.search(r"base_layers\s*:\s*\{(.*?)\}", page, re.S).group(1)
    assert [json.loads(k) for k in re.findall(r'^\s*(".*?")\s*:', base, re.M)] == [
        I.BASEMAPS[k].name for k in I.DEFAULT_TILES
    ]
    assert "CARTO" in page and "Esri" in page
    one = coverage_map(data["cov"], tiles="OpenStreetMap", catchments=False).get_root().render()
    assert one.count("L.tileLayer(") == 1 and '"referrerPolicy"' in one


def test_page_constants_are_template_inert():
    for text in (E.CSS, E.RUNTIME_JS):
        assert not any(mark in text for mark in ("{{", "{%", "{#"))


# --------------------------------------------------------------------------------------
# headless Chromium: desktop and phone, screenshots kept
# --------------------------------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
MAP = "window[document.querySelector('.folium-map').id]"
DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu", "--no-first-run"]
        )
        yield b
        b.close()


@pytest.fixture(scope="module")
def page_file(data):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    m = coverage_map(data["cov"], thin=data["thin"], ward_profiles=data["profiles"], tiles=None)
    return save_html(m, SCREENSHOTS / "planner_fixture.html", self_contained=True)


class Opened:
    """A page opened from a file with the network cut, its errors collected."""

    def __init__(self, browser: Any, path: Path, viewport: dict[str, int]) -> None:
        phone = viewport["width"] < 600
        self.ctx = browser.new_context(
            viewport=viewport, offline=True, is_mobile=phone, has_touch=phone
        )
        self.ctx.route(
            "**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort()
        )
        self.page = self.ctx.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on(
            "console",
            lambda m: (
                self.errors.append(m.text)
                if m.type == "error" and "Failed to load resource" not in m.text
                else None
            ),
        )
        self.page.goto(path.as_uri())
        self.page.wait_for_selector(".cnmap-story")
        self.page.wait_for_function("document.querySelectorAll('path.cnmap-area').length > 600")
        self.page.wait_for_timeout(400)  # the title panel fits the map beside itself

    def shot(self, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path

    def toggle(self, name: str) -> None:
        label = self.page.locator(".leaflet-control-layers-overlays label", has_text=name)
        label.locator("input").click()
        self.page.wait_for_timeout(150)

    def close(self) -> None:
        self.ctx.close()


CONTROLS = """() => Array.from(document.querySelectorAll(
    '.leaflet-top > .leaflet-control, .leaflet-bottom > .leaflet-control'))
  .filter(e => e.offsetParent !== null)
  .map(e => { const r = e.getBoundingClientRect();
              return {cls: e.className, left: r.left, top: r.top, right: r.right,
                      bottom: r.bottom}; })"""


def _inside_and_apart(boxes: list[dict[str, Any]], viewport: dict[str, int]) -> None:
    """Every control inside the window, and no two controls overlapping."""
    for b in boxes:
        assert b["left"] >= 0 and b["top"] >= 0, b
        assert b["right"] <= viewport["width"] + 0.5 and b["bottom"] <= viewport["height"] + 0.5, b
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            apart = (
                a["right"] <= b["left"]
                or b["right"] <= a["left"]
                or a["bottom"] <= b["top"]
                or b["bottom"] <= a["top"]
            )
            assert apart, (a, b)


@pytest.mark.browser
def test_desktop_story_first(browser, page_file, data):
    o = Opened(browser, page_file, DESKTOP)
    try:
        p = o.page
        assert p.title() == "Birmingham: who can walk to organisations in 15 minutes"
        story_box = p.locator(".cnmap-story")
        text = story_box.inner_text()
        assert "of residents live within a 15-minute walk" in text
        assert "Where they are (click one to zoom to it)" in text
        assert p.locator(".cnmap-story details.cnmap-thin").get_attribute("open") is not None
        assert p.locator(".leaflet-control-layers-expanded").count() == 1
        assert p.locator("details.cnmap-legend").count() == 3  # share, thin, organisations
        # as many open as fit beside the layer list (the coverage classes always do)
        assert p.locator("details.cnmap-legend[open]", has_text="95–100%").count() == 1
        n_thin = int(data["thin"].lsoas["thin"].sum())
        assert p.locator(".cnmap-badge").count() == n_thin
        _inside_and_apart(p.evaluate(CONTROLS), DESKTOP)
        # the whole city is drawn beside the panel, not under it
        free = p.evaluate(f"""() => {{
            const m = {MAP}, d = document.querySelector('.cnmap-story');
            const b = cnmapAreas[0].layer.getBounds();
            return [m.latLngToContainerPoint(b.getNorthWest()).x, d.getBoundingClientRect().right,
                    m.getBounds().contains(b)];
        }}""")
        assert free[0] >= free[1] and free[2]
        o.shot("planner_desktop")
        assert o.errors == []
    finally:
        o.close()


@pytest.mark.browser
def test_thin_list_click_zooms_to_the_area(browser, page_file, data):
    o = Opened(browser, page_file, DESKTOP)
    try:
        p = o.page
        item = p.locator(".cnmap-story li[data-cnmap-i]").nth(1)
        i = int(item.get_attribute("data-cnmap-i"))
        row = data["cov"].lsoas.iloc[i]
        before = p.evaluate(f"{MAP}.getZoom()")
        item.click()
        p.wait_for_timeout(300)
        after = p.evaluate(f"""() => {{
            const m = {MAP};
            let found = null;
            cnmapAreas.forEach(e => e.layer.eachLayer(l => {{
                if (l.feature && l.feature.properties.i === {i} && e.rows[{i}].length) {{
                    found = l.getBounds(); }} }}));
            return [m.getZoom(), m.getBounds().contains(found)];
        }}""")
        assert after[0] > before + 1 and after[1]
        tip = p.locator(".leaflet-tooltip").first
        tip.wait_for(timeout=5_000)
        text = tip.inner_text()
        assert f"{row['lsoa_name']} ({row['lsoa_code']})" in text
        assert "Why it is thin" in text and "Within a 15-minute walk" in text
        o.shot("planner_thin_zoom")
        assert o.errors == []
    finally:
        o.close()


def _hover_point(data: dict[str, Any]) -> tuple[int, float, float]:
    """A large LSOA that is not thin and a point well inside it (lat, lon)."""
    ls = data["cov"].lsoas
    thin = data["thin"].lsoas["thin"].to_numpy()
    area = np.where(thin, 0, ls.geometry.area.to_numpy())
    i = int(np.argmax(area))
    web = I.simplify_for_web(ls).geometry.iloc[i]
    inner = shapely.buffer(web, -0.0015)
    pt = shapely.point_on_surface(inner if not inner.is_empty else web)
    return i, pt.y, pt.x


def _hover_tooltip(p: Any, lat: float, lon: float) -> str:
    p.mouse.move(120, 30)  # over the title panel: no area under the pointer
    p.wait_for_function("document.querySelectorAll('.leaflet-tooltip').length === 0")
    p.evaluate(f"{MAP}.setView([{lat}, {lon}], 15, {{animate: false}}); 0")
    p.wait_for_timeout(200)
    xy = p.evaluate(f"""() => {{ const m = {MAP};
        const c = m.latLngToContainerPoint([{lat}, {lon}]);
        const r = m.getContainer().getBoundingClientRect();
        return [r.left + c.x, r.top + c.y]; }}""")
    p.mouse.move(xy[0], xy[1])
    p.mouse.move(xy[0] + 2, xy[1] + 1)
    tip = p.locator(".leaflet-tooltip").first
    tip.wait_for(timeout=5_000)
    return tip.inner_text()


WARDS_ON_TOP = """() => {
  const paths = Array.from(document.querySelectorAll('.leaflet-overlay-pane path'));
  const ward = paths.findIndex(e => e.classList.contains('cnmap-ward'));
  const area = paths.map((e, k) => e.classList.contains('cnmap-area') ? k : -1)
                    .filter(k => k >= 0);
  return ward > Math.max(...area);
}"""


@pytest.mark.browser
def test_hover_reaches_the_lsoa_under_the_ward_outlines(browser, page_file, data):
    i, lat, lon = _hover_point(data)
    row = data["cov"].lsoas.iloc[i]
    names = I.layer_names(15)
    o = Opened(browser, page_file, DESKTOP)
    try:
        p = o.page
        o.toggle(names["organisations"])  # no marker under the pointer
        assert p.evaluate(WARDS_ON_TOP)
        text = _hover_tooltip(p, lat, lon)
        assert text.startswith(f"{row['lsoa_name']} ({row['lsoa_code']})"), text
        assert "Within a 15-minute walk" in text and "Ward code" not in text
        o.shot("planner_hover_lsoa")
        # switch the share layer off and on: Leaflet puts it on top; the wards go back above
        o.toggle(names["share"])
        o.toggle(names["share"])
        assert p.evaluate(WARDS_ON_TOP)
        o.toggle(names["imd"])  # a second LSOA layer on: one tooltip with both
        text = _hover_tooltip(p, lat, lon)
        assert text.startswith(f"{row['lsoa_name']} ({row['lsoa_code']})"), text
        assert "Within a 15-minute walk" in text and "Deprivation decile in England" in text
        assert text.count("Ward\t") == 1  # labels shared by both layers written once
        # with no LSOA layer on, the wards answer the hover
        for key in ("share", "imd", "thin"):
            o.toggle(names[key])
        text = _hover_tooltip(p, lat, lon)
        assert text.startswith(str(row["ward_name"])) and "Ward code" in text, text
        assert o.errors == []
    finally:
        o.close()


@pytest.mark.browser
def test_bivariate_view(browser, page_file):
    names = I.layer_names(15)
    o = Opened(browser, page_file, DESKTOP)
    try:
        o.toggle(names["share"])
        o.toggle(names["bivariate"])
        legend = o.page.locator("details.cnmap-legend", has_text="walking provision")
        assert "relative" not in legend.inner_text()
        assert "Provision: share of an area's residents within a 15-minute walk" in (
            legend.inner_text()
        )
        _inside_and_apart(o.page.evaluate(CONTROLS), DESKTOP)
        o.shot("planner_bivariate")
        assert o.errors == []
    finally:
        o.close()


@pytest.mark.browser
def test_phone_controls_folded_and_nothing_cut_off(browser, page_file):
    o = Opened(browser, page_file, PHONE)
    try:
        p = o.page
        assert p.locator(".leaflet-control-layers-expanded").count() == 0
        assert p.locator(".leaflet-control-layers-toggle").is_visible()
        assert p.locator("details.cnmap-legend").count() == 3
        assert p.locator("details.cnmap-legend[open]").count() == 0
        assert p.locator(".cnmap-story details[open]").count() == 0
        assert p.locator(".cnmap-headline").is_visible()
        boxes = p.evaluate(CONTROLS)
        _inside_and_apart(boxes, PHONE)
        story_box = p.locator(".cnmap-story").bounding_box()
        assert story_box["height"] < PHONE["height"] / 2
        o.shot("planner_phone")
        p.locator(".leaflet-control-layers-toggle").tap()
        p.wait_for_timeout(200)
        assert p.locator(".leaflet-control-layers-expanded").count() == 1
        r = p.locator(".leaflet-control-layers").bounding_box()
        assert r["x"] >= 0 and r["x"] + r["width"] <= PHONE["width"]
        assert r["y"] + r["height"] <= PHONE["height"]
        o.shot("planner_phone_layers")
        p.touchscreen.tap(200, 275)  # a tap on the map (no marker there) folds the layers
        p.wait_for_timeout(200)
        assert p.locator(".leaflet-control-layers-expanded").count() == 0
        p.locator(".cnmap-legend summary", has_text="Residents within").tap()
        p.wait_for_timeout(150)
        legend = p.locator("details.cnmap-legend[open]").bounding_box()
        assert legend["y"] >= 0 and legend["y"] + legend["height"] <= PHONE["height"]
        assert legend["x"] >= 0 and legend["x"] + legend["width"] <= PHONE["width"]
        o.shot("planner_phone_legend")
        assert o.errors == []
    finally:
        o.close()


@pytest.mark.browser
def test_approximate_and_overlapping_organisations(browser, page_file):
    o = Opened(browser, page_file, DESKTOP)
    try:
        p = o.page
        lat, lon = SUTTON_VESEY_CENTROID
        p.evaluate(f"{MAP}.setView([{lat}, {lon}], 17, {{animate: false}}); 0")
        p.wait_for_timeout(400)
        centres = p.evaluate("""() => Array.from(document.querySelectorAll('.cnmap-approx'))
            .map(e => { const r = e.getBoundingClientRect();
                        return [r.left + r.width / 2, r.top + r.height / 2]; })""")
        assert len(centres) >= 2
        for a, b in zip(centres, centres[1:], strict=False):
            assert np.hypot(a[0] - b[0], a[1] - b[1]) >= 8  # spread, not stacked
        p.locator(".cnmap-approx").first.click()
        popup = p.locator(".leaflet-popup-content")
        popup.wait_for(timeout=5_000)
        assert "approximate: placed at the centre of its ward" in popup.inner_text()
        svg = p.locator(".cnmap-approx svg g").first
        assert svg.get_attribute("fill") == "#ffffff"
        assert svg.get_attribute("stroke-dasharray")
        p.wait_for_timeout(300)
        o.shot("planner_approximate")
        assert o.errors == []
    finally:
        o.close()


@pytest.mark.browser
def test_far_from_postcode_drawn_with_a_red_ring(browser, data):
    orgs = _far_flagged(data["cov"].organisations)
    m = coverage_map(data["cov"], organisations=orgs, tiles=None, catchments=False, cluster=False)
    path = save_html(m, SCREENSHOTS / "planner_far_from_postcode.html", self_contained=True)
    o = Opened(browser, path, DESKTOP)
    try:
        p = o.page
        assert p.locator(".cnmap-far").count() == 2
        ring = p.evaluate("getComputedStyle(document.querySelector('.cnmap-far svg')).boxShadow")
        assert "rgb(215, 25, 28)" in ring
        far = orgs.to_crs(4326).geometry.iloc[3]
        p.evaluate(f"{MAP}.setView([{far.y}, {far.x}], 17, {{animate: false}}); 0")
        p.wait_for_timeout(300)
        p.locator(".cnmap-far").first.click()
        popup = p.locator(".leaflet-popup-content")
        popup.wait_for(timeout=5_000)
        assert "Location check\tplaced 1.7 km from the centre of its address postcode" in (
            popup.inner_text()
        )
        assert o.errors == []
    finally:
        o.close()


@pytest.mark.browser
def test_base_maps_offered_with_referrer_policy(browser, data):
    m = coverage_map(data["cov"], thin=data["thin"], catchments=False)
    path = save_html(m, SCREENSHOTS / "planner_fixture_tiles.html", self_contained=True)
    o = Opened(browser, path, DESKTOP)
    try:
        p = o.page
        radios = p.locator(".leaflet-control-layers-base label")
        assert radios.count() == 3
        assert radios.first.inner_text().strip() == I.BASEMAPS["carto_light"].name
        p.wait_for_selector("img.leaflet-tile", state="attached")  # offline: never loads
        tiles = p.evaluate("""() => Array.from(document.querySelectorAll('img.leaflet-tile'))
            .map(t => [t.getAttribute('src'), t.referrerPolicy])""")
        assert tiles and all(
            re.match(r"https://[a-d]\.basemaps\.cartocdn\.com/light_all/", s) for s, _ in tiles
        )
        assert {pol for _, pol in tiles} == {"strict-origin-when-cross-origin"}
        radios.nth(1).locator("input").click()
        p.wait_for_timeout(300)
        srcs = p.evaluate("""() => Array.from(document.querySelectorAll('img.leaflet-tile'))
            .map(t => t.getAttribute('src'))""")
        assert any(s.startswith("https://server.arcgisonline.com/") for s in srcs)
        attribution = p.locator(".leaflet-control-attribution").inner_text()
        assert "Esri" in attribution and "OpenStreetMap contributors" in attribution
    finally:
        o.close()
