"""Any English district end to end, offline from the data mirror (``../shared/data``).

- Rutland (``configs/rutland.toml``): rural, IoD2025, Census 2021 population, Code-Point Open
  postcodes, public libraries and GP practices from the national lists placed by postcode, on
  the walk network built from the OpenStreetMap extract for the county plus a buffer;
- Solihull (``configs/solihull.toml``): straight-line mode with a detour factor calibrated on
  Birmingham's network where it covers western Solihull; the same district in network mode on
  that network is warned about (9.5 % of residents unplaced) and, with a 100 m snapping limit,
  refused;
- the detour calibration as a pure function and on a hand-made street grid;
- Birmingham on the IoD2019 and 2011 LSOAs (``configs/birmingham_iod2019.toml``): the figures
  of before the IoD2025 default, unchanged;
- ``docs/your_council.md``: its steps, performed as written.
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import shapely

from cnmap.calibrate import (
    DetourCalibration,
    calibrate_detour,
    calibrate_on_network,
    covered_part,
    detour_pairs,
    network_extent,
)
from cnmap.cli import main
from cnmap.errors import ValidationError

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"


def _run(config: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["run", str(config), "--out", str(out), "-q"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def line_has(text: str, *phrases: str) -> bool:
    """Every phrase is in ``text``, which is one line."""
    assert "\n" not in text.strip(), text
    missing = [p for p in phrases if p not in text]
    assert not missing, (missing, text)
    return True


def _params(out: Path) -> dict[str, Any]:
    return json.loads((out / "run.json").read_text(encoding="utf-8"))


def _share(out: Path, minutes: int) -> float:
    """The share of residents within ``minutes`` (run.json's totals)."""
    rows = [r for r in _params(out)["totals"] if r["minutes"] == minutes]
    assert len(rows) == 1
    return float(rows[0]["share_covered"])


# ---------------------------------------------------------------------------------------------
# the detour factor: a pure function of the pairs' distances


def test_calibrate_detour_is_the_median_ratio_of_usable_pairs() -> None:
    walk = [130.0, 150.0, 120.0, 200.0, 90.0, np.nan, np.inf, 300.0]
    line = [100.0, 100.0, 100.0, 100.0, 60.0, 100.0, 100.0, 250.0]
    cal = calibrate_detour(walk, line, min_straight_m=100.0, min_pairs=3)
    # kept: 1.3, 1.5, 1.2, 2.0, 1.2 (the 60 m pair, the NaN and the unreached one are left out)
    assert isinstance(cal, DetourCalibration) and cal.n_pairs == 5
    assert cal.factor == pytest.approx(1.3)
    assert cal.mean == pytest.approx((1.3 + 1.5 + 1.2 + 2.0 + 1.2) / 5)
    assert (cal.p25, cal.p75) == (pytest.approx(1.2), pytest.approx(1.5))
    assert cal.to_dict()["factor"] == pytest.approx(1.3)
    assert calibrate_detour(walk, line, min_straight_m=50.0, min_pairs=3).n_pairs == 6


@pytest.mark.parametrize(
    "walk, line, phrase",
    [
        ([100.0, 120.0], [100.0], "2 walking distances for 1 straight-line"),
        ([90.0, 150.0, 150.0], [100.0, 100.0, 100.0], "shorter than its straight-line distance"),
        ([150.0, 150.0], [100.0, 100.0], "only 2 resident-organisation pairs"),
    ],
)
def test_calibrate_detour_refuses_what_cannot_be_a_factor(
    walk: list[float], line: list[float], phrase: str
) -> None:
    with pytest.raises(ValidationError, match=re.escape(phrase)):
        calibrate_detour(walk, line, min_pairs=3)


def _grid() -> Any:
    from tests.helpers.lattice import lattice_network

    return lattice_network(21, 100.0)  # a 2 km x 2 km street grid from (400000, 280000)


def test_covered_part_is_the_district_inside_the_network_away_from_its_edge() -> None:
    net = _grid()
    extent = network_extent(net)
    assert extent.contains(shapely.Point(401000, 281000))
    assert not extent.contains(shapely.Point(404000, 281000))
    district = shapely.box(399000, 279000, 405000, 283000)  # twice as wide as the grid
    part = covered_part(district, net, margin_m=500.0)
    assert part.contains(shapely.Point(401000, 281000))
    assert not part.contains(shapely.Point(400200, 281000))  # within 500 m of the edge
    assert not part.contains(shapely.Point(403000, 281000))  # no streets there
    assert 0 < part.area < 0.25 * district.area


def test_detour_pairs_on_a_grid_are_manhattan_over_euclid() -> None:
    import geopandas as gpd

    net = _grid()
    xs, ys = np.meshgrid(np.arange(400500, 401600, 100.0), np.arange(280500, 281600, 100.0))
    residents = gpd.GeoSeries(gpd.points_from_xy(xs.ravel(), ys.ravel()), crs="EPSG:27700")
    org = gpd.GeoSeries(gpd.points_from_xy([401000.0], [281000.0]), crs="EPSG:27700")
    covered = shapely.box(400400, 280400, 401700, 281700)
    walk, line, n_res, n_org = detour_pairs(net, residents, org, covered, max_snap_m=50.0)
    assert (n_res, n_org) == (121, 1)
    dx = np.abs(xs.ravel() - 401000.0)
    dy = np.abs(ys.ravel() - 281000.0)
    np.testing.assert_allclose(walk, dx + dy, atol=1e-6)  # along the streets of the grid
    np.testing.assert_allclose(line, np.hypot(dx, dy), atol=1e-6)
    cal = calibrate_on_network(
        net,
        residents,
        org,
        shapely.box(399000, 279000, 403000, 283000),
        max_snap_m=50.0,
        margin_m=0.0,
        network_name="grid",
    )
    far = np.hypot(dx, dy) >= 100.0
    assert cal.factor == pytest.approx(np.median((dx + dy)[far] / np.hypot(dx, dy)[far]))
    assert cal.n_pairs == int(far.sum()) and cal.network == "grid"
    assert "median ratio" in cal.method and "(grid)" in cal.method


def test_a_network_that_misses_the_district_cannot_calibrate() -> None:
    import geopandas as gpd

    pts = gpd.GeoSeries(gpd.points_from_xy([410000.0], [290000.0]), crs="EPSG:27700")
    with pytest.raises(ValidationError, match="does not cover any of the district"):
        calibrate_on_network(
            _grid(), pts, pts, shapely.box(409000, 289000, 411000, 291000), max_snap_m=500.0
        )


# ---------------------------------------------------------------------------------------------
# Rutland: rural, on its own walk network, national lists placed by postcode


@pytest.fixture(scope="module")
def rutland(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("rutland")
    code = main(["run", str(CONFIGS / "rutland.toml"), "--out", str(out), "-q"])
    return {"code": code, "out": out}


@pytest.mark.slow
def test_rutland_runs_end_to_end(rutland: dict[str, Any]) -> None:
    assert rutland["code"] == 0
    out = rutland["out"]
    assert (out / "rutland_coverage_map.html").stat().st_size > 10_000
    assert (out / "figures" / "coverage_lsoas.png").is_file()
    assert (out / "tables" / "cnmap_rutland.xlsx").is_file()


@pytest.mark.slow
def test_rutland_figures(rutland: dict[str, Any]) -> None:
    out = rutland["out"]
    read = pd.read_csv(out / "organisations" / "organisations_read.csv").set_index("dataset")
    # the national lists: 2,564 libraries, 14,357 GP practice rows (no header row)
    assert read.loc["Public libraries", ["file_rows", "rows", "matched", "rejected"]].tolist() == [
        2564,
        4,
        4,
        0,
    ]
    assert read.loc["GP practices", ["file_rows", "rows", "matched", "rejected"]].tolist() == [
        14357,
        4,
        4,
        0,
    ]
    assert "kept 6,830 of 14,357 rows by keep" in read.loc["GP practices", "notes"]
    orgs = pd.read_csv(out / "tables" / "organisations.csv")
    assert {"OAKHAM MEDICAL PRACTICE", "THE UPPINGHAM SURGERY", "Oakham", "Ketton"} <= set(
        orgs["name"]
    )
    params = _params(out)["params"]
    assert params["population"] == pytest.approx(41_056)
    assert params["n_residential_points"] == 1279
    assert _share(out, 15) == pytest.approx(0.431, abs=5e-4)
    assert _share(out, 10) == pytest.approx(0.298, abs=5e-4)
    assert _share(out, 20) == pytest.approx(0.499, abs=5e-4)
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert (
        "8 organisations placed, none rejected; 43.1% of 41,056 residents within 15 "
        "minutes' walk" in readme
    )


@pytest.mark.slow
def test_rutland_records_its_data_and_network(rutland: dict[str, Any]) -> None:
    run = _params(rutland["out"])
    area = run["area"]
    assert (area["iod"], area["lsoa_vintage"], area["population"]) == (2025, 2021, "census2021")
    assert area["postcodes"] == "codepoint_open"
    assert (area["lsoa_dataset"], area["wards_dataset"]) == ("lsoa2021", "wards")  # 20 m BGC
    guard = run["snap_coverage"]
    assert guard["status"] == "ok" and guard["n_unplaced"] == 0 and guard["n_points"] == 1279
    assert (
        "built from OpenStreetMap (rutland-latest_geofabrik_2018-02.osm.pbf) for E06000017 "
        "plus 2,500 m" == run["params"]["network_name"]
    )
    methods = (rutland["out"] / "methods.md").read_text(encoding="utf-8")
    assert "population source: census2021: Census 2021 RM121 usual residents" in methods
    assert "Network coverage check: 0.0% of residents" in methods
    assert "© OpenStreetMap contributors, ODbL 1.0" in methods
    parameters = pd.read_csv(rutland["out"] / "tables" / "parameters.csv")
    values = dict(zip(parameters["parameter"], parameters["value"], strict=True))
    assert values["coverage.area.population"] == "census2021"
    assert values["coverage.snap_coverage.status"] == "ok"


# ---------------------------------------------------------------------------------------------
# Solihull: straight lines x a factor calibrated where Birmingham's network covers it


@pytest.fixture(scope="module")
def solihull(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("solihull")
    code = main(["run", str(CONFIGS / "solihull.toml"), "--out", str(out), "-q"])
    return {"code": code, "out": out}


@pytest.mark.slow
def test_solihull_straight_line_run(solihull: dict[str, Any]) -> None:
    assert solihull["code"] == 0
    out = solihull["out"]
    params = _params(out)["params"]
    assert params["mode"] == "crow_flies" and params["network"]["n_nodes"] == 108_032
    assert params["population"] == pytest.approx(217_784)  # IoD2025 mid-2022 denominators
    assert _share(out, 15) == pytest.approx(0.617, abs=5e-4)
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert "a detour factor of 1.399 calibrated on Birmingham's network" in readme
    assert "33 libraries and GP practices placed, 1 rejected" in readme
    assert "61.7% of 217,784 residents within 15 minutes" in readme
    read = pd.read_csv(out / "organisations" / "organisations_read.csv").set_index("dataset")
    assert read.loc["Public libraries", ["rows", "matched", "rejected"]].tolist() == [13, 13, 0]
    assert read.loc["GP practices", ["rows", "matched", "rejected"]].tolist() == [21, 20, 1]
    rejected = pd.read_csv(out / "organisations" / "rejected_organisations.csv")
    assert rejected["reason"].tolist() == ["outside_area"]  # 102 m outside the 200 m wards


@pytest.mark.slow
def test_solihull_detour_factor_is_calibrated_recorded_and_labelled(
    solihull: dict[str, Any],
) -> None:
    out = solihull["out"]
    cal = _params(out)["params"]["detour_calibration"]
    assert cal["factor"] == pytest.approx(1.399, abs=5e-4)
    assert cal["n_pairs"] == 3429 and cal["n_organisations"] == 22
    assert cal["covered_share"] == pytest.approx(0.41, abs=0.005)
    assert _params(out)["params"]["detour_factor"] == cal["factor"]
    # the configuration's comment gives the factor this run obtains
    comment = (CONFIGS / "solihull.toml").read_text(encoding="utf-8")
    assert f"detour factor {cal['factor']:.3f} (median of {cal['n_pairs']:,} pairs" in comment
    methods = (out / "methods.md").read_text(encoding="utf-8")
    assert methods.splitlines()[0].endswith("— straight-line (crow-flies) estimate")
    assert "Walking (**straight-line mode**)" in methods
    assert f"Detour factor {cal['factor']:.3f}: median ratio of walking distance" in methods
    parameters = pd.read_csv(out / "tables" / "parameters.csv")
    values = dict(zip(parameters["parameter"], parameters["value"], strict=True))
    assert values["coverage.distance"].startswith("straight-line (crow-flies) distance")
    assert values["coverage.detour_source"].startswith("calibrated: median ratio")


def _solihull_on_the_network(tmp_path: Path, extra: str = "") -> Path:
    text = (CONFIGS / "solihull.toml").read_text(encoding="utf-8")
    text = text.replace('mode = "crow_flies"', f'mode = "network"{extra}')
    assert 'mode = "network"' in text
    p = tmp_path / "solihull_network.toml"
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.slow
def test_solihull_on_a_network_that_misses_most_of_it_is_refused(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _solihull_on_the_network(tmp_path, "\nmax_snap_m = 100")
    code, out, err = _run(config, tmp_path / "o", capsys)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cnmap: error: ")
    assert line_has(
        err,
        "solihull_network.toml: ",
        "% of residents (",
        "farther than 100 m",
        "more than 10%: the walk network does not cover the area",
    )
    # the remedies, in the library's terms and in the configuration's
    assert line_has(
        err,
        "walk_network_for_district",
        '[network] build = "district" builds Solihull\'s network',
        '[coverage] mode = "crow_flies"',
    )
    assert "Traceback" not in err and not (tmp_path / "o" / "run.json").exists()


@pytest.mark.slow
def test_solihull_on_birminghams_network_warns(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(_solihull_on_the_network(tmp_path), tmp_path / "o", capsys)
    assert code == 0, err
    guard = _params(tmp_path / "o")["snap_coverage"]
    assert guard["status"] == "warn" and 0.01 < guard["share_unplaced"] < 0.10
    share = f"{guard['share_unplaced']:.1%}"
    assert f"cnmap: warning: {share} of residents" in err
    assert f"network check: {share} of residents" in out
    assert err.count(f"{share} of residents") == 1  # not logged a second time
    methods = (tmp_path / "o" / "methods.md").read_text(encoding="utf-8")
    assert f"Network coverage check: {share} of residents" in methods and "(warn;" in methods
    assert share == "9.5%"  # IoD2025 mid-2022 residents on Code-Point Open postcodes
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert f"{share} of Solihull's residents cannot be placed" in readme


# ---------------------------------------------------------------------------------------------
# Birmingham on the IoD2019: unchanged when asked for


@pytest.mark.slow
def test_birmingham_iod2019_results_are_unchanged(shared_data: Path) -> None:
    """The README's figures of before the IoD2025 default: 92.6% within 15 minutes, 446
    organisations placed, 14 rejected, 4 thin LSOAs (the run without its map and figures)."""
    from cnmap.pipeline import (
        _coverage,
        _load_area,
        load_config,
        load_network,
        network_check,
        read_organisation_files,
    )
    from cnmap.thin import thin_areas

    config = load_config(CONFIGS / "birmingham_iod2019.toml")
    assert (config.iod, config.lsoa_vintage, config.population) == (2019, 2011, "iod")
    area = _load_area(config)
    read = read_organisation_files(config.organisations, area)
    assert (int(read.summary["matched"].sum()), int(read.summary["rejected"].sum())) == (446, 14)
    net = load_network(config, area)
    cov = _coverage(config, area, read.organisations, net, None)
    assert cov.params["population"] == pytest.approx(1_112_305)
    assert round(cov.share_covered(15), 3) == 0.926
    assert cov.totals["pop_covered"].round().tolist() == [305_457, 793_970, 1_030_177, 1_095_645]
    assert network_check(cov).n_unplaced == 0 and network_check(cov).status == "ok"
    assert int(thin_areas(cov, **config.thin).lsoas["thin"].sum()) == 4


# ---------------------------------------------------------------------------------------------
# docs/your_council.md, step by step


def _doc_blocks() -> list[tuple[str, str]]:
    text = (ROOT / "docs" / "your_council.md").read_text(encoding="utf-8")
    return re.findall(r"^```(\w+)\n(.*?)^```", text, flags=re.S | re.M)


@pytest.mark.slow
def test_your_council_in_10_minutes_as_written(
    shared_data: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Every step of the page: the shell commands in order (``export`` is the test's own
    environment: the mirror), the configuration saved as ``my_council.toml``, the map opened."""
    monkeypatch.chdir(tmp_path)
    blocks = _doc_blocks()
    configs = [code for kind, code in blocks if kind == "toml" and "my_council" in code]
    assert len(configs) == 1
    tomllib.loads(configs[0])  # valid TOML as printed
    steps = [line for kind, code in blocks if kind == "bash" for line in code.splitlines()]
    assert [s.split()[0] for s in steps] == ["export", "cnmap", "cnmap", "xdg-open"]
    for step in steps:
        argv = shlex.split(step)
        if argv[0] == "export":
            assert argv[1].startswith("CNMAP_DATA_MIRROR=")
        elif argv[0] == "cnmap":
            if argv[1] == "run":  # step 2 comes before the run
                (tmp_path / argv[2]).write_text(configs[0], encoding="utf-8")
            assert main(argv[1:]) == 0, capsys.readouterr().err
            out = capsys.readouterr().out
            if argv[1] == "fetch":
                assert "Rutland (E06000017): every dataset the run needs is in the cache" in out
            else:
                assert "organisations 'Public libraries'" in out and "4 placed, 0 rejected" in out
                assert "network check: 0.0% of residents (0 of 1,279 points)" in out
        else:
            page = (tmp_path / argv[1]).read_text(encoding="utf-8")
            assert "leaflet" in page.lower() and "Oakham" in page
