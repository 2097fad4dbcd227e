"""Public services as reference layers: GP practices, libraries, food stores and schools.

Community organisations are not the only help within walking reach. The Birmingham lists of the
data mirror (``birmingham/services/``, see its ``PROVENANCE.md``) give the public services a
council would set beside them. Each reader returns an
:class:`~cnmap.io.OrganisationTable`, read by
:func:`cnmap.read_organisations` with explicit columns, whose ``type`` is the service
(``gp``, ``library``, ``food_store``, ``primary_school``, ``secondary_school``), with the
columns ``service``, ``dataset`` (the list's label), ``vintage`` and ``licence`` on every row and
the list's provenance in ``params["service"]``. Every input row is either kept or rejected with a
reason, as for any list.

The basket "within 15 minutes of a library **and** a GP **and** a food store" is
:func:`cnmap.basket.basket_coverage` on one coverage result of the three lists
(:func:`combine_services`), by LSOA and ward (:func:`basket_areas`), for the whole area
(:func:`service_shares`) and by group of residents (:func:`basket_group_coverage`, through
:func:`cnmap.groups.group_coverage`).

Licences differ by list (:func:`service_sources` gives one row per list for a sources table):
NHS ODS epraccur is under the Open Government Licence v3.0; the Arts Council England library
list states no licence; GEOLYTIX Retail Points are GEOLYTIX open data; the school list states
no licence (the data look like DfE GIAS, OGL v3.0 if so). Coordinates geocoded from postcodes
carry the Code-Point Open attribution.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from cnmap import _check
from cnmap import schema as S
from cnmap.basket import BasketResult, basket_coverage
from cnmap.errors import ValidationError
from cnmap.groups import GROUP_COLUMNS, group_coverage
from cnmap.layers.base import NeedLayer, mirror_path
from cnmap.organisations import read_organisations

if TYPE_CHECKING:  # (written in full: the API page documents the class under two names)
    import cnmap.io
    from cnmap.area import Area
    from cnmap.coverage import CoverageResult

__all__ = [
    "ServiceSource",
    "SERVICE_SOURCES",
    "BASKET",
    "KEEP_OUTSIDE_M",
    "read_service",
    "read_gp_practices",
    "read_libraries",
    "read_food_stores",
    "read_schools",
    "read_services",
    "combine_services",
    "service_sources",
    "services_basket",
    "service_shares",
    "basket_areas",
    "basket_group_coverage",
]

#: The basket of the issue: a library, a GP practice and a food store.
BASKET: tuple[str, ...] = ("library", "gp", "food_store")
#: Services kept up to this distance (m) outside the area: the lists were cut to Birmingham by
#: postcode district or by the generalised ward boundary, so a few stores stand just outside it
#: (Asda Quinton, 74 m).
KEEP_OUTSIDE_M = 250.0

_CPO2018 = (
    "Contains OS data © Crown copyright and database right 2018. Contains Royal Mail "
    "data © Royal Mail copyright and database right 2018. Contains National Statistics "
    "data © Crown copyright and database right 2018."
)
_FOLDER = ("birmingham", "services")


@dataclass(frozen=True)
class ServiceSource:
    """One published list of a public service, as held in the data mirror.

    Attributes
    ----------
    key
        The service, also its organisations' ``type`` (``"gp"``).
    label
        Plural name for tables and legends (``"GP practices"``).
    file
        File name in the mirror's ``birmingham/services/`` folder.
    publisher, title, vintage, licence, attribution
        Provenance (from the folder's ``PROVENANCE.md``).
    columns
        :func:`cnmap.read_organisations` column options (``name_col``, ``easting_col``...).
    caveats
        What the list cannot say.
    """

    key: str
    label: str
    file: str
    publisher: str
    title: str
    vintage: str
    licence: str
    attribution: str
    columns: Mapping[str, str]
    caveats: tuple[str, ...] = ()

    def provenance(self) -> dict[str, Any]:
        """The list's provenance as plain values (one row of :func:`service_sources`)."""
        out = {k: v for k, v in dataclasses.asdict(self).items() if k != "columns"}
        out["caveats"] = "; ".join(self.caveats)
        return out


def _schools(phase: str, file: str) -> ServiceSource:
    """A school list of the RAMP Urban Analytics OSF files (primary or secondary)."""
    return ServiceSource(
        key=f"{phase}_school",
        label=f"{phase.capitalize()} schools",
        file=file,
        publisher="Department for Education, Get Information about Schools (inferred, not "
        "documented), via maptube/QUANT_RAMP (RAMP Urban Analytics OSF files)",
        title=f"{phase.capitalize()} schools (URN, name, capacity, site easting/northing)",
        vintage="about 2020-05",
        licence="not stated (OGL v3.0 if the data are DfE GIAS, as the URNs suggest)",
        attribution="Schools: locations and URNs from the RAMP Urban Analytics OSF files "
        "(maptube/QUANT_RAMP, May 2020), apparently DfE Get Information about "
        "Schools. " + _CPO2018,
        columns={
            "name_col": "EstablishmentName",
            "postcode_col": "Postcode",
            "easting_col": "Easting",
            "northing_col": "Northing",
            "id_col": "URN",
        },
        caveats=(
            "vintage about May 2020 (the commit date; the list date is not documented)",
            f"'{phase}' is the source's class; whether independent and special schools "
            "are included is not stated",
        ),
    )


#: The service lists of the data mirror, by key.
SERVICE_SOURCES: dict[str, ServiceSource] = {
    s.key: s
    for s in (
        ServiceSource(
            key="gp",
            label="GP practices",
            file="birmingham_gp_practices_epraccur2019-11_active_geocoded_cpo2018.csv",
            publisher="NHS Digital (now NHS England), Organisation Data Service",
            title="epraccur: GP practices in England and Wales (active, prescribing setting 4), "
            "geocoded to Code-Point Open 2018 postcode centroids",
            vintage="2019-11-19",
            licence="Open Government Licence v3.0",
            attribution="Contains public sector information licensed under the Open Government "
            "Licence v3.0 (NHS Digital, Organisation Data Service). " + _CPO2018,
            columns={
                "name_col": "name",
                "postcode_col": "postcode",
                "easting_col": "cpo_easting",
                "northing_col": "cpo_northing",
                "id_col": "org_code",
                "address_col": "address1",
            },
            caveats=(
                "November 2019, before the pandemic: practices opened, merged or closed since "
                "are wrong",
                "main sites only, not branch surgeries",
                "postcode centroids, not buildings",
            ),
        ),
        ServiceSource(
            key="library",
            label="Public libraries",
            file="birmingham_libraries_ACE2022-12_geocoded_cpo2018.csv",
            publisher="Arts Council England, via Libraries Hacked (where-libraries-analysis)",
            title="Static, open, statutory public libraries (independent community libraries "
            "excluded), geocoded to Code-Point Open 2018 postcode centroids",
            vintage="2022-12",
            licence="published, licence not stated (Libraries Hacked code: MIT)",
            attribution="Public libraries: Arts Council England (December 2022) via Libraries "
            "Hacked. " + _CPO2018,
            columns={
                "name_col": "Library name",
                "postcode_col": "Postcode",
                "easting_col": "cpo_easting",
                "northing_col": "cpo_northing",
            },
            caveats=(
                "postcode centroids, not buildings",
                "Shard End Library (B34 7AG) has no Code-Point Open 2018 coordinates and is "
                "placed by the area's postcode lookup",
            ),
        ),
        ServiceSource(
            key="food_store",
            label="Food stores",
            file="birmingham_geolytix_retailpoints_v34_202412.csv",
            publisher="GEOLYTIX",
            title="Retail Points: grocery stores of every size",
            vintage="2024-12 (v34_202412)",
            licence="GEOLYTIX open data (no formal licence document; documented by AccessUK as "
            "under the Open Government Licence)",
            attribution="Retail Points © GEOLYTIX (v34, December 2024). Contains Ordnance Survey "
            "data © Crown copyright and database right. Contains Royal Mail data © "
            "Royal Mail copyright and database right. Contains National Statistics data "
            "© Crown copyright and database right.",
            columns={
                "name_col": "store_name",
                "postcode_col": "postcode",
                "easting_col": "bng_e",
                "northing_col": "bng_n",
                "id_col": "id",
                "address_col": "add_one",
            },
            caveats=(
                "the named grocery chains only (Tesco, Co-op, Aldi, Iceland, Morrisons, Asda, "
                "Sainsbury's, Lidl, M&S, Spar...): independent grocers and markets are absent, "
                "so areas served by independent shops look worse served than they are",
                "stores open in December 2024 only",
                "every size: about half are under 280 m² (convenience stores)",
                "stores within about 100 m of the city boundary may be in or out",
            ),
        ),
        _schools("primary", "birmingham_schools_primary_osf_ramp_2020-05.csv"),
        _schools("secondary", "birmingham_schools_secondary_osf_ramp_2020-05.csv"),
    )
}


# ---------------------------------------------------------------------------------------------
# reading


def _source(key: str) -> ServiceSource:
    if key not in SERVICE_SOURCES:
        raise ValidationError(f"unknown service {key!r}; known: {sorted(SERVICE_SOURCES)}")
    return SERVICE_SOURCES[key]


def _read_text_csv(path: Path) -> tuple[pd.DataFrame, str | None]:
    """Every cell as text (only empty cells are missing); UTF-8, else Windows-1252 (noted)."""
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig"), None
    except UnicodeDecodeError:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="cp1252")
        return frame, f"{path.name}: not UTF-8, read as Windows-1252"
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ValidationError(f"{path.name} is not a readable CSV table: {exc}") from None


