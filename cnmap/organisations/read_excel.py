"""Reading an Excel .xlsx workbook: which sheet, the header row, merged cells, formulas saved
without their values, column types."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import numpy as np
import pandas as pd

from cnmap.errors import ValidationError
from cnmap.organisations.cells import filled, short
from cnmap.organisations.columns import HEADER_ROWS, find_header, header_index, match_name
from cnmap.organisations.raw import OLE_MAGIC, ZIP_MAGIC, RawTable

__all__ = ["read_excel"]

_NS_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_NS_DOCREL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_NS_PKGREL = "{http://schemas.openxmlformats.org/package/2006/relationships}"


def _not_a_workbook(head: bytes, label: str) -> str:
    if head.startswith(OLE_MAGIC):
        return (
            f"{label}: is an Excel 97-2003 (.xls) or password-protected workbook, not an .xlsx "
            "one; open it in Excel or LibreOffice and save it as .xlsx (or CSV)"
        )
    if b"\x00" not in head:
        return (
            f"{label}: holds text, not an Excel workbook (a CSV file saved with an .xlsx "
            "name?); rename it to .csv"
        )
    return (
        f"{label}: is not an Excel .xlsx workbook (not a zip archive); check it is the right "
        "file, or export it as CSV"
    )


def _open_workbook(path: Path, label: str) -> Any:
    """The workbook (cached formula values, merged cells known), or a ValidationError."""
    import openpyxl

    with path.open("rb") as fh:
        head = fh.read(4096)
    if not head.startswith(ZIP_MAGIC):
        raise ValidationError(_not_a_workbook(head, label))
    try:
        return openpyxl.load_workbook(path, data_only=True)
    except zipfile.BadZipFile as exc:
        raise ValidationError(
            f"{label}: the workbook is damaged or incomplete (not a whole .xlsx zip archive: "
            "cut short while copying or downloading?); open it in Excel or LibreOffice and save "
            "it again, or export it as CSV"
        ) from exc
    except Exception as exc:  # openpyxl raises KeyError, ValueError, ... on broken parts
        raise ValidationError(
            f"{label}: cannot be read as an Excel workbook ({type(exc).__name__}: "
            f"{short(exc, 80)}); open it in Excel or LibreOffice and save it again, or export "
            "it as CSV"
        ) from exc


def _sheet_rows(ws: Any, limit: int | None = None) -> list[list[Any]]:
    """Cell values of a worksheet as rows (``None`` for blank; ``""`` is blank too).

    Built from the cells that hold a value, so a sheet formatted down to row 1,048,576 costs
    nothing. ``limit``: only that many rows from the top.
    """
    cells = getattr(ws, "_cells", None)
    if cells is None:  # pragma: no cover - other openpyxl worksheet kinds
        return [list(r) for r in ws.iter_rows(max_row=limit, values_only=True)]
    values = [
        (r, c, cell.value)
        for (r, c), cell in cells.items()
        if cell.value is not None and cell.value != "" and (limit is None or r <= limit)
    ]
    if not values:
        return []
    n_rows = max(r for r, _, _ in values)
    n_cols = max(c for _, c, _ in values)
    grid: list[list[Any]] = [[None] * n_cols for _ in range(n_rows)]
    for r, c, v in values:
        grid[r - 1][c - 1] = v
    return grid


def _has_table(ws: Any, wanted: set[str]) -> bool:
    return header_index(_sheet_rows(ws, HEADER_ROWS), wanted) is not None


def _named_sheet(wb: Any, sheet: str | int, label: str) -> Any:
    sheets = list(wb.worksheets)
    names = [ws.title for ws in sheets]
    if isinstance(sheet, str) and sheet in names:
        return wb[sheet]
    if isinstance(sheet, int) and not isinstance(sheet, bool) and 0 <= sheet < len(sheets):
        return sheets[sheet]
    raise ValidationError(
        f"{label}: sheet={sheet!r} is not a sheet of the workbook (its sheets: {names}); pass "
        f"sheet= with one of those names, or a 0-based index below {len(sheets)}"
    )


def _sheet_with_table(sheets: list[Any], chosen: Any, label: str, wanted: set[str]) -> Any:
    """The only other sheet with a table when the first visible one has none (else None)."""
    with_table = [ws for ws in sheets if ws is not chosen and _has_table(ws, wanted)]
    shown = [ws for ws in with_table if ws.sheet_state == "visible"]
    if len(with_table) > 1 or (with_table and not shown):
        raise ValidationError(
            f"{label}: the first sheet {chosen.title!r} has no table (no header row with a "
            f"known column name in its first {HEADER_ROWS} rows); the table is on sheet(s) "
            f"{[ws.title for ws in with_table]}{' (hidden)' if not shown else ''}: pass sheet= "
            "with the one to read"
        )
    return with_table[0] if with_table else None


def _pick_sheet(
    wb: Any, sheet: str | int | None, label: str, wanted: set[str]
) -> tuple[Any, list[str]]:
    """The sheet to read and notes: the one named, else the first visible one with a table."""
    sheets = list(wb.worksheets)
    if not sheets:
        raise ValidationError(f"{label}: the workbook has no worksheets; export it as CSV")
    if sheet is not None:
        return _named_sheet(wb, sheet, label), []
    visible = [ws for ws in sheets if ws.sheet_state == "visible"] or sheets
    chosen, notes = visible[0], []
    if not _has_table(chosen, wanted):
        other = _sheet_with_table(sheets, chosen, label, wanted)
        if other is not None:
            notes.append(
                f"{label}: the first sheet {chosen.title!r} has no table (no header row with a "
                f"known column name); read sheet {other.title!r}, the only sheet with one"
            )
            chosen = other
    others = [
        f"{ws.title!r}{' (hidden)' if ws.sheet_state != 'visible' else ''}"
        for ws in sheets
        if ws is not chosen
    ]
    if others:
        notes.append(
            f"{label}: read sheet {chosen.title!r} only; the workbook also has sheet(s) "
            f"{', '.join(others)}; pass sheet= to read another"
        )
    return chosen, notes


def _sheet_member(z: zipfile.ZipFile, title: str) -> str | None:
    """Path inside the .xlsx zip of the worksheet called ``title``."""
    book = ET.fromstring(z.read("xl/workbook.xml"))
    rid = next(
        (s.get(_NS_DOCREL + "id") for s in book.iter(_NS_MAIN + "sheet") if s.get("name") == title),
        None,
    )
    rels = ET.fromstring(z.read("xl/_rels/workbook.xml.rels"))
    target = next(
        (r.get("Target") for r in rels.iter(_NS_PKGREL + "Relationship") if r.get("Id") == rid),
        None,
    )
    if not target:
        return None
    return target.lstrip("/") if target.startswith("/") else "xl/" + target


def _sheet_xml(path: Path, title: str) -> bytes:
    """The XML of the worksheet called ``title`` (empty when it cannot be found)."""
    try:
        with zipfile.ZipFile(path) as z:
            member = _sheet_member(z, title)
            return z.read(member) if member in z.namelist() else b""
    except (KeyError, ET.ParseError, zipfile.BadZipFile):
        return b""


def _uncached_formulas(path: Path, title: str, first_row: int) -> list[tuple[str, str]]:
    """(cell, formula) of formula cells at or below sheet row ``first_row`` saved without a
    computed value (written by a program that does not calculate, e.g. a script).

    A formula whose cached result is text (``t="str"``, possibly ``""``) has its value.
    """
    from openpyxl.utils.cell import coordinate_from_string

    xml = _sheet_xml(path, title)
    if b"<f" not in xml and b":f" not in xml:
        return []
    out: list[tuple[str, str]] = []
    for _, el in ET.iterparse(io.BytesIO(xml)):
        if el.tag != _NS_MAIN + "c":
            continue
        f = el.find(_NS_MAIN + "f")
        v = el.find(_NS_MAIN + "v")
        ref = el.get("r", "")
        if (
            f is not None
            and el.get("t") in (None, "n")
            and (v is None or not (v.text or "").strip())
            and ref
            and coordinate_from_string(ref)[1] >= first_row
        ):
            out.append((ref, "=" + f.text if f.text else "(shared formula)"))
        el.clear()
    return out


def _merged_fill(ws: Any, grid: list[list[Any]], header: int, label: str) -> list[str]:
    """Give every cell of a merged block below the header the block's value (noted)."""
    done: list[str] = []
    for rng in ws.merged_cells.ranges:
        r0, c0, r1, c1 = rng.min_row - 1, rng.min_col - 1, rng.max_row - 1, rng.max_col - 1
        if r0 <= header or r0 >= len(grid) or c0 >= len(grid[r0]):
            continue
        value = grid[r0][c0]
        if value is None:
            continue
        for r in range(r0, min(r1, len(grid) - 1) + 1):
            for c in range(c0, min(c1, len(grid[r]) - 1) + 1):
                grid[r][c] = value
        done.append(f"{rng.coord} ({short(value, 30)!r})")
    if not done:
        return []
    more = f" and {len(done) - 5} more" if len(done) > 5 else ""
    return [
        f"{label}: merged cells {', '.join(done[:5])}{more}: the merged value was given to "
        "every row of the block"
    ]


