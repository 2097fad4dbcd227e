"""Write results for people who will open them: CSV, one Excel workbook, one GeoPackage.

:func:`write_tables` writes any named tables; :func:`export_coverage` writes a coverage
result (and optionally its thin-infrastructure classification and ward deprivation
profiles) with the standard sheets documented in ``docs/outputs.md``:

- **CSV**: one UTF-8 file per table (``<name>.csv``, no geometry column) plus
  ``parameters.csv`` and ``sources.csv``, all written by :func:`write_csv`: a cell holding
  a line break is always quoted (it never starts a new row); text that a spreadsheet would
  run as a formula (a header or cell starting with ``=``, ``+``, ``-``, ``@``, a tab, a
  carriage return or a line feed, e.g. an organisation named ``=HYPERLINK(...)`` in a
  user's file, and each such line inside a multi-line cell) is written with a leading ``'``
  (``csv_guard_formulas=True``, the default; numbers are never changed). A table with no
  rows holds one row whose first cell starts with ``(no rows)`` and says why;
- **XLSX** (``<stem>.xlsx``): a first sheet ``README`` (what each sheet holds, the parameters,
  data vintages, licences and attribution, notes, a column guide), then one sheet per table:
  bold frozen header row with filters, column widths set, shares as percentages, people as
  whole numbers with thousands separators; no geometry; text that Excel would read as a
  formula is stored as text;
- **GeoPackage** (``<stem>.gpkg``): one layer per spatial table in EPSG:27700 (plus layers
  given for the GeoPackage only, such as the residential points and walking catchments),
  the attribute tables ``readme_parameters`` and ``readme_sources``, and QGIS's
  ``layer_styles`` table (:mod:`cnmap.gpkg_styles`) so that every layer opens styled.

:func:`export_coverage` writes tables for people (:func:`people_table`): counts of people
rounded to whole people, shares as percentages with ``(%)`` in the header (``_pct`` in the
GeoPackage), minutes to one decimal. Only the files are written; tables are never modified.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime as _dt
import decimal
import json
import logging
import os
import re
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import geopandas as gpd
import numpy as np
import pandas as pd

from cnmap import columns as C
from cnmap.errors import CRSError, ValidationError
from cnmap.geo import to_bng

__all__ = [
    "write_tables",
    "export_coverage",
    "FORMATS",
    "SHEET_DESCRIPTIONS",
    "COLUMN_GUIDE",
    "sheet_name",
    "write_csv",
    "people_table",
    "gis_field_name",
    "postcode_distances",
    "area_postcode_lookup",
    "ward_population_note",
    "quality_table",
    "EMPTY_PREFIX",
    "EMPTY_REASONS",
    "FAR_FROM_POSTCODE",
]

log = logging.getLogger(__name__)

FORMATS = ("csv", "xlsx", "gpkg")
RESERVED = (
    "README",
    "parameters",
    "sources",
    "readme_parameters",
    "readme_sources",
    "layer_styles",
)
#: The first cell of the one row of a table that has no rows starts with this.
EMPTY_PREFIX = "(no rows)"
#: The ``what`` of a quality row for an organisation placed far from its address postcode.
FAR_FROM_POSTCODE = "organisation far from its address postcode"
_MAX_SHEET = 31
_MAX_CELL = 32767

#: What each standard sheet / table of :func:`export_coverage` holds.
SHEET_DESCRIPTIONS: dict[str, str] = {
    "thin_lsoas": "The thin LSOAs only (deprived and poorly covered), in rank order "
    "(1 = thinnest): deprivation, provision, residents out of reach and the "
    "reason. Every LSOA, with its thin flag and rank, is in lsoas.",
    "thin_wards": "The flagged wards only (thin or left behind), in rank order (1 = thinnest): "
    "ward deprivation (average rank), provision, flags and the reason. Every "
    "ward is in wards.",
    "lsoas": "Every LSOA: walking coverage at every time limit, its deprivation and, with a "
    "thin-infrastructure classification, its rank, thin flag and reason.",
    "wards": "Every ward: walking coverage at every time limit (residents counted in the ward "
    "they live in) and, with a classification, its rank and flags.",
    "deciles": "The equity view: coverage by national IMD decile (1 = most deprived 10%).",
    "totals": "Coverage of the whole area at each time limit.",
    "organisations": "The organisations used, with where they were placed on the street "
    "network and how far each lies from its address postcode.",
    "ward_deprivation": "MHCLG summary measures of deprivation for each ward (population: the "
    "ward's LSOAs added up by the LSOA-to-ward best fit).",
    "quality": "Problems found: organisations or homes too far from any walkable street, "
    "organisations placed more than 1 km from their address postcode.",
    "residents": "Residential points (postcodes) with their population weight and walking results.",
    "catchments": "Walking catchments: the streets reached within the time limit, buffered.",
}

#: Why a standard table may have no rows (a caller's ``empty_reasons`` come first).
EMPTY_REASONS: dict[str, str] = {
    "rejected_organisations": "every row of every organisations list was placed",
    "organisations_read": "no organisations list was read",
    "quality": "no problems found",
    "thin_lsoas": "no LSOA is thin; every LSOA is in lsoas with its thin flag",
    "thin_wards": "no ward is thin or left behind; every ward is in wards with its flags",
}

#: Plain-English meaning of common columns, listed on the README sheet when present.
COLUMN_GUIDE: dict[str, str] = {
    "rank": "1 = thinnest provision for the need: thin areas first, then by deprived residents "
    "out of reach, then by deprivation",
    "population": "residents (IoD2019 mid-2015 population unless stated in the parameters)",
    "pop_covered_{T}min": "residents within T minutes' walk of an organisation",
    "share_covered_{T}min": "share of residents within T minutes' walk of an organisation "
    "(in columns headed (%): a percentage, 0 to 100)",
    "mean_reachable_{T}min": "average number of organisations a resident can reach within "
    "T minutes (population-weighted)",
    "mean_walk_min": "average walk to the nearest organisation, minutes (population-weighted)",
    "median_walk_min": "median walk to the nearest organisation, minutes",
    "deprivation_domain": "the deprivation index used (imd = Index of Multiple Deprivation)",
    "deprivation_rank": "national rank of the LSOA on that index (1 = most deprived in England)",
    "deprivation_decile": "national decile (1 = most deprived 10% in England; for a need "
    "layer's column without national ranks, the decile within the area, 1 = the 10% of its "
    "LSOAs with the most need: see parameters); for wards, the decile the ward's average rank "
    "falls in",
    "deprivation_average_rank": "MHCLG population-weighted average rank of the ward's LSOAs "
    "(higher = more deprived)",
    "share_covered": "share of residents within the chosen time limit of an organisation "
    "(in columns headed (%): a percentage, 0 to 100)",
    "pop_out_of_reach": "residents farther than the chosen time limit from any organisation",
    "deprived_pop_out_of_reach": "residents of deprived LSOAs (decile <= the chosen maximum) "
    "farther than the time limit from any organisation",
    "mean_reachable": "organisations within reach per resident (population-weighted mean "
    "number within the time limit)",
    "orgs_located": "organisations whose location lies in the area",
    "orgs_per_1000": "organisations located in the area per 1,000 residents",
    "bivariate_class": "deprivation tercile (3 = most deprived) - provision tercile "
    "(1 = least provision), within the area",
    "thin": "deprived and poorly covered, by the rule in the parameters",
    "left_behind": "ward among the worst X% on both deprivation and provision",
    "reason": "why the area is flagged, in plain English",
    "share_covered_cluster": "cold spot / hot spot of share covered (Getis-Ord Gi*, FDR "
    "controlled) or not significant",
    "imd_decile": "IMD national decile (1 = most deprived 10% in England)",
    "postcode_distance_m": "metres between where the organisation is placed and the centre of "
    "its address postcode",
    "far_from_postcode": "placed more than 1 km from its address postcode: check its "
    "coordinates or address (listed in quality)",
}


# ---------------------------------------------------------------------------------------------
# helpers


def _safe_name(name: str) -> str:
    s = re.sub(r"[^0-9A-Za-z_\-]+", "_", str(name)).strip("_")
    return s or "table"


def sheet_name(name: str, taken: Iterable[str] = ()) -> str:
    """An Excel sheet name for ``name``: no ``[]:*?/\\``, at most 31 characters, unique
    (case-insensitively) among ``taken``.

    Examples
    --------
    >>> sheet_name("a very long table name that Excel would refuse")
    'a very long table name that Exc'
    >>> sheet_name("lsoas", taken=["LSOAS"])
    'lsoas~2'
    """
    base = re.sub(r"[\[\]:*?/\\]", "_", str(name)).strip("'") or "Sheet"
    base = base[:_MAX_SHEET]
    used = {t.lower() for t in taken}
    cand = base
    k = 2
    while cand.lower() in used:
        suffix = f"~{k}"
        cand = base[: _MAX_SHEET - len(suffix)] + suffix
        k += 1
    return cand


def _flatten(d: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping) and v:
            rows += _flatten(v, key + ".")
        else:
            rows.append((key, _text(v)))
    return rows


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and not np.isfinite(v):
        return ""
    if isinstance(v, (list, tuple)):
        return ", ".join(_text(x) for x in v)
    if isinstance(v, Mapping):
        return json.dumps(v, default=str)
    if isinstance(v, (np.generic,)):
        return str(v.item())
    return str(v)


def _geometry_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if isinstance(df[c].dtype, gpd.array.GeometryDtype)]


def _plain(df: pd.DataFrame) -> pd.DataFrame:
    """A non-spatial copy: meaningful index kept as columns, geometry dropped, values that are
    lists/tuples/dicts turned into text."""
    out = pd.DataFrame(df)
    if any(n is not None for n in out.index.names):
        out = out.reset_index()
    out = pd.DataFrame(out.drop(columns=_geometry_columns(out)))
    for c in out.columns:
        if out[c].dtype == object:
            col = out[c]
            if col.map(lambda v: isinstance(v, (list, tuple, set, dict))).any():
                out[c] = col.map(
                    lambda v: (
                        _text(sorted(v) if isinstance(v, set) else v)
                        if isinstance(v, (list, tuple, set, dict))
                        else v
                    )
                )
    out.columns = [str(c) for c in out.columns]
    return out


def _is_share(col: str) -> bool:
    return bool(
        re.search(r"(^|_)share(_|$)|^proportion_|_proportion_|(^|_)extent$|^match_rate$", col)
    )


def _is_people(col: str) -> bool:
    return bool(re.search(r"(^|_)pop(_|$)|population|^weight$|^deprived_pop|_scale$", col))


#: Header suffix of a share written as a percentage (0-100) in CSV and XLSX files.
PERCENT_SUFFIX = " (%)"
#: The same in GeoPackage field names (no spaces or brackets for GIS expressions).
GIS_PERCENT_SUFFIX = "_pct"
_NOT_A_SHARE = re.compile(r"_(z|p|q|cluster)$")
#: Columns rounded in tables for people: (pattern, decimals).
_ROUNDING: tuple[tuple[re.Pattern[str], int], ...] = (
    (re.compile(r"(^|_)walk_min($|_)|_min$|^minutes_"), 1),
    (re.compile(r"^mean_reachable|^orgs_per_1000$"), 2),
    (re.compile(r"_average_rank$|_local_concentration$"), 1),
    (re.compile(r"_average_score$"), 3),
    (re.compile(r"(^|_)(snap_distance|postcode_distance|walk)_m$"), 0),
)


def _numeric(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype)


def _is_fraction(col: str, s: pd.Series) -> bool:
    """A numeric share column (0 to 1) to write as a percentage."""
    if not _numeric(s) or not _is_share(col) or _NOT_A_SHARE.search(col):
        return False
    v = s.to_numpy(dtype="float64", na_value=np.nan)
    v = v[np.isfinite(v)]
    return bool(v.size == 0 or (v.min() >= -1e-9 and v.max() <= 1 + 1e-9))


def _whole_people(s: pd.Series) -> pd.Series:
    """People rounded half up to whole numbers (nullable integers: missing stays missing)."""
    v = s.to_numpy(dtype="float64", na_value=np.nan)
    finite = np.isfinite(v)
    out = np.floor(np.where(finite, v, 0.0) + 0.5).astype("int64")
    return pd.Series(pd.arrays.IntegerArray(out, ~finite), index=s.index)


def _rounding(col: str) -> int | None:
    for pattern, decimals in _ROUNDING:
        if pattern.search(col):
            return decimals
    return None


def people_table(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` for people to read.

    - counts of people (``population``, ``pop_*``, ``deprived_pop*``) rounded to whole people
      (nullable integers);
    - shares (``share_covered*``, ``*_proportion_*``, ``*extent``; values 0 to 1) as
      percentages rounded to 0.1, the header ending in ``" (%)"``
      (``share_covered_15min (%)``);
    - minutes to 0.1, organisations within reach and per 1,000 residents to 0.01, average
      ranks to 0.1, distances in metres to whole metres.

    Other columns (codes, names, ranks, deciles, flags, reasons, geometry) are unchanged;
    the frame given is not modified. Rounding is per row, so rows may not add up exactly to a
    total rounded on its own.
    """
    out = df.copy()
    names: dict[str, str] = {}
    for col in [c for c in out.columns if isinstance(c, str)]:
        s = out[col]
        if _is_fraction(col, s):
            out[col] = (s.astype("float64") * 100.0).round(1)
            names[col] = col + PERCENT_SUFFIX
        elif _numeric(s) and _is_people(col) and col != "weight":
            out[col] = _whole_people(s)
        elif _numeric(s) and pd.api.types.is_float_dtype(s.dtype):
            decimals = _rounding(col)
            if decimals is not None:
                out[col] = s.round(decimals)
    return out.rename(columns=names) if names else out


