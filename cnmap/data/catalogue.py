"""The data catalogue: one entry per official source, and the layout of offline mirrors.

The catalogue lives in ``data/boundaries/catalogue.toml`` (installed into wheels as
``cnmap/data/catalogue.toml``). Each entry names the publisher, its real download URL,
licence and attribution, vintage, CRS, key columns, how the publisher's column names map
onto cnmap's, and the files of an offline mirror (``CNMAP_DATA_MIRROR``) that stand in for
the download, with the local authorities (or postcode areas) each file covers.

A mirror folder may add entries of its own in a ``cnmap-mirror.toml`` file at its root::

    [[mirror]]
    dataset = "wards"
    path = "warrington/wards.geojson"
    lad_codes = ["E06000007"]

``CNMAP_DATA_MIRROR`` may name several folders separated by ``os.pathsep`` (``:`` on
POSIX); they are searched in order.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from cnmap import settings
from cnmap.errors import ValidationError

__all__ = [
    "Dataset",
    "MirrorEntry",
    "Catalogue",
    "catalogue",
    "catalogue_path",
    "sources_table",
    "mirror_dirs",
    "mirror_entries",
    "normalise_columns",
    "MIRROR_MANIFEST",
]

log = logging.getLogger(__name__)

MIRROR_MANIFEST = "cnmap-mirror.toml"
_ALL = "*"


@dataclass(frozen=True)
class MirrorEntry:
    """A file of an offline mirror standing in for (part of) a dataset.

    Attributes
    ----------
    dataset
        Catalogue id of the dataset.
    path
        Path relative to the mirror folder.
    lad_codes, postcode_areas
        What the file covers (``"*"`` = everything).
    sha256
        Expected checksum of the file (empty: not checked).
    vintage, notes, attribution
        Description of this copy (attribution empty: the dataset's).
    rename, rename_patterns
        Extra column renames for this copy.
    root
        The mirror folder this entry was found for (set when resolved against a folder).
    from_manifest
        True when the entry came from the folder's own ``cnmap-mirror.toml``.
    """

    dataset: str
    path: str
    lad_codes: tuple[str, ...] = ()
    postcode_areas: tuple[str, ...] = ()
    sha256: str = ""
    vintage: str = ""
    notes: str = ""
    attribution: str = ""
    rename: Mapping[str, str] = field(default_factory=dict)
    rename_patterns: Mapping[str, str] = field(default_factory=dict)
    root: Path | None = None
    from_manifest: bool = False

    def covers(self, *, lad_code: str | None = None, postcode_area: str | None = None) -> bool:
        """Whether this file holds the rows of ``lad_code`` / ``postcode_area``."""
        if lad_code is None and postcode_area is None:
            return True
        if lad_code is not None and (_ALL in self.lad_codes or lad_code in self.lad_codes):
            return True
        if postcode_area is not None and (
            _ALL in self.postcode_areas or postcode_area.upper() in self.postcode_areas
        ):
            return True
        return False

    @property
    def file(self) -> Path | None:
        """Absolute path of the file when the entry is resolved against a folder."""
        return None if self.root is None else self.root / self.path


@dataclass(frozen=True)
class Dataset:
    """One official source of the catalogue (see ``catalogue.toml`` for the fields)."""

    id: str
    title: str
    publisher: str
    url: str
    url_kind: str
    format: str
    coverage: str
    licence: str
    attribution: str
    vintage: str
    crs: str
    landing_page: str = ""
    licence_url: str = ""
    key_columns: tuple[str, ...] = ()
    rename: Mapping[str, str] = field(default_factory=dict)
    rename_patterns: Mapping[str, str] = field(default_factory=dict)
    sha256: str = ""
    member: str = ""
    derived: bool = False
    notes: str = ""
    mirror: tuple[MirrorEntry, ...] = ()

    @property
    def downloadable(self) -> bool:
        """True when cnmap can download the publisher's file itself."""
        return self.url_kind in {"direct", "arcgis_query"} and bool(self.url)

    def url_for(self, lad_code: str | None = None) -> str:
        """The download URL, with ``{lad_code}`` filled in for per-district downloads."""
        if "{lad_code}" in self.url:
            if lad_code is None:
                raise ValidationError(
                    f"dataset {self.id!r} is downloaded per local authority; pass lad_code="
                )
            return self.url.replace("{lad_code}", lad_code)
        return self.url


class Catalogue(Mapping[str, Dataset]):
    """Read-only mapping of dataset id to :class:`Dataset`."""

    def __init__(self, datasets: Mapping[str, Dataset], *, path: Path | None = None) -> None:
        self._datasets = dict(datasets)
        self.path = path

    def __getitem__(self, key: str) -> Dataset:
        try:
            return self._datasets[key]
        except KeyError:
            raise ValidationError(
                f"unknown dataset {key!r}; the catalogue ({self.path}) has {sorted(self._datasets)}"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._datasets)

    def __len__(self) -> int:
        return len(self._datasets)

    def __repr__(self) -> str:
        return f"Catalogue({len(self)} datasets from {self.path})"


def catalogue_path() -> Path:
    """Where the catalogue TOML is read from.

    The installed copy (``cnmap/data/catalogue.toml``, placed there by the wheel build) if
    present, else the repository's ``data/boundaries/catalogue.toml`` (editable checkout).
    """
    here = Path(__file__).resolve().parent
    installed = here / "catalogue.toml"
    if installed.is_file():
        return installed
    repo = here.parents[1] / "data" / "boundaries" / "catalogue.toml"
    if repo.is_file():
        return repo
    raise FileNotFoundError(
        f"cnmap data catalogue not found at {installed} or {repo}; reinstall cnmap"
    )


def _tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


def _mirror_entry(dataset: str, raw: Mapping[str, Any], **extra: Any) -> MirrorEntry:
    if "path" not in raw:
        raise ValidationError(f"mirror entry of dataset {dataset!r} has no 'path': {dict(raw)}")
    return MirrorEntry(
        dataset=dataset,
        path=str(raw["path"]),
        lad_codes=_tuple(raw.get("lad_codes")),
        postcode_areas=tuple(a.upper() for a in _tuple(raw.get("postcode_areas"))),
        sha256=str(raw.get("sha256", "")).lower(),
        vintage=str(raw.get("vintage", "")),
        notes=str(raw.get("notes", "")),
        attribution=str(raw.get("attribution", "")),
        rename=dict(raw.get("rename", {})),
        rename_patterns=dict(raw.get("rename_patterns", {})),
        **extra,
    )


def parse_catalogue(text: str, *, path: Path | None = None) -> Catalogue:
    """Parse catalogue TOML text into a :class:`Catalogue` (validating required fields)."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValidationError(f"catalogue {path}: not valid TOML ({exc})") from exc
    required = (
        "title",
        "publisher",
        "url",
        "url_kind",
        "format",
        "coverage",
        "licence",
        "attribution",
        "vintage",
        "crs",
    )
    out: dict[str, Dataset] = {}
    for ds_id, raw in doc.get("datasets", {}).items():
        missing = [k for k in required if k not in raw]
        if missing:
            raise ValidationError(f"catalogue {path}: dataset {ds_id!r} lacks {missing}")
        for pattern in raw.get("rename_patterns", {}):
            re.compile(pattern)
        out[ds_id] = Dataset(
            id=ds_id,
            title=raw["title"],
            publisher=raw["publisher"],
            url=raw["url"],
            url_kind=raw["url_kind"],
            format=raw["format"],
            coverage=raw["coverage"],
            licence=raw["licence"],
            attribution=raw["attribution"],
            vintage=raw["vintage"],
            crs=raw["crs"],
            landing_page=raw.get("landing_page", ""),
            licence_url=raw.get("licence_url", ""),
            key_columns=_tuple(raw.get("key_columns")),
            rename=dict(raw.get("rename", {})),
            rename_patterns=dict(raw.get("rename_patterns", {})),
            sha256=str(raw.get("sha256", "")).lower(),
            member=raw.get("member", ""),
            derived=bool(raw.get("derived", False)),
            notes=raw.get("notes", ""),
            mirror=tuple(_mirror_entry(ds_id, m) for m in raw.get("mirror", [])),
        )
    return Catalogue(out, path=path)


@functools.lru_cache(maxsize=4)
def _load(path: str, mtime: float) -> Catalogue:
    p = Path(path)
    return parse_catalogue(p.read_text(encoding="utf-8"), path=p)


def catalogue() -> Catalogue:
    """The data catalogue (parsed once, re-read if the file changes)."""
    p = catalogue_path()
    return _load(str(p), p.stat().st_mtime)


def mirror_dirs() -> list[Path]:
    """Mirror folders named by ``CNMAP_DATA_MIRROR`` (``os.pathsep``-separated), in order."""
    raw = os.environ.get("CNMAP_DATA_MIRROR", "")
    if not raw:
        return []
    if os.pathsep not in raw:
        single = settings.mirror_dir()
        return [single] if single is not None else []
    return [Path(p).expanduser().resolve() for p in raw.split(os.pathsep) if p.strip()]


@functools.lru_cache(maxsize=16)
def _manifest(root: str, mtime: float) -> tuple[MirrorEntry, ...]:
    path = Path(root) / MIRROR_MANIFEST
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValidationError(f"mirror manifest {path}: not valid TOML ({exc})") from exc
    entries = []
    for i, raw in enumerate(doc.get("mirror", [])):
        if "dataset" not in raw:
            raise ValidationError(f"mirror manifest {path}: entry {i} has no 'dataset'")
        entries.append(_mirror_entry(str(raw["dataset"]), raw, root=Path(root), from_manifest=True))
    return tuple(entries)


def mirror_entries(dataset_id: str, *, roots: list[Path] | None = None) -> list[MirrorEntry]:
    """Mirror files that may stand in for ``dataset_id``, resolved against each mirror folder.

    For each folder (in ``CNMAP_DATA_MIRROR`` order): its own manifest's entries first, then
    the catalogue's. Files that do not exist are left out.
    """
    ds = catalogue()[dataset_id]
    out: list[MirrorEntry] = []
    for root in mirror_dirs() if roots is None else roots:
        if not root.is_dir():
            log.warning("CNMAP_DATA_MIRROR folder %s does not exist; ignored", root)
            continue
        manifest = root / MIRROR_MANIFEST
        local: tuple[MirrorEntry, ...] = ()
        if manifest.is_file():
            local = _manifest(str(root), manifest.stat().st_mtime)
        candidates = [e for e in local if e.dataset == dataset_id]
        candidates += [dataclasses.replace(e, root=root) for e in ds.mirror]
        out.extend(e for e in candidates if e.file is not None and e.file.is_file())
    return out


def normalise_columns(
    frame: pd.DataFrame, dataset: Dataset, entry: MirrorEntry | None = None
) -> pd.DataFrame:
    """Rename a dataset's columns (publisher or mirror spelling) to cnmap's names.

    Exact renames of the mirror entry, then the dataset's exact renames, then its regex
    patterns are applied; other columns are kept unchanged.

    Raises
    ------
    ValidationError
        If two columns would get the same cnmap name.
    """
    exact = {**dict(dataset.rename), **(dict(entry.rename) if entry else {})}
    patterns = {**dict(dataset.rename_patterns), **(dict(entry.rename_patterns) if entry else {})}
    compiled = [(re.compile(p, re.IGNORECASE), target) for p, target in patterns.items()]
    mapping: dict[str, str] = {}
    for col in frame.columns:
        name = str(col)
        key = name.strip()
        target = exact.get(name, exact.get(key))
        if target is None:
            for rx, tgt in compiled:
                if rx.fullmatch(key):
                    target = tgt
                    break
        if target is not None and target != name:
            mapping[name] = target
    new_names = [mapping.get(str(c), str(c)) for c in frame.columns]
    seen: dict[str, str] = {}
    for old, new in zip(frame.columns, new_names, strict=True):
        if new in seen:
            raise ValidationError(
                f"dataset {dataset.id!r}: columns {seen[new]!r} and {str(old)!r} both map to "
                f"{new!r}; remove one of them from the file"
            )
        seen[new] = str(old)
    return frame.rename(columns=mapping)


def sources_table(ids: list[str] | None = None) -> pd.DataFrame:
    """The catalogue as a table: one row per dataset with publisher, URL, licence, vintage.

    Parameters
    ----------
    ids
        Dataset ids to include (default: all).
    """
    cat = catalogue()
    rows = []
    for ds_id in ids if ids is not None else list(cat):
        d = cat[ds_id]
        rows.append(
            {
                "id": d.id,
                "title": d.title,
                "publisher": d.publisher,
                "vintage": d.vintage,
                "licence": d.licence,
                "attribution": d.attribution,
                "url": d.url,
                "landing_page": d.landing_page,
                "url_kind": d.url_kind,
                "coverage": d.coverage,
                "crs": d.crs,
                "derived": d.derived,
                "mirror_files": "; ".join(m.path for m in d.mirror),
            }
        )
    return pd.DataFrame(rows)
