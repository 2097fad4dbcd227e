"""The walk network of any district: its boundary plus a buffer, cut from OpenStreetMap.

Two sources, one result:

- **offline**, from an ``.osm.pbf`` extract (a Geofabrik county or region file, or a mirror
  copy) read with pyrosm's ``walking`` filter (``pip install 'cnmap[osm]'``);
- **online**, from the Overpass API through osmnx (``network_type="walk"``).

Either way the ways are cut to the district plus ``buffer_m`` (edges with both ends inside),
then built by the shared builder (EPSG:27700, undirected, largest connected component). The
buffer lets residents near the boundary reach organisations over it; its default (2 km) is
more than the 15-minute walk (1,200 m at 4.8 km/h) plus the snapping limit (500 m).

The result is cached in ``CNMAP_CACHE_DIR/network/district/`` beside a sidecar
``<file>.cnmap.json`` (the data catalogue's scheme: SHA-256, size, source, time,
attribution), and verified on every read: size and checksum against the sidecar, then the
arrays' consistency. A cache file that fails is logged, removed and built again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import re
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from cnmap import settings
from cnmap.columns import BNG, WGS84
from cnmap.errors import CRSError, DataFetchError, DataIntegrityError, GraphError, ValidationError
from cnmap.geo import to_wgs84
from cnmap.network.build import NetworkExtent, WalkNetwork, _assemble, _crs_string, _graph_arrays
from cnmap.network.snap import DEFAULT_MAX_SNAP_M

__all__ = [
    "DEFAULT_BUFFER_M",
    "DEFAULT_WALK_LIMIT_M",
    "OSM_ATTRIBUTION",
    "min_buffer_m",
    "district_boundary",
    "read_district_boundary",
    "share_near_network",
    "walk_network_for_district",
]

log = logging.getLogger(__name__)

#: Default metres of network kept around a district (> walk limit + snapping limit).
DEFAULT_BUFFER_M = 2000.0
#: The walk the default buffer is sized for: 15 minutes at 4.8 km/h.
DEFAULT_WALK_LIMIT_M = 1200.0
#: Attribution every output built on OpenStreetMap data must carry.
OSM_ATTRIBUTION = "© OpenStreetMap contributors, ODbL 1.0"
#: Bump when the district cache's content or key changes.
DISTRICT_CACHE_VERSION = 1

_SIDECAR = ".cnmap.json"  # the data catalogue's sidecar suffix (cnmap.data.fetch)
_CLIP = "edges with both end nodes inside the district plus buffer"
_OVERPASS_FILTER = "osmnx 'walk' (Overpass)"
_PBF_FILTER = "pyrosm 'walking' (follows osmnx 'walk')"
_LAD_COLUMN = re.compile(r"^LAD\d{2}CD$", re.IGNORECASE)
_SHARE_POINTS = 4000  # grid points per sampled area (district, buffer ring)
_RING_WARN_RATIO = 0.75


def min_buffer_m(
    walk_limit_m: float = DEFAULT_WALK_LIMIT_M, max_snap_m: float = DEFAULT_MAX_SNAP_M
) -> float:
    """The least buffer (metres) for a walk limit: the walk plus the snapping limit.

    A resident at the boundary walks up to ``walk_limit_m`` over it, and an organisation
    there joins the network up to ``max_snap_m`` from a street: a network cut any closer
    to the boundary can miss it.
    """
    for name, value in (("walk_limit_m", walk_limit_m), ("max_snap_m", max_snap_m)):
        if not np.isfinite(value) or value < 0:
            raise ValidationError(f"{name} must be metres >= 0, got {value!r}")
    return float(walk_limit_m) + float(max_snap_m)


# ----------------------------------------------------------------------------------------
# the boundary


def read_district_boundary(path: str | os.PathLike[str], lad_code: str | None = None) -> Any:
    """Read a district boundary from a file (GeoPackage, GeoJSON, shapefile).

    Parameters
    ----------
    path
        A boundary file, e.g. the ONS "Local Authority Districts" boundaries (national, or
        one district's rows).
    lad_code
        Keep the rows whose ``LADyyCD`` column (``LAD24CD``, ``LAD23CD`` ...) equals this
        code. None: every row (a file of one district).

    Returns
    -------
    geopandas.GeoDataFrame
        One row: ``lad_code`` and the (dissolved) boundary, in the file's CRS.
    """
    import geopandas as gpd

    path = Path(path).expanduser()
    if not path.is_file():
        raise DataFetchError(f"district boundary file not found: {path}")
    gdf = gpd.read_file(path)
    if gdf.crs is None:
        raise CRSError(f"{path}: the boundary has no CRS; set one in the file")
    cols = [c for c in gdf.columns if _LAD_COLUMN.match(str(c))]
    code = lad_code.strip().upper() if lad_code else ""
    if code:
        if not cols:
            raise ValidationError(
                f"{path}: no LADyyCD column to find {code} in (columns: "
                f"{[str(c) for c in gdf.columns]})"
            )
        gdf = gdf[gdf[cols[0]].astype(str).str.upper() == code]
        if gdf.empty:
            raise ValidationError(f"{path}: no district {code} in column {cols[0]}")
    elif cols and gdf[cols[0]].nunique() == 1:
        code = str(gdf[cols[0]].iat[0])
    if gdf.empty:
        raise ValidationError(f"{path}: the file has no boundary")
    shape = shapely.make_valid(shapely.union_all(gdf.geometry.to_numpy()))
    return gpd.GeoDataFrame({"lad_code": [code]}, geometry=[shape], crs=gdf.crs)


def district_boundary(lad_code: str) -> Any:
    """A district's boundary from the data catalogue (``lad_boundaries``, ONS LAD December
    2024, BSC): a verified copy from the cache, the mirror (``CNMAP_DATA_MIRROR``) or ONS.

    Returns
    -------
    geopandas.GeoDataFrame
        One row: ``lad_code`` and the boundary (EPSG:4326).
    """
    from cnmap.data import fetch

    code = lad_code.strip().upper()
    return read_district_boundary(fetch("lad_boundaries", lad_code=code), code)


def _district_polygon(boundary: Any, boundary_crs: Any, crs: str) -> shapely.Geometry:
    """The boundary as one valid (Multi)Polygon in ``crs``."""
    import geopandas as gpd

    if isinstance(boundary, gpd.GeoDataFrame | gpd.GeoSeries):
        if boundary.crs is None:
            raise CRSError("the boundary GeoDataFrame/GeoSeries has no CRS; set it first")
        geoms = boundary.to_crs(crs).geometry.to_numpy()
    elif isinstance(boundary, shapely.Geometry):
        geoms = gpd.GeoSeries([boundary], crs=boundary_crs).to_crs(crs).to_numpy()
    else:
        raise ValidationError(
            f"boundary must be a shapely (Multi)Polygon or a GeoDataFrame/"
            f"GeoSeries, not {type(boundary).__name__}"
        )
    shape = shapely.make_valid(shapely.union_all(geoms))
    polys = shapely.get_parts(shape)
    polys = polys[shapely.get_type_id(polys) == 3]
    if polys.size == 0 or float(shapely.area(shapely.multipolygons(polys))) <= 0:
        raise ValidationError("the district boundary has no area: give a Polygon or MultiPolygon")
    return shapely.multipolygons(polys) if polys.size > 1 else polys[0]


def _unwrap_area(boundary: Any, lad_code: str | None) -> tuple[Any, str | None]:
    """An :class:`cnmap.area.Area` stands for its boundary and its code."""
    from cnmap.area import Area

    if isinstance(boundary, Area):
        return boundary.boundary, lad_code or boundary.lad_code
    return boundary, lad_code


def _lad_code_of(boundary: Any, lad_code: str | None) -> str:
    if lad_code:
        return lad_code.strip().upper()
    cols = getattr(boundary, "columns", ())
    if "lad_code" in cols and len(boundary) == 1:
        return str(boundary["lad_code"].iat[0])
    return ""


# ----------------------------------------------------------------------------------------
# sources


@dataclasses.dataclass(frozen=True)
class _Source:
    kind: str  # "osm_pbf" or "overpass"
    path: Path | None = None
    expected_sha256: str = ""
    mirror_root: str = ""
    mirror_path: str = ""


def _mirror_pbf_entries(lad_code: str) -> list[_Source]:
    """.osm.pbf files of the data catalogue's mirror entries covering ``lad_code``."""
    from cnmap.data.catalogue import catalogue, mirror_entries

    found = []
    for ds_id in catalogue():
        for entry in mirror_entries(ds_id):
            if (
                entry.path.lower().endswith(".pbf")
                and entry.file is not None
                and entry.covers(lad_code=lad_code)
            ):
                found.append(
                    _Source("osm_pbf", entry.file, entry.sha256, str(entry.root), entry.path)
                )
    return found


