"""One organisations file of a configuration, read as ``cnmap run`` and the scenarios read it.

:func:`read_organisation_source` is the one reader of an ``[[organisations]]`` entry
(:class:`cnmap.config.OrganisationSource`): the file, or the list prepared from it
(:mod:`cnmap.org_lists`), goes through :func:`cnmap.organisations.read_organisations` with the
source's options and the area; the source's ``type`` fills blank types, ids get a prefix, and
every kept and rejected row is labelled with the source's ``dataset``. The pipeline
(``cnmap run``) and :mod:`cnmap.scenarios` both call it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd

from cnmap import schema as S
from cnmap.errors import ValidationError

if TYPE_CHECKING:  # pragma: no cover
    from cnmap.config import OrganisationSource

__all__ = ["SourceInput", "SourceRead", "fill_type", "read_organisation_source", "source_input"]


@dataclass(frozen=True)
class SourceInput:
    """What the reader reads for one source.

    Attributes
    ----------
    table
        The file's path, or the frame prepared from it (:mod:`cnmap.org_lists`).
    options
        The :func:`~cnmap.organisations.read_organisations` keyword arguments.
    notes
        The preparation's remarks (empty for a file read as it is).
    file_rows
        Data rows of the file before preparation (None for a file read as it is).
    """

    table: Any
    options: dict[str, Any]
    notes: tuple[str, ...] = ()
    file_rows: int | None = None


@dataclass(frozen=True)
class SourceRead:
    """One source, read.

    Attributes
    ----------
    organisations
        The placed rows (EPSG:27700): ``dataset`` first, ids prefixed, blank types filled.
    rejected
        The rows that could not be placed, with ``dataset`` and ``file`` first.
    summary
        One row of the per-file summary: ``dataset``, ``file``, ``rows``, ``matched``,
        ``rejected``, ``match_rate``, ``notes``, ``file_rows``.
    notes
        The preparation's and the reader's remarks.
    """

    organisations: gpd.GeoDataFrame
    rejected: pd.DataFrame
    summary: dict[str, Any]
    notes: tuple[str, ...]


def fill_type(orgs: gpd.GeoDataFrame, fill: str | None) -> gpd.GeoDataFrame:
    """A copy of ``orgs`` whose blank types are ``fill`` (``orgs`` itself when ``fill`` is None).

    Parameters
    ----------
    orgs
        Organisations, with or without a ``type`` column.
    fill
        The source's type (None: types are left as they are).

    Returns
    -------
    geopandas.GeoDataFrame
    """
    if fill is None:
        return orgs
    out = orgs.copy()
    if S.ORG_TYPE not in out.columns:
        out[S.ORG_TYPE] = fill
    else:
        out[S.ORG_TYPE] = out[S.ORG_TYPE].astype(object).where(out[S.ORG_TYPE].notna(), fill)
    return out


def source_input(src: OrganisationSource, area: Any) -> SourceInput:
    """What :func:`~cnmap.organisations.read_organisations` reads for ``src``, and how.

    Parameters
    ----------
    src
        The file and its reader options.
    area
        The area (a prepared list may keep only the district's postcodes).

    Returns
    -------
    SourceInput
    """
    opts = dict(src.options)
    if src.type_col:
        opts["type_col"] = src.type_col
    if not src.prepared:
        return SourceInput(src.path, opts)
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
    return SourceInput(prepared.frame, opts, tuple(prepared.notes), prepared.n_file_rows)


def read_organisation_source(src: OrganisationSource, area: Any, *, prefix: str = "") -> SourceRead:
    """Read one organisations file of a configuration.

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
    SourceRead

    Raises
    ------
    ValidationError
        If the file does not exist (and whatever the reader raises for the file).
    """
    from cnmap.organisations import read_organisations

    if not src.path.is_file():
        raise ValidationError(
            f"organisations file {src.path} ({src.label}) does not exist or is "
            "not a file; check the path in the configuration"
        )
    given = source_input(src, area)
    table = read_organisations(given.table, area=area, **given.options)
    g = fill_type(table.organisations.copy(), src.type)
    g[S.ORG_ID] = [f"{prefix}{v}" for v in g[S.ORG_ID].astype(str)]
    g.insert(0, "dataset", src.label)
    rej = table.rejected.copy()
    rej.insert(0, "dataset", src.label)
    rej.insert(1, "file", str(src.path))
    notes = given.notes + tuple(str(n) for n in getattr(table, "notes", ()))
    summary = {
        "dataset": src.label,
        "file": str(src.path),
        "rows": table.n_input,
        "matched": table.n_matched,
        "rejected": table.n_rejected,
        "match_rate": table.match_rate,
        "notes": "; ".join(notes),
        "file_rows": table.n_input if given.file_rows is None else given.file_rows,
    }
    return SourceRead(g, rej, summary, notes)
