"""Hostile and careless configuration files: one schema, one line, exit 2, never a traceback.

Every file in ``tests/fixtures/bad_cli/`` named ``run_*`` or ``scenario_*`` is a valid
configuration (``_valid/``) with one fault. Its header says what the error line must contain:

    # expect: [coverage] speed_kmh='fast'     (one or more; all must be in the line)
    # argv: run {config} --out {existing_file} -q   (optional; default below)
    # encode: latin-1                          (optional; the test saves the file so)

``run_*`` files go through ``cnmap run FILE --out DIR -q``, ``scenario_*`` files through
``cnmap compare FILE _valid/scenario.toml --out DIR``. Each must end with exit status 2 and
exactly one line on stderr, ``cnmap: error: ...``, containing every expected phrase, and no
"Traceback". No data is available to these runs (empty mirror and cache), so a fault that
slips past the checks cannot pass: it ends in a fetch error (exit 3) instead.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from cnmap import config as cfg
from cnmap.cli import main
from cnmap.errors import ValidationError
from cnmap.pipeline import (
    OrganisationSource,
    check_inputs,
    load_config,
    read_all_organisations,
    read_organisation_files,
)
from cnmap.scenarios import Scenario

ROOT = Path(__file__).resolve().parents[1]
BAD = ROOT / "tests" / "fixtures" / "bad_cli"
VALID = BAD / "_valid"
CONFIG_SUFFIXES = {".toml", ".yaml", ".yml"}


@dataclasses.dataclass(frozen=True)
class Case:
    path: Path
    expects: tuple[str, ...]
    argv: str | None
    encode: str | None

    @property
    def command(self) -> str:
        return "compare" if self.path.name.startswith("scenario_") else "run"


def read_case(path: Path) -> Case:
    head: dict[str, list[str]] = {"expect": [], "argv": [], "encode": []}
    for line in path.read_text(encoding="utf-8").splitlines():
        m = re.match(r"#\s*(expect|argv|encode):\s*(.+?)\s*$", line)
        if m:
            head[m.group(1)].append(m.group(2))
    return Case(
        path,
        tuple(head["expect"]),
        next(iter(head["argv"]), None),
        next(iter(head["encode"]), None),
    )


CASES = [read_case(p) for p in sorted(BAD.iterdir()) if p.is_file() and p.suffix in CONFIG_SUFFIXES]


def case_id(case: Case) -> str:
    return case.path.stem


@pytest.fixture
def no_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty data mirror and cache: nothing can be fetched."""
    for name, var in (("mirror", "CNMAP_DATA_MIRROR"), ("cache", "CNMAP_CACHE_DIR")):
        (tmp_path / name).mkdir()
        monkeypatch.setenv(var, str(tmp_path / name))
    monkeypatch.setenv("CNMAP_OFFLINE", "1")
    return tmp_path


def argv_for(case: Case, tmp_path: Path) -> list[str]:
    config = case.path
    if case.encode:  # saved in another encoding, beside a copy of the data it names
        shutil.copytree(BAD / "data", tmp_path / "data", dirs_exist_ok=True)
        config = tmp_path / case.path.name
        config.write_bytes(case.path.read_text(encoding="utf-8").encode(case.encode))
    existing = tmp_path / "existing_file.txt"
    existing.write_text("not a folder\n", encoding="utf-8")
    default = (
        "run {config} --out {out} -q"
        if case.command == "run"
        else "compare {config} {valid_scenario} --out {out}"
    )
    values = {
        "config": str(config),
        "out": str(tmp_path / "out"),
        "existing_file": str(existing),
        "valid_scenario": str(VALID / "scenario.toml"),
    }
    return [part.format(**values) for part in (case.argv or default).split()]


def check_error_output(case: Case, code: int, out: str, err: str) -> None:
    assert "Traceback" not in out + err
    assert code == 2, f"exit {code}: {err}"
    lines = err.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{err}"
    line = lines[0]
    assert line.startswith("cnmap: error: ")
    for phrase in case.expects:
        assert phrase in line, f"{phrase!r} missing from: {line}"


# ---------------------------------------------------------------------------------------------
# the corpus


