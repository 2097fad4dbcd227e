"""The :class:`NeedLayer` container, the mirror path helper and the checks shared by the readers.

A need layer is one table with one row per LSOA (``lsoa_code``) and wide columns: counts of
residents or households by group (``groups``, which partition ``total``), counts of unions of
groups (``combined``), each count's share of the total (``<count>_share``) and scores (DERI,
IoD). It carries its LSOA vintage, source, vintage, licence and attribution, so every table
or figure made from it can say where its numbers come from.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cnmap import columns as C
from cnmap.errors import DataFetchError, MissingColumnError, ValidationError
from cnmap.settings import mirror_dir

__all__ = [
    "NeedLayer",
    "MissingLSOAError",
    "mirror_path",
    "LSOA_VINTAGES",
    "OGL",
    "ONS_ATTRIBUTION",
    "share_column",
    "data_file",
]

#: The LSOA boundary vintages a layer can be keyed on.
LSOA_VINTAGES: tuple[int, ...] = (2011, 2021)

OGL = "Open Government Licence v3.0"
ONS_ATTRIBUTION = (
    "Source: Office for National Statistics licensed under the Open Government Licence v3.0."
)

UNITS = ("residents", "households")


class MissingLSOAError(ValidationError, LookupError):
    """A need layer has no row for some LSOAs of the area (the message names them)."""


def share_column(count_column: str) -> str:
    """Name of the share column of a count column (``disabled`` -> ``disabled_share``)."""
    return f"{count_column}_share"


def mirror_path(*parts: str) -> Path:
    """A file of the data mirror named by ``CNMAP_DATA_MIRROR`` (e.g. ``"england", "deri", ...``).

    Raises
    ------
    DataFetchError
        When ``CNMAP_DATA_MIRROR`` is unset or the file is not there; the message says how to fix
        it (set the variable, or pass ``path=`` to the reader).
    """
    root = mirror_dir()
    rel = "/".join(parts)
    if root is None:
        raise DataFetchError(
            f"cannot find {rel}: CNMAP_DATA_MIRROR is not set; set it to the "
            "data mirror folder (e.g. ../shared/data) or pass path= to the reader"
        )
    path = root.joinpath(*parts)
    if not path.is_file():
        raise DataFetchError(
            f"{rel} is not in the data mirror CNMAP_DATA_MIRROR={root} "
            f"(looked for {path}); pass path= to the reader"
        )
    return path


def data_file(
    path: str | os.PathLike[str] | None,
    mirror: tuple[str, ...],
    *,
    dataset: str | None = None,
    lad_code: str | None = None,
    national: bool = False,
) -> Path:
    """The file a reader reads: ``path`` when given; else, when the catalogue knows
    ``dataset`` and either ``lad_code`` is given or the dataset has one national file
    (``national``), a verified copy (:func:`cnmap.data.fetch`: cache, mirror, publisher);
    else the mirror file ``mirror``."""
    if path is not None:
        return Path(path)
    if dataset is not None and (lad_code is not None or national):
        from cnmap.data import catalogue, fetch

        if dataset in catalogue().keys():
            return fetch(dataset, lad_code=lad_code)
    return mirror_path(*mirror)


def _codes_text(codes: Iterable[Any], limit: int = 10) -> str:
    codes = sorted({str(c) for c in codes})
    more = len(codes) - limit
    head = ", ".join(codes[:limit])
    return f"{head} and {more} more" if more > 0 else head


@dataclass(frozen=True, eq=False)
class NeedLayer:
    """A need layer: LSOA counts of groups of residents or households, or LSOA scores.

    Attributes
    ----------
    name
        Short id, also the prefix of the layer's columns (``ethnic_group``, ``deri``...).
    title
        One line saying what the layer is.
    table
        One row per LSOA: ``lsoa_code`` then the count, share and score columns.
    lsoa_vintage
        2011 or 2021: the LSOA boundaries the codes refer to.
    source
        Publisher and dataset, and the file it was read from.
    vintage
        Reference date of the data (e.g. "Census 2021, 21 March 2021").
    licence, attribution
        The licence and the attribution statement it requires.
    unit
        ``"residents"`` or ``"households"``: what the counts count.
    total
        The count column holding every resident or household of the LSOA (None for a layer of
        scores only).
    groups
        Count columns that partition ``total``: in every LSOA they sum to it.
    combined
        Count columns that are unions of groups, with the groups each one sums.
    scores
        Numeric columns that are not counts (scores, ranks, deciles): averaged, not summed,
        when LSOAs change between vintages.
    labels
        A readable label for each count and score column.
    notes
        Caveats and what was done to the data on the way (e.g. LSOA vintage conversion).
    """

    name: str
    title: str
    table: pd.DataFrame
    lsoa_vintage: int
    source: str
    vintage: str
    licence: str
    attribution: str
    unit: str = "residents"
    total: str | None = None
    groups: tuple[str, ...] = ()
    combined: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    scores: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_layer(self)

    @property
    def counts(self) -> tuple[str, ...]:
        """Every count column: the total, the groups and the combined groups."""
        head = (self.total,) if self.total is not None else ()
        return head + self.groups + tuple(self.combined)

    @property
    def codes(self) -> pd.Index:
        """The LSOA codes of the layer."""
        return pd.Index(self.table[C.LSOA_CODE])

    def label(self, column: str) -> str:
        """Readable label of a column (the column name when none was given)."""
        return str(self.labels.get(column, column))

    def with_table(self, table: pd.DataFrame, **changes: Any) -> NeedLayer:
        """A copy of the layer with another table (and any other field changed)."""
        return replace(self, table=table, **changes)

    def subset(self, codes: Iterable[str]) -> NeedLayer:
        """The layer restricted to ``codes`` (in that order); a missing code is an error."""
        wanted = pd.Index([str(c) for c in codes])
        missing = wanted.difference(self.codes)
        if len(missing):
            raise MissingLSOAError(
                f"need layer {self.name!r} ({self.title}, LSOA {self.lsoa_vintage}) has no row for "
                f"{len(missing)} LSOA(s): {_codes_text(missing)}; use a layer covering the area, "
                "or convert it to the area's LSOA vintage (cnmap.layers.convert_layer)"
            )
        t = self.table.set_index(C.LSOA_CODE).loc[wanted].reset_index()
        return self.with_table(t)

    def to_dict(self) -> dict[str, Any]:
        """Provenance of the layer (for the sources table of outputs)."""
        return {
            "id": f"layer:{self.name}",
            "title": self.title,
            "source": self.source,
            "vintage": self.vintage,
            "licence": self.licence,
            "attribution": self.attribution,
            "lsoa_vintage": self.lsoa_vintage,
            "n_lsoas": len(self.table),
            "notes": " ".join(self.notes),
        }

    def __repr__(self) -> str:
        kind = (
            f"{len(self.groups)} groups of {self.unit}"
            if self.groups
            else f"{len(self.scores)} scores"
        )
        return (
            f"NeedLayer({self.name!r}: {self.title}; {len(self.table)} LSOAs ({self.lsoa_vintage}),"
            f" {kind})"
        )


def _check_layer(layer: NeedLayer) -> None:
    t = layer.table
    if C.LSOA_CODE not in t.columns:
        raise MissingColumnError(
            f"need layer {layer.name!r}: the table has no {C.LSOA_CODE!r} column"
        )
    if layer.lsoa_vintage not in LSOA_VINTAGES:
        raise ValidationError(
            f"need layer {layer.name!r}: lsoa_vintage={layer.lsoa_vintage!r} "
            f"is not one of {LSOA_VINTAGES}"
        )
    if layer.unit not in UNITS:
        raise ValidationError(
            f"need layer {layer.name!r}: unit={layer.unit!r} is not one of {UNITS}"
        )
    dup = t[C.LSOA_CODE].duplicated()
    if dup.any():
        raise ValidationError(
            f"need layer {layer.name!r}: LSOA(s) "
            f"{_codes_text(t.loc[dup, C.LSOA_CODE])} appear more than once"
        )
    if layer.groups and layer.total is None:
        raise ValidationError(f"need layer {layer.name!r} has groups but no total column")
    for parts in layer.combined.values():
        unknown = [g for g in parts if g not in layer.groups]
        if unknown:
            raise ValidationError(
                f"need layer {layer.name!r}: combined group made of {unknown}, "
                f"which are not among its groups {list(layer.groups)}"
            )
    cols = [*layer.counts, *layer.scores]
    absent = [c for c in cols if c not in t.columns]
    if absent:
        raise MissingColumnError(
            f"need layer {layer.name!r}: columns {absent} are not in its "
            f"table (columns: {list(t.columns)})"
        )
    _check_counts(layer, list(layer.counts))


def _check_counts(layer: NeedLayer, counts: Sequence[str]) -> None:
    if not counts:
        return
    values = layer.table[counts].apply(pd.to_numeric, errors="coerce").to_numpy(float)
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        raise ValidationError(
            f"need layer {layer.name!r}: counts are missing, not numbers or "
            "negative for LSOA(s) "
            f"{_codes_text(layer.table[C.LSOA_CODE].to_numpy()[rows])}"
        )


def add_shares(table: pd.DataFrame, total: str, counts: Sequence[str]) -> pd.DataFrame:
    """``<count>_share`` = count / total for each count column (NaN where the total is 0)."""
    out = table.copy()
    tot = out[total].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        for c in counts:
            out[share_column(c)] = np.where(tot > 0, out[c].to_numpy(float) / tot, np.nan)
    return out


def add_combined(table: pd.DataFrame, combined: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """Add each combined count column as the sum of its groups."""
    out = table.copy()
    for name, parts in combined.items():
        out[name] = out[list(parts)].sum(axis=1)
    return out
