"""Fetch a catalogued dataset: verified cache, then offline mirror, then the publisher.

:func:`fetch` returns the path of a verified local copy; :func:`fetch_record` also says
where it came from. The order is

1. a **verified cached copy** in ``CNMAP_CACHE_DIR/data/<dataset>/`` covering the request;
2. a file of an **offline mirror** (``CNMAP_DATA_MIRROR``) covering it, copied into the cache
   exactly as a download would be;
3. the **publisher's URL** (urllib, timeout ``CNMAP_TIMEOUT``), unless ``CNMAP_OFFLINE=1``.

Every copy is written atomically (temporary file in the same folder, then ``os.replace``)
next to a sidecar ``<file>.cnmap.json`` recording sha256, size, source, URL and time.
Verification checks size and sha256 against the sidecar (and against the catalogue's
checksum when one is given), then a cheap structural check: the file parses and the
dataset's key columns are present. A truncated or corrupted cached file is logged, removed
and fetched again.

A cache folder that cannot be used - a file where the folder should be, a read-only
folder, a folder where a cached file belongs - raises :class:`cnmap.settings.CacheFolderError`
(a :class:`~cnmap.errors.DataFetchError`) naming the folder and the fix, never a raw
``PermissionError``/``IsADirectoryError``/``NotADirectoryError``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
import hashlib
import http.client
import io
import json
import logging
import os
import shutil
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, cast

import pandas as pd

from cnmap import settings
from cnmap.data.catalogue import (
    Dataset,
    MirrorEntry,
    catalogue,
    mirror_dirs,
    mirror_entries,
    normalise_columns,
)
from cnmap.errors import DataFetchError, DataIntegrityError, ValidationError

__all__ = [
    "FetchRecord",
    "fetch",
    "fetch_record",
    "verify_file",
    "file_sha256",
    "clear_checksum_memo",
    "file_format",
    "cached_records",
    "SIDECAR_SUFFIX",
]

log = logging.getLogger(__name__)

SIDECAR_SUFFIX = ".cnmap.json"
_CHUNK = 1 << 20
_USER_AGENT = "cnmap/0.1 (+https://github.com/; data catalogue fetcher)"
_ARCGIS_PAGE = 2000
_ARCGIS_MAX_PAGES = 500


@dataclass(frozen=True)
class FetchRecord:
    """Where a fetched file came from.

    Attributes
    ----------
    dataset
        Catalogue id.
    path
        The verified local copy (in the cache).
    source
        How this call obtained it: ``"cache"``, ``"mirror"`` or ``"url"``.
    origin
        Where the cached copy originally came from: ``"mirror"`` or ``"url"``.
    url
        The publisher's URL for this request.
    mirror_path
        Path inside the mirror folder (origin ``"mirror"``), else empty.
    mirror_root
        The mirror folder (origin ``"mirror"``), else empty.
    sha256, size, fetched_at
        Checksum, size in bytes and UTC time the copy was made.
    lad_codes, postcode_areas
        What the file covers (``"*"`` = everything).
    vintage, attribution, notes
        Of this copy (a mirror copy may differ from the catalogue's description).
    """

    dataset: str
    path: Path
    source: str
    origin: str
    url: str
    mirror_path: str
    mirror_root: str
    sha256: str
    size: int
    fetched_at: str
    lad_codes: tuple[str, ...]
    postcode_areas: tuple[str, ...]
    vintage: str
    attribution: str
    notes: str
    mirror_size: int = -1
    mirror_mtime_ns: int = -1

    @property
    def read_from(self) -> str:
        """Human-readable origin: ``mirror:<path>`` or ``url:<url>`` (plus ``(cached)``)."""
        where = f"mirror:{self.mirror_path}" if self.origin == "mirror" else f"url:{self.url}"
        return where + (" (cached)" if self.source == "cache" else "")

    def mirror_entry(self) -> MirrorEntry | None:
        """The mirror entry this copy came from (for its column renames), if any."""
        if self.origin != "mirror":
            return None
        for entry in mirror_entries(self.dataset, roots=[Path(self.mirror_root)]):
            if entry.path == self.mirror_path:
                return entry
        return None

    def covers(self, lad_code: str | None, postcode_area: str | None) -> bool:
        """True when the entry holds data for the district or postcode area (None: any)."""
        if lad_code is None and postcode_area is None:
            return True
        if lad_code is not None and ("*" in self.lad_codes or lad_code in self.lad_codes):
            return True
        return postcode_area is not None and (
            "*" in self.postcode_areas or postcode_area.upper() in self.postcode_areas
        )

    def to_json(self) -> dict[str, Any]:
        """The entry as JSON-ready values (the file by name only)."""
        d = dataclasses.asdict(self)
        d["path"] = self.path.name
        d["lad_codes"] = list(self.lad_codes)
        d["postcode_areas"] = list(self.postcode_areas)
        d.pop("source")
        return d


@dataclass(frozen=True)
class _Problem:
    text: str
    integrity: bool = False


# ----------------------------------------------------------------------------------------
# helpers: hashing, atomic writes, sidecars
# ----------------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


#: A file's state as the checksum memo knows it: path, device, inode, size, mtime_ns and
#: ctime_ns (any write, rename, ``touch`` or ``chmod`` changes one of them).
_FileState = tuple[str, int, int, int, int, int]
#: sha256 of the files hashed in this process, by their state when hashed.
_SHA_MEMO: dict[_FileState, str] = {}
_SHA_MEMO_MAX = 4096
#: A file modified less than this long before it was hashed is hashed again next time: a
#: later change within the file system's timestamp granularity could keep its mtime.
_RACY_NS = 2_000_000_000


def _file_state(path: Path) -> _FileState:
    st = os.stat(path)
    return (os.path.abspath(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def file_sha256(path: Path) -> str:
    """sha256 of ``path``, hashed once per process while the file is unchanged.

    The digest is remembered with the file's path, inode, size, mtime and ctime; a file
    whose state differs from the one hashed (modified, replaced, touched) is hashed again.
    A file changed less than two seconds before it was hashed is not remembered, so that a
    change within the file system's timestamp granularity is never missed.
    """
    before = _file_state(path)
    known = _SHA_MEMO.get(before)
    if known is not None:
        return known
    started = time.time_ns()
    digest = _sha256(path)
    settled = started - max(before[4], before[5]) > _RACY_NS
    if settled and _file_state(path) == before:
        if len(_SHA_MEMO) >= _SHA_MEMO_MAX:
            _SHA_MEMO.clear()
        _SHA_MEMO[before] = digest
    return digest


def clear_checksum_memo() -> None:
    """Forget the checksums remembered by :func:`file_sha256` (every file is hashed again)."""
    _SHA_MEMO.clear()


def _temp_beside(final: Path) -> Path:
    """A new empty temporary file in ``final``'s folder (made if needed)."""
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{final.name}.", suffix=f".part{final.suffix}", dir=final.parent
        )
    except OSError as exc:
        raise settings.cache_write_error(final, exc) from exc
    os.close(fd)
    return Path(tmp)


