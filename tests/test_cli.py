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
    assert (cfg.iod, cfg.lsoa_vintage, cfg.population, cfg.postcodes) == (
        2025,
        2021,
        "auto",
        "auto",
    )
    old = load_config(ROOT / "configs" / "birmingham_iod2019.toml")
    assert (old.iod, old.lsoa_vintage, old.population) == (2019, 2011, "iod")
    assert old.organisations == cfg.organisations and old.minutes == cfg.minutes
    assert cfg.minutes == (5, 10, 15, 20) and cfg.speed_kmh == 4.8
    assert [o.label for o in cfg.organisations] == [
        "Warm spaces",
        "Report organisations",
        "Food banks",
    ]
    assert cfg.organisations[0].path.name == "warm_spaces_birmingham.geojson"
    assert cfg.organisations[2].options == {"keep_outside_m": 2000}
    assert cfg.network_dataset == "osm_walk_network" and cfg.network_path is None


@pytest.mark.parametrize(
    "text, match",
    [
        ("[area]\nlad_code='E08000025'\n", "at least one \\[\\[organisations\\]\\]"),
        ("[[organisations]]\npath='x.csv'\n", "needs lad_code"),
        (
            "[area]\nlad_code='E08000025'\n[coverage]\nminuts=[15]\n[[organisations]]\npath='x.csv'\n",
            "unknown key\\(s\\) \\['minuts'\\] in \\[coverage\\]",
        ),
        (
            "[area]\nlad_code='E08000025'\n[extra]\na=1\n[[organisations]]\npath='x.csv'\n",
            "unknown section",
        ),
        ("[area]\nlad_code='E08000025'\n[[organisations]]\nlabel='no path'\n", "has no path"),
        (
            "[area]\nlad_code='E08000025'\n[[organisations]]\npath='${CNMAP_NO_SUCH_VAR}/x.csv'\n",
            "CNMAP_NO_SUCH_VAR",
        ),
        ("[area\n", "cannot parse"),
        # typos in [thin] and [[organisations]] are named before any data is read (they ended
        # in a TypeError traceback after the whole coverage run)
        (
            "[area]\nlad_code='E08000025'\n[[organisations]]\npath='o.csv'\n[thin]\nmax_decil=2\n",
            r"unknown key\(s\) \['max_decil'\] in \[thin\].*max_decile",
        ),
        (
            "[area]\nlad_code='E08000025'\n[[organisations]]\npath='o.csv'\ntyp='food_bank'\n",
            r"unknown key\(s\) \['typ'\] in \[\[organisations\]\] number 1.*keep_outside_m",
        ),
    ],
)
def test_config_errors(tmp_path, text, match):
    with pytest.raises(ValidationError, match=match):
        load_config(write(tmp_path, text))


def test_yaml_config(tmp_path):
    p = write(
        tmp_path,
        "area: {lad_code: E08000025}\norganisations:\n  - path: orgs.csv\n"
        "coverage: {minutes: 10, speed_kmh: 3.3}\n",
        "run.yaml",
    )
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
    assert (
        "data: IoD2025 (iod2025_file7) on 2021 LSOAs; population iod2025; postcodes nspl" in stdout
    )
    assert "network check: 0.0% of residents (0 of 35,025 points)" in stdout
    assert "organisations: 446 placed, 14 rejected" in stdout
    assert "cnmap: warning" not in captured.err
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    for figure in (
        "1,154,221 residents",
        "92.7% within 15 minutes",
        "446 placed, 14 rejected",
        "flags 4 LSOAs (4,747 deprived residents out of reach), led by E01034954",
    ):
        assert figure in readme, figure
    html = out / "birmingham_coverage_map.html"
    assert html.is_file() and html.stat().st_size <= 8 * 1024 * 1024
    # the README's main map opens with no network: scripts and styles inlined, no CDN
    page = html.read_text()
    assert '<script src="http' not in page and 'stylesheet" href="http' not in page
    for name in (
        "coverage_lsoas",
        "coverage_wards",
        "imd_deciles",
        "thin_areas",
        "deprivation_by_provision",
    ):
        assert (out / "figures" / f"{name}.png").stat().st_size > 10_000
        assert (out / "figures" / f"{name}.pdf").is_file()
    wb = openpyxl.load_workbook(out / "tables" / "cnmap_birmingham.xlsx", read_only=True)
    assert {"README", "lsoas", "wards", "deciles", "totals", "thin_lsoas", "thin_wards"} <= set(
        wb.sheetnames
    )
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
    _check_birmingham_additions(out, stdout, readme)


