"""Loaders: official geography, deprivation and postcodes of one local authority district.

:func:`load_area` assembles an :class:`cnmap.area.Area` (wards, LSOAs joined with every IoD
column present and ``population``, boundary, LSOA-to-ward lookup, sources) for any English
local authority district from the catalogued datasets, through :func:`cnmap.data.fetch`
(cache, mirror, publisher). :func:`load_postcodes` reads the ONS postcode lookup.

Every frame is in British National Grid (EPSG:27700) with valid geometries. Nothing is
specific to one district: every choice is driven by the LAD code and the catalogue.
"""

from __future__ import annotations

import copy
import logging
import re
import threading
import zipfile
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from cnmap.area import Area
from cnmap.columns import (
    BNG,
    EASTING,
    LAD_CODE,
    LAD_NAME,
    LAT,
    LON,
    LSOA_CODE,
    LSOA_NAME,
    NORTHING,
    POPULATION,
    POSTCODE,
    WARD_CODE,
    WARD_NAME,
    WGS84,
)
from cnmap.data.availability import at_hand, choose, fetch_preferred
from cnmap.data.catalogue import Dataset, MirrorEntry, catalogue, normalise_columns
from cnmap.data.fetch import FetchRecord, _zip_member, file_format
from cnmap.errors import (
    CRSError,
    DataFetchError,
    MissingColumnError,
    OptionalDependencyError,
    UnknownAreaError,
    ValidationError,
)
from cnmap.geo import apportion, repair_geometries

__all__ = [
    "load_area",
    "load_postcodes",
    "load_codepoint",
    "load_lsoa_change_lookup",
    "POPULATION_SOURCES",
    "POSTCODE_SOURCES",
    "read_dataset",
    "iod_on_lsoa21",
    "check_lad_code",
    "LSOA_VINTAGES",
    "IOD_EDITIONS",
    "POSTCODE_COLUMNS",
    "clear_table_cache",
]

log = logging.getLogger(__name__)

_T = TypeVar("_T")
_F = TypeVar("_F", bound=pd.DataFrame)

LSOA_VINTAGES = (2011, 2021)
IOD_EDITIONS = (2019, 2025)
#: ``population=`` choices of :func:`load_area`.
POPULATION_SOURCES = ("auto", "iod", "iod2019", "iod2025", "census2021")
#: ``source=`` choices of :func:`load_postcodes` (``postcodes=`` of :func:`load_area`).
POSTCODE_SOURCES = ("auto", "nspl", "codepoint")
#: Census 2021 columns :func:`load_area` adds when ``population="census2021"``.
CENSUS_TOTAL = "census2021_usual_residents"
CENSUS_65_PLUS = "census2021_aged_65_plus"
#: Columns kept by :func:`load_postcodes` (those the file has), in this order.
POSTCODE_COLUMNS = (
    POSTCODE,
    LAT,
    LON,
    EASTING,
    NORTHING,
    "lsoa21_code",
    "lsoa21_name",
    "lsoa11_code",
    WARD_CODE,
    WARD_NAME,
    LAD_CODE,
    "imd_rank",
)
_LAD_RE = re.compile(r"^[EWSN]\d{8}$")
_ENGLISH_LAD_TYPES = {
    "E06": "unitary authority",
    "E07": "non-metropolitan district",
    "E08": "metropolitan district",
    "E09": "London borough",
}
_GSS_TYPES = {
    "E05": "an electoral ward",
    "E01": "an LSOA",
    "E02": "an MSOA",
    "E10": "a county",
    "E11": "a metropolitan county",
    "E12": "a region",
}
#: IoD population denominators: counts, apportioned by area when 2011 LSOAs change.
_POP_COLUMNS = ("pop_total", "pop_children_0_15", "pop_16_59", "pop_60_plus", "pop_working_age")


# ----------------------------------------------------------------------------------------
# arguments
# ----------------------------------------------------------------------------------------


def check_lad_code(lad_code: object) -> str:
    """Return the normalised (upper-case, stripped) LAD code, or raise ValidationError.

    English local authority districts have GSS codes ``E06`` (unitary), ``E07``
    (non-metropolitan), ``E08`` (metropolitan) or ``E09`` (London borough) + 6 digits.
    """
    if not isinstance(lad_code, str):
        raise ValidationError(
            f"lad_code must be a string like 'E08000025', not {type(lad_code).__name__} "
            f"{lad_code!r}"
        )
    code = lad_code.strip().upper()
    if not _LAD_RE.fullmatch(code):
        raise ValidationError(
            f"lad_code {lad_code!r} is malformed: expected an ONS GSS code, a letter and 8 "
            f"digits such as 'E08000025' (Birmingham)"
        )
    prefix = code[:3]
    if prefix not in _ENGLISH_LAD_TYPES:
        kind = _GSS_TYPES.get(prefix, "not an English local authority district")
        raise ValidationError(
            f"lad_code {code!r} is {kind} code ({prefix}); cnmap needs an English local "
            f"authority district code starting E06, E07, E08 or E09 (the Indices of "
            f"Deprivation cover England only)"
        )
    return code


# ----------------------------------------------------------------------------------------
# reading a fetched file
# ----------------------------------------------------------------------------------------


def _usecols(
    wanted: Sequence[str] | None, ds: Dataset, entry: MirrorEntry | None
) -> Callable[[str], bool] | None:
    """The column filter of a table read for the columns ``wanted`` (named as after
    :func:`~cnmap.data.catalogue.normalise_columns`); None reads every column."""
    if wanted is None:
        return None
    wanted_set = set(wanted)

    def keep(name: str) -> bool:
        renamed = normalise_columns(pd.DataFrame(columns=[name]), ds, entry).columns[0]
        return renamed in wanted_set

    return keep


def _lad_field(record: FetchRecord, ds: Dataset, entry: MirrorEntry | None) -> str | None:
    """The field of a spatial file that holds the LAD code (renamed to ``lad_code``), if any
    can be used in an OGR SQL filter."""
    import pyogrio

    fields = [str(f) for f in pyogrio.read_info(record.path)["fields"]]
    renamed = normalise_columns(pd.DataFrame(columns=fields), ds, entry).columns
    for raw, new in zip(fields, renamed, strict=True):
        if new == LAD_CODE and re.fullmatch(r"\w+", raw):
            return raw
    return None


# ----------------------------------------------------------------------------------------
# per-process cache of whole files
# ----------------------------------------------------------------------------------------
#
# A national run loads hundreds of districts in each worker process from the same national
# files (the IoD2025 tables, the LSOA21 lookup, Census 2021 RM121, the LSOA and ward
# boundaries, Code-Point Open). Each is read once per process and kept here, keyed by the
# verified file (dataset, path, size, mtime_ns, sha256, mirror file) and what was read; the
# districts are then filtered from it. A replaced or modified file has another key and is
# read again. Callers always get a copy: nothing they do reaches the cached frame.

_TABLES: OrderedDict[tuple[Hashable, ...], Any] = OrderedDict()
_TABLES_MAX = 32
_TABLES_LOCK = threading.Lock()
#: Districts each spatial file was asked for with a LAD filter (file key -> LAD codes).
_LADS_ASKED: dict[tuple[Hashable, ...], set[str]] = {}


def _file_key(record: FetchRecord) -> tuple[Hashable, ...]:
    """A verified file as the cache knows it (a changed file gets another key)."""
    st = Path(record.path).stat()
    return (
        record.dataset,
        str(record.path),
        st.st_size,
        st.st_mtime_ns,
        record.sha256,
        record.mirror_root,
        record.mirror_path,
    )


def _cached(key: tuple[Hashable, ...], build: Callable[[], _T]) -> _T:
    """The value kept under ``key``, built (and kept, least recently used dropped) if absent.

    The value itself is returned: callers hand out copies (:func:`_fresh`)."""
    with _TABLES_LOCK:
        if key in _TABLES:
            _TABLES.move_to_end(key)
            return cast(_T, _TABLES[key])
    value = build()
    with _TABLES_LOCK:
        _TABLES[key] = value
        while len(_TABLES) > _TABLES_MAX:
            _TABLES.popitem(last=False)
    return value


def _is_cached(key: tuple[Hashable, ...]) -> bool:
    with _TABLES_LOCK:
        return key in _TABLES


def _fresh(frame: _F) -> _F:
    """A deep copy of a cached frame (its ``attrs`` too): the caller may change it freely."""
    out = cast(_F, frame.copy(deep=True))
    out.attrs = copy.deepcopy(frame.attrs)
    return out


def clear_table_cache() -> None:
    """Forget every file read and kept by this process (each is read again when asked)."""
    with _TABLES_LOCK:
        _TABLES.clear()
        _LADS_ASKED.clear()


# ----------------------------------------------------------------------------------------
# reading a fetched file
# ----------------------------------------------------------------------------------------

_SPATIAL_FORMATS = frozenset({"geojson", "gpkg"})


def _read_geo(record: FetchRecord, where: str | None, to_crs: str | None) -> gpd.GeoDataFrame:
    path = record.path
    frame = gpd.read_file(path, where=where) if where else gpd.read_file(path)
    if frame.crs is None:
        raise CRSError(
            f"{record.dataset} file {path} ({record.read_from}) has no CRS; GeoJSON must "
            f"be in EPSG:4326 or declare its CRS"
        )
    if to_crs is not None and not frame.crs.equals(to_crs):
        frame = frame.to_crs(to_crs)
    return frame


def _read_text(record: FetchRecord, ds: Dataset, usecols: Any) -> pd.DataFrame:
    path = record.path
    if file_format(path, ds) == "zip" or zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            member = _zip_member(zf, ds, str(path))
            with zf.open(member) as f:
                return pd.read_csv(f, encoding="utf-8-sig", dtype=str, usecols=usecols)
    return pd.read_csv(path, encoding="utf-8-sig", dtype=str, usecols=usecols)


