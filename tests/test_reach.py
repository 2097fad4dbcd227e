"""cnmap.reach: hand-checked distances, agreement with cnmap.network, error paths."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import Point

from cnmap.errors import CRSError, ValidationError
from cnmap.network import count_within, distance_at_points, distance_to_nearest, snap_points
from cnmap.reach import crow_flies_reach_matrix, reach_matrix
from tests.helpers import lattice as L

X0, Y0, BNG = L.X0, L.Y0, L.BNG


def pts(xy, y_off=0.0):
    return gpd.GeoSeries([Point(X0 + x, Y0 + y + y_off) for x, y in xy], crs=BNG)


@pytest.fixture(scope="module")
def line():
    return L.line_network()


def test_line_hand_checked(line):
    # sources at x = 0 (on the street) and x = 620, 5 m off it; points 10 m off at 50, 450, 950
    S = pts([(0, 0), (620, -5)])
    P = pts([(50, 10), (450, 10), (950, 10)])
    m = reach_matrix(line, S, P, cutoff_m=500)
    assert m.shape == (2, 3)
    d = m.toarray()
    # source 0: 50 + 10 = 60, 450 + 10 = 460, 960 > 500 -> not stored
    assert d[0, 0] == pytest.approx(60) and d[0, 1] == pytest.approx(460)
    assert m[0].nnz == 2
    # source 1 (on edge 600-700, 20 m from node 600): to 450: 5 + 20 + 150 + 10 = 185;
    # to 950: 5 + 80 + 250 + 10 = 345; to 50: 5 + 20 + 550 + 10 = 585 > 500
    assert d[1, 1] == pytest.approx(185) and d[1, 2] == pytest.approx(345)
    assert m[1].nnz == 2
    assert m.has_sorted_indices


def test_same_edge_direct_walk(line):
    # source and point on the same edge 400-500: 5 + |450 - 430| + 10 = 35, not via a node
    m = reach_matrix(line, pts([(430, -5)]), pts([(450, 10)]), cutoff_m=100)
    assert m.toarray()[0, 0] == pytest.approx(35)


def test_cutoff_is_inclusive_and_zero_distance_is_stored(line):
    m = reach_matrix(line, pts([(0, 0)]), pts([(300, 0), (0, 0)]), cutoff_m=300)
    assert m.nnz == 2  # exactly at the cutoff counts; a 0 m pair is an explicit entry
    assert m[0, 0] == pytest.approx(300) and m.data.min() == 0.0
    assert reach_matrix(line, pts([(0, 0)]), pts([(300, 0)]), cutoff_m=299.99).nnz == 0


def test_unplaced_sources_and_points_are_empty(line):
    S = pts([(0, 0), (500, 900)])  # the second is 900 m from the street
    P = gpd.GeoSeries([Point(X0 + 100, Y0), Point(X0 + 100, Y0 + 800), None], crs=BNG)
    m = reach_matrix(line, S, P, cutoff_m=2000, max_snap_m=500)
    assert m.shape == (2, 3)
    assert m.getnnz(axis=1).tolist() == [1, 0]
    assert m.getnnz(axis=0).tolist() == [1, 0, 0]


def test_accepts_snap_results_and_other_crs(line):
    S = pts([(0, 0), (700, 3)])
    P = pts([(100, 4), (650, -2)])
    a = reach_matrix(line, snap_points(line, S), snap_points(line, P), cutoff_m=1000)
    b = reach_matrix(line, S.to_crs("EPSG:4326"), gpd.GeoDataFrame(geometry=P), cutoff_m=1000)
    np.testing.assert_allclose(a.toarray(), b.toarray(), atol=1e-2)  # WGS84 round trip


def check_against_network(net, S, P, cutoff):
    m = reach_matrix(net, S, P, cutoff_m=cutoff)
    cnt = count_within(net, S, cutoff_m=cutoff, points=P)["count"].to_numpy(
        dtype=float, na_value=0.0
    )
    # row sums of the 0/1 reach matrix (per point, over sources) are count_within's counts
    np.testing.assert_array_equal(m.getnnz(axis=0), cnt.astype(int))
    nd = distance_to_nearest(net, S)
    d = distance_at_points(net, nd, P, sources=S).to_numpy(float)
    csc = m.tocsc()
    mins = np.full(m.shape[1], np.inf)
    for j in range(m.shape[1]):
        seg = csc.data[csc.indptr[j] : csc.indptr[j + 1]]
        if seg.size:
            mins[j] = seg.min()
    within = np.isfinite(d) & (d <= cutoff)
    np.testing.assert_allclose(mins[within], d[within], rtol=0, atol=1e-6)
    assert np.isinf(mins[~within]).all()
    return m


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), cutoff=st.floats(50, 900), k=st.integers(1, 12))
def test_lattice_agrees_with_count_within_and_distance_at_points(seed, cutoff, k):
    net = LATTICE
    rng = np.random.default_rng(seed)
    S = L.random_points(rng, k, off=rng.uniform(0, 20)).geometry
    P = L.lattice_residents(rng, m=60).geometry
    check_against_network(net, S, P, cutoff)


LATTICE = L.lattice_network(6, 100.0)


def test_duplicate_sources_have_identical_rows():
    S = pts([(100, 3), (100, 3), (250, 200)])
    P = L.lattice_residents(np.random.default_rng(1), m=30).geometry
    m = reach_matrix(LATTICE, S, P, cutoff_m=400)
    np.testing.assert_array_equal(m[0].toarray(), m[1].toarray())


def test_errors(line):
    S, P = pts([(0, 0)]), pts([(10, 0)])
    with pytest.raises(ValidationError, match="cutoff_m"):
        reach_matrix(line, S, P, cutoff_m=-1)
    with pytest.raises(ValidationError, match="cutoff_m"):
        reach_matrix(line, S, P, cutoff_m=float("inf"))
    with pytest.raises(ValidationError, match="cutoff_m"):
        reach_matrix(line, S, P, cutoff_m="far")
    with pytest.raises(ValidationError, match="sources must be points"):
        reach_matrix(line, [1, 2], P, cutoff_m=100)
    with pytest.raises(ValidationError, match="points must be points"):
        reach_matrix(line, S, np.zeros((2, 2)), cutoff_m=100)
    with pytest.raises(ValidationError, match="different network"):
        reach_matrix(line, snap_points(LATTICE, S), P, cutoff_m=100)
    with pytest.raises(CRSError):
        reach_matrix(line, gpd.GeoSeries([Point(X0, Y0)]), P, cutoff_m=100)


def test_crow_flies_hand_checked():
    S = pts([(0, 0), (1000, 0)])
    P = pts([(300, 400), (0, 0), (1000, 10)])
    m = crow_flies_reach_matrix(S, P, cutoff_m=700, detour_factor=1.2)
    d = m.toarray()
    assert d[0, 0] == pytest.approx(600.0)  # 500 m x 1.2
    assert m[0, 1] == 0.0 and m[0].nnz == 2  # the coincident pair is kept as an explicit 0
    assert d[1, 2] == pytest.approx(12.0) and m[1].nnz == 1  # (700 x 1.2 = 840 > 700 excluded)
    with pytest.raises(ValidationError, match="detour_factor"):
        crow_flies_reach_matrix(S, P, cutoff_m=700, detour_factor=0.5)
    with pytest.raises(CRSError):
        crow_flies_reach_matrix(gpd.GeoSeries([Point(0, 0)]), P, cutoff_m=10)
    with pytest.raises(ValidationError, match="GeoSeries"):
        crow_flies_reach_matrix([(0, 0)], P, cutoff_m=10)
    empty = crow_flies_reach_matrix(gpd.GeoSeries([None], crs=BNG), P, cutoff_m=10)
    assert empty.shape == (1, 3) and empty.nnz == 0


@pytest.mark.slow
def test_birmingham_agrees_with_cnmap_network(shared_data):
    import cnmap
    from cnmap.network import read_walk_network
    from cnmap.residents import residential_points

    area = cnmap.load_area("E08000025", lsoa_vintage=2011, iod=2019)
    orgs = cnmap.read_organisations(
        shared_data / "birmingham/osm/warm_spaces_birmingham.geojson", area=area
    ).organisations
    net = read_walk_network(shared_data / "birmingham/osm/birmingham_walk_osm_2021-08.gpkg")
    res = residential_points(area, method="postcodes", edge_geometries=net.edge_geometry)
    S = snap_points(net, orgs.geometry)
    P = snap_points(net, res.geometry)
    m = check_against_network(net, S, P, 1200.0)
    assert m.shape == (len(orgs), len(res))
    # every warm space reaches someone within 15 minutes; about 5 pairs per resident
    assert (m.getnnz(axis=1) > 0).all()
    assert 100_000 < m.nnz < 300_000
