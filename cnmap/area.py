"""The :class:`Area` container returned by :func:`cnmap.load_area`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import pandas as pd

__all__ = ["Area"]


@dataclass(frozen=True)
class Area:
    """Official geography and deprivation for one local authority district.

    All frames are in EPSG:27700 (British National Grid).

    Attributes
    ----------
    lad_code, lad_name
        ONS local authority district code and name (e.g. ``E08000025``, Birmingham).
    wards
        One row per electoral ward: ``ward_code``, ``ward_name``, ``lad_code``, geometry.
    lsoas
        One row per LSOA: ``lsoa_code``, ``lsoa_name``, ``ward_code``, ``ward_name``,
        every IoD column present (short names, :mod:`cnmap.iod`), ``population``, geometry.
    boundary
        One row: the district's outline.
    lookup
        LSOA to ward lookup: ``lsoa_code``, ``ward_code``, ``ward_name`` and ``method``.
    sources
        Provenance of every dataset used: id, title, publisher, vintage, licence,
        attribution, url, where it was read from and its checksum.
    postcodes
        Postcode lookup rows for the district's area (``postcode``, ``lat``, ``lon``,
        ``easting``, ``northing``, ``lsoa21_code``, ``ward_code``...), or None if not loaded.
    lsoa_vintage, iod
        The LSOA boundary vintage (2011 or 2021) and IoD edition (2019 or 2025) used.
    notes
        What was done on the way (repairs, substitutions, carried-over values).
    params
        The vintages and sources used, for outputs to state: ``lsoa_vintage``, ``iod``,
        ``iod_dataset``, ``population`` (``"iod2025"``, ``"iod2019"`` or ``"census2021"``),
        ``population_source``, ``ward_vintage``, ``wards_dataset``, ``lsoa_dataset``,
        ``postcodes`` (``"nspl"`` or ``"codepoint_open"``) ... (see
        :func:`cnmap.data.load_area`).
    """

    lad_code: str
    lad_name: str
    wards: gpd.GeoDataFrame
    lsoas: gpd.GeoDataFrame
    boundary: gpd.GeoDataFrame
    lookup: pd.DataFrame
    sources: pd.DataFrame
    postcodes: pd.DataFrame | None = None
    lsoa_vintage: int = 2011
    iod: int = 2019
    notes: tuple[str, ...] = field(default_factory=tuple)
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def population(self) -> float:
        """Total population of the district (sum over LSOAs)."""
        return float(self.lsoas["population"].sum())

    def attribution(self) -> list[str]:
        """Distinct attribution statements of every source used."""
        col = self.sources.get("attribution")
        if col is None:
            return []
        return list(dict.fromkeys(str(a) for a in col if isinstance(a, str) and a))

    def __repr__(self) -> str:  # keep notebooks readable
        return (
            f"Area({self.lad_code} {self.lad_name}: {len(self.wards)} wards, "
            f"{len(self.lsoas)} LSOAs ({self.lsoa_vintage}), IoD{self.iod}, "
            f"population {self.population:,.0f})"
        )

    def to_dict(self) -> dict[str, Any]:
        """Small summary for recording in outputs."""
        return {
            "lad_code": self.lad_code,
            "lad_name": self.lad_name,
            "n_wards": len(self.wards),
            "n_lsoas": len(self.lsoas),
            "lsoa_vintage": self.lsoa_vintage,
            "iod": self.iod,
            "population": self.population,
            "data": dict(self.params),
        }