def _whole_geo(
    record: FetchRecord, ds: Dataset, entry: MirrorEntry | None, to_crs: str | None
) -> pd.DataFrame:
    """A spatial file read whole, renamed (kept for the process)."""
    return _cached(
        _file_key(record) + ("geo", to_crs),
        lambda: normalise_columns(_read_geo(record, None, to_crs), ds, entry),
    )


def _wants_whole(record: FetchRecord, lad_code: str, to_crs: str | None) -> bool:
    """Whether a LAD-filtered read should come from the whole file kept for the process:
    once the file is kept, or once this process has asked it for another district (a
    national file serving many districts: read whole once, then filtered). A single
    district's read stays a filtered read."""
    base = _file_key(record)
    if _is_cached(base + ("geo", to_crs)):
        return True
    with _TABLES_LOCK:
        asked = _LADS_ASKED.setdefault(base, set())
        asked.add(lad_code)
        return len(asked) > 1


def _read_spatial(
    record: FetchRecord,
    ds: Dataset,
    entry: MirrorEntry | None,
    to_crs: str | None,
    lad_code: str | None,
) -> pd.DataFrame:
    """A spatial file, renamed; with ``lad_code`` and a LAD field, that district's rows
    (the features ``<field> = '<lad_code>'`` selects, in file order)."""
    field = _lad_field(record, ds, entry) if lad_code is not None else None
    if lad_code is None or field is None:
        return _fresh(_whole_geo(record, ds, entry, to_crs))
    if not _wants_whole(record, lad_code, to_crs):
        where = f"{field} = '{lad_code}'"  # lad_code is a checked GSS code
        return normalise_columns(_read_geo(record, where, to_crs), ds, entry)
    whole = _whole_geo(record, ds, entry, to_crs)
    rows = whole.loc[(whole[LAD_CODE] == lad_code).to_numpy()].reset_index(drop=True)
    return _fresh(rows)


def read_dataset(
    record: FetchRecord,
    *,
    columns: Sequence[str] | None = None,
    to_crs: str | None = BNG,
    lad_code: str | None = None,
) -> pd.DataFrame:
    """Read a fetched file and rename its columns to cnmap's names.

    Parameters
    ----------
    record
        From :func:`cnmap.data.fetch_record`.
    columns
        cnmap column names to keep (CSV/zip only; others are not read). Default: all.
    to_crs
        For spatial files: reproject to this CRS (default EPSG:27700); None keeps the file's.
    lad_code
        For spatial files with a LAD field (a national file): read only that district's
        features. Other files are read whole (the caller selects the rows).

    Returns
    -------
    DataFrame or GeoDataFrame
        ``attrs["source"]`` holds ``record.read_from``. A fresh copy: each file is read
        once per process and kept (by path, size, mtime and sha256), a spatial file read
        whole once it is asked for a second district.

    Raises
    ------
    CRSError
        A spatial file without a CRS.
    """
    ds = catalogue()[record.dataset]
    entry = record.mirror_entry()
    if file_format(record.path, ds) in _SPATIAL_FORMATS:
        frame = _read_spatial(record, ds, entry, to_crs, lad_code)
    else:
        wanted = tuple(columns) if columns is not None else None
        frame = _fresh(
            _cached(
                _file_key(record) + ("table", wanted),
                lambda: normalise_columns(
                    _read_text(record, ds, _usecols(wanted, ds, entry)), ds, entry
                ),
            )
        )
    frame.attrs["source"] = record.read_from
    return frame


def _codes(series: pd.Series) -> pd.Series:
    return series.astype("str").str.strip().str.upper()


def _fetch(
    dataset_id: str,
    lad_code: str | None,
    records: list[FetchRecord],
    postcode_area: str | None = None,
) -> FetchRecord:
    rec = fetch_preferred(dataset_id, lad_code, postcode_area)
    records.append(rec)
    return rec


def _select_lad(frame: pd.DataFrame, lad_code: str, rec: FetchRecord) -> pd.DataFrame:
    """Rows of ``lad_code`` when the frame has a LAD column (else all rows)."""
    if LAD_CODE not in frame.columns:
        return frame
    mask = (_codes(frame[LAD_CODE]) == lad_code).to_numpy()
    if not mask.any():
        present = sorted(_codes(frame[LAD_CODE]).dropna().unique().tolist())
        raise UnknownAreaError(
            f"local authority {lad_code} is not in {rec.dataset} ({rec.read_from}), which "
            f"covers {len(present)} district(s){': ' + ', '.join(present[:8]) if present else ''}"
            f"{' ...' if len(present) > 8 else ''}; check the code (current ONS LAD codes) or "
            f"point CNMAP_DATA_MIRROR at data for that district"
        )
    return frame.loc[mask]


def _geo(frame: pd.DataFrame, name: str, id_col: str, notes: list[str]) -> gpd.GeoDataFrame:
    gdf = gpd.GeoDataFrame(frame, geometry=frame.geometry.name, crs=frame.crs)
    missing = gdf.geometry.isna() | gdf.geometry.is_empty
    if missing.any():
        raise ValidationError(
            f"{name}: {int(missing.sum())} feature(s) without geometry: "
            f"{gdf.loc[missing, id_col].astype(str).tolist()[:20]}"
        )
    fixed, ids = repair_geometries(gdf, name=name, id_col=id_col)
    if ids:
        notes.append(
            f"{name}: {len(ids)} invalid geometries repaired with make_valid "
            f"({', '.join(ids[:10])}{' ...' if len(ids) > 10 else ''})"
        )
    return fixed.reset_index(drop=True)


def _unique(frame: pd.DataFrame, col: str, name: str) -> None:
    dup = frame[col].duplicated(keep=False)
    if dup.any():
        raise ValidationError(
            f"{name}: duplicate {col} values {sorted(frame.loc[dup, col].unique().tolist())[:20]}"
            f"; each must appear once"
        )


# ----------------------------------------------------------------------------------------
# pieces of an area
# ----------------------------------------------------------------------------------------


def _lookup21(lad: str, records: list[FetchRecord]) -> pd.DataFrame:
    rec = _fetch("lsoa2021_ward_lookup", lad, records)
    df = read_dataset(rec)
    missing = [c for c in (LSOA_CODE, WARD_CODE) if c not in df.columns]
    if missing:
        raise MissingColumnError(f"lsoa2021_ward_lookup ({rec.read_from}) lacks {missing}")
    df = _select_lad(df, lad, rec)
    if df.empty:
        raise UnknownAreaError(f"local authority {lad}: no rows in {rec.read_from}")
    out = pd.DataFrame({LSOA_CODE: _codes(df[LSOA_CODE]), WARD_CODE: _codes(df[WARD_CODE])})
    for col in (LSOA_NAME, WARD_NAME, LAD_NAME):
        if col in df.columns:
            out[col] = df[col].astype("str").to_numpy()
    out[LAD_CODE] = lad
    _unique(out, LSOA_CODE, f"lsoa2021_ward_lookup ({rec.read_from})")
    return out.reset_index(drop=True)


def _read_for_lad(rec: FetchRecord, lad: str) -> pd.DataFrame:
    """A spatial file's rows of ``lad`` when it has a LAD field (all rows if that finds none,
    so that the caller's error can say which districts the file covers)."""
    df = read_dataset(rec, lad_code=lad)
    if len(df) == 0:
        df = read_dataset(rec)
    return df


#: Datasets that can give each piece of an area, in order of preference.
WARD_DATASETS = ("wards", "wards_bsc")
LSOA2021_DATASETS = ("lsoa2021", "lsoa2021_bsc")


def _wards(
    lad: str, lookup21: pd.DataFrame, records: list[FetchRecord], notes: list[str]
) -> gpd.GeoDataFrame:
    ds_id = choose(WARD_DATASETS, lad)
    rec = _fetch(ds_id, lad, records)
    df = _read_for_lad(rec, lad)
    if LAD_CODE in df.columns:
        df = _select_lad(df, lad, rec)
    else:
        df = df[_codes(df[WARD_CODE]).isin(set(lookup21[WARD_CODE]))]
        if df.empty:
            raise UnknownAreaError(f"local authority {lad}: none of its wards in {rec.read_from}")
    if ds_id != WARD_DATASETS[0]:
        notes.append(
            f"wards: {catalogue()[ds_id].title} ({rec.read_from}); no 20 m (BGC) "
            f"ward boundaries of {lad} were at hand"
        )
    out = gpd.GeoDataFrame(
        {
            WARD_CODE: _codes(df[WARD_CODE]).to_numpy(),
            WARD_NAME: (
                df[WARD_NAME].astype("str")
                if WARD_NAME in df.columns
                else pd.Series(pd.NA, index=df.index, dtype="str")
            ).to_numpy(),
            LAD_CODE: lad,
        },
        geometry=df.geometry.to_numpy(),
        crs=df.crs,
    )
    out = _geo(out, f"{ds_id} ({rec.read_from})", WARD_CODE, notes)
    _unique(out, WARD_CODE, f"{ds_id} ({rec.read_from})")
    return out.sort_values(WARD_CODE, kind="stable").reset_index(drop=True)


