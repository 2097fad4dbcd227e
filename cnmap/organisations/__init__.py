"""Reading organisation lists (CSV, Excel, GeoJSON, GeoPackage, DataFrames) into a geocoded table.

:func:`read_organisations` is the entry point. Every input row ends up either in
``OrganisationTable.organisations`` (a GeoDataFrame in EPSG:27700 with ward and LSOA codes) or
in ``OrganisationTable.rejected`` with a reason code and a message naming the row and the fix.
See ``docs/organisations.md`` for the detection rules.

The steps, one module each: ``read`` (files, encodings, sheets, sites), ``columns`` (which
column holds what; the location sources), ``locate`` (one pure locator per source:
geometry, lat/lon, easting/northing, postcode), ``postcodes`` (:class:`PostcodeLookup`),
``place`` (the locators in order), ``in_area``, ``duplicates``, ``assemble`` (the two output
tables) and ``table`` (:class:`OrganisationTable`, :data:`REASONS`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd  # noqa: F401 - resolves OrganisationTable's annotations (see below)
import pandas as pd

from cnmap.organisations import columns as _columns
from cnmap.organisations import table as _table
from cnmap.organisations.assemble import (
    KeptRows,
    org_ids,
    organisations_frame,
    rejected_frame,
    renamed_note,
)
from cnmap.organisations.cells import clean_text
from cnmap.organisations.columns import ColumnPlan, ColumnRoles, plan_columns
from cnmap.organisations.options import ReadOptions
from cnmap.organisations.outcome import (
    coord_notes,
    first_verdict,
    reject_duplicates,
    reject_outside,
)
from cnmap.organisations.place import (
    classify_rows,
    location_inputs,
    output_postcodes,
    place_rows,
)
from cnmap.organisations.postcodes import PostcodeLookup
from cnmap.organisations.raw import RawTable
from cnmap.organisations.read import read_table
from cnmap.organisations.table import CoordMode, OrganisationTable, log
from cnmap.organisations.tokens import normalise_type, split_services, split_types

__all__ = [
    "read_organisations",
    "read_with_options",
    "OrganisationTable",
    "ReadOptions",
    "ColumnRoles",
    "PostcodeLookup",
    "REASONS",
    "COLUMN_ALIASES",
    "CoordMode",
    "split_services",
    "normalise_type",
    "split_types",
]

#: Reject reason codes and what they mean.
REASONS: dict[str, str] = _table.REASONS
#: Column spellings recognised automatically (after lower-casing and replacing every run of
#: characters other than letters and digits with "_"), in order of preference.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = _columns.COLUMN_ALIASES

# The public classes are documented (and pickled) as cnmap.organisations.<name>, wherever they
# are defined; the package namespace resolves their annotations (hence geopandas here).
for _public in (OrganisationTable, ReadOptions, ColumnRoles, PostcodeLookup):
    _public.__module__ = __name__
del _public


def read_organisations(  # noqa: PLR0913 - the public keyword API; ReadOptions groups it
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
    options = ReadOptions(
        coords=coords,
        columns=ColumnRoles(
            name=name_col,
            type=type_col,
            services=services_col,
            lat=lat_col,
            lon=lon_col,
            easting=easting_col,
            northing=northing_col,
            postcode=postcode_col,
            address=address_col,
            id=id_col,
        ),
        sheet=sheet,
        encoding=encoding,
        keep_outside_m=keep_outside_m,
        duplicate_within_m=duplicate_within_m,
    )
    return read_with_options(source, options, area=area, postcodes=postcodes)


def read_with_options(
    source: str | Path | pd.DataFrame,
    options: ReadOptions,
    *,
    area: Any = None,
    postcodes: pd.DataFrame | None = None,
) -> OrganisationTable:
    """:func:`read_organisations` with its options grouped in a :class:`ReadOptions`.

    Parameters
    ----------
    source
        A file path or a (Geo)DataFrame.
    options
        How to read it.
    area
        An :class:`cnmap.Area`, or None.
    postcodes
        A postcode lookup frame, or None.

    Returns
    -------
    OrganisationTable
        As :func:`read_organisations`.
    """
    options.check(postcodes)
    raw = read_table(source, options)
    plan = plan_columns(raw.frame, raw.geometry, options.columns, options.coords, raw.label)
    rows = classify_rows(raw)
    inputs = location_inputs(raw, plan.columns)
    lookup = PostcodeLookup(postcodes, area=area, label=raw.label)
    placement, place_notes = place_rows(inputs, plan.order, rows.to_place, lookup)
    verdict = first_verdict(rows, placement)
    coord_note = coord_notes(placement, verdict.kept)
    verdict, in_area = reject_outside(verdict, placement, area, options.keep_outside_m)
    names = clean_text(raw.frame[plan.columns.name])
    verdict, dup_of = reject_duplicates(
        verdict, placement, names, options.duplicate_within_m, raw.source_row
    )
    ids = org_ids(raw, plan.columns, verdict.kept, explicit=bool(options.columns.id))
    kept = KeptRows(
        verdict.kept,
        ids.ids,
        names,
        output_postcodes(inputs, placement),
        inputs.addresses,
        placement,
        coord_note,
        in_area,
    )
    organisations, renamed = organisations_frame(raw, ids.columns, kept, area)
    rejected, site_notes = rejected_frame(raw, verdict, names, dup_of, plan.columns.name, renamed)
    notes = [*raw.notes, *plan.notes, *place_notes, *ids.notes, *site_notes]
    if renamed:
        notes.append(renamed_note(raw.label, renamed))
    result = OrganisationTable(
        organisations=organisations,
        rejected=rejected.reset_index(drop=True),
        n_input=raw.n_rows,
        source=raw.label,
        params=_params(options, plan, ids.columns, area, lookup, raw),
        notes=tuple(notes),
    )
    _check_and_log(result, raw)
    return result


def _params(
    options: ReadOptions,
    plan: ColumnPlan,
    columns: ColumnRoles,
    area: Any,
    lookup: PostcodeLookup,
    raw: RawTable,
) -> dict[str, Any]:
    """Arguments and detections that change the result."""
    within = options.duplicate_within_m
    return {
        "coords": options.coords,
        "coord_order": plan.order,
        "columns": {role: col for role, col in columns.items() if col is not None},
        "area": getattr(area, "lad_code", None) if area is not None else None,
        "keep_outside_m": float(options.keep_outside_m),
        "duplicate_within_m": None if within is None else float(within),
        "postcode_lookup": lookup.description,
        "encoding": raw.encoding,
        "sheet": options.sheet,
        "header_row": raw.header_row + 1,
    }


def _check_and_log(result: OrganisationTable, raw: RawTable) -> None:
    """Check that every input row ended somewhere, and log one summary line."""
    if (
        result.n_matched + result.n_rejected != raw.n_rows
        or len(result.organisations) + len(result.rejected) < raw.n_rows
    ):  # pragma: no cover - internal invariant
        raise RuntimeError("read_organisations lost rows; please report this")
    summ = result.summary()
    rejected_txt = ", ".join(f"{a} {b}" for a, b in summ.items() if a != "matched") or "none"
    log.info(
        "read_organisations %s: %d rows, %d matched (%.1f%%); rejected: %s",
        raw.label,
        raw.n_rows,
        result.n_matched,
        100 * result.match_rate,
        rejected_txt,
    )
