"""The walk network for any district (boundary + buffer, from a .osm.pbf extract or Overpass),
its verified cache, and the guard against a network that does not cover the residents.

Online builds never touch the internet: osmnx's ``graph_from_polygon`` is replaced by a
stand-in that returns a hand-made lattice. The real-data tests use Rutland's Geofabrik
extract (February 2018) and Code-Point Open postcodes from the mirror, and the Birmingham
walk network against Solihull's postcodes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer
from scipy.sparse.csgraph import connected_components

import cnmap.network as cn
from cnmap.errors import (
    CRSError,
    DataFetchError,
    DataIntegrityError,
    GraphError,
    ValidationError,
)

ROOT = Path(__file__).resolve().parents[1]
BNG = "EPSG:27700"
E0, N0 = 450_000.0, 250_000.0  # lattice origin (British National Grid)
STEP = 100.0
RUTLAND = "E06000017"
PBF = "rutland/osm/rutland-latest_geofabrik_2018-02.osm.pbf"
PBF_SHA256 = "1ff975d78688c22977b3e01d527418ac01e0a87e8f4daa10bf8fd4fe55b8de03"  # PROVENANCE


# ---------------------------------------------------------------------------------------------
# a hand-made lattice served by a stand-in for osmnx's Overpass download


def lattice_graph(cols: int = 21, rows: int = 5) -> nx.MultiDiGraph:
    """A 100 m grid (x 0..2,000 m, y 0..400 m from E0, N0) in lon/lat, osmnx's layout."""
    to_ll = Transformer.from_crs(BNG, "EPSG:4326", always_xy=True)
    G = nx.MultiDiGraph(crs="EPSG:4326")
    for i in range(cols):
        for j in range(rows):
            lon, lat = to_ll.transform(E0 + i * STEP, N0 + j * STEP)
            G.add_node(i * 100 + j + 1, x=lon, y=lat)
    for i in range(cols):
        for j in range(rows):
            a = i * 100 + j + 1
            for b in ([(i + 1) * 100 + j + 1] if i + 1 < cols else []) + (
                [a + 1] if j + 1 < rows else []
            ):
                G.add_edge(a, b, length=STEP)
                G.add_edge(b, a, length=STEP)
    return G


def district() -> gpd.GeoSeries:
    """The left half of the lattice: nodes with x <= 1,000 m are inside."""
    return gpd.GeoSeries([shapely.box(E0 - 50, N0 - 50, E0 + 1050, N0 + 450)], crs=BNG)


def bng_points(*xy: tuple[float, float]) -> gpd.GeoSeries:
    return gpd.GeoSeries(
        gpd.points_from_xy([E0 + x for x, _ in xy], [N0 + y for _, y in xy]), crs=BNG
    )


