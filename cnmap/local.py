"""Layers of local: the street, the neighbourhood, the ward and the city, in numbers.

The Birmingham report speaks of help "on my street", "in my neighbourhood", "in my ward" and
"in the city". :func:`layers_of_local` turns each word into one row of a table from one coverage
result, always as *residents* and the share of them who have help at that scale:

- **street**: lives within a short walk (default 5 minutes, 400 m at 4.8 km/h) of at least one
  organisation;
- **neighbourhood**: within the headline walk (default 15 minutes, 1,200 m);
- **ward**: lives in a ward where at least one organisation is located;
- **city**: lives in the district, which holds at least one organisation.

Each row also gives the units tested (residential points, wards, the district), how many have
help, and ``mean_organisations``: how many organisations the average resident has at that
scale (within the walk, in their ward, in the city). :func:`local_units` gives the same unit by
unit (LSOAs for the walking scales, wards, the district) for maps, and :func:`local_map` draws
them as a folium map with one layer per scale; all its text goes through
:func:`cnmap.maps._safe.inert_html` and its data through :func:`cnmap.maps._safe.inert_json`
(``docs/security.md``, "Text in maps").

Everything here is pure: no file is read, no input is changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from cnmap import schema as S
from cnmap.errors import MissingColumnError, ValidationError
from cnmap.geo import to_wgs84

if TYPE_CHECKING:
    from cnmap.coverage import CoverageResult

__all__ = ["SCALES", "LOCAL_COLUMNS", "UNIT_COLUMNS", "layers_of_local", "local_units", "local_map"]

#: The four scales, smallest first.
SCALES: tuple[str, ...] = ("street", "neighbourhood", "ward", "city")
#: Columns of :func:`layers_of_local`'s table.
LOCAL_COLUMNS: tuple[str, ...] = (
    "scale",
    "unit",
    "minutes",
    "metres",
    "definition",
    "n_units",
    "n_units_with",
    "population",
    "covered",
    "not_covered",
    "share_covered",
    "mean_organisations",
    "n_organisations",
)
#: Columns of :func:`local_units`'s table (with ``geometry``).
UNIT_COLUMNS: tuple[str, ...] = (
    "scale",
    "unit",
    "code",
    "name",
    "population",
    "covered",
    "share_covered",
    "n_organisations",
)


@dataclass(frozen=True)
class _Run:
    """What every scale needs from a coverage result."""

    weight: np.ndarray
    ward: np.ndarray
    orgs_in_ward: pd.Series  # organisations located in each ward (all wards, 0 for none)
    street: int | float
    neighbourhood: int | float
    per_min_m: float
    place: str


def _limit(result: CoverageResult, minutes: Any, name: str) -> int | float:
    t = S.minutes_value(minutes)
    match = [m for m in result.thresholds if np.isclose(float(m), float(t))]
    if not match:
        raise ValidationError(
            f"{name}={minutes!r} is not among the coverage result's time limits "
            f"{list(result.thresholds)}; compute it with coverage(..., minutes=[{t}, ...])"
        )
    return match[0]


def _located(orgs: gpd.GeoDataFrame, polys: gpd.GeoDataFrame, code: str) -> pd.Series:
    """Number of organisations inside each polygon, by the polygon's code (0 for none)."""
    codes = polys[code].astype(str).to_numpy()
    if len(orgs) == 0 or len(polys) == 0:
        return pd.Series(0, index=pd.Index(codes, name=code), dtype=int)
    pts = orgs.geometry
    if orgs.crs is not None and polys.crs is not None and orgs.crs != polys.crs:
        pts = pts.to_crs(polys.crs)
    tree = shapely.STRtree(polys.geometry.values)
    pidx, gidx = tree.query(pts.values, predicate="intersects")
    first = np.unique(pidx, return_index=True)[1]  # a point on a shared edge counts once
    counts = np.bincount(gidx[first], minlength=len(codes))
    return pd.Series(counts, index=pd.Index(codes, name=code)).groupby(level=0).sum()


