"""Local authority districts by name or code: :func:`resolve_lad` and :func:`lad_table`.

The list of districts is the ONS Ward to LAD to county/UA to region to country lookup (May
2024, catalogue dataset ``ward_lad_lookup``): the 361 UK districts, 296 of them English,
which are the districts of the IoD2025 and of the LSOA 2021 to ward 2024 lookup.
"""

from __future__ import annotations

import difflib
import functools
import re

import pandas as pd

from cnmap.columns import LAD_CODE, LAD_NAME
from cnmap.data.availability import fetch_preferred
from cnmap.data.catalogue import catalogue, normalise_columns
from cnmap.errors import UnknownAreaError, ValidationError

__all__ = ["lad_table", "resolve_lad", "ENGLISH_LAD_PREFIXES"]

#: GSS prefixes of English local authority districts.
ENGLISH_LAD_PREFIXES = ("E06", "E07", "E08", "E09")
_COUNTRY_OF_PREFIX = {"W": "Wales", "S": "Scotland", "N": "Northern Ireland"}
_CODE_RE = re.compile(r"^[A-Za-z]\d{8}$")
_DATASET = "ward_lad_lookup"


@functools.lru_cache(maxsize=4)
def _table_from(path: str, sha256: str, read_from: str) -> pd.DataFrame:
    ds = catalogue()[_DATASET]
    raw = pd.read_csv(path, dtype=str, encoding="utf-8-sig", keep_default_na=False)
    df = normalise_columns(raw, ds)
    missing = [c for c in (LAD_CODE, LAD_NAME) if c not in df.columns]
    if missing:
        raise ValidationError(f"{_DATASET} ({read_from}) lacks {missing}")
    cols = [c for c in (LAD_CODE, LAD_NAME, "region_name", "country_name") if c in df.columns]
    out = (
        df[cols]
        .drop_duplicates(LAD_CODE)
        .sort_values(LAD_CODE, kind="stable")
        .reset_index(drop=True)
    )
    out[LAD_CODE] = out[LAD_CODE].str.strip().str.upper()
    out["english"] = out[LAD_CODE].str[:3].isin(ENGLISH_LAD_PREFIXES)
    out.attrs["source"] = read_from
    return out


def lad_table() -> pd.DataFrame:
    """Every UK local authority district of the ONS lookup, one row each.

    Returns
    -------
    DataFrame
        ``lad_code``, ``lad_name``, ``region_name`` and ``country_name`` (where the lookup
        has them) and ``english`` (an English district: E06, E07, E08, E09), sorted by code.
        ``attrs["source"]`` says which file.
    """
    rec = fetch_preferred(_DATASET, None)
    table = _table_from(str(rec.path), rec.sha256, rec.read_from)
    return table.copy()


def _key(name: str) -> str:
    """Comparison key of a district name: case, '&'/'and', punctuation and spacing aside."""
    text = name.casefold().replace("&", " and ")
    text = re.sub(r"[.,'’()]", " ", text).replace("-", " ")
    text = re.sub(r"\s+", " ", text).strip()
    return text.removeprefix("the ")


def _keys_of(name: str) -> set[str]:
    """Keys a district answers to: 'Bristol, City of' also as 'Bristol' and 'City of Bristol'."""
    keys = {_key(name)}
    m = re.match(r"^(.*),\s*(city|county) of$", name.strip(), flags=re.IGNORECASE)
    if m:
        keys |= {_key(m.group(1)), _key(f"{m.group(2)} of {m.group(1)}")}
    return keys


def _by_key(table: pd.DataFrame) -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    for code, name in zip(table[LAD_CODE], table[LAD_NAME], strict=True):
        for k in _keys_of(str(name)):
            out.setdefault(k, (str(code), str(name)))
    return out


def _not_english(code: str, name: str | None) -> UnknownAreaError:
    country = _COUNTRY_OF_PREFIX.get(code[0], "outside England")
    what = f"{code} ({name})" if name else code
    return UnknownAreaError(
        f"{what} is a local authority in {country}; cnmap covers English districts only "
        f"(codes E06, E07, E08, E09): the English Indices of Deprivation it maps cover England"
    )


def _resolve_code(code: str, table: pd.DataFrame) -> str:
    from cnmap.data.loaders import check_lad_code

    names = dict(zip(table[LAD_CODE], table[LAD_NAME], strict=True))
    if code[0] in _COUNTRY_OF_PREFIX:
        raise _not_english(code, names.get(code))
    check_lad_code(code)  # a ward, LSOA or county code: says which
    if code not in names:
        raise UnknownAreaError(
            f"{code} is not an English local authority district of {table.attrs['source']} "
            f"(May 2024 codes; districts merged since, e.g. in Cumbria, Somerset or North "
            f"Yorkshire in 2023, have new codes); give a current code or the district's name"
        )
    return code


def resolve_lad(name_or_code: str) -> str:
    """The ONS code of an English local authority district given by name or code.

    Parameters
    ----------
    name_or_code
        A district name as ONS spells it, in any case (``"Solihull"``, ``"bristol, city
        of"``, ``"Bristol"``, ``"St Albans"``; '&' and 'and', punctuation and hyphens are
        not told apart), or a code in any case (``"e08000029"``).

    Returns
    -------
    str
        The code, e.g. ``"E08000029"``.

    Raises
    ------
    UnknownAreaError
        A Welsh, Scottish or Northern Irish district (named with its country: cnmap covers
        England); a code not in the lookup; a name matching no English district (the
        message suggests close names, via :mod:`difflib`).
    ValidationError
        Not a string or empty; an English code of another kind of area (a ward, an LSOA).

    Examples
    --------
    >>> resolve_lad("Solihull")  # reads the district names of the data mirror or cache
    'E08000029'
    """
    if not isinstance(name_or_code, str) or not name_or_code.strip():
        raise ValidationError(
            f"give a district name or code such as 'Solihull' or 'E08000029', not {name_or_code!r}"
        )
    text = name_or_code.strip()
    table = lad_table()
    if _CODE_RE.fullmatch(text):
        return _resolve_code(text.upper(), table)
    key = _key(text)
    english = _by_key(table[table["english"]])
    if key in english:
        return english[key][0]
    other = _by_key(table[~table["english"]])
    if key in other:
        raise _not_english(*other[key])
    close = difflib.get_close_matches(key, list(english), n=5, cutoff=0.6)
    hints = list(dict.fromkeys(f"{english[k][1]} ({english[k][0]})" for k in close))
    raise UnknownAreaError(
        f"no English local authority district is called {text!r} in "
        f"{table.attrs['source']}"
        + (
            f"; did you mean {', '.join(hints)}?"
            if hints
            else "; give the name as ONS spells it (e.g. 'Bristol, City of') or the E06/E07/E08/E09 "
            "code"
        )
    )
