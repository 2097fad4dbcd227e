"""A straight-line detour factor calibrated on a network that covers part of the area.

Straight-line (crow-flies) mode estimates a walk as the straight-line distance times a
**detour factor** (walking distance / straight-line distance). When a walk network covers
only part of a district (Birmingham's network reaches western Solihull), the factor is
measured where the network is complete:

1. the **covered part** (:func:`covered_part`) is the district inside the network's extent
   (the 500 m grid cells holding network nodes, small gaps closed) shrunk by ``margin_m``, so
   that walks measured there do not run into the network's cut edge;
2. for every residential point in the covered part, the walking distance over the network to
   the nearest organisation in the covered part, and the straight-line distance to that same
   organisation (:func:`detour_pairs`);
3. the factor is the **median ratio** of the pairs at least ``min_straight_m`` apart (at
   shorter range the walk to the street dominates) (:func:`calibrate_detour`, a pure function
   of the two distance arrays).

:func:`calibrate_on_network` does all three and returns a :class:`DetourCalibration` with the
factor, the spread and a sentence saying how it was obtained, for the outputs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import shapely

from cnmap.errors import ValidationError

__all__ = [
    "DetourCalibration",
    "calibrate_detour",
    "network_extent",
    "covered_part",
    "detour_pairs",
    "calibrate_on_network",
]

#: Pairs closer than this (metres) are left out: the access walk dominates their ratio.
MIN_STRAIGHT_M = 100.0
#: Fewest pairs a factor is calibrated from.
MIN_PAIRS = 30
#: Default distance (metres) kept from the network's cut edge.
MARGIN_M = 1000.0
#: Grid cell (metres) of the network extent.
CELL_M = 500.0


@dataclass(frozen=True)
class DetourCalibration:
    """A calibrated detour factor and how it was obtained.

    Attributes
    ----------
    factor
        The median ratio of walking to straight-line distance.
    n_pairs
        Resident-organisation pairs used (at least ``min_straight_m`` apart).
    p25, p75, mean
        Spread of the ratios.
    min_straight_m
        Shortest straight-line distance of a pair used.
    n_residents, n_organisations, covered_share
        Residential points and organisations inside the covered part, and the share of the
        district's area it is (set by :func:`calibrate_on_network`).
    network, method
        The network used, and a sentence saying how the factor was obtained.
    """

    factor: float
    n_pairs: int
    p25: float
    p75: float
    mean: float
    min_straight_m: float
    n_residents: int = 0
    n_organisations: int = 0
    covered_share: float = float("nan")
    network: str = ""
    method: str = ""

    def to_dict(self) -> dict[str, Any]:
        """As plain values (for ``run.json`` and the parameters table)."""
        return asdict(self)


def calibrate_detour(
    network_m: Any,
    straight_m: Any,
    *,
    min_straight_m: float = MIN_STRAIGHT_M,
    min_pairs: int = MIN_PAIRS,
) -> DetourCalibration:
    """The detour factor of resident-organisation pairs: the median of walking distance /
    straight-line distance.

    Parameters
    ----------
    network_m, straight_m
        Each pair's walking distance over the network and straight-line distance (metres).
        Pairs with a missing or infinite distance (not reached) are left out, and so are
        pairs closer than ``min_straight_m``.
    min_straight_m
        Shortest straight-line distance of a pair kept.
    min_pairs
        Fewest pairs to calibrate from; fewer is an error.

    Returns
    -------
    DetourCalibration
        ``factor`` (the median), ``n_pairs``, ``p25``, ``p75`` and ``mean``.

    Raises
    ------
    ValidationError
        Arrays of different lengths; a walk shorter than its straight line (impossible: a
        walk is a path between the two points); fewer than ``min_pairs`` usable pairs.
    """
    walk = np.asarray(network_m, dtype=np.float64).ravel()
    line = np.asarray(straight_m, dtype=np.float64).ravel()
    if walk.shape != line.shape:
        raise ValidationError(
            f"{walk.size} walking distances for {line.size} straight-line "
            "distances; give one of each per pair"
        )
    ok = np.isfinite(walk) & np.isfinite(line) & (line >= min_straight_m)
    ratio = walk[ok] / line[ok]
    if (ratio < 1.0 - 1e-9).any():
        raise ValidationError(
            "a walking distance is shorter than its straight-line distance; "
            "the two arrays do not describe the same pairs"
        )
    if ratio.size < min_pairs:
        raise ValidationError(
            f"only {ratio.size} resident-organisation pairs at least "
            f"{min_straight_m:g} m apart to calibrate a detour factor from "
            f"(at least {min_pairs} needed); give [coverage] detour_factor "
            "explicitly (1.3-1.5 is usual) or use a network covering more "
            "of the area"
        )
    return DetourCalibration(
        factor=float(np.median(ratio)),
        n_pairs=int(ratio.size),
        p25=float(np.percentile(ratio, 25)),
        p75=float(np.percentile(ratio, 75)),
        mean=float(ratio.mean()),
        min_straight_m=float(min_straight_m),
    )


def network_extent(net: Any, *, cell_m: float = CELL_M) -> shapely.Geometry:
    """Where a network has streets: the grid cells (``cell_m``) holding its nodes, merged,
    gaps of one cell (parks, fields) closed."""
    x = np.asarray(net.x, dtype=np.float64)
    y = np.asarray(net.y, dtype=np.float64)
    if x.size == 0:
        raise ValidationError("the network has no nodes")
    cells = np.unique(np.column_stack([np.floor(x / cell_m), np.floor(y / cell_m)]), axis=0)
    boxes = shapely.box(
        cells[:, 0] * cell_m,
        cells[:, 1] * cell_m,
        (cells[:, 0] + 1) * cell_m,
        (cells[:, 1] + 1) * cell_m,
    )
    merged = shapely.union_all(boxes)
    return shapely.buffer(
        shapely.buffer(merged, cell_m, join_style="mitre"), -cell_m, join_style="mitre"
    )


def covered_part(
    district: shapely.Geometry, net: Any, *, margin_m: float = MARGIN_M, cell_m: float = CELL_M
) -> shapely.Geometry:
    """The part of ``district`` (in the network's CRS) inside the network's extent, at least
    ``margin_m`` from its edge."""
    inner = shapely.buffer(network_extent(net, cell_m=cell_m), -margin_m)
    return shapely.intersection(district, inner)


def detour_pairs(
    net: Any, residents: Any, organisations: Any, covered: shapely.Geometry, *, max_snap_m: float
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Walking and straight-line distances from each residential point inside ``covered`` to
    its nearest organisation (over the network) inside ``covered``.

    ``residents`` and ``organisations`` are point GeoSeries/GeoDataFrames in the network's
    CRS. Returns ``(walk_m, straight_m, n_residents, n_organisations)`` (the points inside).
    """
    from cnmap.network import distance_at_points, distance_to_nearest, snap_points

    res = residents.geometry if hasattr(residents, "geometry") else residents
    org = organisations.geometry if hasattr(organisations, "geometry") else organisations
    res = res[shapely.contains_xy(covered, res.x.to_numpy(), res.y.to_numpy())]
    org = org[shapely.contains_xy(covered, org.x.to_numpy(), org.y.to_numpy())]
    res, org = res.reset_index(drop=True), org.reset_index(drop=True)
    if len(res) == 0 or len(org) == 0:
        return np.empty(0), np.empty(0), len(res), len(org)
    sources = snap_points(net, org, max_snap_m=max_snap_m)
    nearest = distance_to_nearest(net, sources, return_source=True, max_snap_m=max_snap_m)
    at = distance_at_points(
        net,
        nearest,
        snap_points(net, res, max_snap_m=max_snap_m),
        sources=sources,
        max_snap_m=max_snap_m,
    )
    walk = at["distance_m"].to_numpy(np.float64)
    which = at["source"].to_numpy(dtype=np.float64, na_value=np.nan)
    found = np.isfinite(walk) & np.isfinite(which)
    idx = np.where(found, which, 0).astype(np.int64)
    straight = np.hypot(
        res.x.to_numpy() - org.x.to_numpy()[idx], res.y.to_numpy() - org.y.to_numpy()[idx]
    )
    return np.where(found, walk, np.nan), straight, len(res), len(org)


def calibrate_on_network(
    net: Any,
    residents: Any,
    organisations: Any,
    district: shapely.Geometry,
    *,
    max_snap_m: float,
    margin_m: float = MARGIN_M,
    min_straight_m: float = MIN_STRAIGHT_M,
    network_name: str = "",
) -> DetourCalibration:
    """The detour factor measured on the part of ``district`` that ``net`` covers (see the
    module docstring); the result says how it was obtained."""
    covered = covered_part(district, net, margin_m=margin_m)
    share = float(covered.area / district.area) if district.area > 0 else float("nan")
    if covered.is_empty:
        raise ValidationError(
            f"the walk network {network_name or ''} does not cover any of "
            f"the district (at least {margin_m:,.0f} m inside its edge); "
            "give [coverage] detour_factor explicitly or another network"
        )
    walk, straight, n_res, n_org = detour_pairs(
        net, residents, organisations, covered, max_snap_m=max_snap_m
    )
    cal = calibrate_detour(walk, straight, min_straight_m=min_straight_m)
    over = f"the network ({network_name})" if network_name else "the network"
    method = (
        f"median ratio of walking distance over {over} to straight-line distance, for "
        f"{cal.n_pairs:,} residential points and their nearest organisation by "
        f"network, both inside the part of the district "
        f"the network covers ({share:.0%} of its area, at least {margin_m:,.0f} m inside "
        f"the network's edge), pairs at least {min_straight_m:g} m apart; interquartile "
        f"range {cal.p25:.2f}-{cal.p75:.2f}"
    )
    return DetourCalibration(
        **{
            **cal.to_dict(),
            "n_residents": n_res,
            "n_organisations": n_org,
            "covered_share": share,
            "network": network_name,
            "method": method,
        }
    )
