"""What a run for one district needs, and what of it is missing: :func:`missing_datasets`.

A run needs, for a district: the LSOA-to-ward lookup, ward and LSOA boundaries, the IoD
table, a population, optionally a postcode lookup and an OSM extract or walk network. Each
need can be met by one of several catalogued datasets (see
:mod:`cnmap.data.availability`). :func:`missing_datasets` reports **every** need that no
copy at hand (cache or ``CNMAP_DATA_MIRROR``) meets, at once, each with the publisher's URL
and the mirror paths that would serve it; :func:`fetch_area_data` fetches what can be
fetched and reports the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cnmap import settings
from cnmap.data.availability import at_hand, fetch_preferred, readable
from cnmap.data.catalogue import catalogue, mirror_entries
from cnmap.data.fetch import FetchRecord
from cnmap.data.loaders import (
    IOD2025_FULL,
    IOD2025_PARTS,
    LSOA2021_DATASETS,
    POPULATION_SOURCES,
    POSTCODE_SOURCES,
    WARD_DATASETS,
    _editions,
    check_lad_code,
)
from cnmap.errors import CnmapError, ValidationError

__all__ = [
    "Need",
    "MissingDataset",
    "area_needs",
    "missing_datasets",
    "describe_missing",
    "fetch_area_data",
]


@dataclass(frozen=True)
class Need:
    """Something a run needs, met by any one of ``candidates`` (preferred first)."""

    role: str
    candidates: tuple[str, ...]


@dataclass(frozen=True)
class MissingDataset:
    """A need that no copy at hand meets.

    Attributes
    ----------
    role
        What it is for (``"IoD2025 deprivation"``...).
    dataset, alternatives
        The preferred catalogue id, and the others that would also do.
    title, publisher, url, landing_page
        Of the preferred dataset; ``url`` with the district filled in.
    downloadable
        cnmap can download it itself (unless ``CNMAP_OFFLINE=1``).
    mirror_paths
        Paths inside a ``CNMAP_DATA_MIRROR`` folder that the catalogue says would serve the
        district (for any of the candidates); empty when only a folder's own
        ``cnmap-mirror.toml`` entry can (the catalogue has no file for the district).
    note
        Why a mirror file that is there cannot be used (e.g. Parquet without pyarrow).
    """

    role: str
    dataset: str
    alternatives: tuple[str, ...]
    title: str
    publisher: str
    url: str
    landing_page: str
    downloadable: bool
    mirror_paths: tuple[str, ...]
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The need as a plain dict (for tables and messages)."""
        return {
            "role": self.role,
            "dataset": self.dataset,
            "alternatives": list(self.alternatives),
            "title": self.title,
            "publisher": self.publisher,
            "url": self.url,
            "landing_page": self.landing_page,
            "downloadable": self.downloadable,
            "mirror_paths": list(self.mirror_paths),
            "note": self.note,
        }


def _iod_needs(iod: int, population: str) -> list[Need]:
    if iod == 2019:
        return [Need("IoD2019 deprivation (File 7)", ("iod2019_file7",))]
    needs = [
        Need("IoD2025 deprivation", (IOD2025_FULL, IOD2025_PARTS[0])),
        Need("IoD2025 sub-domains", (IOD2025_FULL, IOD2025_PARTS[1])),
    ]
    if population in ("auto", "census2021"):
        # IoD denominators are only in the full File 7; else Census 2021 gives population
        cands = (
            ("census2021_rm121",)
            if population == "census2021"
            else (IOD2025_FULL, "census2021_rm121")
        )
        needs.append(Need("population", cands))
    elif population in ("iod", "iod2025"):
        needs.append(Need("population (IoD2025 mid-2022 denominators)", (IOD2025_FULL,)))
    return needs


def area_needs(
    *,
    lsoa_vintage: int | None = None,
    iod: int | None = None,
    population: str = "auto",
    postcodes: bool | str = True,
    network: bool = False,
) -> list[Need]:
    """The needs of :func:`cnmap.data.load_area` with these arguments (plus the walk
    network's source when ``network=True``)."""
    vintage, edition = _editions(lsoa_vintage, iod)
    if population not in POPULATION_SOURCES:
        raise ValidationError(f"population={population!r}; use one of {POPULATION_SOURCES}")
    needs = [
        Need("LSOA 2021 to ward to LAD lookup", ("lsoa2021_ward_lookup",)),
        Need("ward boundaries", WARD_DATASETS),
    ]
    if vintage == 2011 or edition == 2019:
        needs.append(Need("LSOA 2011 boundaries", ("lsoa2011",)))
    if vintage == 2021:
        needs.append(Need("LSOA 2021 boundaries", LSOA2021_DATASETS))
    needs += _iod_needs(edition, population)
    pc = "auto" if postcodes is True else None if postcodes is False else postcodes
    if pc is not None and pc not in POSTCODE_SOURCES:
        raise ValidationError(
            f"postcodes={postcodes!r}; use True, False or one of {POSTCODE_SOURCES}"
        )
    if pc is not None:
        needs.append(
            Need(
                "postcode lookup",
                {
                    "auto": ("postcodes", "codepoint_open"),
                    "nspl": ("postcodes",),
                    "codepoint": ("codepoint_open",),
                }[pc],
            )
        )
    if network:
        needs.append(
            Need(
                "walk network (or an OSM extract to build it)", ("osm_walk_network", "osm_extract")
            )
        )
    return needs


