"""Benchmark: the main command's figures and summary page, figure by figure.

Runs ``cnmap run configs/birmingham.toml`` once into a temporary folder and keeps its results
(coverage, thin areas, who is served, the organisation lists read); then, in fresh processes,
draws every figure of the run (:func:`cnmap.pipeline._figure_makers`, in the run's order) and
saves it as PNG and PDF (:func:`cnmap.maps.save_figure`), timing the drawing, the PNG and the
PDF of each, and writes the summary page (:func:`cnmap.summary.write_summary`, HTML and PDF).
A round is the whole figures step as a run does it (every figure once, the shared map paths
made afresh) and the summary page; each process does a first round (imports, fonts) and one
timed round, and ``--repeat`` processes give each measure's best. ``--checkout DIR`` times
another checkout too (``PYTHONPATH=DIR``, e.g. an export of an older commit) on the same
results, its processes taking turns with this checkout's so that both meet the same load.
Target: each figure (drawing, PNG and PDF) within 1 s. Needs the data mirror
(``CNMAP_DATA_MIRROR``); ``--inputs`` reuses the results pickled by an earlier run. Run from
the repository root::

    python -m bench.bench_figures [--repeat 3] [--checkout DIR --label "before"]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._report import write_results

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 1.0


#: What was changed, tried and left (measured while making the change, CPU time of the
#: seven figures at a load average of 4 to 9 on the 2-core machine).
FINDINGS = [
    "Kept: the LSOA and ward paths are made once per run and shared between the maps "
    "(cnmap.maps._figure_shapes; see the drawing column); PNGs are written as RGB at zlib "
    "level 1 (half the encoding time; files about 5% smaller); PDF streams at zlib level 1 "
    "(0.74 s instead of 0.84 s for the seven PDFs; files about 13% larger). Every PNG has "
    "the same pixels as before and every PDF the same page content (streams compared "
    "decompressed).",
    "Tried, not kept: the polygon layers rasterised in the PDF (1.32 s instead of 0.93 s "
    "for the seven PDFs, three times the size); rings simplified below half a pixel (the "
    "boundaries are already generalised: under 10% fewer vertices, no measurable gain, edge "
    "pixels moved); the PNG encoded in a thread while the PDF is drawn, and the figures "
    "drawn in two forked processes (no gain at this machine's load); unhinted text (nearly a "
    "quarter less Agg time, but every glyph changes and lines come out wider than the "
    "wrapping measured).",
    "Left: text is about 60% of the Agg drawing and half of the PDF time (matplotlib 3.11 "
    "lays out and renders each glyph, hinted, one by one), so the 1.5 s goal for the step "
    "is not met with the same pages. The summary page is mostly headless Chromium's print "
    "(about 1 s; no flag tried made it faster); its code is not changed, so its two rows "
    "differ by Chromium's run-to-run spread. In a run's first figures, wrapping the "
    "titles and notes (cnmap.maps._figure_page.wrap_text measures each trial line anew) "
    "adds a few tenths of a second.",
]


def _inputs(work: Path) -> Path:
    """Run the main command once and pickle what the figures and the summary page need."""
    from cnmap.pipeline import load_config, run

    config = dataclasses.replace(
        load_config(ROOT / "configs" / "birmingham.toml"), out_dir=work / "run"
    )
    r = run(config)
    keep = {k: r[k] for k in ("coverage", "thin", "who_is_served", "summary", "rejected")}
    path = work / "inputs.pkl"
    path.write_bytes(pickle.dumps(keep))
    return path


def _round(inputs: dict[str, Any], out: Path) -> dict[str, float]:
    """One figures step and one summary page; seconds per measure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cnmap.maps import save_figure
    from cnmap.pipeline import _figure_makers
    from cnmap.summary import write_summary

    cov, thin = inputs["coverage"], inputs["thin"]
    try:  # each round makes the shared map paths afresh, as a run does
        from cnmap.maps._figure_shapes import clear_cache
    except ImportError:  # a checkout without them
        pass
    else:
        clear_cache()
    times: dict[str, float] = {}
    t_step, cpu_step = time.perf_counter(), time.process_time()
    for name, make in _figure_makers(cov, thin, inputs["who_is_served"]).items():
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        fig = make()
        t1 = time.perf_counter()
        save_figure(fig, out / "figures" / name, formats=("png",))
        t2 = time.perf_counter()
        save_figure(fig, out / "figures" / name, formats=("pdf",))
        t3 = time.perf_counter()
        plt.close(fig)
        times.update({f"{name}|make": t1 - t0, f"{name}|png": t2 - t1, f"{name}|pdf": t3 - t2})
        times[f"{name}|total"] = t3 - t0
        times[f"{name}|cpu"] = time.process_time() - cpu0
    times["figures step"] = time.perf_counter() - t_step
    times["figures step cpu"] = time.process_time() - cpu_step
    t0 = time.perf_counter()
    write_summary(
        out,
        cov,
        thin,
        org_summary=inputs["summary"],
        rejected=inputs["rejected"],
        figures_dir=out / "figures",
    )
    times["summary page"] = time.perf_counter() - t0
    return times


