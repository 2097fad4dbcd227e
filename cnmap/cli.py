"""The ``cnmap`` command: arguments in, the library's functions, files out.

The commands::

    cnmap run CONFIG [--out DIR]       the whole analysis: map, tables, who is served,
                                       figures, summary, methods note, run.json
    cnmap run NATIONAL [--districts CODES] [--workers N] [--scheduler ADDRESS] [--fresh]
                                       a configuration with a [national] table: every
                                       English district on Dask, national tables and maps
    cnmap fetch CODE-or-NAME           every dataset a district's run needs, into the cache
    cnmap mirror [--lad CODE-or-NAME]  the offline mirror's layout (which file serves what)
    cnmap sources                      the data catalogue: publishers, URLs, licences
    cnmap compare A B --out DIR        compare two scenario files or run configurations
                                       (who gains, who loses coverage, by group too)
    cnmap --version, cnmap --help      the version; every option, examples, exit codes

Progress bars are drawn on a terminal only (``-q`` turns them off); a failed step leaves the
bar where it stopped.

Exit status and errors
----------------------
- **0**: done. ``cnmap run`` prints the coverage, the data used (IoD edition, LSOA vintage,
  population, postcodes), the walk network check (the share of residents the network could
  not place; a warning on stderr above 1 %) or, in straight-line mode, the detour factor and
  how it was obtained, and for each organisations file the rows read, placed and rejected,
  the reader's notes and where the rejected rows are listed, where the "who is served" table
  is (or why it was not made), and every file written, one path a line. On a national
  configuration (a ``[national]`` table, :mod:`cnmap.national`) it prints the share of the
  residents within each time limit (England's when every district finished), the districts
  done (computed, resumed) and failed with their errors (a failed district does not stop the
  others: a warning on stderr, exit 0), the population in and out, where the tables are and
  every file written, one path a line. ``cnmap compare``
  prints the comparison, what the concentration index means, the rows read, placed and
  rejected of every file and every file written. ``cnmap fetch`` lists what it fetched.
- **2**: bad input. The configuration or scenario files are checked against one schema
  (:mod:`cnmap.config`) and the files they name are checked to exist before any work starts.
  Every :class:`cnmap.errors.CnmapError` (other than a fetch error), and the operating
  system's input errors (a missing or unreadable file, a folder where a file belongs, a file
  where a folder belongs, undecodable text, TOML or YAML syntax), ends the command with
  exactly one line on stderr, ``cnmap: error: ...``, naming the file, the key and the fix.
  Never a traceback. Also bad input: a district ``cnmap fetch`` does not know (a Welsh,
  Scottish or Northern Irish code, an unknown code or name: with close matches); a walk
  network that leaves more than 10 % of the residents unplaced (the line names the remedy);
  and a cache folder that cannot be used (:class:`cnmap.errors.CacheFolderError`: a file, a
  read-only folder...), which the user fixes by choosing another with ``CNMAP_CACHE_DIR``.
- **3**: data that cannot be fetched (:class:`cnmap.errors.DataFetchError`). ``cnmap fetch``
  first lists **every** dataset that is missing, each with its publisher URL and the mirror
  path that would serve it, then ends with one ``cnmap: error:`` line.
- **1**: an internal error, i.e. a bug in cnmap (an ``AssertionError``, a ``KeyError``...).
  These are not dressed up as bad input: the line says it is a bug, and ``-v`` shows the full
  traceback to report. Interrupting with Ctrl-C exits with 130.
"""

from __future__ import annotations

import argparse
import difflib
import logging
import os
import re
import sys
import textwrap
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

import yaml

from cnmap.errors import (
    CacheFolderError,
    CnmapError,
    DataFetchError,
    UnknownAreaError,
    ValidationError,
)

__all__ = ["main", "build_parser"]

log = logging.getLogger("cnmap")

#: Errors of the operating system and parsers that mean bad input, not a bug.
INPUT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError...
    UnicodeError,
    tomllib.TOMLDecodeError,
    yaml.YAMLError,
)


