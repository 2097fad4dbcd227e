"""cnmap.data.fetch: cache -> mirror -> publisher URL, verification, atomic writes.

The URL path is tested against a local ``http.server`` on 127.0.0.1 (loopback is allowed by
conftest; CNMAP_OFFLINE is switched off per test).
"""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import logging
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from cnmap.data import fetch, fetch_record, read_dataset
from cnmap.data.catalogue import parse_catalogue
from cnmap.data.fetch import SIDECAR_SUFFIX, verify_file
from cnmap.errors import DataFetchError, DataIntegrityError

CSV = b"LSOA11CD,LSOA11NM,pop\nE01000001,Test 001A,1500\nE01000002,Test 001B,1600\n"
CSV_SHA = hashlib.sha256(CSV).hexdigest()

# the package exports functions named like their modules (fetch, catalogue): get the modules
catmod = importlib.import_module("cnmap.data.catalogue")
fetchmod = importlib.import_module("cnmap.data.fetch")
loadmod = importlib.import_module("cnmap.data.loaders")


# ---------------------------------------------------------------------------- helpers


class _Server:
    """Routes: path -> (status, body, announced length or None)."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, bytes, int | None]] = {}
        self.hits: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                server.hits.append(self.path)
                parts = urlsplit(self.path)
                if parts.path == "/arcgis/query":
                    return self._arcgis(parse_qs(parts.query))
                status, body, announced = server.routes.get(parts.path, (404, b"not found", None))
                self.send_response(status)
                self.send_header("Content-Length", str(announced if announced else len(body)))
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()

            def _arcgis(self, q: dict[str, list[str]]) -> None:
                total, page = 5, 2  # 5 features served 2 per page, as ArcGIS would
                offset = int(q.get("resultOffset", ["0"])[0])
                feats = [
                    {
                        "type": "Feature",
                        "properties": {"LSOA11CD": f"E0100000{i}"},
                        "geometry": {"type": "Point", "coordinates": [-1.9, 52.4 + i / 100]},
                    }
                    for i in range(offset, min(offset + page, total))
                ]
                doc = {
                    "type": "FeatureCollection",
                    "features": feats,
                    "properties": {"exceededTransferLimit": offset + page < total},
                }
                body = json.dumps(doc).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[_Server]:
    s = _Server()
    yield s
    s.close()


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Isolated cache and mirror folders; network allowed (loopback only, by conftest)."""
    cache = tmp_path / "cache"
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    monkeypatch.setenv("CNMAP_CACHE_DIR", str(cache))
    monkeypatch.setenv("CNMAP_DATA_MIRROR", str(mirror))
    monkeypatch.setenv("CNMAP_OFFLINE", "0")
    monkeypatch.setenv("CNMAP_TIMEOUT", "5")
    return cache, mirror


def install_catalogue(monkeypatch, text: str) -> None:
    cat = parse_catalogue(text, path=Path("test-catalogue.toml"))
    for mod in (catmod, fetchmod, loadmod):
        monkeypatch.setattr(mod, "catalogue", lambda cat=cat: cat)


def entry(
    ds_id: str,
    url: str,
    *,
    fmt: str = "csv",
    kind: str = "direct",
    sha: str = "",
    coverage: str = "national",
    member: str = "",
    mirror: str = "",
    mirror_sha: str = "",
    key: str = '["lsoa_code"]',
) -> str:
    text = f"""
[datasets.{ds_id}]
title = "Test {ds_id}"
publisher = "Test publisher"
url = "{url}"
url_kind = "{kind}"
format = "{fmt}"
coverage = "{coverage}"
licence = "OGL-UK-3.0"
attribution = "Test attribution"
vintage = "2011"
crs = "none"
key_columns = {key}
sha256 = "{sha}"
member = "{member}"
rename_patterns = {{ '^LSOA11CD$' = "lsoa_code", '^LSOA11NM$' = "lsoa_name" }}
"""
    if mirror:
        text += f"""
[[datasets.{ds_id}.mirror]]
path = "{mirror}"
lad_codes = ["E09000001"]
sha256 = "{mirror_sha}"
"""
    return text


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


# ---------------------------------------------------------------------------- mirror & cache


