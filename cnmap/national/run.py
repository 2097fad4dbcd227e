"""``run_national``: every English district on Dask, then the national tables and maps.

Steps: read the configuration; list the districts and their input population (Census 2021
usual residents by LSOA); start or join a Dask cluster; place the organisations (cached in
``_partial/``); run one task per district not already finished with these parameters
(:mod:`cnmap.national.district`), keeping each result as it arrives
(:mod:`cnmap.national.store`); build the tables from every finished district, check that
they hold exactly the input population, write them, the national map and the maps of the
districts with the lowest coverage.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from cnmap import columns as C
from cnmap import schema as S
from cnmap.errors import CnmapError
from cnmap.geo import to_wgs84
from cnmap.national import tables as T
from cnmap.national.config import NationalConfig, NationalParams, params_hash, read_national_config
from cnmap.national.district import (
    DistrictOutput,
    district_coverage,
    district_task,
    failed,
    network_tag,
)
from cnmap.national.engine import dask_client, run_tasks
from cnmap.national.inputs import (
    NationalOrganisations,
    english_districts,
    input_population,
    organisations_fingerprint,
    organisations_for_partials,
    read_national_organisations,
)
from cnmap.national.store import PARTIAL_DIR, PartialStore

__all__ = ["run_national", "NationalResult", "PopulationMismatchError"]

log = logging.getLogger(__name__)

#: People by which the output may differ from the input (float sums of shares of LSOAs).
_POPULATION_TOLERANCE = 0.01


class PopulationMismatchError(CnmapError):
    """The tables do not hold exactly the input population (a bug: nobody may be lost)."""


@dataclass(frozen=True)
class NationalResult:
    """What :func:`run_national` wrote and found.

    Attributes
    ----------
    out_dir
        The output folder (``tables/``, ``maps/``, ``summary.json``, ``_partial/``).
    key
        The parameters' key (the partial results' folder is its first 16 hex digits).
    lads, lsoas, wards, deciles, totals
        The national tables (also written as CSV in ``tables/``).
    population_input, population_output
        Census 2021 usual residents of the finished districts' LSOAs, and the residents
        the tables hold (equal: checked).
    computed, resumed, failed
        Districts computed by this run, taken from an earlier run's partial results, and
        failed (with their error in ``lads``).
    files
        Paths written, by name.
    seconds, timings
        Wall time, and by step (inputs, cluster, organisations, districts, tables,
        district_maps, files_and_national_map).
    """

    out_dir: Path
    key: str
    lads: pd.DataFrame
    lsoas: pd.DataFrame
    wards: pd.DataFrame
    deciles: pd.DataFrame
    totals: pd.DataFrame
    population_input: float
    population_output: float
    computed: tuple[str, ...]
    resumed: tuple[str, ...]
    failed: tuple[str, ...]
    files: dict[str, Path] = field(default_factory=dict)
    seconds: float = float("nan")
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """Every district finished."""
        return not self.failed

    def share_covered(self, minutes: float | None = None) -> float:
        """Share of the finished districts' residents within ``minutes`` (default 15 or the
        longest limit)."""
        t = self.totals
        m = (
            minutes
            if minutes is not None
            else (15 if 15 in set(t[S.MINUTES]) else t[S.MINUTES].max())
        )
        return float(t.loc[t[S.MINUTES] == m, S.SHARE_COVERED].iloc[0])


# ---------------------------------------------------------------------------------------------
# configuration and inputs


def _as_config(config: Any) -> NationalConfig:
    if isinstance(config, NationalConfig):
        return config
    return read_national_config(config)


def _org_cache_key(cfg: NationalConfig) -> str:
    h = hashlib.sha256()
    for src in cfg.organisations:
        h.update(hashlib.sha256(src.path.read_bytes()).digest())
        h.update(
            json.dumps(
                [src.label, src.type, src.type_col, src.options], sort_keys=True, default=str
            ).encode("utf-8")
        )
    return h.hexdigest()[:16]


def _organisations(
    cfg: NationalConfig, out: Path, client: Any, fresh: bool
) -> tuple[gpd.GeoDataFrame, pd.DataFrame, pd.DataFrame]:
    """The placed organisations, read once (postcode areas loaded on the cluster) and kept
    in ``_partial/`` for later runs (read again with ``fresh``)."""
    base = out / PARTIAL_DIR / f"organisations-{_org_cache_key(cfg)}"
    files = [base.with_suffix(s) for s in (".parquet", ".rejected.parquet", ".summary.parquet")]
    if fresh:
        for f in files:
            f.unlink(missing_ok=True)
    if all(f.is_file() for f in files):
        return (gpd.read_parquet(files[0]), pd.read_parquet(files[1]), pd.read_parquet(files[2]))

    def on_cluster(fn: Any, items: Sequence[str]) -> list[pd.DataFrame]:
        return list(client.gather(client.map(fn, list(items), pure=False)))

    read: NationalOrganisations = read_national_organisations(cfg.organisations, on_cluster)
    base.parent.mkdir(parents=True, exist_ok=True)
    orgs = read.organisations
    orgs.to_parquet(files[0])
    read.rejected.astype(str).to_parquet(files[1])
    read.summary.to_parquet(files[2])
    return orgs, read.rejected, read.summary


# ---------------------------------------------------------------------------------------------
# the districts


def _summary_frame(codes: Sequence[str], summaries: Mapping[str, dict[str, Any]]) -> pd.DataFrame:
    rows = [
        {
            **summaries.get(c, {C.LAD_CODE: c, "status": "failed", "error": "no result"}),
            C.LAD_CODE: c,
        }
        for c in codes
    ]
    frame = pd.DataFrame(rows)
    for col in ("attribution", "types"):
        if col in frame.columns:
            frame = frame.drop(columns=col)
    return frame


def _district_columns(
    table: pd.DataFrame, inputs: pd.DataFrame, summaries: pd.DataFrame
) -> pd.DataFrame:
    left = table.merge(inputs.reset_index(), on=C.LAD_CODE, how="left")
    right = summaries.drop(columns=[c for c in (C.LAD_NAME,) if c in summaries.columns])
    return left.merge(right, on=C.LAD_CODE, how="left")


def _compute(
    client: Any,
    todo: Sequence[str],
    params: NationalParams,
    orgs: gpd.GeoDataFrame,
    store: PartialStore,
    priorities: Mapping[str, int],
    progress: bool | None,
) -> dict[str, dict[str, Any]]:
    summaries: dict[str, dict[str, Any]] = {}
    for lad, out in run_tasks(
        client,
        district_task,
        todo,
        args=(params,),
        broadcast={"orgs": orgs},
        priorities=priorities,
        on_error=lambda lad, exc: failed(lad, exc),
        progress=progress,
    ):
        assert isinstance(out, DistrictOutput)
        out.summary["network_tag"] = store.tags.get(lad, "line")
        store.write(out)
        summaries[lad] = {**out.summary, "resumed": False}
        if not out.ok:
            log.warning("district %s failed: %s", lad, out.summary.get("error"))
    return summaries


# ---------------------------------------------------------------------------------------------
# tables


@dataclass(frozen=True)
class _Tables:
    lads: pd.DataFrame
    lsoas: pd.DataFrame
    wards: pd.DataFrame
    deciles: pd.DataFrame
    totals: pd.DataFrame
    residents: int


def _types(summaries: Mapping[str, dict[str, Any]]) -> tuple[str, ...]:
    for s in summaries.values():
        if s.get("status") == "ok":
            return tuple(s.get("types") or ())
    return ()


def _build_tables(
    store: PartialStore,
    ok: Sequence[str],
    lads: pd.DataFrame,
    params: NationalParams,
    types: Sequence[str],
) -> _Tables:
    res = store.frames(ok, "residents")
    lsoa_attr = store.frames(ok, "lsoas")
    ward_attr = store.frames(ok, "wards")
    mins = params.minutes
    if not ok:
        empty = pd.DataFrame()
        return _Tables(T.district_table(res, lads, mins, types), empty, empty, empty, empty, 0)
    return _Tables(
        lads=T.district_table(res, lads, mins, types),
        lsoas=T.lsoa_table(res, lsoa_attr, mins, types),
        wards=T.ward_table(res, ward_attr, mins, types),
        deciles=T.decile_table(res, lsoa_attr, mins, types),
        totals=T.totals_table(res, mins, params.speed_kmh),
        residents=len(res),
    )


def _check_population(lads: pd.DataFrame) -> tuple[float, float]:
    """Input and output population of the finished districts; raises if they differ."""
    ok = lads["status"] == "ok"
    out = lads.loc[ok, "population"].to_numpy(float)
    inp = lads.loc[ok, "population_input"].to_numpy(float)
    bad = ~np.isclose(out, inp, rtol=0.0, atol=_POPULATION_TOLERANCE)
    if bad.any():
        codes = lads.loc[ok, C.LAD_CODE].to_numpy()[bad][:10].tolist()
        raise PopulationMismatchError(
            f"the tables' residents differ from the Census 2021 input in district(s) {codes}"
        )
    total_in, total_out = float(inp.sum()), float(out.sum())
    if not math.isclose(total_in, total_out, rel_tol=0.0, abs_tol=_POPULATION_TOLERANCE):
        raise PopulationMismatchError(
            f"the tables hold {total_out:,.3f} residents but the input has {total_in:,.0f}"
        )
    return total_in, total_out


# ---------------------------------------------------------------------------------------------
# outputs


def _attribution(
    summaries: Mapping[str, dict[str, Any]], rejected_summary: pd.DataFrame, any_network: bool
) -> list[str]:
    from cnmap.network import OSM_ATTRIBUTION

    seen: dict[str, None] = {}
    for s in summaries.values():
        for a in s.get("attribution") or ():
            seen.setdefault(str(a), None)
    for label in rejected_summary.get("dataset", pd.Series(dtype=str)).astype(str):
        seen.setdefault(f"Organisations: {label}", None)
    if any_network:
        seen.setdefault(f"Walk network: {OSM_ATTRIBUTION}", None)
    return list(seen)


def _write_tables(
    tabs: _Tables,
    orgs: gpd.GeoDataFrame,
    rejected: pd.DataFrame,
    org_summary: pd.DataFrame,
    out: Path,
) -> dict[str, Path]:
    from cnmap.export import write_csv

    d = out / "tables"
    d.mkdir(parents=True, exist_ok=True)
    lads = tabs.lads
    wgs = to_wgs84(orgs, name="organisations")
    org_table = pd.DataFrame(orgs.drop(columns="geometry")).assign(
        easting=orgs.geometry.x.round(1),
        northing=orgs.geometry.y.round(1),
        lon=wgs.geometry.x.round(6),
        lat=wgs.geometry.y.round(6),
    )
    frames = {
        "lads": lads,
        "lsoas": tabs.lsoas,
        "wards": tabs.wards,
        "deciles": tabs.deciles,
        "totals": tabs.totals,
        "organisations": org_table,
        "rejected_organisations": rejected,
        "organisation_files": org_summary,
    }
    return {name: write_csv(frame, d / f"{name}.csv") for name, frame in frames.items()}


def _worst(lads: pd.DataFrame, params: NationalParams, n: int) -> list[tuple[str, float]]:
    col = S.share_covered(params.headline_minutes)
    ok = lads[(lads["status"] == "ok") & lads[col].notna()]
    worst = ok.sort_values([col, C.LAD_CODE], kind="stable").head(n)
    return list(zip(worst[C.LAD_CODE], worst["halo_radius_m"].astype(float), strict=True))


def district_map_task(
    lad: str,
    params: NationalParams,
    orgs: gpd.GeoDataFrame,
    radius_m: float,
    path: str,
    self_contained: bool,
) -> str:
    """Write one district's coverage map (cnmap.maps.coverage_map); returns the path."""
    from cnmap.maps import coverage_map, save_html

    result = district_coverage(lad, params, orgs, radius_m)
    return str(save_html(coverage_map(result), Path(path), self_contained=self_contained))


