"""The cnmap command and the run pipeline: errors (exit codes, messages) and the Birmingham run."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from cnmap.cli import main
from cnmap.errors import ValidationError
from cnmap.pipeline import load_config

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str, name: str = "run.toml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_config_reads_birmingham_file():
    cfg = load_config(ROOT / "configs" / "birmingham.toml")
    assert cfg.lad_code == "E08000025"
    assert (cfg.iod, cfg.lsoa_vintage, cfg.population, cfg.postcodes) == (2025, 2021, "auto",
                                                                          "auto")
    old = load_config(ROOT / "configs" / "birmingham_iod2019.toml")
    assert (old.iod, old.lsoa_vintage, old.population) == (2019, 2011, "iod")
    assert old.organisations == cfg.organisations and old.minutes == cfg.minutes
    assert cfg.minutes == (5, 10, 15, 20) and cfg.speed_kmh == 4.8
    assert [o.label for o in cfg.organisations] == ["Warm spaces", "Report organisations", "Food banks"]
    assert cfg.organisations[0].path.name == "warm_spaces_birmingham.geojson"
    assert cfg.organisations[2].options == {"keep_outside_m": 2000}
    assert cfg.network_dataset == "osm_walk_network" and cfg.network_path is None


@pytest.mark.parametrize("text, match", [
    ("[area]\nlad_code='E08000025'\n", "at least one \\[\\[organisations\\]\\]"),
    ("[[organisations]]\npath='x.csv'\n", "needs lad_code"),
    ("[area]\nlad_code='E08000025'\n[coverage]\nminuts=[15]\n[[organisations]]\npath='x.csv'\n",
     "unknown key\\(s\\) \\['minuts'\\] in \\[coverage\\]"),
    ("[area]\nlad_code='E08000025'\n[extra]\na=1\n[[organisations]]\npath='x.csv'\n",
     "unknown section"),
    ("[area]\nlad_code='E08000025'\n[[organisations]]\nlabel='no path'\n", "has no path"),
    ("[area]\nlad_code='E08000025'\n[[organisations]]\npath='${CNMAP_NO_SUCH_VAR}/x.csv'\n",
     "CNMAP_NO_SUCH_VAR"),
    ("[area\n", "cannot parse"),
    # typos in [thin] and [[organisations]] are named before any data is read (they ended
    # in a TypeError traceback after the whole coverage run)
    ("[area]\nlad_code='E08000025'\n[[organisations]]\npath='o.csv'\n[thin]\nmax_decil=2\n",
     r"unknown key\(s\) \['max_decil'\] in \[thin\].*max_decile"),
    ("[area]\nlad_code='E08000025'\n[[organisations]]\npath='o.csv'\ntyp='food_bank'\n",
     r"unknown key\(s\) \['typ'\] in \[\[organisations\]\] number 1.*keep_outside_m"),
])
def test_config_errors(tmp_path, text, match):
    with pytest.raises(ValidationError, match=match):
        load_config(write(tmp_path, text))


def test_yaml_config(tmp_path):
    p = write(tmp_path, "area: {lad_code: E08000025}\norganisations:\n  - path: orgs.csv\n"
                        "coverage: {minutes: 10, speed_kmh: 3.3}\n", "run.yaml")
    cfg = load_config(p)
    assert cfg.minutes == (10,) and cfg.speed_kmh == 3.3
    assert cfg.organisations[0].path == (tmp_path / "orgs.csv").resolve()


def test_cli_bad_input_exit_code_and_message(tmp_path, capsys):
    p = write(tmp_path, "[area]\nlad_code='E08000025'\n[[organisations]]\npath='missing.csv'\n")
    assert main(["run", str(p), "--out", str(tmp_path / "o"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "missing.csv" in err and "does not exist" in err


def test_cli_unknown_area_exit_code(tmp_path, capsys):
    orgs = write(tmp_path, "name,lat,lon\nA,52.48,-1.90\n", "orgs.csv")
    p = write(tmp_path, f"[area]\nlad_code='E0999999X'\n[[organisations]]\npath='{orgs}'\n")
    assert main(["run", str(p), "--out", str(tmp_path / "o"), "-q"]) == 2
    assert "E0999999X" in capsys.readouterr().err


def test_cli_missing_data_exit_code(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CNMAP_DATA_MIRROR", str(tmp_path / "empty_mirror"))
    monkeypatch.setenv("CNMAP_CACHE_DIR", str(tmp_path / "empty_cache"))
    (tmp_path / "empty_mirror").mkdir()
    assert main(["fetch", "E08000025"]) == 3
    err = capsys.readouterr().err
    assert "CNMAP_DATA_MIRROR" in err


@pytest.mark.slow
def test_cli_runs_birmingham(tmp_path, capsys, shared_data):
    """The README's main command: IoD2025 on 2021 LSOAs, its figures as the README gives them."""
    out = tmp_path / "bham"
    assert main(["run", str(ROOT / "configs" / "birmingham.toml"), "--out", str(out), "-q"]) == 0
    captured = capsys.readouterr()
    stdout = captured.out
    assert "1,154,221 residents" in stdout  # IoD2025 mid-2022 denominators
    assert "15 min (1,200 m): 1,069,554 people (92.7%)" in stdout
    assert "data: IoD2025 (iod2025_file7) on 2021 LSOAs; population iod2025; postcodes nspl" \
        in stdout
    assert "network check: 0.0% of residents (0 of 35,025 points)" in stdout
    assert "organisations: 446 placed, 14 rejected" in stdout
    assert "cnmap: warning" not in captured.err
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    for figure in ("1,154,221 residents", "92.7% within 15 minutes", "446 placed, 14 rejected",
                   "flags 4 LSOAs (4,747 deprived residents out of reach), led by E01034954"):
        assert figure in readme, figure
    html = out / "birmingham_coverage_map.html"
    assert html.is_file() and html.stat().st_size <= 8 * 1024 * 1024
    # the README's main map opens with no network: scripts and styles inlined, no CDN
    page = html.read_text()
    assert "<script src=\"http" not in page and "stylesheet\" href=\"http" not in page
    for name in ("coverage_lsoas", "coverage_wards", "imd_deciles", "thin_areas",
                 "deprivation_by_provision"):
        assert (out / "figures" / f"{name}.png").stat().st_size > 10_000
        assert (out / "figures" / f"{name}.pdf").is_file()
    wb = openpyxl.load_workbook(out / "tables" / "cnmap_birmingham.xlsx", read_only=True)
    assert {"README", "lsoas", "wards", "deciles", "totals", "thin_lsoas", "thin_wards"} <= set(wb.sheetnames)
    assert (out / "tables" / "cnmap_birmingham.gpkg").is_file()
    rejected = (out / "organisations" / "rejected_organisations.csv").read_text()
    assert "missing_coordinates" in rejected and "duplicate" in rejected
    run = json.loads((out / "run.json").read_text())
    assert run["params"]["minutes"] == [5, 10, 15, 20] and run["params"]["speed_kmh"] == 4.8
    assert (run["area"]["iod"], run["area"]["lsoa_vintage"]) == (2025, 2021)
    assert run["area"]["population"] == "iod2025" and run["snap_coverage"]["status"] == "ok"
    methods = (out / "methods.md").read_text()
    assert "OpenStreetMap contributors" in methods and "Open Government Licence" in methods
    assert "IoD2025 File 7 total population denominators (mid-2022)" in methods
    assert "- 4 LSOAs flagged thin" in methods
    wards = (out / "tables" / "wards.csv").read_text().splitlines()
    assert len(wards) == 70  # header + 69 wards
    assert len((out / "tables" / "lsoas.csv").read_text().splitlines()) == 660  # 659 LSOAs


def test_methods_note_describes_crow_flies_runs(tmp_path):
    """A crow-flies run must not be described as a street-network walk (hand-made street)."""
    import importlib.util

    from cnmap.coverage import coverage
    from cnmap.pipeline import write_methods

    spec = importlib.util.spec_from_file_location("thin_fixture", ROOT / "tests" / "test_thin.py")
    T = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(T)
    cov = coverage(T.orgs_at([0]), T.street_area(), residents=T.street_residents(), minutes=[10],
                   mode="crow_flies", detour_factor=1.3)
    cfg = load_config({"area": {"lad_code": "X"}, "organisations": [{"path": "o.csv"}],
                       "coverage": {"mode": "crow_flies", "detour_factor": 1.3}})
    text = write_methods(tmp_path / "methods.md", cfg, cov, None,
                         pd.DataFrame({"dataset": ["a"], "rows": [1]}), pd.DataFrame(),
                         []).read_text()
    assert "straight-line (crow-flies) distance x detour factor 1.3 at 4.8 km/h" in text
    assert "10 min (800 m)" in text
    assert "join the network" not in text and "walkable street" not in text
    assert "Street network" not in text
