"""cnmap.network on a hand-made street lattice where every answer is worked out by hand.

The lattice: 11 x 11 nodes, 100 m apart, in British National Grid coordinates
(x = 400,000 + 100 i, y = 290,000 + 100 j), node id 1 + i + 11 j. Shortest distances between
nodes are Manhattan distances: 100 (|di| + |dj|).
"""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely

import cnmap.network as cn
from cnmap.errors import CRSError, GraphError, ValidationError

X0, Y0, STEP, N = 400_000.0, 290_000.0, 100.0, 11
BNG = "EPSG:27700"


def nid(i: int, j: int) -> int:
    return 1 + i + N * j


def lattice_graph(*, with_length: bool = True) -> nx.MultiGraph:
    G = nx.MultiGraph(crs=BNG)
    for j in range(N):
        for i in range(N):
            G.add_node(nid(i, j), x=X0 + STEP * i, y=Y0 + STEP * j)
    for j in range(N):
        for i in range(N):
            attrs = {"length": STEP} if with_length else {}
            if i + 1 < N:
                G.add_edge(nid(i, j), nid(i + 1, j), **attrs)
            if j + 1 < N:
                G.add_edge(nid(i, j), nid(i, j + 1), **attrs)
    return G


def pt(x: float, y: float) -> shapely.Point:
    """A point at lattice offsets (metres from the lattice origin)."""
    return shapely.Point(X0 + x, Y0 + y)


def grid_ij(net: cn.WalkNetwork) -> tuple[np.ndarray, np.ndarray]:
    i = np.rint((net.x - X0) / STEP).astype(int)
    j = np.rint((net.y - Y0) / STEP).astype(int)
    return i, j


@pytest.fixture(scope="module")
def net() -> cn.WalkNetwork:
    return cn.walk_network_from_graph(lattice_graph(), source="lattice")


# -------------------------------------------------------------------------------- building


def test_lattice_arrays_and_report(net: cn.WalkNetwork) -> None:
    assert net.n_nodes == 121
    assert net.n_edges == 220
    assert net.crs == BNG
    assert net.indptr.shape == (122,)
    assert net.indices.shape == (440,)  # symmetric: every edge twice
    np.testing.assert_array_equal(net.data, 100.0)
    A = net.adjacency
    assert (A != A.T).nnz == 0
    r = net.report
    assert (r.nodes_read, r.edges_read, r.components) == (121, 220, 1)
    assert (r.nodes_dropped, r.edges_dropped, r.parallel_edges, r.self_loops) == (0, 0, 0, 0)
    assert r.geometries_filled == 220  # no geometry given: straight lines
    assert r.lengths_from_file == 220 and r.lengths_from_geometry == 0
    assert r.total_length_km == pytest.approx(22.0)
    # geometries run from u to v
    first = shapely.get_coordinates(shapely.get_point(net.edge_geometry, 0))
    np.testing.assert_allclose(first[:, 0], net.x[net.edge_u])
    np.testing.assert_allclose(first[:, 1], net.y[net.edge_u])
    # arrays are read-only
    with pytest.raises(ValueError):
        net.x[0] = 1.0


def test_lengths_from_geometry_when_absent() -> None:
    net = cn.walk_network_from_graph(lattice_graph(with_length=False))
    assert net.report.lengths_from_geometry == 220
    np.testing.assert_allclose(net.edge_length, 100.0)


def test_island_is_dropped_and_reported() -> None:
    G = lattice_graph()
    G.add_node(9001, x=X0 + 5000, y=Y0)
    G.add_node(9002, x=X0 + 5100, y=Y0)
    G.add_node(9003, x=X0 + 5200, y=Y0)
    G.add_edge(9001, 9002, length=100.0)
    G.add_edge(9002, 9003, length=100.0)
    G.add_node(9004, x=X0 - 3000, y=Y0)  # isolated node
    net = cn.walk_network_from_graph(G, source="lattice+island")
    r = net.report
    assert r.components == 3
    assert (r.nodes_dropped, r.edges_dropped) == (4, 2)
    assert (r.nodes, r.edges) == (121, 220)
    assert 9001 not in set(net.node_ids.tolist())
    with pytest.raises(GraphError, match="4 nodes outside the largest connected component"):
        cn.distance_to_nearest(net, [9001])


