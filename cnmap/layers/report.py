"""The report's need layers for one area, on its LSOA vintage, ready for group coverage."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from cnmap import columns as C
from cnmap.errors import MissingColumnError
from cnmap.layers.bands import score_bands
from cnmap.layers.base import NeedLayer
from cnmap.layers.census import (
    read_age,
    read_disability,
    read_ethnic_group,
    read_household_deprivation,
)
from cnmap.layers.deri import read_deri
from cnmap.layers.join import _layer_for, read_lsoa_lookup

if TYPE_CHECKING:
    from cnmap.area import Area

__all__ = ["report_layers"]


def report_layers(area: Area, *, lookup: pd.DataFrame | None = None) -> list[NeedLayer]:
    """The count layers of the "who is served" table, on the area's LSOAs and LSOA vintage.

    Ethnic group (TS021), disability (TS038), households by deprivation dimensions (TS011), age
    (RM121), and the residents by quintile of the DERI score within the area
    (``deri_score_q1`` = the most digitally excluded fifth of its LSOAs, residents from RM121).
    Layers on the other vintage are converted through the ONS lookup, counts shared by
    ``area.lsoas["population"]`` (see :func:`cnmap.layers.convert_layer`).

    Parameters
    ----------
    area
        The area (:func:`cnmap.load_area`).
    lookup
        The LSOA 2011 -> 2021 lookup (default: read from the data mirror).

    Returns
    -------
    list of NeedLayer
        Each with exactly the area's LSOAs.

    Raises
    ------
    MissingLSOAError
        When a table does not cover the area (the Census TS files of the mirror cover Birmingham
        and Solihull only); the message names the LSOAs.
    """
    lsoas = area.lsoas
    if C.LSOA_CODE not in lsoas.columns:
        raise MissingColumnError(f"area.lsoas has no {C.LSOA_CODE!r} column")
    codes = pd.Index(lsoas[C.LSOA_CODE].astype(str))
    vintage = int(area.lsoa_vintage)
    lk = read_lsoa_lookup() if lookup is None else lookup
    weights = None
    if C.POPULATION in lsoas.columns:
        weights = pd.Series(
            pd.to_numeric(lsoas[C.POPULATION], errors="coerce").to_numpy(float), index=codes
        )

    def on_area(layer: NeedLayer) -> NeedLayer:
        return _layer_for(layer, codes, vintage, lk, weights)

    census = [
        on_area(read(None))
        for read in (read_ethnic_group, read_disability, read_household_deprivation)
    ]
    census.append(on_area(read_age(lad_code=area.lad_code)))
    deri = on_area(read_deri())
    return [*census, score_bands(deri, "deri_score", population=census[-1])]
