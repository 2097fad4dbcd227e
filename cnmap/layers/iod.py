"""IoD2025 domains and sub-domains as a need layer (LSOA 2021).

Read from the all-England tables of the data mirror (``england/iod2025/``): File 7's score,
rank (1 = most deprived of 33,755) and decile (1 = most deprived 10%) of the IMD, its seven
domains and its six sub-domains, under the short names of :mod:`cnmap.iod`, prefixed
``iod2025_`` (e.g. ``iod2025_income_score``, ``iod2025_barriers_geographical_decile``) so they
never clash with the area's own IoD columns.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from cnmap import columns as C
from cnmap.errors import MissingColumnError, ValidationError
from cnmap.layers.base import OGL, NeedLayer, data_file

__all__ = [
    "read_iod2025",
    "IOD2025_DOMAINS",
    "IOD2025_SUBDOMAINS",
    "DEFAULT_INDICES",
    "IOD2025_FILES",
]

PathLike = str | os.PathLike[str]

#: Short name -> prefix of the columns in ``imd2025_england_lsoa21.csv``.
IOD2025_DOMAINS: dict[str, str] = {
    "imd": "IMD",
    "income": "Income",
    "employment": "Employment",
    "education": "Education",
    "health": "Health",
    "crime": "Crime",
    "barriers": "Housing_and_Services",
    "living_environment": "Environment",
}
#: Short name -> prefix of the columns in ``imd2025_england_lsoa21_subdomains.csv``.
IOD2025_SUBDOMAINS: dict[str, str] = {
    "education_children_young_people": "children_and_young_people",
    "education_adult_skills": "adult_skills",
    "barriers_geographical": "geographical_barriers",
    "barriers_wider": "wider_barriers",
    "living_environment_indoors": "indoors",
    "living_environment_outdoors": "outdoors",
}
#: The indices read by default: the IMD, income, health, barriers and geographical access.
DEFAULT_INDICES: tuple[str, ...] = ("imd", "income", "health", "barriers", "barriers_geographical")
IOD2025_FILES: dict[str, tuple[str, ...]] = {
    "domains": ("england", "iod2025", "imd2025_england_lsoa21.csv"),
    "subdomains": ("england", "iod2025", "imd2025_england_lsoa21_subdomains.csv"),
}
_MEASURES = ("score", "rank", "decile")
_TITLES = {
    "imd": "Index of Multiple Deprivation",
    "income": "Income",
    "employment": "Employment",
    "education": "Education, Skills and Training",
    "health": "Health Deprivation and Disability",
    "crime": "Crime",
    "barriers": "Barriers to Housing and Services",
    "living_environment": "Living Environment",
    "education_children_young_people": "Children and Young People sub-domain",
    "education_adult_skills": "Adult Skills sub-domain",
    "barriers_geographical": "Geographical Barriers sub-domain (road distance to services)",
    "barriers_wider": "Wider Barriers sub-domain",
    "living_environment_indoors": "Indoors sub-domain",
    "living_environment_outdoors": "Outdoors sub-domain",
}
_ATTRIBUTION = (
    "Contains public sector information licensed under the Open Government Licence "
    "v3.0 (English Indices of Deprivation 2025, Ministry of Housing, Communities and "
    "Local Government)."
)


def _columns(frame: pd.DataFrame, path: Path, names: dict[str, str]) -> pd.DataFrame:
    wanted = {
        f"{prefix}_{m}": f"iod2025_{short}_{m}"
        for short, prefix in names.items()
        for m in _MEASURES
    }
    absent = [c for c in ["lsoa21_code", *wanted] if c not in frame.columns]
    if absent:
        raise MissingColumnError(
            f"{path.name}: columns {absent} are missing (columns: "
            f"{list(frame.columns)}); is it an IoD2025 LSOA table?"
        )
    out = frame[["lsoa21_code", *wanted]].rename(columns={"lsoa21_code": C.LSOA_CODE, **wanted})
    return out.set_index(C.LSOA_CODE)


def _labels(indices: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for i in indices:
        t = _TITLES[i]
        out[f"iod2025_{i}_score"] = f"IoD2025 {t} score (higher = more deprived)"
        out[f"iod2025_{i}_rank"] = f"IoD2025 {t} rank (1 = most deprived of 33,755)"
        out[f"iod2025_{i}_decile"] = f"IoD2025 {t} decile (1 = most deprived 10%)"
    return out


def read_iod2025(
    path: PathLike | None = None,
    subdomains_path: PathLike | None = None,
    *,
    indices: Sequence[str] = DEFAULT_INDICES,
    lad_code: str | None = None,
) -> NeedLayer:
    """IoD2025 scores, ranks and deciles of chosen domains and sub-domains, by LSOA 2021.

    Parameters
    ----------
    path, subdomains_path
        The domains table (``imd2025_england_lsoa21.csv``) and the sub-domains table
        (``imd2025_england_lsoa21_subdomains.csv``); default: the data mirror's copies.
    indices
        Short names (:data:`IOD2025_DOMAINS`, :data:`IOD2025_SUBDOMAINS`); default the IMD,
        income, health, barriers and their geographical sub-domain.
    lad_code
        Read the catalogue's verified copies covering this district instead (datasets
        ``iod2025_domains`` and ``iod2025_subdomains``, through :func:`cnmap.data.fetch`).

    Returns
    -------
    NeedLayer
        Scores ``iod2025_<index>_score``, ``_rank`` and ``_decile`` for each index.
    """
    known = {**IOD2025_DOMAINS, **IOD2025_SUBDOMAINS}
    idx = list(dict.fromkeys(indices))
    unknown = [i for i in idx if i not in known]
    if unknown or not idx:
        raise ValidationError(
            f"indices={list(indices)!r}: unknown or empty {unknown}; choose among {list(known)}"
        )
    parts: list[pd.DataFrame] = []
    files: list[str] = []
    for key, names, given in (
        ("domains", IOD2025_DOMAINS, path),
        ("subdomains", IOD2025_SUBDOMAINS, subdomains_path),
    ):
        chosen = {i: names[i] for i in idx if i in names}
        if not chosen:
            continue
        p = data_file(given, IOD2025_FILES[key], dataset=f"iod2025_{key}", lad_code=lad_code)
        parts.append(_columns(pd.read_csv(p, dtype={"lsoa21_code": str}), p, chosen))
        files.append(p.name)
    table = pd.concat(parts, axis=1, join="outer").sort_index().reset_index()
    if table.isna().any().any():
        raise ValidationError(
            f"IoD2025 tables {files} do not hold the same LSOAs, or have blank "
            "scores; use the matching domains and sub-domains files"
        )
    scores = tuple(f"iod2025_{i}_{m}" for i in idx for m in _MEASURES)
    return NeedLayer(
        name="iod2025",
        title="English Indices of Deprivation 2025: " + ", ".join(idx),
        table=table[[C.LSOA_CODE, *scores]],
        lsoa_vintage=2021,
        source="Ministry of Housing, Communities and Local Government, English Indices of "
        f"Deprivation 2025, File 7 (files {', '.join(files)})",
        vintage="IoD2025 (MHCLG, published 30 October 2025)",
        licence=OGL,
        attribution=_ATTRIBUTION,
        scores=scores,
        labels=_labels(idx),
        notes=("Ranks and deciles are national (England, 33,755 LSOAs): 1 = most deprived.",),
    )
