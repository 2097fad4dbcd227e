"""The national run's inputs read once on the client: districts, organisations, population.

- :func:`english_districts` — the districts asked for (codes or names), checked;
- :func:`read_national_organisations` — every ``[[organisations]]`` file, placed in EPSG:27700
  through OS Code-Point Open for the postcode areas the files use (the national lists have
  postcodes only);
- :func:`input_population` — each district's LSOAs and Census 2021 usual residents, read from
  the same catalogued files :func:`cnmap.load_area` uses but independently of the walks, so
  the output can be checked against it.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from cnmap import columns as C
from cnmap.config import OrganisationSource
from cnmap.errors import ValidationError
from cnmap.geo import to_wgs84

__all__ = [
    "english_districts",
    "read_national_organisations",
    "NationalOrganisations",
    "organisations_fingerprint",
    "input_population",
    "postcode_lookup",
    "codepoint_area",
    "district_outlines",
]

log = logging.getLogger(__name__)

_AREA = re.compile(r"^([A-Z]{1,2})\d")
_CENSUS_TOTAL = "census2021_usual_residents"


# ---------------------------------------------------------------------------------------------
# districts


def english_districts(districts: Iterable[str] | None = None) -> pd.DataFrame:
    """The English districts of the run, in code order: ``lad_code``, ``lad_name``,
    ``region_name`` (when the ONS lookup has it).

    ``districts``: codes or names (:func:`cnmap.data.resolve_lad`); None: all 296.
    """
    from cnmap.data import lad_table, resolve_lad

    table = lad_table()
    table = table[table["english"]].drop(columns=["english"])
    if districts is None:
        return table.reset_index(drop=True)
    codes = list(dict.fromkeys(resolve_lad(d) for d in districts))
    return table.set_index(C.LAD_CODE).loc[sorted(codes)].reset_index()


# ---------------------------------------------------------------------------------------------
# organisations


@dataclass(frozen=True)
class NationalOrganisations:
    """Every organisations file read: the placed points, the rows refused, one row per file."""

    organisations: gpd.GeoDataFrame
    rejected: pd.DataFrame
    summary: pd.DataFrame


def _postcode_areas(postcodes: Iterable[object]) -> list[str]:
    from cnmap.postcodes import normalise_postcodes

    norm = normalise_postcodes(pd.Series(list(postcodes), dtype=object))
    areas = {m.group(1) for v in norm.dropna().astype(str) if (m := _AREA.match(v))}
    return sorted(areas)


def _normalised(postcodes: Iterable[object]) -> frozenset[str]:
    """The postcodes in normalised spelling (placing looks up nothing else: the lookup is
    cut to their rows, not every postcode of their areas)."""
    from cnmap.postcodes import normalise_postcodes

    norm = normalise_postcodes(pd.Series(list(postcodes), dtype=object))
    return frozenset(str(v) for v in norm.dropna())


#: Columns of the postcode lookup the organisations need.
_LOOKUP_COLUMNS = (C.POSTCODE, C.EASTING, C.NORTHING, C.LAT, C.LON)

MapFn = Callable[[Callable[[str], pd.DataFrame], Sequence[str]], Sequence[pd.DataFrame]]


def codepoint_area(area: str, postcodes: frozenset[str] | None = None) -> pd.DataFrame:
    """OS Code-Point Open rows of one postcode area (``"LE"``), the columns placing needs;
    with ``postcodes`` (normalised spelling), only their rows."""
    from cnmap.data import load_codepoint

    frame = load_codepoint(postcode_area=area)
    if postcodes is not None:
        frame = frame[frame[C.POSTCODE].isin(postcodes).to_numpy()]
    return frame[[c for c in _LOOKUP_COLUMNS if c in frame.columns]]


def postcode_lookup(
    areas: Sequence[str], map_fn: MapFn | None = None, postcodes: frozenset[str] | None = None
) -> pd.DataFrame:
    """OS Code-Point Open rows of these postcode areas (``"B"``, ``"LE"``...), concatenated
    (only the rows of ``postcodes``, in normalised spelling, when given).

    ``map_fn(fn, areas)`` runs :func:`codepoint_area` for every area (e.g. on a Dask
    cluster); default: one after the other.
    """
    fn: Callable[[str], pd.DataFrame] = (
        codepoint_area
        if postcodes is None
        else functools.partial(codepoint_area, postcodes=postcodes)
    )
    frames = list(map_fn(fn, areas)) if map_fn is not None else [fn(a) for a in areas]
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(
            {
                C.POSTCODE: pd.Series(dtype=str),
                C.LAT: pd.Series(dtype=float),
                C.LON: pd.Series(dtype=float),
            }
        )
    return pd.concat(frames, ignore_index=True).drop_duplicates(C.POSTCODE)


def _needed_postcodes(src: OrganisationSource) -> list[object]:
    """Postcodes a file gives (from a first read with an empty lookup, which places nothing
    by postcode and so names every postcode it could not place)."""
    from cnmap.io import read_organisations
    from cnmap.postcodes import extract_postcode

    empty = postcode_lookup([])
    table = read_organisations(src.path, postcodes=empty, **_options(src))
    cols = table.params.get("columns", {})
    rej = table.rejected
    found: list[object] = []
    if cols.get("postcode") in rej.columns:
        found += rej[cols["postcode"]].tolist()
    if cols.get("address") in rej.columns:
        found += extract_postcode(rej[cols["address"]]).tolist()
    return found


def _options(src: OrganisationSource) -> dict[str, Any]:
    opts = dict(src.options)
    if src.type_col:
        opts["type_col"] = src.type_col
    return opts


def _read_one(
    i: int, src: OrganisationSource, lookup: pd.DataFrame
) -> tuple[gpd.GeoDataFrame, pd.DataFrame, dict[str, object]]:
    from cnmap.io import read_organisations

    table = read_organisations(src.path, postcodes=lookup, **_options(src))
    from cnmap.organisations.sources import fill_type

    g = fill_type(table.organisations.copy(), src.type)
    g[C.ORG_ID] = [f"{i}-{v}" for v in g[C.ORG_ID].astype(str)]
    g.insert(0, "dataset", src.label)
    rej = table.rejected.copy()
    rej.insert(0, "dataset", src.label)
    rej.insert(1, "file", str(src.path))
    row = {
        "dataset": src.label,
        "file": str(src.path),
        "rows": table.n_input,
        "matched": table.n_matched,
        "rejected": table.n_rejected,
        "match_rate": table.match_rate,
    }
    return g, rej, row


def read_national_organisations(
    sources: Sequence[OrganisationSource], map_fn: MapFn | None = None
) -> NationalOrganisations:
    """Read every organisations file for all of England.

    Rows located by postcode are placed with OS Code-Point Open (the postcode areas the files
    use are loaded, through ``map_fn`` when given: see :func:`postcode_lookup`). Ids are
    prefixed by the file's position (``"1-17"``) and each row keeps its file label in
    ``dataset``.
    """
    if not sources:
        raise ValidationError("a national run needs at least one [[organisations]] file")
    for src in sources:
        if getattr(src, "prepared", False):
            raise ValidationError(
                f"organisations file {src.path} ({src.label}): columns, keep and "
                "area_postcodes_only are not supported by national runs yet; prepare the "
                "list (header row, rows kept) and give the prepared file"
            )
        if not src.path.is_file():
            raise ValidationError(
                f"organisations file {src.path} ({src.label}) does not exist "
                "or is not a file; check the path in the configuration"
            )
    needed: list[object] = []
    for src in sources:
        needed += _needed_postcodes(src)
    lookup = postcode_lookup(_postcode_areas(needed), map_fn, _normalised(needed))
    kept, rejected, rows = [], [], []
    for i, src in enumerate(sources, start=1):
        g, rej, row = _read_one(i, src, lookup)
        kept.append(g)
        rejected.append(rej)
        rows.append(row)
    orgs = gpd.GeoDataFrame(pd.concat(kept, ignore_index=True), geometry="geometry", crs=C.BNG)
    if len(orgs) == 0:
        raise ValidationError(
            "no organisation could be placed: check the files' postcodes or "
            "coordinates (see rejected_organisations.csv)"
        )
    return NationalOrganisations(orgs, pd.concat(rejected, ignore_index=True), pd.DataFrame(rows))


def organisations_fingerprint(orgs: gpd.GeoDataFrame, type_col: str | None) -> str:
    """SHA-256 of the organisations' ids, coordinates and types (what the walks depend on)."""
    xy = np.column_stack([orgs.geometry.x.to_numpy(float), orgs.geometry.y.to_numpy(float)])
    from cnmap.national.halo import type_slugs

    types = type_slugs(orgs, type_col)
    h = hashlib.sha256()
    h.update("\x1f".join(orgs[C.ORG_ID].astype(str)).encode("utf-8"))
    h.update(np.ascontiguousarray(xy).tobytes())
    h.update("\x1f".join(types.tolist()).encode("utf-8"))
    return h.hexdigest()


