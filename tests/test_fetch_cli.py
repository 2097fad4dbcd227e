"""``cnmap fetch CODE-or-NAME`` and ``cnmap mirror``, offline from the data mirror.

A name, a lower-case code, a Welsh code and an unknown code or name each get a clear answer;
what is missing is listed all at once (publisher URL and mirror path), exit 3; the mirror's
layout comes from the catalogue and ``docs/mirror.md`` shows all of it; a cache folder the user
must fix is bad input (exit 2).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cnmap.cli import main

ROOT = Path(__file__).resolve().parents[1]


def _fetch(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["fetch", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("cnmap: error: ") and "Traceback" not in err
    return lines[0]


def test_fetch_by_name_gets_everything_a_run_needs(
    shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _fetch(capsys, "Rutland")
    assert code == 0, err
    assert out.startswith(
        "Rutland (E06000017): data for a run on IoD2025, 2021 LSOAs, "
        "population auto, postcodes auto, walk network"
    )
    fetched = dict(re.findall(r"^  fetched  (\S+)\s+(.+)$", out, flags=re.M))
    assert fetched["wards"].startswith("mirror:rutland/rutland_wd24_bgc_wgs84.geojson")
    assert fetched["iod2025_domains"].startswith("mirror:rutland/rutland_imd2025_lsoa21.csv")
    assert fetched["census2021_rm121"].startswith("mirror:rutland/")
    assert fetched["codepoint_open"].startswith("mirror:rutland/rutland_codepo_2025.4")
    assert fetched["osm_extract"].startswith(
        "mirror:rutland/osm/rutland-latest_geofabrik_2018-02.osm.pbf"
    )
    assert "every dataset the run needs is in the cache" in out


def test_fetch_takes_a_lower_case_code(
    shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _fetch(capsys, "e06000017", "--no-network")
    assert code == 0, err
    assert out.startswith("Rutland (E06000017): ") and "walk network" not in out.splitlines()[0]
    assert "osm_extract" not in out


@pytest.mark.parametrize(
    "area, phrases",
    [
        (
            "W06000015",
            [
                "W06000015 (Cardiff) is a local authority in Wales",
                "cnmap covers English districts only",
            ],
        ),
        ("Cardiff", ["Cardiff) is a local authority in Wales"]),
        (
            "E08000092",
            [
                "E08000092 is not an English local authority district",
                "close codes:",
                "E08000029 (Solihull)",
            ],
        ),
        (
            "Solihul",
            [
                "no English local authority district is called 'Solihul'",
                "did you mean Solihull (E08000029)?",
            ],
        ),
        ("E05011118", ["ward"]),
    ],
)
def test_fetch_refuses_areas_it_does_not_cover_in_one_line(
    shared_data: Path, capsys: pytest.CaptureFixture[str], area: str, phrases: list[str]
) -> None:
    code, out, err = _fetch(capsys, area)
    assert code == 2
    line = _one_error_line(err)
    for phrase in phrases:
        assert phrase in line, line
    assert out == ""


def test_fetch_lists_what_is_missing_with_url_and_mirror_path(
    shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Solihull: everything is in the mirror but a walk network (Birmingham's only reaches
    its western part, and no extract is catalogued for it)."""
    code, out, err = _fetch(capsys, "Solihull")
    assert code == 3
    assert "E08000029: 1 dataset(s) the run needs are not at hand:" in out
    assert (
        "- walk network (or an OSM extract to build it): osm_walk_network (or: osm_extract)" in out
    )
    assert "URL: https://download.geofabrik.de/" in out
    assert "Mirror path: none in the catalogue for E08000029: add a [[mirror]] entry" in out
    assert '[network] build = "district"' in out  # the other way to get it
    line = _one_error_line(err)
    assert "1 dataset(s) Solihull (E08000029) needs are not at hand" in line
    assert "CNMAP_DATA_MIRROR" in line


