"""cnmap.network on real Birmingham OSM data, checked against networkx.

- the city-centre drive graph (GraphML and GeoPackage, 2,726 nodes) — fast;
- the city-wide walking network (108,032 nodes / 139,430 edges) — marked slow.

The networkx references are built independently of cnmap from the files (every edge of the
file, both ways, weight ``length``); for points, each edge holding points is split at them and
every point joined by its straight access leg, so that networkx sees the same problem.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import osmnx as ox
import pandas as pd
import pytest
import shapely

import cnmap.network as cn

TOL = 0.01  # metres


@pytest.fixture(scope="module")
def osm(shared_data: Path) -> Path:
    return shared_data / "birmingham" / "osm"


@pytest.fixture(scope="module")
def centre_graphml(osm: Path) -> cn.WalkNetwork:
    return cn.read_walk_network(osm / "birmingham_centre_drive_osmnx_2022-03.graphml")


@pytest.fixture(scope="module")
def centre_nx(osm: Path) -> nx.MultiGraph:
    G = ox.load_graphml(osm / "birmingham_centre_drive_osmnx_2022-03.graphml")
    H = nx.MultiGraph()
    H.add_nodes_from(G.nodes)
    H.add_edges_from((u, v, {"length": d["length"]}) for u, v, d in G.edges(data=True))
    return H


def nx_multi(
    G: nx.Graph, sources: list, ids: np.ndarray, cutoff: float | None = None
) -> np.ndarray:
    ref = nx.multi_source_dijkstra_path_length(G, set(sources), cutoff=cutoff, weight="length")
    return np.array([ref.get(i, np.inf) for i in ids.tolist()])


# -------------------------------------------------------------------------------- centre graph


@pytest.mark.slow
def test_centre_graphml_report(centre_graphml: cn.WalkNetwork) -> None:
    r = centre_graphml.report
    assert (r.nodes_read, r.edges_read) == (2726, 5668)  # directed MultiDiGraph
    assert (r.nodes, r.components, r.nodes_dropped) == (2726, 1, 0)
    # 3,508 undirected edges, as in the GeoPackage (PROVENANCE.md)
    assert r.edges == 3508 and r.duplicate_edges == 5668 - 3508


@pytest.mark.parametrize("cutoff", [None, 1200.0])
@pytest.mark.slow
def test_centre_graphml_distances_equal_networkx(
    centre_graphml: cn.WalkNetwork, centre_nx: nx.MultiGraph, cutoff: float | None
) -> None:
    rng = np.random.default_rng(11)
    src = rng.choice(centre_graphml.node_ids, 10, replace=False).tolist()
    d = cn.distance_to_nearest(centre_graphml, src, cutoff_m=cutoff)
    expected = nx_multi(centre_nx, src, centre_graphml.node_ids, cutoff)
    np.testing.assert_allclose(d.to_numpy(), expected, atol=TOL, rtol=0)
    assert np.array_equal(np.isinf(d.to_numpy()), np.isinf(expected))


def test_centre_gpkg_distances_equal_networkx(osm: Path) -> None:
    path = osm / "birmingham_centre_drive_osmnx_2022-03.gpkg"
    net = cn.read_walk_network(path)
    edges = gpd.read_file(path, layer="edges", ignore_geometry=True)
    H = nx.MultiGraph()
    H.add_edges_from(
        zip(edges["u"], edges["v"], ({"length": w} for w in edges["length"]), strict=True)
    )
    rng = np.random.default_rng(5)
    src = rng.choice(net.node_ids, 10, replace=False).tolist()
    np.testing.assert_allclose(
        cn.distance_to_nearest(net, src).to_numpy(),
        nx_multi(H, src, net.node_ids),
        atol=TOL,
        rtol=0,
    )


def test_centre_counts_equal_networkx_brute_force(
    centre_graphml: cn.WalkNetwork, centre_nx: nx.MultiGraph
) -> None:
    rng = np.random.default_rng(2)
    src = rng.choice(centre_graphml.node_ids, 25, replace=False)
    kinds = np.array(["faith", "health", "community"])[np.arange(25) % 3]
    c = cn.count_within(centre_graphml, src, cutoff_m=800, groups=kinds)
    brute = pd.DataFrame(0, index=centre_graphml.node_ids, columns=sorted(set(kinds)))
    for s, k in zip(src.tolist(), kinds, strict=True):
        reached = nx.single_source_dijkstra_path_length(centre_nx, s, cutoff=800, weight="length")
        brute.loc[list(reached), k] += 1
    for k in brute.columns:
        np.testing.assert_array_equal(c[k].to_numpy(), brute[k].to_numpy())
    np.testing.assert_array_equal(c["count"].to_numpy(), brute.sum(axis=1).to_numpy())
    assert c["count"].max() > 3  # the test means something


# -------------------------------------------------------------------------------- points


def split_reference(net: cn.WalkNetwork, snaps: dict[str, cn.SnapResult]) -> nx.Graph:
    """networkx graph of ``net`` with every edge holding points split at them; point k of
    set ``name`` becomes node (name, k), joined to its snap point by its access leg."""
    G = nx.MultiGraph()
    G.add_nodes_from(range(net.n_nodes))
    on_edge: dict[int, list] = defaultdict(list)
    for name, s in snaps.items():
        for k in np.flatnonzero(s.ok):
            on_edge[int(s.edge[k])].append(
                (float(s.along_u_m[k]), (name, int(k)), float(s.access_m[k]))
            )
    for e in range(net.n_edges):
        u, v, L = int(net.edge_u[e]), int(net.edge_v[e]), float(net.edge_length[e])
        if e not in on_edge:
            G.add_edge(u, v, length=L)
            continue
        prev, prev_pos = u, 0.0
        for pos, key, access in sorted(on_edge[e]):
            mid = ("on", key)
            G.add_edge(prev, mid, length=pos - prev_pos)
            G.add_edge(mid, key, length=access)
            prev, prev_pos = mid, pos
        G.add_edge(prev, v, length=L - prev_pos)
    return G


@pytest.fixture(scope="module")
def centre_points(osm: Path, centre_graphml: cn.WalkNetwork) -> tuple:
    fac = gpd.read_file(osm / "community_facilities.geojson")
    pc = pd.read_csv(osm / "postcodes_B.csv").dropna(subset=["lat", "lon"])
    box = (-1.93, 52.466, -1.875, 52.492)
    pc = pc[pc["lon"].between(box[0], box[2]) & pc["lat"].between(box[1], box[3])]
    people = gpd.GeoDataFrame(
        pc[["postcode"]], crs="EPSG:4326", geometry=gpd.points_from_xy(pc["lon"], pc["lat"])
    )
    people = people.sample(300, random_state=1)
    return fac, people, cn.snap_points(centre_graphml, fac), cn.snap_points(centre_graphml, people)


def test_real_snapping_finds_the_nearest_edge(
    centre_graphml: cn.WalkNetwork, centre_points: tuple
) -> None:
    fac, _, s, _ = centre_points
    pts = fac.to_crs(centre_graphml.crs).geometry.to_numpy()
    brute = np.array([shapely.distance(p, centre_graphml.edge_geometry).min() for p in pts])
    np.testing.assert_allclose(s.access_m, brute, atol=1e-6)
    assert s.ok.all()  # all 67 facilities are within 500 m of the centre graph


def test_point_distances_equal_networkx_on_split_edges(
    centre_graphml: cn.WalkNetwork, centre_points: tuple
) -> None:
    fac, people, sf, sp = centre_points
    net = centre_graphml
    G = split_reference(net, {"org": sf, "person": sp})
    orgs = [("org", int(k)) for k in np.flatnonzero(sf.ok)]
    ref = nx.multi_source_dijkstra_path_length(G, set(orgs), weight="length")
    d = cn.distance_to_nearest(net, sf, return_source=True)
    np.testing.assert_allclose(
        d["distance_m"].to_numpy(), [ref[i] for i in range(net.n_nodes)], atol=TOL, rtol=0
    )
    at = cn.distance_at_points(net, d, sp, sources=sf)
    expected = np.array(
        [ref.get(("person", k), np.nan) if sp.ok[k] else np.nan for k in range(len(sp))]
    )
    np.testing.assert_allclose(at["distance_m"].to_numpy(), expected, atol=TOL, rtol=0)
    # the nearest source named for a person is at that distance
    labels = at["source"].to_numpy()
    k = int(np.flatnonzero(sp.ok)[0])
    org_pos = fac.index.get_loc(labels[k])
    one = nx.single_source_dijkstra_path_length(G, ("org", int(org_pos)), weight="length")
    assert one[("person", k)] == pytest.approx(at["distance_m"].iloc[k], abs=TOL)


def test_point_counts_equal_networkx_brute_force(
    centre_graphml: cn.WalkNetwork, centre_points: tuple
) -> None:
    fac, people, sf, sp = centre_points
    net = centre_graphml
    G = split_reference(net, {"org": sf, "person": sp})
    c = cn.count_within(net, sf, cutoff_m=600, points=sp, groups=fac["category"].to_numpy())
    brute = pd.DataFrame(0, index=range(len(sp)), columns=sorted(fac["category"].unique()))
    for k in np.flatnonzero(sf.ok):
        reached = nx.single_source_dijkstra_path_length(
            G, ("org", int(k)), cutoff=600, weight="length"
        )
        hit = [key[1] for key in reached if isinstance(key, tuple) and key[0] == "person"]
        brute.loc[hit, fac["category"].iloc[k]] += 1
    for col in brute.columns:
        np.testing.assert_array_equal(c[col].to_numpy(dtype=np.int64), brute[col].to_numpy())
    assert c["count"].max() >= 5
    # and at the nodes
    cn_nodes = cn.count_within(net, sf, cutoff_m=600)
    node_brute = np.zeros(net.n_nodes, dtype=int)
    for k in np.flatnonzero(sf.ok):
        reached = nx.single_source_dijkstra_path_length(
            G, ("org", int(k)), cutoff=600, weight="length"
        )
        node_brute[[n for n in reached if isinstance(n, int)]] += 1
    np.testing.assert_array_equal(cn_nodes["count"].to_numpy(), node_brute)


def test_catchments_cover_reached_nodes(
    centre_graphml: cn.WalkNetwork, centre_points: tuple
) -> None:
    _, _, sf, _ = centre_points
    net = centre_graphml
    c = cn.catchments(net, sf, cutoff_m=400)
    d = cn.distance_to_nearest(net, sf, cutoff_m=400)
    reached = np.isfinite(d.to_numpy())
    pts = shapely.points(net.x[reached], net.y[reached])
    assert shapely.contains(c.geometry.iloc[0], pts).all()
    per = cn.catchments(net, sf, cutoff_m=400, per_source=True)
    assert len(per) == len(sf) and per["placed"].all()
    snapped = shapely.points(sf.x, sf.y)
    assert shapely.contains(per.geometry.to_numpy(), snapped).all()
    union = shapely.union_all(per.geometry.to_numpy())
    assert union.area == pytest.approx(c.geometry.iloc[0].area, rel=0.02)


# -------------------------------------------------------------------------------- city-wide


@pytest.fixture(scope="module")
def city(osm: Path) -> cn.WalkNetwork:
    return cn.read_walk_network(osm / "birmingham_walk_osm_2021-08.gpkg")


@pytest.mark.slow
def test_city_report(city: cn.WalkNetwork) -> None:
    r = city.report
    assert (r.nodes_read, r.edges_read, r.components) == (108_032, 139_430, 1)
    assert (r.nodes, r.nodes_dropped, r.edges_dropped) == (108_032, 0, 0)
    # one edge is an exact copy of another (same ends, length and line): merged
    assert r.duplicate_edges == 1 and r.edges == 139_429
    assert r.total_length_km == pytest.approx(8247, abs=1)  # PROVENANCE.md: 8,247 km


@pytest.mark.slow
def test_city_distances_equal_networkx(city: cn.WalkNetwork, osm: Path) -> None:
    edges = gpd.read_file(
        osm / "birmingham_walk_osm_2021-08.gpkg",
        layer="edges",
        columns=["u", "v", "length"],
        ignore_geometry=True,
    )
    H = nx.MultiGraph()
    H.add_edges_from(
        zip(
            edges["u"].tolist(),
            edges["v"].tolist(),
            ({"length": w} for w in edges["length"].tolist()),
            strict=True,
        )
    )
    rng = np.random.default_rng(2021)
    src = rng.choice(city.node_ids, 50, replace=False).tolist()
    d = cn.distance_to_nearest(city, src)
    np.testing.assert_allclose(d.to_numpy(), nx_multi(H, src, city.node_ids), atol=TOL, rtol=0)
    d = cn.distance_to_nearest(city, src, cutoff_m=1200)
    np.testing.assert_allclose(
        d.to_numpy(), nx_multi(H, src, city.node_ids, 1200.0), atol=TOL, rtol=0
    )
    c = cn.count_within(city, src[:20], cutoff_m=1200)
    brute = pd.Series(0, index=city.node_ids)
    for s in src[:20]:
        brute.loc[
            list(nx.single_source_dijkstra_path_length(H, s, cutoff=1200, weight="length"))
        ] += 1
    np.testing.assert_array_equal(c["count"].to_numpy(), brute.to_numpy())


@pytest.mark.slow
def test_city_warm_spaces(city: cn.WalkNetwork, osm: Path) -> None:
    ws = gpd.read_file(osm / "warm_spaces_birmingham.geojson")
    s = cn.snap_points(city, ws)
    assert s.n_ok == 414 and s.rejected.empty
    assert np.nanmax(s.access_m) < 500
    c = cn.count_within(
        city, s, cutoff_m=cn.metres_for_minutes(15, 4.8), groups=ws["source_directory"].to_numpy()
    )
    assert list(c.columns) == ["count", "birmingham_council", "warm_welcome"]
    np.testing.assert_array_equal(c["count"], c["birmingham_council"] + c["warm_welcome"])
    d = cn.distance_to_nearest(city, s, cutoff_m=1200)
    assert np.array_equal(np.isfinite(d.to_numpy()), c["count"].to_numpy() > 0)
