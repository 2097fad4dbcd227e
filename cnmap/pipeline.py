"""The end-to-end analysis behind ``cnmap run CONFIG``: I/O at the edges around the pure core.

A run reads a TOML (or YAML) configuration, loads the area (IoD2025 on 2021 LSOAs unless the
configuration says otherwise), reads every organisations file (writing what was rejected and
why), loads or builds the walk network, computes coverage (which checks that the network
places the residents: a warning above 1 % unplaced, refusal above 10 %), computes ward
deprivation profiles and thin-infrastructure areas, and writes the HTML map, the tables (CSV,
XLSX, GeoPackage), the figures (PNG and PDF), a short methods note and ``run.json``. Every
output records the data used (``area.params``: LSOA vintage, IoD edition, population source,
postcodes), the network check and, in straight-line mode, how the detour factor was obtained.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

import geopandas as gpd
import pandas as pd

from cnmap import columns as C
from cnmap.background import Background
from cnmap.config import (
    DEFAULT_MINUTES,
    OrganisationSource,
    RunFile,
    load_document,
    organisation_sources,
    resolve_path,
)
from cnmap.errors import ValidationError
from cnmap.geo import to_bng

__all__ = [
    "RunConfig",
    "OrganisationSource",
    "OrganisationsRead",
    "load_config",
    "check_inputs",
    "check_organisation_files",
    "run",
    "read_all_organisations",
    "read_organisation_files",
]

DEFAULT_SPEED_KMH = 4.8  # cnmap.network.DEFAULT_SPEED_KMH, without importing the network engine

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunConfig:
    """A validated run configuration (see ``configs/birmingham.toml`` and
    ``docs/configuration.md``)."""

    lad_code: str
    organisations: tuple[OrganisationSource, ...]
    out_dir: Path
    lsoa_vintage: int = 2021
    iod: int = 2025
    population: str = "auto"
    postcodes: str = "auto"
    network_path: Path | None = None
    network_dataset: str | None = "osm_walk_network"
    network_build: str | None = None  # "district": built from OpenStreetMap
    network_source: str = "auto"  # build = "district": "auto", "overpass" or a .osm.pbf path
    network_buffer_m: float = 2000.0
    minutes: tuple[float, ...] = DEFAULT_MINUTES
    speed_kmh: float = 4.8
    persona: str | None = None
    residents: str = "postcodes"
    max_snap_m: float = 500.0
    mode: str = "network"
    detour_factor: float | None = None
    thin: dict[str, Any] = field(default_factory=dict)
    self_contained: bool = False
    source: Path | None = None
    type_col: str | None = C.ORG_TYPE
    type_labels: dict[str, str] = field(default_factory=dict)
    need_columns: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The configuration as JSON-ready values (paths as text), for ``run.json``."""
        d = asdict(self)
        return cast(dict[str, Any], json.loads(json.dumps(d, default=str)))


def load_config(
    source: str | os.PathLike[str] | Mapping[str, Any],
    *,
    out_dir: str | os.PathLike[str] | None = None,
) -> RunConfig:
    """Read and validate a run configuration (TOML or YAML file, or a dict).

    Everything is checked against :class:`cnmap.config.RunFile` before any data is read:
    types (no coercion), ranges, choices and unknown keys (a typo must not silently change a
    result). Paths are relative to the file (or the working folder for a dict) and may use
    ``${ENV}`` variables.

    Raises
    ------
    ValidationError
        One line naming the file, the key, the value given and the fix.
    """
    doc, base, path = load_document(source, RunFile, what="config")
    where = str(path or "config")
    net, cov, outp = doc.network, doc.coverage, doc.output
    network_path = (
        None if net.path is None else resolve_path(net.path, "[network] path", base, where)
    )
    out = (
        Path(out_dir)
        if out_dir is not None
        else resolve_path(outp.dir, "[output] dir", base, where)
    )
    built = net.build is not None
    return RunConfig(
        lad_code=doc.area.lad_code,
        organisations=organisation_sources(doc.organisations, base=base, where=where),
        out_dir=out,
        lsoa_vintage=doc.area.lsoa_vintage,
        iod=doc.area.iod,
        population=doc.area.population,
        postcodes=doc.area.postcodes,
        network_path=network_path,
        network_dataset=None if network_path or built else net.dataset,
        network_build=net.build,
        network_source=_network_source(net.source, base, where),
        network_buffer_m=net.buffer_m,
        minutes=cov.minutes,
        speed_kmh=DEFAULT_SPEED_KMH if cov.speed_kmh is None else cov.speed_kmh,
        persona=cov.persona,
        residents=cov.residents,
        max_snap_m=cov.max_snap_m,
        mode=cov.mode,
        detour_factor=cov.detour_factor,
        thin=doc.thin.options(),
        self_contained=outp.self_contained,
        source=path,
        type_col=cov.type_col,
        type_labels=dict(outp.type_labels or {}),
        need_columns=tuple(outp.need_columns or ()),
    )


#: ``[network] source`` words that are not paths.
NETWORK_SOURCES = ("auto", "overpass")


def _network_source(source: str, base: Path, where: str) -> str:
    """``[network] source``: "auto", "overpass", or a .osm.pbf path resolved like any path."""
    if source in NETWORK_SOURCES:
        return source
    return str(resolve_path(source, "[network] source", base, where))


def _missing_file(path: Path, key: str, where: str, what: str) -> str | None:
    """Why ``path`` cannot be read as a file (None when it can)."""
    if path.is_file():
        return None
    state = "is a folder, not a file" if path.is_dir() else "does not exist"
    return f"{where}: {key}: {what} {path} {state}; check the path in the configuration"


