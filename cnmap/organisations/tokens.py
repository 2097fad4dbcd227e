"""Organisation types and services as lower-case tokens."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from cnmap.organisations.cells import clean_text

__all__ = ["normalise_type", "split_services", "split_types"]


def normalise_type(values: pd.Series) -> pd.Series:
    """Organisation type as one lower-case token: trimmed, spaces and hyphens → ``_``.

    ``"Food Bank"``, ``"food-bank"`` and ``" food_bank "`` all give ``"food_bank"``. A
    multi-valued type (``"Food bank; Advice"``, split on ``;`` and ``|``) keeps its first value
    here; :func:`split_types` gives them all.

    Parameters
    ----------
    values
        The type column.

    Returns
    -------
    pandas.Series
        String Series, missing for blank values.
    """
    first = clean_text(values).str.split(r"[;|]", n=1, regex=True).str[0].str.strip()
    t = first.str.lower().str.replace(r"[\s\-]+", "_", regex=True)
    return t.where(t.str.len() > 0)


def _type_tokens(v: object) -> tuple[str, ...]:
    if not isinstance(v, str):
        return ()
    toks = (re.sub(r"[\s\-]+", "_", p.strip().lower()) for p in re.split(r"[;|]", v))
    return tuple(dict.fromkeys(t for t in toks if t))


def split_types(values: pd.Series) -> pd.Series:
    """Every type of a (possibly multi-valued) type column, as a tuple of tokens per row.

    ``"Food Bank; Advice"`` gives ``("food_bank", "advice")``; the first is the row's ``type``.

    Parameters
    ----------
    values
        The type column.

    Returns
    -------
    pandas.Series
        A tuple per row (empty for a blank value), same index.
    """
    text = clean_text(values)
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    tuples = np.empty(len(uniques) + 1, dtype=object)
    tuples[:-1] = [_type_tokens(u) for u in uniques]
    tuples[-1] = ()
    return pd.Series(tuples[codes], index=values.index, dtype=object)


def split_services(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Split multi-valued services into lower-case tokens.

    A value containing ``;`` or ``|`` is split on those only (so commas inside a phrase such
    as ``"advice, guidance; food"`` stay); otherwise it is split on commas. ``"and"`` and
    ``"/"`` never split (``"food and drink"`` stays one service). Tokens are trimmed,
    lower-cased, inner whitespace collapsed; blanks and repeats dropped (first kept).

    Parameters
    ----------
    values
        The services column.

    Returns
    -------
    (services, services_list)
        ``services``: the tokens joined with ``"; "`` (missing when none);
        ``services_list``: a tuple per row (empty tuple when none).
    """
    t = clean_text(values)
    # work on the distinct values only: service lists repeat a lot
    codes, uniques = pd.factorize(t, use_na_sentinel=True)
    empty: tuple[str, ...] = ()
    tuples = [_split_one(u) for u in uniques]
    tup_arr = np.empty(len(tuples) + 1, dtype=object)
    tup_arr[:-1] = tuples
    tup_arr[-1] = empty  # code -1 (missing) picks the last slot
    joined = np.array(["; ".join(tp) if tp else None for tp in tuples] + [None], dtype=object)
    lists = pd.Series(tup_arr[codes], index=values.index, dtype=object)
    services = pd.Series(joined[codes], index=values.index, dtype="str")
    return services, lists


def _split_one(text: str) -> tuple[str, ...]:
    text = text.lower()
    parts = re.split(r"[;|]", text) if re.search(r"[;|]", text) else text.split(",")
    out: dict[str, None] = {}
    for p in parts:
        tok = " ".join(p.split())
        if tok:
            out.setdefault(tok, None)
    return tuple(out)
