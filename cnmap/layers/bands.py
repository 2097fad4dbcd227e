"""Groups of residents from a score: the residents of the LSOAs in each quantile band.

A score layer (DERI, IoD) has no counts of people, so it cannot say how many residents are
served. :func:`score_bands` turns one of its scores into a count layer: the residents of the
LSOAs in band 1 (most at risk), band 2, ... band N, from a population by LSOA. "Residents of the
most digitally excluded LSOAs" are then the group ``deri_score_q1`` of
``score_bands(deri, "deri_score", population=...)``.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import pandas as pd

from cnmap import columns as C
from cnmap.errors import ValidationError
from cnmap.layers.base import NeedLayer, add_shares

__all__ = ["score_bands"]

_BAND_WORDS = {4: "quartile", 5: "quintile", 10: "decile"}


def _population(population: pd.Series | NeedLayer) -> tuple[pd.Series, str, str, str]:
    """Population by LSOA code, its unit, and its source and attribution."""
    if isinstance(population, NeedLayer):
        if population.total is None:
            raise ValidationError(f"population layer {population.name!r} has no total count")
        s = population.table.set_index(C.LSOA_CODE)[population.total].astype(float)
        return s, population.unit, population.source, population.attribution
    if not isinstance(population, pd.Series):
        raise ValidationError(
            "population must be a Series of people by LSOA code or a count "
            f"NeedLayer, not {type(population).__name__}"
        )
    s = pd.to_numeric(population, errors="coerce").astype(float)
    s.index = s.index.astype(str)
    return s, "residents", "population given by the caller", ""


def _band_numbers(
    values: np.ndarray, bands: int, higher_is_worse: bool, edges: np.ndarray | None
) -> np.ndarray:
    """Band of each value, 1 = most at risk ... ``bands`` = least."""
    if edges is None:
        order = pd.Series(values).rank(method="first", ascending=not higher_is_worse).to_numpy()
        return cast(np.ndarray, np.ceil(order * bands / len(values)).astype(int))
    low_to_high = np.searchsorted(edges, values, side="left")  # 0 = lowest; (a, b] bins
    return (bands - low_to_high) if higher_is_worse else (low_to_high + 1)


def score_bands(
    layer: NeedLayer,
    column: str,
    *,
    population: pd.Series | NeedLayer,
    bands: int = 5,
    higher_is_worse: bool = True,
    reference: NeedLayer | None = None,
) -> NeedLayer:
    """Residents by quantile band of a score: a count layer usable by group coverage.

    Parameters
    ----------
    layer
        A layer holding ``column`` for every LSOA of ``population``.
    column
        The score to band (e.g. ``"deri_score"``).
    population
        People by LSOA code (a Series), or a count layer whose total is used (e.g. the Census
        age layer's ``age_total``). Its LSOAs are the ones banded, on the layer's vintage.
    bands
        Number of bands (5: quintiles).
    higher_is_worse
        True when a higher score means more need (DERI, IoD scores): band 1 holds the highest
        scores. False for ranks and deciles (1 = most deprived).
    reference
        Band against another layer's distribution of ``column`` (e.g. all of England, for
        national quintiles). Default: the LSOAs of ``population`` themselves, each LSOA counting
        once (equal-size bands, ties broken in LSOA code order).

    Returns
    -------
    NeedLayer
        Named ``<column>_bands``: ``<column>_all`` (the population), the groups
        ``<column>_q1`` ... ``<column>_q<bands>`` (the population of the LSOAs in each band, 0
        elsewhere), their shares, and the score ``<column>_band``.
    """
    if not isinstance(bands, int) or isinstance(bands, bool) or bands < 2:
        raise ValidationError(f"bands={bands!r} must be a whole number >= 2")
    if column not in layer.table.columns:
        raise ValidationError(
            f"column={column!r} is not in need layer {layer.name!r} (scores: {list(layer.scores)})"
        )
    pop, unit, pop_source, pop_attr = _population(population)
    pop = pop.sort_index()  # equal scores are banded in LSOA code order
    values = layer.subset(pop.index).table[column].to_numpy(float)
    if not np.isfinite(values).all() or not np.isfinite(pop.to_numpy()).all():
        raise ValidationError(
            f"{column!r} or the population is blank for some LSOAs; fill them before banding"
        )
    edges = None
    if reference is not None:
        ref = reference.table[column].to_numpy(float)
        edges = np.quantile(ref[np.isfinite(ref)], np.arange(1, bands) / bands)
    band = _band_numbers(values, bands, higher_is_worse, edges)
    word = _BAND_WORDS.get(bands, "band")
    total, groups = f"{column}_all", [f"{column}_q{k}" for k in range(1, bands + 1)]
    table = pd.DataFrame({C.LSOA_CODE: pop.index.to_numpy(), total: pop.to_numpy()})
    for k, g in enumerate(groups, start=1):
        table[g] = np.where(band == k, pop.to_numpy(), 0.0)
    table = add_shares(table, total, groups)
    table[f"{column}_band"] = band
    scope = (
        f"cut points from layer {reference.name!r}, {len(reference.table):,} LSOAs"
        if reference is not None
        else f"{word}s of the LSOAs banded"
    )
    end = "highest" if higher_is_worse else "lowest"
    labels = {
        total: f"All {unit} (population used for the bands)",
        f"{column}_band": f"{word.capitalize()} by {column} (1 = {end} values)",
    }
    labels.update(
        {
            g: f"{unit.capitalize()} of LSOAs in {word} {k} of {bands} by {column} "
            f"(1 = {end} values; {scope})"
            for k, g in enumerate(groups, start=1)
        }
    )
    return layer.with_table(
        table,
        name=f"{column}_bands",
        title=f"{unit.capitalize()} by {word} of {layer.label(column)}",
        unit=unit,
        total=total,
        groups=tuple(groups),
        combined={},
        scores=(f"{column}_band",),
        labels=labels,
        source=f"{layer.source}; population: {pop_source}",
        attribution=" ".join(a for a in (layer.attribution, pop_attr) if a),
        notes=(
            *layer.notes,
            f"Residents by {word} of LSOAs by {column} ({scope}); band 1 holds the {end} values.",
        ),
    )
