"""Benchmark: the README's main command, cold (numba's cache emptied) and warm (issue 14).

Runs ``cnmap run configs/birmingham.toml`` into a temporary folder:

- cold: with ``NUMBA_CACHE_DIR`` set to a new, empty folder, so every walking kernel the run
  uses is compiled in the run; once as ``bash scripts/main.sh`` (whose set-up compiles all
  the kernels first, then the run starts warm) and once as ``cnmap run`` alone (the run
  compiles the kernels it needs);
- warm: the same again with that folder filled, best and median of ``--repeat`` runs.

Each run's step times come from its ``run.json``. ``--checkout DIR`` also times the
command on another checkout (``PYTHONPATH=DIR``, e.g. an export of an older commit) side by
side. Run from the repository root::

    python -m bench.bench_main_command [--repeat 3] [--checkout DIR --label "before"]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._report import write_results

ROOT = Path(__file__).resolve().parents[1]
STEPS = ("coverage", "summary page", "tables", "map", "figures")


def _run(cmd: list[str], env: dict[str, str], out: Path) -> dict[str, Any]:
    load = os.getloadavg()[0]
    t = time.perf_counter()
    subprocess.run(
        cmd + ["--out", str(out), "-q"],
        env=env,
        check=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - t
    steps = {s["step"]: s["seconds"] for s in json.loads((out / "run.json").read_text())["steps"]}
    return {"wall": wall, "steps": steps, "load": load}


def _series(
    tag: str, cmd: list[str], env: dict[str, str], repeat: int, main_sh: bool
) -> list[dict[str, Any]]:
    """Cold run(s) then warm runs of one command; returns the table rows."""
    work = Path(tempfile.mkdtemp(prefix="cnmap_bench_main_"))
    env = dict(env, NUMBA_CACHE_DIR=str(work / "numba"))
    rows = []
    if main_sh:
        cold_sh = _run(["bash", "scripts/main.sh"], env, work / "sh")
        rows.append(
            {
                "measure": f"{tag}: cold, bash scripts/main.sh (its set-up checks .venv and "
                "compiles every kernel once, then the run; the issue's cold figure is the "
                "run alone, below)",
                "value": round(cold_sh["wall"], 2),
                "unit": "s",
                "target": "",
                "ok": None,
            }
        )
        rows.append(
            {
                "measure": f"{tag}: load average (1 min) at its start",
                "value": round(cold_sh["load"], 2),
                "unit": "",
            }
        )
        env = dict(env, NUMBA_CACHE_DIR=str(work / "numba2"))
    cold = _run(cmd, env, work / "cold")
    rows.append(
        {
            "measure": f"{tag}: cold, cnmap run alone (compiles the kernels it uses)",
            "value": round(cold["wall"], 2),
            "unit": "s",
            "target": "<= 12 s",
            "ok": cold["wall"] <= 12.0,
        }
    )
    rows.append(
        {
            "measure": f"{tag}: load average (1 min) at its start",
            "value": round(cold["load"], 2),
            "unit": "",
        }
    )
    warm = [_run(cmd, env, work / f"warm{i}") for i in range(repeat)]
    walls = [w["wall"] for w in warm]
    rows.append(
        {
            "measure": f"{tag}: warm, best / median of {repeat}",
            "value": f"{min(walls):.2f} / {statistics.median(walls):.2f}",
            "unit": "s",
            "target": "<= 8 s",
            "ok": min(walls) <= 8.0,
        }
    )
    best = min(warm, key=lambda w: w["wall"])
    for step in STEPS:
        vals = [w["steps"].get(step, float("nan")) for w in warm]
        rows.append(
            {
                "measure": f"{tag}: warm, step '{step}' (best run / median)",
                "value": f"{best['steps'].get(step, float('nan')):.2f} / "
                f"{statistics.median(vals):.2f}",
                "unit": "s",
            }
        )
    rows.append(
        {
            "measure": f"{tag}: load averages (1 min) at the warm runs' starts",
            "value": ", ".join(f"{w['load']:.2f}" for w in warm),
            "unit": "",
        }
    )
    rows.append(
        {
            "measure": f"{tag}: cold run's step 'coverage' (kernels compiled in it)",
            "value": round(cold["steps"].get("coverage", float("nan")), 2),
            "unit": "s",
        }
    )
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--checkout", help="also time the command on this checkout")
    ap.add_argument("--label", default="before", help="name of the --checkout rows")
    args = ap.parse_args(argv)
    env = dict(os.environ, CNMAP_PROGRESS="0")
    env.setdefault("CNMAP_DATA_MIRROR", str((ROOT.parent / "shared" / "data").resolve()))
    cnmap = str(ROOT / ".venv" / "bin" / "cnmap")
    cmd = [cnmap, "run", str(ROOT / "configs" / "birmingham.toml")]
    rows: list[dict[str, Any]] = []
    if args.checkout:
        rows += _series(
            args.label, cmd, dict(env, PYTHONPATH=args.checkout), args.repeat, main_sh=False
        )
    rows += _series("now", cmd, env, args.repeat, main_sh=True)
    notes = [
        "cnmap run configs/birmingham.toml (IoD2025, 2021 LSOAs, 446 organisations of 13 "
        "types, minutes 5/10/15/20) into a temporary folder; 'cold' has an empty "
        "NUMBA_CACHE_DIR, 'warm' reuses it. The machine is shared (2 cores): the load "
        "average is given with each figure.",
        "Steps other than coverage (tables, map, figures) are other parts of the code; they "
        "are listed to show where a warm run's time goes. The figures are drawn in a second "
        "process and the summary PDF is printed by Chromium while the tables and the map are "
        "written: 'summary page' writes the page and starts the PDF, 'figures' is the time "
        "the run then waits for the drawings. The console script ends without the "
        "interpreter's teardown (cnmap.cli.console), which saves about 0.5 s.",
        "Earlier runs of this bench (same machine): at commit 16b88ef warm 13.23 s, cold "
        "22.8 s; at commit 54dd9a7 (2026-12-01 01:07 UTC) warm 13.13 s, cold 16.24 s; at "
        "commit 328bc02 (02:40 UTC, before the quick exit) warm 8.55 s, cold 12.79 s. The "
        "command has since gained six need-layer columns and map layers "
        "([output] need_columns).",
    ]
    if args.checkout:
        notes.append(f"'{args.label}': the same command with PYTHONPATH={args.checkout}.")
    write_results("main_command", "Main command cold and warm (issue 14)", rows, notes)
    for r in rows:
        print(f"{r['measure']}: {r['value']} {r['unit']}", flush=True)


if __name__ == "__main__":
    main()
