"""Building the two output tables: the organisations kept (ids, standard columns, area codes,
sites, the input's other columns) and the rejected rows (reason, message, original values)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from cnmap import columns as C
from cnmap.errors import ValidationError
from cnmap.organisations.cells import clean_text, norm_col, row_label
from cnmap.organisations.columns import HOURS_ALIASES, ColumnRoles
from cnmap.organisations.in_area import area_codes
from cnmap.organisations.outcome import Verdict
from cnmap.organisations.place import Placement
from cnmap.organisations.raw import RawTable
from cnmap.organisations.table import RESERVED_OUTPUT, log
from cnmap.organisations.tokens import normalise_type, split_services, split_types

__all__ = ["KeptRows", "OrgIds", "org_ids", "organisations_frame", "rejected_frame"]

_TEXT_OUTPUT = (C.ORG_ID, C.NAME, C.ORG_TYPE, C.SERVICES, C.ADDRESS, C.POSTCODE, C.COORD_SOURCE)


@dataclass(frozen=True)
class OrgIds:
    """``org_id`` per row, the columns (the id column dropped when unusable) and a note."""

    ids: np.ndarray
    columns: ColumnRoles
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class KeptRows:
    """Per input row, what the organisations table shows (only the ``kept`` rows are used).

    Attributes
    ----------
    kept
        Rows kept.
    ids
        ``org_id`` per row.
    names
        Names (cleaned text).
    postcode
        The postcode column normalised, else the postcode found in the address.
    address
        The address column (cleaned text), or None.
    placement
        Coordinates and ``coord_source``.
    coord_note
        The first source's problem for rows placed by a later source.
    in_area
        Whether each point lies inside the area (None without an area).
    """

    kept: np.ndarray
    ids: np.ndarray
    names: pd.Series
    postcode: pd.Series
    address: pd.Series | None
    placement: Placement
    coord_note: np.ndarray
    in_area: np.ndarray | None


def site_suffix(raw: RawTable) -> np.ndarray | None:
    """``"#k"`` for the k-th site of an input row with several sites, ``""`` otherwise."""
    if raw.site is None or raw.row_of is None:
        return None
    several = np.bincount(raw.row_of)[raw.row_of] > 1
    return np.asarray(np.where(several, np.char.add("#", raw.site.astype(str)), "").astype(object))


def org_ids(raw: RawTable, cols: ColumnRoles, kept: np.ndarray, *, explicit: bool) -> OrgIds:
    """org_id: the id column when usable, else the source row number as text.

    The sites of an input row with several sites get ``"#2"``... appended; the id column
    must then be unique per input row.

    Parameters
    ----------
    raw
        The table read.
    cols
        Its columns (``cols.id`` the id column, or None).
    kept
        Rows kept, whose ids must be filled and unique.
    explicit
        Whether the id column was named by the caller (``id_col=``).

    Returns
    -------
    OrgIds
        The ids; with an unusable id column found automatically, the columns without it and
        a note.

    Raises
    ------
    ValidationError
        An id column named by the caller is blank or repeated among the kept rows.
    """
    source_row = raw.source_row
    suffix = site_suffix(raw)
    sfx = suffix if suffix is not None else np.full(len(source_row), "", dtype=object)
    generated = (source_row.astype(str).astype(object) + sfx).astype(object)
    col = cols.id
    if col is None:
        return OrgIds(generated, cols)
    ids = clean_text(raw.frame[col])
    once = kept & ~pd.Series(source_row).duplicated().to_numpy()  # one row per input row
    kept_ids = ids[once]
    bad_rows = source_row[once][(kept_ids.isna() | kept_ids.duplicated(keep=False)).to_numpy()]
    if len(bad_rows) == 0:
        return OrgIds((ids.to_numpy(dtype=object) + sfx).astype(object), cols)
    if explicit:
        raise ValidationError(
            f"{raw.label}: id column {col!r} (id_col=) must be unique and filled for every located row; "
            f"blank or repeated at rows {bad_rows[:10].tolist()}{'...' if len(bad_rows) > 10 else ''}; "
            "fix the ids or leave id_col=None to number the rows"
        )
    note = (
        f"{raw.label}: column {col!r} is blank or repeated at rows {bad_rows[:10].tolist()}: "
        "org_id is the source row number instead"
    )
    log.info(note)
    return OrgIds(generated, dataclasses.replace(cols, id=None), (note,))


def _types_and_services(
    frame: pd.DataFrame, cols: ColumnRoles
) -> tuple[pd.Series, pd.Series | None, pd.Series, pd.Series]:
    """type, types_list (None without a type column), services and services_list per row."""
    n = len(frame)
    types_list = None
    if cols.type:
        types, types_list = normalise_type(frame[cols.type]), split_types(frame[cols.type])
    else:
        types = pd.Series(pd.NA, index=frame.index, dtype="str")
    if cols.services:
        services, services_list = split_services(frame[cols.services])
    else:
        services = pd.Series(pd.NA, index=frame.index, dtype="str")
        services_list = pd.Series([()] * n, index=frame.index, dtype=object)
    return types, types_list, services, services_list


def _standard_frame(
    raw: RawTable, cols: ColumnRoles, rows: KeptRows, k: np.ndarray
) -> pd.DataFrame:
    """The standard columns up to ``source_row`` for the kept rows ``k``."""
    types, types_list, services, services_list = _types_and_services(raw.frame, cols)
    std = {
        C.ORG_ID: rows.ids[k],
        C.NAME: rows.names.to_numpy()[k],
        C.ORG_TYPE: types.to_numpy()[k],
        C.SERVICES: services.to_numpy()[k],
        "services_list": services_list.to_numpy()[k],
        "types_list": (
            types_list.to_numpy()[k]
            if types_list is not None
            else np.array([()] * len(k) + [None], dtype=object)[:-1]
        ),
        C.ADDRESS: (
            rows.address.to_numpy()[k]
            if rows.address is not None
            else np.full(len(k), pd.NA, dtype=object)
        ),
        C.POSTCODE: rows.postcode.to_numpy()[k],
        C.COORD_SOURCE: rows.placement.source[k],
        C.SOURCE_ROW: raw.source_row[k],
    }
    orgs = pd.DataFrame(std)
    for c in _TEXT_OUTPUT:
        orgs[c] = orgs[c].astype("str")
    return orgs


def renamed_columns(
    others: Sequence[Any], all_columns: Sequence[Any], reserved: frozenset[str]
) -> dict[Any, str]:
    """New names for input columns named like cnmap's output columns: ``reason`` ->
    ``reason_input`` (``reason_input2``... when that is taken too)."""
    taken = set(reserved) | {str(c) for c in all_columns}
    out: dict[Any, str] = {}
    for c in others:
        if str(c) not in reserved:
            continue
        new, i = f"{c}_input", 1
        while new in taken:
            i += 1
            new = f"{c}_input{i}"
        taken.add(new)
        out[c] = new
    return out


def renamed_note(label: str, renamed: Mapping[Any, str]) -> str:
    """The note listing the input columns renamed."""
    pairs = ", ".join(f"{str(a)!r} -> {b!r}" for a, b in renamed.items())
    return f"{label}: input column(s) named like cnmap's own output columns were renamed: {pairs}"


def _add_input_columns(
    orgs: pd.DataFrame, frame: pd.DataFrame, cols: ColumnRoles, k: np.ndarray
) -> dict[Any, str]:
    """Append the input's other columns to ``orgs`` (a frame built here); ``opening_hours``
    from a column spelt otherwise. Returns the input columns renamed."""
    used = cols.used()
    others = [c for c in frame.columns if c not in used]
    renamed = renamed_columns(others, frame.columns, RESERVED_OUTPUT)
    for c in others:
        orgs[renamed.get(c, str(c))] = frame[c].to_numpy()[k]
    if C.OPENING_HOURS not in orgs.columns:
        # OSM opening_hours syntax under a usual spelling (the warm spaces call it hours_osm)
        hours = next((c for a in HOURS_ALIASES for c in others if norm_col(c) == a), None)
        if hours is not None:
            orgs[C.OPENING_HOURS] = pd.Series(frame[hours].to_numpy()[k], dtype="str")
    return renamed


def organisations_frame(
    raw: RawTable, cols: ColumnRoles, rows: KeptRows, area: Any
) -> tuple[gpd.GeoDataFrame, dict[Any, str]]:
    """The organisations table (EPSG:27700) of the kept rows.

    Parameters
    ----------
    raw
        The table read.
    cols
        Its columns (those with a role are not copied again).
    rows
        Per-row values and the kept rows.
    area
        An :class:`cnmap.Area` for LSOA and ward codes, or None.

    Returns
    -------
    (GeoDataFrame, renamed)
        The table, and the input columns renamed (named like an output column).
    """
    k = np.flatnonzero(rows.kept)
    p = rows.placement
    orgs = _standard_frame(raw, cols, rows, k)
    pts = gpd.GeoSeries(gpd.points_from_xy(p.x[k], p.y[k]), crs=C.BNG)
    orgs[C.LSOA_CODE], orgs[C.WARD_CODE], orgs[C.WARD_NAME] = area_codes(pts, area)
    if rows.in_area is not None:
        orgs["in_area"] = rows.in_area[k]
    orgs[C.LAT], orgs[C.LON], orgs[C.EASTING], orgs[C.NORTHING] = p.lat[k], p.lon[k], p.x[k], p.y[k]
    orgs["coord_note"] = pd.Series(rows.coord_note[k], dtype="str").replace("", pd.NA)
    if raw.site is not None:  # some input row has several sites
        orgs[C.SITE] = raw.site[k]
    renamed = _add_input_columns(orgs, raw.frame, cols, k)
    return gpd.GeoDataFrame(orgs, geometry=pts.to_numpy(), crs=C.BNG), renamed


def collapse_sites(
    r: np.ndarray, kept: np.ndarray, reason: np.ndarray, reason_text: np.ndarray, raw: RawTable
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Rejected rows when some input rows have several sites.

    A site not placed while another site of its row is: a note (the row is placed). No site
    of the row placed: one rejected row (its first site) whose text lists every site's reason.
    """
    if raw.row_of is None or raw.site is None:
        return r, reason_text, []
    row_of, site = raw.row_of, raw.site
    placed = np.zeros(raw.n_rows, dtype=bool)
    placed[row_of[kept]] = True
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