def _district_maps(
    client: Any,
    worst: Sequence[tuple[str, float]],
    params: NationalParams,
    orgs: gpd.GeoDataFrame,
    out: Path,
    self_contained: bool,
    progress: bool | None,
) -> dict[str, str]:
    """Maps of the districts with the lowest coverage: lad -> path (or the error)."""
    if not worst:
        return {}
    radius = dict(worst)
    d = out / "maps" / "districts"
    d.mkdir(parents=True, exist_ok=True)
    done: dict[str, str] = {}

    def task(lad: str, params: NationalParams, orgs: gpd.GeoDataFrame) -> str:
        return district_map_task(
            lad, params, orgs, radius[lad], str(d / f"{lad}.html"), self_contained
        )

    for lad, path in run_tasks(
        client,
        task,
        list(radius),
        args=(params,),
        broadcast={"orgs": orgs},
        progress=progress,
        desc="maps",
        name="district-map",
        on_error=lambda lad, exc: f"failed: {type(exc).__name__}: {exc}",
    ):
        done[lad] = str(path)
    return done


def _outlines(codes: Sequence[str]) -> dict[str, str]:
    """District outlines for the national map (none, and a warning, if they cannot be read:
    the tables do not depend on them)."""
    from cnmap.national.inputs import district_outlines

    try:
        return district_outlines(codes)
    except (CnmapError, OSError, ValueError, KeyError) as exc:
        log.warning("national map without district outlines: %s", exc)
        return {}


