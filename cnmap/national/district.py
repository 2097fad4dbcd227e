"""One district of a national run: the task a Dask worker runs.

:func:`district_task` loads the district (:func:`cnmap.load_area`: IoD2025 on 2021 LSOAs,
Census 2021 usual residents), chooses its mode (a walk network where one is at hand, else
the straight line times the detour factor), places its residents and computes their walks on
the district plus its halo (:func:`cnmap.national.halo.halo_walks`). It never raises: a
failure is returned as the district's status and error, so the other districts go on.
"""

from __future__ import annotations

import logging
import resource
import time
import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from cnmap import columns as C
from cnmap.errors import CnmapError, ValidationError
from cnmap.national.config import NationalParams
from cnmap.national.halo import HaloResult, WalkSpec, halo_walks

if TYPE_CHECKING:
    from cnmap.area import Area
    from cnmap.coverage import CoverageResult
    from cnmap.network import WalkNetwork

__all__ = [
    "DistrictOutput",
    "district_task",
    "compute_district",
    "district_network",
    "network_tag",
    "district_coverage",
    "LSOA_ATTRIBUTES",
]

log = logging.getLogger(__name__)

#: LSOA columns carried into the national LSOA table (those the area has).
LSOA_ATTRIBUTES = (
    C.LSOA_CODE,
    C.LSOA_NAME,
    C.WARD_CODE,
    C.WARD_NAME,
    "imd_score",
    "imd_rank",
    "imd_decile",
    C.POPULATION,
)
#: Share of residents a network may leave unplaced before the district falls back to the
#: straight line (cnmap.network.REFUSE_ABOVE).
_REFUSE_UNPLACED = 0.10


@dataclass
class DistrictOutput:
    """What a district task returns: a summary row and, when it succeeded, its frames."""

    summary: dict[str, Any]
    residents: pd.DataFrame | None = None
    lsoas: pd.DataFrame | None = None
    wards: pd.DataFrame | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the district finished without error."""
        return self.summary.get("status") == "ok"


# ---------------------------------------------------------------------------------------------
# inputs of a district


def _load_area(lad: str, params: NationalParams) -> Area:
    from cnmap.data import load_area

    return load_area(
        lad, lsoa_vintage=params.lsoa_vintage, iod=params.iod, population=params.population
    )


def _catalogued_network(lad: str) -> tuple[WalkNetwork | None, str]:
    from cnmap.data import fetch_record
    from cnmap.data.availability import at_hand
    from cnmap.network import read_walk_network

    if not at_hand("osm_walk_network", lad):
        return None, "no walk network at hand (cache or mirror) for this district"
    rec = fetch_record("osm_walk_network", lad_code=lad)
    return read_walk_network(rec.path), rec.read_from


def _built_network(area: Area, params: NationalParams) -> tuple[WalkNetwork | None, str]:
    from cnmap.network import DEFAULT_BUFFER_M, walk_network_for_district

    walk = float(max(params.minutes)) * params.speed_kmh * 1000.0 / 60.0
    try:
        net = walk_network_for_district(
            area,
            buffer_m=max(DEFAULT_BUFFER_M, walk + params.max_snap_m + 500.0),
            walk_limit_m=walk,
            max_snap_m=params.max_snap_m,
        )
    except CnmapError as exc:
        return None, f"no walk network could be built: {exc}"
    return net, f"built from OpenStreetMap ({net.report.source})"


def district_network(area: Area, params: NationalParams) -> tuple[WalkNetwork | None, str]:
    """The district's walk network and where it came from (None and why not)."""
    if params.networks == "none":
        return None, "networks = none: straight line everywhere"
    net, where = _catalogued_network(area.lad_code)
    if net is None and params.networks == "build":
        net, where = _built_network(area, params)
    return net, where


def network_tag(lad: str, params: NationalParams) -> str:
    """What a district's walks depend on beyond the parameters: ``"line"`` (no network: the
    straight line), ``"net-<sha256>"`` (the catalogued network at hand) or ``"build"``."""
    from cnmap.data import fetch_record
    from cnmap.data.availability import at_hand

    if params.networks == "none":
        return "line"
    if params.networks == "build":
        return "build"
    if not at_hand("osm_walk_network", lad):
        return "line"
    return "net-" + fetch_record("osm_walk_network", lad_code=lad).sha256[:16]