def _rows(path: Path, src: ServiceSource) -> tuple[pd.DataFrame, str | None]:
    """The file's rows as text, with the service as a column; and a note on the encoding."""
    frame, note = _read_text_csv(path)
    missing = [c for c in src.columns.values() if c not in frame.columns]
    if missing:
        raise ValidationError(
            f"{path.name}: no column {missing} for {src.label}; the columns "
            f"are {list(frame.columns)[:20]}"
        )
    if "service" in frame.columns:
        raise ValidationError(f"{path.name} already has a 'service' column; rename it first")
    return frame.assign(service=src.key), note


def read_service(
    key: str,
    area: Area | None = None,
    *,
    path: str | Path | None = None,
    postcodes: pd.DataFrame | None = None,
    keep_outside_m: float = KEEP_OUTSIDE_M,
) -> cnmap.io.OrganisationTable:
    """Read one service list as organisations of type ``key``.

    Parameters
    ----------
    key
        A key of :data:`SERVICE_SOURCES` (``"gp"``, ``"library"``, ``"food_store"``,
        ``"primary_school"``, ``"secondary_school"``).
    area
        The area (:func:`cnmap.load_area`): gives ward and LSOA codes and rejects points
        farther than ``keep_outside_m`` outside it.
    path
        A file with the same columns (default: the Birmingham list of the data mirror).
    postcodes
        Postcode lookup for rows without coordinates (default: ``area.postcodes``).
    keep_outside_m
        Keep services up to this distance outside the area (:data:`KEEP_OUTSIDE_M`).

    Returns
    -------
    OrganisationTable
        ``type`` = ``key``; ``service``, ``dataset``, ``vintage`` and ``licence`` columns; the
        provenance in ``params["service"]``; rows located by the list's own easting/northing,
        else by postcode. The name-based duplicate check is off: each row is a distinct
        establishment of a register.
    """
    src = _source(key)
    file = Path(path) if path is not None else mirror_path(*_FOLDER, src.file)
    col = src.columns.get
    rows, note = _rows(file, src)
    table = read_organisations(
        rows,
        area=area,
        postcodes=postcodes,
        coords="auto",
        type_col="service",
        name_col=col("name_col"),
        postcode_col=col("postcode_col"),
        easting_col=col("easting_col"),
        northing_col=col("northing_col"),
        id_col=col("id_col"),
        address_col=col("address_col"),
        keep_outside_m=keep_outside_m,
        duplicate_within_m=None,
    )
    orgs = table.organisations.assign(
        service=src.key, dataset=src.label, vintage=src.vintage, licence=src.licence
    )
    params = {**table.params, "service": src.provenance()}
    notes = (*table.notes, note) if note else table.notes
    return dataclasses.replace(
        table, organisations=orgs, source=str(file), params=params, notes=notes
    )


