"""The end-to-end analysis behind ``cnmap run CONFIG``: I/O at the edges around the pure core.

A run reads a TOML (or YAML) configuration, loads the area, reads every organisations file
(writing what was rejected and why), loads the walk network, computes coverage, ward
deprivation profiles and thin-infrastructure areas, and writes the HTML map, the tables (CSV,
XLSX, GeoPackage), the figures (PNG and PDF) and a short methods note.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from cnmap import columns as C
from cnmap.config import (
    DEFAULT_MINUTES,
    OrganisationSource,
    RunFile,
    load_document,
    organisation_sources,
    resolve_path,
)
from cnmap.errors import ValidationError

__all__ = ["RunConfig", "OrganisationSource", "OrganisationsRead", "load_config",
           "check_inputs", "check_organisation_files", "run", "read_all_organisations",
           "read_organisation_files"]

DEFAULT_SPEED_KMH = 4.8  # cnmap.network.DEFAULT_SPEED_KMH, without importing the network engine

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunConfig:
    """A validated run configuration (see ``configs/birmingham.toml`` and
    ``docs/configuration.md``)."""

    lad_code: str
    organisations: tuple[OrganisationSource, ...]
    out_dir: Path
    lsoa_vintage: int = 2011
    iod: int = 2019
    network_path: Path | None = None
    network_dataset: str | None = "osm_walk_network"
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

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return json.loads(json.dumps(d, default=str))


def load_config(source: str | os.PathLike[str] | Mapping[str, Any], *,
                out_dir: str | os.PathLike[str] | None = None) -> RunConfig:
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
    network_path = None if net.path is None else resolve_path(net.path, "[network] path", base,
                                                              where)
    out = Path(out_dir) if out_dir is not None else resolve_path(outp.dir, "[output] dir", base,
                                                                 where)
    return RunConfig(
        lad_code=doc.area.lad_code,
        organisations=organisation_sources(doc.organisations, base=base, where=where),
        out_dir=out, lsoa_vintage=doc.area.lsoa_vintage, iod=doc.area.iod,
        network_path=network_path, network_dataset=None if network_path else net.dataset,
        minutes=cov.minutes, speed_kmh=DEFAULT_SPEED_KMH if cov.speed_kmh is None
        else cov.speed_kmh, persona=cov.persona, residents=cov.residents,
        max_snap_m=cov.max_snap_m, mode=cov.mode, detour_factor=cov.detour_factor,
        thin=doc.thin.options(), self_contained=outp.self_contained, source=path,
        type_col=cov.type_col,
    )


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
            why = _missing_file(src.path, f"[[organisations]] number {i} path", where,
                                f"organisations file ({src.label})")
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
    if config.out_dir.exists() and not config.out_dir.is_dir():
        raise ValidationError(f"{where}: the output folder {config.out_dir} ([output] dir or "
                              "--out) is an existing file; give a folder (it is created if "
                              "needed)")


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


def _fill_type(g: gpd.GeoDataFrame, fill: str | None) -> None:
    """The file's ``type`` fills blank types (in place)."""
    if fill is None:
        return
    if C.ORG_TYPE not in g.columns:
        g[C.ORG_TYPE] = fill
    else:
        g[C.ORG_TYPE] = g[C.ORG_TYPE].astype(object).where(g[C.ORG_TYPE].notna(), fill)


def _read_source(i: int, src: OrganisationSource, area: Any
                 ) -> tuple[gpd.GeoDataFrame, pd.DataFrame, dict[str, Any], tuple[str, ...]]:
    from cnmap.io import read_organisations

    if not src.path.is_file():
        raise ValidationError(f"organisations file {src.path} ({src.label}) does not exist or is "
                              "not a file; check the path in the configuration")
    opts = dict(src.options)
    if src.type_col:
        opts["type_col"] = src.type_col
    table = read_organisations(src.path, area=area, **opts)
    g = table.organisations.copy()
    _fill_type(g, src.type)
    g[C.ORG_ID] = [f"{i}-{v}" for v in g[C.ORG_ID].astype(str)]
    g.insert(0, "dataset", src.label)
    rej = table.rejected.copy()
    rej.insert(0, "dataset", src.label)
    rej.insert(1, "file", str(src.path))
    notes = tuple(str(n) for n in getattr(table, "notes", ()))
    row = {"dataset": src.label, "file": str(src.path), "rows": table.n_input,
           "matched": table.n_matched, "rejected": table.n_rejected,
           "match_rate": table.match_rate, "notes": "; ".join(notes)}
    return g, rej, row, notes


def read_organisation_files(sources: Sequence[OrganisationSource], area: Any
                            ) -> OrganisationsRead:
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


