"""Duplicate detection: the same normalised name within a distance of an earlier kept row."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cnmap.organisations.cells import short

__all__ = ["duplicate_rows", "find_duplicates", "name_key"]


def name_key(names: pd.Series) -> pd.Series:
    """Name normalised for duplicate detection (case, '&', punctuation, spacing).

    Parameters
    ----------
    names
        Organisation names (cleaned text).

    Returns
    -------
    pandas.Series
        The keys; missing for a name without letters or digits.
    """
    k = names.str.casefold().str.replace("&", " and ", regex=False)
    k = (
        k.str.replace(r"['’`]", "", regex=True)
        .str.replace(r"[^0-9a-z]+", " ", regex=True)
        .str.strip()
    )
    return k.where(k.str.len() > 0)


def _candidate_pairs(
    key: np.ndarray, x: np.ndarray, y: np.ndarray, idx: np.ndarray, r: float
) -> np.ndarray:
    """Pairs (positions in ``idx``) with the same key within ``r`` metres, ordered by the
    later row, then the earlier."""
    from scipy.spatial import cKDTree

    codes, _ = pd.factorize(pd.Series(key[idx]))
    sep = 4.0 * r + 1e7  # different names sit far apart along a third axis
    pts = np.column_stack([x[idx], y[idx], codes.astype(float) * sep])
    pairs = cKDTree(pts).query_pairs(r, output_type="ndarray")
    if len(pairs) == 0:
        return np.asarray(pairs)
    pairs = np.sort(pairs, axis=1)
    return np.asarray(pairs[np.lexsort((pairs[:, 0], pairs[:, 1]))])


def find_duplicates(
    key: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    mask: np.ndarray,
    r: float,
    group: np.ndarray | None = None,
) -> np.ndarray:
    """For each row, the index of the earlier kept row it duplicates, else -1.

    Rows are taken in order; a row duplicates the first earlier *kept* row with the same key
    within ``r`` metres. Rows of the same ``group`` (the sites of one input row) are never
    duplicates of each other.

    Parameters
    ----------
    key
        Normalised names (:func:`name_key`), missing for none.
    x, y
        EPSG:27700 coordinates.
    mask
        Rows taking part (the kept rows).
    r
        Distance in metres.
    group
        Input row of each row (sites of one row share it).

    Returns
    -------
    numpy.ndarray
        int64 per row.
    """
    n = len(key)
    dup_of = np.full(n, -1, dtype=np.int64)
    idx = np.flatnonzero(mask & pd.notna(key))
    if len(idx) < 2:
        return dup_of
    repeated = pd.Series(key[idx]).duplicated(keep=False).to_numpy()
    idx = idx[repeated]
    if len(idx) < 2:
        return dup_of
    pairs = _candidate_pairs(key, x, y, idx, r)
    if len(pairs) == 0:
        return dup_of
    local = np.full(len(idx), -1, dtype=np.int64)
    same = (
        group[idx[pairs[:, 0]]] == group[idx[pairs[:, 1]]]
        if group is not None
        else np.zeros(len(pairs), dtype=bool)
    )
    for (i, j), skip in zip(pairs, same, strict=True):  # candidate pairs only (same name, near)
        if not skip and local[j] < 0 and local[i] < 0:
            local[j] = i
    has = local >= 0
    dup_of[idx[has]] = idx[local[has]]
    return dup_of


def duplicate_rows(
    names: pd.Series,
    x: np.ndarray,
    y: np.ndarray,
    kept: np.ndarray,
    within_m: float,
    source_row: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Rows duplicating an earlier kept row, with the ``duplicate`` message of each.

    Parameters
    ----------
    names
        Organisation names (cleaned text).
    x, y
        EPSG:27700 coordinates.
    kept
        Rows kept so far.
    within_m
        Distance in metres.
    source_row
        1-based input row of each row (the sites of one input row share it).

    Returns
    -------
    (dup_of, text)
        The row each row duplicates (-1 for none), and the message of each duplicate.
    """
    key = name_key(names).to_numpy(dtype=object)
    dup_of = find_duplicates(key, x, y, kept, float(within_m), source_row - 1)
    text = np.full(len(dup_of), "", dtype=object)
    for i in np.flatnonzero(dup_of >= 0):
        d = float(np.hypot(x[i] - x[dup_of[i]], y[i] - y[dup_of[i]]))
        text[i] = (
            f"duplicate of row {source_row[dup_of[i]]}: same name {short(names.iloc[i])!r} "
            f"{d:,.0f} m away "
            f"(duplicate_within_m={within_m:g}); set duplicate_within_m=None to keep both"
        )
    return dup_of, text