class Progress:
    """A progress bar of a run's steps on ``file`` (the CLI's stderr, on a terminal only).

    :meth:`report` is :func:`cnmap.pipeline.run`'s ``report``: each call starts a step and
    counts the one before as done. :meth:`close` with ``done=True`` fills the bar; after a
    failure the bar is closed where it stopped, so a failed step is never shown as 100%.
    """

    def __init__(self, steps: Sequence[str], file: TextIO) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=len(steps), desc="cnmap", unit="step", file=file)
        self.started = False

    def report(self, name: str) -> None:
        if self.started:
            self.bar.update(1)
        self.started = True
        self.bar.set_description(name)

    def close(self, *, done: bool) -> None:
        if done:
            self.bar.update(self.bar.total - self.bar.n)
        self.bar.close()


def _progress(args: argparse.Namespace, steps: Sequence[str]) -> Progress | None:
    """A progress bar unless ``-q`` or stderr is not a terminal (a log file, a pipe, CI)."""
    if args.quiet or not sys.stderr.isatty():
        return None
    return Progress(steps, sys.stderr)


def _check_out(out: Path | None) -> None:
    """``--out`` must be a folder (or not exist yet), not a file."""
    if out is not None and out.exists() and not out.is_dir():
        raise ValidationError(
            f"--out {out} is an existing file; give a folder for the outputs "
            "(it is created if needed)"
        )


def _files(value: Any) -> list[Path]:
    """Every path in the nested dicts and lists of a run's ``paths``."""
    if isinstance(value, Mapping):
        return [p for v in value.values() for p in _files(v)]
    if isinstance(value, list | tuple):
        return [p for v in value for p in _files(v)]
    return [Path(value)] if isinstance(value, str | Path) else []


def _rejected_report(paths: Mapping[str, Any]) -> Path | None:
    """Where the rejected organisations are listed (the CSV written by the run)."""
    found = [p for p in _files(paths) if p.name.endswith("rejected_organisations.csv")]
    return found[0] if found else None


def _organisation_lines(result: Mapping[str, Any]) -> list[str]:
    """Per organisations file: rows read, placed, rejected, the notes; then the report."""
    summary = result["summary"]
    notes: Mapping[str, Sequence[str]] = result.get("notes") or {}
    lines = []
    for _, row in summary.iterrows():
        label = str(row["dataset"])
        lines.append(
            f"organisations {label!r} ({row['file']}): {int(row['rows']):,} rows read, "
            f"{int(row['matched']):,} placed, {int(row['rejected']):,} rejected"
        )
        lines += [f"  note: {n}" for n in notes.get(label, ())]
    total = int(summary["rejected"].sum()) if len(summary) else 0
    report = _rejected_report(result["paths"])
    where = f"; listed with reasons in {report}" if report else ""
    lines.append(
        f"organisations: {int(summary['matched'].sum()) if len(summary) else 0:,} "
        f"placed, {total:,} rejected{where}"
    )
    return lines


def _path_lines(paths: Mapping[str, Any], prefix: str = "") -> list[str]:
    """One line per file written: ``  tables/csv: /out/tables/lsoas.csv`` (paths only)."""
    lines = []
    for key, value in paths.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            lines += _path_lines(value, f"{name}/")
        else:
            lines += [f"  {name}: {p}" for p in _files(value)]
    return lines


def _served_line(result: Mapping[str, Any]) -> list[str]:
    """Where the "who is served" table is, or why there is none."""
    served = result.get("who_is_served")
    if served is None:
        return []
    if served.table is None:
        return [f"who is served: {served.note}"]
    where = _files(result["paths"].get("who_is_served"))
    layers = ", ".join(str(ly.name) for ly in served.layers)
    return [
        f"who is served: {len(served.table):,} rows by group ({layers})"
        + (f" in {where[0]}" if where else "")
    ]


def _data_line(result: Mapping[str, Any]) -> str:
    """Which data the run used (``area.params``)."""
    a = dict(getattr(result.get("area"), "params", {}) or {})
    return (
        f"data: IoD{a.get('iod')} ({a.get('iod_dataset')}) on {a.get('lsoa_vintage')} "
        f"LSOAs; population {a.get('population')}; postcodes {a.get('postcodes')}"
    )