def read_gp_practices(area: Area | None = None, **kwargs: Any) -> cnmap.io.OrganisationTable:
    """Active GP practices, NHS ODS epraccur (November 2019); see :func:`read_service`."""
    return read_service("gp", area, **kwargs)


def read_libraries(area: Area | None = None, **kwargs: Any) -> cnmap.io.OrganisationTable:
    """Public libraries, Arts Council England (December 2022); see :func:`read_service`."""
    return read_service("library", area, **kwargs)


def read_food_stores(area: Area | None = None, **kwargs: Any) -> cnmap.io.OrganisationTable:
    """Grocery stores, GEOLYTIX Retail Points v34 (December 2024); see :func:`read_service`."""
    return read_service("food_store", area, **kwargs)


def read_schools(
    area: Area | None = None, *, phase: str = "primary", **kwargs: Any
) -> cnmap.io.OrganisationTable:
    """Primary or secondary schools (about May 2020); see :func:`read_service`.

    ``phase`` is ``"primary"`` or ``"secondary"``; the type is ``primary_school`` or
    ``secondary_school``.
    """
    if phase not in ("primary", "secondary"):
        raise ValidationError(f"phase={phase!r} must be 'primary' or 'secondary'")
    return read_service(f"{phase}_school", area, **kwargs)