#: The national map's attribution (every statement in full is in summary.json).
_MAP_ATTRIBUTION = (
    "Contains OS data © Crown copyright and database right 2025; Royal Mail data © Royal Mail "
    "copyright and database right 2025; National Statistics data © Crown copyright and "
    "database right 2025. ONS boundaries, lookups and Census 2021, MHCLG English Indices of "
    "Deprivation 2025: Open Government Licence v3.0."
)


def _map_attribution(cfg: NationalConfig, any_network: bool) -> list[str]:
    from cnmap.network import OSM_ATTRIBUTION

    labels = "; ".join(s.label for s in cfg.organisations)
    return [
        _MAP_ATTRIBUTION,
        f"Organisations: {labels}.",
        *([f"Walk networks: {OSM_ATTRIBUTION}."] if any_network else []),
    ]


def _national_map(
    lads: pd.DataFrame,
    params: NationalParams,
    question: str,
    attribution: Sequence[str],
    out: Path,
    self_contained: bool,
) -> Path:
    from cnmap.national.maps import national_map, save_national_map

    m = national_map(lads, minutes=params.headline_minutes, title=question, attribution=attribution)
    return save_national_map(m, out / "maps" / "england.html", self_contained=self_contained)


def _summary_json(result: dict[str, Any], out: Path) -> Path:
    p = out / "summary.json"
    p.write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    return p


