"""Loaders: official geography, deprivation and postcodes of one local authority district.

:func:`load_area` assembles an :class:`cnmap.area.Area` (wards, LSOAs joined with every IoD
column present and ``population``, boundary, LSOA-to-ward lookup, sources) for any English
local authority district from the catalogued datasets, through :func:`cnmap.data.fetch`
(cache, mirror, publisher). :func:`load_postcodes` reads the ONS postcode lookup.

Every frame is in British National Grid (EPSG:27700) with valid geometries. Nothing is
specific to one district: every choice is driven by the LAD code and the catalogue.
"""

from __future__ import annotations

import logging
import re
import zipfile
from collections.abc import Sequence
from typing import Any

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
from cnmap.data.catalogue import Dataset, MirrorEntry, catalogue, normalise_columns
from cnmap.data.fetch import FetchRecord, _zip_member, fetch_record, file_format
from cnmap.errors import (
    CRSError,
    DataFetchError,
    MissingColumnError,
    UnknownAreaError,
    ValidationError,
)
from cnmap.geo import apportion, repair_geometries

__all__ = [
    "load_area",
    "load_postcodes",
    "read_dataset",
    "iod_on_lsoa21",
    "check_lad_code",
    "LSOA_VINTAGES",
    "IOD_EDITIONS",
    "POSTCODE_COLUMNS",
]

log = logging.getLogger(__name__)

LSOA_VINTAGES = (2011, 2021)
IOD_EDITIONS = (2019, 2025)
#: Columns kept by :func:`load_postcodes` (those the file has), in this order.
POSTCODE_COLUMNS = (
    POSTCODE, LAT, LON, EASTING, NORTHING, "lsoa21_code", "lsoa21_name", "lsoa11_code",
    WARD_CODE, WARD_NAME, LAD_CODE, "imd_rank",
)
_LAD_RE = re.compile(r"^[EWSN]\d{8}$")
_ENGLISH_LAD_TYPES = {
    "E06": "unitary authority",
    "E07": "non-metropolitan district",
    "E08": "metropolitan district",
    "E09": "London borough",
}
_GSS_TYPES = {"E05": "an electoral ward", "E01": "an LSOA", "E02": "an MSOA",
              "E10": "a county", "E11": "a metropolitan county", "E12": "a region"}
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


def _usecols(wanted: Sequence[str] | None, ds: Dataset, entry: MirrorEntry | None):
    if wanted is None:
        return None
    wanted_set = set(wanted)

    def keep(name: str) -> bool:
        renamed = normalise_columns(pd.DataFrame(columns=[name]), ds, entry).columns[0]
        return renamed in wanted_set

    return keep


