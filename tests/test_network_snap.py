"""Snapping onto edges, checked on geometry small enough to work out by hand."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely

import cnmap.network as cn
from cnmap.errors import CRSError, ValidationError

X0, Y0 = 410_000.0, 285_000.0
BNG = "EPSG:27700"


def P(x: float, y: float) -> shapely.Point:
    return shapely.Point(X0 + x, Y0 + y)


@pytest.fixture(scope="module")
def net() -> cn.WalkNetwork:
    """A(0,0) - B(100,0) straight (file length 120 m: lengths come from the file), and
    B(100,0) - C(100,200) drawn with a bend through (100,100)."""
    G = nx.MultiGraph(crs=BNG)
    G.add_node(1, x=X0, y=Y0)
    G.add_node(2, x=X0 + 100, y=Y0)
    G.add_node(3, x=X0 + 100, y=Y0 + 200)
    G.add_edge(1, 2, length=120.0)
    bend = shapely.LineString([(X0 + 100, Y0 + 200), (X0 + 100, Y0 + 100), (X0 + 100, Y0)])
    G.add_edge(2, 3, length=200.0, geometry=bend)  # drawn from C to B: reversed on build
    return cn.walk_network_from_graph(G)


def test_snap_to_the_nearest_point_of_the_nearest_edge(net: cn.WalkNetwork) -> None:
    pts = gpd.GeoSeries([P(30, 20), P(130, 50), P(100, 150)], crs=BNG, index=["a", "b", "c"])
    s = cn.snap_points(net, pts)
    f = s.to_frame()
    ab = int(np.flatnonzero(net.edge_length == 120.0)[0])
    bc = int(np.flatnonzero(net.edge_length == 200.0)[0])
    assert f.loc["a", "edge"] == ab and f.loc["b", "edge"] == bc and f.loc["c", "edge"] == bc
    # a: 30 m along A-B (of 100 m drawn), 20 m off; metres along use the file's 120 m
    assert f.loc["a", "fraction"] == pytest.approx(0.3)
    assert f.loc["a", "access_m"] == pytest.approx(20.0)
    ua = net.node_ids[f.loc["a", "u"]]
    along_a = 36.0 if ua == 1 else 84.0
    assert f.loc["a", "along_u_m"] == pytest.approx(along_a)
    assert f.loc["a", "along_u_m"] + f.loc["a", "along_v_m"] == pytest.approx(120.0)
    assert (f.loc["a", "x"], f.loc["a", "y"]) == pytest.approx((X0 + 30, Y0))
    # b: halfway up B-C (geometry oriented from u), 30 m off
    ub = net.node_ids[f.loc["b", "u"]]
    assert f.loc["b", "access_m"] == pytest.approx(30.0)
    assert f.loc["b", "along_u_m"] == pytest.approx(50.0 if ub == 2 else 150.0)
    # c: on the line itself
    assert f.loc["c", "access_m"] == pytest.approx(0.0)
    assert f.loc["c", "along_u_m"] == pytest.approx(150.0 if ub == 2 else 50.0)
    assert s.ok.all() and s.rejected.empty


def test_far_and_missing_points_are_flagged_not_placed(net: cn.WalkNetwork, caplog) -> None:
    pts = gpd.GeoSeries(
        [P(30, 20), P(50, -700), None, shapely.Point()], crs=BNG, index=[10, 11, 12, 13]
    )
    s = cn.snap_points(net, pts)
    assert s.ok.tolist() == [True, False, False, False]
    rej = s.rejected
    assert rej.index.tolist() == [11, 12, 13]
    assert rej.loc[11, "access_m"] == pytest.approx(700.0)
    assert "farther than max_snap_m" in rej.loc[11, "reason"]
    assert "missing" in rej.loc[12, "reason"]
    assert "not placed" in caplog.text
    # a larger limit places the far point
    s2 = cn.snap_points(net, pts, max_snap_m=1000)
    assert s2.ok.tolist() == [True, True, False, False]
    # flagged sources are left out of searches, and counted
    d = cn.distance_to_nearest(net, pts.iloc[1:2])
    assert np.isinf(d).all() and d.attrs["n_sources_unplaced"] == 1


def test_snap_errors(net: cn.WalkNetwork) -> None:
    with pytest.raises(ValidationError, match="representative_point"):
        cn.snap_points(net, gpd.GeoSeries([shapely.box(0, 0, 1, 1)], crs=BNG))
    with pytest.raises(CRSError, match="no CRS"):
        cn.snap_points(net, gpd.GeoSeries([P(0, 0)]))
    with pytest.raises(ValidationError, match="GeoSeries or GeoDataFrame"):
        cn.snap_points(net, [P(0, 0)])
    with pytest.raises(ValidationError, match="max_snap_m"):
        cn.snap_points(net, gpd.GeoSeries([P(0, 0)], crs=BNG), max_snap_m=-1)


def test_snap_result_belongs_to_its_network(net: cn.WalkNetwork) -> None:
    s = cn.snap_points(net, gpd.GeoSeries([P(30, 20)], crs=BNG))
    G = nx.MultiGraph(crs=BNG)
    G.add_node(1, x=X0, y=Y0)
    G.add_node(2, x=X0 + 5, y=Y0)
    G.add_edge(1, 2, length=5.0)
    small = cn.walk_network_from_graph(G)
    with pytest.raises(ValidationError, match="different network"):
        cn.distance_to_nearest(small, s)
    # a SnapResult is accepted as sources / points on its own network
    d = cn.distance_to_nearest(net, s)
    assert d.loc[1] == pytest.approx(20 + 36.0)