def _residents(area: Area, params: NationalParams, net: WalkNetwork | None) -> gpd.GeoDataFrame:
    from cnmap.residents import residential_points

    return residential_points(
        area, method=params.residents, edge_geometries=None if net is None else net.edge_geometry
    )


def _unplaced_share(net: WalkNetwork, res: gpd.GeoDataFrame, max_snap_m: float) -> float:
    from cnmap.network import check_snap_coverage, snap_points

    snapped = snap_points(net, res.geometry.reset_index(drop=True), max_snap_m=max_snap_m)
    cover = check_snap_coverage(snapped, res["weight"].to_numpy(float), refuse=False)
    return float(cover.share_unplaced)


def _ring_share(net: WalkNetwork, area: Area, params: NationalParams) -> float:
    """Share of the halo ring (walk limit + snapping limit around the district) near the
    network: below 1, walks over the boundary are cut where the network stops."""
    from cnmap.network import share_near_network

    walk = float(max(params.minutes)) * params.speed_kmh * 1000.0 / 60.0
    outline = shapely.union_all(np.asarray(area.boundary.geometry.values))
    ring = shapely.buffer(outline, walk + params.max_snap_m).difference(outline)
    return share_near_network(net, ring, params.max_snap_m)


def _spec(params: NationalParams, mode: str) -> WalkSpec:
    return WalkSpec(
        minutes=params.minutes,
        speed_kmh=params.speed_kmh,
        mode=mode,
        detour_factor=params.detour_factor,
        max_snap_m=params.max_snap_m,
        type_col=params.type_col,
    )


@dataclass
class _Prepared:
    area: Area
    net: WalkNetwork | None
    residents: gpd.GeoDataFrame
    info: dict[str, Any]

    @property
    def mode(self) -> str:
        return "crow_flies" if self.net is None else "network"


def _prepare(lad: str, params: NationalParams) -> _Prepared:
    """Area, network (or none, and why), residents."""
    area = _load_area(lad, params)
    net, where = district_network(area, params)
    res = _residents(area, params, net)
    info: dict[str, Any] = {
        "network_source": where if net is not None else "",
        "network_note": "" if net is not None else where,
    }
    if net is not None:
        share = _unplaced_share(net, res, params.max_snap_m)
        if share > _REFUSE_UNPLACED:
            info = {
                "network_source": "",
                "network_note": (
                    f"the walk network ({where}) leaves {share:.1%} of residents farther than "
                    f"{params.max_snap_m:g} m from a street: straight line used"
                ),
            }
            net = None
            res = _residents(area, params, None)
        else:
            info.update(
                network_nodes=net.n_nodes,
                network_unplaced_share=share,
                network_ring_share=_ring_share(net, area, params),
            )
    return _Prepared(area, net, res, info)


# ---------------------------------------------------------------------------------------------
# the computation


def _organisations_in(area: Area, orgs: gpd.GeoDataFrame) -> int:
    outline = shapely.union_all(np.asarray(area.boundary.geometry.values))
    return int(
        shapely.contains_xy(outline, orgs.geometry.x.to_numpy(), orgs.geometry.y.to_numpy()).sum()
    )


def _check_population(lad: str, res: pd.DataFrame, area: Area) -> float:
    total = float(res["weight"].sum())
    loaded = float(area.lsoas[C.POPULATION].sum())
    if not np.isclose(total, loaded, rtol=1e-9, atol=1e-6):
        raise ValidationError(
            f"{lad}: residents carry {total:,.3f} people but the district's "
            f"LSOAs have {loaded:,.0f}"
        )
    return loaded