def gis_field_name(col: str) -> str:
    """The GeoPackage field name of a column: ``share_covered_15min (%)`` becomes
    ``share_covered_15min_pct``; other names are kept."""
    if col.endswith(PERCENT_SUFFIX):
        return col[: -len(PERCENT_SUFFIX)] + GIS_PERCENT_SUFFIX
    return col


def _number_format(col: str, s: pd.Series) -> str | None:
    if pd.api.types.is_bool_dtype(s.dtype):
        return None
    if not pd.api.types.is_numeric_dtype(s.dtype):
        return None
    if col.endswith((PERCENT_SUFFIX, GIS_PERCENT_SUFFIX)):
        return "0.0"
    if _is_share(col):
        return "0.0%"
    if _is_people(col):
        return "#,##0"
    if pd.api.types.is_integer_dtype(s.dtype):
        return "0"
    if "rank" in col:
        return "#,##0.0"
    if re.search(r"(^|_)(p|q)$", col):
        return "0.000"
    if re.search(r"(_min|_z|minutes)$|_min_", col):
        return "0.0"
    return "0.00"


def _cell_values(s: pd.Series) -> list[Any]:
    """Python values Excel can hold: None for missing/non-finite, naive datetimes."""
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        if getattr(s.dt, "tz", None) is not None:
            s = s.dt.tz_convert("UTC").dt.tz_localize(None)
        return [None if pd.isna(v) else v.to_pydatetime() for v in s]
    if pd.api.types.is_float_dtype(s.dtype):
        a = s.to_numpy(dtype="float64", na_value=np.nan)
        out_float = a.astype(object)  # Python floats
        out_float[~np.isfinite(a)] = None
        return cast(list[Any], out_float.tolist())
    vals = s.astype(object).tolist()
    out: list[Any] = []
    for v in vals:
        if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and not np.isfinite(v)):
            out.append(None)
        elif isinstance(v, np.generic):
            out.append(v.item())
        else:
            out.append(v)
    return out


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
# a line inside a multi-line cell that a spreadsheet would run as a formula if a reader split
# the row at the line break (e.g. a legacy text-import wizard)
_LINE_FORMULA = re.compile(r"(?<=[\r\n])(?=[=+\-@\t])")


def _guard_text(v: str) -> str:
    """``v`` with a ``'`` before it and before every line of it that starts a formula."""
    if v.startswith(_FORMULA_START):
        v = "'" + v
    if "\r" in v or "\n" in v:
        v = _LINE_FORMULA.sub("'", v)
    return v


def _guard_value(v: Any) -> Any:
    """A cell value for a CSV: text guarded (:func:`_guard_text`), numbers and blanks as they
    are, other objects guarded by the text they are written as."""
    if isinstance(v, str):
        return _guard_text(v)
    if v is None or v is pd.NA or v is pd.NaT or isinstance(v, bool | int | float | np.number):
        return v
    text = str(v)
    guarded = _guard_text(text)
    return v if guarded == text else guarded


