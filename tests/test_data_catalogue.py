"""The data catalogue: entries, real URLs, mirror layout, column normalisation."""

from __future__ import annotations

import hashlib
import os
import urllib.parse
from pathlib import Path

import pandas as pd
import pytest

from cnmap.data import catalogue, normalise_columns, sources_table
from cnmap.data.catalogue import (
    MIRROR_MANIFEST,
    catalogue_path,
    mirror_dirs,
    mirror_entries,
    parse_catalogue,
)
from cnmap.errors import ValidationError

ROOT = Path(__file__).resolve().parents[1]

EXPECTED = {
    "wards",
    "wards_bsc",
    "lsoa2011",
    "lsoa2021",
    "lsoa2021_bsc",
    "lad_boundaries",
    "lsoa2021_ward_lookup",
    "ward_lad_lookup",
    "lsoa2011_lsoa2021_lookup",
    "lsoa2011_ward_bestfit",
    "iod2019_file7",
    "iod2025_file7",
    "iod2025_domains",
    "iod2025_subdomains",
    "census2021_rm121",
    "postcodes",
    "codepoint_open",
    "libraries_ace",
    "gp_practices_epraccur",
    "osm_extract",
    "osm_boundary",
    "osm_walk_network",
}
PUBLISHER_HOSTS = {
    "services1.arcgis.com",  # ONS Open Geography Portal feature services
    "assets.publishing.service.gov.uk",  # gov.uk (MHCLG)
    "www.arcgis.com",  # ONS NSPL item
    "www.nomisweb.co.uk",  # ONS Census 2021 tables
    "api.os.uk",  # Ordnance Survey downloads (Code-Point Open)
    "digital.nhs.uk",  # NHS Organisation Data Service
    "github.com",  # Libraries Hacked's filtered Arts Council England list
    "overpass-api.de",
    "download.geofabrik.de",  # OpenStreetMap
}


def test_catalogue_is_read_from_the_repository_in_an_editable_checkout():
    assert catalogue_path() == ROOT / "data" / "boundaries" / "catalogue.toml"
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"data/boundaries/catalogue.toml" = "cnmap/data/catalogue.toml"' in pyproject


def test_every_official_source_is_declared_with_provenance():
    cat = catalogue()
    assert set(cat) == EXPECTED
    for ds in cat.values():
        assert ds.title and ds.publisher and ds.licence and ds.attribution, ds.id
        assert (
            ds.vintage
            and ds.crs
            and ds.url_kind in {"direct", "arcgis_query", "landing_page", "derived"}
        ), ds.id
        if ds.url:
            parts = urllib.parse.urlsplit(ds.url)
            assert parts.scheme == "https" and parts.hostname in PUBLISHER_HOSTS, ds.url
    assert cat["iod2019_file7"].url.endswith(
        "/file/845345/File_7_-_All_IoD2019_Scores__Ranks__Deciles_and_Population_Denominators_3.csv"
    )
    assert "File_7_IoD2025" in cat["iod2025_file7"].url
    assert "ESMARspQHYMw9BZ9" in cat["wards"].url and "{lad_code}" in cat["wards"].url
    assert cat["lsoa2011_ward_bestfit"].derived and cat["lsoa2011_ward_bestfit"].url == ""
    assert cat["osm_boundary"].licence == "ODbL-1.0"
    assert "OpenStreetMap" in cat["osm_walk_network"].attribution
    assert cat["postcodes"].format == "zip" and cat["postcodes"].member.endswith("_UK.csv")
    assert not cat["osm_boundary"].downloadable and cat["iod2019_file7"].downloadable
    # IoD2025: the official File 7 is downloadable; its all-England column subsets are
    # mirror-only stand-ins for it (same publisher file)
    assert cat["iod2025_file7"].downloadable and not cat["iod2025_domains"].downloadable
    assert cat["iod2025_domains"].url == cat["iod2025_file7"].url
    assert cat["codepoint_open"].licence == "OS-OpenData"
    assert "Royal Mail" in cat["codepoint_open"].attribution
    assert cat["census2021_rm121"].publisher.startswith("Office for National Statistics")
    for ds_id in ("lsoa2021_bsc", "wards_bsc", "lad_boundaries"):
        assert "BSC" in cat[ds_id].title and cat[ds_id].coverage == "national", ds_id
    assert "IoD2025" in cat["iod2025_file7"].vintage and "mid-2022" in cat["iod2025_file7"].vintage


