"""Per-process caches of the data layer: verified checksums and whole national tables.

- :func:`cnmap.data.fetch.file_sha256` hashes a file once per process while its path,
  inode, size, mtime and ctime are unchanged; a touched, modified or replaced file is hashed
  again, so a corrupted cached copy is still caught.
- :mod:`cnmap.data.loaders` reads each national file once per process (keyed by the
  verified file) and filters every district from it; callers get copies, so changing a
  returned frame never changes the next call's result.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import os
import time
from pathlib import Path

import pandas as pd
import pytest

from cnmap.data import fetch_record, load_area, load_codepoint, read_dataset
from cnmap.data.availability import fetch_preferred
from cnmap.data.catalogue import parse_catalogue
from cnmap.data.fetch import clear_checksum_memo, file_sha256, verify_file
from cnmap.errors import DataIntegrityError

catmod = importlib.import_module("cnmap.data.catalogue")
fetchmod = importlib.import_module("cnmap.data.fetch")
loadmod = importlib.import_module("cnmap.data.loaders")
iodmod = importlib.import_module("cnmap.iod")

CSV = b"LSOA11CD,LSOA11NM,pop\nE01000001,Test 001A,1500\nE01000002,Test 001B,1600\n"
HARBOROUGH, HINCKLEY = "E07000131", "E07000132"


# ---------------------------------------------------------------------------- helpers


@pytest.fixture(autouse=True)
def _fresh_caches():
    clear_checksum_memo()
    loadmod.clear_table_cache()
    yield
    clear_checksum_memo()
    loadmod.clear_table_cache()


@pytest.fixture
def national(shared_data, tmp_path, monkeypatch):
    """The real mirror with a cache folder of the test's own (the session's stays as other
    test files expect it)."""
    monkeypatch.setenv("CNMAP_CACHE_DIR", str(tmp_path / "cache"))
    return shared_data


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Isolated cache and mirror folders with a one-file test catalogue."""
    cache, mirror = tmp_path / "cache", tmp_path / "mirror"
    mirror.mkdir()
    monkeypatch.setenv("CNMAP_CACHE_DIR", str(cache))
    monkeypatch.setenv("CNMAP_DATA_MIRROR", str(mirror))
    (mirror / "t.csv").write_bytes(CSV)
    cat = parse_catalogue(_CATALOGUE, path=Path("test-catalogue.toml"))
    for mod in (catmod, fetchmod, loadmod):
        monkeypatch.setattr(mod, "catalogue", lambda cat=cat: cat)
    return cache, mirror


_CATALOGUE = """
[datasets.t]
title = "Test t"
publisher = "Test publisher"
url = "https://example.org/t.csv"
url_kind = "direct"
format = "csv"
coverage = "national"
licence = "OGL-UK-3.0"
attribution = "Test attribution"
vintage = "2011"
crs = "none"
key_columns = ["lsoa_code"]
sha256 = ""
member = ""
rename_patterns = { '^LSOA11CD$' = "lsoa_code", '^LSOA11NM$' = "lsoa_name" }

[[datasets.t.mirror]]
path = "t.csv"
lad_codes = ["E09000001"]
sha256 = ""
"""


#: The memo's "recently changed" window in these tests (2 s in use): a file is remembered
#: once its mtime and ctime are this much older than the hashing.
_WINDOW_S = 0.05


@pytest.fixture(autouse=True)
def _short_window(monkeypatch):
    monkeypatch.setattr(fetchmod, "_RACY_NS", int(_WINDOW_S * 1e9))


def _settle(path: Path, seconds: float = 3600.0) -> None:
    """Make a file look unchanged for a while: its mtime an hour ago, and its ctime (which
    that sets to now and cannot be set back) older than the window."""
    t = time.time() - seconds
    os.utime(path, (t, t))
    time.sleep(2 * _WINDOW_S)


def _count_hashes(monkeypatch) -> list[str]:
    calls: list[str] = []
    real = fetchmod._sha256

    def counting(path: Path) -> str:
        calls.append(str(path))
        return real(path)

    monkeypatch.setattr(fetchmod, "_sha256", counting)
    return calls


def _count(monkeypatch, module, name: str) -> list[object]:
    calls: list[object] = []
    real = getattr(module, name)

    def counting(*args, **kwargs):
        calls.append(args[0] if args else None)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, counting)
    return calls