def _method_lines(result: Mapping[str, Any]) -> list[str]:
    """Straight-line mode and its detour factor, or the walk network check."""
    p = getattr(result["coverage"], "params", {})
    if p.get("mode") == "crow_flies":
        return [
            f"mode: STRAIGHT-LINE (crow-flies) estimate, not a street walk: detour factor "
            f"{p['detour_factor']:.3f}, {p.get('detour_source', '')}"
        ]
    guard = result.get("snap_coverage")
    if guard is None:
        return []
    return [
        f"network check: {guard.share_unplaced:.1%} of residents ({guard.n_unplaced:,} of "
        f"{guard.n_points:,} points) farther than {guard.max_snap_m:g} m from the walk "
        f"network ({guard.status})"
    ]


class _DropLogger(logging.Filter):
    """Leaves out one logger's records (the CLI prints that warning itself)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return False


#: ``cnmap run`` options that only a national configuration (a ``[national]`` table) takes.
NATIONAL_OPTIONS = {
    "workers": "--workers",
    "scheduler": "--scheduler",
    "fresh": "--fresh",
    "districts": "--districts",
}


def is_national(path: Path) -> bool:
    """Whether a configuration file is a national run: its top level has ``[national]``."""
    from cnmap.config import read_config_file

    raw, _ = read_config_file(path, what="config")
    return isinstance(raw, Mapping) and "national" in raw


def _refuse_national_options(args: argparse.Namespace) -> None:
    """The national options given with a single-district configuration are bad input."""
    given = [flag for key, flag in NATIONAL_OPTIONS.items() if getattr(args, key, None)]
    if given:
        raise ValidationError(
            f"{', '.join(given)}: only for a national configuration (a file with a [national] "
            f"table, e.g. configs/england_libraries.toml); {args.config} has none, so leave "
            f"{'it' if len(given) == 1 else 'them'} out or add [national] (docs/national.md)"
        )


def district_codes(text: str | None) -> list[str] | None:
    """``--districts``: comma-separated English district codes or names -> their codes
    (:func:`cnmap.data.resolve_lad`), in the order given without repeats; None: the file's."""
    if text is None:
        return None
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise ValidationError(
            f"--districts {text!r} names no district; give comma-separated "
            "codes or names, e.g. --districts E06000017,E06000061"
        )
    codes = []
    for part in parts:
        try:
            codes.append(resolve_area(part)[0])
        except ValidationError as exc:  # UnknownAreaError too
            raise ValidationError(f"--districts {part!r}: {one_line(exc)}") from None
    return list(dict.fromkeys(codes))


def _english_count() -> int:
    """How many English districts the ONS lookup has (296)."""
    from cnmap.data import lad_table

    return int(lad_table()["english"].sum())


def _share_lines(result: Any) -> list[str]:
    """The share of the finished districts' residents within each time limit."""
    n_ok = len(result.lads) - len(result.failed)
    if n_ok == 0:
        return ["no district finished: no national figures (the errors are in tables/lads.csv)"]
    where = "England" if n_ok == _english_count() else f"{n_ok} district{'s' if n_ok > 1 else ''}"
    return [
        *_question(result),
        *(
            f"{where}: {float(r['share_covered']):.1%} of {float(r['population']):,.0f} "
            f"residents within a {float(r['minutes']):g}-minute walk "
            f"({float(r['metres']):,.0f} m)"
            for _, r in result.totals.iterrows()
        ),
    ]


def _question(result: Any) -> list[str]:
    """The run's question, as its ``summary.json`` states it."""
    import json

    path = result.files.get("summary")
    if path is None or not Path(path).is_file():
        return []
    question = json.loads(Path(path).read_text(encoding="utf-8")).get("question")
    return [str(question)] if question else []


def _quiet_dask(verbose: int) -> None:
    """Dask distributed logs every scheduler and worker event at INFO: shown with ``-v``."""
    if verbose:
        return
    import distributed  # noqa: F401  (its import sets its loggers' levels, set here after)

    logging.getLogger("distributed").setLevel(logging.WARNING)


