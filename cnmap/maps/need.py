"""Need layers for the interactive map: one LSOA value per layer, with its title and source.

A :class:`MapLayer` is what :func:`cnmap.maps.coverage_map` draws as an extra choropleth of the
area's LSOAs (``need_layers=``): a value per LSOA (``NaN`` = no data), a title for the layer
control, a label for the legend and tooltip, how to format the value and the attribution the
data's licence requires. :func:`map_layer` makes one from a column of a
:class:`cnmap.layers.NeedLayer` (Census 2021 counts and shares, DERI and IoD scores).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, get_args

import numpy as np
import pandas as pd

from cnmap import columns as C
from cnmap.errors import MissingColumnError, ValidationError

if TYPE_CHECKING:
    from cnmap.layers import NeedLayer

__all__ = ["MapLayer", "ValueFormat", "map_layer", "format_value"]

#: How a layer's values are written in the legend and tooltips.
ValueFormat = Literal["share", "score", "count", "decile"]
FORMATS: tuple[str, ...] = get_args(ValueFormat)
SHARE_SUFFIX = "_share"


@dataclass(frozen=True, eq=False)
class MapLayer:
    """One need layer of the interactive map.

    Attributes
    ----------
    title
        Name of the layer in the layer control and heading of its legend.
    values
        The value of each LSOA, indexed by ``lsoa_code`` (float; ``NaN`` = no data). LSOAs of the
        area missing from the index are drawn as "no data", never dropped.
    label
        What a value is, for the tooltip (e.g. "Disabled under the Equality Act").
    fmt
        ``"share"`` (0-1, written as a percentage), ``"score"`` (one decimal), ``"count"``
        (whole number) or ``"decile"`` (1-10).
    higher_is_need
        True when a higher value means more need (darker colour); False reverses the palette.
    attribution
        The attribution statement of the data, added to the map's attribution.
    """

    title: str
    values: pd.Series
    label: str
    fmt: ValueFormat = "share"
    higher_is_need: bool = True
    attribution: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.values, pd.Series):
            raise ValidationError(
                f"map layer {self.title!r}: values must be a pandas Series indexed by "
                f"{C.LSOA_CODE}, not {type(self.values).__name__}"
            )
        if self.fmt not in FORMATS:
            raise ValidationError(
                f"map layer {self.title!r}: fmt={self.fmt!r} is not one of {FORMATS}"
            )
        if self.values.index.has_duplicates:
            dup = sorted({str(c) for c in self.values.index[self.values.index.duplicated()]})
            raise ValidationError(
                f"map layer {self.title!r}: LSOA(s) {', '.join(dup[:10])} appear more than once "
                "in values; give one value per LSOA"
            )
        numeric = pd.to_numeric(self.values, errors="coerce")
        bad = numeric.isna() & self.values.notna()
        if bad.any():
            rows = ", ".join(str(c) for c in self.values.index[bad][:10])
            raise ValidationError(
                f"map layer {self.title!r}: values are not numbers for LSOA(s) {rows}; "
                "use NaN for no data"
            )
        clean = pd.Series(
            numeric.to_numpy(float),
            index=pd.Index(self.values.index.astype(str), name=C.LSOA_CODE),
            name=self.values.name,
        )
        object.__setattr__(self, "values", clean)

    def aligned(self, codes: pd.Index | list[str]) -> np.ndarray:
        """The values in the order of ``codes`` (NaN for LSOAs the layer has no value for)."""
        out: np.ndarray = self.values.reindex(pd.Index([str(c) for c in codes])).to_numpy(float)
        return out

    def format(self, value: float) -> str:
        """A value as written in the legend and tooltip ("no data" for NaN)."""
        return format_value(value, self.fmt)


def format_value(value: float, fmt: ValueFormat) -> str:
    """``value`` written for ``fmt``: share -> "12.3%", score -> "4.56", count -> "1,234",
    decile -> "3"; NaN -> "no data"."""
    if value is None or not np.isfinite(value):
        return "no data"
    if fmt == "share":
        return f"{100.0 * value:.1f}%"
    if fmt == "score":
        return f"{value:.2f}"
    return f"{round(value):,}"


def _guess_format(layer: NeedLayer, column: str) -> tuple[ValueFormat, bool]:
    """The format of a column, and whether a higher value is more need."""
    if column.endswith(SHARE_SUFFIX):
        return "share", True
    if column in layer.scores:
        if column.endswith("_decile"):  # IoD deciles and ranks: 1 = most deprived
            return "decile", False
        if column.endswith("_rank"):
            return "count", False
        return "score", True
    return "count", True


def _label(layer: NeedLayer, column: str) -> str:
    if column in layer.labels or not column.endswith(SHARE_SUFFIX):
        return layer.label(column)
    base = column[: -len(SHARE_SUFFIX)]
    if base in layer.labels:
        return f"{layer.label(base)} (share of {layer.unit})"
    return column


def map_layer(layer: NeedLayer, column: str, *, title: str | None = None) -> MapLayer:
    """A map layer from one column of a need layer.

    Parameters
    ----------
    layer
        A need layer (:mod:`cnmap.layers`), on the map's LSOA vintage.
    column
        One of its columns: a count (``disabled``), a share (``disabled_share``) or a score
        (``deri_score``).
    title
        Title in the layer control (default: the column's label, a comma and the layer's vintage).

    Returns
    -------
    MapLayer
        ``fmt`` is ``"share"`` for ``*_share`` columns, ``"score"`` for the layer's scores and
        ``"count"`` otherwise; a score column named ``*_decile`` or ``*_rank`` (IoD: 1 = most
        deprived) is a ``"decile"`` or a ``"count"`` with ``higher_is_need=False``. The
        attribution is the layer's.

    Raises
    ------
    MissingColumnError
        When ``column`` is not a column of the layer (the message lists them).
    """
    table = layer.table
    value_columns = [c for c in table.columns if c != C.LSOA_CODE]
    if column == C.LSOA_CODE or column not in table.columns:
        raise MissingColumnError(
            f"need layer {layer.name!r} has no column {column!r}; its columns are {value_columns}"
        )
    label = _label(layer, column)
    fmt, higher_is_need = _guess_format(layer, column)
    values = pd.Series(
        pd.to_numeric(table[column], errors="coerce").to_numpy(float),
        index=pd.Index(table[C.LSOA_CODE].astype(str), name=C.LSOA_CODE),
        name=column,
    )
    return MapLayer(
        title=title if title is not None else f"{label}, {layer.vintage}",
        values=values,
        label=label,
        fmt=fmt,
        higher_is_need=higher_is_need,
        attribution=layer.attribution,
    )
