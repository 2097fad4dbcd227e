"""English Indices of Deprivation (IoD) tables: official File 7 headers and short names.

This is the one place where cnmap's IoD column names are defined. :func:`read_iod` reads
MHCLG's *File 7* ("All IoD Scores, Ranks, Deciles and Population Denominators") exactly as
published for the IoD2019 (LSOA 2011) and the IoD2025 (LSOA 2021), or any subset of its
columns, and returns a validated frame with short, documented column names:

============================  ==================================================================
short name                    meaning
============================  ==================================================================
``lsoa_code``                 LSOA code (2011 for IoD2019, 2021 for IoD2025)
``lsoa_name``                 LSOA name
``lad_code``, ``lad_name``    Local Authority District code and name (2019 / 2024 boundaries)
``<d>_score``                 score of index/domain ``<d>`` (a rate 0-1 for income, employment,
                              IDACI and IDAOPI)
``<d>_rank``                  national rank, 1 = most deprived, 1..N (N LSOAs in England)
``<d>_decile``                national decile, 1 = most deprived 10%
``pop_total``                 total population (mid-2015 for IoD2019, mid-2022 for IoD2025)
``pop_children_0_15``         dependent children aged 0-15
``pop_16_59``                 population aged 16-59 (not in IoD2025 File 7)
``pop_60_plus``               older population aged 60 and over
``pop_working_age``           working-age population used by the Employment domain
                              (18-59/64 in IoD2019, 18-66 in IoD2025)
============================  ==================================================================

where ``<d>`` is one of :data:`DOMAINS` (``imd`` is the Index of Multiple Deprivation itself)
or :data:`SUBDOMAINS`. All population denominators exclude prisoners.
"""

from __future__ import annotations

import functools
import io
import logging
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import MissingColumnError, ValidationError

__all__ = [
    "DOMAINS",
    "SUBDOMAINS",
    "INDICES",
    "MEASURES",
    "ID_COLUMNS",
    "POPULATION_COLUMNS",
    "N_LSOAS_ENGLAND",
    "EDITIONS",
    "DOMAIN_POPULATION",
    "RATE_DOMAINS",
    "DOMAIN_LABELS",
    "HEADERS_2019",
    "HEADERS_2025",
    "SHORT_NAMES",
    "TIDY_INDEX_NAMES",
    "read_iod",
    "normalise_header",
    "short_name_for",
    "edition_of",
]

logger = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------
# constants
# --------------------------------------------------------------------------------------

#: The Index of Multiple Deprivation, its 7 domains and the 2 supplementary indices.
DOMAINS: tuple[str, ...] = (
    "imd",
    "income",
    "employment",
    "education",
    "health",
    "crime",
    "barriers",
    "living_environment",
    "idaci",
    "idaopi",
)

#: The 6 sub-domains published in File 7.
SUBDOMAINS: tuple[str, ...] = (
    "education_children_young_people",
    "education_adult_skills",
    "barriers_geographical",
    "barriers_wider",
    "living_environment_indoors",
    "living_environment_outdoors",
)

#: Every index that has ``_score``, ``_rank`` and ``_decile`` columns.
INDICES: tuple[str, ...] = DOMAINS + SUBDOMAINS

#: Suffixes of the per-index columns.
MEASURES: tuple[str, ...] = ("score", "rank", "decile")

ID_COLUMNS: tuple[str, ...] = ("lsoa_code", "lsoa_name", "lad_code", "lad_name")

POPULATION_COLUMNS: tuple[str, ...] = (
    "pop_total",
    "pop_children_0_15",
    "pop_16_59",
    "pop_60_plus",
    "pop_working_age",
)

#: Number of LSOAs in England ranked by each IoD edition (ranks run 1..N).
#: IoD2019: 32,844 LSOAs (2011); IoD2025: 33,755 LSOAs (2021) (MHCLG statistical releases).
N_LSOAS_ENGLAND: dict[int, int] = {2019: 32844, 2025: 33755}

EDITIONS: tuple[int, ...] = tuple(N_LSOAS_ENGLAND)

#: LSOA vintage of each IoD edition.
LSOA_VINTAGE: dict[int, int] = {2019: 2011, 2025: 2021}