def _mirror_paths(candidates: tuple[str, ...], lad: str) -> tuple[str, ...]:
    cat = catalogue()
    return tuple(
        e.path for ds_id in candidates for e in cat[ds_id].mirror if e.covers(lad_code=lad)
    )


def _unreadable_note(candidates: tuple[str, ...], lad: str) -> str:
    for ds_id in candidates:
        for e in mirror_entries(ds_id):
            if e.covers(lad_code=lad) and not readable(e):
                return (
                    f"the mirror has {e.path}, but reading it needs pyarrow (pip install pyarrow)"
                )
    return ""


def _missing(need: Need, lad: str) -> MissingDataset:
    ds = catalogue()[need.candidates[0]]
    url = ds.url_for(lad) if ds.url else ""
    return MissingDataset(
        role=need.role,
        dataset=ds.id,
        alternatives=need.candidates[1:],
        title=ds.title,
        publisher=ds.publisher,
        url=url,
        landing_page=ds.landing_page,
        downloadable=ds.downloadable,
        mirror_paths=_mirror_paths(need.candidates, lad),
        note=_unreadable_note(need.candidates, lad),
    )


def missing_datasets(
    lad_code: str,
    *,
    lsoa_vintage: int | None = None,
    iod: int | None = None,
    population: str = "auto",
    postcodes: bool | str = True,
    network: bool = False,
) -> list[MissingDataset]:
    """Every dataset a run for ``lad_code`` needs that no copy at hand provides, at once.

    "At hand" is a verified-cache copy or a ``CNMAP_DATA_MIRROR`` file covering the
    district; nothing is downloaded. The arguments are those of
    :func:`cnmap.data.load_area` (``network=True`` adds the walk network or OSM extract).

    Returns
    -------
    list of MissingDataset
        Empty when everything is at hand. Each names the preferred dataset, its publisher
        URL (``downloadable``: cnmap can fetch it) and the mirror paths that would serve it.
    """
    lad = check_lad_code(lad_code)
    needs = area_needs(
        lsoa_vintage=lsoa_vintage,
        iod=iod,
        population=population,
        postcodes=postcodes,
        network=network,
    )
    return [
        _missing(n, lad) for n in needs if not any(at_hand(ds_id, lad) for ds_id in n.candidates)
    ]


def describe_missing(lad_code: str, missing: list[MissingDataset]) -> str:
    """A readable report of :func:`missing_datasets` (one paragraph per dataset)."""
    if not missing:
        return f"{lad_code}: every dataset the run needs is at hand."
    lines = [f"{lad_code}: {len(missing)} dataset(s) the run needs are not at hand:"]
    for m in missing:
        where = (
            ", ".join(m.mirror_paths)
            if m.mirror_paths
            else f"none in the catalogue for {lad_code}: add a [[mirror]] entry for "
            f"dataset '{m.dataset}' to the folder's cnmap-mirror.toml"
        )
        how = (
            "cnmap can download it"
            if m.downloadable and not settings.offline()
            else "download it by hand"
            if not m.downloadable
            else "downloads are off (CNMAP_OFFLINE=1)"
        )
        alt = f" (or: {', '.join(m.alternatives)})" if m.alternatives else ""
        note = f" Note: {m.note}." if m.note else ""
        lines.append(
            f"- {m.role}: {m.dataset}{alt}, {m.title} ({m.publisher}). "
            f"URL: {m.url or m.landing_page} ({how}). Mirror path: {where}.{note}"
        )
    return "\n".join(lines)


def fetch_area_data(lad_code: str, **kwargs: Any) -> tuple[list[FetchRecord], list[MissingDataset]]:
    """Obtain every dataset a run needs: the copies at hand (verified into the cache), and
    downloads of the missing ones that can be downloaded.

    Keyword arguments are those of :func:`missing_datasets`.

    Returns
    -------
    (records, missing)
        The fetch records obtained, and every need still unmet (all of them, not only the
        first): downloads that failed or are not possible, each with its URL and mirror path.
    """
    lad = check_lad_code(lad_code)
    records: list[FetchRecord] = []
    still: list[MissingDataset] = []
    for need in area_needs(**kwargs):
        ds_id = next((d for d in need.candidates if at_hand(d, lad)), None)
        try:
            records.append(fetch_preferred(ds_id or need.candidates[0], lad))
        except CnmapError:
            still.append(_missing(need, lad))
    return records, still
