"""Read organisation lists (CSV, Excel, GeoJSON, GeoPackage, DataFrames) into a geocoded table.

:func:`read_organisations` is the entry point. Every input row ends up either in
``OrganisationTable.organisations`` (a GeoDataFrame in EPSG:27700 with ward and LSOA codes) or
in ``OrganisationTable.rejected`` with a reason code and a message naming the row and the fix.
See ``docs/organisations.md`` for the detection rules.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import dataclasses
import html
import io as _stdio
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd

from cnmap import columns as C
from cnmap.errors import CRSError, MissingColumnError, ValidationError
from cnmap.postcodes import (
    STATUS_MALFORMED,
    STATUS_NO_COORDINATES,
    STATUS_OK,
    STATUS_UNKNOWN,
    extract_postcode,
    geocode_postcodes,
    normalise_postcodes,
    prepare_postcode_lookup,
)

__all__ = [
    "read_organisations",
    "OrganisationTable",
    "REASONS",
    "COLUMN_ALIASES",
    "split_services",
    "normalise_type",
    "split_types",
]

log = logging.getLogger(__name__)

CoordMode = Literal["auto", "latlon", "bng", "postcode", "address", "geometry"]

#: Reject reason codes and what they mean.
REASONS: dict[str, str] = {
    "empty_row": "every cell of the row is blank",
    "missing_coordinates": "no usable location: no coordinates, postcode, or postcode inside the address",
    "malformed_postcode": "the postcode is not in the UK postcode format",
    "unknown_postcode": "the postcode is well formed but not in the ONS postcode lookup",
    "postcode_without_coordinates": "the postcode is in the lookup but has no coordinates",
    "swapped_latlon": "latitude and longitude appear to be swapped",
    "bng_in_latlon": "British National Grid metres given in the latitude/longitude columns",
    "coordinates_out_of_range": "coordinates outside Great Britain or not numbers",
    "outside_area": "farther than keep_outside_m from the area's boundary",
    "duplicate": "same name within duplicate_within_m metres of an earlier row",
    "extra_fields": "the row has more fields than the header (an unquoted delimiter in a value?)",
}

#: Column spellings recognised automatically (after lower-casing and replacing every run of
#: characters other than letters and digits with "_"), in order of preference.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "name": (
        "name",
        "organisation_name",
        "organization_name",
        "org_name",
        "organisation",
        "organization",
        "title",
        "venue_name",
        "venue",
        "group_name",
        "site_name",
        "provider_name",
        "provider",
        "charity_name",
    ),
    "type": (
        "type",
        "org_type",
        "organisation_type",
        "organization_type",
        "type_of_organisation",
        "type_of_organization",
        "kind",
        "category",
    ),
    "services": (
        "services",
        "service",
        "services_offered",
        "activities",
        "activity",
        "offer",
        "offers",
        "what_we_offer",
    ),
    "lat": ("lat", "latitude", "y"),
    "lon": ("lon", "lng", "long", "longitude", "x"),
    "easting": ("easting", "eastings", "east", "bng_easting", "bng_e", "oseast1m", "x_bng"),
    "northing": ("northing", "northings", "north", "bng_northing", "bng_n", "osnrth1m", "y_bng"),
    "postcode": (
        "postcode",
        "post_code",
        "postal_code",
        "postcodes",
        "pcd",
        "pcds",
        "pcd2",
        "zip",
        "zip_code",
        "zipcode",
    ),
    "address": (
        "address",
        "full_address",
        "address_full",
        "location",
        "street_address",
        "venue_address",
        "addr",
    ),
    "id": ("org_id", "id", "organisation_id", "organization_id"),
}
#: Columns holding OSM ``opening_hours`` syntax, copied to the standard ``opening_hours``.
_HOURS_ALIASES = ("opening_hours", "hours_osm", "osm_opening_hours", "opening_hours_osm")
_COORD_SUFFIXES = ("_wgs84", "_wgs_84", "_deg", "_degrees", "_dd", "_bng", "_osgb", "_osgb36", "_m")

_MODES = ("auto", "latlon", "bng", "postcode", "address", "geometry")
_ORDER = ("geometry", "latlon", "bng", "postcode", "address")
_COORD_LABEL = {
    "geometry": "geometry",
    "latlon": "latlon",
    "bng": "bng",
    "postcode": "postcode",
    "address": "address_postcode",
}

# coordinate sanity ranges
_GB_LAT = (49.75, 61.01)  # EPSG:27700 area of use
_GB_LON = (-9.01, 2.01)
_ENG_LAT = (49.8, 55.9)  # England, for spotting swapped values
_ENG_LON = (-6.5, 2.0)
_BNG_E = (0.0, 700_000.0)
_BNG_N = (0.0, 1_300_000.0)

_STANDARD = [
    C.ORG_ID,
    C.NAME,
    C.ORG_TYPE,
    C.SERVICES,
    "services_list",
    "types_list",
    C.ADDRESS,
    C.POSTCODE,
    C.COORD_SOURCE,
    C.SOURCE_ROW,
    C.LSOA_CODE,
    C.WARD_CODE,
    C.WARD_NAME,
    "in_area",
    C.LAT,
    C.LON,
    C.EASTING,
    C.NORTHING,
    "coord_note",
]
_REJECTED_STANDARD = [C.SOURCE_ROW, C.NAME, C.REASON, "reason_text", "duplicate_of"]


# --------------------------------------------------------------------------------------
# result
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OrganisationTable:
    """Organisations read by :func:`read_organisations`.

    Attributes
    ----------
    organisations
        GeoDataFrame in EPSG:27700, one row per matched input row (one per site for a
        MultiPoint feature with several sites), sorted by ``source_row``:
        ``org_id``, ``name``, ``type``, ``services``, ``services_list`` (tuple), ``address``,
        ``postcode``, ``coord_source``, ``source_row``, ``lsoa_code``, ``ward_code``,
        ``ward_name``, ``in_area`` (only when an area was given), ``lat``, ``lon``,
        ``easting``, ``northing``, ``coord_note``, ``site`` (only when some feature has
        several sites), then the input's other columns (one named like an output column is
        renamed ``<name>_input``).
    rejected
        One row per rejected input row: ``source_row``, ``name``, ``reason`` (a code of
        :data:`REASONS`), ``reason_text`` (a sentence naming the row and the fix),
        ``duplicate_of`` (source row of the kept twin, for duplicates), then the original
        values of that row.
    n_input
        Number of data rows read (``n_matched + n_rejected``; a feature with several sites
        counts once).
    source
        The file read, or ``"<DataFrame>"``.
    params
        Arguments and detections that change the result (columns used, coordinate mode,
        area, thresholds, postcode lookup, encoding, header row).
    notes
        Remarks made while reading, one line each starting with the file (encoding fallback,
        header row found below title rows, sheets not read, merged cells filled...).
    """

    organisations: gpd.GeoDataFrame
    rejected: pd.DataFrame
    n_input: int
    source: str
    params: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def n_matched(self) -> int:
        """Number of input rows located (and kept); a row with several sites counts once."""
        if C.SOURCE_ROW in self.organisations.columns:
            return int(self.organisations[C.SOURCE_ROW].nunique())
        return len(self.organisations)

    @property
    def n_rejected(self) -> int:
        return len(self.rejected)

    @property
    def match_rate(self) -> float:
        """Share of input rows kept, 0..1 (NaN for no input)."""
        return self.n_matched / self.n_input if self.n_input else float("nan")

    def summary(self) -> pd.Series:
        """Counts of rows by outcome: ``matched`` then each reject reason (sums to n_input)."""
        counts = (
            self.rejected[C.REASON].value_counts() if len(self.rejected) else pd.Series(dtype=int)
        )
        order = [r for r in REASONS if r in counts.index]
        out = pd.concat([pd.Series({"matched": self.n_matched}), counts.reindex(order).astype(int)])
        out.name = "count"
        out.index.name = "outcome"
        return out.astype(int)

    def __repr__(self) -> str:
        parts = ", ".join(f"{k} {v}" for k, v in self.summary().items() if k != "matched")
        return (
            f"OrganisationTable({self.source}: {self.n_input} rows, {self.n_matched} matched "
            f"({self.match_rate:.1%}){'; rejected: ' + parts if parts else ''})"
        )


# --------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------
def _norm_col(name: Any) -> str:
    return re.sub(r"[^0-9a-z]+", "_", str(name).strip().lower()).strip("_")


def _clean_text(s: pd.Series) -> pd.Series:
    """Strings stripped of outer whitespace; blank → missing; HTML entities decoded."""
    t = s.astype("str") if s.dtype != "str" else s
    t = t.str.strip()
    t = t.where(t.str.len() > 0)
    ent = t.str.contains(r"&#?\w+;", regex=True).fillna(False).astype(bool)
    if ent.any():
        t = t.copy()
        t[ent] = t[ent].map(html.unescape)
    return t


def _blank(s: pd.Series) -> np.ndarray:
    if pd.api.types.is_string_dtype(s.dtype) or s.dtype == object:
        t = s.astype("str").str.strip()
        return (t.isna() | (t.str.len() == 0)).to_numpy(dtype=bool)
    return s.isna().to_numpy(dtype=bool)


#: cells that pandas would read as missing; in coordinate columns they mean "no value"
#: (text columns keep them as text: an organisation may be called "NA" or "None")
_NA_TEXT = frozenset({
    "#n/a", "#n/a n/a", "#na", "-1.#ind", "-1.#qnan", "-nan", "1.#ind", "1.#qnan", "<na>",
    "n/a", "na", "nan", "none", "null",
})
_GROUPED = r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$"  # 406,123 or 1,300,000.5


def _thousands(s: pd.Series) -> np.ndarray:
    """Cells written with thousands separators (``406,123``)."""
    if pd.api.types.is_numeric_dtype(s.dtype):
        return np.zeros(len(s), dtype=bool)
    t = s.astype("str").str.strip()
    return t.str.match(_GROUPED).fillna(False).to_numpy(dtype=bool)


def _to_float(s: pd.Series, thousands: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Numbers from a column; second array flags non-blank values that are not numbers.

    Blank cells and the usual missing-value spellings (``NA``, ``NaN``, ``#N/A``, ...) are
    missing; ``52,48`` is a decimal comma; with ``thousands`` (metres) ``406,123`` is 406123.
    """
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        return s.astype(float).to_numpy(), np.zeros(len(s), dtype=bool)
    t = s.astype("str").str.strip()
    t = t.where((t.str.len() > 0) & ~t.str.lower().isin(_NA_TEXT))
    if thousands:
        t = t.where(~_thousands(s), t.str.replace(",", "", regex=False))
    t2 = t.str.replace(r"^(-?\d+),(\d+)$", r"\1.\2", regex=True)  # decimal comma
    v = pd.to_numeric(t2, errors="coerce").astype(float)
    bad = (t.notna() & v.isna()).to_numpy(dtype=bool)
    return v.to_numpy(dtype=float), bad


