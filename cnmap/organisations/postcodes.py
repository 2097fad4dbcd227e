"""UK postcodes: normalise, validate, find inside free text, and geocode offline.

Pure, vectorised functions over :class:`pandas.Series`; none of them reads a file or the
network. The postcode lookup (ONS postcode directory rows: ``postcode``, ``lat``, ``lon``,
optionally ``easting``, ``northing`` ...) is passed in by the caller, normally from
:func:`cnmap.data.load_postcodes` or :attr:`cnmap.Area.postcodes`. :class:`PostcodeLookup`
wraps a lookup for :func:`cnmap.read_organisations`: it loads the lookup on first use
(through :mod:`cnmap.data`) and looks postcodes outside a district up again in the full lookup
of their postcode area.

The format rules are the official ones (Royal Mail / ONS, as published in the UK Government
Data Standards Catalogue): an outward code ``A9``, ``A99``, ``AA9``, ``AA99``, ``A9A`` or
``AA9A`` followed by an inward code ``9AA``; letters restricted by position (no Q, V, X in
the first place; no I, J, Z in the second; only ``ABCDEFGHJKPSTUW`` in the third place of
``A9A``; only ``ABEHMNPRVWXY`` in the fourth place of ``AA9A``; no ``CIKMOV`` in the inward
code); plus the special ``GIR 0AA``. British Forces (BFPO) and overseas-territory codes are
not accepted.
"""

from __future__ import annotations

import logging
import re
from typing import Any, overload

import numpy as np
import pandas as pd

from cnmap.columns import BNG, EASTING, LAT, LON, NORTHING, POSTCODE, WGS84
from cnmap.errors import MissingColumnError, ValidationError
from cnmap.organisations.cells import area_name, short
from cnmap.organisations.table import log as read_log

__all__ = [
    "normalise_postcodes",
    "is_valid_postcode",
    "extract_postcode",
    "prepare_postcode_lookup",
    "geocode_postcodes",
    "STATUS_OK",
    "STATUS_MALFORMED",
    "STATUS_UNKNOWN",
    "STATUS_NO_COORDINATES",
    "STATUS_MISSING",
    "PostcodeLookup",
]

#: kept from before the package split (logging configurations select it)
log = logging.getLogger("cnmap.postcodes")

STATUS_OK = "ok"
STATUS_MALFORMED = "malformed"
STATUS_UNKNOWN = "unknown"
STATUS_NO_COORDINATES = "no_coordinates"
STATUS_MISSING = "missing"

# outward code alternatives (upper case), official positional letter rules
_OUTWARD = (
    r"[A-PR-UWYZ](?:[0-9][0-9]?|[A-HK-Y][0-9][0-9]?|[0-9][A-HJKPSTUW]|[A-HK-Y][0-9][ABEHMNPRVWXY])"
)
_INWARD = r"[0-9][ABD-HJLNP-UW-Z]{2}"
#: A normalised postcode ("B1 1AA") in the official format, or GIR 0AA.
POSTCODE_PATTERN = rf"(?:GIR 0AA|{_OUTWARD} {_INWARD})"
_VALID_RE = re.compile(rf"^{POSTCODE_PATTERN}$")

# the last postcode in a text: greedy prefix, not glued to letters/digits on either side
_EXTRACT_RE = re.compile(
    rf"(?is)^.*(?<![A-Z0-9])((?:GIR|{_OUTWARD}))[\s\u00a0\u2007\u202f]*({_INWARD})(?![A-Z0-9])"
)


def _as_text(values: Any) -> pd.Series:
    """Series of Python strings (missing stays missing); never mutates the input."""
    s = values if isinstance(values, pd.Series) else pd.Series(values)
    if pd.api.types.is_float_dtype(s.dtype):
        v = s.to_numpy(dtype=float)
        fin = np.isfinite(v)
        if np.array_equal(v[fin], np.round(v[fin])):  # 12345.0 read from a number cell
            s = s.astype("Int64")
    if s.dtype == object or not pd.api.types.is_string_dtype(s.dtype):
        s = s.astype("str")  # NaN/None stay missing with the default string dtype
    return s


