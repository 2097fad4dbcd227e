"""Joining need layers to an area's LSOAs, across LSOA vintages (2011 <-> 2021).

:func:`join_layers` adds the layers' columns to an LSOA table (e.g. ``area.lsoas``) by LSOA
code. A layer on the other LSOA vintage is first converted with :func:`convert_layer` through
the ONS "LSOA (2011) to LSOA (2021) to LAD (2022) Exact Fit Lookup" (:func:`read_lsoa_lookup`):

- **counts** (residents, households): each source LSOA's count is split among the target LSOAs
  it maps to in proportion to the targets' population (``weights``), then summed per target.
  An unchanged LSOA keeps its count; a *merge* (several sources, one target) sums the sources;
  a *split* (one source, several targets) shares the source's count by the targets' population
  share. Totals are conserved: every source's count is handed out in full.
- **scores** (DERI, IoD): the target takes the mean of its sources' values, weighted by the
  share of each source that falls in the target: a split repeats the parent's value on each
  child, a merge takes the plain mean of its parents.
- **shares** are recomputed from the converted counts.

An LSOA of the table with no row in a layer is an error naming it (never a silent blank).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from cnmap import columns as C
from cnmap.errors import MissingColumnError, ValidationError
from cnmap.layers.base import (
    LSOA_VINTAGES,
    MissingLSOAError,
    NeedLayer,
    _codes_text,
    add_shares,
    data_file,
)

__all__ = ["read_lsoa_lookup", "convert_layer", "join_layers", "layer_sources", "LOOKUP_FILE"]

PathLike = str | os.PathLike[str]

LOOKUP_FILE: tuple[str, ...] = (
    "england",
    "lookups",
    "LSOA11_LSOA21_LAD22_ExactFit_Lookup_EW_V3.csv",
)
_LOOKUP_COLUMNS = {
    "LSOA11CD": "lsoa11_code",
    "LSOA21CD": "lsoa21_code",
    "CHGIND": "change",
    "LAD22CD": "lad22_code",
}
_CODE = {2011: "lsoa11_code", 2021: "lsoa21_code"}


def read_lsoa_lookup(path: PathLike | None = None) -> pd.DataFrame:
    """The ONS LSOA 2011 -> LSOA 2021 exact-fit lookup (England and Wales, V3).

    Parameters
    ----------
    path
        The ONS CSV; default: the catalogue's verified copy (dataset
        ``lsoa2011_lsoa2021_lookup``, through :func:`cnmap.data.fetch`) when the catalogue has
        it, else the data mirror's file.

    Returns
    -------
    pandas.DataFrame
        ``lsoa11_code``, ``lsoa21_code``, ``change`` (U unchanged, S split, M merged,
        X irregular) and ``lad22_code``; one row per (2011, 2021) pair.
    """
    p = data_file(path, LOOKUP_FILE, dataset="lsoa2011_lsoa2021_lookup", national=True)
    frame = pd.read_csv(p, dtype=str, encoding="utf-8-sig")
    absent = [c for c in _LOOKUP_COLUMNS if c not in frame.columns]
    if absent:
        raise MissingColumnError(
            f"{p.name}: columns {absent} are missing; is it the ONS LSOA11 to LSOA21 lookup?"
        )
    out = frame[list(_LOOKUP_COLUMNS)].rename(columns=_LOOKUP_COLUMNS)
    return out.drop_duplicates(["lsoa11_code", "lsoa21_code"], ignore_index=True)


def _check_lookup(lookup: pd.DataFrame) -> None:
    absent = [c for c in ("lsoa11_code", "lsoa21_code") if c not in lookup.columns]
    if absent:
        raise MissingColumnError(
            f"lookup has no {absent} column(s); read it with cnmap.layers.read_lsoa_lookup"
        )


def _pairs(lookup: pd.DataFrame, src: str, dst: str, codes: Iterable[str] | None) -> pd.DataFrame:
    pairs = lookup[[src, dst]].drop_duplicates(ignore_index=True)
    if codes is not None:
        wanted = pd.Index([str(c) for c in codes])
        sources = pairs.loc[pairs[dst].isin(wanted), src].unique()
        pairs = pairs.loc[pairs[src].isin(sources)].reset_index(drop=True)
    return pairs


def _fractions(
    pairs: pd.DataFrame, src: str, dst: str, weights: pd.Series | None, layer: NeedLayer
) -> np.ndarray:
    """Share of each source LSOA's count that goes to each of its targets (sums to 1)."""
    n_targets = pairs.groupby(src)[dst].transform("size").to_numpy()
    frac = np.ones(len(pairs))
    multi = n_targets > 1
    if not multi.any() or not layer.counts:
        return frac
    if weights is None:
        raise ValidationError(
            f"need layer {layer.name!r}: {int(multi.sum())} LSOA(s) change between vintages and "
            "their counts must be shared by population: give weights= (a population column of "
            "the LSOA table, or a Series by target LSOA code)"
        )
    w = pd.to_numeric(weights, errors="coerce").reindex(pairs.loc[multi, dst]).to_numpy(float)
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        codes = pairs.loc[multi, dst].to_numpy()[bad]
        raise MissingLSOAError(
            f"need layer {layer.name!r}: weights have no population (or a "
            f"negative one) for LSOA(s) {_codes_text(codes)}, needed to share "
            "the counts of LSOAs that changed between vintages"
        )
    sub = pd.DataFrame({"s": pairs.loc[multi, src].to_numpy(), "w": w})
    tot = sub.groupby("s")["w"].transform("sum").to_numpy()
    size = sub.groupby("s")["w"].transform("size").to_numpy()
    frac[multi] = np.where(tot > 0, w / np.where(tot > 0, tot, 1.0), 1.0 / size)
    return frac