#: Population denominator MHCLG uses to weight each index's LSOA scores when averaging
#: over a larger area (IoD2019 Technical Report, section on summary measures; the same in
#: the IoD2025 Technical Report): the Income domain and IDACI/IDAOPI are rates over total
#: population, children aged 0-15 and adults aged 60+ respectively, the Employment domain a
#: rate over the working-age population; every other index uses the total population.
DOMAIN_POPULATION: dict[str, str] = {
    "imd": "pop_total",
    "income": "pop_total",
    "employment": "pop_working_age",
    "education": "pop_total",
    "health": "pop_total",
    "crime": "pop_total",
    "barriers": "pop_total",
    "living_environment": "pop_total",
    "idaci": "pop_children_0_15",
    "idaopi": "pop_60_plus",
    "education_children_young_people": "pop_total",
    "education_adult_skills": "pop_total",
    "barriers_geographical": "pop_total",
    "barriers_wider": "pop_total",
    "living_environment_indoors": "pop_total",
    "living_environment_outdoors": "pop_total",
}

#: Indices whose score is a rate (proportion of the relevant population, 0 to 1).
RATE_DOMAINS: tuple[str, ...] = ("income", "employment", "idaci", "idaopi")

#: Human-readable labels (as used in the File 7 headers).
DOMAIN_LABELS: dict[str, str] = {
    "imd": "Index of Multiple Deprivation (IMD)",
    "income": "Income",
    "employment": "Employment",
    "education": "Education, Skills and Training",
    "health": "Health Deprivation and Disability",
    "crime": "Crime",
    "barriers": "Barriers to Housing and Services",
    "living_environment": "Living Environment",
    "idaci": "Income Deprivation Affecting Children Index (IDACI)",
    "idaopi": "Income Deprivation Affecting Older People (IDAOPI)",
    "education_children_young_people": "Children and Young People Sub-domain",
    "education_adult_skills": "Adult Skills Sub-domain",
    "barriers_geographical": "Geographical Barriers Sub-domain",
    "barriers_wider": "Wider Barriers Sub-domain",
    "living_environment_indoors": "Indoors Sub-domain",
    "living_environment_outdoors": "Outdoors Sub-domain",
}

_RANK_SUFFIX = "Rank (where 1 is most deprived)"
_DECILE_SUFFIX = "Decile (where 1 is most deprived 10% of LSOAs)"
_RATE_SCORE = {"income", "employment", "idaci", "idaopi"}


def _index_headers() -> dict[str, str]:
    out: dict[str, str] = {}
    for d in INDICES:
        label = DOMAIN_LABELS[d]
        out[f"{d}_score"] = f"{label} Score (rate)" if d in _RATE_SCORE else f"{label} Score"
        out[f"{d}_rank"] = f"{label} {_RANK_SUFFIX}"
        out[f"{d}_decile"] = f"{label} {_DECILE_SUFFIX}"
    return out


def _file7_order() -> list[str]:
    order = list(ID_COLUMNS)
    for d in INDICES:
        order += [f"{d}_score", f"{d}_rank", f"{d}_decile"]
    return order + list(POPULATION_COLUMNS)


#: Official IoD2019 File 7 header text for each short name, in File 7's column order
#: (57 columns). The last header really ends in a space, as published.
HEADERS_2019: dict[str, str] = {
    "lsoa_code": "LSOA code (2011)",
    "lsoa_name": "LSOA name (2011)",
    "lad_code": "Local Authority District code (2019)",
    "lad_name": "Local Authority District name (2019)",
    **_index_headers(),
    "pop_total": "Total population: mid 2015 (excluding prisoners)",
    "pop_children_0_15": "Dependent Children aged 0-15: mid 2015 (excluding prisoners)",
    "pop_16_59": "Population aged 16-59: mid 2015 (excluding prisoners)",
    "pop_60_plus": "Older population aged 60 and over: mid 2015 (excluding prisoners)",
    "pop_working_age": (
        "Working age population 18-59/64: for use with Employment Deprivation Domain "
        "(excluding prisoners) "
    ),
}
HEADERS_2019 = {k: HEADERS_2019[k] for k in _file7_order()}

