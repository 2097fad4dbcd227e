"""The documentation: what goes into the site, and a full Sphinx build with warnings as errors.

The fast tests check the page and module lists of ``docs/conf.py``; the slow test runs
``scripts/build_docs.sh`` (``sphinx-build -W --keep-going``) into a temporary folder and checks
that it succeeds with no warning and that the key pages carry their key content.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
GUIDE_PAGES = ["index", "quickstart", "walk", "residents", "iod", "thin", "data-licences"]


def _conf():
    spec = importlib.util.spec_from_file_location("cnmap_docs_conf", DOCS / "conf.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def conf():
    return _conf()


# ---------------------------------------------------------------------------------------------
# fast: what goes into the site


@pytest.mark.slow
def test_every_topic_page_is_in_the_site(conf) -> None:
    pages = {p.stem for p in DOCS.glob("*.md")} - {"index", "api"}
    listed = conf.topic_pages()
    assert set(listed) == pages
    assert len(listed) == len(set(listed))
    assert {"data", "coverage"} <= set(listed)
    if "benchmarks" in listed:
        assert listed[-1] == "benchmarks"
    # the known topics keep their order
    known = [p for p in conf.TOPIC_ORDER if p in pages]
    assert listed[: len(known)] == known


def test_every_public_module_is_in_the_api_page(conf) -> None:
    mods = [m for m, _ in conf.api_modules()]
    assert len(mods) == len(set(mods))
    assert mods[0] == "cnmap"
    for name in conf.discovered_modules():
        assert name in mods, f"{name} is missing from the API page"
    for must in (
        "cnmap.data",
        "cnmap.io",
        "cnmap.coverage",
        "cnmap.residents",
        "cnmap.deprivation",
        "cnmap.network",
        "cnmap.errors",
    ):
        assert must in mods


def test_module_exists_rejects_missing_and_namespace_only(
    conf, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert conf.module_exists("cnmap.coverage")
    assert not conf.module_exists("cnmap.no_such_module")
    (tmp_path / "nsonly_pkg_for_docs").mkdir()  # a folder without __init__.py
    monkeypatch.syspath_prepend(str(tmp_path))
    assert not conf.module_exists("nsonly_pkg_for_docs")


def test_every_notebook_is_in_the_site(conf) -> None:
    notebooks = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert notebooks, "no notebook in notebooks/"
    assert conf.notebook_pages() == [f"notebooks/{n}" for n in notebooks]
    assert (DOCS / "notebooks").resolve() == (ROOT / "notebooks").resolve()


def test_placeholders_are_filled(conf) -> None:
    source = [(DOCS / "index.md").read_text(encoding="utf-8")]
    conf._on_source_read(None, "index", source)
    text = source[0]
    assert "<!-- cnmap:" not in text
    for page in conf.topic_pages():
        assert re.search(rf"^{re.escape(page)}$", text, re.M)
    assert "notebooks/01_birmingham_data" in text
    api = [(DOCS / "api.md").read_text(encoding="utf-8")]
    conf._on_source_read(None, "api", api)
    assert ".. automodule:: cnmap.coverage" in api[0]
    assert "{py:func}`cnmap.read_organisations <cnmap.io.read_organisations>`" in api[0]


def test_guide_toctree_lists_every_guide_page() -> None:
    pages = {p.stem for p in (DOCS / "guide").glob("*.md")}
    assert set(GUIDE_PAGES) <= pages
    index = (DOCS / "guide" / "index.md").read_text(encoding="utf-8")
    for page in pages - {"index"}:
        assert re.search(rf"^{re.escape(page)}$", index, re.M), f"guide/{page} not in toctree"


def test_guide_states_the_data_caveats_and_attributions() -> None:
    text = (DOCS / "guide" / "data-licences.md").read_text(encoding="utf-8")
    for phrase in [
        "only three score columns",
        "mid-2015",
        "Derived LSOA 2011 → ward best fit",
        "Postcode centroids",
        "licence unstated, 2022–2026 vintage",
        "August 2021",
        "synthetic",
        "Open Government Licence v3.0",
        "Contains OS data © Crown copyright and database right",
        "Contains public sector information licensed under the Open Government Licence v3.0",
        "Contains Royal Mail data © Royal Mail copyright and database right",
        "© OpenStreetMap contributors",
        "Open Database Licence",
    ]:
        assert phrase in text, phrase


def test_coverage_page_documents_every_result_column() -> None:
    """Each column that coverage() writes is named in docs/coverage.md (as a pattern)."""
    text = (DOCS / "coverage.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"`([A-Za-z_{}0-9]+)`", text))

    def pattern(col: str) -> str:
        col = re.sub(r"_(5|10|15|20)min", "_{T}min", col)
        return re.sub(r"_\{T\}min_[a-z_]+$", "_{T}min_{type}", col)

    produced = {
        "lsoas/wards/deciles": [
            "population",
            "pop_unplaced",
            "pop_covered_15min",
            "share_covered_15min",
            "mean_reachable_15min",
            "mean_walk_min",
            "median_walk_min",
            "share_covered_15min_food",
            "mean_reachable_15min_food",
            "mean_walk_min_{type}",
            "imd_decile",
            "n_lsoas",
        ],
        "totals": [
            "minutes",
            "metres",
            "population",
            "pop_covered",
            "share_covered",
            "mean_walk_min",
        ],
        "organisations": ["snap_distance_m", "snapped", "type_slug"],
        "residents": [
            "lsoa_code",
            "ward_code",
            "weight",
            "placed",
            "walk_m",
            "walk_min",
            "n_reachable_15min",
            "covered_15min",
            "covered_15min_food",
            "n_reachable_15min_food",
            "walk_min_{type}",
        ],
        "quality": ["what", "id", "detail"],
    }
    for table, cols in produced.items():
        for col in cols:
            assert pattern(col) in documented, f"{table}: {col} ({pattern(col)}) undocumented"


@pytest.mark.slow
def test_coverage_page_matches_the_code(shared_data: Path) -> None:
    """Run coverage on a small real case and check every column it returns is documented."""
    import cnmap
    from cnmap.coverage import coverage

    area = cnmap.load_area("E08000025", lsoa_vintage=2011, iod=2019)
    orgs = cnmap.read_organisations(
        shared_data / "birmingham" / "seed_organisations.csv", area=area
    )
    res = coverage(orgs, area, minutes=[15], mode="crow_flies", detour_factor=1.4)
    text = (DOCS / "coverage.md").read_text(encoding="utf-8")
    types = res.types
    assert types

    def generic(col: str) -> str:
        for t in types:
            col = re.sub(rf"_{re.escape(t)}$", "_{type}", col)
        return col.replace("_15min", "_{T}min")

    base = set(area.lsoas.columns) | {"geometry"}
    frames = {
        "lsoas": [c for c in res.lsoas.columns if c not in base],
        "wards": [c for c in res.wards.columns if c not in {"ward_code", "ward_name", "geometry"}],
        "deciles": list(res.deciles.columns),
        "totals": list(res.totals.columns),
        "organisations": ["snap_distance_m", "snapped", "type_slug"],
        "residents": [c for c in res.residents.columns if c != "geometry"],
        "quality": list(res.quality.columns),
    }
    for name, cols in frames.items():
        for col in cols:
            assert f"`{generic(col)}`" in text, f"{name}.{col} is not documented"
    for key in res.params:
        assert f"`{key}`" in text, f"params[{key!r}] is not documented"


# ---------------------------------------------------------------------------------------------
# slow: the full build


@pytest.mark.slow
def test_docs_build_without_warnings(tmp_path: Path) -> None:
    if shutil.which("bash") is None:
        pytest.skip("bash is needed to run scripts/build_docs.sh")
    pytest.importorskip("sphinx")
    pytest.importorskip("myst_nb")
    pytest.importorskip("numpydoc")
    out = tmp_path / "html"
    warnings = tmp_path / "warnings.txt"
    env = dict(os.environ, DOCS_OUT=str(out), DOCS_WARNINGS=str(warnings))
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "build_docs.sh")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    log = warnings.read_text(encoding="utf-8") if warnings.exists() else ""
    assert proc.returncode == 0, f"docs build failed:\n{log or proc.stderr[-5000:]}"
    assert log.strip() == "", f"docs build warnings:\n{log}"

    def page(rel: str) -> str:
        path = out / rel
        assert path.is_file(), f"{rel} was not built"
        return path.read_text(encoding="utf-8")

    index = page("index.html")
    for rel in ("guide/index.html", "api.html", "coverage.html", "data.html"):
        assert f'href="{rel}"' in index, f"index does not link {rel}"
    for name in GUIDE_PAGES:
        page(f"guide/{name}.html")
    for md in DOCS.glob("*.md"):
        page(f"{md.stem}.html")

    api = page("api.html")
    conf = _conf()
    for module, _ in conf.api_modules():
        assert f'id="module-{module}"' in api, f"{module} missing from the API page"
    for obj in (
        "cnmap.io.read_organisations",
        "cnmap.io.OrganisationTable",
        "cnmap.data.load_area",
        "cnmap.deprivation.summarise",
        "cnmap.deprivation.ward_profiles",
        "cnmap.coverage.coverage",
        "cnmap.coverage.CoverageResult",
        "cnmap.residents.residential_points",
        "cnmap.network.read_walk_network",
        "cnmap.errors.ValidationError",
    ):
        assert f'id="{obj}"' in api, f"{obj} missing from the API page"
    # top-level names link to where they are documented
    assert 'href="#cnmap.io.read_organisations"' in api

    cov = page("coverage.html")
    for phrase in (
        "share_covered_{T}min",
        "mean_walk_min",
        "pop_unplaced",
        "4.8 km/h",
        "1,200 m",
        "crow_flies",
        "detour",
        "access distance",
    ):
        assert phrase in cov, phrase

    licences = page("guide/data-licences.html")
    for phrase in (
        "Open Government Licence v3.0",
        "© OpenStreetMap contributors",
        "Contains OS data © Crown copyright and database right",
        "mid-2015",
        "synthetic",
        "August 2021",
    ):
        assert phrase in licences, phrase

    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        html = page(f"notebooks/{nb.stem}.html")
        assert "<img" in html or "<table" in html, f"{nb.name} rendered without outputs"
    nb1 = page("notebooks/01_birmingham_data.html")
    assert "missing_coordinates" in nb1 and "File 10" in nb1 and "<img" in nb1


# ---------------------------------------------------------------------------------------------
# slow: the Birmingham figures quoted in the pages are the ones the code gives


@pytest.mark.slow
def test_figures_quoted_in_the_docs(shared_data: Path) -> None:
    import cnmap
    from cnmap.coverage import coverage
    from cnmap.network import read_walk_network
    from cnmap.thin import thin_areas

    area = cnmap.load_area("E08000025", lsoa_vintage=2011, iod=2019)
    warm = cnmap.read_organisations(
        shared_data / "birmingham" / "osm" / "warm_spaces_birmingham.geojson", area=area
    )
    net = read_walk_network(shared_data / "birmingham" / "osm" / "birmingham_walk_osm_2021-08.gpkg")
    cov_md = (DOCS / "coverage.md").read_text(encoding="utf-8")
    walk_md = (DOCS / "guide" / "walk.md").read_text(encoding="utf-8")
    res_md = (DOCS / "guide" / "residents.md").read_text(encoding="utf-8")
    thin_md = (DOCS / "guide" / "thin.md").read_text(encoding="utf-8")

    res = coverage(warm, area, minutes=[10, 15, 20], network=net)
    assert int(res.organisations["snapped"].sum()) == 405 and "405 placed" in cov_md
    pct15 = f"{res.share_covered(15):.1%}"
    assert pct15 == "91.8%"
    assert pct15 in cov_md and pct15 in walk_md
    assert f"{res.params['n_residential_points']:,}" == "35,025"
    assert "35,025" in cov_md and "35,025" in res_md

    older = coverage(warm, area, minutes=15, network=net, persona="older")
    assert f"{older.share_covered(15):.1%}" == "72.4%"
    assert "72.4%" in cov_md and "72.4%" in walk_md

    crow = coverage(warm, area, minutes=15, network=net, mode="crow_flies")
    cal = crow.params["detour_calibration"]
    assert f"{cal['median']:.2f}" == "1.41" and "1.41" in cov_md and "1.41" in walk_md
    assert f"{cal['p25']:.2f}–{cal['p75']:.2f}" in cov_md
    assert f"{int(cal['n']):,} pairs" in cov_md
    assert f"{crow.share_covered(15):.1%}" in cov_md

    def row(t):  # noqa: ANN001, ANN202
        lt = t.lsoas
        thin = lt["thin"].to_numpy(bool)
        return int(thin.sum()), f"{lt.loc[thin, 'deprived_pop_out_of_reach'].sum():,.0f}"

    assert row(thin_areas(res)) == (7, "9,830")
    assert row(thin_areas(res, min_share_covered=0.9)) == (30, "19,403")
    assert row(thin_areas(res, minutes=10)) == (50, "65,528")
    for text in ("| 7 | 9,830 |", "| 30 | 19,403 |", "| 50 | 65,528 |"):
        assert text in thin_md, text
