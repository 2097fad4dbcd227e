"""Census 2021 need layers by LSOA 2021: ethnic group, disability, household deprivation, age.

The TS tables are stored in long format (one row per LSOA and category, with the count ``n``
and the LSOA total); each reader pivots them to one row per LSOA, checks that every LSOA has
every category and that the categories add up to the table's total, and adds each count's share
of the total (``<count>_share``).

ONS perturbs small-area Census 2021 outputs table by table, so the same LSOA's total differs
slightly between tables (by up to about 20 persons): every layer keeps its own table's total as
its denominator (``ethnic_total``, ``disability_total``, ``age_total``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from cnmap import columns as C
from cnmap.errors import MissingColumnError, ValidationError
from cnmap.layers.base import (
    OGL,
    ONS_ATTRIBUTION,
    NeedLayer,
    _codes_text,
    add_combined,
    add_shares,
    data_file,
    mirror_path,
)

__all__ = [
    "read_ethnic_group",
    "read_disability",
    "read_household_deprivation",
    "read_age",
    "CENSUS_FILES",
]

PathLike = str | os.PathLike[str]

#: Default files in the data mirror (``CNMAP_DATA_MIRROR``).
CENSUS_FILES: dict[str, tuple[str, ...]] = {
    "ethnic_group": ("birmingham", "census2021", "census2021_ts021_ethnic_group_bsol_lsoa21.csv"),
    "disability": ("birmingham", "census2021", "census2021_ts038_disability_bsol_lsoa21.csv"),
    "household_deprivation": (
        "birmingham",
        "census2021",
        "census2021_ts011_household_deprivation_bsol_lsoa21.csv",
    ),
    "age": ("england", "census2021", "census2021_rm121_usual_residents_lsoa21_ew.csv"),
}

_VINTAGE = "Census 2021 (reference date 21 March 2021)"
_PERTURBED = (
    "ONS perturbs Census 2021 small-area counts table by table (cell-key perturbation, "
    "record swapping): LSOA totals differ by up to about 20 people between tables, so "
    "each layer uses its own table's total as denominator."
)

ETHNIC_GROUPS: dict[str, str] = {
    "Asian, Asian British or Asian Welsh": "ethnic_asian",
    "Black, Black British, Black Welsh, Caribbean or African": "ethnic_black",
    "Mixed or Multiple ethnic groups": "ethnic_mixed",
    "White": "ethnic_white",
    "Other ethnic group": "ethnic_other",
}
DISABILITY: dict[str, str] = {
    "Disabled under the Equality Act": "disabled",
    "Not disabled under the Equality Act": "not_disabled",
}
HOUSEHOLD_DEPRIVATION: dict[str, str] = {
    "Household is not deprived in any dimension": "households_deprived_0",
    "Household is deprived in one dimension": "households_deprived_1",
    "Household is deprived in two dimensions": "households_deprived_2",
    "Household is deprived in three dimensions": "households_deprived_3",
    "Household is deprived in four dimensions": "households_deprived_4",
}
AGE_BANDS: dict[str, str] = {
    "Aged 65 years": "age_65",
    "Aged 66 to 69 years": "age_66_69",
    "Aged 70 to 74 years": "age_70_74",
    "Aged 75 to 79 years": "age_75_79",
    "Aged 80 to 84 years": "age_80_84",
    "Aged 85 years and over": "age_85_plus",
}


def _path(path: PathLike | None, key: str) -> Path:
    return Path(path) if path is not None else mirror_path(*CENSUS_FILES[key])


def _require(frame: pd.DataFrame, cols: list[str], path: Path) -> None:
    absent = [c for c in cols if c not in frame.columns]
    if absent:
        raise MissingColumnError(
            f"{path.name}: columns {absent} are missing (columns: "
            f"{list(frame.columns)}); is it the right Census table?"
        )


def pivot_long(
    frame: pd.DataFrame,
    *,
    category: str,
    total: str,
    mapping: Mapping[str, str],
    total_name: str,
    where: str,
) -> pd.DataFrame:
    """One row per LSOA from a long Census table (``lsoa21_code``, ``category``, ``n``, ``total``).

    Every LSOA must have each category of ``mapping`` once, and the categories must add up to
    the LSOA's ``total``; an unknown category is an error. Returns ``lsoa_code``, ``total_name``
    and one column per category (named by ``mapping``), as integers.
    """
    unknown = sorted(set(frame[category].dropna().astype(str)) - set(mapping))
    if unknown:
        raise ValidationError(
            f"{where}: unknown {category!r} values {unknown}; expected {list(mapping)}"
        )
    wide = frame.pivot_table(index="lsoa21_code", columns=category, values="n", aggfunc="sum")
    counts = frame.groupby(["lsoa21_code", category]).size().unstack()
    incomplete = counts.reindex(columns=list(mapping)).ne(1).any(axis=1)
    if incomplete.any():
        raise ValidationError(
            f"{where}: LSOA(s) {_codes_text(counts.index[incomplete])} do not "
            f"have each {category!r} category exactly once"
        )
    wide = wide.reindex(columns=list(mapping)).rename(columns=dict(mapping))
    tot = frame.groupby("lsoa21_code")[total].agg(["min", "max"])
    if (tot["min"] != tot["max"]).any():
        raise ValidationError(
            f"{where}: {total!r} differs between the rows of LSOA(s) "
            f"{_codes_text(tot.index[tot['min'] != tot['max']])}"
        )
    wide.insert(0, total_name, tot["min"].reindex(wide.index))
    _check_partition(wide, total_name, list(mapping.values()), where)
    wide = wide.astype("int64").rename_axis(C.LSOA_CODE).reset_index()
    wide.columns.name = None
    return wide.sort_values(C.LSOA_CODE, ignore_index=True)


def _check_partition(wide: pd.DataFrame, total: str, groups: list[str], where: str) -> None:
    diff = wide[groups].sum(axis=1).to_numpy(float) - wide[total].to_numpy(float)
    bad = ~np.isclose(diff, 0.0)
    if bad.any():
        raise ValidationError(
            f"{where}: the groups do not add up to {total!r} in LSOA(s) "
            f"{_codes_text(wide.index[bad])}"
        )


def _read_long(
    path: Path, category: str, total: str, mapping: Mapping[str, str], total_name: str
) -> pd.DataFrame:
    frame = pd.read_csv(path, dtype={"lsoa21_code": str, category: str})
    _require(frame, ["lsoa21_code", category, "n", total], path)
    return pivot_long(
        frame,
        category=category,
        total=total,
        mapping=mapping,
        total_name=total_name,
        where=path.name,
    )


def _census_layer(  # noqa: PLR0913 (private: keyword-only description of one census table)
    name: str,
    title: str,
    table: pd.DataFrame,
    path: Path,
    dataset: str,
    *,
    total: str,
    groups: list[str],
    combined: Mapping[str, tuple[str, ...]],
    labels: Mapping[str, str],
    unit: str = "residents",
    notes: tuple[str, ...] = (),
) -> NeedLayer:
    table = add_combined(table, combined)
    table = add_shares(table, total, [*groups, *combined])
    return NeedLayer(
        name=name,
        title=title,
        table=table,
        lsoa_vintage=2021,
        source=f"Office for National Statistics, {dataset} (file {path.name})",
        vintage=_VINTAGE,
        licence=OGL,
        attribution=ONS_ATTRIBUTION + " (Census 2021, © Crown copyright.)",
        unit=unit,
        total=total,
        groups=tuple(groups),
        combined=dict(combined),
        labels=dict(labels),
        notes=(_PERTURBED, *notes),
    )


def read_ethnic_group(path: PathLike | None = None) -> NeedLayer:
    """Census 2021 TS021 ethnic group (5 high-level groups) by LSOA 2021.

    Parameters
    ----------
    path
        The long-format CSV (``lsoa21_code``, ``ethnic_group``, ``n``, ``total_residents``);
        default: the Birmingham and Solihull file of the data mirror.

    Returns
    -------
    NeedLayer
        ``ethnic_total`` (all usual residents), the groups ``ethnic_asian``, ``ethnic_black``,
        ``ethnic_mixed``, ``ethnic_white``, ``ethnic_other``, the combined group
        ``ethnic_minority`` (every group but White) and each one's ``_share``.
    """
    p = _path(path, "ethnic_group")
    table = _read_long(p, "ethnic_group", "total_residents", ETHNIC_GROUPS, "ethnic_total")
    groups = list(ETHNIC_GROUPS.values())
    labels = {v: k for k, v in ETHNIC_GROUPS.items()}
    labels.update(
        {
            "ethnic_total": "All usual residents (TS021)",
            "ethnic_minority": "Black, Asian and minority ethnic groups (all but White)",
        }
    )
    return _census_layer(
        "ethnic_group",
        "Usual residents by ethnic group (Census 2021 TS021)",
        table,
        p,
        "Census 2021 TS021 Ethnic group",
        total="ethnic_total",
        groups=groups,
        combined={
            "ethnic_minority": ("ethnic_asian", "ethnic_black", "ethnic_mixed", "ethnic_other")
        },
        labels=labels,
        notes=(
            "Only the 5 high-level groups are available: 'White' includes White minorities "
            "(e.g. Gypsy or Irish Traveller, Roma), so ethnic_minority is every group but "
            "White.",
        ),
    )


def read_disability(path: PathLike | None = None) -> NeedLayer:
    """Census 2021 TS038 disability by LSOA 2021.

    Parameters
    ----------
    path
        The long-format CSV (``lsoa21_code``, ``disability``, ``n``, ``total_residents``);
        default: the Birmingham and Solihull file of the data mirror.

    Returns
    -------
    NeedLayer
        ``disability_total``, ``disabled`` (disabled under the Equality Act), ``not_disabled``
        and their ``_share``.
    """
    p = _path(path, "disability")
    table = _read_long(p, "disability", "total_residents", DISABILITY, "disability_total")
    labels = {v: k for k, v in DISABILITY.items()}
    labels["disability_total"] = "All usual residents (TS038)"
    return _census_layer(
        "disability",
        "Usual residents by disability (Census 2021 TS038)",
        table,
        p,
        "Census 2021 TS038 Disability",
        total="disability_total",
        groups=list(DISABILITY.values()),
        combined={},
        labels=labels,
    )


def read_household_deprivation(path: PathLike | None = None) -> NeedLayer:
    """Census 2021 TS011 households by deprivation dimensions, by LSOA 2021.

    The four dimensions are education, employment, health and disability, and housing; this is
    not the Indices of Deprivation.

    Parameters
    ----------
    path
        The long-format CSV (``lsoa21_code``, ``deprivation_dimensions``, ``n``,
        ``total_households``); default: the Birmingham and Solihull file of the data mirror.

    Returns
    -------
    NeedLayer
        Counts of households: ``households_total``, ``households_deprived_0`` ...
        ``households_deprived_4``, the combined ``households_deprived_1plus`` and
        ``households_deprived_2plus``, and each one's ``_share``.
    """
    p = _path(path, "household_deprivation")
    table = _read_long(
        p, "deprivation_dimensions", "total_households", HOUSEHOLD_DEPRIVATION, "households_total"
    )
    labels = {v: k for k, v in HOUSEHOLD_DEPRIVATION.items()}
    labels.update(
        {
            "households_total": "All households (TS011)",
            "households_deprived_1plus": "Households deprived in 1 or more dimensions",
            "households_deprived_2plus": "Households deprived in 2 or more dimensions",
        }
    )
    g = list(HOUSEHOLD_DEPRIVATION.values())
    return _census_layer(
        "household_deprivation",
        "Households by deprivation dimensions (Census 2021 TS011)",
        table,
        p,
        "Census 2021 TS011 Households by deprivation dimensions",
        total="households_total",
        groups=g,
        combined={
            "households_deprived_1plus": tuple(g[1:]),
            "households_deprived_2plus": tuple(g[2:]),
        },
        labels=labels,
        unit="households",
        notes=(
            "Dimensions: education, employment, health and disability, housing (ONS "
            "household deprivation, not the Indices of Deprivation).",
        ),
    )


def read_age(path: PathLike | None = None, *, lad_code: str | None = None) -> NeedLayer:
    """Census 2021 RM121 usual residents by age (the 65+ bands), by LSOA 2021.

    The export breaks out only the ages 65 and over; ``age_0_64`` is the total less those bands.

    Parameters
    ----------
    path
        The parsed RM121 CSV (``lsoa21_code``, ``Total``, ``Aged 65 years`` ...
        ``Aged 85 years and over``); default: the England and Wales file of the data mirror.
    lad_code
        Read the catalogue's verified copy covering this district instead (dataset
        ``census2021_rm121``, through :func:`cnmap.data.fetch`).

    Returns
    -------
    NeedLayer
        ``age_total`` (all usual residents), the groups ``age_0_64``, ``age_65``,
        ``age_66_69``, ``age_70_74``, ``age_75_79``, ``age_80_84``, ``age_85_plus``, the
        combined ``age_65_plus`` and ``age_75_plus``, and each one's ``_share``.
    """
    p = data_file(path, CENSUS_FILES["age"], dataset="census2021_rm121", lad_code=lad_code)
    frame = pd.read_csv(p, dtype={"lsoa21_code": str})
    _require(frame, ["lsoa21_code", "Total", *AGE_BANDS], p)
    table = frame[["lsoa21_code", "Total", *AGE_BANDS]].rename(
        columns={"lsoa21_code": C.LSOA_CODE, "Total": "age_total", **AGE_BANDS}
    )
    bands = list(AGE_BANDS.values())
    table.insert(2, "age_0_64", table["age_total"] - table[bands].sum(axis=1))
    if (table["age_0_64"] < 0).any():
        raise ValidationError(
            f"{p.name}: the 65+ bands exceed the total in LSOA(s) "
            f"{_codes_text(table.loc[table['age_0_64'] < 0, C.LSOA_CODE])}"
        )
    labels = {v: k for k, v in AGE_BANDS.items()}
    labels.update(
        {
            "age_total": "All usual residents (RM121)",
            "age_0_64": "Aged 0 to 64 years",
            "age_65_plus": "Aged 65 years and over",
            "age_75_plus": "Aged 75 years and over",
        }
    )
    return _census_layer(
        "age",
        "Usual residents by age, 65 and over (Census 2021 RM121)",
        table.sort_values(C.LSOA_CODE, ignore_index=True),
        p,
        "Census 2021 RM121 Sex by age (all persons, from Nomis)",
        total="age_total",
        groups=["age_0_64", *bands],
        combined={"age_65_plus": tuple(bands), "age_75_plus": tuple(bands[3:])},
        labels=labels,
        notes=(
            "Only the bands 65 and over are published in this export; ages 0-64 are the "
            "total less those bands.",
        ),
    )
