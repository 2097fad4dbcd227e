"""Each row's outcome: kept, or rejected with a reason code and a message."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnmap.organisations.place import Placement, RowStates

__all__ = ["Verdict", "first_verdict"]


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
