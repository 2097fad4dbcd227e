"""The table as read from a file, before any row is located: :class:`RawTable`."""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd

#: First bytes of a zip archive (an .xlsx workbook).
ZIP_MAGIC = b"PK\x03\x04"
#: First bytes of an OLE file: Excel 97-2003, or an encrypted .xlsx.
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@dataclass(frozen=True)
class RawTable:
    """The rows of an input file or frame, with what reading it noticed.

    Attributes
    ----------
    frame
        The original columns (geometry dropped), positional index ``0..n-1``.
    geometry
        The geometry of each row (spatial inputs), else None.
    label
        The file (and sheet) for messages, or ``"<DataFrame>"``.
    sheet_offset
        Excel: sheet row = offset + data row number.
    encoding
        The text encoding a CSV was read with.
    header_row
        0-based index of the header line or row in the file.
    notes
        Remarks made while reading.
    forced
        Rows refused while reading (row index -> message); reason ``extra_fields``.
    row_of, site
        Several sites per feature: frame row -> input row, and the site number (1, 2, ...).
    features
        The geometry of each input row before splitting into sites.
    """

    frame: pd.DataFrame
    geometry: gpd.GeoSeries | None
    label: str
    sheet_offset: int | None = None
    encoding: str | None = None
    header_row: int = 0
    notes: tuple[str, ...] = ()
    forced: dict[int, str] = field(default_factory=dict)
    row_of: np.ndarray | None = None
    site: np.ndarray | None = None
    features: gpd.GeoSeries | None = None

    @property
    def n_rows(self) -> int:
        """Number of input rows (features), whatever the number of sites."""
        if self.row_of is None:
            return len(self.frame)
        return int(self.row_of[-1]) + 1 if len(self.row_of) else 0

    @property
    def source_row(self) -> np.ndarray:
        """1-based input row of each frame row (the sites of a feature share theirs)."""
        row_of = self.row_of if self.row_of is not None else np.arange(len(self.frame))
        return row_of + 1
