"""Benchmark: the main command's tables step for Birmingham (XLSX writing and postcode checks).

Runs the Birmingham analysis (``configs/birmingham.toml``) up to its outputs once, then times,
best of ``--repeat``:

- the XLSX writing alone (:func:`cnmap.export.write_tables` with ``formats=("xlsx",)``) of
  the two workbooks of the main command: the coverage tables (as
  :func:`cnmap.export.export_coverage` gives them to ``write_tables``) and the organisations
  read;
- the whole :func:`cnmap.export.export_coverage` call of the main command (CSV, XLSX,
  GeoPackage, the postcode check);
- the tables step of the main command (``cnmap.pipeline._write_tables``);
- :func:`cnmap.export.quality_table` after the step, as the summary page calls it (the
  postcode check again).

``--checkout DIR`` measures the same on another checkout (a folder holding a ``cnmap``
package, e.g. ``git archive <commit> cnmap | tar -x -C DIR``) in a separate process, side by
side (``before``). Needs the data mirror (``CNMAP_DATA_MIRROR``). Run from the repository
root::

    python -m bench.bench_tables [--repeat 3] [--checkout DIR --label L --before-files TEXT]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "birmingham.toml"


class _Stop(Exception):
    """Raised to stop the run once its parts are computed."""


def _parts(out: Path) -> tuple[Any, Any, Any]:
    """(config, parts, catchments) of the Birmingham run, without writing its outputs."""
    from cnmap import pipeline

    got: dict[str, Any] = {}

    def capture(config: Any, parts: Any, steps: Any, report: Any) -> Any:
        got["config"], got["parts"] = config, parts
        raise _Stop

    config = pipeline.load_config(CONFIG, out_dir=out)
    original = pipeline.write_outputs
    pipeline.write_outputs = capture
    try:
        pipeline.run(config)
    except _Stop:
        pass
    finally:
        pipeline.write_outputs = original
    return got["config"], got["parts"], got["parts"].cov.catchments()


def _best(fn: Callable[[], Any], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return times


def _xlsx_inputs(config: Any, parts: Any, catch: Any, out: Path) -> list[dict[str, Any]]:
    """The ``write_tables`` calls of the main command's two workbooks (their arguments)."""
    from cnmap import export, pipeline

    calls: list[dict[str, Any]] = []
    original = export.write_tables

    def capture(tables: Any, path: Any, **kw: Any) -> dict[str, list[Path]]:
        calls.append({"tables": tables, **kw})
        return {}

    (config.out_dir / "tables").mkdir(parents=True, exist_ok=True)
    export.write_tables = capture
    try:
        pipeline._write_tables(config, parts, catch, "birmingham")
    finally:
        export.write_tables = original
    for c in calls:
        c["formats"] = ("xlsx",)
        c.pop("gis_layers", None)
    return calls


def measure(repeat: int) -> dict[str, Any]:
    """Seconds per run of each measure (a list each), the cells written and the load."""
    from cnmap import export, pipeline

    work = Path(tempfile.mkdtemp(prefix="cnmap_bench_tables_"))
    config, parts, catch = _parts(work / "run")
    calls = _xlsx_inputs(config, parts, catch, work)
    cells = sum(
        int(df.shape[0] + 1) * int(df.shape[1]) for c in calls for df in c["tables"].values()
    )

    def xlsx() -> None:
        for k, c in enumerate(calls):
            kw = {key: v for key, v in c.items() if key != "tables"}
            export.write_tables(c["tables"], work / f"xlsx{k}", **kw)

    def fresh() -> None:  # as in a run: the area's postcode lookups not yet read
        getattr(export, "_AREA_LOOKUPS", {}).clear()

    def coverage() -> None:
        fresh()
        export.export_coverage(
            parts.cov,
            work / "tables",
            thin=parts.thin,
            profiles=parts.profiles,
            stem="cnmap_birmingham",
            catchments=catch,
        )

    def step() -> None:
        fresh()
        pipeline._write_tables(config, parts, catch, "birmingham")

    def quality() -> None:  # the summary page's check, after the tables step's
        export.quality_table(parts.cov)

    load = os.getloadavg()[0]
    return {
        "xlsx": _best(xlsx, repeat),
        "export_coverage": _best(coverage, repeat),
        "tables_step": _best(step, repeat),
        "quality_table": _best(quality, repeat),
        "cells": cells,
        "load": load,
        "load_end": os.getloadavg()[0],
    }


