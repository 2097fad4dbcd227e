"""The offline mirror's layout, from the data catalogue: which file in which folder serves which
dataset for which districts (``cnmap mirror``, ``docs/mirror.md``).

A mirror (``CNMAP_DATA_MIRROR``) is a folder standing in for the publishers' websites. The
catalogue (``data/boundaries/catalogue.toml``) lists, for every dataset, the mirror files that
may serve it (``[[datasets.<id>.mirror]]``), each with the districts (``lad_codes``, ``*`` =
every district) or postcode areas it covers and its SHA-256. A folder may add its own files
in a ``cnmap-mirror.toml``. Within a dataset the first file covering a district serves it, so
a district's own files come before the national ones.
"""

from __future__ import annotations

from pathlib import PurePosixPath

import pandas as pd

__all__ = ["mirror_layout", "layout_lines", "serving_files", "ALL_DISTRICTS"]

#: How a file covering every district is described.
ALL_DISTRICTS = "every district"


def _covers(lad_codes: tuple[str, ...], postcode_areas: tuple[str, ...]) -> str:
    parts = []
    if lad_codes:
        parts.append(ALL_DISTRICTS if "*" in lad_codes else ", ".join(lad_codes))
    if postcode_areas and "*" not in postcode_areas:
        parts.append("postcode areas " + ", ".join(postcode_areas))
    return "; ".join(parts) or "-"


def mirror_layout() -> pd.DataFrame:
    """Every mirror file of the catalogue, one row each, in catalogue order.

    Returns
    -------
    DataFrame
        ``folder``, ``file``, ``path`` (relative to the mirror folder), ``dataset``,
        ``title``, ``covers`` (districts or ``every district``), ``sha256`` and ``vintage``.
    """
    from cnmap.data import catalogue

    rows = []
    for ds_id, ds in catalogue().items():
        for e in ds.mirror:
            p = PurePosixPath(e.path)
            rows.append(
                {
                    "folder": f"{p.parent}/" if str(p.parent) != "." else "./",
                    "file": p.name,
                    "path": e.path,
                    "dataset": ds_id,
                    "title": ds.title,
                    "covers": _covers(e.lad_codes, e.postcode_areas),
                    "sha256": e.sha256,
                    "vintage": e.vintage or ds.vintage,
                }
            )
    return pd.DataFrame(
        rows, columns=["folder", "file", "path", "dataset", "title", "covers", "sha256", "vintage"]
    )


def layout_lines(table: pd.DataFrame, present: set[str] | None = None) -> list[str]:
    """The layout as text: one block per folder, one line per file and dataset.

    ``present``: the paths found in the current mirror (marked ``[x]``; others ``[ ]``);
    None leaves the mark out.
    """
    lines: list[str] = []
    for folder in sorted(table["folder"].unique()):
        lines.append(folder)
        part = table[table["folder"] == folder].sort_values(["file", "dataset"], kind="stable")
        width = int(part["file"].str.len().max())
        for _, r in part.iterrows():
            mark = "" if present is None else ("[x] " if r["path"] in present else "[ ] ")
            lines.append(f"  {mark}{r['file']:<{width}}  {r['dataset']}  ({r['covers']})")
    return lines


def serving_files(lad_code: str) -> pd.DataFrame:
    """For one district: each dataset, the mirror file that serves it (the first covering
    it), or none.

    Returns
    -------
    DataFrame
        ``dataset``, ``path`` (empty when no mirror file of the catalogue covers the district)
        and ``found`` (the file is in the current ``CNMAP_DATA_MIRROR``).
    """
    from cnmap.data import catalogue
    from cnmap.data.catalogue import mirror_entries

    rows = []
    for ds_id, ds in catalogue().items():
        listed = next((e.path for e in ds.mirror if e.covers(lad_code=lad_code)), "")
        found = next((e.path for e in mirror_entries(ds_id) if e.covers(lad_code=lad_code)), "")
        rows.append({"dataset": ds_id, "path": found or listed, "found": bool(found)})
    return pd.DataFrame(rows, columns=["dataset", "path", "found"])
