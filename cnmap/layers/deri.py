"""The Digital Exclusion Risk Index (GMCA, version 1.6, LSOA 2011) as a need layer.

DERI scores each LSOA 0-10 (higher = higher risk of digital exclusion) as the mean of three
components: broadband, demography and deprivation. The "national" variants are used: scaled
against the minimum and maximum of England, with the England IMD deprivation component.

GMCA's own guidance (``How to and how not to use the DERI``) is summarised in
:data:`DERI_GUIDANCE` and carried in every DERI layer's notes.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from cnmap import columns as C
from cnmap.errors import MissingColumnError, ValidationError
from cnmap.layers.base import OGL, NeedLayer, mirror_path

__all__ = ["read_deri", "DERI_GUIDANCE", "DERI_COLUMNS", "DERI_FILES"]

PathLike = str | os.PathLike[str]

#: File columns -> layer columns.
DERI_COLUMNS: dict[str, str] = {
    "deri_score_national": "deri_score",
    "broadband_comp_national": "deri_broadband",
    "demography_comp_national": "deri_demography",
    "deprivation_comp_national": "deri_deprivation",
}

#: Default files in the data mirror, by LSOA vintage.
DERI_FILES: dict[int, tuple[str, ...]] = {
    2011: ("england", "deri", "deri_v1.6_national_england_lsoa11.csv"),
    2021: ("birmingham", "deri", "deri_v1.6_national_lsoa11_to_lsoa21_bsol.csv"),
}

#: GMCA's "How to and how not to use the DERI", in short.
DERI_GUIDANCE: tuple[str, ...] = (
    "DERI is a risk index: it does not say who is digitally excluded, only where the factors "
    "associated with exclusion (age, disability, deprivation, broadband, skills) are stronger; "
    "not everyone in a high-risk LSOA is excluded, nor is everyone in a low-risk LSOA included.",
    "Use it as an indicative guide with local information, for context, further investigation "
    "and prioritisation (e.g. high DERI as likelihood, a priority group as impact).",
    "Do not set targets on DERI scores: the index is relative, so lowering one area's score "
    "raises another's.",
    "Do not read changes over time as the effect of digital inclusion work: scores change with "
    "the population and the data (and v1.6 mixes sources from 2011 to 2022).",
    "Do not invest on DERI alone without investigation: a high-risk area may already be well "
    "served by digital inclusion programmes.",
    "Each LSOA is treated as homogeneous; inputs are estimates, some a decade old (Census 2011).",
)

_ATTRIBUTION = (
    "Contains public sector information licensed under the Open Government Licence "
    "v3.0 (Digital Exclusion Risk Index v1.6, Greater Manchester Combined Authority)."
)

_LABELS = {
    "deri_score": "DERI score (0-10, higher = higher risk of digital exclusion)",
    "deri_broadband": "DERI broadband component (0-10)",
    "deri_demography": "DERI demography component (0-10)",
    "deri_deprivation": "DERI deprivation component (0-10, England IMD)",
}


def _read_2011(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, dtype={"lsoa11_code": str})
    absent = [c for c in ["lsoa11_code", *DERI_COLUMNS] if c not in frame.columns]
    if absent:
        raise MissingColumnError(
            f"{path.name}: columns {absent} are missing (columns: "
            f"{list(frame.columns)}); is it a DERI v1.6 national table?"
        )
    out = frame.rename(columns={"lsoa11_code": C.LSOA_CODE, **DERI_COLUMNS})
    return out[[C.LSOA_CODE, *DERI_COLUMNS.values()]]


def _read_2021(path: Path) -> tuple[pd.DataFrame, int, int]:
    """The DERI mapped to LSOA 2021; merged LSOAs take the mean of their 2011 parents."""
    frame = pd.read_csv(path, dtype={"LSOA11CD": str, "LSOA21CD": str})
    absent = [
        c for c in ["LSOA11CD", "LSOA21CD", "CHGIND", *DERI_COLUMNS] if c not in frame.columns
    ]
    if absent:
        raise MissingColumnError(
            f"{path.name}: columns {absent} are missing (columns: "
            f"{list(frame.columns)}); is it the DERI LSOA11->LSOA21 table?"
        )
    n_split = int((frame["CHGIND"] == "S").sum())
    n_merged = int(frame.loc[frame["CHGIND"] == "M", "LSOA21CD"].nunique())
    out = frame.groupby("LSOA21CD", sort=True)[list(DERI_COLUMNS)].mean()
    out = out.rename(columns=DERI_COLUMNS).rename_axis(C.LSOA_CODE).reset_index()
    return out, n_split, n_merged


def read_deri(path: PathLike | None = None, *, lsoa_vintage: int = 2011) -> NeedLayer:
    """The Digital Exclusion Risk Index v1.6 (national scaling) by LSOA.

    Parameters
    ----------
    path
        The DERI table; default: the England file (LSOA 2011) or, for ``lsoa_vintage=2021``,
        the Birmingham and Solihull table mapped to LSOA 2021 through the ONS lookup.
    lsoa_vintage
        2011 (DERI's own geography) or 2021. On 2021 LSOAs, a split LSOA's children repeat the
        parent's score (not a new measurement) and a merged LSOA takes the mean of its
        parents' scores.

    Returns
    -------
    NeedLayer
        Scores ``deri_score``, ``deri_broadband``, ``deri_demography``, ``deri_deprivation``
        (0-10, higher = higher risk). GMCA's guidance is in the layer's notes.
    """
    if lsoa_vintage not in DERI_FILES:
        raise ValidationError(f"lsoa_vintage={lsoa_vintage!r} is not one of {list(DERI_FILES)}")
    p = Path(path) if path is not None else mirror_path(*DERI_FILES[lsoa_vintage])
    notes: list[str] = []
    if lsoa_vintage == 2011:
        table = _read_2011(p)
    else:
        table, n_split, n_merged = _read_2021(p)
        notes.append(
            f"Mapped from LSOA 2011 through the ONS exact-fit lookup: {n_split} LSOA "
            f"2021 rows of split LSOAs repeat their parent's score; {n_merged} merged "
            "LSOA(s) take the mean of their parents."
        )
    return NeedLayer(
        name="deri",
        title="Digital Exclusion Risk Index v1.6 (GMCA, national scaling)",
        table=table,
        lsoa_vintage=lsoa_vintage,
        source=f"Greater Manchester Combined Authority, Digital Exclusion Risk Index v1.6 "
        f"(file {p.name})",
        vintage="DERI v1.6, November 2022 (inputs 2011-2022; LSOA 2011 geography)",
        licence=OGL,
        attribution=_ATTRIBUTION,
        scores=tuple(DERI_COLUMNS.values()),
        labels=dict(_LABELS),
        notes=(*notes, *DERI_GUIDANCE),
    )
