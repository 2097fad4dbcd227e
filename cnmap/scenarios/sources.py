"""A scenario's organisations as one table: files, organisation tables and GeoDataFrames.

:func:`read_items` turns what :class:`cnmap.scenarios.Scenario` holds in ``organisations`` into
one GeoDataFrame in EPSG:27700 and the rows rejected on reading. A file
(:class:`cnmap.config.OrganisationSource`, or a path) is read by
:func:`cnmap.organisations.read_organisations` with the area, exactly as ``cnmap run`` reads
it (:func:`read_source`, over the one reader
:func:`cnmap.organisations.sources.read_organisation_source`: the same reader options, prepared
lists, type filling, ``dataset`` column and rejected rows); with several items, ids are prefixed by the item's position
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
from cnmap.geo import to_bng

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


def read_source(
    src: OrganisationSource, area: Area | None, *, prefix: str = ""
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Read one organisations file as ``cnmap run`` does
    (:func:`cnmap.organisations.sources.read_organisation_source`).

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
    from cnmap.organisations.sources import read_organisation_source

    read = read_organisation_source(src, area, prefix=prefix)
    orgs = gpd.GeoDataFrame(
        pd.concat([read.organisations], ignore_index=True), geometry="geometry", crs=S.BNG
    )
    return orgs, pd.concat([read.rejected], ignore_index=True)


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
    return (to_bng(g) if g.crs is not None else g), rejected


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
