"""Vendored Leaflet assets and the self-contained inliner (cnmap.maps._assets)."""

from __future__ import annotations

import re

import pytest

from cnmap.errors import CnmapError, DataIntegrityError
from cnmap.maps import _assets as A


def test_vendor_checksums_and_licences():
    checked = A.verify_vendor()
    assert len(checked) >= 20
    for pkg in (
        "leaflet",
        "leaflet.markercluster",
        "leaflet.fullscreen",
        "leaflet-search",
        "jquery",
    ):
        files = [c for c in checked if c.startswith(pkg + "/")]
        assert any(re.search(r"licen[cs]e", f, re.I) for f in files), pkg
        assert (A.VENDOR_DIR / pkg / "VERSION").read_text().strip()
    for asset in A.ASSETS:
        assert (A.VENDOR_DIR / asset.path).is_file(), asset.path


def test_verify_detects_a_changed_file(tmp_path, monkeypatch):
    import shutil

    copy = tmp_path / "vendor"
    shutil.copytree(A.VENDOR_DIR, copy)
    (copy / "jquery" / "lib" / "jquery.min.js").write_text("tampered")
    monkeypatch.setattr(A, "VENDOR_DIR", copy)
    with pytest.raises(DataIntegrityError, match="jquery.min.js has sha256"):
        A.verify_vendor()


PAGE = """<!DOCTYPE html><html><head>
<script src="https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js"></script>
<script src="https://code.jquery.com/jquery-3.7.1.min.js"></script>
<script src="https://cdn.jsdelivr.net/npm/bootstrap@5.2.2/dist/js/bootstrap.bundle.min.js"></script>
<script src="https://cdnjs.cloudflare.com/ajax/libs/Leaflet.awesome-markers/2.0.2/leaflet.awesome-markers.js"></script>
<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.css"/>
<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/leaflet-search@2.9.7/dist/leaflet-search.min.css"/>
<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/@fortawesome/fontawesome-free@6.2.0/css/all.min.css"/>
<link rel="icon" href="https://example.org/favicon.ico"/>
</head><body><script>var map = L.map('x');</script></body></html>"""


def test_inline_replaces_and_drops():
    out = A.inline_assets(PAGE)
    assert A.external_resources(out) == []
    assert "/* leaflet/lib/leaflet.js */" in out
    assert "/* leaflet/lib/leaflet.css */" in out
    assert "jquery" not in out.lower()  # not used by the page's scripts
    assert "bootstrap" not in out.lower() and "awesome" not in out.lower()
    # images of the stylesheets became data: URIs
    assert 'url("data:image/png;base64,' in out  # leaflet layers.png, search-icon.png
    assert "url(images/" not in out and "url(../images/" not in out
    assert "sourceMappingURL" not in out
    # non-stylesheet links are left alone
    assert 'href="https://example.org/favicon.ico"' in out


def test_inline_keeps_jquery_when_used():
    page = PAGE.replace("var map = L.map('x');", "var el = $('#x');")
    out = A.inline_assets(page)
    assert "/* jquery/lib/jquery.min.js */" in out


def test_inline_refuses_awesome_markers_in_use():
    page = PAGE.replace("var map = L.map('x');", "var i = L.AwesomeMarkers.icon({});")
    with pytest.raises(CnmapError, match="awesome-markers"):
        A.inline_assets(page)


def test_inline_refuses_unknown_remote_script():
    page = PAGE.replace(
        "</head>", '<script src="https://unpkg.com/some-plugin.js"></script></head>'
    )
    with pytest.raises(CnmapError, match="some-plugin.js"):
        A.inline_assets(page)


def test_script_end_tags_in_vendored_js_are_neutralised():
    for asset in A.ASSETS:
        if asset.kind == "js":
            assert "</script" not in A._inline_js(asset.path).lower()