def _rows(label: str, m: dict[str, Any], target: bool) -> list[dict[str, Any]]:
    xlsx = min(m["xlsx"])
    rows: list[dict[str, Any]] = [
        {
            "measure": f"{label}: XLSX writing alone, the 2 workbooks "
            f"({m['cells']:,} table cells), best of {len(m['xlsx'])}",
            "value": round(xlsx, 3),
            "unit": "s",
            **({"target": "<= 1 s", "ok": xlsx <= 1.0} if target else {}),
        },
        {
            "measure": f"{label}: export_coverage (CSV, XLSX, GeoPackage, postcode check), "
            f"best of {len(m['export_coverage'])}",
            "value": round(min(m["export_coverage"]), 3),
            "unit": "s",
        },
        {
            "measure": f"{label}: the tables step (export_coverage, who_is_served.csv, "
            "organisations read CSV + XLSX), best of "
            f"{len(m['tables_step'])}",
            "value": round(min(m["tables_step"]), 3),
            "unit": "s",
        },
        {
            "measure": f"{label}: quality_table of the result after the tables step (as the "
            f"summary page calls it), best of {len(m['quality_table'])}",
            "value": round(min(m["quality_table"]), 3),
            "unit": "s",
        },
        {
            "measure": f"{label}: every run (xlsx; export_coverage; step; quality_table)",
            "value": "; ".join(
                ", ".join(f"{t:.2f}" for t in m[k])
                for k in ("xlsx", "export_coverage", "tables_step", "quality_table")
            ),
            "unit": "s",
        },
        {
            "measure": f"{label}: load average (1 min) at start / end",
            "value": f"{m['load']:.2f} / {m['load_end']:.2f}",
            "unit": "",
        },
    ]
    return rows


def _section(title: str, rows: list[dict[str, Any]], notes: list[str]) -> Path:
    """Save ``bench/results/tables.json`` and write its section of ``docs/benchmarks.md``
    (replacing an earlier one of the same title, else appended; other sections untouched)."""
    from bench._report import DOC, RESULTS, _fmt, machine

    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "tables.json"
    payload = {
        "name": "tables",
        "title": title,
        "when": when,
        "machine": machine(),
        "rows": rows,
        "notes": notes,
    }
    path.write_text(json.dumps(payload, indent=2, default=str))
    lines = [
        f"## {title}",
        "",
        f"Run {when} on {machine()}.",
        "",
        "| measure | value | unit | target | met |",
        "|---|---:|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['measure']} | {_fmt(r.get('value'))} | {r.get('unit', '')} | "
            f"{r.get('target', '')} | {_fmt(r.get('ok')) if 'ok' in r else ''} |"
        )
    lines += ["", *[f"- {n}" for n in notes], ""]
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    head = f"## {title}\n"
    if head in text:
        start = text.index(head)
        nxt = text.find("\n## ", start + len(head))
        text = text[:start] + "\n".join(lines) + ("\n" + text[nxt + 1 :] if nxt >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + "\n".join(lines)
    DOC.write_text(text)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--checkout", type=Path, help="another checkout to time side by side")
    ap.add_argument("--label", default="before")
    ap.add_argument("--before-files", default="", help="what --checkout holds, for the notes")
    ap.add_argument("--raw", action="store_true", help="print the measures as JSON only")
    args = ap.parse_args()
    if args.raw:
        print(json.dumps(measure(args.repeat)))
        return
    rows: list[dict[str, Any]] = []
    if args.checkout is not None:
        env = dict(os.environ, PYTHONPATH=str(args.checkout.resolve()))
        done = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--raw", "--repeat", str(args.repeat)],
            env=env,
            check=True,
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        rows += _rows(args.label, json.loads(done.stdout.strip().splitlines()[-1]), False)
    rows = _rows("now", measure(args.repeat), True) + rows
    notes = [
        "Birmingham (E08000025) as configs/birmingham.toml, its parts computed once in the "
        "process; each measure writes into a temporary folder. XLSX alone: write_tables "
        "with formats=('xlsx',) on the tables the main command writes (coverage tables and "
        "organisations read). export_coverage and the step start with the area's postcode "
        "lookups not yet read, as in a run.",
        "now: workbooks written with xlsxwriter (constant_memory, one Format per number "
        "format, inline strings); postcodes normalised vectorised (pyarrow for ASCII text); "
        "one PostcodeLookup per area (cnmap.export.area_postcode_lookup) shared by the "
        "quality checks of export_coverage and quality_table.",
    ]
    if args.checkout is not None:
        notes.append(
            f"{args.label}: the same measures on a copy of the working tree with "
            f"{args.before_files or 'its own files'} (openpyxl write-only workbooks; every "
            "check read and normalised the postcode lookups again), in a separate process run "
            "first. The machine is shared: the load averages are given."
        )
    _section("The main command's tables step (Birmingham: XLSX and postcode checks)", rows, notes)


if __name__ == "__main__":
    main()