#: IoD2025 File 7 header text (LSOA 2021, LAD 2024, mid-2022 denominators). IoD2025 File 7
#: has no 16-59 column (it is in File 6 only); IDAOPI is called "... Older People Index".
HEADERS_2025: dict[str, str] = {
    **HEADERS_2019,
    "lsoa_code": "LSOA code (2021)",
    "lsoa_name": "LSOA name (2021)",
    "lad_code": "Local Authority District code (2024)",
    "lad_name": "Local Authority District name (2024)",
    "idaopi_score": "Income Deprivation Affecting Older People Index (IDAOPI) Score (rate)",
    "idaopi_rank": f"Income Deprivation Affecting Older People Index (IDAOPI) {_RANK_SUFFIX}",
    "idaopi_decile": (f"Income Deprivation Affecting Older People Index (IDAOPI) {_DECILE_SUFFIX}"),
    "pop_total": "Total population: mid 2022",
    "pop_children_0_15": "Dependent Children aged 0-15: mid 2022",
    "pop_16_59": "Population aged 16-59: mid 2022",
    "pop_60_plus": "Older population aged 60 and over: mid 2022",
    "pop_working_age": (
        "Working age population 18-66 (for use with Employment Deprivation Domain): mid 2022"
    ),
}

#: Every short name, in File 7 order.
SHORT_NAMES: tuple[str, ...] = tuple(_file7_order())

_SCORE_COLUMNS = tuple(f"{d}_score" for d in INDICES)
_RANK_COLUMNS = tuple(f"{d}_rank" for d in INDICES)
_DECILE_COLUMNS = tuple(f"{d}_decile" for d in INDICES)

# --------------------------------------------------------------------------------------
# header matching
# --------------------------------------------------------------------------------------

# Patterns are matched against a normalised header (see normalise_header): lower case,
# single spaces, no surrounding space, no BOM. Years are matched as \d{4} so that other
# editions' headers are recognised too.
_YEAR = r"(?:\s*\((?:\d{4})\))?"
_ID_PATTERNS: dict[str, re.Pattern[str]] = {
    "lsoa_code": re.compile(rf"^lsoa(?:[\s_]*\d{{2,4}})?[\s_]*code{_YEAR}$|^lsoa\d{{2}}cd$"),
    "lsoa_name": re.compile(rf"^lsoa(?:[\s_]*\d{{2,4}})?[\s_]*name{_YEAR}$|^lsoa\d{{2}}nm$"),
    "lad_code": re.compile(
        rf"^local authority district code{_YEAR}$|^(?:lad|ltla)\d{{2}}_?(?:code|cd)$"
    ),
    "lad_name": re.compile(
        rf"^local authority district name{_YEAR}$|^(?:lad|ltla)\d{{2}}_?(?:name|nm)$"
    ),
}
_INDEX_PREFIX: dict[str, str] = {
    "imd": r"index of multiple deprivation(?: \(imd\))?",
    "income": r"income(?: domain)?",
    "employment": r"employment(?: domain)?",
    "education": r"education,? skills and training(?: domain)?",
    "health": r"health deprivation and disability(?: domain)?",
    "crime": r"crime(?: domain)?",
    "barriers": r"barriers to housing and services(?: domain)?",
    "living_environment": r"living environment(?: domain)?",
    "idaci": r"income deprivation affecting children(?: index)?(?: \(idaci\))?",
    "idaopi": r"income deprivation affecting older people(?: index)?(?: \(idaopi\))?",
    "education_children_young_people": r"children and young people sub-?domain",
    "education_adult_skills": r"adult skills sub-?domain",
    "barriers_geographical": r"geographical barriers sub-?domain",
    "barriers_wider": r"wider barriers sub-?domain",
    "living_environment_indoors": r"indoors sub-?domain",
    "living_environment_outdoors": r"outdoors sub-?domain",
}
_INDEX_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(rf"^{prefix} (score|rank|decile)\b"), d) for d, prefix in _INDEX_PREFIX.items()
]

#: Snake-case names of the all-England IoD2025 tables converted from File 7 by the
#: ``humaniverse/IMD`` R package (``imd2025_england_lsoa21*``: ``IMD_decile``,
#: ``Housing_and_Services_score``, ``geographical_barriers_rank`` ...) -> index.
TIDY_INDEX_NAMES: dict[str, str] = {
    "housing_and_services": "barriers",
    "environment": "living_environment",
    "children_and_young_people": "education_children_young_people",
    "adult_skills": "education_adult_skills",
    "geographical_barriers": "barriers_geographical",
    "wider_barriers": "barriers_wider",
    "indoors": "living_environment_indoors",
    "outdoors": "living_environment_outdoors",
}
_TIDY_RE = re.compile(rf"^({'|'.join(TIDY_INDEX_NAMES)})_(score|rank|decile)$")
_POP_PATTERNS: dict[str, re.Pattern[str]] = {
    "pop_total": re.compile(r"^total population\b"),
    "pop_children_0_15": re.compile(r"^dependent children aged 0\s*-\s*15\b"),
    "pop_16_59": re.compile(r"^population aged 16\s*-\s*59\b"),
    "pop_60_plus": re.compile(r"^older population aged 60 and over\b"),
    "pop_working_age": re.compile(r"^working age population\b"),
}