def check_organisation_files(sources: Sequence[Any], *, where: str) -> None:
    """Every organisations file exists (named by its ``[[organisations]]`` entry)."""
    for i, src in enumerate(sources, start=1):
        if isinstance(src, OrganisationSource):
            why = _missing_file(
                src.path,
                f"[[organisations]] number {i} path",
                where,
                f"organisations file ({src.label})",
            )
            if why:
                raise ValidationError(why)


def check_inputs(config: RunConfig) -> None:
    """The files a run reads exist and the output folder is not a file, before any work.

    Raises
    ------
    ValidationError
        Naming the configuration key (``[[organisations]] number 2 path``, ``[network] path``,
        ``[output] dir``) and the fix.
    """
    where = str(config.source or "config")
    check_organisation_files(config.organisations, where=where)
    if config.network_path is not None:
        why = _missing_file(config.network_path, "[network] path", where, "walk network file")
        if why:
            raise ValidationError(why)
    if config.network_build and config.network_source not in NETWORK_SOURCES:
        why = _missing_file(
            Path(config.network_source), "[network] source", where, "OpenStreetMap extract"
        )
        if why:
            raise ValidationError(why)
    if config.out_dir.exists() and not config.out_dir.is_dir():
        raise ValidationError(
            f"{where}: the output folder {config.out_dir} ([output] dir or "
            "--out) is an existing file; give a folder (it is created if "
            "needed)"
        )


@dataclass(frozen=True)
class OrganisationsRead:
    """Every organisations file of a run, read: what :func:`read_organisation_files` returns.

    Attributes
    ----------
    organisations
        The placed organisations of all files (ids prefixed by the file's position).
    rejected
        Every row not placed, with ``dataset`` (the file's label), ``file`` and the reason.
    summary
        One row per file: ``dataset``, ``file``, ``rows`` read, ``matched`` (placed),
        ``rejected``, ``match_rate`` and ``notes`` (the reader's remarks joined with "; ").
    notes
        File label -> the reader's remarks (:attr:`cnmap.io.OrganisationTable.notes`:
        encoding fallbacks, other sheets, renamed columns...).
    """

    organisations: gpd.GeoDataFrame
    rejected: pd.DataFrame
    summary: pd.DataFrame
    notes: dict[str, tuple[str, ...]]


def _read_source(
    i: int, src: OrganisationSource, area: Any
) -> tuple[gpd.GeoDataFrame, pd.DataFrame, dict[str, Any], tuple[str, ...]]:
    """File ``i`` of the run (:func:`cnmap.organisations.sources.read_organisation_source`,
    ids prefixed by ``i``): its organisations, rejected rows, summary row and notes."""
    from cnmap.organisations.sources import read_organisation_source

    read = read_organisation_source(src, area, prefix=f"{i}-")
    return read.organisations, read.rejected, read.summary, read.notes


def read_organisation_files(sources: Sequence[OrganisationSource], area: Any) -> OrganisationsRead:
    """Read every organisations file, keeping the reader's notes for each file.

    Organisation ids are prefixed by the file's position so that they stay unique, and each row
    keeps its file label in ``dataset``.
    """
    kept, rejected, summary = [], [], []
    notes: dict[str, tuple[str, ...]] = {}
    for i, src in enumerate(sources, start=1):
        g, rej, row, file_notes = _read_source(i, src, area)
        kept.append(g)
        rejected.append(rej)
        summary.append(row)
        notes[src.label] = notes.get(src.label, ()) + file_notes
    orgs = gpd.GeoDataFrame(pd.concat(kept, ignore_index=True), geometry="geometry", crs=C.BNG)
    rej_all = pd.concat(rejected, ignore_index=True) if rejected else pd.DataFrame()
    return OrganisationsRead(orgs, rej_all, pd.DataFrame(summary), notes)


def read_all_organisations(
    sources: tuple[OrganisationSource, ...], area: Any
) -> tuple[gpd.GeoDataFrame, pd.DataFrame, pd.DataFrame]:
    """Read every organisations file; returns (organisations, rejected, per-file summary).

    The summary's ``notes`` column carries each file's reading notes (see
    :func:`read_organisation_files`, which also returns them one by one).
    """
    r = read_organisation_files(sources, area)
    return r.organisations, r.rejected, r.summary


@contextmanager
def _step(
    name: str, steps: list[dict[str, Any]], report: Callable[[str], None] | None
) -> Iterator[None]:
    """Time one step of the run: report its name on entry, record its seconds on exit."""
    t = time.perf_counter()
    if report:
        report(name)
    try:
        yield
    finally:
        steps.append({"step": name, "seconds": round(time.perf_counter() - t, 3)})


