"""Compile every walking kernel once, into numba's on-disk cache.

The kernels are compiled on their first call and cached on disk (``cache=True``), so only the
first analysis on a machine pays for the compilation. ``scripts/setup.sh`` runs this module
after installing, so that the first ``cnmap run`` starts warm::

    python -m cnmap.network.warmup

It builds a small street grid with :func:`cnmap.network.walk_network_from_gdfs` (the same
array types as a real network) and calls each public search once.
"""

from __future__ import annotations

import time

import numpy as np

__all__ = ["warm_kernels"]


def _grid_network(n: int = 6, spacing: float = 100.0):  # type: ignore[no-untyped-def]
    import geopandas as gpd
    import shapely

    from cnmap.network import walk_network_from_gdfs

    x0, y0 = 400_000.0, 280_000.0
    ids = np.arange(n * n)
    xs, ys = x0 + spacing * (ids % n), y0 + spacing * (ids // n)
    nodes = gpd.GeoDataFrame({"osmid": ids}, geometry=gpd.points_from_xy(xs, ys), crs="EPSG:27700")
    right = ids[(ids % n) < n - 1]
    up = ids[ids < n * (n - 1)]
    u = np.concatenate([right, up])
    v = np.concatenate([right + 1, up + n])
    lines = shapely.linestrings(
        np.stack([np.column_stack([xs[u], ys[u]]), np.column_stack([xs[v], ys[v]])], axis=1)
    )
    edges = gpd.GeoDataFrame(
        {"u": u, "v": v, "length": np.full(u.size, spacing)}, geometry=lines, crs="EPSG:27700"
    )
    return walk_network_from_gdfs(nodes, edges, source="warm-up grid")


def warm_kernels() -> float:
    """Call every search once on a small grid; returns the seconds taken."""
    import geopandas as gpd

    from cnmap.network import (
        catchments,
        count_within,
        count_within_limits,
        distance_at_points,
        distance_to_nearest,
        nearest_by_group,
        snap_points,
    )
    from cnmap.network.reach import reach_matrix

    t = time.perf_counter()
    net = _grid_network()
    pts = gpd.GeoSeries(gpd.points_from_xy(net.x[::3] + 7.0, net.y[::3] + 3.0), crs=net.crs)
    S = snap_points(net, pts[:4])
    P = snap_points(net, pts)
    groups = np.array(["a", "b", "a", "b"])
    d = distance_to_nearest(net, S)
    distance_at_points(net, d, P, sources=S)
    count_within_limits(net, S, limits_m=[150.0, 300.0], groups=groups, points=P)
    count_within(net, net.node_ids[:3], cutoff_m=200.0)
    nearest_by_group(net, S, P, groups=groups)
    reach_matrix(net, S, P, cutoff_m=300.0)
    catchments(net, S, cutoff_m=300.0)
    catchments(net, S, cutoff_m=300.0, per_source=True)
    # the nearest-segment grid that snaps networks of a million edges and more
    from cnmap.network.snap import _locate_by_grid

    _locate_by_grid(net, np.column_stack([net.x[:5] + 3.0, net.y[:5] + 2.0]), 500.0)
    return time.perf_counter() - t


if __name__ == "__main__":
    import sys

    sys.stdout.write(f"walking kernels ready ({warm_kernels():.1f} s)\n")