def test_directed_twins_parallel_edges_and_self_loops() -> None:
    G = nx.MultiDiGraph(crs=BNG)
    for k, (x, y) in enumerate([(0, 0), (100, 0), (200, 0)], start=1):
        G.add_node(k, x=X0 + x, y=Y0 + y)
    line = shapely.LineString([(X0, Y0), (X0 + 100, Y0)])
    G.add_edge(1, 2, length=100.0, geometry=line)
    G.add_edge(2, 1, length=100.0, geometry=shapely.reverse(line))  # reverse twin
    G.add_edge(2, 3, length=100.0)
    detour = shapely.LineString([(X0 + 100, Y0), (X0 + 150, Y0 + 60), (X0 + 200, Y0)])
    G.add_edge(3, 2, length=detour.length, geometry=shapely.reverse(detour))  # parallel
    ring = shapely.LineString([(X0 + 200, Y0), (X0 + 250, Y0 + 50), (X0 + 300, Y0), (X0 + 200, Y0)])
    G.add_edge(3, 3, length=ring.length, geometry=ring)  # self-loop
    net = cn.walk_network_from_graph(G)
    r = net.report
    assert r.edges_read == 5 and r.duplicate_edges == 1
    assert (r.edges, r.parallel_edges, r.self_loops) == (4, 1, 1)
    # the CSR keeps the shortest of the parallel edges and no self-loop: 2 pairs, 4 entries
    assert net.indices.size == 4
    d = cn.distance_to_nearest(net, [1])
    np.testing.assert_allclose(d.loc[[1, 2, 3]].to_numpy(), [0, 100, 200])
    # the detour geometry was reversed to run from u to v
    k = int(np.flatnonzero(np.isclose(net.edge_length, detour.length))[0])
    start = shapely.get_coordinates(net.edge_geometry[k])[0]
    np.testing.assert_allclose(start, [net.x[net.edge_u[k]], net.y[net.edge_u[k]]])


def test_builder_errors() -> None:
    G = lattice_graph()
    del G.graph["crs"]
    with pytest.raises(CRSError, match="G.graph"):
        cn.walk_network_from_graph(G)
    with pytest.raises(CRSError, match="projected"):
        cn.walk_network_from_graph(lattice_graph(), crs="EPSG:4326")
    empty = nx.MultiGraph(crs=BNG)
    with pytest.raises(GraphError, match="empty"):
        cn.walk_network_from_graph(empty)
    bad = lattice_graph()
    bad.nodes[nid(0, 0)].pop("x")
    with pytest.raises(GraphError, match="'x' and 'y'"):
        cn.walk_network_from_graph(bad)


# -------------------------------------------------------------------------------- distances


def test_distance_from_one_node_is_manhattan(net: cn.WalkNetwork) -> None:
    d = cn.distance_to_nearest(net, [nid(5, 5)])
    i, j = grid_ij(net)
    assert d.index.name == "node_id" and d.name == "distance_m"
    np.testing.assert_allclose(d.to_numpy(), 100.0 * (np.abs(i - 5) + np.abs(j - 5)))


def test_two_sources_and_nearest_source_label(net: cn.WalkNetwork) -> None:
    src = pd.Series([nid(0, 0), nid(10, 10)], index=["sw", "ne"])
    out = cn.distance_to_nearest(net, src, return_source=True)
    i, j = grid_ij(net)
    expected = 100.0 * np.minimum(i + j, 20 - i - j)
    np.testing.assert_allclose(out["distance_m"].to_numpy(), expected)
    assert out.loc[nid(1, 2), "source"] == "sw"
    assert out.loc[nid(9, 7), "source"] == "ne"