def _slug(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", text.lower()).strip("_") or "area"


def _load_area(config: RunConfig) -> Any:
    import cnmap

    return cnmap.load_area(
        config.lad_code,
        lsoa_vintage=config.lsoa_vintage,
        iod=config.iod,
        population=config.population,
        postcodes=config.postcodes,
    )


def needs_network(config: RunConfig) -> bool:
    """A network is read in network mode, and to calibrate the detour factor in
    straight-line mode when none is given."""
    return config.mode == "network" or config.detour_factor is None


def _walk_limit_m(config: RunConfig) -> float:
    speed = config.speed_kmh
    if config.persona is not None:
        from cnmap.network.speeds import WALKING_SPEEDS

        speed = WALKING_SPEEDS[config.persona]
    return max(config.minutes) * speed * 1000.0 / 60.0


def load_network(config: RunConfig, area: Any) -> Any:
    """The run's walk network: built for the district (``[network] build = "district"``),
    read from ``[network] path``, or fetched from the catalogue (``[network] dataset``)."""
    from cnmap.network import read_walk_network, walk_network_for_district

    if config.network_build == "district":
        return walk_network_for_district(
            area,
            source=config.network_source,
            buffer_m=config.network_buffer_m,
            walk_limit_m=_walk_limit_m(config),
            max_snap_m=config.max_snap_m,
        )
    if config.network_path is not None:
        return read_walk_network(config.network_path)
    from cnmap.data import fetch

    return read_walk_network(
        fetch(config.network_dataset or "osm_walk_network", lad_code=config.lad_code)
    )


def network_name(config: RunConfig, net: Any) -> str:
    """How the outputs name the network."""
    extent = getattr(net.report, "extent", None)
    if config.network_build == "district" and extent is not None:
        return (
            f"built from OpenStreetMap ({Path(str(extent.source_file)).name or extent.source}"
            f") for {extent.lad_code} plus {extent.buffer_m:,.0f} m"
        )
    if config.network_path is not None:
        return config.network_path.name
    return f"catalogue dataset {config.network_dataset}"


def calibrate_detour(config: RunConfig, area: Any, orgs: gpd.GeoDataFrame, net: Any) -> Any:
    """Straight-line mode without a detour factor: the factor calibrated on the part of the
    district the network covers (:func:`cnmap.calibrate.calibrate_on_network`)."""
    from cnmap.calibrate import calibrate_on_network
    from cnmap.residents import residential_points

    residents = residential_points(area, method=config.residents, edge_geometries=net.edge_geometry)
    district = to_bng(area.boundary, name="area.boundary").geometry.union_all()
    return calibrate_on_network(
        net,
        residents,
        to_bng(orgs, name="organisations"),
        district,
        max_snap_m=config.max_snap_m,
        network_name=network_name(config, net),
    )


def network_check(cov: Any) -> Any:
    """The snapping-coverage guard's result for a network-mode coverage: the share (by people)
    of residential points farther than ``max_snap_m`` from the walk network, as a
    :class:`cnmap.network.SnapCoverage` (None in straight-line mode).

    :func:`cnmap.coverage.coverage` runs the guard itself when it snaps the residents, before
    the walking searches (warning above 1 %, refusing above 10 %), and records it in
    ``params["snap_coverage"]``; this reads that record.
    """
    from cnmap.network import SnapCoverage

    recorded = cov.params.get("snap_coverage")
    if recorded is None:
        if cov.params.get("mode") == "network":
            raise AssertionError("a network-mode coverage result without its snapping check")
        return None
    return SnapCoverage(**recorded)


def _coverage(config: RunConfig, area: Any, orgs: gpd.GeoDataFrame, net: Any, detour: Any) -> Any:
    """:func:`cnmap.coverage.coverage` with the run's options; a network that leaves more than
    10 % of the residents unplaced is refused with the remedies in configuration terms."""
    from cnmap.coverage import coverage
    from cnmap.network.cover import REMEDY

    factor = detour.factor if detour is not None else config.detour_factor
    try:
        return coverage(
            orgs,
            area,
            minutes=config.minutes,
            speed_kmh=None if config.persona else config.speed_kmh,
            persona=config.persona,
            network=net,
            mode=config.mode,
            residents=config.residents,
            max_snap_m=config.max_snap_m,
            detour_factor=factor,
            type_col=config.type_col,
        )
    except ValidationError as exc:
        if REMEDY not in str(exc):
            raise
        where = str(config.source or "config")
        raise ValidationError(
            f'{where}: {exc} In the configuration: [network] build = "district" builds '
            f'{area.lad_name}\'s network from OpenStreetMap (source = "auto", "overpass" '
            'or a .osm.pbf extract), or [coverage] mode = "crow_flies" estimates walks from '
            "straight lines (docs/your_council.md)"
        ) from None


def record_run_facts(cov: Any, area: Any, detour: Any, config: RunConfig, net: Any) -> None:
    """Write into ``cov.params`` (and so every table's parameters) the data the area was
    built from, the network used and how the detour factor was obtained (the network check
    is recorded there by coverage itself)."""
    p = cov.params
    p["area"] = dict(getattr(area, "params", {}))
    if config.mode == "crow_flies":
        p["distance"] = "straight-line (crow-flies) distance x detour factor, not a street walk"
        if detour is not None:
            p["detour_calibration"] = detour.to_dict()
            p["detour_source"] = "calibrated: " + detour.method
        else:
            p["detour_source"] = "given in the configuration ([coverage] detour_factor)"
    if net is not None:
        p["network_name"] = network_name(config, net)


def run(config: RunConfig, *, report: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the whole analysis and write every output into ``config.out_dir``.

    Parameters
    ----------
    config
        From :func:`load_config`.
    report
        Called with the name of each step as it starts (the CLI shows them as progress).

    Returns
    -------
    dict
        ``paths`` (every file written), ``steps`` (seconds per step), ``coverage``,
        ``thin``, ``profiles``, the per-file organisations ``summary``, the ``rejected``
        rows, the reading ``notes`` of each file (label -> remarks), ``snap_coverage`` (the
        network check, :class:`cnmap.network.SnapCoverage`; None in straight-line mode),
        ``detour`` (:class:`cnmap.calibrate.DetourCalibration` when the factor was
        calibrated, else None) and ``area``.

    Raises
    ------
    ValidationError
        Bad input; and when more than 10 % of the residents cannot be placed on the walk
        network (coverage's snapping check; the message names the remedies).
    """
    from cnmap.deprivation import ward_profiles

    check_inputs(config)
    steps: list[dict[str, Any]] = []
    out = config.out_dir
    out.mkdir(parents=True, exist_ok=True)
    with _step("load area", steps, report):
        area = _load_area(config)
    need = None
    if config.need_columns:
        with _step("need columns", steps, report):
            need = read_need_columns(area, config.need_columns)
    with _step("read organisations", steps, report):
        read = read_organisation_files(config.organisations, area)
        orgs, rejected, org_summary = read.organisations, read.rejected, read.summary
    net = detour = None
    if needs_network(config):
        with _step("load walk network", steps, report):
            net = load_network(config, area)
    if config.mode == "crow_flies" and config.detour_factor is None:
        with _step("calibrate detour factor", steps, report):
            detour = calibrate_detour(config, area, orgs, net)
    with _step("coverage", steps, report):
        cov = _coverage(config, area, orgs, net, detour)
    guard = network_check(cov)
    record_run_facts(cov, area, detour, config, net)
    with _step("ward deprivation profiles", steps, report):
        profiles = ward_profiles(area)
    with _step("thin infrastructure", steps, report):
        from cnmap.thin import thin_areas

        thin = thin_areas(cov, **config.thin)
    with _step("who is served", steps, report):
        served = who_is_served(area, cov)
    if served.note:
        log.info("who is served: %s", served.note)
    parts = RunParts(area, cov, thin, profiles, org_summary, rejected, served, need)
    paths = write_outputs(config, parts, steps, report)
    return {
        "paths": paths,
        "steps": steps,
        "coverage": cov,
        "thin": thin,
        "profiles": profiles,
        "summary": org_summary,
        "rejected": rejected,
        "notes": read.notes,
        "snap_coverage": guard,
        "detour": detour,
        "area": area,
        "who_is_served": served,
    }


def planned_steps(config: RunConfig) -> list[str]:
    """The names of the steps :func:`run` reports, in order (the CLI's progress bar)."""
    names = ["load area", *(["need columns"] if config.need_columns else []), "read organisations"]
    if needs_network(config):
        names.append("load walk network")
    if config.mode == "crow_flies" and config.detour_factor is None:
        names.append("calibrate detour factor")
    names += ["coverage", "ward deprivation profiles", "thin infrastructure", "who is served"]
    if config.mode == "network":
        names.append("catchments")
    return names + ["summary page", "tables", "map", "figures", "summary PDF", "methods note"]


@dataclass(frozen=True)
class WhoIsServed:
    """Who is served in a run: :func:`cnmap.groups.group_coverage` of the coverage over the
    report's need layers (:func:`cnmap.layers.report_layers`: ethnic group, disability,
    household deprivation, age, digital exclusion risk), or why it was not made.

    Attributes
    ----------
    table
        The group coverage table (None when not made).
    layers
        The need layers behind it (their sources, vintages and licences).
    note
        Why the table was not made (None when it was).
    """

    table: pd.DataFrame | None
    layers: tuple[Any, ...] = ()
    note: str | None = None


def who_is_served(area: Any, cov: Any) -> WhoIsServed:
    """The run's "who is served" table; outside the areas the need layers cover (the Census
    2021 tables of the data mirror: Birmingham and Solihull), or without the layers' files,
    no table and a note saying why (the run goes on)."""
    from cnmap.errors import DataFetchError
    from cnmap.groups import group_coverage
    from cnmap.layers import MissingLSOAError, report_layers

    try:
        layers = report_layers(area)
    except (MissingLSOAError, DataFetchError) as exc:
        why = " ".join(str(exc).split())
        return WhoIsServed(
            None, note=f"not computed for {area.lad_name}: the need layers do not cover it ({why})"
        )
    return WhoIsServed(group_coverage(cov, layers), tuple(layers))


@dataclass(frozen=True)
class NeedColumns:
    """The need-layer columns of a run (``[output] need_columns``), on the area's LSOAs.

    Attributes
    ----------
    values
        One row per LSOA of the area (index ``lsoa_code``), one column per name, in the order
        of the configuration.
    layers
        The need layers they come from, on the area's LSOAs (source, vintage, licence).
    """

    values: pd.DataFrame
    layers: tuple[Any, ...]

    def layer_of(self, column: str) -> Any:
        """The layer holding ``column``."""
        return next(ly for ly in self.layers if column in ly.table.columns)


def read_need_columns(area: Any, names: Sequence[str]) -> NeedColumns:
    """The need columns ``names`` for the area (:func:`cnmap.layers.read_need_columns`).

    Raises
    ------
    ValidationError
        When a layer does not cover the area or its file is missing: the message names the
        columns, the reason and the fix (remove them from ``[output] need_columns``).
    """
    from cnmap.errors import DataFetchError
    from cnmap.layers import MissingLSOAError
    from cnmap.layers.domain import read_need_columns as read

    try:
        values, layers = read(area, names)
    except (MissingLSOAError, DataFetchError) as exc:
        why = " ".join(str(exc).split())
        raise ValidationError(
            f"[output] need_columns {list(names)}: cannot read them for {area.lad_name} "
            f"({why}); remove them from [output] need_columns or point the data mirror at "
            "files that cover the area"
        ) from exc
    return NeedColumns(values, tuple(layers))


def need_lsoa_table(lsoas: pd.DataFrame, need: NeedColumns) -> pd.DataFrame:
    """A copy of an LSOA table with the need columns added at the end, by ``lsoa_code``."""
    out = lsoas.copy()
    codes = out[C.LSOA_CODE].astype(str).to_numpy()
    for col in need.values.columns:
        out[col] = need.values[col].reindex(codes).to_numpy(float)
    return out


def need_ward_table(
    wards: pd.DataFrame, residents: pd.DataFrame, need: NeedColumns
) -> pd.DataFrame:
    """A copy of a ward table with each need column as the population-weighted mean of the
    LSOA values over the ward's residents (counted where they live, as the coverage's ward
    figures; :func:`cnmap.aggregate.group_sums`)."""
    import numpy as np

    from cnmap.aggregate import group_sums

    lsoa = residents[C.LSOA_CODE].astype(str).to_numpy()
    sums = group_sums(
        residents[C.WARD_CODE].astype(str).to_numpy(),
        residents[C.WEIGHT].to_numpy(float),
        means={c: need.values[c].reindex(lsoa).to_numpy(float) for c in need.values.columns},
    )
    out = wards.copy()
    wcode = out[C.WARD_CODE].astype(str).to_numpy()
    for col in need.values.columns:
        mean = pd.Series(sums.mean(col), index=sums.index.astype(str))
        out[col] = np.asarray(mean.reindex(wcode).to_numpy(float))
    return out


def need_sources(need: NeedColumns) -> pd.DataFrame:
    """One row of the sources table per need column: its layer's source, vintage, licence."""
    from cnmap.layers.domain import column_label

    rows = []
    for col in need.values.columns:
        ly = need.layer_of(col)
        converted = [n for n in ly.notes if n.startswith(("Converted from", "Mapped from"))]
        rows.append(
            {
                "id": f"need_column:{col}",
                "title": f"{col}: {column_label(ly, col)} ({ly.title})",
                "publisher": ly.source,
                "vintage": ly.vintage,
                "licence": ly.licence,
                "attribution": ly.attribution,
                "url": "",
                "read_from": " ".join(
                    [
                        f"need layer {ly.name!r} on LSOA {ly.lsoa_vintage} (cnmap.layers; ward "
                        "values: population-weighted means of the LSOAs).",
                        *converted,
                    ]
                ),
                "sha256": "",
            }
        )
    return pd.DataFrame(rows)


def need_map_layers(need: NeedColumns) -> list[Any]:
    """One :class:`cnmap.maps.need.MapLayer` per need column (:func:`cnmap.maps.need.map_layer`),
    its palette the column's direction (:data:`cnmap.layers.NEED_COLUMNS`: darker = more need)."""
    import dataclasses

    from cnmap.layers import NEED_COLUMNS
    from cnmap.maps.need import map_layer

    out = []
    for col in need.values.columns:
        layer = map_layer(need.layer_of(col), col)
        known = NEED_COLUMNS.get(col)
        if known is not None and known.higher_is_need is False:
            layer = dataclasses.replace(layer, higher_is_need=False)
        out.append(layer)
    return out


def tables_thin(thin: Any, cov: Any, need: NeedColumns | None) -> Any:
    """The thin result whose LSOA and ward tables are written: with the need columns added
    (LSOAs: each LSOA's value; wards: :func:`need_ward_table`), else as it is."""
    import dataclasses

    if need is None or thin is None:
        return thin
    return dataclasses.replace(
        thin,
        lsoas=need_lsoa_table(thin.lsoas, need),
        wards=need_ward_table(thin.wards, cov.residents, need),
    )


#: Columns of the group coverage tables (:mod:`cnmap.groups`) counting people (or households).
_GROUP_COUNTS = (
    "residents",
    "covered",
    "not_covered",
    "covered_a",
    "covered_b",
    "gained",
    "lost",
    "net_change",
)
#: Shares of a group (0 to 1), written as percentages.
_GROUP_SHARES = ("share_covered", "share_covered_a", "share_covered_b")
#: Differences of shares, written in percentage points.
_GROUP_POINTS = ("gap_vs_all", "gap_vs_all_a", "gap_vs_all_b", "share_change")


def group_table_for_people(table: pd.DataFrame) -> pd.DataFrame:
    """A group coverage table (:func:`cnmap.groups.group_coverage`,
    :func:`cnmap.groups.compare_group_coverage`) for people: counts in whole people (or
    households: ``unit``), shares as percentages to 0.1 (``share_covered (%)``), gaps and
    changes in percentage points to 0.1 (``gap_vs_all (percentage points)``)."""
    import numpy as np

    from cnmap.export import PERCENT_SUFFIX

    out = table.copy()
    names: dict[str, str] = {}
    for col in [c for c in out.columns if isinstance(c, str)]:
        v = (
            pd.to_numeric(out[col], errors="coerce").to_numpy(float)
            if col in (*_GROUP_COUNTS, *_GROUP_SHARES, *_GROUP_POINTS)
            else None
        )
        if v is None:
            continue
        if col in _GROUP_COUNTS:
            out[col] = pd.array(np.where(np.isfinite(v), np.floor(v + 0.5), np.nan), dtype="Int64")
            continue
        out[col] = np.round(100.0 * v, 1)
        names[col] = col + (PERCENT_SUFFIX if col in _GROUP_SHARES else " (percentage points)")
    return out.rename(columns=names)


@dataclass(frozen=True)
class RunParts:
    """What a run computed, for :func:`write_outputs`."""

    area: Any
    cov: Any
    thin: Any
    profiles: Any
    org_summary: pd.DataFrame
    rejected: pd.DataFrame
    served: WhoIsServed = field(default_factory=lambda: WhoIsServed(None))
    need: NeedColumns | None = None


def file_names(frame: pd.DataFrame) -> pd.DataFrame:
    """``file`` as the file's name, not its folder on this machine."""
    if "file" not in frame.columns:
        return frame
    return frame.assign(
        file=[Path(str(f)).name if isinstance(f, str | Path) else f for f in frame["file"]]
    )


def organisations_read_tables(
    org_summary: pd.DataFrame, rejected: pd.DataFrame
) -> dict[str, pd.DataFrame]:
    """``organisations_read`` (:func:`cnmap.export.people_table`: ``match_rate (%)``) and
    ``rejected_organisations``, with file names instead of paths."""
    from cnmap.export import people_table

    return {
        "organisations_read": people_table(file_names(org_summary)),
        "rejected_organisations": file_names(rejected),
    }


def map_what(labels: Sequence[str]) -> str:
    """What the organisations are, from the lists' labels, for the map's title and headline:
    ``("Warm spaces", "GP practices")`` -> ``"warm spaces and GP practices"``."""
    words = []
    for label in dict.fromkeys(" ".join(str(x).split()) for x in labels):
        if not label:
            continue
        acronym = len(label) > 1 and not label[1].islower()
        words.append(label if acronym else label[0].lower() + label[1:])
    if not words:
        return "organisations"
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def map_organisations(cov: Any, area: Any) -> gpd.GeoDataFrame:
    """The result's organisations with :func:`cnmap.export.postcode_distances` joined
    (``postcode_checked``, ``postcode_distance_m``, ``far_from_postcode``), so that the map
    rings those placed far from their own address postcode; as they are when there is no
    postcode to check or no lookup."""
    from cnmap.errors import DataFetchError
    from cnmap.export import area_postcode_lookup, postcode_distances

    orgs = cov.organisations
    if (
        not len(orgs)
        or not {"postcode", "address"} & set(orgs.columns)
        or getattr(area, "postcodes", None) is None
    ):
        return orgs
    try:
        dist = postcode_distances(orgs, area_postcode_lookup(area))
    except DataFetchError as exc:
        log.info("map: organisations not checked against their postcodes (%s)", exc)
        return orgs
    return orgs.join(dist)


def _write_tables(config: RunConfig, parts: RunParts, catch: Any, stem: str) -> dict[str, Any]:
    """The coverage tables, ``tables/who_is_served.csv`` and the organisations read."""
    from cnmap.export import export_coverage, write_csv, write_tables

    out, area = config.out_dir, parts.area
    tables_dir = out / "tables"
    paths: dict[str, Any] = {}
    paths["tables"] = export_coverage(
        parts.cov,
        tables_dir,
        thin=tables_thin(parts.thin, parts.cov, parts.need),
        profiles=parts.profiles,
        stem=f"cnmap_{stem}",
        catchments=catch,
        sources=need_sources(parts.need) if parts.need is not None else None,
    )
    if parts.served.table is not None:
        paths["who_is_served"] = write_csv(
            group_table_for_people(parts.served.table), tables_dir / "who_is_served.csv"
        )
    paths["organisation_tables"] = write_tables(
        organisations_read_tables(parts.org_summary, parts.rejected),
        out / "organisations",
        formats=("csv", "xlsx"),
        stem=f"cnmap_{stem}_organisations_read",
        title=f"Organisations read for {area.lad_name}: what was placed and what was rejected",
        descriptions={
            "organisations_read": "one row per input file: rows, placed, "
            "rejected, match rate (%), reading notes",
            "rejected_organisations": "every row not placed, with its reason",
        },
    )
    return paths


def _write_map(config: RunConfig, parts: RunParts, catch: Any, stem: str) -> Path:
    """The HTML map: catchments given, organisations checked against their postcodes,
    readable type names (``[output] type_labels``), what the organisations are, and the need
    columns (``[output] need_columns``) as LSOA layers, off when the map opens."""
    from cnmap.maps import coverage_map, save_html

    m = coverage_map(
        parts.cov,
        thin=parts.thin,
        ward_profiles=parts.profiles,
        organisations=map_organisations(parts.cov, parts.area),
        catchments=catch,
        type_labels=config.type_labels or None,
        what=map_what([s.label for s in config.organisations]),
        need_layers=need_map_layers(parts.need) if parts.need is not None else (),
    )
    return save_html(
        m, config.out_dir / f"{stem}_coverage_map.html", self_contained=config.self_contained
    )


def write_outputs(
    config: RunConfig,
    parts: RunParts,
    steps: list[dict[str, Any]],
    report: Callable[[str], None] | None,
) -> dict[str, Any]:
    """The tables, the map, the figures, the summary page, the methods note and ``run.json``
    (:func:`cnmap.provenance.run_record`: versions, input checksums, every parameter; plus
    the coverage ``totals`` and ``who_is_served``). In network mode the catchments are made
    once, for the GeoPackage and the map.

    Both cores are used: the figures are drawn in a second process
    (:class:`cnmap.background.Background`) and the summary PDF is printed by Chromium while the
    tables and the map are written; the files are the same as when done one after another."""
    out = config.out_dir
    cov, thin = parts.cov, parts.thin
    stem = _slug(parts.area.lad_name)
    figures = Background(
        "figures", functools.partial(_write_figures, cov, thin, out / "figures", parts.served)
    )
    page = None
    try:
        catch: Any = False
        if config.mode == "network":
            with _step("catchments", steps, report):
                catch = cov.catchments()
        with _step("summary page", steps, report):
            page = _start_summary(out, parts)
        with _step("tables", steps, report):
            paths = _write_tables(config, parts, catch, stem)
        with _step("map", steps, report):
            paths["map"] = _write_map(config, parts, catch, stem)
    except BaseException:  # nothing left running behind a failed run
        figures.cancel()
        if page is not None:
            page.cancel()
        raise
    with _step("figures", steps, report):
        paths["figures"] = figures.result()
    if figures.forked and figures.seconds is not None:
        steps[-1]["drawn_in_background_s"] = round(figures.seconds, 3)
    with _step("summary PDF", steps, report):
        printed = page.finish()
        paths["summary"] = printed.paths()
        if printed.note:
            log.info("summary page: %s", printed.note)
    with _step("methods note", steps, report):
        paths["methods"] = write_methods(
            out / "methods.md",
            config,
            cov,
            thin,
            parts.org_summary,
            parts.rejected,
            steps,
            served=parts.served,
        )
    paths["run"] = _write_run_json(config, parts, steps, paths)
    return paths


def _start_summary(out: Path, parts: RunParts) -> Any:
    """The summary page written, its PDF printing in the background (:class:`SummaryJob`).

    It does not read the run's figure files: its chart is drawn for the page.
    """
    from cnmap.summary import start_summary

    return start_summary(
        out, parts.cov, parts.thin, org_summary=parts.org_summary, rejected=parts.rejected
    )


def _served_record(served: WhoIsServed) -> dict[str, Any]:
    """``run.json``'s ``who_is_served``: the table's file or why there is none, and the
    need layers' provenance."""
    from cnmap.layers import layer_sources

    layers = layer_sources(list(served.layers)).to_dict(orient="records") if served.layers else []
    return {
        "table": None if served.table is None else "tables/who_is_served.csv",
        "note": served.note,
        "layers": layers,
    }


def _write_run_json(
    config: RunConfig, parts: RunParts, steps: list[dict[str, Any]], paths: dict[str, Any]
) -> Path:
    from cnmap.provenance import run_record

    run_json = config.out_dir / "run.json"
    record = run_record(config, parts.cov, thin=parts.thin, steps=steps, outputs=paths)
    record["totals"] = parts.cov.totals.to_dict(orient="records")
    record["who_is_served"] = _served_record(parts.served)
    run_json.write_text(
        json.dumps(record, indent=2, default=str, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return run_json


def _figure_makers(cov: Any, thin: Any, served: WhoIsServed | None) -> dict[str, Callable[[], Any]]:
    """Figure name -> how to draw it (drawn, saved and closed one at a time)."""
    from cnmap.maps import bivariate_figure, coverage_figure, imd_figure, thin_figure
    from cnmap.maps.figures_equity import decile_figure, groups_figure

    makers: dict[str, Callable[[], Any]] = {
        "coverage_lsoas": lambda: coverage_figure(cov, level="lsoa", thin=thin),
        "coverage_wards": lambda: coverage_figure(cov, level="ward"),
        "imd_deciles": lambda: imd_figure(cov),
        "coverage_by_imd_decile": lambda: decile_figure(cov),
        "thin_areas": lambda: thin_figure(thin, result=cov),
        "deprivation_by_provision": lambda: bivariate_figure(thin, result=cov),
    }
    if served is not None and served.table is not None:
        table, layers = served.table, list(served.layers)
        makers["who_is_served"] = lambda: groups_figure(table, result=cov, layers=layers)
    return makers


def _write_figures(
    cov: Any, thin: Any, fig_dir: Path, served: WhoIsServed | None = None
) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cnmap.maps import save_figure

    fig_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, make in _figure_makers(cov, thin, served).items():
        fig = make()
        try:
            written += save_figure(fig, fig_dir / name)
        finally:
            plt.close(fig)
    return written


_RESIDENT_WORDS = {
    "postcodes": "each LSOA's population shared equally among the postcode centroids inside "
    "it, street length where an LSOA has none",
    "streets": "each LSOA's population spread along its walkable streets by length",
    "centroids": "one point per LSOA at its centroid (crude)",
}


def _population_words(p: Mapping[str, Any], area_params: Mapping[str, Any]) -> str:
    """Where the population comes from, for the methods note."""
    source = area_params.get("population_source")
    if source:
        return str(source)
    return f"IoD{p['iod']} population denominators"


def _limits(p: Mapping[str, Any]) -> str:
    return ", ".join(
        f"{m:g} min ({d:,.0f} m)" for m, d in zip(p["minutes"], p["metres"], strict=True)
    )


def _speed_words(p: Mapping[str, Any]) -> str:
    return f"{p['speed_kmh']:g} km/h" + (f" (persona {p['persona']})" if p.get("persona") else "")


def _walking_lines(p: Mapping[str, Any]) -> list[str]:
    """How walks were measured: straight lines x a factor, or the street network."""
    if p.get("mode") == "crow_flies":
        lines = [
            f"- Organisations: {p['n_organisations']:,} read and placed.",
            f"- Walking (**straight-line mode**): straight-line (crow-flies) distance x "
            f"detour factor {p.get('detour_factor') or 1.0:g} at {_speed_words(p)}; "
            f"limits {_limits(p)}.",
            "- No street network: walks are estimated from straight lines, so rivers, "
            "railways and dead ends are not seen.",
        ]
        cal = p.get("detour_calibration")
        if isinstance(cal, Mapping) and cal.get("method"):
            lines.append(f"- Detour factor {cal['factor']:.3f}: {cal['method']}.")
        elif p.get("detour_source"):
            lines.append(f"- Detour factor: {p['detour_source']}.")
        return lines
    lines = [
        f"- Organisations: {p['n_organisations']:,} read and placed "
        f"({p['n_organisations_placed']:,} within {p['max_snap_m']:g} m of a walkable "
        "street).",
        f"- Walking: network distance at {_speed_words(p)}; limits {_limits(p)}.",
        "- People and organisations join the network at the nearest point of the nearest "
        "street edge; the straight walk to it is added.",
    ]
    if p.get("network_name"):
        lines.append(f"- Walk network: {p['network_name']}.")
    guard = p.get("snap_coverage")
    if isinstance(guard, Mapping):
        lines.append(
            f"- Network coverage check: {guard['share_unplaced']:.1%} of residents "
            f"({guard['population_unplaced']:,.0f} people at {guard['n_unplaced']:,} "
            f"of {guard['n_points']:,} points) are farther than "
            f"{guard['max_snap_m']:g} m from any street of the network and count as "
            f"not covered ({guard['status']}; a warning above "
            f"{guard['warn_above']:.0%}, refused above {guard['refuse_above']:.0%})."
            + (f" {guard['note']}" if guard.get("note") else "")
        )
    return lines


#: area.params keys and how the methods note names them.
_DATA_WORDS = (
    ("lsoa_vintage", "LSOA vintage"),
    ("iod", "IoD edition"),
    ("iod_dataset", "IoD table"),
    ("iod_vintage", "IoD rows"),
    ("population", "population"),
    ("population_source", "population source"),
    ("ward_vintage", "LSOA to ward lookup"),
    ("wards_dataset", "ward boundaries"),
    ("wards_vintage", "ward boundaries vintage"),
    ("lsoa_dataset", "LSOA boundaries"),
    ("lsoa_boundaries_vintage", "LSOA boundaries vintage"),
    ("postcodes", "postcode lookup"),
)


def _data_lines(area_params: Mapping[str, Any]) -> list[str]:
    """The data the area was built from (``area.params``)."""
    if not area_params:
        return []
    lines = ["", "## Data used", ""]
    lines += [
        f"- {words}: {area_params[key]}"
        for key, words in _DATA_WORDS
        if area_params.get(key) not in (None, "")
    ]
    return lines


def _organisation_lines(org_summary: pd.DataFrame, rejected: pd.DataFrame) -> list[str]:
    """``## Organisations read`` (:func:`cnmap.summary.organisation_lines`: file names only),
    with each list's reading notes (how a national list was cut to the district...)."""
    from cnmap.summary import organisation_lines

    lines = organisation_lines(org_summary, rejected)
    notes = [
        (str(r["dataset"]), str(r["notes"]))
        for _, r in org_summary.iterrows()
        if isinstance(r.get("notes"), str) and r.get("notes")
    ]
    if notes:
        lines += ["Reading notes:", ""]
        lines += [f"- {label}: {text}" for label, text in notes]
        lines.append("")
    return lines


def _licence_lines(cov: Any, org_summary: pd.DataFrame, street_network: bool) -> list[str]:
    lines = ["## Data and licences", ""]
    for _, s in cov.sources.iterrows():
        lines.append(
            f"- **{s.get('title', s.get('id'))}** — {s.get('publisher', '')}, "
            f"{s.get('vintage', '')}; {s.get('licence', '')}. {s.get('attribution', '')}"
        )
    datasets = ", ".join(map(str, org_summary["dataset"])) if "dataset" in org_summary else ""
    lines += [
        f"- Organisation lists ({datasets}): each list's own licence and provenance "
        "apply; check them before redistributing the organisation points.",
        *(["- Street network: © OpenStreetMap contributors, ODbL 1.0."] if street_network else []),
        "",
    ]
    return lines


def _served_lines(served: WhoIsServed | None) -> list[str]:
    """``## Who is served``: how the table was made and from which layers, or why not."""
    if served is None:
        return []
    lines = ["## Who is served", ""]
    if served.table is None:
        return [*lines, f"- {str(served.note)[:1].upper()}{str(served.note)[1:]}."]
    lines += [
        "- The share of each group of residents (households for household deprivation) "
        "within each walk: tables/who_is_served.csv, figures/who_is_served.png. Each "
        "LSOA's group counts are shared among its residential points like its residents, "
        "so within an LSOA every group is taken to live where its residents live; the "
        "differences between groups come from where they live, LSOA by LSOA.",
        "- Need layers (each LSOA's counts; layers on 2011 LSOAs are converted through the "
        "ONS lookup):",
    ]
    lines += [f"  - {ly.title}: {ly.source}; {ly.vintage}; {ly.licence}." for ly in served.layers]
    from cnmap.layers import DERI_GUIDANCE

    if any(str(ly.name).startswith("deri") for ly in served.layers):
        lines.append(f"- Digital exclusion risk (DERI): {DERI_GUIDANCE[0]}")
    return lines


def write_methods(
    path: Path,
    config: RunConfig,
    cov: Any,
    thin: Any,
    org_summary: pd.DataFrame,
    rejected: pd.DataFrame,
    steps: list[dict[str, Any]],
    *,
    served: WhoIsServed | None = None,
) -> Path:
    """A short methods note: data vintages, licences, parameters, what was rejected, who is
    served (or why not)."""
    p = cov.params
    area_params = p.get("area") or {}
    crow = p.get("mode") == "crow_flies"
    title = (
        f"# Methods: walking coverage of community organisations, {cov.area.lad_name} "
        f"({cov.area.lad_code})" + (" — straight-line (crow-flies) estimate" if crow else "")
    )
    lines = [
        title,
        "",
        f"Generated by cnmap {__import__('cnmap').__version__} on "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "",
        "## What was measured",
        "",
        f"- Residents: {p['population']:,.0f} people ({_population_words(p, area_params)}), "
        f"placed on {p['n_residential_points']:,} residential points ({p['residents']}: "
        f"{_RESIDENT_WORDS.get(str(p['residents']), 'points given by the user')}).",
        *_walking_lines(p),
        *_data_lines(area_params),
        "",
        "## Results",
        "",
    ]
    for _, r in cov.totals.iterrows():
        lines.append(
            f"- Within {r['minutes']:g} minutes: {r['pop_covered']:,.0f} people "
            f"({r['share_covered']:.1%})."
        )
    tp = getattr(thin, "params", {})
    if tp:
        lines += ["", "## Thin infrastructure rule", ""]
        lines += [f"- {tp[k]}" for k in ("rule", "ward_rule_text", "left_behind") if tp.get(k)]
        n_thin = int(thin.lsoas["thin"].sum()) if "thin" in thin.lsoas.columns else 0
        lines.append(
            f"- {n_thin} LSOAs flagged thin (tables/thin_lsoas.csv, ranked, with reasons)."
        )
    lines += ["", *_served_lines(served)] if served is not None else []
    lines += _organisation_lines(org_summary, rejected)
    lines += _licence_lines(cov, org_summary, not crow or bool(p.get("detour_calibration")))
    from cnmap.summary import methods_limitations, without_machine_paths

    lines += methods_limitations(cov, thin, org_summary=org_summary, rejected=rejected)
    lines += ["## Run time", ""]
    lines += [f"- {s['step']}: {s['seconds']:.1f} s" for s in steps]
    path.write_text(without_machine_paths("\n".join(lines)) + "\n", encoding="utf-8")
    return path