def normalise_header(header: object) -> str:
    """Return a header in the form the matching patterns use.

    Strips a UTF-8 byte-order mark and surrounding white space, collapses internal white
    space (including non-breaking spaces) to single spaces and lower-cases the text.
    """
    text = str(header).replace("\ufeff", "").replace("\xa0", " ")
    return re.sub(r"\s+", " ", text).strip().lower()


def short_name_for(header: object) -> str | None:
    """The cnmap short name for a File 7 header (2019 or 2025 wording), or None.

    Already-short names (e.g. ``"imd_rank"``) map to themselves.

    Examples
    --------
    >>> short_name_for("Income Score (rate)")
    'income_score'
    >>> short_name_for("Working age population 18-59/64: for use with Employment "
    ...                "Deprivation Domain (excluding prisoners) ")
    'pop_working_age'
    """
    h = normalise_header(header)
    if h in SHORT_NAMES:
        return h
    tidy = _TIDY_RE.match(h)
    if tidy:
        return f"{TIDY_INDEX_NAMES[tidy.group(1)]}_{tidy.group(2)}"
    for short, pat in _ID_PATTERNS.items():
        if pat.match(h):
            return short
    # sub-domains and IDACI/IDAOPI before the broad domain prefixes ("income ...")
    for pat, d in _INDEX_PATTERNS:
        m = pat.match(h)
        if m:
            return f"{d}_{m.group(1)}"
    for short, pat in _POP_PATTERNS.items():
        if pat.match(h):
            return short
    return None


def _edition_from_headers(headers: list[str]) -> int | None:
    """Detect the IoD edition from LSOA vintage, LAD year or denominator year in headers."""
    votes: set[int] = set()
    for raw in headers:
        h = normalise_header(raw)
        m = (
            re.match(r"^lsoa code \((\d{4})\)$", h)
            or re.match(r"^lsoa(\d{2})cd$", h)
            or re.match(r"^lsoa(\d{2})_code$", h)
        )
        if m:
            year = int(m.group(1))
            year = year + 2000 if year < 100 else year
            votes |= {e for e, v in LSOA_VINTAGE.items() if v == year}
            continue
        m = re.search(r"\bmid[- ]?(\d{4})\b", h)
        if m:
            year = int(m.group(1))
            if year == 2015:
                votes.add(2019)
            elif year == 2022:
                votes.add(2025)
    if len(votes) == 1:
        return votes.pop()
    if len(votes) > 1:
        raise ValidationError(
            "IoD table mixes editions: its headers name both 2011 and 2021 LSOAs (or mid-2015"
            f" and mid-2022 populations): {headers!r}. Use columns from one edition only."
        )
    return None


def edition_of(df: pd.DataFrame) -> int | None:
    """The IoD edition recorded on a frame by :func:`read_iod` (``attrs['iod_edition']``)."""
    ed = df.attrs.get("iod_edition")
    return int(ed) if ed is not None else None


# --------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------


def _read_table(source: str | os.PathLike[str] | io.IOBase) -> tuple[pd.DataFrame, str]:
    """Read a CSV (or XLSX) file as strings; return the frame and a label for messages."""
    label = str(source) if not isinstance(source, io.IOBase) else "<file object>"
    suffix = Path(label).suffix.lower() if not isinstance(source, io.IOBase) else ""
    if suffix in {".xlsx", ".xlsm", ".xls"}:
        sheets = pd.read_excel(source, sheet_name=None, dtype=str)
        for name, sheet in sheets.items():
            if any(short_name_for(c) == "lsoa_code" for c in sheet.columns):
                return sheet, f"{label} (sheet {name!r})"
        raise MissingColumnError(
            f"{label}: no sheet has an 'LSOA code' column (sheets: {list(sheets)}). "
            "Give the File 7 CSV or a sheet whose first row holds the File 7 headers."
        )
    try:
        frame = pd.read_csv(
            source,
            dtype=str,
            encoding="utf-8-sig",  # tolerates a byte-order mark
            keep_default_na=False,
            na_values=[""],
        )
    except UnicodeDecodeError as exc:
        raise ValidationError(
            f"{label}: not UTF-8 ({exc}). File 7 is published as UTF-8; re-save it as UTF-8."
        ) from exc
    except pd.errors.EmptyDataError as exc:
        raise ValidationError(f"{label}: the file is empty; give IoD File 7 (CSV).") from exc
    return frame, label