def _run(result: CoverageResult, street: Any, neighbourhood: Any) -> _Run:
    res, wards = result.residents, result.wards
    for frame, cols, what in (
        (res, (S.WEIGHT, S.WARD_CODE), "residents"),
        (wards, (S.WARD_CODE, S.GEOMETRY), "wards"),
    ):
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise MissingColumnError(f"the coverage result's {what} have no {missing} column")
    s, n = (
        _limit(result, street, "street_minutes"),
        _limit(result, neighbourhood, "neighbourhood_minutes"),
    )
    if float(s) > float(n):
        raise ValidationError(
            f"street_minutes={street!r} is longer than neighbourhood_minutes={neighbourhood!r}"
        )
    place = result.area.lad_name if result.area is not None else "the district"
    return _Run(
        weight=res[S.WEIGHT].to_numpy(float),
        ward=res[S.WARD_CODE].astype(str).to_numpy(),
        orgs_in_ward=_located(result.organisations, wards, S.WARD_CODE),
        street=s,
        neighbourhood=n,
        per_min_m=result.speed_kmh * 1000.0 / 60.0,
        place=str(place),
    )


def _placed_orgs(result: CoverageResult) -> int:
    orgs = result.organisations
    if S.SNAPPED in orgs.columns:
        return int(orgs[S.SNAPPED].to_numpy(bool).sum())
    return len(orgs)


def _walk_row(result: CoverageResult, run: _Run, scale: str, t: int | float) -> dict[str, Any]:
    res = result.residents
    covered = res[S.covered(t)].to_numpy(bool)
    col = S.n_reachable(t)
    n_reach = res[col].to_numpy(float) if col in res.columns else covered.astype(float)
    pop = float(run.weight.sum())
    metres = float(t) * run.per_min_m
    return {
        "scale": scale,
        "unit": "residential point",
        "minutes": t,
        "metres": metres,
        "definition": f"lives within a {t:g}-minute walk ({metres:,.0f} m) of at least one "
        "organisation",
        "n_units": len(res),
        "n_units_with": int(covered.sum()),
        "population": pop,
        "covered": float(run.weight[covered].sum()),
        "mean_organisations": float((run.weight * n_reach).sum() / pop) if pop else np.nan,
        "n_organisations": _placed_orgs(result),
    }


def _ward_row(run: _Run) -> dict[str, Any]:
    n = run.orgs_in_ward.reindex(run.ward, fill_value=0).to_numpy(float)
    pop = float(run.weight.sum())
    return {
        "scale": "ward",
        "unit": "ward",
        "minutes": np.nan,
        "metres": np.nan,
        "definition": "lives in a ward where at least one organisation is located",
        "n_units": len(run.orgs_in_ward),
        "n_units_with": int((run.orgs_in_ward > 0).sum()),
        "population": pop,
        "covered": float(run.weight[n > 0].sum()),
        "mean_organisations": float((run.weight * n).sum() / pop) if pop else np.nan,
        "n_organisations": int(run.orgs_in_ward.sum()),
    }


def _city_row(run: _Run) -> dict[str, Any]:
    n = int(run.orgs_in_ward.sum())
    pop = float(run.weight.sum())
    return {
        "scale": "city",
        "unit": "district",
        "minutes": np.nan,
        "metres": np.nan,
        "definition": f"lives in {run.place}, where at least one organisation is located",
        "n_units": 1,
        "n_units_with": int(n > 0),
        "population": pop,
        "covered": pop if n > 0 else 0.0,
        "mean_organisations": float(n),
        "n_organisations": n,
    }


