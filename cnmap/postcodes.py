"""UK postcodes: normalise, validate, find inside free text, and geocode offline.

The functions live in :mod:`cnmap.organisations.postcodes`; this module keeps their names
importable from ``cnmap.postcodes``.
"""

from __future__ import annotations

from cnmap.organisations.postcodes import (
    POSTCODE_PATTERN,
    STATUS_MALFORMED,
    STATUS_MISSING,
    STATUS_NO_COORDINATES,
    STATUS_OK,
    STATUS_UNKNOWN,
    PostcodeLookup,
    extract_postcode,
    geocode_postcodes,
    is_valid_postcode,
    normalise_postcodes,
    prepare_postcode_lookup,
)

__all__ = [
    "normalise_postcodes",
    "is_valid_postcode",
    "extract_postcode",
    "prepare_postcode_lookup",
    "geocode_postcodes",
    "PostcodeLookup",
    "POSTCODE_PATTERN",
    "STATUS_OK",
    "STATUS_MALFORMED",
    "STATUS_UNKNOWN",
    "STATUS_NO_COORDINATES",
    "STATUS_MISSING",
]