def normalise_type(values: pd.Series) -> pd.Series:
    """Organisation type as one lower-case token: trimmed, spaces and hyphens → ``_``.

    ``"Food Bank"``, ``"food-bank"`` and ``" food_bank "`` all give ``"food_bank"``. A
    multi-valued type (``"Food bank; Advice"``, split on ``;`` and ``|``) keeps its first value
    here; :func:`split_types` gives them all.
    """
    first = _clean_text(values).str.split(r"[;|]", n=1, regex=True).str[0].str.strip()
    t = first.str.lower().str.replace(r"[\s\-]+", "_", regex=True)
    return t.where(t.str.len() > 0)


def split_types(values: pd.Series) -> pd.Series:
    """Every type of a (possibly multi-valued) type column, as a tuple of tokens per row.

    ``"Food Bank; Advice"`` gives ``("food_bank", "advice")``; the first is the row's ``type``.
    """
    text = _clean_text(values)
    def one(v: object) -> tuple[str, ...]:
        if not isinstance(v, str):
            return ()
        toks = (re.sub(r"[\s\-]+", "_", p.strip().lower()) for p in re.split(r"[;|]", v))
        return tuple(dict.fromkeys(t for t in toks if t))
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    tuples = np.empty(len(uniques) + 1, dtype=object)
    tuples[:-1] = [one(u) for u in uniques]
    tuples[-1] = ()
    return pd.Series(tuples[codes], index=values.index, dtype=object)


def split_services(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Split multi-valued services into lower-case tokens.

    A value containing ``;`` or ``|`` is split on those only (so commas inside a phrase such
    as ``"advice, guidance; food"`` stay); otherwise it is split on commas. ``"and"`` and
    ``"/"`` never split (``"food and drink"`` stays one service). Tokens are trimmed,
    lower-cased, inner whitespace collapsed; blanks and repeats dropped (first kept).

    Returns
    -------
    (services, services_list)
        ``services``: the tokens joined with ``"; "`` (missing when none);
        ``services_list``: a tuple per row (empty tuple when none).
    """
    t = _clean_text(values)
    # work on the distinct values only: service lists repeat a lot
    codes, uniques = pd.factorize(t, use_na_sentinel=True)
    empty: tuple[str, ...] = ()
    tuples = [_split_one(u) for u in uniques]
    tup_arr = np.empty(len(tuples) + 1, dtype=object)
    tup_arr[:-1] = tuples
    tup_arr[-1] = empty  # code -1 (missing) picks the last slot
    joined = np.array(["; ".join(tp) if tp else None for tp in tuples] + [None], dtype=object)
    lists = pd.Series(tup_arr[codes], index=values.index, dtype=object)
    services = pd.Series(joined[codes], index=values.index, dtype="str")
    return services, lists


def _split_one(text: str) -> tuple[str, ...]:
    text = text.lower()
    parts = re.split(r"[;|]", text) if re.search(r"[;|]", text) else text.split(",")
    out: dict[str, None] = {}
    for p in parts:
        tok = " ".join(p.split())
        if tok:
            out.setdefault(tok, None)
    return tuple(out)


# --------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------
@dataclass
class _Raw:
    frame: pd.DataFrame  # original columns (geometry dropped), positional index 0..n-1
    geometry: gpd.GeoSeries | None
    label: str
    sheet_offset: int | None = None  # Excel: sheet row = offset + data row number
    encoding: str | None = None
    header_row: int = 0  # 0-based index of the header line/row in the file
    notes: list[str] = field(default_factory=list)
    # rows refused while reading (row index -> message); reason code "extra_fields"
    forced: dict[int, str] = field(default_factory=dict)
    # several sites per feature: frame row -> input row, and the site number (1, 2, ...)
    row_of: np.ndarray | None = None
    site: np.ndarray | None = None
    features: gpd.GeoSeries | None = None  # the geometry of each input row (before splitting)

    @property
    def n_rows(self) -> int:
        """Number of input rows (features), whatever the number of sites."""
        if self.row_of is None:
            return len(self.frame)
        return int(self.row_of[-1]) + 1 if len(self.row_of) else 0


_EXCEL = {".xlsx", ".xlsm"}
_CSV = {".csv", ".txt", ".tsv", ".tab"}
_VECTOR = {".geojson", ".json", ".gpkg", ".shp", ".fgb", ".gml", ".kml"}
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Excel 97-2003, encrypted .xlsx
#: the header is looked for in this many rows; a header found further down is an error
_HEADER_ROWS = 40
_HEADER_SEARCH = 1000
#: the most characters a spreadsheet cell holds (Excel); longer cells are refused
_MAX_CELL = 32_767


def _cp1252_bytes(exc: UnicodeError) -> tuple[str, int]:
    """Decoding error handler: bytes that are not UTF-8 are read as Windows-1252."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return exc.object[exc.start : exc.end].decode("cp1252", errors="replace"), exc.end


codecs.register_error("cnmap-cp1252", _cp1252_bytes)


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
    if data.startswith(_ZIP_MAGIC):
        raise ValidationError(
            f"{label}: is a zip archive, not CSV text (an Excel .xlsx workbook saved with a "
            "text-file name?); rename it to .xlsx, or export it as CSV"
        )
    if data.startswith(_OLE_MAGIC):
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


def _decode(
    data: bytes, encoding: str | None, label: str, notes: list[str]
) -> tuple[str, str, list[int]]:
    """Text, the encoding used, and the 0-based lines whose stray bytes were read as cp1252."""
    if encoding:
        try:
            return data.decode(encoding), encoding, []
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
    enc = "utf-8"
    if data.startswith(b"\xef\xbb\xbf"):
        data, enc = data[3:], "utf-8-sig"
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "utf-16", []
        except UnicodeDecodeError as exc:
            raise ValidationError(
                f"{label}: starts with a UTF-16 byte-order mark but is not valid UTF-16 "
                f"({_short(exc, 80)}); save it again as CSV UTF-8"
            ) from exc
    else:
        _refuse_binary(data, label)
    try:
        return data.decode("utf-8"), enc, []
    except UnicodeDecodeError:
        pass
    bad = _non_utf8_lines(data)
    if bad is not None:  # UTF-8 with a few stray bytes: keep the UTF-8, read the strays as cp1252
        return data.decode("utf-8", errors="cnmap-cp1252"), enc, bad
    try:
        text, enc = data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        text, enc = data.decode("latin-1"), "latin-1"
    note = f"{label}: not UTF-8; read as {enc} (Windows/Latin-1). Pass encoding= if characters look wrong"
    log.info(note)
    notes.append(note)
    return text, enc, []


def _stray_bytes_note(label: str, text: str, bad: list[int], header: int) -> str:
    """One line naming the lines (and data rows) whose stray bytes were read as Windows-1252."""
    lines = text.split("\n")
    parts = []
    for i in bad[:5]:
        row = f"row {i - header}, " if i > header else ""
        parts.append(f"line {i + 1} ({row}{_short(lines[i].strip(), 40)!r})")
    more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
    return (
        f"{label}: UTF-8 except {'; '.join(parts)}{more}: bytes there that are not UTF-8 were "
        "read as Windows-1252; check the text of those rows"
    )


def _filled(c: Any) -> bool:
    return c is not None and not (isinstance(c, float) and np.isnan(c)) and bool(str(c).strip())


def _header_index(rows: Sequence[Sequence[Any]], wanted: set[str]) -> int | None:
    """Index of the first row that looks like a header (≥2 cells, one a known column name)."""
    for i, row in enumerate(rows):
        cells = [c for c in row if _filled(c)]
        if len(cells) >= 2 and any(_match_name(c) in wanted for c in cells):
            return i
    return None


def _find_header(rows: Sequence[Sequence[Any]], wanted: set[str], label: str, unit: str) -> int:
    """Header row index in the first :data:`_HEADER_ROWS` rows (0 when none looks like one).

    A header-like row further down is an error naming it: rows that far down are more likely
    data than a header, so it is not guessed.
    """
    h = _header_index(rows[:_HEADER_ROWS], wanted)
    if h is not None:
        return h
    late = _header_index(rows[_HEADER_ROWS:_HEADER_SEARCH], wanted)
    if late is None:
        return 0
    pos = _HEADER_ROWS + late
    cells = ", ".join(_short(str(c).strip(), 20) for c in rows[pos] if _filled(c))
    raise ValidationError(
        f"{label}: the header row ({_short(cells, 60)}) is on {unit} {pos + 1}, below the first "
        f"{_HEADER_ROWS} {unit}s where it is looked for; delete the {pos} {unit}s above it"
    )


def _match_name(col: Any) -> str:
    n = _norm_col(col)
    for suf in _COORD_SUFFIXES:
        if n.endswith(suf) and len(n) > len(suf):
            stem = n[: -len(suf)]
            if any(stem in COLUMN_ALIASES[r] for r in ("lat", "lon", "easting", "northing")):
                return stem
    return n


def _wanted_names(explicit: Mapping[str, str | None]) -> set[str]:
    names = {a for aliases in COLUMN_ALIASES.values() for a in aliases} - {"x", "y"}
    names |= {_match_name(v) for v in explicit.values() if v}
    return names


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
        reader = csv.reader(_stdio.StringIO(text, newline=""), delimiter=sep)
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
    lines = _stdio.StringIO(text, newline="").readlines()
    tail = "".join(lines[line - 1 :])
    with _csv_field_limit():
        try:
            list(csv.reader(_stdio.StringIO(tail, newline=""), delimiter=sep, strict=True))
        except csv.Error as exc:
            if "end of data" not in str(exc):
                return
            raise ValidationError(
                f"{label}: the quote (\") opened on line {line} is never closed, so the "
                f"{len(lines) - line} line(s) after it would be read into one cell; close the "
                "quote or remove it"
            ) from exc


def _fit_records(
    body: list[list[str]], width: int, label: str, sep: str
) -> tuple[dict[int, str], list[str]]:
    """Records longer than the header: trailing empty fields dropped (noted); a row with more
    filled fields is refused (its values would shift); most rows so is an error. In place."""
    empty_extra: list[int] = []
    filled_extra: list[int] = []
    for i, rec in enumerate(body):
        if len(rec) > width:
            extra = rec[width:]
            (filled_extra if any(f.strip() for f in extra) else empty_extra).append(i)
    n_filled = sum(1 for rec in body if any(f.strip() for f in rec))
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
            else f"rows {_rows_text([i + 1 for i in empty_extra])} end"
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
            f"value?): {_short(sep.join(rec), 80)!r}; put that value in double quotes, or remove "
            f"the extra {sep!r}"
        )
        body[i] = []
    return forced, notes