def read_services(
    area: Area | None = None,
    keys: Iterable[str] = BASKET,
    *,
    paths: Mapping[str, str | Path] | None = None,
    **kwargs: Any,
) -> dict[str, cnmap.io.OrganisationTable]:
    """Several service lists at once: ``{key: OrganisationTable}`` in the order of ``keys``.

    ``paths`` maps keys to files other than the mirror's; other keywords go to
    :func:`read_service`.
    """
    wanted = list(dict.fromkeys([keys] if isinstance(keys, str) else keys))
    if not wanted:
        raise ValidationError("keys is empty: name at least one service")
    paths = dict(paths or {})
    unknown = sorted(set(paths) - set(wanted))
    if unknown:
        raise ValidationError(f"paths given for services not read: {unknown}")
    return {k: read_service(k, area, path=paths.get(k), **kwargs) for k in wanted}


def combine_services(
    tables: Mapping[str, cnmap.io.OrganisationTable] | Sequence[cnmap.io.OrganisationTable],
) -> gpd.GeoDataFrame:
    """The organisations of several service lists as one table, for one coverage run.

    ``org_id`` becomes ``<service>:<org_id>`` (ids are unique within a list, not across lists);
    every row keeps its ``service``, ``dataset``, ``vintage`` and ``licence``.
    """
    items = list(tables.values()) if isinstance(tables, Mapping) else list(tables)
    if not items:
        raise ValidationError("no service list given")
    frames = []
    for t in items:
        orgs = getattr(t, "organisations", None)
        if not isinstance(orgs, gpd.GeoDataFrame) or "service" not in orgs.columns:
            raise ValidationError(
                "combine_services takes the tables of read_service / read_services"
            )
        frames.append(
            orgs.assign(
                **{S.ORG_ID: orgs["service"].astype(str) + ":" + orgs[S.ORG_ID].astype(str)}
            )
        )
    out = gpd.GeoDataFrame(
        pd.concat(frames, ignore_index=True), geometry=S.GEOMETRY, crs=frames[0].crs
    )
    dup = out[S.ORG_ID].duplicated()
    if dup.any():
        raise ValidationError(f"the same list is given twice (ids {list(out[S.ORG_ID][dup][:5])})")
    return out


def service_sources(
    tables: Mapping[str, cnmap.io.OrganisationTable] | Sequence[cnmap.io.OrganisationTable],
) -> pd.DataFrame:
    """One row per service list read: provenance, file, and rows read, kept and rejected."""
    items = list(tables.values()) if isinstance(tables, Mapping) else list(tables)
    rows = []
    for t in items:
        prov = t.params.get("service")
        if not isinstance(prov, Mapping):
            raise ValidationError(f"{t.source}: not read by read_service (no provenance)")
        rows.append(
            {
                **prov,
                "path": t.source,
                "rows": t.n_input,
                "kept": t.n_matched,
                "rejected": t.n_rejected,
            }
        )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# the basket