def layers_of_local(
    result: CoverageResult, *, street_minutes: float = 5, neighbourhood_minutes: float = 15
) -> pd.DataFrame:
    """The report's four scales of "local" as one table: who has help at each scale.

    Parameters
    ----------
    result
        A coverage result (:func:`cnmap.coverage.coverage`) holding both time limits.
    street_minutes
        The street scale's walk (default 5 minutes).
    neighbourhood_minutes
        The neighbourhood scale's walk (default 15 minutes).

    Returns
    -------
    pandas.DataFrame
        One row per scale (street, neighbourhood, ward, city): ``scale``, ``unit`` (what is
        tested: residential point, ward, district), ``minutes`` and ``metres`` (walking scales),
        ``definition`` (in words), ``n_units``, ``n_units_with`` (units with help at that
        scale), ``population``, ``covered``, ``not_covered``, ``share_covered`` (residents with
        help at that scale), ``mean_organisations`` (organisations the average resident has at
        that scale) and ``n_organisations`` (placed on the walk network for the walking scales;
        located in the area's wards for the others). Shares never fall from one scale to the
        next larger one when every organisation is in the area.

    Raises
    ------
    ValidationError
        A time limit the result does not hold, or a street walk longer than the neighbourhood's.
    """
    run = _run(result, street_minutes, neighbourhood_minutes)
    rows = [
        _walk_row(result, run, "street", run.street),
        _walk_row(result, run, "neighbourhood", run.neighbourhood),
        _ward_row(run),
        _city_row(run),
    ]
    out = pd.DataFrame(rows)
    out["not_covered"] = out["population"] - out["covered"]
    pop = out["population"].to_numpy(float)
    out["share_covered"] = np.where(pop > 0, out["covered"] / np.where(pop > 0, pop, 1.0), np.nan)
    out.attrs["place"] = run.place
    return out[list(LOCAL_COLUMNS)]


# ---------------------------------------------------------------------------------------------
# unit by unit, for maps


def _lsoa_units(result: CoverageResult, scale: str, t: int | float) -> pd.DataFrame:
    lsoas = result.lsoas
    located = _located(result.organisations, lsoas, S.LSOA_CODE)
    codes = lsoas[S.LSOA_CODE].astype(str)
    return pd.DataFrame(
        {
            "scale": scale,
            "unit": "LSOA",
            "code": codes.to_numpy(),
            "name": lsoas[S.LSOA_NAME].to_numpy() if S.LSOA_NAME in lsoas.columns else codes,
            "population": lsoas[S.POPULATION].to_numpy(float),
            "covered": lsoas[S.pop_covered(t)].fillna(0.0).to_numpy(float),
            "n_organisations": located.reindex(codes.to_numpy(), fill_value=0).to_numpy(int),
            "geometry": lsoas.geometry.values,
        }
    )


def _ward_units(result: CoverageResult, run: _Run) -> pd.DataFrame:
    wards = result.wards
    codes = wards[S.WARD_CODE].astype(str).to_numpy()
    pop = pd.Series(run.weight).groupby(run.ward).sum().reindex(codes, fill_value=0.0)
    n = run.orgs_in_ward.reindex(codes, fill_value=0).to_numpy(int)
    return pd.DataFrame(
        {
            "scale": "ward",
            "unit": "ward",
            "code": codes,
            "name": wards[S.WARD_NAME].to_numpy() if S.WARD_NAME in wards.columns else codes,
            "population": pop.to_numpy(float),
            "covered": np.where(n > 0, pop.to_numpy(float), 0.0),
            "n_organisations": n,
            "geometry": wards.geometry.values,
        }
    )


def _city_unit(result: CoverageResult, run: _Run) -> pd.DataFrame:
    n = int(run.orgs_in_ward.sum())
    pop = float(run.weight.sum())
    code = result.area.lad_code if result.area is not None else "district"
    return pd.DataFrame(
        {
            "scale": ["city"],
            "unit": ["district"],
            "code": [str(code)],
            "name": [run.place],
            "population": [pop],
            "covered": [pop if n > 0 else 0.0],
            "n_organisations": [n],
            "geometry": [shapely.union_all(result.wards.geometry.values)],
        }
    )