_INVISIBLE = ("\u200b", "\u2060", "\ufeff")


def _normalise_one(value: str) -> Any:
    """One value, the rule :func:`normalise_postcodes` applies (vectorised, by
    :func:`_normalise_many`): drop whitespace, strip ``.,;:``, upper-case, space before
    inward."""
    t = "".join(str(value).split())  # str.split() splits on every Unicode space (NBSP too)
    for ch in _INVISIBLE:
        t = t.replace(ch, "")
    t = t.strip(".,;:").upper()
    if not t:
        return np.nan
    if 5 <= len(t) <= 7 and t.isascii() and t.isalnum() and t[-3].isdigit() and t[-2:].isalpha():
        t = f"{t[:-3]} {t[-3:]}"
    return t


#: Whatever :func:`_normalise_one` drops: every character ``str.split()`` splits on (Python's
#: ``\s`` on text is the same set: ``str.isspace``) and the invisible ones.
_DROP_RE = re.compile(r"[\s\u200b\u2060\ufeff]+")
#: The same for ASCII text, in RE2 (pyarrow), whose ``\s`` lacks \v and \x1c-\x1f.
_DROP_ASCII = r"[\t\n\x0b\x0c\r\x1c-\x1f ]+"
#: ASCII letters and digits, 5 to 7 of them, a digit then two letters at the end: the
#: inward code gets a space before it (the test of :func:`_normalise_one`).
_GAP = r"^([A-Za-z0-9]{2,4})([0-9][A-Za-z]{2})$"
_GAP_RE = re.compile(_GAP.replace("^", r"\A").replace("$", r"\Z"))
#: Already canonical ("B1 1AA"), so :func:`_normalise_one` returns it unchanged.
_CANONICAL = r"^[A-Z0-9]{2,4} [0-9][A-Z]{2}$"


def _normalise_ascii(values: Any) -> np.ndarray:
    """:func:`_normalise_one` of ASCII text (a pyarrow string array), in pyarrow: canonical
    values as they are, the others through the same steps in the same order (for ASCII,
    RE2's ``$`` ends the text and upper case is ASCII's)."""
    import pyarrow.compute as pc

    canonical = pc.match_substring_regex(values, _CANONICAL).to_numpy(zero_copy_only=False)
    out = np.array(values.to_numpy(zero_copy_only=False), dtype=object)
    if not canonical.all():
        out[~canonical] = _normalise_ascii_rest(values.filter(pc.invert(canonical)))
    return out


def _normalise_ascii_rest(values: Any) -> np.ndarray:
    """The steps of :func:`_normalise_one` on ASCII text (a pyarrow string array)."""
    import pyarrow.compute as pc

    t = pc.replace_substring_regex(values, _DROP_ASCII, "")
    t = pc.ascii_upper(pc.ascii_trim(t, ".,;:"))
    t = pc.replace_substring_regex(t, _GAP, r"\1 \2")
    out = np.array(t.to_numpy(zero_copy_only=False), dtype=object)
    out[out == ""] = np.nan
    return out


def _normalise_text(values: np.ndarray) -> np.ndarray:
    """:func:`_normalise_one` of any text, with pandas' methods on an object array (Python's
    own ``re``, ``str.strip`` and ``str.upper``: Unicode spaces, ``"ß".upper() == "SS"``)."""
    t = pd.Series(values, dtype=object).str.replace(_DROP_RE, "", regex=True)
    t = t.str.strip(".,;:").str.upper().str.replace(_GAP_RE, r"\1 \2", regex=True)
    out: np.ndarray = t.to_numpy(dtype=object, copy=True)
    out[out == ""] = np.nan
    return out


