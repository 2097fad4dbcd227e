"""Population-weighted aggregation of per-resident results to areas (LSOAs, wards, deciles).

Every table of people in cnmap is made the same way: residential points carry a weight
(people), and an area's figure is a weighted sum over the points it holds. :func:`group_sums`
does the grouping once; :class:`GroupSums` turns the sums into the figures:

- ``people``: people for whom a condition holds (e.g. covered within 15 minutes);
- ``per_person``: a value averaged over all the area's people (e.g. organisations reachable);
- ``mean``: a value averaged over the people for whom it is finite (e.g. the walk to the
  nearest organisation, infinite for people who cannot reach one);
- ``median``: the weighted median of a value (finite values only).

>>> s = group_sums(np.array(["a", "a", "b"]), np.array([1.0, 3.0, 2.0]),
...                people={"near": np.array([True, False, True])},
...                means={"walk": np.array([5.0, np.inf, 10.0])})
>>> s.population.tolist(), s.people("near").tolist(), s.share("near").tolist()
([4.0, 2.0], [1.0, 2.0], [0.25, 1.0])
>>> s.mean("walk").tolist()
[5.0, 10.0]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cnmap import schema as S

__all__ = ["GroupSums", "group_sums", "weighted_median", "coverage_figures"]

_KEY = "_k"
_POP = "population"


def weighted_median(keys: np.ndarray, values: np.ndarray, weights: np.ndarray) -> pd.Series:
    """Weighted median of ``values`` within each key (NaN values ignored).

    The median is the smallest value whose cumulative weight reaches half the key's total.
    """
    df = pd.DataFrame({"k": keys, "v": values, "w": weights})
    df = df[np.isfinite(df["v"]) & (df["w"] > 0)]
    if df.empty:
        return pd.Series(dtype=float)
    df = df.sort_values(["k", "v"], kind="stable")
    cum = df.groupby("k", sort=False)["w"].cumsum()
    half = df.groupby("k", sort=False)["w"].transform("sum") / 2.0
    first = df.loc[cum >= half - 1e-9].groupby("k", sort=False)["v"].first()
    return first


@dataclass(frozen=True, eq=False)
class GroupSums:
    """Weighted sums of residential points by key (:func:`group_sums`), keys sorted.

    Ratios are NaN for a key with no people (or, for ``mean``, none with a finite value).
    """

    sums: pd.DataFrame
    medians: Mapping[str, np.ndarray]

    @property
    def index(self) -> pd.Index:
        """The keys, sorted."""
        return self.sums.index

    def _sum(self, column: str) -> np.ndarray:
        values: np.ndarray = self.sums[column].to_numpy()
        return values

    @property
    def population(self) -> np.ndarray:
        """People (sum of weights) by key."""
        return self._sum(_POP)

    def people(self, name: str) -> np.ndarray:
        """People for whom the condition ``name`` holds."""
        return self._sum(f"people:{name}")

    def share(self, name: str) -> np.ndarray:
        """Share of the people for whom the condition ``name`` holds."""
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio: np.ndarray = self.people(name) / self.population
        return ratio

    def per_person(self, name: str) -> np.ndarray:
        """The value ``name`` averaged over all the key's people."""
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio: np.ndarray = self._sum(f"value:{name}") / self.population
        return ratio

    def mean(self, name: str) -> np.ndarray:
        """The value ``name`` averaged over the people for whom it is finite."""
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio: np.ndarray = self._sum(f"mean:{name}") / self._sum(f"finite:{name}")
        return ratio

    def median(self, name: str) -> np.ndarray:
        """Weighted median of the value ``name`` (finite values only)."""
        return self.medians[name]