# ---------------------------------------------------------------------------- checksums


def test_settled_file_is_hashed_once(tmp_path, monkeypatch):
    f = tmp_path / "a.csv"
    f.write_bytes(CSV)
    _settle(f)
    calls = _count_hashes(monkeypatch)
    assert file_sha256(f) == file_sha256(f) == hashlib.sha256(CSV).hexdigest()
    assert len(calls) == 1


def test_touched_file_is_hashed_again(tmp_path, monkeypatch):
    f = tmp_path / "a.csv"
    f.write_bytes(CSV)
    _settle(f)
    calls = _count_hashes(monkeypatch)
    file_sha256(f)
    os.utime(f, None)  # touch: now
    file_sha256(f)
    assert len(calls) == 2
    file_sha256(f)  # just touched: not remembered (a change could keep its mtime)
    assert len(calls) == 3
    _settle(f, 7200)
    file_sha256(f)
    file_sha256(f)
    assert len(calls) == 4


def test_fresh_file_is_not_remembered(tmp_path, monkeypatch):
    f = tmp_path / "a.csv"
    f.write_bytes(CSV)
    calls = _count_hashes(monkeypatch)
    file_sha256(f)
    file_sha256(f)
    assert len(calls) == 2


def test_modified_file_with_its_old_mtime_is_still_caught(env, tmp_path, monkeypatch):
    f = tmp_path / "a.csv"
    f.write_bytes(CSV)
    _settle(f)
    st = f.stat()
    good = verify_file(f, "t", sha256=hashlib.sha256(CSV).hexdigest(), size=len(CSV))
    calls = _count_hashes(monkeypatch)
    assert verify_file(f, "t", sha256=good, size=len(CSV)) == good and calls == []
    damaged = CSV.replace(b"1500", b"1599")  # same size
    f.write_bytes(damaged)
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))  # mtime put back; ctime cannot be
    with pytest.raises(DataIntegrityError, match="sha256"):
        verify_file(f, "t", sha256=good, size=len(CSV))
    assert len(calls) == 1
    assert file_sha256(f) == hashlib.sha256(damaged).hexdigest()


def test_cached_copy_is_verified_without_rehashing(env, monkeypatch):
    rec = fetch_record("t", lad_code="E09000001")
    _settle(rec.path)
    calls = _count_hashes(monkeypatch)
    for _ in range(3):
        again = fetch_record("t", lad_code="E09000001")
        assert again.source == "cache" and again.sha256 == rec.sha256
    assert calls.count(str(rec.path)) == 1


def test_corrupted_cached_copy_is_still_caught(env, monkeypatch, caplog):
    rec = fetch_record("t", lad_code="E09000001")
    _settle(rec.path)
    fetch_record("t", lad_code="E09000001")  # verified and remembered
    st = rec.path.stat()
    rec.path.write_bytes(CSV.replace(b"1500", b"1599"))
    os.utime(rec.path, ns=(st.st_atime_ns, st.st_mtime_ns))
    with caplog.at_level(logging.WARNING, logger="cnmap.data.fetch"):
        again = fetch_record("t", lad_code="E09000001")
    assert "failed verification, fetching again" in caplog.text and "sha256" in caplog.text
    assert again.source == "mirror" and again.path.read_bytes() == CSV


# ---------------------------------------------------------------------------- tables


def test_table_is_read_once_and_handed_out_as_copies(env, monkeypatch):
    rec = fetch_record("t", lad_code="E09000001")
    reads = _count(monkeypatch, loadmod, "_read_text")
    first = read_dataset(rec)
    expected = first.copy()
    first.loc[0, "pop"] = "-1"
    first["extra"] = 1
    first.attrs["source"] = "changed"
    second = read_dataset(rec)
    pd.testing.assert_frame_equal(second, expected)
    assert second.attrs["source"] == rec.read_from
    assert len(reads) == 1


def test_changed_file_is_read_again(env, monkeypatch):
    cache, mirror = env
    rec = fetch_record("t", lad_code="E09000001")
    assert len(read_dataset(rec)) == 2
    (mirror / "t.csv").write_bytes(CSV + b"E01000003,Test 001C,1700\n")
    newer = fetch_record("t", lad_code="E09000001")
    assert newer.source == "mirror" and newer.path == rec.path
    assert read_dataset(newer)["lsoa_code"].tolist() == ["E01000001", "E01000002", "E01000003"]