def _rejected_standard(
    raw: RawTable,
    r: np.ndarray,
    names: pd.Series,
    verdict: Verdict,
    texts: np.ndarray,
    dup_of: np.ndarray,
) -> pd.DataFrame:
    """source_row, name, reason, reason_text and duplicate_of of the rejected rows ``r``."""
    source_row = raw.source_row
    prefix = np.array(
        [row_label(int(i), raw.sheet_offset) for i in source_row[r]] or [], dtype=object
    )
    rej = pd.DataFrame(
        {
            C.SOURCE_ROW: source_row[r],
            C.NAME: names.to_numpy()[r],
            C.REASON: verdict.reason[r],
            "reason_text": prefix + texts[r],
            "duplicate_of": pd.array(
                np.where(dup_of[r] >= 0, source_row[np.maximum(dup_of[r], 0)], 0), dtype="Int64"
            ),
        }
    )
    rej["duplicate_of"] = rej["duplicate_of"].where(rej[C.REASON] == "duplicate")
    for c in (C.NAME, C.REASON, "reason_text"):
        rej[c] = rej[c].astype("str")
    return rej


def rejected_frame(
    raw: RawTable,
    verdict: Verdict,
    names: pd.Series,
    dup_of: np.ndarray,
    name_col: str | None,
    renamed: Mapping[Any, str],
) -> tuple[pd.DataFrame, list[str]]:
    """The rejected rows: row, name, reason, message, duplicate twin, then the row's original
    values (input columns named like these renamed as in ``renamed``).

    Parameters
    ----------
    raw
        The table read.
    verdict
        Rows kept, and each rejected row's reason and message.
    names
        Names (cleaned text).
    dup_of
        The row each duplicate repeats (-1 for none).
    name_col
        The name column (not repeated when it is called ``name``).
    renamed
        Input columns renamed in the organisations table.

    Returns
    -------
    (DataFrame, notes)
        One row per rejected input row (an input row with several sites, none placed, is
        one row); notes on the sites not placed of rows otherwise placed.
    """
    r = np.flatnonzero(~verdict.kept)
    # one rejected row per input row none of whose sites was placed
    r, texts, notes = collapse_sites(r, verdict.kept, verdict.reason, verdict.text, raw)
    rej = _rejected_standard(raw, r, names, verdict, texts, dup_of)
    frame = raw.frame
    for c in frame.columns:
        if c == name_col and str(c) == C.NAME:
            continue
        out_name = renamed.get(c) or (str(c) if str(c) not in rej.columns else f"{c}_input")
        rej[out_name] = frame[c].to_numpy()[r]
    shapes = raw.features if raw.features is not None else raw.geometry
    if shapes is not None:
        rows = raw.row_of[r] if raw.row_of is not None else r
        rej["geometry_wkt"] = pd.Series(shapes.to_wkt().to_numpy()[rows], dtype="str")
    return rej, notes