@pytest.fixture()
def overpass(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """osmnx.graph_from_polygon replaced by the lattice; returns the list of calls."""
    import osmnx as ox

    calls: list[dict[str, Any]] = []

    def fake(polygon: Any, **kwargs: Any) -> nx.MultiDiGraph:
        calls.append({"polygon": polygon, "cache_folder": ox.settings.cache_folder, **kwargs})
        return lattice_graph()

    monkeypatch.setenv("CNMAP_OFFLINE", "0")
    monkeypatch.setattr(ox, "graph_from_polygon", fake)
    return calls


@pytest.fixture()
def fresh_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CNMAP_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_online_build_cuts_the_lattice_to_the_district_plus_buffer(
    overpass: list[dict[str, Any]], fresh_cache: Path
) -> None:
    net = cn.walk_network_for_district(
        district(), buffer_m=300, source="overpass", lad_code="e09000001"
    )
    call = overpass[0]
    assert call["network_type"] == "walk" and call["truncate_by_edge"] is False
    assert Path(call["cache_folder"]).is_relative_to(fresh_cache)  # not osmnx's ./cache
    minx, miny, maxx, maxy = call["polygon"].bounds  # the extent, sent in lon/lat
    assert -2 < minx < maxx < 0 and 51 < miny < maxy < 53
    # x <= 1,350 m is inside the extent: columns 0..13 of the lattice, 5 rows
    assert net.crs == BNG and net.n_nodes == 14 * 5
    assert net.x.max() == pytest.approx(E0 + 1300, abs=0.01)
    assert net.n_edges == 13 * 5 + 14 * 4
    ext = net.report.extent
    assert ext is not None and ext.lad_code == "E09000001" and ext.buffer_m == 300
    assert ext.source == "overpass" and ext.walk_filter.startswith("osmnx 'walk'")
    assert ext.district_km2 == pytest.approx(1.1 * 0.5, rel=1e-6)
    assert ext.extent_km2 == pytest.approx(
        float(shapely.area(shapely.buffer(district().iloc[0], 300))) / 1e6, rel=1e-3
    )
    assert shapely.contains_xy(ext.polygon().buffer(0.01), net.x, net.y).all()
    assert net.report.reader == "overpass" and "both end nodes inside" in net.report.notes[0]
    # the district and the 300 m ring around it are all within 500 m of a kept street
    assert ext.district_share_near == 1.0 and ext.ring_share_near == 1.0
    assert str(ext).startswith("E09000001 + 300 m buffer")


def test_ring_share_measures_how_far_the_source_reaches(
    overpass: list[dict[str, Any]], fresh_cache: Path
) -> None:
    # a 1,000 m ring: the lattice (x 0..2,000 m, y 0..400 m) only covers part of it
    net = cn.walk_network_for_district(district(), buffer_m=1000, source="overpass")
    ext = net.report.extent
    assert ext is not None
    box = district().iloc[0]
    ring = shapely.buffer(box, 1000).difference(box)
    near = shapely.buffer(shapely.box(E0, N0, E0 + 2000, N0 + 400), 500)
    expected = float(shapely.area(ring.intersection(near)) / shapely.area(ring))
    assert 0.2 < expected < 0.8
    assert ext.ring_share_near == pytest.approx(expected, abs=0.02)
    assert any("few walkable ways around the district" in n for n in net.report.notes)
    assert cn.share_near_network(net, ring, 500) == pytest.approx(ext.ring_share_near, abs=1e-4)
    assert np.isnan(cn.share_near_network(net, shapely.Polygon(), 500))


def _overpass_json(G: nx.MultiDiGraph, cols: int = 21, rows: int = 5) -> bytes:
    """The lattice as an Overpass API answer: nodes, plus one residential way per row and per
    column of the grid."""
    nodes = [{"type": "node", "id": n, "lat": d["y"], "lon": d["x"]} for n, d in G.nodes(data=True)]
    ways = [[i * 100 + j + 1 for i in range(cols)] for j in range(rows)]
    ways += [[i * 100 + j + 1 for j in range(rows)] for i in range(cols)]
    elements = nodes + [
        {"type": "way", "id": 9000 + k, "nodes": w, "tags": {"highway": "residential"}}
        for k, w in enumerate(ways)
    ]
    return json.dumps({"version": 0.6, "elements": elements}).encode()


@pytest.mark.slow
def test_online_build_through_osmnx_against_a_local_overpass_server(
    fresh_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """osmnx itself (query, parsing, graph, simplification) against a local stand-in for the
    Overpass API: the query carries osmnx's walk filter and the extent, the answer is cached
    under CNMAP_CACHE_DIR/osmnx."""
    import threading
    import urllib.parse
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import osmnx as ox

    body = _overpass_json(lattice_graph())
    queries: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            raw = self.rfile.read(int(self.headers["Content-Length"])).decode()
            queries.append(urllib.parse.parse_qs(raw)["data"][0])
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("CNMAP_OFFLINE", "0")
        monkeypatch.setattr(
            ox.settings, "overpass_url", f"http://127.0.0.1:{server.server_address[1]}/api"
        )
        monkeypatch.setattr(ox.settings, "overpass_rate_limit", False)
        net = cn.walk_network_for_district(district(), buffer_m=300, source="overpass")
    finally:
        server.shutdown()
        server.server_close()
    assert len(queries) == 1
    assert '["highway"]' in queries[0] and '["foot"!~"no"]' in queries[0]  # osmnx "walk"
    assert "poly:" in queries[0]
    # osmnx simplified the grid (degree-2 nodes merged); the cut keeps x <= 1,350 m: the same
    # streets as the hand-made graph gives, 14 columns by 5 rows
    assert net.report.reader == "overpass"
    assert net.x.max() == pytest.approx(E0 + 1300, abs=0.01)
    assert net.report.total_length_km == pytest.approx((13 * 5 + 14 * 4) * STEP / 1000, rel=2e-3)
    assert any((fresh_cache / "osmnx").glob("*.json"))  # osmnx's cache, not ./cache


def test_buffer_lets_a_resident_reach_an_organisation_over_the_border(
    overpass: list[dict[str, Any]], fresh_cache: Path
) -> None:
    resident = bng_points((900, 200))  # inside, 100 m from the boundary
    organisation = bng_points((1600, 200))  # 600 m over the boundary, on a street
    walks = {}
    for buffer in (0.0, cn.DEFAULT_BUFFER_M):
        net = cn.walk_network_for_district(district(), buffer_m=buffer, source="overpass")
        S = cn.snap_points(net, organisation)
        P = cn.snap_points(net, resident)
        d = cn.distance_to_nearest(net, S, cutoff_m=float(cn.metres_for_minutes(15, 4.8)))
        walks[buffer] = (bool(S.ok[0]), float(cn.distance_at_points(net, d, P, sources=S)[0]))
    # cut at the boundary, the organisation is 600 m from the nearest street kept: not placed
    assert walks[0.0] == (False, np.inf)
    # with the buffer it is a 700 m walk along the row: within 15 minutes (1,200 m)
    assert walks[cn.DEFAULT_BUFFER_M][0]
    assert walks[cn.DEFAULT_BUFFER_M][1] == pytest.approx(700.0, abs=0.01)


def test_short_buffer_is_noted_and_default_buffer_covers_walk_plus_snap(
    overpass: list[dict[str, Any]], fresh_cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert cn.min_buffer_m() == 1200 + 500
    assert cn.min_buffer_m(1600, 250) == 1850
    assert cn.DEFAULT_BUFFER_M >= cn.min_buffer_m()
    with caplog.at_level(logging.WARNING, logger="cnmap.network.district"):
        net = cn.walk_network_for_district(district(), buffer_m=100, source="overpass")
    assert any("less than the walk limit" in n for n in net.report.notes)
    assert "less than the walk limit" in caplog.text
    full = cn.walk_network_for_district(district(), source="overpass")
    assert not any("less than the walk limit" in n for n in full.report.notes)
    assert full.report.extent is not None and full.report.extent.buffer_m == 2000.0
    assert full.report.extent.walk_limit_m == 1200.0
    assert full.report.extent.snap_limit_m == 500.0
    with pytest.raises(ValidationError, match="max_snap_m"):
        cn.min_buffer_m(1200, -1)


def _sidecar(cache: Path) -> Path:
    (side,) = (cache / "network" / "district").glob("*.npz.cnmap.json")
    return side


@pytest.mark.slow
def test_cache_is_verified_reused_and_rebuilt_when_damaged(
    overpass: list[dict[str, Any]], fresh_cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = cn.walk_network_for_district(district(), buffer_m=500, source="overpass")
    side = _sidecar(fresh_cache)
    npz = side.with_name(side.name.removesuffix(".cnmap.json"))
    rec = json.loads(side.read_text())
    assert rec["sha256"] == hashlib.sha256(npz.read_bytes()).hexdigest()
    assert rec["size"] == npz.stat().st_size and rec["origin"] == "url"
    import osmnx as ox

    assert rec["url"] == ox.settings.overpass_url and rec["vintage"]  # the download time
    assert rec["attribution"] == "© OpenStreetMap contributors, ODbL 1.0"
    assert (rec["nodes"], rec["edges"], rec["buffer_m"]) == (first.n_nodes, first.n_edges, 500)

    again = cn.walk_network_for_district(district(), buffer_m=500, source="overpass")
    assert len(overpass) == 1  # served from the cache
    assert np.array_equal(again.node_ids, first.node_ids)
    assert again.report.extent == first.report.extent

    # a changed byte: the checksum fails, the copy is removed and built again
    raw = bytearray(npz.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    npz.write_bytes(bytes(raw))
    with caplog.at_level(logging.WARNING, logger="cnmap.network.district"):
        rebuilt = cn.walk_network_for_district(district(), buffer_m=500, source="overpass")
    assert "failed verification" in caplog.text and "sha256" in caplog.text
    assert len(overpass) == 2 and np.array_equal(rebuilt.node_ids, first.node_ids)

    # a truncated file and a damaged sidecar: the same
    npz.write_bytes(npz.read_bytes()[:-10])
    cn.walk_network_for_district(district(), buffer_m=500, source="overpass")
    assert len(overpass) == 3
    _sidecar(fresh_cache).write_text("{not json")
    cn.walk_network_for_district(district(), buffer_m=500, source="overpass")
    assert len(overpass) == 4
    cn.walk_network_for_district(district(), buffer_m=500, source="overpass", refresh=True)
    assert len(overpass) == 5
    # another buffer is another network
    other = cn.walk_network_for_district(district(), buffer_m=0, source="overpass")
    assert len(overpass) == 6 and other.n_nodes < first.n_nodes


def test_cache_false_writes_nothing(overpass: list[dict[str, Any]], fresh_cache: Path) -> None:
    net = cn.walk_network_for_district(district(), buffer_m=200, source="overpass", cache=False)
    assert net.report.extent is not None
    folder = fresh_cache / "network" / "district"
    assert not folder.exists() or not any(folder.iterdir())
    cn.walk_network_for_district(district(), buffer_m=200, source="overpass", cache=False)
    assert len(overpass) == 2


def test_offline_serves_the_cache_and_refuses_a_download(
    overpass: list[dict[str, Any]], fresh_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    net = cn.walk_network_for_district(district(), buffer_m=400, source="overpass")
    monkeypatch.setenv("CNMAP_OFFLINE", "1")
    cached = cn.walk_network_for_district(district(), buffer_m=400, source="overpass")
    assert cached.n_nodes == net.n_nodes and len(overpass) == 1
    with pytest.raises(DataFetchError, match=r"CNMAP_OFFLINE=1.*\.osm\.pbf"):
        cn.walk_network_for_district(district(), buffer_m=401, source="overpass")
    with pytest.raises(DataFetchError, match="no OSM extract for E09999999"):
        cn.walk_network_for_district(district(), source="auto", lad_code="E09999999")
    assert len(overpass) == 1


def test_download_failure_names_the_offline_remedy(
    monkeypatch: pytest.MonkeyPatch, fresh_cache: Path
) -> None:
    import osmnx as ox

    def failing(polygon: Any, **kwargs: Any) -> None:
        raise ConnectionError("no route to host")

    monkeypatch.setenv("CNMAP_OFFLINE", "0")
    monkeypatch.setattr(ox, "graph_from_polygon", failing)
    with pytest.raises(DataFetchError, match="no route to host.*extract"):
        cn.walk_network_for_district(district(), source="overpass")
    assert not (fresh_cache / "network" / "district").exists() or not any(
        (fresh_cache / "network" / "district").iterdir()
    )


def test_bad_boundaries_buffers_and_sources(
    overpass: list[dict[str, Any]], fresh_cache: Path, tmp_path: Path
) -> None:
    with pytest.raises(ValidationError, match="buffer_m"):
        cn.walk_network_for_district(district(), buffer_m=-1, source="overpass")
    with pytest.raises(ValidationError, match="buffer_m"):
        cn.walk_network_for_district(district(), buffer_m=float("nan"), source="overpass")
    with pytest.raises(ValidationError, match="no area"):
        cn.walk_network_for_district(shapely.Point(0, 52), source="overpass")
    with pytest.raises(ValidationError, match="shapely"):
        cn.walk_network_for_district("E06000017", source="overpass")
    with pytest.raises(CRSError, match="no CRS"):
        cn.walk_network_for_district(gpd.GeoSeries([shapely.box(0, 0, 1, 1)]), source="overpass")
    with pytest.raises(DataFetchError, match="OSM extract not found"):
        cn.walk_network_for_district(district(), source=tmp_path / "nowhere.osm.pbf")
    far = gpd.GeoSeries([shapely.box(100_000, 600_000, 101_000, 601_000)], crs=BNG)
    with pytest.raises(GraphError, match="no walkable way lies inside"):
        cn.walk_network_for_district(far, source="overpass")
    assert overpass  # the stand-in was asked, and answered with a lattice far away


# ---------------------------------------------------------------------------------------------
# the boundary helper


def test_read_district_boundary(shared_data: Path, tmp_path: Path) -> None:
    one = cn.read_district_boundary(shared_data / "rutland" / "rutland_lad24_bsc_wgs84.gpkg")
    assert list(one["lad_code"]) == [RUTLAND] and one.crs.to_epsg() == 4326
    national = cn.read_district_boundary(
        shared_data / "england" / "boundaries" / "LAD_DEC_24_UK_BSC.geojson",
        lad_code=RUTLAND.lower(),
    )
    assert list(national["lad_code"]) == [RUTLAND]
    a1 = float(one.to_crs(BNG).area.iloc[0])
    a2 = float(national.to_crs(BNG).area.iloc[0])
    assert a1 == pytest.approx(a2, rel=1e-3) and 390e6 < a1 < 400e6  # 394 km², BSC
    with pytest.raises(ValidationError, match="no district E06000999"):
        cn.read_district_boundary(
            shared_data / "rutland" / "rutland_lad24_bsc_wgs84.gpkg", "E06000999"
        )
    with pytest.raises(DataFetchError, match="not found"):
        cn.read_district_boundary(tmp_path / "missing.gpkg")


# ---------------------------------------------------------------------------------------------
# Rutland from the Geofabrik extract (real data)


def test_district_boundary_from_the_catalogue(shared_data: Path) -> None:
    rut = cn.district_boundary(RUTLAND.lower())
    assert list(rut["lad_code"]) == [RUTLAND]
    direct = cn.read_district_boundary(shared_data / "rutland" / "rutland_lad24_bsc_wgs84.gpkg")
    assert shapely.equals(rut.geometry.iloc[0], direct.geometry.iloc[0])
    coventry = cn.district_boundary("E08000026")  # from the national file
    assert list(coventry["lad_code"]) == ["E08000026"]
    assert 95e6 < float(coventry.to_crs(BNG).area.iloc[0]) < 105e6  # 98.6 km²


@pytest.fixture(scope="module")
def rutland(shared_data: Path) -> dict[str, Any]:
    boundary = cn.district_boundary(RUTLAND)
    nets = {
        b: cn.walk_network_for_district(boundary, buffer_m=b, source=PBF)
        for b in (0.0, cn.DEFAULT_BUFFER_M)
    }
    pc = pd.read_csv(shared_data / "rutland" / "rutland_codepo_2025.4_wgs84_lsoa21pip.csv")
    residents = gpd.GeoDataFrame(
        pc[["Postcode"]], crs=BNG, geometry=gpd.points_from_xy(pc["Eastings"], pc["Northings"])
    )
    return {
        "boundary": boundary,
        "nets": nets,
        "residents": residents,
        "district": boundary.to_crs(BNG).geometry.iloc[0],
    }


@pytest.mark.slow
def test_rutland_network_is_plausible_projected_and_connected(
    rutland: dict[str, Any], shared_data: Path
) -> None:
    net = rutland["nets"][cn.DEFAULT_BUFFER_M]
    r = net.report
    assert net.crs == BNG and r.crs == BNG and r.crs_in == "EPSG:4326"
    assert r.reader == "osm_pbf"
    # 394 km² of rural county plus 2 km: tens of thousands of unsimplified OSM segments
    assert 15_000 < net.n_nodes < 40_000 and net.n_nodes <= net.n_edges < 1.2 * net.n_nodes
    assert 900 < r.total_length_km < 1_600
    # coordinates in British National Grid metres, around Oakham (E 486,000, N 308,000)
    assert 470_000 < net.x.min() < net.x.max() < 510_000
    assert 290_000 < net.y.min() < net.y.max() < 325_000
    # the largest connected component is kept, the rest dropped and reported
    n_comp, _ = connected_components(net.adjacency, directed=False)
    assert n_comp == 1
    assert r.components > 1 and r.nodes_dropped > 0
    assert r.nodes + r.nodes_dropped == r.nodes_read
    assert r.edges + r.edges_dropped == r.edges_read - r.duplicate_edges
    # every node of the district network is a node of the whole extract's network
    whole = cn.read_walk_network(shared_data / PBF)
    assert np.isin(net.node_ids, whole.node_ids).all()
    assert net.n_nodes < whole.n_nodes


@pytest.mark.slow
def test_rutland_network_covers_the_district_and_records_its_extent(
    rutland: dict[str, Any], shared_data: Path
) -> None:
    net = rutland["nets"][cn.DEFAULT_BUFFER_M]
    ext = net.report.extent
    assert ext is not None
    assert ext.lad_code == RUTLAND and ext.buffer_m == 2000.0
    assert ext.buffer_m >= cn.min_buffer_m(ext.walk_limit_m, ext.snap_limit_m)
    assert ext.source == "osm_pbf" and ext.source_file.endswith(PBF)
    assert ext.source_sha256 == PBF_SHA256
    assert ext.osm_timestamp == "2018-02-27T21:43:02+00:00"
    district = rutland["district"]
    assert shapely.hausdorff_distance(ext.district(), district) < 1.0  # WKT rounded to 1 m
    assert ext.district_km2 == pytest.approx(394.37, abs=0.5)
    # every node lies in the district plus buffer; the district itself is covered
    assert shapely.contains_xy(ext.polygon().buffer(1.0), net.x, net.y).all()
    assert not shapely.contains_xy(district, net.x, net.y).all()  # it reaches over the border
    assert ext.district_share_near > 0.9
    assert ext.district_share_near == pytest.approx(
        cn.share_near_network(net, district, 500), abs=1e-4
    )
    # residents: every Rutland postcode is within 500 m of a street of the network
    P = cn.snap_points(net, rutland["residents"])
    assert P.n_ok == len(rutland["residents"])
    guard = cn.check_snap_coverage(P)
    assert guard.status == "ok" and guard.share_unplaced == 0.0
    # the 2018 extract is cut close to the county: less of the 2 km ring is near a street,
    # and the network says so
    assert ext.ring_share_near < 0.75 * ext.district_share_near
    assert any("extract seems cut close to the boundary" in n for n in net.report.notes)


@pytest.mark.slow
def test_rutland_cache_has_a_verified_sidecar(rutland: dict[str, Any], shared_data: Path) -> None:
    from cnmap import settings

    net = rutland["nets"][cn.DEFAULT_BUFFER_M]
    sides = list(
        (settings.cache_dir() / "network" / "district").glob(f"{RUTLAND}_osm_pbf-*.npz.cnmap.json")
    )
    recs = [json.loads(s.read_text()) for s in sides]
    rec = next(r for r in recs if r["buffer_m"] == 2000.0)
    assert rec["origin"] == "mirror" and rec["mirror_path"] == PBF
    assert rec["source_sha256"] == PBF_SHA256 and rec["lad_codes"] == [RUTLAND]
    assert rec["vintage"].startswith("2018-02-27") and "ODbL" in rec["attribution"]
    again = cn.walk_network_for_district(rutland["boundary"], source=shared_data / PBF)
    assert np.array_equal(again.edge_length, net.edge_length)


@pytest.mark.slow
def test_auto_source_finds_the_catalogued_extract_and_checks_its_checksum(
    rutland: dict[str, Any], shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    auto = cn.walk_network_for_district(rutland["boundary"])  # source="auto", offline
    ext = auto.report.extent
    assert ext is not None and ext.source == "osm_pbf" and ext.source_file.endswith(PBF)
    assert np.array_equal(auto.node_ids, rutland["nets"][cn.DEFAULT_BUFFER_M].node_ids)
    # a mirror whose manifest lists a copy of the extract with another checksum: refused
    (tmp_path / "osm").mkdir()
    (tmp_path / "osm" / "copy.osm.pbf").write_bytes((shared_data / PBF).read_bytes())
    (tmp_path / "cnmap-mirror.toml").write_text(
        '[[mirror]]\ndataset = "osm_extract"\npath = "osm/copy.osm.pbf"\n'
        f'lad_codes = ["{RUTLAND}"]\nsha256 = "{"0" * 64}"\n'
    )
    monkeypatch.setenv("CNMAP_DATA_MIRROR", str(tmp_path))
    with pytest.raises(DataIntegrityError, match="catalogue expects 0000"):
        cn.walk_network_for_district(rutland["boundary"], refresh=True)
    # the same file named by its path is checked against the catalogue too
    with pytest.raises(DataIntegrityError, match="catalogue expects 0000"):
        cn.walk_network_for_district(rutland["boundary"], source="osm/copy.osm.pbf")
    # a file the catalogue does not list is read as it is (its checksum recorded)
    (tmp_path / "cnmap-mirror.toml").unlink()
    net = cn.walk_network_for_district(rutland["boundary"], source="osm/copy.osm.pbf")
    assert net.report.extent is not None and net.report.extent.source_sha256 == PBF_SHA256


@pytest.mark.slow
def test_an_area_stands_for_its_boundary_and_code(rutland: dict[str, Any]) -> None:
    import cnmap

    area = cnmap.load_area(RUTLAND)
    net = cn.walk_network_for_district(area)  # the union of its 20 m (BGC) wards
    ext = net.report.extent
    assert ext is not None and ext.lad_code == RUTLAND and ext.source == "osm_pbf"
    assert ext.district_km2 == pytest.approx(
        float(area.boundary.to_crs(BNG).area.sum()) / 1e6, rel=1e-3
    )
    bsc = rutland["nets"][cn.DEFAULT_BUFFER_M]
    assert net.n_nodes == pytest.approx(bsc.n_nodes, rel=0.01)  # 20 m vs 200 m outline


def _outside_places(shared_data: Path, district: shapely.Geometry) -> gpd.GeoDataFrame:
    """Real places of the extract just over the county line (Stamford's bus stops, a café, a
    church ...): OSM nodes and ways tagged amenity, shop, tourism, leisure or bus_stop."""
    from pyrosm import OSM

    pois = OSM(str(shared_data / PBF)).get_pois(
        custom_filter={
            "amenity": True,
            "shop": True,
            "tourism": True,
            "leisure": True,
            "highway": ["bus_stop"],
        }
    )
    pois = pois.to_crs(BNG)
    pts = pois.geometry.representative_point()
    over = ~pts.within(district)
    return gpd.GeoDataFrame(
        pois.loc[over, ["id"]].reset_index(drop=True), geometry=pts[over].to_numpy(), crs=BNG
    )


def _walks(
    net: cn.WalkNetwork, places: gpd.GeoDataFrame, residents: gpd.GeoDataFrame
) -> tuple[np.ndarray, int, int]:
    S = cn.snap_points(net, places)
    P = cn.snap_points(net, residents)
    d = cn.distance_to_nearest(net, S, cutoff_m=1200.0)
    return cn.distance_at_points(net, d, P, sources=S).to_numpy(float), S.n_ok, P.n_ok


@pytest.mark.slow
def test_rutland_buffer_lets_border_residents_reach_places_over_it(
    rutland: dict[str, Any], shared_data: Path
) -> None:
    district = rutland["district"]
    places = _outside_places(shared_data, district)
    assert len(places) >= 10
    residents = rutland["residents"]
    cut, orgs_cut, res_cut = _walks(rutland["nets"][0.0], places, residents)
    buffered, orgs_buf, res_buf = _walks(rutland["nets"][cn.DEFAULT_BUFFER_M], places, residents)
    # places over the border are placed only when the network runs over the border
    assert orgs_buf == len(places) > orgs_cut
    # residents whose street leaves the generalised boundary are placed only with the buffer
    assert res_buf == len(residents) > res_cut
    only_buffered = (buffered <= 1200) & ~(cut <= 1200)
    assert only_buffered.sum() >= 1
    # those residents live near the border (the walk is at most 1,200 m)
    near = residents.geometry[only_buffered].distance(district.boundary)
    assert (near <= 1200).all()
    # the figures quoted in docs/network.md are these
    doc = _docs_section("Rutland: what the buffer changes")
    n = len(residents)
    for quoted in (
        f"| postcodes placed (within 500 m of a street) | {res_cut:,} of {n:,} | "
        f"{res_buf:,} of {n:,} |",
        f"| places over the boundary placed | {orgs_cut} of {len(places)} | "
        f"{orgs_buf} of {len(places)} |",
        f"| {int((cut <= 1200).sum())} | {int((buffered <= 1200).sum())} |",
    ):
        assert quoted in doc, quoted
    pcs = ", ".join(residents["Postcode"][only_buffered])
    assert f"({pcs})" in doc
    shorter = np.isfinite(cut) & (cut < buffered - 1) & (buffered <= 1200)
    assert f"{_WORDS[int(shorter.sum())]} postcodes" in doc.lower()
    assert f"{_WORDS[n - res_cut]} postcodes" in doc.lower()


# ---------------------------------------------------------------------------------------------
# the guard against a network that does not cover the residents


def test_guard_shares_are_population_weighted(caplog: pytest.LogCaptureFixture) -> None:
    d = [10.0, 600.0, np.nan, 500.0]  # 500 m is at the limit: placed, as in snap_points
    w = [1.0, 1.0, 1.0, 97.0]
    with caplog.at_level(logging.WARNING, logger="cnmap.network.cover"):
        g = cn.check_snap_coverage(d, w, max_snap_m=500)
    assert (g.n_points, g.n_unplaced) == (4, 2)
    assert g.population == 100 and g.population_unplaced == 2
    assert g.share_unplaced == pytest.approx(0.02) and g.status == "warn"
    assert g.note.startswith("2.0% of residents (2 of 100 people at 2 of 4 points)")
    assert "walk_network_for_district" in g.note and g.note in caplog.text
    assert g.to_dict()["share_unplaced"] == pytest.approx(0.02)
    # unweighted, the same points are half the residents: refused
    with pytest.raises(ValidationError) as err:
        cn.check_snap_coverage(d, max_snap_m=500)
    msg = str(err.value)
    assert msg.startswith("50.0% of residents") and "does not cover the area" in msg
    for remedy in ("walk_network_for_district", "[network] path", "crow_flies"):
        assert remedy in msg
    g = cn.check_snap_coverage(d, max_snap_m=500, refuse=False)
    assert g.status == "refuse" and g.share_unplaced == 0.5 and g.note == msg
    # at and below the thresholds
    assert cn.check_snap_coverage([0.0] * 99 + [900.0]).status == "ok"  # exactly 1 %
    assert cn.check_snap_coverage([0.0] * 9 + [900.0]).status == "warn"  # exactly 10 %
    ok = cn.check_snap_coverage([1.0, 2.0], [3, 4])
    assert ok.status == "ok" and ok.note == "" and ok.share_unplaced == 0.0
    # nobody weighs anything: the share is by count
    assert cn.check_snap_coverage([1.0, 900.0], [0, 0], refuse=False).share_unplaced == 0.5


def test_guard_reads_a_snap_result_and_rejects_bad_input(
    overpass: list[dict[str, Any]], fresh_cache: Path
) -> None:
    net = cn.walk_network_for_district(district(), buffer_m=0, source="overpass")
    pts = bng_points((500, 200), (500, 480), (1700, 200), (1800, 200))  # 2 over the border
    P = cn.snap_points(net, pts, max_snap_m=200)
    g = cn.check_snap_coverage(P, [10, 10, 5, 5], refuse=False)
    assert g.max_snap_m == 200 and g.n_unplaced == 2 == int((~P.ok).sum())
    assert g.share_unplaced == pytest.approx(10 / 30) and g.status == "refuse"
    assert cn.check_snap_coverage(P, [10, 10, 5, 5], max_snap_m=900).status == "ok"
    with pytest.raises(ValidationError, match="no residents"):
        cn.check_snap_coverage([])
    with pytest.raises(ValidationError, match="3 weights for 2"):
        cn.check_snap_coverage([1.0, 2.0], [1, 1, 1])
    with pytest.raises(ValidationError, match="finite numbers >= 0"):
        cn.check_snap_coverage([1.0, 2.0], [1, -1])
    with pytest.raises(ValidationError, match="finite numbers >= 0"):
        cn.check_snap_coverage([1.0, 2.0], [1, np.nan])
    with pytest.raises(ValidationError, match="warn_above"):
        cn.check_snap_coverage([1.0], warn_above=0.2, refuse_above=0.1)
    with pytest.raises(ValidationError, match="max_snap_m"):
        cn.check_snap_coverage([1.0], max_snap_m=-5)
    with pytest.raises(ValidationError, match="numbers"):
        cn.check_snap_coverage(["far"])


def _solihull_residents(shared_data: Path) -> tuple[gpd.GeoSeries, np.ndarray]:
    """Solihull's Code-Point postcodes, each carrying its LSOA's Census 2021 residents shared
    equally among the LSOA's postcodes (postcodes falling in a non-Solihull LSOA dropped)."""
    sol = shared_data / "solihull"
    pc = pd.read_csv(sol / "solihull_codepo_2025.4_wgs84_lsoa21pip.csv")
    pop = pd.read_csv(sol / "solihull_census2021_RM121_population_lsoa21.csv")
    lsoa = pc["lsoa21_code_pip_bsc"]
    per = pop.set_index("lsoa21_code")["Total"].reindex(lsoa).to_numpy(float)
    w = per / pc.groupby("lsoa21_code_pip_bsc")["Postcode"].transform("size").to_numpy()
    keep = np.isfinite(w)
    pts = gpd.GeoSeries(gpd.points_from_xy(pc["Eastings"][keep], pc["Northings"][keep]), crs=BNG)
    return pts, w[keep]


@pytest.mark.slow
def test_guard_on_real_networks(shared_data: Path) -> None:
    osm = shared_data / "birmingham" / "osm"
    bham = cn.read_walk_network(osm / "birmingham_walk_osm_2021-08.gpkg")
    # Solihull's residents on Birmingham's network, which stops in the middle of Solihull
    pts, w = _solihull_residents(shared_data)
    assert len(pts) > 4000 and 200_000 < w.sum() < 230_000  # Census 2021: 216,240
    P = cn.snap_points(bham, pts)
    g = cn.check_snap_coverage(P, w)
    expected = float(w[~P.ok].sum() / w.sum())
    assert g.share_unplaced == pytest.approx(expected)
    assert g.status == "warn" and 0.01 < expected <= 0.10  # 9.3 %: warned, not refused
    assert g.n_unplaced == int((~P.ok).sum()) > 400
    # every eastern postcode beyond the network's edge is among the unplaced
    east = pts.x.to_numpy() > bham.x.max() + 500
    assert east.any() and not P.ok[east].any()
    doc = _docs_section("Guard: does the network cover the residents?")
    assert (
        f"Solihull's {len(pts):,} postcodes" in doc
        and f"**{expected:.1%}**" in doc
        and f"Solihull's {w.sum():,.0f} residents" in doc
    )
    # a stricter snapping limit on the same data is refused, naming the remedy
    with pytest.raises(ValidationError, match="walk_network_for_district"):
        cn.check_snap_coverage(cn.snap_points(bham, pts, max_snap_m=100), w)
    # Birmingham's own postcodes: all placed
    pc = pd.read_csv(osm / "postcodes_B.csv").dropna(subset=["lat", "lon"])
    pc = pc[pc["in_birmingham_city"].astype(str) == "True"]
    own = gpd.GeoSeries(gpd.points_from_xy(pc["lon"], pc["lat"]), crs="EPSG:4326")
    assert cn.check_snap_coverage(cn.snap_points(bham, own)).status == "ok"
    # the city-centre street graph used for the whole city: refused
    centre = cn.read_walk_network(osm / "birmingham_centre_drive_osmnx_2022-03.gpkg")
    with pytest.raises(ValidationError, match=r"^\d+\.\d% of residents .* does not cover"):
        cn.check_snap_coverage(cn.snap_points(centre, own))


# ---------------------------------------------------------------------------------------------
# the docs: the "network for any district" example runs offline from the mirror


_WORDS = {
    2: "two",
    3: "three",
    4: "four",
    5: "five",
    6: "six",
    7: "seven",
    8: "eight",
    9: "nine",
    10: "ten",
    11: "eleven",
    12: "twelve",
    13: "thirteen",
    14: "fourteen",
    15: "fifteen",
}


def _docs_section(heading: str) -> str:
    text = (ROOT / "docs" / "network.md").read_text(encoding="utf-8")
    return " ".join(text.split(f"## {heading}\n", 1)[1].split("\n#", 1)[0].split())


def _docs_block(heading: str) -> str:
    text = (ROOT / "docs" / "network.md").read_text(encoding="utf-8")
    section = text.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert blocks, f"no python block under '## {heading}'"
    return blocks[0]


@pytest.mark.slow
def test_docs_district_example_runs(
    shared_data: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    scope: dict[str, Any] = {}
    exec(compile(_docs_block("A network for any district"), "docs/network.md", "exec"), scope)
    net = scope["net"]
    assert isinstance(net, cn.WalkNetwork) and net.report.extent is not None
    assert net.report.extent.lad_code == RUTLAND
    assert "guard" in scope and scope["guard"].status == "ok"
