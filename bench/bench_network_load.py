"""Benchmark: loading a cached walk network of 10M nodes (issue 14, lazy edge geometry).

Tiles of the Birmingham network (as ``bench_coverage_scale``) are written once in the
network cache's format; then fresh processes load that file with the cache reader and
report the time and the memory the loaded network holds (resident set after the load minus
before). ``--checkout DIR`` loads it with another checkout too (e.g. an export of an older
commit, whose reader makes every edge's LineString). Run from the repository root::

    python -m bench.bench_network_load [--tiles 93] [--checkout DIR --label TEXT]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench._report import write_results

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import sys, time, json, gc
sys.path.insert(0, sys.argv[2])
from pathlib import Path
def rss():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return float(line.split()[1]) / 1024.0
from cnmap.network.io import _load_cache
import numpy, shapely
gc.collect()
before = rss()
t = time.perf_counter()
net = _load_cache(Path(sys.argv[1]))
took = time.perf_counter() - t
held = rss() - before
routing = sum(a.nbytes for a in (net.node_ids, net.x, net.y, net.indptr, net.indices, net.data,
                                 net.edge_u, net.edge_v, net.edge_length)) / 2**20
print(json.dumps({"load_s": took, "held_mb": held, "routing_mb": routing,
                  "nodes": net.n_nodes, "edges": net.n_edges}))
"""


def _write(tiles: int, target: Path) -> dict[str, Any]:
    from bench.bench_coverage_scale import tiled_network
    from cnmap.network import read_walk_network
    from cnmap.network.io import _save_cache

    mirror = Path(os.environ["CNMAP_DATA_MIRROR"])
    net = read_walk_network(mirror / "birmingham/osm/birmingham_walk_osm_2021-08.gpkg")
    big, _ = tiled_network(net, tiles)
    _save_cache(big, target)
    return {"nodes": big.n_nodes, "edges": big.n_edges, "file_mb": target.stat().st_size / 2**20}


def _load(path: Path, checkout: str | None) -> dict[str, Any]:
    code_path = checkout or str(ROOT)
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), code_path],
        check=True,
        capture_output=True,
        text=True,
        cwd=tempfile.gettempdir(),
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiles", type=int, default=93)
    ap.add_argument("--checkout")
    ap.add_argument("--label", default="before")
    args = ap.parse_args(argv)
    os.environ.setdefault("CNMAP_DATA_MIRROR", str((ROOT.parent / "shared" / "data").resolve()))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tiled.npz"
        info = _write(args.tiles, path)
        runs = {"now": _load(path, None)}
        if args.checkout:
            runs[args.label] = _load(path, args.checkout)
    tag = f"{info['nodes']:,} nodes / {info['edges']:,} edges"
    rows: list[dict[str, Any]] = [
        {"measure": f"cached file ({tag})", "value": round(info["file_mb"], 0), "unit": "MB"}
    ]
    for name, r in runs.items():
        rows += [
            {"measure": f"{name}: load time", "value": round(r["load_s"], 2), "unit": "s"},
            {
                "measure": f"{name}: memory held by the loaded network",
                "value": round(r["held_mb"], 0),
                "unit": "MB",
            },
            {
                "measure": f"{name}: of which routing arrays (node, CSR and edge arrays)",
                "value": round(r["routing_mb"], 0),
                "unit": "MB",
            },
        ]
    rows.append(
        {
            "measure": "load average (1 min) at the end",
            "value": round(os.getloadavg()[0], 2),
            "unit": "",
        }
    )
    notes = [
        "Tiles of the Birmingham network written once in the cache's format "
        "(cnmap.network.io), then loaded in fresh processes; memory held = resident set "
        "after the load minus before. 'now' keeps the edge geometries as flat coordinates "
        "(LineStrings made when a snap or a map first needs them)."
    ]
    write_results("network_load", "Loading a cached 10M-node network (issue 14)", rows, notes)
    for r in rows:
        print(f"{r['measure']}: {r['value']} {r['unit']}", flush=True)


if __name__ == "__main__":
    main()
