"""Write results for people who will open them: CSV, one Excel workbook, one GeoPackage.

:func:`write_tables` writes any named tables; :func:`export_coverage` writes a coverage
result (and optionally its thin-infrastructure classification and ward deprivation
profiles) with the standard sheets documented in ``docs/thin.md``:

- **CSV**: one UTF-8 file per table (``<name>.csv``, no geometry column) plus
  ``parameters.csv`` and ``sources.csv``, all written by :func:`write_csv`: a cell holding
  a line break is always quoted (it never starts a new row); text that a spreadsheet would
  run as a formula (a header or cell starting with ``=``, ``+``, ``-``, ``@``, a tab, a
  carriage return or a line feed, e.g. an organisation named ``=HYPERLINK(...)`` in a
  user's file, and each such line inside a multi-line cell) is written with a leading ``'``
  (``csv_guard_formulas=True``, the default; numbers are never changed);
- **XLSX** (``<stem>.xlsx``): a first sheet ``README`` (what each sheet holds, the parameters,
  data vintages, licences and attribution, notes, a column guide), then one sheet per table:
  bold frozen header row with filters, column widths set, shares as percentages, people as
  whole numbers with thousands separators; no geometry; text that Excel would read as a
  formula is stored as text;
- **GeoPackage** (``<stem>.gpkg``): one layer per spatial table in EPSG:27700, plus the
  attribute tables ``readme_parameters`` and ``readme_sources``.

Writing is the only I/O here; tables are never modified.
"""

from __future__ import annotations

import csv
import datetime as _dt
import decimal
import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from cnmap import columns as C
from cnmap.errors import CRSError, ValidationError

__all__ = [
    "write_tables",
    "export_coverage",
    "FORMATS",
    "SHEET_DESCRIPTIONS",
    "COLUMN_GUIDE",
    "sheet_name",
    "write_csv",
]

log = logging.getLogger(__name__)

FORMATS = ("csv", "xlsx", "gpkg")
RESERVED = ("README", "parameters", "sources", "readme_parameters", "readme_sources")
_MAX_SHEET = 31
_MAX_CELL = 32767

#: What each standard sheet / table of :func:`export_coverage` holds.
SHEET_DESCRIPTIONS: dict[str, str] = {
    "thin_lsoas": "Every LSOA in rank order (1 = thinnest): deprivation, provision, residents "
                  "out of reach, the thin flag, bivariate class and, for thin LSOAs, the reason.",
    "thin_wards": "Every ward in rank order (1 = thinnest): ward deprivation (average rank), "
                  "provision, thin and left-behind flags, bivariate class and the reason.",
    "lsoas": "Walking coverage by LSOA at every time limit, with the LSOA's deprivation.",
    "wards": "Walking coverage by ward at every time limit (residents counted in the ward "
             "they live in).",
    "deciles": "The equity view: coverage by national IMD decile (1 = most deprived 10%).",
    "totals": "Coverage of the whole area at each time limit.",
    "organisations": "The organisations used, with where they were placed on the street "
                     "network.",
    "ward_deprivation": "MHCLG summary measures of deprivation for each ward.",
    "quality": "Problems found: organisations or homes too far from any walkable street.",
    "residents": "Residential points (postcodes) with their population weight and walking "
                 "results.",
}

