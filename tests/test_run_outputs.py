"""What ``cnmap run`` writes, wired from the pieces: who is served, the equity figure, the
catchments made once, the map's options and the organisations read.

The outputs are written by :func:`cnmap.pipeline.write_outputs` for a hand-made street (the
``tests/test_thin.py`` street: four LSOAs 500 m long, residents 10 m off the street) whose LSOAs
carry four real Birmingham LSOA 2021 codes, so that the need layers of the data mirror (Census
2021, DERI) are read for them. The Birmingham run itself is checked in ``tests/test_cli.py``.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import cnmap.export
import cnmap.maps
from cnmap.coverage import CoverageResult, coverage
from cnmap.errors import ValidationError
from cnmap.pipeline import (
    RunParts,
    group_table_for_people,
    load_config,
    map_organisations,
    map_what,
    organisations_read_tables,
    planned_steps,
    who_is_served,
    write_methods,
    write_outputs,
)
from cnmap.thin import thin_areas

ROOT = Path(__file__).resolve().parents[1]
#: Four Birmingham LSOAs (2021), in the order of the street's LSOAs A, B, C, D.
CODES = ["E01008881", "E01008882", "E01008883", "E01008884"]


def _street_module() -> Any:
    spec = importlib.util.spec_from_file_location("thin_street", ROOT / "tests" / "test_thin.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


T = _street_module()


def _street_area(codes: list[str], lad_code: str) -> Any:
    """The street's area with the given LSOA codes, on 2021 LSOAs and the IoD2025."""
    area = T.street_area(iod=2025)
    renamed = dict(zip([T.A, T.B, T.C, T.D], codes, strict=True))
    lsoas = area.lsoas.assign(
        lsoa_code=area.lsoas["lsoa_code"].map(renamed),
        lsoa_name=area.lsoas["lsoa_name"].map(renamed),
    )
    return type(area)(
        lad_code=lad_code,
        lad_name="Street",
        wards=area.wards,
        lsoas=lsoas,
        boundary=area.boundary,
        lookup=lsoas[["lsoa_code", "ward_code"]],
        sources=area.sources,
        iod=2025,
        lsoa_vintage=2021,
    )


def _residents(codes: list[str]) -> Any:
    res = T.street_residents()
    return res.assign(
        lsoa_code=res["lsoa_code"].map(dict(zip([T.A, T.B, T.C, T.D], codes, strict=True)))
    )


def _config(tmp: Path, **output: Any) -> Any:
    return load_config(
        {
            "area": {"lad_code": "E08000025"},
            "organisations": [
                {"path": "warm.csv", "label": "Warm spaces"},
                {"path": "banks.csv", "label": "GP practices"},
            ],
            "coverage": {"minutes": [5, 10, 15]},
            "output": {"dir": str(tmp), **output},
        }
    )