def test_cutoff_gives_inf_beyond(net: cn.WalkNetwork) -> None:
    d = cn.distance_to_nearest(net, [nid(5, 5)], cutoff_m=300)
    i, j = grid_ij(net)
    manhattan = 100.0 * (np.abs(i - 5) + np.abs(j - 5))
    expected = np.where(manhattan <= 300, manhattan, np.inf)
    np.testing.assert_array_equal(d.to_numpy(), expected)
    assert int(np.isfinite(d).sum()) == 25  # 1 + 4 + 8 + 12 nodes within 3 blocks
    assert d.attrs["cutoff_m"] == 300


def test_edge_snapped_source_starts_at_both_ends(net: cn.WalkNetwork) -> None:
    # 30 m east of node (5,5) along the street to (6,5), 20 m off the street
    src = gpd.GeoSeries([pt(530, 520)], crs=BNG)
    d = cn.distance_to_nearest(net, src)
    i, j = grid_ij(net)
    via_u = 20 + 30 + 100.0 * (np.abs(i - 5) + np.abs(j - 5))
    via_v = 20 + 70 + 100.0 * (np.abs(i - 6) + np.abs(j - 5))
    np.testing.assert_allclose(d.to_numpy(), np.minimum(via_u, via_v))
    assert d.loc[nid(5, 5)] == pytest.approx(50.0)
    assert d.loc[nid(6, 5)] == pytest.approx(90.0)
    assert d.attrs["source_kind"] == "points"


def test_points_in_lon_lat_are_projected(net: cn.WalkNetwork) -> None:
    src = gpd.GeoSeries([pt(530, 520)], crs=BNG).to_crs("EPSG:4326")
    d = cn.distance_to_nearest(net, src)
    assert d.loc[nid(5, 5)] == pytest.approx(50.0, abs=0.01)  # round trip through lon/lat


def test_distance_at_points_same_edge_and_other_edge(net: cn.WalkNetwork) -> None:
    sources = gpd.GeoSeries([pt(530, 520)], crs=BNG, index=["org"])
    people = gpd.GeoSeries(
        [pt(580, 490), pt(185, 340), pt(500, 5000)],
        crs=BNG,
        index=["same_edge", "other_edge", "far"],
    )
    d = cn.distance_to_nearest(net, sources, return_source=True)
    at = cn.distance_at_points(net, d, people, sources=sources)
    # same edge: straight along it: |80 - 30| + 20 + 10 (not 120 via v, 140 via u)
    assert at.loc["same_edge", "distance_m"] == pytest.approx(80.0)
    # other edge: snapped 40 m from (2,3) towards (2,4), 15 m off; (2,4) is reached from
    # the source via (5,5) at 50 + 400 m; then 60 m along and 15 m off: 525
    assert at.loc["other_edge", "distance_m"] == pytest.approx(525.0)
    assert at.loc["same_edge", "source"] == "org" and at.loc["other_edge", "source"] == "org"
    # far from the network: not placed -> NaN
    assert np.isnan(at.loc["far", "distance_m"])
    assert at.attrs["n_points_unplaced"] == 1
    # a Series in, a Series out
    s = cn.distance_at_points(net, d["distance_m"], people, sources=sources)
    assert s.loc["same_edge"] == pytest.approx(80.0)


def test_distance_at_points_needs_the_point_sources(net: cn.WalkNetwork) -> None:
    sources = gpd.GeoSeries([pt(530, 520)], crs=BNG)
    d = cn.distance_to_nearest(net, sources)
    with pytest.raises(ValidationError, match="sources="):
        cn.distance_at_points(net, d, gpd.GeoSeries([pt(580, 490)], crs=BNG))


def test_distance_at_points_respects_cutoff(net: cn.WalkNetwork) -> None:
    people = gpd.GeoSeries([pt(185, 340)], crs=BNG)
    d = cn.distance_to_nearest(net, [nid(5, 5)], cutoff_m=475)
    assert cn.distance_at_points(net, d, people).iloc[0] == pytest.approx(475.0)
    d = cn.distance_to_nearest(net, [nid(5, 5)], cutoff_m=474.9)
    assert cn.distance_at_points(net, d, people).iloc[0] == np.inf