def _lsoa_polygons(
    dataset_id: str,
    lad: str,
    wards: gpd.GeoDataFrame,
    codes: set[str] | None,
    records: list[FetchRecord],
    notes: list[str],
) -> gpd.GeoDataFrame:
    """LSOA polygons of the district: by LAD column, else by ``codes``, else spatially."""
    rec = _fetch(dataset_id, lad, records)
    df = _read_for_lad(rec, lad)
    if LSOA_CODE not in df.columns:
        raise MissingColumnError(f"{dataset_id} ({rec.read_from}) has no LSOA code column")
    df = df.assign(**{LSOA_CODE: _codes(df[LSOA_CODE])})
    if LAD_CODE in df.columns:
        df = _select_lad(df, lad, rec)
        how = "LAD column"
    elif codes is not None:
        df = df[df[LSOA_CODE].isin(codes)]
        how = "the LSOA21 lookup"
    else:
        # national file without a LAD column: LSOAs whose interior point is in the wards
        pts = shapely.point_on_surface(np.asarray(df.geometry.values))
        district = shapely.union_all(np.asarray(wards.geometry.values))
        df = df[shapely.contains(district, pts) | shapely.touches(district, pts)]
        how = "interior point within the district's wards"
    if df.empty:
        raise UnknownAreaError(f"local authority {lad}: no LSOAs in {rec.read_from}")
    log.info("%s: %d LSOAs of %s selected by %s", dataset_id, len(df), lad, how)
    name = df[LSOA_NAME].astype("str").to_numpy() if LSOA_NAME in df.columns else None
    out = gpd.GeoDataFrame(
        {
            LSOA_CODE: df[LSOA_CODE].to_numpy(),
            LSOA_NAME: name if name is not None else pd.array([pd.NA] * len(df), dtype="str"),
        },
        geometry=df.geometry.to_numpy(),
        crs=df.crs,
    )
    out = _geo(out, f"{dataset_id} ({rec.read_from})", LSOA_CODE, notes)
    _unique(out, LSOA_CODE, f"{dataset_id} ({rec.read_from})")
    return out.sort_values(LSOA_CODE, kind="stable").reset_index(drop=True)


def _bestfit11(
    lad: str,
    lsoa11: gpd.GeoDataFrame,
    lookup21: pd.DataFrame,
    wards: gpd.GeoDataFrame,
    records: list[FetchRecord],
    notes: list[str],
) -> tuple[pd.DataFrame, str]:
    """LSOA11 -> ward best fit: the catalogued file if reachable, else derived here."""
    try:
        rec = _fetch("lsoa2011_ward_bestfit", lad, records)
    except DataFetchError as exc:
        log.info("lsoa2011_ward_bestfit not available (%s); deriving it", str(exc)[:200])
        return _derive_bestfit11(lsoa11, lookup21, wards, notes), "derived"
    df = _select_lad(read_dataset(rec), lad, rec)
    out = pd.DataFrame({LSOA_CODE: _codes(df[LSOA_CODE]), WARD_CODE: _codes(df[WARD_CODE])})
    if WARD_NAME in df.columns:
        out[WARD_NAME] = df[WARD_NAME].astype("str").to_numpy()
    out["method"] = df["method"].astype("str").to_numpy() if "method" in df.columns else "file"
    _unique(out, LSOA_CODE, f"lsoa2011_ward_bestfit ({rec.read_from})")
    return out.reset_index(drop=True), rec.read_from


def _derive_bestfit11(
    lsoa11: gpd.GeoDataFrame, lookup21: pd.DataFrame, wards: gpd.GeoDataFrame, notes: list[str]
) -> pd.DataFrame:
    ward_of = lookup21.set_index(LSOA_CODE)[WARD_CODE]
    same = lsoa11[LSOA_CODE].isin(ward_of.index).to_numpy()
    out = pd.DataFrame({LSOA_CODE: lsoa11[LSOA_CODE].to_numpy()})
    out[WARD_CODE] = lsoa11[LSOA_CODE].map(ward_of).to_numpy()
    out["method"] = np.where(same, "ons_lsoa21_lookup_same_code", "area_overlay_max_share")
    if (~same).any():
        changed = lsoa11.loc[~same]
        w_pos, l_pos = changed.sindex.query(
            np.asarray(wards.geometry.values), predicate="intersects"
        )
        inter = shapely.area(
            shapely.intersection(
                np.asarray(wards.geometry.values)[w_pos], np.asarray(changed.geometry.values)[l_pos]
            )
        )
        pairs = pd.DataFrame(
            {"l": l_pos, "ward": wards[WARD_CODE].to_numpy()[w_pos], "area": inter}
        )
        pairs = pairs[pairs["area"] > 0].sort_values(
            ["l", "area", "ward"], ascending=[True, False, True]
        )
        best = pairs.drop_duplicates("l")
        idx = np.flatnonzero(~same)
        wards_best = pd.Series(best["ward"].to_numpy(), index=best["l"].to_numpy())
        none = [
            changed[LSOA_CODE].iloc[i] for i in range(len(changed)) if i not in wards_best.index
        ]
        if none:
            raise ValidationError(
                f"2011 LSOA(s) {none[:20]} overlap none of the district's wards; the LSOA and "
                f"ward boundaries do not describe the same district"
            )
        out.loc[idx, WARD_CODE] = wards_best.reindex(range(len(changed))).to_numpy()
    names = wards.set_index(WARD_CODE)[WARD_NAME]
    out[WARD_NAME] = out[WARD_CODE].map(names).astype("str")
    notes.append(
        f"LSOA2011->ward best fit derived by cnmap: {int(same.sum())} by unchanged code "
        f"(official LSOA21 lookup), {int((~same).sum())} by largest area overlap"
    )
    return out


#: IoD2025 datasets: the full File 7, else its all-England column subsets.
IOD2025_FULL = "iod2025_file7"
IOD2025_PARTS = ("iod2025_domains", "iod2025_subdomains")


def _iod_file(rec: FetchRecord, edition: int) -> pd.DataFrame:
    """:func:`cnmap.iod.read_iod` of a fetched file (read once per process and kept; the
    caller changes its own copy only when it copies it)."""
    from cnmap.iod import read_iod

    return _cached(_file_key(rec) + ("iod", edition), lambda: read_iod(rec.path, edition=edition))


def _read_iod(lad: str, iod: int, records: list[FetchRecord], notes: list[str]) -> pd.DataFrame:
    """The IoD table of the edition: File 7 if at hand (or downloadable), else, for IoD2025,
    the all-England IMD and domains table plus its sub-domains where at hand."""
    if iod == 2025 and not at_hand(IOD2025_FULL, lad) and at_hand(IOD2025_PARTS[0], lad):
        return _read_iod2025_parts(lad, records, notes)
    rec = _fetch(f"iod{iod}_file7", lad, records)
    table = _fresh(_iod_file(rec, iod))
    table.attrs["source"] = rec.read_from
    table.attrs["dataset"] = rec.dataset
    return table


def _iod2025_merged(rec: FetchRecord, sub_rec: FetchRecord) -> pd.DataFrame:
    """The IoD2025 IMD and domains table with the sub-domains' columns (kept per process)."""

    def build() -> pd.DataFrame:
        table = _iod_file(rec, 2025)
        sub = _iod_file(sub_rec, 2025)
        missing = sorted(set(table["lsoa_code"]) - set(sub["lsoa_code"]))
        if missing:
            raise ValidationError(
                f"{len(missing)} LSOA(s) of {rec.read_from} have no row in the IoD2025 "
                f"sub-domains table {sub_rec.read_from}: {missing[:20]}; the two tables must "
                f"cover the same LSOAs (use the matching files, or File 7 itself)"
            )
        extra = [c for c in sub.columns if c != "lsoa_code" and c not in table.columns]
        return table.merge(
            sub[["lsoa_code", *extra]], on="lsoa_code", how="left", validate="one_to_one"
        )

    return _cached(_file_key(rec) + ("iod2025+", _file_key(sub_rec)), build)


def _read_iod2025_parts(lad: str, records: list[FetchRecord], notes: list[str]) -> pd.DataFrame:
    rec = _fetch(IOD2025_PARTS[0], lad, records)
    source = rec.read_from
    if at_hand(IOD2025_PARTS[1], lad):
        sub_rec = _fetch(IOD2025_PARTS[1], lad, records)
        table = _fresh(_iod2025_merged(rec, sub_rec))
        source = f"{rec.read_from} + {sub_rec.read_from}"
    else:
        table = _fresh(_iod_file(rec, 2025))
        notes.append(
            "IoD2025 sub-domains: not at hand (iod2025_subdomains); the LSOA table "
            "has the IMD and the 7 domains only"
        )
    notes.append(
        f"IoD2025 from {source}: File 7's IMD, domain and sub-domain columns; no "
        f"IDACI, IDAOPI or mid-2022 population denominators (not in that table)"
    )
    table.attrs.update({"source": source, "dataset": rec.dataset, "iod_edition": 2025})
    return table


def _join_iod(
    lsoas: gpd.GeoDataFrame, iod_table: pd.DataFrame, lad: str, label: str
) -> gpd.GeoDataFrame:
    """Attach IoD columns to LSOA polygons; every LSOA must have its row (and vice versa)."""
    src = iod_table.attrs.get("source", "IoD table")
    codes = set(lsoas[LSOA_CODE])
    missing = sorted(
        set(lsoas.loc[~lsoas[LSOA_CODE].isin(iod_table[LSOA_CODE]).to_numpy(), LSOA_CODE])
    )
    if missing:
        raise ValidationError(
            f"{len(missing)} LSOA(s) of {label} have no IoD row in {src}: {missing[:30]}"
            f"{' ...' if len(missing) > 30 else ''}; the IoD file must cover the district "
            f"(IoD2019 uses 2011 LSOA codes, IoD2025 2021 codes)"
        )
    if LAD_CODE in iod_table.columns:
        extra = iod_table.loc[
            (iod_table[LAD_CODE] == lad) & ~iod_table[LSOA_CODE].isin(codes), LSOA_CODE
        ]
        if len(extra):
            raise ValidationError(
                f"{len(extra)} IoD row(s) of {lad} in {src} have no LSOA in {label}: "
                f"{sorted(extra)[:30]}; the boundary file is incomplete for the district"
            )
    rows = iod_table[iod_table[LSOA_CODE].isin(codes)]
    extra_cols = [c for c in rows.columns if c not in (LSOA_CODE, LSOA_NAME)]
    merged = lsoas.merge(
        rows[[LSOA_CODE, *extra_cols]], on=LSOA_CODE, how="left", validate="one_to_one"
    )
    if LSOA_NAME in rows.columns:
        fill = rows.set_index(LSOA_CODE)[LSOA_NAME]
        merged[LSOA_NAME] = merged[LSOA_NAME].fillna(merged[LSOA_CODE].map(fill))
    return merged