def _mirror_relative(path: Path) -> tuple[str, str]:
    from cnmap.data.catalogue import mirror_dirs

    for root in mirror_dirs():
        with contextlib.suppress(ValueError):
            return str(root), path.resolve().relative_to(root).as_posix()
    return "", ""


def _pbf_source(source: str | os.PathLike[str]) -> _Source:
    """An extract given by path: as is, or relative to a mirror folder."""
    from cnmap.data.catalogue import mirror_dirs

    path = Path(source).expanduser()
    if not path.is_file() and not path.is_absolute():
        path = next((r / path for r in mirror_dirs() if (r / path).is_file()), path)
    if not path.is_file():
        raise DataFetchError(
            f"OSM extract not found: {source} (looked here and in "
            "CNMAP_DATA_MIRROR); download a .osm.pbf extract covering the "
            "district, e.g. from Geofabrik, or use source='overpass'"
        )
    root, rel = _mirror_relative(path)
    return _Source("osm_pbf", path, _catalogued_sha256(path), root, rel)


def _catalogued_sha256(path: Path) -> str:
    """The catalogue's checksum of this file when a mirror entry names it, else ""."""
    from cnmap.data.catalogue import catalogue, mirror_entries

    target = path.resolve()
    for ds_id in catalogue():
        for entry in mirror_entries(ds_id):
            if entry.file is not None and entry.sha256 and entry.file.resolve() == target:
                return entry.sha256
    return ""