def local_units(
    result: CoverageResult, *, street_minutes: float = 5, neighbourhood_minutes: float = 15
) -> gpd.GeoDataFrame:
    """:func:`layers_of_local` unit by unit: the map view of each scale.

    Returns
    -------
    geopandas.GeoDataFrame
        In the result's CRS (EPSG:27700), one row per LSOA for the street and the neighbourhood
        scales (the share of the LSOA's residents within the walk), per ward (1 or 0: the ward
        holds an organisation or not) and one for the district: the columns of
        :data:`UNIT_COLUMNS` and ``geometry``. Per scale, ``covered`` adds up to the
        ``covered`` of :func:`layers_of_local`'s row.
    """
    run = _run(result, street_minutes, neighbourhood_minutes)
    parts = [
        _lsoa_units(result, "street", run.street),
        _lsoa_units(result, "neighbourhood", run.neighbourhood),
        _ward_units(result, run),
        _city_unit(result, run),
    ]
    out = pd.concat(parts, ignore_index=True)
    pop = out["population"].to_numpy(float)
    out["share_covered"] = np.where(pop > 0, out["covered"] / np.where(pop > 0, pop, 1.0), np.nan)
    out.attrs.update(
        street_minutes=run.street, neighbourhood_minutes=run.neighbourhood, place=run.place
    )
    return gpd.GeoDataFrame(
        out[[*UNIT_COLUMNS, "geometry"]], geometry="geometry", crs=result.wards.crs
    )


# ---------------------------------------------------------------------------------------------
# the map view

#: Share classes (upper bounds) and their colours (ColorBrewer YlGnBu, colour-blind safe).
SHARE_CLASSES: tuple[tuple[float, str], ...] = (
    (0.25, "#ffffcc"),
    (0.5, "#a1dab4"),
    (0.75, "#41b6c4"),
    (0.9, "#2c7fb8"),
    (1.0, "#253494"),
)
_NO_DATA = "#cccccc"


def _colour(share: float) -> str:
    if not np.isfinite(share):
        return _NO_DATA
    return next(c for upper, c in SHARE_CLASSES if share <= upper + 1e-12)


def _layer_name(scale: str, attrs: dict[str, Any]) -> str:
    if scale == "street":
        return f"Street: within {attrs['street_minutes']:g} minutes' walk (share of each LSOA)"
    if scale == "neighbourhood":
        return (
            f"Neighbourhood: within {attrs['neighbourhood_minutes']:g} minutes' walk "
            "(share of each LSOA)"
        )
    if scale == "ward":
        return "Ward: an organisation in the ward"
    return "City: an organisation in the district"


def _tip(row: Any, scale: str) -> str:
    from cnmap.maps._safe import inert_html

    share = row.share_covered
    share_text = "n/a" if not np.isfinite(share) else f"{share:.0%}"
    what = {
        "street": "within the street walk",
        "neighbourhood": "within the neighbourhood walk",
        "ward": "in a ward with an organisation",
        "city": "in a district with an organisation",
    }[scale]
    lines = [
        f"<b>{inert_html(row.name)}</b> ({inert_html(row.code)})",
        f"{inert_html(f'{row.population:,.0f}')} residents; {inert_html(share_text)} "
        f"{inert_html(what)}",
        f"{inert_html(f'{row.n_organisations:,d}')} organisation(s) located here",
    ]
    return "<br>".join(lines)


def _features(units: gpd.GeoDataFrame, scale: str, simplify_m: float) -> dict[str, Any]:
    part = units[units["scale"] == scale]
    geoms = to_wgs84(part.geometry.simplify(simplify_m, preserve_topology=True))
    geoms = shapely.set_precision(geoms.values, 1e-6)
    feats = []
    for row, geom in zip(part.itertuples(index=False), geoms, strict=True):
        style = {
            "fillColor": _colour(float(row.share_covered)),
            "color": "#555555",
            "weight": 0.6 if scale in ("street", "neighbourhood") else 1.2,
            "fillOpacity": 0.7,
        }
        feats.append(
            {
                "type": "Feature",
                "geometry": shapely.geometry.mapping(geom),
                "properties": {"style": style, "tip": _tip(row, scale)},
            }
        )
    return {"type": "FeatureCollection", "features": feats}


def _sources(result: CoverageResult) -> list[str]:
    """Attributions: the area's data, the street network (ODbL) when walked on it, and each
    organisation list's licence when the organisations record it (``dataset``, ``licence``)."""
    out = (
        result.sources["attribution"].dropna().astype(str).tolist()
        if "attribution" in result.sources.columns
        else []
    )
    if result.mode == "network":
        out.append("Walking network © OpenStreetMap contributors (ODbL).")
    orgs = result.organisations
    if {"dataset", "licence"} <= set(orgs.columns):
        pairs = orgs[["dataset", "licence"]].dropna().drop_duplicates()
        out.extend(f"{d}: {lic}." for d, lic in pairs.itertuples(index=False))
    return out