def read_dataset(
    record: FetchRecord,
    *,
    columns: Sequence[str] | None = None,
    to_crs: str | None = BNG,
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

    Returns
    -------
    DataFrame or GeoDataFrame
        ``attrs["source"]`` holds ``record.read_from``.

    Raises
    ------
    CRSError
        A spatial file without a CRS.
    """
    ds = catalogue()[record.dataset]
    entry = record.mirror_entry()
    path = record.path
    usecols = _usecols(columns, ds, entry)
    fmt = file_format(path, ds)
    if fmt in {"geojson", "gpkg"}:
        frame: pd.DataFrame = gpd.read_file(path)
        if frame.crs is None:
            raise CRSError(
                f"{record.dataset} file {path} ({record.read_from}) has no CRS; GeoJSON must "
                f"be in EPSG:4326 or declare its CRS"
            )
        if to_crs is not None and not frame.crs.equals(to_crs):
            frame = frame.to_crs(to_crs)
    elif fmt == "zip" or zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            member = _zip_member(zf, ds, str(path))
            with zf.open(member) as f:
                frame = pd.read_csv(f, encoding="utf-8-sig", dtype=str, usecols=usecols)
    else:
        frame = pd.read_csv(path, encoding="utf-8-sig", dtype=str, usecols=usecols)
    frame = normalise_columns(frame, ds, entry)
    frame.attrs["source"] = record.read_from
    return frame


def _codes(series: pd.Series) -> pd.Series:
    return series.astype("str").str.strip().str.upper()


def _fetch(dataset_id: str, lad_code: str, records: list[FetchRecord], **kw: Any) -> FetchRecord:
    rec = fetch_record(dataset_id, lad_code=lad_code, **kw)
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
        notes.append(f"{name}: {len(ids)} invalid geometries repaired with make_valid "
                     f"({', '.join(ids[:10])}{' ...' if len(ids) > 10 else ''})")
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


def _wards(lad: str, lookup21: pd.DataFrame, records: list[FetchRecord],
           notes: list[str]) -> gpd.GeoDataFrame:
    rec = _fetch("wards", lad, records)
    df = read_dataset(rec)
    if LAD_CODE in df.columns:
        df = _select_lad(df, lad, rec)
    else:
        df = df[_codes(df[WARD_CODE]).isin(set(lookup21[WARD_CODE]))]
        if df.empty:
            raise UnknownAreaError(f"local authority {lad}: none of its wards in {rec.read_from}")
    out = gpd.GeoDataFrame(
        {WARD_CODE: _codes(df[WARD_CODE]).to_numpy(),
         WARD_NAME: (df[WARD_NAME].astype("str") if WARD_NAME in df.columns
                     else pd.Series(pd.NA, index=df.index, dtype="str")).to_numpy(),
         LAD_CODE: lad},
        geometry=df.geometry.to_numpy(), crs=df.crs,
    )
    out = _geo(out, f"wards ({rec.read_from})", WARD_CODE, notes)
    _unique(out, WARD_CODE, f"wards ({rec.read_from})")
    return out.sort_values(WARD_CODE, kind="stable").reset_index(drop=True)


def _lsoa_polygons(dataset_id: str, lad: str, wards: gpd.GeoDataFrame, codes: set[str] | None,
                   records: list[FetchRecord], notes: list[str]) -> gpd.GeoDataFrame:
    """LSOA polygons of the district: by LAD column, else by ``codes``, else spatially."""
    rec = _fetch(dataset_id, lad, records)
    df = read_dataset(rec)
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
        {LSOA_CODE: df[LSOA_CODE].to_numpy(),
         LSOA_NAME: name if name is not None else pd.array([pd.NA] * len(df), dtype="str")},
        geometry=df.geometry.to_numpy(), crs=df.crs,
    )
    out = _geo(out, f"{dataset_id} ({rec.read_from})", LSOA_CODE, notes)
    _unique(out, LSOA_CODE, f"{dataset_id} ({rec.read_from})")
    return out.sort_values(LSOA_CODE, kind="stable").reset_index(drop=True)


def _bestfit11(lad: str, lsoa11: gpd.GeoDataFrame, lookup21: pd.DataFrame,
               wards: gpd.GeoDataFrame, records: list[FetchRecord],
               notes: list[str]) -> tuple[pd.DataFrame, str]:
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


def _derive_bestfit11(lsoa11: gpd.GeoDataFrame, lookup21: pd.DataFrame,
                      wards: gpd.GeoDataFrame, notes: list[str]) -> pd.DataFrame:
    ward_of = lookup21.set_index(LSOA_CODE)[WARD_CODE]
    same = lsoa11[LSOA_CODE].isin(ward_of.index).to_numpy()
    out = pd.DataFrame({LSOA_CODE: lsoa11[LSOA_CODE].to_numpy()})
    out[WARD_CODE] = lsoa11[LSOA_CODE].map(ward_of).to_numpy()
    out["method"] = np.where(same, "ons_lsoa21_lookup_same_code", "area_overlay_max_share")
    if (~same).any():
        changed = lsoa11.loc[~same]
        w_pos, l_pos = changed.sindex.query(np.asarray(wards.geometry.values),
                                            predicate="intersects")
        inter = shapely.area(shapely.intersection(
            np.asarray(wards.geometry.values)[w_pos], np.asarray(changed.geometry.values)[l_pos]))
        pairs = pd.DataFrame({"l": l_pos, "ward": wards[WARD_CODE].to_numpy()[w_pos],
                              "area": inter})
        pairs = pairs[pairs["area"] > 0].sort_values(["l", "area", "ward"],
                                                     ascending=[True, False, True])
        best = pairs.drop_duplicates("l")
        idx = np.flatnonzero(~same)
        wards_best = pd.Series(best["ward"].to_numpy(), index=best["l"].to_numpy())
        none = [changed[LSOA_CODE].iloc[i] for i in range(len(changed)) if i not in wards_best.index]
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


def _read_iod(lad: str, iod: int, records: list[FetchRecord]) -> pd.DataFrame:
    from cnmap.iod import read_iod

    rec = _fetch(f"iod{iod}_file7", lad, records)
    table = read_iod(rec.path, edition=iod)
    table.attrs["source"] = rec.read_from
    return table


def _join_iod(lsoas: gpd.GeoDataFrame, iod_table: pd.DataFrame, lad: str,
              label: str) -> gpd.GeoDataFrame:
    """Attach IoD columns to LSOA polygons; every LSOA must have its row (and vice versa)."""
    src = iod_table.attrs.get("source", "IoD table")
    codes = set(lsoas[LSOA_CODE])
    missing = sorted(codes - set(iod_table[LSOA_CODE]))
    if missing:
        raise ValidationError(
            f"{len(missing)} LSOA(s) of {label} have no IoD row in {src}: {missing[:30]}"
            f"{' ...' if len(missing) > 30 else ''}; the IoD file must cover the district "
            f"(IoD2019 uses 2011 LSOA codes, IoD2025 2021 codes)"
        )
    if LAD_CODE in iod_table.columns:
        extra = iod_table.loc[(iod_table[LAD_CODE] == lad) & ~iod_table[LSOA_CODE].isin(codes),
                              LSOA_CODE]
        if len(extra):
            raise ValidationError(
                f"{len(extra)} IoD row(s) of {lad} in {src} have no LSOA in {label}: "
                f"{sorted(extra)[:30]}; the boundary file is incomplete for the district"
            )
    rows = iod_table[iod_table[LSOA_CODE].isin(codes)]
    if "pop_total" not in rows.columns:
        raise MissingColumnError(
            f"{src} has no total population column ('Total population: mid 2015 (excluding "
            f"prisoners)' in IoD2019 File 7); cnmap needs it for the population column"
        )
    extra_cols = [c for c in rows.columns if c not in (LSOA_CODE, LSOA_NAME)]
    merged = lsoas.merge(rows[[LSOA_CODE, *extra_cols]], on=LSOA_CODE, how="left",
                         validate="one_to_one")
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
    set21 = set(c21)
    set11 = set(lsoa11[LSOA_CODE])
    value_cols = [c for c in lsoa11.columns if c not in (LSOA_CODE, LSOA_NAME, geom11)]
    counts = [c for c in count_columns if c in lsoa11.columns]
    base = pd.DataFrame(lsoa11.drop(columns=[geom11])).set_index(LSOA_CODE)
    same = np.array([c in set11 for c in c21], dtype=bool)

    src_code = c21.copy()
    src_code[~same] = None
    overlap_share = np.where(same, 1.0, np.nan)
    count_values = {c: base[c].reindex(c21).to_numpy(dtype="float64", copy=True) for c in counts}

    changed21 = lsoa21.loc[~same, [LSOA_CODE, lsoa21.geometry.name]]
    changed11 = lsoa11.loc[~lsoa11[LSOA_CODE].isin(set21)]
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
    if len(changed21):
        targets = changed21.rename(columns={LSOA_CODE: "lsoa21_code"})
        src = changed11[[LSOA_CODE, *counts, geom11]]
        if not counts:
            src = src.assign(_one=1.0)
        shares = apportion(targets, src, columns=counts or ["_one"], id_col="lsoa21_code").shares
        orphan = sorted(set(changed11[LSOA_CODE]) - set(shares[LSOA_CODE]))
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
        # each changed 2011 LSOA is shared out in full among the changed 2021 LSOAs
        weight = (shares["lsoa_share"]
                  / shares.groupby(LSOA_CODE)["lsoa_share"].transform("sum")).to_numpy()
        pos = pd.Series(np.arange(len(c21)), index=c21)
        rows = pos.reindex(shares["lsoa21_code"]).to_numpy()
        for col in counts:
            vals = base[col].astype("float64").reindex(shares[LSOA_CODE]).to_numpy()
            summed = np.bincount(rows, weights=vals * weight, minlength=len(c21))
            count_values[col][~same] = summed[~same]
        best = (shares.sort_values(["lsoa21_code", "overlap_m2", LSOA_CODE],
                                   ascending=[True, False, True])
                .drop_duplicates("lsoa21_code").set_index("lsoa21_code"))
        codes_changed = c21[~same]
        area21 = targets.set_index("lsoa21_code").geometry.area
        src_code[~same] = best.loc[codes_changed, LSOA_CODE].to_numpy()
        overlap_share[~same] = (best.loc[codes_changed, "overlap_m2"].to_numpy()
                                / area21.loc[codes_changed].to_numpy())

    carried = base.loc[src_code, value_cols].reset_index(drop=True)
    for col in counts:
        carried[col] = count_values[col]
    out = pd.concat(
        [pd.DataFrame({LSOA_CODE: c21,
                       "iod_lsoa11_code": pd.array(src_code, dtype="str"),
                       "iod_method": np.where(same, "same_code", "largest_overlap"),
                       "iod_overlap_share": overlap_share}),
         carried],
        axis=1,
    )
    return out


# ----------------------------------------------------------------------------------------
# public loaders
# ----------------------------------------------------------------------------------------


def load_area(
    lad_code: str,
    *,
    lsoa_vintage: int = 2011,
    iod: int = 2019,
    postcodes: bool = True,
) -> Area:
    """Official wards, LSOAs with deprivation and population, and postcodes of a district.

    Parameters
    ----------
    lad_code
        ONS code of an English local authority district (``E06``/``E07``/``E08``/``E09``
        and 6 digits), e.g. ``"E08000025"`` for Birmingham.
    lsoa_vintage
        2011 (the geography of the IoD2019) or 2021 (Census 2021, the IoD2025's).
    iod
        English Indices of Deprivation edition, 2019 or 2025. IoD2025 needs 2021 LSOAs.
        With ``lsoa_vintage=2021, iod=2019`` the 2011 values are carried over to 2021 LSOAs
        (see :func:`iod_on_lsoa21`).
    postcodes
        Also load the district's rows of the ONS postcode lookup (:func:`load_postcodes`).

    Returns
    -------
    cnmap.area.Area
        Frames in EPSG:27700 with valid geometries:

        - ``wards``: ``ward_code``, ``ward_name``, ``lad_code``, geometry;
        - ``lsoas``: ``lsoa_code``, ``lsoa_name``, ``ward_code``, ``ward_name``, every IoD
          column present (short names of :mod:`cnmap.iod`), ``population`` (=
          ``pop_total``, the IoD denominator), geometry;
        - ``boundary``: one row dissolved from the wards (``source`` says so);
        - ``lookup``: ``lsoa_code``, ``ward_code``, ``ward_name``, ``method``;
        - ``sources``: id, title, publisher, vintage, licence, attribution, url,
          read_from, sha256 of every dataset used;
        - ``postcodes``: see :func:`load_postcodes` (None if ``postcodes=False``).

    Raises
    ------
    ValidationError
        Malformed or non-English LAD code; unsupported vintage/edition; an LSOA without its
        IoD row; an LSOA mapped to no or several wards; inconsistent boundary files.
    UnknownAreaError
        The district is absent from a file that covers it by definition (a national file or
        the LSOA21 lookup).
    DataFetchError
        A dataset could not be obtained (names the dataset, its URL, ``CNMAP_DATA_MIRROR``).
    """
    lad = check_lad_code(lad_code)
    if lsoa_vintage not in LSOA_VINTAGES:
        raise ValidationError(f"lsoa_vintage={lsoa_vintage!r}; use one of {LSOA_VINTAGES}")
    if iod not in IOD_EDITIONS:
        raise ValidationError(f"iod={iod!r}; use one of {IOD_EDITIONS}")
    if iod == 2025 and lsoa_vintage == 2011:
        raise ValidationError(
            "iod=2025 is published for 2021 LSOAs; use lsoa_vintage=2021 with iod=2025 "
            "(or iod=2019 with lsoa_vintage=2011)"
        )
    records: list[FetchRecord] = []
    notes: list[str] = []
    derived: list[dict[str, str]] = []

    lookup21 = _lookup21(lad, records)
    wards = _wards(lad, lookup21, records, notes)
    lad_name = _lad_name(lad, lookup21)
    ward_names = wards.set_index(WARD_CODE)[WARD_NAME]

    if lsoa_vintage == 2011:
        lsoas = _lsoa_polygons("lsoa2011", lad, wards, None, records, notes)
        lookup, origin = _bestfit11(lad, lsoas, lookup21, wards, records, notes)
        if origin == "derived":
            derived.append(_derived_source("lsoa2011_ward_bestfit"))
        lsoa_label = "the 2011 LSOA boundaries"
    else:
        lsoas = _lsoa_polygons("lsoa2021", lad, wards, set(lookup21[LSOA_CODE]), records,
                               notes)
        lookup = lookup21[[LSOA_CODE, WARD_CODE]].assign(method="ons_lsoa21_ward_lookup")
        lsoa_label = "the 2021 LSOA boundaries"
    _check_lookup(lsoas, lookup, wards, lsoa_label)
    lookup = lookup[[LSOA_CODE, WARD_CODE, "method"]].copy()
    lookup[WARD_NAME] = lookup[WARD_CODE].map(ward_names).astype("str")
    lookup = lookup[[LSOA_CODE, WARD_CODE, WARD_NAME, "method"]]
    lookup = lookup.sort_values(LSOA_CODE, kind="stable").reset_index(drop=True)

    iod_table = _read_iod(lad, iod, records)
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
    else:
        lsoas = _join_iod(lsoas, iod_table, lad, lsoa_label)
    lsoas[POPULATION] = lsoas["pop_total"]
    lsoas[WARD_CODE] = lsoas[LSOA_CODE].map(lookup.set_index(LSOA_CODE)[WARD_CODE])
    lsoas[WARD_NAME] = lsoas[WARD_CODE].map(ward_names).astype("str")
    first = [LSOA_CODE, LSOA_NAME, WARD_CODE, WARD_NAME]
    rest = [c for c in lsoas.columns if c not in first and c != lsoas.geometry.name]
    lsoas = gpd.GeoDataFrame(lsoas[first + rest + [lsoas.geometry.name]],
                             geometry=lsoas.geometry.name, crs=BNG)
    missing_iod = lsoas["pop_total"].isna()
    if missing_iod.any():  # defensive: _join_iod guarantees this
        raise ValidationError(f"LSOAs without population: "
                              f"{lsoas.loc[missing_iod, LSOA_CODE].tolist()[:20]}")

    boundary = _boundary(wards, lad, lad_name, records)
    pc = load_postcodes(lad, _lookup21=lookup21, _records=records) if postcodes else None

    sources = _sources(records, derived)
    log.info("load_area(%s): %d wards, %d LSOAs (%d), IoD%d, population %s", lad,
             len(wards), len(lsoas), lsoa_vintage, iod, f"{lsoas[POPULATION].sum():,.0f}")
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
    )


def _lad_name(lad: str, lookup21: pd.DataFrame) -> str:
    if LAD_NAME in lookup21.columns:
        names = lookup21[LAD_NAME].dropna().unique()
        if len(names):
            return str(names[0])
    return lad


def _check_lookup(lsoas: gpd.GeoDataFrame, lookup: pd.DataFrame, wards: gpd.GeoDataFrame,
                  label: str) -> None:
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


def _boundary(wards: gpd.GeoDataFrame, lad: str, lad_name: str,
              records: list[FetchRecord]) -> gpd.GeoDataFrame:
    geom = shapely.union_all(np.asarray(wards.geometry.values))
    if not shapely.is_valid(geom):
        geom = shapely.make_valid(geom, method="structure", keep_collapsed=False)
    ward_rec = next(r for r in records if r.dataset == "wards")
    return gpd.GeoDataFrame(
        {LAD_CODE: [lad], LAD_NAME: [lad_name],
         "source": [f"dissolved from the {len(wards)} ward boundaries ({ward_rec.read_from})"]},
        geometry=[geom], crs=BNG,
    )


def _derived_source(ds_id: str) -> dict[str, str]:
    d = catalogue()[ds_id]
    return {"id": d.id, "title": d.title, "publisher": d.publisher, "vintage": d.vintage,
            "licence": d.licence, "attribution": d.attribution, "url": d.landing_page,
            "read_from": "derived by cnmap (LSOA21 lookup + ward and LSOA boundaries)",
            "sha256": ""}


def _sources(records: list[FetchRecord], derived: list[dict[str, str]]) -> pd.DataFrame:
    cat = catalogue()
    rows: list[dict[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for r in records:
        if (r.dataset, r.sha256) in seen:
            continue
        seen.add((r.dataset, r.sha256))
        d = cat[r.dataset]
        rows.append({"id": r.dataset, "title": d.title, "publisher": d.publisher,
                     "vintage": r.vintage, "licence": d.licence, "attribution": r.attribution,
                     "url": r.url, "read_from": r.read_from, "sha256": r.sha256})
    rows.extend(derived)
    return pd.DataFrame(rows, columns=["id", "title", "publisher", "vintage", "licence",
                                       "attribution", "url", "read_from", "sha256"])


def load_postcodes(
    lad_code: str | None = None,
    *,
    postcode_area: str | None = None,
    _lookup21: pd.DataFrame | None = None,
    _records: list[FetchRecord] | None = None,
) -> pd.DataFrame:
    """The ONS postcode lookup (NSPL), normalised to cnmap's column names.

    Parameters
    ----------
    lad_code
        Keep the postcodes of this district: by the file's LAD column (``laua`` in the
        NSPL) or, when the file has none, by its 2021 LSOA (through the official LSOA21
        lookup of the district).
    postcode_area
        Postcode area (``"B"``) the file must cover; used to choose a mirror file.

    Returns
    -------
    DataFrame
        Columns among :data:`POSTCODE_COLUMNS` that the file gives: ``postcode`` (upper
        case, one space: ``"B1 1AA"``), ``lat``, ``lon`` (EPSG:4326), ``easting``,
        ``northing`` (EPSG:27700; computed from lat/lon when absent), ``lsoa21_code``,
        ``ward_code``, ``lad_code``... Postcodes without coordinates are kept with NaN
        (the NSPL's 99.999999/0 placeholder becomes NaN). ``attrs["source"]`` says where
        it was read from. Coordinates are postcode centroids, not buildings.
    """
    from cnmap.postcodes import normalise_postcodes

    lad = check_lad_code(lad_code) if lad_code is not None else None
    records = _records if _records is not None else []
    rec = fetch_record("postcodes", lad_code=lad, postcode_area=postcode_area)
    records.append(rec)
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
        log.info("load_postcodes(%s): %d of %d postcodes kept (by %s)", lad, int(keep.sum()),
                 len(out), how)
        out = out.loc[keep].reset_index(drop=True)
    n_nocoord = int(out[LAT].isna().sum())
    if n_nocoord:
        log.info("load_postcodes: %d postcodes have no coordinates (kept, lat/lon NaN)",
                 n_nocoord)
    out.attrs["source"] = rec.read_from
    return out


def _lookup21_for(lad: str, records: list[FetchRecord]) -> pd.DataFrame:
    return _lookup21(lad, records)