def _frames(
    lad: str, prep: _Prepared, halo: HaloResult
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    area = prep.area
    res = halo.residents.copy()
    res.insert(0, C.LAD_CODE, lad)
    cols = [c for c in LSOA_ATTRIBUTES if c in area.lsoas.columns]
    lsoas = pd.DataFrame(area.lsoas[cols]).assign(**{C.LAD_CODE: lad, C.LAD_NAME: area.lad_name})
    wards = pd.DataFrame(area.wards[[C.WARD_CODE, C.WARD_NAME]]).assign(
        **{C.LAD_CODE: lad, C.LAD_NAME: area.lad_name}
    )
    return res, lsoas, wards


def _summary(
    lad: str,
    prep: _Prepared,
    halo: HaloResult,
    orgs: gpd.GeoDataFrame,
    population: float,
    detour: float,
) -> dict[str, Any]:
    area = prep.area
    first = halo.passes[0]
    return {
        C.LAD_CODE: lad,
        C.LAD_NAME: area.lad_name,
        "status": "ok",
        "error": "",
        "mode": prep.mode,
        "detour_factor": None if prep.net is not None else float(detour),
        **prep.info,
        "n_lsoas": int(len(area.lsoas)),
        "n_wards": int(len(area.wards)),
        "n_residential_points": int(len(prep.residents)),
        "postcodes": str(area.params.get("postcodes", "")),
        "population_loaded": population,
        "n_organisations": _organisations_in(area, orgs),
        "halo_radius_m": float(halo.radius_m),
        "halo_passes": len(halo.passes),
        "halo_organisations": first.organisations,
        "halo_network_nodes": first.network_nodes,
        "types": list(halo.types),
        "attribution": area.attribution(),
    }


def compute_district(lad: str, params: NationalParams, orgs: gpd.GeoDataFrame) -> DistrictOutput:
    """Compute one district (raises on failure; :func:`district_task` catches)."""
    prep = _prepare(lad, params)
    halo = halo_walks(
        prep.residents, orgs, prep.area, spec=_spec(params, prep.mode), network=prep.net
    )
    res, lsoas, wards = _frames(lad, prep, halo)
    population = _check_population(lad, res, prep.area)
    summary = _summary(lad, prep, halo, orgs, population, params.detour_factor)
    return DistrictOutput(summary, res, lsoas, wards)


def _peak_rss_mb() -> float:
    """Peak resident memory of this process (the worker), in MB.

    Linux: ``VmHWM`` of ``/proc/self/status``, the high-water mark of this process's own
    memory. ``ru_maxrss`` is not used there: it keeps the parent's resident size across
    fork and exec, so a worker started by a large client would report the client's."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return float(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024.0


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().name)
    except (ImportError, ValueError):
        return "client"


def failed(lad: str, error: BaseException | str, seconds: float = float("nan")) -> DistrictOutput:
    """A failed district's output: its status, the error and where it ran."""
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    return DistrictOutput(
        {
            C.LAD_CODE: lad,
            "status": "failed",
            "error": text,
            "seconds": seconds,
            "worker": _worker_name(),
            "worker_peak_rss_mb": _peak_rss_mb(),
        }
    )


def district_task(lad: str, params: NationalParams, orgs: gpd.GeoDataFrame) -> DistrictOutput:
    """Run one district; a failure is returned (status ``"failed"`` and the error), not
    raised, so that the other districts go on."""
    t0 = time.perf_counter()
    try:
        out = compute_district(lad, params, orgs)
    except Exception as exc:  # noqa: BLE001 - isolation: every failure is reported
        log.warning("district %s failed: %s\n%s", lad, exc, traceback.format_exc())
        return failed(lad, exc, time.perf_counter() - t0)
    out.summary.update(
        seconds=time.perf_counter() - t0, worker=_worker_name(), worker_peak_rss_mb=_peak_rss_mb()
    )
    return out


# ---------------------------------------------------------------------------------------------
# a district's full coverage result (for its map)


def district_coverage(
    lad: str, params: NationalParams, orgs: gpd.GeoDataFrame, radius_m: float
) -> CoverageResult:
    """The district's :class:`~cnmap.coverage.CoverageResult` with every organisation within
    ``radius_m`` of its residents: with the radius its national run ended at, every figure
    (walks included) equals the national tables'."""
    from cnmap.coverage import coverage
    from cnmap.national.halo import organisations_within

    prep = _prepare(lad, params)
    xy = shapely.get_coordinates(np.asarray(prep.residents.geometry.values))
    oxy = shapely.get_coordinates(np.asarray(orgs.geometry.values))
    near = organisations_within(oxy, xy, radius_m)
    spec = _spec(params, prep.mode)
    return coverage(
        orgs.loc[near],
        prep.area,
        residents=prep.residents,
        network=prep.net,
        **spec.coverage_kwargs(),
    )
