"""Benchmark: read and geocode a 100,000-row organisations CSV by postcode (target < 5 s).

Run from the repository root: ``python -m bench.bench_read_organisations``.

The CSV is built in a temporary folder from real postcodes of the ONS postcode lookup (through
``cnmap.data.load_postcodes``, i.e. the cache or the ``CNMAP_DATA_MIRROR`` offline mirror):
mixed spellings ("B1 1AA", "b11aa", "  B1 1AA", lower case) and 1% bad rows (malformed,
unknown, no coordinates, blank). The timed call is the whole user-facing job —
``read_organisations(path)``: decode and parse the CSV, load the postcode lookup from the
mirror, normalise, geocode, build the GeoDataFrame — best of 3 runs.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bench._report import ROOT, write_results

N_ROWS = 100_000
TARGET_S = 5.0


def _ensure_mirror() -> None:
    if not os.environ.get("CNMAP_DATA_MIRROR"):
        shared = ROOT.parent / "shared" / "data"
        if shared.is_dir():
            os.environ["CNMAP_DATA_MIRROR"] = str(shared.resolve())
    os.environ.setdefault("CNMAP_PROGRESS", "0")


def build_csv(
    path: Path, lookup: pd.DataFrame, *, n: int = N_ROWS, seed: int = 7
) -> dict[str, int]:
    """Write the benchmark CSV; returns the number of deliberately bad rows per reason."""
    rng = np.random.default_rng(seed)
    good = lookup.loc[lookup["lat"].notna(), "postcode"].to_numpy(dtype=str)
    no_xy = lookup.loc[lookup["lat"].isna(), "postcode"].to_numpy(dtype=str)
    pcs = rng.choice(good, size=n).astype(object)
    style = rng.integers(0, 4, size=n)
    pcs = np.where(style == 1, np.char.lower(pcs.astype(str)), pcs)
    pcs = np.where(style == 2, np.char.replace(pcs.astype(str), " ", ""), pcs)
    pcs = np.where(style == 3, np.char.add("  ", pcs.astype(str)), pcs).astype(object)
    order = rng.permutation(n)
    k = n // 100  # 1% bad rows
    bad = {
        "malformed_postcode": order[: k // 2],
        "unknown_postcode": order[k // 2 : k // 2 + k // 4],
        "postcode_without_coordinates": order[k // 2 + k // 4 : k // 2 + k // 4 + k // 8],
        "missing_coordinates": order[k // 2 + k // 4 + k // 8 : k],
    }
    pcs[bad["malformed_postcode"]] = "B1"
    pcs[bad["unknown_postcode"]] = "B99 9ZZ"
    pcs[bad["postcode_without_coordinates"]] = rng.choice(
        no_xy, size=len(bad["postcode_without_coordinates"])
    )
    pcs[bad["missing_coordinates"]] = ""
    kinds = np.array(["food bank", "faith", "community centre", "library", "youth"])
    services = np.array(
        ["food; advice", "warm space", "food and drink, warm space", "", "debt advice | benefits"]
    )
    frame = pd.DataFrame(
        {
            "id": [f"ORG{i:06d}" for i in range(n)],
            "name": [f"Organisation {i}" for i in range(n)],
            "type": kinds[rng.integers(0, len(kinds), size=n)],
            "services": services[rng.integers(0, len(services), size=n)],
            "postcode": pcs,
        }
    )
    frame.to_csv(path, index=False)
    return {key: len(v) for key, v in bad.items()}


def main() -> None:
    _ensure_mirror()
    from cnmap.data import load_postcodes
    from cnmap.io import read_organisations

    lookup = load_postcodes()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "organisations_100k.csv"
        bad = build_csv(path, lookup)
        size_mb = path.stat().st_size / 1e6

        full, warm = [], []
        res = None
        for _ in range(3):
            t0 = time.perf_counter()
            res = read_organisations(path)  # loads the postcode lookup itself
            full.append(time.perf_counter() - t0)
        for _ in range(3):
            t0 = time.perf_counter()
            read_organisations(path, postcodes=lookup)
            warm.append(time.perf_counter() - t0)
        assert res is not None
        reasons = res.rejected["reason"].value_counts().to_dict()
        if reasons != bad or res.n_matched != N_ROWS - sum(bad.values()):
            raise RuntimeError(f"unexpected outcome: {reasons} vs {bad}, matched {res.n_matched}")

        t0 = time.perf_counter()
        lk = load_postcodes()
        t_lookup = time.perf_counter() - t0

    best_full, best_warm = min(full), min(warm)
    rows = [
        {
            "measure": f"read_organisations, {N_ROWS:,}-row CSV by postcode (incl. CSV parse and postcode lookup load), best of 3",
            "value": round(best_full, 3),
            "unit": "s",
            "target": f"< {TARGET_S:g} s",
            "ok": best_full < TARGET_S,
        },
        {
            "measure": "same, postcode lookup already in memory (postcodes=)",
            "value": round(best_warm, 3),
            "unit": "s",
            "target": "",
            "ok": best_warm < TARGET_S,
        },
        {
            "measure": "postcode lookup load (cnmap.data.load_postcodes)",
            "value": round(t_lookup, 3),
            "unit": "s",
            "target": "",
        },
        {
            "measure": "rows per second (full job)",
            "value": round(N_ROWS / best_full),
            "unit": "rows/s",
            "target": "",
        },
        {
            "measure": "match rate",
            "value": round(res.match_rate, 4),
            "unit": "share",
            "target": "0.99 (1% bad by design)",
            "ok": abs(res.match_rate - 0.99) < 1e-9,
        },
    ]
    notes = [
        f"CSV {size_mb:.1f} MB, {N_ROWS:,} rows of real postcodes ({lk.attrs.get('source', 'ONS postcode lookup')}, "
        f"{len(lk):,} postcodes) in mixed spellings; 1% bad rows by design: {bad}.",
        f"All runs (s): full {[round(t, 3) for t in full]}, lookup in memory {[round(t, 3) for t in warm]}.",
    ]
    write_results(
        "read_organisations",
        "Reading and geocoding organisations (cnmap.io.read_organisations)",
        rows,
        notes,
    )
    for r in rows:
        print(f"{r['measure']}: {r['value']} {r['unit']}")


if __name__ == "__main__":
    main()