def _refuse_uncached(path: Path, title: str, header: int, label: str) -> None:
    """Refuse a sheet with formulas saved without their values (naming the first cell)."""
    uncached = _uncached_formulas(path, title, header + 1)
    if uncached:
        ref, formula = uncached[0]
        more = f" (and {len(uncached) - 1} more formula cells)" if len(uncached) > 1 else ""
        raise ValidationError(
            f"{label}: cell {ref} holds a formula ({short(formula, 40)}) saved without its "
            f"value{more}; open the file in Excel or LibreOffice and save it (that stores the "
            "values), or paste the values over the formulas"
        )


def _excel_text(v: Any) -> Any:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _named_body(header: list[Any], rows: list[list[Any]]) -> pd.DataFrame:
    """The rows under the header with its names (empty unnamed columns and trailing empty rows
    dropped; a blank name is ``unnamed_<j>``, a repeated one gets ``_2``)."""
    body = pd.DataFrame(rows, columns=range(len(header)), dtype=object)
    names: list[str] = []
    keep: list[int] = []
    for j, v in enumerate(header):
        blank_head = not filled(v)
        if blank_head and body.iloc[:, j].isna().all():
            continue  # an empty unnamed column
        nm = f"unnamed_{j + 1}" if blank_head else str(v).strip()
        while nm in names:
            nm += "_2"
        names.append(nm)
        keep.append(j)
    body = body.iloc[:, keep]
    body.columns = names
    # trailing all-empty rows are not rows
    has_value = ~body.isna().all(axis=1).to_numpy()
    last = int(np.flatnonzero(has_value)[-1]) + 1 if has_value.any() else 0
    return body.iloc[:last]


