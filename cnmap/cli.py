"""The ``cnmap`` command: arguments in, the library's functions, files out.

    cnmap run CONFIG [--out DIR]       the whole analysis: map, tables, figures, methods note
    cnmap fetch CODE-or-NAME           every dataset a district's run needs, into the cache
    cnmap mirror [--lad CODE-or-NAME]  the offline mirror's layout (which file serves what)
    cnmap sources                      the data catalogue: publishers, URLs, licences
    cnmap compare A.toml B.toml --out  compare two scenarios (who gains, who loses coverage)

Exit status and errors
----------------------
- **0**: done. ``cnmap run`` prints the coverage, the data used (IoD edition, LSOA vintage,
  population, postcodes), the walk network check (the share of residents the network could
  not place; a warning on stderr above 1 %) or, in straight-line mode, the detour factor and
  how it was obtained, and for each organisations file the rows read, placed and rejected,
  the reader's notes and where the rejected rows are listed. ``cnmap fetch`` lists what it
  fetched.
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
import re
import sys
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

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


def _progress_reporter(enabled: bool):  # type: ignore[no-untyped-def]
    if not enabled:
        return None, None
    from tqdm.auto import tqdm

    bar = tqdm(total=11, desc="cnmap", unit="step", file=sys.stderr)

    def report(name: str) -> None:
        if bar.n or bar.desc != "cnmap":
            bar.update(1)
        bar.set_description(name)

    return report, bar


def _check_out(out: Path | None) -> None:
    """``--out`` must be a folder (or not exist yet), not a file."""
    if out is not None and out.exists() and not out.is_dir():
        raise ValidationError(f"--out {out} is an existing file; give a folder for the outputs "
                              "(it is created if needed)")


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
        lines.append(f"organisations {label!r} ({row['file']}): {int(row['rows']):,} rows read, "
                     f"{int(row['matched']):,} placed, {int(row['rejected']):,} rejected")
        lines += [f"  note: {n}" for n in notes.get(label, ())]
    total = int(summary["rejected"].sum()) if len(summary) else 0
    report = _rejected_report(result["paths"])
    where = f"; listed with reasons in {report}" if report else ""
    lines.append(f"organisations: {int(summary['matched'].sum()) if len(summary) else 0:,} "
                 f"placed, {total:,} rejected{where}")
    return lines


def _path_lines(paths: Mapping[str, Any], prefix: str = "") -> list[str]:
    """One line per file written: ``  tables/csv: /out/tables/lsoas.csv``."""
    lines = []
    for key, value in paths.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            lines += _path_lines(value, f"{name}/")
        elif isinstance(value, list | tuple):
            lines += [f"  {name}: {v}" for v in value]
        else:
            lines.append(f"  {name}: {value}")
    return lines


def _data_line(result: Mapping[str, Any]) -> str:
    """Which data the run used (``area.params``)."""
    a = dict(getattr(result.get("area"), "params", {}) or {})
    return (f"data: IoD{a.get('iod')} ({a.get('iod_dataset')}) on {a.get('lsoa_vintage')} "
            f"LSOAs; population {a.get('population')}; postcodes {a.get('postcodes')}")


def _method_lines(result: Mapping[str, Any]) -> list[str]:
    """Straight-line mode and its detour factor, or the walk network check."""
    p = getattr(result["coverage"], "params", {})
    if p.get("mode") == "crow_flies":
        return [f"mode: STRAIGHT-LINE (crow-flies) estimate, not a street walk: detour factor "
                f"{p['detour_factor']:.3f}, {p.get('detour_source', '')}"]
    guard = result.get("snap_coverage")
    if guard is None:
        return []
    return [f"network check: {guard.share_unplaced:.1%} of residents ({guard.n_unplaced:,} of "
            f"{guard.n_points:,} points) farther than {guard.max_snap_m:g} m from the walk "
            f"network ({guard.status})"]


class _DropLogger(logging.Filter):
    """Leaves out one logger's records (the CLI prints that warning itself)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return False