@pytest.fixture(scope="module")
def street_run(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """write_outputs on the street, in network mode, with spies on the catchments and on what
    the tables and the map are given."""
    out = tmp_path_factory.mktemp("street_run")
    area = _street_area(CODES, "E08000025")
    orgs = T.orgs_at([0], types=["warm_space"]).assign(postcode=["B1 1AA"])
    cov = coverage(orgs, area, network=T.street(), residents=_residents(CODES), minutes=[5, 10, 15])
    thin = thin_areas(cov)
    config = _config(out, type_labels={"warm_space": "Place of welcome"})
    served = who_is_served(area, cov)
    summary = pd.DataFrame(
        {
            "dataset": ["Warm spaces", "GP practices"],
            "file": ["/some/folder/warm.csv", "/elsewhere/banks.csv"],
            "rows": [3, 1],
            "matched": [1, 0],
            "rejected": [2, 1],
            "match_rate": [1 / 3, 0.0],
            "notes": ["", ""],
        }
    )
    rejected = pd.DataFrame(
        {
            "dataset": ["Warm spaces"] * 2 + ["GP practices"],
            "file": ["/some/folder/warm.csv"] * 2 + ["/elsewhere/banks.csv"],
            "reason": ["missing_coordinates"] * 3,
        }
    )
    calls: dict[str, list[Any]] = {"catchments": [], "export": [], "map": []}
    real_catchments = CoverageResult.catchments
    real_export, real_map = cnmap.export.export_coverage, cnmap.maps.coverage_map

    def catchments(self: CoverageResult, *args: Any, **kw: Any) -> Any:
        made = real_catchments(self, *args, **kw)
        calls["catchments"].append(made)
        return made

    def export(*args: Any, **kw: Any) -> Any:
        calls["export"].append(kw)
        return real_export(*args, **kw)

    def coverage_map(*args: Any, **kw: Any) -> Any:
        calls["map"].append(kw)
        return real_map(*args, **kw)

    steps: list[dict[str, Any]] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(CoverageResult, "catchments", catchments)
        mp.setattr(cnmap.export, "export_coverage", export)
        mp.setattr(cnmap.maps, "coverage_map", coverage_map)
        paths = write_outputs(
            config, RunParts(area, cov, thin, None, summary, rejected, served), steps, None
        )
    return {
        "out": out,
        "paths": paths,
        "steps": steps,
        "calls": calls,
        "served": served,
        "cov": cov,
        "config": config,
        "area": area,
    }


# ---------------------------------------------------------------------------------------------
# who is served


def _mirror_counts(shared: Path, table: str, column: str, value: str) -> pd.Series:
    frame = pd.read_csv(shared / "birmingham" / "census2021" / table)
    rows = frame[frame[column] == value].set_index("lsoa21_code")["n"]
    return rows.reindex(CODES)


@pytest.mark.slow
def test_who_is_served_table_is_written_with_the_report_groups(
    street_run: dict[str, Any], shared_data: Path
) -> None:
    table = pd.read_csv(street_run["out"] / "tables" / "who_is_served.csv")
    assert (
        street_run["paths"]["who_is_served"] == street_run["out"] / "tables" / "who_is_served.csv"
    )
    assert set(table["layer"]) == {
        "ethnic_group",
        "disability",
        "household_deprivation",
        "age",
        "deri_score_bands",
    }
    assert {
        "ethnic_asian",
        "ethnic_minority",
        "disabled",
        "households_deprived_2plus",
        "age_75_plus",
        "deri_score_q5",
    } <= set(table["group"])
    assert list(table.columns[-2:]) == ["share_covered (%)", "gap_vs_all (percentage points)"]
    # by hand: within 5 minutes (400 m) only the resident at x = 50 m is reached, half of the
    # first LSOA's people; so half its Asian residents, none of the other LSOAs'
    asian = _mirror_counts(
        shared_data,
        "census2021_ts021_ethnic_group_bsol_lsoa21.csv",
        "ethnic_group",
        "Asian, Asian British or Asian Welsh",
    )
    row = table[(table["group"] == "ethnic_asian") & (table["minutes"] == 5)].iloc[0]
    assert row["residents"] == asian.sum()
    assert row["covered"] == round(asian.iloc[0] / 2)
    assert row["share_covered (%)"] == pytest.approx(
        round(100 * asian.iloc[0] / 2 / asian.sum(), 1)
    )
    disabled = _mirror_counts(
        shared_data,
        "census2021_ts038_disability_bsol_lsoa21.csv",
        "disability",
        "Disabled under the Equality Act",
    )
    row = table[(table["group"] == "disabled") & (table["minutes"] == 5)].iloc[0]
    assert (row["residents"], row["covered"]) == (disabled.sum(), round(disabled.iloc[0] / 2))


@pytest.mark.slow
def test_who_is_served_figure_and_the_equity_figure(street_run: dict[str, Any]) -> None:
    figures = street_run["out"] / "figures"
    for name in ("who_is_served", "coverage_by_imd_decile"):
        assert (figures / f"{name}.png").stat().st_size > 10_000, name
        assert (figures / f"{name}.pdf").is_file()
        assert figures / f"{name}.png" in street_run["paths"]["figures"]


@pytest.mark.slow
def test_who_is_served_in_methods_and_run_json(street_run: dict[str, Any]) -> None:
    methods = (street_run["out"] / "methods.md").read_text(encoding="utf-8")
    assert "## Who is served" in methods and "tables/who_is_served.csv" in methods
    assert "Census 2021 TS021" in methods and "Digital Exclusion Risk Index" in methods
    record = json.loads((street_run["out"] / "run.json").read_text(encoding="utf-8"))
    served = record["who_is_served"]
    assert served["table"] == "tables/who_is_served.csv" and served["note"] is None
    assert [ly["id"] for ly in served["layers"]] == [
        "layer:ethnic_group",
        "layer:disability",
        "layer:household_deprivation",
        "layer:age",
        "layer:deri_score_bands",
    ]


def test_outside_the_layers_the_run_goes_on_with_a_note(shared_data: Path, tmp_path: Path) -> None:
    """LSOAs the Census tables of the mirror do not cover: no table, a note saying why."""
    area = T.street_area(iod=2019)  # E01000001-4: Camden, not in the mirror's Census tables
    cov = coverage(
        T.orgs_at([0]), area, network=T.street(), residents=T.street_residents(), minutes=[5]
    )
    served = who_is_served(area, cov)
    assert served.table is None and served.layers == ()
    assert served.note is not None and served.note.startswith(
        "not computed for Street: the need layers do not cover it"
    )
    assert "E01000001" in served.note
    config = _config(tmp_path)
    text = write_methods(
        tmp_path / "methods.md",
        config,
        cov,
        None,
        pd.DataFrame({"dataset": ["a"], "rows": [1]}),
        pd.DataFrame(),
        [],
        served=served,
    ).read_text(encoding="utf-8")
    assert "## Who is served\n\n- Not computed for Street: the need layers do not cover it" in text


def test_group_table_for_people_rounds_counts_and_states_units() -> None:
    table = pd.DataFrame(
        {
            "layer": ["x", "x"],
            "group": ["all", "g"],
            "unit": ["residents"] * 2,
            "residents": [1000.4, 250.5],
            "covered_a": [900.2, 200.0],
            "covered_b": [950.0, 249.5],
            "gained": [60.0, 49.5],
            "lost": [10.2, 0.0],
            "net_change": [49.8, 49.5],
            "share_covered_a": [0.9, 0.8],
            "share_covered_b": [0.95, 0.996],
            "share_change": [0.05, 0.196],
            "gap_vs_all_a": [0.0, -0.1],
            "gap_vs_all_b": [0.0, 0.046],
        }
    )
    out = group_table_for_people(table)
    assert out["residents"].tolist() == [1000, 251] and out["lost"].tolist() == [10, 0]
    assert out["share_covered_b (%)"].tolist() == [95.0, 99.6]
    assert out["share_change (percentage points)"].tolist() == [5.0, 19.6]
    assert out["gap_vs_all_a (percentage points)"].tolist() == [0.0, -10.0]
    assert "share_covered_a" not in out.columns and table["residents"].iloc[0] == 1000.4


# ---------------------------------------------------------------------------------------------
# catchments once; the map's options


@pytest.mark.slow
def test_catchments_are_made_once_for_the_tables_and_the_map(street_run: dict[str, Any]) -> None:
    calls = street_run["calls"]
    assert len(calls["catchments"]) == 1
    made = calls["catchments"][0]
    assert calls["export"][0]["catchments"] is made and calls["map"][0]["catchments"] is made
    assert [s["step"] for s in street_run["steps"]] == planned_steps(street_run["config"])[-7:]
    assert planned_steps(street_run["config"])[-7] == "catchments"


def test_straight_line_runs_make_no_catchments(tmp_path: Path) -> None:
    crow = load_config(
        {
            "area": {"lad_code": "X"},
            "organisations": "o.csv",
            "coverage": {"mode": "crow_flies", "detour_factor": 1.3},
        }
    )
    assert "catchments" not in planned_steps(crow)
    assert "calibrate detour factor" not in planned_steps(crow)
    assert "load walk network" not in planned_steps(crow)
    calibrated = load_config(
        {"area": {"lad_code": "X"}, "organisations": "o.csv", "coverage": {"mode": "crow_flies"}}
    )
    assert {"load walk network", "calibrate detour factor"} <= set(planned_steps(calibrated))


@pytest.mark.slow
def test_the_map_gets_labels_what_and_postcode_checks(street_run: dict[str, Any]) -> None:
    kw = street_run["calls"]["map"][0]
    assert kw["type_labels"] == {"warm_space": "Place of welcome"}
    assert kw["what"] == "warm spaces and GP practices"
    # the street has no postcode lookup: the organisations are drawn as they are (with a
    # lookup they are checked: test_map_organisations_rings_those_far_from_their_postcode)
    assert kw["organisations"] is street_run["cov"].organisations
    html = (street_run["out"] / "street_coverage_map.html").read_text(encoding="utf-8")
    assert (
        "<title>Street: who can walk to warm spaces and GP practices in 15 minutes</title>" in html
    )
    assert "Place of welcome" in html


@pytest.mark.slow
def test_map_organisations_rings_those_far_from_their_postcode(shared_data: Path) -> None:
    import cnmap

    area = cnmap.load_area("E08000025")
    # the same place twice: once at its postcode (B1 1BB, Birmingham), once 3 km east of it
    from cnmap.postcodes import PostcodeLookup

    at = PostcodeLookup(area=area).geocode(pd.Series(["B1 1BB"]))
    x, y = float(at["easting"].iat[0]), float(at["northing"].iat[0])
    orgs = T.orgs_at([0, 0]).assign(postcode=["B1 1BB", "B1 1BB"])
    orgs = orgs.set_geometry(gpd_points([(x, y), (x + 3000, y)]))
    joined = map_organisations(type("Cov", (), {"organisations": orgs})(), area)
    assert joined["far_from_postcode"].tolist() == [False, True]
    assert joined["postcode_distance_m"].round().tolist() == [0, 3000]
    street = _FakeResult(_street_area(CODES, "E08000025"))
    html = (
        cnmap.maps.coverage_map(street, organisations=joined, catchments=False, tiles=None)
        .get_root()
        .render()
    )
    assert "placed 3.0 km from the centre of its address postcode B1 1BB" in html


def gpd_points(xy: list[tuple[float, float]]) -> Any:
    import geopandas as gpd
    from shapely.geometry import Point

    return gpd.GeoSeries([Point(a, b) for a, b in xy], crs="EPSG:27700")


class _FakeResult:
    """The least a map needs: wards, LSOAs with a share column, thresholds."""

    def __init__(self, area: Any) -> None:
        self.area = area
        self.wards = area.wards.assign(share_covered_15min=0.9)
        self.lsoas = area.lsoas.assign(share_covered_15min=0.9)
        self.thresholds = (15,)
        self.organisations = None


@pytest.mark.parametrize(
    "labels, what",
    [
        (["Warm spaces"], "warm spaces"),
        (["Public libraries", "GP practices"], "public libraries and GP practices"),
        (
            ["Warm spaces", "Report organisations", "Food banks", "Warm spaces"],
            "warm spaces, report organisations and food banks",
        ),
        ([], "organisations"),
    ],
)
def test_map_what_from_the_labels(labels: list[str], what: str) -> None:
    assert map_what(labels) == what


def test_type_labels_are_checked(tmp_path: Path) -> None:
    cfg = _config(tmp_path, type_labels={"food_bank": "  Food   bank "})
    assert cfg.type_labels == {"food_bank": "Food bank"}
    assert _config(tmp_path).type_labels == {}
    for bad, match in (
        (["a"], "must be a table of type"),
        ({"food_bank": 3}, r"food_bank=3 is a whole number, not a readable name"),
        ({"food_bank": ""}, "not a readable name"),
        ({}, "must be a table"),
    ):
        with pytest.raises(ValidationError, match=rf"\[output\] type_labels.*{match}"):
            _config(tmp_path, type_labels=bad)


# ---------------------------------------------------------------------------------------------
# organisations read


@pytest.mark.slow
def test_organisations_read_for_people(street_run: dict[str, Any]) -> None:
    read = pd.read_csv(street_run["out"] / "organisations" / "organisations_read.csv")
    assert read["file"].tolist() == ["warm.csv", "banks.csv"]
    assert read["match_rate (%)"].tolist() == [33.3, 0.0]
    rejected = pd.read_csv(street_run["out"] / "organisations" / "rejected_organisations.csv")
    assert set(rejected["file"]) == {"warm.csv", "banks.csv"}
    for path in (
        street_run["out"] / "methods.md",
        street_run["out"] / "organisations" / "organisations_read.csv",
    ):
        assert "/some/folder" not in path.read_text(encoding="utf-8")


def test_organisations_read_tables_leave_the_run_summary_alone() -> None:
    summary = pd.DataFrame({"dataset": ["a"], "file": ["/x/y/a.csv"], "match_rate": [0.5]})
    tables = organisations_read_tables(summary, pd.DataFrame())
    assert tables["organisations_read"].to_dict("records") == [
        {"dataset": "a", "file": "a.csv", "match_rate (%)": 50.0}
    ]
    assert summary["file"].iat[0] == "/x/y/a.csv" and tables["rejected_organisations"].empty
