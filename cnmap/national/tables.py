"""National tables from per-resident walks: by LSOA, ward, district and IMD decile.

:func:`aggregate` makes the figures of :func:`cnmap.coverage.coverage`'s tables with the
same population-weighted sums (:func:`cnmap.aggregate.group_sums`), so a table made here from
the residents of a coverage result equals that result's table to the last digit
(``tests/test_national.py`` checks it). The national tables concatenate the districts'
residents in district order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from cnmap import columns as C
from cnmap import schema as S
from cnmap.aggregate import coverage_figures

__all__ = [
    "aggregate",
    "lsoa_table",
    "ward_table",
    "decile_table",
    "district_table",
    "totals_table",
    "stat_columns",
]


def aggregate(
    res: pd.DataFrame, key: str, thresholds: Sequence[int | float], types: Sequence[str] = ()
) -> pd.DataFrame:
    """Population-weighted coverage of residents grouped by ``key`` (index: the key).

    Columns: ``population``, ``pop_unplaced``, ``pop_covered_{T}min``,
    ``share_covered_{T}min``, ``mean_reachable_{T}min``, ``mean_walk_min``,
    ``median_walk_min`` and, per type, ``share_covered_{T}min_{type}``,
    ``mean_reachable_{T}min_{type}``, ``mean_walk_min_{type}`` (see docs/coverage.md).
    The figures are :func:`cnmap.aggregate.coverage_figures`, as in :func:`cnmap.coverage.coverage`.
    """
    return coverage_figures(res, key, thresholds, types)


def stat_columns(thresholds: Sequence[int | float], types: Sequence[str] = ()) -> list[str]:
    """The columns :func:`aggregate` makes, in order."""
    return list(aggregate(_empty(thresholds, types), C.LSOA_CODE, thresholds, types).columns)


def _empty(thresholds: Sequence[int | float], types: Sequence[str]) -> pd.DataFrame:
    cols: dict[str, Any] = {C.LSOA_CODE: pd.Series(dtype=object), S.WEIGHT: [], S.PLACED: []}
    for k in (None, *types):
        cols[S.walk_min(k)] = []
        for t in thresholds:
            cols[S.covered(t, k)] = []
            cols[S.n_reachable(t, k)] = []
    return pd.DataFrame(cols)


# ---------------------------------------------------------------------------------------------
# the national tables


def lsoa_table(
    res: pd.DataFrame, lsoas: pd.DataFrame, thresholds: Sequence[int | float], types: Sequence[str]
) -> pd.DataFrame:
    """One row per LSOA: its attributes (code, name, ward, district, IMD...) then the figures.

    ``lsoas``'s own ``population`` (the input) is replaced by the residents' sum."""
    stats = aggregate(res, C.LSOA_CODE, thresholds, types)
    base = lsoas.drop(columns=[c for c in lsoas.columns if c == C.POPULATION])
    return base.merge(stats, left_on=C.LSOA_CODE, right_index=True, how="left")


def ward_table(
    res: pd.DataFrame, wards: pd.DataFrame, thresholds: Sequence[int | float], types: Sequence[str]
) -> pd.DataFrame:
    """One row per ward (residents placed in the ward by location, as coverage does)."""
    stats = aggregate(res, C.WARD_CODE, thresholds, types)
    return wards.merge(stats, left_on=C.WARD_CODE, right_index=True, how="left")


def decile_table(
    res: pd.DataFrame, lsoas: pd.DataFrame, thresholds: Sequence[int | float], types: Sequence[str]
) -> pd.DataFrame:
    """One row per IMD decile (1 = the most deprived 10 % of LSOAs in England)."""
    dec = lsoas.set_index(C.LSOA_CODE)[S.IMD_DECILE]
    r = res.assign(**{S.IMD_DECILE: dec.reindex(res[C.LSOA_CODE]).to_numpy()})
    r = r.dropna(subset=[S.IMD_DECILE]).astype({S.IMD_DECILE: int})
    out = aggregate(r, S.IMD_DECILE, thresholds, types)
    out.insert(0, "n_lsoas", lsoas.groupby(S.IMD_DECILE).size().reindex(out.index))
    return out.reindex(pd.Index(range(1, 11), name=S.IMD_DECILE)).reset_index()


def district_table(
    res: pd.DataFrame,
    districts: pd.DataFrame,
    thresholds: Sequence[int | float],
    types: Sequence[str],
) -> pd.DataFrame:
    """One row per district: ``districts`` (status, mode, timings...) then the figures."""
    stats = (
        aggregate(res, C.LAD_CODE, thresholds, types)
        if len(res)
        else pd.DataFrame(columns=stat_columns(thresholds, types))
    )
    return districts.merge(stats, left_on=C.LAD_CODE, right_index=True, how="left")


def totals_table(
    res: pd.DataFrame, thresholds: Sequence[int | float], speed_kmh: float
) -> pd.DataFrame:
    """One row per time limit for everyone in the run (as ``CoverageResult.totals``)."""
    w = res[S.WEIGHT].to_numpy(float)
    walk = res[S.WALK_MIN].to_numpy(float)
    fin = np.isfinite(walk)
    total = float(w.sum())
    out = pd.DataFrame(
        {
            S.MINUTES: list(thresholds),
            S.METRES: [float(t) * speed_kmh * 1000.0 / 60.0 for t in thresholds],
            S.POPULATION: total,
            S.POP_COVERED: [float(w[res[S.covered(t)].to_numpy(bool)].sum()) for t in thresholds],
        }
    )
    out[S.SHARE_COVERED] = out[S.POP_COVERED] / total if total > 0 else np.nan
    out[S.MEAN_WALK_MIN] = (
        float(np.average(walk[fin], weights=w[fin])) if w[fin].sum() > 0 else np.nan
    )
    return out
