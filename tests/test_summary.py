"""cnmap.summary: the one-page summary (HTML and PDF), the limitations of methods.md and no
machine path in it.

The page is checked as text (numbers, escaping, the thin table, limitations, attribution),
printed to PDF by headless Chromium (one A4 page), and screenshot on a desktop (1366x768) and
a phone (390x844) under tests/_artifacts/summary/ to be looked at.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import re
from pathlib import Path

import pandas as pd
import pytest

from cnmap.maps._safe import inert_html
from cnmap.summary import (
    MAX_THIN_ROWS,
    attributions,
    equity_chart_html,
    html_to_pdf,
    limitations,
    methods_limitations,
    organisation_lines,
    start_pdf,
    start_summary,
    summary_facts,
    summary_html,
    thin_rows,
    without_machine_paths,
    write_summary,
)
from cnmap.thin import thin_areas

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(__file__).parent / "_artifacts" / "summary"
CHROMIUM = Path("/usr/bin/chromium")
EVIL = '<script>alert(1)</script> {{7*7}} & "Ward"'


def _export_tests():
    spec = importlib.util.spec_from_file_location(
        "export_fixture", ROOT / "tests" / "test_export.py"
    )
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def small():
    cov, area = _export_tests().small_coverage()
    return cov, thin_areas(cov, minutes=5)


def org_summary(label: str = "Hand list") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "dataset": [label],
            "file": ["/home/officer/lists/hand.csv"],
            "rows": [3],
            "matched": [1],
            "rejected": [2],
            "match_rate": [1 / 3],
            "notes": [""],
        }
    )


def rejected() -> pd.DataFrame:
    return pd.DataFrame(
        {"dataset": ["Hand list", "Hand list"], "reason": ["missing_coordinates", "duplicate"]}
    )


def pdf_pages(path: Path) -> int:
    return len(re.findall(rb"/Type\s*/Page[^s]", path.read_bytes()))


def test_facts_from_the_result(small):
    cov, th = small
    f = summary_facts(cov, th, org_summary=org_summary(), rejected=rejected())
    assert f.place == "Line" and f.minutes == 5 and f.metres == 400
    assert f.population == 600 and f.share == pytest.approx(0.5) and f.pop_out == 300
    assert f.n_thin == 1 and f.n_lsoas == 2 and f.lists == ("Hand list",) and f.n_rejected == 2
    assert f.walk_words == "a 5-minute walk (400 m at 4.8 km/h)"
    assert [d[0] for d in f.deciles] == [1, 10] and f.deciles[0][2] == 0.0
    assert "(IMD decile 2 or lower)" in f.thin_rule and "5 minutes' walk" in f.thin_rule


def test_page_text_numbers_thin_table_limitations_attribution(small):
    cov, th = small
    f = summary_facts(cov, th, org_summary=org_summary())
    rows = thin_rows(th)
    assert [r["lsoa_code"] for r in rows] == ["E01000002"]  # the thin LSOA only
    lims = limitations(cov, th, facts=f)
    page = summary_html(
        f, chart="<p>chart</p>", thin=rows, limitations=lims, attribution=attributions(cov)
    )
    assert page.startswith("<!DOCTYPE html>")
    assert "<title>Line: walking access to community organisations - summary</title>" in page
    assert "<strong>50.0%</strong> of Line's 600 residents live within a 5-minute walk" in page
    body = page.split("<tbody>")[-1]
    assert body.count("<tr>") == len(rows) == 1 and "East" in body and "E01000002" in body
    assert all(f"<li>{inert_html(x)}</li>" in page for x in lims)
    assert "4.8 km/h" in lims[0] and "Hand list" in lims[1]
    assert "Open Database Licence" in page and "Hand-made" not in page  # no attribution given
    assert "<script" not in page and "http" not in page  # nothing fetched


def test_every_name_is_escaped(small):
    cov, th = small
    f = dataclasses.replace(summary_facts(cov, th), place=EVIL, lists=(EVIL,))
    rows = [dict(r, lsoa_name=EVIL, ward=EVIL, reason=EVIL) for r in thin_rows(th)]
    page = summary_html(f, chart="", thin=rows, limitations=[EVIL], attribution=[EVIL])
    assert "<script" not in page and "{{" not in page and "{%" not in page
    assert (
        "&lt;script&gt;alert(1)&lt;/script&gt; &#123;&#123;7*7&#125;&#125; &amp; "
        "&quot;Ward&quot;" in page
    )
    assert page.count("&lt;script&gt;") >= 5  # title, heading, lead, table, limitation...


def test_thin_table_lists_at_most_the_first_and_counts_the_rest(small):
    cov, th = small
    f = dataclasses.replace(summary_facts(cov, th), n_thin=MAX_THIN_ROWS + 5)
    rows = thin_rows(th) * MAX_THIN_ROWS
    page = summary_html(f, chart="", thin=rows, limitations=[], attribution=[])
    assert "… and 5 more thin areas in tables/thin_lsoas.csv." in page
    none = summary_html(
        dataclasses.replace(f, n_thin=0), chart="", thin=[], limitations=[], attribution=[]
    )
    assert "No area meets the rule" in none


def test_methods_limitations_and_organisations_without_machine_paths(small):
    cov, th = small
    lines = methods_limitations(cov, th, org_summary=org_summary(), rejected=rejected())
    assert lines[:3] == ["", "## Limitations", ""]
    assert all(x.startswith("- ") for x in lines[3:-1]) and len(lines) >= 8
    text = "\n".join(lines + organisation_lines(org_summary(), rejected()))
    assert "/home/officer" not in text and "hand.csv" in text
    assert "- Hand list (hand.csv): 3 rows read, 1 placed, 2 rejected (33.3% placed)." in text
    assert "- Hand list: missing coordinates: 1" in text


@pytest.mark.parametrize(
    "given, expected",
    [
        ("read /home/ana/data/orgs.csv today", "read orgs.csv today"),
        ("(/work/shared/data/birmingham/osm/x.geojson)", "(x.geojson)"),
        ("| Warm | /tmp/lists/c.csv |", "| Warm | c.csv |"),
        ("cache ~/.cache/cnmap/data/wards.geojson", "cache wards.geojson"),
        (r"C:\Users\ana\lists\orgs.xlsx and more", "orgs.xlsx and more"),
        ("file:///srv/x/summary.html", "summary.html"),
        ("https://services1.arcgis.com/ESMAR/arcgis/rest/x?f=json", None),
        ("tables/thin_lsoas.csv and organisations/rejected.csv", None),
        ("5/10/15 minutes, 1,200 m", None),
    ],
)
def test_without_machine_paths(given, expected):
    got = without_machine_paths(given)
    assert got == (given if expected is None else expected)


def test_equity_chart_falls_back_to_a_png_then_to_its_own_bars(small, tmp_path):
    cov, _ = small
    svg = equity_chart_html(cov, minutes=5, overall=0.5, draw=False)
    assert svg.startswith('<div class="chart"><svg') and "50%" not in svg[:40]
    assert svg.count("<rect") == 2  # deciles 1 and 10
    (tmp_path / "equity_by_decile.png").write_bytes(b"\x89PNG\r\n\x1a\nfake")
    png = equity_chart_html(cov, minutes=5, overall=0.5, figures_dir=tmp_path, draw=False)
    assert png.startswith('<img class="chart" src="data:image/png;base64,')


def test_no_chromium_no_pdf_but_the_page(small, tmp_path):
    cov, th = small
    got = write_summary(tmp_path, cov, th, chromium=tmp_path / "no-such-browser", draw_chart=False)
    assert got.html.is_file() and got.pdf is None and "Chromium was not found" in got.note
    assert not (tmp_path / "summary.pdf").exists()
    assert html_to_pdf(got.html, tmp_path / "x.pdf", chromium="/nonexistent")[0] is None


def _fake_browser(tmp_path: Path, script: str) -> Path:
    exe = tmp_path / "fake-chromium"
    exe.write_text("#!/bin/sh\n" + script + "\n")
    exe.chmod(0o755)
    return exe


def test_summary_pdf_prints_in_the_background(small, tmp_path):
    # a stand-in browser that takes a moment, then writes the --print-to-pdf file
    exe = _fake_browser(
        tmp_path,
        'sleep 0.5; for a in "$@"; do case "$a" in --print-to-pdf=*) '
        'printf "%%PDF-1.4 fake" > "${a#--print-to-pdf=}";; esac; done',
    )
    cov, th = small
    job = start_summary(tmp_path / "out", cov, th, chromium=exe, draw_chart=False)
    assert job.html.is_file() and job.printing is not None  # the page is there at once
    assert not (tmp_path / "out" / "summary.pdf").exists()  # the PDF is still printing
    got = job.finish()
    assert got.note == "" and got.pdf == (tmp_path / "out" / "summary.pdf").resolve()
    assert got.pdf.read_bytes() == b"%PDF-1.4 fake"
    assert got.paths() == [job.html, got.pdf]


def test_summary_pdf_failures_are_notes_not_errors(small, tmp_path):
    cov, th = small
    failing = _fake_browser(tmp_path, "exit 3")
    got = write_summary(tmp_path / "a", cov, th, chromium=failing, draw_chart=False)
    assert got.pdf is None and got.note == "PDF not written: Chromium exited with code 3"
    slow = start_pdf(
        got.html, tmp_path / "b.pdf", chromium=_fake_browser(tmp_path, "sleep 30"), timeout=0.3
    )
    assert slow.wait() == (None, "PDF not written: Chromium failed (TimeoutExpired)")
    assert slow.process is not None and slow.process.poll() is not None  # killed, not left
    no_pdf = write_summary(tmp_path / "c", cov, th, pdf=False, draw_chart=False)
    assert no_pdf.pdf is None and no_pdf.note == "PDF not asked for"


def _screenshots(html: Path, name: str) -> dict[str, int]:
    sync_api = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    widths = {}
    args = [
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=args)
        for device, (w, h) in {"desktop": (1366, 768), "phone": (390, 844)}.items():
            ctx = browser.new_context(viewport={"width": w, "height": h}, offline=True)
            page = ctx.new_page()
            errors: list[str] = []

            def record(exc: object, sink: list[str] = errors) -> None:
                sink.append(str(exc))

            page.on("pageerror", record)
            page.goto(html.resolve().as_uri())
            page.screenshot(path=str(ARTIFACTS / f"{name}_{device}.png"), full_page=True)
            widths[device] = page.evaluate("document.documentElement.scrollWidth")
            assert page.title().endswith("walking access to community organisations - summary")
            assert not errors
            ctx.close()
        browser.close()
    return widths


@pytest.mark.browser
def test_pdf_is_one_page_and_screenshots(small, tmp_path):
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium not installed")
    cov, th = small
    got = write_summary(tmp_path, cov, th, org_summary=org_summary(), rejected=rejected())
    assert got.note == "" and got.pdf == tmp_path / "summary.pdf"
    assert got.pdf.read_bytes().startswith(b"%PDF") and pdf_pages(got.pdf) == 1
    widths = _screenshots(got.html, "small")
    assert widths["phone"] <= 390 and widths["desktop"] <= 1366  # nothing cut off or sideways


@pytest.mark.slow
@pytest.mark.browser
def test_birmingham_summary(shared_data, tmp_path):
    import cnmap
    from cnmap.coverage import coverage
    from cnmap.network import read_walk_network

    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium not installed")
    area = cnmap.load_area("E08000025", lsoa_vintage=2011, iod=2019)
    read = cnmap.read_organisations(
        shared_data / "birmingham/osm/warm_spaces_birmingham.geojson", area=area
    )
    net = read_walk_network(shared_data / "birmingham/osm/birmingham_walk_osm_2021-08.gpkg")
    cov = coverage(read.organisations, area, network=net, minutes=[5, 10, 15, 20])
    th = thin_areas(cov)
    lists = pd.DataFrame(
        {
            "dataset": ["Warm spaces"],
            "file": ["warm.geojson"],
            "rows": [414],
            "matched": [405],
            "rejected": [9],
            "match_rate": [405 / 414],
        }
    )
    got = write_summary(tmp_path, cov, th, org_summary=lists, rejected=read.rejected)
    page = got.html.read_text(encoding="utf-8")
    share = cov.share_covered(15)
    assert f"<strong>{100 * share:.1f}%</strong> of Birmingham's 1,112,305 residents" in page
    n_thin = int(th.lsoas["thin"].sum())
    table = page.split('<table class="thin">')[1].split("</table>")[0]
    assert table.count("<tr>") == 1 + min(n_thin, MAX_THIN_ROWS)  # header + thin areas
    first = th.lsoas.loc[th.lsoas["thin"]].sort_values("rank").iloc[0]
    assert (
        str(first["lsoa_code"]) in table and str(first["ward_name"]).replace("&", "&amp;") in table
    )
    assert "organisations lie more than 1 km from their own address postcode" in page
    assert "Open Government Licence" in page and "OpenStreetMap contributors" in page
    assert got.pdf is not None and pdf_pages(got.pdf) == 1
    widths = _screenshots(got.html, "birmingham")
    assert widths["phone"] <= 390