def _csv_guard(df: pd.DataFrame) -> pd.DataFrame:
    """A copy whose header and text cells that Excel or LibreOffice would run as a formula
    (``=``, ``+``, ``-``, ``@``, tab, carriage return or line feed first, or such a line
    inside a multi-line cell) get a ``'``; numeric columns untouched."""
    out = df
    for i in range(df.shape[1]):
        col = df.iloc[:, i]
        if pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype):
            continue
        raw = col.astype(object)
        guarded = raw.map(_guard_value)
        if any(
            isinstance(b, str) and (not isinstance(a, str) or a != b)
            for a, b in zip(raw.tolist(), guarded.tolist(), strict=True)
        ):
            if out is df:
                out = df.copy()
            out.isetitem(i, guarded.to_numpy(dtype=object))
    header = [_guard_text(str(c)) for c in df.columns]
    if header != [str(c) for c in df.columns]:
        out = out.set_axis(header, axis=1)  # a new frame: the caller's keeps its header
    return out


def write_csv(df: pd.DataFrame, path: str | Path, *, guard_formulas: bool = True) -> Path:
    """Write ``df`` (no index) as a UTF-8 CSV that spreadsheets open safely.

    Every cell holding a carriage return or line feed is quoted (lines end with CRLF, as in
    RFC 4180), so a line break inside a name never starts a new row. With ``guard_formulas``
    the header and text cells that a spreadsheet would run as a formula get a leading ``'``
    (see :func:`write_tables`). The frame is not modified.
    """
    table = _csv_guard(df) if guard_formulas else df
    p = Path(path)
    table.to_csv(p, index=False, encoding="utf-8", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    return p


#: Characters XML 1.0 cannot hold (C0 controls except tab, line feed, carriage return):
#: dropped from text written to a workbook (as openpyxl's ``ILLEGAL_CHARACTERS_RE``).
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _xlsx_text(v: str) -> str:
    """Text a cell can hold: XML-illegal control characters dropped, line breaks as line
    feeds (CR and CRLF become LF, as an XML reader reads them), at most 32,767 characters
    (longer text cut, ending with an ellipsis)."""
    v = _XML_ILLEGAL.sub("", v)
    if "\r" in v:
        v = v.replace("\r\n", "\n").replace("\r", "\n")
    return v if len(v) <= _MAX_CELL else v[: _MAX_CELL - 1] + "…"


def _float_width(s: pd.Series, fmt: str | None) -> int:
    """The longest ``f"{v:,.1f}"`` (plus one for a ``%``) of the first 2,000 finite values of
    a float column, 0 without any: the text grows with the size of the value, so it is that
    of the largest value without a minus sign or of the smallest with one."""
    a = s.to_numpy(dtype="float64", na_value=np.nan)[:2000]
    a = a[np.isfinite(a)]
    neg = np.signbit(a)
    ends = [a[~neg].max()] if (~neg).any() else []
    ends += [a[neg].min()] if neg.any() else []
    extra = 1 if fmt == "0.0%" else 0
    return max((len(f"{float(v):,.1f}") + extra for v in ends), default=0)


def _width(header: str, values: list[Any], fmt: str | None, s: pd.Series | None = None) -> float:
    """Column width in characters: the longest of the header and the first 2,000 values
    (numbers as ``1,234.5``), plus 2, from 8 to 60. ``s``: the float column of ``values``."""
    if s is not None and pd.api.types.is_float_dtype(s.dtype):
        return float(min(max(max(len(header), _float_width(s, fmt)) + 2, 8), 60))
    sample = values[:2000]
    lens = [len(header)]
    for v in sample:
        if v is None:
            continue
        if isinstance(v, float):
            lens.append(len(f"{v:,.1f}") + (1 if fmt == "0.0%" else 0))
        else:
            lens.append(len(str(v)))
    return float(min(max(max(lens) + 2, 8), 60))


# ---------------------------------------------------------------------------------------------
# writers


_XLSX_PLAIN = (int, float, decimal.Decimal, _dt.datetime, _dt.date, _dt.time)
#: Options of every workbook: text is never read as a formula, a link or a number.
_WORKBOOK_OPTIONS = {
    "constant_memory": True,
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
}
#: The number formats Excel shows dates and times in (as openpyxl gives them).
_DATE_FORMATS: tuple[tuple[type, str], ...] = (
    (_dt.datetime, "yyyy-mm-dd h:mm:ss"),
    (_dt.date, "yyyy-mm-dd"),
    (_dt.time, "h:mm:ss"),
)
_README_WIDTHS = {"A": 34, "B": 40, "C": 28, "D": 28, "E": 28, "F": 28, "G": 28}
#: Pixels per character of column width (Calibri 11, as Excel and xlsxwriter count them).
_PIXELS_PER_CHAR = 7


class _Styles:
    """The formats of one workbook, each made once: number formats on first use, the
    header and README styles up front."""

    def __init__(self, wb: Any) -> None:
        self._wb = wb
        self._numbers: dict[str, Any] = {}
        self.header = wb.add_format({"bold": True, "pattern": 1, "bg_color": "#DDDDDD"})
        self.title = wb.add_format({"bold": True, "font_size": 14})
        self.heading = wb.add_format({"bold": True})
        self.wrap = wb.add_format({"text_wrap": True, "valign": "top"})
        self.wrap_bold = wb.add_format({"text_wrap": True, "valign": "top", "bold": True})

    def number(self, fmt: str) -> Any:
        """The format showing numbers as ``fmt`` (``"#,##0"``)."""
        found = self._numbers.get(fmt)
        if found is None:
            found = self._numbers[fmt] = self._wb.add_format({"num_format": fmt})
        return found


def _set_width(ws: Any, col: int, width: float) -> None:
    """Column ``col`` (from 0) ``width`` characters wide, the width stored as given (as
    openpyxl's ``column_dimensions[...].width``: xlsxwriter's ``set_column`` would add the
    cell padding to it)."""
    ws.set_column_pixels(col, col, round(width * _PIXELS_PER_CHAR))


def _looks_rich(v: str) -> bool:
    """Text xlsxwriter would copy into the file as rich-text XML, unescaped."""
    return v.startswith("<r>") and v.endswith("</r>")


def _write_text(ws: Any, row: int, col: int, v: str, style: Any) -> None:
    """Text as text, ``v`` already made fit (:func:`_xlsx_text`). Text that starts with
    ``<r>`` and ends with ``</r>`` is written in three pieces as rich text (each piece
    escaped), since xlsxwriter would copy it as it is into the sheet's XML."""
    if not v:
        if style is not None:
            ws.write_blank(row, col, None, style)  # as openpyxl wrote "": an empty cell
        return
    if not _looks_rich(v):
        ws.write_string(row, col, v, style)
        return
    pieces = (v[:1], v[1:2], v[2:])
    if style is None:
        ws.write_rich_string(row, col, *pieces)
    else:
        ws.write_rich_string(row, col, *[x for p in pieces for x in (style, p)], style)


def _write_other(ws: Any, row: int, col: int, v: Any, style: Any, styles: _Styles) -> None:
    """One cell of a value that is neither text nor a plain number: booleans, dates and times
    (with their date format), decimals; other objects (paths, ...) as their text."""
    if isinstance(v, bool):
        ws.write_boolean(row, col, v, style)
    elif isinstance(v, int | float | decimal.Decimal):
        ws.write_number(row, col, float(v) if isinstance(v, decimal.Decimal) else v, style)
    elif isinstance(v, _dt.datetime | _dt.date | _dt.time):
        if isinstance(v, _dt.datetime) and v.tzinfo is not None:
            v = v.astimezone(_dt.UTC).replace(tzinfo=None)
        fmt = next(f for kind, f in _DATE_FORMATS if isinstance(v, kind))
        ws.write_datetime(row, col, v, style or styles.number(fmt))
    else:
        _write_text(ws, row, col, _xlsx_text(str(v)), style)


def _write_cell(ws: Any, row: int, col: int, v: Any, style: Any, styles: _Styles) -> None:
    """One cell: text always as text (never a formula), numbers in ``style``, nothing for
    None."""
    if v is None:
        if style is not None:
            ws.write_blank(row, col, None, style)
    elif isinstance(v, str):
        _write_text(ws, row, col, _xlsx_text(v), style)
    elif type(v) is float or type(v) is int:
        ws.write_number(row, col, v, style)
    else:
        _write_other(ws, row, col, v, style, styles)


def _readme_sheet(
    wb: Any, styles: _Styles, readme: list[tuple[str, list[list[Any]], bool]]
) -> None:
    ws = wb.add_worksheet("README")
    for letter, width in _README_WIDTHS.items():
        _set_width(ws, ord(letter) - ord("A"), width)
    row = 0
    for k, (heading, rows, has_header) in enumerate(readme):
        if k:
            row += 1  # a blank row before each section but the first
        # a title from the caller is never a formula
        _write_text(ws, row, 0, _xlsx_text(heading), styles.title if k == 0 else styles.heading)
        row += 1
        for j, r in enumerate(rows):
            style = styles.wrap_bold if j == 0 and has_header else styles.wrap
            for col, v in enumerate(r):
                _write_cell(ws, row, col, v, style, styles)
            row += 1


def _column_kind(values: list[Any]) -> str:
    """``"number"`` (floats, ints and None only), ``"text"`` (str and None only) or
    ``"other"``."""
    kinds = {type(v) for v in values} - {type(None)}
    if kinds <= {float, int}:
        return "number"
    if kinds == {str}:
        return "text"
    return "other"


def _table_sheet(wb: Any, styles: _Styles, title: str, df: pd.DataFrame) -> None:
    ws = wb.add_worksheet(title)
    cols = list(df.columns)
    columns = []
    for j, c in enumerate(cols):
        col = df[c]
        values = _cell_values(col)
        fmt = _number_format(c, col)
        _set_width(ws, j, _width(c, values, fmt, col))
        kind = "number" if pd.api.types.is_float_dtype(col.dtype) else _column_kind(values)
        if kind == "text":
            values = [None if v is None else _xlsx_text(v) for v in values]
            if any(v is not None and (not v or _looks_rich(v)) for v in values):
                kind = "other"
        columns.append((values, kind, None if fmt is None else styles.number(fmt)))
    ws.freeze_panes(1, 0)
    if cols:
        ws.autofilter(0, 0, max(len(df), 1), len(cols) - 1)
    for j, c in enumerate(cols):  # a header from the input is never a formula
        _write_text(ws, 0, j, _xlsx_text(c), styles.header)
    _table_rows(ws, styles, columns, len(df))


def _table_rows(
    ws: Any, styles: _Styles, columns: list[tuple[list[Any], str, Any]], n_rows: int
) -> None:
    """The data rows, row by row (constant memory): numbers in their column's format, text
    as text, missing values as empty cells."""
    number, text = ws.write_number, ws.write_string
    for i in range(n_rows):
        row = i + 1
        for j, (values, kind, style) in enumerate(columns):
            v = values[i]
            if v is None:
                continue
            if kind == "number":
                number(row, j, v, style)
            elif kind == "text":
                text(row, j, v)
            elif isinstance(v, str) or not isinstance(v, _XLSX_PLAIN):
                _write_text(ws, row, j, _xlsx_text(str(v)), None)  # objects as their text
            elif isinstance(v, bool):
                ws.write_boolean(row, j, v)  # no number format on a flag
            else:
                _write_other(ws, row, j, v, style, styles)


def _write_xlsx(
    frames: dict[str, pd.DataFrame],
    sheets: dict[str, str],
    path: Path,
    readme: list[tuple[str, list[list[Any]], bool]],
) -> None:
    """The workbook (xlsxwriter, constant memory): README first, then one sheet per frame;
    written next to ``path`` and moved into place when complete."""
    from xlsxwriter import Workbook

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    wb = Workbook(str(tmp), dict(_WORKBOOK_OPTIONS))
    try:
        styles = _Styles(wb)
        _readme_sheet(wb, styles, readme)
        for name, df in frames.items():
            _table_sheet(wb, styles, sheets[name], df)
    finally:
        wb.close()
    tmp.replace(path)


@dataclass(frozen=True)
class _GpkgPlan:
    """What goes into a GeoPackage: spatial layers (name -> frame), attribute tables, layer
    descriptions (``gpkg_contents.description``) and the inputs of the layer styles."""

    layers: dict[str, gpd.GeoDataFrame]
    attr_tables: dict[str, pd.DataFrame]
    descriptions: dict[str, str]
    styles: bool = True
    style_minutes: float | None = None
    style_limits: tuple[float, ...] = ()


def _gis_frame(name: str, gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """A layer as written: EPSG:27700, one geometry, plain fields (objects as text, shares
    named ``*_pct``)."""
    g = gdf
    if g.crs is None:
        raise CRSError(
            f"table {name!r} has geometry but no CRS; set it (cnmap results are "
            "in EPSG:27700) before exporting"
        )
    if g.crs.to_epsg() != 27700:
        g = to_bng(g, name=f"table {name!r}")
    keep = [
        c
        for c in g.columns
        if c == g.geometry.name or not isinstance(g[c].dtype, gpd.array.GeometryDtype)
    ]
    plain = _plain(pd.DataFrame(g[keep]).drop(columns=[g.geometry.name]))
    # GeoPackage fields cannot hold Python objects: write other object columns as text
    for c in plain.columns:
        if plain[c].dtype == object:
            plain[c] = plain[c].map(
                lambda v: (
                    None
                    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v))
                    else str(v)
                )
            )
    plain = plain.rename(columns={c: gis_field_name(c) for c in plain.columns})
    return gpd.GeoDataFrame(plain, geometry=g.geometry.reset_index(drop=True).values, crs=C.BNG)


