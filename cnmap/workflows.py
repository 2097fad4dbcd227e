"""Workflows that read inputs and write outputs around the pure analyses (the pipeline layer).

- :func:`compare_files` — the ``cnmap compare A.toml B.toml --out DIR`` command's work: two
  scenario files or run configurations in (a run configuration is a scenario named after its
  file), the area and walk network loaded, each scenario's organisations read once, both
  coverages computed, :func:`cnmap.scenarios.compare` and
  :func:`cnmap.groups.compare_group_coverage` (who gains and who loses, per group of
  residents), the comparison tables, the organisations read and rejected, and the summary
  written.

The analyses themselves (:mod:`cnmap.scenarios`, :mod:`cnmap.coverage`...) never touch files;
this module may import them, :mod:`cnmap.pipeline` and :mod:`cnmap.export`, never the reverse.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from cnmap.config import ScenarioFile, read_config_file, validate
from cnmap.errors import ValidationError
from cnmap.scenarios import Comparison, Scenario, compare

if TYPE_CHECKING:  # pragma: no cover
    from cnmap.area import Area
    from cnmap.coverage import CoverageResult
    from cnmap.network import WalkNetwork
    from cnmap.pipeline import RunConfig

__all__ = ["compare_files", "read_scenario", "ComparisonFiles", "CONCENTRATION_INDEX_MEANING"]

log = logging.getLogger(__name__)

#: What the concentration index means, in one sentence (printed by ``cnmap compare``).
CONCENTRATION_INDEX_MEANING = (
    "The concentration index (Erreygers, from -1 to 1) says whether the residents within reach "
    "are spread evenly across deprivation: below 0 they are concentrated among the more "
    "deprived, above 0 among the less deprived, and 0 means no link with deprivation."
)

#: What each comparison table holds (the README sheet of ``comparison.xlsx``).
COMPARISON_TABLES = {
    "totals": "Whole area, one row per time limit: people covered in A and B, gained, "
    "lost, net change, shares, mean walking time and its change",
    "equity": "Concentration indices of coverage over the IMD rank for A and B "
    "(standard, Wagstaff, Erreygers; negative = concentrated among the more "
    "deprived) and coverage of the most and least deprived deciles",
    "deciles": "By IMD decile (1 = most deprived 10% in England): gained, lost, net "
    "change, shares in A and B",
    "wards": "By ward: gained, lost, net change, shares in A and B, walking time change",
    "lsoas": "By LSOA: gained, lost, net change, shares in A and B, walking time change",
    "groups": "Who gains and who loses, by group of residents (ethnic group, disability, "
    "household deprivation, age, digital exclusion risk): residents (or households), covered "
    "in A and B, gained, lost, net change, shares (%) and gaps to all residents (percentage "
    "points)",
}


# ---------------------------------------------------------------------------------------------
# reading the two files


@dataclass(frozen=True)
class _Side:
    """One file of a comparison: its scenario, the area's data options and, for a run
    configuration, the configuration (its network settings)."""

    scenario: Scenario
    area: Mapping[str, Any]
    config: RunConfig | None = None


def _is_run_config(raw: Any) -> bool:
    """A run configuration has no ``name`` (a scenario file must have one) or has a run's own
    sections ``[thin]`` or ``[output]``."""
    return isinstance(raw, Mapping) and ("name" not in raw or bool({"thin", "output"} & set(raw)))


def _scenario_of_run(config: RunConfig, path: Path) -> Scenario:
    """A run configuration as a scenario named after its file."""
    try:
        return Scenario(
            name=path.stem,
            description=f"run configuration {path.name}",
            organisations=config.organisations,
            minutes=config.minutes,
            speed_kmh=None if config.persona else config.speed_kmh,
            persona=config.persona,
            mode=config.mode,
            residents=config.residents,
            max_snap_m=config.max_snap_m,
            detour_factor=config.detour_factor,
            type_col=config.type_col,
            lad_code=config.lad_code,
            lsoa_vintage=config.lsoa_vintage,
            iod=config.iod,
            network_path=config.network_path,
            source=path,
        )
    except ValidationError as exc:
        raise ValidationError(f"{path}: {exc}") from None


def _read_side(path: str | os.PathLike[str]) -> _Side:
    """A scenario file, or a run configuration as a scenario, with its area's data options
    (``lsoa_vintage``, ``iod``, ``population``, ``postcodes``)."""
    p = Path(path)
    raw, syntax = read_config_file(p, what="scenario or run configuration")
    if _is_run_config(raw):
        from cnmap.pipeline import load_config

        config = load_config(p)
        area = {
            "lsoa_vintage": config.lsoa_vintage,
            "iod": config.iod,
            "population": config.population,
            "postcodes": config.postcodes,
        }
        return _Side(_scenario_of_run(config, p), area, config)
    doc = validate(raw, ScenarioFile, where=str(p), yaml=syntax == "YAML")
    return _Side(
        Scenario.from_dict(raw, base=p.resolve().parent, source=p), doc.area.load_options()
    )


def read_scenario(path: str | os.PathLike[str]) -> Scenario:
    """A scenario file, or a run configuration as a scenario named after its file (the
    format ``cnmap run`` reads: a run configuration is a scenario).

    Raises
    ------
    ValidationError
        One line naming the file, the key and the fix.
    """
    return _read_side(path).scenario


def _common_lad(a: _Side, b: _Side, a_path: Any, b_path: Any) -> str:
    """The one area both files name, after checking they agree on the data."""
    lads = {s.scenario.lad_code for s in (a, b) if s.scenario.lad_code}
    if not lads:
        raise ValidationError(
            f"neither {a_path} nor {b_path} says which area: add [area] "
            'lad_code = "E08000025" (for example) to the scenario files'
        )
    if len(lads) > 1:
        raise ValidationError(
            f"the scenario files are for different areas {sorted(lads)}; "
            "compare scenarios of one area"
        )
    if dict(a.area) != dict(b.area):
        words = [", ".join(f"{k} {v}" for k, v in s.area.items()) for s in (a, b)]
        raise ValidationError(
            f"the scenario files use different data ({words[0]} vs {words[1]}); give both "
            "the same [area] lsoa_vintage, iod, population and postcodes"
        )
    return lads.pop()


def _network_spec(side: _Side) -> tuple[str, ...] | None:
    """The walk network a file names (None: the catalogue's ``osm_walk_network``)."""
    cfg, sc = side.config, side.scenario
    if sc.network_path is not None:
        return ("path", str(sc.network_path))
    if cfg is not None and cfg.network_build:
        return ("build", cfg.network_build, cfg.network_source, f"{cfg.network_buffer_m:g}")
    if cfg is not None and cfg.network_dataset not in (None, "osm_walk_network"):
        return ("dataset", str(cfg.network_dataset))
    return None


def _network_side(a: _Side, b: _Side) -> _Side | None:
    """The side whose network is used (None: the catalogue's); both must agree."""
    specs = [(s, _network_spec(s)) for s in (a, b)]
    named = [(s, spec) for s, spec in specs if spec is not None]
    if len(named) == 2 and named[0][1] != named[1][1]:
        raise ValidationError(
            f"the scenario files use different networks ({' '.join(named[0][1])} vs "
            f"{' '.join(named[1][1])}); compare on one network"
        )
    return named[0][0] if named else None


def _load_network(side: _Side | None, lad_code: str, area: Area) -> WalkNetwork:
    """The walk network of ``side`` (a file, a network built for the district or a catalogue
    dataset), else the catalogue's for the area."""
    from cnmap.network import read_walk_network

    if side is not None and side.config is not None:
        from cnmap.pipeline import load_network

        return load_network(side.config, area)  # type: ignore[no-any-return]
    if side is not None and side.scenario.network_path is not None:
        return read_walk_network(side.scenario.network_path)
    from cnmap.data import fetch

    return read_walk_network(fetch("osm_walk_network", lad_code=lad_code))


# ---------------------------------------------------------------------------------------------
# running


@dataclass(frozen=True)
class _Run:
    """A scenario run: its coverage, and its organisations files as read."""

    result: CoverageResult
    read: Any  # cnmap.pipeline.OrganisationsRead


def _run_side(sc: Scenario, area: Area, net: WalkNetwork | None) -> _Run:
    """Read the scenario's files once (as ``cnmap run`` does: rows, placed, rejected per
    file) and compute its coverage on them."""
    from cnmap.pipeline import read_organisation_files

    sources = (
        sc.organisations if isinstance(sc.organisations, tuple | list) else (sc.organisations,)
    )
    read = read_organisation_files(tuple(sources), area)
    return _Run(sc.replace(organisations=read.organisations).run(area, net), read)


def _group_change(
    a: CoverageResult, b: CoverageResult, area: Area
) -> tuple[pd.DataFrame | None, str | None]:
    """Who gains and who loses per group (:func:`cnmap.groups.compare_group_coverage` over
    :func:`cnmap.layers.report_layers`), or None and why."""
    from cnmap.errors import DataFetchError
    from cnmap.groups import compare_group_coverage
    from cnmap.layers import MissingLSOAError, report_layers

    try:
        layers = report_layers(area)
    except (MissingLSOAError, DataFetchError) as exc:
        why = " ".join(str(exc).split())
        return None, (
            f"who gains and who loses by group: not computed for {area.lad_name}: "
            f"the need layers do not cover it ({why})"
        )
    return compare_group_coverage(a, b, layers), None


# ---------------------------------------------------------------------------------------------
# writing


@dataclass(frozen=True)
class ComparisonFiles:
    """What :func:`compare_files` computed and wrote.

    Attributes
    ----------
    comparison
        The :class:`cnmap.scenarios.Comparison` (B against A).
    groups
        Who gains and who loses by group of residents
        (:func:`cnmap.groups.compare_group_coverage`), None when the need layers do not cover
        the area.
    groups_note
        Why ``groups`` is None (None when it is not).
    organisations
        One row per scenario and organisations file: ``scenario``, ``dataset``, ``file``
        (its name), ``rows`` read, ``matched`` (placed), ``rejected``, ``match_rate``.
    files
        Every file written.
    """

    comparison: Comparison
    groups: pd.DataFrame | None
    groups_note: str | None
    organisations: pd.DataFrame
    files: tuple[Path, ...]

    def summary(self) -> str:
        """:meth:`cnmap.scenarios.Comparison.summary`."""
        return self.comparison.summary()


def _read_tables(runs: Sequence[tuple[str, _Run]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The organisations read and rejected of both scenarios, ``scenario`` first, with file
    names (not the folders of this machine)."""
    from cnmap.pipeline import file_names

    summaries, rejected = [], []
    for name, run in runs:
        summaries.append(file_names(run.read.summary).assign(scenario=name))
        if len(run.read.rejected):
            rejected.append(file_names(run.read.rejected).assign(scenario=name))
    summary = pd.concat(summaries, ignore_index=True)
    rej = pd.concat(rejected, ignore_index=True) if rejected else pd.DataFrame()
    first = ["scenario"]
    return (
        summary[first + [c for c in summary.columns if c != "scenario"]],
        rej[first + [c for c in rej.columns if c != "scenario"]] if len(rej) else rej,
    )


def _write_read(summary: pd.DataFrame, rejected: pd.DataFrame, out: Path) -> list[Path]:
    """``organisations_read.csv`` and ``rejected_organisations.csv`` (guarded CSV)."""
    from cnmap.export import people_table, write_csv

    why = pd.DataFrame({"scenario": ["(no rows) every row of every organisations file was placed"]})
    return [
        write_csv(people_table(summary), out / "organisations_read.csv"),
        write_csv(rejected if len(rejected) else why, out / "rejected_organisations.csv"),
    ]


def _write_comparison(  # noqa: PLR0913 (private: the parts of one comparison, called once)
    cmp: Comparison,
    a: Scenario,
    b: Scenario,
    lad: str,
    area: Area,
    out: Path,
    formats: Sequence[str],
    groups: pd.DataFrame | None,
    note: str | None,
) -> list[Path]:
    """The comparison tables (:func:`cnmap.export.write_tables`) and the summary text."""
    from cnmap.export import write_tables
    from cnmap.pipeline import group_table_for_people

    out.mkdir(parents=True, exist_ok=True)
    params = {
        "scenario_a": a.to_dict(),
        "scenario_b": b.to_dict(),
        "minutes": list(cmp.thresholds),
        "rank_by": cmp.params["rank_by"],
        "lad_code": lad,
    }
    tables = cmp.tables()
    if groups is not None:
        tables["groups"] = group_table_for_people(groups)
    written = write_tables(
        tables,
        out,
        formats=tuple(formats),
        params=params,
        sources=area.sources,
        stem="comparison",
        descriptions=COMPARISON_TABLES,
        title=f"cnmap comparison: {cmp.name_b} against {cmp.name_a}",
        notes=[
            "Gains and losses are counted per residential point and then summed, so an "
            "LSOA can both gain and lose people.",
            CONCENTRATION_INDEX_MEANING,
            *([note] if note else []),
        ],
    )
    log.info("compare_files: wrote %s", written)
    text = out / "comparison_summary.txt"
    text.write_text(
        "\n".join([cmp.summary(), CONCENTRATION_INDEX_MEANING, *([note] if note else [])]) + "\n",
        encoding="utf-8",
    )
    return [p for files in written.values() for p in files] + [text]


def compare_files(
    a_path: str | os.PathLike[str],
    b_path: str | os.PathLike[str],
    *,
    out_dir: str | os.PathLike[str],
    formats: Sequence[str] = ("csv", "xlsx", "gpkg"),
) -> ComparisonFiles:
    """Compare two scenario files or run configurations and write the comparison
    (``cnmap compare``).

    The area comes from the files' ``[area]`` (``lad_code``, the LSOA vintage, the IoD
    edition, ``population`` and ``postcodes`` must agree), the walk network from ``[network]``
    (a file, a catalogue dataset or, in a run configuration, ``build = "district"``) or the
    data catalogue (``osm_walk_network``). Each file's organisations are read once, as ``cnmap
    run`` reads them. Written with :func:`cnmap.export.write_tables`: the tables ``totals``,
    ``equity``, ``deciles``, ``wards``, ``lsoas`` and, where the need layers cover the area
    (Birmingham, Solihull), ``groups`` (who gains and who loses by group of residents) as CSV
    files, ``comparison.xlsx`` with a README sheet and ``comparison.gpkg``;
    ``organisations_read.csv`` and ``rejected_organisations.csv`` (both scenarios, one row per
    file and per rejected row); ``comparison_summary.txt`` (:meth:`Comparison.summary` and
    what the concentration index means).

    Parameters
    ----------
    a_path, b_path
        Scenario files (TOML or YAML, :meth:`cnmap.scenarios.Scenario.from_file`) or run
        configurations (:func:`cnmap.pipeline.load_config`, named after the file): A the
        baseline, B the alternative.
    out_dir
        Folder for the outputs (made if needed).
    formats
        Any of ``"csv"``, ``"xlsx"``, ``"gpkg"``.

    Returns
    -------
    ComparisonFiles
        The comparison, the group table, the organisations read and every file written.
    """
    from cnmap.data import load_area

    a, b = _read_side(a_path), _read_side(b_path)
    lad = _common_lad(a, b, a_path, b_path)
    net_side = _network_side(a, b)  # the files agree on the network, before any data is read
    area = load_area(lad, **a.area)
    needs_net = any(
        s.scenario.mode == "network" or s.scenario.detour_factor is None for s in (a, b)
    )
    net = _load_network(net_side, lad, area) if needs_net else None
    run_a, run_b = _run_side(a.scenario, area, net), _run_side(b.scenario, area, net)
    cmp = compare(run_a.result, run_b.result)
    groups, note = _group_change(run_a.result, run_b.result, area)
    out = Path(out_dir)
    files = _write_comparison(cmp, a.scenario, b.scenario, lad, area, out, formats, groups, note)
    summary, rejected = _read_tables([(cmp.name_a, run_a), (cmp.name_b, run_b)])
    files += _write_read(summary, rejected, out)
    return ComparisonFiles(cmp, groups, note, summary, tuple(files))