def _rows_text(rows: Sequence[Any], limit: int = 10) -> str:
    more = f" and {len(rows) - limit} more" if len(rows) > limit else ""
    return ", ".join(str(r) for r in rows[:limit]) + more


def _header_names(header: Sequence[Any]) -> list[str]:
    """Column names as pandas gives them: blank -> ``Unnamed: j``, repeats -> ``name.1``."""
    out: list[str] = []
    for j, v in enumerate(header):
        base = str(v) if _filled(v) else f"Unnamed: {j}"
        nm, k = base, 0
        while nm in out:
            k += 1
            nm = f"{base}.{k}"
        out.append(nm)
    return out


_BOOL_TEXT = {"True": True, "TRUE": True, "true": True, "False": False, "FALSE": False,
              "false": False}


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
        col = _text_column(vals, _match_name(nm) in text_cols)
        if nm.startswith("Unnamed: ") and bool(col.isna().all()):
            continue  # an empty column without a name (a trailing delimiter on the header too)
        data[nm] = col
    frame = pd.DataFrame(data, index=pd.RangeIndex(len(body)))
    return frame, forced, notes


def _read_csv(path: Path, encoding: str | None, wanted: set[str], text_cols: set[str]) -> _Raw:
    label = str(path)
    data = path.read_bytes()
    notes: list[str] = []
    if not data.strip(b" \t\r\n\x00") or data.strip() in {b"\xef\xbb\xbf"}:
        raise ValidationError(
            f"{label}: the file is empty; it needs a header row and one row per organisation"
        )
    text, enc, stray = _decode(data, encoding, label, notes)
    text = re.sub(r"(?:\r?\n[ \t]*)+\Z", "\n", text)  # trailing blank lines are not rows
    if not text.strip():
        raise ValidationError(
            f"{label}: the file is empty; it needs a header row and one row per organisation"
        )
    sep = _sniff_sep(text, path.suffix.lower())
    records = _csv_records(text, sep, label)
    h = _find_header(records, wanted, label, "line")
    if h:
        notes.append(f"{label}: header found on line {h + 1} (the {h} line(s) above it skipped)")
    if stray:
        notes.append(_stray_bytes_note(label, text, stray, h))
        log.info(notes[-1])
    frame, forced, more = _records_frame(records, h, label, sep, text_cols)
    notes += more
    return _Raw(
        frame=frame, geometry=None, label=label, encoding=enc, header_row=h, notes=notes,
        forced=forced,
    )


# ---- Excel -----------------------------------------------------------------------------
def _not_a_workbook(head: bytes, label: str) -> str:
    if head.startswith(_OLE_MAGIC):
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
    import zipfile

    import openpyxl

    with path.open("rb") as fh:
        head = fh.read(4096)
    if not head.startswith(_ZIP_MAGIC):
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
            f"{_short(exc, 80)}); open it in Excel or LibreOffice and save it again, or export "
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
    filled = [
        (r, c, cell.value)
        for (r, c), cell in cells.items()
        if cell.value is not None and cell.value != "" and (limit is None or r <= limit)
    ]
    if not filled:
        return []
    n_rows = max(r for r, _, _ in filled)
    n_cols = max(c for _, c, _ in filled)
    grid: list[list[Any]] = [[None] * n_cols for _ in range(n_rows)]
    for r, c, v in filled:
        grid[r - 1][c - 1] = v
    return grid


def _has_table(ws: Any, wanted: set[str]) -> bool:
    return _header_index(_sheet_rows(ws, _HEADER_ROWS), wanted) is not None


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
        with_table = [ws for ws in sheets if ws is not chosen and _has_table(ws, wanted)]
        shown = [ws for ws in with_table if ws.sheet_state == "visible"]
        if len(with_table) > 1 or (with_table and not shown):
            raise ValidationError(
                f"{label}: the first sheet {chosen.title!r} has no table (no header row with a "
                f"known column name in its first {_HEADER_ROWS} rows); the table is on sheet(s) "
                f"{[ws.title for ws in with_table]}{' (hidden)' if not shown else ''}: pass sheet= "
                "with the one to read"
            )
        if with_table:
            notes.append(
                f"{label}: the first sheet {chosen.title!r} has no table (no header row with a "
                f"known column name); read sheet {with_table[0].title!r}, the only sheet with one"
            )
            chosen = with_table[0]
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


_NS_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_NS_DOCREL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_NS_PKGREL = "{http://schemas.openxmlformats.org/package/2006/relationships}"


def _sheet_member(z: Any, title: str) -> str | None:
    """Path inside the .xlsx zip of the worksheet called ``title``."""
    from xml.etree import ElementTree as ET

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


def _uncached_formulas(path: Path, title: str, first_row: int) -> list[tuple[str, str]]:
    """(cell, formula) of formula cells at or below sheet row ``first_row`` saved without a
    computed value (written by a program that does not calculate, e.g. a script).

    A formula whose cached result is text (``t="str"``, possibly ``""``) has its value.
    """
    import zipfile
    from xml.etree import ElementTree as ET

    from openpyxl.utils.cell import coordinate_from_string

    try:
        with zipfile.ZipFile(path) as z:
            member = _sheet_member(z, title)
            xml = z.read(member) if member in z.namelist() else b""
    except (KeyError, ET.ParseError, zipfile.BadZipFile):
        return []
    if b"<f" not in xml and b":f" not in xml:
        return []
    out: list[tuple[str, str]] = []
    for _, el in ET.iterparse(_stdio.BytesIO(xml)):
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
    filled: list[str] = []
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
        filled.append(f"{rng.coord} ({_short(value, 30)!r})")
    if not filled:
        return []
    more = f" and {len(filled) - 5} more" if len(filled) > 5 else ""
    return [
        f"{label}: merged cells {', '.join(filled[:5])}{more}: the merged value was given to "
        "every row of the block"
    ]


def _read_excel(path: Path, sheet: str | int | None, wanted: set[str], text_cols: set[str]) -> _Raw:
    wb = _open_workbook(path, str(path))
    try:
        ws, notes = _pick_sheet(wb, sheet, str(path), wanted)
        label = f"{path} [sheet {ws.title}]"
        grid = _sheet_rows(ws)
        if not grid:
            raise ValidationError(
                f"{label}: the sheet is empty; it needs a header row and one row per organisation"
            )
        h = _find_header(grid, wanted, label, "sheet row")
        notes += _merged_fill(ws, grid, h, label)
    finally:
        wb.close()
    uncached = _uncached_formulas(path, ws.title, h + 1)
    if uncached:
        ref, formula = uncached[0]
        more = f" (and {len(uncached) - 1} more formula cells)" if len(uncached) > 1 else ""
        raise ValidationError(
            f"{label}: cell {ref} holds a formula ({_short(formula, 40)}) saved without its "
            f"value{more}; open the file in Excel or LibreOffice and save it (that stores the "
            "values), or paste the values over the formulas"
        )
    if h:
        notes.append(f"{label}: header found on sheet row {h + 1} (rows above it skipped)")
    width = max(len(r) for r in grid)
    grid = [r + [None] * (width - len(r)) for r in grid]
    frame = _excel_frame(grid[h], grid[h + 1 :], text_cols)
    return _Raw(
        frame=frame, geometry=None, label=label, sheet_offset=h + 1, header_row=h, notes=notes
    )


def _excel_frame(header: list[Any], rows: list[list[Any]], text_cols: set[str]) -> pd.DataFrame:
    body = pd.DataFrame(rows, columns=range(len(header)), dtype=object)
    names: list[str] = []
    keep: list[int] = []
    for j, v in enumerate(header):
        blank_head = not _filled(v)
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
    filled = ~body.isna().all(axis=1).to_numpy()
    last = int(np.flatnonzero(filled)[-1]) + 1 if filled.any() else 0
    body = body.iloc[:last]
    out = {}
    for c in body.columns:
        col = body[c]
        if _match_name(c) in text_cols:
            col = col.map(_excel_text, na_action="ignore").astype("str")
        else:
            col = col.infer_objects()
            if col.dtype == object:
                col = (
                    col.map(_excel_text, na_action="ignore").astype("str")
                    if col.map(lambda v: isinstance(v, str), na_action="ignore").fillna(True).all()
                    else col
                )
        out[c] = col
    return pd.DataFrame(out, index=body.index)