def _resolve_source(source: str | os.PathLike[str], lad_code: str) -> _Source:
    if str(source) == "overpass":
        return _Source("overpass")
    if str(source) != "auto":
        return _pbf_source(source)
    candidates = _mirror_pbf_entries(lad_code) if lad_code else []
    if candidates:
        return candidates[0]
    if not settings.offline():
        return _Source("overpass")
    raise DataFetchError(
        f"no OSM extract for {lad_code or 'this district'} in CNMAP_DATA_MIRROR and downloads "
        "are off (CNMAP_OFFLINE=1): give source= a .osm.pbf extract covering the district "
        "(e.g. a Geofabrik county file), or allow downloads for source='overpass'"
    )


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _fingerprint(path: Path) -> str:
    st = path.stat()
    h = hashlib.sha256()
    with path.open("rb") as fh:
        h.update(fh.read(1 << 20))
    return f"{st.st_size}-{st.st_mtime_ns}-{h.hexdigest()}"


# ----------------------------------------------------------------------------------------
# reading the ways


def _pbf_ways(
    src: _Source, extent_lonlat: shapely.Geometry
) -> tuple[tuple[np.ndarray, ...], str, str]:
    """(arrays in lon/lat, sha256, OSM timestamp) of the extract's walkable ways."""
    from cnmap.network.io import _pbf_arrays, _pbf_frames

    assert src.path is not None
    sha = _sha256(src.path)
    if src.expected_sha256 and sha != src.expected_sha256.lower():
        raise DataIntegrityError(
            f"{src.path} has sha256 {sha} but the catalogue expects "
            f"{src.expected_sha256} (corrupted or another release)"
        )
    stamp, bbox = _pbf_header(src.path)
    if bbox is not None and not shapely.intersects(bbox, extent_lonlat):
        raise ValidationError(
            f"{src.path} covers {tuple(round(b, 4) for b in bbox.bounds)} "
            "(lon/lat), which does not reach the district: use an extract "
            "that covers it"
        )
    nodes, edges = _pbf_frames(src.path, bounding_box=extent_lonlat)
    crs_in = _crs_string(nodes.crs or WGS84)
    if crs_in != WGS84:
        raise CRSError(f"{src.path}: pyrosm returned {crs_in}, expected {WGS84}")
    return _pbf_arrays(nodes, edges), sha, stamp


