"""The full Birmingham map from the real pipeline (cnmap.coverage on the city-wide walk network
with the 414 warm spaces, ward profiles, street catchments; IoD2025 on the 659 LSOAs of 2021):
every layer, within 8 MB, and the title panel stating the result's own figures."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cnmap.maps import (
    coverage_figure,
    coverage_map,
    imd_figure,
    layer_names,
    save_figure,
    save_html,
    thin_figure,
)
from cnmap.maps._assets import external_resources
from tests.helpers import fake_results as F

pytestmark = pytest.mark.slow

ARTIFACTS = Path(__file__).parent / "_artifacts" / "maps"


@pytest.fixture(scope="module")
def real(shared_data):
    import cnmap

    cov, cat, profiles = F.real_birmingham(lsoa_vintage=2021, iod=2025)
    return cov, cat, profiles, cnmap.thin_areas(cov)


def test_full_birmingham_map_within_8_mb(real):
    cov, cat, profiles, thin = real
    m = coverage_map(cov, thin=thin, ward_profiles=profiles, catchments=cat)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = save_html(m, ARTIFACTS / "birmingham.html", self_contained=True)
    size = path.stat().st_size
    assert size <= 8_000_000, f"{size / 1e6:.2f} MB"
    html = path.read_text(encoding="utf-8")
    assert external_resources(html) == []
    block = re.search(r"overlays :\s*\{(.*?)\}", html, re.S).group(1)
    names = [json.loads(k) for k in re.findall(r'^\s*("(?:[^"\\]|\\.)*")\s*:', block, re.M)]
    assert names == list(layer_names(15).values())
    pts = json.loads(re.search(r"var pts = (\[.*?\]);\n", html, re.S).group(1))
    assert len(pts) == len(cov.organisations)
    assert len(cov.wards) == 69 and len(cov.lsoas) == 659
    # every thin LSOA's reason is in the page, escaped (as the page writes data: inert_json)
    from cnmap.maps._safe import inert_json
    from cnmap.maps._style import esc

    reasons = thin.lsoas.loc[thin.lsoas["thin"], "reason"].tolist()
    assert reasons
    for r in reasons:
        assert inert_json(esc(r)) in html
    _check_title_panel(html, cov, thin)
    (ARTIFACTS / "birmingham_size.json").write_text(
        json.dumps({"bytes": size, "mb": round(size / 1e6, 3), "organisations": len(pts)}, indent=2)
    )


def _check_title_panel(html: str, cov, thin) -> None:
    """The title panel states this result's figures, data and thin areas."""
    from cnmap.maps._style import inert_html

    assert "<title>Birmingham: who can walk to organisations in 15 minutes</title>" in html
    panel = next(
        json.loads(h)
        for h in re.findall(r"^\s*div\.innerHTML = (.*);$", html, re.M)
        if "cnmap-title" in h
    )
    share = 100 * cov.share_covered(15)
    n = len(cov.organisations)
    assert (
        inert_html(
            f"{share:.1f}% of residents live within a 15-minute walk (1,200 m at "
            f"4.8 km/h) of {n} organisations."
        )
        in panel
    )
    for text in (
        "English Indices of Deprivation 2025",
        "2021 Census neighbourhoods (LSOAs)",
        "mid-2022 population estimates",
        "OpenStreetMap, August 2021",
    ):
        assert inert_html(text) in panel, text
    n_thin = int(thin.lsoas["thin"].sum())
    assert len(re.findall(r"<li data-cnmap-i=", panel)) == n_thin
    # the coverage classes count every area and every resident
    legend = next(
        json.loads(h)
        for h in re.findall(r"^\s*div\.innerHTML = (.*);$", html, re.M)
        if "Residents within a 15-minute walk" in h
    )
    counts = [int(a.replace(",", "")) for a in re.findall(r": ([\d,]+) areas?, ", legend)]
    people = [int(a.replace(",", "")) for a in re.findall(r"areas?, ([\d,]+) residents", legend)]
    assert sum(counts) == len(cov.lsoas)
    assert abs(sum(people) - cov.lsoas["population"].sum()) <= len(people)


def test_report_figures_from_the_real_pipeline(real):
    cov, _, _, thin = real
    figs = {
        "coverage_lsoa": coverage_figure(cov),
        "coverage_ward": coverage_figure(cov, level="ward"),
        "imd": imd_figure(cov),
        "thin": thin_figure(thin, result=cov),
    }
    for name, fig in figs.items():
        png, pdf = save_figure(fig, ARTIFACTS / f"birmingham_{name}")
        assert png.stat().st_size > 50_000 and pdf.stat().st_size > 10_000