def _district_lines(result: Any) -> list[str]:
    """Districts done (computed, resumed), failed with their errors, and how each walked."""
    lads = result.lads
    ok = lads[lads["status"] == "ok"]
    modes = ", ".join(f"{n} {m}" for m, n in ok["mode"].value_counts().sort_index().items())
    lines = [
        f"districts: {len(ok)} of {len(lads)} done ({len(result.computed)} computed, "
        f"{len(result.resumed)} resumed from earlier runs), {len(result.failed)} failed"
        + (f"; mode: {modes}" if modes else ""),
        f"population: {result.population_input:,.0f} Census 2021 usual residents in the "
        f"finished districts, {result.population_output:,.0f} in the tables",
    ]
    for _, row in lads[lads["status"] != "ok"].iterrows():
        lines.append(
            f"  failed: {row['lad_code']} {row['lad_name']}: {' '.join(str(row['error']).split())}"
        )
    return lines


def _national_lines(result: Any) -> list[str]:
    """What ``cnmap run`` prints after a national run: the figures, the districts and where
    every file is, one path a line."""
    tables = Path(result.out_dir) / "tables"
    return [
        *_share_lines(result),
        *_district_lines(result),
        f"tables in {tables} (lads.csv, lsoas.csv, wards.csv, deciles.csv, totals.csv)",
        f"outputs written to {result.out_dir}",
        *(f"  {name}: {path}" for name, path in sorted(result.files.items())),
    ]


def _cmd_national(args: argparse.Namespace) -> int:
    """``cnmap run`` on a national configuration: every district on Dask (docs/national.md)."""
    from cnmap.national import read_national_config, run_national

    read_national_config(args.config)  # one line (exit 2) before a district or worker starts
    districts = district_codes(args.districts)
    _quiet_dask(args.verbose)
    result = run_national(
        args.config,
        out_dir=args.out,
        districts=districts,
        scheduler=args.scheduler,
        n_workers=args.workers,
        progress=False if args.quiet else None,
        fresh=args.fresh,
    )
    if result.failed:
        sys.stderr.write(
            f"cnmap: warning: {len(result.failed)} district(s) failed "
            f"({', '.join(result.failed[:5])}{', ...' if len(result.failed) > 5 else ''}"
            f"): listed with their errors in tables/lads.csv; run again to retry "
            f"them (finished districts are kept)\n"
        )
    sys.stdout.write("\n".join(_national_lines(result)) + "\n")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from cnmap.pipeline import check_inputs, load_config, planned_steps, run

    _check_out(args.out)
    if is_national(args.config):
        return _cmd_national(args)
    _refuse_national_options(args)
    config = load_config(args.config, out_dir=args.out)
    check_inputs(config)
    bar = _progress(args, planned_steps(config))
    guard_log = logging.getLogger("cnmap.network.cover")
    quiet_guard = _DropLogger()
    guard_log.addFilter(quiet_guard)
    done = False
    try:
        result = run(config, report=None if bar is None else bar.report)
        done = True
    finally:
        guard_log.removeFilter(quiet_guard)
        if bar is not None:
            bar.close(done=done)
    guard = result.get("snap_coverage")
    if guard is not None and guard.status != "ok":
        sys.stderr.write(f"cnmap: warning: {' '.join(guard.note.split())}\n")
    out = sys.stdout
    out.write(result["coverage"].summary() + "\n")
    for line in [
        _data_line(result),
        *_method_lines(result),
        *_organisation_lines(result),
        *_served_line(result),
        f"outputs written to {config.out_dir}",
        *_path_lines(result["paths"]),
    ]:
        out.write(line + "\n")
    return 0


def _close_codes(code: str) -> str:
    """Close English district codes, for a code that is not one (``; close codes: ...``)."""
    from cnmap.data import lad_table

    try:
        table = lad_table()
    except CnmapError:
        return ""
    english = table[table["english"]]
    names = dict(zip(english["lad_code"], english["lad_name"], strict=True))
    near = difflib.get_close_matches(code.upper(), list(names), n=3, cutoff=0.6)
    return ("; close codes: " + ", ".join(f"{c} ({names[c]})" for c in near)) if near else ""