@pytest.mark.slow
def test_district_of_a_spatial_file_same_read_or_filtered(national):
    rec = fetch_preferred("lsoa2021_bsc", HARBOROUGH)
    key = loadmod._file_key(rec) + ("geo", "EPSG:27700")
    alone = read_dataset(rec, lad_code=HARBOROUGH)  # one district: an SQL-filtered read
    assert not loadmod._is_cached(key)
    other = read_dataset(rec, lad_code=HINCKLEY)  # a second district: the whole file, kept
    assert loadmod._is_cached(key)
    again = read_dataset(rec, lad_code=HARBOROUGH)
    pd.testing.assert_frame_equal(
        pd.DataFrame(again.drop(columns="geometry")), pd.DataFrame(alone.drop(columns="geometry"))
    )
    assert (again.geometry.to_wkb().to_numpy() == alone.geometry.to_wkb().to_numpy()).all()
    assert again.crs == alone.crs and len(other) and set(other["lad_code"]) == {HINCKLEY}
    again.loc[0, "lsoa_code"] = "changed"
    assert read_dataset(rec, lad_code=HARBOROUGH).equals(alone)


@pytest.mark.slow
def test_load_area_reads_each_national_file_once(national, monkeypatch):
    iod_reads = _count(monkeypatch, iodmod, "read_iod")
    text_reads = _count(monkeypatch, loadmod, "_read_text")
    first = load_area(HARBOROUGH, lsoa_vintage=2021, iod=2025, population="census2021")
    expected = first.lsoas.copy()
    first.lsoas.loc[0, "population"] = -1.0
    first.lsoas["imd_score"] = 0.0
    load_area(HINCKLEY, lsoa_vintage=2021, iod=2025, population="census2021")
    again = load_area(HARBOROUGH, lsoa_vintage=2021, iod=2025, population="census2021")
    pd.testing.assert_frame_equal(
        pd.DataFrame(again.lsoas.drop(columns="geometry")),
        pd.DataFrame(expected.drop(columns="geometry")),
    )
    assert len(iod_reads) == len(set(map(str, iod_reads))) == 2  # IMD + domains, sub-domains
    read_paths = [str(r.path) for r in text_reads]
    assert len(read_paths) == len(set(read_paths)) == 2  # the LSOA21 lookup, Census RM121


@pytest.mark.slow
def test_codepoint_area_read_once_and_copied(national, monkeypatch):
    pq = pytest.importorskip("pyarrow.parquet")
    reads = _count(monkeypatch, pq, "read_table")
    first = load_codepoint(postcode_area="LE")
    expected = first.copy()
    first.loc[0, "postcode"] = "changed"
    second = load_codepoint(postcode_area="LE")
    pd.testing.assert_frame_equal(second, expected)
    assert len(second) > 20_000 and second["postcode"].str.startswith("LE").all()
    load_codepoint(HINCKLEY)
    assert len(reads) == 1


@pytest.mark.slow
def test_codepoint_district_rows_as_the_parquet_filters_gave(national):
    """The rows kept for a district are those pyarrow's filters read before (the district's
    ``Admin_district_code`` or one of its 2021 LSOAs), in the same order."""
    pytest.importorskip("pyarrow")
    rec = fetch_preferred("codepoint_open", HINCKLEY)
    codes = sorted(loadmod._lookup21(HINCKLEY, [])["lsoa_code"])
    filters = [[("Admin_district_code", "==", HINCKLEY)], [("lsoa21_code_pip_bsc", "in", codes)]]
    before = pd.read_parquet(rec.path, filters=filters)
    now = loadmod._read_codepoint_parquet(rec, HINCKLEY, None, set(codes))
    pd.testing.assert_frame_equal(now, before[list(now.columns)])
    by_area = loadmod._read_codepoint_parquet(rec, None, " le ", None)
    pd.testing.assert_frame_equal(
        by_area, pd.read_parquet(rec.path, filters=[("pc_area", "==", "LE")])[list(by_area.columns)]
    )