def _normalise_many(values: np.ndarray) -> np.ndarray:
    """:func:`_normalise_one` of each of ``values`` (Python strings), vectorised: ASCII text
    through pyarrow, other text through Python's string methods; an object array of
    strings and NaN."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array(values, type=pa.string(), from_pandas=True)
    ascii_ = pc.string_is_ascii(arr).to_numpy(zero_copy_only=False)
    if ascii_.all():  # the usual case: no Unicode spaces or letters
        return _normalise_ascii(arr)
    out = np.empty(len(values), dtype=object)
    out[ascii_] = _normalise_ascii(arr.filter(pa.array(ascii_)))
    out[~ascii_] = _normalise_text(np.asarray(values, dtype=object)[~ascii_])
    return out


def normalise_postcodes(postcodes: pd.Series | Any) -> pd.Series:
    """Normalise postcodes to the canonical upper-case form with one space, ``"B1 1AA"``.

    Removes every kind of whitespace (including non-breaking spaces), trailing ``.,;:``,
    upper-cases, and inserts a single space before the three-character inward code.
    Blank or missing values become missing (``NaN`` in a string Series). Values that cannot be
    a postcode are returned cleaned but otherwise unchanged (so that messages can quote
    them); check them with :func:`is_valid_postcode`.

    Parameters
    ----------
    postcodes
        A Series (or list-like) of postcodes in any spelling: ``"b11aa"``, ``" B1  1AA "``.

    Returns
    -------
    pandas.Series
        String Series with the same index and name.

    Examples
    --------
    >>> normalise_postcodes(pd.Series(["b11aa", " B1  1AA ", "B36\\u00a08QS", ""])).tolist()
    ['B1 1AA', 'B1 1AA', 'B36 8QS', nan]
    """
    s = _as_text(postcodes)
    # normalise the distinct values only, then map back (lists repeat postcodes)
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    cleaned = _normalise_many(np.asarray(uniques, dtype=object))
    table = np.append(cleaned, np.array([np.nan], dtype=object))  # code -1 (missing): last
    out = pd.Series(table[codes], index=s.index, dtype="str", name=getattr(postcodes, "name", None))
    return out


@overload
def is_valid_postcode(postcodes: str, *, normalise: bool = True) -> bool: ...
@overload
def is_valid_postcode(postcodes: pd.Series, *, normalise: bool = True) -> pd.Series: ...


def is_valid_postcode(postcodes: str | pd.Series, *, normalise: bool = True) -> bool | pd.Series:
    """Whether postcodes follow the official UK format (``GIR 0AA`` included, BFPO not).

    Parameters
    ----------
    postcodes
        One postcode or a Series of them.
    normalise
        First normalise the spelling (case, spaces) with :func:`normalise_postcodes`, so that
        ``"b11aa"`` is valid. With False only the canonical form ``"B1 1AA"`` passes.

    Returns
    -------
    bool or pandas.Series of bool
        Missing values are not valid.
    """
    scalar = not isinstance(postcodes, pd.Series)
    s = pd.Series([postcodes]) if scalar else postcodes
    if normalise:
        s = normalise_postcodes(s)
    else:
        s = _as_text(s)
    ok = s.str.fullmatch(POSTCODE_PATTERN).fillna(False).astype(bool)
    if scalar:
        return bool(ok.iloc[0])
    ok.name = getattr(postcodes, "name", None)
    return ok


def extract_postcode(text: pd.Series | Any) -> pd.Series:
    """Find the last postcode inside free-text addresses.

    The last match wins ("..., Birmingham B36 8QS B36 8QS" gives ``B36 8QS``); upper or lower
    case, with or without the space ("B368QS"). Only postcodes in the official format are
    found, and not when glued to other letters or digits.

    Parameters
    ----------
    text
        Series of addresses (any dtype; missing values give missing results).

    Returns
    -------
    pandas.Series
        Normalised postcodes (``"B36 8QS"``) or missing, same index and name as ``text``.

    Examples
    --------
    >>> extract_postcode(pd.Series(["Bromford Drive, Birmingham B36 8QS", "no code here"])).tolist()
    ['B36 8QS', nan]
    """
    s = _as_text(text)
    parts = s.str.extract(_EXTRACT_RE)
    found = (parts[0].str.upper() + " " + parts[1].str.upper()).astype("str")
    found = found.where(found.str.fullmatch(POSTCODE_PATTERN).fillna(False).astype(bool))
    found.index = s.index
    found.name = getattr(text, "name", None)
    return found


def _to_bng(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from pyproj import Transformer

    tr = Transformer.from_crs(WGS84, BNG, always_xy=True)
    e, n = tr.transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return np.asarray(e, dtype=float), np.asarray(n, dtype=float)


def prepare_postcode_lookup(lookup: pd.DataFrame) -> pd.DataFrame:
    """Validate a postcode lookup and index it by normalised postcode.

    Returns a new frame indexed by unique normalised ``postcode`` with float columns ``lat``,
    ``lon``, ``easting``, ``northing`` (easting/northing computed from lat/lon where absent).
    A frame already prepared (``attrs["cnmap_prepared"]``) is returned unchanged.

    Raises
    ------
    MissingColumnError
        If ``postcode``, ``lat`` or ``lon`` is absent.
    """
    if lookup.attrs.get("cnmap_prepared"):
        return lookup
    missing = [c for c in (POSTCODE, LAT, LON) if c not in lookup.columns]
    if missing:
        raise MissingColumnError(
            f"postcode lookup lacks column(s) {missing}; it has {list(lookup.columns)}. "
            "Pass a frame with 'postcode', 'lat' and 'lon' (e.g. cnmap.data.load_postcodes())."
        )
    keys = normalise_postcodes(lookup[POSTCODE])
    lat = pd.to_numeric(lookup[LAT], errors="coerce").to_numpy(dtype=float)
    lon = pd.to_numeric(lookup[LON], errors="coerce").to_numpy(dtype=float)
    has = ~(np.isnan(lat) | np.isnan(lon))
    lon = np.where(has, lon, np.nan)
    lat = np.where(has, lat, np.nan)
    if EASTING in lookup.columns and NORTHING in lookup.columns:
        e = pd.to_numeric(lookup[EASTING], errors="coerce").to_numpy(dtype=float)
        n = pd.to_numeric(lookup[NORTHING], errors="coerce").to_numpy(dtype=float)
    else:
        e = np.full(len(lookup), np.nan)
        n = np.full(len(lookup), np.nan)
    fill = has & (np.isnan(e) | np.isnan(n))
    if fill.any():
        e2, n2 = _to_bng(lat[fill], lon[fill])
        e[fill], n[fill] = e2, n2
    out = pd.DataFrame(
        {LAT: lat, LON: lon, EASTING: e, NORTHING: n}, index=pd.Index(keys, name=POSTCODE)
    )
    out = out[out.index.notna()]
    dup = out.index.duplicated(keep="first")
    if dup.any():
        log.warning("postcode lookup: %d duplicate postcodes ignored (first kept)", int(dup.sum()))
        out = out[~dup]
    out.attrs["cnmap_prepared"] = True
    return out


def geocode_postcodes(postcodes: pd.Series | Any, lookup: pd.DataFrame) -> pd.DataFrame:
    """Geocode postcodes offline by a hash join on the postcode lookup.

    Parameters
    ----------
    postcodes
        Series of postcodes in any spelling (normalised first).
    lookup
        Postcode lookup with columns ``postcode``, ``lat``, ``lon`` and optionally
        ``easting``, ``northing`` (EPSG:27700; computed from lat/lon when absent).

    Returns
    -------
    pandas.DataFrame
        Same index as ``postcodes``; columns ``postcode`` (normalised), ``lat``, ``lon``,
        ``easting``, ``northing`` (NaN unless found with coordinates) and ``status``:
        ``"ok"``; ``"malformed"`` (not in the official format); ``"unknown"`` (well formed but
        not in the lookup); ``"no_coordinates"`` (in the lookup without a location, e.g.
        non-geographic postcodes); ``"missing"`` (blank input).

    Notes
    -----
    Coordinates are postcode centroids (a point within the postcode's addresses), not
    building locations.
    """
    if not isinstance(lookup, pd.DataFrame):
        raise ValidationError(f"lookup must be a DataFrame, got {type(lookup).__name__}")
    table = prepare_postcode_lookup(lookup)
    norm = normalise_postcodes(postcodes)
    valid = norm.str.fullmatch(POSTCODE_PATTERN).fillna(False).astype(bool).to_numpy()
    pos = table.index.get_indexer(norm.where(valid))
    pos = np.where(valid, pos, -1)
    found = pos >= 0
    take = np.where(found, pos, 0)
    cols = {}
    for c in (LAT, LON, EASTING, NORTHING):
        arr = table[c].to_numpy(dtype=float)[take] if len(table) else np.full(len(pos), np.nan)
        cols[c] = np.where(found, arr, np.nan)
    has_xy = found & ~np.isnan(cols[LAT])
    status = np.full(len(norm), STATUS_MISSING, dtype=object)
    present = norm.notna().to_numpy()
    status[present] = STATUS_MALFORMED
    status[present & valid] = STATUS_UNKNOWN
    status[found] = STATUS_NO_COORDINATES
    status[has_xy] = STATUS_OK
    out = pd.DataFrame({POSTCODE: norm.to_numpy(), **cols, "status": status}, index=norm.index)
    out[POSTCODE] = out[POSTCODE].astype("str")
    out["status"] = out["status"].astype("str")
    return out


class PostcodeLookup:
    """Postcodes to coordinates through a postcode lookup loaded on first use, with the wider
    fallback for a district's own lookup.

    The lookup is ``table`` when given; else ``area.postcodes`` when the area has them (then
    postcodes not found there are looked up again in the full lookup of their postcode area,
    :func:`cnmap.data.load_postcodes` with ``postcode_area=``, so that a postcode just over
    the boundary is found); else :func:`cnmap.data.load_postcodes`. Nothing is loaded until
    a postcode is looked up.

    Parameters
    ----------
    table
        Postcode lookup (``postcode``, ``lat``, ``lon``, optionally ``easting``,
        ``northing``), or None.
    area
        An :class:`cnmap.Area` (its ``postcodes``, ``lad_code``, ``lad_name``), or None.
    label
        The file being read, starting the notes.

    Examples
    --------
    >>> lookup = PostcodeLookup(pd.DataFrame({"postcode": ["B1 1AA"], "lat": [52.48],
    ...                                       "lon": [-1.9]}))
    >>> lookup.geocode(pd.Series(["b11aa", "B2 2ZZ"]))["status"].tolist()
    ['ok', 'unknown']
    """

    def __init__(
        self, table: pd.DataFrame | None = None, *, area: Any = None, label: str = ""
    ) -> None:
        self._given = table
        self._area = area
        self._label = label
        self._table: pd.DataFrame | None = None
        self._what: str | None = None
        self._base_what: str | None = None
        self._area_only = False
        self._wider: dict[str, pd.DataFrame | None] = {}
        self._notes: list[str] = []

    @property
    def area_label(self) -> str:
        """``"<LAD code> <LAD name>"`` of the area ("the area" without them; "" without one)."""
        return area_name(self._area) if self._area is not None else ""

    @property
    def description(self) -> str | None:
        """Which lookups were used (None while nothing was looked up)."""
        return self._what

    @property
    def notes(self) -> tuple[str, ...]:
        """Remarks made while looking up (a postcode area's lookup that was unavailable)."""
        return tuple(self._notes)

    @staticmethod
    def normalise(values: pd.Series | Any) -> pd.Series:
        """Postcodes in the canonical spelling (:func:`normalise_postcodes`)."""
        return normalise_postcodes(values)

    def table(self) -> pd.DataFrame:
        """The prepared lookup (:func:`prepare_postcode_lookup`), loaded on the first call."""
        if self._table is None:
            self._table, self._what, self._area_only = self._load()
        return self._table

    def _load(self) -> tuple[pd.DataFrame, str, bool]:
        if self._given is not None:
            given = self._given
            return prepare_postcode_lookup(given), f"postcodes= frame ({len(given):,} rows)", False
        area_postcodes = getattr(self._area, "postcodes", None) if self._area is not None else None
        if area_postcodes is not None:
            what = f"area.postcodes ({len(area_postcodes):,} rows)"
            return prepare_postcode_lookup(area_postcodes), what, True
        from cnmap.data import load_postcodes

        table = load_postcodes()
        what = f"cnmap.data.load_postcodes() ({len(table):,} rows)"
        return prepare_postcode_lookup(table), what, False

    def match(self, values: pd.Series | Any) -> pd.DataFrame:
        """Exact match in the lookup (:func:`geocode_postcodes`), without any fallback."""
        return geocode_postcodes(values, self.table())

    def geocode(self, values: pd.Series | Any) -> pd.DataFrame:
        """Look postcodes up: exact match, then (for a district's own lookup) postcodes not
        found are looked up in the full lookup of their postcode area.

        Parameters
        ----------
        values
            Postcodes in any spelling.

        Returns
        -------
        pandas.DataFrame
            As :func:`geocode_postcodes`: ``postcode``, ``lat``, ``lon``, ``easting``,
            ``northing``, ``status``.
        """
        geo = self.match(values)
        if not self._area_only:
            return geo
        unk = (geo["status"] == STATUS_UNKNOWN).to_numpy()
        if not unk.any():
            return geo
        wider = self._wider_table(geo[POSTCODE][unk])
        if wider is None:
            return geo
        g2 = geocode_postcodes(geo[POSTCODE][unk], wider)
        for c in g2.columns:
            col = geo[c].to_numpy(copy=True)
            col[unk] = g2[c].to_numpy()
            geo[c] = col
        return geo

    def unknown_message(self) -> str:
        """What an unknown postcode's message says after the lookup (which lookup lacks it)."""
        wider_ok = any(v is not None for v in self._wider.values())
        if self._area_only and not wider_ok:
            return (
                f"not found in the postcode lookup of {self.area_label} (postcodes outside "
                "the area are not in it); check the spelling or give lat/lon"
            )
        return "not found in the ONS postcode lookup; check the spelling or give lat/lon"

    def _area_lookup(self, postcode_area: str) -> pd.DataFrame | None:
        """The prepared lookup of one postcode area ("B"), or None (noted) when unavailable."""
        from cnmap.data import load_postcodes
        from cnmap.errors import DataFetchError

        try:
            return prepare_postcode_lookup(load_postcodes(postcode_area=postcode_area))
        except DataFetchError as exc:
            msg = (
                f"{self._label}: postcodes not in {self.area_label}'s lookup could not be looked "
                f"up in the full postcode area {postcode_area!r} lookup "
                f"({short(str(exc).split(':')[0], 80)}); they are reported as unknown_postcode"
            )
            self._notes.append(msg)
            read_log.info(msg)
            return None

    def _wider_table(self, postcodes: pd.Series) -> pd.DataFrame | None:
        """The full lookup of the postcode areas of ``postcodes`` (for postcodes outside the
        area), loaded once per postcode area."""
        areas = postcodes.str.extract(r"^([A-Z]{1,2})", expand=False).dropna()
        for pa in sorted(set(areas)):
            if pa not in self._wider:
                self._wider[pa] = self._area_lookup(pa)
        frames = [t for t in self._wider.values() if t is not None]
        if not frames:
            return None
        if self._base_what is None:
            self._base_what = self._what
        loaded = ", ".join(k for k, v in self._wider.items() if v is not None)
        self._what = (
            f"{self._base_what}, then cnmap.data.load_postcodes(postcode_area=...) "
            f"for postcodes outside the area ({loaded})"
        )
        if len(frames) == 1:
            return frames[0]
        table = pd.concat(frames)
        table = table[~table.index.duplicated()]
        table.attrs["cnmap_prepared"] = True
        return table
