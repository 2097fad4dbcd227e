"""The options of :func:`cnmap.read_organisations`, grouped and checked."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cnmap.errors import ValidationError
from cnmap.organisations.columns import ColumnRoles
from cnmap.organisations.table import MODES, CoordMode

__all__ = ["ReadOptions"]


@dataclass(frozen=True)
class ReadOptions:
    """How to read an organisation list (the keyword arguments of
    :func:`cnmap.read_organisations` other than ``area`` and ``postcodes``).

    Attributes
    ----------
    coords
        ``"auto"`` or the one location source to use.
    columns
        Column names given by the caller (``name_col=`` ...), overriding detection.
    sheet
        Excel sheet name or index, or spatial layer.
    encoding
        CSV encoding (None: detected).
    keep_outside_m
        With an area: keep points up to this distance (m) outside its boundary.
    duplicate_within_m
        Reject a row with the same name as an earlier one within this distance (m); None
        keeps duplicates.
    """

    coords: CoordMode = "auto"
    columns: ColumnRoles = field(default_factory=ColumnRoles)
    sheet: str | int | None = None
    encoding: str | None = None
    keep_outside_m: float = 0.0
    duplicate_within_m: float | None = 50.0

    def check(self, postcodes: Any = None) -> None:
        """Refuse a bad option (and a ``postcodes=`` that is not a DataFrame).

        Raises
        ------
        ValidationError
            One line naming the argument and what to give.
        """
        if self.coords not in MODES:
            raise ValidationError(f"coords={self.coords!r} is not one of {MODES}")
        keep = self.keep_outside_m
        if keep is None or not np.isfinite(keep) or keep < 0:
            raise ValidationError(f"keep_outside_m={keep!r}: give a distance in metres >= 0")
        within = self.duplicate_within_m
        if within is not None and (not np.isfinite(within) or within < 0):
            raise ValidationError(
                f"duplicate_within_m={within!r}: give a distance in metres >= 0, or None to keep duplicates"
            )
        if postcodes is not None and not isinstance(postcodes, pd.DataFrame):
            raise ValidationError(
                f"postcodes must be a DataFrame (postcode, lat, lon), got {type(postcodes).__name__}"
            )