def read_all_organisations(sources: tuple[OrganisationSource, ...], area: Any
                           ) -> tuple[gpd.GeoDataFrame, pd.DataFrame, pd.DataFrame]:
    """Read every organisations file; returns (organisations, rejected, per-file summary).

    The summary's ``notes`` column carries each file's reading notes (see
    :func:`read_organisation_files`, which also returns them one by one).
    """
    r = read_organisation_files(sources, area)
    return r.organisations, r.rejected, r.summary


def _step(name: str, steps: list[dict[str, Any]], report: Callable[[str], None] | None):
    class _Timer:
        def __enter__(self) -> None:
            self.t = time.perf_counter()
            if report:
                report(name)

        def __exit__(self, *exc: object) -> None:
            steps.append({"step": name, "seconds": round(time.perf_counter() - self.t, 3)})

    return _Timer()


def _slug(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", text.lower()).strip("_") or "area"


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
        rows and the reading ``notes`` of each file (label -> remarks).
    """
    import cnmap
    from cnmap.coverage import coverage
    from cnmap.deprivation import ward_profiles
    from cnmap.network import read_walk_network

    check_inputs(config)
    steps: list[dict[str, Any]] = []
    out = config.out_dir
    out.mkdir(parents=True, exist_ok=True)
    with _step("load area", steps, report):
        area = cnmap.load_area(config.lad_code, lsoa_vintage=config.lsoa_vintage, iod=config.iod)
    with _step("read organisations", steps, report):
        read = read_organisation_files(config.organisations, area)
        orgs, rejected, org_summary = read.organisations, read.rejected, read.summary
    net = None
    if config.mode == "network" or config.detour_factor is None:
        with _step("load walk network", steps, report):
            if config.network_path is not None:
                net_path = config.network_path
            else:
                from cnmap.data import fetch

                net_path = fetch(config.network_dataset or "osm_walk_network",
                                 lad_code=config.lad_code)
            net = read_walk_network(net_path)
    with _step("coverage", steps, report):
        cov = coverage(orgs, area, minutes=config.minutes, speed_kmh=None if config.persona
                       else config.speed_kmh, persona=config.persona, network=net,
                       mode=config.mode, residents=config.residents,
                       max_snap_m=config.max_snap_m, detour_factor=config.detour_factor,
                       type_col=config.type_col)
    with _step("ward deprivation profiles", steps, report):
        profiles = ward_profiles(area)
    with _step("thin infrastructure", steps, report):
        from cnmap.thin import thin_areas

        thin = thin_areas(cov, **config.thin)
    paths: dict[str, Any] = {}
    stem = _slug(area.lad_name)
    with _step("tables", steps, report):
        from cnmap.export import export_coverage, write_tables

        tables_dir = out / "tables"
        paths["tables"] = export_coverage(cov, tables_dir, thin=thin, profiles=profiles,
                                          stem=f"cnmap_{stem}")
        paths["organisation_tables"] = write_tables(
            {"organisations_read": org_summary, "rejected_organisations": rejected},
            out / "organisations", formats=("csv", "xlsx"), stem=f"cnmap_{stem}_organisations_read",
            title=f"Organisations read for {area.lad_name}: what was placed and what was rejected",
            descriptions={"organisations_read": "one row per input file: rows, placed, "
                                                "rejected, reading notes",
                          "rejected_organisations": "every row not placed, with its reason"})
    with _step("map", steps, report):
        from cnmap.maps import coverage_map, save_html

        m = coverage_map(cov, thin=thin, ward_profiles=profiles)
        paths["map"] = save_html(m, out / f"{stem}_coverage_map.html",
                                 self_contained=config.self_contained)
    with _step("figures", steps, report):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from cnmap.maps import (
            bivariate_figure,
            coverage_figure,
            imd_figure,
            save_figure,
            thin_figure,
        )

        fig_dir = out / "figures"
        fig_dir.mkdir(parents=True, exist_ok=True)
        figures = {
            "coverage_lsoas": coverage_figure(cov, level="lsoa"),
            "coverage_wards": coverage_figure(cov, level="ward"),
            "imd_deciles": imd_figure(cov),
            "thin_areas": thin_figure(thin, result=cov),
            "deprivation_by_provision": bivariate_figure(thin, result=cov),
        }
        written: list[Path] = []
        for name, fig in figures.items():
            written += save_figure(fig, fig_dir / name)
            plt.close(fig)
        paths["figures"] = written
    with _step("methods note", steps, report):
        paths["methods"] = write_methods(out / "methods.md", config, cov, thin, org_summary,
                                         rejected, steps)
    run_json = out / "run.json"
    run_json.write_text(json.dumps({"config": config.to_dict(), "params": cov.params,
                                    "thin_params": getattr(thin, "params", {}), "steps": steps,
                                    "paths": paths}, indent=2, default=str))
    paths["run"] = run_json
    return {"paths": paths, "steps": steps, "coverage": cov, "thin": thin, "profiles": profiles,
            "summary": org_summary, "rejected": rejected, "notes": read.notes}


_RESIDENT_WORDS = {
    "postcodes": "each LSOA's population shared equally among the postcode centroids inside "
                 "it, street length where an LSOA has none",
    "streets": "each LSOA's population spread along its walkable streets by length",
    "centroids": "one point per LSOA at its centroid (crude)",
}


def write_methods(path: Path, config: RunConfig, cov: Any, thin: Any, org_summary: pd.DataFrame,
                  rejected: pd.DataFrame, steps: list[dict[str, Any]]) -> Path:
    """A short methods note: data vintages, licences, parameters, what was rejected."""
    p = cov.params
    lines = [
        f"# Methods: walking coverage of community organisations, {cov.area.lad_name} "
        f"({cov.area.lad_code})", "",
        f"Generated by cnmap {__import__('cnmap').__version__} on "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.", "",
        "## What was measured", "",
        f"- Residents: {p['population']:,.0f} people (IoD{p['iod']} population denominators), "
        f"placed on {p['n_residential_points']:,} residential points ({p['residents']}: "
        f"{_RESIDENT_WORDS.get(str(p['residents']), 'points given by the user')}).",
    ]
    crow = p.get("mode") == "crow_flies"
    if crow:
        lines.append(f"- Organisations: {p['n_organisations']:,} read and placed.")
        lines.append(
            f"- Walking: straight-line (crow-flies) distance x detour factor "
            f"{p.get('detour_factor') or 1.0:g} at {p['speed_kmh']:g} km/h"
            + (f" (persona {p['persona']})" if p.get("persona") else "") + "; limits "
            + ", ".join(f"{m:g} min ({d:,.0f} m)" for m, d in zip(p["minutes"], p["metres"],
                                                                    strict=True)) + ".")
        lines.append("- No street network: walks are estimated from straight lines, so rivers, "
                     "railways and dead ends are not seen.")
    else:
        lines.append(f"- Organisations: {p['n_organisations']:,} read and placed "
                     f"({p['n_organisations_placed']:,} within {p['max_snap_m']:g} m of a "
                     "walkable street).")
        lines.append(
            f"- Walking: network distance at {p['speed_kmh']:g} km/h"
            + (f" (persona {p['persona']})" if p.get("persona") else "") + "; limits "
            + ", ".join(f"{m:g} min ({d:,.0f} m)" for m, d in zip(p["minutes"], p["metres"],
                                                                    strict=True)) + ".")
        lines.append("- People and organisations join the network at the nearest point of the "
                     "nearest street edge; the straight walk to it is added.")
    lines += ["", "## Results", ""]
    for _, r in cov.totals.iterrows():
        lines.append(f"- Within {r['minutes']:g} minutes: {r['pop_covered']:,.0f} people "
                     f"({r['share_covered']:.1%}).")
    tp = getattr(thin, "params", {})
    if tp:
        lines += ["", "## Thin infrastructure rule", ""]
        lines += [f"- {tp[k]}" for k in ("rule", "ward_rule_text", "left_behind") if tp.get(k)]
        n_thin = int(thin.lsoas["thin"].sum()) if "thin" in thin.lsoas.columns else 0
        lines.append(f"- {n_thin} LSOAs flagged thin (tables/thin_lsoas.csv, ranked, with reasons).")
    lines += ["", "## Organisations read", "", org_summary.to_markdown(index=False)
              if hasattr(org_summary, "to_markdown") and _has_tabulate() else
              org_summary.to_string(index=False), ""]
    if len(rejected):
        counts = rejected.groupby(["dataset", "reason"]).size().rename("rows").reset_index()
        lines += ["Rejected rows by reason (details in tables/rejected_organisations.csv):", "",
                  counts.to_string(index=False), ""]
    lines += ["## Data and licences", ""]
    for _, s in cov.sources.iterrows():
        lines.append(f"- **{s.get('title', s.get('id'))}** — {s.get('publisher', '')}, "
                     f"{s.get('vintage', '')}; {s.get('licence', '')}. {s.get('attribution', '')}")
    lines += ["- Organisation lists (" + ", ".join(map(str, org_summary["dataset"])) + "): each "
              "list's own licence and provenance apply; check them before redistributing the "
              "organisation points.",
              *(["- Street network: © OpenStreetMap contributors, ODbL 1.0."]
                if not crow or p.get("detour_calibration") else []), "",
              "## Run time", ""]
    lines += [f"- {s['step']}: {s['seconds']:.1f} s" for s in steps]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True