def _pbf_header(path: Path) -> tuple[str, shapely.Geometry | None]:
    """(replication timestamp, bounding box) from the extract's header, where present."""
    try:
        from pyrosm.pbf_export import read_header_block

        header = read_header_block(str(path))
    except Exception as exc:  # an unreadable header: pyrosm's read names the problem later
        log.debug("%s: no PBF header (%s)", path, exc)
        return "", None
    stamp = ""
    if header.HasField("osmosis_replication_timestamp"):
        ts = int(header.osmosis_replication_timestamp)
        stamp = datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")
    bbox = None
    if header.HasField("bbox"):
        b = header.bbox
        bbox = shapely.box(b.left / 1e9, b.bottom / 1e9, b.right / 1e9, b.top / 1e9)
    return stamp, bbox


@contextlib.contextmanager
def _osmnx_settings(ox: Any) -> Iterator[None]:
    """osmnx's Overpass cache under CNMAP_CACHE_DIR and cnmap's timeout, for one call."""
    old = (ox.settings.cache_folder, ox.settings.requests_timeout)
    ox.settings.cache_folder = str(settings.cache_dir() / "osmnx")
    ox.settings.requests_timeout = settings.timeout_s()
    try:
        yield
    finally:
        ox.settings.cache_folder, ox.settings.requests_timeout = old


def _overpass_ways(extent_lonlat: shapely.Geometry) -> tuple[tuple[np.ndarray, ...], str]:
    """(arrays in lon/lat, download time) of osmnx's ``walk`` graph of the extent."""
    from cnmap.network.io import _import_osmnx

    if settings.offline():
        raise DataFetchError(
            "building a district's walk network online needs the internet "
            "but CNMAP_OFFLINE=1: give source= a .osm.pbf extract covering "
            "the district (e.g. a Geofabrik county file)"
        )
    ox = _import_osmnx()
    try:
        with _osmnx_settings(ox):
            G = ox.graph_from_polygon(
                extent_lonlat,
                network_type="walk",
                simplify=True,
                retain_all=True,
                truncate_by_edge=False,
            )
    except Exception as exc:
        raise DataFetchError(
            f"osmnx could not fetch the walk network from Overpass: {exc}; "
            "check the connection, or download a .osm.pbf extract and give "
            "it as source="
        ) from exc
    if _crs_string(G.graph.get("crs", WGS84)) != WGS84:
        raise CRSError(f"osmnx returned a graph in {G.graph['crs']}, expected {WGS84}")
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    return _graph_arrays(G, source="osmnx graph_from_polygon (Overpass)"), stamp


def _clip(
    arrays: tuple[np.ndarray, ...], extent: shapely.Geometry, crs: str
) -> tuple[np.ndarray, ...]:
    """Keep the edges whose two end nodes lie inside ``extent`` (network CRS), and their
    nodes. ``arrays`` are (ids, lon, lat, u, v, length, geometry) in lon/lat."""
    from cnmap.network.build import _project_xy

    ids, lon, lat, u, v, length, geoms = arrays
    ids = np.asarray(ids).astype(np.int64)
    px, py = _project_xy(np.asarray(lon, float), np.asarray(lat, float), WGS84, crs)
    shapely.prepare(extent)
    inside_ids = ids[shapely.contains_xy(extent, px, py)]
    u = np.asarray(u).astype(np.int64)
    v = np.asarray(v).astype(np.int64)
    keep = np.isin(u, inside_ids) & np.isin(v, inside_ids)
    used = np.isin(ids, np.union1d(u[keep], v[keep]))
    return (
        ids[used],
        np.asarray(lon)[used],
        np.asarray(lat)[used],
        u[keep],
        v[keep],
        np.asarray(length)[keep],
        np.asarray(geoms, dtype=object)[keep],
    )


# ----------------------------------------------------------------------------------------
# how much of the district and its buffer the network reaches


def _grid_points(area: shapely.Geometry, n: int = _SHARE_POINTS) -> np.ndarray:
    """About ``n`` points on a square grid inside ``area`` (x, y rows)."""
    a = float(shapely.area(area))
    if a <= 0:
        return np.zeros((0, 2))
    step = max(np.sqrt(a / n), 10.0)
    minx, miny, maxx, maxy = shapely.bounds(area)
    xs = np.arange(minx + step / 2, maxx, step)
    ys = np.arange(miny + step / 2, maxy, step)
    mx, my = np.meshgrid(xs, ys)
    gx, gy = mx.ravel(), my.ravel()
    shapely.prepare(area)
    inside = shapely.contains_xy(area, gx, gy)
    return np.column_stack([gx[inside], gy[inside]])