_Where = Callable[[np.ndarray], str]


def _where(labels: pd.Index, mask: np.ndarray, *, from_file: bool, limit: int = 5) -> str:
    """Describe offending rows: file line numbers (header = line 1) or frame index labels."""
    idx = np.flatnonzero(mask)
    if from_file:
        shown = [f"line {i + 2}" for i in idx[:limit]]
    else:
        shown = [f"row {labels[i]!r}" for i in idx[:limit]]
    more = f" and {len(idx) - limit} more" if len(idx) > limit else ""
    return ", ".join(shown) + more


def _coerce_numeric(col: pd.Series, name: str, header: str, where: _Where, label: str) -> pd.Series:
    if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
        num = col.astype("float64")  # already numeric (e.g. a normalised table)
        text = col
        bad = np.zeros(len(col), dtype=bool)
    else:
        text = col.astype("string").str.strip().str.replace(",", "", regex=False)
        num = pd.to_numeric(text, errors="coerce")
        bad = num.isna().to_numpy() & text.notna().to_numpy()
    if bad.any():
        first = text[bad].iloc[0]
        raise ValidationError(
            f"{label}: column {header!r} ({name}) has non-numeric values at "
            f"{where(bad)} (first: {first!r}). Fix those cells or drop the column."
        )
    missing = num.isna().to_numpy()
    if missing.any():
        raise ValidationError(
            f"{label}: column {header!r} ({name}) is blank at {where(missing)}. "
            "File 7 has no blank cells: fill them from the official file or drop the column."
        )
    return num.astype("float64")


def _map_headers(
    raw: pd.DataFrame, label: str
) -> tuple[list[str], dict[str, str], dict[str, str], list[str]]:
    """Map File 7 headers to short names: (headers, header->short, short->header, unknown)."""
    headers = [str(c) for c in raw.columns]
    mapping: dict[str, str] = {}
    seen: dict[str, str] = {}
    unknown: list[str] = []
    for h in headers:
        short = short_name_for(h)
        if short is None:
            unknown.append(h)
            continue
        if short in seen:
            raise ValidationError(
                f"{label}: columns {seen[short]!r} and {h!r} both mean {short!r}. "
                "Keep only one of them."
            )
        seen[short] = h
        mapping[h] = short
    if "lsoa_code" not in seen:
        raise MissingColumnError(
            f"{label}: no LSOA code column (expected a header like 'LSOA code (2011)' or "
            f"'LSOA code (2021)', or 'lsoa_code'); columns found: {headers[:8]!r}"
            f"{' ...' if len(headers) > 8 else ''}. Give IoD File 7 with its header row."
        )
    if unknown:
        logger.info(
            "%s: %d column(s) not recognised as IoD File 7, kept unchanged: %s",
            label,
            len(unknown),
            unknown,
        )
    return headers, mapping, seen, unknown


def _choose_edition(
    edition: int | None, headers: list[str], prior_attrs: Mapping[str, Any], label: str
) -> tuple[int, str]:
    """Edition and its source; ``(0, "ranks")`` means: decide from the ranks later."""
    header_edition = _edition_from_headers(headers)
    if edition is not None:
        if edition not in N_LSOAS_ENGLAND:
            raise ValidationError(
                f"edition={edition!r} is not a known IoD edition; use one of {EDITIONS}."
            )
        if header_edition is not None and header_edition != edition:
            logger.warning(
                "%s: headers look like IoD%d but edition=%d was given; using %d",
                label,
                header_edition,
                edition,
                edition,
            )
        return int(edition), "argument"
    if header_edition is not None:
        return header_edition, "headers"
    if prior_attrs.get("iod_edition") in N_LSOAS_ENGLAND:
        return int(prior_attrs["iod_edition"]), "attrs"
    return 0, "ranks"  # decided after numeric coercion


