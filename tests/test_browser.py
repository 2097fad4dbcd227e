"""The coverage map in a real browser: headless Debian Chromium driven by Playwright.

Every page is opened from a file with the network cut (an offline context, and every
non-file request aborted), so these tests never touch the internet: the maps are saved
self-contained. Checks: no console errors, layers listed and toggled (SVG path counts),
markers and popups, HTML injections shown as text (and no alert), ward search, legends, the
render time under tests/_artifacts/maps/ and screenshots in tests/screenshots/ (gitignored,
kept for a person to look at; the planner's view is tested in tests/test_map_planner.py).

Skipped (not failed) when /usr/bin/chromium or playwright is missing
(scripts/test.sh installs Debian's chromium in CI).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from cnmap.maps import LAYER_KEYS, coverage_map, layer_names, save_html
from tests.helpers import fake_results as F

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).parent / "_artifacts" / "maps"
SCREENSHOTS = Path(__file__).parent / "screenshots"
PATHS = "document.querySelectorAll('.leaflet-overlay-pane path').length"
MAP = "window[document.querySelector('.folium-map').id]"
#: Base-map tiles of the default map (CARTO light), refused offline.
TILE_HOST = "basemaps.cartocdn.com"


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def data(shared_data):
    cov = F.coverage(shared_data)
    thin = F.thin(cov)
    return {"cov": cov, "thin": thin, "profiles": F.ward_profiles(cov)}


@pytest.fixture(scope="module")
def pages(data):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    m = coverage_map(data["cov"], thin=data["thin"], ward_profiles=data["profiles"], tiles=None)
    out = {"plain": save_html(m, ARTIFACTS / "birmingham_fixture.html", self_contained=True)}
    m = coverage_map(data["cov"], thin=data["thin"], ward_profiles=data["profiles"])
    out["tiles"] = save_html(m, ARTIFACTS / "birmingham_fixture_tiles.html", self_contained=True)
    out["cdn"] = save_html(m, ARTIFACTS / "birmingham_fixture_cdn.html")
    return out


class Page:
    """An offline page with its console errors, page errors, dialogs and failed requests."""

    def __init__(self, browser, path: Path, min_paths: int = 601, viewport=None):
        phone = viewport is not None and viewport["width"] < 600
        self.ctx = browser.new_context(
            viewport=viewport or {"width": 1280, "height": 900},
            offline=True,
            is_mobile=phone,
            has_touch=phone,
        )
        self.ctx.route(
            "**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort()
        )
        self.page = self.ctx.new_page()
        self.console: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.failed: list[str] = []
        self.page.on(
            "console", lambda m: self.console.append(m.text) if m.type == "error" else None
        )
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("requestfailed", lambda r: self.failed.append(r.url))

        def dialog(d):
            self.dialogs.append(d.message)
            d.dismiss()

        self.page.on("dialog", dialog)
        t0 = time.perf_counter()
        self.page.goto(path.as_uri())
        self.page.wait_for_function(f"{PATHS} >= {min_paths}", timeout=30_000)
        self.drawn_s = time.perf_counter() - t0
        self.drawn_ms_page = self.page.evaluate("performance.now()")

    def paths(self) -> int:
        return self.page.evaluate(PATHS)

    def toggle(self, name: str) -> None:
        label = self.page.locator(".leaflet-control-layers-overlays label", has_text=name)
        label.locator("input").click()
        self.page.wait_for_timeout(150)

    def close(self) -> None:
        self.ctx.close()


def test_renders_without_errors_and_is_timed(browser, pages, data):
    p = Page(browser, pages["plain"])
    try:
        assert p.errors == [] and p.console == [] and p.dialogs == []
        assert p.failed == []
        names = p.page.evaluate(
            "Array.from(document.querySelectorAll('.leaflet-control-layers-overlays label'))"
            ".map(l => l.textContent.trim())"
        )
        assert names == [
            layer_names(15)[k]
            for k in ("imd", "share", "bivariate", "thin", "catchments", "wards", "organisations")
        ]
        # share (639 LSOAs) + thin LSOAs + wards (69) drawn, as SVG paths
        n_lsoa, n_ward = len(data["cov"].lsoas), len(data["cov"].wards)
        n_thin = int(data["thin"].lsoas["thin"].sum())
        assert p.paths() == n_lsoa + n_thin + n_ward
        scale = p.page.locator(".leaflet-control-scale-line").all_inner_texts()
        assert any(t.endswith((" m", " km")) for t in scale)  # metric (and imperial) lines
        assert p.page.locator(".leaflet-control-zoom-fullscreen").count() == 1
        attribution = p.page.locator(".leaflet-control-attribution").inner_text()
        assert "Contains OS data © Crown copyright and database right" in attribution
        assert "Open Government Licence v3.0" in attribution
        assert "OpenStreetMap contributors" in attribution and "ODbL" in attribution
        legend = p.page.locator(".cnmap-legend").all_inner_texts()
        assert any("Residents within a 15-minute walk" in t for t in legend)
        assert any("Thin areas" in t for t in legend)
        assert not any("Deprivation (IMD" in t for t in legend)  # its layer is off
        p.page.screenshot(path=str(SCREENSHOTS / "birmingham_fixture.png"))
        (ARTIFACTS / "render_time.json").write_text(
            json.dumps(
                {
                    "file_mb": round(pages["plain"].stat().st_size / 1e6, 3),
                    "goto_to_layers_drawn_s": round(p.drawn_s, 3),
                    "page_clock_at_layers_drawn_ms": round(p.drawn_ms_page, 1),
                },
                indent=2,
            )
        )
    finally:
        p.close()


def test_layers_toggle(browser, pages, data):
    p = Page(browser, pages["plain"])
    try:
        n_lsoa = len(data["cov"].lsoas)
        n_thin = int(data["thin"].lsoas["thin"].sum())
        n_ward = len(data["cov"].wards)
        names = layer_names(15)
        base = p.paths()  # share, thin, wards
        p.toggle(names["imd"])
        assert p.paths() == base + n_lsoa
        assert any(
            "Deprivation (IMD), national deciles" in t
            for t in p.page.locator(".cnmap-legend").all_inner_texts()
        )
        p.toggle(names["share"])
        assert p.paths() == base
        assert p.page.locator(".cnmap-badge").count() == n_thin
        p.toggle(names["thin"])
        assert p.paths() == base - n_thin
        assert p.page.locator(".cnmap-badge").count() == 0  # the numbers go with their layer
        p.toggle(names["wards"])
        assert p.paths() == base - n_thin - n_ward
        p.toggle(names["catchments"])
        assert p.paths() == base - n_thin - n_ward + 1
        p.toggle(names["bivariate"])
        assert p.paths() == base - n_thin - n_ward + 1 + n_lsoa
        legend = p.page.locator(".cnmap-legend").all_inner_texts()
        assert any("more deprived" in t for t in legend)  # the 3x3 legend
        assert p.page.locator(".cnmap-legend table td").count() == 9
        p.page.screenshot(path=str(SCREENSHOTS / "birmingham_fixture_layers.png"))
        n_markers = p.page.locator(".marker-cluster, .cnmap-org").count()
        assert n_markers > 0
        p.toggle(names["organisations"])
        assert p.page.locator(".marker-cluster, .cnmap-org").count() == 0
        assert p.errors == [] and p.console == []
    finally:
        p.close()


def test_markers_and_popup_escape_the_script(browser, pages, data):
    p = Page(browser, pages["plain"])
    try:
        clusters = p.page.locator(".marker-cluster").count()
        assert clusters > 5
        counts = p.page.evaluate(
            "Array.from(document.querySelectorAll('.marker-cluster')).map(e => +e.innerText)"
        )
        singles = p.page.locator(".cnmap-org").count()
        assert sum(counts) + singles == len(data["cov"].organisations)
        evil = data["cov"].organisations.to_crs(4326).geometry.iloc[0]
        p.page.evaluate(f"{MAP}.setView([{evil.y}, {evil.x}], 18, {{animate: false}}); 0")
        p.page.wait_for_timeout(400)
        dots = p.page.locator(".cnmap-org")
        assert dots.count() >= 1
        best = p.page.evaluate("""() => {
            const r = document.querySelector('.folium-map').getBoundingClientRect();
            const cx = r.left + r.width / 2, cy = r.top + r.height / 2;
            let best = -1, bestD = Infinity;
            document.querySelectorAll('.cnmap-org').forEach((el, i) => {
                const b = el.getBoundingClientRect();
                const d = (b.left + b.width / 2 - cx) ** 2 + (b.top + b.height / 2 - cy) ** 2;
                if (d < bestD) { bestD = d; best = i; }
            });
            return best;
        }""")
        dots.nth(best).click()
        popup = p.page.locator(".leaflet-popup-content")
        popup.wait_for(timeout=5_000)
        text = popup.inner_text()
        assert F.EVIL in text  # shown as text
        assert "1 <b>Bold</b> Street & Co" in text
        assert "Mo-Fr 09:00-17:00 <i>" in text
        assert popup.locator("script, b b, i, img").count() == 0
        assert popup.locator("b").count() == 1  # cnmap's own bold title only
        assert p.dialogs == []
        assert p.errors == [] and p.console == []
        p.page.wait_for_timeout(400)  # popup fade-in
        p.page.screenshot(path=str(SCREENSHOTS / "birmingham_fixture_popup.png"))
    finally:
        p.close()


def test_ward_search_and_tooltip_escape(browser, pages):
    p = Page(browser, pages["plain"])
    try:
        p.page.locator(".leaflet-control-search .search-button").click()
        p.page.locator(".leaflet-control-search input.search-input").press_sequentially(
            "Evil", delay=30
        )
        tip = p.page.locator(".leaflet-control-search .search-tip").first
        tip.wait_for(timeout=5_000)
        assert tip.inner_text() == F.EVIL_WARD
        assert p.page.locator(".search-tooltip img").count() == 0
        tip.click()
        tooltip = p.page.locator(".leaflet-tooltip")
        tooltip.first.wait_for(timeout=5_000)
        text = tooltip.first.inner_text()
        assert F.EVIL_WARD in text
        assert "Deprivation (IMD average rank)" in text and "of 69 wards" in text
        assert tooltip.locator("img").count() == 0
        assert p.page.locator("img[src='x']").count() == 0
        assert p.dialogs == [] and p.errors == [] and p.console == []
        # the found ward is highlighted
        assert p.page.locator("path[stroke='#ff7f00']").count() == 1
    finally:
        p.close()


def test_self_contained_with_tiles_renders_with_network_off(browser, pages):
    p = Page(browser, pages["tiles"])
    try:
        assert p.errors == [] and p.dialogs == []
        assert p.failed, "tile requests were expected (and refused)"
        assert all(TILE_HOST in u for u in p.failed)  # the first base map only
        assert all("Failed to load resource" in c for c in p.console)
        assert p.page.locator(".marker-cluster").count() > 0
    finally:
        p.close()


def test_cdn_file_needs_the_network(browser, pages):
    """The check above can fail: the CDN version does not run offline."""
    ctx = browser.new_context(offline=True)
    ctx.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort())
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(pages["cdn"].as_uri())
        page.wait_for_timeout(500)
        assert page.evaluate(PATHS) == 0
        assert any("L is not defined" in e for e in errors)
    finally:
        ctx.close()


@pytest.mark.slow
def test_real_birmingham_map_renders_fast(browser, shared_data):
    """The real pipeline's map (cnmap.coverage, street catchments), every layer switched on:
    time from navigation to every path drawn, recorded in render_time_birmingham.json."""
    import cnmap

    cov, cat, profiles = F.real_birmingham()
    thin = cnmap.thin_areas(cov)
    m = coverage_map(
        cov, thin=thin, ward_profiles=profiles, catchments=cat, tiles=None, show=LAYER_KEYS
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = save_html(m, ARTIFACTS / "birmingham_all_layers.html", self_contained=True)
    # imd, share, bivariate (659 each), thin LSOAs, catchments, wards
    expected = 3 * len(cov.lsoas) + int(thin.lsoas["thin"].sum()) + len(cat) + len(cov.wards)
    p = Page(browser, path, min_paths=expected)
    try:
        p.page.wait_for_function("document.querySelectorAll('.marker-cluster').length > 0")
        assert p.paths() == expected
        assert p.errors == [] and p.console == [] and p.dialogs == []
        p.page.screenshot(path=str(SCREENSHOTS / "birmingham_all_layers.png"))
        (ARTIFACTS / "render_time_birmingham.json").write_text(
            json.dumps(
                {
                    "file_mb": round(path.stat().st_size / 1e6, 3),
                    "paths": expected,
                    "organisations": len(cov.organisations),
                    "goto_to_layers_drawn_s": round(p.drawn_s, 3),
                    "page_clock_at_layers_drawn_ms": round(p.drawn_ms_page, 1),
                },
                indent=2,
            )
        )
    finally:
        p.close()


@pytest.mark.slow
def test_main_command_map_opens_offline_without_errors(browser, shared_data, tmp_path):
    """The map written by the README's main command (cnmap run configs/birmingham.toml), opened
    as a planner would, with the network cut: every default layer drawn, no console error,
    markers clustered, attribution shown; the title panel states the run's own figures.
    Screenshots on a desktop (1366x768) and a phone (390x844) are kept in tests/screenshots/.
    (Its render time is measured in bench/.)"""
    import re

    import pandas as pd

    from cnmap.cli import main

    config = Path(__file__).resolve().parents[1] / "configs" / "birmingham.toml"
    assert main(["run", str(config), "--out", str(tmp_path), "-q"]) == 0
    path = tmp_path / "birmingham_coverage_map.html"
    assert path.stat().st_size <= 8 * 1024 * 1024
    totals = pd.read_csv(tmp_path / "tables" / "totals.csv").set_index("minutes")
    (share_col,) = [c for c in totals.columns if c.startswith("share_covered")]
    share = float(totals.loc[15, share_col]) * (1 if "%" in share_col else 100)
    thin = pd.read_csv(tmp_path / "tables" / "thin_lsoas.csv")
    n_thin = int(thin["thin"].sum()) if "thin" in thin.columns else len(thin)  # thin rows only
    n_pts = len(json.loads(re.search(r"var pts = (.*);\n", path.read_text("utf-8")).group(1)))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for name, viewport in (
        ("desktop", {"width": 1366, "height": 768}),
        ("phone", {"width": 390, "height": 844}),
    ):
        p = Page(browser, path, min_paths=600 + 69, viewport=viewport)  # LSOAs + wards
        try:
            p.page.wait_for_function("document.querySelectorAll('.marker-cluster').length > 0")
            assert p.errors == [] and p.dialogs == []
            # offline, only the base-map tiles fail to load (they always need the network);
            # every script and stylesheet is inlined, and the layers draw without tiles
            assert all(TILE_HOST in u for u in p.failed), p.failed
            assert all(c.startswith("Failed to load resource") for c in p.console), p.console
            assert len(p.console) <= len(p.failed)
            assert (
                "OpenStreetMap contributors"
                in p.page.locator(".leaflet-control-attribution").inner_text()
            )
            assert p.page.title().startswith("Birmingham: ")
            headline = p.page.locator(".cnmap-headline").inner_text()
            # the run names what its lists are (the configuration's labels)
            assert headline.startswith(
                f"{share:.1f}% of residents live within a 15-minute walk (1,200 m at 4.8 km/h) "
                f"of {n_pts} warm spaces, report organisations and food banks."
            ), headline
            assert p.page.locator(".cnmap-story li[data-cnmap-i]").count() == n_thin
            p.page.wait_for_timeout(500)
            p.page.screenshot(path=str(SCREENSHOTS / f"main_command_map_{name}.png"))
        finally:
            p.close()


@pytest.mark.slow
def test_need_layer_switched_on(browser, data, shared_data):
    """The Census 2021 disability layer (on the 2011 LSOAs, cnmap.layers.report_layers): off
    when the page opens, switched on from the layer control it draws every LSOA with its
    legend and attribution, and an LSOA's tooltip gives its share and its coverage. The
    screenshot (coverage layer off, need layer on) is kept for a person to look at."""
    import numpy as np

    import cnmap
    import cnmap.layers as L
    from cnmap.maps import map_layer

    area = cnmap.load_area("E08000025", lsoa_vintage=2011, iod=2019)
    layer = next(x for x in L.report_layers(area) if x.name == "disability")
    need = map_layer(layer, "disabled_share")
    cov = data["cov"]
    m = coverage_map(cov, thin=data["thin"], need_layers=[need], tiles=None)
    var = next(c for c in m._children.values() if getattr(c, "key", None) == "need0").get_name()
    path = save_html(m, ARTIFACTS / "birmingham_need_layer.html", self_contained=True)
    codes = cov.lsoas["lsoa_code"].to_numpy()
    i = int(np.nanargmax(need.aligned(codes)))
    p = Page(browser, path)
    try:
        box = p.page.locator(".leaflet-control-layers-overlays label", has_text=need.title)
        assert box.locator("input").is_checked() is False
        base = p.paths()
        p.toggle(need.title)
        assert box.locator("input").is_checked()
        assert p.paths() == base + len(codes)
        legend = p.page.locator(".cnmap-legend").all_inner_texts()
        assert any(t.startswith(need.title) and "no data" not in t.split("grey")[0] for t in legend)
        attribution = p.page.locator(".leaflet-control-attribution").inner_text()
        assert "Office for National Statistics" in attribution and "Census 2021" in attribution
        p.toggle(layer_names(15)["share"])
        assert p.paths() == base
        tip = p.page.evaluate(
            f"""() => {{ var out = null; window.{var}.eachLayer(function(l) {{
                if (l.feature.properties.i === {i}) {{
                    l.openTooltip(l.getBounds().getCenter());
                    out = l.getTooltip().getElement().innerText; }} }}); return out; }}"""
        )
        value = need.values[codes[i]]
        assert f"({codes[i]})" in tip and f"{100 * value:.1f}%" in tip
        assert "Within a 15-minute walk" in tip
        p.page.screenshot(path=str(SCREENSHOTS / "birmingham_need_layer.png"))
        assert p.errors == [] and p.console == [] and p.dialogs == []
    finally:
        p.close()