# ---------------------------------------------------------------------------------------------
# the public function


def _question(cfg: NationalConfig) -> str:
    labels = ", ".join(s.label for s in cfg.organisations)
    return f"Residents within a {cfg.params.headline_minutes:g}-minute walk of: {labels}"


def run_national(  # noqa: PLR0913 (keyword-only options of the run and of its LocalCluster)
    config: str | Path | Mapping[str, Any] | NationalConfig,
    out_dir: str | Path | None = None,
    *,
    districts: Sequence[str] | None = None,
    scheduler: Any = None,
    n_workers: int | None = None,
    processes: bool = True,
    memory_limit: str | float | None = None,
    worst_maps: int | None = None,
    self_contained: bool | None = None,
    progress: bool | None = None,
    fresh: bool = False,
    dashboard_address: str | None = ":8787",
) -> NationalResult:
    """Run a national configuration: every district on Dask, then national tables and maps.

    Parameters
    ----------
    config
        A national configuration file (TOML/YAML), its dict, or a :class:`NationalConfig`
        (see :mod:`cnmap.national.config` and ``configs/england_libraries.toml``).
    out_dir
        Output folder (default: the configuration's ``[output] dir``).
    districts
        Codes or names of the districts to run (default: the configuration's, else all 296).
    scheduler
        A Dask scheduler address or ``distributed.Client`` (default: the configuration's
        ``[national] scheduler``, else a new LocalCluster).
    n_workers, processes, memory_limit, dashboard_address
        LocalCluster options (default: ``[national] workers``/``memory_limit``, else one
        worker process per core with Dask's memory limit).
    worst_maps
        How many of the districts with the lowest coverage get their own map (default:
        ``[national] worst_maps``).
    self_contained
        Maps open with no network (default: ``[output] self_contained``).
    progress
        tqdm bar per finished district (default None: a bar only when stderr is a terminal).
    fresh
        Forget the partial results of these parameters and compute every district again.

    Returns
    -------
    NationalResult

    Raises
    ------
    ValidationError
        A bad configuration or district name (before anything is computed).
    PopulationMismatchError
        The tables do not hold the input population exactly (never expected).
    """
    clock = _Clock()
    cfg = _as_config(config)
    out = Path(out_dir) if out_dir is not None else cfg.out_dir
    out.mkdir(parents=True, exist_ok=True)
    table = english_districts(districts if districts is not None else cfg.districts)
    inputs = input_population(table[C.LAD_CODE].tolist())
    clock.lap("inputs")
    n_maps = cfg.worst_maps if worst_maps is None else worst_maps
    contained = cfg.self_contained if self_contained is None else self_contained
    with dask_client(
        scheduler if scheduler is not None else cfg.scheduler,
        n_workers=n_workers or cfg.workers,
        processes=processes,
        memory_limit=memory_limit or cfg.memory_limit,
        dashboard_address=dashboard_address,
    ) as client:
        clock.lap("cluster")
        done = _districts(client, cfg, out, table, inputs, fresh, progress, clock)
        tabs = _build_tables(done.store, done.ok, done.lads, cfg.params, _types(done.summaries))
        populations = _check_population(tabs.lads)
        clock.lap("tables")
        worst = _worst(tabs.lads, cfg.params, n_maps) if n_maps else []
        maps = _district_maps(client, worst, cfg.params, done.orgs, out, contained, progress)
        clock.lap("district_maps")
    return _finish(cfg, out, done, tabs, maps, populations, contained, clock)


