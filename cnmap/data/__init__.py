"""cnmap's data layer: catalogue of official sources, verified fetching, and loaders.

- :func:`load_area` — wards, LSOAs with IoD and population, boundary, lookup and sources of
  an English local authority district;
- :func:`load_postcodes` — a postcode lookup (ONS NSPL, or OS Code-Point Open:
  :func:`load_codepoint`), normalised;
- :func:`resolve_lad` / :func:`lad_table` — district codes from names (ONS LAD list);
- :func:`missing_datasets` / :func:`fetch_area_data` — what a district's run needs that is
  not at hand (all at once, with publisher URLs and mirror paths);
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
from cnmap.data.lads import lad_table, resolve_lad
from cnmap.data.loaders import (
    load_area,
    load_codepoint,
    load_lsoa_change_lookup,
    load_postcodes,
    read_dataset,
)
from cnmap.data.needs import (
    MissingDataset,
    describe_missing,
    fetch_area_data,
    missing_datasets,
)

__all__ = [
    "load_area",
    "load_postcodes",
    "load_codepoint",
    "load_lsoa_change_lookup",
    "resolve_lad",
    "lad_table",
    "missing_datasets",
    "describe_missing",
    "fetch_area_data",
    "MissingDataset",
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