def share_near_network(
    net: WalkNetwork, area: shapely.Geometry, within_m: float = DEFAULT_MAX_SNAP_M
) -> float:
    """Share of ``area`` (network CRS) within ``within_m`` of an edge, on a grid of about
    4,000 points (NaN for an area without extent)."""
    pts = _grid_points(area)
    if pts.shape[0] == 0:
        return float("nan")
    q, _ = net.edge_tree.query_nearest(
        shapely.points(pts), max_distance=within_m, all_matches=False
    )
    return float(np.unique(q).size / pts.shape[0])


# ----------------------------------------------------------------------------------------
# the public function


def walk_network_for_district(  # noqa: PLR0913 (public signature, options keyword-only)
    boundary: Any,
    *,
    buffer_m: float = DEFAULT_BUFFER_M,
    source: str | os.PathLike[str] = "auto",
    lad_code: str | None = None,
    walk_limit_m: float = DEFAULT_WALK_LIMIT_M,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
    boundary_crs: str = WGS84,
    crs: str = BNG,
    cache: bool = True,
    refresh: bool = False,
) -> WalkNetwork:
    """The OSM walk network of a district plus a buffer, built once and cached.

    Parameters
    ----------
    boundary
        The district: an :class:`~cnmap.area.Area` (its boundary and code), a
        GeoDataFrame/GeoSeries (any CRS; all shapes merged, e.g. :func:`district_boundary`),
        or a shapely (Multi)Polygon in ``boundary_crs``.
    buffer_m
        Metres of network kept beyond the boundary (default 2,000). Less than
        ``walk_limit_m + max_snap_m`` is allowed but logged and noted: residents near the
        boundary may then miss organisations over it.
    source
        A path to an ``.osm.pbf`` extract covering the district plus buffer (absolute, or
        relative to a ``CNMAP_DATA_MIRROR`` folder; read offline with pyrosm's ``walking``
        filter), ``"overpass"`` (online, osmnx ``walk``), or ``"auto"``: an extract of the
        data catalogue's mirror covering ``lad_code``, else Overpass unless
        ``CNMAP_OFFLINE=1``.
    lad_code
        The district's code, recorded (default: a one-row boundary's ``lad_code``).
    walk_limit_m, max_snap_m
        The walk and snapping limits the buffer must cover (recorded).
    boundary_crs
        CRS of a bare shapely boundary.
    crs
        CRS of the network (projected, metres).
    cache
        Keep the network in ``CNMAP_CACHE_DIR/network/district/`` with a checksum sidecar
        and reuse it (verified) for the same source, boundary, buffer and CRS.
    refresh
        Build again even if a verified cached copy exists.

    Returns
    -------
    WalkNetwork
        ``net.report.extent`` (:class:`NetworkExtent`) records the district, buffer, limits,
        source, checksum, OSM date, filter and how much of the district and of the buffer
        ring lie within ``max_snap_m`` of an edge.

    Raises
    ------
    DataFetchError
        No extract and no download possible (offline), or the download failed.
    ValidationError
        A bad boundary or buffer, or an extract that does not reach the district.
    GraphError
        No walkable way inside the district plus buffer.
    """
    crs = _crs_string(crs)
    boundary, lad_code = _unwrap_area(boundary, lad_code)
    if not np.isfinite(buffer_m) or buffer_m < 0:
        raise ValidationError(f"buffer_m must be metres >= 0, got {buffer_m!r}")
    needed = min_buffer_m(walk_limit_m, max_snap_m)
    district = _district_polygon(boundary, boundary_crs, crs)
    code = _lad_code_of(boundary, lad_code)
    src = _resolve_source(source, code)
    key = _cache_key(src, district, float(buffer_m), crs, walk_limit_m, max_snap_m)
    target = _cache_file(code, src, key)
    if cache and not refresh:
        net = _load_verified(target)
        if net is not None:
            return net
    t0 = time.perf_counter()
    net = _build(src, district, code, float(buffer_m), crs, walk_limit_m, max_snap_m, needed)
    log.info("district walk network built in %.1f s: %s", time.perf_counter() - t0, net.report)
    if cache:
        _save_verified(net, target, src, code)
    return net