def test_mirror_copy_then_cache(env, monkeypatch):
    cache, mirror = env
    (mirror / "t.csv").write_bytes(CSV)
    install_catalogue(
        monkeypatch, entry("t", "https://example.org/t.csv", mirror="t.csv", mirror_sha=CSV_SHA)
    )
    rec = fetch_record("t", lad_code="E09000001")
    assert rec.source == "mirror" and rec.origin == "mirror"
    assert rec.path.read_bytes() == CSV and rec.path.is_relative_to(cache)
    assert rec.sha256 == CSV_SHA and rec.size == len(CSV)
    assert rec.read_from == "mirror:t.csv"
    side = json.loads(rec.path.with_name(rec.path.name + SIDECAR_SUFFIX).read_text())
    assert side["sha256"] == CSV_SHA and side["size"] == len(CSV)
    assert side["origin"] == "mirror" and side["url"] == "https://example.org/t.csv"
    assert side["fetched_at"].endswith("+00:00")
    again = fetch_record("t", lad_code="E09000001")
    assert again.source == "cache" and again.path == rec.path
    assert again.read_from == "mirror:t.csv (cached)"
    # the cached copy keeps working when the mirror goes away
    monkeypatch.delenv("CNMAP_DATA_MIRROR")
    assert fetch("t", lad_code="E09000001") == rec.path
    frame = read_dataset(again)
    assert frame.columns.tolist() == ["lsoa_code", "lsoa_name", "pop"]
    assert frame["lsoa_code"].tolist() == ["E01000001", "E01000002"]


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete_sidecar_field"])
def test_corrupted_cache_is_detected_and_fetched_again(env, monkeypatch, caplog, damage):
    cache, mirror = env
    (mirror / "t.csv").write_bytes(CSV)
    install_catalogue(monkeypatch, entry("t", "https://example.org/t.csv", mirror="t.csv"))
    rec = fetch_record("t", lad_code="E09000001")
    side = rec.path.with_name(rec.path.name + SIDECAR_SUFFIX)
    if damage == "truncate":
        rec.path.write_bytes(CSV[:30])
    elif damage == "flip":  # same size, different content
        rec.path.write_bytes(CSV.replace(b"1500", b"1599"))
    else:
        d = json.loads(side.read_text())
        del d["sha256"]
        side.write_text(json.dumps(d))
    with caplog.at_level(logging.WARNING, logger="cnmap.data.fetch"):
        again = fetch_record("t", lad_code="E09000001")
    assert again.source == "mirror"
    assert again.path.read_bytes() == CSV
    if damage != "delete_sidecar_field":
        assert "failed verification, fetching again" in caplog.text
        assert ("30 bytes" in caplog.text) if damage == "truncate" else ("sha256" in caplog.text)
    else:
        assert "sidecar" in caplog.text and "unreadable" in caplog.text


def test_changed_mirror_file_is_copied_again(env, monkeypatch):
    cache, mirror = env
    (mirror / "t.csv").write_bytes(CSV)
    install_catalogue(monkeypatch, entry("t", "https://example.org/t.csv", mirror="t.csv"))
    first = fetch_record("t", lad_code="E09000001")
    newer = CSV + b"E01000003,Test 001C,1700\n"
    (mirror / "t.csv").write_bytes(newer)
    second = fetch_record("t", lad_code="E09000001")
    assert second.source == "mirror" and second.path == first.path
    assert second.path.read_bytes() == newer


def test_mirror_checksum_mismatch_is_an_integrity_error(env, monkeypatch):
    cache, mirror = env
    (mirror / "t.csv").write_bytes(CSV)
    monkeypatch.setenv("CNMAP_OFFLINE", "1")
    install_catalogue(
        monkeypatch, entry("t", "https://example.org/t.csv", mirror="t.csv", mirror_sha="0" * 64)
    )
    with pytest.raises(DataIntegrityError, match=r"sha256 .* but 0{64} was expected"):
        fetch("t", lad_code="E09000001")
    assert files_under(cache) == []


def test_mirror_file_without_key_columns_is_rejected(env, monkeypatch):
    cache, mirror = env
    (mirror / "t.csv").write_bytes(b"code,name\nE01000001,x\n")
    monkeypatch.setenv("CNMAP_OFFLINE", "1")
    install_catalogue(monkeypatch, entry("t", "https://example.org/t.csv", mirror="t.csv"))
    with pytest.raises(DataIntegrityError, match=r"lacks the key column\(s\) \['lsoa_code'\]"):
        fetch("t", lad_code="E09000001")


def test_mirror_not_covering_the_lad_is_not_used(env, monkeypatch):
    cache, mirror = env
    (mirror / "t.csv").write_bytes(CSV)
    monkeypatch.setenv("CNMAP_OFFLINE", "1")
    install_catalogue(monkeypatch, entry("t", "https://example.org/t.csv", mirror="t.csv"))
    with pytest.raises(DataFetchError, match="has no file covering it"):
        fetch("t", lad_code="E08000025")