def resolve_area(text: str) -> tuple[str, str]:
    """``(code, name)`` of an English district given by code (any case) or name.

    Without the ONS district list at hand, a well-formed code is used as it is (so that
    ``cnmap fetch`` can still list everything missing).
    """
    from cnmap.data import lad_table, resolve_lad
    from cnmap.data.loaders import check_lad_code

    try:
        code = resolve_lad(text)
    except UnknownAreaError as exc:
        code_like = re.fullmatch(r"[Ee]\d{8}", text.strip()) is not None
        raise UnknownAreaError(
            str(exc) + (_close_codes(text.strip()) if code_like else "")
        ) from None
    except DataFetchError:
        if not re.fullmatch(r"[A-Za-z]\d{8}", text.strip()):
            raise
        return check_lad_code(text.strip().upper()), ""
    table = lad_table()
    name = table.loc[table["lad_code"] == code, "lad_name"]
    return code, str(name.iat[0]) if len(name) else ""


def _fetch_options(args: argparse.Namespace) -> dict[str, Any]:
    """The load_area options of ``cnmap fetch``, checked by the configuration's rules."""
    from cnmap.config import AreaData, validate

    raw = {
        k: v
        for k, v in (
            ("iod", args.iod),
            ("lsoa_vintage", args.lsoa_vintage),
            ("population", args.population),
            ("postcodes", args.postcodes),
        )
        if v is not None
    }
    return validate(raw, AreaData, where="cnmap fetch").load_options()


_NETWORK_HINT = (
    "  The walk network can also be built when the run starts, from OpenStreetMap "
    'for the district plus a buffer: [network] build = "district" with source = '
    '"overpass" (online) or the path of a .osm.pbf extract covering it '
    "(docs/your_council.md)."
)


def _cmd_fetch(args: argparse.Namespace) -> int:
    from cnmap import settings
    from cnmap.data import describe_missing, fetch_area_data

    settings.cache_dir()  # a cache folder the user must fix: exit 2 before anything else
    code, name = resolve_area(args.area)
    options = _fetch_options(args)
    who = f"{name} ({code})" if name else code
    records, missing = fetch_area_data(code, **options, network=not args.no_network)
    out = sys.stdout
    out.write(
        f"{who}: data for a run on IoD{options['iod']}, {options['lsoa_vintage']} LSOAs, "
        f"population {options['population']}, postcodes {options['postcodes']}"
        f"{'' if args.no_network else ', walk network'}\n"
    )
    for dataset, read_from in dict.fromkeys((r.dataset, r.read_from) for r in records):
        out.write(f"  fetched  {dataset:<22} {read_from}\n")
    if not missing:
        out.write(f"{who}: every dataset the run needs is in the cache ({settings.cache_dir()})\n")
        return 0
    out.write(describe_missing(code, missing) + "\n")
    if any(m.dataset in ("osm_walk_network", "osm_extract") for m in missing):
        out.write(_NETWORK_HINT + "\n")
    raise DataFetchError(
        f"{len(missing)} dataset(s) {who} needs are not at hand (listed above, each with its "
        f"publisher URL and the mirror path that would serve it): put them in a folder named "
        f"by CNMAP_DATA_MIRROR (see cnmap mirror) or download them (CNMAP_OFFLINE=1 forbids "
        f"downloads)"
    )


def _cmd_mirror(args: argparse.Namespace) -> int:
    from cnmap.data import mirror_dirs
    from cnmap.data.catalogue import catalogue_path
    from cnmap.mirror_layout import layout_lines, mirror_layout, serving_files

    roots = mirror_dirs()
    where = ", ".join(map(str, roots)) if roots else "not set"
    out = sys.stdout
    if args.lad:
        code, name = resolve_area(args.lad)
        served = serving_files(code)
        out.write(f"mirror files serving {name or code} ({code}); CNMAP_DATA_MIRROR: {where}\n")
        for _, r in served.iterrows():
            mark = "[x]" if r["found"] else "[ ]"
            out.write(f"  {mark} {r['dataset']:<26} {r['path'] or '(none in the catalogue)'}\n")
        return 0
    table = mirror_layout()
    present = {p for p in table["path"] if any((r / p).is_file() for r in roots)}
    out.write(
        f"mirror layout of the catalogue {catalogue_path()} ([x]: in CNMAP_DATA_MIRROR, "
        f"{where}); a folder may add files in its cnmap-mirror.toml (docs/mirror.md)\n"
    )
    for line in layout_lines(table, present if roots else None):
        out.write(line + "\n")
    return 0