def _excel_text(v: Any) -> Any:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _read_vector(path: Path, layer: str | int | None) -> _Raw:
    label = str(path)
    try:
        gdf = gpd.read_file(path, layer=layer) if layer is not None else gpd.read_file(path)
    except Exception as exc:  # pyogrio raises its own DataSourceError types
        if not path.read_bytes().strip():
            raise ValidationError(
                f"{label}: the file is empty; it needs one feature per organisation"
            ) from exc
        raise ValidationError(
            f"{label}: cannot be read as a spatial file ({_short(exc, 200)})"
        ) from exc
    if not isinstance(gdf, gpd.GeoDataFrame):
        return _Raw(frame=pd.DataFrame(gdf).reset_index(drop=True), geometry=None, label=label)
    return _from_frame(gdf, label)


def _from_frame(df: pd.DataFrame, label: str) -> _Raw:
    geometry = None
    if isinstance(df, gpd.GeoDataFrame) and df._geometry_column_name in df.columns:
        geometry = df.geometry.reset_index(drop=True)
        frame = pd.DataFrame(df.drop(columns=df._geometry_column_name)).reset_index(drop=True)
    else:
        frame = pd.DataFrame(df).reset_index(drop=True)  # a new frame: the caller's is untouched
    return _Raw(frame=frame, geometry=geometry, label=label)


def _expand_sites(raw: _Raw, coords: str) -> _Raw:
    """A MultiPoint feature with several distinct points becomes one row per site.

    ``raw.row_of`` maps each new row to its input row and ``raw.site`` numbers the sites; a
    MultiPoint of one point (or of one point repeated) is read as that point.
    """
    geom = raw.geometry
    if geom is None or coords not in ("auto", "geometry"):
        return raw
    multi = (geom.geom_type == "MultiPoint").to_numpy()
    if not multi.any():
        return raw
    import shapely

    parts: list[list[Any]] = []
    for g, is_multi in zip(geom.to_numpy(), multi, strict=True):
        pts = [p for p in shapely.get_parts(g) if not p.is_empty] if is_multi else []
        unique = list({(p.x, p.y): p for p in pts}.values())
        parts.append(unique or [g])
    counts = np.array([len(p) for p in parts])
    flat = gpd.GeoSeries([p for ps in parts for p in ps], crs=geom.crs)
    if (counts == 1).all():
        return dataclasses.replace(raw, geometry=flat)
    row_of = np.repeat(np.arange(len(parts)), counts)
    site = np.concatenate([np.arange(1, k + 1) for k in counts])
    several = np.flatnonzero(counts > 1)
    shown = _rows_text([f"{r + 1} ({counts[r]} sites)" for r in several], 5)
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
        notes=[*raw.notes, note],
    )


def _check_cell_sizes(raw: _Raw) -> None:
    """Refuse a cell longer than a spreadsheet cell can be (naming its row and column)."""
    frame = raw.frame
    for c in frame.columns:
        col = frame[c]
        if not (pd.api.types.is_string_dtype(col.dtype) or col.dtype == object):
            continue
        if pd.api.types.is_string_dtype(col.dtype) and col.dtype != object:
            lengths = col.str.len().fillna(0).to_numpy(dtype=np.int64)
        else:
            lengths = col.map(lambda v: len(v) if isinstance(v, str) else 0).to_numpy(
                dtype=np.int64
            )
        big = np.flatnonzero(lengths > _MAX_CELL)
        if not big.size:
            continue
        i = int(big[0])
        row = int(raw.row_of[i]) + 1 if raw.row_of is not None else i + 1
        where = _row_label(row, raw.sheet_offset).rstrip(": ")
        raise ValidationError(
            f"{raw.label}: {where}, column {_short(c, 40)!r} holds {lengths[i]:,} characters, "
            f"more than the {_MAX_CELL:,} a spreadsheet cell can hold (an unclosed quote that "
            "runs on over many lines?); shorten that cell or fix its quotes"
        )


def _read_source(
    source: Any,
    *,
    sheet: str | int | None,
    encoding: str | None,
    wanted: set[str],
    text_cols: set[str],
) -> _Raw:
    if isinstance(source, pd.DataFrame):
        return _from_frame(source, "<DataFrame>")
    if not isinstance(source, (str, Path)):
        raise ValidationError(
            f"source must be a file path or a (Geo)DataFrame, got {type(source).__name__}"
        )
    path = Path(source).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise ValidationError(f"{path}: is a folder; pass a CSV, XLSX, GeoJSON or GeoPackage file")
    suffix = path.suffix.lower()
    if suffix in _CSV:
        return _read_csv(path, encoding, wanted, text_cols)
    if suffix in _EXCEL:
        if path.stat().st_size == 0:
            raise ValidationError(
                f"{path}: the file is empty; it needs a header row and one row per organisation"
            )
        return _read_excel(path, sheet, wanted, text_cols)
    if suffix in _VECTOR:
        if path.stat().st_size == 0:
            raise ValidationError(
                f"{path}: the file is empty; it needs one feature per organisation"
            )
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

# --------------------------------------------------------------------------------------
# column detection
# --------------------------------------------------------------------------------------
def _resolve_columns(
    frame: pd.DataFrame, explicit: Mapping[str, str | None], label: str
) -> dict[str, str | None]:
    cols = list(frame.columns)
    seen: dict[str, Any] = {}
    for c in cols:
        seen.setdefault(_match_name(c), c)
    out: dict[str, str | None] = {}
    for role, aliases in COLUMN_ALIASES.items():
        given = explicit.get(role)
        if given is not None:
            if given in frame.columns:
                out[role] = given
            elif _match_name(given) in seen:
                out[role] = seen[_match_name(given)]
            else:
                raise MissingColumnError(
                    f"{label}: column {given!r} (passed as {role}_col=) not found; columns seen: "
                    f"{_columns_seen(cols)}"
                )
            continue
        out[role] = next((seen[a] for a in aliases if a in seen), None)
    return out


def _xy_as_bng(
    frame: pd.DataFrame, cols: dict[str, str | None], explicit: Mapping[str, str | None]
) -> list[str]:
    """Columns called x/y holding metres are easting/northing, not degrees."""
    notes: list[str] = []
    lat, lon = cols.get("lat"), cols.get("lon")
    if (
        lat is None
        or lon is None
        or explicit.get("lat")
        or explicit.get("lon")
        or cols.get("easting")
        or cols.get("northing")
    ):
        return notes
    if _match_name(lat) == "y" and _match_name(lon) == "x":
        yv, _ = _to_float(frame[lat])
        xv, _ = _to_float(frame[lon])
        vals = np.abs(np.r_[xv, yv])
        vals = vals[np.isfinite(vals)]
        if vals.size and float(np.median(vals)) > 1000:
            cols["easting"], cols["northing"] = lon, lat
            cols["lat"] = cols["lon"] = None
            notes.append(
                f"columns {lon!r}/{lat!r} hold metres: read as easting/northing (EPSG:27700)"
            )
    return notes


# --------------------------------------------------------------------------------------
# coordinate checks
# --------------------------------------------------------------------------------------
def _between(v: np.ndarray, lo_hi: tuple[float, float]) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return (v >= lo_hi[0]) & (v <= lo_hi[1])