def test_the_corpus_covers_both_commands_and_every_file_is_a_case() -> None:
    files = {p.name for p in BAD.iterdir() if p.is_file()}
    assert files - {c.path.name for c in CASES} == {"README.md"}
    runs = [c for c in CASES if c.command == "run"]
    scenarios = [c for c in CASES if c.command == "compare"]
    assert len(runs) >= 25 and len(scenarios) >= 25
    for c in CASES:
        assert c.path.name.startswith(("run_", "scenario_")), c.path.name
        assert c.expects, f"{c.path.name} has no '# expect:' line"
    # both syntaxes, and the encodings the test writes
    assert {c.path.suffix for c in runs} == {c.path.suffix for c in scenarios} == {".toml", ".yaml"}
    assert {"latin-1"} <= {c.encode for c in CASES}


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_bad_cli_fixture_exits_2_with_one_line(
    case: Case, tmp_path: Path, no_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(argv_for(case, tmp_path))
    captured = capsys.readouterr()
    check_error_output(case, code, captured.out, captured.err)
    assert not (tmp_path / "out").exists(), "outputs were started before the input was checked"


SUBPROCESS_CASES = [
    "run_speed_kmh_text",
    "run_latin1",
    "run_top_level_list",
    "run_label_no",
    "run_out_is_a_file",
    "scenario_minutes_true",
    "scenario_organisations_numbers",
]


@pytest.mark.parametrize("name", SUBPROCESS_CASES)
@pytest.mark.slow
def test_bad_cli_fixture_through_the_installed_command(
    name: str, tmp_path: Path, no_data: Path
) -> None:
    case = next(c for c in CASES if c.path.stem == name)
    exe = Path(sys.executable).parent / "cnmap"
    if not exe.is_file():
        pytest.skip("the cnmap console script is not installed in this environment")
    proc = subprocess.run(
        [str(exe), *argv_for(case, tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ),
    )
    check_error_output(case, proc.returncode, proc.stdout, proc.stderr)


@pytest.mark.parametrize("name", ["run.toml", "run.yaml"])
def test_the_valid_run_bases_are_accepted(name: str) -> None:
    c = load_config(VALID / name)
    assert c.lad_code == "E08000025" and c.minutes == (10, 15)
    assert c.organisations[0].path == (BAD / "data" / "orgs.csv").resolve()


@pytest.mark.parametrize("name", ["scenario.toml", "scenario.yaml"])
def test_the_valid_scenario_bases_are_accepted(name: str) -> None:
    s = Scenario.from_file(VALID / name)
    assert s.name == "Hubs" and s.minutes == (10, 15) and s.lad_code == "E08000025"


# ---------------------------------------------------------------------------------------------
# other bad command lines


@pytest.mark.parametrize("command", ["run", "compare"])
def test_config_path_problems(
    command: str, tmp_path: Path, no_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = str(VALID / "scenario.toml")
    wrong = tmp_path / "settings.json"
    wrong.write_text("{}", encoding="utf-8")
    for target, phrase in (
        (tmp_path, "is a folder"),
        (tmp_path / "nope.toml", "does not exist"),
        (wrong, "use a .toml, .yaml or .yml file"),
    ):
        argv = (
            ["run", str(target), "--out", str(tmp_path / "o")]
            if command == "run"
            else ["compare", str(target), other, "--out", str(tmp_path / "o")]
        )
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert len(err.splitlines()) == 1 and phrase in err and "Traceback" not in err


def test_an_unreadable_config_is_one_line(
    tmp_path: Path,
    no_data: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def denied(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", denied)
    assert main(["run", str(VALID / "run.toml"), "--out", str(tmp_path / "o"), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cnmap: error: config file") and "Permission denied" in err
    assert len(err.splitlines()) == 1


def test_os_errors_from_deeper_down_are_one_line(
    tmp_path: Path,
    no_data: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import cnmap.pipeline

    def unreadable(config, report=None):  # noqa: ANN001, ANN202
        raise IsADirectoryError(21, "Is a directory", "/data/lookup.csv")

    monkeypatch.setattr(cnmap.pipeline, "run", unreadable)
    assert main(["run", str(VALID / "run.toml"), "--out", str(tmp_path / "o"), "-q"]) == 2
    err = capsys.readouterr().err
    assert err == "cnmap: error: Is a directory: /data/lookup.csv\n"


def test_a_bug_is_not_dressed_as_bad_input(
    tmp_path: Path,
    no_data: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import cnmap.pipeline

    def broken(config, report=None):  # noqa: ANN001, ANN202
        raise AssertionError("ward table out of step")

    monkeypatch.setattr(cnmap.pipeline, "run", broken)
    argv = ["run", str(VALID / "run.toml"), "--out", str(tmp_path / "o"), "-q"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("cnmap: internal error (a bug in cnmap): AssertionError: ward table")
    assert "-v" in err and len(err.splitlines()) == 1
    with pytest.raises(AssertionError, match="out of step"):  # -v: the traceback
        main(["-v", *argv])


# ---------------------------------------------------------------------------------------------
# what a run prints about the organisations files


class _Coverage:
    def summary(self) -> str:
        return "Coverage of 1,000 residents by 3 organisations"


def test_run_prints_rows_placed_rejected_notes_and_the_report(
    tmp_path: Path,
    no_data: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import cnmap.pipeline

    rejected_csv = tmp_path / "o" / "organisations" / "rejected_organisations.csv"
    summary = pd.DataFrame(
        {
            "dataset": ["Hubs", "Food banks"],
            "file": ["a.csv", "b.xlsx"],
            "rows": [10, 4],
            "matched": [8, 4],
            "rejected": [2, 0],
            "match_rate": [0.8, 1.0],
            "notes": ["decoded as cp1252", ""],
        }
    )

    def fake_run(config, report=None):  # noqa: ANN001, ANN202
        return {
            "coverage": _Coverage(),
            "summary": summary,
            "rejected": pd.DataFrame(),
            "notes": {
                "Hubs": ("decoded as cp1252",),
                "Food banks": ("sheet 'Hidden' skipped", "2 more sheets"),
            },
            "paths": {
                "organisation_tables": {
                    "csv": [
                        tmp_path / "o" / "organisations" / "organisations_read.csv",
                        rejected_csv,
                    ]
                },
                "map": tmp_path / "o" / "map.html",
            },
        }

    monkeypatch.setattr(cnmap.pipeline, "run", fake_run)
    assert main(["run", str(VALID / "run.toml"), "--out", str(tmp_path / "o"), "-q"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "organisations 'Hubs' (a.csv): 10 rows read, 8 placed, 2 rejected" in out
    assert "  note: decoded as cp1252" in out
    assert "organisations 'Food banks' (b.xlsx): 4 rows read, 4 placed, 0 rejected" in out
    assert out.index("  note: sheet 'Hidden' skipped") > out.index(
        "organisations 'Food banks' (b.xlsx): 4 rows read, 4 placed, 0 rejected"
    )
    assert f"organisations: 12 placed, 2 rejected; listed with reasons in {rejected_csv}" in out
    assert f"  organisation_tables/csv: {rejected_csv}" in out  # one line per file written


@pytest.mark.slow
def test_read_organisation_files_carries_each_files_notes(tmp_path: Path) -> None:
    titled = tmp_path / "titled.csv"
    titled.write_text(
        "Warm spaces list, winter\n\nname,easting,northing\nHall,406000,286000\n"
        "Church,407000,286500\n",
        encoding="utf-8",
    )
    plain = tmp_path / "plain.csv"
    plain.write_text("name,easting,northing\nLibrary,406500,286200\n", encoding="utf-8")
    sources = (OrganisationSource(titled, "Titled"), OrganisationSource(plain, "Plain"))
    read = read_organisation_files(sources, None)
    assert read.notes["Titled"] and any("header" in n.lower() for n in read.notes["Titled"])
    assert read.notes["Plain"] == ()
    assert list(read.summary["notes"]) == ["; ".join(read.notes["Titled"]), ""]
    assert list(read.summary["rows"]) == [2, 1]
    assert list(read.summary["matched"] + read.summary["rejected"]) == [2, 1]
    orgs, rejected, summary = read_all_organisations(sources, None)
    assert len(orgs) == len(read.organisations) and "notes" in summary.columns


# ---------------------------------------------------------------------------------------------
# the schema: one place, the same defaults, no coercion


def test_run_and_scenario_files_share_defaults() -> None:
    run = load_config({"area": {"lad_code": "E08000025"}, "organisations": "o.csv"})
    sc = Scenario.from_dict({"name": "x", "organisations": "o.csv"})
    for key in (
        "minutes",
        "mode",
        "residents",
        "max_snap_m",
        "detour_factor",
        "persona",
        "lsoa_vintage",
        "iod",
        "type_col",
    ):
        assert getattr(run, key) == getattr(sc, key), key
    assert run.minutes == cfg.DEFAULT_MINUTES == (15,)
    assert run.organisations == sc.organisations
    assert run.network_dataset == "osm_walk_network" and sc.network_path is None


def test_the_same_fault_gives_the_same_words_in_both() -> None:
    bad = {
        "coverage": {"speed_kmh": "fast"},
        "organisations": [{"path": "o.csv", "keep_outside_m": "lots"}],
    }
    with pytest.raises(ValidationError) as run_err:
        load_config({"area": {"lad_code": "E08000025"}, **bad})
    with pytest.raises(ValidationError) as sc_err:
        Scenario.from_dict({"name": "x", **bad})
    text = "[coverage] speed_kmh='fast' is str, not a number of km/h"
    assert text in str(run_err.value) and text in str(sc_err.value)
    assert "(and 1 more problem(s): [[organisations]] number 1 keep_outside_m)" in str(
        run_err.value
    )


@pytest.mark.parametrize(
    "raw, phrase",
    [
        ({"output": {"self_contained": "false"}}, "[output] self_contained='false' is text"),
        ({"output": {"self_contained": 0}}, "[output] self_contained=0 is a whole number"),
        ({"coverage": {"minutes": True}}, "minutes=True is a boolean"),
        ({"coverage": {"minutes": [15, True]}}, "minutes=True is a boolean"),
        ({"coverage": {"minutes": "15"}}, "[coverage] minutes='15'"),
        ({"coverage": {"minutes": [float("nan")]}}, "not a finite number"),
        ({"coverage": {"speed_kmh": "5"}}, "without quotes"),
        ({"area": {"lad_code": "E08000025", "lsoa_vintage": 2011.0}}, "lsoa_vintage=2011.0"),
        ({"area": {"lad_code": "E08000025", "iod": "2019"}}, "(write it without quotes)"),
        ({"area": {"lad_code": " e09000001 "}}, 'lad_code = "E09000001"'),
        ({"area": {"lad_code": "E08 000025"}}, "is not a LAD code"),
        ({"area": {"lad_code": True}}, "lad_code=True is a boolean"),
        ({"thin": {"min_share_covered": 1.5}}, "[thin] min_share_covered=1.5 must be a share"),
        ({"thin": {"domain": "wealth"}}, "[thin] domain='wealth' is neither an IoD index"),
        ({"thin": {"max_decile": True}}, "[thin] max_decile=True is a boolean"),
        ({"thin": {"cold_spots": "yes"}}, "[thin] cold_spots='yes' is text"),
        ({"organisations": [{"path": "o.csv", "sheet": -1}]}, "sheet=-1"),
        ({"organisations": [{"path": ""}]}, "path='' is empty"),
        (
            {"organisations": [{"path": "o.csv"}, {"label": "x"}]},
            "[[organisations]] number 2 has no path",
        ),
        ({"organisations": []}, "give the organisations"),
        ({"network": {"path": 3}}, "[network] path=3 is a number"),
    ],
)
def test_run_config_refusals(raw: dict, phrase: str) -> None:
    doc = {"area": {"lad_code": "E08000025"}, "organisations": "o.csv", **raw}
    with pytest.raises(ValidationError) as err:
        load_config(doc)
    text = str(err.value)
    assert phrase in text, text
    assert text.startswith("config: ") and "\n" not in text


def test_area_defaults_to_iod2025_on_2021_lsoas_and_iod2019_stays_selectable() -> None:
    def area(**a: object) -> tuple[int, int]:
        c = load_config({"area": {"lad_code": "E08000025", **a}, "organisations": "o.csv"})
        return c.lsoa_vintage, c.iod

    assert area() == (2021, 2025)  # as cnmap.load_area: current data by default
    assert area(iod=2025) == (2021, 2025) and area(lsoa_vintage=2021) == (2021, 2025)
    assert area(iod=2019) == (2011, 2019) and area(lsoa_vintage=2011) == (2011, 2019)
    assert area(lsoa_vintage=2021, iod=2019) == (2021, 2019)  # IoD2019 carried over to 2021
    with pytest.raises(
        ValidationError,
        match=r"\[area\] iod=2025 with lsoa_vintage=2011.*"
        "write lsoa_vintage = 2021",
    ):
        area(iod=2025, lsoa_vintage=2011)
    # scenario files share the defaults
    sc = Scenario.from_dict({"name": "x", "organisations": "o.csv"})
    assert (sc.iod, sc.lsoa_vintage) == (2025, 2021)


def test_area_population_and_postcodes_are_declared_choices() -> None:
    from typing import get_args

    from cnmap.data.loaders import POPULATION_SOURCES, POSTCODE_SOURCES

    c = load_config(
        {
            "area": {"lad_code": "E06000017", "population": "census2021", "postcodes": "codepoint"},
            "organisations": "o.csv",
        }
    )
    assert (c.population, c.postcodes) == ("census2021", "codepoint")
    assert (
        load_config({"area": {"lad_code": "E06000017"}, "organisations": "o.csv"}).population
        == "auto"
    )
    assert set(get_args(cfg.PopulationSource)) <= set(POPULATION_SOURCES)
    assert set(get_args(cfg.PostcodeSource)) == set(POSTCODE_SOURCES)
    for raw, phrase in (
        ({"population": "census"}, "population='census' is not one of"),
        ({"postcodes": True}, "postcodes=True is not one of"),
        (
            {"population": "census2021", "lsoa_vintage": 2011},
            "Census 2021 residents are counted on 2021 LSOAs",
        ),
    ):
        with pytest.raises(ValidationError, match=re.escape(phrase)):
            load_config({"area": {"lad_code": "E06000017", **raw}, "organisations": "o.csv"})
    # scenario files take both, by the same rules (cnmap compare loads the area with them)
    from cnmap.config import ScenarioFile, validate

    doc = validate(
        {
            "name": "x",
            "organisations": "o.csv",
            "area": {"population": "census2021", "postcodes": "nspl"},
        },
        ScenarioFile,
        where="s.toml",
    )
    assert doc.area.load_options() == {
        "lsoa_vintage": 2021,
        "iod": 2025,
        "population": "census2021",
        "postcodes": "nspl",
    }
    with pytest.raises(ValidationError, match=re.escape("[area] population='census' is not one")):
        Scenario.from_dict(
            {"name": "x", "organisations": "o.csv", "area": {"population": "census"}}
        )


@pytest.mark.parametrize(
    "network, phrase",
    [
        ({"build": "county"}, "[network] build='county' is not one of 'district'"),
        ({"build": "district", "path": "n.gpkg"}, "build='district' and path are both given"),
        ({"build": "district", "dataset": "osm_walk_network"}, "and dataset are both given"),
        ({"source": "x.osm.pbf"}, 'source set without build = "district"'),
        ({"build": "district", "buffer_m": -5}, "buffer_m=-5"),
    ],
)
def test_network_build_refusals(network: dict, phrase: str) -> None:
    with pytest.raises(ValidationError) as err:
        load_config(
            {"area": {"lad_code": "E06000017"}, "organisations": "o.csv", "network": network}
        )
    assert phrase in str(err.value), str(err.value)


def test_network_build_district_options(tmp_path: Path) -> None:
    c = load_config(
        {
            "area": {"lad_code": "E06000017"},
            "organisations": "o.csv",
            "network": {"build": "district"},
        }
    )
    assert (c.network_build, c.network_source, c.network_buffer_m) == ("district", "auto", 2000)
    assert c.network_dataset is None and c.network_path is None
    p = tmp_path / "run.toml"
    p.write_text(
        '[area]\nlad_code = "E06000017"\n[[organisations]]\npath = "o.csv"\n'
        '[network]\nbuild = "district"\nsource = "x/r.osm.pbf"\nbuffer_m = 2500\n',
        encoding="utf-8",
    )
    (tmp_path / "o.csv").write_text("name,lat,lon\nHall,52.67,-0.73\n", encoding="utf-8")
    c = load_config(p)
    assert c.network_source == str((tmp_path / "x" / "r.osm.pbf").resolve())
    assert c.network_buffer_m == 2500
    with pytest.raises(
        ValidationError,
        match=r"\[network\] source: OpenStreetMap extract .* "
        "does not exist",
    ):
        check_inputs(c)


def test_prepared_list_options() -> None:
    c = load_config(
        {
            "area": {"lad_code": "E06000017"},
            "organisations": [
                {
                    "path": "gp.csv",
                    "columns": ["code", "name", "postcode", "status"],
                    "keep": {"status": "A"},
                    "area_postcodes_only": True,
                    "id_col": "code",
                }
            ],
        }
    )
    src = c.organisations[0]
    assert src.columns == ("code", "name", "postcode", "status")
    assert src.keep == {"status": ("A",)} and src.area_postcodes_only and src.prepared
    assert src.options == {"id_col": "code"}  # the reader's options only
    for entry, phrase in (
        ({"columns": ["a"]}, "must be a list of the file's column names"),
        ({"columns": ["a", "a"]}, "'a' is given twice"),
        ({"columns": ["a", "b"], "keep": {"c": "x"}}, "keep names ['c'] but the columns"),
        ({"keep": {"status": 4}}, "keep.status=4 must be quoted text"),
        ({"keep": []}, "must be a table of column = value(s)"),
        ({"area_postcodes_only": "yes"}, "area_postcodes_only='yes' is text"),
        ({"area_postcodes_only": True, "coords": "latlon"}, 'use coords = "postcode"'),
    ):
        with pytest.raises(ValidationError) as err:
            load_config(
                {"area": {"lad_code": "E06000017"}, "organisations": [{"path": "o.csv", **entry}]}
            )
        assert phrase in str(err.value), str(err.value)


def test_long_values_and_keys_are_shortened() -> None:
    for raw in (
        {"coverage": {"speed_kmh": "x" * 100_000}},
        {"y" * 10_000: 1},
        {"coverage": {f"k{i}": 1 for i in range(1000)}},
    ):
        with pytest.raises(ValidationError) as err:
            load_config({"area": {"lad_code": "E08000025"}, "organisations": "o.csv", **raw})
        assert len(str(err.value)) < 400, str(err.value)


def test_values_keep_their_meaning() -> None:
    c = load_config(
        {
            "area": {"lad_code": " E08000025 "},
            "organisations": [
                {"path": "o.csv", "duplicate_within_m": 10, "sheet": 0, "encoding": "cp1252"}
            ],
            "coverage": {"minutes": [20, 5, 15.0, 5], "persona": "older"},
            "thin": {"minutes": 15.0, "max_decile": 3},
        }
    )
    assert c.lad_code == "E08000025"
    assert c.minutes == (5, 15, 20) and all(isinstance(m, int) for m in c.minutes)
    assert c.thin == {"minutes": 15, "max_decile": 3} and isinstance(c.thin["minutes"], int)
    assert c.organisations[0].options == {
        "duplicate_within_m": 10.0,
        "sheet": 0,
        "encoding": "cp1252",
    }
    assert c.persona == "older" and c.speed_kmh == 4.8  # the persona's speed is used by run()


def test_yaml_and_toml_hints_use_their_own_syntax(tmp_path: Path) -> None:
    y = tmp_path / "s.yaml"
    y.write_text("name: off\norganisations: o.csv\n", encoding="utf-8")
    with pytest.raises(
        ValidationError, match=r"YAML reads unquoted yes, no, on, off.*name: \"no\""
    ):
        Scenario.from_file(y)
    t = tmp_path / "s.toml"
    t.write_text('name = false\norganisations = "o.csv"\n', encoding="utf-8")
    with pytest.raises(ValidationError, match=r"quote it: name = \"False\""):
        Scenario.from_file(t)
    # in a true/false field, YAML's yes is the boolean it looks like
    r = tmp_path / "r.yaml"
    r.write_text(
        "area: {lad_code: E08000025}\norganisations: o.csv\noutput: {self_contained: yes}\n",
        encoding="utf-8",
    )
    assert load_config(r).self_contained is True


def test_empty_yaml_sections_are_empty_tables(tmp_path: Path) -> None:
    p = tmp_path / "run.yaml"
    p.write_text(
        "area: {lad_code: E08000025}\norganisations: o.csv\ncoverage:\n#  minutes: [10]\nthin:\n",
        encoding="utf-8",
    )
    c = load_config(p)
    assert c.minutes == (15,) and c.thin == {}
    p.write_text("area: {lad_code: E08000025}\norganisations:\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="give the organisations"):
        load_config(p)
    p.write_text("area:\norganisations: o.csv\n", encoding="utf-8")
    with pytest.raises(ValidationError, match=r"\[area\] needs lad_code"):
        load_config(p)


def test_a_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    p = tmp_path / "run.toml"
    p.write_bytes(
        b'\xef\xbb\xbf[area]\nlad_code = "E08000025"\n[[organisations]]\npath = "o.csv"\n'
    )
    assert load_config(p).lad_code == "E08000025"


def test_the_latin1_message_names_line_and_column(tmp_path: Path) -> None:
    p = tmp_path / "run.toml"
    p.write_bytes('[area]\nlad_code = "E08000025"\n# Caf\u00e9\n'.encode("latin-1"))
    with pytest.raises(ValidationError, match=r"byte 0xe9 at position 35 \(line 3, column 6\)"):
        load_config(p)


# ---------------------------------------------------------------------------------------------
# the schema follows the functions it configures


def _keyword_only(func: object) -> set[str]:
    return {
        n
        for n, p in inspect.signature(func).parameters.items()  # type: ignore[arg-type]
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }


def test_organisation_entries_offer_exactly_the_reader_options() -> None:
    from cnmap.io import read_organisations

    options = set(cfg.OrganisationEntry.model_fields) - set(cfg.OrganisationEntry.OWN_KEYS)
    assert options | {"type_col"} == _keyword_only(read_organisations) - {"area", "postcodes"}


def test_thin_section_offers_exactly_the_thin_areas_options() -> None:
    from cnmap.hotspots import METHODS, cold_spots
    from cnmap.thin import PROVISION_MEASURES, WARD_RULES, thin_areas

    assert set(cfg.ThinSection.model_fields) == _keyword_only(thin_areas)
    assert set(cfg.ColdSpotOptions.model_fields) <= _keyword_only(cold_spots)
    assert set(_choices(cfg.ThinSection, "ward_rule")) == set(WARD_RULES)
    assert set(_choices(cfg.ThinSection, "provision")) == set(PROVISION_MEASURES)
    assert set(_choices(cfg.ColdSpotOptions, "method")) == set(METHODS)


def _choices(model: type, name: str) -> tuple[object, ...]:
    """The Literal values a field declares."""
    from typing import get_args

    ann = model.model_fields[name].annotation  # type: ignore[attr-defined]
    return get_args(ann)


def test_declared_choices_match_the_library() -> None:
    from cnmap.coverage import MODES
    from cnmap.hours import REQUIRES, RULES, UNKNOWN, WEEKS
    from cnmap.residents import RESIDENT_METHODS

    assert _choices(cfg.CoverageSection, "mode") == MODES
    assert _choices(cfg.CoverageSection, "residents") == RESIDENT_METHODS
    assert _choices(cfg.FilterSection, "require") == REQUIRES
    assert _choices(cfg.FilterSection, "weeks") == WEEKS
    assert _choices(cfg.FilterSection, "rules") == RULES
    assert _choices(cfg.FilterSection, "unknown_hours") == UNKNOWN
    from typing import get_args

    from cnmap.io import CoordMode

    assert _choices(cfg.OrganisationEntry, "coords") == get_args(CoordMode)
    assert _choices(cfg.AreaSection, "lsoa_vintage") == (2011, 2021)
    assert _choices(cfg.AreaSection, "iod") == (2019, 2025)


def test_the_schema_is_declared_as_json_schema() -> None:
    schema = cfg.RunFile.model_json_schema()
    assert set(schema["properties"]) == {
        "area",
        "network",
        "coverage",
        "organisations",
        "thin",
        "output",
    }
    assert set(schema["required"]) == {"area", "organisations"}


# ---------------------------------------------------------------------------------------------
# docs/configuration.md: every block runs (python) or is accepted (toml, yaml)


def _blocks(text: str) -> list[tuple[str, str]]:
    return re.findall(r"^```(\w+)\n(.*?)^```", text, flags=re.S | re.M)


def test_configuration_page_blocks_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CNMAP_DATA_MIRROR", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    blocks = _blocks((ROOT / "docs" / "configuration.md").read_text(encoding="utf-8"))
    kinds = [k for k, _ in blocks]
    assert kinds.count("python") >= 2 and kinds.count("toml") >= 2 and "yaml" in kinds
    for i, (kind, code) in enumerate(blocks):
        if kind == "python":
            exec(compile(code, f"configuration.md block {i}", "exec"), {})
            continue
        path = tmp_path / f"block{i}.{kind}"
        path.write_text(code, encoding="utf-8")
        if code.lstrip().startswith("# scenario"):
            Scenario.from_file(path)
        else:
            load_config(path)
    assert "cnmap: error" not in capsys.readouterr().err
