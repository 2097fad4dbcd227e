"""Benchmark the national straight-line run: all of England on a Dask LocalCluster.

Run from the repository root (``CNMAP_DATA_MIRROR`` set; results to
``bench/results/national.json`` and, with ``--append-doc``, a section appended to
``docs/benchmarks.md``)::

    python -m bench.bench_national                     # 10, 50 and 296 districts, 2 workers
    python -m bench.bench_national --districts 10 --workers 2 --out /tmp/national

Each size is one fresh ``run_national`` of ``configs/england_libraries.toml`` with
``networks = "none"`` (every district along the straight line times the detour factor), on a
new output folder (nothing resumed; the organisations are placed again), with worker
processes (``processes=True``). The smaller sizes take districts evenly spaced in code order
and make no district maps; the full run makes the configuration's 10 worst-district maps.

Measured: wall time (and by step), and each worker's peak resident memory (its process's
``VmHWM``, read at the end of every task it ran; the largest over its tasks). The
machine's load average is recorded: it is shared, so figures taken under load are slower
than the machine alone would give.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._report import RESULTS, ROOT, _fmt, machine

CONFIG = ROOT / "configs" / "england_libraries.toml"
DOC = ROOT / "docs" / "benchmarks.md"
TITLE = "National run: England, straight line, Dask LocalCluster"
TARGET_S = 600.0
TARGET_MB = 4096.0


def _sample(codes: list[str], n: int) -> list[str]:
    """``n`` districts evenly spaced in code order (all when ``n >= len(codes)``)."""
    if n >= len(codes):
        return list(codes)
    step = len(codes) / n
    return [codes[int(i * step)] for i in range(n)]


def load_times(codes: list[str], n: int) -> dict[str, Any]:
    """``cnmap.load_area`` of ``n`` districts evenly spaced in code order, one after the
    other in this process, as a district task loads them: the first call (which reads the
    national files) and the others (which filter them)."""
    import statistics

    from cnmap.data import load_area

    load0 = os.getloadavg()[0]
    seconds = []
    for lad in _sample(codes, n):
        t0 = time.perf_counter()
        load_area(lad, lsoa_vintage=2021, iod=2025, population="census2021")
        seconds.append(time.perf_counter() - t0)
    rest = seconds[1:] or seconds
    return {
        "districts": len(seconds),
        "first_s": seconds[0],
        "median_s": statistics.median(rest),
        "mean_s": statistics.fmean(rest),
        "max_s": max(rest),
        "load_average_before": load0,
        "load_average_after": os.getloadavg()[0],
    }


def _one(cfg: Any, codes: list[str], out: Path, workers: int, maps: int) -> dict[str, Any]:
    from cnmap.national import run_national

    load0 = os.getloadavg()
    t0 = time.perf_counter()
    r = run_national(
        cfg,
        out,
        districts=codes,
        n_workers=workers,
        processes=True,
        worst_maps=maps,
        progress=False,
        dashboard_address=":0",
        fresh=True,
    )
    wall = time.perf_counter() - t0
    peaks = r.lads.groupby("worker")["worker_peak_rss_mb"].max()
    return {
        "districts": len(codes),
        "seconds": wall,
        "timings": r.timings,
        "worker_peak_mb": {str(k): float(v) for k, v in peaks.items()},
        "max_worker_peak_mb": float(peaks.max()),
        "client_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "failed": list(r.failed),
        "lsoas": len(r.lsoas),
        "wards": len(r.wards),
        "population_input": r.population_input,
        "population_output": r.population_output,
        "share_covered_15min": r.share_covered(15),
        "district_seconds_median": float(r.lads["seconds"].median()),
        "district_seconds_max": float(r.lads["seconds"].max()),
        "load_average_before": load0[0],
        "load_average_after": os.getloadavg()[0],
        "out_dir": str(out),
    }


def _rows(
    runs: list[dict[str, Any]], workers: int, loads: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    if loads is not None:
        rows.append(
            {
                "measure": f"load_area per district in one process, median of "
                f"{loads['districts'] - 1} after the first",
                "value": loads["median_s"],
                "unit": "s",
            }
        )
        rows.append(
            {
                "measure": "load_area of the first district in a process (reads the "
                "national files)",
                "value": loads["first_s"],
                "unit": "s",
            }
        )
    for r in runs:
        n = r["districts"]
        full = n == 296
        rows.append(
            {
                "measure": f"wall time, {n} districts, {workers} workers",
                "value": r["seconds"],
                "unit": "s",
                "target": f"< {TARGET_S:.0f} s" if full else "",
                **({"ok": r["seconds"] < TARGET_S} if full else {}),
            }
        )
        rows.append(
            {
                "measure": f"peak memory per worker, {n} districts",
                "value": r["max_worker_peak_mb"],
                "unit": "MB",
                "target": f"< {TARGET_MB:.0f} MB",
                "ok": r["max_worker_peak_mb"] < TARGET_MB,
            }
        )
        rows.append(
            {
                "measure": f"districts per minute, {n} districts",
                "value": 60.0 * n / r["seconds"],
                "unit": "districts/min",
            }
        )
    full_runs = [r for r in runs if r["districts"] == 296]
    if full_runs:
        f = full_runs[0]
        rows += [
            {
                "measure": "England: residents within 15 min walk of a public library",
                "value": f["share_covered_15min"],
                "unit": "share (straight line x 1.4)",
            },
            {
                "measure": "England: residents in the tables / Census 2021 input",
                "value": f"{f['population_output']:,.0f} / {f['population_input']:,.0f}",
                "unit": "people",
                "target": "equal",
                "ok": abs(f["population_output"] - f["population_input"]) < 0.01,
            },
            {
                "measure": "England: LSOAs / failed districts",
                "value": f"{f['lsoas']:,} / {len(f['failed'])}",
                "unit": "",
                "target": "33,755 / 0",
                "ok": f["lsoas"] == 33_755 and not f["failed"],
            },
        ]
    return rows


def _notes(runs: list[dict[str, Any]], workers: int) -> list[str]:
    notes = [
        f"`python -m bench.bench_national` ({workers} worker processes, one thread each): "
        '`configs/england_libraries.toml` with `networks = "none"`, fresh output folder '
        "per size (organisations placed again, nothing resumed); smaller sizes take "
        "districts evenly spaced in code order and make no district maps, the full run "
        "makes 10."
    ]
    for r in runs:
        steps = ", ".join(f"{k} {v:.0f} s" for k, v in r["timings"].items())
        notes.append(
            f"{r['districts']} districts: {steps}; per district median "
            f"{r['district_seconds_median']:.1f} s, max "
            f"{r['district_seconds_max']:.1f} s; load average "
            f"{r['load_average_before']:.1f} before, {r['load_average_after']:.1f} "
            "after (the machine is shared)."
        )
    notes.append(
        "Peak memory per worker: the worker process's resident high-water mark "
        "(`VmHWM`) at the end of each of its tasks, largest over its tasks."
    )
    return notes


def _section(payload: dict[str, Any]) -> str:
    """The section docs/benchmarks.md shows for these results (bench._report's layout)."""
    parts = [
        f"## {payload['title']}",
        "",
        f"Run {payload['when']} on {payload['machine']}.",
        "",
        "| measure | value | unit | target | met |",
        "|---|---:|---|---|---|",
    ]
    for r in payload["rows"]:
        parts.append(
            f"| {r['measure']} | {_fmt(r.get('value'))} | {r.get('unit', '')} | "
            f"{r.get('target', '')} | {_fmt(r.get('ok')) if 'ok' in r else ''} |"
        )
    parts.append("")
    parts += [f"- {n}" for n in payload["notes"]]
    parts.append("")
    return "\n".join(parts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--districts", default="10,50,296", help="sizes, comma-separated")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None, help="output folder (default: temp)")
    ap.add_argument(
        "--append-doc", action="store_true", help="append the section to docs/benchmarks.md"
    )
    ap.add_argument(
        "--load-sample",
        type=int,
        default=20,
        help="districts whose load_area is timed in one process first (0: none)",
    )
    args = ap.parse_args()

    from cnmap.national import read_national_config
    from cnmap.national.inputs import english_districts

    cfg = read_national_config(CONFIG)
    cfg = dataclasses.replace(cfg, params=dataclasses.replace(cfg.params, networks="none"))
    codes = english_districts()["lad_code"].tolist()
    out = args.out or Path(tempfile.mkdtemp(prefix="cnmap-national-"))
    loads = load_times(codes, args.load_sample) if args.load_sample > 0 else None
    if loads is not None:
        print(json.dumps({"load_area": loads}))
    runs = []
    for n in (int(x) for x in args.districts.split(",")):
        sel = _sample(codes, n)
        runs.append(
            _one(
                cfg,
                sel,
                out / f"n{len(sel)}",
                args.workers,
                cfg.worst_maps if len(sel) == len(codes) else 0,
            )
        )
        print(json.dumps({k: v for k, v in runs[-1].items() if k != "timings"}, default=str))
    payload = {
        "name": "national",
        "title": TITLE,
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": machine(),
        "rows": _rows(runs, args.workers, loads),
        "notes": _notes(runs, args.workers),
        "runs": runs,
        "load_area": loads,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "national.json").write_text(json.dumps(payload, indent=2, default=str))
    if args.append_doc:
        with DOC.open("a", encoding="utf-8") as f:
            f.write("\n" + _section(payload))
    print(_section(payload))


if __name__ == "__main__":
    main()
