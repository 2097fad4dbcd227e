"""Organisation lists prepared before :func:`cnmap.read_organisations` reads them.

National lists such as NHS ODS ``epraccur`` (GP practices, no header row) or Arts Council
England's public libraries cover all of England; a district's run wants its own rows. Three
``[[organisations]]`` options prepare such a list (CSV files) in the pipeline, and the reader
then reads the result as it reads any table:

- ``columns``: the file has **no header row**; these are its column names, in order (the
  number of names must equal the number of fields). ``read_organisations`` looks for a header
  row and cannot be told there is none;
- ``keep``: keep only rows whose column has one of the given values (compared as text, after
  trimming spaces), e.g. ``{ status = "A", prescribing_setting = "4" }`` for active GP
  practices;
- ``area_postcodes_only``: keep only rows whose postcode is one of the district's (its
  postcode lookup, ``area.postcodes``): the rows of a national list placed by postcode.

What was dropped, and why, is said in the notes of the list (the ``cnmap run`` output, the
methods note and ``organisations_read.csv``); dropped rows are not "rejected": they are not the
district's or not the kind asked for.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from cnmap.errors import MissingColumnError, ValidationError

__all__ = [
    "PreparedList",
    "prepare_list",
    "read_headerless",
    "keep_rows",
    "postcode_column",
    "rows_in_district",
]

#: Reader options that describe a file, used here rather than passed to the reader.
FILE_OPTIONS = ("encoding", "sheet")


@dataclass(frozen=True)
class PreparedList:
    """A list ready for :func:`cnmap.read_organisations`.

    Attributes
    ----------
    frame
        The rows to read (text cells).
    n_file_rows
        Data rows in the file.
    notes
        What was done: columns named, rows kept, rows outside the district.
    """

    frame: pd.DataFrame
    n_file_rows: int
    notes: tuple[str, ...]


def _decode_note(path: Path, encoding: str | None) -> tuple[str, str | None]:
    """The encoding to read ``path`` with, and a note when UTF-8 had to give way."""
    if encoding is not None:
        return encoding, None
    try:
        path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        return "cp1252", f"{path.name}: not UTF-8 text, read as Windows-1252"
    return "utf-8-sig", None


def read_headerless(
    path: Path, columns: Sequence[str] | None, *, encoding: str | None = None
) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """A CSV as text cells: with ``columns`` as the names of a file without a header row,
    else with its own header. Blank cells stay empty strings (nothing is read as NaN)."""
    if path.suffix.lower() not in {".csv", ".txt"}:
        raise ValidationError(
            f"{path}: columns, keep and area_postcodes_only prepare CSV files "
            f"only, not {path.suffix or 'a file without a suffix'}; save the "
            "list as CSV"
        )
    enc, note = _decode_note(path, encoding)
    try:
        frame = pd.read_csv(
            path,
            header=None if columns else "infer",
            dtype=str,
            keep_default_na=False,
            encoding=enc,
            skipinitialspace=False,
        )
    except pd.errors.ParserError as exc:
        raise ValidationError(
            f"{path}: cannot read the CSV ({' '.join(str(exc).split())})"
        ) from None
    except pd.errors.EmptyDataError:
        raise ValidationError(f"{path}: the file is empty") from None
    if columns:
        if frame.shape[1] != len(columns):
            raise ValidationError(
                f"{path}: the rows have {frame.shape[1]} fields but columns names "
                f"{len(columns)}; give one name per field, in order (see the file's "
                "specification)"
            )
        frame.columns = list(columns)
    notes = tuple(n for n in (note,) if n)
    if columns:
        notes += (
            f"{path.name}: no header row; columns named {', '.join(columns[:4])}"
            f"{', ...' if len(columns) > 4 else ''} ({len(columns)} in all)",
        )
    return frame, notes


def keep_rows(
    frame: pd.DataFrame, keep: Mapping[str, Sequence[str]], *, label: str
) -> tuple[pd.DataFrame, str]:
    """The rows whose every ``keep`` column holds one of its values (text, trimmed)."""
    missing = [c for c in keep if c not in frame.columns]
    if missing:
        raise MissingColumnError(
            f"{label}: keep names {missing}, not columns of the list "
            f"(columns: {[str(c) for c in frame.columns][:30]})"
        )
    mask = pd.Series(True, index=frame.index)
    for col, values in keep.items():
        mask &= frame[col].astype(str).str.strip().isin(list(values))
    rule = "; ".join(f"{c} = {' or '.join(v)}" for c, v in keep.items())
    note = f"kept {int(mask.sum()):,} of {len(frame):,} rows by keep ({rule})"
    return frame.loc[mask], note


def _norm(name: Any) -> str:
    return re.sub(r"[^0-9a-z]+", "_", str(name).strip().lower()).strip("_")


def postcode_column(frame: pd.DataFrame, postcode_col: str | None, *, label: str) -> str:
    """The list's postcode column: ``postcode_col``, else the one column with a postcode name."""
    from cnmap.io import COLUMN_ALIASES

    if postcode_col is not None:
        if postcode_col not in frame.columns:
            raise MissingColumnError(
                f"{label}: postcode_col={postcode_col!r} is not a column "
                f"(columns: {[str(c) for c in frame.columns][:30]})"
            )
        return postcode_col
    found = [c for c in frame.columns if _norm(c) in COLUMN_ALIASES["postcode"]]
    if len(found) != 1:
        what = "no" if not found else f"{len(found)} ({found})"
        raise MissingColumnError(
            f"{label}: area_postcodes_only needs the postcode column; "
            f"the list has {what} postcode columns: name it with "
            "postcode_col"
        )
    return str(found[0])