def iod_on_lsoa21(
    lsoa21: gpd.GeoDataFrame,
    lsoa11: gpd.GeoDataFrame,
    *,
    count_columns: Sequence[str] = _POP_COLUMNS,
) -> pd.DataFrame:
    """Carry IoD2019 values (on 2011 LSOAs) over to 2021 LSOAs.

    - A 2021 LSOA whose code existed in 2011 is the same area (ONS keeps a code only when
      the boundary is unchanged): it takes that LSOA's values (``iod_method = "same_code"``).
    - The other (split, merged or redrawn) 2021 LSOAs share the counts of the changed 2011
      LSOAs by area: each changed 2011 LSOA's count is divided among the changed 2021 LSOAs
      in proportion to overlap area, with the shares of each 2011 LSOA rescaled to sum to 1
      so that the total is conserved exactly (generalised boundaries of the two vintages do
      not match to the metre). This assumes people are spread evenly within each 2011 LSOA.
    - Their scores, ranks and deciles come from the 2011 LSOA covering the largest share of
      their area (``iod_method = "largest_overlap"``), recorded in ``iod_lsoa11_code`` with
      ``iod_overlap_share``. Ranks and deciles so copied are approximations (the IoD2019 was
      not computed for 2021 LSOAs); use the IoD2025 for 2021 geography where possible.

    Parameters
    ----------
    lsoa21
        2021 LSOA polygons (``lsoa_code``), EPSG:27700.
    lsoa11
        2011 LSOA polygons with their IoD columns (``lsoa_code``, ...), same CRS.
    count_columns
        Additive columns (population denominators) to apportion; others are copied.

    Returns
    -------
    DataFrame
        One row per 2021 LSOA (``lsoa_code``, in ``lsoa21`` order) with the IoD columns of
        ``lsoa11`` plus ``iod_lsoa11_code``, ``iod_method`` and ``iod_overlap_share``.
    """
    geom11 = lsoa11.geometry.name
    c21 = lsoa21[LSOA_CODE].to_numpy(dtype=object)
    value_cols = [c for c in lsoa11.columns if c not in (LSOA_CODE, LSOA_NAME, geom11)]
    counts = [c for c in count_columns if c in lsoa11.columns]
    base = pd.DataFrame(lsoa11.drop(columns=[geom11])).set_index(LSOA_CODE)
    set11 = set(lsoa11[LSOA_CODE])
    same = np.array([c in set11 for c in c21], dtype=bool)

    src_code = c21.copy()
    src_code[~same] = None
    overlap_share = np.where(same, 1.0, np.nan)
    count_values = {c: base[c].reindex(c21).to_numpy(dtype="float64", copy=True) for c in counts}

    changed21 = lsoa21.loc[~same, [LSOA_CODE, lsoa21.geometry.name]]
    changed11 = lsoa11.loc[~lsoa11[LSOA_CODE].isin(set(c21))]
    _check_same_district(changed21, changed11)
    if len(changed21):
        targets = changed21.rename(columns={LSOA_CODE: "lsoa21_code"})
        shares = _changed_shares(targets, changed11[[LSOA_CODE, *counts, geom11]], counts)
        for col, summed in _shared_counts(shares, base, counts, c21).items():
            count_values[col][~same] = summed[~same]
        src_code[~same], overlap_share[~same] = _largest_overlap(shares, targets, c21[~same])

    carried = base.loc[src_code, value_cols].reset_index(drop=True)
    for col in counts:
        carried[col] = count_values[col]
    method = pd.DataFrame(
        {
            LSOA_CODE: c21,
            "iod_lsoa11_code": pd.array(src_code, dtype="str"),
            "iod_method": np.where(same, "same_code", "largest_overlap"),
            "iod_overlap_share": overlap_share,
        }
    )
    return pd.concat([method, carried], axis=1)


def _check_same_district(changed21: pd.DataFrame, changed11: pd.DataFrame) -> None:
    """Changed 2011 LSOAs and new 2021 LSOAs come together (else the boundary sets are of
    different districts)."""
    if len(changed21) == 0 and len(changed11):
        raise ValidationError(
            f"2011 LSOA(s) {sorted(changed11[LSOA_CODE])[:20]} have no 2021 successor; "
            f"the two boundary sets do not cover the same district"
        )
    if len(changed21) and len(changed11) == 0:
        raise ValidationError(
            f"2021 LSOA(s) {sorted(changed21[LSOA_CODE])[:20]} are new but no 2011 LSOA of the "
            f"district changed; the two boundary sets do not cover the same district"
        )


def _changed_shares(
    targets: gpd.GeoDataFrame, src: gpd.GeoDataFrame, counts: list[str]
) -> pd.DataFrame:
    """The (new 2021 LSOA, changed 2011 LSOA) overlaps (:func:`cnmap.geo.apportion`'s
    ``shares``); every changed LSOA of either vintage overlaps one of the other."""
    if not counts:
        src = src.assign(_one=1.0)
    shares = apportion(targets, src, columns=counts or ["_one"], id_col="lsoa21_code").shares
    orphan = sorted(set(src[LSOA_CODE]) - set(shares[LSOA_CODE]))
    if orphan:
        raise ValidationError(
            f"changed 2011 LSOA(s) {orphan[:20]} overlap no new 2021 LSOA; their population "
            f"cannot be placed"
        )
    empty = sorted(set(targets["lsoa21_code"]) - set(shares["lsoa21_code"]))
    if empty:
        raise ValidationError(
            f"new 2021 LSOA(s) {empty[:20]} overlap no changed 2011 LSOA; IoD values "
            f"cannot be assigned"
        )
    return shares


def _shared_counts(
    shares: pd.DataFrame, base: pd.DataFrame, counts: list[str], c21: np.ndarray
) -> dict[str, np.ndarray]:
    """Each count per 2021 LSOA (``c21`` order) when every changed 2011 LSOA is shared out in
    full among the changed 2021 LSOAs it overlaps (0 for the unchanged ones)."""
    weight = (
        shares["lsoa_share"] / shares.groupby(LSOA_CODE)["lsoa_share"].transform("sum")
    ).to_numpy()
    pos = pd.Series(np.arange(len(c21)), index=c21)
    rows = pos.reindex(shares["lsoa21_code"]).to_numpy()
    out: dict[str, np.ndarray] = {}
    for col in counts:
        vals = base[col].astype("float64").reindex(shares[LSOA_CODE]).to_numpy()
        out[col] = np.bincount(rows, weights=vals * weight, minlength=len(c21))
    return out


