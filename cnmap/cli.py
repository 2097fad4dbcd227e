"""The ``cnmap`` command: arguments in, the library's functions, files out.

    cnmap run CONFIG [--out DIR]       the whole analysis: map, tables, figures, methods note
    cnmap fetch LAD_CODE               fetch and verify the area's data into the cache
    cnmap sources                      the data catalogue: publishers, URLs, licences
    cnmap compare A.toml B.toml --out  compare two scenarios (who gains, who loses coverage)

Exit status and errors
----------------------
- **0**: done. ``cnmap run`` prints, for each organisations file, the rows read, placed and
  rejected, the reader's notes, and where the rejected rows are listed.
- **2**: bad input. The configuration or scenario files are checked against one schema
  (:mod:`cnmap.config`) and the files they name are checked to exist before any work starts.
  Every :class:`cnmap.errors.CnmapError` (other than a fetch error), and the operating
  system's input errors (a missing or unreadable file, a folder where a file belongs, a file
  where a folder belongs, undecodable text, TOML or YAML syntax), ends the command with
  exactly one line on stderr, ``cnmap: error: ...``, naming the file, the key and the fix.
  Never a traceback.
- **3**: data that cannot be fetched (:class:`cnmap.errors.DataFetchError`).
- **1**: an internal error, i.e. a bug in cnmap (an ``AssertionError``, a ``KeyError``...).
  These are not dressed up as bad input: the line says it is a bug, and ``-v`` shows the full
  traceback to report. Interrupting with Ctrl-C exits with 130.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from cnmap.errors import CnmapError, DataFetchError, ValidationError

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

    bar = tqdm(total=9, desc="cnmap", unit="step", file=sys.stderr)

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


def _cmd_run(args: argparse.Namespace) -> int:
    from cnmap.pipeline import check_inputs, load_config, run

    _check_out(args.out)
    config = load_config(args.config, out_dir=args.out)
    check_inputs(config)
    report, bar = _progress_reporter(not args.quiet)
    try:
        result = run(config, report=report)
    finally:
        if bar is not None:
            bar.update(bar.total - bar.n)
            bar.close()
    out = sys.stdout
    out.write(result["coverage"].summary() + "\n")
    for line in [*_organisation_lines(result), f"outputs written to {config.out_dir}",
                 *_path_lines(result["paths"])]:
        out.write(line + "\n")
    return 0


def _cmd_fetch(args: argparse.Namespace) -> int:
    import cnmap

    area = cnmap.load_area(args.lad_code, lsoa_vintage=args.lsoa_vintage, iod=args.iod)
    sys.stdout.write(f"{area!r}\n")
    sys.stdout.write(area.sources[["id", "read_from"]].to_string(index=False) + "\n")
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
    from cnmap.scenarios import compare_files

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
    f = sub.add_parser("fetch", help="fetch and verify an area's official data into the cache")
    f.add_argument("lad_code", help="local authority district code, e.g. E08000025")
    f.add_argument("--lsoa-vintage", type=int, default=2011, choices=(2011, 2021))
    f.add_argument("--iod", type=int, default=2019, choices=(2019, 2025))
    f.set_defaults(func=_cmd_fetch)
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
