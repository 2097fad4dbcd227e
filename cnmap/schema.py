"""Column names of cnmap's tables, kept in one place: constants and builders.

Constants name the fixed columns (``POPULATION``, ``GEOMETRY``, ``LSOA_CODE``...). Builders
name the columns that carry a time limit or an organisation type; they normalise the minutes
once, so ``15``, ``15.0``, ``numpy.float64(15)`` and ``"15"`` all give the same column:

>>> share_covered(15)
'share_covered_15min'
>>> share_covered(15.0) == share_covered("15") == share_covered(7.5 * 2)
True
>>> covered(7.5, "food_bank")
'covered_7.5min_food_bank'
>>> mean_walk_min("advice")
'mean_walk_min_advice'

:func:`default_minutes` is the one rule for the time limit shown when none is given: 15 minutes
if computed, else the largest limit. IoD (deprivation) short names live in :mod:`cnmap.iod`.
:mod:`cnmap.columns` re-exports the constants for older imports.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Iterable
from typing import Any

import numpy as np

from cnmap.errors import ValidationError

__all__ = [
    "UNTYPED",
    "type_slug",
    # coordinate reference systems
    "BNG",
    "WGS84",
    # geography
    "LSOA_CODE",
    "LSOA_NAME",
    "WARD_CODE",
    "WARD_NAME",
    "LAD_CODE",
    "LAD_NAME",
    "POPULATION",
    "GEOMETRY",
    "IMD_DECILE",
    # organisations
    "ORG_ID",
    "NAME",
    "ORG_TYPE",
    "SERVICES",
    "ADDRESS",
    "POSTCODE",
    "LAT",
    "LON",
    "EASTING",
    "NORTHING",
    "SOURCE_ROW",
    "COORD_SOURCE",
    "REASON",
    "SITE",
    "OPENING_HOURS",
    "TYPE_SLUG",
    "SNAPPED",
    "SNAP_DISTANCE_M",
    # residents and coverage tables
    "WEIGHT",
    "PLACED",
    "WALK_M",
    "WALK_MIN",
    "POP_UNPLACED",
    "MEAN_WALK_MIN",
    "MEDIAN_WALK_MIN",
    "MINUTES",
    "METRES",
    "POP_COVERED",
    "SHARE_COVERED",
    "HEADLINE_MINUTES",
    # minutes
    "minutes_value",
    "minutes_label",
    "default_minutes",
    # builders: coverage
    "covered",
    "n_reachable",
    "pop_covered",
    "share_covered",
    "mean_reachable",
    "walk_m",
    "walk_min",
    "mean_walk_min",
    # builders: basket
    "has",
    "basket",
    "pop_basket",
    "share_basket",
    "share_with",
    "pop_without",
    # builders: comparisons
    "gained",
    "lost",
    "pop_gained",
    "pop_lost",
    "net_change",
    "share_change",
    "side",
]

# ---------------------------------------------------------------------------------------------
# constants

# coordinate reference systems
BNG = "EPSG:27700"  # British National Grid: every metric computation
WGS84 = "EPSG:4326"  # longitude/latitude: input and web maps only

# geography
LSOA_CODE = "lsoa_code"
LSOA_NAME = "lsoa_name"
WARD_CODE = "ward_code"
WARD_NAME = "ward_name"
LAD_CODE = "lad_code"
LAD_NAME = "lad_name"
POPULATION = "population"
GEOMETRY = "geometry"
IMD_DECILE = "imd_decile"  # national IMD decile of an LSOA (1 = most deprived 10%)

# organisations
ORG_ID = "org_id"
NAME = "name"
ORG_TYPE = "type"
SERVICES = "services"
ADDRESS = "address"
POSTCODE = "postcode"
LAT = "lat"
LON = "lon"
EASTING = "easting"
NORTHING = "northing"
SOURCE_ROW = "source_row"  # 1-based row number in the input file (header = row 0)
COORD_SOURCE = "coord_source"  # "latlon", "bng", "postcode", "address_postcode", "geometry"
REASON = "reason"
SITE = "site"  # 1, 2, ... for the sites of one input row (a MultiPoint feature); see cnmap.organisations
OPENING_HOURS = "opening_hours"
TYPE_SLUG = "type_slug"  # the normalised type of a coverage result's organisation

#: The type of an organisation without one (its slug in every per-type column).
UNTYPED = "unspecified"


def type_slug(value: object) -> str:
    """The slug of an organisation type, as per-type columns name it.

    Lower case, every run of other characters one underscore; a blank type is
    :data:`UNTYPED`.

    Examples
    --------
    >>> type_slug("Food bank / pantry"), type_slug("  "), type_slug("GP")
    ('food_bank_pantry', 'unspecified', 'gp')
    """
    slug = re.sub(r"[^0-9a-z]+", "_", str(value).strip().lower()).strip("_")
    return slug or UNTYPED


SNAPPED = "snapped"  # placed on the street network
SNAP_DISTANCE_M = "snap_distance_m"

# residents (one row per residential point) and coverage tables
WEIGHT = "weight"  # people at a residential point
PLACED = "placed"  # the point is on the street network
WALK_M = "walk_m"
WALK_MIN = "walk_min"
POP_UNPLACED = "pop_unplaced"
MEAN_WALK_MIN = "mean_walk_min"
MEDIAN_WALK_MIN = "median_walk_min"
MINUTES = "minutes"
METRES = "metres"
POP_COVERED = "pop_covered"  # totals table: one row per time limit
SHARE_COVERED = "share_covered"

#: The time limit shown when none is chosen, if it was computed (:func:`default_minutes`).
HEADLINE_MINUTES = 15


# ---------------------------------------------------------------------------------------------
# minutes


def minutes_value(minutes: Any) -> int | float:
    """A time limit as it appears in column names: whole numbers as ``int``, others ``float``.

    Accepts any real number (numpy scalars too) or its text (``"15"``, ``"7.5"``); raises
    :class:`~cnmap.errors.ValidationError` for anything else, a boolean, or a value that is not
    finite and > 0.

    >>> minutes_value(np.float64(15)), minutes_value("7.5")
    (15, 7.5)
    """
    if isinstance(minutes, np.ndarray) and minutes.ndim == 0:
        minutes = minutes.item()
    value: float | None = None
    if isinstance(minutes, str):
        try:
            value = float(minutes.strip())
        except ValueError:
            value = None
    elif isinstance(minutes, numbers.Real) and not isinstance(minutes, bool | np.bool_):
        value = float(minutes)
    if value is None or not math.isfinite(value) or value <= 0:
        raise ValidationError(
            f"minutes={minutes!r} is not a time limit; give a number of minutes > 0, e.g. 15"
        )
    return int(value) if value.is_integer() else value


def minutes_label(minutes: Any) -> str:
    """The time limit as written in column names: ``15`` -> ``"15"``, ``7.5`` -> ``"7.5"``."""
    return str(minutes_value(minutes))


def default_minutes(result_or_minutes: Any) -> int | float:
    """The time limit shown by default: 15 if among the limits, else the largest.

    Parameters
    ----------
    result_or_minutes
        A result with ``thresholds`` (a coverage, comparison or basket result) or the time
        limits themselves.

    >>> default_minutes([5, 10, 15, 20]), default_minutes((5, 10))
    (15, 10)
    """
    limits = getattr(result_or_minutes, "thresholds", result_or_minutes)
    if not isinstance(limits, Iterable) or isinstance(limits, str | bytes):
        limits = [limits]
    values = list(limits)
    if not values:
        raise ValidationError("there are no time limits to choose from; pass minutes=")
    return HEADLINE_MINUTES if HEADLINE_MINUTES in values else max(values)


def _with_type(column: str, org_type: str | None) -> str:
    return f"{column}_{org_type}" if org_type else column


# ---------------------------------------------------------------------------------------------
# builders: coverage (per resident and per area)


def covered(minutes: Any, org_type: str | None = None) -> str:
    """Residents: within ``minutes`` of an organisation (of ``org_type``): ``covered_15min``."""
    return _with_type(f"covered_{minutes_label(minutes)}min", org_type)


def n_reachable(minutes: Any, org_type: str | None = None) -> str:
    """Residents: organisations (of ``org_type``) within ``minutes``: ``n_reachable_15min``."""
    return _with_type(f"n_reachable_{minutes_label(minutes)}min", org_type)


def pop_covered(minutes: Any, org_type: str | None = None) -> str:
    """Areas: people within ``minutes`` of an organisation: ``pop_covered_15min``."""
    return _with_type(f"pop_covered_{minutes_label(minutes)}min", org_type)


def share_covered(minutes: Any, org_type: str | None = None) -> str:
    """Areas: share of people within ``minutes`` (of ``org_type``): ``share_covered_15min``."""
    return _with_type(f"share_covered_{minutes_label(minutes)}min", org_type)


def mean_reachable(minutes: Any, org_type: str | None = None) -> str:
    """Areas: organisations within ``minutes`` per resident: ``mean_reachable_15min``."""
    return _with_type(f"mean_reachable_{minutes_label(minutes)}min", org_type)


def walk_m(org_type: str | None = None) -> str:
    """Residents: metres to the nearest organisation (of ``org_type``): ``walk_m``."""
    return _with_type(WALK_M, org_type)


def walk_min(org_type: str | None = None) -> str:
    """Residents: minutes to the nearest organisation (of ``org_type``): ``walk_min``."""
    return _with_type(WALK_MIN, org_type)


def mean_walk_min(org_type: str | None = None) -> str:
    """Areas: population-weighted mean walk to the nearest (of ``org_type``): ``mean_walk_min``."""
    return _with_type(MEAN_WALK_MIN, org_type)


# ---------------------------------------------------------------------------------------------
# builders: basket coverage (requirement = a basket requirement's name, e.g. "food")


def has(requirement: str, minutes: Any) -> str:
    """Residents: reach ``requirement`` within ``minutes``: ``has_food_15min``."""
    return f"has_{requirement}_{minutes_label(minutes)}min"


def basket(minutes: Any) -> str:
    """Residents: reach every requirement within ``minutes``: ``basket_15min``."""
    return f"basket_{minutes_label(minutes)}min"


def pop_basket(minutes: Any) -> str:
    """Areas: people reaching the whole basket within ``minutes``: ``pop_basket_15min``."""
    return f"pop_basket_{minutes_label(minutes)}min"


def share_basket(minutes: Any) -> str:
    """Areas: share of people reaching the whole basket: ``share_basket_15min``."""
    return f"share_basket_{minutes_label(minutes)}min"


def share_with(requirement: str, minutes: Any) -> str:
    """Areas: share of people reaching ``requirement`` within ``minutes``: ``share_food_15min``."""
    return f"share_{requirement}_{minutes_label(minutes)}min"


def pop_without(requirement: str) -> str:
    """Basket totals: people lacking ``requirement``: ``pop_without_food``."""
    return f"pop_without_{requirement}"


# ---------------------------------------------------------------------------------------------
# builders: comparisons of two coverage results (scenario a -> b)


def gained(minutes: Any) -> str:
    """Residents: covered in b, not in a: ``gained_15min``."""
    return f"gained_{minutes_label(minutes)}min"


def lost(minutes: Any) -> str:
    """Residents: covered in a, not in b: ``lost_15min``."""
    return f"lost_{minutes_label(minutes)}min"


def pop_gained(minutes: Any) -> str:
    """Areas: people gained: ``pop_gained_15min``."""
    return f"pop_gained_{minutes_label(minutes)}min"


def pop_lost(minutes: Any) -> str:
    """Areas: people lost: ``pop_lost_15min``."""
    return f"pop_lost_{minutes_label(minutes)}min"


def net_change(minutes: Any) -> str:
    """Areas: people gained minus people lost: ``net_change_15min``."""
    return f"net_change_{minutes_label(minutes)}min"


def share_change(minutes: Any) -> str:
    """Areas: share covered in b minus share covered in a: ``share_change_15min``."""
    return f"share_change_{minutes_label(minutes)}min"


def side(column: str, which: str) -> str:
    """A column of one side of a comparison: ``side(share_covered(15), "a")`` ->
    ``share_covered_15min_a``."""
    return f"{column}_{which}"
