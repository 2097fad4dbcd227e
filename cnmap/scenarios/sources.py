"""A scenario's organisations as one table: files, organisation tables and GeoDataFrames.

:func:`read_items` turns what :class:`cnmap.scenarios.Scenario` holds in ``organisations`` into
one GeoDataFrame in EPSG:27700 and the rows rejected on reading. A file
(:class:`cnmap.config.OrganisationSource`, or a path) is read by
:func:`cnmap.organisations.read_organisations` with the area, exactly as ``cnmap run`` reads
it (:func:`read_source`: the same reader options, prepared lists, type filling, ``dataset``
column and rejected rows); with several items, ids are prefixed by the item's position
(``1-…``, ``2-…``) so that they stay unique.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd

from cnmap import schema as S
from cnmap.config import OrganisationSource
from cnmap.errors import ValidationError

if TYPE_CHECKING:  # pragma: no cover
    from cnmap.area import Area

__all__ = ["describe", "read_items", "read_source"]


def describe(orgs: Any) -> Any:
    """What ``organisations`` holds, as plain values (recorded with every scenario result)."""
    if isinstance(orgs, OrganisationSource):
        return {"path": str(orgs.path), "label": orgs.label, "type": orgs.type}
    if isinstance(orgs, str | os.PathLike):
        return str(orgs)
    if isinstance(orgs, pd.DataFrame):
        return f"GeoDataFrame of {len(orgs)} organisations"
    if hasattr(orgs, "organisations"):
        return (
            f"OrganisationTable of {len(orgs.organisations)} organisations "
            f"({getattr(orgs, 'source', '')})"
        )
    if isinstance(orgs, list | tuple):
        return [describe(o) for o in orgs]
    return repr(orgs)


def _fill_type(g: gpd.GeoDataFrame, fill: str | None) -> None:
    """The file's ``type`` fills blank types (in place)."""
    if fill is None:
        return
    if S.ORG_TYPE not in g.columns:
        g[S.ORG_TYPE] = fill
    else:
        g[S.ORG_TYPE] = g[S.ORG_TYPE].astype(object).where(g[S.ORG_TYPE].notna(), fill)


def _source_input(src: OrganisationSource, area: Area | None) -> tuple[Any, dict[str, Any]]:
    """What the reader reads for ``src`` (the file, or the list prepared from it:
    :mod:`cnmap.org_lists`) and the reader options."""
    opts = dict(src.options)
    if src.type_col:
        opts["type_col"] = src.type_col
    if not src.prepared:
        return src.path, opts
    from cnmap.org_lists import FILE_OPTIONS, prepare_list

    prepared = prepare_list(
        src.path,
        label=f"organisations file {src.path} ({src.label})",
        columns=src.columns,
        keep=src.keep,
        area_postcodes_only=src.area_postcodes_only,
        options=opts,
        area=area,
    )
    for key in FILE_OPTIONS:
        opts.pop(key, None)
    return prepared.frame, opts


def read_source(
    src: OrganisationSource, area: Area | None, *, prefix: str = ""
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Read one organisations file as ``cnmap run`` does.

    Parameters
    ----------
    src
        The file and its reader options.
    area
        The area: rows outside it are rejected with a reason (None: no area check).
    prefix
        Put before every organisation id (e.g. ``"2-"``).

    Returns
    -------
    tuple of geopandas.GeoDataFrame and pandas.DataFrame
        The placed organisations (EPSG:27700, ``dataset`` = the file's label first) and the
        rejected rows (with ``dataset`` and ``file``).
    """
    from cnmap.organisations import read_organisations

    if not src.path.is_file():
        raise ValidationError(
            f"organisations file {src.path} ({src.label}) does not exist or is "
            "not a file; check the path in the configuration"
        )
    table_in, opts = _source_input(src, area)
    table = read_organisations(table_in, area=area, **opts)
    g = table.organisations.copy()
    _fill_type(g, src.type)
    g[S.ORG_ID] = [f"{prefix}{v}" for v in g[S.ORG_ID].astype(str)]
    g.insert(0, "dataset", src.label)
    rej = table.rejected.copy()
    rej.insert(0, "dataset", src.label)
    rej.insert(1, "file", str(src.path))
    orgs = gpd.GeoDataFrame(pd.concat([g], ignore_index=True), geometry="geometry", crs=S.BNG)
    return orgs, pd.concat([rej], ignore_index=True)


def _table_item(
    it: Any, i: int, many: bool, name: str
) -> tuple[gpd.GeoDataFrame, pd.DataFrame | None]:
    """An OrganisationTable or GeoDataFrame item: its organisations (ids prefixed when there
    are several items) and its rejected rows, if any."""
    g = getattr(it, "organisations", it)
    if not isinstance(g, gpd.GeoDataFrame):
        raise ValidationError(
            f"scenario {name!r}: organisations item {i} is a "
            f"{type(it).__name__}; give a path, an OrganisationTable "
            "or a GeoDataFrame"
        )
    rej = getattr(it, "rejected", None)
    rejected = (
        rej.assign(dataset=f"item {i}") if isinstance(rej, pd.DataFrame) and len(rej) else None
    )
    g = g.copy()
    if many:
        ids = (
            g[S.ORG_ID].astype(str)
            if S.ORG_ID in g.columns
            else pd.Series([f"org{j}" for j in range(len(g))], index=g.index)
        )
        g[S.ORG_ID] = [f"{i}-{v}" for v in ids]
    return (g.to_crs(S.BNG) if g.crs is not None else g), rejected


def _read_item(
    it: Any, area: Area | None, i: int, many: bool, name: str
) -> tuple[gpd.GeoDataFrame, pd.DataFrame | None]:
    """Item ``i`` of a scenario's organisations: a file is read, a table taken as it is."""
    if isinstance(it, str | os.PathLike):
        it = OrganisationSource(path=Path(it), label=Path(it).stem)
    if isinstance(it, OrganisationSource):
        return read_source(it, area, prefix=f"{i}-" if many else "")
    return _table_item(it, i, many, name)


def read_items(
    items: Sequence[Any], area: Area | None, *, name: str
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """A scenario's organisations as one GeoDataFrame, and the rows rejected on reading.

    Parameters
    ----------
    items
        Paths, :class:`cnmap.config.OrganisationSource`, organisation tables or GeoDataFrames.
        With more than one, ids are prefixed by the position (``1-…``, ``2-…``); a single file
        keeps its own ids.
    area
        The area, for files (rows outside it are rejected).
    name
        The scenario's name, for messages.

    Returns
    -------
    tuple of geopandas.GeoDataFrame and pandas.DataFrame
    """
    if not items:
        raise ValidationError(f"scenario {name!r}: the organisations list is empty")
    frames: list[gpd.GeoDataFrame] = []
    rejected: list[pd.DataFrame] = []
    many = len(items) > 1
    for i, it in enumerate(items, start=1):
        g, rej = _read_item(it, area, i, many, name)
        frames.append(g)
        if rej is not None:
            rejected.append(rej)
    crs = next((f.crs for f in frames if f.crs is not None), None)
    out = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=crs)
    rej_all = pd.concat(rejected, ignore_index=True) if rejected else pd.DataFrame()
    return out, rej_all