def organisations_for_partials(orgs: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The columns the districts need (id, name, type, dataset, point)."""
    keep = [c for c in (C.ORG_ID, C.NAME, C.ORG_TYPE, "dataset", "geometry") if c in orgs.columns]
    return gpd.GeoDataFrame(orgs[keep].copy(), geometry="geometry", crs=orgs.crs)


# ---------------------------------------------------------------------------------------------
# population of the input


def _by_entry(dataset: str, codes: Sequence[str]) -> dict[str, list[str]]:
    """District codes grouped by the mirror file that serves them (a path, or the code
    itself when no mirror file does: fetched one by one)."""
    from cnmap.data.availability import covering_entry

    groups: dict[str, list[str]] = {}
    for code in codes:
        entry = covering_entry(dataset, code)
        key = str(entry.path) if entry is not None else f"fetch:{code}"
        groups.setdefault(key, []).append(code)
    return groups


def _read_for(dataset: str, code: str) -> pd.DataFrame:
    from cnmap.data import read_dataset
    from cnmap.data.availability import fetch_preferred

    return read_dataset(fetch_preferred(dataset, code))


def _lookup_rows(codes: Sequence[str]) -> pd.DataFrame:
    frames = []
    for group in _by_entry("lsoa2021_ward_lookup", codes).values():
        df = _read_for("lsoa2021_ward_lookup", group[0])
        lad = df[C.LAD_CODE].astype(str).str.strip().str.upper()
        frames.append(
            pd.DataFrame(
                {
                    C.LSOA_CODE: df[C.LSOA_CODE].astype(str).str.strip().str.upper().to_numpy(),
                    C.LAD_CODE: lad.to_numpy(),
                }
            )[lad.isin(group).to_numpy()]
        )
    return pd.concat(frames, ignore_index=True).drop_duplicates(C.LSOA_CODE)


def _census_rows(lookup: pd.DataFrame) -> pd.Series:
    totals: list[pd.Series] = []
    codes = sorted(set(lookup[C.LAD_CODE]))
    for group in _by_entry("census2021_rm121", codes).values():
        df = _read_for("census2021_rm121", group[0])
        s = pd.Series(
            pd.to_numeric(df[_CENSUS_TOTAL], errors="coerce").to_numpy(float),
            index=df[C.LSOA_CODE].astype(str).str.strip().str.upper().to_numpy(),
        )
        want = lookup.loc[lookup[C.LAD_CODE].isin(group), C.LSOA_CODE]
        totals.append(s[~s.index.duplicated()].reindex(want))
    return pd.concat(totals)


def input_population(codes: Sequence[str]) -> pd.DataFrame:
    """Each district's 2021 LSOAs and Census 2021 usual residents, from the ONS LSOA
    lookup and the RM121 table (the files :func:`cnmap.load_area` reads for it).

    Returns
    -------
    DataFrame
        Indexed by ``lad_code``: ``n_lsoas_input`` and ``population_input``.
    """
    lookup = _lookup_rows(codes)
    pop = _census_rows(lookup)
    missing = pop.index[pop.isna()].tolist()
    if missing:
        raise ValidationError(
            f"Census 2021 RM121 has no usual residents for LSOA(s) {missing[:10]}"
        )
    lookup = lookup.assign(population=pop.reindex(lookup[C.LSOA_CODE]).to_numpy())
    out = lookup.groupby(C.LAD_CODE).agg(
        n_lsoas_input=(C.LSOA_CODE, "size"), population_input=("population", "sum")
    )
    return out.reindex(list(codes))


# ---------------------------------------------------------------------------------------------
# outlines for the national map


def district_outlines(codes: Sequence[str], tolerance_m: float = 100.0) -> dict[str, str]:
    """Each district's ONS outline (LAD December 2024, BSC), simplified by ``tolerance_m``,
    as EPSG:4326 WKT (each boundary file read once)."""
    import shapely

    out: dict[str, str] = {}
    for group in _by_entry("lad_boundaries", codes).values():
        df = _read_for("lad_boundaries", group[0])
        df = df[df[C.LAD_CODE].astype(str).str.strip().str.upper().isin(group)]
        geoms = shapely.simplify(
            np.asarray(df.geometry.values), tolerance_m, preserve_topology=True
        )
        wgs = to_wgs84(gpd.GeoSeries(geoms, crs=df.crs), name="boundaries")
        for code, geom in zip(df[C.LAD_CODE].astype(str).str.upper(), wgs, strict=True):
            out[code] = shapely.to_wkt(geom, rounding_precision=5)
    return out