def _excel_column(col: pd.Series, as_text: bool) -> pd.Series:
    """A column of cell values: text for text roles and all-text columns, else inferred."""
    if as_text:
        return col.map(_excel_text, na_action="ignore").astype("str")
    col = col.infer_objects()
    if col.dtype == object and (
        col.map(lambda v: isinstance(v, str), na_action="ignore").fillna(True).all()
    ):
        return col.map(_excel_text, na_action="ignore").astype("str")
    return col


def _excel_frame(header: list[Any], rows: list[list[Any]], text_cols: set[str]) -> pd.DataFrame:
    body = _named_body(header, rows)
    out = {c: _excel_column(body[c], match_name(c) in text_cols) for c in body.columns}
    return pd.DataFrame(out, index=body.index)


def read_excel(
    path: Path, sheet: str | int | None, wanted: set[str], text_cols: set[str]
) -> RawTable:
    """Read one sheet of an .xlsx workbook into a :class:`RawTable`.

    Parameters
    ----------
    path
        The workbook.
    sheet
        Sheet name or 0-based index; None: the first visible sheet with a table.
    wanted
        Matched column names that mark the header row.
    text_cols
        Matched column names read as text.

    Returns
    -------
    RawTable
        The rows, labelled ``<path> [sheet <title>]``, with notes (sheets not read, header
        below title rows, merged cells filled).
    """
    wb = _open_workbook(path, str(path))
    try:
        ws, notes = _pick_sheet(wb, sheet, str(path), wanted)
        label = f"{path} [sheet {ws.title}]"
        grid = _sheet_rows(ws)
        if not grid:
            raise ValidationError(
                f"{label}: the sheet is empty; it needs a header row and one row per organisation"
            )
        h = find_header(grid, wanted, label, "sheet row")
        notes += _merged_fill(ws, grid, h, label)
    finally:
        wb.close()
    _refuse_uncached(path, ws.title, h, label)
    if h:
        notes.append(f"{label}: header found on sheet row {h + 1} (rows above it skipped)")
    width = max(len(r) for r in grid)
    grid = [r + [None] * (width - len(r)) for r in grid]
    frame = _excel_frame(grid[h], grid[h + 1 :], text_cols)
    return RawTable(
        frame=frame,
        geometry=None,
        label=label,
        sheet_offset=h + 1,
        header_row=h,
        notes=tuple(notes),
    )