def _finish(  # noqa: PLR0913 (the run's finished parts, each built by its own step)
    cfg: NationalConfig,
    out: Path,
    done: _Done,
    tabs: _Tables,
    maps: Mapping[str, str],
    populations: tuple[float, float],
    contained: bool,
    clock: _Clock,
) -> NationalResult:
    """Write the tables, the national map and ``summary.json``; the run's result."""
    tabs = dataclasses.replace(
        tabs, lads=tabs.lads.assign(map=[maps.get(c, "") for c in tabs.lads[C.LAD_CODE]])
    )
    files, attribution = _write_outputs(cfg, out, tabs, done, contained)
    clock.lap("files_and_national_map")
    ok = set(done.ok)
    result = NationalResult(
        out_dir=out,
        key=done.key,
        lads=tabs.lads,
        lsoas=tabs.lsoas,
        wards=tabs.wards,
        deciles=tabs.deciles,
        totals=tabs.totals,
        population_input=populations[0],
        population_output=populations[1],
        computed=tuple(c for c in done.todo if c in ok),
        resumed=tuple(done.resumed),
        failed=tuple(c for c in done.codes if c not in ok),
        files=files,
        seconds=clock.total(),
        timings=dict(clock.laps),
    )
    files["summary"] = _summary_json(_summary_dict(result, cfg, tabs, attribution), out)
    log.info(
        "national run: %d of %d districts, %.1f%% of %s residents within %g min (%.0f s)",
        len(done.ok),
        len(done.codes),
        100 * result.share_covered() if done.ok else float("nan"),
        f"{populations[1]:,.0f}",
        cfg.params.headline_minutes,
        result.seconds,
    )
    return result