@contextlib.contextmanager
def _atomic_path(final: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; move it into place only on success.

    A cache folder that cannot be written (read-only, a file or a folder in the way) raises
    :class:`cnmap.settings.CacheFolderError` naming the folder and the fix.
    """
    tmp_path = _temp_beside(final)
    try:
        yield tmp_path
        try:
            os.replace(tmp_path, final)
        except OSError as exc:
            raise settings.cache_write_error(final, exc) from exc
    finally:
        with contextlib.suppress(OSError):
            tmp_path.unlink(missing_ok=True)


def _write_sidecar(record: FetchRecord) -> None:
    side = record.path.with_name(record.path.name + SIDECAR_SUFFIX)
    with _atomic_path(side) as tmp:
        tmp.write_text(json.dumps(record.to_json(), indent=2), encoding="utf-8")


def _read_sidecar(side: Path) -> FetchRecord | None:
    try:
        d = json.loads(side.read_text(encoding="utf-8"))
        return FetchRecord(
            dataset=d["dataset"],
            path=side.with_name(d["path"]),
            source="cache",
            origin=d["origin"],
            url=d.get("url", ""),
            mirror_path=d.get("mirror_path", ""),
            mirror_root=d.get("mirror_root", ""),
            sha256=d["sha256"],
            size=int(d["size"]),
            fetched_at=d.get("fetched_at", ""),
            lad_codes=tuple(d.get("lad_codes", ())),
            postcode_areas=tuple(d.get("postcode_areas", ())),
            vintage=d.get("vintage", ""),
            attribution=d.get("attribution", ""),
            notes=d.get("notes", ""),
            mirror_size=int(d.get("mirror_size", -1)),
            mirror_mtime_ns=int(d.get("mirror_mtime_ns", -1)),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("cache sidecar %s is unreadable (%s); ignoring it", side, exc)
        return None


def _dataset_cache(ds_id: str) -> Path:
    return settings.cache_dir() / "data" / ds_id


def _key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


def _discard(path: Path) -> None:
    for p in (path, path.with_name(path.name + SIDECAR_SUFFIX)):
        try:
            p.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:  # a folder in its place, or a read-only cache
            raise settings.cache_write_error(p, exc) from exc


# ----------------------------------------------------------------------------------------
# verification
# ----------------------------------------------------------------------------------------


def _csv_header(stream: IO[bytes], label: str) -> list[str]:
    try:
        head = pd.read_csv(stream, nrows=5, encoding="utf-8-sig", dtype=str)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise DataIntegrityError(f"{label}: not a readable CSV ({exc})") from exc
    return [str(c) for c in head.columns]


def _ends_with_newline(path: Path) -> bool:
    size = path.stat().st_size
    if size == 0:
        return False
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) in (b"\n", b"\r")


_SUFFIX_FORMATS = {
    ".csv": "csv",
    ".geojson": "geojson",
    ".json": "geojson",
    ".gpkg": "gpkg",
    ".zip": "zip",
    ".parquet": "parquet",
    ".pbf": "pbf",
}
_PARQUET_MAGIC = b"PAR1"


def file_format(name: str | Path, ds: Dataset) -> str:
    """Format of a file of ``ds``: from its suffix (a mirror copy may differ), else the
    catalogue's."""
    return _SUFFIX_FORMATS.get(Path(name).suffix.lower(), ds.format)


def _parquet_columns(path: Path, label: str) -> list[str]:
    """Column names of a Parquet file; its magic bytes at both ends are checked first."""
    with open(path, "rb") as f:
        head = f.read(4)
        f.seek(max(0, path.stat().st_size - 4))
        tail = f.read(4)
    if head != _PARQUET_MAGIC or tail != _PARQUET_MAGIC:
        raise DataIntegrityError(f"{label}: not a complete Parquet file (truncated or damaged)")
    try:
        import pyarrow.parquet as pq
    except ImportError:  # the magic bytes are all that can be checked without pyarrow
        return []
    try:
        return [str(c) for c in pq.read_schema(path).names]
    except Exception as exc:  # pyarrow raises its own ArrowInvalid family
        raise DataIntegrityError(f"{label}: cannot be parsed as Parquet ({exc})") from exc


def _pbf_columns(path: Path, label: str) -> list[str]:
    """Check the first block of an OSM PBF file (a BlobHeader of type ``OSMHeader``)."""
    with open(path, "rb") as f:
        head = f.read(64)
    size = int.from_bytes(head[:4], "big") if len(head) >= 4 else 0
    if size <= 0 or size > 64 * 1024 or b"OSMHeader" not in head[4 : 4 + min(size, 60)]:
        raise DataIntegrityError(f"{label}: not an OpenStreetMap PBF file (no OSMHeader block)")
    return []


def _structure_columns(
    path: Path, ds: Dataset, name: str | None = None, *, checksum_verified: bool = False
) -> list[str]:
    """Parse ``path`` cheaply according to its format; return its column names.

    With ``checksum_verified`` (the file matched a published sha256) the last-line heuristic
    for truncated CSV files is skipped: some official files end without a newline.
    """
    label = f"{ds.id} file {name or path}"
    if path.stat().st_size == 0:
        raise DataIntegrityError(f"{label}: the file is empty")
    fmt = file_format(name or path.name, ds)
    if fmt == "parquet":
        return _parquet_columns(path, label)
    if fmt == "pbf":
        return _pbf_columns(path, label)
    if fmt == "zip" or (fmt == "csv" and zipfile.is_zipfile(path)):
        try:
            with zipfile.ZipFile(path) as zf:
                name = _zip_member(zf, ds, label)
                with zf.open(name) as member:
                    return _csv_header(member, f"{label}!{name}")
        except zipfile.BadZipFile as exc:
            raise DataIntegrityError(f"{label}: damaged or truncated zip ({exc})") from exc
    if fmt == "csv":
        if not checksum_verified and not _ends_with_newline(path):
            raise DataIntegrityError(f"{label}: the last line is incomplete (truncated file)")
        with open(path, "rb") as f:
            return _csv_header(f, label)
    if fmt in {"geojson", "gpkg"}:
        import pyogrio

        if fmt == "geojson":
            with open(path, "rb") as f:
                f.seek(max(0, path.stat().st_size - 64))
                tail = f.read().rstrip()
            if not tail.endswith(b"}"):
                raise DataIntegrityError(f"{label}: GeoJSON does not end with '}}' (truncated)")
        try:
            if fmt == "gpkg":
                layers = pyogrio.list_layers(path)
                return [str(n) for n, _ in layers]
            info = pyogrio.read_info(path)
        except Exception as exc:  # pyogrio raises its own DataSourceError family
            raise DataIntegrityError(f"{label}: cannot be parsed ({exc})") from exc
        return [str(c) for c in info["fields"]]
    raise ValidationError(f"catalogue: dataset {ds.id!r} has unknown format {fmt!r}")


def _zip_member(zf: zipfile.ZipFile, ds: Dataset, label: str) -> str:
    names = [n for n in zf.namelist() if not n.endswith("/")]
    pattern = ds.member or "*.csv"
    hits = sorted(n for n in names if fnmatch.fnmatch(n, pattern))
    if not hits:
        raise DataIntegrityError(
            f"{label}: no member matching {pattern!r} in the zip (it has {names[:10]})"
        )
    return hits[0]


def verify_file(
    path: Path,
    dataset_id: str,
    *,
    sha256: str | None = None,
    size: int | None = None,
    entry: MirrorEntry | None = None,
    name: str | None = None,
) -> str:
    """Verify a local copy of a dataset; return its sha256.

    Parameters
    ----------
    path
        The file.
    dataset_id
        Catalogue id (gives the format and key columns).
    sha256, size
        Expected checksum and size (from a sidecar or the catalogue), if known.
    entry
        Mirror entry the file came from (its column renames apply).
    name
        File name that gives the format (default: ``path``'s; used for temporary files).

    Raises
    ------
    DataIntegrityError
        Size or checksum mismatch, unparsable file, or key columns missing.
    """
    ds = catalogue()[dataset_id]
    if not path.is_file():
        raise DataIntegrityError(f"{dataset_id}: {path} does not exist")
    actual_size = path.stat().st_size
    if size is not None and actual_size != size:
        raise DataIntegrityError(
            f"{dataset_id}: {path} has {actual_size:,} bytes but {size:,} were recorded "
            f"(truncated or changed)"
        )
    digest = file_sha256(path)
    if sha256 and digest != sha256.lower():
        raise DataIntegrityError(
            f"{dataset_id}: {path} has sha256 {digest} but {sha256} was expected "
            f"(corrupted, or a different release of the file)"
        )
    columns = _structure_columns(path, ds, name, checksum_verified=bool(sha256))
    fmt = file_format(name or path.name, ds)
    if ds.key_columns and fmt not in {"gpkg", "pbf"} and (columns or fmt != "parquet"):
        frame = pd.DataFrame(columns=columns)
        names = set(normalise_columns(frame, ds, entry).columns)
        missing = [c for c in ds.key_columns if c not in names]
        if missing:
            raise DataIntegrityError(
                f"{dataset_id}: {path} lacks the key column(s) {missing} (after renaming; "
                f"columns: {columns[:12]}{' ...' if len(columns) > 12 else ''})"
            )
    return digest


# ----------------------------------------------------------------------------------------
# the three sources
# ----------------------------------------------------------------------------------------


def cached_records(dataset_id: str) -> list[FetchRecord]:
    """Every cached copy of ``dataset_id`` that has a readable sidecar (not yet verified)."""
    folder = _dataset_cache(dataset_id)
    if not folder.is_dir():
        return []
    out = []
    for side in sorted(folder.rglob("*" + SIDECAR_SUFFIX)):
        rec = _read_sidecar(side)
        if rec is not None and rec.dataset == dataset_id:
            out.append(rec)
    return out


def _expected_sha(rec: FetchRecord, ds: Dataset) -> str:
    """Catalogue checksum that applies to a copy (mirror entry's or publisher file's)."""
    if rec.origin == "mirror":
        entry = rec.mirror_entry()
        return entry.sha256 if entry is not None else ""
    return ds.sha256


def _from_cache(
    ds: Dataset, lad_code: str | None, postcode_area: str | None, problems: list[_Problem]
) -> FetchRecord | None:
    preferred = _preferred_mirror_file(ds, lad_code, postcode_area)
    for rec in cached_records(ds.id):
        if not _cache_candidate(rec, lad_code, postcode_area, preferred):
            continue
        if not rec.path.is_file():
            _discard(rec.path)
            continue
        if rec.origin == "mirror" and _mirror_changed(rec):
            log.info(
                "%s: mirror file %s changed since it was cached; copying it again",
                ds.id,
                Path(rec.mirror_root) / rec.mirror_path,
            )
            continue
        try:
            entry = rec.mirror_entry()
            verify_file(rec.path, ds.id, sha256=rec.sha256, size=rec.size, entry=entry)
            expected = _expected_sha(rec, ds)
            if expected and expected != rec.sha256:
                raise DataIntegrityError(
                    f"{ds.id}: cached {rec.path} has sha256 {rec.sha256} but the catalogue "
                    f"now expects {expected}"
                )
        except DataIntegrityError as exc:
            log.warning("cached copy failed verification, fetching again: %s", exc)
            problems.append(_Problem(f"cache: {exc}", integrity=True))
            _discard(rec.path)
            continue
        log.debug("%s: verified cached copy %s", ds.id, rec.path)
        return rec
    return None


def _preferred_mirror_file(
    ds: Dataset, lad_code: str | None, postcode_area: str | None
) -> tuple[str, str] | None:
    """(root, path) of the mirror file the current mirror would serve first for a request.

    A district's own file (listed before the national one) must win over a national copy
    that an earlier request left in the cache, and vice versa for a national request.
    """
    entries = mirror_entries(ds.id)
    if lad_code is None and postcode_area is None:  # no district asked for: the national file
        entries = sorted(entries, key=lambda e: not _national(e))
    for entry in entries:
        if entry.covers(lad_code=lad_code, postcode_area=postcode_area):
            return (str(entry.root), entry.path)
    return None


def _national(entry: MirrorEntry) -> bool:
    return "*" in entry.lad_codes or "*" in entry.postcode_areas


def _cache_candidate(
    rec: FetchRecord,
    lad_code: str | None,
    postcode_area: str | None,
    preferred: tuple[str, str] | None,
) -> bool:
    """Whether a cached copy may answer this request.

    When the mirror has a file for the request, only the copy of that file (or a copy from
    the publisher) answers; otherwise any cached copy that covers the request does. With no
    district asked for, an arbitrary district's file never answers.
    """
    unconstrained = lad_code is None and postcode_area is None
    if not unconstrained and not rec.covers(lad_code, postcode_area):
        return False
    if rec.origin == "mirror" and preferred is not None:
        return (rec.mirror_root, rec.mirror_path) == preferred
    if unconstrained:
        return "*" in rec.lad_codes or "*" in rec.postcode_areas
    return True


def _mirror_changed(rec: FetchRecord) -> bool:
    """True when the mirror file a cached copy came from now has another size or mtime."""
    src = Path(rec.mirror_root) / rec.mirror_path
    try:
        st = src.stat()
    except OSError:
        return False  # mirror not reachable now: the cached copy stands in for it
    return (st.st_size, st.st_mtime_ns) != (rec.mirror_size, rec.mirror_mtime_ns)


def _from_mirror(
    ds: Dataset, lad_code: str | None, postcode_area: str | None, problems: list[_Problem]
) -> FetchRecord | None:
    entries = mirror_entries(ds.id)
    if lad_code is None and postcode_area is None:  # no district asked for: the national file
        entries = sorted(entries, key=lambda e: not _national(e))
    for entry in entries:
        if not entry.covers(lad_code=lad_code, postcode_area=postcode_area):
            continue
        assert entry.file is not None and entry.root is not None
        dest = _dataset_cache(ds.id) / f"mirror-{_key(str(entry.file))}" / Path(entry.path).name
        src_stat = entry.file.stat()
        try:
            with _atomic_path(dest) as tmp:
                with open(entry.file, "rb") as src, open(tmp, "wb") as dst:
                    shutil.copyfileobj(src, dst, _CHUNK)
                digest = verify_file(
                    tmp, ds.id, sha256=entry.sha256 or None, entry=entry, name=dest.name
                )
                size = tmp.stat().st_size
        except DataIntegrityError as exc:
            log.error("mirror file %s failed verification: %s", entry.file, exc)
            problems.append(_Problem(f"mirror {entry.file}: {exc}", integrity=True))
            continue
        except DataFetchError:
            raise
        except OSError as exc:  # reading the mirror file or writing the copy
            raise DataFetchError(
                f"{ds.id}: copying mirror file {entry.file} into the cache ({dest}) failed "
                f"({exc.strerror or exc}). Fix: check that the mirror file can be read and "
                "that CNMAP_CACHE_DIR names a folder with free space you can write to"
            ) from exc
        rec = FetchRecord(
            dataset=ds.id,
            path=dest,
            source="mirror",
            origin="mirror",
            url=_safe_url(ds, lad_code),
            mirror_path=entry.path,
            mirror_root=str(entry.root),
            sha256=digest,
            size=size,
            fetched_at=datetime.now(UTC).isoformat(timespec="seconds"),
            lad_codes=entry.lad_codes,
            postcode_areas=entry.postcode_areas,
            vintage=entry.vintage or ds.vintage,
            attribution=entry.attribution or ds.attribution,
            notes=entry.notes,
            mirror_size=src_stat.st_size,
            mirror_mtime_ns=src_stat.st_mtime_ns,
        )
        _write_sidecar(rec)
        log.info("%s: copied mirror file %s into the cache", ds.id, entry.file)
        return rec
    return None


def _safe_url(ds: Dataset, lad_code: str | None) -> str:
    if "{lad_code}" in ds.url and lad_code is None:
        return ds.url
    return ds.url_for(lad_code)


def _open(url: str, timeout: float) -> http.client.HTTPResponse:
    req = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    response = urllib.request.urlopen(req, timeout=timeout)  # noqa: S310 (http(s) only, checked)
    return cast(http.client.HTTPResponse, response)


def _stream_to(url: str, dest: Path, timeout: float) -> None:
    with _open(url, timeout) as resp, open(dest, "wb") as out:
        expected = resp.headers.get("Content-Length")
        got = 0
        try:
            for chunk in iter(lambda: resp.read(_CHUNK), b""):
                out.write(chunk)
                got += len(chunk)
        except http.client.IncompleteRead as exc:
            raise DataIntegrityError(
                f"download from {url} was cut short after {got + len(exc.partial):,} bytes"
                + (f" of {int(expected):,}" if expected else "")
            ) from exc
        if expected is not None and got != int(expected):
            raise DataIntegrityError(
                f"download from {url} gave {got:,} bytes but the server announced "
                f"{int(expected):,} (truncated)"
            )


def _arcgis_to(url: str, dest: Path, timeout: float) -> None:
    """Page through an ArcGIS FeatureServer query; write one GeoJSON FeatureCollection."""
    parts = urllib.parse.urlsplit(url)
    params = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
    features: list[Any] = []
    for _ in range(_ARCGIS_MAX_PAGES):
        page_params = {
            **params,
            "resultOffset": str(len(features)),
            "resultRecordCount": str(_ARCGIS_PAGE),
        }
        page_url = urllib.parse.urlunsplit(
            parts._replace(query=urllib.parse.urlencode(page_params))
        )
        buf = io.BytesIO()
        with _open(page_url, timeout) as resp:
            expected = resp.headers.get("Content-Length")
            try:
                shutil.copyfileobj(resp, buf)
            except http.client.IncompleteRead as exc:
                raise DataIntegrityError(f"ArcGIS page {page_url} was cut short") from exc
            if expected is not None and buf.tell() != int(expected):
                raise DataIntegrityError(f"ArcGIS page {page_url} was truncated")
        try:
            doc = json.loads(buf.getvalue().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DataIntegrityError(f"ArcGIS page {page_url} is not JSON ({exc})") from exc
        if "error" in doc:
            raise DataFetchError(f"ArcGIS service error for {page_url}: {doc['error']}")
        page = doc.get("features")
        if not isinstance(page, list):
            raise DataIntegrityError(f"ArcGIS page {page_url} has no 'features' list")
        features.extend(page)
        more = doc.get("exceededTransferLimit") or (doc.get("properties") or {}).get(
            "exceededTransferLimit"
        )
        if not page or not more:
            break
    else:
        raise DataFetchError(f"ArcGIS query {url} did not finish within {_ARCGIS_MAX_PAGES} pages")
    with open(dest, "w", encoding="utf-8") as out:
        json.dump({"type": "FeatureCollection", "features": features}, out)


def _from_url(
    ds: Dataset, lad_code: str | None, postcode_area: str | None, problems: list[_Problem]
) -> FetchRecord | None:
    if not ds.downloadable:
        problems.append(
            _Problem(
                f"url: {ds.id} has no automatic download ({ds.url_kind}); see {ds.landing_page}"
            )
        )
        return None
    if settings.offline():
        problems.append(_Problem("url: downloads are off (CNMAP_OFFLINE=1)"))
        return None
    if ds.coverage == "lad" and lad_code is None:
        problems.append(_Problem(f"url: {ds.id} is downloaded per local authority; pass lad_code="))
        return None
    url = ds.url_for(lad_code)
    if urllib.parse.urlsplit(url).scheme not in {"http", "https"}:
        raise ValidationError(f"catalogue: dataset {ds.id!r} has a non-HTTP URL {url!r}")
    name = Path(urllib.parse.urlsplit(url).path).name or ds.id
    if ds.url_kind == "arcgis_query":
        name = f"{ds.id}{'_' + lad_code if ds.coverage == 'lad' and lad_code else ''}.geojson"
    elif ds.format == "zip" and not name.endswith(".zip"):
        name = f"{ds.id}.zip"
    dest = _dataset_cache(ds.id) / f"url-{_key(url)}" / name
    timeout = settings.timeout_s()
    log.info("%s: downloading %s", ds.id, url)
    try:
        with _atomic_path(dest) as tmp:
            if ds.url_kind == "arcgis_query":
                _arcgis_to(url, tmp, timeout)
            else:
                _stream_to(url, tmp, timeout)
            digest = verify_file(tmp, ds.id, sha256=ds.sha256 or None, name=dest.name)
            size = tmp.stat().st_size
    except DataIntegrityError as exc:
        log.error("%s: download failed verification: %s", ds.id, exc)
        problems.append(_Problem(f"url {url}: {exc}", integrity=True))
        return None
    except settings.CacheFolderError:
        raise
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        log.error("%s: download from %s failed: %s", ds.id, url, exc)
        problems.append(_Problem(f"url {url}: {exc}"))
        return None
    rec = FetchRecord(
        dataset=ds.id,
        path=dest,
        source="url",
        origin="url",
        url=url,
        mirror_path="",
        mirror_root="",
        sha256=digest,
        size=size,
        fetched_at=datetime.now(UTC).isoformat(timespec="seconds"),
        lad_codes=("*",) if ds.coverage == "national" else ((lad_code,) if lad_code else ()),
        postcode_areas=("*",) if ds.coverage == "national" else (),
        vintage=ds.vintage,
        attribution=ds.attribution,
        notes="",
    )
    _write_sidecar(rec)
    return rec


# ----------------------------------------------------------------------------------------
# public API
# ----------------------------------------------------------------------------------------


def fetch_record(
    dataset_id: str,
    *,
    lad_code: str | None = None,
    postcode_area: str | None = None,
    refresh: bool = False,
) -> FetchRecord:
    """Obtain a verified local copy of a catalogued dataset and say where it came from.

    Parameters
    ----------
    dataset_id
        Catalogue id (see :func:`cnmap.data.sources_table`).
    lad_code
        Local authority district the rows are needed for: selects a mirror file covering it,
        and fills ``{lad_code}`` in per-district URLs.
    postcode_area
        For postcode data: the postcode area (``"B"``) a mirror file must cover.
    refresh
        Ignore cached copies (they are replaced by the fresh one).

    Returns
    -------
    FetchRecord

    Raises
    ------
    DataFetchError
        No verified cached copy, no usable mirror file and no successful download; the
        message names the dataset, its URL, ``CNMAP_DATA_MIRROR`` and ``CNMAP_CACHE_DIR``.
    DataIntegrityError
        (a DataFetchError) when the only candidates failed verification.
    cnmap.settings.CacheFolderError
        (a DataFetchError) when the cache folder cannot be used (a file, read-only, a
        folder where a file belongs); the message names the folder and the fix.
    """
    ds = catalogue()[dataset_id]
    problems: list[_Problem] = []
    rec = None if refresh else _from_cache(ds, lad_code, postcode_area, problems)
    if rec is None:
        rec = _from_mirror(ds, lad_code, postcode_area, problems)
    if rec is None:
        rec = _from_url(ds, lad_code, postcode_area, problems)
    if rec is not None:
        log.info("%s: %s (%s)", ds.id, rec.path, rec.read_from)
        return rec
    raise _fetch_error(ds, lad_code, postcode_area, problems)


def fetch(
    dataset_id: str,
    *,
    lad_code: str | None = None,
    postcode_area: str | None = None,
    refresh: bool = False,
) -> Path:
    """Path of a verified local copy of a catalogued dataset (see :func:`fetch_record`)."""
    return fetch_record(
        dataset_id, lad_code=lad_code, postcode_area=postcode_area, refresh=refresh
    ).path


def _fetch_error(
    ds: Dataset, lad_code: str | None, postcode_area: str | None, problems: list[_Problem]
) -> DataFetchError:
    what = (
        ds.id
        + (f" for LAD {lad_code}" if lad_code else "")
        + (f" for postcode area {postcode_area}" if postcode_area else "")
    )
    roots = mirror_dirs()
    mirror_failed = any(p.text.startswith("mirror") for p in problems)
    mirror_txt = (
        "CNMAP_DATA_MIRROR is not set"
        if not os.environ.get("CNMAP_DATA_MIRROR")
        else f"CNMAP_DATA_MIRROR={os.pathsep.join(map(str, roots))} "
        + ("gave no file that passed verification" if mirror_failed else "has no file covering it")
    )
    known = (
        ", ".join(f"{m.path} ({', '.join(m.lad_codes or m.postcode_areas)})" for m in ds.mirror)
        or "none"
    )
    url = _safe_url(ds, lad_code) if ds.url else "(none: derived dataset)"
    details = "; ".join(p.text for p in problems) if problems else "no candidates"
    cls = DataIntegrityError if any(p.integrity for p in problems) else DataFetchError
    return cls(
        f"cannot obtain dataset {what} ({ds.title}): no verified copy in the cache "
        f"(CNMAP_CACHE_DIR={settings.cache_dir()}), {mirror_txt}, and no download succeeded "
        f"[{details}]. Publisher URL: {url}. Fix: set CNMAP_DATA_MIRROR to a folder holding "
        f"the file (catalogue mirror paths: {known}), or allow downloads from the URL (unset "
        f"CNMAP_OFFLINE; downloads are kept in CNMAP_CACHE_DIR)."
    )