def test_url_for_fills_the_lad_code():
    ds = catalogue()["wards"]
    assert "LAD24CD%3D%27E06000007%27" in ds.url_for("E06000007")
    with pytest.raises(ValidationError, match="per local authority; pass lad_code="):
        ds.url_for(None)
    assert catalogue()["iod2019_file7"].url_for("E06000007") == catalogue()["iod2019_file7"].url


def test_mirror_files_exist_with_the_declared_checksums(shared_data):
    n = 0
    for ds in catalogue().values():
        for entry in ds.mirror:
            path = shared_data / entry.path
            assert path.is_file(), path
            assert entry.sha256, f"{ds.id}: mirror entry without checksum"
            assert hashlib.sha256(path.read_bytes()).hexdigest() == entry.sha256, path
            n += 1
    assert n == 44


def test_district_files_come_before_national_ones():
    # the first covering entry is the one used, so a district's own (richer or 20 m) file
    # must precede the national "*" file of the same dataset
    for ds in catalogue().values():
        national = [i for i, e in enumerate(ds.mirror) if "*" in e.lad_codes]
        local = [i for i, e in enumerate(ds.mirror) if "*" not in e.lad_codes]
        assert not national or not local or max(local) < min(national), ds.id


def test_any_english_district_is_covered_by_the_national_files():
    # datasets a 2021/IoD2025 run needs: a "*" file for each (or for a stand-in)
    cat = catalogue()
    for ids in (
        ("lsoa2021_ward_lookup",),
        ("wards", "wards_bsc"),
        ("lsoa2021", "lsoa2021_bsc"),
        ("iod2025_file7", "iod2025_domains"),
        ("census2021_rm121",),
        ("postcodes", "codepoint_open"),
        ("ward_lad_lookup",),
    ):
        assert any(e.covers(lad_code="E07000177") for i in ids for e in cat[i].mirror), ids


def test_mirror_coverage(shared_data):
    entries = mirror_entries("iod2019_file7", roots=[shared_data])
    by_path = {e.path: e for e in entries}
    assert by_path["iod2019_file7_sample_warrington.csv"].covers(lad_code="E06000007")
    assert not by_path["iod2019_file7_sample_warrington.csv"].covers(lad_code="E08000025")
    assert by_path["birmingham/imd2019_lsoa_birmingham.csv"].covers(lad_code="E08000025")
    pc = mirror_entries("postcodes", roots=[shared_data])[0]
    assert pc.covers(postcode_area="b") and not pc.covers(postcode_area="WA")
    f7 = mirror_entries("iod2025_file7", roots=[shared_data])
    assert [e.path for e in f7] == ["birmingham/iod2025/iod2025_file7_birmingham_solihull.csv"]
    assert f7[0].covers(lad_code="E08000029") and not f7[0].covers(lad_code="E06000017")
    domains = mirror_entries("iod2025_domains", roots=[shared_data])
    assert [e.covers(lad_code="E06000017") for e in domains] == [False, True, True]


