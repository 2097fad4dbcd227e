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

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["GroupSums", "group_sums", "weighted_median"]

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