def _cmd_sources(args: argparse.Namespace) -> int:
    from cnmap.data import sources_table

    t = sources_table()
    cols = [c for c in ("id", "publisher", "vintage", "licence", "url") if c in t.columns]
    sys.stdout.write(t[cols].to_string(index=False) + "\n")
    return 0


def _check_scenario(path: Path) -> None:
    """A scenario file or run configuration is valid and the files it names exist, before
    any data is loaded."""
    from cnmap.pipeline import check_organisation_files
    from cnmap.workflows import read_scenario

    sc = read_scenario(path)
    check_organisation_files(sc.organisations, where=str(path))
    if sc.network_path is not None and not sc.network_path.is_file():
        raise ValidationError(
            f"{path}: [network] path: walk network file {sc.network_path} "
            "does not exist or is not a file; check the path"
        )


def _read_lines(organisations: Any) -> list[str]:
    """Per scenario and organisations file: rows read, placed, rejected."""
    lines = ["organisations read:"]
    for _, r in organisations.iterrows():
        lines.append(
            f"  {r['scenario']}: {r['dataset']} ({r['file']}): {int(r['rows']):,} rows "
            f"read, {int(r['matched']):,} placed, {int(r['rejected']):,} rejected"
        )
    return lines


def _cmd_compare(args: argparse.Namespace) -> int:
    from cnmap.workflows import CONCENTRATION_INDEX_MEANING, compare_files

    _check_out(args.out)
    for path in (args.a, args.b):
        _check_scenario(path)
    result = compare_files(
        args.a, args.b, out_dir=args.out, formats=tuple(args.format or ("csv", "xlsx", "gpkg"))
    )
    named = {p.name: p for p in result.files}
    lines = [result.summary(), CONCENTRATION_INDEX_MEANING, *_read_lines(result.organisations)]
    if "rejected_organisations.csv" in named:
        lines.append(f"rejected rows listed with reasons in {named['rejected_organisations.csv']}")
    where = next(
        (str(named[n]) for n in ("groups.csv", "comparison.xlsx", "comparison.gpkg") if n in named),
        "the groups table",
    )
    lines.append(
        f"who gains and who loses by group: {result.groups_note}"
        if result.groups_note
        else f"who gains and who loses by group: {where} (groups)"
    )
    lines += [f"files written to {args.out}:", *[str(p) for p in result.files]]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


#: Shown at the end of ``cnmap --help``: examples and exit codes.
EPILOG = """\
examples:
  cnmap run configs/birmingham.toml                 the README's Birmingham analysis
  cnmap run my_council.toml --out output/mine -q    into another folder, no progress bar
  cnmap fetch Solihull                              every dataset a run for Solihull needs
  cnmap fetch E06000017 --no-network                the same without the walk network
  cnmap mirror --lad Rutland                        which mirror files serve Rutland
  cnmap compare before.toml after.toml --out cmp    who gains and who loses coverage
  cnmap run configs/england_libraries.toml --districts E06000017,E06000061 --workers 1
                                                    a national run on two districts (Dask)
  cnmap --version

exit codes:
  0    done
  1    internal error: a bug in cnmap (rerun with -v for the traceback and report it)
  2    bad input: the configuration, a file it names, a district, the output folder, or a
       walk network that leaves more than 10% of residents unplaced (one line on stderr,
       naming the file, the key and the fix)
  3    data that cannot be fetched (cnmap fetch lists every missing dataset first)
  130  interrupted (Ctrl-C)

Configuration files: docs/configuration.md. Outputs: docs/outputs.md.
"""


