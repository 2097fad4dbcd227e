"""Benchmark: the partitioned network run on tiled networks of 1M to 20M nodes (issue 10).

The tiled Birmingham network of ``bench_coverage_scale`` (tiles 1 km apart, each joined to its
neighbours by one street, residential points and the main command's 13 organisation types
copied with them) is cut into "districts" of ``side x side`` tiles. Each district is one task
on a Dask LocalCluster of 2 worker processes (one thread each): the task computes its
residents' walks with :func:`cnmap.national.halo.halo_walks` in network mode, and no worker
ever holds the whole network: the halo's network is built inside the task from the Birmingham
network (loaded once per worker) by :class:`bench._tiles.TiledSource`, only around the
district's residents. A fresh cluster is started for each size, so each worker's memory
high-water mark (``VmHWM``) is that size's.

On the smallest size the per-resident result is compared with one ``cnmap.coverage`` call on
the whole tiled network (every column, exactly). ``--single`` also times the single-process
run at the same sizes and at 13M nodes (``bench_coverage_scale``'s fresh child process).
Run from the repository root, under the heavy-run lock::

    flock /tmp/cnmap-heavy.lock python -m bench.bench_national_network --single
    python -m bench.bench_national_network --tiles 10 --side 2      # 1M nodes only
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench._report import write_results
from bench.bench_coverage_scale import CHILD_INPUTS, MINUTES, ROOT, _grid, _run_child

SIZES = [10, 28, 93, 186]
SINGLE_EXTRA = [120]  # 13M nodes: where the single process used to be killed
_STATE: dict[str, Any] = {}


def _peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return float(line.split()[1]) / 1024.0
    return float("nan")


def _spec() -> Any:
    from cnmap.national.halo import WalkSpec

    return WalkSpec(minutes=tuple(MINUTES), speed_kmh=4.8, mode="network", max_snap_m=500.0)


def worker_inputs() -> float:
    """Load the Birmingham inputs in this process (once); the seconds it took."""
    if "area" not in _STATE:
        t = time.perf_counter()
        scope: dict[str, Any] = {"ROOT": str(ROOT)}
        exec(CHILD_INPUTS, scope)  # noqa: S102 - the fixed input-loading code of bench_coverage_scale
        _STATE.update({key: scope[key] for key in ("area", "orgs", "net", "res")})
        _STATE["load_s"] = time.perf_counter() - t
    return float(_STATE["load_s"])


def _tiled(k: int) -> tuple[Any, Any]:
    """This worker's tiled source and organisations for ``k`` tiles (kept between tasks)."""
    from bench._tiles import TiledSource
    from bench.bench_coverage_scale import tiled_points

    if _STATE.get("k") != k:
        source = TiledSource(_STATE["net"], k)
        _STATE.update(
            k=k,
            source=source,
            places=tiled_points(_STATE["orgs"], k, source.size, id_col="org_id"),
        )
    return _STATE["source"], _STATE["places"]


def partition_task(k: int, tiles: list[int], keep_rows: bool) -> dict[str, Any]:
    """One district: its tiles' residents walked on their halo, built here."""
    from bench._tiles import block_points
    from cnmap.national.halo import halo_walks

    worker_inputs()
    t = time.perf_counter()
    source, places = _tiled(k)
    people = block_points(_STATE["res"], tiles, k, source.size)
    h = halo_walks(people, places, _STATE["area"], spec=_spec(), network=source)
    frame = h.residents.set_index(people.index)
    weight = frame["weight"].to_numpy(float)
    covered = {m: float(weight[frame[f"covered_{m}min"].to_numpy(bool)].sum()) for m in MINUTES}
    return {
        "tiles": tiles,
        "seconds": time.perf_counter() - t,
        "residents": len(frame),
        "weight": float(weight.sum()),
        "covered": covered,
        "passes": [(p.radius_m, p.residents, p.organisations, p.network_nodes) for p in h.passes],
        "peak_mb": _peak_mb(),
        "pid": os.getpid(),
        "frame": frame if keep_rows else None,
    }


