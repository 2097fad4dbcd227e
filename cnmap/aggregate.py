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

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from cnmap import schema as S

__all__ = [
    "GroupSums",
    "group_sums",
    "group_sums_by",
    "weighted_median",
    "coverage_figures",
    "coverage_figures_by",
]

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


#: Derived per-point columns summed at once: bounds the memory of a grouping to this many
#: columns of the points (the sums of a column do not depend on the other columns).
BATCH_COLUMNS = 8


@dataclass(frozen=True)
class _Keys:
    """A grouping key factorised once: sorted unique keys and each point's code (-1: none)."""

    codes: np.ndarray
    uniques: np.ndarray

    @classmethod
    def of(cls, keys: np.ndarray) -> _Keys:
        codes, uniques = pd.factorize(np.asarray(keys), sort=True)
        return cls(codes=np.asarray(codes, dtype=np.int64), uniques=np.asarray(uniques))

    def grouper(self) -> pd.Categorical:
        """The codes as a categorical (points without a key left out of every group)."""
        return pd.Categorical.from_codes(self.codes, categories=pd.Index(self.uniques))

    def index(self) -> pd.Index:
        return pd.Index(self.uniques)


def _people_col(cond: np.ndarray, weights: np.ndarray) -> np.ndarray:
    out: np.ndarray = np.where(cond, weights, 0.0)
    return out


def _value_col(value: np.ndarray, weights: np.ndarray) -> np.ndarray:
    out: np.ndarray = weights * value
    return out


def _mean_col(value: np.ndarray, weights: np.ndarray) -> np.ndarray:
    fin = np.isfinite(value)
    out: np.ndarray = np.where(fin, weights * np.where(fin, value, 0.0), 0.0)
    return out


def _finite_col(value: np.ndarray, weights: np.ndarray) -> np.ndarray:
    out: np.ndarray = np.where(np.isfinite(value), weights, 0.0)
    return out


def _derived(
    weights: np.ndarray,
    people: Mapping[str, np.ndarray],
    per_person: Mapping[str, np.ndarray],
    means: Mapping[str, np.ndarray],
) -> list[tuple[str, Callable[[], np.ndarray]]]:
    """The per-point columns whose sums make the figures, each made only when summed."""
    cols: list[tuple[str, Callable[[], np.ndarray]]] = [(_POP, partial(np.asarray, weights))]
    cols += [(f"people:{n}", partial(_people_col, c, weights)) for n, c in people.items()]
    cols += [(f"value:{n}", partial(_value_col, v, weights)) for n, v in per_person.items()]
    for name, value in means.items():
        cols.append((f"mean:{name}", partial(_mean_col, value, weights)))
        cols.append((f"finite:{name}", partial(_finite_col, value, weights)))
    return cols


def _batched_sums(
    keys: Mapping[str, _Keys], cols: Sequence[tuple[str, Callable[[], np.ndarray]]]
) -> dict[str, pd.DataFrame]:
    """Sums of every column by every key, making ``BATCH_COLUMNS`` columns at a time (pandas'
    grouped sum, the same figures as one wide frame grouped at once)."""
    parts: dict[str, list[pd.DataFrame]] = {name: [] for name in keys}
    groupers = {name: k.grouper() for name, k in keys.items()}
    for start in range(0, len(cols), BATCH_COLUMNS):
        batch = pd.DataFrame(
            {c: make() for c, make in cols[start : start + BATCH_COLUMNS]}, copy=False
        )
        for name, grouper in groupers.items():
            parts[name].append(batch.groupby(grouper, sort=True, observed=True).sum())
        del batch
    out: dict[str, pd.DataFrame] = {}
    for name, k in keys.items():
        sums = pd.concat(parts[name], axis=1)
        sums.index = k.index()[sums.index.codes] if len(sums) else k.index()[:0]
        out[name] = sums
    return out


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