def _build(
    src: _Source,
    district: shapely.Geometry,
    code: str,
    buffer_m: float,
    crs: str,
    walk_limit_m: float,
    max_snap_m: float,
    needed: float,
) -> WalkNetwork:
    extent = shapely.buffer(district, buffer_m) if buffer_m > 0 else district
    extent_lonlat = _to_lonlat(extent, crs)
    if src.kind == "osm_pbf":
        arrays, sha, stamp = _pbf_ways(src, extent_lonlat)
        label, walk_filter = str(src.path), _PBF_FILTER
    else:
        (arrays, stamp), sha = _overpass_ways(extent_lonlat), ""
        label, walk_filter = "osmnx graph_from_polygon (Overpass)", _OVERPASS_FILTER
    clipped = _clip(arrays, extent, crs)
    if clipped[3].size == 0:
        raise GraphError(
            f"{label}: no walkable way lies inside the district plus {buffer_m:,.0f}"
            " m; does the source cover the district?"
        )
    notes = [f"{walk_filter}; cut to {_CLIP}"]
    if buffer_m < needed:
        notes.append(_short_buffer_note(buffer_m, walk_limit_m, max_snap_m))
        log.warning("%s", notes[-1])
    net = _assemble(
        *clipped, crs_in=WGS84, crs=crs, source=label, reader=src.kind, notes=tuple(notes)
    )
    ext = _extent(
        net,
        (district, extent),
        code,
        src,
        (sha, stamp, walk_filter),
        (buffer_m, walk_limit_m, max_snap_m),
    )
    more = _ring_note(ext)
    if more:
        log.warning("%s", more)
    report = dataclasses.replace(
        net.report, extent=ext, notes=net.report.notes + ((more,) if more else ())
    )
    return net.with_report(report)


def _short_buffer_note(buffer_m: float, walk_limit_m: float, max_snap_m: float) -> str:
    return (
        f"buffer {buffer_m:,.0f} m is less than the walk limit ({walk_limit_m:,.0f} m) plus "
        f"the snapping limit ({max_snap_m:,.0f} m): residents near the boundary may not "
        "reach organisations over it"
    )


def _ring_note(ext: NetworkExtent) -> str:
    ring, inner = ext.ring_share_near, ext.district_share_near
    if not (np.isfinite(ring) and np.isfinite(inner)) or ring >= _RING_WARN_RATIO * inner:
        return ""
    head = (
        f"only {ring:.0%} of the {ext.buffer_m:,.0f} m ring around the district is within "
        f"{ext.snap_limit_m:,.0f} m of a walkable edge (the district: {inner:.0%})"
    )
    if ext.source == "osm_pbf":
        return (
            f"{head}: the extract seems cut close to the boundary, so walks over it are "
            "truncated; use a larger extract (e.g. the region's) or source='overpass'"
        )
    return f"{head}: OSM has few walkable ways around the district (water, open land?)"


def _to_lonlat(shape: shapely.Geometry, crs: str) -> shapely.Geometry:
    import geopandas as gpd

    return to_wgs84(gpd.GeoSeries([shape], crs=crs)).iloc[0]


def _extent(
    net: WalkNetwork,
    shapes: tuple[shapely.Geometry, shapely.Geometry],
    code: str,
    src: _Source,
    provenance: tuple[str, str, str],
    limits: tuple[float, float, float],
) -> NetworkExtent:
    """The network's extent record: ``shapes`` are the district and the extent cut,
    ``provenance`` the source's sha256, OSM timestamp and walk filter, ``limits`` the buffer,
    the walk limit and the snapping limit (metres)."""
    district, extent = shapes
    sha, stamp, walk_filter = provenance
    buffer_m, walk_limit_m, max_snap_m = limits
    ring = shapely.difference(extent, district)
    return NetworkExtent(
        lad_code=code,
        buffer_m=buffer_m,
        walk_limit_m=float(walk_limit_m),
        snap_limit_m=float(max_snap_m),
        district_km2=round(float(shapely.area(district)) / 1e6, 3),
        extent_km2=round(float(shapely.area(extent)) / 1e6, 3),
        district_wkt=shapely.to_wkt(district, rounding_precision=0),
        source=src.kind,
        source_file=str(src.path or ""),
        source_sha256=sha,
        osm_timestamp=stamp,
        walk_filter=walk_filter,
        clip=_CLIP,
        district_share_near=round(share_near_network(net, district, max_snap_m), 4),
        ring_share_near=round(share_near_network(net, ring, max_snap_m), 4),
    )


