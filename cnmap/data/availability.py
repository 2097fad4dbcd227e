"""Which copy of a dataset serves a district: what is at hand, and the preferred download.

A district's data can come from several catalogued datasets that stand in for one another
(20 m or 200 m LSOA boundaries; the full IoD2025 File 7 or its all-England column subset;
the ONS postcode lookup or Code-Point Open) and, within one dataset, from several mirror
files (a district's own file, or a national file filtered to it). The rules are:

- within a dataset, the **first mirror entry covering the district** is used (the catalogue
  lists district files before national ones), even when another copy is already cached;
- among datasets, the first one **at hand** (a cached copy or a mirror file covering the
  district) is used; when none is, the first (preferred) one is downloaded.

Mirror files in formats the fetcher cannot verify by structure (Parquet, OSM PBF) are
read in place after their checksum is checked.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from cnmap.data.catalogue import MirrorEntry, catalogue, mirror_entries
from cnmap.data.fetch import (
    FetchRecord,
    cached_records,
    fetch_record,
    file_format,
    file_sha256,
)
from cnmap.errors import DataIntegrityError, OptionalDependencyError

__all__ = ["covering_entry", "at_hand", "choose", "fetch_preferred", "readable"]

log = logging.getLogger(__name__)

#: Mirror formats read in place (the fetcher's structural check does not know them yet).
_IN_PLACE = {".parquet": "parquet", ".pbf": "pbf"}


def _in_place_format(entry: MirrorEntry) -> str | None:
    fmt = _IN_PLACE.get(Path(entry.path).suffix.lower())
    if fmt is None:
        return None
    # once cnmap.data.fetch knows the suffix, it verifies and caches the file itself
    unknown = dataclasses.replace(catalogue()[entry.dataset], format="")
    return None if file_format(entry.path, unknown) == fmt else fmt


def readable(entry: MirrorEntry) -> bool:
    """False for a Parquet mirror file when pyarrow (needed to read it) is not installed."""
    if Path(entry.path).suffix.lower() == ".parquet":
        return importlib.util.find_spec("pyarrow") is not None
    return True


def covering_entry(
    dataset_id: str, lad_code: str | None, postcode_area: str | None = None
) -> MirrorEntry | None:
    """The first readable mirror file of ``dataset_id`` covering the request, if any."""
    entries = mirror_entries(dataset_id)
    if lad_code is None and postcode_area is None:  # no district asked for: the national file
        entries = sorted(entries, key=lambda e: "*" not in e.lad_codes + e.postcode_areas)
    for entry in entries:
        if entry.covers(lad_code=lad_code, postcode_area=postcode_area) and readable(entry):
            return entry
    return None


def at_hand(dataset_id: str, lad_code: str | None, postcode_area: str | None = None) -> bool:
    """True when a cached copy or a mirror file covers the request (no download needed)."""
    if covering_entry(dataset_id, lad_code, postcode_area) is not None:
        return True
    return any(
        rec.covers(lad_code, postcode_area) and rec.path.is_file()
        for rec in cached_records(dataset_id)
    )


def choose(
    candidates: Sequence[str], lad_code: str | None, postcode_area: str | None = None
) -> str:
    """The first of ``candidates`` at hand for the request, else the first (preferred)."""
    for ds_id in candidates:
        if at_hand(ds_id, lad_code, postcode_area):
            return ds_id
    return candidates[0]


def _in_place_record(entry: MirrorEntry, fmt: str) -> FetchRecord:
    """Verify a mirror file by checksum and describe it as read in place."""
    assert entry.file is not None and entry.root is not None
    if fmt == "parquet" and importlib.util.find_spec("pyarrow") is None:
        raise OptionalDependencyError(
            f"{entry.dataset}: the mirror file {entry.file} is Parquet, which needs pyarrow; "
            f"install it (pip install pyarrow) or give a CSV copy in the mirror"
        )
    digest = file_sha256(entry.file)  # hashed once per process while unchanged
    if entry.sha256 and digest != entry.sha256:
        raise DataIntegrityError(
            f"{entry.dataset}: mirror file {entry.file} has sha256 {digest} but the catalogue "
            f"expects {entry.sha256} (corrupted, or another release of the file)"
        )
    ds = catalogue()[entry.dataset]
    st = entry.file.stat()
    return FetchRecord(
        dataset=entry.dataset,
        path=entry.file,
        source="mirror",
        origin="mirror",
        url=ds.url,
        mirror_path=entry.path,
        mirror_root=str(entry.root),
        sha256=digest,
        size=st.st_size,
        fetched_at=datetime.now(UTC).isoformat(timespec="seconds"),
        lad_codes=entry.lad_codes,
        postcode_areas=entry.postcode_areas,
        vintage=entry.vintage or ds.vintage,
        attribution=entry.attribution or ds.attribution,
        notes=entry.notes,
        mirror_size=st.st_size,
        mirror_mtime_ns=st.st_mtime_ns,
    )


def fetch_preferred(
    dataset_id: str, lad_code: str | None, postcode_area: str | None = None
) -> FetchRecord:
    """A verified copy of ``dataset_id`` for the request, from the preferred mirror file.

    When a mirror file covers the request, the first such file is the one used (copied
    into the cache afresh, so that a national copy cached for another district never
    stands in for a district's own richer file). Otherwise the cache, then the publisher
    (:func:`cnmap.data.fetch_record`).
    """
    entry = covering_entry(dataset_id, lad_code, postcode_area)
    if entry is None:
        unreadable = next(
            (
                e
                for e in mirror_entries(dataset_id)
                if e.covers(lad_code=lad_code, postcode_area=postcode_area)
            ),
            None,
        )
        if unreadable is not None:  # e.g. Parquet without pyarrow: say so, not "truncated"
            return _in_place_record(unreadable, "parquet")
    if entry is not None:
        fmt = _in_place_format(entry)
        if fmt is not None:
            return _in_place_record(entry, fmt)
    return fetch_record(dataset_id, lad_code=lad_code, postcode_area=postcode_area, refresh=False)
