"""Reading a CSV file: encoding detection (line by line for stray bytes), delimiter, records
with the csv module, the header row, rows longer than the header, column types."""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cnmap.errors import ValidationError
from cnmap.organisations.cells import filled, rows_text, short
from cnmap.organisations.columns import find_header, match_name
from cnmap.organisations.raw import OLE_MAGIC, ZIP_MAGIC, RawTable
from cnmap.organisations.table import log

__all__ = ["read_csv"]

_EMPTY = "the file is empty; it needs a header row and one row per organisation"
_BOOL_TEXT = {
    "True": True,
    "TRUE": True,
    "true": True,
    "False": False,
    "FALSE": False,
    "false": False,
}


def _cp1252_bytes(exc: UnicodeError) -> tuple[str, int]:
    """Decoding error handler: bytes that are not UTF-8 are read as Windows-1252."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return exc.object[exc.start : exc.end].decode("cp1252", errors="replace"), exc.end


codecs.register_error("cnmap-cp1252", _cp1252_bytes)


@dataclass(frozen=True)
class Decoded:
    """The text of a file, the encoding used, the 0-based lines whose stray bytes were read as
    Windows-1252, and a note when the file was not UTF-8."""

    text: str
    encoding: str
    stray: list[int]
    note: str | None = None


def _utf16_without_bom(sample: bytes) -> str | None:
    """``"utf-16-le"``/``"utf-16-be"`` when NUL bytes fill every other position of ``sample``."""
    half = len(sample) // 2
    if half < 2:
        return None
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    if odd >= 0.3 * half and even <= 0.02 * half:
        return "utf-16-le"
    if even >= 0.3 * half and odd <= 0.02 * half:
        return "utf-16-be"
    return None


def _refuse_binary(data: bytes, label: str) -> None:
    """Refuse a workbook or a binary file given as CSV text, and UTF-16 without a BOM."""
    if data.startswith(ZIP_MAGIC):
        raise ValidationError(
            f"{label}: is a zip archive, not CSV text (an Excel .xlsx workbook saved with a "
            "text-file name?); rename it to .xlsx, or export it as CSV"
        )
    if data.startswith(OLE_MAGIC):
        raise ValidationError(
            f"{label}: is an Excel 97-2003 (.xls) or other Office file, not CSV text; open it "
            "in Excel or LibreOffice and save it as CSV UTF-8 or .xlsx"
        )
    sample = data[:4096]
    if b"\x00" not in sample:
        return
    utf16 = _utf16_without_bom(sample)
    if utf16:
        raise ValidationError(
            f"{label}: looks like {utf16.upper()} text without a byte-order mark; pass "
            f"encoding={utf16!r}, or save the file as CSV UTF-8"
        )
    raise ValidationError(
        f"{label}: contains NUL bytes, so it is not CSV text; check it is the right file, "
        "or export it as CSV UTF-8"
    )


def _non_utf8_lines(data: bytes) -> list[int] | None:
    """0-based lines that are not UTF-8, when other lines hold valid non-ASCII UTF-8; else None."""
    bad: list[int] = []
    good = False
    for i, line in enumerate(data.split(b"\n")):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
            good = True
        except UnicodeDecodeError:
            bad.append(i)
    return bad if good else None


def _decode_as(data: bytes, encoding: str, label: str) -> Decoded:
    """The text in the encoding the caller gave, or a ValidationError naming the line."""
    try:
        return Decoded(data.decode(encoding), encoding, [])
    except LookupError as exc:
        raise ValidationError(
            f"{label}: encoding={encoding!r} is not a known encoding; leave encoding=None "
            "to detect it, or pass one such as 'utf-8', 'cp1252' or 'utf-16-le'"
        ) from exc
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ValidationError(
            f"{label}: cannot be decoded as {encoding!r}: byte {data[exc.start]:#04x} on "
            f"line {line} is not {encoding}; leave encoding=None to detect it, or pass the "
            "file's encoding"
        ) from exc


def _decode_utf16(data: bytes, label: str) -> Decoded:
    try:
        return Decoded(data.decode("utf-16"), "utf-16", [])
    except UnicodeDecodeError as exc:
        raise ValidationError(
            f"{label}: starts with a UTF-16 byte-order mark but is not valid UTF-16 "
            f"({short(exc, 80)}); save it again as CSV UTF-8"
        ) from exc


def decode(data: bytes, encoding: str | None, label: str) -> Decoded:
    """Decode a CSV file: the encoding given, else UTF-8 (BOM removed), UTF-16 with a BOM,
    UTF-8 with stray Windows-1252 bytes, Windows-1252, Latin-1 (in that order).

    Raises
    ------
    ValidationError
        Undecodable with the encoding given, a workbook or binary file, UTF-16 without BOM.
    """
    if encoding:
        return _decode_as(data, encoding, label)
    enc = "utf-8"
    if data.startswith(b"\xef\xbb\xbf"):
        data, enc = data[3:], "utf-8-sig"
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _decode_utf16(data, label)
    else:
        _refuse_binary(data, label)
    try:
        return Decoded(data.decode("utf-8"), enc, [])
    except UnicodeDecodeError:
        pass
    bad = _non_utf8_lines(data)
    if bad is not None:  # UTF-8 with a few stray bytes: keep the UTF-8, read the strays as cp1252
        return Decoded(data.decode("utf-8", errors="cnmap-cp1252"), enc, bad)
    try:
        text, enc = data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        text, enc = data.decode("latin-1"), "latin-1"
    note = f"{label}: not UTF-8; read as {enc} (Windows/Latin-1). Pass encoding= if characters look wrong"
    log.info(note)
    return Decoded(text, enc, [], note)


def _stray_bytes_note(label: str, text: str, bad: list[int], header: int) -> str:
    """One line naming the lines (and data rows) whose stray bytes were read as Windows-1252."""
    lines = text.split("\n")
    parts = []
    for i in bad[:5]:
        row = f"row {i - header}, " if i > header else ""
        parts.append(f"line {i + 1} ({row}{short(lines[i].strip(), 40)!r})")
    more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
    return (
        f"{label}: UTF-8 except {'; '.join(parts)}{more}: bytes there that are not UTF-8 were "
        "read as Windows-1252; check the text of those rows"
    )


@contextlib.contextmanager
def _csv_field_limit() -> Iterator[None]:
    """Let the csv module read cells of any length (its default limit is 131,072 characters);
    long cells are refused later with a message naming them."""
    old = csv.field_size_limit()
    csv.field_size_limit(2**31 - 1)
    try:
        yield
    finally:
        csv.field_size_limit(old)


def _sniff_sep(text: str, suffix: str) -> str:
    """Delimiter giving the most rows with the same (largest) number of fields."""
    if suffix in {".tsv", ".tab"}:
        return "\t"
    lines = [ln for ln in text[:50_000].splitlines()[:200] if ln.strip()]
    best, best_score = ",", (0, 0)
    for sep in (",", ";", "\t", "|"):
        with _csv_field_limit():
            counts = [len(r) for r in csv.reader(lines, delimiter=sep)]
        if not counts:
            continue
        values, freq = np.unique(counts, return_counts=True)
        top = np.flatnonzero(freq == freq.max())[-1]  # most frequent, widest on ties
        score = (int(freq[top]) if values[top] > 1 else 0, int(values[top]))
        if score > best_score:
            best, best_score = sep, score
    return best


def _csv_records(text: str, sep: str, label: str) -> list[list[str]]:
    """Every record of the text (a blank line is an empty record), read by the csv module.

    A quote left open swallows every line after it into one cell: that is an error naming
    the line where it opens.
    """
    records: list[list[str]] = []
    last_start, consumed = 1, 0
    with _csv_field_limit():
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
        try:
            for rec in reader:
                records.append(rec)
                last_start, consumed = consumed + 1, reader.line_num
        except csv.Error as exc:
            raise ValidationError(
                f"{label}: cannot be parsed as a table ({exc}); check the delimiter and quotes"
            ) from exc
    if records and any("\n" in f or "\r" in f for f in records[-1]):
        _refuse_open_quote(text, last_start, sep, label)
    return records


def _refuse_open_quote(text: str, line: int, sep: str, label: str) -> None:
    """Raise if the record starting on ``line`` opens a quote that the file never closes."""
    lines = io.StringIO(text, newline="").readlines()
    tail = "".join(lines[line - 1 :])
    with _csv_field_limit():
        try:
            list(csv.reader(io.StringIO(tail, newline=""), delimiter=sep, strict=True))
        except csv.Error as exc:
            if "end of data" not in str(exc):
                return
            raise ValidationError(
                f'{label}: the quote (") opened on line {line} is never closed, so the '
                f"{len(lines) - line} line(s) after it would be read into one cell; close the "
                "quote or remove it"
            ) from exc


def _longer_records(body: list[list[str]], width: int) -> tuple[list[int], list[int], int]:
    """Records longer than the header whose extra fields are empty, those with filled ones,
    and the number of records with any filled field."""
    empty_extra: list[int] = []
    filled_extra: list[int] = []
    for i, rec in enumerate(body):
        if len(rec) > width:
            extra = rec[width:]
            (filled_extra if any(f.strip() for f in extra) else empty_extra).append(i)
    n_filled = sum(1 for rec in body if any(f.strip() for f in rec))
    return empty_extra, filled_extra, n_filled


def _fit_records(
    body: list[list[str]], width: int, label: str, sep: str
) -> tuple[dict[int, str], list[str]]:
    """Records longer than the header: trailing empty fields dropped (noted); a row with more
    filled fields is refused (its values would shift); most rows so is an error. In place."""
    empty_extra, filled_extra, n_filled = _longer_records(body, width)
    if filled_extra and 2 * len(filled_extra) > n_filled:
        i = filled_extra[0]
        raise ValidationError(
            f"{label}: {len(filled_extra)} of {n_filled} rows have more fields than the header's "
            f"{width} (row {i + 1} has {len(body[i])}): the header lacks a column name, or "
            f"{sep!r} also appears unquoted inside values; name every column in the header, or "
            "quote those values"
        )
    notes: list[str] = []
    for i in empty_extra:
        del body[i][width:]
    if empty_extra:
        where = (
            "every row ends"
            if len(empty_extra) == n_filled
            else f"rows {rows_text([i + 1 for i in empty_extra])} end"
        )
        notes.append(
            f"{label}: {where} with an extra delimiter {sep!r} (an empty field the header does "
            "not have); the empty field was ignored"
        )
    forced: dict[int, str] = {}
    for i in filled_extra:
        rec = body[i]
        forced[i] = (
            f"{len(rec)} fields but the header has {width} (an unquoted delimiter {sep!r} inside a "
            f"value?): {short(sep.join(rec), 80)!r}; put that value in double quotes, or remove "
            f"the extra {sep!r}"
        )
        body[i] = []
    return forced, notes


def _header_names(header: Sequence[object]) -> list[str]:
    """Column names as pandas gives them: blank -> ``Unnamed: j``, repeats -> ``name.1``."""
    out: list[str] = []
    for j, v in enumerate(header):
        base = str(v) if filled(v) else f"Unnamed: {j}"
        nm, k = base, 0
        while nm in out:
            k += 1
            nm = f"{base}.{k}"
        out.append(nm)
    return out


def _text_column(values: Sequence[str], as_text: bool) -> pd.Series:
    """A column of CSV cells. Only empty cells are missing (``NA``, ``None``, ``null``... stay
    text); a column whose every filled cell is a number becomes numeric, unless ``as_text``."""
    s = pd.Series(values, dtype=object)
    s = s.where(s != "")
    if not as_text:
        num = pd.to_numeric(s, errors="coerce")
        if bool((num.notna() == s.notna()).all()):
            return num
        truth = s.map(_BOOL_TEXT)
        if bool(truth.notna().all()):  # True/False in every cell, as pandas reads them
            return truth.astype(bool)
    return s.astype("str")


def _records_frame(
    records: list[list[str]], h: int, label: str, sep: str, text_cols: set[str]
) -> tuple[pd.DataFrame, dict[int, str], list[str]]:
    header, body = records[h], [list(r) for r in records[h + 1 :]]
    width = len(header)
    forced, notes = _fit_records(body, width, label, sep)
    names = _header_names(header)
    padded = [rec + [""] * (width - len(rec)) for rec in body]
    columns = list(zip(*padded, strict=True)) if padded else [()] * width
    data: dict[str, pd.Series] = {}
    for nm, vals in zip(names, columns, strict=True):
        col = _text_column(vals, match_name(nm) in text_cols)
        if nm.startswith("Unnamed: ") and bool(col.isna().all()):
            continue  # an empty column without a name (a trailing delimiter on the header too)
        data[nm] = col
    frame = pd.DataFrame(data, index=pd.RangeIndex(len(body)))
    return frame, forced, notes


def _text_of(data: bytes, encoding: str | None, label: str) -> Decoded:
    """The decoded text without trailing blank lines; an empty file is an error."""
    if not data.strip(b" \t\r\n\x00") or data.strip() in {b"\xef\xbb\xbf"}:
        raise ValidationError(f"{label}: {_EMPTY}")
    decoded = decode(data, encoding, label)
    text = re.sub(r"(?:\r?\n[ \t]*)+\Z", "\n", decoded.text)  # trailing blank lines are not rows
    if not text.strip():
        raise ValidationError(f"{label}: {_EMPTY}")
    return Decoded(text, decoded.encoding, decoded.stray, decoded.note)


def read_csv(path: Path, encoding: str | None, wanted: set[str], text_cols: set[str]) -> RawTable:
    """Read a CSV (or TSV) file into a :class:`RawTable`.

    Parameters
    ----------
    path
        The file.
    encoding
        Its encoding, or None to detect it.
    wanted
        Matched column names that mark the header row.
    text_cols
        Matched column names read as text.

    Returns
    -------
    RawTable
        The rows, with notes (encoding fallback, header below title lines, stray bytes,
        extra delimiters) and the rows refused for having more fields than the header.
    """
    label = str(path)
    decoded = _text_of(path.read_bytes(), encoding, label)
    notes = [decoded.note] if decoded.note else []
    sep = _sniff_sep(decoded.text, path.suffix.lower())
    records = _csv_records(decoded.text, sep, label)
    h = find_header(records, wanted, label, "line")
    if h:
        notes.append(f"{label}: header found on line {h + 1} (the {h} line(s) above it skipped)")
    if decoded.stray:
        notes.append(_stray_bytes_note(label, decoded.text, decoded.stray, h))
        log.info(notes[-1])
    frame, forced, more = _records_frame(records, h, label, sep, text_cols)
    return RawTable(
        frame=frame,
        geometry=None,
        label=label,
        encoding=decoded.encoding,
        header_row=h,
        notes=(*notes, *more),
        forced=forced,
    )
