"""The result of :func:`cnmap.read_organisations`: :class:`OrganisationTable`, the reject
reasons and the names of the standard output columns."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal

import geopandas as gpd
import pandas as pd

from cnmap import columns as C

__all__ = ["REASONS", "CoordMode", "OrganisationTable"]

#: The logger of every message read_organisations logs (the name users and tests select).
log = logging.getLogger("cnmap.io")

CoordMode = Literal["auto", "latlon", "bng", "postcode", "address", "geometry"]
#: The values of ``coords=``.
MODES: tuple[CoordMode, ...] = ("auto", "latlon", "bng", "postcode", "address", "geometry")

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

#: The standard columns of ``OrganisationTable.organisations``, in order.
STANDARD = [
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
#: The standard columns of ``OrganisationTable.rejected``, in order.
REJECTED_STANDARD = [C.SOURCE_ROW, C.NAME, C.REASON, "reason_text", "duplicate_of"]
#: Output column names an input column must not take (it is renamed ``<name>_input``).
RESERVED_OUTPUT = frozenset(
    STANDARD
    + REJECTED_STANDARD
    + ["types_list", "in_area", C.SITE, C.GEOMETRY, "geometry_wkt", "dataset", "file"]
)


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
        """Number of rejected input rows."""
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
        """One line: the source, rows, matched share and the rejections by reason."""
        parts = ", ".join(f"{k} {v}" for k, v in self.summary().items() if k != "matched")
        return (
            f"OrganisationTable({self.source}: {self.n_input} rows, {self.n_matched} matched "
            f"({self.match_rate:.1%}){'; rejected: ' + parts if parts else ''})"
        )