@dataclass
class _Clock:
    """Wall time of the run's steps."""

    start: float = field(default_factory=time.perf_counter)
    last: float = field(default_factory=time.perf_counter)
    laps: dict[str, float] = field(default_factory=dict)

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = now - self.last
        self.last = now

    def total(self) -> float:
        return time.perf_counter() - self.start


@dataclass(frozen=True)
class _Done:
    """The districts after the cluster ran them (or an earlier run did)."""

    codes: list[str]
    todo: list[str]
    resumed: list[str]
    ok: list[str]
    summaries: dict[str, dict[str, Any]]
    lads: pd.DataFrame
    key: str
    store: PartialStore
    orgs: gpd.GeoDataFrame
    orgs_all: gpd.GeoDataFrame
    rejected: pd.DataFrame
    org_summary: pd.DataFrame


def _districts(
    client: Any,
    cfg: NationalConfig,
    out: Path,
    table: pd.DataFrame,
    inputs: pd.DataFrame,
    fresh: bool,
    progress: bool | None,
    clock: _Clock,
) -> _Done:
    """Place the organisations, then compute every district not finished before."""
    codes = table[C.LAD_CODE].tolist()
    orgs_all, rejected, org_summary = _organisations(cfg, out, client, fresh)
    orgs = organisations_for_partials(orgs_all)
    clock.lap("organisations")
    key = params_hash(cfg.params, organisations_fingerprint(orgs, cfg.params.type_col))
    store = PartialStore.open(out, key, {c: network_tag(c, cfg.params) for c in codes})
    if fresh:
        store.clear()
    store.write_params(cfg.params.to_dict())
    resumed = [c for c in codes if store.done(c)]
    todo = [c for c in codes if c not in set(resumed)]
    log.info(
        "national run %s: %d districts, %d finished before, %d to compute",
        key[:16],
        len(codes),
        len(resumed),
        len(todo),
    )
    prio = {c: int(inputs.loc[c, "n_lsoas_input"]) for c in todo}
    summaries = {c: {**store.summary(c), "resumed": True} for c in resumed}
    summaries.update(_compute(client, todo, cfg.params, orgs, store, prio, progress))
    clock.lap("districts")
    ok = [c for c in codes if summaries.get(c, {}).get("status") == "ok"]
    lads = _district_columns(table, inputs, _summary_frame(codes, summaries))
    return _Done(
        codes, todo, resumed, ok, summaries, lads, key, store, orgs, orgs_all, rejected, org_summary
    )


def _write_outputs(
    cfg: NationalConfig, out: Path, tabs: _Tables, done: _Done, contained: bool
) -> tuple[dict[str, Path], list[str]]:
    """The tables (CSV) and the national map; returns the files and the attribution."""
    any_network = bool((tabs.lads.get("mode") == "network").any())
    attribution = _attribution(done.summaries, done.org_summary, any_network)
    files = _write_tables(tabs, done.orgs_all, done.rejected, done.org_summary, out)
    outlines = _outlines(done.codes)
    lads = tabs.lads.assign(outline_wkt=tabs.lads[C.LAD_CODE].map(outlines))
    files["map"] = _national_map(
        lads, cfg.params, _question(cfg), _map_attribution(cfg, any_network), out, contained
    )
    return files, attribution


def _summary_dict(
    r: NationalResult, cfg: NationalConfig, tabs: _Tables, attribution: Sequence[str]
) -> dict[str, Any]:
    return {
        "question": _question(cfg),
        "key": r.key,
        "params": cfg.params.to_dict(),
        "districts": len(r.lads),
        "districts_ok": len(r.lads) - len(r.failed),
        "failed": list(r.failed),
        "computed": len(r.computed),
        "resumed": len(r.resumed),
        "lsoas": len(r.lsoas),
        "wards": len(r.wards),
        "residential_points": tabs.residents,
        "population_input": r.population_input,
        "population_output": r.population_output,
        "totals": r.totals.to_dict("records"),
        "modes": r.lads["mode"].value_counts().to_dict() if "mode" in r.lads else {},
        "seconds": r.seconds,
        "timings": r.timings,
        "attribution": list(attribution),
    }
