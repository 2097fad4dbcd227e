"""cnmap's data layer: catalogue of official sources, verified fetching, and loaders.

- :func:`load_area` — wards, LSOAs with IoD and population, boundary, lookup and sources of
  an English local authority district;
- :func:`load_postcodes` — the ONS postcode lookup, normalised;
- :func:`fetch` / :func:`fetch_record` — a verified local copy of a catalogued dataset
  (cache, then ``CNMAP_DATA_MIRROR``, then the publisher);
- :func:`catalogue`, :func:`sources_table` — the catalogue itself.
"""

from __future__ import annotations

from cnmap.data.catalogue import (
    Catalogue,
    Dataset,
    MirrorEntry,
    catalogue,
    mirror_dirs,
    normalise_columns,
    sources_table,
)
from cnmap.data.fetch import FetchRecord, fetch, fetch_record, verify_file
from cnmap.data.loaders import load_area, load_postcodes, read_dataset

__all__ = [
    "load_area",
    "load_postcodes",
    "read_dataset",
    "fetch",
    "fetch_record",
    "verify_file",
    "FetchRecord",
    "catalogue",
    "sources_table",
    "Catalogue",
    "Dataset",
    "MirrorEntry",
    "mirror_dirs",
    "normalise_columns",
]