def _check_birmingham_additions(out: Path, stdout: str, readme: str) -> None:
    """Who is served, the equity figures, the steps, the map's title, the lists read."""
    from cnmap.pipeline import planned_steps

    served = pd.read_csv(out / "tables" / "who_is_served.csv")
    at15 = served[served["minutes"] == 15].set_index("group")["share_covered (%)"]
    assert at15[["ethnic_asian", "ethnic_black", "ethnic_white", "ethnic_minority"]].tolist() == [
        94.7,
        96.5,
        90.2,
        95.0,
    ]
    assert at15[["disabled", "not_disabled"]].tolist() == [93.1, 92.6]
    assert at15[["deri_score_q1", "deri_score_q5"]].tolist() == [98.1, 83.2]  # most, least at risk
    assert at15["households_deprived_2plus"] == 94.4 and at15["age_75_plus"] == 89.9
    assert (
        "who is served: 136 rows by group (ethnic_group, disability, household_deprivation, "
        "age, deri_score_bands)" in stdout
    )
    for figure in (
        "White residents 90.2%",
        "most at risk of digital exclusion 98.1%",
        "the fifth least at risk 83.2%",
        "disabled residents 93.1%",
    ):
        assert figure in readme, figure
    for name in ("coverage_by_imd_decile", "who_is_served"):
        assert (out / "figures" / f"{name}.png").stat().st_size > 10_000
        assert (out / "figures" / f"{name}.pdf").is_file()
    run = json.loads((out / "run.json").read_text())
    config = load_config(ROOT / "configs" / "birmingham.toml")
    assert [s["step"] for s in run["steps"]] == planned_steps(config)
    assert run["who_is_served"]["table"] == "tables/who_is_served.csv"
    page = (out / "birmingham_coverage_map.html").read_text(encoding="utf-8")
    assert (
        "<title>Birmingham: who can walk to warm spaces, report organisations and food "
        "banks in 15 minutes</title>" in page
    )
    assert "from the centre of its address postcode" in page  # far from their own postcode
    read = pd.read_csv(out / "organisations" / "organisations_read.csv")
    assert read["file"].tolist() == [
        "warm_spaces_birmingham.geojson",
        "seed_organisations.csv",
        "foodbanks_birmingham.csv",
    ]
    assert read["match_rate (%)"].tolist() == [97.8, 89.7, 88.2]
    assert "## Who is served" in (out / "methods.md").read_text(encoding="utf-8")


def test_methods_note_describes_crow_flies_runs(tmp_path):
    """A crow-flies run must not be described as a street-network walk (hand-made street)."""
    import importlib.util

    from cnmap.coverage import coverage
    from cnmap.pipeline import write_methods

    spec = importlib.util.spec_from_file_location("thin_fixture", ROOT / "tests" / "test_thin.py")
    T = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(T)
    cov = coverage(
        T.orgs_at([0]),
        T.street_area(),
        residents=T.street_residents(),
        minutes=[10],
        mode="crow_flies",
        detour_factor=1.3,
    )
    cfg = load_config(
        {
            "area": {"lad_code": "X"},
            "organisations": [{"path": "o.csv"}],
            "coverage": {"mode": "crow_flies", "detour_factor": 1.3},
        }
    )
    text = write_methods(
        tmp_path / "methods.md",
        cfg,
        cov,
        None,
        pd.DataFrame({"dataset": ["a"], "rows": [1]}),
        pd.DataFrame(),
        [],
    ).read_text()
    assert "straight-line (crow-flies) distance x detour factor 1.3 at 4.8 km/h" in text
    assert "10 min (800 m)" in text
    assert "join the network" not in text and "walkable street" not in text
    assert "Street network" not in text