def _largest_overlap(
    shares: pd.DataFrame, targets: gpd.GeoDataFrame, codes_changed: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For each changed 2021 LSOA: the 2011 LSOA covering most of it, and that share of its
    area (ties: the lower 2011 code)."""
    best = (
        shares.sort_values(["lsoa21_code", "overlap_m2", LSOA_CODE], ascending=[True, False, True])
        .drop_duplicates("lsoa21_code")
        .set_index("lsoa21_code")
    )
    area21 = targets.set_index("lsoa21_code").geometry.area
    share = best.loc[codes_changed, "overlap_m2"].to_numpy() / area21.loc[codes_changed].to_numpy()
    return best.loc[codes_changed, LSOA_CODE].to_numpy(), share


# ----------------------------------------------------------------------------------------
# public loaders
# ----------------------------------------------------------------------------------------


def _editions(lsoa_vintage: int | None, iod: int | None) -> tuple[int, int]:
    """Resolve the LSOA vintage and IoD edition (defaults: 2021 and 2025, or the one that
    matches the argument given)."""
    if lsoa_vintage is None and iod is None:
        lsoa_vintage, iod = 2021, 2025
    elif lsoa_vintage is None:
        lsoa_vintage = 2011 if iod == 2019 else 2021
    elif iod is None:
        iod = 2019 if lsoa_vintage == 2011 else 2025
    if lsoa_vintage not in LSOA_VINTAGES:
        raise ValidationError(f"lsoa_vintage={lsoa_vintage!r}; use one of {LSOA_VINTAGES}")
    if iod not in IOD_EDITIONS:
        raise ValidationError(f"iod={iod!r}; use one of {IOD_EDITIONS}")
    if iod == 2025 and lsoa_vintage == 2011:
        raise ValidationError(
            "iod=2025 is published for 2021 LSOAs; use lsoa_vintage=2021 with iod=2025 "
            "(or iod=2019 with lsoa_vintage=2011)"
        )
    return int(lsoa_vintage), int(iod)


def _population_choice(
    population: str, iod: int, lsoa_vintage: int, iod_table: pd.DataFrame
) -> str:
    """``"iod"`` or ``"census2021"`` for the ``population=`` argument."""
    if population not in POPULATION_SOURCES:
        raise ValidationError(f"population={population!r}; use one of {POPULATION_SOURCES}")
    if population in ("iod2019", "iod2025") and population != f"iod{iod}":
        raise ValidationError(
            f"population={population!r} but the area uses IoD{iod}; use population='iod' "
            f"(the IoD{iod} denominators) or 'census2021'"
        )
    if population == "auto":
        return "iod" if "pop_total" in iod_table.columns else "census2021"
    if population == "census2021" and lsoa_vintage != 2021:
        raise ValidationError(
            "population='census2021' is published for 2021 LSOAs; use lsoa_vintage=2021 (or "
            "population='iod' for the IoD2019 mid-2015 denominators on 2011 LSOAs)"
        )
    return "census2021" if population == "census2021" else "iod"


def _census_table(rec: FetchRecord) -> pd.DataFrame:
    """Census 2021 RM121 indexed by LSOA code (upper case; the first row of a code), kept
    for the process."""

    def build() -> pd.DataFrame:
        df = read_dataset(rec)
        df = df.assign(**{LSOA_CODE: _codes(df[LSOA_CODE])}).drop_duplicates(LSOA_CODE)
        return df.set_index(LSOA_CODE)

    return _cached(_file_key(rec) + ("census",), build)


def _census_population(
    lad: str, lsoas: gpd.GeoDataFrame, records: list[FetchRecord]
) -> pd.DataFrame:
    """Census 2021 RM121 usual residents (and 65+) of every LSOA; error naming any missing."""
    rec = _fetch("census2021_rm121", lad, records)
    table = _census_table(rec)
    codes = lsoas[LSOA_CODE]
    missing = sorted(set(codes[~codes.isin(table.index).to_numpy()]))
    if missing:
        raise ValidationError(
            f"population='census2021': {len(missing)} LSOA(s) of {lad} have no Census 2021 "
            f"RM121 row in {rec.read_from}: {missing[:20]}; use a file covering the district "
            f"(e.g. the England and Wales table) or population='iod'"
        )
    rows = table.loc[codes]  # a new frame: the kept table is not changed
    total = pd.to_numeric(rows[CENSUS_TOTAL], errors="coerce")
    if total.isna().any() or (total < 0).any():
        bad = total.index[total.isna() | (total < 0)].tolist()
        raise ValidationError(
            f"census2021_rm121 ({rec.read_from}): usual residents blank or "
            f"negative for LSOA(s) {bad[:20]}"
        )
    bands = [c for c in rows.columns if str(c).startswith("Aged ")]
    out = pd.DataFrame(
        {LSOA_CODE: lsoas[LSOA_CODE].to_numpy(), CENSUS_TOTAL: total.to_numpy(dtype="int64")}
    )
    if bands:
        out[CENSUS_65_PLUS] = rows[bands].apply(pd.to_numeric).sum(axis=1).to_numpy(dtype="int64")
    out.attrs["source"] = rec.read_from
    return out


def _attach_population(
    lad: str, lsoas: gpd.GeoDataFrame, choice: str, iod: int, records: list[FetchRecord]
) -> tuple[gpd.GeoDataFrame, str]:
    """Set ``population`` from the chosen source; return the frame and a description."""
    if choice == "iod":
        if "pop_total" not in lsoas.columns:
            raise MissingColumnError(
                f"population='iod': the IoD{iod} table used for {lad} has no population "
                f"denominators (the all-England IoD2025 table has none); use "
                f"population='census2021', or a full File 7 with 'Total population' columns"
            )
        lsoas[POPULATION] = lsoas["pop_total"]
        mid = "mid-2015, excluding prisoners" if iod == 2019 else "mid-2022"
        return lsoas, f"iod{iod}: IoD{iod} File 7 total population denominators ({mid})"
    census = _census_population(lad, lsoas, records)
    lsoas = lsoas.merge(census, on=LSOA_CODE, how="left", validate="one_to_one")
    lsoas[POPULATION] = lsoas[CENSUS_TOTAL]
    return lsoas, (
        f"census2021: Census 2021 RM121 usual residents, 21 March 2021 ({census.attrs['source']})"
    )


def _lsoas_and_lookup(
    lad: str,
    lsoa_vintage: int,
    lookup21: pd.DataFrame,
    wards: gpd.GeoDataFrame,
    records: list[FetchRecord],
    notes: list[str],
    derived: list[dict[str, str]],
) -> tuple[gpd.GeoDataFrame, pd.DataFrame, str]:
    if lsoa_vintage == 2011:
        lsoas = _lsoa_polygons("lsoa2011", lad, wards, None, records, notes)
        lookup, origin = _bestfit11(lad, lsoas, lookup21, wards, records, notes)
        if origin == "derived":
            derived.append(_derived_source("lsoa2011_ward_bestfit"))
        return lsoas, lookup, "the 2011 LSOA boundaries"
    ds_id = choose(LSOA2021_DATASETS, lad)
    lsoas = _lsoa_polygons(ds_id, lad, wards, set(lookup21[LSOA_CODE]), records, notes)
    if ds_id != LSOA2021_DATASETS[0]:
        notes.append(
            f"LSOA boundaries: {catalogue()[ds_id].title}; no 20 m (BGC) LSOA "
            f"boundaries of {lad} were at hand (about 200 m generalisation)"
        )
    lookup = lookup21[[LSOA_CODE, WARD_CODE]].assign(method="ons_lsoa21_ward_lookup")
    return lsoas, lookup, "the 2021 LSOA boundaries"


def _with_iod(
    lad: str,
    lsoa_vintage: int,
    iod: int,
    lsoas: gpd.GeoDataFrame,
    wards: gpd.GeoDataFrame,
    label: str,
    records: list[FetchRecord],
    notes: list[str],
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    iod_table = _read_iod(lad, iod, records, notes)
    if lsoa_vintage == 2021 and iod == 2019:
        lsoa11 = _lsoa_polygons("lsoa2011", lad, wards, None, records, notes)
        lsoa11 = _join_iod(lsoa11, iod_table, lad, "the 2011 LSOA boundaries")
        carried = iod_on_lsoa21(lsoas, lsoa11)
        lsoas = lsoas.merge(carried, on=LSOA_CODE, how="left", validate="one_to_one")
        n_changed = int((carried["iod_method"] != "same_code").sum())
        notes.append(
            f"IoD2019 on 2021 LSOAs: {len(carried) - n_changed} LSOAs carried over by unchanged "
            f"code; {n_changed} changed LSOAs took population by area-weighted apportionment "
            f"from the changed 2011 LSOAs (total conserved) and deprivation values from the "
            f"2011 LSOA of largest overlap (iod_lsoa11_code)"
        )
        return lsoas, iod_table
    return _join_iod(lsoas, iod_table, lad, label), iod_table


def _ordered(lsoas: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    first = [LSOA_CODE, LSOA_NAME, WARD_CODE, WARD_NAME]
    rest = [c for c in lsoas.columns if c not in first and c != lsoas.geometry.name]
    return gpd.GeoDataFrame(
        lsoas[first + rest + [lsoas.geometry.name]], geometry=lsoas.geometry.name, crs=BNG
    )


def load_area(
    lad_code: str,
    *,
    lsoa_vintage: int | None = None,
    iod: int | None = None,
    population: str = "auto",
    postcodes: bool | str = True,
) -> Area:
    """Official wards, LSOAs with deprivation and population, and postcodes of a district.

    Any English district is served: from its own files where the catalogue (or a mirror)
    has them, else from the national files filtered to it (see docs/data.md).

    Parameters
    ----------
    lad_code
        ONS code of an English local authority district (``E06``/``E07``/``E08``/``E09``
        and 6 digits), e.g. ``"E08000025"`` for Birmingham. Names: see
        :func:`cnmap.data.resolve_lad`.
    lsoa_vintage
        2021 (Census 2021, the geography of the IoD2025) or 2011 (the IoD2019's). Default:
        2021, or 2011 when ``iod=2019`` is given alone.
    iod
        English Indices of Deprivation edition, 2025 or 2019. Default: 2025, or 2019 when
        ``lsoa_vintage=2011`` is given alone. IoD2025 needs 2021 LSOAs. With
        ``lsoa_vintage=2021, iod=2019`` the 2011 values are carried over to 2021 LSOAs (see
        :func:`iod_on_lsoa21`).
    population
        Where ``population`` comes from: ``"iod"`` (the edition's File 7 total population
        denominator: mid-2022 for IoD2025, mid-2015 for IoD2019; ``"iod2025"``/``"iod2019"``
        say the same and must match ``iod``), ``"census2021"`` (Census 2021 RM121 usual
        residents, 2021 LSOAs only) or ``"auto"`` (default: the IoD denominators when the IoD
        table has them, else Census 2021). One source for every LSOA, never a mix: if it
        lacks an LSOA, that is an error naming it. Recorded in ``area.params``.
    postcodes
        Load the district's postcode lookup: ``True``/``"auto"`` (the ONS NSPL where at
        hand, else OS Code-Point Open), ``"nspl"``, ``"codepoint"``, or ``False`` (none).
        See :func:`load_postcodes`.

    Returns
    -------
    cnmap.area.Area
        Frames in EPSG:27700 with valid geometries:

        - ``wards``: ``ward_code``, ``ward_name``, ``lad_code``, geometry;
        - ``lsoas``: ``lsoa_code``, ``lsoa_name``, ``ward_code``, ``ward_name``, every IoD
          column present (short names of :mod:`cnmap.iod`, including the IoD2025
          sub-domains where the table has them), ``population``, Census columns when
          ``population="census2021"``, geometry;
        - ``boundary``: one row dissolved from the wards (``source`` says so);
        - ``lookup``: ``lsoa_code``, ``ward_code``, ``ward_name``, ``method``;
        - ``sources``: id, title, publisher, vintage, licence, attribution, url,
          read_from, sha256 of every dataset used;
        - ``postcodes``: see :func:`load_postcodes` (None if ``postcodes=False``);
        - ``params``: the vintages and sources used (LSOAs, IoD, wards, population,
          boundaries, postcodes).

    Raises
    ------
    ValidationError
        Malformed or non-English LAD code; unsupported vintage/edition/population; an LSOA
        without its IoD or population row; an LSOA mapped to no or several wards;
        inconsistent boundary files.
    UnknownAreaError
        The district is absent from a file that covers it by definition (a national file or
        the LSOA21 lookup).
    DataFetchError
        A dataset could not be obtained (names the dataset, its URL, ``CNMAP_DATA_MIRROR``).
    """
    lad = check_lad_code(lad_code)
    lsoa_vintage, iod = _editions(lsoa_vintage, iod)
    if population not in POPULATION_SOURCES:
        raise ValidationError(f"population={population!r}; use one of {POPULATION_SOURCES}")
    pc_source = _postcode_choice(postcodes)
    records: list[FetchRecord] = []
    notes: list[str] = []
    derived: list[dict[str, str]] = []

    lookup21 = _lookup21(lad, records)
    wards = _wards(lad, lookup21, records, notes)
    lad_name = _lad_name(lad, lookup21)
    ward_names = wards.set_index(WARD_CODE)[WARD_NAME]

    lsoas, lookup, lsoa_label = _lsoas_and_lookup(
        lad, lsoa_vintage, lookup21, wards, records, notes, derived
    )
    _check_lookup(lsoas, lookup, wards, lsoa_label)
    lookup = _named_lookup(lookup, ward_names)

    lsoas, iod_table = _with_iod(lad, lsoa_vintage, iod, lsoas, wards, lsoa_label, records, notes)
    choice = _population_choice(population, iod, lsoa_vintage, iod_table)
    lsoas, pop_desc = _attach_population(lad, lsoas, choice, iod, records)
    lsoas = _with_wards(lsoas, lookup, ward_names)

    boundary = _boundary(wards, lad, lad_name, records)
    pc = None
    if pc_source is not None:
        pc = load_postcodes(
            lad, source=pc_source, _lookup21=lookup21, _records=records, _lsoas=lsoas
        )
    sources = _sources(records, derived)
    params = _area_params(lad, lsoa_vintage, iod, choice, pop_desc, records, pc)
    _log_loaded(lad, len(wards), lsoas, lsoa_vintage, iod, choice)
    return Area(
        lad_code=lad,
        lad_name=lad_name,
        wards=wards,
        lsoas=lsoas,
        boundary=boundary,
        lookup=lookup,
        sources=sources,
        postcodes=pc,
        lsoa_vintage=lsoa_vintage,
        iod=iod,
        notes=tuple(notes),
        params=params,
    )


def _log_loaded(
    lad: str, n_wards: int, lsoas: pd.DataFrame, lsoa_vintage: int, iod: int, choice: str
) -> None:
    """Log what :func:`load_area` loaded."""
    log.info(
        "load_area(%s): %d wards, %d LSOAs (%d), IoD%d, population %s (%s)",
        lad,
        n_wards,
        len(lsoas),
        lsoa_vintage,
        iod,
        f"{lsoas[POPULATION].sum():,.0f}",
        choice,
    )


def _named_lookup(lookup: pd.DataFrame, ward_names: pd.Series) -> pd.DataFrame:
    """The LSOA -> ward lookup with ward names, sorted by LSOA code."""
    out = lookup[[LSOA_CODE, WARD_CODE, "method"]].copy()
    out[WARD_NAME] = out[WARD_CODE].map(ward_names).astype("str")
    out = out[[LSOA_CODE, WARD_CODE, WARD_NAME, "method"]]
    return out.sort_values(LSOA_CODE, kind="stable").reset_index(drop=True)


def _with_wards(
    lsoas: gpd.GeoDataFrame, lookup: pd.DataFrame, ward_names: pd.Series
) -> gpd.GeoDataFrame:
    """The LSOAs (modified in place: a frame of :func:`load_area`'s own) with their ward code
    from ``lookup`` and its name, columns in order."""
    lsoas[WARD_CODE] = lsoas[LSOA_CODE].map(lookup.set_index(LSOA_CODE)[WARD_CODE])
    lsoas[WARD_NAME] = lsoas[WARD_CODE].map(ward_names).astype("str")
    return _ordered(lsoas)


def _postcode_choice(postcodes: bool | str) -> str | None:
    if postcodes is True:
        return "auto"
    if postcodes is False or postcodes is None:
        return None
    if postcodes not in POSTCODE_SOURCES:
        raise ValidationError(
            f"postcodes={postcodes!r}; use True, False or one of {POSTCODE_SOURCES}"
        )
    return str(postcodes)


def _area_params(
    lad: str,
    lsoa_vintage: int,
    iod: int,
    choice: str,
    pop_desc: str,
    records: list[FetchRecord],
    pc: pd.DataFrame | None,
) -> dict[str, Any]:
    """What the area was built from, for outputs to state."""
    used = {r.dataset: r for r in records}

    def first(ids: Sequence[str]) -> FetchRecord | None:
        return next((used[i] for i in ids if i in used), None)

    wards_rec, lsoa_rec = (
        first(WARD_DATASETS),
        first(LSOA2021_DATASETS if lsoa_vintage == 2021 else ("lsoa2011",)),
    )
    iod_rec = first((f"iod{iod}_file7", *IOD2025_PARTS))
    lookup_rec = used.get("lsoa2021_ward_lookup")
    return {
        "lad_code": lad,
        "lsoa_vintage": lsoa_vintage,
        "iod": iod,
        "iod_dataset": iod_rec.dataset if iod_rec else "",
        "iod_vintage": iod_rec.vintage if iod_rec else "",
        "population": "census2021" if choice == "census2021" else f"iod{iod}",
        "population_source": pop_desc,
        "ward_vintage": lookup_rec.vintage if lookup_rec else "",
        "wards_dataset": wards_rec.dataset if wards_rec else "",
        "wards_vintage": wards_rec.vintage if wards_rec else "",
        "lsoa_dataset": lsoa_rec.dataset if lsoa_rec else "",
        "lsoa_boundaries_vintage": lsoa_rec.vintage if lsoa_rec else "",
        "postcodes": pc.attrs.get("postcode_source", "") if pc is not None else "",
    }


def _lad_name(lad: str, lookup21: pd.DataFrame) -> str:
    if LAD_NAME in lookup21.columns:
        names = lookup21[LAD_NAME].dropna().unique()
        if len(names):
            return str(names[0])
    return lad


def _check_lookup(
    lsoas: gpd.GeoDataFrame, lookup: pd.DataFrame, wards: gpd.GeoDataFrame, label: str
) -> None:
    dup = lookup[LSOA_CODE].duplicated(keep=False)
    if dup.any():
        raise ValidationError(
            f"the LSOA-to-ward lookup gives several wards to LSOA(s) "
            f"{sorted(lookup.loc[dup, LSOA_CODE].unique())[:20]}; one ward per LSOA is needed"
        )
    no_ward = sorted(set(lsoas[LSOA_CODE]) - set(lookup[LSOA_CODE]))
    if no_ward:
        raise ValidationError(
            f"{len(no_ward)} LSOA(s) of {label} are not in the LSOA-to-ward lookup: "
            f"{no_ward[:30]}; the lookup and the boundaries must be the same LSOA vintage"
        )
    no_poly = sorted(set(lookup[LSOA_CODE]) - set(lsoas[LSOA_CODE]))
    if no_poly:
        raise ValidationError(
            f"{len(no_poly)} LSOA(s) of the lookup have no polygon in {label}: {no_poly[:30]}"
        )
    unknown = sorted(set(lookup[WARD_CODE]) - set(wards[WARD_CODE]))
    if unknown:
        raise ValidationError(
            f"the LSOA-to-ward lookup names ward(s) {unknown[:20]} absent from the ward "
            f"boundaries; the lookup and the ward boundaries are of different ward vintages"
        )
    empty = sorted(set(wards[WARD_CODE]) - set(lookup[WARD_CODE]))
    if empty:
        log.warning("ward(s) %s receive no LSOA in the best-fit lookup", empty)


def _boundary(
    wards: gpd.GeoDataFrame, lad: str, lad_name: str, records: list[FetchRecord]
) -> gpd.GeoDataFrame:
    geom = shapely.union_all(np.asarray(wards.geometry.values))
    if not shapely.is_valid(geom):
        geom = shapely.make_valid(geom, method="structure", keep_collapsed=False)
    ward_rec = next(r for r in records if r.dataset in WARD_DATASETS)
    return gpd.GeoDataFrame(
        {
            LAD_CODE: [lad],
            LAD_NAME: [lad_name],
            "source": [f"dissolved from the {len(wards)} ward boundaries ({ward_rec.read_from})"],
        },
        geometry=[geom],
        crs=BNG,
    )


def _derived_source(ds_id: str) -> dict[str, str]:
    d = catalogue()[ds_id]
    return {
        "id": d.id,
        "title": d.title,
        "publisher": d.publisher,
        "vintage": d.vintage,
        "licence": d.licence,
        "attribution": d.attribution,
        "url": d.landing_page,
        "read_from": "derived by cnmap (LSOA21 lookup + ward and LSOA boundaries)",
        "sha256": "",
    }


def _sources(records: list[FetchRecord], derived: list[dict[str, str]]) -> pd.DataFrame:
    cat = catalogue()
    rows: list[dict[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for r in records:
        if (r.dataset, r.sha256) in seen:
            continue
        seen.add((r.dataset, r.sha256))
        d = cat[r.dataset]
        rows.append(
            {
                "id": r.dataset,
                "title": d.title,
                "publisher": d.publisher,
                "vintage": r.vintage,
                "licence": d.licence,
                "attribution": r.attribution,
                "url": r.url,
                "read_from": r.read_from,
                "sha256": r.sha256,
            }
        )
    rows.extend(derived)
    return pd.DataFrame(
        rows,
        columns=[
            "id",
            "title",
            "publisher",
            "vintage",
            "licence",
            "attribution",
            "url",
            "read_from",
            "sha256",
        ],
    )


def load_postcodes(
    lad_code: str | None = None,
    *,
    postcode_area: str | None = None,
    source: str = "auto",
    _lookup21: pd.DataFrame | None = None,
    _records: list[FetchRecord] | None = None,
    _lsoas: gpd.GeoDataFrame | None = None,
) -> pd.DataFrame:
    """A postcode lookup (ONS NSPL or OS Code-Point Open), in cnmap's column names.

    Parameters
    ----------
    lad_code
        Keep the postcodes of this district (see :func:`_load_nspl` and
        :func:`load_codepoint` for how each source selects them).
    postcode_area
        Postcode area (``"B"``) the file must cover; used to choose a mirror file.
    source
        ``"nspl"`` (the ONS National Statistics Postcode Lookup: official postcode to LSOA
        assignment), ``"codepoint"`` (OS Code-Point Open: positions only, LSOA by point in
        polygon) or ``"auto"`` (default: the NSPL where a copy is at hand for the request,
        else Code-Point Open where at hand, else the NSPL from the publisher).

    Returns
    -------
    DataFrame
        Columns among :data:`POSTCODE_COLUMNS`: ``postcode`` (upper case, one space),
        ``lat``, ``lon`` (EPSG:4326), ``easting``, ``northing`` (EPSG:27700),
        ``lsoa21_code``, ``ward_code``, ``lad_code``... Postcodes without coordinates are
        kept with NaN. ``attrs["source"]`` says where it was read from and
        ``attrs["postcode_source"]`` which product (``"nspl"`` or ``"codepoint_open"``).
        Coordinates are postcode centroids, not buildings.
    """
    if source not in POSTCODE_SOURCES:
        raise ValidationError(f"source={source!r}; use one of {POSTCODE_SOURCES}")
    lad = check_lad_code(lad_code) if lad_code is not None else None
    if source == "auto":
        source = "nspl"
        if not at_hand("postcodes", lad, postcode_area) and at_hand(
            "codepoint_open", lad, postcode_area
        ):
            source = "codepoint"
    if source == "codepoint":
        return load_codepoint(
            lad, postcode_area=postcode_area, lsoas=_lsoas, _lookup21=_lookup21, _records=_records
        )
    return _load_nspl(lad, postcode_area=postcode_area, _lookup21=_lookup21, _records=_records)


def _load_nspl(
    lad: str | None,
    *,
    postcode_area: str | None = None,
    _lookup21: pd.DataFrame | None = None,
    _records: list[FetchRecord] | None = None,
) -> pd.DataFrame:
    """The ONS postcode lookup (NSPL), normalised to cnmap's column names.

    With ``lad``, the postcodes of the district are kept: by the file's LAD column
    (``laua`` in the NSPL) or, when the file has none, by its 2021 LSOA (through the
    official LSOA21 lookup of the district). Coordinates: the NSPL's 99.999999/0
    placeholder becomes NaN; easting/northing are computed from lat/lon when absent.
    """
    from cnmap.postcodes import normalise_postcodes

    records = _records if _records is not None else []
    rec = _fetch("postcodes", lad, records, postcode_area)
    df = read_dataset(rec, columns=POSTCODE_COLUMNS)
    missing = [c for c in (POSTCODE, LAT, LON) if c not in df.columns]
    if missing:
        raise MissingColumnError(f"postcodes ({rec.read_from}) lacks {missing}")
    out = pd.DataFrame({POSTCODE: normalise_postcodes(df[POSTCODE]).to_numpy()})
    lat = pd.to_numeric(df[LAT], errors="coerce").to_numpy(dtype=float, copy=True)
    lon = pd.to_numeric(df[LON], errors="coerce").to_numpy(dtype=float, copy=True)
    placeholder = (lat > 90) | np.isnan(lat) | np.isnan(lon)
    lat[placeholder] = np.nan
    lon[placeholder] = np.nan
    out[LAT], out[LON] = lat, lon
    if EASTING in df.columns and NORTHING in df.columns:
        e = pd.to_numeric(df[EASTING], errors="coerce").to_numpy(dtype=float, copy=True)
        n = pd.to_numeric(df[NORTHING], errors="coerce").to_numpy(dtype=float, copy=True)
    else:
        e = np.full(len(df), np.nan)
        n = np.full(len(df), np.nan)
    need = np.isnan(e) & ~placeholder
    if need.any():
        from pyproj import Transformer

        tr = Transformer.from_crs(WGS84, BNG, always_xy=True)
        e[need], n[need] = tr.transform(lon[need], lat[need])
    e[placeholder & np.isnan(n)] = np.nan
    out[EASTING], out[NORTHING] = e, n
    for col in POSTCODE_COLUMNS[5:]:
        if col in df.columns:
            out[col] = df[col].astype("str").str.strip().to_numpy()
    if lad is not None:
        if LAD_CODE in out.columns:
            keep = (out[LAD_CODE].str.upper() == lad).to_numpy()
            how = "LAD column"
        elif "lsoa21_code" in out.columns:
            lk = _lookup21 if _lookup21 is not None else _lookup21_for(lad, records)
            keep = out["lsoa21_code"].str.upper().isin(set(lk[LSOA_CODE])).to_numpy()
            out[LAD_CODE] = lad
            how = "2021 LSOA in the district's LSOA21 lookup"
        else:
            raise ValidationError(
                f"postcodes ({rec.read_from}) has neither a LAD column nor 2021 LSOA codes, so "
                f"the postcodes of {lad} cannot be selected; use the NSPL (columns laua, lsoa21)"
            )
        if not keep.any():
            raise UnknownAreaError(f"no postcodes of {lad} in {rec.read_from}")
        log.info(
            "load_postcodes(%s): %d of %d postcodes kept (by %s)",
            lad,
            int(keep.sum()),
            len(out),
            how,
        )
        out = out.loc[keep].reset_index(drop=True)
    n_nocoord = int(out[LAT].isna().sum())
    if n_nocoord:
        log.info("load_postcodes: %d postcodes have no coordinates (kept, lat/lon NaN)", n_nocoord)
    out.attrs["source"] = rec.read_from
    out.attrs["postcode_source"] = "nspl"
    return out


def _lookup21_for(lad: str, records: list[FetchRecord]) -> pd.DataFrame:
    return _lookup21(lad, records)


# ----------------------------------------------------------------------------------------
# OS Code-Point Open
# ----------------------------------------------------------------------------------------

#: Column names of Code-Point Open's header-less CSVs (Doc/Code-Point_Open_Column_Headers.csv).
CODEPOINT_COLUMNS = (
    "Postcode",
    "Positional_quality_indicator",
    "Eastings",
    "Northings",
    "Country_code",
    "NHS_regional_HA_code",
    "NHS_HA_code",
    "Admin_county_code",
    "Admin_district_code",
    "Admin_ward_code",
)
#: Positional quality 90: no coordinates (Code-Point Open user guide).
_CPO_NO_COORDINATES = 90


def _read_codepoint_zip(path: Any, postcode_area: str | None) -> pd.DataFrame:
    """The publisher's zip: one header-less CSV per postcode area in Data/CSV/."""
    with zipfile.ZipFile(path) as zf:
        members = sorted(
            n for n in zf.namelist() if re.fullmatch(r"(?i)(?:.*/)?Data/CSV/[a-z]{1,2}\.csv", n)
        )
        if postcode_area is not None:
            members = [n for n in members if Path(n).stem.upper() == postcode_area.strip().upper()]
        if not members:
            raise DataFetchError(
                f"codepoint_open {path}: no Data/CSV/<area>.csv member"
                + (f" for postcode area {postcode_area!r}" if postcode_area else "")
                + "; is this the Code-Point Open CSV zip?"
            )
        frames = []
        for name in members:
            with zf.open(name) as f:
                frames.append(
                    pd.read_csv(
                        f,
                        header=None,
                        names=list(CODEPOINT_COLUMNS),
                        dtype=str,
                        keep_default_na=False,
                        na_values=[""],
                    )
                )
    return pd.concat(frames, ignore_index=True)


#: Code-Point Open columns :func:`load_codepoint` uses (cnmap names).
_CODEPOINT_USED = frozenset(
    {
        POSTCODE,
        EASTING,
        NORTHING,
        LAT,
        LON,
        "positional_quality",
        "lsoa21_code",
        WARD_CODE,
        "admin_district_code",
    }
)
#: Columns of the Parquet copy that select rows: postcode area, district, 2021 LSOA.
_CPO_AREA, _CPO_DISTRICT, _CPO_LSOA = "pc_area", "Admin_district_code", "lsoa21_code_pip_bsc"


def _codepoint_table(rec: FetchRecord) -> Any:
    """The Parquet copy of Code-Point Open as a pyarrow Table: the columns
    :func:`load_codepoint` uses and those that select rows, read once per process."""
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise OptionalDependencyError(
            f"reading {rec.path} needs pyarrow (pip install pyarrow)"
        ) from exc

    def build() -> Any:
        names = [str(n) for n in pq.read_schema(rec.path).names]
        renamed = normalise_columns(
            pd.DataFrame(columns=names), catalogue()["codepoint_open"], rec.mirror_entry()
        ).columns  # two columns, one name: refused
        keep = [
            raw
            for raw, new in zip(names, renamed, strict=True)
            if new in _CODEPOINT_USED or raw in (_CPO_AREA, _CPO_DISTRICT, _CPO_LSOA)
        ]
        return pq.read_table(rec.path, columns=keep)

    return _cached(_file_key(rec) + ("codepoint",), build)


def _codepoint_mask(
    table: Any, lad: str | None, postcode_area: str | None, lsoa_codes: set[str] | None
) -> Any:
    """Rows of a postcode area, else of a district (its ``Admin_district_code`` or one of
    its 2021 LSOAs), as a pyarrow boolean mask (a null is not kept); None keeps every row."""
    import pyarrow as pa
    import pyarrow.compute as pc

    def column(name: str) -> Any:
        if name not in table.column_names:
            raise MissingColumnError(f"codepoint_open Parquet copy lacks the column {name!r}")
        return table[name]

    if postcode_area is not None:
        return pc.equal(column(_CPO_AREA), postcode_area.strip().upper())
    if lad is None:
        return None
    mask = pc.equal(column(_CPO_DISTRICT), lad)
    if lsoa_codes:
        lsoa = column(_CPO_LSOA)
        wanted = pa.array(sorted(lsoa_codes), type=lsoa.type)
        mask = pc.or_kleene(mask, pc.is_in(lsoa, value_set=wanted))
    return mask


def _read_codepoint_parquet(
    rec: FetchRecord, lad: str | None, postcode_area: str | None, lsoa_codes: set[str] | None
) -> pd.DataFrame:
    """The Parquet copy's rows of the request (from the table kept for the process, in file
    order), the columns :func:`load_codepoint` uses."""
    table = _codepoint_table(rec)
    mask = _codepoint_mask(table, lad, postcode_area, lsoa_codes)
    frame = (table if mask is None else table.filter(mask)).to_pandas()
    return frame.astype({c: "str" for c in frame.columns if frame[c].dtype == object})


def _read_codepoint(
    rec: FetchRecord, lad: str | None, postcode_area: str | None, lsoa_codes: set[str] | None
) -> pd.DataFrame:
    ds = catalogue()["codepoint_open"]
    suffix = Path(rec.path).suffix.lower()
    if suffix == ".parquet":
        raw = _read_codepoint_parquet(rec, lad, postcode_area, lsoa_codes)
    elif suffix == ".zip" or zipfile.is_zipfile(rec.path):
        raw = _read_codepoint_zip(rec.path, postcode_area)
    else:
        raw = pd.read_csv(
            rec.path, dtype=str, encoding="utf-8-sig", keep_default_na=False, na_values=[""]
        )
        if str(raw.columns[0]).strip().upper() != "POSTCODE":  # verbatim rows: no header
            raw = pd.read_csv(
                rec.path,
                header=None,
                names=list(CODEPOINT_COLUMNS),
                dtype=str,
                keep_default_na=False,
                na_values=[""],
            )
    return normalise_columns(raw, ds, rec.mirror_entry())


#: A postcode in the canonical spelling (upper case, one space before the inward code, 5 to 7
#: letters and digits ending digit-letter-letter), which :func:`normalise_postcodes` returns
#: unchanged; Code-Point Open spells every postcode so.
_CANONICAL_POSTCODE = r"[A-Z0-9]{2,4} [0-9][A-Z]{2}"


def _normalised_postcodes(values: pd.Series) -> np.ndarray:
    """:func:`cnmap.postcodes.normalise_postcodes` of ``values`` as an object array: those
    already in the canonical spelling are kept as they are (normalising leaves them
    unchanged), the others are normalised."""
    from cnmap.postcodes import normalise_postcodes

    text = values.astype("str")
    canonical = text.str.fullmatch(_CANONICAL_POSTCODE).fillna(False).to_numpy(dtype=bool)
    out = text.to_numpy(dtype=object, copy=True)
    if not canonical.all():
        rest = ~canonical
        out[rest] = normalise_postcodes(text[rest]).to_numpy(dtype=object)
    return cast(np.ndarray, out)


def _codepoint_coordinates(df: pd.DataFrame) -> tuple[np.ndarray, ...]:
    """Easting, northing, lat, lon; NaN for positional quality 90 (no coordinates)."""
    e = pd.to_numeric(df[EASTING], errors="coerce").to_numpy(dtype=float, copy=True)
    n = pd.to_numeric(df[NORTHING], errors="coerce").to_numpy(dtype=float, copy=True)
    pq = pd.to_numeric(df.get("positional_quality"), errors="coerce")
    none = (
        np.isnan(e)
        | np.isnan(n)
        | ((e == 0) & (n == 0))
        | (np.asarray(pq, dtype=float) == _CPO_NO_COORDINATES)
    )
    e[none], n[none] = np.nan, np.nan
    if LAT in df.columns and LON in df.columns:
        lat = pd.to_numeric(df[LAT], errors="coerce").to_numpy(dtype=float, copy=True)
        lon = pd.to_numeric(df[LON], errors="coerce").to_numpy(dtype=float, copy=True)
    else:
        from pyproj import Transformer

        lon, lat = Transformer.from_crs(BNG, WGS84, always_xy=True).transform(e, n)
        lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    lat[none], lon[none] = np.nan, np.nan
    return e, n, lat, lon


def _lsoa_by_point(out: pd.DataFrame, lsoas: gpd.GeoDataFrame) -> np.ndarray:
    """2021 LSOA of each postcode point in ``lsoas`` (None outside them or without one)."""
    has = out[EASTING].notna().to_numpy()
    codes = np.full(len(out), None, dtype=object)
    pts = gpd.GeoSeries(
        gpd.points_from_xy(out.loc[has, EASTING], out.loc[has, NORTHING]), crs=BNG
    ).to_crs(lsoas.crs)
    poly = lsoas[[LSOA_CODE, lsoas.geometry.name]].reset_index(drop=True)
    p_idx, l_idx = poly.sindex.query(np.asarray(pts.values), predicate="within")
    first = np.unique(p_idx, return_index=True)[1]
    where = np.flatnonzero(has)
    codes[where[p_idx[first]]] = poly[LSOA_CODE].to_numpy()[l_idx[first]]
    return codes


def load_codepoint(
    lad_code: str | None = None,
    *,
    postcode_area: str | None = None,
    lsoas: gpd.GeoDataFrame | None = None,
    _lookup21: pd.DataFrame | None = None,
    _records: list[FetchRecord] | None = None,
) -> pd.DataFrame:
    """OS Code-Point Open as a postcode lookup, in the columns of the NSPL lookup.

    Parameters
    ----------
    lad_code
        Keep this district's postcodes: those Code-Point places in the district
        (``Admin_district_code``, 2025 codes) or whose point lies in one of its 2021 LSOAs.
    postcode_area
        Keep one postcode area (``"LE"``), e.g. to look up postcodes outside a district.
    lsoas
        2021 LSOA polygons (``lsoa_code``, geometry) for point-in-polygon LSOA codes when
        the copy has none (the publisher's zip); the district's own when loaded by
        :func:`load_area`.

    Returns
    -------
    DataFrame
        ``postcode``, ``lat``, ``lon``, ``easting``, ``northing``, ``lsoa21_code``,
        ``ward_code`` (Code-Point's admin ward, 2025 codes), ``lad_code`` (the district asked
        for), plus ``positional_quality`` and ``admin_district_code``. Postcodes without
        coordinates (positional quality 90) are kept with NaN. ``attrs``: ``source``,
        ``postcode_source`` (``"codepoint_open"``) and ``lsoa_method``. The LSOA is a
        point-in-polygon estimate, not the ONS assignment: near LSOA edges it can differ
        from the NSPL, more so against 200 m (BSC) polygons.
    """
    lad = check_lad_code(lad_code) if lad_code is not None else None
    records = _records if _records is not None else []
    lookup = _lookup21 if (_lookup21 is not None or lad is None) else _lookup21_for(lad, records)
    codes = set(lookup[LSOA_CODE]) if lookup is not None else None
    rec = _fetch("codepoint_open", lad, records, postcode_area)
    df = _read_codepoint(rec, lad, postcode_area, codes)
    if POSTCODE not in df.columns or EASTING not in df.columns:
        raise MissingColumnError(
            f"codepoint_open ({rec.read_from}) lacks Postcode/Eastings; "
            f"columns: {list(df.columns)[:12]}"
        )
    out = pd.DataFrame({POSTCODE: _normalised_postcodes(df[POSTCODE])})
    out[EASTING], out[NORTHING], out[LAT], out[LON] = _codepoint_coordinates(df)
    lsoa_method = f"point in polygon ({rec.read_from})"
    if "lsoa21_code" in df.columns:
        out["lsoa21_code"] = df["lsoa21_code"].astype("str").str.strip().to_numpy()
    elif lsoas is not None:
        out["lsoa21_code"] = _lsoa_by_point(out, lsoas)
        lsoa_method = "point in polygon (the area's 2021 LSOA polygons)"
    for col in (WARD_CODE, "positional_quality", "admin_district_code"):
        if col in df.columns:
            out[col] = df[col].astype("str").str.strip().to_numpy()
    if lad is not None:
        out = _select_codepoint_lad(out, lad, codes, rec)
    out.attrs.update(
        {
            "source": rec.read_from,
            "postcode_source": "codepoint_open",
            "lsoa_method": lsoa_method if "lsoa21_code" in out.columns else "none",
        }
    )
    return out


def _select_codepoint_lad(
    out: pd.DataFrame, lad: str, codes: set[str] | None, rec: FetchRecord
) -> pd.DataFrame:
    keep = np.zeros(len(out), dtype=bool)
    if "admin_district_code" in out.columns:
        keep |= (out["admin_district_code"].str.upper() == lad).to_numpy()
    if codes and "lsoa21_code" in out.columns:
        keep |= out["lsoa21_code"].str.upper().isin(codes).to_numpy()
    if not keep.any():
        raise UnknownAreaError(f"no postcodes of {lad} in {rec.read_from}")
    log.info("load_codepoint(%s): %d of %d postcodes kept", lad, int(keep.sum()), len(out))
    out = out.loc[keep].reset_index(drop=True)
    out[LAD_CODE] = lad
    return out


def load_lsoa_change_lookup(lad_code: str) -> pd.DataFrame:
    """ONS LSOA 2011 -> LSOA 2021 exact-fit lookup rows of a district's 2021 LSOAs.

    Returns
    -------
    DataFrame
        ``lsoa11_code``, ``lsoa21_code``, ``change`` (U unchanged, S split, M merged, X
        irregular) and names, for every 2021 LSOA of the district (selected through its
        LSOA21 lookup: the lookup's own LAD codes are of 2022). ``attrs["source"]``.
    """
    lad = check_lad_code(lad_code)
    records: list[FetchRecord] = []
    codes = set(_lookup21(lad, records)[LSOA_CODE])
    rec = _fetch("lsoa2011_lsoa2021_lookup", lad, records)
    df = read_dataset(rec)
    out = df[_codes(df["lsoa21_code"]).isin(codes)].reset_index(drop=True)
    missing = sorted(codes - set(_codes(out["lsoa21_code"])))
    if missing:
        raise ValidationError(
            f"{len(missing)} 2021 LSOA(s) of {lad} are not in {rec.read_from}: {missing[:20]}"
        )
    out.attrs["source"] = rec.read_from
    return out