def _parser(
    sub: Any, name: str, help_text: str, description: str, examples: str
) -> argparse.ArgumentParser:
    """A sub-command with its help line, description and examples."""
    return sub.add_parser(  # type: ignore[no-any-return]
        name,
        help=help_text,
        description=textwrap.fill(description, width=78),
        epilog=f"examples:\n{examples}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _run_parser(sub: Any) -> None:
    r = _parser(
        sub,
        "run",
        "run the whole analysis from a configuration file",
        "Run the whole analysis of a configuration: the HTML map, the tables (CSV, "
        "XLSX, GeoPackage), who is served, the figures (PNG, PDF), the one-page "
        "summary, methods.md and run.json.",
        "  cnmap run configs/birmingham.toml\n"
        "  cnmap run my_council.toml --out output/mine -q\n"
        "  cnmap run configs/england_libraries.toml --districts E06000017,E06000061 "
        "--workers 1 --out output/two\n"
        "  cnmap run configs/england_libraries.toml --workers 2    all 296 districts\n"
        "  cnmap run configs/england_libraries.toml --scheduler tcp://host:8786",
    )
    r.add_argument(
        "config",
        type=Path,
        help="TOML or YAML run configuration (see configs/ and docs/configuration.md)",
    )
    r.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="output folder, created if needed (default: [output] dir of the configuration)",
    )
    r.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress bar (none is shown when stderr is not a terminal)",
    )
    n = r.add_argument_group(
        "national runs",
        "for a configuration with a [national] table (e.g. "
        "configs/england_libraries.toml): every English district as a task of Dask "
        "distributed, then tables/lads.csv, lsoas.csv, wards.csv, deciles.csv and maps "
        "(docs/national.md); an interrupted run resumes from the finished districts",
    )
    n.add_argument(
        "--districts",
        default=None,
        metavar="CODES",
        help="comma-separated district codes or names, e.g. E06000017,E06000061 or "
        "Rutland,Melton (default: [national] districts, else all 296)",
    )
    n.add_argument(
        "--workers",
        type=_workers,
        default=None,
        metavar="N",
        help="LocalCluster worker processes (default: [national] workers, else one per core)",
    )
    n.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="a running Dask scheduler instead of a LocalCluster, e.g. tcp://host:8786",
    )
    n.add_argument(
        "--fresh",
        action="store_true",
        help="compute every district again (forget the partial results kept in OUT/_partial)",
    )
    r.set_defaults(func=_cmd_run)


