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
import string
import time
import tomllib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from cnmap import columns as C
from cnmap.errors import ValidationError

__all__ = ["RunConfig", "OrganisationSource", "load_config", "run", "read_all_organisations"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OrganisationSource:
    """One organisations file of a run."""

    path: Path
    label: str
    type: str | None = None  # fills the type where the file has none
    type_col: str | None = None
    options: dict[str, Any] = field(default_factory=dict)  # extra read_organisations arguments


@dataclass(frozen=True)
class RunConfig:
    """A validated run configuration (see ``configs/birmingham.toml``)."""

    lad_code: str
    organisations: tuple[OrganisationSource, ...]
    out_dir: Path
    lsoa_vintage: int = 2011
    iod: int = 2019
    network_path: Path | None = None
    network_dataset: str | None = "osm_walk_network"
    minutes: tuple[float, ...] = (5, 10, 15, 20)
    speed_kmh: float = 4.8
    persona: str | None = None
    residents: str = "postcodes"
    max_snap_m: float = 500.0
    mode: str = "network"
    detour_factor: float | None = None
    thin: dict[str, Any] = field(default_factory=dict)
    self_contained: bool = False
    source: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return json.loads(json.dumps(d, default=str))


_KNOWN = {
    "area": {"lad_code", "lsoa_vintage", "iod"},
    "network": {"path", "dataset"},
    "coverage": {"minutes", "speed_kmh", "persona", "residents", "max_snap_m", "mode",
                 "detour_factor"},
    "output": {"dir", "self_contained"},
}


def _keywords(module: str, func: str) -> set[str]:
    """Keyword-only parameter names of ``module.func`` (what a config section may set)."""
    import importlib
    import inspect

    sig = inspect.signature(getattr(importlib.import_module(module), func))
    return {n for n, p in sig.parameters.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}


def _expand(value: str, where: str, config_path: Path | None) -> str:
    try:
        return string.Template(value).substitute(os.environ)
    except KeyError as exc:
        raise ValidationError(
            f"{config_path or 'config'}: {where} uses ${{{exc.args[0]}}} but that environment "
            f"variable is not set; set it (e.g. export {exc.args[0]}=...) or write the path out"
        ) from None


def _path(value: Any, where: str, base: Path, config_path: Path | None) -> Path:
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{config_path or 'config'}: {where} must be a path string")
    p = Path(_expand(value, where, config_path)).expanduser()
    return p if p.is_absolute() else (base / p).resolve()


def load_config(source: str | os.PathLike[str] | dict[str, Any], *,
                out_dir: str | os.PathLike[str] | None = None) -> RunConfig:
    """Read and validate a run configuration (TOML or YAML file, or a dict).

    Unknown keys are errors (a typo must not silently change a result).
    """
    config_path: Path | None = None
    if isinstance(source, dict):
        raw, base = source, Path.cwd()
    else:
        config_path = Path(source)
        if not config_path.is_file():
            raise ValidationError(f"config file {config_path} does not exist")
        text = config_path.read_text(encoding="utf-8")
        try:
            if config_path.suffix.lower() in {".yaml", ".yml"}:
                import yaml

                raw = yaml.safe_load(text) or {}
            else:
                raw = tomllib.loads(text)
        except Exception as exc:  # noqa: BLE001 - report any parser's error the same way
            raise ValidationError(f"{config_path}: cannot parse the configuration: {exc}") from exc
        base = config_path.resolve().parent
    where = str(config_path or "config")
    unknown = set(raw) - {*_KNOWN, "organisations", "thin"}
    if unknown:
        raise ValidationError(f"{where}: unknown section(s) {sorted(unknown)}; expected "
                              f"{sorted({*_KNOWN, 'organisations', 'thin'})}")
    for sec, keys in _KNOWN.items():
        extra = set(raw.get(sec, {})) - keys
        if extra:
            raise ValidationError(f"{where}: unknown key(s) {sorted(extra)} in [{sec}]; "
                                  f"expected some of {sorted(keys)}")
    thin_extra = set(raw.get("thin", {})) - _keywords("cnmap.thin", "thin_areas")
    if thin_extra:
        raise ValidationError(f"{where}: unknown key(s) {sorted(thin_extra)} in [thin]; "
                              f"expected some of {sorted(_keywords('cnmap.thin', 'thin_areas'))} "
                              "(the options of cnmap.thin_areas)")
    area = raw.get("area", {})
    if "lad_code" not in area:
        raise ValidationError(f"{where}: [area] needs lad_code, e.g. lad_code = \"E08000025\"")
    orgs_raw = raw.get("organisations")
    if not orgs_raw or not isinstance(orgs_raw, list):
        raise ValidationError(f"{where}: give at least one [[organisations]] table with a path")
    orgs = []
    for i, o in enumerate(orgs_raw, start=1):
        if "path" not in o:
            raise ValidationError(f"{where}: [[organisations]] number {i} has no path")
        opts = {k: v for k, v in o.items() if k not in {"path", "label", "type", "type_col"}}
        read_keys = _keywords("cnmap.io", "read_organisations") - {"area", "type_col"}
        if set(opts) - read_keys:
            raise ValidationError(
                f"{where}: unknown key(s) {sorted(set(opts) - read_keys)} in [[organisations]] "
                f"number {i}; expected path, label, type, type_col or options of "
                f"cnmap.read_organisations: {sorted(read_keys)}")
        p = _path(o["path"], f"organisations #{i} path", base, config_path)
        orgs.append(OrganisationSource(path=p, label=str(o.get("label", p.stem)),
                                       type=o.get("type"), type_col=o.get("type_col"),
                                       options=opts))
    net = raw.get("network", {})
    cov = raw.get("coverage", {})
    outp = raw.get("output", {})
    minutes = cov.get("minutes", [5, 10, 15, 20])
    minutes = tuple(minutes) if isinstance(minutes, list) else (minutes,)
    out = Path(out_dir) if out_dir is not None else _path(outp.get("dir", "output"), "output dir",
                                                          base, config_path)
    return RunConfig(
        lad_code=str(area["lad_code"]).strip(), organisations=tuple(orgs), out_dir=out,
        lsoa_vintage=int(area.get("lsoa_vintage", 2011)), iod=int(area.get("iod", 2019)),
        network_path=_path(net["path"], "network path", base, config_path) if "path" in net else None,
        network_dataset=None if "path" in net else str(net.get("dataset", "osm_walk_network")),
        minutes=minutes, speed_kmh=float(cov.get("speed_kmh", 4.8)), persona=cov.get("persona"),
        residents=str(cov.get("residents", "postcodes")),
        max_snap_m=float(cov.get("max_snap_m", 500)), mode=str(cov.get("mode", "network")),
        detour_factor=cov.get("detour_factor"), thin=dict(raw.get("thin", {})),
        self_contained=bool(outp.get("self_contained", False)), source=config_path,
    )


def read_all_organisations(sources: tuple[OrganisationSource, ...], area: Any
                           ) -> tuple[gpd.GeoDataFrame, pd.DataFrame, pd.DataFrame]:
    """Read every organisations file; returns (organisations, rejected, per-file summary).

    Organisation ids are prefixed by the file's position so that they stay unique, and each row
    keeps its file label in ``dataset``.
    """
    from cnmap.io import read_organisations

    kept, rejected, summary = [], [], []
    for i, src in enumerate(sources, start=1):
        if not src.path.is_file():
            raise ValidationError(f"organisations file {src.path} ({src.label}) does not exist; "
                                  "check the path in the configuration")
        opts = dict(src.options)
        if src.type_col:
            opts["type_col"] = src.type_col
        table = read_organisations(src.path, area=area, **opts)
        g = table.organisations.copy()
        if src.type is not None:
            if C.ORG_TYPE not in g.columns:
                g[C.ORG_TYPE] = src.type
            else:
                g[C.ORG_TYPE] = g[C.ORG_TYPE].astype(object).where(g[C.ORG_TYPE].notna(), src.type)
        g[C.ORG_ID] = [f"{i}-{v}" for v in g[C.ORG_ID].astype(str)]
        g.insert(0, "dataset", src.label)
        kept.append(g)
        rej = table.rejected.copy()
        rej.insert(0, "dataset", src.label)
        rej.insert(1, "file", str(src.path))
        rejected.append(rej)
        summary.append({"dataset": src.label, "file": str(src.path), "rows": table.n_input,
                        "matched": table.n_matched, "rejected": table.n_rejected,
                        "match_rate": table.match_rate})
    orgs = gpd.GeoDataFrame(pd.concat(kept, ignore_index=True), geometry="geometry", crs=C.BNG)
    rej_all = pd.concat(rejected, ignore_index=True) if rejected else pd.DataFrame()
    return orgs, rej_all, pd.DataFrame(summary)


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
        ``thin``, ``profiles`` and the per-file organisations ``summary``.
    """
    import cnmap
    from cnmap.coverage import coverage
    from cnmap.deprivation import ward_profiles
    from cnmap.network import read_walk_network

    steps: list[dict[str, Any]] = []
    out = config.out_dir
    out.mkdir(parents=True, exist_ok=True)
    with _step("load area", steps, report):
        area = cnmap.load_area(config.lad_code, lsoa_vintage=config.lsoa_vintage, iod=config.iod)
    with _step("read organisations", steps, report):
        orgs, rejected, org_summary = read_all_organisations(config.organisations, area)
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
                       max_snap_m=config.max_snap_m, detour_factor=config.detour_factor)
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
            descriptions={"organisations_read": "one row per input file: rows, placed, rejected",
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
            "summary": org_summary, "rejected": rejected}


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

