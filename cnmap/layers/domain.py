"""One column of a need layer as a measure of need: for ``thin_areas(domain=...)``, the tables and
the map.

:class:`NeedDomain` names a column of a :class:`~cnmap.layers.NeedLayer` and says which way is
need (``higher_is_need``). The readers' share and score columns have a default direction
(:data:`NEED_COLUMNS`: a higher share of disabled residents, a higher DERI score, a higher IoD
score is more need); any other column needs ``higher_is_need`` given.

:func:`need_ranks` ranks the LSOAs of an area on that column:

- **national** when the layer carries national ranks (the IoD2025 layer, on its own 2021 LSOAs):
  the published rank (1 = most deprived of 33,755 LSOAs in England) and decile;
- otherwise **within the area**, by LSOA count: the LSOAs with a value are ranked from the most
  need (rank 1; tied values share the lowest rank) and decile ``k`` holds ranks
  ``(k - 1) n / 10 < rank <= k n / 10``: decile 1 is the tenth of the area's LSOAs with the
  most need. Not population-weighted: every LSOA counts once.

:func:`read_need_columns` reads the named columns for an area's LSOAs (the tables'
``[output] need_columns``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from cnmap import columns as C
from cnmap.errors import MissingColumnError, ValidationError
from cnmap.layers.base import NeedLayer, _codes_text, share_column
from cnmap.layers.census import (
    DISABILITY,
    ETHNIC_GROUPS,
    HOUSEHOLD_DEPRIVATION,
    read_age,
    read_disability,
    read_ethnic_group,
    read_household_deprivation,
)
from cnmap.layers.deri import DERI_COLUMNS, read_deri
from cnmap.layers.iod import IOD2025_DOMAINS, IOD2025_SUBDOMAINS, read_iod2025
from cnmap.layers.join import _layer_for, read_lsoa_lookup

if TYPE_CHECKING:
    from cnmap.area import Area

__all__ = [
    "NeedDomain",
    "NeedRanks",
    "KnownColumn",
    "NEED_COLUMNS",
    "TABLE_COLUMNS",
    "need_domain",
    "need_ranks",
    "layer_on_lsoas",
    "read_need_layer",
    "read_need_columns",
    "is_need_domain",
    "column_label",
]

LayerKey = Literal["ethnic_group", "disability", "household_deprivation", "age", "deri", "iod2025"]
#: The LSOAs in England ranked by the IoD2025.
N_IOD2025 = 33755
_IOD_INDICES = (*IOD2025_DOMAINS, *IOD2025_SUBDOMAINS)
_IOD_COLUMN = re.compile(r"^iod2025_(?P<index>[a-z_]+?)(?:_(?P<measure>score|rank|decile))?$")


@dataclass(frozen=True)
class KnownColumn:
    """A column made by one of the readers of :mod:`cnmap.layers`.

    Attributes
    ----------
    layer
        The reader's layer (``"disability"``, ``"deri"``, ``"iod2025"``...).
    kind
        ``"share"`` (0-1 of the layer's total) or ``"score"``.
    higher_is_need
        The default direction; None when there is no obvious one (e.g. the share of White
        residents): then ``higher_is_need`` must be given.
    """

    layer: LayerKey
    kind: Literal["share", "score"]
    higher_is_need: bool | None


def _known_columns() -> dict[str, KnownColumn]:
    out: dict[str, KnownColumn] = {}
    for col in [*ETHNIC_GROUPS.values(), "ethnic_minority"]:
        out[share_column(col)] = KnownColumn(
            "ethnic_group", "share", None if col == "ethnic_white" else True
        )
    for col in DISABILITY.values():
        out[share_column(col)] = KnownColumn("disability", "share", col == "disabled")
    for col in [*HOUSEHOLD_DEPRIVATION.values(), "households_deprived_1plus"]:
        out[share_column(col)] = KnownColumn(
            "household_deprivation", "share", col != "households_deprived_0"
        )
    out[share_column("households_deprived_2plus")] = KnownColumn(
        "household_deprivation", "share", True
    )
    ages = ["age_0_64", "age_65", "age_66_69", "age_70_74", "age_75_79", "age_80_84"]
    for col in [*ages, "age_85_plus", "age_65_plus", "age_75_plus"]:
        out[share_column(col)] = KnownColumn(
            "age", "share", True if col in ("age_65_plus", "age_75_plus") else None
        )
    for col in DERI_COLUMNS.values():
        out[col] = KnownColumn("deri", "score", True)
    for index in _IOD_INDICES:
        out[f"iod2025_{index}_score"] = KnownColumn("iod2025", "score", True)
    return out


#: Every share and score column the readers make, with its layer and default direction.
NEED_COLUMNS: Mapping[str, KnownColumn] = _known_columns()
#: The columns the tables can carry (``[output] need_columns``): those of :data:`NEED_COLUMNS`.
TABLE_COLUMNS: tuple[str, ...] = tuple(NEED_COLUMNS)


def _iod_index(column: str) -> str | None:
    """The IoD2025 index of ``iod2025_<index>`` or ``iod2025_<index>_<measure>``, else None."""
    m = _IOD_COLUMN.match(column)
    if m is None or m["index"] not in _IOD_INDICES:
        return None
    return m["index"]


def _numeric_values(layer: NeedLayer, column: str) -> np.ndarray:
    """The column as floats, or an error naming the LSOAs whose value is not a number."""
    raw = layer.table[column]
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna() & raw.notna()
    if bad.any():
        raise ValidationError(
            f"need layer {layer.name!r}: column {column!r} is not numeric: LSOA(s) "
            f"{_codes_text(layer.table.loc[bad, C.LSOA_CODE])} hold "
            f"{_codes_text(raw[bad].astype(str), limit=3)}; choose a column of numbers "
            f"(scores {list(layer.scores)} or shares) or clean the layer's table"
        )
    out: np.ndarray = values.to_numpy(float)
    return out


@dataclass(frozen=True, eq=False)
class NeedDomain:
    """A column of a need layer used as the measure of need.

    Attributes
    ----------
    layer
        The need layer (:mod:`cnmap.layers`), on any LSOA vintage.
    column
        One of its numeric columns (a share, score or count). For the IoD2025 layer,
        ``iod2025_<index>`` or any of its ``_score``, ``_rank``, ``_decile`` columns names the
        index (national ranks).
    higher_is_need
        True when a higher value means more need; default: :data:`NEED_COLUMNS`' direction for
        the readers' columns, else it must be given.
    label
        Words for the measure in reasons and figures (default: the layer's label of the column).

    Raises
    ------
    MissingColumnError
        ``column`` is not a column of the layer (the message lists its columns).
    ValidationError
        The column is not numeric (the message names the LSOAs), or no direction is known.
    """

    layer: NeedLayer
    column: str
    higher_is_need: bool | None = None
    label: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.layer, NeedLayer):
            raise ValidationError(
                f"NeedDomain.layer must be a NeedLayer (cnmap.layers.read_...), not "
                f"{type(self.layer).__name__}"
            )
        col = self.column
        index = _iod_index(col) if self.layer.name == "iod2025" else None
        if index is not None:
            col = f"iod2025_{index}_score"
        columns = [c for c in self.layer.table.columns if c != C.LSOA_CODE]
        if not isinstance(col, str) or col not in columns:
            raise MissingColumnError(
                f"need layer {self.layer.name!r} ({self.layer.title}) has no column "
                f"{self.column!r}; its columns are {columns}. Pass one of those, or read the "
                "layer that holds it"
            )
        _numeric_values(self.layer, col)
        direction = self.higher_is_need
        if direction is None:
            known = NEED_COLUMNS.get(col)
            direction = known.higher_is_need if known is not None else None
        if index is not None and self.column.endswith(("_rank", "_decile")):
            direction = True  # the index's score: ranks and deciles follow from it
        if not isinstance(direction, bool):
            raise ValidationError(
                f"need column {self.column!r} of layer {self.layer.name!r} has no default "
                "direction: say whether a higher value means more need, e.g. "
                f"NeedDomain(layer, {self.column!r}, higher_is_need=True)"
            )
        object.__setattr__(self, "column", col)
        object.__setattr__(self, "higher_is_need", direction)
        if self.label is None:
            object.__setattr__(self, "label", _label(self.layer, col))

    @property
    def iod_index(self) -> str | None:
        """The IoD2025 index when the column is one (national ranks), else None."""
        return _iod_index(self.column) if self.layer.name == "iod2025" else None

    @property
    def key(self) -> str:
        """The domain's name in results: ``iod2025_<index>`` for an IoD index, else the column."""
        index = self.iod_index
        return f"iod2025_{index}" if index is not None else self.column

    def provenance(self) -> dict[str, Any]:
        """Column, direction and the layer's source, vintage, licence and attribution."""
        ly = self.layer
        return {
            "column": self.column,
            "label": self.label,
            "higher_is_need": self.higher_is_need,
            "layer": ly.name,
            "layer_title": ly.title,
            "source": ly.source,
            "vintage": ly.vintage,
            "licence": ly.licence,
            "attribution": ly.attribution,
            "lsoa_vintage": ly.lsoa_vintage,
        }


def column_label(layer: NeedLayer, column: str) -> str:
    """The layer's label of a column; a share's label is its count's, "(share of residents)"."""
    if column in layer.labels:
        return layer.label(column)
    base = column[: -len("_share")] if column.endswith("_share") else None
    if base is not None and base in layer.labels:
        return f"{layer.label(base)} (share of {layer.unit})"
    return column


def _label(layer: NeedLayer, column: str) -> str:
    """:func:`column_label` without a trailing "(..., higher = ...)" gloss (the direction is
    said elsewhere): "DERI score", "IoD2025 ... score"."""
    return re.sub(r"\s*\([^()]*higher = [^()]*\)$", "", column_label(layer, column))


def is_need_domain(domain: object) -> bool:
    """True for a :class:`NeedDomain`, a ``(layer, column)`` pair or a known need column name."""
    if isinstance(domain, NeedDomain):
        return True
    if isinstance(domain, tuple):
        return len(domain) == 2 and isinstance(domain[0], NeedLayer)
    if isinstance(domain, str):
        key = domain.strip()
        return key in NEED_COLUMNS or _iod_index(key) is not None
    return False


def need_domain(domain: Any, area: Area | None = None) -> NeedDomain:
    """A :class:`NeedDomain` from what ``thin_areas(domain=...)`` accepts.

    Parameters
    ----------
    domain
        A :class:`NeedDomain`; a ``(layer, column)`` pair; or the name of a column of
        :data:`NEED_COLUMNS` (``"disabled_share"``, ``"deri_score"``...) or of an IoD2025
        index (``"iod2025_barriers_geographical"``), whose layer is then read for ``area``
        (:func:`read_need_layer`: the data mirror or the catalogue).
    area
        The area, for a column name.
    """
    if isinstance(domain, NeedDomain):
        return domain
    if isinstance(domain, tuple) and len(domain) == 2 and isinstance(domain[0], NeedLayer):
        return NeedDomain(domain[0], domain[1])
    if isinstance(domain, str) and is_need_domain(domain):
        key = domain.strip()
        index = _iod_index(key)
        if area is None:
            raise ValidationError(
                f"domain={domain!r}: reading its layer needs the area; pass a NeedDomain"
            )
        if index is not None:
            return NeedDomain(read_iod2025(indices=[index], lad_code=area.lad_code), key)
        return NeedDomain(read_need_layer(NEED_COLUMNS[key].layer, area), key)
    raise ValidationError(
        f"domain={domain!r} is not a need column: give NeedDomain(layer, column, "
        f"higher_is_need=...), a (layer, column) pair, or one of {list(TABLE_COLUMNS)[:8]}..."
    )


_READERS: dict[str, Callable[..., NeedLayer]] = {
    "ethnic_group": read_ethnic_group,
    "disability": read_disability,
    "household_deprivation": read_household_deprivation,
}


def read_need_layer(
    key: str, area: Area | None = None, *, iod_indices: Sequence[str] | None = None
) -> NeedLayer:
    """Read one of the known layers (a :attr:`KnownColumn.layer`) from the data mirror.

    ``"age"`` and ``"iod2025"`` are read through the catalogue for ``area``'s district when
    it is given; the DERI is read on LSOA 2011 (its own geography).
    """
    lad = area.lad_code if area is not None else None
    if key in _READERS:
        return _READERS[key](None)
    if key == "age":
        return read_age(lad_code=lad)
    if key == "deri":
        return read_deri()
    if key == "iod2025":
        return read_iod2025(indices=list(iod_indices or _IOD_INDICES), lad_code=lad)
    raise ValidationError(
        f"unknown need layer {key!r}: one of {[*_READERS, 'age', 'deri', 'iod2025']}"
    )


def _population(area: Area) -> pd.Series | None:
    lsoas = area.lsoas
    if C.POPULATION not in lsoas.columns:
        return None
    return pd.Series(
        pd.to_numeric(lsoas[C.POPULATION], errors="coerce").to_numpy(float),
        index=lsoas[C.LSOA_CODE].astype(str).to_numpy(),
    )


def layer_on_lsoas(
    layer: NeedLayer,
    codes: Sequence[str],
    lsoa_vintage: int,
    *,
    weights: pd.Series | None = None,
    lookup: pd.DataFrame | None = None,
) -> NeedLayer:
    """The layer on exactly ``codes`` (of ``lsoa_vintage``), converted through the ONS lookup
    when it is on the other vintage (:func:`cnmap.layers.convert_layer`).

    Raises
    ------
    MissingLSOAError
        The layer has no row for some of ``codes`` (the message names them and the fix).
    """
    idx = pd.Index([str(c) for c in codes])
    return _layer_for(layer, idx, int(lsoa_vintage), lookup, weights)


@dataclass(frozen=True, eq=False)
class NeedRanks:
    """A need column ranked over an area's LSOAs (:func:`need_ranks`), in the order given.

    Attributes
    ----------
    domain
        The :class:`NeedDomain` (on the area's LSOAs).
    values
        The column's value of each LSOA (NaN: none).
    rank
        1 = most need, up to ``n`` (NaN where the value is missing).
    decile
        1 = the tenth with the most need (NaN where the value is missing).
    n
        The number the ranks run over: 33,755 for national IoD2025 ranks, else the area's
        LSOAs with a value.
    national
        True for national ranks and deciles (IoD), False for ranks within the area.
    scope
        The deciles in words (e.g. "decile within Birmingham's 659 LSOAs (by LSOA count...)").
    notes
        What was done on the way (vintage conversion, fallbacks, the layer's caveats).
    """

    domain: NeedDomain
    values: np.ndarray
    rank: np.ndarray
    decile: np.ndarray
    n: int
    national: bool
    scope: str
    notes: tuple[str, ...] = ()

    def provenance(self) -> dict[str, Any]:
        """:meth:`NeedDomain.provenance` with the deciles' scope."""
        return {
            **self.domain.provenance(),
            "deciles": "national" if self.national else "within the area",
            "decile_scope": self.scope,
            "n_ranked": self.n,
        }


def _area_ranks(values: np.ndarray, higher_is_need: bool) -> tuple[np.ndarray, np.ndarray, int]:
    ok = np.isfinite(values)
    n = int(ok.sum())
    rank = np.full(len(values), np.nan)
    key = -values[ok] if higher_is_need else values[ok]
    rank[ok] = pd.Series(key).rank(method="min").to_numpy(float)
    decile = np.where(ok, np.ceil(10.0 * rank / max(n, 1)), np.nan)
    return rank, decile, n


def need_ranks(
    domain: NeedDomain, codes: Sequence[str], *, area_name: str = "the area"
) -> NeedRanks:
    """Rank the LSOAs ``codes`` on a need column: national IoD ranks, else within the area.

    Parameters
    ----------
    domain
        The need column; its layer must hold every code (see :func:`layer_on_lsoas`).
    codes
        The area's LSOA codes, in the order wanted.
    area_name
        The area's name, for the words.

    Returns
    -------
    NeedRanks
    """
    layer = domain.layer.subset(codes)
    values = _numeric_values(layer, domain.column)
    index = domain.iod_index
    converted = any(n.startswith("Converted from LSOA") for n in layer.notes)
    notes: list[str] = []
    if index is not None and not converted:
        rank = _numeric_values(layer, f"iod2025_{index}_rank")
        decile = _numeric_values(layer, f"iod2025_{index}_decile")
        scope = f"national decile (England, {N_IOD2025:,} LSOAs; 1 = most deprived 10%)"
        return NeedRanks(domain, values, rank, decile, N_IOD2025, True, scope, ())
    if index is not None:
        notes.append(
            f"{domain.key}: the layer was converted to another LSOA vintage, so its national "
            "ranks no longer apply: deciles are taken within the area from the score"
        )
    rank, decile, n = _area_ranks(values, bool(domain.higher_is_need))
    most = "highest" if domain.higher_is_need else "lowest"
    scope = (
        f"decile within {area_name}'s {n:,} LSOAs (by LSOA count, not population-weighted; "
        f"1 = the tenth with the {most} {domain.column})"
    )
    missing = len(values) - n
    if missing:
        notes.append(
            f"{missing} LSOA(s) have no value of {domain.column!r}: no decile, never flagged"
        )
    return NeedRanks(domain, values, rank, decile, n, False, scope, tuple(notes))


def read_need_columns(
    area: Area, columns: Sequence[str], *, lookup: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, list[NeedLayer]]:
    """The named need columns for the area's LSOAs, and the layers they come from.

    Parameters
    ----------
    area
        The area (:func:`cnmap.load_area`): its LSOAs and LSOA vintage.
    columns
        Names from :data:`TABLE_COLUMNS` (e.g. ``"disabled_share"``, ``"deri_score"``,
        ``"iod2025_barriers_geographical_score"``).
    lookup
        The LSOA 2011 -> 2021 lookup (default: read when a layer is on the other vintage).

    Returns
    -------
    (pandas.DataFrame, list of NeedLayer)
        One row per LSOA of the area, indexed by ``lsoa_code`` in the area's order, one
        column per name in the order given; each layer on the area's LSOAs (its provenance).

    Raises
    ------
    ValidationError
        An unknown name (the message lists the valid ones).
    MissingLSOAError
        A layer does not cover the area.
    """
    unknown = [c for c in columns if c not in NEED_COLUMNS]
    if unknown:
        raise ValidationError(f"unknown need column(s) {unknown}; valid: {list(TABLE_COLUMNS)}")
    codes = [str(c) for c in area.lsoas[C.LSOA_CODE]]
    by_layer: dict[str, list[str]] = {}
    for col in dict.fromkeys(columns):
        by_layer.setdefault(NEED_COLUMNS[col].layer, []).append(col)
    weights = _population(area)
    vintage = int(area.lsoa_vintage)
    layers: list[NeedLayer] = []
    parts: dict[str, np.ndarray] = {}
    for key, cols in by_layer.items():
        iod = [c[len("iod2025_") : -len("_score")] for c in cols] if key == "iod2025" else None
        layer = read_need_layer(key, area, iod_indices=iod)
        if layer.lsoa_vintage != vintage and lookup is None:
            lookup = read_lsoa_lookup()
        on_area = layer_on_lsoas(layer, codes, vintage, weights=weights, lookup=lookup)
        layers.append(on_area)
        for col in cols:
            parts[col] = _numeric_values(on_area, col)
    frame = pd.DataFrame(
        {c: parts[c] for c in dict.fromkeys(columns)},
        index=pd.Index(codes, name=C.LSOA_CODE),
    )
    return frame, layers