def test_source_errors(net: cn.WalkNetwork) -> None:
    with pytest.raises(GraphError, match="not in the network"):
        cn.distance_to_nearest(net, [nid(0, 0), 999_999])
    with pytest.raises(ValidationError, match="whole numbers"):
        cn.distance_to_nearest(net, [1.5])
    with pytest.raises(ValidationError, match="cutoff_m"):
        cn.distance_to_nearest(net, [1], cutoff_m=-5)
    with pytest.raises(ValidationError, match="node ids"):
        cn.distance_to_nearest(net, "1")
    with pytest.raises(CRSError, match="no CRS"):
        cn.distance_to_nearest(net, gpd.GeoSeries([pt(0, 0)]))


def test_no_sources_gives_inf(net: cn.WalkNetwork) -> None:
    d = cn.distance_to_nearest(net, np.array([], dtype=np.int64))
    assert np.isinf(d).all()


# -------------------------------------------------------------------------------- counts


def test_count_within_by_hand(net: cn.WalkNetwork) -> None:
    src = [nid(0, 0), nid(10, 10), nid(5, 5)]
    c = cn.count_within(net, src, cutoff_m=500, groups=["a", "a", "b"])
    assert list(c.columns) == ["count", "a", "b"]
    assert c.loc[nid(5, 5)].tolist() == [1, 0, 1]  # (0,0) and (10,10) are 1,000 m away
    assert c.loc[nid(2, 2)].tolist() == [1, 1, 0]  # 400 m from (0,0), 600 m from (5,5)
    assert c.loc[nid(3, 2)].tolist() == [2, 1, 1]  # exactly 500 m from both: counted
    assert c.loc[nid(0, 10)].tolist() == [0, 0, 0]
    i, j = grid_ij(net)
    expected = sum(
        ((np.abs(i - a) + np.abs(j - b)) * 100 <= 500).astype(int)
        for a, b in [(0, 0), (10, 10), (5, 5)]
    )
    np.testing.assert_array_equal(c["count"].to_numpy(), expected)


def test_duplicate_sources_count_twice(net: cn.WalkNetwork) -> None:
    c = cn.count_within(net, [nid(5, 5), nid(5, 5), nid(5, 6)], cutoff_m=0)
    assert c.loc[nid(5, 5), "count"] == 2
    assert c.loc[nid(5, 6), "count"] == 1
    assert int(c["count"].sum()) == 3


def test_count_within_at_points_exact(net: cn.WalkNetwork) -> None:
    sources = gpd.GeoDataFrame({"type": ["x", "y"]}, geometry=[pt(530, 520), pt(500, 500)], crs=BNG)
    people = gpd.GeoSeries(
        [pt(580, 490), pt(185, 340), pt(500, 5000)],
        crs=BNG,
        index=["same_edge", "other_edge", "far"],
    )
    # same edge reaches at 80 m directly; node source (5,5) reaches (580,490) at 80 + 10 = 90
    c = cn.count_within(net, sources, cutoff_m=80, points=people, groups="type")
    assert c.loc["same_edge"].tolist() == [1, 1, 0]
    c = cn.count_within(net, sources, cutoff_m=90, points=people, groups="type")
    assert c.loc["same_edge"].tolist() == [2, 1, 1]
    c = cn.count_within(net, sources, cutoff_m=79.99, points=people)
    assert c.loc["same_edge", "count"] == 0
    # other edge: 525 m from the point source, 400 + 60 + 15 = 475 m from node (5,5)
    c = cn.count_within(net, sources, cutoff_m=525, points=people, groups="type")
    assert c.loc["other_edge"].tolist() == [2, 1, 1]
    c = cn.count_within(net, sources, cutoff_m=524.99, points=people, groups="type")
    assert c.loc["other_edge"].tolist() == [1, 0, 1]
    c = cn.count_within(net, sources, cutoff_m=474.99, points=people)
    assert c.loc["other_edge", "count"] == 0
    assert pd.isna(c.loc["far", "count"])
    assert c.attrs["n_points_unplaced"] == 1


