"""Benchmark: the whole Birmingham coverage run, cached network loaded, coverage computed.

Target (issue 3): within 10 s and 2 GB peak memory on the 2-core machine. The run is measured
in a fresh Python process (so the peak resident memory is the run's own), after one warm-up
process has filled the caches (data copied from the mirror, compact network arrays, numba's
compiled kernels). Run from the repository root::

    python -m bench.bench_coverage
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench._report import write_results

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
import cnmap
from cnmap.data import fetch
from cnmap.network import read_walk_network
t_import = time.perf_counter() - t0
mirror = sys.argv[1]
t = time.perf_counter()
area = cnmap.load_area("E08000025")
t_area = time.perf_counter() - t
t = time.perf_counter()
orgs = cnmap.read_organisations(mirror + "/birmingham/osm/warm_spaces_birmingham.geojson", area=area)
t_orgs = time.perf_counter() - t
t = time.perf_counter()
net = read_walk_network(fetch("osm_walk_network", lad_code="E08000025"))
t_net = time.perf_counter() - t
t = time.perf_counter()
r = cnmap.coverage(orgs, area, network=net, minutes=[5, 10, 15, 20], speed_kmh=4.8)
t_cov = time.perf_counter() - t
total = time.perf_counter() - t0
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"import": t_import, "area": t_area, "orgs": t_orgs, "network": t_net,
                  "coverage": t_cov, "total": total, "peak_mb": peak_mb,
                  "share15": r.share_covered(15), "n_orgs": int(len(r.organisations)),
                  "n_points": int(len(r.residents))}))
"""


def _child(env: dict[str, str], mirror: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mirror],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return {str(k): float(v) for k, v in json.loads(out.stdout.strip().splitlines()[-1]).items()}


def main() -> None:
    mirror = os.environ.get("CNMAP_DATA_MIRROR") or str((ROOT.parent / "shared" / "data").resolve())
    env = dict(os.environ, CNMAP_DATA_MIRROR=mirror, CNMAP_PROGRESS="0")
    env.setdefault("CNMAP_CACHE_DIR", tempfile.mkdtemp(prefix="cnmap_bench_"))
    # an empty numba cache too, so that the first run really compiles the kernels
    env["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="cnmap_bench_numba_")
    warm = _child(env, mirror)  # fills the caches
    runs = [_child(env, mirror) for _ in range(3)]
    best = min(runs, key=lambda r: r["total"])
    peak = max(r["peak_mb"] for r in runs)
    rows = [
        {
            "measure": "first run (empty caches: mirror copy, network build, numba compile)",
            "value": warm["total"],
            "unit": "s",
        },
        {"measure": "import cnmap + network module", "value": best["import"], "unit": "s"},
        {"measure": "load_area (cached)", "value": best["area"], "unit": "s"},
        {"measure": "read_organisations (414 warm spaces)", "value": best["orgs"], "unit": "s"},
        {
            "measure": "load walk network (cached arrays)",
            "value": best["network"],
            "unit": "s",
            "target": "< 2 s",
            "ok": best["network"] < 2.0,
        },
        {
            "measure": "coverage (35k residential points, 4 limits)",
            "value": best["coverage"],
            "unit": "s",
        },
        {
            "measure": "whole run: imports + area + organisations + network + coverage",
            "value": best["total"],
            "unit": "s",
            "target": "< 10 s",
            "ok": best["total"] < 10.0,
        },
        {
            "measure": "peak resident memory of the run",
            "value": peak,
            "unit": "MB",
            "target": "< 2,048 MB",
            "ok": peak < 2048,
        },
        {"measure": "share within 15 minutes (check)", "value": best["share15"], "unit": ""},
        {"measure": "load average (1 min) at the end", "value": os.getloadavg()[0], "unit": ""},
    ]
    notes = [
        "Each run is a fresh Python process (best of 3 after one warm-up run that fills the "
        "caches, numba's included: it starts with an empty NUMBA_CACHE_DIR); peak memory is "
        "the largest ru_maxrss of the three.",
        f"{best['n_orgs']:,.0f} warm spaces placed, {best['n_points']:,.0f} residential points "
        "(postcode centroids), Birmingham walk network 108,032 nodes.",
    ]
    write_results("coverage", "Whole Birmingham coverage run (issue 3)", rows, notes)
    for r in rows:
        print(f"{r['measure']}: {r['value']:.3f} {r['unit']}")


if __name__ == "__main__":
    main()
