"""The full Birmingham map from the real pipeline (cnmap.coverage on the city-wide walk network
with the 414 warm spaces, ward profiles, street catchments): every layer, within 8 MB."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

from cnmap.maps import coverage_map, layer_names, save_html
from cnmap.maps._assets import external_resources

pytestmark = pytest.mark.slow

FAKE = Path(__file__).parent / "fixtures" / "maps" / "fake_results.py"
ARTIFACTS = Path(__file__).parent / "_artifacts" / "maps"


def _fake():
    name = "cnmap_test_fake_results"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, FAKE)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return sys.modules[name]


@pytest.fixture(scope="module")
def real(shared_data):
    cov, cat, profiles = _fake().real_birmingham()
    # a thin-like result from the real coverage (cnmap.thin may not exist yet)
    fake = _fake()
    thin = fake.thin(fake.FakeCoverage(
        thresholds=cov.thresholds, speed_kmh=cov.speed_kmh, mode=cov.mode, lsoas=cov.lsoas,
        wards=cov.wards, deciles=cov.deciles, totals=cov.totals,
        organisations=cov.organisations, residents=cov.residents, quality=cov.quality,
        params=cov.params, sources=cov.sources))
    return cov, cat, profiles, thin


def test_full_birmingham_map_within_8_mb(real):
    cov, cat, profiles, thin = real
    m = coverage_map(cov, thin=thin, ward_profiles=profiles, catchments=cat)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = save_html(m, ARTIFACTS / "birmingham.html", self_contained=True)
    size = path.stat().st_size
    assert size <= 8_000_000, f"{size / 1e6:.2f} MB"
    html = path.read_text(encoding="utf-8")
    assert external_resources(html) == []
    block = re.search(r"overlays :\s*\{(.*?)\}", html, re.S).group(1)
    names = [json.loads(k) for k in re.findall(r'^\s*("(?:[^"\\]|\\.)*")\s*:', block, re.M)]
    assert names == list(layer_names(15).values())
    pts = json.loads(re.search(r"var pts = (\[.*?\]);\n", html, re.S).group(1))
    assert len(pts) == len(cov.organisations)
    assert len(cov.wards) == 69 and len(cov.lsoas) == 639
    (ARTIFACTS / "birmingham_size.json").write_text(json.dumps(
        {"bytes": size, "mb": round(size / 1e6, 3), "organisations": len(pts)}, indent=2))
