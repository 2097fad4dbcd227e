"""cnmap.local: the four layers of local by hand (a street, a two-ward grid), the unit table
adding up to the summary, the map's text kept inert, and Birmingham (warm spaces, the report's
organisations)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from cnmap.coverage import coverage
from cnmap.errors import ValidationError
from cnmap.local import LOCAL_COLUMNS, SCALES, UNIT_COLUMNS, layers_of_local, local_map, local_units
from tests.helpers import lattice as LT

BHAM = "E08000025"


def line_result(xs, minutes=(5, 10), area=None):
    """Residents 10 m off a street at x = 50 (L1, 100), 450 (L1, 200), 950 (L2, 300), all in
    ward W1; straight line at 80 m a minute (5 min = 400 m)."""
    return coverage(
        LT.orgs_at(xs),
        area or LT.line_area(),
        residents=LT.line_residents(),
        minutes=list(minutes),
        mode="crow_flies",
        detour_factor=1.0,
    )


def by_scale(table: pd.DataFrame) -> pd.DataFrame:
    return table.set_index("scale")


def test_line_by_hand() -> None:
    out = layers_of_local(line_result([0]), neighbourhood_minutes=10)
    assert list(out.columns) == list(LOCAL_COLUMNS)
    assert out["scale"].tolist() == list(SCALES)
    t = by_scale(out)
    # street (5 min, 400 m): only x = 50; neighbourhood (10 min, 800 m): x = 50 and 450
    assert t.loc["street", "covered"] == pytest.approx(100)
    assert t.loc["street", "share_covered"] == pytest.approx(100 / 600)
    assert t.loc["street", "n_units"] == 3 and t.loc["street", "n_units_with"] == 1
    assert t.loc["street", "metres"] == pytest.approx(400)
    assert t.loc["street", "mean_organisations"] == pytest.approx(100 / 600)
    assert t.loc["neighbourhood", "share_covered"] == pytest.approx(300 / 600)
    assert t.loc["neighbourhood", "minutes"] == 10
    # the one organisation stands in ward W1, the district's only ward
    assert t.loc["ward", "share_covered"] == 1.0 and t.loc["ward", "n_units"] == 1
    assert t.loc["ward", "mean_organisations"] == 1.0
    assert t.loc["city", "share_covered"] == 1.0 and t.loc["city", "n_organisations"] == 1
    assert (t["population"] == 600).all()
    assert (t["covered"] + t["not_covered"] == t["population"]).all()
    assert "5-minute walk (400 m)" in t.loc["street", "definition"]
    assert "Line" in t.loc["city", "definition"]  # the area's name


def test_organisation_outside_the_area() -> None:
    """An organisation beyond the area's edge still serves the street scale, but no ward or
    district holds it."""
    t = by_scale(layers_of_local(line_result([1150]), neighbourhood_minutes=10))
    assert t.loc["street", "covered"] == pytest.approx(300)  # x = 950, 200 m away
    assert t.loc["ward", "covered"] == 0 and t.loc["ward", "n_units_with"] == 0
    assert t.loc["city", "covered"] == 0 and t.loc["city", "n_organisations"] == 0


def grid_result(rng: np.random.Generator, org_x: list[float]):
    area = LT.lattice_area()
    res = LT.lattice_residents(rng, m=60)
    orgs = LT.orgs_at(org_x, y=120.0)
    return coverage(
        orgs, area, residents=res, minutes=[5, 15], mode="crow_flies", detour_factor=1.3
    ), res


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_two_wards_against_the_residents(seed: int) -> None:
    """Organisations in the west ward only: the ward scale covers exactly its residents."""
    rng = np.random.default_rng(seed)
    cov, res = grid_result(rng, [30.0, 140.0])  # both west of x = 250
    t = by_scale(layers_of_local(cov))
    west = res["ward_code"].to_numpy() == "WW"
    w = res["weight"].to_numpy(float)
    assert t.loc["ward", "covered"] == pytest.approx(w[west].sum())
    assert t.loc["ward", "n_units"] == 2 and t.loc["ward", "n_units_with"] == 1
    assert t.loc["ward", "mean_organisations"] == pytest.approx(2 * w[west].sum() / w.sum())
    assert t.loc["city", "share_covered"] == 1.0
    # street and neighbourhood are the coverage's own shares
    totals = cov.totals.set_index("minutes")["share_covered"]
    assert t.loc["street", "share_covered"] == pytest.approx(totals[5])
    assert t.loc["neighbourhood", "share_covered"] == pytest.approx(totals[15])
    shares = t["share_covered"].to_numpy()
    assert shares[0] <= shares[1] + 1e-12 and shares[2] <= shares[3]


@pytest.mark.parametrize("seed", [4, 5])
def test_units_add_up_to_the_table(seed: int) -> None:
    cov, _ = grid_result(np.random.default_rng(seed), [30.0, 400.0])
    table = by_scale(layers_of_local(cov))
    units = local_units(cov)
    assert list(units.columns) == [*UNIT_COLUMNS, "geometry"]
    assert units.crs.to_epsg() == 27700
    counts = units.groupby("scale").size()
    assert (counts["street"], counts["neighbourhood"], counts["ward"], counts["city"]) == (
        4,
        4,
        2,
        1,
    )
    for scale in SCALES:
        part = units[units["scale"] == scale]
        assert part["covered"].sum() == pytest.approx(table.loc[scale, "covered"])
        assert part["population"].sum() == pytest.approx(table.loc[scale, "population"])
    wards = units[units["scale"] == "ward"].set_index("code")
    assert wards.loc["WW", "n_organisations"] == 1 and wards.loc["WE", "n_organisations"] == 1


def test_errors() -> None:
    only15 = line_result([0], minutes=(15,))
    with pytest.raises(ValidationError, match=r"street_minutes=5 is not among .*\[15\]"):
        layers_of_local(only15)
    res = line_result([0])
    with pytest.raises(ValidationError, match="neighbourhood_minutes=15"):
        layers_of_local(res)
    with pytest.raises(ValidationError, match="longer than"):
        layers_of_local(res, street_minutes=10, neighbourhood_minutes=5)
    with pytest.raises(ValidationError, match="show="):
        local_map(res, neighbourhood_minutes=10, show="county")


HOSTILE = ["{{7*7}} Ward", "{% raw %} LSOA", "{#1 club", "</script><script>alert(1)</script>"]


def hostile_area():
    area = LT.line_area()
    area.lsoas["lsoa_name"] = [HOSTILE[1], HOSTILE[3]]
    area.wards["ward_name"] = [HOSTILE[0]]
    area.lsoas["ward_name"] = [HOSTILE[0]] * 2
    return area


def page_data(html: str) -> list[dict]:
    """Every GeoJSON FeatureCollection written into the page, decoded."""
    found = re.findall(r"L\.geoJson\((\{.*?\}), \{\n", html, flags=re.S)
    return [json.loads(f) for f in found]


def test_map_text_is_inert(tmp_path: Path) -> None:
    res = line_result([0, 600], area=hostile_area())
    m = local_map(res, neighbourhood_minutes=10, tiles=None)
    html = m.get_root().render()
    for mark in ("{{", "{%", "{#"):
        assert mark not in html
    assert "49 Ward" not in html and "<script>alert" not in html
    data = page_data(html)
    assert len(data) == 4  # one layer per scale
    tips = " ".join(f["properties"]["tip"] for fc in data for f in fc["features"])
    # shown by the browser exactly as written: braces as character references, tags escaped
    assert "&#123;&#123;7*7&#125;&#125; Ward" in tips
    assert "&#123;% raw %&#125; LSOA" in tips
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in tips
    assert [len(fc["features"]) for fc in data] == [2, 2, 1, 1]
    colours = {f["properties"]["style"]["fillColor"] for fc in data for f in fc["features"]}
    assert colours <= {"#ffffcc", "#a1dab4", "#41b6c4", "#2c7fb8", "#253494", "#cccccc"}
    # the layer control lists the four scales, the neighbourhood shown on opening
    names = re.findall(r'"((?:Street|Neighbourhood|Ward|City)[^"]*)"\s*:', html)
    assert len(names) == 4
    assert html.count(".addTo(") >= 3


def test_map_credits_the_network_and_each_list() -> None:
    orgs = LT.orgs_at([0, 600]).assign(
        dataset=["GP practices", "Food {{stores}}"],
        licence=["Open Government Licence v3.0", "open data"],
    )
    res = coverage(
        orgs,
        LT.line_area(),
        residents=LT.line_residents(),
        minutes=[5, 10],
        network=LT.line_network(),
    )
    html = local_map(res, neighbourhood_minutes=10, tiles=None).get_root().render()
    assert "{{" not in html
    panel = json.loads(re.search(r"innerHTML = (\".*?\");", html).group(1))
    assert "OpenStreetMap contributors (ODbL)" in panel
    assert "GP practices: Open Government Licence v3.0." in panel
    assert "Food &#123;&#123;stores&#125;&#125;: open data." in panel  # shown as written
    crow = line_result([0])
    assert (
        "OpenStreetMap"
        not in local_map(crow, neighbourhood_minutes=10, tiles=None).get_root().render()
    )


# ---------------------------------------------------------------------------------------------
# Birmingham


@pytest.fixture(scope="module")
def bham(shared_data: Path):
    import cnmap

    area = cnmap.load_area(BHAM, lsoa_vintage=2021, iod=2025)
    warm = cnmap.read_organisations(
        shared_data / "birmingham" / "osm" / "warm_spaces_birmingham.geojson", area=area
    )
    seeds = cnmap.read_organisations(
        shared_data / "birmingham" / "seed_organisations.csv", area=area
    )
    return area, warm, seeds


@pytest.mark.slow
def test_birmingham_layers_of_local(bham) -> None:
    area, warm, seeds = bham
    for orgs in (warm, seeds):
        res = coverage(orgs, area, minutes=[5, 15], mode="crow_flies", detour_factor=1.4)
        t = by_scale(layers_of_local(res))
        totals = res.totals.set_index("minutes")["share_covered"]
        assert t.loc["street", "share_covered"] == pytest.approx(totals[5], abs=1e-12)
        assert t.loc["neighbourhood", "share_covered"] == pytest.approx(totals[15], abs=1e-12)
        assert t.loc["ward", "n_units"] == 69
        # wards holding an organisation: as read_organisations placed them
        o = orgs.organisations
        in_area = o[o["in_area"].to_numpy(bool)]
        assert t.loc["ward", "n_units_with"] == in_area["ward_code"].nunique()
        assert t.loc["city", "n_organisations"] == len(in_area)
        shares = t["share_covered"].to_numpy()
        assert (np.diff(shares) >= -1e-12).all()
        units = local_units(res)
        lsoa = units[units["scale"] == "neighbourhood"].set_index("code")
        assert lsoa["share_covered"].to_dict() == pytest.approx(
            res.lsoas.set_index("lsoa_code")["share_covered_15min"].fillna(0).to_dict()
        )
    # the report's 26 located organisations sit in a minority of wards
    assert (
        by_scale(
            layers_of_local(
                coverage(seeds, area, minutes=[5, 15], mode="crow_flies", detour_factor=1.4)
            )
        ).loc["ward", "share_covered"]
        < 0.5
    )


@pytest.mark.slow
def test_birmingham_local_map(bham, tmp_path: Path) -> None:
    area, _, seeds = bham
    res = coverage(seeds, area, minutes=[5, 15], mode="crow_flies", detour_factor=1.4)
    m = local_map(res)
    html = m.get_root().render()
    assert not any(mark in html for mark in ("{{", "{%", "{#"))
    data = page_data(html)
    assert [len(fc["features"]) for fc in data] == [len(area.lsoas), len(area.lsoas), 69, 1]
    assert "Contains OS data" in html  # the boundaries' attribution
    assert isinstance(local_units(res), gpd.GeoDataFrame)


@pytest.mark.browser
def test_map_in_a_browser(tmp_path: Path) -> None:
    """Headless Chromium, offline: the four scales switch, hostile names show as written."""
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.skip("/usr/bin/chromium not installed")
    sync_api = pytest.importorskip("playwright.sync_api")
    from cnmap.maps import save_html

    res = line_result([0, 600], area=hostile_area())
    path = save_html(
        local_map(res, neighbourhood_minutes=10, tiles=None),
        tmp_path / "local.html",
        self_contained=True,
    )
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(chromium), args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_context(offline=True).new_page()
        errors: list[str] = []
        dialogs: list[str] = []
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(path.as_uri())
        page.wait_for_timeout(500)
        labels = page.evaluate(
            "Array.from(document.querySelectorAll("
            "'.leaflet-control-layers-base label')).map(l => l.textContent)"
        )
        assert [s.strip().split(":")[0] for s in labels] == [
            "Street",
            "Neighbourhood",
            "Ward",
            "City",
        ]
        paths = "document.querySelectorAll('path.leaflet-interactive').length"
        assert page.evaluate(paths) == 2  # the neighbourhood's two LSOAs
        page.click("text=Ward: an organisation in the ward")
        page.wait_for_timeout(200)
        assert page.evaluate(paths) == 1
        box = page.evaluate(
            "(() => {const r = document.querySelector("
            "'path.leaflet-interactive').getBoundingClientRect();"
            " return [r.x + r.width / 2, r.y + r.height / 2];})()"
        )
        page.mouse.move(*box)
        page.wait_for_timeout(300)
        tip = page.evaluate("document.querySelector('.leaflet-tooltip').innerText")
        assert tip.startswith(HOSTILE[0])
        assert "2 organisation(s)" in tip
        browser.close()
    assert not errors and not dialogs


@pytest.mark.slow
def test_figures_quoted_in_the_docs(bham, shared_data: Path) -> None:
    """The Birmingham table of docs/need_layers.md's layers of local is what the code gives."""
    from cnmap.network import read_walk_network

    area, warm, seeds = bham
    net = read_walk_network(shared_data / "birmingham" / "osm" / "birmingham_walk_osm_2021-08.gpkg")
    w, s = (
        by_scale(layers_of_local(coverage(o, area, minutes=[5, 15], network=net)))
        for o in (warm, seeds)
    )
    text = (Path(__file__).resolve().parents[1] / "docs" / "need_layers.md").read_text(
        encoding="utf-8"
    )

    def ward(t: pd.DataFrame) -> str:
        return (
            f"{t.loc['ward', 'share_covered']:.1%} ({t.loc['ward', 'n_units_with']} of "
            f"{t.loc['ward', 'n_units']} wards)"
        )

    for line in (
        f"| street (5 min) | {w.loc['street', 'share_covered']:.1%} | "
        f"{s.loc['street', 'share_covered']:.1%} |",
        f"| neighbourhood (15 min) | {w.loc['neighbourhood', 'share_covered']:.1%} | "
        f"{s.loc['neighbourhood', 'share_covered']:.1%} |",
        f"| ward | {ward(w)} | {ward(s)} |",
        f"| city | {w.loc['city', 'share_covered']:.1%} | {s.loc['city', 'share_covered']:.1%} |",
        f"the report's {s.loc['city', 'n_organisations']} located",
    ):
        assert line in text, line