def _cmd_run(args: argparse.Namespace) -> int:
    from cnmap.pipeline import check_inputs, load_config, run

    _check_out(args.out)
    config = load_config(args.config, out_dir=args.out)
    check_inputs(config)
    report, bar = _progress_reporter(not args.quiet)
    guard_log = logging.getLogger("cnmap.network.cover")
    quiet_guard = _DropLogger()
    guard_log.addFilter(quiet_guard)
    try:
        result = run(config, report=report)
    finally:
        guard_log.removeFilter(quiet_guard)
        if bar is not None:
            bar.update(bar.total - bar.n)
            bar.close()
    guard = result.get("snap_coverage")
    if guard is not None and guard.status != "ok":
        sys.stderr.write(f"cnmap: warning: {' '.join(guard.note.split())}\n")
    out = sys.stdout
    out.write(result["coverage"].summary() + "\n")
    for line in [_data_line(result), *_method_lines(result), *_organisation_lines(result),
                 f"outputs written to {config.out_dir}", *_path_lines(result["paths"])]:
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
        raise UnknownAreaError(str(exc) + (_close_codes(text.strip()) if code_like else "")
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

    raw = {k: v for k, v in (("iod", args.iod), ("lsoa_vintage", args.lsoa_vintage),
                             ("population", args.population), ("postcodes", args.postcodes))
           if v is not None}
    return validate(raw, AreaData, where="cnmap fetch").load_options()


_NETWORK_HINT = ("  The walk network can also be built when the run starts, from OpenStreetMap "
                 "for the district plus a buffer: [network] build = \"district\" with source = "
                 "\"overpass\" (online) or the path of a .osm.pbf extract covering it "
                 "(docs/your_council.md).")


def _cmd_fetch(args: argparse.Namespace) -> int:
    from cnmap import settings
    from cnmap.data import describe_missing, fetch_area_data

    settings.cache_dir()  # a cache folder the user must fix: exit 2 before anything else
    code, name = resolve_area(args.area)
    options = _fetch_options(args)
    who = f"{name} ({code})" if name else code
    records, missing = fetch_area_data(code, **options, network=not args.no_network)
    out = sys.stdout
    out.write(f"{who}: data for a run on IoD{options['iod']}, {options['lsoa_vintage']} LSOAs, "
              f"population {options['population']}, postcodes {options['postcodes']}"
              f"{'' if args.no_network else ', walk network'}\n")
    for dataset, read_from in dict.fromkeys((r.dataset, r.read_from) for r in records):
        out.write(f"  fetched  {dataset:<22} {read_from}\n")
    if not missing:
        out.write(f"{who}: every dataset the run needs is in the cache "
                  f"({settings.cache_dir()})\n")
        return 0
    out.write(describe_missing(code, missing) + "\n")
    if any(m.dataset in ("osm_walk_network", "osm_extract") for m in missing):
        out.write(_NETWORK_HINT + "\n")
    raise DataFetchError(
        f"{len(missing)} dataset(s) {who} needs are not at hand (listed above, each with its "
        f"publisher URL and the mirror path that would serve it): put them in a folder named "
        f"by CNMAP_DATA_MIRROR (see cnmap mirror) or download them (CNMAP_OFFLINE=1 forbids "
        f"downloads)")


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
    out.write(f"mirror layout of the catalogue {catalogue_path()} ([x]: in CNMAP_DATA_MIRROR, "
              f"{where}); a folder may add files in its cnmap-mirror.toml (docs/mirror.md)\n")
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
    """A scenario file is valid and the files it names exist, before any data is loaded."""
    from cnmap.pipeline import check_organisation_files
    from cnmap.scenarios import Scenario

    sc = Scenario.from_file(path)
    check_organisation_files(sc.organisations, where=str(path))
    if sc.network_path is not None and not sc.network_path.is_file():
        raise ValidationError(f"{path}: [network] path: walk network file {sc.network_path} "
                              "does not exist or is not a file; check the path")


def _cmd_compare(args: argparse.Namespace) -> int:
    from cnmap.workflows import compare_files

    _check_out(args.out)
    for path in (args.a, args.b):
        _check_scenario(path)
    result = compare_files(args.a, args.b, out_dir=args.out)
    sys.stdout.write(result.summary() + "\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The command's arguments (``cnmap --help``)."""
    p = argparse.ArgumentParser(prog="cnmap", description="Where community organisations reach "
                                "people by walking, and where they don't.")
    p.add_argument("-v", "--verbose", action="count", default=0,
                   help="more log output; with an internal error, the full traceback")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run the whole analysis from a configuration file")
    r.add_argument("config", type=Path, help="TOML or YAML configuration (see configs/)")
    r.add_argument("--out", type=Path, default=None, help="output folder (overrides the config)")
    r.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    r.set_defaults(func=_cmd_run)
    f = sub.add_parser("fetch", help="fetch and verify every dataset a district's run needs "
                       "into the cache; list all that are missing")
    f.add_argument("area", help="an English district's code (any case), e.g. E08000029, or "
                   "its name, e.g. Solihull")
    f.add_argument("--iod", type=int, default=None, choices=(2019, 2025),
                   help="IoD edition (default 2025; 2019 when --lsoa-vintage 2011 alone)")
    f.add_argument("--lsoa-vintage", type=int, default=None, choices=(2011, 2021),
                   help="LSOA vintage (default 2021; 2011 when --iod 2019 alone)")
    f.add_argument("--population", default=None, choices=("auto", "iod", "census2021"),
                   help="population source (default auto)")
    f.add_argument("--postcodes", default=None, choices=("auto", "nspl", "codepoint"),
                   help="postcode lookup (default auto)")
    f.add_argument("--no-network", action="store_true",
                   help="leave out the walk network (straight-line runs)")
    f.set_defaults(func=_cmd_fetch)
    mi = sub.add_parser("mirror", help="the offline mirror's layout: which files in which "
                        "folders serve which datasets")
    mi.add_argument("--lad", default=None, help="only the files serving this district (code "
                    "or name)")
    mi.set_defaults(func=_cmd_mirror)
    s = sub.add_parser("sources", help="list the data catalogue")
    s.set_defaults(func=_cmd_sources)
    c = sub.add_parser("compare", help="compare two scenario files")
    c.add_argument("a", type=Path)
    c.add_argument("b", type=Path)
    c.add_argument("--out", type=Path, required=True)
    c.set_defaults(func=_cmd_compare)
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
    """Entry point of the ``cnmap`` console script (exit status: see the module docstring)."""
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
        sys.stderr.write(f"cnmap: internal error (a bug in cnmap): {type(exc).__name__}: "
                         f"{one_line(exc)}; rerun with -v for the traceback and report it\n")
        return 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
