"""Template injection into the coverage map (issue 8, section 1).

Texts that look like Jinja2 (tests/fixtures/hostile_map/template_texts.json) are put into
every text that reaches the map: organisation name, type, address, opening hours, services,
popup labels, LSOA and ward names, thin reasons and layer names. The rendered page is read
back the way the browser reads it (the script payloads decoded as JSON, their HTML fragments
parsed) and every text must be shown exactly as written: nothing evaluated ("Maths 49 Club"),
no TemplateSyntaxError, no file created by a payload, and no Jinja2 delimiter left anywhere in
the page. Then the same in headless Chromium, and through ``cnmap run`` on a copy of the
hand-made Warrington mirror whose boundary names are hostile.

The maps are built from tests/helpers/fake_results.py cut to three Birmingham wards.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import re
import shutil
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest

from cnmap.maps import coverage_map, save_html
from cnmap.maps import interactive as I
from tests.helpers import fake_results as F

FIXTURES = Path(__file__).parent / "fixtures"
CASES = json.loads((FIXTURES / "hostile_map" / "template_texts.json").read_text("utf-8"))
TEXTS: list[str] = [c["text"] for c in CASES]
IDS = [f"text{i:02d}" for i in range(len(TEXTS))]
STARTS = ("{{", "{%", "{#")  # Jinja2 expression, statement and comment openings
ORG_FIELDS = {
    "type": "Type",
    "services": "Services",
    "address": "Address",
    "opening_hours": "Opening hours",
}


def file_payload(target: Path) -> str:
    """Jinja2 that runs ``touch target`` when evaluated (built without quotes, which the
    page's JSON would escape)."""
    chars = "~".join(f"lipsum.__globals__.__builtins__.chr({ord(c)})" for c in f"touch {target}")
    return "{{ lipsum.__globals__.os.popen(" + chars + ").read() }}"


# --------------------------------------------------------------------------------------
# reading a rendered page as the browser does
# --------------------------------------------------------------------------------------


class _Shown(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self.tags.append(tag)
        if tag == "br":
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def shown(fragment: str) -> str:
    """The text a browser shows for an HTML fragment (character references decoded)."""
    p = _Shown()
    p.feed(fragment)
    p.close()
    return "".join(p.parts)


def tags(fragment: str) -> list[str]:
    p = _Shown()
    p.feed(fragment)
    p.close()
    return p.tags


@dataclass
class MapPage:
    text: str
    shared: dict[str, dict]  # data variable -> FeatureCollection
    areas: dict[str, dict]  # layer name as shown -> {"labels", "rows", "features"}
    points: list[list[Any]]
    point_labels: list[str]
    legends: list[str]  # as shown
    overlays: list[str]  # layer control names as shown

    def texts(self) -> list[str]:
        """Every data text the page can show."""
        out = [shown(p[3]) for p in self.points]
        out += [shown(v) for p in self.points for v in p[4] if v]
        out += [shown(x) for x in self.point_labels] + self.legends + self.overlays
        for fc in self.shared.values():
            for f in fc["features"]:
                out += [shown(f["properties"]["t"]), f["properties"].get("name", "")]
        for a in self.areas.values():
            out += [shown(v) for r in a["rows"] for v in r if v]
        return out


def _json_after(pattern: str, text: str) -> Any:
    m = re.search(pattern, text, re.M)
    assert m, f"not in page: {pattern}"
    return json.loads(m.group(1))


def read_page(text: str) -> MapPage:
    shared = {
        m.group(1): json.loads(m.group(2))
        for m in re.finditer(r"^\s*var (cnmap_data_\w+) = (.*);$", text, re.M)
    }
    control = re.search(r"overlays\s*:\s*\{(.*?)\n\s*\},", text, re.S)
    assert control, "no layer control"
    names = {
        var: shown(json.loads(key))
        for key, var in re.findall(r'^\s*(".*") : (\w+),$', control.group(1), re.M)
    }
    areas = {}
    for m in re.finditer(
        r"var (cnmap_area_layer_\w+) = \(function\(\) \{(.*?)return layer;", text, re.S
    ):
        body = m.group(2)
        data = re.search(r"layer\.addData\((cnmap_data_\w+)\);", body)
        assert data
        areas[names[m.group(1)]] = {
            "labels": _json_after(r"^\s*var labels = (.*);$", body),
            "rows": _json_after(r"^\s*var rows = (.*);$", body),
            "features": shared[data.group(1)]["features"],
        }
    legends = [shown(json.loads(h)) for h in re.findall(r"^\s*div\.innerHTML = (.*);$", text, re.M)]
    org = re.search(r"var pts = (.*);\n\s*var colours = .*;\n\s*var labels = (.*);\n", text)
    points, labels = (json.loads(org.group(1)), json.loads(org.group(2))) if org else ([], [])
    return MapPage(text, shared, areas, points, labels, legends, list(names.values()))


def assert_inert(page: MapPage) -> None:
    for mark in STARTS:
        assert mark not in page.text, f"{mark!r} left in the page"
    assert "Maths 49 Club" not in page.text


# --------------------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def base(shared_data):
    cov = F.coverage(shared_data, n_wards=3, evil=False)
    cov.organisations = cov.organisations.astype({c: object for c in ORG_FIELDS})
    return cov


def fresh(cov: Any) -> Any:
    """A copy whose frames can be changed."""
    return dataclasses.replace(
        cov,
        lsoas=cov.lsoas.copy(),
        wards=cov.wards.copy(),
        organisations=cov.organisations.copy(),
        _cache={},
    )


def render(cov: Any, path: Path, *, thin: Any = None, **kwargs: Any) -> MapPage:
    thin = F.thin(cov) if thin is None else thin
    m = coverage_map(cov, thin=thin, tiles=None, catchments=False, **kwargs)
    return read_page(save_html(m, path / "map.html").read_text("utf-8"))


def org_shown(page: MapPage, name: str) -> dict[str, str]:
    """Name and popup rows (label -> text as shown) of the one organisation called ``name``."""
    found = [p for p in page.points if shown(p[3]) == name]
    assert len(found) == 1, [shown(p[3]) for p in page.points][:5]
    p = found[0]
    rows = {shown(lab): shown(v) for lab, v in zip(page.point_labels, p[4], strict=True) if v}
    return {"name": shown(p[3]), **rows}


# --------------------------------------------------------------------------------------
# organisations: name, type, address, opening hours, services (popup, tooltip, legend)
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", TEXTS, ids=IDS)
@pytest.mark.slow
def test_organisation_texts_shown_as_written(base, text, tmp_path):
    cov = fresh(base)
    postcode = cov.organisations.loc[0, "postcode"]
    cov.organisations.loc[0, "name"] = text
    for col in ORG_FIELDS:
        cov.organisations.loc[0, col] = text
    page = render(cov, tmp_path)
    assert_inert(page)
    org = org_shown(page, text)  # popup title and marker tooltip: the same escaped text
    assert org == {
        "name": text,
        **dict.fromkeys(ORG_FIELDS.values(), text),
        **({} if pd.isna(postcode) else {"Postcode": postcode}),
    }
    legend = [t for t in page.legends if t.startswith("Organisations")]
    assert len(legend) == 1 and f"{text} (1)" in legend[0]


# --------------------------------------------------------------------------------------
# boundaries: ward names (tooltip, search), LSOA names (tooltips), thin reasons
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", TEXTS, ids=IDS)
@pytest.mark.slow
def test_boundary_names_shown_as_written(base, text, tmp_path):
    cov = fresh(base)
    code0 = cov.wards.loc[0, "ward_code"]
    cov.wards.loc[0, "ward_name"] = text
    in_ward0 = (cov.lsoas["ward_code"] == code0).to_numpy()
    cov.lsoas.loc[in_ward0, "ward_name"] = text
    cov.lsoas.loc[0, "lsoa_name"] = text
    thin = F.thin(cov)
    thin.wards.loc[thin.wards["ward_code"] == code0, "reason"] = text
    thin.lsoas.loc[in_ward0.argmax(), "thin"] = True  # the thin layer lists one of its LSOAs
    page = render(cov, tmp_path, thin=thin)
    assert_inert(page)

    wards = page.areas["Wards"]
    props = wards["features"][0]["properties"]
    assert shown(props["t"]) == text  # tooltip title
    assert props["name"] == text  # what the ward search lists (written as text)
    assert shown(wards["rows"][0][wards["labels"].index("Why")]) == text

    lsoa_layers = [a for name, a in page.areas.items() if name.endswith("(LSOAs)")]
    assert len(lsoa_layers) == 4
    code = cov.lsoas.loc[0, "lsoa_code"]
    for layer in lsoa_layers:
        assert shown(layer["features"][0]["properties"]["t"]) == f"{text} ({code})"
        k = layer["labels"].index("Ward")
        ward_col = [
            shown(r[k]) for r, own in zip(layer["rows"], in_ward0, strict=True) if own and r
        ]
        assert ward_col and set(ward_col) == {text}


# --------------------------------------------------------------------------------------
# payloads that would create a file; 7*7; layer names
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("where", [*ORG_FIELDS, "name", "ward_name", "lsoa_name", "popup_label"])
@pytest.mark.slow
def test_payload_creates_no_file(base, where, tmp_path):
    target = tmp_path / f"pwned_{where}"
    payload = file_payload(target)
    cov = fresh(base)
    popup = None
    if where in ORG_FIELDS or where == "name":
        cov.organisations.loc[0, where] = payload
    elif where == "ward_name":
        cov.wards.loc[0, "ward_name"] = payload
    elif where == "lsoa_name":
        cov.lsoas.loc[0, "lsoa_name"] = payload
    else:
        popup = {"address": payload, "postcode": "Postcode"}
    page = render(cov, tmp_path, popup_fields=popup)
    assert not target.exists(), "the payload ran"
    assert_inert(page)
    shown_texts = page.texts()
    assert any(
        payload == t or t == f"{payload} ({cov.lsoas.loc[0, 'lsoa_code']})" for t in shown_texts
    )


def test_maths_club_is_not_49(base, tmp_path):
    cov = fresh(base)
    cov.organisations.loc[0, ["name", "type"]] = ["Maths {{7*7}} Club", "Maths {{7*7}} Club"]
    cov.wards.loc[0, "ward_name"] = "Maths {{7*7}} Club"
    page = render(cov, tmp_path)
    texts = page.texts()
    assert not any("Maths 49" in t for t in texts)
    assert texts.count("Maths {{7*7}} Club") >= 3  # marker, ward title, ward search
    assert any("Maths {{7*7}} Club (1)" in t for t in page.legends)


def test_layer_names_shown_as_written(base, tmp_path, monkeypatch):
    real = I.layer_names(15)
    hostile = {k: f"{TEXTS[i]} / {v}" for i, (k, v) in enumerate(real.items())}
    monkeypatch.setattr(I, "layer_names", lambda minutes: hostile)
    page = render(fresh(base), tmp_path)
    assert_inert(page)
    drawn = [hostile[k] for k in I.LAYER_KEYS if k != "catchments"]
    assert page.overlays == drawn
    assert set(page.areas) == set(drawn) - {hostile["organisations"]}


@pytest.mark.parametrize("text", TEXTS, ids=IDS)
@pytest.mark.slow
def test_need_layer_texts_shown_as_written(base, text, tmp_path):
    """A need layer's title (layer control, legend), label (tooltip) and attribution."""
    from cnmap.maps import MapLayer

    codes = base.lsoas["lsoa_code"].tolist()
    values = pd.Series([0.01 * k for k in range(len(codes))], index=codes)
    layer = MapLayer(f"{text} need", values, f"{text} share", attribution=f"{text} (OGL)")
    page = render(fresh(base), tmp_path, need_layers=[layer])
    assert_inert(page)
    assert f"{text} need" in page.overlays
    need = page.areas[f"{text} need"]
    assert shown(need["labels"][0]) == f"{text} share"
    assert shown(need["rows"][1][0]) == "1.0%"
    assert any(x.startswith(f"{text} need") for x in page.legends)
    calls = re.findall(r"addAttribution\((.*)\);", page.text)
    assert f"{text} (OGL)" in [shown(json.loads(c)) for c in calls]


# --------------------------------------------------------------------------------------
# the neutralising functions and the element templates
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", TEXTS, ids=IDS)
def test_inert_json_and_html_give_the_text_back(text):
    from cnmap.maps._safe import inert_html, inert_json

    value = {"name": text, "rows": [[text, None, 1.5]], text: {"k": [text, "#ff7f00"]}}
    out = inert_json(value)
    assert json.loads(out) == value
    for ch in "#%<>&'":
        assert ch not in out
    assert out.count("{") == 2 and out.count("}") == 2  # only the two objects' own braces
    assert not any(mark in out for mark in STARTS)
    h = inert_html(text)
    assert not any(ch in h for ch in "{}<>")
    assert shown(h) == text and tags(h) == []


@pytest.mark.parametrize(
    "source",
    [
        "{{ this.name }}",
        "{{ this.name|safe }}",
        "{{ this.name|e }}",
        "{{ this.name ~ '' }}",
        "{% macro script(this, kwargs) %}var rows = {{ this.p.rows }};{% endmacro %}",
    ],
)
def test_element_templates_refuse_unserialised_output(source):
    from cnmap.maps._safe import UnsafeTemplateError, check_template

    with pytest.raises(UnsafeTemplateError, match="without \\|tojson"):
        check_template(source)


def test_every_cnmap_element_writes_data_with_inert_json():
    from cnmap.maps._safe import check_template, inert_json

    check_template(
        "{% macro script(this, kwargs) %}var {{ this.get_name() }} = "
        "{{ this.p.rows|tojson }};{{ this.css }}{% endmacro %}",
        constants=["css"],
    )
    elements = {k: v for k, v in I._elements().items() if k != "folium"}
    assert len(elements) == 7
    for name, cls in elements.items():
        assert cls._template.environment.filters["tojson"] is inert_json, name


# --------------------------------------------------------------------------------------
# headless Chromium
# --------------------------------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")


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


MAP = "window[document.querySelector('.folium-map').id]"
NEAREST_DOT = """() => {
    const r = document.querySelector('.folium-map').getBoundingClientRect();
    const cx = r.left + r.width / 2, cy = r.top + r.height / 2;
    let best = -1, bestD = Infinity;
    document.querySelectorAll('.cnmap-org').forEach((el, i) => {
        const b = el.getBoundingClientRect();
        const d = (b.left + b.width / 2 - cx) ** 2 + (b.top + b.height / 2 - cy) ** 2;
        if (d < bestD) { bestD = d; best = i; }
    });
    return [best, bestD];
}"""


def _browser_map(base: Any, tmp_path: Path) -> tuple[Path, list[dict[str, str]], Path, list]:
    """Three wards named with hostile texts; one organisation in each, every text hostile."""
    cov = fresh(base)
    target = tmp_path / "pwned_browser"
    texts = [TEXTS[0], TEXTS[1], TEXTS[2]]
    cov.wards["ward_name"] = texts
    for code, text in zip(cov.wards["ward_code"], texts, strict=True):
        cov.lsoas.loc[cov.lsoas["ward_code"] == code, "ward_name"] = text
    rows = [
        {"name": TEXTS[0], "type": TEXTS[8], "address": TEXTS[10], "opening_hours": TEXTS[13]},
        {"name": TEXTS[1], "type": TEXTS[14], "address": TEXTS[11], "opening_hours": TEXTS[4]},
        {
            "name": TEXTS[2],
            "type": TEXTS[6],
            "address": file_payload(target),
            "opening_hours": TEXTS[9],
        },
    ]
    orgs = gpd.GeoDataFrame(
        rows, geometry=list(cov.wards.geometry.representative_point()), crs=cov.wards.crs
    )
    m = coverage_map(cov, organisations=orgs, tiles=None, catchments=False, cluster=False)
    lonlat = [(p.x, p.y) for p in orgs.to_crs(4326).geometry]
    return save_html(m, tmp_path / "hostile.html", self_contained=True), rows, target, lonlat


def _open(browser: Any, path: Path) -> tuple[Any, Any, list[str]]:
    """(context, page, page errors and dialogs) of ``path`` opened with the network off."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, offline=True)
    ctx.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort())
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: (errors.append(d.message), d.dismiss()))
    page.goto(path.as_uri())
    page.wait_for_function("document.querySelectorAll('.cnmap-org').length === 3")
    page.wait_for_timeout(600)  # the opening fitBounds animation ends
    return ctx, page, errors


def _popup_texts(page: Any, lonlat: list[tuple[float, float]]) -> list[str]:
    """Centre each marker (away from the controls), click it and read its popup."""
    popups = []
    for lon, lat in lonlat:
        page.evaluate(f"{MAP}.setView([{lat}, {lon}], 16, {{animate: false}}); 0")
        page.wait_for_function(f"({NEAREST_DOT})()[1] < 100")
        page.locator(".cnmap-org").nth(page.evaluate(NEAREST_DOT)[0]).click()
        content = page.locator(".leaflet-popup-content")
        content.wait_for(timeout=5_000)
        popups.append(content.inner_text())
        assert content.locator("script, img, i").count() == 0
        page.locator(".leaflet-popup-close-button").click()
        page.wait_for_function("document.querySelectorAll('.leaflet-popup').length === 0")
    return popups


def _search_ward(page: Any, typed: str) -> tuple[str, str]:
    """(first suggestion, tooltip of the ward it opens) after typing ``typed`` in the search."""
    page.locator(".leaflet-control-search .search-button").click()
    page.locator(".leaflet-control-search input.search-input").press_sequentially(typed, delay=30)
    found = page.locator(".leaflet-control-search .search-tip").first
    found.wait_for(timeout=5_000)
    suggestion = found.inner_text()
    found.click()
    ward_tip = page.locator(".leaflet-tooltip", has_text="Code").first
    ward_tip.wait_for(timeout=5_000)
    return suggestion, ward_tip.inner_text()


@pytest.mark.browser
def test_chromium_shows_the_literal_texts(browser, base, tmp_path):
    path, rows, target, lonlat = _browser_map(base, tmp_path)
    assert not target.exists()
    ctx, page, errors = _open(browser, path)
    try:
        popups = _popup_texts(page, lonlat)
        for row in rows:  # popup: the name, then one "label<TAB>value" line per field
            popup = [t for t in popups if t.startswith(row["name"] + "\n")]
            assert len(popup) == 1, popups
            for col, label in ORG_FIELDS.items():
                if col in row:
                    assert f"\n{label}\t{row[col]}\n" in popup[0] + "\n", (col, popup[0])
        page.locator(".cnmap-org").nth(page.evaluate(NEAREST_DOT)[0]).hover()  # the last one
        tips = "Array.from(document.querySelectorAll('.leaflet-tooltip')).map(t => t.innerText)"
        page.wait_for_function(f"{tips}.includes({json.dumps(rows[-1]['name'])})")
        legend = "\n".join(page.locator(".cnmap-legend").all_inner_texts())
        for row in rows:
            assert f"{row['type']} (1)" in legend
        suggestion, ward_tip = _search_ward(page, "Smiles")
        assert suggestion == TEXTS[1] and ward_tip.startswith(TEXTS[1] + "\n")
        body = page.locator("body").inner_text()
        assert TEXTS[1] in body  # the ward tooltip opened by the search
        assert not any("Maths 49" in t for t in [body, legend, *popups])
        assert errors == []
        assert not target.exists()
    finally:
        ctx.close()


# --------------------------------------------------------------------------------------
# cnmap run: hostile organisations file and hostile boundary names in a mirror
# --------------------------------------------------------------------------------------

WARD_CODES = ("E05900001", "E05900002", "E05900003")


def _hostile_mirror(tmp_path: Path) -> Path:
    """A copy of the hand-made Warrington mirror with hostile ward, LSOA and LAD names."""
    mirror = tmp_path / "mirror"
    shutil.copytree(FIXTURES / "mirror_other_lad", mirror)
    w = mirror / "warrington"
    wards = json.loads((w / "wards.geojson").read_text())
    for f in wards["features"]:
        f["properties"]["WD24NM"] = TEXTS[WARD_CODES.index(f["properties"]["WD24CD"])]
        f["properties"]["LAD24NM"] = TEXTS[5]
    (w / "wards.geojson").write_text(json.dumps(wards))
    lsoas = json.loads((w / "lsoa2011.geojson").read_text())
    lsoas["features"][0]["properties"]["LSOA11NM"] = TEXTS[3]
    (w / "lsoa2011.geojson").write_text(json.dumps(lsoas))
    look = pd.read_csv(w / "lsoa21_wd24_lad24_lookup.csv", dtype=str)
    look["WD24NM"] = [TEXTS[WARD_CODES.index(c)] for c in look["WD24CD"]]
    look["LAD24NM"] = TEXTS[5]
    look.to_csv(w / "lsoa21_wd24_lad24_lookup.csv", index=False)
    return mirror


@pytest.mark.slow
def test_cnmap_run_with_hostile_names(tmp_path, monkeypatch, shared_data):
    from cnmap.cli import main
    from cnmap.io import normalise_type

    mirror = _hostile_mirror(tmp_path)
    monkeypatch.setenv("CNMAP_DATA_MIRROR", f"{mirror}{os.pathsep}{shared_data}")
    monkeypatch.setenv("CNMAP_CACHE_DIR", str(tmp_path / "cache"))
    target = tmp_path / "pwned_run"
    orgs = [  # inside the 200 m squares of the fixture (EPSG:27700)
        [TEXTS[0], TEXTS[1], TEXTS[2], TEXTS[7], 360100, 387100],
        [file_payload(target), TEXTS[16], TEXTS[12], TEXTS[15], 361100, 387300],
        [TEXTS[10], TEXTS[1], TEXTS[8], TEXTS[13], 362300, 387500],
    ]
    with open(tmp_path / "orgs.csv", "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(
            [["name", "type", "address", "opening_hours", "easting", "northing"], *orgs]
        )
    (tmp_path / "run.toml").write_text(
        # the hand-made Warrington mirror holds IoD2019 on 2011 LSOAs
        "[area]\nlad_code = 'E06000007'\nlsoa_vintage = 2011\niod = 2019\n"
        "[[organisations]]\npath = 'orgs.csv'\n"
        "[coverage]\nminutes = [10, 15]\nmode = 'crow_flies'\ndetour_factor = 1.3\n"
        "[output]\nself_contained = true\n"
    )
    assert main(["run", str(tmp_path / "run.toml"), "--out", str(tmp_path / "out"), "-q"]) == 0
    assert not target.exists()
    (path,) = (tmp_path / "out").glob("*_coverage_map.html")
    page = read_page(path.read_text("utf-8"))
    assert_inert(page)
    for name, typ, address, hours, _, _ in orgs:
        typ = normalise_type(pd.Series([typ]))[0]  # types are read as lower-case tokens
        assert "{" in typ
        assert org_shown(page, name) == {
            "name": name,
            "Type": typ,
            "Address": address,
            "Opening hours": hours,
        }
    wards = page.areas["Wards"]["features"]
    assert sorted(f["properties"]["name"] for f in wards) == sorted(TEXTS[:3])
    assert sorted(shown(f["properties"]["t"]) for f in wards) == sorted(TEXTS[:3])
    titles = [
        shown(f["properties"]["t"])
        for f in page.areas["Residents within 15 min walk (LSOAs)"]["features"]
    ]
    assert sum(t.startswith(TEXTS[3] + " (E01") for t in titles) == 1
    typ = normalise_type(pd.Series([TEXTS[1]]))[0]
    assert any(f"{typ} (2)" in t for t in page.legends)
