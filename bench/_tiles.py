"""The tiled Birmingham network of ``bench_coverage_scale``, built only where it is needed.

:class:`TiledSource` stands for ``bench_coverage_scale.tiled_network(net, k)`` without ever
holding it: :meth:`TiledSource.around` builds the part of the tiled network near some points
(a :class:`cnmap.national.halo.NetworkSource`), with the same node ids, coordinates, lengths
and edge order as the whole tiled network, so a halo cut from it equals the one cut from the
whole. :func:`block_points` gives the rows of ``tiled_points`` that lie on some tiles only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from bench.bench_coverage_scale import GAP_M, _grid

__all__ = ["TiledSource", "block_points"]


def _edge_bounds(coords: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """(n_edges, 4) bounding boxes (xmin, ymin, xmax, ymax) of flat edge geometries."""
    start = offsets[:-1]
    xs, ys = coords[:, 0], coords[:, 1]
    return np.column_stack(
        [
            np.minimum.reduceat(xs, start),
            np.minimum.reduceat(ys, start),
            np.maximum.reduceat(xs, start),
            np.maximum.reduceat(ys, start),
        ]
    )


def _hits(bounds: np.ndarray, box: Sequence[float]) -> np.ndarray:
    """Mask of the boxes (rows of ``bounds``) that meet ``box``."""
    return np.asarray(
        (bounds[:, 0] <= box[2])
        & (bounds[:, 2] >= box[0])
        & (bounds[:, 1] <= box[3])
        & (bounds[:, 3] >= box[1])
    )


def _gather(
    coords: np.ndarray, offsets: np.ndarray, edges: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Vertices and offsets of some edges of a flat geometry array."""
    counts = offsets[edges + 1] - offsets[edges]
    new_off = np.zeros(edges.size + 1, dtype=np.int64)
    np.cumsum(counts, out=new_off[1:])
    idx = np.repeat(offsets[edges] - new_off[:-1], counts) + np.arange(int(new_off[-1]))
    return coords[idx], new_off