def districts(k: int, side: int) -> list[list[int]]:
    """Tiles grouped in blocks of ``side x side`` (by grid position), largest first."""
    col, row = _grid(k)
    key = (col // side) * 10_000 + row // side
    groups = [np.flatnonzero(key == g).tolist() for g in np.unique(key)]
    return sorted(groups, key=len, reverse=True)


def partitioned(k: int, side: int, keep_rows: bool) -> dict[str, Any]:
    """All districts of ``k`` tiles on a fresh 2-worker LocalCluster."""
    import importlib

    dd: Any = importlib.import_module("distributed")  # untyped

    # the tasks by module reference (run as __main__, they would be pickled by value, with
    # whatever this process holds in _STATE)
    import bench.bench_national_network as me

    groups = districts(k, side)
    with (
        dd.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        dd.Client(cluster) as client,
    ):
        load = client.run(me.worker_inputs)
        t = time.perf_counter()
        futures = client.map(
            me.partition_task, [k] * len(groups), groups, [keep_rows] * len(groups), pure=False
        )
        parts = client.gather(futures)
        wall = time.perf_counter() - t
        peaks = client.run(me._peak_mb)
    return {
        "tiles": k,
        "nodes": k * 108_032,
        "partitions": len(groups),
        "side": side,
        "wall_s": wall,
        "load_inputs_s": max(load.values()),
        "worker_peak_mb": sorted(peaks.values()),
        "task_s": [p["seconds"] for p in parts],
        "parts": parts,
        "loadavg": os.getloadavg()[0],
    }


def single_frame(k: int) -> pd.DataFrame:
    """Per-resident result of one ``cnmap.coverage`` call on the whole tiled network."""
    import cnmap
    from bench.bench_coverage_scale import tiled_network, tiled_points

    worker_inputs()
    big, size = tiled_network(_STATE["net"], k)
    people = tiled_points(_STATE["res"], k, size)
    places = tiled_points(_STATE["orgs"], k, size, id_col="org_id")
    r = cnmap.coverage(
        places, _STATE["area"], network=big, residents=people, minutes=MINUTES, speed_kmh=4.8
    )
    return pd.DataFrame(r.residents.drop(columns="geometry"))


def compare(whole: pd.DataFrame, parts: list[dict[str, Any]]) -> tuple[bool, str]:
    """Whether the districts' rows equal the single run's, every column, exactly."""
    split = pd.concat([p["frame"] for p in parts]).sort_index()
    if len(split) != len(whole) or not np.array_equal(split.index, whole.index):
        return False, f"{len(split)} rows against {len(whole)}"
    bad = []
    for col in whole.columns:
        x, y = whole[col].to_numpy(), split[col].to_numpy()
        same = (x == y) | (pd.isna(x) & pd.isna(y)) if x.dtype.kind in "fO" else x == y
        if not np.all(same):
            bad.append(f"{col} ({int((~same).sum())} rows)")
    return not bad, ", ".join(
        bad
    ) or f"all {len(whole.columns)} columns of {len(whole):,} residents equal"


def _summary(run: dict[str, Any]) -> dict[str, Any]:
    parts = run.pop("parts")
    weight = sum(p["weight"] for p in parts)
    passes = [p["passes"] for p in parts]
    run.update(
        residents=sum(p["residents"] for p in parts),
        share15=sum(p["covered"][15] for p in parts) / weight,
        passes=max(len(p) for p in passes),
        max_halo_nodes=max(q[3] for p in passes for q in p),
        max_task_peak_mb=max(p["peak_mb"] for p in parts),
        sum_task_s=sum(run["task_s"]),
    )
    del run["task_s"]
    return run


def _rows(results: list[dict[str, Any]], single: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for r in results:
        tag = f"{r['nodes']:,} nodes ({r['tiles']} tiles, {r['partitions']} districts of {r['side']}x{r['side']} tiles)"
        rows += [
            {
                "measure": f"{tag}: partitioned wall time (2 workers)",
                "value": round(r["wall_s"], 1),
                "unit": "s",
            },
            {
                "measure": f"{tag}: peak memory per worker",
                "value": " / ".join(f"{m:,.0f}" for m in r["worker_peak_mb"]),
                "unit": "MB",
                "target": "< 4,096 MB",
                "ok": max(r["worker_peak_mb"]) < 4096,
            },
            {
                "measure": f"{tag}: halo passes (most), largest halo network",
                "value": f"{r['passes']}, {r['max_halo_nodes']:,} nodes",
                "unit": "",
            },
            {
                "measure": f"{tag}: task time summed over districts",
                "value": round(r["sum_task_s"], 1),
                "unit": "s",
            },
            {
                "measure": f"{tag}: share within 15 min (partitioned)",
                "value": round(r["share15"], 6),
                "unit": "",
            },
        ]
        if "exact" in r:
            rows.append(
                {
                    "measure": f"{tag}: equal to the single run, per resident",
                    "value": r["exact"],
                    "unit": "",
                    "ok": r["exact_ok"],
                }
            )
        s = single.get(r["tiles"])
        if s is not None:
            rows.append(_single_row(s))
        rows.append(
            {
                "measure": f"{tag}: load average (1 min) at the end",
                "value": round(r["loadavg"], 2),
                "unit": "",
            }
        )
    for k, s in single.items():
        if k not in {r["tiles"] for r in results}:
            rows.append(_single_row(s))
    return rows


def _single_row(s: dict[str, Any]) -> dict[str, Any]:
    tag = f"{s.get('nodes', s['tiles'] * 108_032):,} nodes ({s['tiles']} tiles)"
    if "error" in s:
        return {"measure": f"{tag}: single process", "value": s["error"], "unit": "", "ok": False}
    return {
        "measure": f"{tag}: single process cnmap.coverage (time, peak, share within 15 min, load)",
        "value": f"{s['coverage_s']:.1f} s, {s['peak_mb']:,.0f} MB, {s['share15']:.6f}, load {s['load']:.2f}",
        "unit": "",
        "ok": True,
    }


def _single(k: int) -> dict[str, Any]:
    try:
        return _run_child(k, None)
    except Exception as exc:  # noqa: BLE001 - a killed child is a result here
        return {"tiles": k, "error": f"failed: {type(exc).__name__}: {str(exc)[-200:]}"}


NOTES = [
    "Districts: blocks of tiles; each task builds only its halo's part of the tiled network "
    "(bench/_tiles.py) from the Birmingham network loaded once per worker, and runs "
    "cnmap.national.halo.halo_walks in network mode (5, 10, 15, 20 minutes at 4.8 km/h, "
    "13 organisation types, snapping within 500 m). A fresh LocalCluster (2 processes, "
    "1 thread each) per size; wall time from submitting the tasks to the last result, "
    "after the workers loaded the inputs.",
    "Peak memory per worker: each worker process's VmHWM at the end of the size.",
    "Single process: bench_coverage_scale's fresh child (the coverage call only; its peak is "
    "the high-water mark during the call). The machine is shared with other work: the "
    "1-minute load average is given with each figure.",
]


def _write(results: list[dict[str, Any]], single: dict[int, dict[str, Any]]) -> None:
    write_results(
        "national_network",
        "Partitioned network run on tiled networks, against the single process (issue 10)",
        _rows(results, single),
        NOTES,
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiles", type=int, nargs="+", default=SIZES)
    ap.add_argument("--side", type=int, default=2, help="tiles per district side")
    ap.add_argument("--single", action="store_true", help="also time the single process")
    ap.add_argument("--no-write", action="store_true", help="print only")
    args = ap.parse_args(argv)
    results: list[dict[str, Any]] = []
    single: dict[int, dict[str, Any]] = {}
    for k in args.tiles:
        for e in [e for e in SINGLE_EXTRA if args.single and e < k and e not in single]:
            single[e] = _single(e)  # 13M nodes before 20M: the size the issue asks about
            print(json.dumps(single[e]), flush=True)
        check = k == min(args.tiles)
        run = partitioned(k, args.side, keep_rows=check)
        if check:
            ok, text = compare(single_frame(k), run["parts"])
            run.update(exact=text, exact_ok=ok)
            _STATE.clear()  # this process holds nothing during the larger sizes
        results.append(_summary(run))
        print(json.dumps(results[-1], default=str), flush=True)
        if args.single:
            single[k] = _single(k)
            print(json.dumps(single[k]), flush=True)
        if not args.no_write:  # after each size: a late size failing keeps the others
            _write(results, single)
    for k in [e for e in SINGLE_EXTRA if args.single and e not in single]:
        single[k] = _single(k)
        print(json.dumps(single[k]), flush=True)
        if not args.no_write:
            _write(results, single)


if __name__ == "__main__":
    main()