def _geometry_type(frame: gpd.GeoDataFrame, written: Mapping[str, Any], layer: str) -> str | None:
    """The layer's geometry type: of its first geometry, else as GDAL declared it."""
    kinds = frame.geometry.geom_type.dropna()
    if len(kinds):
        return str(kinds.iloc[0])
    declared = written.get(layer)
    return None if declared is None else str(declared)


def _write_styles(tmp: Path, frames: Mapping[str, gpd.GeoDataFrame], plan: _GpkgPlan) -> None:
    import pyogrio

    from cnmap.gpkg_styles import styles_for, write_layer_styles

    written = {str(n): t for n, t in pyogrio.list_layers(tmp)}
    layers = {
        n: (pd.DataFrame(f.drop(columns=[f.geometry.name])), _geometry_type(f, written, n))
        for n, f in frames.items()
    }
    write_layer_styles(
        tmp, styles_for(layers, minutes=plan.style_minutes, limits=plan.style_limits)
    )


@contextlib.contextmanager
def _sqlite_unsynced() -> Iterator[None]:
    """GDAL's SQLite writes without an fsync per layer (the GeoPackage is written to a part
    file, flushed once and renamed when complete, so a crash never leaves a half file under
    the final name); the previous setting is restored afterwards."""
    import pyogrio

    key = "OGR_SQLITE_SYNCHRONOUS"
    before = pyogrio.get_gdal_config_option(key)
    pyogrio.set_gdal_config_options({key: "OFF"})
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options({key: before})


def _flush(path: Path) -> None:
    with path.open("rb+") as fh:
        os.fsync(fh.fileno())


def _write_gpkg(plan: _GpkgPlan, path: Path) -> None:
    import pyogrio

    tmp = path.with_name(f".{path.stem}.part.gpkg")
    if tmp.exists():
        tmp.unlink()
    frames = {layer: _gis_frame(layer, gdf) for layer, gdf in plan.layers.items()}
    with _sqlite_unsynced():
        for layer, out in frames.items():
            desc = plan.descriptions.get(layer)
            opts = {"DESCRIPTION": desc} if desc else {}
            out.to_file(tmp, layer=layer, driver="GPKG", engine="pyogrio", layer_options=opts)
        for lname, df in plan.attr_tables.items():
            pyogrio.write_dataframe(df, tmp, layer=lname, driver="GPKG")
        if plan.styles:
            _write_styles(tmp, frames, plan)
    _flush(tmp)
    tmp.replace(path)


def _explained(df: pd.DataFrame, reason: str | None) -> pd.DataFrame:
    """``df``, or for a table with no rows one row whose first cell says why it is empty."""
    if len(df) or not len(df.columns):
        return df
    text = f"{EMPTY_PREFIX} {reason or 'nothing to list'}"
    return pd.DataFrame(
        {c: [text if i == 0 else None] for i, c in enumerate(df.columns)}, dtype=object
    )


def _empty_notes(plain: Mapping[str, pd.DataFrame], reasons: Mapping[str, str]) -> list[str]:
    return [
        f"{name}: {EMPTY_PREFIX} {reasons.get(name) or 'nothing to list'}"
        for name, df in plain.items()
        if not len(df)
    ]