def _converted_table(
    layer: NeedLayer, pairs: pd.DataFrame, src: str, dst: str, frac: np.ndarray
) -> pd.DataFrame:
    values = layer.table.set_index(C.LSOA_CODE)
    counts, scores = list(layer.counts), list(layer.scores)
    key = pairs[dst].to_numpy()
    parts: list[pd.DataFrame] = []
    if counts:
        v = values.loc[pairs[src], counts].to_numpy(float) * frac[:, None]
        parts.append(pd.DataFrame(v, columns=counts).groupby(key).sum())
    if scores:
        s = values.loc[pairs[src], scores].to_numpy(float)
        ok = np.isfinite(s)
        wsum = pd.DataFrame(np.where(ok, s, 0.0) * frac[:, None], columns=scores).groupby(key).sum()
        wtot = pd.DataFrame(ok * frac[:, None], columns=scores).groupby(key).sum()
        parts.append(wsum / wtot.where(wtot > 0))
    table = pd.concat(parts, axis=1).rename_axis(C.LSOA_CODE).reset_index()
    if layer.total is not None:
        table = add_shares(table, layer.total, [*layer.groups, *layer.combined])
    return table


def _change_note(pairs: pd.DataFrame, src: str, dst: str, frm: int, to: int) -> str:
    n_src = pairs.groupby(dst)[src].transform("nunique")
    n_dst = pairs.groupby(src)[dst].transform("nunique")
    splits = int(pairs.loc[n_dst > 1, src].nunique())
    merges = int(pairs.loc[n_src > 1, dst].nunique())
    return (
        f"Converted from LSOA {frm} to LSOA {to} through the ONS exact-fit lookup: "
        f"{splits} source LSOA(s) shared among several targets by the targets' population "
        f"(counts) or repeated (scores); {merges} target LSOA(s) made of several sources "
        "(counts summed, scores averaged)."
    )


def convert_layer(
    layer: NeedLayer,
    lsoa_vintage: int,
    *,
    lookup: pd.DataFrame,
    weights: pd.Series | None = None,
    codes: Iterable[str] | None = None,
) -> NeedLayer:
    """A need layer moved to the other LSOA vintage (see the module notes for the method).

    Parameters
    ----------
    layer
        The layer to convert.
    lsoa_vintage
        The target vintage, 2011 or 2021 (the layer itself is returned when it already is).
    lookup
        :func:`read_lsoa_lookup`'s table.
    weights
        Population by target LSOA code, used to share the counts of a source LSOA among several
        targets; required only when such LSOAs are converted and the layer has counts.
    codes
        Target LSOAs wanted (default: every target the lookup gives).

    Returns
    -------
    NeedLayer
        The same layer keyed on ``lsoa_vintage``. A target LSOA is left out when one of its
        source LSOAs is not in the layer.
    """
    if lsoa_vintage not in LSOA_VINTAGES:
        raise ValidationError(f"lsoa_vintage={lsoa_vintage!r} is not one of {LSOA_VINTAGES}")
    if layer.lsoa_vintage == lsoa_vintage:
        return layer
    _check_lookup(lookup)
    src, dst = _CODE[layer.lsoa_vintage], _CODE[lsoa_vintage]
    pairs = _pairs(lookup, src, dst, codes)
    lacking = set(pairs.loc[~pairs[src].isin(layer.codes), dst])
    pairs = pairs.loc[~pairs[dst].isin(lacking)].reset_index(drop=True)
    frac = _fractions(pairs, src, dst, weights, layer)
    table = _converted_table(layer, pairs, src, dst, frac)
    note = _change_note(pairs, src, dst, layer.lsoa_vintage, lsoa_vintage)
    return layer.with_table(table, lsoa_vintage=lsoa_vintage, notes=(*layer.notes, note))


def _weights(frame: pd.DataFrame, on: str, weights: str | pd.Series | None) -> pd.Series | None:
    if weights is None or isinstance(weights, pd.Series):
        return weights
    if weights not in frame.columns:
        return None  # only an error if a changed LSOA's counts must be shared (_fractions)
    return pd.Series(
        pd.to_numeric(frame[weights], errors="coerce").to_numpy(float),
        index=frame[on].astype(str).to_numpy(),
    )