def test_atomic_write_leaves_no_partial_file(env, monkeypatch):
    cache, mirror = env
    (mirror / "t.csv").write_bytes(CSV)
    install_catalogue(monkeypatch, entry("t", "https://example.org/t.csv", mirror="t.csv"))

    def broken_copy(src, dst, length=0):
        dst.write(src.read(20))
        raise OSError("disk full")

    monkeypatch.setattr(fetchmod.shutil, "copyfileobj", broken_copy)
    with pytest.raises(OSError, match="disk full"):
        fetch("t", lad_code="E09000001")
    assert files_under(cache) == []  # neither the .part file nor a final file


# ---------------------------------------------------------------------------- no source


def test_no_network_no_mirror_no_cache(env, monkeypatch):
    monkeypatch.setenv("CNMAP_OFFLINE", "1")
    monkeypatch.delenv("CNMAP_DATA_MIRROR")
    with pytest.raises(DataFetchError) as info:
        fetch("iod2019_file7", lad_code="E06000007")
    msg = str(info.value)
    assert "iod2019_file7 for LAD E06000007" in msg
    assert "https://assets.publishing.service.gov.uk/" in msg
    assert "CNMAP_DATA_MIRROR is not set" in msg and "CNMAP_CACHE_DIR=" in msg
    assert "CNMAP_OFFLINE" in msg and "iod2019_file7_sample_warrington.csv" in msg
    assert not isinstance(info.value, DataIntegrityError)


def test_iod2025_has_no_copy_anywhere(env, monkeypatch, shared_data):
    monkeypatch.setenv("CNMAP_OFFLINE", "1")
    monkeypatch.setenv("CNMAP_DATA_MIRROR", str(shared_data))
    with pytest.raises(
        DataFetchError,
        match=r"iod2025_file7 .*CNMAP_DATA_MIRROR=.*has no file"
        r" covering it.*File_7_IoD2025_All_Ranks",
    ):
        fetch("iod2025_file7", lad_code="E06000017")  # File 7 rows: BHAM, SOL only


def test_landing_page_only_dataset(env, monkeypatch):
    with pytest.raises(
        DataFetchError,
        match=r"osm_boundary has no automatic download "
        r"\(landing_page\)",
    ):
        fetch("osm_boundary", lad_code="E06000007")


def test_real_mirror_file_is_fetched_and_verified(env, monkeypatch, shared_data):
    monkeypatch.setenv("CNMAP_DATA_MIRROR", str(shared_data))
    rec = fetch_record("iod2019_file7", lad_code="E06000007")
    assert rec.mirror_path == "iod2019_file7_sample_warrington.csv"
    assert rec.sha256 == "5b336c084877a85a5fc0577a2d5a8fb224e5b7e2316ac27273af952de8aeda67"
    assert verify_file(rec.path, "iod2019_file7") == rec.sha256
    rec_b = fetch_record("iod2019_file7", lad_code="E08000025")
    assert rec_b.mirror_path == "birmingham/imd2019_lsoa_birmingham.csv"


# ---------------------------------------------------------------------------- publisher URL


def test_download_from_url_then_cache(env, monkeypatch, server):
    cache, _ = env
    server.routes["/t.csv"] = (200, CSV, None)
    install_catalogue(monkeypatch, entry("t", f"{server.base}/t.csv", sha=CSV_SHA))
    rec = fetch_record("t", lad_code="E09000001")
    assert rec.source == "url" and rec.url == f"{server.base}/t.csv"
    assert rec.path.read_bytes() == CSV and rec.lad_codes == ("*",)
    assert rec.read_from == f"url:{server.base}/t.csv"
    again = fetch_record("t", lad_code="E06000007")  # national file covers every LAD
    assert again.source == "cache" and len(server.hits) == 1
    fresh = fetch_record("t", refresh=True)
    assert fresh.source == "url" and len(server.hits) == 2


def test_offline_never_downloads(env, monkeypatch, server):
    monkeypatch.setenv("CNMAP_OFFLINE", "1")
    server.routes["/t.csv"] = (200, CSV, None)
    install_catalogue(monkeypatch, entry("t", f"{server.base}/t.csv"))
    with pytest.raises(DataFetchError, match=r"downloads are off \(CNMAP_OFFLINE=1\)"):
        fetch("t")
    assert server.hits == []


def test_truncated_download_is_rejected_and_leaves_nothing(env, monkeypatch, server):
    cache, _ = env
    server.routes["/t.csv"] = (200, CSV[:40], len(CSV))  # announces more than it sends
    install_catalogue(monkeypatch, entry("t", f"{server.base}/t.csv"))
    with pytest.raises(
        DataIntegrityError,
        match=rf"gave 40 bytes but the server announced {len(CSV)} \(truncated\)",
    ):
        fetch("t")
    assert files_under(cache) == []