def _worker(pkl: Path, repeat: int) -> None:
    """Time ``repeat`` rounds (after one not timed); print the best of each measure as JSON."""
    inputs = pickle.loads(pkl.read_bytes())
    out = Path(tempfile.mkdtemp(prefix="cnmap_bench_figures_"))
    first = _round(inputs, out)
    rounds = [_round(inputs, out) for _ in range(repeat)]
    best = {k: min(r[k] for r in rounds) for k in rounds[0]}
    sizes = {p.name: p.stat().st_size for p in (out / "figures").iterdir()}
    import cnmap

    print(
        json.dumps(
            {
                "best": best,
                "first": first,
                "sizes": sizes,
                "load": os.getloadavg()[0],
                "cnmap": cnmap.__file__,
            }
        )
    )


def _measure(pkl: Path, pythonpath: str | None) -> dict[str, Any]:
    """One worker process (one round not timed, one timed) with ``pythonpath``'s cnmap."""
    # the checkout's cnmap first; this folder for the bench package (and cnmap when "now")
    path = os.pathsep.join([pythonpath or str(ROOT), str(ROOT)])
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=path)
    cmd = [sys.executable, "-m", "bench.bench_figures", "--worker", str(pkl), "--repeat", "1"]
    done = subprocess.run(cmd, env=env, cwd=pkl.parent, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _measure_sides(
    pkl: Path, repeat: int, sides: dict[str, str | None]
) -> dict[str, dict[str, Any]]:
    """``repeat`` worker processes per side, the sides taking turns (so that both meet the
    same load on a shared machine); per side the best of each measure and the loads."""
    runs: dict[str, list[dict[str, Any]]] = {tag: [] for tag in sides}
    for _ in range(repeat):
        for tag, pythonpath in sides.items():
            runs[tag].append(_measure(pkl, pythonpath))
    out = {}
    for tag, rs in runs.items():
        out[tag] = {
            "best": {k: min(r["best"][k] for r in rs) for k in rs[0]["best"]},
            "first": {k: min(r["first"][k] for r in rs) for k in rs[0]["first"]},
            "sizes": rs[-1]["sizes"],
            "loads": [r["load"] for r in rs],
            "cnmap": rs[-1]["cnmap"],
        }
    return out


def _rows(tag: str, res: dict[str, Any], repeat: int) -> list[dict[str, Any]]:
    best = res["best"]
    names = [k.split("|")[0] for k in best if k.endswith("|total")]
    rows: list[dict[str, Any]] = []
    for name in names:
        total = best[f"{name}|total"]
        rows.append(
            {
                "measure": f"{tag}: {name}: drawing / PNG / PDF (best of {repeat} processes)",
                "value": f"{best[f'{name}|make']:.2f} / {best[f'{name}|png']:.2f} / "
                f"{best[f'{name}|pdf']:.2f}",
                "unit": "s",
            }
        )
        rows.append(
            {
                "measure": f"{tag}: {name}: drawing + PNG + PDF (CPU time: "
                f"{best[f'{name}|cpu']:.2f} s)",
                "value": round(total, 3),
                "unit": "s",
                "target": f"<= {TARGET_S:g} s",
                "ok": total <= TARGET_S,
            }
        )
    png = sum(v for k, v in res["sizes"].items() if k.endswith(".png")) / 1e6
    pdf = sum(v for k, v in res["sizes"].items() if k.endswith(".pdf")) / 1e6
    rows += [
        {
            "measure": f"{tag}: the figures step ({len(names)} figures, best of {repeat})",
            "value": round(best["figures step"], 3),
            "unit": "s",
            "target": "<= 1.5 s (goal)",
            "ok": best["figures step"] <= 1.5,
        },
        {
            "measure": f"{tag}: the figures step, CPU time of the process (best of {repeat})",
            "value": round(best["figures step cpu"], 3),
            "unit": "s",
        },
        {
            "measure": f"{tag}: the figures step in a process's first round (imports, fonts; best)",
            "value": round(res["first"]["figures step"], 3),
            "unit": "s",
        },
        {
            "measure": f"{tag}: summary page (HTML + PDF, best of {repeat})",
            "value": round(best["summary page"], 3),
            "unit": "s",
        },
        {
            "measure": f"{tag}: files written, PNG / PDF",
            "value": f"{png:.2f} / {pdf:.2f}",
            "unit": "MB",
        },
        {
            "measure": f"{tag}: load averages (1 min) at the end of each process",
            "value": ", ".join(f"{v:.2f}" for v in res["loads"]),
        },
    ]
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--checkout", help="also time the figures with this checkout")
    ap.add_argument("--label", default="before", help="name of the --checkout rows")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--inputs", help="a pickle of the run's results made by an earlier run")
    args = ap.parse_args(argv)
    if args.worker:
        _worker(Path(args.worker), args.repeat)
        return
    os.environ.setdefault("CNMAP_DATA_MIRROR", str((ROOT.parent / "shared" / "data").resolve()))
    pkl = Path(args.inputs) if args.inputs else _inputs(Path(tempfile.mkdtemp(prefix="cnmap_")))
    rows: list[dict[str, Any]] = []
    load0 = os.getloadavg()[0]
    sides: dict[str, str | None] = {args.label: args.checkout} if args.checkout else {}
    sides["now"] = None
    for tag, res in _measure_sides(pkl, args.repeat, sides).items():
        rows += _rows(tag, res, args.repeat)
    rows.append({"measure": "load average (1 min) at the start", "value": round(load0, 2)})
    cov = pickle.loads(pkl.read_bytes())["coverage"]
    notes = [
        "The figures of cnmap run configs/birmingham.toml (IoD2025, 2021 LSOAs: "
        f"{len(cov.lsoas):,} LSOAs, {len(cov.wards):,} wards, {len(cov.organisations):,} "
        "organisations; minutes 5/10/15/20), drawn from that run's results in a fresh "
        "process; one round = every figure drawn, saved as PNG (300 dpi) and PDF, then the "
        "summary page (HTML, PDF by headless Chromium). Each process does a first round "
        "(not timed, but its figures step is given) and one timed round; each measure is its "
        "best over the processes, the two checkouts' processes taking turns. Wall-clock "
        "seconds unless CPU time is said. The machine is shared (2 cores): see the load "
        "averages.",
    ]
    notes += FINDINGS
    if args.checkout:
        notes.append(f"'{args.label}': the same with PYTHONPATH={args.checkout}.")
    write_results("figures", "Figures and summary page of the main command", rows, notes)
    for r in rows:
        print(f"{r['measure']}: {r['value']} {r.get('unit', '')}", flush=True)


if __name__ == "__main__":
    main()