def _missing_message(layer: NeedLayer, missing: Sequence[str], original: int, vintage: int) -> str:
    how = (
        ""
        if original == vintage
        else (
            f" after conversion from LSOA {original} (the lookup gives them a source LSOA absent "
            "from the layer)"
        )
    )
    return (
        f"need layer {layer.name!r} ({layer.title}) has no row for {len(missing)} LSOA(s) of "
        f"the table{how}: {_codes_text(missing)}. Use a layer that covers the whole area; "
        "their values are never left blank"
    )


def _layer_for(
    layer: NeedLayer,
    codes: pd.Index,
    vintage: int,
    lookup: pd.DataFrame | None,
    weights: pd.Series | None,
) -> NeedLayer:
    original = layer.lsoa_vintage
    if original != vintage:
        lookup = read_lsoa_lookup() if lookup is None else lookup
        layer = convert_layer(layer, vintage, lookup=lookup, weights=weights, codes=codes)
    missing = codes.difference(layer.codes)
    if len(missing):
        raise MissingLSOAError(_missing_message(layer, list(missing), original, vintage))
    return layer.subset(codes)


def join_layers(
    lsoas: Any,
    layers: NeedLayer | Sequence[NeedLayer],
    *,
    on: str = C.LSOA_CODE,
    lsoa_vintage: int | None = None,
    lookup: pd.DataFrame | None = None,
    weights: str | pd.Series | None = C.POPULATION,
) -> pd.DataFrame:
    """The LSOA table with the need layers' columns added, joined by LSOA code.

    Parameters
    ----------
    lsoas
        An LSOA table (DataFrame or GeoDataFrame, e.g. ``area.lsoas``) or an
        :class:`cnmap.area.Area` (its ``lsoas`` and ``lsoa_vintage`` are used).
    layers
        One need layer or several. Their column names must not clash with each other or with
        the table's.
    on
        Column of ``lsoas`` holding the LSOA codes.
    lsoa_vintage
        LSOA vintage of the table's codes (2011 or 2021); taken from the Area when one is given.
    lookup
        The LSOA 2011 -> 2021 lookup, for layers on the other vintage; default: read from the
        data mirror when needed (:func:`read_lsoa_lookup`).
    weights
        Population by LSOA of the table (a column name, or a Series by code), used to share the
        counts of LSOAs split between vintages.

    Returns
    -------
    pandas.DataFrame
        A copy of the table (same type, index and row order) with every count, share and score
        column of the layers.

    Raises
    ------
    MissingLSOAError
        When a layer has no row for some LSOAs of the table (the message names them).
    """
    frame, vintage = _frame_and_vintage(lsoas, lsoa_vintage)
    if on not in frame.columns:
        raise MissingColumnError(
            f"on={on!r} is not a column of the LSOA table (columns: {list(frame.columns)})"
        )
    layer_list = [layers] if isinstance(layers, NeedLayer) else list(layers)
    codes = pd.Index(frame[on].astype(str).unique())
    out = frame.copy()
    w = (
        _weights(frame, on, weights)
        if any(ly.lsoa_vintage != vintage for ly in layer_list)
        else None
    )
    for layer in layer_list:
        sub = _layer_for(layer, codes, vintage, lookup, w).table.set_index(C.LSOA_CODE)
        clash = [c for c in sub.columns if c in out.columns]
        if clash:
            raise ValidationError(
                f"need layer {layer.name!r}: columns {clash} are already in the "
                "table; drop them first or join another layer"
            )
        aligned = sub.reindex(frame[on].astype(str).to_numpy())
        for col in sub.columns:
            out[col] = aligned[col].to_numpy()
    return out


def _frame_and_vintage(lsoas: Any, lsoa_vintage: int | None) -> tuple[pd.DataFrame, int]:
    from cnmap.area import Area

    if isinstance(lsoas, Area):
        if lsoa_vintage is not None and lsoa_vintage != lsoas.lsoa_vintage:
            raise ValidationError(
                f"lsoa_vintage={lsoa_vintage} but the area's LSOAs are {lsoas.lsoa_vintage}"
            )
        return lsoas.lsoas, int(lsoas.lsoa_vintage)
    if not isinstance(lsoas, pd.DataFrame):
        raise ValidationError(f"lsoas must be an LSOA table or an Area, not {type(lsoas).__name__}")
    if lsoa_vintage not in LSOA_VINTAGES:
        raise ValidationError(
            f"lsoa_vintage={lsoa_vintage!r}: say which LSOA vintage the table's "
            f"codes are, one of {LSOA_VINTAGES}"
        )
    return lsoas, int(lsoa_vintage)


def layer_sources(layers: NeedLayer | Sequence[NeedLayer]) -> pd.DataFrame:
    """One row of provenance per layer (id, title, source, vintage, licence, attribution...)."""
    layer_list = [layers] if isinstance(layers, NeedLayer) else list(layers)
    return pd.DataFrame([ly.to_dict() for ly in layer_list])
