"""Cell-level helpers shared by the reading steps: text cleaning, numbers, short message text."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

#: Cells that pandas would read as missing; in coordinate columns they mean "no value"
#: (text columns keep them as text: an organisation may be called "NA" or "None").
NA_TEXT = frozenset(
    {
        "#n/a",
        "#n/a n/a",
        "#na",
        "-1.#ind",
        "-1.#qnan",
        "-nan",
        "1.#ind",
        "1.#qnan",
        "<na>",
        "n/a",
        "na",
        "nan",
        "none",
        "null",
    }
)
_GROUPED = r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$"  # 406,123 or 1,300,000.5


def norm_col(name: Any) -> str:
    """A column name lower-cased, every run of other characters than letters/digits -> ``_``."""
    return re.sub(r"[^0-9a-z]+", "_", str(name).strip().lower()).strip("_")


def clean_text(s: pd.Series) -> pd.Series:
    """Strings stripped of outer whitespace; blank -> missing; HTML entities decoded."""
    t = s.astype("str") if s.dtype != "str" else s
    t = t.str.strip()
    t = t.where(t.str.len() > 0)
    ent = t.str.contains(r"&#?\w+;", regex=True).fillna(False).astype(bool)
    if ent.any():
        t = t.copy()
        t[ent] = t[ent].map(html.unescape)
    return t


def blank(s: pd.Series) -> np.ndarray:
    """Cells that are missing or only whitespace."""
    if pd.api.types.is_string_dtype(s.dtype) or s.dtype == object:
        t = s.astype("str").str.strip()
        return np.asarray((t.isna() | (t.str.len() == 0)).to_numpy(dtype=bool))
    return np.asarray(s.isna().to_numpy(dtype=bool))


def filled(c: Any) -> bool:
    """Whether a raw cell value holds something (not None, NaN or whitespace)."""
    return c is not None and not (isinstance(c, float) and np.isnan(c)) and bool(str(c).strip())


def grouped_thousands(s: pd.Series) -> np.ndarray:
    """Cells written with thousands separators (``406,123``)."""
    if pd.api.types.is_numeric_dtype(s.dtype):
        return np.zeros(len(s), dtype=bool)
    t = s.astype("str").str.strip()
    return np.asarray(t.str.match(_GROUPED).fillna(False).to_numpy(dtype=bool))


def to_float(s: pd.Series, thousands: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Numbers from a column; second array flags non-blank values that are not numbers.

    Blank cells and the usual missing-value spellings (``NA``, ``NaN``, ``#N/A``, ...) are
    missing; ``52,48`` is a decimal comma; with ``thousands`` (metres) ``406,123`` is 406123.
    """
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        return s.astype(float).to_numpy(), np.zeros(len(s), dtype=bool)
    t = s.astype("str").str.strip()
    t = t.where((t.str.len() > 0) & ~t.str.lower().isin(NA_TEXT))
    if thousands:
        t = t.where(~grouped_thousands(s), t.str.replace(",", "", regex=False))
    t2 = t.str.replace(r"^(-?\d+),(\d+)$", r"\1.\2", regex=True)  # decimal comma
    v = pd.to_numeric(t2, errors="coerce").astype(float)
    bad = (t.notna() & v.isna()).to_numpy(dtype=bool)
    return v.to_numpy(dtype=float), bad


def short(text: Any, width: int = 60) -> str:
    """``text`` as a string of at most ``width`` characters (cut with an ellipsis)."""
    t = str(text)
    return t if len(t) <= width else t[: width - 1] + "…"


def show(v: Any) -> str:
    """A cell value as the user typed it (for messages)."""
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
        return ""
    return str(v).strip()


def fmt_coord(v: Any) -> str:
    """A coordinate for messages: short whatever it holds (1e300 is not 301 digits)."""
    if isinstance(v, float):
        if not np.isfinite(v) or abs(v) < 1000:
            return format(v, ".10g")
        return f"{v:.0f}" if abs(v) < 1e10 else format(v, ".4g")
    return short(str(v), 30)


def rows_text(rows: Sequence[Any], limit: int = 10) -> str:
    """Row numbers for a message: the first ``limit``, then how many more."""
    more = f" and {len(rows) - limit} more" if len(rows) > limit else ""
    return ", ".join(str(r) for r in rows[:limit]) + more


def row_label(row: int, sheet_offset: int | None) -> str:
    """``"row 3: "``, or ``"row 3 (sheet row 5): "`` for a spreadsheet."""
    if sheet_offset is None:
        return f"row {row}: "
    return f"row {row} (sheet row {row + sheet_offset}): "


def columns_seen(columns: Sequence[Any]) -> list[str]:
    """Column names for messages (each kept short)."""
    return [short(str(c), 40) for c in columns]


def has_shape(geom: gpd.GeoSeries) -> np.ndarray:
    """Rows with a geometry that is neither missing nor empty."""
    arr = geom.to_numpy()
    return np.asarray(~(shapely.is_missing(arr) | shapely.is_empty(arr)), dtype=bool)


def area_name(area: Any) -> str:
    """``"<LAD code> <LAD name>"`` of an area, or ``"the area"`` without them."""
    return f"{getattr(area, 'lad_code', '')} {getattr(area, 'lad_name', '')}".strip() or "the area"