def rows_in_district(
    frame: pd.DataFrame, column: str, district_postcodes: pd.Series, *, district: str
) -> tuple[pd.DataFrame, str]:
    """The rows whose postcode is one of the district's (spelling normalised)."""
    from cnmap.postcodes import normalise_postcodes

    ours = set(normalise_postcodes(district_postcodes).dropna())
    codes = normalise_postcodes(frame[column].reset_index(drop=True))
    inside = codes.isin(ours).to_numpy()
    blank = int(codes.isna().sum())
    note = (
        f"{int(inside.sum()):,} of {len(frame):,} rows have a postcode of {district} "
        f"(area_postcodes_only); the other {len(frame) - int(inside.sum()):,} were not read "
        f"(postcodes elsewhere{f', {blank:,} blank' if blank else ''})"
    )
    return frame.loc[inside], note


def prepare_list(
    path: Path,
    *,
    label: str,
    columns: Sequence[str] | None,
    keep: Mapping[str, Sequence[str]],
    area_postcodes_only: bool,
    options: Mapping[str, Any],
    area: Any,
) -> PreparedList:
    """Read and prepare one organisations list (see the module docstring).

    ``options`` are the entry's reader options (``encoding`` and ``postcode_col`` are used
    here); ``area`` gives the district's postcodes for ``area_postcodes_only``.
    """
    frame, notes = read_headerless(path, columns, encoding=options.get("encoding"))
    n_rows = len(frame)
    if keep:
        frame, note = keep_rows(frame, keep, label=label)
        notes += (note,)
    if area_postcodes_only:
        postcodes = getattr(area, "postcodes", None)
        if postcodes is None or "postcode" not in getattr(postcodes, "columns", ()):
            raise ValidationError(
                f"{label}: area_postcodes_only needs the district's postcode "
                "lookup; keep [area] postcodes on (auto, nspl or codepoint)"
            )
        col = postcode_column(frame, options.get("postcode_col"), label=label)
        frame, note = rows_in_district(
            frame,
            col,
            postcodes["postcode"],
            district=str(getattr(area, "lad_name", "the district")),
        )
        notes += (note,)
    return PreparedList(frame.reset_index(drop=True), n_rows, notes)