def test_several_mirror_folders_and_manifests(tmp_path, monkeypatch, fixtures_dir, shared_data):
    other = fixtures_dir / "mirror_other_lad"
    monkeypatch.setenv("CNMAP_DATA_MIRROR", f"{other}{os.pathsep}{shared_data}")
    assert mirror_dirs() == [other.resolve(), shared_data.resolve()]
    wards = mirror_entries("wards")
    assert [(e.path, e.from_manifest) for e in wards] == [
        ("warrington/wards.geojson", True),
        ("birmingham/wards.geojson", False),
        ("rutland/rutland_wd24_bgc_wgs84.geojson", False),
    ]
    assert wards[0].covers(lad_code="E06000007")
    # a manifest entry without a dataset is an error naming the file
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / MIRROR_MANIFEST).write_text('[[mirror]]\npath = "x.csv"\n')
    with pytest.raises(ValidationError, match=r"cnmap-mirror.toml: entry 0 has no 'dataset'"):
        mirror_entries("wards", roots=[bad])
    monkeypatch.delenv("CNMAP_DATA_MIRROR")
    assert mirror_dirs() == []


def test_normalise_columns_publisher_and_mirror_spellings():
    cat = catalogue()
    ons = pd.DataFrame(columns=["FID", "WD23CD", "WD23NM", "WD23NMW", "LAD23CD", "LAD23NM"])
    assert list(normalise_columns(ons, cat["wards"]).columns) == [
        "FID",
        "ward_code",
        "ward_name",
        "WD23NMW",
        "lad_code",
        "lad_name",
    ]
    nspl = pd.DataFrame(columns=["pcd", "pcds", "lat", "long", "lsoa21", "laua", "oseast1m"])
    assert list(normalise_columns(nspl, cat["postcodes"]).columns) == [
        "pcd",
        "postcode",
        "lat",
        "lon",
        "lsoa21_code",
        "lad_code",
        "easting",
    ]
    mirror = pd.DataFrame(columns=["lsoa11cd", "lsoa11nm", "lad19cd"])
    assert list(normalise_columns(mirror, cat["lsoa2011"]).columns) == [
        "lsoa_code",
        "lsoa_name",
        "lad_code",
    ]
    file7 = pd.DataFrame(columns=["LSOA code (2011)", "Local Authority District code (2019)"])
    assert list(normalise_columns(file7, cat["iod2019_file7"]).columns) == ["lsoa_code", "lad_code"]
    tidy = pd.DataFrame(
        columns=[
            "lsoa21_name",
            "lsoa21_code",
            "ward24_name",
            "ward24_code",
            "ltla24_name",
            "ltla24_code",
        ]
    )
    assert list(normalise_columns(tidy, cat["lsoa2021_ward_lookup"]).columns) == [
        "lsoa_name",
        "lsoa_code",
        "ward_name",
        "ward_code",
        "lad_name",
        "lad_code",
    ]
    census = pd.DataFrame(columns=["lsoa21_code", "Total", "Aged 65 years"])
    assert list(normalise_columns(census, cat["census2021_rm121"]).columns) == [
        "lsoa_code",
        "census2021_usual_residents",
        "Aged 65 years",
    ]
    both = pd.DataFrame(columns=["WD22CD", "WD24CD"])
    with pytest.raises(ValidationError, match="'WD22CD' and 'WD24CD' both map to 'ward_code'"):
        normalise_columns(both, cat["wards"])


def test_sources_table():
    t = sources_table()
    assert len(t) == len(EXPECTED)
    assert {"id", "publisher", "licence", "attribution", "url", "vintage"} <= set(t.columns)
    row = t.set_index("id").loc["iod2019_file7"]
    assert "Ministry of Housing" in row["publisher"] and row["licence"] == "OGL-UK-3.0"
    assert sources_table(["wards"])["id"].tolist() == ["wards"]


def test_catalogue_errors():
    with pytest.raises(ValidationError, match=r"unknown dataset 'nope'"):
        catalogue()["nope"]
    with pytest.raises(ValidationError, match=r"dataset 'x' lacks \['publisher'"):
        parse_catalogue('[datasets.x]\ntitle = "t"\n')
    with pytest.raises(ValidationError, match="not valid TOML"):
        parse_catalogue("[datasets.x\n")
