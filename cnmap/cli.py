"""The ``cnmap`` command: arguments in, the library's functions, files out.

    cnmap run CONFIG [--out DIR]       the whole analysis: map, tables, figures, methods note
    cnmap fetch LAD_CODE               fetch and verify the area's data into the cache
    cnmap sources                      the data catalogue: publishers, URLs, licences
    cnmap compare A.toml B.toml --out  compare two scenarios (who gains, who loses coverage)

Errors in the input end the command with exit status 2 and a one-line message naming the
problem and the fix; data that cannot be fetched ends it with status 3.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from cnmap.errors import CnmapError, DataFetchError

__all__ = ["main"]

log = logging.getLogger("cnmap")


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


def _cmd_run(args: argparse.Namespace) -> int:
    from cnmap.pipeline import load_config, run

    config = load_config(args.config, out_dir=args.out)
    report, bar = _progress_reporter(not args.quiet)
    try:
        result = run(config, report=report)
    finally:
        if bar is not None:
            bar.update(bar.total - bar.n)
            bar.close()
    cov = result["coverage"]
    out = sys.stdout
    out.write(cov.summary() + "\n")
    out.write(f"organisations: {int(result['summary']['matched'].sum())} placed, "
              f"{int(result['summary']['rejected'].sum())} rejected (see tables/rejected_organisations.csv)\n")
    out.write(f"outputs written to {config.out_dir}\n")
    for key, value in result["paths"].items():
        if isinstance(value, dict):
            for k, v in value.items():
                out.write(f"  {key}/{k}: {v}\n")
        elif isinstance(value, list):
            for v in value:
                out.write(f"  {key}: {v}\n")
        else:
            out.write(f"  {key}: {value}\n")
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


def _cmd_compare(args: argparse.Namespace) -> int:
    from cnmap.scenarios import compare_files

    result = compare_files(args.a, args.b, out_dir=args.out)
    sys.stdout.write(result.summary() + "\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cnmap", description="Where community organisations reach "
                                "people by walking, and where they don't.")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``cnmap`` console script."""
    args = build_parser().parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except DataFetchError as exc:
        sys.stderr.write(f"cnmap: error: {exc}\n")
        return 3
    except (CnmapError, FileNotFoundError) as exc:
        sys.stderr.write(f"cnmap: error: {exc}\n")
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