def group_sums(
    keys: np.ndarray,
    weights: np.ndarray,
    *,
    people: Mapping[str, np.ndarray] | None = None,
    per_person: Mapping[str, np.ndarray] | None = None,
    means: Mapping[str, np.ndarray] | None = None,
    medians: Mapping[str, np.ndarray] | None = None,
) -> GroupSums:
    """Population-weighted sums of per-point values, grouped by ``keys`` (sorted).

    Parameters
    ----------
    keys
        The group of every point (LSOA code, ward code, decile...); points with a missing
        key are left out.
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
    return group_sums_by(
        {_KEY: keys}, weights, people=people, per_person=per_person, means=means, medians=medians
    )[_KEY]


def group_sums_by(
    keys: Mapping[str, np.ndarray],
    weights: np.ndarray,
    *,
    people: Mapping[str, np.ndarray] | None = None,
    per_person: Mapping[str, np.ndarray] | None = None,
    means: Mapping[str, np.ndarray] | None = None,
    medians: Mapping[str, np.ndarray] | None = None,
) -> dict[str, GroupSums]:
    """:func:`group_sums` by several keys at once (e.g. LSOA, ward and decile).

    Each per-point column (people x condition, people x value) is made once for all keys,
    a few columns at a time, so the memory stays a few columns of the points whatever the
    number of figures. The sums are pandas' grouped sums, exactly as :func:`group_sums`.
    """
    weights = np.asarray(weights, dtype=np.float64)
    factorised = {name: _Keys.of(k) for name, k in keys.items()}
    cols = _derived(weights, people or {}, per_person or {}, means or {})
    sums = _batched_sums(factorised, cols)
    out: dict[str, GroupSums] = {}
    for name, k in factorised.items():
        frame = sums[name]
        frame.index.name = _KEY
        meds = {m: _median_by(k, value, weights) for m, value in (medians or {}).items()}
        out[name] = GroupSums(sums=frame, medians=meds)
    return out


def _median_by(k: _Keys, values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """:func:`weighted_median` by a factorised key, one value per unique key (NaN: none)."""
    has = k.codes >= 0
    med = weighted_median(k.codes[has], np.asarray(values, dtype=np.float64)[has], weights[has])
    out: np.ndarray = med.reindex(np.arange(k.uniques.size)).to_numpy(dtype=np.float64)
    return out


def coverage_figures(
    res: pd.DataFrame, key: str, thresholds: Sequence[int | float], types: Sequence[str] = ()
) -> pd.DataFrame:
    """Population-weighted coverage figures of residents grouped by ``key`` (the index).

    ``res`` is a coverage result's ``residents`` table (``weight``, ``placed``,
    ``covered_{T}min``, ``n_reachable_{T}min``, ``walk_min`` and the same by type). Columns:
    ``population``, ``pop_unplaced``, ``pop_covered_{T}min``, ``share_covered_{T}min``,
    ``mean_reachable_{T}min``, ``mean_walk_min``, ``median_walk_min`` and, per type,
    ``share_covered_{T}min_{type}``, ``mean_reachable_{T}min_{type}``,
    ``mean_walk_min_{type}`` (see ``docs/coverage.md``).
    """
    return coverage_figures_by(res, {key: res[key].to_numpy()}, thresholds, types)[key]


def coverage_figures_by(
    res: pd.DataFrame,
    keys: Mapping[str, np.ndarray],
    thresholds: Sequence[int | float],
    types: Sequence[str] = (),
) -> dict[str, pd.DataFrame]:
    """:func:`coverage_figures` by several keys at once (name -> one key per resident; a
    missing key leaves the resident out of that table). The per-resident columns are read
    once for all keys."""
    people: dict[str, np.ndarray] = {S.POP_UNPLACED: ~res[S.PLACED].to_numpy(bool)}
    per_person: dict[str, np.ndarray] = {}
    for t in thresholds:
        for k in (None, *types):
            people[S.covered(t, k)] = res[S.covered(t, k)].to_numpy(bool)
            per_person[S.n_reachable(t, k)] = res[S.n_reachable(t, k)].to_numpy(float)
    walks = {S.walk_min(k): res[S.walk_min(k)].to_numpy(float) for k in (None, *types)}
    by_key = group_sums_by(
        keys,
        res[S.WEIGHT].to_numpy(float),
        people=people,
        per_person=per_person,
        means=walks,
        medians={S.WALK_MIN: walks[S.WALK_MIN]},
    )
    return {name: _figures(sums, name, thresholds, types) for name, sums in by_key.items()}


def _figures(
    sums: GroupSums, key: str, thresholds: Sequence[int | float], types: Sequence[str]
) -> pd.DataFrame:
    """The coverage table's columns from the sums."""
    cols: dict[str, Any] = {
        S.POPULATION: sums.population,
        S.POP_UNPLACED: sums.people(S.POP_UNPLACED),
    }
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
    out = pd.DataFrame(cols, index=sums.index.copy())
    out.index.name = key
    return out