# ----------------------------------------------------------------------------------------
# cache with a checksum sidecar


def _cache_key(
    src: _Source,
    district: shapely.Geometry,
    buffer_m: float,
    crs: str,
    walk_limit_m: float,
    max_snap_m: float,
) -> str:
    ident = "overpass" if src.path is None else _fingerprint(src.path)
    wkb = shapely.to_wkb(shapely.set_precision(district, 1.0))
    parts = [
        f"v{DISTRICT_CACHE_VERSION}",
        src.kind,
        ident,
        hashlib.sha256(wkb).hexdigest(),
        f"{buffer_m:.1f}",
        crs,
        f"{walk_limit_m:.1f}",
        f"{max_snap_m:.1f}",
    ]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:24]


def _cache_file(code: str, src: _Source, key: str) -> Path:
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{code or 'district'}_{src.kind}")
    return settings.cache_dir() / "network" / "district" / f"{stem}-{key}.npz"


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + _SIDECAR)


def _overpass_url() -> str:
    try:
        import osmnx as ox
    except ImportError:  # pragma: no cover - osmnx built the network, so it is installed
        return ""
    return str(ox.settings.overpass_url)


def _discard(path: Path) -> None:
    for p in (path, _sidecar(path)):
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


def _save_verified(net: WalkNetwork, target: Path, src: _Source, code: str) -> None:
    from cnmap.network.io import _save_cache

    try:
        _save_cache(net, target)
        ext = net.report.extent
        assert ext is not None
        record = {
            "dataset": "osm_walk_network",
            "kind": "district",
            "path": target.name,
            "sha256": _sha256(target),
            "size": target.stat().st_size,
            "fetched_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "origin": "url"
            if src.kind == "overpass"
            else ("mirror" if src.mirror_path else "file"),
            "url": _overpass_url() if src.kind == "overpass" else "",
            "mirror_root": src.mirror_root,
            "mirror_path": src.mirror_path,
            "source_file": str(src.path or ""),
            "source_sha256": ext.source_sha256,
            "lad_codes": [code] if code else [],
            "vintage": ext.osm_timestamp,
            "attribution": OSM_ATTRIBUTION,
            "licence": "ODbL-1.0",
            "buffer_m": ext.buffer_m,
            "crs": net.crs,
            "nodes": net.n_nodes,
            "edges": net.n_edges,
            "format": DISTRICT_CACHE_VERSION,
        }
        side = _sidecar(target)
        fd, tmp = tempfile.mkstemp(prefix=side.name, suffix=".tmp", dir=side.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(record, fh, indent=2)
        os.replace(tmp, side)
    except OSError as exc:  # pragma: no cover - disk full / read-only cache
        log.warning("could not cache the district walk network in %s: %s", target, exc)
        _discard(target)


def _load_verified(target: Path) -> WalkNetwork | None:
    """The cached network if its sidecar, size, checksum and arrays agree; else None (a
    failing copy is logged and removed)."""
    from cnmap.network.io import _load_cache

    if not target.exists():
        return None
    try:
        rec = json.loads(_sidecar(target).read_text(encoding="utf-8"))
        problem = _check_record(target, rec)
        net = None if problem else _load_cache(target)
        if net is not None and (net.n_nodes, net.n_edges) != (rec["nodes"], rec["edges"]):
            problem = "node/edge counts differ from the sidecar"
        if net is not None and net.report.extent is None:
            problem = "no district extent recorded"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        problem = f"{type(exc).__name__}: {exc}"
    if problem:
        log.warning(
            "cached district walk network %s failed verification (%s); building it again",
            target,
            problem,
        )
        _discard(target)
        return None
    log.info("district walk network read from verified cache %s", target)
    return net


def _check_record(target: Path, rec: dict[str, Any]) -> str:
    if rec.get("format") != DISTRICT_CACHE_VERSION or rec.get("path") != target.name:
        return "sidecar of another format or file"
    size = target.stat().st_size
    if size != int(rec["size"]):
        return f"{size:,} bytes but {int(rec['size']):,} recorded (truncated or changed)"
    digest = _sha256(target)
    if digest != rec["sha256"]:
        return f"sha256 {digest} but {rec['sha256']} recorded (corrupted)"
    return ""
