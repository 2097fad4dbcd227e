"""Read walk networks from files (GeoPackage, GraphML, OSM XML, OSM PBF) or from OSM online,
with a compact on-disk cache of the array form.

All forms end in the same builder (:func:`cnmap.network.build._assemble`): projected to
EPSG:27700, undirected, largest connected component kept (see :class:`NetworkReport`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from cnmap import settings
from cnmap.columns import BNG, WGS84
from cnmap.errors import (
    CRSError,
    DataFetchError,
    GraphError,
    MissingColumnError,
    OptionalDependencyError,
    ValidationError,
)
from cnmap.geo import to_wgs84
from cnmap.network.build import (
    EdgeCoords,
    NetworkReport,
    WalkNetwork,
    _assemble,
    _from_graph,
    _readonly,
)

if TYPE_CHECKING:  # pragma: no cover
    import networkx as nx

__all__ = ["read_walk_network", "walk_network_from_polygon", "CACHE_FORMAT_VERSION"]

log = logging.getLogger(__name__)

#: Bump when the cached array layout or the builder's output changes.
CACHE_FORMAT_VERSION = 1

_SUFFIXES = {
    ".gpkg": "gpkg",
    ".graphml": "graphml",
    ".osm": "osm_xml",
    ".xml": "osm_xml",
    ".pbf": "osm_pbf",
}

# osmnx 2.x's "walk" way filter (osmnx._overpass._get_network_filter), applied to ways read
# from an OSM XML file (graph_from_xml applies no filter of its own).
_WALK_TAGS = [
    "highway",
    "area",
    "access",
    "foot",
    "service",
    "sidewalk",
    "sidewalk:both",
    "sidewalk:left",
    "sidewalk:right",
]
_WALK_EXCLUDE = {
    "area": re.compile("yes"),
    "access": re.compile("private"),
    "highway": re.compile(
        "abandoned|bus_guideway|construction|cycleway|motor|no|planned|"
        "platform|proposed|raceway|razed|rest_area|services"
    ),
    "foot": re.compile("no"),
    "service": re.compile("private"),
    "sidewalk": re.compile("separate"),
    "sidewalk:both": re.compile("separate"),
    "sidewalk:left": re.compile("separate"),
    "sidewalk:right": re.compile("separate"),
}


def _kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".osm.pbf") or name.endswith(".pbf"):
        return "osm_pbf"
    kind = _SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise ValidationError(
            f"{path}: unknown walk-network file type '{path.suffix}'; "
            "give a .gpkg (osmnx nodes/edges layers), .graphml, .osm/.xml "
            "(OSM XML) or .osm.pbf file"
        )
    return kind


def read_walk_network(
    path: str | os.PathLike[str],
    *,
    cache: bool = True,
    crs: str = BNG,
    layers: tuple[str, str] = ("nodes", "edges"),
) -> WalkNetwork:
    """Read a walking network from a file into a :class:`WalkNetwork`.

    Parameters
    ----------
    path
        A GeoPackage with ``nodes`` and ``edges`` layers in osmnx's layout (as written by
        ``osmnx.save_graph_geopackage``; read straight into arrays with pyogrio), a GraphML
        file (``osmnx.load_graphml``), an OSM XML file ``.osm``/``.xml``
        (``osmnx.graph_from_xml``, then osmnx's ``walk`` way filter, then simplification),
        or an ``.osm.pbf`` extract (pyrosm's ``walking`` network; needs ``cnmap[osm]``).
    cache
        Keep the array form in ``settings.cache_dir()/network`` and reuse it when the same
        file (size, modification time and a hash of its first MiB) is read again.
    crs
        CRS of the network (projected, metres). Lengths are the file's ``length`` (metres)
        where present, otherwise the length of the projected geometry.
    layers
        Names of the node and edge layers of a GeoPackage.

    Returns
    -------
    WalkNetwork
        Undirected, largest connected component only; ``net.report`` says what was dropped.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataFetchError(f"walk network file not found: {path}; check the path")
    kind = _kind(path)
    from cnmap.network.build import _crs_string

    crs = _crs_string(crs)
    cache_file = _cache_path(path, kind, crs, layers) if cache else None
    if cache_file is not None and cache_file.exists():
        t0 = time.perf_counter()
        try:
            net = _load_cache(cache_file)
            if net.report.source != str(path):  # same file content read from a new place
                import dataclasses

                net = net.with_report(dataclasses.replace(net.report, source=str(path)))
        except Exception as exc:  # any corruption: rebuild
            log.warning("walk network cache %s is unreadable (%s); rebuilding it", cache_file, exc)
        else:
            log.info(
                "walk network read from cache %s in %.2f s", cache_file, time.perf_counter() - t0
            )
            return net
    net = _read_uncached(path, kind, crs, layers)
    if cache_file is not None:
        try:
            _save_cache(net, cache_file)
        except OSError as exc:  # pragma: no cover - disk full / read-only cache
            log.warning("could not write the walk network cache %s: %s", cache_file, exc)
    return net


def _read_uncached(path: Path, kind: str, crs: str, layers: tuple[str, str]) -> WalkNetwork:
    if kind == "gpkg":
        return _read_gpkg(path, crs=crs, layers=layers)
    if kind == "graphml":
        ox = _import_osmnx()
        G = ox.load_graphml(path)
        return _from_graph(G, crs=crs, source=str(path), reader="graphml")
    if kind == "osm_xml":
        return _read_osm_xml(path, crs=crs)
    return _read_pbf(path, crs=crs)


# ----------------------------------------------------------------------------------------
# GeoPackage (osmnx layout) straight into arrays


def _read_gpkg(path: Path, *, crs: str, layers: tuple[str, str]) -> WalkNetwork:
    import pyogrio
    from pyogrio.raw import read as raw_read

    node_layer, edge_layer = layers
    available = {str(name) for name, _ in pyogrio.list_layers(path)}
    for layer in layers:
        if layer not in available:
            raise ValidationError(
                f"{path}: no layer '{layer}' (layers: {sorted(available)}); "
                "an osmnx GeoPackage has 'nodes' and 'edges' layers, or pass "
                "layers=(nodes, edges)"
            )
    n_info = pyogrio.read_info(path, layer=node_layer)
    n_fields = [str(f) for f in n_info["fields"]]
    id_col = "osmid" if "osmid" in n_fields else ("id" if "id" in n_fields else None)
    if id_col is None:
        raise MissingColumnError(
            f"{path}: layer '{node_layer}' has no 'osmid' (or 'id') column; columns are {n_fields}"
        )
    meta, _, ngeom, nfields = raw_read(path, layer=node_layer, columns=[id_col])
    crs_in = meta["crs"]
    if crs_in is None:
        raise CRSError(f"{path}: layer '{node_layer}' has no CRS; set one in the file")
    node_ids = nfields[0]
    pts = shapely.from_wkb(ngeom)
    ok = ~(shapely.is_missing(pts) | shapely.is_empty(pts))
    x = np.full(node_ids.shape[0], np.nan)
    y = np.full(node_ids.shape[0], np.nan)
    c = shapely.get_coordinates(pts[ok])
    if c.shape[0] != int(ok.sum()):
        raise GraphError(f"{path}: layer '{node_layer}' must hold points")
    x[ok], y[ok] = c[:, 0], c[:, 1]
    if not ok.all() and {"x", "y"} <= set(n_fields):
        _, _, _, xy = raw_read(path, layer=node_layer, columns=["x", "y"], read_geometry=False)
        xy_fields = dict(zip([f for f in n_fields if f in ("x", "y")], xy, strict=True))
        x[~ok], y[~ok] = xy_fields["x"][~ok], xy_fields["y"][~ok]

    e_info = pyogrio.read_info(path, layer=edge_layer)
    e_fields = [str(f) for f in e_info["fields"]]
    for col in ("u", "v"):
        if col not in e_fields:
            raise MissingColumnError(
                f"{path}: layer '{edge_layer}' has no '{col}' column; columns are {e_fields}"
            )
    want = [f for f in ("u", "v", "length") if f in e_fields]
    emeta, _, egeom, efields = raw_read(path, layer=edge_layer, columns=want)
    got = dict(zip([str(f) for f in emeta["fields"]], efields, strict=True))
    ecrs = emeta["crs"]
    geoms = shapely.from_wkb(egeom)
    if ecrs is not None and ecrs != crs_in:
        from cnmap.network.build import _crs_string, _project_geoms

        geoms = _project_geoms(geoms, _crs_string(ecrs), _crs_string(crs_in))
    length = got.get("length")
    notes: list[str] = []
    if length is None:
        notes.append("no 'length' column: lengths from the projected geometry")
    net = _assemble(
        node_ids,
        x,
        y,
        got["u"],
        got["v"],
        length,
        geoms,
        crs_in=crs_in,
        crs=crs,
        source=str(path),
        reader="gpkg",
        notes=tuple(notes),
    )
    return net


# ----------------------------------------------------------------------------------------
# OSM XML through osmnx, with osmnx's walk filter


def _import_osmnx() -> Any:
    try:
        import osmnx as ox
    except ImportError as exc:  # pragma: no cover - osmnx is installed in the dev env
        raise OptionalDependencyError(
            "reading GraphML/OSM XML or fetching OSM online needs osmnx: pip install 'cnmap[osm]'"
        ) from exc
    return ox


def _keep_walk_way(attrs: dict[str, Any]) -> bool:
    hw = attrs.get("highway")
    if hw is None:
        return False
    for tag, pattern in _WALK_EXCLUDE.items():
        value = attrs.get(tag)
        if value is not None and pattern.search(str(value)):
            return False
    return True


@contextlib.contextmanager
def _osmnx_tags(ox: Any):  # type: ignore[no-untyped-def]
    old = list(ox.settings.useful_tags_way)
    ox.settings.useful_tags_way = list(dict.fromkeys(old + _WALK_TAGS))
    try:
        yield
    finally:
        ox.settings.useful_tags_way = old


def walk_graph_from_xml(path: str | os.PathLike[str]) -> nx.MultiDiGraph:
    """osmnx graph of the walkable ways of an OSM XML file (osmnx's ``walk`` filter).

    ``osmnx.graph_from_xml`` keeps every way of the file (buildings too), so the ways are
    filtered here with osmnx's own ``walk`` rules (highway present; not area=yes,
    access=private, foot=no, service=private, sidewalk*=separate; highway not cycleway,
    motorway, construction, proposed, platform, ...), then the graph is simplified.
    """
    ox = _import_osmnx()
    with _osmnx_tags(ox):
        G = ox.graph_from_xml(path, bidirectional=True, simplify=False, retain_all=True)
    drop = [(u, v, k) for u, v, k, d in G.edges(keys=True, data=True) if not _keep_walk_way(d)]
    G.remove_edges_from(drop)
    import networkx as nx

    G.remove_nodes_from(list(nx.isolates(G)))
    if G.number_of_edges() == 0:
        raise GraphError(f"{path}: no walkable ways (osmnx 'walk' filter) in the file")
    return ox.simplify_graph(G)


def _read_osm_xml(path: Path, *, crs: str) -> WalkNetwork:
    G = walk_graph_from_xml(path)
    return _from_graph(G, crs=crs, source=str(path), reader="osm_xml")


# ----------------------------------------------------------------------------------------
# OSM PBF through pyrosm


def _pbf_frames(path: Path, *, bounding_box: Any = None) -> tuple[Any, Any]:
    """pyrosm's ``walking`` network of an extract: (nodes, edges) GeoDataFrames, lon/lat.

    ``bounding_box`` (a lon/lat shapely polygon) limits the read to the ways touching it.
    """
    try:
        from pyrosm import OSM
    except ImportError as exc:
        raise OptionalDependencyError(
            f"{path}: reading .osm.pbf files needs pyrosm: pip install 'cnmap[osm]'"
        ) from exc
    if bounding_box is None:
        osm = OSM(str(path))
    else:
        osm = OSM(
            str(path),
            bounding_box=bounding_box,
            keep_metadata=False,
            progress=sys.stderr.isatty(),
        )
    nodes, edges = osm.get_network(network_type="walking", nodes=True)
    if nodes is None or edges is None or len(edges) == 0:
        where = "in the file" if bounding_box is None else "within the area asked for"
        raise GraphError(f"{path}: no walkable ways (pyrosm 'walking' network) {where}")
    return nodes, edges


def _pbf_arrays(nodes: Any, edges: Any) -> tuple[np.ndarray, ...]:
    """(node ids, x, y, u ids, v ids, lengths, geometries) of pyrosm's network frames."""
    ncoords = shapely.get_coordinates(nodes.geometry.to_numpy())
    length = (
        edges["length"].to_numpy(dtype=np.float64)
        if "length" in edges.columns
        else np.full(len(edges), np.nan)
    )
    return (
        nodes["id"].to_numpy(),
        ncoords[:, 0],
        ncoords[:, 1],
        edges["u"].to_numpy(),
        edges["v"].to_numpy(),
        length,
        np.asarray(edges.geometry.to_numpy(), dtype=object),
    )


PBF_NOTE = "pyrosm 'walking' filter; unsimplified (one edge per OSM segment)"


def _read_pbf(path: Path, *, crs: str) -> WalkNetwork:
    nodes, edges = _pbf_frames(path)
    return _assemble(
        *_pbf_arrays(nodes, edges),
        crs_in=nodes.crs or WGS84,
        crs=crs,
        source=str(path),
        reader="osm_pbf",
        notes=(PBF_NOTE,),
    )


# ----------------------------------------------------------------------------------------
# online, through osmnx


def walk_network_from_polygon(
    polygon: Any, *, crs: str = BNG, polygon_crs: str = WGS84
) -> WalkNetwork:
    """Download the OSM walking network inside a polygon (osmnx, ``network_type="walk"``).

    Parameters
    ----------
    polygon
        A shapely (Multi)Polygon in ``polygon_crs``, or a GeoSeries/GeoDataFrame (its CRS is
        used; all shapes are merged).
    crs
        CRS of the network (projected, metres).
    polygon_crs
        CRS of a bare shapely polygon.

    Returns
    -------
    WalkNetwork
        Built as for the offline readers (``walk_network_from_graph``).

    Raises
    ------
    DataFetchError
        Offline mode (``CNMAP_OFFLINE=1``), or the Overpass request failed.
    """
    import geopandas as gpd

    if settings.offline():
        raise DataFetchError(
            "walk_network_from_polygon needs the internet but CNMAP_OFFLINE=1; "
            "use read_walk_network() with a saved .gpkg/.graphml/.osm/.pbf"
        )
    if isinstance(polygon, gpd.GeoDataFrame | gpd.GeoSeries):
        if polygon.crs is None:
            raise CRSError("the polygon GeoSeries/GeoDataFrame has no CRS; set it first")
        shape = shapely.union_all(to_wgs84(polygon, name="polygon").geometry.to_numpy())
    else:
        shape = to_wgs84(gpd.GeoSeries([polygon], crs=polygon_crs), name="polygon").iloc[0]
    if shapely.get_type_id(shape) not in (3, 6):
        raise ValidationError("walk_network_from_polygon needs a Polygon or MultiPolygon")
    ox = _import_osmnx()
    try:
        G = ox.graph_from_polygon(shape, network_type="walk", simplify=True, retain_all=False)
    except Exception as exc:
        raise DataFetchError(
            f"osmnx could not fetch the walk network: {exc}; check the "
            "connection or download an extract and use read_walk_network()"
        ) from exc
    return _from_graph(G, crs=crs, source="osmnx graph_from_polygon (Overpass)", reader="online")


# ----------------------------------------------------------------------------------------
# cache


def _file_fingerprint(path: Path) -> str:
    st = path.stat()
    h = hashlib.sha256()
    with path.open("rb") as fh:
        h.update(fh.read(1 << 20))
    return f"{st.st_size}-{st.st_mtime_ns}-{h.hexdigest()}"


def _cache_path(path: Path, kind: str, crs: str, layers: tuple[str, str]) -> Path:
    key = f"v{CACHE_FORMAT_VERSION}|{kind}|{crs}|{layers}|{_file_fingerprint(path)}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", path.name)
    return settings.cache_dir() / "network" / f"{stem}-{digest}.npz"


def _save_cache(net: WalkNetwork, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    coords, offsets = net.edge_coords.coords, net.edge_coords.offsets
    meta = json.dumps(
        {"format": CACHE_FORMAT_VERSION, "crs": net.crs, "report": net.report.to_dict()}
    )
    fd, tmp = tempfile.mkstemp(prefix=target.name, suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(
                fh,
                node_ids=net.node_ids,
                x=net.x,
                y=net.y,
                indptr=net.indptr,
                indices=net.indices,
                data=net.data,
                edge_u=net.edge_u,
                edge_v=net.edge_v,
                edge_length=net.edge_length,
                coords=coords,
                offsets=offsets,
                meta=np.frombuffer(meta.encode(), dtype=np.uint8),
            )
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    log.info("walk network cached to %s", target)


def _load_cache(path: Path) -> WalkNetwork:
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(arrays.pop("meta").tobytes().decode())
    if meta.get("format") != CACHE_FORMAT_VERSION:
        raise ValueError(f"cache format {meta.get('format')} != {CACHE_FORMAT_VERSION}")
    n = arrays["node_ids"].shape[0]
    m = arrays["edge_u"].shape[0]
    offsets = arrays["offsets"]
    coords = arrays["coords"]
    if (
        arrays["x"].shape[0] != n
        or arrays["indptr"].shape[0] != n + 1
        or offsets.shape[0] != m + 1
        or offsets[-1] != coords.shape[0]
        or arrays["indptr"][-1] != arrays["indices"].shape[0]
        or arrays["edge_length"].shape[0] != m
    ):
        raise ValueError("inconsistent array shapes")
    if (np.diff(offsets) < 2).any():
        raise ValueError("edge geometry with fewer than 2 vertices")
    # routing needs the arrays only: the LineStrings are made when a snap or a map needs them
    geoms = EdgeCoords(coords=_readonly(coords), offsets=_readonly(offsets))
    report = NetworkReport.from_dict(meta["report"])
    return WalkNetwork(
        node_ids=_readonly(arrays["node_ids"]),
        x=_readonly(arrays["x"]),
        y=_readonly(arrays["y"]),
        indptr=_readonly(arrays["indptr"]),
        indices=_readonly(arrays["indices"]),
        data=_readonly(arrays["data"]),
        edge_u=_readonly(arrays["edge_u"]),
        edge_v=_readonly(arrays["edge_v"]),
        edge_length=_readonly(arrays["edge_length"]),
        edge_geometry=geoms,
        crs=meta["crs"],
        report=report,
    )
