"""Guard against a walk network that does not cover the area.

A network cut for another district, or an extract that stops short of part of the area,
leaves residents farther than the snapping limit from any walkable street. They cannot be
placed, and a coverage figure computed without them is wrong. :func:`check_snap_coverage`
measures the share of residents (population-weighted) not snapped within the limit, returns
it for recording, warns above 1 % and refuses above 10 % with the remedy.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from cnmap.errors import ValidationError
from cnmap.network.snap import DEFAULT_MAX_SNAP_M, SnapResult

__all__ = ["SnapCoverage", "check_snap_coverage", "WARN_ABOVE", "REFUSE_ABOVE"]

log = logging.getLogger(__name__)

#: Share of residents (by weight) not snapped above which a warning is given.
WARN_ABOVE = 0.01
#: Share above which the run is refused.
REFUSE_ABOVE = 0.10

REMEDY = (
    "Use a walk network that covers the district: build one with "
    "cnmap.network.walk_network_for_district(area.boundary, source=<a .osm.pbf extract "
    "covering it, or 'overpass'>) and point [network] path at it; or use straight-line "
    "mode ([coverage] mode = \"crow_flies\", i.e. mode='crow_flies' with a "
    "detour_factor)."
)


@dataclass(frozen=True)
class SnapCoverage:
    """How many residents a network could place (the result of :func:`check_snap_coverage`).

    Attributes
    ----------
    n_points, n_unplaced
        Residential points, and those farther than ``max_snap_m`` from any walkable edge
        (or without a snapping distance).
    population, population_unplaced
        Their weights (people).
    share_unplaced
        ``population_unplaced / population`` (by count when every weight is 0).
    max_snap_m, warn_above, refuse_above
        The limits used.
    status
        ``"ok"``, ``"warn"`` (share above ``warn_above``) or ``"refuse"`` (above
        ``refuse_above``; returned only with ``refuse=False``, raised otherwise).
    note
        The warning or refusal text (empty when ok), for a run's quality table.
    """

    n_points: int
    n_unplaced: int
    population: float
    population_unplaced: float
    share_unplaced: float
    max_snap_m: float
    warn_above: float
    refuse_above: float
    status: str
    note: str

    def to_dict(self) -> dict[str, Any]:
        """As a plain dict (for a run's parameters / metadata)."""
        return asdict(self)


def _distances(snapped: Any) -> tuple[np.ndarray, float | None]:
    if isinstance(snapped, SnapResult):
        return np.asarray(snapped.access_m, dtype=np.float64), snapped.max_snap_m
    try:
        d = np.asarray(snapped, dtype=np.float64).ravel()
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            "snapping distances must be numbers (metres) or a SnapResult"
        ) from exc
    return d, None


def _weights(weights: Any, n: int) -> np.ndarray:
    if weights is None:
        return np.ones(n)
    try:
        w = np.asarray(weights, dtype=np.float64).ravel()
    except (TypeError, ValueError) as exc:
        raise ValidationError("weights must be numbers (people)") from exc
    if w.shape[0] != n:
        raise ValidationError(f"{w.shape[0]} weights for {n} snapping distances")
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValidationError("weights must be finite numbers >= 0 (people)")
    return w


def _check_limits(max_snap_m: float, warn_above: float, refuse_above: float) -> None:
    if not np.isfinite(max_snap_m) or max_snap_m < 0:
        raise ValidationError(f"max_snap_m must be metres >= 0, got {max_snap_m!r}")
    if not (0.0 <= warn_above <= refuse_above <= 1.0):
        raise ValidationError(
            f"need 0 <= warn_above ({warn_above!r}) <= refuse_above ({refuse_above!r}) <= 1"
        )


def check_snap_coverage(
    snapped: Any,
    weights: Any = None,
    *,
    max_snap_m: float | None = None,
    warn_above: float = WARN_ABOVE,
    refuse_above: float = REFUSE_ABOVE,
    what: str = "residents",
    refuse: bool = True,
) -> SnapCoverage:
    """Share of residents a walk network cannot place; warn above 1 %, refuse above 10 %.

    Parameters
    ----------
    snapped
        Each resident's straight-line distance to the network in metres (NaN: no distance,
        counted as not placed), or the :class:`~cnmap.network.SnapResult` of
        :func:`~cnmap.network.snap_points` (its ``access_m`` and ``max_snap_m``).
    weights
        People at each point (default 1 each).
    max_snap_m
        The snapping limit; a point farther is not placed (default: the SnapResult's, else
        500 m). A distance exactly at the limit is placed, as in ``snap_points``.
    warn_above, refuse_above
        Shares (0-1) of the weighted residents above which to warn and to refuse.
    what
        What the points are, for the messages.
    refuse
        Raise above ``refuse_above`` (default); False returns status ``"refuse"``.

    Returns
    -------
    SnapCoverage
        The share and counts, ``status`` and the ``note`` to record.

    Raises
    ------
    ValidationError
        Above ``refuse_above`` (with ``refuse=True``), naming the share and the remedy; or
        bad input (no points, negative or non-finite weights, bad limits).
    """
    d, limit = _distances(snapped)
    limit = float(
        max_snap_m
        if max_snap_m is not None
        else (limit if limit is not None else DEFAULT_MAX_SNAP_M)
    )
    _check_limits(limit, warn_above, refuse_above)
    if d.size == 0:
        raise ValidationError(f"no {what} to check: the network coverage guard needs points")
    w = _weights(weights, d.size)
    unplaced = ~(np.isfinite(d) & (d <= limit))
    total = float(w.sum())
    lost = float(w[unplaced].sum())
    share = lost / total if total > 0 else float(unplaced.mean())
    status = "refuse" if share > refuse_above else ("warn" if share > warn_above else "ok")
    result = SnapCoverage(
        n_points=int(d.size),
        n_unplaced=int(unplaced.sum()),
        population=total,
        population_unplaced=lost,
        share_unplaced=share,
        max_snap_m=limit,
        warn_above=float(warn_above),
        refuse_above=float(refuse_above),
        status=status,
        note="",
    )
    if status != "ok":
        result = replace(result, note=_note(result, what))
    note = result.note
    if status == "refuse" and refuse:
        raise ValidationError(note)
    if status != "ok":
        log.warning("%s", note)
    return result


def _note(c: SnapCoverage, what: str) -> str:
    """The warning (or refusal) text of a check that did not pass."""
    share, lost, total = c.share_unplaced, c.population_unplaced, c.population
    n_bad, n, limit = c.n_unplaced, c.n_points, c.max_snap_m
    status, warn_above, refuse_above = c.status, c.warn_above, c.refuse_above
    head = (
        f"{share:.1%} of {what} ({lost:,.0f} of {total:,.0f} people at {n_bad:,} of {n:,} "
        f"points) are farther than {limit:,.0f} m from any walkable street of the network"
    )
    if status == "refuse":
        return (
            f"{head}, more than {refuse_above:.0%}: the walk network does not cover the "
            f"area, so its coverage figures would be wrong. {REMEDY}"
        )
    return (
        f"{head} (more than {warn_above:.0%}); they count as not covered. If the network "
        f"stops short of part of the area: {REMEDY}"
    )