def group_sums(keys: np.ndarray, weights: np.ndarray, *,
               people: Mapping[str, np.ndarray] | None = None,
               per_person: Mapping[str, np.ndarray] | None = None,
               means: Mapping[str, np.ndarray] | None = None,
               medians: Mapping[str, np.ndarray] | None = None) -> GroupSums:
    """Population-weighted sums of per-point values, grouped by ``keys`` (sorted).

    Parameters
    ----------
    keys
        The group of every point (LSOA code, ward code, decile...).
    weights
        People at every point.
    people
        Conditions (boolean arrays) whose people are counted.
    per_person
        Values averaged over all people (weight x value summed).
    means
        Values averaged over the people with a finite value (infinite or NaN left out).
    medians
        Values whose weighted median is taken (finite values only).

    Returns
    -------
    GroupSums
    """
    frame: dict[str, np.ndarray] = {_KEY: keys, _POP: weights}
    for name, cond in (people or {}).items():
        frame[f"people:{name}"] = np.where(cond, weights, 0.0)
    for name, value in (per_person or {}).items():
        frame[f"value:{name}"] = weights * value
    for name, value in (means or {}).items():
        fin = np.isfinite(value)
        frame[f"mean:{name}"] = np.where(fin, weights * np.where(fin, value, 0.0), 0.0)
        frame[f"finite:{name}"] = np.where(fin, weights, 0.0)
    sums = pd.DataFrame(frame).groupby(_KEY, sort=True).sum()
    meds = {name: weighted_median(keys, value, weights).reindex(sums.index).to_numpy()
            for name, value in (medians or {}).items()}
    return GroupSums(sums=sums, medians=meds)


def coverage_figures(res: pd.DataFrame, key: str, thresholds: Sequence[int | float],
                     types: Sequence[str] = ()) -> pd.DataFrame:
    """Population-weighted coverage figures of residents grouped by ``key`` (the index).

    ``res`` is a coverage result's ``residents`` table (``weight``, ``placed``,
    ``covered_{T}min``, ``n_reachable_{T}min``, ``walk_min`` and the same by type). Columns:
    ``population``, ``pop_unplaced``, ``pop_covered_{T}min``, ``share_covered_{T}min``,
    ``mean_reachable_{T}min``, ``mean_walk_min``, ``median_walk_min`` and, per type,
    ``share_covered_{T}min_{type}``, ``mean_reachable_{T}min_{type}``,
    ``mean_walk_min_{type}`` (see ``docs/coverage.md``).
    """
    people: dict[str, np.ndarray] = {S.POP_UNPLACED: ~res[S.PLACED].to_numpy(bool)}
    per_person: dict[str, np.ndarray] = {}
    for t in thresholds:
        for k in (None, *types):
            people[S.covered(t, k)] = res[S.covered(t, k)].to_numpy(bool)
            per_person[S.n_reachable(t, k)] = res[S.n_reachable(t, k)].to_numpy(float)
    walks = {S.walk_min(k): res[S.walk_min(k)].to_numpy(float) for k in (None, *types)}
    sums = group_sums(res[key].to_numpy(), res[S.WEIGHT].to_numpy(float), people=people,
                      per_person=per_person, means=walks,
                      medians={S.WALK_MIN: walks[S.WALK_MIN]})
    cols: dict[str, Any] = {S.POPULATION: sums.population,
                            S.POP_UNPLACED: sums.people(S.POP_UNPLACED)}
    for t in thresholds:
        cols[S.pop_covered(t)] = sums.people(S.covered(t))
        cols[S.share_covered(t)] = sums.share(S.covered(t))
        cols[S.mean_reachable(t)] = sums.per_person(S.n_reachable(t))
    cols[S.MEAN_WALK_MIN] = sums.mean(S.WALK_MIN)
    cols[S.MEDIAN_WALK_MIN] = sums.median(S.WALK_MIN)
    for t in thresholds:
        for k in types:
            cols[S.share_covered(t, k)] = sums.share(S.covered(t, k))
            cols[S.mean_reachable(t, k)] = sums.per_person(S.n_reachable(t, k))
    for k in types:
        cols[S.mean_walk_min(k)] = sums.mean(S.walk_min(k))
    out = pd.DataFrame(cols, index=sums.index)
    out.index.name = key
    return out
