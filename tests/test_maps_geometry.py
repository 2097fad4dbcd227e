"""simplify_for_web keeps shared borders: no gaps, no overlaps, fewer vertices.

On the real Birmingham wards (69) and LSOAs 2011 (639), and on a hand-made 2x2 grid with a
wiggly shared border whose simplification can be checked by eye.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from cnmap.errors import CRSError
from cnmap.maps import simplify_for_web


def _check_coverage(original: gpd.GeoDataFrame, simplified: gpd.GeoDataFrame) -> dict:
    """Overlap and gap areas (m²) of a simplified coverage, measured in EPSG:27700."""
    back = simplified.to_crs(27700).geometry.values
    orig = original.to_crs(27700).geometry.values
    union = shapely.union_all(back)
    overlap = float(shapely.area(back).sum() - union.area)
    # gaps: interior rings in the simplified union that the original union does not have
    holes_orig = sum(len(p.interiors) for p in shapely.get_parts(shapely.union_all(orig)))
    holes_new = sum(len(p.interiors) for p in shapely.get_parts(union))
    gap_area = sum(
        shapely.Polygon(r).area for p in shapely.get_parts(union) for r in p.interiors
    ) - sum(
        shapely.Polygon(r).area
        for p in shapely.get_parts(shapely.union_all(orig))
        for r in p.interiors
    )
    return {
        "overlap": overlap,
        "holes_orig": holes_orig,
        "holes_new": holes_new,
        "gap_area": gap_area,
        "valid_coverage": bool(shapely.coverage_is_valid(simplified.to_crs(27700).geometry.values)),
    }


@pytest.fixture(scope="module")
def lsoas(shared_data):
    return gpd.read_file(shared_data / "birmingham/lsoa2011.geojson").to_crs(27700)


@pytest.fixture(scope="module")
def wards(shared_data):
    return gpd.read_file(shared_data / "birmingham/wards.geojson").to_crs(27700)


@pytest.mark.parametrize(("which", "tolerance"), [("wards", 60), ("lsoas", 40), ("lsoas", 15)])
@pytest.mark.slow
def test_real_boundaries_keep_shared_borders(which, tolerance, request):
    gdf = request.getfixturevalue(which)
    out = simplify_for_web(gdf, tolerance_m=tolerance, precision=5)
    assert out.crs.to_epsg() == 4326
    assert len(out) == len(gdf)
    assert list(out.columns) == list(gdf.columns)
    n_in = shapely.get_num_coordinates(gdf.geometry.values).sum()
    n_out = shapely.get_num_coordinates(out.geometry.values).sum()
    assert n_out < (0.8 if tolerance >= 40 else 0.97) * n_in  # lighter
    # shared edges identical in longitude/latitude: neighbours still form a coverage
    assert shapely.coverage_is_valid(out.geometry.values)
    stats = _check_coverage(gdf, out)
    total = float(gdf.area.sum())
    assert stats["overlap"] < 1e-6 * total  # rounding noise only
    assert stats["holes_new"] == stats["holes_orig"]
    assert abs(stats["gap_area"]) < 1e-6 * total
    # the outline moves little: symmetric difference of the unions under 0.5%
    moved = (
        shapely.union_all(out.to_crs(27700).geometry.values)
        .symmetric_difference(shapely.union_all(gdf.geometry.values))
        .area
    )
    assert moved < 0.01 * total


def test_naive_simplification_would_break_borders(lsoas):
    """The check above can fail: simplifying each LSOA on its own opens gaps and overlaps."""
    naive = lsoas.copy()
    naive["geometry"] = shapely.simplify(lsoas.geometry.values, 15, preserve_topology=True)
    stats = _check_coverage(lsoas, naive)
    assert stats["overlap"] > 1_000  # m²
    assert not shapely.coverage_is_valid(naive.geometry.values)


def test_hand_made_grid():
    """Two squares sharing a zig-zag border (teeth 2 m high): simplified once, still shared."""
    xs = np.arange(0, 1001, 10.0)
    zig = np.where(np.arange(len(xs)) % 2 == 0, 500.0, 502.0)
    border = list(zip(xs, zig, strict=True))
    south = shapely.Polygon([(0, 0), (1000, 0), *border[::-1]])
    north = shapely.Polygon([*border, (1000, 1000), (0, 1000)])
    gdf = gpd.GeoDataFrame({"k": ["s", "n"]}, geometry=[south, north], crs="EPSG:27700")
    assert shapely.coverage_is_valid(gdf.geometry.values)
    out = simplify_for_web(gdf, tolerance_m=20, precision=6).to_crs(27700)
    assert shapely.get_num_coordinates(out.geometry.values).sum() < 20  # the teeth are gone
    s, n = out.geometry.values
    assert s.intersection(n).area < 1.0
    assert shapely.union_all([s, n]).area == pytest.approx(1_000_000, rel=5e-4)  # rounding
    assert s.area == pytest.approx(501_000, rel=2e-3)


def test_not_a_coverage_falls_back(caplog):
    a = shapely.box(0, 0, 100, 100)
    b = shapely.box(50, 50, 150, 150)  # overlaps a
    gdf = gpd.GeoDataFrame(geometry=[a, b], crs="EPSG:27700")
    with caplog.at_level("WARNING"):
        out = simplify_for_web(gdf, tolerance_m=5)
    assert "not a valid coverage" in caplog.text
    assert len(out) == 2


def test_rounding_and_crs_errors(wards):
    out = simplify_for_web(wards.iloc[:3], tolerance_m=0, precision=4)
    xy = shapely.get_coordinates(out.geometry.values)
    assert np.allclose(xy, np.round(xy, 4))
    with pytest.raises(CRSError, match="no CRS"):
        simplify_for_web(gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 1, 1)]))


def test_input_not_changed(wards):
    before = wards.copy()
    simplify_for_web(wards)
    assert wards.crs.to_epsg() == 27700
    assert wards.geometry.equals(before.geometry)