def _source_rows(sources: pd.DataFrame | None) -> list[list[Any]]:
    if sources is None or len(sources) == 0:
        return [["(no sources recorded)"]]
    cols = [
        c
        for c in ("title", "publisher", "vintage", "licence", "attribution", "url", "read_from")
        if c in sources.columns
    ]
    if not cols:
        cols = [str(c) for c in sources.columns]
    rows: list[list[Any]] = [cols]
    for _, r in sources.iterrows():
        rows.append(
            [_text(r[c]) if not (isinstance(r[c], float) and np.isnan(r[c])) else "" for c in cols]
        )
    return rows


def _safe_names(tables: Mapping[str, Any]) -> dict[str, str]:
    """Table name -> file/sheet/layer name; refuses non-frames, reserved and clashing names."""
    safe: dict[str, str] = {}
    for name, df in tables.items():
        if not isinstance(df, pd.DataFrame):
            raise ValidationError(f"table {name!r} is a {type(df).__name__}, not a DataFrame")
        s = _safe_name(name)
        if s.lower() in {r.lower() for r in RESERVED}:
            raise ValidationError(
                f"table name {name!r} is reserved for the export's own tables {RESERVED}; rename it"
            )
        if s.lower() in {v.lower() for v in safe.values()}:
            raise ValidationError(
                f"table names {name!r} and "
                f"{[k for k, v in safe.items() if v.lower() == s.lower()][0]!r} "
                "give the same file name; rename one"
            )
        safe[name] = s
    return safe


def _write_csv_files(
    plain: Mapping[str, pd.DataFrame],
    safe: Mapping[str, str],
    out_dir: Path,
    param_rows: list[tuple[str, str]],
    sources: pd.DataFrame | None,
    guard: bool,
) -> list[Path]:
    """Every table, the parameters and the sources as CSV, all through :func:`write_csv`."""
    files = [
        write_csv(df, out_dir / f"{safe[name]}.csv", guard_formulas=guard)
        for name, df in plain.items()
    ]  # empty tables already explained
    par = pd.DataFrame(param_rows, columns=["parameter", "value"])
    files.append(write_csv(par, out_dir / "parameters.csv", guard_formulas=guard))
    if sources is not None:
        files.append(write_csv(_plain(sources), out_dir / "sources.csv", guard_formulas=guard))
    return files


def _column_guide(plain: Mapping[str, pd.DataFrame]) -> list[list[Any]]:
    """Rows of :data:`COLUMN_GUIDE` for the columns present in the tables."""
    all_cols: list[str] = []
    for df in plain.values():
        all_cols += [c for c in df.columns if c not in all_cols]
    all_cols = [c[: -len(PERCENT_SUFFIX)] if c.endswith(PERCENT_SUFFIX) else c for c in all_cols]
    guide: list[list[Any]] = []
    for key, text in COLUMN_GUIDE.items():
        if "{T}" in key:
            pat = re.compile("^" + re.escape(key).replace(r"\{T\}", r"[0-9.]+") + "$")
            if any(pat.match(c) for c in all_cols):
                guide.append([key, text])
        elif key in all_cols:
            guide.append([key, text])
    return guide