def services_basket(
    coverage: CoverageResult,
    services: Sequence[str] = BASKET,
    *,
    minutes: float | Iterable[float] | None = None,
) -> BasketResult:
    """Who reaches at least one of each service: :func:`cnmap.basket.basket_coverage` with one
    requirement per service type (default: library, GP practice, food store).

    ``coverage`` is one coverage result of the services' organisations together
    (``coverage(combine_services(read_services(area)), area, ...)``), computed by type (the
    default), so that each requirement uses the stored ``covered_{T}min_{service}`` columns.
    """
    wanted = list(dict.fromkeys(services))
    if not wanted:
        raise ValidationError("services is empty: name at least one service type")
    return basket_coverage(coverage, {k: (k,) for k in wanted}, minutes=minutes)


def _labels(basket: BasketResult) -> dict[str, str]:
    out = {k: SERVICE_SOURCES[k].label if k in SERVICE_SOURCES else k for k in basket.requirements}
    out["basket"] = "Basket: " + " + ".join(out[k] for k in basket.requirements)
    return out


def _basket_minutes(basket: BasketResult, minutes: Any) -> tuple[int | float, ...]:
    if minutes is None:
        return tuple(basket.thresholds)
    out = []
    for m in _check.minutes_tuple("minutes", minutes):
        match = [t for t in basket.thresholds if np.isclose(float(t), m)]
        if not match:
            raise ValidationError(
                f"minutes={m!r} is not among the basket's time limits {list(basket.thresholds)}"
            )
        out.append(match[0])
    return tuple(out)


def service_shares(basket: BasketResult, *, minutes: Any = None) -> pd.DataFrame:
    """The whole area: residents within reach of each service and of the whole basket.

    Returns
    -------
    pandas.DataFrame
        One row per time limit and service, then the basket: ``minutes``, ``service`` (a type or
        ``"basket"``), ``label``, ``population``, ``covered``, ``not_covered``,
        ``share_covered``. The basket's share is never above a single service's.
    """
    labels = _labels(basket)
    totals = basket.totals.set_index(S.MINUTES)
    rows = []
    for t in _basket_minutes(basket, minutes):
        r = totals.loc[t]
        pop = float(r[S.POPULATION])
        for k in (*basket.requirements, "basket"):
            covered = float(r["pop_basket"]) if k == "basket" else pop - float(r[S.pop_without(k)])
            rows.append(
                {
                    "minutes": t,
                    "service": k,
                    "label": labels[k],
                    "population": pop,
                    "covered": covered,
                    "not_covered": pop - covered,
                    "share_covered": covered / pop if pop else float("nan"),
                }
            )
    return pd.DataFrame(rows)