def test_count_within_errors(net: cn.WalkNetwork) -> None:
    with pytest.raises(ValidationError, match="cutoff_m is required"):
        cn.count_within(net, [1], cutoff_m=None)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="one label per source"):
        cn.count_within(net, [1, 2], cutoff_m=100, groups=["a"])
    with pytest.raises(ValidationError, match="missing labels"):
        cn.count_within(net, [1, 2], cutoff_m=100, groups=["a", None])
    with pytest.raises(ValidationError, match="names no column"):
        cn.count_within(net, [1, 2], cutoff_m=100, groups="type")


def test_counts_match_networkx_brute_force(net: cn.WalkNetwork) -> None:
    G = lattice_graph()
    rng = np.random.default_rng(3)
    src = rng.choice(net.node_ids, 15, replace=False)
    c = cn.count_within(net, src, cutoff_m=350)
    brute = pd.Series(0, index=net.node_ids)
    for s in src:
        reached = nx.single_source_dijkstra_path_length(G, int(s), cutoff=350, weight="length")
        brute.loc[list(reached)] += 1
    np.testing.assert_array_equal(c["count"].to_numpy(), brute.to_numpy())


# -------------------------------------------------------------------------------- catchments


def test_reached_edges_cut_at_the_limit(net: cn.WalkNetwork) -> None:
    pieces = cn.reached_edges(net, [nid(5, 5)], cutoff_m=150)
    # 4 whole edges at the centre, then 50 m along each of the 3 other edges of the 4
    # neighbours
    lengths = np.sort((pieces["end_m"] - pieces["start_m"]).to_numpy())
    np.testing.assert_allclose(lengths, [50.0] * 12 + [100.0] * 4)
    np.testing.assert_allclose(shapely.length(pieces.geometry.to_numpy()).sum(), 1000.0)


def test_reached_edges_source_on_an_edge(net: cn.WalkNetwork) -> None:
    # source 30 m along (5,5)-(6,5), 20 m off: 40 m left on its own street each way
    pieces = cn.reached_edges(net, gpd.GeoSeries([pt(530, 520)], crs=BNG), cutoff_m=60)
    total = float((pieces["end_m"] - pieces["start_m"]).sum())
    # own edge: [0, 70] directly (the 10 m from (5,5) lies inside it, merged); from (5,5),
    # reached at 50 m, 10 m along each of its 3 other edges
    assert total == pytest.approx(70 + 3 * 10)
    assert len(pieces) == 4


def test_catchment_polygon_follows_streets(net: cn.WalkNetwork) -> None:
    c = cn.catchments(net, [nid(5, 5)], cutoff_m=150, buffer_m=10, simplify_m=0)
    assert len(c) == 1 and c.loc[0, "source"] == "all" and bool(c.loc[0, "placed"])
    assert c.loc[0, "reached_m"] == pytest.approx(1000.0)
    poly = c.geometry.iloc[0]
    np.testing.assert_allclose(poly.bounds, (X0 + 340, Y0 + 340, X0 + 660, Y0 + 660), atol=1e-6)
    # inside the convex hull but off the streets: not a convex hull
    assert not poly.contains(pt(580, 580))
    assert poly.contains(pt(500, 640))
    assert c.crs == BNG


def test_catchments_per_source(net: cn.WalkNetwork) -> None:
    src = gpd.GeoSeries([pt(0, 0), pt(530, 520), pt(500, 9000)], crs=BNG, index=[7, 8, 9])
    c = cn.catchments(net, src, cutoff_m=150, per_source=True, buffer_m=10, simplify_m=1)
    assert c["source"].tolist() == [7, 8, 9]
    assert c["placed"].tolist() == [True, True, False]
    assert c.geometry.iloc[2] is None
    # the corner source: both streets at (0,0) whole (200 m), then 50 m along the two other
    # streets at each of (1,0) and (0,1) (200 m)
    assert c["reached_m"].iloc[0] == pytest.approx(400.0)
    assert c.geometry.iloc[0].contains(pt(0, 145))
    assert not c.geometry.iloc[0].contains(pt(0, 175))
