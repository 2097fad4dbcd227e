"""National tables from per-resident walks: by LSOA, ward, district and IMD decile.

:func:`aggregate` is the population-weighted sum that :func:`cnmap.coverage.coverage` makes
of its residents, with the same arithmetic in the same order (grouped sums of the same
per-resident terms), so a table made here from the residents of a coverage result equals
that result's table to the last digit (``tests/test_national.py`` checks it). The national
tables concatenate the districts' residents in district order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from cnmap import columns as C
from cnmap.coverage import weighted_median

__all__ = [
    "aggregate",
    "lsoa_table",
    "ward_table",
    "decile_table",
    "district_table",
    "totals_table",
    "stat_columns",
]


def _terms(res: pd.DataFrame, key: str, thresholds: Sequence[int | float],
           types: Sequence[str]) -> pd.DataFrame:
    """The per-resident terms summed by group."""
    w = res["weight"].to_numpy(float)
    frame: dict[str, Any] = {"_k": res[key].to_numpy(), "population": w}
    placed = res["placed"].to_numpy(bool)
    frame["pop_unplaced"] = np.where(placed, 0.0, w)
    for t in thresholds:
        frame[f"pop_covered_{t}min"] = np.where(res[f"covered_{t}min"].to_numpy(bool), w, 0.0)
        frame[f"_nw_{t}"] = w * res[f"n_reachable_{t}min"].to_numpy(float)
        for k in types:
            frame[f"_cov_{t}_{k}"] = np.where(res[f"covered_{t}min_{k}"].to_numpy(bool), w, 0.0)
            frame[f"_nw_{t}_{k}"] = w * res[f"n_reachable_{t}min_{k}"].to_numpy(float)
    walk = res["walk_min"].to_numpy(float)
    fin = np.isfinite(walk)
    frame["_ww"] = np.where(fin, w * np.where(fin, walk, 0.0), 0.0)
    frame["_wf"] = np.where(fin, w, 0.0)
    for k in types:
        wk = res[f"walk_min_{k}"].to_numpy(float)
        fk = np.isfinite(wk)
        frame[f"_ww_{k}"] = np.where(fk, w * np.where(fk, wk, 0.0), 0.0)
        frame[f"_wf_{k}"] = np.where(fk, w, 0.0)
    return pd.DataFrame(frame)


def aggregate(res: pd.DataFrame, key: str, thresholds: Sequence[int | float],
              types: Sequence[str] = ()) -> pd.DataFrame:
    """Population-weighted coverage of residents grouped by ``key`` (index: the key).

    Columns: ``population``, ``pop_unplaced``, ``pop_covered_{T}min``,
    ``share_covered_{T}min``, ``mean_reachable_{T}min``, ``mean_walk_min``,
    ``median_walk_min`` and, per type, ``share_covered_{T}min_{type}``,
    ``mean_reachable_{T}min_{type}``, ``mean_walk_min_{type}`` (see docs/coverage.md).
    """
    sums = _terms(res, key, thresholds, types).groupby("_k", sort=True).sum()
    pop = sums["population"].to_numpy()
    cols: dict[str, Any] = {"population": pop, "pop_unplaced": sums["pop_unplaced"].to_numpy()}
    walk = res["walk_min"].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        for t in thresholds:
            cols[f"pop_covered_{t}min"] = sums[f"pop_covered_{t}min"].to_numpy()
            cols[f"share_covered_{t}min"] = sums[f"pop_covered_{t}min"].to_numpy() / pop
            cols[f"mean_reachable_{t}min"] = sums[f"_nw_{t}"].to_numpy() / pop
        cols["mean_walk_min"] = sums["_ww"].to_numpy() / sums["_wf"].to_numpy()
        cols["median_walk_min"] = weighted_median(
            res[key].to_numpy(), walk, res["weight"].to_numpy(float)
        ).reindex(sums.index).to_numpy()
        for t in thresholds:
            for k in types:
                cols[f"share_covered_{t}min_{k}"] = sums[f"_cov_{t}_{k}"].to_numpy() / pop
                cols[f"mean_reachable_{t}min_{k}"] = sums[f"_nw_{t}_{k}"].to_numpy() / pop
        for k in types:
            cols[f"mean_walk_min_{k}"] = sums[f"_ww_{k}"].to_numpy() / sums[f"_wf_{k}"].to_numpy()
    out = pd.DataFrame(cols, index=sums.index)
    out.index.name = key
    return out


def stat_columns(thresholds: Sequence[int | float], types: Sequence[str] = ()) -> list[str]:
    """The columns :func:`aggregate` makes, in order."""
    return list(aggregate(_empty(thresholds, types), C.LSOA_CODE, thresholds, types).columns)


def _empty(thresholds: Sequence[int | float], types: Sequence[str]) -> pd.DataFrame:
    cols: dict[str, Any] = {C.LSOA_CODE: pd.Series(dtype=object), "weight": [], "placed": [],
                            "walk_min": []}
    for t in thresholds:
        cols[f"covered_{t}min"] = []
        cols[f"n_reachable_{t}min"] = []
        for k in types:
            cols[f"covered_{t}min_{k}"] = []
            cols[f"n_reachable_{t}min_{k}"] = []
    for k in types:
        cols[f"walk_min_{k}"] = []
    return pd.DataFrame(cols)


# ---------------------------------------------------------------------------------------------
# the national tables


def lsoa_table(res: pd.DataFrame, lsoas: pd.DataFrame, thresholds: Sequence[int | float],
               types: Sequence[str]) -> pd.DataFrame:
    """One row per LSOA: its attributes (code, name, ward, district, IMD...) then the figures.

    ``lsoas``'s own ``population`` (the input) is replaced by the residents' sum."""
    stats = aggregate(res, C.LSOA_CODE, thresholds, types)
    base = lsoas.drop(columns=[c for c in lsoas.columns if c == C.POPULATION])
    return base.merge(stats, left_on=C.LSOA_CODE, right_index=True, how="left")


def ward_table(res: pd.DataFrame, wards: pd.DataFrame, thresholds: Sequence[int | float],
               types: Sequence[str]) -> pd.DataFrame:
    """One row per ward (residents placed in the ward by location, as coverage does)."""
    stats = aggregate(res, C.WARD_CODE, thresholds, types)
    return wards.merge(stats, left_on=C.WARD_CODE, right_index=True, how="left")


def decile_table(res: pd.DataFrame, lsoas: pd.DataFrame, thresholds: Sequence[int | float],
                 types: Sequence[str]) -> pd.DataFrame:
    """One row per IMD decile (1 = the most deprived 10 % of LSOAs in England)."""
    dec = lsoas.set_index(C.LSOA_CODE)["imd_decile"]
    r = res.assign(imd_decile=dec.reindex(res[C.LSOA_CODE]).to_numpy())
    r = r.dropna(subset=["imd_decile"]).astype({"imd_decile": int})
    out = aggregate(r, "imd_decile", thresholds, types)
    out.insert(0, "n_lsoas", lsoas.groupby("imd_decile").size().reindex(out.index))
    return out.reindex(pd.Index(range(1, 11), name="imd_decile")).reset_index()


def district_table(res: pd.DataFrame, districts: pd.DataFrame,
                   thresholds: Sequence[int | float], types: Sequence[str]) -> pd.DataFrame:
    """One row per district: ``districts`` (status, mode, timings...) then the figures."""
    stats = aggregate(res, C.LAD_CODE, thresholds, types) if len(res) else \
        pd.DataFrame(columns=stat_columns(thresholds, types))
    return districts.merge(stats, left_on=C.LAD_CODE, right_index=True, how="left")


def totals_table(res: pd.DataFrame, thresholds: Sequence[int | float],
                 speed_kmh: float) -> pd.DataFrame:
    """One row per time limit for everyone in the run (as ``CoverageResult.totals``)."""
    w = res["weight"].to_numpy(float)
    walk = res["walk_min"].to_numpy(float)
    fin = np.isfinite(walk)
    total = float(w.sum())
    out = pd.DataFrame({
        "minutes": list(thresholds),
        "metres": [float(t) * speed_kmh * 1000.0 / 60.0 for t in thresholds],
        "population": total,
        "pop_covered": [float(w[res[f"covered_{t}min"].to_numpy(bool)].sum())
                        for t in thresholds],
    })
    out["share_covered"] = out["pop_covered"] / total if total > 0 else np.nan
    out["mean_walk_min"] = (float(np.average(walk[fin], weights=w[fin]))
                            if w[fin].sum() > 0 else np.nan)
    return out
