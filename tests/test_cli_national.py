"""``cnmap run`` on a national configuration (a ``[national]`` table): Rutland and a neighbour.

The run is the real one (``configs/england_libraries.toml`` on Dask, one worker process, from
the data mirror, offline); the population in ``tables/lads.csv`` is checked against the
Census 2021 RM121 table and the ONS LSOA lookup read here, independently of cnmap.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from cnmap.cli import build_parser, main
from cnmap.data import lad_table

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "england_libraries.toml"
#: Rutland and its neighbour North Northamptonshire (both unitary authorities since 2021).
DISTRICTS = ("E06000017", "E06000061")


@pytest.fixture(scope="module")
def england(shared_data: Path) -> Path:
    folder = shared_data / "england"
    if not (folder / "census2021").is_dir():
        pytest.skip(f"national data not in the mirror ({folder})")
    return folder


def census_residents(england: Path, codes: tuple[str, ...]) -> pd.Series:
    """Census 2021 usual residents by district, from the RM121 table and the LSOA lookup."""
    rm121 = pd.read_csv(
        england / "census2021" / "census2021_rm121_usual_residents_lsoa21_ew.csv",
        usecols=["lsoa21_code", "Total"],
    )
    lookup = pd.read_csv(
        england / "lookups" / "lookup_lsoa21_ward24_ltla24_ew.csv",
        usecols=["lsoa21_code", "ltla24_code"],
    ).drop_duplicates("lsoa21_code")
    joined = lookup[lookup["ltla24_code"].isin(codes)].merge(
        rm121, on="lsoa21_code", how="left", validate="1:1"
    )
    assert joined["Total"].notna().all()
    return joined.groupby("ltla24_code")["Total"].sum().astype(float)


def test_districts_are_english_codes(england):
    table = lad_table().set_index("lad_code")
    assert set(DISTRICTS) <= set(table.index)
    assert table.loc[list(DISTRICTS), "english"].all()
    assert table.loc["E06000017", "lad_name"] == "Rutland"


@pytest.mark.slow
def test_national_run_two_districts(england, tmp_path, capsys):
    out = tmp_path / "national"
    argv = [
        "run",
        str(CONFIG),
        "--districts",
        ",".join(DISTRICTS),
        "--workers",
        "1",
        "--out",
        str(out),
        "-q",
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    lads = pd.read_csv(out / "tables" / "lads.csv", dtype={"lad_code": str})
    assert sorted(lads["lad_code"]) == sorted(DISTRICTS)
    assert (lads["status"] == "ok").all()
    expected = census_residents(england, DISTRICTS)
    got = lads.set_index("lad_code")["population"].astype(float)
    assert got.sort_index().tolist() == pytest.approx(expected.sort_index().tolist(), abs=0.01)
    lsoas = pd.read_csv(out / "tables" / "lsoas.csv")
    assert lsoas["population"].sum() == pytest.approx(expected.sum(), abs=0.01)
    total = f"{expected.sum():,.0f}"
    assert "2 districts: " in printed and f"of {total} residents within a 15-minute walk" in printed
    assert "districts: 2 of 2 done (2 computed, 0 resumed" in printed
    assert f"tables in {out / 'tables'}" in printed
    for name in ("lads.csv", "lsoas.csv", "wards.csv", "deciles.csv"):
        assert f": {out / 'tables' / name}\n" in printed  # one path a line
    # a second run resumes both districts from the partial results
    assert main(argv) == 0
    assert "districts: 2 of 2 done (0 computed, 2 resumed" in capsys.readouterr().out


@pytest.mark.parametrize(
    "districts, match",
    [
        ("XYZ", "--districts 'XYZ': no English local authority district"),
        ("E06000017,W06000001", "--districts 'W06000001'.*Wales"),
        (" , ", "names no district"),
    ],
)
def test_bad_districts_exit_2_one_line(england, tmp_path, capsys, districts, match):
    out = tmp_path / "never"
    assert main(["run", str(CONFIG), "--districts", districts, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("cnmap: error: ")
    assert re.search(match, err)
    assert not out.exists()  # refused before anything is written


def test_bad_national_config_exit_2_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text(
        CONFIG.read_text(encoding="utf-8").replace('networks = "at_hand"', 'networks = "osm"')
    )
    assert main(["run", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "[national]" in err and "networks" in err


def test_national_options_need_a_national_file(capsys):
    code = main(["run", str(ROOT / "configs" / "rutland.toml"), "--workers", "2"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "--workers: only for a national configuration" in err


def test_run_help_describes_national_options():
    run = build_parser()._subparsers._group_actions[0].choices["run"]  # type: ignore[union-attr]
    text = run.format_help()
    for flag in ("--districts CODES", "--workers N", "--scheduler ADDRESS", "--fresh"):
        assert flag in text
    assert "cnmap run configs/england_libraries.toml --districts E06000017,E06000061" in text


@pytest.mark.slow
def test_national_models_are_the_config_schema():
    import subprocess
    import sys

    import cnmap.config
    import cnmap.national

    assert cnmap.national.NationalSection is cnmap.config.NationalSection
    assert cnmap.national.NationalFile is cnmap.config.NationalFile
    code = (
        "import sys, cnmap.config; "
        "sys.exit(any(m.startswith('cnmap.national') for m in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
