"""Placing every row: which rows to place, running the locators in order, and keeping each
row's first location and first failure."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cnmap.errors import ValidationError
from cnmap.organisations.cells import blank, clean_text, has_shape
from cnmap.organisations.columns import ColumnRoles
from cnmap.organisations.locate import (
    Location,
    address_query,
    locate_bng,
    locate_geometry,
    locate_latlon,
    locate_postcodes,
    postcode_query,
)
from cnmap.organisations.postcodes import PostcodeLookup, normalise_postcodes
from cnmap.organisations.raw import RawTable

__all__ = [
    "LocationInputs",
    "Placement",
    "RowStates",
    "classify_rows",
    "location_inputs",
    "output_postcodes",
    "place_rows",
]

#: ``coord_source`` of the rows placed by each source.
COORD_LABEL = {
    "geometry": "geometry",
    "latlon": "latlon",
    "bng": "bng",
    "postcode": "postcode",
    "address": "address_postcode",
}
_LOCATION_ROLES = ("lat", "lon", "easting", "northing", "postcode", "address")


@dataclass(frozen=True)
class RowStates:
    """Rows that are blank, and rows refused while reading (with their messages)."""

    empty: np.ndarray
    forced: np.ndarray
    forced_text: np.ndarray

    @property
    def to_place(self) -> np.ndarray:
        """Rows to locate: neither blank nor refused."""
        return np.asarray(~self.empty & ~self.forced, dtype=bool)


def classify_rows(raw: RawTable) -> RowStates:
    """Blank rows (every cell blank, no shape) and rows refused while reading.

    Raises
    ------
    ValidationError
        Every row is blank.
    """
    frame = raw.frame
    n = len(frame)
    empty = np.ones(n, dtype=bool)
    for c in frame.columns:
        empty &= blank(frame[c])
    if raw.geometry is not None:
        empty &= ~has_shape(raw.geometry)
    forced = np.zeros(n, dtype=bool)
    forced_text = np.full(n, "", dtype=object)
    for row_index, text in raw.forced.items():
        forced[row_index], forced_text[row_index] = True, text
    empty &= ~forced
    if empty.all():
        raise ValidationError(
            f"{raw.label}: has a header but no data rows (all {n} rows are blank)"
        )
    return RowStates(empty, forced, forced_text)


@dataclass(frozen=True)
class LocationInputs:
    """What the locators read: the table, its columns, its postcodes and addresses cleaned."""

    raw: RawTable
    columns: ColumnRoles
    postcodes: pd.Series | None
    addresses: pd.Series | None


def location_inputs(raw: RawTable, columns: ColumnRoles) -> LocationInputs:
    """The inputs of the locators, with the postcode column normalised and the address
    column cleaned."""
    frame = raw.frame
    postcodes = normalise_postcodes(frame[columns.postcode]) if columns.postcode else None
    addresses = clean_text(frame[columns.address]) if columns.address else None
    return LocationInputs(raw, columns, postcodes, addresses)


@dataclass(frozen=True)
class Placement:
    """Every row's location so far.

    Attributes
    ----------
    lat, lon, x, y
        WGS84 and EPSG:27700 coordinates of the placed rows (NaN elsewhere).
    source
        ``coord_source`` of the placed rows (``""`` elsewhere).
    code, text
        Each row's first failure: reason code and message (``""`` when none).
    pending
        Rows still to place.
    postcode
        Postcodes found inside addresses, for the rows placed by them.
    """

    lat: np.ndarray
    lon: np.ndarray
    x: np.ndarray
    y: np.ndarray
    source: np.ndarray
    code: np.ndarray
    text: np.ndarray
    pending: np.ndarray
    postcode: pd.Series

    @classmethod
    def start(cls, to_place: np.ndarray, index: pd.Index) -> Placement:
        """Nothing placed yet; ``to_place`` pending."""
        n = len(to_place)
        nan = np.full(n, np.nan)
        blank_text = np.full(n, "", dtype=object)
        return cls(
            lat=nan,
            lon=nan.copy(),
            x=nan.copy(),
            y=nan.copy(),
            source=blank_text,
            code=blank_text.copy(),
            text=blank_text.copy(),
            pending=to_place.copy(),
            postcode=pd.Series(pd.NA, index=index, dtype="str"),
        )

    def merge(self, loc: Location, label: str) -> Placement:
        """Add what a locator found: its placed rows (labelled ``label``) and, for rows
        without a failure yet, its failures."""
        ok, first = loc.ok, (self.code == "") & (loc.code != "")
        lat, lon, x, y = self.lat.copy(), self.lon.copy(), self.x.copy(), self.y.copy()
        for out, theirs in ((lat, loc.lat), (lon, loc.lon), (x, loc.x), (y, loc.y)):
            out[ok] = theirs[ok]
        source, code, text = self.source.copy(), self.code.copy(), self.text.copy()
        source[ok] = label
        code[first], text[first] = loc.code[first], loc.text[first]
        postcode = self.postcode
        if loc.postcode is not None:
            postcode = postcode.copy()
            postcode[ok] = loc.postcode[ok]
        return Placement(lat, lon, x, y, source, code, text, self.pending & ~ok, postcode)

    def give_up(self, text: str) -> Placement:
        """Rows still pending without any failure: ``missing_coordinates`` with ``text``."""
        none_given = self.pending & (self.code == "")
        if not none_given.any():
            return self
        code, texts = self.code.copy(), self.text.copy()
        code[none_given], texts[none_given] = "missing_coordinates", text
        return Placement(
            self.lat,
            self.lon,
            self.x,
            self.y,
            self.source,
            code,
            texts,
            self.pending,
            self.postcode,
        )


def _postcodes_location(
    source: str, inputs: LocationInputs, cand: np.ndarray, lookup: PostcodeLookup
) -> Location:
    """Look up the postcodes of the postcode column (``source="postcode"``) or found in the
    addresses, and place the rows."""
    frame, cols = inputs.raw.frame, inputs.columns
    if source == "postcode" and inputs.postcodes is not None:
        query = postcode_query(inputs.postcodes, frame[str(cols.postcode)], cand)
    elif source == "address" and inputs.addresses is not None:
        query = address_query(inputs.addresses, cand, column=str(cols.address))
    else:  # pragma: no cover - plan_columns offers a source only with its column
        raise RuntimeError(f"no column for location source {source!r}")
    if not query.present.any():
        return locate_postcodes(query, None, unknown_message="")
    geo = lookup.geocode(query.values[query.present])
    return locate_postcodes(query, geo, unknown_message=lookup.unknown_message())


def _locate(
    source: str, inputs: LocationInputs, cand: np.ndarray, lookup: PostcodeLookup
) -> Location:
    """Run the locator of ``source`` on the rows ``cand``."""
    raw, cols = inputs.raw, inputs.columns
    if source == "geometry" and raw.geometry is not None:
        return locate_geometry(raw.geometry, cand, label=raw.label)
    if source == "latlon":
        names = (str(cols.lat), str(cols.lon))
        return locate_latlon(raw.frame[cols.lat], raw.frame[cols.lon], cand, names=names)
    if source == "bng":
        names = (str(cols.easting), str(cols.northing))
        return locate_bng(
            raw.frame[cols.easting],
            raw.frame[cols.northing],
            cand,
            names=names,
            source_row=raw.source_row,
            label=raw.label,
        )
    return _postcodes_location(source, inputs, cand, lookup)


def _nothing_given(cols: ColumnRoles) -> str:
    what = [k for k in _LOCATION_ROLES if cols.get(k)]
    given = ", ".join(str(cols.get(k)) for k in what) or "geometry"
    return f"no location: {given} blank; add lat/lon or a postcode"


def place_rows(
    inputs: LocationInputs, order: list[str], to_place: np.ndarray, lookup: PostcodeLookup
) -> tuple[Placement, list[str]]:
    """Try each location source in turn on the rows not placed yet.

    Parameters
    ----------
    inputs
        The table and its columns.
    order
        Location sources to try, in order (``"geometry"``, ``"latlon"``, ``"bng"``,
        ``"postcode"``, ``"address"``).
    to_place
        Rows to place.
    lookup
        The postcode lookup (loaded only if some row needs a postcode).

    Returns
    -------
    (Placement, notes)
        Each row's first location and first failure (``missing_coordinates`` for a row
        without any location), and the notes of the sources and of the lookup.
    """
    placement = Placement.start(to_place, inputs.raw.frame.index)
    notes: list[str] = []
    for source in order:
        if not placement.pending.any():
            break
        seen = len(lookup.notes)
        loc = _locate(source, inputs, placement.pending.copy(), lookup)
        placement = placement.merge(loc, COORD_LABEL[source])
        notes += [*loc.notes, *lookup.notes[seen:]]
    return placement.give_up(_nothing_given(inputs.columns)), notes


def output_postcodes(inputs: LocationInputs, placement: Placement) -> pd.Series:
    """The postcode of each row: its postcode column normalised, else the postcode found in
    its address."""
    if inputs.postcodes is None:
        return placement.postcode
    return inputs.postcodes.where(inputs.postcodes.notna(), placement.postcode)
