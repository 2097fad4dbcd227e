"""cnmap.data.fetch: which cached copy answers a district, files without a final newline,
and the structural checks of Parquet and OSM PBF files."""

from __future__ import annotations

import hashlib
import importlib
from pathlib import Path

import pytest

from cnmap.data import fetch_record
from cnmap.data.catalogue import parse_catalogue
from cnmap.errors import DataIntegrityError

catmod = importlib.import_module("cnmap.data.catalogue")
fetchmod = importlib.import_module("cnmap.data.fetch")

HEAD = b"LSOA11CD,LSOA11NM,pop\n"
NATIONAL = HEAD + b"E01000001,Test 001A,1500\nE01000002,Test 001B,1600\n"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def env(tmp_path, monkeypatch):
    cache, mirror = tmp_path / "cache", tmp_path / "mirror"
    mirror.mkdir()
    monkeypatch.setenv("CNMAP_CACHE_DIR", str(cache))
    monkeypatch.setenv("CNMAP_DATA_MIRROR", str(mirror))
    monkeypatch.setenv("CNMAP_OFFLINE", "1")
    return cache, mirror


def _install(
    monkeypatch, mirrors: list[tuple[str, str, str]], fmt: str = "csv", key: str = '["lsoa_code"]'
) -> None:
    text = f"""
[datasets.t]
title = "Test"
publisher = "Test publisher"
url = "https://example.org/t"
url_kind = "direct"
format = "{fmt}"
coverage = "national"
licence = "OGL-UK-3.0"
attribution = "Test attribution"
vintage = "2021"
crs = "none"
key_columns = {key}
rename_patterns = {{ '^LSOA11CD$' = "lsoa_code" }}
"""
    for path, lads, sha in mirrors:
        text += f'\n[[datasets.t.mirror]]\npath = "{path}"\nlad_codes = {lads}\nsha256 = "{sha}"\n'
    cat = parse_catalogue(text, path=Path("test-catalogue.toml"))
    for mod in (catmod, fetchmod):
        monkeypatch.setattr(mod, "catalogue", lambda cat=cat: cat)


def test_district_file_wins_over_a_national_copy_cached_earlier(env, monkeypatch):
    _, mirror = env
    district = HEAD + b"E01000009,District 009A,900\n"
    (mirror / "district.csv").write_bytes(district)
    (mirror / "national.csv").write_bytes(NATIONAL)
    # first only the national file is listed: a request for the district caches it
    _install(monkeypatch, [("national.csv", '["*"]', _sha(NATIONAL))])
    assert fetch_record("t", lad_code="E08000025").path.read_bytes() == NATIONAL
    # now the district's own file is listed first: it must answer, not the cached national copy
    _install(
        monkeypatch,
        [
            ("district.csv", '["E08000025"]', _sha(district)),
            ("national.csv", '["*"]', _sha(NATIONAL)),
        ],
    )
    rec = fetch_record("t", lad_code="E08000025")
    assert rec.path.read_bytes() == district and rec.read_from == "mirror:district.csv"
    again = fetch_record("t", lad_code="E08000025")
    assert again.source == "cache" and again.path.read_bytes() == district
    # another district is still served by the national copy (cached, not copied again)
    other = fetch_record("t", lad_code="E06000017")
    assert other.path.read_bytes() == NATIONAL and other.source == "cache"


def test_csv_without_final_newline_is_accepted_when_its_checksum_matches(env, monkeypatch):
    _, mirror = env
    data = NATIONAL.rstrip(b"\n")  # as some official files are published
    (mirror / "t.csv").write_bytes(data)
    _install(monkeypatch, [("t.csv", '["*"]', _sha(data))])
    assert fetch_record("t", lad_code="E09000001").path.read_bytes() == data


def test_csv_without_final_newline_and_no_checksum_is_still_truncated(env, monkeypatch):
    _, mirror = env
    (mirror / "t.csv").write_bytes(NATIONAL[:-9])
    _install(monkeypatch, [("t.csv", '["*"]', "")])
    with pytest.raises(DataIntegrityError, match="truncated"):
        fetch_record("t", lad_code="E09000001")


def _parquet_bytes(tmp_path: Path) -> bytes:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    p = tmp_path / "src.parquet"
    pd.DataFrame({"LSOA11CD": ["E01000001"], "pop": [1500]}).to_parquet(p)
    return p.read_bytes()


def test_parquet_mirror_file_is_copied_and_checked(env, monkeypatch, tmp_path):
    _, mirror = env
    data = _parquet_bytes(tmp_path)
    (mirror / "t.parquet").write_bytes(data)
    _install(monkeypatch, [("t.parquet", '["*"]', "")], fmt="parquet")
    rec = fetch_record("t", lad_code="E09000001")
    assert rec.path.suffix == ".parquet" and rec.path.read_bytes() == data


@pytest.mark.parametrize("cut", [1, 100])
def test_truncated_parquet_is_rejected(env, monkeypatch, tmp_path, cut):
    _, mirror = env
    data = _parquet_bytes(tmp_path)
    (mirror / "t.parquet").write_bytes(data[:-cut])
    _install(monkeypatch, [("t.parquet", '["*"]', "")], fmt="parquet")
    with pytest.raises(DataIntegrityError, match="Parquet"):
        fetch_record("t", lad_code="E09000001")


def test_pbf_header_is_checked(env, monkeypatch):
    _, mirror = env
    (mirror / "t.osm.pbf").write_bytes(b"<?xml version='1.0'?><osm></osm>")
    _install(monkeypatch, [("t.osm.pbf", '["*"]', "")], fmt="pbf", key="[]")
    with pytest.raises(DataIntegrityError, match="OSMHeader"):
        fetch_record("t", lad_code="E09000001")


def test_real_pbf_extract_passes_the_header_check(env, monkeypatch, shared_data):
    src = shared_data / "rutland" / "osm" / "rutland-latest_geofabrik_2018-02.osm.pbf"
    if not src.is_file():
        pytest.skip("Rutland extract not in the mirror")
    _, mirror = env
    (mirror / "r.osm.pbf").symlink_to(src)
    _install(monkeypatch, [("r.osm.pbf", '["*"]', "")], fmt="pbf", key="[]")
    rec = fetch_record("t", lad_code="E06000017")
    assert rec.size == src.stat().st_size


def test_request_without_a_district_gets_the_national_file(env, monkeypatch):
    _, mirror = env
    district = HEAD + b"E01000009,District 009A,900\n"
    (mirror / "district.csv").write_bytes(district)
    (mirror / "national.csv").write_bytes(NATIONAL)
    _install(
        monkeypatch,
        [
            ("district.csv", '["E06000017"]', _sha(district)),
            ("national.csv", '["*"]', _sha(NATIONAL)),
        ],
    )
    assert fetch_record("t").path.read_bytes() == NATIONAL
    assert fetch_record("t").source == "cache"  # and its cached copy answers next time
    assert fetch_record("t", lad_code="E06000017").path.read_bytes() == district
    assert fetch_record("t").path.read_bytes() == NATIONAL