def _id_columns(
    df: pd.DataFrame, seen: Mapping[str, str], where: _Where, label: str
) -> dict[str, pd.Series]:
    """Stripped code and name columns; LSOA codes upper-cased and checked (blank, format, dup)."""
    out: dict[str, pd.Series] = {}
    for short in ("lsoa_code", "lsoa_name", "lad_code", "lad_name"):
        if short in df.columns:
            out[short] = df[short].astype("string").str.strip()
    codes = out["lsoa_code"].str.upper()
    blank = (codes.isna() | (codes == "")).to_numpy()
    if blank.any():
        raise ValidationError(
            f"{label}: column {seen['lsoa_code']!r} is blank at {where(blank)}. "
            "Every row needs its LSOA code; fill it or remove the row."
        )
    badfmt = ~codes.str.fullmatch(r"E01\d{6}").fillna(False).to_numpy(dtype=bool)
    if badfmt.any():
        first = codes[badfmt].iloc[0]
        raise ValidationError(
            f"{label}: column {seen['lsoa_code']!r} has values that are not English LSOA "
            f"codes (E01 and 6 digits) at {where(badfmt)} (first: {first!r}). The IoD covers "
            "England only; fix the codes or remove those rows."
        )
    dup = codes.duplicated(keep=False).to_numpy()
    if dup.any():
        firsts = list(dict.fromkeys(codes[dup].tolist()))[:5]
        raise ValidationError(
            f"{label}: duplicate LSOA codes {firsts} at {where(dup)}. File 7 has one row per "
            "LSOA; remove the repeated rows."
        )
    out["lsoa_code"] = codes
    return out


def _edition_from_ranks(
    out: Mapping[str, pd.Series], ed: int, ed_source: str, label: str
) -> tuple[int, str]:
    """Resolve a ``"ranks"`` edition: a rank above the IoD2019 count means 2025, else 2019."""
    if ed_source != "ranks":
        return ed, ed_source
    max_rank = max((float(out[c].max()) for c in _RANK_COLUMNS if c in out), default=0.0)
    if max_rank > N_LSOAS_ENGLAND[2019]:
        return 2025, ed_source
    logger.info(
        "%s: IoD edition not given or detectable; assuming IoD2019 "
        "(pass edition=2025 for IoD2025 tables)",
        label,
    )
    return 2019, "default"


def _check_ranks_deciles(
    out: dict[str, pd.Series],
    seen: Mapping[str, str],
    where: _Where,
    label: str,
    ed: int,
    ed_source: str,
) -> None:
    """Ranks whole in 1..N and deciles whole in 1..10; both made int64 (``out`` updated)."""
    n = N_LSOAS_ENGLAND[ed]
    for c in _RANK_COLUMNS:
        if c not in out:
            continue
        v = out[c].to_numpy()
        bad = (v < 1) | (v > n) | (v != np.round(v))
        if bad.any():
            raise ValidationError(
                f"{label}: column {seen[c]!r} ({c}) has ranks that are not whole numbers in "
                f"1..{n:,} (IoD{ed}, {n:,} LSOAs in England) at {where(bad)} (first: "
                f"{v[bad][0]!r}). Use national ranks as published (1 = most deprived)"
                + (", or pass the right edition=" if ed_source != "argument" else "")
                + "."
            )
        out[c] = out[c].astype("int64")
    for c in _DECILE_COLUMNS:
        if c not in out:
            continue
        v = out[c].to_numpy()
        bad = (v < 1) | (v > 10) | (v != np.round(v))
        if bad.any():
            raise ValidationError(
                f"{label}: column {seen[c]!r} ({c}) has deciles outside 1..10 at {where(bad)} "
                f"(first: {v[bad][0]!r}). Use national deciles as published (1 = most deprived"
                " 10%)."
            )
        out[c] = out[c].astype("int64")


def _check_rates_populations(
    out: dict[str, pd.Series], seen: Mapping[str, str], where: _Where, label: str
) -> None:
    """Rates within 0..1; populations not negative, int64 when whole (``out`` updated)."""
    for d in RATE_DOMAINS:
        c = f"{d}_score"
        if c not in out:
            continue
        v = out[c].to_numpy()
        bad = (v < 0) | (v > 1)
        if bad.any():
            raise ValidationError(
                f"{label}: column {seen[c]!r} ({c}) is a rate (0 to 1) but has values outside "
                f"0..1 at {where(bad)} (first: {v[bad][0]!r}). If these are percentages, "
                "divide them by 100."
            )
    for c in POPULATION_COLUMNS:
        if c not in out:
            continue
        v = out[c].to_numpy()
        bad = v < 0
        if bad.any():
            raise ValidationError(
                f"{label}: column {seen[c]!r} ({c}) has negative populations at {where(bad)}."
                " Fix those cells."
            )
        if np.all(v == np.round(v)):
            out[c] = out[c].astype("int64")


