"""Property tests (hypothesis) for cnmap.network searches on the real city-centre graph."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cnmap.network as cn

SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def net(shared_data: Path) -> cn.WalkNetwork:
    return cn.read_walk_network(
        shared_data / "birmingham" / "osm" / "birmingham_centre_drive_osmnx_2022-03.gpkg"
    )


@pytest.fixture(scope="module")
def bbox(net: cn.WalkNetwork) -> tuple[float, float, float, float]:
    return float(net.x.min()), float(net.y.min()), float(net.x.max()), float(net.y.max())


def _points(fracs: list[tuple[float, float]], bbox: tuple[float, ...]) -> gpd.GeoSeries:
    x0, y0, x1, y1 = bbox
    xs = [x0 + fx * (x1 - x0) for fx, _ in fracs]
    ys = [y0 + fy * (y1 - y0) for _, fy in fracs]
    return gpd.GeoSeries(gpd.points_from_xy(xs, ys), crs="EPSG:27700")


positions = st.lists(st.integers(0, 2725), min_size=1, max_size=12, unique=True)
fractions = st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), min_size=1, max_size=8)


@SETTINGS
@given(a=positions, extra=positions, cutoff=st.none() | st.floats(0, 3000))
def test_more_sources_never_increase_any_distance(
    net: cn.WalkNetwork, a: list[int], extra: list[int], cutoff: float | None
) -> None:
    ids_a = net.node_ids[a]
    ids_b = net.node_ids[sorted(set(a) | set(extra))]
    da = cn.distance_to_nearest(net, ids_a, cutoff_m=cutoff).to_numpy()
    db = cn.distance_to_nearest(net, ids_b, cutoff_m=cutoff).to_numpy()
    assert (db <= da).all()
    assert (db[net.node_index(ids_b)] == 0).all()


@SETTINGS
@given(a=fractions, extra=fractions)
def test_more_point_sources_never_increase_any_distance(
    net: cn.WalkNetwork, bbox: tuple, a: list, extra: list
) -> None:
    pa = _points(a, bbox)
    pb = _points(a + extra, bbox)
    people = _points([(0.5, 0.5), (0.1, 0.9), (0.3, 0.2)], bbox)
    da = cn.distance_to_nearest(net, pa)
    db = cn.distance_to_nearest(net, pb)
    assert (db.to_numpy() <= da.to_numpy()).all()
    at_a = cn.distance_at_points(net, da, people, sources=pa).to_numpy()
    at_b = cn.distance_at_points(net, db, people, sources=pb).to_numpy()
    assert (at_b <= at_a + 1e-9).all()


@SETTINGS
@given(src=positions, c1=st.floats(0, 2000), c2=st.floats(0, 2000))
def test_a_larger_cutoff_never_lowers_any_count(
    net: cn.WalkNetwork, src: list[int], c1: float, c2: float
) -> None:
    lo, hi = sorted((c1, c2))
    ids = net.node_ids[src]
    groups = np.array(["a", "b"])[np.arange(len(ids)) % 2]
    n_lo = cn.count_within(net, ids, cutoff_m=lo, groups=groups)
    n_hi = cn.count_within(net, ids, cutoff_m=hi, groups=groups)
    assert (n_hi.to_numpy() >= n_lo.to_numpy()).all()
    assert (n_hi["count"] <= len(ids)).all()
    # counts agree with the distance to the nearest source: some source within reach
    d = cn.distance_to_nearest(net, ids, cutoff_m=hi).to_numpy()
    assert np.array_equal(n_hi["count"].to_numpy() > 0, np.isfinite(d))


@SETTINGS
@given(src=fractions, c1=st.floats(0, 1500), c2=st.floats(0, 1500))
@pytest.mark.slow
def test_a_larger_cutoff_never_lowers_any_point_count(
    net: cn.WalkNetwork, bbox: tuple, src: list, c1: float, c2: float
) -> None:
    lo, hi = sorted((c1, c2))
    sources = _points(src, bbox)
    people = cn.snap_points(net, _points([(i / 10, (i * 7 % 10) / 10) for i in range(10)], bbox))
    n_lo = cn.count_within(net, sources, cutoff_m=lo, points=people)["count"]
    n_hi = cn.count_within(net, sources, cutoff_m=hi, points=people)["count"]
    ok = people.ok
    assert (n_hi.to_numpy()[ok] >= n_lo.to_numpy()[ok]).all()
    # a point counts a source exactly when it is within the cutoff of the nearest one
    d = cn.distance_to_nearest(net, sources)
    at = cn.distance_at_points(net, d, people, sources=sources).to_numpy()
    assert np.array_equal((n_hi.to_numpy()[ok] > 0), at[ok] <= hi)