#: Plain-English meaning of common columns, listed on the README sheet when present.
COLUMN_GUIDE: dict[str, str] = {
    "rank": "1 = thinnest provision for the need: thin areas first, then by deprived residents "
            "out of reach, then by deprivation",
    "population": "residents (IoD2019 mid-2015 population unless stated in the parameters)",
    "pop_covered_{T}min": "residents within T minutes' walk of an organisation",
    "share_covered_{T}min": "share of residents within T minutes' walk of an organisation",
    "mean_reachable_{T}min": "average number of organisations a resident can reach within "
                             "T minutes (population-weighted)",
    "mean_walk_min": "average walk to the nearest organisation, minutes (population-weighted)",
    "median_walk_min": "median walk to the nearest organisation, minutes",
    "deprivation_domain": "the deprivation index used (imd = Index of Multiple Deprivation)",
    "deprivation_rank": "national rank of the LSOA on that index (1 = most deprived in England)",
    "deprivation_decile": "national decile (1 = most deprived 10% in England); for wards, the "
                          "decile the ward's average rank falls in",
    "deprivation_average_rank": "MHCLG population-weighted average rank of the ward's LSOAs "
                                "(higher = more deprived)",
    "share_covered": "share of residents within the chosen time limit of an organisation",
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
        cand = base[:_MAX_SHEET - len(suffix)] + suffix
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
                out[c] = col.map(lambda v: _text(sorted(v) if isinstance(v, set) else v)
                                 if isinstance(v, (list, tuple, set, dict)) else v)
    out.columns = [str(c) for c in out.columns]
    return out


def _is_share(col: str) -> bool:
    return bool(re.search(r"(^|_)share(_|$)|^proportion_|_proportion_|(^|_)extent$|^match_rate$",
                          col))


def _is_people(col: str) -> bool:
    return bool(re.search(r"(^|_)pop(_|$)|population|^weight$|^deprived_pop", col))


def _number_format(col: str, s: pd.Series) -> str | None:
    if pd.api.types.is_bool_dtype(s.dtype):
        return None
    if not pd.api.types.is_numeric_dtype(s.dtype):
        return None
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
        return [float(v) if np.isfinite(v) else None for v in a]
    vals = s.astype(object).tolist()
    out: list[Any] = []
    for v in vals:
        if v is None or v is pd.NA or (isinstance(v, float) and not np.isfinite(v)):
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
        if any(isinstance(b, str) and (not isinstance(a, str) or a != b)
               for a, b in zip(raw.tolist(), guarded.tolist(), strict=True)):
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
    table.to_csv(p, index=False, encoding="utf-8", lineterminator="\r\n",
                 quoting=csv.QUOTE_MINIMAL)
    return p


def _xlsx_text(v: str) -> str:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    v = ILLEGAL_CHARACTERS_RE.sub("", v)
    return v if len(v) <= _MAX_CELL else v[:_MAX_CELL - 1] + "…"


def _col_letter(i: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(i)


def _width(header: str, values: list[Any], fmt: str | None) -> float:
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


def _data_cell(ws: Any, v: Any, fmt: str | None) -> Any:
    """A worksheet value: text always as text (never a formula), numbers formatted, other
    objects (paths, decimals, ...) as their text."""
    from openpyxl.cell import WriteOnlyCell

    if v is None:
        return None
    if not isinstance(v, str) and not isinstance(v, _XLSX_PLAIN):
        v = str(v)
    if isinstance(v, str):
        cell = WriteOnlyCell(ws, _xlsx_text(v))
        cell.data_type = "s"  # never a formula
        return cell
    if fmt is not None and not isinstance(v, bool):
        cell = WriteOnlyCell(ws, v)
        cell.number_format = fmt
        return cell
    return v


def _readme_sheet(wb: Any, readme: list[tuple[str, list[list[Any]], bool]]) -> None:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font

    bold = Font(bold=True)
    ws = wb.create_sheet("README")
    ws.column_dimensions["A"].width = 34
    ws.column_dimensions["B"].width = 40
    for col in "CDEFG":
        ws.column_dimensions[col].width = 28
    for k, (heading, rows, has_header) in enumerate(readme):
        c = WriteOnlyCell(ws, _xlsx_text(heading))
        c.data_type = "s"  # a title from the caller is never a formula
        c.font = Font(bold=True, size=14) if k == 0 else bold
        if k:
            ws.append([])
        ws.append([c])
        for j, r in enumerate(rows):
            cells = []
            for v in r:
                cell = WriteOnlyCell(ws, _xlsx_text(v) if isinstance(v, str) else v)
                if isinstance(v, str):
                    cell.data_type = "s"
                if j == 0 and has_header:
                    cell.font = bold
                cell.alignment = Alignment(wrap_text=True, vertical="top")
                cells.append(cell)
            ws.append(cells)


def _table_sheet(wb: Any, title: str, df: pd.DataFrame) -> None:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font, PatternFill

    ws = wb.create_sheet(title)
    cols = list(df.columns)
    values = {c: _cell_values(df[c]) for c in cols}
    fmts = {c: _number_format(c, df[c]) for c in cols}
    for j, c in enumerate(cols, start=1):
        ws.column_dimensions[_col_letter(j)].width = _width(c, values[c], fmts[c])
    ws.freeze_panes = "A2"
    if cols:
        ws.auto_filter.ref = f"A1:{_col_letter(len(cols))}{max(len(df), 1) + 1}"
    header = []
    for c in cols:
        cell = WriteOnlyCell(ws, _xlsx_text(c))
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDDDDD")
        cell.data_type = "s"  # a header from the input is never a formula
        header.append(cell)
    ws.append(header)
    for i in range(len(df)):
        ws.append([_data_cell(ws, values[c][i], fmts[c]) for c in cols])


def _write_xlsx(frames: dict[str, pd.DataFrame], sheets: dict[str, str], path: Path,
                readme: list[tuple[str, list[list[Any]], bool]]) -> None:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    _readme_sheet(wb, readme)
    for name, df in frames.items():
        _table_sheet(wb, sheets[name], df)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    wb.save(tmp)
    tmp.replace(path)


def _write_gpkg(frames: dict[str, gpd.GeoDataFrame], layers: dict[str, str], path: Path,
                attr_tables: dict[str, pd.DataFrame]) -> None:
    import pyogrio

    tmp = path.with_name(f".{path.stem}.part.gpkg")
    if tmp.exists():
        tmp.unlink()
    for name, gdf in frames.items():
        g = gdf
        if g.crs is None:
            raise CRSError(f"table {name!r} has geometry but no CRS; set it (cnmap results are "
                           "in EPSG:27700) before exporting")
        if g.crs.to_epsg() != 27700:
            g = g.to_crs(C.BNG)
        keep = [c for c in g.columns if c == g.geometry.name
                or not isinstance(g[c].dtype, gpd.array.GeometryDtype)]
        plain = _plain(pd.DataFrame(g[keep]).drop(columns=[g.geometry.name]))
        # GeoPackage fields cannot hold Python objects: write other object columns as text
        for c in plain.columns:
            if plain[c].dtype == object:
                plain[c] = plain[c].map(lambda v: None if v is None or v is pd.NA
                                        or (isinstance(v, float) and np.isnan(v)) else str(v))
        out = gpd.GeoDataFrame(plain, geometry=g.geometry.reset_index(drop=True).values,
                               crs=C.BNG)
        out.to_file(tmp, layer=layers[name], driver="GPKG", engine="pyogrio")
    for lname, df in attr_tables.items():
        pyogrio.write_dataframe(df, tmp, layer=lname, driver="GPKG")
    tmp.replace(path)


def _source_rows(sources: pd.DataFrame | None) -> list[list[Any]]:
    if sources is None or len(sources) == 0:
        return [["(no sources recorded)"]]
    cols = [c for c in ("title", "publisher", "vintage", "licence", "attribution", "url",
                        "read_from") if c in sources.columns]
    if not cols:
        cols = [str(c) for c in sources.columns]
    rows: list[list[Any]] = [cols]
    for _, r in sources.iterrows():
        rows.append([_text(r[c]) if not (isinstance(r[c], float) and np.isnan(r[c])) else ""
                     for c in cols])
    return rows


def _safe_names(tables: Mapping[str, Any]) -> dict[str, str]:
    """Table name -> file/sheet/layer name; refuses non-frames, reserved and clashing names."""
    safe: dict[str, str] = {}
    for name, df in tables.items():
        if not isinstance(df, pd.DataFrame):
            raise ValidationError(f"table {name!r} is a {type(df).__name__}, not a DataFrame")
        s = _safe_name(name)
        if s.lower() in {r.lower() for r in RESERVED}:
            raise ValidationError(f"table name {name!r} is reserved for the export's own "
                                  f"tables {RESERVED}; rename it")
        if s.lower() in {v.lower() for v in safe.values()}:
            raise ValidationError(f"table names {name!r} and "
                                  f"{[k for k, v in safe.items() if v.lower() == s.lower()][0]!r} "
                                  "give the same file name; rename one")
        safe[name] = s
    return safe


def _write_csv_files(plain: Mapping[str, pd.DataFrame], safe: Mapping[str, str], out_dir: Path,
                     param_rows: list[tuple[str, str]], sources: pd.DataFrame | None,
                     guard: bool) -> list[Path]:
    """Every table, the parameters and the sources as CSV, all through :func:`write_csv`."""
    files = [write_csv(df, out_dir / f"{safe[name]}.csv", guard_formulas=guard)
             for name, df in plain.items()]
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
    guide: list[list[Any]] = []
    for key, text in COLUMN_GUIDE.items():
        if "{T}" in key:
            pat = re.compile("^" + re.escape(key).replace(r"\{T\}", r"[0-9.]+") + "$")
            if any(pat.match(c) for c in all_cols):
                guide.append([key, text])
        elif key in all_cols:
            guide.append([key, text])
    return guide


def _readme(plain: Mapping[str, pd.DataFrame], sheets: Mapping[str, str],
            param_rows: list[tuple[str, str]], sources: pd.DataFrame | None, title: str | None,
            desc: Mapping[str, str], notes: Sequence[str]
            ) -> list[tuple[str, list[list[Any]], bool]]:
    """The README sheet's sections: (heading, rows, first row is a header)."""
    from cnmap import __version__

    readme: list[tuple[str, list[list[Any]], bool]] = [
        (title or "cnmap export", [
            ["Created", _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")],
            ["Software", f"cnmap {__version__}"],
            ["Sheets", "listed below; each has one header row (frozen, with filters); "
                       "shares are shown as percentages, people as whole numbers"],
        ], False),
        ("Sheets", [["sheet", "table", "rows", "columns", "what it holds"]] + [
            [sheets[n], n, len(plain[n]), plain[n].shape[1], desc.get(n, "")]
            for n in plain], True),
        ("Parameters", [["parameter", "value"]] + [list(r) for r in param_rows], True),
        ("Data sources, vintages, licences and attribution", _source_rows(sources),
         sources is not None and len(sources) > 0),
    ]
    if notes:
        readme.append(("Notes", [["note"]] + [[str(n)] for n in notes], True))
    guide = _column_guide(plain)
    if guide:
        readme.append(("Column guide", [["column", "meaning"]] + guide, True))
    return readme


def _write_gpkg_file(tables: Mapping[str, pd.DataFrame], safe: Mapping[str, str], p: Path,
                     param_rows: list[tuple[str, str]],
                     sources: pd.DataFrame | None) -> list[Path]:
    """The spatial tables and the README tables as one GeoPackage (none without a spatial
    table)."""
    spatial = {n: df for n, df in tables.items()
               if isinstance(df, gpd.GeoDataFrame) and df._geometry_column_name in df.columns}
    if not spatial:
        log.info("write_tables: no spatial table, no GeoPackage written")
        return []
    attr = {"readme_parameters": pd.DataFrame(param_rows, columns=["parameter", "value"])}
    if sources is not None and len(sources):
        attr["readme_sources"] = pd.DataFrame({str(c): [_text(v) for v in sources[c]]
                                               for c in sources.columns})
    _write_gpkg(spatial, {n: safe[n] for n in spatial}, p, attr)
    return [p]


def write_tables(
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
) -> dict[str, list[Path]]:
    """Write named tables as CSV files, one Excel workbook and one GeoPackage.

    Parameters
    ----------
    tables
        Table name -> DataFrame or GeoDataFrame, in the order wanted. Names become file,
        sheet and layer names (characters other than letters, digits, ``_`` and ``-`` are
        replaced by ``_``); ``README``, ``parameters``, ``sources`` and ``readme_*`` are
        reserved. A named index is written as columns.
    path
        Output folder (created if needed). Existing files of the same names are replaced.
    formats
        Any of ``"csv"``, ``"xlsx"``, ``"gpkg"``.
    params
        Parameters to record (nested dicts are flattened to dotted keys): README sheet,
        ``parameters.csv`` and the GeoPackage table ``readme_parameters``.
    sources
        Data provenance (columns such as title, publisher, vintage, licence, attribution,
        url): README sheet, ``sources.csv`` and ``readme_sources``.
    stem
        File name (without extension) of the workbook and GeoPackage.
    descriptions
        Table name -> one-line description for the README sheet (default:
        :data:`SHEET_DESCRIPTIONS` where the name is standard).
    notes
        Caveats to list on the README sheet.
    title
        First line of the README sheet.
    csv_guard_formulas
        In the CSV files, write headers and text cells that start with ``=``, ``+``, ``-``,
        ``@``, a tab, a carriage return or a line feed with a leading ``'`` (and each such
        line after a line break inside a cell), so that a spreadsheet opening the CSV
        shows them as text instead of running them as formulas (CSV injection; names and
        addresses come from users' files and OpenStreetMap). Numbers are never changed. The
        XLSX always stores such text as text (no prefix needed) and the GeoPackage keeps
        the values unchanged. False: write the CSV values unchanged. Either way a cell
        holding a line break is quoted, so it never splits a row.

    Returns
    -------
    dict
        Format -> list of files written.

    Raises
    ------
    ValidationError
        No tables, an unknown format, a table that is not a DataFrame, a reserved or
        clashing name.
    CRSError
        A spatial table without CRS (GeoPackage).
    """
    if not tables:
        raise ValidationError("write_tables: no tables given; pass a dict of name -> DataFrame")
    fmts = [formats] if isinstance(formats, str) else list(formats)
    bad = [f for f in fmts if f not in FORMATS]
    if bad or not fmts:
        raise ValidationError(f"formats={formats!r}: choose from {FORMATS}")
    safe = _safe_names(tables)
    out_dir = Path(path)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValidationError(f"path {str(out_dir)!r} is a file; give a folder to write into")
    out_dir.mkdir(parents=True, exist_ok=True)
    param_rows = _flatten(params or {})
    plain = {name: _plain(df) for name, df in tables.items()}
    written: dict[str, list[Path]] = {}
    if "csv" in fmts:
        written["csv"] = _write_csv_files(plain, safe, out_dir, param_rows, sources,
                                          csv_guard_formulas)
    if "xlsx" in fmts:
        sheets: dict[str, str] = {}
        for name in plain:
            sheets[name] = sheet_name(safe[name], ["README", *sheets.values()])
        readme = _readme(plain, sheets, param_rows, sources, title,
                         {**SHEET_DESCRIPTIONS, **(descriptions or {})}, notes)
        p = out_dir / f"{stem}.xlsx"
        _write_xlsx(plain, sheets, p, readme)
        written["xlsx"] = [p]
    if "gpkg" in fmts:
        written["gpkg"] = _write_gpkg_file(tables, safe, out_dir / f"{stem}.gpkg", param_rows,
                                           sources)
    log.info("write_tables: %d tables to %s (%s)", len(tables), out_dir, ", ".join(fmts))
    return written


def _network_source(params: Mapping[str, Any]) -> pd.DataFrame:
    net = params.get("network")
    if not isinstance(net, Mapping) or not net.get("source"):
        return pd.DataFrame()
    return pd.DataFrame([{
        "id": "walk_network",
        "title": "Walking network used for the walking times",
        "publisher": "as read from the file (OpenStreetMap-derived networks: © OpenStreetMap "
                     "contributors)",
        "vintage": "",
        "licence": "ODbL-1.0 for OpenStreetMap data",
        "attribution": "© OpenStreetMap contributors",
        "url": "",
        "read_from": str(net.get("source")),
    }])


def export_coverage(
    result: Any,
    out_dir: str | Path,
    *,
    thin: Any = None,
    profiles: pd.DataFrame | None = None,
    formats: Sequence[str] = FORMATS,
    stem: str = "cnmap_coverage",
    sources: pd.DataFrame | None = None,
    include_residents: bool = False,
) -> dict[str, list[Path]]:
    """Write a coverage result (and its thin-infrastructure view) for council officers.

    Parameters
    ----------
    result
        A :class:`~cnmap.coverage.CoverageResult`.
    out_dir
        Output folder.
    thin
        A :class:`~cnmap.thin.ThinResult` of the same coverage: adds the sheets
        ``thin_lsoas`` and ``thin_wards`` (first, in rank order).
    profiles
        Ward deprivation profiles (:func:`cnmap.deprivation.ward_profiles`): adds
        ``ward_deprivation``.
    formats, stem
        As for :func:`write_tables`.
    sources
        Extra provenance rows (e.g. the organisations file's publisher and licence), added to
        the result's own sources.
    include_residents
        Also write the residential points (large).

    Returns
    -------
    dict
        Format -> files written (see :func:`write_tables`).
    """
    for attr in ("lsoas", "wards", "deciles", "totals", "organisations", "quality", "params"):
        if not hasattr(result, attr):
            raise ValidationError(f"export_coverage needs the result of cnmap.coverage(...), not "
                                  f"{type(result).__name__} (it has no {attr!r})")
    tables: dict[str, pd.DataFrame] = {}
    notes: list[str] = []
    params: dict[str, Any] = {"coverage": dict(result.params)}
    if thin is not None:
        if not hasattr(thin, "ranked"):
            raise ValidationError(f"thin must be the result of cnmap.thin_areas(...), not "
                                  f"{type(thin).__name__}")
        tables["thin_lsoas"] = thin.ranked("lsoas", flagged_only=False, geometry=True)
        tables["thin_wards"] = thin.ranked("wards", flagged_only=False, geometry=True)
        params["thin"] = dict(thin.params)
        notes += list(thin.notes)
    tables["lsoas"] = result.lsoas
    tables["wards"] = result.wards
    tables["deciles"] = result.deciles
    tables["totals"] = result.totals
    tables["organisations"] = result.organisations
    if profiles is not None:
        if not isinstance(profiles, pd.DataFrame):
            raise ValidationError("profiles must be the DataFrame of cnmap.ward_profiles(area)")
        tables["ward_deprivation"] = profiles
    tables["quality"] = result.quality
    if include_residents:
        tables["residents"] = result.residents
    if len(result.quality):
        notes.append(f"{len(result.quality)} data-quality problem(s): see the quality sheet")
    notes.append("Walking coverage is modelled on the street network at the speed in the "
                 "parameters; it does not know opening hours, capacity, eligibility, steps or "
                 "the safety of a route.")
    src = [s for s in (result.sources, _network_source(result.params), sources)
           if s is not None and len(s)]
    all_sources = pd.concat(src, ignore_index=True) if src else None
    lad = result.params.get("lad_code", "")
    title = f"cnmap walking coverage{f' - {lad}' if lad else ''}"
    if getattr(result, "area", None) is not None:
        title = f"cnmap walking coverage - {result.area.lad_name} ({result.area.lad_code})"
    return write_tables(tables, out_dir, formats=formats, params=params, sources=all_sources,
                        stem=stem, notes=notes, title=title)