def read_iod(
    path_or_df: str | os.PathLike[str] | io.IOBase | pd.DataFrame,
    *,
    edition: int | None = None,
) -> pd.DataFrame:
    """Read an English Indices of Deprivation File 7 table into cnmap's short names.

    Parameters
    ----------
    path_or_df
        Path (or open text file) of a File 7 CSV exactly as MHCLG publishes it (IoD2019 or
        IoD2025; quoted headers with commas, a trailing space in a header, optional
        byte-order mark), a spreadsheet whose sheet has the File 7 headers, or a DataFrame
        with File 7 headers, short names, or a mix. Any subset of File 7's columns is
        accepted as long as an LSOA code column is present.
    edition
        IoD edition, 2019 or 2025. Default: detected from the headers (``LSOA code (2011)``
        or mid-2015 denominators mean 2019, ``LSOA code (2021)`` or mid-2022 mean 2025),
        else from ``attrs["iod_edition"]`` of a frame read before, else from the ranks
        (a rank above 32,844 means 2025), else 2019 (logged). Overrides detection if given.

    Returns
    -------
    pandas.DataFrame
        One row per input row, in input order, with a fresh RangeIndex. Known columns are
        renamed to the short names of :data:`SHORT_NAMES` and put in File 7 order; codes and
        names are strings, ranks and deciles int64, scores float64, populations int64 (or
        float64 if not whole numbers). Unrecognised columns are kept, unchanged, after them
        (and logged). ``attrs`` holds ``iod_edition``, ``iod_edition_source``
        (``"argument"``, ``"headers"``, ``"attrs"``, ``"ranks"`` or ``"default"``),
        ``n_lsoas_england``, ``lsoa_vintage``, ``source`` and ``unknown_columns``.

    Raises
    ------
    MissingColumnError
        No LSOA code column.
    ValidationError
        Unknown edition; two columns mapping to one short name; blank or duplicate LSOA
        codes; non-numeric or blank numbers; a rank outside 1..N or not whole; a decile
        outside 1..10; a rate outside 0..1; a negative population. Messages give the
        column, the file line or frame row, and the fix.
    """
    prior_attrs: Mapping[str, Any]
    if isinstance(path_or_df, pd.DataFrame):
        from_file = False
        raw, label = path_or_df, "IoD table"
        prior_attrs = dict(path_or_df.attrs)
    else:
        from_file = True
        raw, label = _read_table(path_or_df)
        prior_attrs = {}

    headers, mapping, seen, unknown = _map_headers(raw, label)
    ed, ed_source = _choose_edition(edition, headers, prior_attrs, label)
    # --- build the frame (new object: the caller's data is never changed) -------------
    df = raw.rename(columns=mapping).reset_index(drop=True)
    where: _Where = functools.partial(_where, raw.index, from_file=from_file)
    out = _id_columns(df, seen, where, label)
    for short in SHORT_NAMES:
        if short in ID_COLUMNS or short not in df.columns:
            continue
        out[short] = _coerce_numeric(df[short], short, seen[short], where, label)
    ed, ed_source = _edition_from_ranks(out, ed, ed_source, label)
    n = N_LSOAS_ENGLAND[ed]
    _check_ranks_deciles(out, seen, where, label, ed, ed_source)
    _check_rates_populations(out, seen, where, label)

    for short in ID_COLUMNS:
        if short in out:
            out[short] = out[short].astype("str")  # pandas' default string dtype
    ordered = {k: out[k] for k in SHORT_NAMES if k in out}
    result = pd.DataFrame(ordered)
    for u in unknown:
        result[u] = df[u].to_numpy()
    result.attrs = {
        **{k: v for k, v in prior_attrs.items() if not k.startswith("iod_")},
        "iod_edition": ed,
        "iod_edition_source": ed_source,
        "n_lsoas_england": n,
        "lsoa_vintage": LSOA_VINTAGE[ed],
        "source": prior_attrs.get("source", label) if not from_file else label,
        "unknown_columns": list(unknown),
    }
    logger.info(
        "%s: read %d LSOAs, %d IoD columns (IoD%d, %s)",
        label,
        len(result),
        len(ordered),
        ed,
        ed_source,
    )
    return result
