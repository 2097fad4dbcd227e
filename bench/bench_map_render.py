"""Benchmark: the main command's Birmingham map in headless Chromium (issue 5).

Runs ``cnmap run configs/birmingham.toml`` into a temporary folder, then opens the HTML map in
Debian's headless Chromium (Playwright, network cut) three times and times navigation until
the default layers (share-covered LSOAs and wards) are drawn. Target: within 3 s, at most 8 MB.
Run from the repository root::

    python -m bench.bench_map_render
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench._report import write_results

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PATHS = "document.querySelectorAll('path.leaflet-interactive').length"


def main() -> None:
    from playwright.sync_api import sync_playwright

    from cnmap.cli import main as cli

    out = Path(tempfile.mkdtemp(prefix="cnmap_bench_map_"))
    t = time.perf_counter()
    assert cli(["run", str(ROOT / "configs" / "birmingham.toml"), "--out", str(out), "-q"]) == 0
    run_s = time.perf_counter() - t
    html = out / "birmingham_coverage_map.html"
    size_mb = html.stat().st_size / 1e6
    times, errors = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for _ in range(3):
            ctx = browser.new_context(viewport={"width": 1280, "height": 900}, offline=True)
            ctx.route(
                "**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort()
            )
            page = ctx.new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            t = time.perf_counter()
            page.goto(html.as_uri())
            page.wait_for_function(f"{PATHS} >= {639 + 69}", timeout=30_000)
            page.wait_for_function("document.querySelectorAll('.marker-cluster').length > 0")
            times.append(time.perf_counter() - t)
            ctx.close()
        browser.close()
    best = min(times)
    rows = [
        {
            "measure": "cnmap run configs/birmingham.toml (map, tables, figures, methods)",
            "value": run_s,
            "unit": "s",
        },
        {
            "measure": "map file size (self-contained, every layer)",
            "value": size_mb,
            "unit": "MB",
            "target": "<= 8 MB",
            "ok": size_mb <= 8.0,
        },
        {
            "measure": "Chromium: navigation to default layers and markers drawn (best of 3)",
            "value": best,
            "unit": "s",
            "target": "< 3 s",
            "ok": best < 3.0,
        },
        {"measure": "Chromium: worst of 3", "value": max(times), "unit": "s"},
        {
            "measure": "page errors",
            "value": len(errors),
            "unit": "",
            "target": "0",
            "ok": not errors,
        },
    ]
    notes = [
        "Headless Debian Chromium via Playwright, network cut (base-map tiles fail to load "
        "offline; every script and stylesheet is inlined, so the layers still draw)."
    ]
    write_results("map_render", "Main command's Birmingham map in Chromium (issue 5)", rows, notes)
    for r in rows:
        print(f"{r['measure']}: {r['value']:.3f} {r['unit']}")


if __name__ == "__main__":
    main()
