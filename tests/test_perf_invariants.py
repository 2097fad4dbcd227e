"""The fast paths give the same answers as the plain ones (issue 14).

- one bounded search at the largest limit gives the counts of one search per limit;
- the nearest organisation of each type from one search per type (organisations snapped
  once) equals the old per-type snap + search + distance at the points;
- searches on the spatially renumbered CSR give the same numbers;
- grouped sums made a few columns at a time equal one wide pandas grouping;
- a cached network is loaded without LineStrings, and makes the same ones on demand;
- the dissolved catchment drawn from the distance field covers the same area (within 1%) as
  the merged buffers, from the same reached pieces.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

import cnmap.network as cn
from cnmap import schema as S
from cnmap.aggregate import group_sums, group_sums_by
from cnmap.network import build

catch = importlib.import_module("cnmap.network.catchments")
MINUTES = (5, 10, 15, 20)
METRES = [m * 80.0 for m in MINUTES]


@pytest.fixture(scope="module")
def city(shared_data):
    import cnmap
    from cnmap.pipeline import load_config, read_organisation_files
    from cnmap.residents import residential_points

    area = cnmap.load_area("E08000025")
    cfg = load_config(Path(__file__).resolve().parents[1] / "configs" / "birmingham.toml")
    orgs = read_organisation_files(cfg.organisations, area).organisations.to_crs(S.BNG)
    net = cn.read_walk_network(shared_data / "birmingham/osm/birmingham_walk_osm_2021-08.gpkg")
    res = residential_points(area, method="postcodes")
    return area, orgs.reset_index(drop=True), net, res


def _slugs(orgs: gpd.GeoDataFrame) -> np.ndarray:
    from cnmap.schema import type_slug as _slug

    return np.array([_slug(v) for v in orgs["type"].astype(object).fillna("unspecified")])


@pytest.mark.slow
def test_one_search_counts_equal_one_search_per_limit(city):
    _, orgs, net, res = city
    S_ = cn.snap_points(net, orgs.geometry)
    P = cn.snap_points(net, res.geometry.reset_index(drop=True))
    types = _slugs(orgs)
    one = cn.count_within_limits(net, S_, limits_m=METRES, groups=types, points=P)
    assert one.counts.shape == (len(P), len(METRES), len(set(types)))
    for i, m in enumerate(METRES):
        per = cn.count_within(net, S_, cutoff_m=m, groups=types, points=P)
        np.testing.assert_array_equal(one.total(i), per["count"].to_numpy(na_value=0))
        for j, g in enumerate(one.groups):
            np.testing.assert_array_equal(one.counts[:, i, j], per[g].to_numpy(na_value=0))
    # an independent path: the pairs of reach_matrix at the largest limit
    from cnmap.reach import reach_matrix

    R = reach_matrix(net, S_, P, cutoff_m=METRES[-1]).tocoo()
    for i, m in enumerate(METRES):
        within = R.data <= m
        n = np.bincount(R.col[within], minlength=len(P))
        np.testing.assert_array_equal(one.total(i), n)


@pytest.mark.slow
def test_nearest_by_type_equals_the_per_type_searches(city):
    _, orgs, net, res = city
    types = _slugs(orgs)
    S_ = cn.snap_points(net, orgs.geometry)
    P = cn.snap_points(net, res.geometry.reset_index(drop=True))
    fast = cn.nearest_by_group(net, S_, P, groups=types)
    for k in sorted(set(types)):
        Sk = cn.snap_points(net, orgs.geometry[types == k].reset_index(drop=True))
        old = cn.distance_at_points(net, cn.distance_to_nearest(net, Sk), P, sources=Sk)
        np.testing.assert_array_equal(fast[k].to_numpy(), old.to_numpy())


@pytest.mark.slow
def test_renumbered_searches_give_the_same_numbers(city, monkeypatch):
    _, orgs, net, res = city
    S_ = cn.snap_points(net, orgs.geometry)
    P = cn.snap_points(net, res.geometry.reset_index(drop=True))
    types = _slugs(orgs)

    def answers(n: cn.WalkNetwork) -> tuple:
        d = cn.distance_to_nearest(n, S_, return_source=True)
        c = cn.count_within_limits(n, S_, limits_m=METRES, groups=types, points=P)
        nodes = cn.count_within(n, S_, cutoff_m=800.0)
        g = cn.nearest_by_group(n, S_, P, groups=types)
        return d, c.counts, nodes, g

    plain = answers(net)
    assert net._routing.new_of_old is None
    monkeypatch.setattr(build, "ROUTING_REORDER_MIN_NODES", 1)
    twin = net.with_report(net.report)
    assert twin._routing.new_of_old is not None
    again = answers(twin)
    pd.testing.assert_frame_equal(plain[0], again[0])
    np.testing.assert_array_equal(plain[1], again[1])
    pd.testing.assert_frame_equal(plain[2], again[2])
    pd.testing.assert_frame_equal(plain[3], again[3])


@pytest.mark.slow
def test_coverage_columns_equal_the_separate_searches(city):
    from cnmap.coverage import coverage

    area, orgs, net, res = city
    r = coverage(orgs, area, network=net, residents=res, minutes=list(MINUTES), speed_kmh=4.8)
    P = cn.snap_points(net, res.geometry.reset_index(drop=True))
    S_ = cn.snap_points(net, orgs.geometry)
    types = _slugs(orgs)
    for t, m in zip(MINUTES, METRES, strict=True):
        per = cn.count_within(net, S_, cutoff_m=m, groups=types, points=P)
        np.testing.assert_array_equal(
            r.residents[S.n_reachable(t)].to_numpy(),
            per["count"].to_numpy(dtype=float, na_value=0.0),
        )
        for k in r.types:
            np.testing.assert_array_equal(
                r.residents[S.n_reachable(t, k)].to_numpy(),
                per[k].to_numpy(dtype=float, na_value=0.0),
            )
    for k in r.types:
        Sk = cn.snap_points(net, orgs.geometry[types == k].reset_index(drop=True))
        d = cn.distance_at_points(net, cn.distance_to_nearest(net, Sk), P, sources=Sk)
        np.testing.assert_array_equal(r.residents[S.walk_min(k)].to_numpy(), d.to_numpy() / 80.0)
    # the nearest of all is taken as the least of the nearest of each type: the same numbers
    # as one search from every organisation
    d_all = cn.distance_at_points(net, cn.distance_to_nearest(net, S_), P, sources=S_)
    np.testing.assert_array_equal(r.residents[S.WALK_M].to_numpy(), d_all.to_numpy())
    assert np.isnan(d_all.to_numpy()).sum() == (~r.residents[S.PLACED]).sum()


def test_grouped_sums_in_batches_equal_one_wide_grouping():
    rng = np.random.default_rng(3)
    n = 5000
    keys = np.array([f"E{int(i):04d}" for i in rng.integers(0, 60, n)], dtype=object)
    keys[::17] = None
    w = rng.random(n) * 40.0
    people = {f"c{i}": rng.random(n) < 0.5 for i in range(20)}
    values = {f"v{i}": rng.integers(0, 9, n).astype(float) for i in range(20)}
    walks = {"w": np.where(rng.random(n) < 0.1, np.inf, rng.random(n) * 900.0)}
    s = group_sums(
        keys, w, people=people, per_person=values, means=walks, medians={"w": walks["w"]}
    )
    frame = {"_k": keys, "population": w}
    frame.update({f"people:{k}": np.where(c, w, 0.0) for k, c in people.items()})
    frame.update({f"value:{k}": w * v for k, v in values.items()})
    fin = np.isfinite(walks["w"])
    frame["mean:w"] = np.where(fin, w * np.where(fin, walks["w"], 0.0), 0.0)
    frame["finite:w"] = np.where(fin, w, 0.0)
    wide = pd.DataFrame(frame).groupby("_k", sort=True).sum()
    pd.testing.assert_frame_equal(s.sums, wide)
    by = group_sums_by(
        {"a": keys, "b": keys},
        w,
        people=people,
        per_person=values,
        means=walks,
        medians={"w": walks["w"]},
    )
    pd.testing.assert_frame_equal(by["b"].sums, wide)
    np.testing.assert_array_equal(by["a"].median("w"), s.median("w"))


@pytest.mark.slow
def test_cached_network_is_loaded_without_linestrings(shared_data):
    path = shared_data / "birmingham/osm/birmingham_walk_osm_2021-08.gpkg"
    cn.read_walk_network(path)
    net = cn.read_walk_network(path)  # from the cache
    assert not net.geometry_built
    d = cn.distance_to_nearest(net, net.node_ids[:5], cutoff_m=500)
    net._flat_geometry  # noqa: B018 - catchment cutting reads the flat form only
    assert np.isfinite(d.to_numpy()).any() and not net.geometry_built
    built = cn.read_walk_network(path, cache=False)
    import shapely

    assert shapely.equals_exact(net.edge_geometry, built.edge_geometry, tolerance=0).all()
    assert net.geometry_built


@pytest.mark.slow
def test_dissolved_pieces_and_drawn_area(city):
    from cnmap.network import _kernels
    from cnmap.network.paths import _as_sources

    _, orgs, net, _ = city
    S_ = _as_sources(net, orgs.geometry, 500.0)
    node_ptr, node_edges = net._node_edges
    kernel = _kernels.reached_pieces(
        net.indptr,
        net.indices,
        net.data,
        np.array([0, S_.seed_node.size]),
        S_.seed_node,
        S_.seed_dist,
        1200.0,
        node_ptr,
        node_edges,
        net.edge_u,
        net.edge_v,
        net.edge_length,
    )
    numpy_way = catch._dissolved_pieces(net, S_, 1200.0)
    for a, b in zip(
        catch._merge_intervals(*kernel), catch._merge_intervals(*numpy_way), strict=True
    ):
        np.testing.assert_array_equal(a, b)
    raster = cn.catchments(net, orgs.geometry, cutoff_m=1200.0, method="raster")
    vector = cn.catchments(net, orgs.geometry, cutoff_m=1200.0, method="vector")
    a_r, a_v = raster.geometry.iloc[0].area, vector.geometry.iloc[0].area
    assert abs(a_r - a_v) / a_v < 0.01
    assert raster.geometry.iloc[0].is_valid
    assert raster["reached_m"].iloc[0] == pytest.approx(vector["reached_m"].iloc[0])
    # the reached nodes are inside the drawn area
    import shapely

    d = cn.distance_to_nearest(net, cn.snap_points(net, orgs.geometry), cutoff_m=1200.0)
    reached = np.isfinite(d.to_numpy())
    assert shapely.contains_xy(raster.geometry.iloc[0], net.x[reached], net.y[reached]).all()


@pytest.mark.slow
def test_snapping_cell_by_cell_finds_the_same_nearest_points(city, shared_data, monkeypatch):
    snap = importlib.import_module("cnmap.network.snap")
    _, orgs, net, res = city
    far = gpd.GeoSeries(
        gpd.points_from_xy([300_000.0, 500_000.0], [200_000.0, 400_000.0]), crs=S.BNG
    )
    pts = gpd.GeoSeries(list(res.geometry.values) + list(far.values), crs=S.BNG)
    whole = cn.snap_points(net, pts)
    monkeypatch.setattr(snap, "SNAP_BY_CELL_MIN_EDGES", 1)
    monkeypatch.setattr(snap, "SNAP_CELL_M", 2_000.0)
    monkeypatch.setattr(snap, "SNAP_MARGIN_M", 300.0)
    lazy = cn.read_walk_network(shared_data / "birmingham/osm/birmingham_walk_osm_2021-08.gpkg")
    assert not lazy.geometry_built
    cells, places = snap.snap_points_together(lazy, [pts, orgs.geometry])
    assert not lazy.geometry_built
    np.testing.assert_array_equal(cells.access_m, whole.access_m)
    np.testing.assert_array_equal(cells.ok, whole.ok)
    # among edges at the same distance the cell's tree may meet another first: the same
    # snapped spot (a shared end), so the same place on the network
    same = cells.edge == whole.edge
    assert same.mean() > 0.999
    for name in ("fraction", "x", "y"):
        np.testing.assert_array_equal(getattr(cells, name)[same], getattr(whole, name)[same])
    np.testing.assert_allclose(cells.x[~same], whole.x[~same], atol=1e-6)
    np.testing.assert_allclose(cells.y[~same], whole.y[~same], atol=1e-6)
    np.testing.assert_array_equal(places.access_m, cn.snap_points(net, orgs.geometry).access_m)


@pytest.mark.slow
def test_snapping_measured_in_blocks_gives_the_same_numbers(city, shared_data, monkeypatch):
    # the large-network path measures points on their edges block by block, in threads
    snap = importlib.import_module("cnmap.network.snap")
    _, _, _, res = city
    monkeypatch.setattr(snap, "SNAP_BY_CELL_MIN_EDGES", 1)
    lazy = cn.read_walk_network(shared_data / "birmingham/osm/birmingham_walk_osm_2021-08.gpkg")
    one = cn.snap_points(lazy, res.geometry)
    monkeypatch.setattr(snap, "MEASURE_BLOCK", 997)  # 36 blocks, the last one short
    blocks = cn.snap_points(lazy, res.geometry)
    assert len(res) > 30 * 997 and not lazy.geometry_built
    for name in ("edge", "access_m", "fraction", "along_u_m", "x", "y", "ok"):
        np.testing.assert_array_equal(getattr(blocks, name), getattr(one, name))


@pytest.mark.slow
def test_bucket_queue_counts_what_the_heap_search_reaches(city):
    # count_within's searches take their nodes from a bucket queue; distance_to_nearest's
    # from a heap: one source at a time, they must reach the same nodes and points
    _, orgs, net, res = city
    rng = np.random.default_rng(7)
    ids = rng.choice(net.node_ids, 150, replace=False)
    cutoff = 1_234.5
    got = cn.count_within(net, ids, cutoff_m=cutoff)["count"].to_numpy()
    want = np.zeros(net.n_nodes, dtype=np.int64)
    for i in ids:
        want += np.isfinite(cn.distance_to_nearest(net, [i], cutoff_m=cutoff).to_numpy())
    np.testing.assert_array_equal(got, want)
    P = cn.snap_points(net, res.geometry.reset_index(drop=True))
    S_ = cn.snap_points(net, orgs.geometry.iloc[:60].reset_index(drop=True))
    at = cn.count_within(net, S_, cutoff_m=cutoff, points=P)["count"]
    want_p = np.zeros(len(P), dtype=np.int64)
    for k in range(60):
        one = S_.take([k])
        d = cn.distance_at_points(net, cn.distance_to_nearest(net, one), P, sources=one)
        want_p += (d.to_numpy() <= cutoff).astype(np.int64)
    np.testing.assert_array_equal(at.to_numpy(dtype=np.int64, na_value=0), want_p)
    assert want.sum() > 0 and want_p.sum() > 0