# ---------------------------------------------------------------------------------------------
# the command line: version, help, progress, the end-of-run summary


def test_version(capsys):
    import cnmap

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"cnmap {cnmap.__version__}"


def _option_helps(parser) -> list[tuple[str, str | None]]:
    """(command, option) -> its help, for every option of every command."""
    import argparse

    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += [(f"{name} {a.dest}", a.help) for a in sub._actions]
        found.append((action.dest, action.help))
    return found


def test_help_describes_every_option_with_examples_and_exit_codes(capsys):
    from cnmap.cli import build_parser

    parser = build_parser()
    missing = [name for name, text in _option_helps(parser) if not text]
    assert not missing, missing
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert "examples:\n  cnmap run configs/birmingham.toml" in text
    for code, words in (
        ("0", "done"),
        ("1", "internal error"),
        ("2", "bad input"),
        ("3", "data that cannot be fetched"),
        ("130", "interrupted"),
    ):
        assert f"\n  {code:<5}{words}" in text, code
    for command in ("run", "fetch", "mirror", "sources", "compare"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        sub = capsys.readouterr().out
        assert f"examples:\n  cnmap {command}" in sub, command


class _Terminal:
    """A stderr that says it is a terminal, keeping what is written."""

    def __init__(self) -> None:
        import io

        self.buffer = io.StringIO()

    def isatty(self) -> bool:
        return True

    def write(self, text: str) -> int:
        return self.buffer.write(text)

    def flush(self) -> None:
        pass


def test_progress_bar_only_on_a_terminal(tmp_path, monkeypatch):
    import argparse
    import io

    from cnmap.cli import Progress, _progress

    args = argparse.Namespace(quiet=False)
    monkeypatch.setattr("sys.stderr", io.StringIO())  # a log file or a pipe: no bar
    assert _progress(args, ["a", "b"]) is None
    terminal = _Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    assert isinstance(_progress(args, ["a", "b"]), Progress)
    assert _progress(argparse.Namespace(quiet=True), ["a", "b"]) is None
    bar = Progress(["a", "b", "c"], terminal)
    for step in ("a", "b", "c"):
        bar.report(step)
    bar.close(done=True)
    assert bar.bar.n == 3 and "3/3" in terminal.buffer.getvalue()


def test_a_failed_step_is_not_shown_complete(tmp_path, monkeypatch):
    import cnmap.pipeline

    seen = {}

    def failing_run(config, report=None):  # noqa: ANN001, ANN202
        seen["steps"] = cnmap.pipeline.planned_steps(config)
        report("load area")
        report("read organisations")
        raise ValidationError("organisations file x.csv: no usable rows")

    terminal = _Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    monkeypatch.setattr(cnmap.pipeline, "run", failing_run)
    orgs = write(tmp_path, "name,lat,lon\nA,52.48,-1.90\n", "orgs.csv")
    config = write(tmp_path, f"[area]\nlad_code='E08000025'\n[[organisations]]\npath='{orgs}'\n")
    assert main(["run", str(config), "--out", str(tmp_path / "o")]) == 2
    text = terminal.buffer.getvalue()
    total = len(seen["steps"])
    assert f"1/{total}" in text and "100%" not in text and f"{total}/{total}" not in text
    assert "cnmap: error: organisations file x.csv: no usable rows" in text


def test_run_summary_lists_files_as_paths_and_who_is_served(tmp_path, monkeypatch, capsys):
    import cnmap.pipeline
    from cnmap.pipeline import WhoIsServed

    class Cov:
        def summary(self) -> str:
            return "Coverage of 1,000 residents by 3 organisations"

    out = tmp_path / "o"
    table = pd.DataFrame({"layer": ["ethnic_group"] * 3})
    layers = [type("Layer", (), {"name": "ethnic_group"})(), type("Layer", (), {"name": "age"})()]

    def fake_run(config, report=None):  # noqa: ANN001, ANN202
        return {
            "coverage": Cov(),
            "summary": pd.DataFrame(
                {"dataset": [], "file": [], "rows": [], "matched": [], "rejected": []}
            ),
            "rejected": pd.DataFrame(),
            "notes": {},
            "who_is_served": WhoIsServed(table, tuple(layers)),
            "paths": {
                "who_is_served": out / "tables" / "who_is_served.csv",
                "summary": (out / "summary.html", out / "summary.pdf"),
                "figures": [out / "figures" / "who_is_served.png"],
                "steps": {"map": 3.2},
            },
        }

    monkeypatch.setattr(cnmap.pipeline, "run", fake_run)
    orgs = write(tmp_path, "name,lat,lon\nA,52.48,-1.90\n", "orgs.csv")
    config = write(tmp_path, f"[area]\nlad_code='E08000025'\n[[organisations]]\npath='{orgs}'\n")
    assert main(["run", str(config), "--out", str(out), "-q"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert (
        f"who is served: 3 rows by group (ethnic_group, age) in {out}/tables/"
        "who_is_served.csv" in lines
    )
    assert f"  summary: {out}/summary.html" in lines and f"  summary: {out}/summary.pdf" in lines
    assert f"  figures: {out}/figures/who_is_served.png" in lines
    assert not any(
        "3.2" in line or "PosixPath" in line or "(" in line.split(": ", 1)[-1][:1]
        for line in lines
        if line.startswith("  ")
    )


# ---------------------------------------------------------------------------------------------
# cnmap compare: run configurations are scenarios


def _run_config(path: Path, lad: str, lists: list[str], area: str = "") -> Path:
    body = "".join(f"\n[[organisations]]\n{entry}\n" for entry in lists)
    path.write_text(
        f'[area]\nlad_code = "{lad}"\n{area}{body}\n[coverage]\nminutes = [10, 15]'
        '\nmode = "crow_flies"\ndetour_factor = 1.3\n[output]\ndir = "o"\n',
        encoding="utf-8",
    )
    return path


SEED = (
    'label = "Report organisations"\npath = "${CNMAP_DATA_MIRROR}/birmingham/'
    'seed_organisations.csv"\ntype_col = "kind"'
)
BANKS = (
    'label = "Food banks"\npath = "${CNMAP_DATA_MIRROR}/birmingham/osm/'
    'foodbanks_birmingham.csv"\ntype = "food_bank"\nkeep_outside_m = 2000'
)


@pytest.mark.slow
def test_compare_two_run_configurations(tmp_path, capsys, shared_data):
    """Birmingham in straight lines: the report's organisations, then with the food banks;
    residents from Census 2021 (the files' population, passed on to the area)."""
    census = 'population = "census2021"\n'
    a = _run_config(tmp_path / "seed.toml", "E08000025", [SEED], census)
    b = _run_config(tmp_path / "seed_and_banks.toml", "E08000025", [SEED, BANKS], census)
    out = tmp_path / "cmp"
    assert main(["compare", str(a), str(b), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert lines[0] == "'seed_and_banks' against 'seed':"
    assert "The concentration index (Erreygers, from -1 to 1) says whether" in text
    assert (
        "  seed: Report organisations (seed_organisations.csv): 29 rows read, 26 placed, "
        "3 rejected" in lines
    )
    assert (
        "  seed_and_banks: Food banks (foodbanks_birmingham.csv): 17 rows read, 15 placed, "
        "2 rejected" in lines
    )
    assert f"rejected rows listed with reasons in {out / 'rejected_organisations.csv'}" in lines
    assert f"who gains and who loses by group: {out / 'groups.csv'} (groups)" in lines
    files = lines[lines.index(f"files written to {out}:") + 1 :]
    assert {Path(f).name for f in files} >= {
        "totals.csv",
        "groups.csv",
        "comparison.xlsx",
        "organisations_read.csv",
        "rejected_organisations.csv",
    }
    assert all(Path(f).is_file() for f in files)
    groups = pd.read_csv(out / "groups.csv").set_index(["group", "minutes"])
    # adding the food banks: nobody loses, every group gains
    assert (groups["lost"] == 0).all() and (groups["gained"] > 0).all()
    assert {"ethnic_black", "disabled", "deri_score_q1"} <= set(groups.index.get_level_values(0))
    row = groups.loc[("ethnic_total", 15)]
    assert row["net_change"] == row["covered_b"] - row["covered_a"]
    assert row["share_change (percentage points)"] == pytest.approx(
        row["share_covered_b (%)"] - row["share_covered_a (%)"], abs=0.11
    )
    totals = pd.read_csv(out / "totals.csv")
    assert totals["population"].round().tolist() == [1_144_931] * 2  # Census 2021 RM121
    rejected = pd.read_csv(out / "rejected_organisations.csv")
    assert rejected.groupby("scenario").size().to_dict() == {"seed": 3, "seed_and_banks": 5}
    assert "/" not in "".join(rejected["file"])


@pytest.mark.slow
def test_compare_outside_the_need_layers_notes_it(tmp_path, capsys, shared_data):
    """Rutland: no Census tables in the mirror, so no group table, and a note saying why."""
    orgs = tmp_path / "libraries.csv"
    orgs.write_text(
        "name,lat,lon\nOakham Library,52.6699,-0.7286\nUppingham Library,52.5887,-0.7224\n",
        encoding="utf-8",
    )
    one = 'label = "Libraries"\npath = "libraries.csv"'
    area = 'population = "census2021"\n'
    a = _run_config(tmp_path / "a.toml", "E06000017", [one], area)
    b = tmp_path / "b.toml"
    b.write_text(
        'name = "Two libraries, 20 minutes"\n[area]\nlad_code = "E06000017"\n'
        'population = "census2021"\n[[organisations]]\npath = "libraries.csv"\n'
        '[coverage]\nminutes = [10, 15]\nmode = "crow_flies"\ndetour_factor = 1.5\n',
        encoding="utf-8",
    )
    out = tmp_path / "cmp"
    assert main(["compare", str(a), str(b), "--out", str(out), "--format", "csv"]) == 0
    text = capsys.readouterr().out
    assert (
        "who gains and who loses by group: not computed for Rutland: the need layers do "
        "not cover it" in text
    )
    assert not (out / "groups.csv").exists() and not (out / "comparison.xlsx").exists()
    assert "not computed for Rutland" in (out / "comparison_summary.txt").read_text("utf-8")
    totals = pd.read_csv(out / "totals.csv")
    assert (totals["pop_lost"] > 0).all()  # a longer detour: some lose, nobody gains
    assert (totals["pop_gained"] == 0).all()


def test_run_configurations_read_as_scenarios(tmp_path):
    from cnmap.workflows import compare_files, read_scenario

    a = _run_config(tmp_path / "seed.toml", "E08000025", [SEED])
    sc = read_scenario(a)
    cfg = load_config(a)
    assert sc.name == "seed" and sc.organisations == cfg.organisations
    assert (sc.minutes, sc.mode, sc.detour_factor, sc.lad_code) == (
        (10, 15),
        "crow_flies",
        1.3,
        "E08000025",
    )
    assert (sc.lsoa_vintage, sc.iod) == (cfg.lsoa_vintage, cfg.iod) == (2021, 2025)
    other = _run_config(tmp_path / "other.toml", "E08000025", [SEED], 'population = "census2021"\n')
    with pytest.raises(
        ValidationError, match="different data .*population auto.*population census2021"
    ):
        compare_files(a, other, out_dir=tmp_path / "o")
    with pytest.raises(
        ValidationError,
        match=r"other\.toml: unknown key\(s\) \['minuts'\] "
        r"in \[coverage\]",
    ):
        other.write_text(other.read_text().replace("minutes", "minuts"), encoding="utf-8")
        read_scenario(other)