def test_truncated_csv_without_length_is_caught_structurally(env, monkeypatch, server):
    cache, _ = env
    body = CSV[:-5]  # cut inside the last line, Content-Length consistent
    server.routes["/t.csv"] = (200, body, None)
    install_catalogue(monkeypatch, entry("t", f"{server.base}/t.csv"))
    with pytest.raises(DataIntegrityError, match="last line is incomplete"):
        fetch("t")
    assert files_under(cache) == []


def test_download_checksum_mismatch(env, monkeypatch, server):
    server.routes["/t.csv"] = (200, CSV, None)
    install_catalogue(monkeypatch, entry("t", f"{server.base}/t.csv", sha="f" * 64))
    with pytest.raises(DataIntegrityError, match="but f{64} was expected"):
        fetch("t")


def test_http_error_names_the_url(env, monkeypatch, server):
    install_catalogue(monkeypatch, entry("t", f"{server.base}/missing.csv"))
    with pytest.raises(DataFetchError, match=r"HTTP Error 404.*Publisher URL: http://127"):
        fetch("t")


def test_zip_download(env, monkeypatch, server):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("Documents/readme.txt", "x")
        zf.writestr("Data/NSPL_TEST_UK.csv", CSV)
    server.routes["/nspl"] = (200, buf.getvalue(), None)
    install_catalogue(
        monkeypatch, entry("t", f"{server.base}/nspl", fmt="zip", member="Data/NSPL_*_UK.csv")
    )
    rec = fetch_record("t")
    assert rec.path.name == "t.zip"
    frame = read_dataset(rec, columns=["lsoa_code", "pop"])
    assert frame.columns.tolist() == ["lsoa_code", "pop"]
    assert frame["pop"].tolist() == ["1500", "1600"]


def test_truncated_zip_is_rejected(env, monkeypatch, server):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("Data/NSPL_TEST_UK.csv", CSV * 50)
    data = buf.getvalue()
    server.routes["/nspl"] = (200, data[: len(data) // 2], None)
    install_catalogue(
        monkeypatch, entry("t", f"{server.base}/nspl", fmt="zip", member="Data/NSPL_*_UK.csv")
    )
    with pytest.raises(DataIntegrityError, match="damaged or truncated zip"):
        fetch("t")


def test_arcgis_query_is_paged_into_one_geojson(env, monkeypatch, server):
    url = f"{server.base}/arcgis/query?where=LAD24CD%3D%27{{lad_code}}%27&outFields=*&f=geojson"
    install_catalogue(
        monkeypatch, entry("t", url, kind="arcgis_query", fmt="geojson", coverage="lad")
    )
    rec = fetch_record("t", lad_code="E09000001")
    doc = json.loads(rec.path.read_text())
    assert [f["properties"]["LSOA11CD"] for f in doc["features"]] == [
        f"E0100000{i}" for i in range(5)
    ]
    assert len(server.hits) == 3
    assert all("where=LAD24CD%3D%27E09000001%27" in h for h in server.hits)
    assert rec.lad_codes == ("E09000001",)
    frame = read_dataset(rec)
    assert frame.crs.to_epsg() == 27700 and frame["lsoa_code"].tolist()[0] == "E01000000"
    # per-LAD download: another district is not served from this cached copy
    fetch_record("t", lad_code="E09000002")
    assert len(server.hits) == 6


def test_unconstrained_request_ignores_other_districts_cached_files(env, monkeypatch, tmp_path):
    cache, mirror = env
    other = tmp_path / "other"
    other.mkdir()
    (other / "t.csv").write_bytes(CSV)
    (other / "cnmap-mirror.toml").write_text(
        '[[mirror]]\ndataset = "t"\npath = "t.csv"\nlad_codes = ["E06000007"]\n'
    )
    newer = CSV + b"E01000003,Test 001C,1700\n"
    (mirror / "t.csv").write_bytes(newer)
    install_catalogue(monkeypatch, entry("t", "https://example.org/t.csv", mirror="t.csv"))
    monkeypatch.setenv("CNMAP_DATA_MIRROR", str(other))
    assert fetch_record("t", lad_code="E06000007").path.read_bytes() == CSV
    monkeypatch.setenv("CNMAP_DATA_MIRROR", str(mirror))
    first = fetch_record("t")  # no district: the current mirror's file, not the cached one
    assert first.source == "mirror" and first.path.read_bytes() == newer
    assert fetch_record("t").source == "cache"
    assert fetch_record("t").path.read_bytes() == newer