def _workers(text: str) -> int:
    """``--workers``: a whole number from 1 to 1,024."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number; give e.g. 2") from None
    if not 1 <= n <= 1024:
        raise argparse.ArgumentTypeError(f"{n} is out of range; give 1 to 1024")
    return n


def _fetch_parser(sub: Any) -> None:
    f = _parser(
        sub,
        "fetch",
        "fetch and verify every dataset a district's run needs into "
        "the cache; list all that are missing",
        "Fetch and verify (size, SHA-256, structure) every dataset a run for an English "
        "district needs, into the cache (CNMAP_CACHE_DIR), from the mirror "
        "(CNMAP_DATA_MIRROR) or the publishers; list every dataset that is missing.",
        "  cnmap fetch Solihull\n  cnmap fetch e08000025 --iod 2019\n"
        "  cnmap fetch Rutland --population census2021 --no-network",
    )
    f.add_argument(
        "area",
        help="an English district's code (any case), e.g. E08000029, or its name, e.g. Solihull",
    )
    f.add_argument(
        "--iod",
        type=int,
        default=None,
        choices=(2019, 2025),
        help="IoD edition (default 2025; 2019 when --lsoa-vintage 2011 alone)",
    )
    f.add_argument(
        "--lsoa-vintage",
        type=int,
        default=None,
        choices=(2011, 2021),
        help="LSOA vintage (default 2021; 2011 when --iod 2019 alone)",
    )
    f.add_argument(
        "--population",
        default=None,
        choices=("auto", "iod", "census2021"),
        help="population source (default auto: the IoD denominators where the "
        "file has them, else Census 2021)",
    )
    f.add_argument(
        "--postcodes",
        default=None,
        choices=("auto", "nspl", "codepoint"),
        help="postcode lookup (default auto: NSPL where the mirror has it, else Code-Point Open)",
    )
    f.add_argument(
        "--no-network", action="store_true", help="leave out the walk network (straight-line runs)"
    )
    f.set_defaults(func=_cmd_fetch)


def _compare_parser(sub: Any) -> None:
    c = _parser(
        sub,
        "compare",
        "compare two scenario files or run configurations (who gains, who loses coverage)",
        "Compare scenario B against scenario A on one area and walk network: people "
        "gained and lost by LSOA, ward and IMD decile, the concentration index over "
        "deprivation and, where the need layers cover the area, who gains and who "
        "loses by group of residents. A run configuration is a scenario named after "
        "its file.",
        "  cnmap compare configs/birmingham.toml warm_only.toml --out output/cmp\n"
        "  cnmap compare a.yaml b.yaml --out cmp --format csv",
    )
    c.add_argument(
        "a",
        type=Path,
        help="scenario A, the baseline (a scenario file or a run configuration, TOML or YAML)",
    )
    c.add_argument("b", type=Path, help="scenario B, the alternative")
    c.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="DIR",
        help="output folder for the comparison, created if needed",
    )
    c.add_argument(
        "--format",
        action="append",
        choices=("csv", "xlsx", "gpkg"),
        default=None,
        help="table format to write; repeat for several (default: all three)",
    )
    c.set_defaults(func=_cmd_compare)


def build_parser() -> argparse.ArgumentParser:
    """The command's arguments (``cnmap --help``: options, examples, exit codes)."""
    from cnmap import __version__

    p = argparse.ArgumentParser(
        prog="cnmap",
        description="Where community organisations reach people by walking, and where they don't.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--version",
        action="version",
        version=f"cnmap {__version__}",
        help="print cnmap's version and exit",
    )
    p.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="more log output (-vv: debug); with an internal error, the full traceback",
    )
    sub = p.add_subparsers(
        dest="command",
        required=True,
        metavar="COMMAND",
        help="one of the commands below (cnmap COMMAND --help: its options and examples)",
    )
    _run_parser(sub)
    _fetch_parser(sub)
    mi = _parser(
        sub,
        "mirror",
        "the offline mirror's layout: which files in which folders serve which datasets",
        "The offline data mirror's layout (CNMAP_DATA_MIRROR): which file serves "
        "which dataset, [x] for those present.",
        "  cnmap mirror\n  cnmap mirror --lad Birmingham",
    )
    mi.add_argument(
        "--lad", default=None, help="only the files serving this district (code or name)"
    )
    mi.set_defaults(func=_cmd_mirror)
    s = _parser(
        sub,
        "sources",
        "list the data catalogue: publishers, vintages, licences, URLs",
        "The data catalogue: every dataset's publisher, vintage, licence and URL.",
        "  cnmap sources",
    )
    s.set_defaults(func=_cmd_sources)
    _compare_parser(sub)
    return p


def one_line(exc: BaseException) -> str:
    """An error as one line of text (messages of parsers and the OS can span lines)."""
    if isinstance(exc, OSError) and exc.strerror and exc.filename is not None:
        text = f"{exc.strerror}: {exc.filename}"
        if exc.filename2 is not None:
            text += f" -> {exc.filename2}"
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())


def _fail(message: str) -> None:
    sys.stderr.write(f"cnmap: error: {message}\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv``) and return the exit status (see the
    module docstring); what the ``cnmap`` console script runs, through :func:`console`."""
    args = build_parser().parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except CacheFolderError as exc:  # before DataFetchError, its base: the user's to fix
        _fail(one_line(exc))
        return 2
    except DataFetchError as exc:
        _fail(one_line(exc))
        return 3
    except CnmapError as exc:
        _fail(one_line(exc))
        return 2
    except INPUT_ERRORS as exc:
        _fail(one_line(exc))
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("cnmap: interrupted\n")
        return 130
    except Exception as exc:
        if args.verbose:
            raise
        sys.stderr.write(
            f"cnmap: internal error (a bug in cnmap): {type(exc).__name__}: "
            f"{one_line(exc)}; rerun with -v for the traceback and report it\n"
        )
        return 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())


def console() -> NoReturn:
    """The ``cnmap`` console script and ``python -m cnmap``: :func:`main`, then a quick exit.

    Once the command has returned, every file it wrote is closed; the logs and the standard
    streams are flushed here and the process ends without the interpreter's teardown, which
    frees a large run's objects one by one for about half a second (the exit status is the
    same). Library code calls :func:`main` and keeps the usual exit.
    """
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