def test_fetch_reports_all_missing_datasets_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Nothing at hand (an empty mirror and cache): every need is listed, each with its
    publisher URL and the catalogue's mirror path for the district; the code is used as given
    when the ONS district list itself is missing."""
    (tmp_path / "mirror").mkdir()
    monkeypatch.setenv("CNMAP_DATA_MIRROR", str(tmp_path / "mirror"))
    monkeypatch.setenv("CNMAP_CACHE_DIR", str(tmp_path / "cache"))
    code, out, err = _fetch(capsys, "e06000017")
    assert code == 3
    items = re.findall(r"^- (.+?): (\w+)", out, flags=re.M)
    assert [d for _, d in items] == [
        "lsoa2021_ward_lookup",
        "wards",
        "lsoa2021",
        "iod2025_file7",
        "iod2025_file7",
        "iod2025_file7",
        "postcodes",
        "osm_walk_network",
    ]
    assert out.count("URL: ") == len(items) and out.count("Mirror path: ") == len(items)
    for path in (
        "rutland/rutland_lookup_lsoa21_wd24_lad24_ONS.csv",
        "rutland/rutland_wd24_bgc_wgs84.geojson",
        "rutland/rutland_imd2025_lsoa21.csv",
        "rutland/rutland_census2021_RM121_population_lsoa21.csv",
        "rutland/osm/rutland-latest_geofabrik_2018-02.osm.pbf",
    ):
        assert path in out
    assert f"{len(items)} dataset(s) E06000017 needs are not at hand" in _one_error_line(err)


def test_fetch_iod2019_alone_means_2011_lsoas(
    shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _fetch(capsys, "Rutland", "--iod", "2019", "--no-network")
    assert code == 3  # the mirror has the IoD2019 for Birmingham and Warrington only
    assert out.startswith("Rutland (E06000017): data for a run on IoD2019, 2011 LSOAs")
    assert "- IoD2019 deprivation (File 7): iod2019_file7" in out
    assert "- LSOA 2011 boundaries: lsoa2011" in out
    code, out, err = _fetch(capsys, "Rutland", "--iod", "2025", "--lsoa-vintage", "2011")
    assert code == 2
    assert "the IoD2025 is published on 2021 LSOAs" in _one_error_line(err)


def test_a_cache_folder_to_fix_is_bad_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cnmap import errors, settings

    assert settings.CacheFolderError is errors.CacheFolderError
    assert issubclass(errors.CacheFolderError, errors.DataFetchError)
    blocker = tmp_path / "cache_is_a_file"
    blocker.write_text("mine", encoding="utf-8")
    monkeypatch.setenv("CNMAP_CACHE_DIR", str(blocker))
    code, out, err = _fetch(capsys, "Rutland")
    assert code == 2
    line = _one_error_line(err)
    assert "cannot use its cache folder" in line and "CNMAP_CACHE_DIR" in line
    assert blocker.read_text(encoding="utf-8") == "mine"
    # and during a run
    orgs = tmp_path / "orgs.csv"
    orgs.write_text("name,lat,lon\nOakham library,52.67,-0.73\n", encoding="utf-8")
    config = tmp_path / "run.toml"
    config.write_text(
        f'[area]\nlad_code = "E06000017"\n[[organisations]]\npath = "{orgs}"\n', encoding="utf-8"
    )
    assert main(["run", str(config), "--out", str(tmp_path / "o"), "-q"]) == 2
    assert "cannot use its cache folder" in _one_error_line(capsys.readouterr().err)
    import cnmap.cli

    assert "(:class:`cnmap.errors.CacheFolderError`" in (cnmap.cli.__doc__ or "")


# ---------------------------------------------------------------------------------------------
# cnmap mirror and docs/mirror.md


def test_mirror_command_prints_the_catalogues_layout(
    shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cnmap.mirror_layout import mirror_layout

    assert main(["mirror"]) == 0
    out = capsys.readouterr().out
    table = mirror_layout()
    assert len(table) >= 40
    for folder in set(table["folder"]):
        assert f"\n{folder}\n" in out
    for _, r in table.iterrows():
        assert re.search(rf"\[x\] {re.escape(r['file'])}\s+{r['dataset']}  \(", out), r["path"]
    assert (
        "epraccur_2019-11-19.csv                    gp_practices_epraccur  (every district)" in out
    )


def test_mirror_command_for_one_district(
    shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["mirror", "--lad", "rutland"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("mirror files serving Rutland (E06000017)")
    assert re.search(r"\[x\] wards\s+rutland/rutland_wd24_bgc_wgs84.geojson", out)
    assert re.search(r"\[x\] osm_extract\s+rutland/osm/rutland-latest_geofabrik", out)
    assert re.search(r"\[x\] lsoa2021_bsc\s+rutland/", out)  # its own file before England's
    assert re.search(r"\[ \] osm_walk_network\s+\(none in the catalogue\)", out)


def test_mirror_page_shows_every_catalogued_file() -> None:
    from cnmap.mirror_layout import layout_lines, mirror_layout

    page = (ROOT / "docs" / "mirror.md").read_text(encoding="utf-8")
    block = re.search(r"```text\n(.*?)```", page, flags=re.S)
    assert block is not None
    assert block.group(1).splitlines() == layout_lines(mirror_layout())