def _readme(
    plain: Mapping[str, pd.DataFrame],
    sheets: Mapping[str, str],
    param_rows: list[tuple[str, str]],
    sources: pd.DataFrame | None,
    title: str | None,
    desc: Mapping[str, str],
    notes: Sequence[str],
) -> list[tuple[str, list[list[Any]], bool]]:
    """The README sheet's sections: (heading, rows, first row is a header)."""
    from cnmap import __version__

    readme: list[tuple[str, list[list[Any]], bool]] = [
        (
            title or "cnmap export",
            [
                ["Created", _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")],
                ["Software", f"cnmap {__version__}"],
                [
                    "Sheets",
                    "listed below; each has one header row (frozen, with filters); "
                    "shares are shown as percentages, people as whole numbers; a sheet "
                    f"with no data holds one row starting {EMPTY_PREFIX!r} that says why",
                ],
            ],
            False,
        ),
        (
            "Sheets",
            [["sheet", "table", "rows", "columns", "what it holds"]]
            + [[sheets[n], n, len(plain[n]), plain[n].shape[1], desc.get(n, "")] for n in plain],
            True,
        ),
        ("Parameters", [["parameter", "value"]] + [list(r) for r in param_rows], True),
        (
            "Data sources, vintages, licences and attribution",
            _source_rows(sources),
            sources is not None and len(sources) > 0,
        ),
    ]
    if notes:
        readme.append(("Notes", [["note"]] + [[str(n)] for n in notes], True))
    guide = _column_guide(plain)
    if guide:
        readme.append(("Column guide", [["column", "meaning"]] + guide, True))
    return readme


def _write_gpkg_file(
    tables: Mapping[str, pd.DataFrame],
    safe: Mapping[str, str],
    p: Path,
    attr: dict[str, pd.DataFrame],
    extra: _GpkgPlan,
) -> list[Path]:
    """The spatial tables, the GeoPackage-only layers of ``extra`` and the README tables as
    one GeoPackage with its layer styles (none without a spatial layer)."""
    spatial = {
        safe[n]: df
        for n, df in tables.items()
        if isinstance(df, gpd.GeoDataFrame) and df._geometry_column_name in df.columns
    }
    clash = sorted(set(spatial) & set(extra.layers))
    if clash:
        raise ValidationError(f"gis_layers {clash} have the names of tables; rename them")
    spatial.update(extra.layers)
    if not spatial:
        log.info("write_tables: no spatial table, no GeoPackage written")
        return []
    _write_gpkg(dataclasses.replace(extra, layers=spatial, attr_tables=attr), p)
    return [p]


def _readme_tables(
    param_rows: list[tuple[str, str]], sources: pd.DataFrame | None
) -> dict[str, pd.DataFrame]:
    attr = {"readme_parameters": pd.DataFrame(param_rows, columns=["parameter", "value"])}
    if sources is not None and len(sources):
        attr["readme_sources"] = pd.DataFrame(
            {str(c): [_text(v) for v in sources[c]] for c in sources.columns}
        )
    return attr


def _layer_descriptions(
    tables: Mapping[str, pd.DataFrame],
    safe: Mapping[str, str],
    desc: Mapping[str, str],
    reasons: Mapping[str, str],
    gis_layers: Mapping[str, pd.DataFrame],
) -> dict[str, str]:
    """Layer name -> its description (and why it is empty) for ``gpkg_contents``."""
    out: dict[str, str] = {}
    for name, df in [*tables.items(), *gis_layers.items()]:
        text = desc.get(name, "")
        if not len(df):
            text = f"{text} {EMPTY_PREFIX} {reasons.get(name) or 'nothing to list'}".strip()
        out[safe.get(name, name)] = text
    return out


def _write_xlsx_file(job: _Export, p: Path, title: str | None) -> list[Path]:
    """The workbook: README sheet, then one sheet per table."""
    sheets: dict[str, str] = {}
    for name in job.plain:
        sheets[name] = sheet_name(job.safe[name], ["README", *sheets.values()])
    readme = _readme(job.plain, sheets, job.param_rows, job.sources, title, job.desc, job.notes)
    _write_xlsx(dict(job.shown), sheets, p, readme)
    return [p]


def _check_formats(formats: Sequence[str] | str) -> list[str]:
    fmts = [formats] if isinstance(formats, str) else list(formats)
    bad = [f for f in fmts if f not in FORMATS]
    if bad or not fmts:
        raise ValidationError(f"formats={formats!r}: choose from {FORMATS}")
    return fmts


def _out_dir(path: str | Path) -> Path:
    out_dir = Path(path)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValidationError(f"path {str(out_dir)!r} is a file; give a folder to write into")
    out_dir.mkdir(parents=True, exist_ok=True)
    return out_dir


@dataclass(frozen=True)
class _Export:
    """One call of :func:`write_tables`: the tables as given, without geometry
    (``plain``), as written (``shown``: empty tables explained) and the README parts."""

    tables: Mapping[str, pd.DataFrame]
    plain: dict[str, pd.DataFrame]
    shown: dict[str, pd.DataFrame]
    safe: dict[str, str]
    out_dir: Path
    param_rows: list[tuple[str, str]]
    sources: pd.DataFrame | None
    desc: dict[str, str]
    reasons: dict[str, str]
    notes: list[str]


def _export(  # noqa: PLR0913 (private: the parts of write_tables' one call)
    tables: Mapping[str, pd.DataFrame],
    path: str | Path,
    params: Mapping[str, Any] | None,
    sources: pd.DataFrame | None,
    descriptions: Mapping[str, str] | None,
    notes: Sequence[str],
    empty_reasons: Mapping[str, str] | None,
) -> _Export:
    """Check the names, make the folder and the parts every format writes."""
    safe = _safe_names(tables)
    out_dir = _out_dir(path)
    reasons = {**EMPTY_REASONS, **(empty_reasons or {})}
    plain = {name: _plain(df) for name, df in tables.items()}
    return _Export(
        tables=tables,
        plain=plain,
        shown={name: _explained(df, reasons.get(name)) for name, df in plain.items()},
        safe=safe,
        out_dir=out_dir,
        param_rows=_flatten(params or {}),
        sources=sources,
        desc={**SHEET_DESCRIPTIONS, **(descriptions or {})},
        reasons=reasons,
        notes=[*notes, *_empty_notes(plain, reasons)],
    )


def _gpkg_part(
    job: _Export, stem: str, gis_layers: Mapping[str, gpd.GeoDataFrame] | None, plan: _GpkgPlan
) -> list[Path]:
    """The GeoPackage of :func:`write_tables` (``plan``: its style options)."""
    extra = {_safe_name(k): v for k, v in (gis_layers or {}).items()}
    plan = dataclasses.replace(
        plan,
        layers=extra,
        descriptions=_layer_descriptions(job.tables, job.safe, job.desc, job.reasons, extra),
    )
    attr = _readme_tables(job.param_rows, job.sources)
    return _write_gpkg_file(job.tables, job.safe, job.out_dir / f"{stem}.gpkg", attr, plan)


def write_tables(  # noqa: PLR0913 (public API: keyword-only options, as osmnx)
    tables: Mapping[str, pd.DataFrame],
    path: str | Path,
    *,
    formats: Sequence[str] = FORMATS,
    params: Mapping[str, Any] | None = None,
    sources: pd.DataFrame | None = None,
    stem: str = "cnmap",
    descriptions: Mapping[str, str] | None = None,
    notes: Sequence[str] = (),
    title: str | None = None,
    csv_guard_formulas: bool = True,
    empty_reasons: Mapping[str, str] | None = None,
    gis_layers: Mapping[str, gpd.GeoDataFrame] | None = None,
    styles: bool = True,
    style_minutes: float | None = None,
    style_limits: Sequence[float] = (),
) -> dict[str, list[Path]]:
    """Write named tables as CSV files, one Excel workbook and one GeoPackage (the module
    docstring says what each holds and how text a spreadsheet would run stays text).

    Parameters
    ----------
    tables
        Name -> DataFrame or GeoDataFrame, in order; names become file, sheet and layer names
        (``README``, ``parameters``, ``sources``, ``readme_*``, ``layer_styles`` reserved).
    path
        Output folder (created if needed); files of the same names are replaced.
    formats, stem
        Any of ``"csv"``, ``"xlsx"``, ``"gpkg"``; the workbook's and GeoPackage's file name.
    params, sources
        Parameters (nested dicts as dotted keys) and data provenance: README sheet,
        ``parameters.csv``, ``sources.csv``, GeoPackage ``readme_parameters``/``_sources``.
    descriptions, notes, title
        Name -> one line for the README and the layer (over :data:`SHEET_DESCRIPTIONS`);
        caveats for the README; its first line.
    csv_guard_formulas
        CSV text (and header) starting ``=``, ``+``, ``-``, ``@``, tab, CR or LF (or such a
        line in it) gets a leading ``'``; False: unchanged. Numbers are never changed.
    empty_reasons
        Name -> why it may be empty (over :data:`EMPTY_REASONS`): an empty table is written
        as one row ``"(no rows) <reason>"``, said in the README notes and layer description.
    gis_layers
        Spatial layers for the GeoPackage only (residential points, catchments).
    styles, style_minutes, style_limits
        QGIS ``layer_styles`` (:mod:`cnmap.gpkg_styles`), their headline and all time limits.

    Returns
    -------
    dict
        Format -> list of files written.

    Raises
    ------
    ValidationError
        No tables, an unknown format, a non-DataFrame, a reserved or clashing name.
    CRSError
        A spatial table without CRS (GeoPackage).
    """
    if not tables:
        raise ValidationError("write_tables: no tables given; pass a dict of name -> DataFrame")
    fmts = _check_formats(formats)
    job = _export(tables, path, params, sources, descriptions, notes, empty_reasons)
    written: dict[str, list[Path]] = {}
    if "csv" in fmts:
        written["csv"] = _write_csv_files(
            job.shown, job.safe, job.out_dir, job.param_rows, sources, csv_guard_formulas
        )
    if "xlsx" in fmts:
        written["xlsx"] = _write_xlsx_file(job, job.out_dir / f"{stem}.xlsx", title)
    if "gpkg" in fmts:
        limits = tuple(float(t) for t in style_limits)
        plan = _GpkgPlan({}, {}, {}, styles, style_minutes, limits)
        written["gpkg"] = _gpkg_part(job, stem, gis_layers, plan)
    log.info("write_tables: %d tables to %s (%s)", len(tables), job.out_dir, ", ".join(fmts))
    return written


def _network_source(params: Mapping[str, Any]) -> pd.DataFrame:
    net = params.get("network")
    if not isinstance(net, Mapping) or not net.get("source"):
        return pd.DataFrame()
    return pd.DataFrame(
        [
            {
                "id": "walk_network",
                "title": "Walking network used for the walking times",
                "publisher": "as read from the file (OpenStreetMap-derived networks: © OpenStreetMap "
                "contributors)",
                "vintage": "",
                "licence": "ODbL-1.0 for OpenStreetMap data",
                "attribution": "© OpenStreetMap contributors",
                "url": "",
                "read_from": str(net.get("source")),
            }
        ]
    )


# ---------------------------------------------------------------------------------------------
# export_coverage: checks and notes


def _address_postcodes(orgs: pd.DataFrame) -> pd.Series:
    """Each organisation's own postcode: its postcode column, else the last postcode written
    in its address."""
    from cnmap.postcodes import extract_postcode, normalise_postcodes

    none = pd.Series(np.nan, index=orgs.index, dtype=object)
    given = normalise_postcodes(orgs["postcode"]) if "postcode" in orgs.columns else none
    given = given.where(given.str.fullmatch(r"[A-Z0-9 ]+").fillna(False).astype(bool))
    found = extract_postcode(orgs["address"]) if "address" in orgs.columns else none
    return given.where(given.notna(), found)


def postcode_distances(
    organisations: gpd.GeoDataFrame, lookup: Any, *, max_m: float = 1000.0
) -> pd.DataFrame:
    """How far each organisation is placed from the centre of its own address postcode.

    Parameters
    ----------
    organisations
        Placed organisations (any CRS; measured in EPSG:27700), with ``postcode`` and/or
        ``address`` columns.
    lookup
        A :class:`cnmap.postcodes.PostcodeLookup` (e.g. ``PostcodeLookup(area=area)``) or a
        postcode lookup frame (``postcode``, ``lat``, ``lon``).
    max_m
        Farther than this (metres) is flagged.

    Returns
    -------
    pandas.DataFrame
        Same index: ``postcode_checked`` (the postcode column, else the last postcode in the
        address; missing when there is none), ``postcode_distance_m`` (missing when the
        postcode is not found) and ``far_from_postcode`` (True when farther than ``max_m``).
    """
    from cnmap.postcodes import PostcodeLookup

    if not isinstance(lookup, PostcodeLookup):
        lookup = PostcodeLookup(lookup)
    pts = (
        to_bng(organisations, name="organisations").geometry
        if organisations.crs is not None
        else organisations.geometry
    )
    codes = _address_postcodes(organisations)
    geo = lookup.geocode(codes.fillna(""))
    dx = geo["easting"].to_numpy(float) - pts.x.to_numpy(float)
    dy = geo["northing"].to_numpy(float) - pts.y.to_numpy(float)
    dist = np.hypot(dx, dy)
    return pd.DataFrame(
        {
            "postcode_checked": codes.to_numpy(object),
            "postcode_distance_m": dist,
            "far_from_postcode": np.nan_to_num(dist, nan=0.0) > max_m,
        },
        index=organisations.index,
    )


#: id(area) -> (a weak reference to the area, its postcode lookup): see
#: :func:`area_postcode_lookup`.
_AREA_LOOKUPS: dict[int, tuple[weakref.ref[Any], Any]] = {}


def area_postcode_lookup(area: Any) -> Any:
    """The :class:`cnmap.postcodes.PostcodeLookup` of an area (``PostcodeLookup(area=area)``),
    made once per area object: every check of the same area (the tables' quality check, the
    summary page's quality table, the map) reuses its prepared lookup and the postcode-area
    lookups it read, instead of reading and preparing them again. Dropped with the area."""
    from cnmap.postcodes import PostcodeLookup

    key = id(area)
    held = _AREA_LOOKUPS.get(key)
    if held is not None and held[0]() is area:
        return held[1]
    lookup = PostcodeLookup(area=area)
    held_lookups = _AREA_LOOKUPS  # still at hand when the module is torn down at exit

    def forget(_ref: weakref.ref[Any]) -> None:
        held_lookups.pop(key, None)

    try:
        ref = weakref.ref(area, forget)
    except TypeError:  # an object without weak references: not kept
        return lookup
    _AREA_LOOKUPS[key] = (ref, lookup)
    return lookup


def _postcode_check(result: Any, max_m: float | None) -> tuple[pd.DataFrame | None, str | None]:
    """The distances of :func:`postcode_distances` for the result's organisations, or None
    with the reason the check was not made."""
    orgs = result.organisations
    area = getattr(result, "area", None)
    if max_m is None:
        return None, "not asked for (postcode_check_m=None)"
    if not len(orgs) or not ({"postcode", "address"} & set(orgs.columns)):
        return None, "the organisations have no postcode or address"
    if area is None or getattr(area, "postcodes", None) is None:
        return None, "no postcode lookup for the area"
    from cnmap.errors import DataFetchError

    try:
        return postcode_distances(orgs, area_postcode_lookup(area), max_m=max_m), None
    except DataFetchError as exc:
        return None, f"the postcode lookup could not be read ({str(exc).splitlines()[0]})"


def _far_rows(orgs: pd.DataFrame, dist: pd.DataFrame, max_m: float) -> list[dict[str, Any]]:
    rows = []
    for i in np.flatnonzero(dist["far_from_postcode"].to_numpy(bool)):
        d = float(dist["postcode_distance_m"].iat[i])
        name = orgs[C.NAME].iat[i] if C.NAME in orgs.columns else orgs[C.ORG_ID].iat[i]
        rows.append(
            {
                "what": FAR_FROM_POSTCODE,
                "id": orgs[C.ORG_ID].iat[i],
                "detail": f"{name!s}: placed {d / 1000:,.1f} km from its address postcode "
                f"{dist['postcode_checked'].iat[i]} (more than "
                f"{max_m / 1000:g} km); check its coordinates or address",
            }
        )
    return rows


def _quality_reason(result: Any, checked: bool) -> str:
    p = result.params
    checks = (
        [
            f"no organisation or home is farther than {p.get('max_snap_m', 500):g} m from a "
            "walkable street"
        ]
        if p.get("mode", "network") == "network"
        else []
    )
    if checked:
        checks.append("no organisation is placed more than 1 km from its address postcode")
    return "no problems found: " + (
        "; ".join(checks) if checks else "no check applies in straight-line mode"
    )


def _thin_words(thin: Any) -> str:
    tp = dict(getattr(thin, "params", {}) or {})
    if not tp:
        return "the thin rule"
    return (
        f"{tp.get('domain_label', 'IMD')} decile {tp.get('max_decile')} or lower and under "
        f"{100 * float(tp.get('min_share_covered', 0)):g}% of residents within "
        f"{tp.get('minutes')} minutes' walk"
    )


def _empty_reasons(result: Any, thin: Any, checked: bool) -> dict[str, str]:
    rule = _thin_words(thin)
    return {
        "thin_lsoas": f"no LSOA is thin ({rule}); every LSOA is in lsoas with its thin flag "
        "and rank",
        "thin_wards": "no ward is thin or left behind; every ward is in wards with its flags",
        "quality": _quality_reason(result, checked),
        "organisations": "no organisation was read and placed",
        "deciles": "no LSOA of the area has an IMD decile",
        "catchments": "no organisation reached any street",
    }


#: How each ward table counts a ward's residents.
_WARD_POPULATION = {
    "wards": "residents counted in the ward they live in (residential points inside the "
    "ward boundary)",
    "thin_wards": "residents counted in the ward they live in, as in wards",
    "ward_deprivation": "the populations of the LSOAs assigned to the ward by the "
    "LSOA-to-ward best fit added up (as MHCLG's ward summaries do)",
}


def _ward_populations(tables: Mapping[str, pd.DataFrame]) -> dict[str, pd.Series]:
    out = {}
    for name, df in tables.items():
        flat = _plain(df)
        if (
            {C.WARD_CODE, C.POPULATION} <= set(flat.columns)
            and C.LSOA_CODE not in flat.columns
            and flat[C.WARD_CODE].is_unique
        ):
            out[name] = flat.set_index(C.WARD_CODE)[C.POPULATION].astype(float)
    return out


def _ward_label(tables: Mapping[str, pd.DataFrame], names: set[str], ward: str) -> str:
    """``"Name (code)"`` of a ward from the first ward table that names it."""
    for n, df in tables.items():
        flat = _plain(df)
        if n in names and C.WARD_NAME in flat.columns:
            found = flat.loc[flat[C.WARD_CODE] == ward, C.WARD_NAME]
            if len(found):
                return f"{found.iloc[0]} ({ward})"
    return ward


def ward_population_note(tables: Mapping[str, pd.DataFrame]) -> str | None:
    """A note when the ward tables give a ward different populations (None when they agree to
    the person): which tables, the largest difference and why the definitions differ."""
    pops = _ward_populations(tables)
    names = list(pops)
    worst: tuple[float, str, str, str] | None = None
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            both = pops[a].index.intersection(pops[b].index)
            diff = (pops[a][both] - pops[b][both]).abs()
            if len(diff) and diff.max() >= 0.5 and (worst is None or diff.max() > worst[0]):
                worst = (float(diff.max()), a, b, str(diff.idxmax()))
    if worst is None:
        return None
    d, a, b, ward = worst
    label = _ward_label(tables, set(pops), ward)
    ta, tb = float(pops[a].sum()), float(pops[b].sum())
    totals = (
        f"the totals for all wards agree ({ta:,.0f})"
        if abs(ta - tb) < 0.5
        else f"all wards add up to {ta:,.0f} in {a} and {tb:,.0f} in {b}"
    )
    return (
        f"Ward populations differ between sheets (up to {d:,.0f} people, {label}: "
        f"{pops[a][ward]:,.0f} in {a}, {pops[b][ward]:,.0f} in {b}) because they count "
        f"residents two ways - {a}: {_WARD_POPULATION.get(a, 'its own definition')}; {b}: "
        f"{_WARD_POPULATION.get(b, 'its own definition')}. An LSOA that straddles a ward "
        "boundary is split by where its residents live in the first and counted whole in "
        f"the second; {totals}."
    )


def _with_flags(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    """A thin result's full table with its identifying and flag columns first."""
    first = [
        c
        for c in (
            key,
            C.LSOA_NAME if key == C.LSOA_CODE else C.WARD_NAME,
            *((C.WARD_CODE, C.WARD_NAME) if key == C.LSOA_CODE else ()),
            "rank",
            "thin",
            "left_behind",
            "reason",
        )
        if c in frame.columns
    ]
    return frame[[*first, *[c for c in frame.columns if c not in first]]]


#: Residents' columns written to the GeoPackage (the walk by type is left out).
_RESIDENT_COLUMNS = re.compile(
    r"^(lsoa_code|ward_code|weight|placed|walk_m|walk_min|"
    r"imd_decile|(n_reachable|covered)_[0-9.]+min)$"
)


def _residents_layer(result: Any) -> gpd.GeoDataFrame:
    r = result.residents
    keep = [c for c in r.columns if _RESIDENT_COLUMNS.match(str(c))]
    return gpd.GeoDataFrame(r[keep], geometry=r.geometry, crs=r.crs)


def _catchments_layer(result: Any, catchments: Any) -> tuple[gpd.GeoDataFrame | None, str | None]:
    """The catchment polygons given, or computed at the headline limit, or None and why."""
    if isinstance(catchments, gpd.GeoDataFrame):
        return catchments, None
    if catchments is not True:
        return None, None
    fn = getattr(result, "catchments", None)
    if not callable(fn):
        return None, "no catchments: the result cannot compute them"
    try:
        return fn(), None
    except ValidationError as exc:  # crow-flies results have no street network
        return None, f"no catchments layer: {exc}"


def _gis_layers(
    result: Any, catchments: Any, residents: bool
) -> tuple[dict[str, gpd.GeoDataFrame], list[str]]:
    layers: dict[str, gpd.GeoDataFrame] = {}
    notes: list[str] = []
    if residents and len(getattr(result, "residents", ())):
        layers["residents"] = _residents_layer(result)
    catch, why = _catchments_layer(result, catchments)
    if catch is not None:
        layers["catchments"] = catch
    if why:
        notes.append(why)
    return layers, notes


def _check_result(result: Any, thin: Any, profiles: Any) -> None:
    for attr in ("lsoas", "wards", "deciles", "totals", "organisations", "quality", "params"):
        if not hasattr(result, attr):
            raise ValidationError(
                f"export_coverage needs the result of cnmap.coverage(...), not "
                f"{type(result).__name__} (it has no {attr!r})"
            )
    if thin is not None and not hasattr(thin, "ranked"):
        raise ValidationError(
            f"thin must be the result of cnmap.thin_areas(...), not {type(thin).__name__}"
        )
    if profiles is not None and not isinstance(profiles, pd.DataFrame):
        raise ValidationError("profiles must be the DataFrame of cnmap.ward_profiles(area)")


def _organisations_and_quality(
    result: Any, dist: pd.DataFrame | None, max_m: float | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The organisations (with their postcode distances) and the quality table (with the
    organisations placed far from their postcode)."""
    orgs = result.organisations
    quality = pd.DataFrame(result.quality).reindex(columns=["what", "id", "detail"])
    if dist is None or max_m is None:
        return orgs, quality
    orgs = orgs.copy()
    for c in dist.columns:
        orgs[c] = dist[c].to_numpy()
    far = pd.DataFrame(
        _far_rows(result.organisations, dist, max_m), columns=["what", "id", "detail"]
    )
    if len(far):
        quality = far if not len(quality) else pd.concat([quality, far], ignore_index=True)
    return orgs, quality


def quality_table(result: Any, *, postcode_check_m: float | None = 1000.0) -> pd.DataFrame:
    """The quality table :func:`export_coverage` writes: the result's own problems and the
    organisations placed farther than ``postcode_check_m`` from their address postcode."""
    dist, _ = _postcode_check(result, postcode_check_m)
    return _organisations_and_quality(result, dist, postcode_check_m)[1]


def _coverage_tables(
    result: Any, thin: Any, profiles: pd.DataFrame | None, orgs: pd.DataFrame, quality: pd.DataFrame
) -> dict[str, pd.DataFrame]:
    """The standard tables in order, before :func:`people_table`."""
    tables: dict[str, pd.DataFrame] = {}
    if thin is not None:
        tables["thin_lsoas"] = thin.ranked("lsoas", flagged_only=True, geometry=True)
        tables["thin_wards"] = thin.ranked("wards", flagged_only=True, geometry=True)
        tables["lsoas"] = _with_flags(thin.lsoas, C.LSOA_CODE)
        tables["wards"] = _with_flags(thin.wards, C.WARD_CODE)
    else:
        tables["lsoas"] = result.lsoas
        tables["wards"] = result.wards
    tables["deciles"] = result.deciles
    tables["totals"] = result.totals
    tables["organisations"] = orgs
    if profiles is not None:
        tables["ward_deprivation"] = profiles
    tables["quality"] = quality
    return tables


def _coverage_notes(
    result: Any,
    thin: Any,
    tables: Mapping[str, pd.DataFrame],
    quality: pd.DataFrame,
    check_why: str | None,
) -> list[str]:
    notes = list(getattr(thin, "notes", ())) if thin is not None else []
    if len(quality):
        notes.append(f"{len(quality)} data-quality problem(s): see the quality sheet")
    if check_why:
        notes.append(
            f"Organisations were not checked against their address postcodes: {check_why}."
        )
    wards = ward_population_note(tables)
    if wards:
        notes.append(wards)
    notes += [
        "Counts of people are rounded to whole people on each row, so rows may not add up "
        "exactly to a rounded total; shares are percentages (0 to 100) in columns whose "
        "header ends with (%) (in the GeoPackage: _pct), rounded to 0.1.",
        "Walking coverage is modelled on the street network at the speed in the "
        "parameters; it does not know opening hours, capacity, eligibility, steps or "
        "the safety of a route.",
    ]
    return notes


def _title(result: Any) -> str:
    lad = result.params.get("lad_code", "")
    title = f"cnmap walking coverage{f' - {lad}' if lad else ''}"
    if getattr(result, "area", None) is not None:
        title = f"cnmap walking coverage - {result.area.lad_name} ({result.area.lad_code})"
    return title


def _headline(result: Any, thin: Any) -> float | None:
    tp = dict(getattr(thin, "params", {}) or {}) if thin is not None else {}
    if tp.get("minutes") is not None:
        return float(tp["minutes"])
    m = getattr(result, "headline_minutes", None)
    return None if m is None else float(m)


def export_coverage(  # noqa: PLR0913 (public API: keyword-only options, as osmnx)
    result: Any,
    out_dir: str | Path,
    *,
    thin: Any = None,
    profiles: pd.DataFrame | None = None,
    formats: Sequence[str] = FORMATS,
    stem: str = "cnmap_coverage",
    sources: pd.DataFrame | None = None,
    include_residents: bool = False,
    catchments: gpd.GeoDataFrame | bool = True,
    residents_layer: bool = True,
    postcode_check_m: float | None = 1000.0,
) -> dict[str, list[Path]]:
    """Write a coverage result (and its thin-infrastructure view) for council officers.

    Tables are written for people (:func:`people_table`): whole people, shares as
    percentages with ``(%)`` in the header. Every table is described in ``docs/outputs.md``.

    Parameters
    ----------
    result
        A :class:`~cnmap.coverage.CoverageResult`.
    out_dir
        Output folder.
    thin
        A :class:`~cnmap.thin.ThinResult` of the same coverage: adds the sheets
        ``thin_lsoas`` and ``thin_wards`` (first; the flagged areas only, in rank order) and
        the rank, flags and reason of every area to ``lsoas`` and ``wards``.
    profiles
        Ward deprivation profiles (:func:`cnmap.deprivation.ward_profiles`): adds
        ``ward_deprivation``. Its populations add up LSOAs by best fit; when they differ from
        ``wards`` (residents counted where they live) a README note says by how much and why.
    formats, stem
        As for :func:`write_tables`.
    sources
        Extra provenance rows (e.g. the organisations file's publisher and licence), added to
        the result's own sources.
    include_residents
        Also write the residential points as a table (CSV and sheet; large).
    catchments
        The GeoPackage layer ``catchments``: a frame of catchment polygons (e.g. the one
        drawn on the map, ``result.catchments()``, so it is computed once), True to compute
        it at the headline limit (street-network mode; several seconds for a city), or False.
    residents_layer
        The GeoPackage layer ``residents`` (the residential points and their walks).
    postcode_check_m
        Flag organisations placed farther than this (metres) from the centre of their own
        address postcode (the ``postcode`` column, else the last postcode in the
        ``address``): a row in ``quality`` for each, and ``postcode_checked``,
        ``postcode_distance_m``, ``far_from_postcode`` in ``organisations``. None: no check.

    Returns
    -------
    dict
        Format -> files written (see :func:`write_tables`).
    """
    _check_result(result, thin, profiles)
    dist, check_why = _postcode_check(result, postcode_check_m)
    orgs, quality = _organisations_and_quality(result, dist, postcode_check_m)
    raw = _coverage_tables(result, thin, profiles, orgs, quality)
    if include_residents:
        raw["residents"] = result.residents
    params: dict[str, Any] = {"coverage": dict(result.params)}
    if thin is not None:
        params["thin"] = dict(thin.params)
    notes = _coverage_notes(result, thin, raw, quality, check_why)
    tables = {name: df if name == "residents" else people_table(df) for name, df in raw.items()}
    gis, gis_notes = _gis_layers(result, catchments, residents_layer and "gpkg" in formats)
    src = [
        s
        for s in (result.sources, _network_source(result.params), sources)
        if s is not None and len(s)
    ]
    all_sources = pd.concat(src, ignore_index=True) if src else None
    return write_tables(
        tables,
        out_dir,
        formats=formats,
        params=params,
        sources=all_sources,
        stem=stem,
        notes=[*notes, *gis_notes],
        title=_title(result),
        empty_reasons=_empty_reasons(result, thin, dist is not None),
        gis_layers=gis,
        style_minutes=_headline(result, thin),
        style_limits=tuple(getattr(result, "thresholds", ())),
    )
