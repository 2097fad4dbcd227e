"""Each row's outcome: kept, or rejected with a reason code and a message."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cnmap.organisations.duplicates import duplicate_rows
from cnmap.organisations.in_area import check_area
from cnmap.organisations.place import Placement, RowStates

__all__ = ["Verdict", "coord_notes", "first_verdict", "reject_duplicates", "reject_outside"]


@dataclass(frozen=True)
class Verdict:
    """Rows kept so far, and each rejected row's reason code and message (``""`` for kept
    rows; a kept row's ``text`` is empty too)."""

    kept: np.ndarray
    reason: np.ndarray
    text: np.ndarray

    def reject(self, rows: np.ndarray, reason: str, texts: np.ndarray) -> Verdict:
        """Reject ``rows`` (a mask) with ``reason``; ``texts`` holds the message of each."""
        new_reason, new_text = self.reason.copy(), self.text.copy()
        new_reason[rows] = reason
        new_text[rows] = texts[rows]
        return Verdict(self.kept & ~rows, new_reason, new_text)


def first_verdict(rows: RowStates, placement: Placement) -> Verdict:
    """Blank rows (``empty_row``), rows refused while reading (``extra_fields``) and rows not
    placed (their first failure) are rejected; the placed rows are kept."""
    empty, unresolved = rows.empty, placement.pending
    reason = np.where(empty, "empty_row", np.where(unresolved, placement.code, "")).astype(object)
    text = np.where(
        empty, "row is empty (every cell blank)", np.where(unresolved, placement.text, "")
    ).astype(object)
    reason[rows.forced], text[rows.forced] = "extra_fields", rows.forced_text[rows.forced]
    return Verdict(rows.to_place & ~unresolved, reason, text)


def coord_notes(placement: Placement, placed: np.ndarray) -> np.ndarray:
    """For placed rows that fell back to a later source, the first source's problem."""
    return np.where(placed & (placement.code != ""), placement.text, "").astype(object)


def reject_outside(
    verdict: Verdict, placement: Placement, area: Any, keep_outside_m: float
) -> tuple[Verdict, np.ndarray | None]:
    """Reject kept points farther than ``keep_outside_m`` outside the area (``outside_area``).

    Returns the new verdict and, per row, whether the point lies inside the area (None
    without an area: nothing is rejected).
    """
    if area is None:
        return verdict, None
    check = check_area(area, placement.x, placement.y, verdict.kept, keep_outside_m)
    return verdict.reject(check.far, "outside_area", check.text), check.inside


def reject_duplicates(
    verdict: Verdict,
    placement: Placement,
    names: pd.Series,
    within_m: float | None,
    source_row: np.ndarray,
) -> tuple[Verdict, np.ndarray]:
    """Reject kept rows with the name of an earlier kept row within ``within_m`` metres
    (``duplicate``).

    Returns the new verdict and the row each duplicate repeats (-1 for none; all -1 when
    ``within_m`` is None).
    """
    if within_m is None:
        return verdict, np.full(len(names), -1, dtype=np.int64)
    dup_of, text = duplicate_rows(
        names, placement.x, placement.y, verdict.kept, within_m, source_row
    )
    return verdict.reject(dup_of >= 0, "duplicate", text), dup_of