def basket_areas(basket: BasketResult, *, by: str = "lsoa", minutes: Any = None) -> pd.DataFrame:
    """The basket by LSOA or ward, one row per area, tidy names.

    Parameters
    ----------
    basket
        :func:`services_basket`'s result.
    by
        ``"lsoa"`` or ``"ward"``.
    minutes
        One time limit (default: 15 if evaluated, else the largest).

    Returns
    -------
    pandas.DataFrame
        ``code``, ``name``, ``population``, ``share_<service>`` for each service,
        ``share_basket``, ``pop_without_basket`` and ``weakest`` (the service the fewest of the
        area's residents reach; blank when all reach every one), sorted by ``share_basket``.
    """
    if by not in ("lsoa", "ward"):
        raise ValidationError(f"by={by!r} must be 'lsoa' or 'ward'")
    ts = _basket_minutes(
        basket, S.default_minutes(basket.thresholds) if minutes is None else minutes
    )
    if len(ts) != 1:
        raise ValidationError(f"minutes={minutes!r}: give one time limit")
    t = ts[0]
    src = basket.lsoas if by == "lsoa" else basket.wards
    code, name = (S.LSOA_CODE, S.LSOA_NAME) if by == "lsoa" else (S.WARD_CODE, S.WARD_NAME)
    out = pd.DataFrame(
        {
            "code": src[code].to_numpy(),
            "name": src[name].to_numpy() if name in src.columns else None,
            "population": src[S.POPULATION].to_numpy(float),
        }
    )
    shares = {k: src[S.share_with(k, t)].to_numpy(float) for k in basket.requirements}
    for k, v in shares.items():
        out[f"share_{k}"] = v
    out["share_basket"] = src[S.share_basket(t)].to_numpy(float)
    out["pop_without_basket"] = out["population"] - src[S.pop_basket(t)].to_numpy(float)
    stacked = np.column_stack(list(shares.values()))
    weakest = np.array(list(shares))[np.nanargmin(np.nan_to_num(stacked, nan=np.inf), axis=1)]
    out["weakest"] = pd.Series(weakest, dtype=object).where(out["share_basket"] < 1.0, None)
    out.attrs.update(minutes=t, by=by)
    return out.sort_values("share_basket", kind="stable").reset_index(drop=True)


def _reach_view(
    coverage: CoverageResult, reach: pd.DataFrame, thresholds: Sequence[int | float]
) -> CoverageResult:
    """``coverage`` whose ``covered_{T}min`` columns are ``reach``'s (same points and LSOAs):
    what :func:`cnmap.groups.group_coverage` reads. Only for that use: its area tables are
    the original coverage's."""
    keep = [
        c
        for c in (S.LSOA_CODE, S.WARD_CODE, S.WEIGHT, S.PLACED, S.IMD_DECILE)
        if c in coverage.residents.columns
    ]
    res = coverage.residents[keep].copy()
    for t in thresholds:
        res[S.covered(t)] = reach[S.covered(t)].to_numpy(bool)
    residents = gpd.GeoDataFrame(
        res, geometry=coverage.residents.geometry.values, crs=coverage.residents.crs
    )
    return dataclasses.replace(
        coverage, residents=residents, thresholds=tuple(thresholds), types=()
    )


def basket_group_coverage(
    coverage: CoverageResult,
    basket: BasketResult,
    layers: NeedLayer | Sequence[NeedLayer],
    *,
    minutes: Any = None,
    groups: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Who is served by each service and by the whole basket, group by group.

    For each service of the basket and for the basket itself, :func:`cnmap.groups.group_coverage`
    of the residents who reach it (each LSOA's group counts apportioned to its residential
    points, as there).

    Parameters
    ----------
    coverage
        The coverage result the basket was computed from (same residential points).
    basket
        :func:`services_basket`'s (or :func:`cnmap.basket.basket_coverage`'s) result.
    layers, groups
        As :func:`cnmap.groups.group_coverage` (count layers on the result's LSOA vintage).
    minutes
        Time limits (default: all the basket's).

    Returns
    -------
    pandas.DataFrame
        ``service`` (a requirement or ``"basket"``), ``service_label``, then the columns of
        :data:`cnmap.groups.GROUP_COLUMNS`. A group's basket share is never above its share for
        any single service.
    """
    if len(basket.residents) != len(coverage.residents) or not np.array_equal(
        basket.residents[S.LSOA_CODE].astype(str).to_numpy(),
        coverage.residents[S.LSOA_CODE].astype(str).to_numpy(),
    ):
        raise ValidationError(
            "the basket was not computed from this coverage result (its residential points differ)"
        )
    ts = _basket_minutes(basket, minutes)
    labels = _labels(basket)
    parts = []
    for k in (*basket.requirements, "basket"):
        cols = {
            S.covered(t): basket.residents[S.basket(t) if k == "basket" else S.has(k, t)]
            for t in ts
        }
        view = _reach_view(coverage, pd.DataFrame(cols), ts)
        table = group_coverage(view, layers, groups=groups)
        table.insert(0, "service_label", labels[k])
        table.insert(0, "service", k)
        parts.append(table)
    return pd.concat(parts, ignore_index=True)[["service", "service_label", *GROUP_COLUMNS]]
