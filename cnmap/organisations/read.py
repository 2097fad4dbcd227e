"""Reading an input (CSV, Excel, spatial file or (Geo)DataFrame) into a :class:`RawTable`:
the file type, empty files, several sites per feature, cells too long for a spreadsheet."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from cnmap.errors import ValidationError
from cnmap.organisations.cells import row_label, rows_text, short
from cnmap.organisations.columns import text_columns, wanted_names
from cnmap.organisations.options import ReadOptions
from cnmap.organisations.raw import RawTable
from cnmap.organisations.read_csv import read_csv
from cnmap.organisations.read_excel import read_excel
from cnmap.organisations.table import log

__all__ = ["check_cell_sizes", "expand_sites", "read_source", "read_table"]

_EXCEL = {".xlsx", ".xlsm"}
_CSV = {".csv", ".txt", ".tsv", ".tab"}
_VECTOR = {".geojson", ".json", ".gpkg", ".shp", ".fgb", ".gml", ".kml"}
#: the most characters a spreadsheet cell holds (Excel); longer cells are refused
_MAX_CELL = 32_767


def from_frame(df: pd.DataFrame, label: str) -> RawTable:
    """A (Geo)DataFrame as a :class:`RawTable` (a new frame: the caller's is untouched)."""
    geometry = None
    if isinstance(df, gpd.GeoDataFrame) and df._geometry_column_name in df.columns:
        geometry = df.geometry.reset_index(drop=True)
        frame = pd.DataFrame(df.drop(columns=df._geometry_column_name)).reset_index(drop=True)
    else:
        frame = pd.DataFrame(df).reset_index(drop=True)
    return RawTable(frame=frame, geometry=geometry, label=label)


def _read_vector(path: Path, layer: str | int | None) -> RawTable:
    label = str(path)
    try:
        gdf = gpd.read_file(path, layer=layer) if layer is not None else gpd.read_file(path)
    except Exception as exc:  # pyogrio raises its own DataSourceError types
        if not path.read_bytes().strip():
            raise ValidationError(
                f"{label}: the file is empty; it needs one feature per organisation"
            ) from exc
        raise ValidationError(
            f"{label}: cannot be read as a spatial file ({short(exc, 200)})"
        ) from exc
    if not isinstance(gdf, gpd.GeoDataFrame):
        return RawTable(frame=pd.DataFrame(gdf).reset_index(drop=True), geometry=None, label=label)
    return from_frame(gdf, label)


def _existing_file(source: Any) -> Path:
    """The path of ``source``, which must be an existing file."""
    if not isinstance(source, (str, Path)):
        raise ValidationError(
            f"source must be a file path or a (Geo)DataFrame, got {type(source).__name__}"
        )
    path = Path(source).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise ValidationError(f"{path}: is a folder; pass a CSV, XLSX, GeoJSON or GeoPackage file")
    return path


def _refuse_empty(path: Path, what: str) -> None:
    if path.stat().st_size == 0:
        raise ValidationError(f"{path}: the file is empty; it needs {what}")


def read_source(
    source: Any,
    *,
    sheet: str | int | None,
    encoding: str | None,
    wanted: set[str],
    text_cols: set[str],
) -> RawTable:
    """Read a file (by its suffix) or take a (Geo)DataFrame.

    Parameters
    ----------
    source
        A path (CSV/TSV, .xlsx, GeoJSON, GeoPackage, ...) or a (Geo)DataFrame.
    sheet
        Excel sheet (name or index) or spatial layer.
    encoding
        CSV encoding (None: detected).
    wanted
        Matched column names that mark a header row.
    text_cols
        Matched column names read as text.

    Returns
    -------
    RawTable
        The rows as read, with notes.

    Raises
    ------
    ValidationError
        Not a path or frame, a folder, an empty or unreadable file, an unsupported type.
    FileNotFoundError
        No such file.
    """
    if isinstance(source, pd.DataFrame):
        return from_frame(source, "<DataFrame>")
    path = _existing_file(source)
    suffix = path.suffix.lower()
    if suffix in _CSV:
        return read_csv(path, encoding, wanted, text_cols)
    if suffix in _EXCEL:
        _refuse_empty(path, "a header row and one row per organisation")
        return read_excel(path, sheet, wanted, text_cols)
    if suffix in _VECTOR:
        _refuse_empty(path, "one feature per organisation")
        return _read_vector(path, sheet)
    if suffix == ".xls":
        raise ValidationError(
            f"{path}: old Excel 97-2003 (.xls) files are not read; open it in Excel or "
            "LibreOffice and save it as .xlsx (or CSV)"
        )
    raise ValidationError(
        f"{path}: unsupported file type {suffix!r}; use CSV (.csv/.tsv), Excel (.xlsx), "
        "GeoJSON (.geojson) or GeoPackage (.gpkg), or pass a DataFrame"
    )


def _site_parts(geom: gpd.GeoSeries, multi: np.ndarray) -> list[list[Any]]:
    """The distinct non-empty points of each MultiPoint (the geometry itself otherwise)."""
    parts: list[list[Any]] = []
    for g, is_multi in zip(geom.to_numpy(), multi, strict=True):
        pts = [p for p in shapely.get_parts(g) if not p.is_empty] if is_multi else []
        unique = list({(p.x, p.y): p for p in pts}.values())
        parts.append(unique or [g])
    return parts


def expand_sites(raw: RawTable, coords: str) -> RawTable:
    """A MultiPoint feature with several distinct points becomes one row per site.

    ``raw.row_of`` maps each new row to its input row and ``raw.site`` numbers the sites; a
    MultiPoint of one point (or of one point repeated) is read as that point. Only with
    ``coords`` ``"auto"`` or ``"geometry"``.
    """
    geom = raw.geometry
    if geom is None or coords not in ("auto", "geometry"):
        return raw
    multi = (geom.geom_type == "MultiPoint").to_numpy()
    if not multi.any():
        return raw
    parts = _site_parts(geom, multi)
    counts = np.array([len(p) for p in parts])
    flat = gpd.GeoSeries([p for ps in parts for p in ps], crs=geom.crs)
    if (counts == 1).all():
        return dataclasses.replace(raw, geometry=flat)
    row_of = np.repeat(np.arange(len(parts)), counts)
    site = np.concatenate([np.arange(1, k + 1) for k in counts])
    several = np.flatnonzero(counts > 1)
    shown = rows_text([f"{r + 1} ({counts[r]} sites)" for r in several], 5)
    note = (
        f"{raw.label}: {len(several)} feature(s) with several sites (MultiPoint) give one "
        f"organisations row per site, numbered in column 'site': rows {shown}"
    )
    log.info(note)
    return dataclasses.replace(
        raw,
        frame=raw.frame.iloc[row_of].reset_index(drop=True),
        geometry=flat,
        row_of=row_of,
        site=site,
        features=geom,
        notes=(*raw.notes, note),
    )


def _text_lengths(col: pd.Series) -> np.ndarray | None:
    """Characters per cell of a text column (None for other columns)."""
    if not (pd.api.types.is_string_dtype(col.dtype) or col.dtype == object):
        return None
    if pd.api.types.is_string_dtype(col.dtype) and col.dtype != object:
        return np.asarray(col.str.len().fillna(0).to_numpy(dtype=np.int64))
    return np.asarray(
        col.map(lambda v: len(v) if isinstance(v, str) else 0).to_numpy(dtype=np.int64)
    )


def check_cell_sizes(raw: RawTable) -> None:
    """Refuse a cell longer than a spreadsheet cell can be (naming its row and column)."""
    frame = raw.frame
    for c in frame.columns:
        lengths = _text_lengths(frame[c])
        if lengths is None:
            continue
        big = np.flatnonzero(lengths > _MAX_CELL)
        if not big.size:
            continue
        i = int(big[0])
        row = int(raw.row_of[i]) + 1 if raw.row_of is not None else i + 1
        where = row_label(row, raw.sheet_offset).rstrip(": ")
        raise ValidationError(
            f"{raw.label}: {where}, column {short(c, 40)!r} holds {lengths[i]:,} characters, "
            f"more than the {_MAX_CELL:,} a spreadsheet cell can hold (an unclosed quote that "
            "runs on over many lines?); shorten that cell or fix its quotes"
        )


def read_table(source: Any, options: ReadOptions) -> RawTable:
    """Read the rows of an input, one row per site, checked for size.

    Parameters
    ----------
    source
        A file path or a (Geo)DataFrame.
    options
        The reading options (sheet, encoding, columns named, coordinate mode).

    Returns
    -------
    RawTable
        At least one row.

    Raises
    ------
    ValidationError
        An unreadable input (see :func:`read_source`), no data rows, a cell too long.
    """
    raw = read_source(
        source,
        sheet=options.sheet,
        encoding=options.encoding,
        wanted=wanted_names(options.columns),
        text_cols=text_columns(options.columns),
    )
    raw = expand_sites(raw, options.coords)
    if len(raw.frame) == 0:
        raise ValidationError(
            f"{raw.label}: has a header but no data rows; add one row per organisation"
        )
    check_cell_sizes(raw)
    return raw