def _panel_html(table: pd.DataFrame, sources: Sequence[str], place: str) -> str:
    from cnmap.maps._safe import inert_html

    rows = "".join(
        f"<tr><td>{inert_html(r.scale.capitalize())}</td><td>{inert_html(r.definition)}</td>"
        f"<td style='text-align:right'>{inert_html(f'{r.share_covered:.1%}')}</td></tr>"
        for r in table.itertuples(index=False)
    )
    keys = "".join(
        f"<span style='background:{c};display:inline-block;width:14px;height:10px'></span> "
        f"{inert_html(f'up to {upper:.0%}')} "
        for upper, c in SHARE_CLASSES
    )
    src = inert_html(" ".join(dict.fromkeys(s for s in sources if s)))
    return (
        f"<div style='background:white;padding:6px 8px;max-width:360px;font:12px sans-serif'>"
        f"<b>{inert_html(f'Layers of local: {place}')}</b>"
        f"<table>{rows}</table><div>{keys}</div>"
        f"<div style='font-size:9px;color:#555'>{src}</div></div>"
    )


def _elements() -> tuple[type, type]:
    """The map's element classes (:mod:`cnmap._local_elements`; folium imported on first use)."""
    from cnmap import _local_elements as E

    return E.ScaleLayer, E.Panel


def _add_tiles(m: Any, tiles: str | None) -> None:
    """One base map, without a layer-control entry, with the maps' referrer policy."""
    import folium

    from cnmap.maps.interactive import REFERRER_POLICY, tile_layer

    if not tiles:
        return
    tile_layer(folium, tiles, control=False, referrer_policy=REFERRER_POLICY).add_to(m)


def local_map(
    result: CoverageResult,
    *,
    street_minutes: float = 5,
    neighbourhood_minutes: float = 15,
    show: str = "neighbourhood",
    tiles: str | None = "carto_light",
    simplify_m: float = 10.0,
) -> Any:
    """The four scales as a folium map: one layer per scale (one shown at a time).

    Parameters
    ----------
    result
        A coverage result holding both time limits.
    street_minutes, neighbourhood_minutes
        As :func:`layers_of_local`.
    show
        The scale shown on opening.
    tiles
        A base map of :data:`cnmap.maps.interactive.BASEMAPS` (``"carto_light"``,
        ``"esri_grey"``, ``"osm"``), another folium tile name, or None for none.
    simplify_m
        Geometry simplification tolerance (m) for a light page.

    Returns
    -------
    folium.Map
        Save it with ``.save(path)``. Every text is escaped by
        :func:`cnmap.maps._safe.inert_html` and every data block written by
        :func:`cnmap.maps._safe.inert_json`: no ``{{``, ``{%`` or ``{#`` reaches the page.
    """
    import folium

    from cnmap.maps._safe import inert_html

    if show not in SCALES:
        raise ValidationError(f"show={show!r} must be one of {list(SCALES)}")
    table = layers_of_local(
        result, street_minutes=street_minutes, neighbourhood_minutes=neighbourhood_minutes
    )
    units = local_units(
        result, street_minutes=street_minutes, neighbourhood_minutes=neighbourhood_minutes
    )
    bounds = to_wgs84(units).total_bounds
    m = folium.Map(tiles=None, control_scale=True)
    _add_tiles(m, tiles)
    scale_layer, panel = _elements()
    for scale in SCALES:
        scale_layer(
            inert_html(_layer_name(scale, units.attrs)),
            _features(units, scale, simplify_m),
            show=scale == show,
        ).add_to(m)
    panel(_panel_html(table, _sources(result), str(units.attrs["place"]))).add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    m.fit_bounds([[float(bounds[1]), float(bounds[0])], [float(bounds[3]), float(bounds[2])]])
    return m