class TiledSource:
    """``k`` tiles of ``net`` (as ``tiled_network``), built on demand around some points.

    Parameters
    ----------
    net
        The Birmingham walk network (one tile).
    k
        Number of tiles.
    """

    def __init__(self, net: Any, k: int) -> None:
        self.net, self.k, self.n = net, k, net.n_nodes
        width = float(net.x.max() - net.x.min()) + GAP_M
        height = float(net.y.max() - net.y.min()) + GAP_M
        self.size = (width, height)
        col, row = _grid(k)
        self.dx, self.dy = col * width, row * height
        flat = net.edge_coords
        self.coords, self.offsets = flat.coords, flat.offsets
        self.bounds = _edge_bounds(self.coords, self.offsets)
        lo, hi = self.bounds[:, :2].min(axis=0), self.bounds[:, 2:].max(axis=0)
        self.tile_bounds = np.column_stack(
            [lo[0] + self.dx, lo[1] + self.dy, hi[0] + self.dx, hi[1] + self.dy]
        )
        self.link_u, self.link_v = self._links(col, row)
        lx = np.column_stack([self._x(self.link_u), self._x(self.link_v)])
        ly = np.column_stack([self._y(self.link_u), self._y(self.link_v)])
        self.link_bounds = np.column_stack([lx.min(1), ly.min(1), lx.max(1), ly.max(1)])
        self.link_xy = np.column_stack([lx[:, 0], ly[:, 0], lx[:, 1], ly[:, 1]])
        self.link_len = np.hypot(lx[:, 0] - lx[:, 1], ly[:, 0] - ly[:, 1])

    def _links(self, col: np.ndarray, row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The streets joining neighbouring tiles, in ``tiled_network``'s order."""
        net, n = self.net, self.n
        east, west = int(np.argmax(net.x)), int(np.argmin(net.x))
        north, south = int(np.argmax(net.y)), int(np.argmin(net.y))
        pos = {(int(c), int(r)): i for i, (c, r) in enumerate(zip(col, row, strict=True))}
        link_u, link_v = [], []
        for (c, r), i in pos.items():
            if (c + 1, r) in pos:
                link_u.append(i * n + east)
                link_v.append(pos[(c + 1, r)] * n + west)
            if (c, r + 1) in pos:
                link_u.append(i * n + north)
                link_v.append(pos[(c, r + 1)] * n + south)
        return np.array(link_u, dtype=np.int64), np.array(link_v, dtype=np.int64)

    def _x(self, ids: np.ndarray) -> np.ndarray:
        t, i = np.divmod(ids, self.n)
        return np.asarray(self.net.x[i] + self.dx[t])

    def _y(self, ids: np.ndarray) -> np.ndarray:
        t, i = np.divmod(ids, self.n)
        return np.asarray(self.net.y[i] + self.dy[t])

    def _kept_nodes(self, box: Sequence[float]) -> tuple[dict[int, np.ndarray], np.ndarray]:
        """Per tile, its nodes on an edge meeting ``box``; and the links meeting it."""
        net = self.net
        keep: dict[int, np.ndarray] = {}
        for t in np.flatnonzero(_hits(self.tile_bounds, box)):
            shifted = (
                box[0] - self.dx[t],
                box[1] - self.dy[t],
                box[2] - self.dx[t],
                box[3] - self.dy[t],
            )
            near = _hits(self.bounds, shifted)
            mask = np.zeros(self.n, dtype=bool)
            mask[net.edge_u[near]] = True
            mask[net.edge_v[near]] = True
            keep[int(t)] = mask
        links = np.flatnonzero(_hits(self.link_bounds, box))
        for ids in (self.link_u[links], self.link_v[links]):
            for t, i in zip(*np.divmod(ids, self.n), strict=True):
                keep.setdefault(int(t), np.zeros(self.n, dtype=bool))[i] = True
        return keep, links

    def around(self, xy: np.ndarray, radius_m: float) -> tuple[Any, bool]:
        """The tiled network's subgraph induced by the nodes of every edge (and link) whose
        bounding box meets the points' bounding box widened by ``radius_m``."""
        from cnmap.network import build

        box = (
            float(xy[:, 0].min()) - radius_m,
            float(xy[:, 1].min()) - radius_m,
            float(xy[:, 0].max()) + radius_m,
            float(xy[:, 1].max()) + radius_m,
        )
        keep, _ = self._kept_nodes(box)
        tiles = sorted(keep)
        start = np.cumsum([0] + [int(keep[t].sum()) for t in tiles])
        new_pos = {t: np.cumsum(keep[t]) - 1 + start[j] for j, t in enumerate(tiles)}
        net = self.net
        ids, xs, ys, us, vs, lens, vert, offs = [], [], [], [], [], [], [], []
        for t in tiles:
            m = keep[t]
            ids.append(t * self.n + np.flatnonzero(m))
            xs.append(net.x[m] + self.dx[t])
            ys.append(net.y[m] + self.dy[t])
            e = np.flatnonzero(m[net.edge_u] & m[net.edge_v])
            us.append(new_pos[t][net.edge_u[e]])
            vs.append(new_pos[t][net.edge_v[e]])
            lens.append(net.edge_length[e])
            c, o = _gather(self.coords, self.offsets, e)
            vert.append(c + np.array([self.dx[t], self.dy[t]]))
            offs.append(o)
        lt_u, li_u = np.divmod(self.link_u, self.n)
        lt_v, li_v = np.divmod(self.link_v, self.n)
        in_u = np.array(
            [t in keep and keep[t][i] for t, i in zip(lt_u, li_u, strict=True)], dtype=bool
        )
        in_v = np.array(
            [t in keep and keep[t][i] for t, i in zip(lt_v, li_v, strict=True)], dtype=bool
        )
        links = np.flatnonzero(in_u & in_v)
        us.append(np.array([new_pos[int(lt_u[j])][li_u[j]] for j in links], dtype=np.int64))
        vs.append(np.array([new_pos[int(lt_v[j])][li_v[j]] for j in links], dtype=np.int64))
        lens.append(self.link_len[links])
        vert.append(self.link_xy[links].reshape(-1, 2))
        offs.append(2 * np.arange(links.size + 1, dtype=np.int64))
        n_new = int(start[-1])
        u, v, length = np.concatenate(us), np.concatenate(vs), np.concatenate(lens)
        indptr, cols, w, _, _ = build._csr(n_new, u, v, length)
        coords, offsets = vert[0] if len(vert) == 1 else np.concatenate(vert), _join_offsets(offs)
        sub = build.WalkNetwork(
            node_ids=build._readonly(np.concatenate(ids)),
            x=build._readonly(np.concatenate(xs)),
            y=build._readonly(np.concatenate(ys)),
            indptr=build._readonly(indptr),
            indices=build._readonly(cols.astype(np.int32)),
            data=build._readonly(w),
            edge_u=build._readonly(u),
            edge_v=build._readonly(v),
            edge_length=build._readonly(length),
            edge_geometry=build.EdgeCoords(coords=coords, offsets=offsets),
            crs=net.crs,
            report=dataclasses.replace(net.report, nodes=n_new, edges=int(u.size)),
        )
        return sub, n_new == self.k * self.n


def _join_offsets(parts: list[np.ndarray]) -> np.ndarray:
    """Offsets of concatenated flat geometries."""
    out, base = [np.zeros(1, dtype=np.int64)], 0
    for o in parts:
        out.append(o[1:] + base)
        base += int(o[-1])
    return np.concatenate(out)


def block_points(gdf: Any, tiles: Sequence[int], k: int, size: tuple[float, float]) -> Any:
    """The rows of ``tiled_points(gdf, k, size)`` on ``tiles`` (ascending), indexed by their
    row number in the whole tiled frame."""
    import geopandas as gpd
    import pandas as pd

    col, row = _grid(k)
    x, y = gdf.geometry.x.to_numpy(), gdf.geometry.y.to_numpy()
    frame = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    t = np.asarray(tiles)
    out = pd.concat([frame] * t.size, ignore_index=True)
    out.index = (t[:, None] * len(frame) + np.arange(len(frame))[None, :]).ravel()
    gx = (x[None, :] + (col[t] * size[0])[:, None]).ravel()
    gy = (y[None, :] + (row[t] * size[1])[:, None]).ravel()
    geometry = gpd.points_from_xy(gx, gy)
    return gpd.GeoDataFrame(out, geometry=geometry, crs=gdf.crs)