def _check_latlon(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Reason code per row ('' when the pair is plausible for Great Britain)."""
    code = np.full(len(lat), "", dtype=object)
    with np.errstate(invalid="ignore"):
        big = (np.abs(lat) >= 1000) & (np.abs(lon) >= 1000)
    bng = big & (
        (_between(lon, _BNG_E) & _between(lat, _BNG_N))
        | (_between(lat, _BNG_E) & _between(lon, _BNG_N))
    )
    swapped = _between(lat, _ENG_LON) & _between(lon, _ENG_LAT)
    ok = _between(lat, _GB_LAT) & _between(lon, _GB_LON)
    code[~ok] = "coordinates_out_of_range"
    code[~ok & swapped] = "swapped_latlon"
    code[~ok & bng] = "bng_in_latlon"
    return code


def _check_bng(e: np.ndarray, n: np.ndarray) -> np.ndarray:
    ok = _between(e, _BNG_E) & _between(n, _BNG_N)
    with np.errstate(invalid="ignore"):
        ok &= ~((np.abs(e) < 1000) & (np.abs(n) < 1000))  # degrees, not metres
    code = np.full(len(e), "", dtype=object)
    code[~ok] = "coordinates_out_of_range"
    return code


def _fmt(v: Any) -> str:
    """A coordinate for messages: short whatever it holds (1e300 is not 301 digits)."""
    if isinstance(v, float):
        if not np.isfinite(v) or abs(v) < 1000:
            return format(v, ".10g")
        return f"{v:.0f}" if abs(v) < 1e10 else format(v, ".4g")
    return _short(str(v), 30)


# --------------------------------------------------------------------------------------
# main entry point
# --------------------------------------------------------------------------------------
def read_organisations(
    source: str | Path | pd.DataFrame,
    *,
    area: Any = None,
    postcodes: pd.DataFrame | None = None,
    coords: CoordMode = "auto",
    name_col: str | None = None,
    type_col: str | None = None,
    services_col: str | None = None,
    lat_col: str | None = None,
    lon_col: str | None = None,
    easting_col: str | None = None,
    northing_col: str | None = None,
    postcode_col: str | None = None,
    address_col: str | None = None,
    id_col: str | None = None,
    sheet: str | int | None = None,
    encoding: str | None = None,
    keep_outside_m: float = 0.0,
    duplicate_within_m: float | None = 50.0,
) -> OrganisationTable:
    """Read a list of organisations and locate each one in EPSG:27700.

    Parameters
    ----------
    source
        A CSV (UTF-8, UTF-8 with BOM, or Windows-1252/Latin-1, detected; stray non-UTF-8
        bytes in a UTF-8 file are read as Windows-1252 and noted; delimiter ``,`` ``;`` tab
        or ``|`` detected), an Excel workbook (first visible sheet with a table; title rows
        above the header are skipped), a GeoJSON or GeoPackage file, or a (Geo)DataFrame (not
        modified). Only empty cells are missing: ``NA``, ``None``, ``null``... stay text.
    area
        An :class:`cnmap.Area`. When given, points farther than ``keep_outside_m`` from its
        boundary are rejected (``outside_area``), kept rows get ``in_area``, and ward and LSOA
        codes come from its boundaries.
    postcodes
        Postcode lookup (``postcode``, ``lat``, ``lon``, optionally ``easting``,
        ``northing``). Default: ``area.postcodes`` if present, else
        :func:`cnmap.data.load_postcodes` — loaded only if some row needs a postcode.
    coords
        ``"auto"`` (default): each row uses the first location it has, in the order
        geometry, lat/lon, easting/northing, postcode column, postcode inside the address.
        ``"geometry"``, ``"latlon"``, ``"bng"``, ``"postcode"`` or ``"address"`` use only
        that source.
    name_col, type_col, services_col, lat_col, lon_col, easting_col, northing_col, postcode_col, address_col, id_col
        Column names, overriding automatic detection (:data:`COLUMN_ALIASES`).
    sheet
        Excel sheet name or index, or GeoPackage layer (default: the first).
    encoding
        Text encoding of a CSV (default: detected).
    keep_outside_m
        With ``area``: keep points up to this distance (m) outside the boundary.
    duplicate_within_m
        Reject a row whose normalised name equals an earlier kept row's within this distance
        (m). None disables the check.

    Returns
    -------
    OrganisationTable
        ``.organisations`` (GeoDataFrame, EPSG:27700), ``.rejected`` (with reasons),
        ``.n_input``, ``.n_matched``, ``.match_rate``, ``.summary()``, ``.params``.

    Raises
    ------
    ValidationError
        Empty file, no data rows, unreadable file (damaged or mis-named workbook, UTF-16
        without BOM, binary), a header below the first 40 rows, most rows longer than the
        header, a formula without its saved value, a cell over 32,767 characters, or a bad
        argument. One line naming the file (and row, column or cell) and the fix.
    MissingColumnError
        No name column, or no location columns (the message lists the columns seen and the
        keyword to pass).
    CRSError
        A GeoDataFrame without a CRS.
    """
    if coords not in _MODES:
        raise ValidationError(f"coords={coords!r} is not one of {_MODES}")
    if keep_outside_m is None or not np.isfinite(keep_outside_m) or keep_outside_m < 0:
        raise ValidationError(f"keep_outside_m={keep_outside_m!r}: give a distance in metres >= 0")
    if duplicate_within_m is not None and (
        not np.isfinite(duplicate_within_m) or duplicate_within_m < 0
    ):
        raise ValidationError(
            f"duplicate_within_m={duplicate_within_m!r}: give a distance in metres >= 0, or None to keep duplicates"
        )
    if postcodes is not None and not isinstance(postcodes, pd.DataFrame):
        raise ValidationError(
            f"postcodes must be a DataFrame (postcode, lat, lon), got {type(postcodes).__name__}"
        )

    explicit = {
        "name": name_col,
        "type": type_col,
        "services": services_col,
        "lat": lat_col,
        "lon": lon_col,
        "easting": easting_col,
        "northing": northing_col,
        "postcode": postcode_col,
        "address": address_col,
        "id": id_col,
    }
    text_cols = {
        a
        for r in ("name", "type", "services", "postcode", "address", "id")
        for a in COLUMN_ALIASES[r]
    }
    text_cols |= {
        _match_name(explicit[r])
        for r in ("name", "type", "services", "postcode", "address", "id")
        if explicit[r]
    }
    raw = _read_source(
        source, sheet=sheet, encoding=encoding, wanted=_wanted_names(explicit), text_cols=text_cols
    )
    raw = _expand_sites(raw, coords)
    label = raw.label
    frame = raw.frame
    n = len(frame)
    notes = list(raw.notes)
    if n == 0:
        raise ValidationError(
            f"{label}: has a header but no data rows; add one row per organisation"
        )
    _check_cell_sizes(raw)
    # input row of each row (a MultiPoint feature with several sites gives several rows)
    row_of = raw.row_of if raw.row_of is not None else np.arange(n)
    source_row = row_of + 1

    # ---- columns ------------------------------------------------------------------
    cols = _resolve_columns(frame, explicit, label)
    notes += [f"{label}: {t}" for t in _xy_as_bng(frame, cols, explicit)]
    if cols["name"] is None:
        raise MissingColumnError(
            f"{label}: no name column found; columns seen: {_columns_seen(frame.columns)}. "
            f"Expected one of {list(COLUMN_ALIASES['name'][:8])}..., or pass name_col='<column>'"
        )
    geom = raw.geometry
    has_geom = geom is not None and bool(_has_shape(geom).any())
    available = {
        "geometry": has_geom,
        "latlon": cols["lat"] is not None and cols["lon"] is not None,
        "bng": cols["easting"] is not None and cols["northing"] is not None,
        "postcode": cols["postcode"] is not None,
        "address": cols["address"] is not None,
    }
    if coords == "auto":
        order = [s for s in _ORDER if available[s]]
        if not order:
            raise MissingColumnError(
                f"{label}: no location columns found; columns seen: {_columns_seen(frame.columns)}. "
                "Give latitude/longitude (lat, latitude / lon, lng, longitude), easting/northing, "
                "a postcode column (postcode, post_code, postal_code, pcd), or an address containing "
                "a postcode (address, full_address, location); or name them with lat_col=/lon_col=, "
                "easting_col=/northing_col=, postcode_col= or address_col="
            )
    else:
        if not available[coords]:
            need = {
                "geometry": "a spatial file or GeoDataFrame with geometries",
                "latlon": "latitude/longitude columns (or lat_col=, lon_col=)",
                "bng": "easting/northing columns (or easting_col=, northing_col=)",
                "postcode": "a postcode column (or postcode_col=)",
                "address": "an address column (or address_col=)",
            }[coords]
            raise MissingColumnError(
                f"{label}: coords={coords!r} needs {need}; columns seen: {_columns_seen(frame.columns)}"
            )
        order = [coords]
    if has_geom and geom is not None and geom.crs is None:
        raise CRSError(
            f"{label}: the GeoDataFrame has no CRS; set it with .set_crs('EPSG:4326') or .set_crs('EPSG:27700')"
        )

    # ---- per-row location ---------------------------------------------------------
    empty = np.ones(n, dtype=bool)
    for c in frame.columns:
        empty &= _blank(frame[c])
    if geom is not None:
        empty &= ~_has_shape(geom)
    # rows refused while reading (more fields than the header): never located
    forced = np.zeros(n, dtype=bool)
    forced_text = np.full(n, "", dtype=object)
    for row_index, text in raw.forced.items():
        forced[row_index], forced_text[row_index] = True, text
    empty &= ~forced
    if empty.all():
        raise ValidationError(f"{label}: has a header but no data rows (all {n} rows are blank)")

    lat = np.full(n, np.nan)
    lon = np.full(n, np.nan)
    x = np.full(n, np.nan)
    y = np.full(n, np.nan)
    src = np.full(n, "", dtype=object)
    pc_out = pd.Series(pd.NA, index=frame.index, dtype="str")
    fail = np.full(n, "", dtype=object)  # first failure (reason code)
    fail_text = np.full(n, "", dtype=object)
    unresolved = ~empty & ~forced

    def _new(mask: np.ndarray) -> np.ndarray:
        """Rows of ``mask`` without a recorded failure yet."""
        return np.flatnonzero(mask & (fail == ""))

    def record(idx: np.ndarray, code: str | np.ndarray, texts: list[str]) -> None:
        """Keep the first failure of each row (reason code and message)."""
        if len(idx):
            fail[idx] = code[idx] if isinstance(code, np.ndarray) else code
            fail_text[idx] = np.array(texts, dtype=object)

    def numeric_pair(a_c: str, b_c: str, cand: np.ndarray, units: str
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Parse a coordinate column pair; record rows that are not numbers or half blank.

        Returns both columns as floats and the candidate rows where both are numbers."""
        metres = units == "metres"
        a, a_bad = _to_float(frame[a_c], thousands=metres)
        b, b_bad = _to_float(frame[b_c], thousands=metres)
        both = cand & ~np.isnan(a) & ~np.isnan(b)
        notnum = cand & (a_bad | b_bad)
        half = cand & ~both & ~notnum & (np.isnan(a) ^ np.isnan(b))
        raw_a, raw_b = frame[a_c].to_numpy(), frame[b_c].to_numpy()
        notes.extend(_thousands_note(label, frame, a_c, b_c, cand & metres, source_row))
        idx = _new(notnum)
        record(idx, "coordinates_out_of_range",
               [f"{a_c}={_short(_show(raw_a[i]), 30)!r}, {b_c}={_short(_show(raw_b[i]), 30)!r} "
                f"are not numbers in {units}; fix the values or give a postcode" for i in idx])
        idx = _new(half)
        record(idx, "missing_coordinates",
               [(f"{a_c} is blank but {b_c} is given" if np.isnan(a[i])
                 else f"{b_c} is blank but {a_c} is given") + "; give both, or a postcode"
                for i in idx])
        return a, b, both

    lookup_used: dict[str, Any] = {}
    area_label = (
        f"{getattr(area, 'lad_code', '')} {getattr(area, 'lad_name', '')}".strip() or "the area"
        if area is not None
        else ""
    )

    def get_lookup() -> pd.DataFrame:
        if "table" not in lookup_used:
            lookup_used["area_only"] = False
            if postcodes is not None:
                table, what = postcodes, f"postcodes= frame ({len(postcodes):,} rows)"
            elif area is not None and getattr(area, "postcodes", None) is not None:
                table, what = area.postcodes, f"area.postcodes ({len(area.postcodes):,} rows)"
                lookup_used["area_only"] = True
            else:
                from cnmap.data import load_postcodes

                table = load_postcodes()
                what = f"cnmap.data.load_postcodes() ({len(table):,} rows)"
            lookup_used["table"] = prepare_postcode_lookup(table)
            lookup_used["what"] = what
        return lookup_used["table"]

    def wider_lookup(pcs: pd.Series) -> pd.DataFrame | None:
        """The full lookup of the postcode areas of ``pcs`` (for postcodes outside the area)."""
        from cnmap.data import load_postcodes
        from cnmap.errors import DataFetchError

        store: dict[str, pd.DataFrame | None] = lookup_used.setdefault("wider", {})
        for pa in sorted(set(pcs.str.extract(r"^([A-Z]{1,2})", expand=False).dropna())):
            if pa in store:
                continue
            try:
                store[pa] = prepare_postcode_lookup(load_postcodes(postcode_area=pa))
            except DataFetchError as exc:
                store[pa] = None
                msg = (
                    f"{label}: postcodes not in {area_label}'s lookup could not be looked up in "
                    f"the full postcode area {pa!r} lookup ({_short(str(exc).split(':')[0], 80)}); "
                    "they are reported as unknown_postcode"
                )
                notes.append(msg)
                log.info(msg)
        frames = [t for t in store.values() if t is not None]
        if not frames:
            return None
        lookup_used.setdefault("base_what", lookup_used["what"])
        lookup_used["what"] = (
            f"{lookup_used['base_what']}, then cnmap.data.load_postcodes(postcode_area=...) "
            f"for postcodes outside the area ({', '.join(k for k, v in store.items() if v is not None)})"
        )
        table = pd.concat(frames) if len(frames) > 1 else frames[0]
        if len(frames) > 1:
            table = table[~table.index.duplicated()]
            table.attrs["cnmap_prepared"] = True
        return table

    def geocode(values: pd.Series) -> pd.DataFrame:
        geo = geocode_postcodes(values, get_lookup())
        if lookup_used["area_only"]:
            unk = (geo["status"] == STATUS_UNKNOWN).to_numpy()
            if unk.any():
                wider = wider_lookup(geo["postcode"][unk])
                if wider is not None:
                    g2 = geocode_postcodes(geo["postcode"][unk], wider)
                    for c in g2.columns:
                        col = geo[c].to_numpy(copy=True)
                        col[unk] = g2[c].to_numpy()
                        geo[c] = col
        return geo

    pc_norm = normalise_postcodes(frame[cols["postcode"]]) if cols["postcode"] else None
    addr = _clean_text(frame[cols["address"]]) if cols["address"] else None

    for s in order:
        cand = unresolved.copy()
        if not cand.any():
            break
        if s == "geometry":
            assert geom is not None
            present = _has_shape(geom) & cand
            if not present.any():
                continue
            gg = geom[present]
            if not (gg.geom_type == "Point").all():
                n_shapes = int((gg.geom_type != "Point").sum())
                notes.append(f"{label}: {n_shapes} non-point geometries (polygons or lines) were "
                             "placed at an interior point (shapely representative_point)")
                log.info(notes[-1])
                gg = gg.representative_point()
            crs_name = geom.crs.to_string() if geom.crs is not None else "?"
            if geom.crs is not None and geom.crs.is_geographic:
                if not geom.crs.equals(C.WGS84):
                    gg = gg.to_crs(C.WGS84)
                glon = np.full(n, np.nan)
                glat = np.full(n, np.nan)
                glon[present], glat[present] = gg.x.to_numpy(), gg.y.to_numpy()
                code = _check_latlon(glat, glon)
                good = present & (code == "")
                idx = _new(present & (code != ""))
                record(
                    idx,
                    code,
                    [
                        f"geometry POINT ({_fmt(glon[i])} {_fmt(glat[i])}) ({crs_name}): "
                        + _latlon_hint(str(code[i]), "geometry", "geometry")
                        for i in idx
                    ],
                )
                lat[good], lon[good] = glat[good], glon[good]
            else:
                gb = gg.to_crs(C.BNG)
                ge = np.full(n, np.nan)
                gn = np.full(n, np.nan)
                ge[present], gn[present] = gb.x.to_numpy(), gb.y.to_numpy()
                code = _check_bng(ge, gn)
                good = present & (code == "")
                idx = _new(present & (code != ""))
                record(
                    idx,
                    code,
                    [
                        f"geometry ({_fmt(ge[i])}, {_fmt(gn[i])}) in EPSG:27700 lies outside "
                        f"Great Britain; check the layer's CRS ({crs_name})"
                        for i in idx
                    ],
                )
                x[good], y[good] = ge[good], gn[good]
            src[good] = "geometry"
            unresolved &= ~good
        elif s == "latlon":
            lat_c, lon_c = str(cols["lat"]), str(cols["lon"])
            la, lo, both = numeric_pair(lat_c, lon_c, cand, "decimal degrees")
            code = _check_latlon(la, lo)
            good = both & (code == "")
            idx = _new(both & (code != ""))
            record(
                idx,
                code,
                [
                    f"{lat_c}={_fmt(la[i])}, {lon_c}={_fmt(lo[i])}: "
                    + _latlon_hint(str(code[i]), lat_c, lon_c)
                    for i in idx
                ],
            )
            lat[good], lon[good] = la[good], lo[good]
            src[good] = "latlon"
            unresolved &= ~good
        elif s == "bng":
            e_c, n_c = str(cols["easting"]), str(cols["northing"])
            e, no, both = numeric_pair(e_c, n_c, cand, "metres")
            code = _check_bng(e, no)
            good = both & (code == "")
            idx = _new(both & (code != ""))
            record(
                idx,
                code,
                [
                    f"{e_c}={_fmt(e[i])}, {n_c}={_fmt(no[i])}: "
                    + (
                        "these look like degrees, not metres; pass lat_col=/lon_col= instead"
                        if abs(e[i]) < 1000 and abs(no[i]) < 1000
                        else "outside the British National Grid (easting 0..700000, northing 0..1300000); "
                        "check the values"
                    )
                    for i in idx
                ],
            )
            x[good], y[good] = e[good], no[good]
            src[good] = "bng"
            unresolved &= ~good
        else:  # postcode column, or a postcode inside the address
            if s == "postcode":
                assert pc_norm is not None
                values = pc_norm
                present = cand & pc_norm.notna().to_numpy()
                shown = frame[str(cols["postcode"])].to_numpy()
                suffix = ""
            else:
                assert addr is not None
                has_addr = cand & addr.notna().to_numpy()
                if not has_addr.any():
                    continue
                values = pd.Series(pd.NA, index=frame.index, dtype="str")
                values[has_addr] = extract_postcode(addr[has_addr])
                present = has_addr & values.notna().to_numpy()
                a_vals = addr.to_numpy()
                a_c = str(cols["address"])
                idx = _new(has_addr & ~present)
                record(
                    idx,
                    "missing_coordinates",
                    [
                        f"no coordinates and no postcode found in {a_c} {_short(a_vals[i])!r}; "
                        "add a postcode or lat/lon"
                        for i in idx
                    ],
                )
                shown = values.to_numpy()
                suffix = f" (found in {a_c})"
            if not present.any():
                continue
            geo = geocode(values[present])
            unknown_msg = "not found in the ONS postcode lookup; check the spelling or give lat/lon"
            wider_ok = any(v is not None for v in lookup_used.get("wider", {}).values())
            if lookup_used["area_only"] and not wider_ok:
                unknown_msg = (
                    f"not found in the postcode lookup of {area_label} (postcodes outside "
                    "the area are not in it); check the spelling or give lat/lon"
                )
            st = np.full(n, "", dtype=object)
            st[present] = geo["status"].to_numpy()
            for status, code_, msg in (
                (
                    STATUS_MALFORMED,
                    "malformed_postcode",
                    "is not a valid UK postcode; check the spelling or give lat/lon",
                ),
                (STATUS_UNKNOWN, "unknown_postcode", unknown_msg),
                (
                    STATUS_NO_COORDINATES,
                    "postcode_without_coordinates",
                    "is in the ONS postcode lookup but has no coordinates (a non-geographic "
                    "postcode); give lat/lon",
                ),
            ):
                idx = _new(present & (st == status))
                record(idx, code_,
                       [f"postcode {_short(_show(shown[i]), 30)!r}{suffix} {msg}" for i in idx])
            good = present & (st == STATUS_OK)
            sel = np.flatnonzero(good)
            ok_local = geo["status"].to_numpy() == STATUS_OK
            lat[sel] = geo[C.LAT].to_numpy()[ok_local]
            lon[sel] = geo[C.LON].to_numpy()[ok_local]
            x[sel] = geo[C.EASTING].to_numpy()[ok_local]
            y[sel] = geo[C.NORTHING].to_numpy()[ok_local]
            if s == "address":
                pc_out[good] = values[good]
            src[good] = _COORD_LABEL[s]
            unresolved &= ~good

    # rows never located: their first failure, else nothing at all
    none_given = unresolved & (fail == "")
    if none_given.any():
        what = [
            k for k in ("lat", "lon", "easting", "northing", "postcode", "address") if cols.get(k)
        ]
        fail[none_given] = "missing_coordinates"
        fail_text[none_given] = (
            f"no location: {', '.join(str(cols[k]) for k in what) or 'geometry'} "
            "blank; add lat/lon or a postcode"
        )
    located = ~empty & ~unresolved & ~forced
    coord_note = np.where(located & (fail != ""), fail_text, "").astype(object)

    # fill BNG / WGS84 for located rows
    need_xy = located & np.isnan(x)
    if need_xy.any():
        from pyproj import Transformer

        tr = Transformer.from_crs(C.WGS84, C.BNG, always_xy=True)
        x[need_xy], y[need_xy] = tr.transform(lon[need_xy], lat[need_xy])
    need_ll = located & np.isnan(lat)
    if need_ll.any():
        from pyproj import Transformer

        tr = Transformer.from_crs(C.BNG, C.WGS84, always_xy=True)
        lon[need_ll], lat[need_ll] = tr.transform(x[need_ll], y[need_ll])

    # ---- area ---------------------------------------------------------------------
    reason = np.where(empty, "empty_row", np.where(unresolved, fail, "")).astype(object)
    reason_text = np.where(
        empty, "row is empty (every cell blank)", np.where(unresolved, fail_text, "")
    ).astype(object)
    reason[forced], reason_text[forced] = "extra_fields", forced_text[forced]
    in_area = None
    if area is not None:
        import shapely

        boundary = area.boundary.to_crs(C.BNG).geometry.union_all()
        inside = np.zeros(n, dtype=bool)
        inside[located] = shapely.intersects_xy(boundary, x[located], y[located])
        out_idx = np.flatnonzero(located & ~inside)
        dist = np.zeros(n)
        if len(out_idx):
            dist[out_idx] = shapely.distance(boundary, shapely.points(x[out_idx], y[out_idx]))
        far = located & ~inside & (dist > keep_outside_m)
        lad = (
            f"{getattr(area, 'lad_code', '')} {getattr(area, 'lad_name', '')}".strip() or "the area"
        )
        for i in np.flatnonzero(far):
            reason[i] = "outside_area"
            reason_text[i] = (
                f"the point is {dist[i]:,.0f} m outside {lad} (keep_outside_m={keep_outside_m:g}); "
                "check the location, or raise keep_outside_m to keep it"
            )
        located &= ~far
        in_area = inside

    # ---- names, duplicates ----------------------------------------------------------
    names = _clean_text(frame[cols["name"]])
    dup_of = np.full(n, -1, dtype=np.int64)
    if duplicate_within_m is not None:
        key = _name_key(names)
        dup_of = _find_duplicates(
            key.to_numpy(dtype=object), x, y, located, float(duplicate_within_m), row_of
        )
        for i in np.flatnonzero(dup_of >= 0):
            reason[i] = "duplicate"
            d = float(np.hypot(x[i] - x[dup_of[i]], y[i] - y[dup_of[i]]))
            reason_text[i] = (
                f"duplicate of row {source_row[dup_of[i]]}: same name {_short(names.iloc[i])!r} "
                f"{d:,.0f} m away "
                f"(duplicate_within_m={duplicate_within_m:g}); set duplicate_within_m=None to keep both"
            )
        located &= dup_of < 0

    # ---- assemble outputs -------------------------------------------------------------
    types = (
        normalise_type(frame[cols["type"]])
        if cols["type"]
        else pd.Series(pd.NA, index=frame.index, dtype="str")
    )
    if cols["services"]:
        services, services_list = split_services(frame[cols["services"]])
    else:
        services = pd.Series(pd.NA, index=frame.index, dtype="str")
        services_list = pd.Series([()] * n, index=frame.index, dtype=object)
    postcode_final = pc_norm.where(pc_norm.notna(), pc_out) if pc_norm is not None else pc_out

    site_suffix = _site_suffix(raw)
    org_ids = _org_ids(frame, cols, explicit, located, source_row, label, notes, site_suffix)
    used = {v for v in cols.values() if v is not None}

    k = np.flatnonzero(located)
    std = {
        C.ORG_ID: org_ids[k],
        C.NAME: names.to_numpy()[k],
        C.ORG_TYPE: types.to_numpy()[k],
        C.SERVICES: services.to_numpy()[k],
        "services_list": services_list.to_numpy()[k],
        "types_list": (split_types(frame[cols["type"]]).to_numpy()[k] if cols["type"]
                       else np.array([()] * len(k) + [None], dtype=object)[:-1]),
        C.ADDRESS: (
            addr.to_numpy()[k] if addr is not None else np.full(len(k), pd.NA, dtype=object)
        ),
        C.POSTCODE: postcode_final.to_numpy()[k],
        C.COORD_SOURCE: src[k],
        C.SOURCE_ROW: source_row[k],
    }
    orgs = pd.DataFrame(std)
    for c in (C.ORG_ID, C.NAME, C.ORG_TYPE, C.SERVICES, C.ADDRESS, C.POSTCODE, C.COORD_SOURCE):
        orgs[c] = orgs[c].astype("str")
    pts = gpd.GeoSeries(gpd.points_from_xy(x[k], y[k]), crs=C.BNG)
    orgs[C.LSOA_CODE], orgs[C.WARD_CODE], orgs[C.WARD_NAME] = _assign(pts, area)
    if in_area is not None:
        orgs["in_area"] = in_area[k]
    orgs[C.LAT], orgs[C.LON], orgs[C.EASTING], orgs[C.NORTHING] = lat[k], lon[k], x[k], y[k]
    orgs["coord_note"] = pd.Series(coord_note[k], dtype="str").replace("", pd.NA)
    orgs = _with_sites(orgs, raw, k)
    others = [c for c in frame.columns if c not in used]
    renamed = _renamed_columns(others, frame.columns, _RESERVED_OUTPUT)
    for c in others:
        orgs[renamed.get(c, str(c))] = frame[c].to_numpy()[k]
    if C.OPENING_HOURS not in orgs.columns:
        # OSM opening_hours syntax under a usual spelling (the warm spaces call it hours_osm)
        hours = next((c for a in _HOURS_ALIASES for c in others if _norm_col(c) == a), None)
        if hours is not None:
            orgs[C.OPENING_HOURS] = pd.Series(frame[hours].to_numpy()[k], dtype="str")
    organisations = gpd.GeoDataFrame(orgs, geometry=pts.to_numpy(), crs=C.BNG)

    r = np.flatnonzero(~located)
    # one rejected row per input row none of whose sites was placed
    r, reason_text, site_notes = _collapse_sites(r, located, reason, reason_text, raw)
    notes += site_notes
    rej = _rejected_table(
        raw, r, names, reason, reason_text, dup_of, source_row, cols["name"], renamed
    )
    if renamed:
        notes.append(_renamed_note(label, renamed))

    params = {
        "coords": coords,
        "coord_order": order,
        "columns": {k_: v for k_, v in cols.items() if v is not None},
        "area": getattr(area, "lad_code", None) if area is not None else None,
        "keep_outside_m": float(keep_outside_m),
        "duplicate_within_m": None if duplicate_within_m is None else float(duplicate_within_m),
        "postcode_lookup": lookup_used.get("what"),
        "encoding": raw.encoding,
        "sheet": sheet,
        "header_row": raw.header_row + 1,
    }
    result = OrganisationTable(
        organisations=organisations,
        rejected=rej.reset_index(drop=True),
        n_input=raw.n_rows,
        source=label,
        params=params,
        notes=tuple(notes),
    )
    if (
        result.n_matched + result.n_rejected != raw.n_rows
        or len(result.organisations) + len(result.rejected) < raw.n_rows
    ):  # pragma: no cover - internal invariant
        raise RuntimeError("read_organisations lost rows; please report this")
    summ = result.summary()
    rejected_txt = ", ".join(f"{a} {b}" for a, b in summ.items() if a != "matched") or "none"
    log.info(
        "read_organisations %s: %d rows, %d matched (%.1f%%); rejected: %s",
        label,
        raw.n_rows,
        result.n_matched,
        100 * result.match_rate,
        rejected_txt,
    )
    return result


# --------------------------------------------------------------------------------------
# internals used above
# --------------------------------------------------------------------------------------
def _latlon_hint(code: str, lat_name: str, lon_name: str) -> str:
    if code == "bng_in_latlon":
        return (
            "these look like British National Grid metres, not degrees; pass "
            f"easting_col={lon_name!r}, northing_col={lat_name!r} (or coords='bng')"
        )
    if code == "swapped_latlon":
        return (
            "latitude and longitude look swapped (latitude in England is 49.8..55.9, "
            "longitude -6.5..2); swap the two values"
        )
    return (
        f"outside Great Britain (latitude {_GB_LAT[0]}..{_GB_LAT[1]}, longitude "
        f"{_GB_LON[0]}..{_GB_LON[1]}); check the values"
    )


def _columns_seen(columns: Sequence[Any]) -> list[str]:
    """Column names for messages (each kept short)."""
    return [_short(str(c), 40) for c in columns]


def _has_shape(geom: gpd.GeoSeries) -> np.ndarray:
    """Rows with a geometry that is neither missing nor empty."""
    import shapely

    arr = geom.to_numpy()
    return ~(shapely.is_missing(arr) | shapely.is_empty(arr))


def _show(v: Any) -> str:
    """A cell value as the user typed it (for messages)."""
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
        return ""
    return str(v).strip()


def _short(text: Any, width: int = 60) -> str:
    t = str(text)
    return t if len(t) <= width else t[: width - 1] + "…"


def _row_label(row: int, sheet_offset: int | None) -> str:
    if sheet_offset is None:
        return f"row {row}: "
    return f"row {row} (sheet row {row + sheet_offset}): "


def _name_key(names: pd.Series) -> pd.Series:
    """Name normalised for duplicate detection (case, '&', punctuation, spacing)."""
    k = names.str.casefold().str.replace("&", " and ", regex=False)
    k = (
        k.str.replace(r"['’`]", "", regex=True)
        .str.replace(r"[^0-9a-z]+", " ", regex=True)
        .str.strip()
    )
    return k.where(k.str.len() > 0)


def _find_duplicates(
    key: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    mask: np.ndarray,
    r: float,
    group: np.ndarray | None = None,
) -> np.ndarray:
    """For each row, the index of the earlier kept row it duplicates, else -1.

    Rows are taken in order; a row duplicates the first earlier *kept* row with the same key
    within ``r`` metres. Rows of the same ``group`` (the sites of one input row) are never
    duplicates of each other.
    """
    from scipy.spatial import cKDTree

    n = len(key)
    dup_of = np.full(n, -1, dtype=np.int64)
    idx = np.flatnonzero(mask & pd.notna(key))
    if len(idx) < 2:
        return dup_of
    k = pd.Series(key[idx])
    repeated = k.duplicated(keep=False).to_numpy()
    idx = idx[repeated]
    if len(idx) < 2:
        return dup_of
    codes, _ = pd.factorize(pd.Series(key[idx]))
    sep = 4.0 * r + 1e7  # different names sit far apart along a third axis
    pts = np.column_stack([x[idx], y[idx], codes.astype(float) * sep])
    pairs = cKDTree(pts).query_pairs(r, output_type="ndarray")
    if len(pairs) == 0:
        return dup_of
    pairs = np.sort(pairs, axis=1)
    pairs = pairs[np.lexsort((pairs[:, 0], pairs[:, 1]))]
    local = np.full(len(idx), -1, dtype=np.int64)
    same = (
        group[idx[pairs[:, 0]]] == group[idx[pairs[:, 1]]]
        if group is not None
        else np.zeros(len(pairs), dtype=bool)
    )
    for (i, j), skip in zip(pairs, same, strict=True):  # candidate pairs only (same name, near)
        if not skip and local[j] < 0 and local[i] < 0:
            local[j] = i
    has = local >= 0
    dup_of[idx[has]] = idx[local[has]]
    return dup_of


def _org_ids(
    frame: pd.DataFrame,
    cols: dict[str, str | None],
    explicit: Mapping[str, str | None],
    located: np.ndarray,
    source_row: np.ndarray,
    label: str,
    notes: list[str],
    suffix: np.ndarray | None = None,
) -> np.ndarray:
    """org_id: the id column when usable, else the source row number as text.

    ``suffix`` (``"#2"`` ...) tells apart the sites of an input row with several sites; the
    id column must then be unique per input row.
    """
    sfx = suffix if suffix is not None else np.full(len(source_row), "", dtype=object)
    generated = (source_row.astype(str).astype(object) + sfx).astype(object)
    col = cols.get("id")
    if col is None:
        return generated
    ids = _clean_text(frame[col])
    once = located & ~pd.Series(source_row).duplicated().to_numpy()  # one row per input row
    kept = ids[once]
    bad_rows = source_row[once][(kept.isna() | kept.duplicated(keep=False)).to_numpy()]
    if len(bad_rows) == 0:
        return (ids.to_numpy(dtype=object) + sfx).astype(object)
    if explicit.get("id"):
        raise ValidationError(
            f"{label}: id column {col!r} (id_col=) must be unique and filled for every located row; "
            f"blank or repeated at rows {bad_rows[:10].tolist()}{'...' if len(bad_rows) > 10 else ''}; "
            "fix the ids or leave id_col=None to number the rows"
        )
    notes.append(
        f"{label}: column {col!r} is blank or repeated at rows {bad_rows[:10].tolist()}: "
        "org_id is the source row number instead"
    )
    log.info(notes[-1])
    cols["id"] = None
    return generated


def _rejected_table(
    raw: _Raw,
    r: np.ndarray,
    names: pd.Series,
    reason: np.ndarray,
    reason_text: np.ndarray,
    dup_of: np.ndarray,
    source_row: np.ndarray,
    name_col: str | None,
    renamed: Mapping[Any, str],
) -> pd.DataFrame:
    """The rejected rows ``r``: row, name, reason, message, duplicate twin, then the row's
    original values (input columns named like these renamed as in ``renamed``)."""
    frame = raw.frame
    prefix = np.array(
        [_row_label(int(i), raw.sheet_offset) for i in source_row[r]] or [], dtype=object
    )
    rej = pd.DataFrame(
        {
            C.SOURCE_ROW: source_row[r],
            C.NAME: names.to_numpy()[r],
            C.REASON: reason[r],
            "reason_text": prefix + reason_text[r],
            "duplicate_of": pd.array(
                np.where(dup_of[r] >= 0, source_row[np.maximum(dup_of[r], 0)], 0), dtype="Int64"
            ),
        }
    )
    rej["duplicate_of"] = rej["duplicate_of"].where(rej[C.REASON] == "duplicate")
    for c in (C.NAME, C.REASON, "reason_text"):
        rej[c] = rej[c].astype("str")
    for c in frame.columns:
        if c == name_col and str(c) == C.NAME:
            continue
        out_name = renamed.get(c) or (str(c) if str(c) not in rej.columns else f"{c}_input")
        rej[out_name] = frame[c].to_numpy()[r]
    shapes = raw.features if raw.features is not None else raw.geometry
    if shapes is not None:
        rows = raw.row_of[r] if raw.row_of is not None else r
        rej["geometry_wkt"] = pd.Series(shapes.to_wkt().to_numpy()[rows], dtype="str")
    return rej


def _with_sites(orgs: pd.DataFrame, raw: _Raw, k: np.ndarray) -> pd.DataFrame:
    """Add the ``site`` number column when some input row has several sites."""
    if raw.site is not None:
        orgs[C.SITE] = raw.site[k]
    return orgs


def _site_suffix(raw: _Raw) -> np.ndarray | None:
    """``"#k"`` for the k-th site of an input row with several sites, ``""`` otherwise."""
    if raw.site is None or raw.row_of is None:
        return None
    several = np.bincount(raw.row_of)[raw.row_of] > 1
    return np.where(several, np.char.add("#", raw.site.astype(str)), "").astype(object)


def _collapse_sites(
    r: np.ndarray, located: np.ndarray, reason: np.ndarray, reason_text: np.ndarray, raw: _Raw
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Rejected rows when some input rows have several sites.

    A site not placed while another site of its row is: a note (the row is placed). No site
    of the row placed: one rejected row (its first site) whose text lists every site's reason.
    """
    if raw.row_of is None or raw.site is None:
        return r, reason_text, []
    row_of, site = raw.row_of, raw.site
    placed = np.zeros(raw.n_rows, dtype=bool)
    placed[row_of[located]] = True
    n_sites = np.bincount(row_of)
    texts = reason_text.copy()
    keep: list[int] = []
    notes: list[str] = []
    for i in r:
        row = int(row_of[i])
        if placed[row]:
            notes.append(
                f"{raw.label}: row {row + 1}, site {site[i]} of {n_sites[row]} not placed "
                f"({reason[i]}): {reason_text[i]}"
            )
        elif site[i] == 1:
            keep.append(int(i))
        if n_sites[row] > 1 and not placed[row]:  # the row's sites are consecutive
            first = int(i) - int(site[i]) + 1
            texts[first] = (texts[first] + "; " if site[i] > 1 else "") + (
                f"site {site[i]}: {reason_text[i]}"
            )
    return np.array(keep, dtype=np.int64), texts, notes


#: output column names an input column must not take (it is renamed ``<name>_input``)
_RESERVED_OUTPUT = frozenset(
    _STANDARD
    + _REJECTED_STANDARD
    + ["types_list", "in_area", C.SITE, C.GEOMETRY, "geometry_wkt", "dataset", "file"]
)


def _renamed_columns(
    others: Sequence[Any], all_columns: Sequence[Any], reserved: frozenset[str]
) -> dict[Any, str]:
    """New names for input columns named like cnmap's output columns: ``reason`` ->
    ``reason_input`` (``reason_input2``... when that is taken too)."""
    taken = set(reserved) | {str(c) for c in all_columns}
    out: dict[Any, str] = {}
    for c in others:
        if str(c) not in reserved:
            continue
        new, k = f"{c}_input", 1
        while new in taken:
            k += 1
            new = f"{c}_input{k}"
        taken.add(new)
        out[c] = new
    return out


def _renamed_note(label: str, renamed: Mapping[Any, str]) -> str:
    pairs = ", ".join(f"{str(a)!r} -> {b!r}" for a, b in renamed.items())
    return (
        f"{label}: input column(s) named like cnmap's own output columns were renamed: {pairs}"
    )


def _thousands_note(
    label: str, frame: pd.DataFrame, a_c: str, b_c: str, cand: np.ndarray, source_row: np.ndarray
) -> list[str]:
    """A note when easting/northing cells were written with thousands separators."""
    grouped = cand & (_thousands(frame[a_c]) | _thousands(frame[b_c]))
    if not grouped.any():
        return []
    i = int(np.flatnonzero(grouped)[0])
    a, b = _short(_show(frame[a_c].iloc[i]), 20), _short(_show(frame[b_c].iloc[i]), 20)
    return [
        f"{label}: {int(grouped.sum())} row(s) write {a_c}/{b_c} with thousands separators "
        f"(row {source_row[i]}: {a!r}, {b!r}); read as whole metres"
    ]


def _assign(points: gpd.GeoSeries, area: Any) -> tuple[Any, Any, Any]:
    """LSOA code, ward code and ward name per point (missing without an area)."""
    n = len(points)
    if area is None or n == 0:
        blank = pd.array([pd.NA] * n, dtype="str")
        return blank, blank.copy(), blank.copy()
    from cnmap.geo import assign_areas

    pts = gpd.GeoDataFrame(geometry=points.reset_index(drop=True), crs=C.BNG)
    joined = assign_areas(pts, area.lsoas, area.wards)
    out = []
    for c in (C.LSOA_CODE, C.WARD_CODE, C.WARD_NAME):
        out.append(
            joined[c].astype("str").to_numpy()
            if c in joined.columns
            else pd.array([pd.NA] * n, dtype="str")
        )
    return out[0], out[1], out[2]
