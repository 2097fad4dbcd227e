"""District names and codes (resolve_lad, lad_table) and the report of missing datasets
(missing_datasets, describe_missing, fetch_area_data), on the real shared mirror."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

import cnmap
from cnmap.data import (
    describe_missing,
    fetch_area_data,
    lad_table,
    missing_datasets,
    resolve_lad,
)
from cnmap.errors import UnknownAreaError, ValidationError

LOOKUP = "england/lookups/WD24_LAD24_CTYUA24_RGN24_CTRY24_Lookup_UK_May2024.csv"


def test_lad_table_has_every_uk_district(shared_data):
    t = lad_table()
    raw = pd.read_csv(shared_data / LOOKUP, encoding="utf-8-sig", dtype=str)
    assert len(t) == raw["LAD24CD"].nunique() == 361
    assert int(t["english"].sum()) == 296
    assert t.set_index("lad_code").loc["E08000029", "lad_name"] == "Solihull"
    assert t.attrs["source"].removesuffix(" (cached)") == f"mirror:{LOOKUP}"


@pytest.mark.parametrize(
    ("given", "code"),
    [
        ("Solihull", "E08000029"),
        ("SOLIHULL", "E08000029"),
        ("  solihull ", "E08000029"),
        ("e08000029", "E08000029"),
        ("E06000017", "E06000017"),
        ("Rutland", "E06000017"),
        ("Bristol, City of", "E06000023"),  # ONS spelling
        ("Bristol", "E06000023"),
        ("City of Bristol", "E06000023"),
        ("Kingston upon Hull", "E06000010"),
        ("Brighton & Hove", "E06000043"),  # ONS: "Brighton and Hove"
        ("stockton on tees", "E06000004"),  # ONS: "Stockton-on-Tees"
        ("St. Albans", "E07000240"),
        ("Westminster", "E09000033"),
    ],
)
def test_resolve_lad(given, code):
    assert resolve_lad(given) == code


def test_resolve_lad_is_exported_at_the_top():
    assert cnmap.resolve_lad("Birmingham") == "E08000025"


@pytest.mark.parametrize(
    ("given", "pattern"),
    [
        (
            "W06000015",
            r"W06000015 \(Cardiff\) is a local authority in Wales; cnmap covers "
            r"English districts only",
        ),
        ("w06000015", r"W06000015 \(Cardiff\) is a local authority in Wales"),
        ("Cardiff", r"W06000015 \(Cardiff\) is a local authority in Wales"),
        ("S12000033", r"\(Aberdeen City\) is a local authority in Scotland"),
        ("E08999999", r"E08999999 is not an English local authority district of mirror:"),
        (
            "Solihul",
            r"no English local authority district is called 'Solihul'.*did you mean "
            r"Solihull \(E08000029\)\?",
        ),
        ("Birmingam", r"did you mean Birmingham \(E08000025\)"),
        (
            "Xyzzyx",
            r"no English local authority district is called 'Xyzzyx'.*give the name "
            r"as ONS spells it",
        ),
    ],
)
def test_resolve_lad_refuses_clearly(given, pattern):
    with pytest.raises(UnknownAreaError, match=pattern):
        resolve_lad(given)


@pytest.mark.parametrize(
    ("given", "pattern"),
    [
        ("", r"give a district name or code"),
        (8000029, r"give a district name or code"),
        ("E05011118", r"an electoral ward code \(E05\)"),
    ],
)
def test_resolve_lad_bad_input(given, pattern):
    with pytest.raises(ValidationError, match=pattern):
        resolve_lad(given)


# ------------------------------------------------------------------------ missing datasets


def test_nothing_missing_where_the_mirror_has_everything(shared_data):
    assert missing_datasets("E06000017", network=True) == []  # Rutland: even an OSM extract
    assert missing_datasets("E08000025") == []
    assert describe_missing("E08000025", []).endswith("every dataset the run needs is at hand.")


def test_missing_walk_network_for_another_district(shared_data):
    missing = missing_datasets("e08000029", network=True)
    assert [m.role for m in missing] == ["walk network (or an OSM extract to build it)"]
    m = missing[0]
    assert m.dataset == "osm_walk_network" and m.alternatives == ("osm_extract",)
    assert m.mirror_paths == () and not m.downloadable
    assert m.url.startswith("https://download.geofabrik.de/")
    text = describe_missing("E08000029", missing)
    assert "add a [[mirror]] entry for dataset 'osm_walk_network'" in text


def test_every_missing_dataset_is_reported_at_once(tmp_path, monkeypatch, shared_data):
    # a mirror with nothing for Solihull: every need is reported, each with URL and path
    empty = tmp_path / "empty"
    (empty / "birmingham").mkdir(parents=True)
    src = shared_data / "birmingham" / "wards.geojson"
    shutil.copy(src, empty / "birmingham" / src.name)
    monkeypatch.setenv("CNMAP_DATA_MIRROR", str(empty))
    monkeypatch.setenv("CNMAP_CACHE_DIR", str(tmp_path / "cache"))
    missing = missing_datasets("E08000029")
    by_role = {m.role: m for m in missing}
    assert list(by_role) == [
        "LSOA 2021 to ward to LAD lookup",
        "ward boundaries",
        "LSOA 2021 boundaries",
        "IoD2025 deprivation",
        "IoD2025 sub-domains",
        "population",
        "postcode lookup",
    ]
    lookup = by_role["LSOA 2021 to ward to LAD lookup"]
    assert "LAD24CD%3D%27E08000029%27" in lookup.url and lookup.downloadable
    assert lookup.mirror_paths == (
        "solihull/solihull_lookup_lsoa21_wd24_lad24_ONS.csv",
        "england/lookups/lookup_lsoa21_ward24_ltla24_ew.csv",
    )
    iod = by_role["IoD2025 deprivation"]
    assert iod.dataset == "iod2025_file7" and "File_7_IoD2025" in iod.url
    assert iod.mirror_paths[0] == "birmingham/iod2025/iod2025_file7_birmingham_solihull.csv"
    assert "england/iod2025/imd2025_england_lsoa21.csv" in iod.mirror_paths
    text = describe_missing("E08000029", missing)
    assert text.startswith("E08000029: 7 dataset(s) the run needs are not at hand:")
    assert text.count("\n- ") == 7 and "downloads are off (CNMAP_OFFLINE=1)" in text
    records, still = fetch_area_data("E08000029")
    assert records == [] and [m.role for m in still] == list(by_role)


def test_missing_datasets_follow_the_options(shared_data):
    from cnmap.data.needs import area_needs

    roles = [n.role for n in area_needs(lsoa_vintage=2011, iod=2019, postcodes=False)]
    assert roles == [
        "LSOA 2021 to ward to LAD lookup",
        "ward boundaries",
        "LSOA 2011 boundaries",
        "IoD2019 deprivation (File 7)",
    ]
    census = [n for n in area_needs(population="census2021") if n.role == "population"]
    assert census[0].candidates == ("census2021_rm121",)
    with pytest.raises(ValidationError, match=r"population='everyone'"):
        missing_datasets("E08000029", population="everyone")


def test_parquet_without_pyarrow_is_named(shared_data):
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        missing = missing_datasets("E09000033")
        assert [m.role for m in missing] == ["postcode lookup"]
        assert "reading it needs pyarrow" in missing[0].note
        return
    assert missing_datasets("E09000033") == []


def test_fetch_area_data_gets_every_file_of_rutland(shared_data):
    records, still = fetch_area_data("E06000017", network=True)
    assert still == []
    got = {r.dataset: r.read_from.removesuffix(" (cached)") for r in records}
    assert got["iod2025_domains"] == "mirror:rutland/rutland_imd2025_lsoa21.csv"
    assert got["osm_extract"] == "mirror:rutland/osm/rutland-latest_geofabrik_2018-02.osm.pbf"
    assert got["census2021_rm121"].startswith("mirror:rutland/")
    assert all(r.path.is_file() for r in records)
