"""Names of highlighted areas on a static map, without overlaps.

Few areas are named directly: each label is put at the free spot nearest its area among
candidate spots around it (eight directions, growing distances), scored against the labels
already placed, the other areas' anchors, obstacles such as the scale bar and the map frame;
a leader line joins label and area. Many areas get numbered markers (pushed apart where they
would overlap); the caller draws the key (``AreaLabel.key``).

Sizes are measured in inches on the page and converted with the axes' scale, so placements
hold for the saved figure (the axes must have their final limits and an equal aspect).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ._figure_page import LINE_SPACING, text_width_in

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["AreaLabel", "area_labels", "place_labels", "number_areas", "Box"]

LABEL_PT = 8.0
NUMBER_PT = 8.0
HALO = "white"
# label directions, best first: beside, then diagonal, then above/below
_DIRECTIONS = ((1, 0), (-1, 0), (1, 1), (-1, 1), (1, -1), (-1, -1), (0, 1), (0, -1))
_RADII_IN = (0.18, 0.35, 0.55, 0.8, 1.1, 1.5)
_DISC_RADII_IN = (0.1, 0.2, 0.32, 0.48, 0.7, 1.0)


@dataclass(frozen=True)
class AreaLabel:
    """One named area: its number, label (may hold a line break), key text and anchor."""

    number: int
    text: str
    key: str
    x: float
    y: float


Box = tuple[float, float, float, float]  # xmin, ymin, xmax, ymax


def _name(row: pd.Series, name_col: str | None, detail_col: str | None) -> tuple[str, str]:
    """(main name, detail) of an area; blank values fall back to the other."""

    def text(col: str | None) -> str:
        if col is None or col not in row.index:
            return ""
        v = row[col]
        return "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v).strip()

    main, detail = text(name_col), text(detail_col)
    if not main:
        main, detail = detail, ""
    return main, detail


def area_labels(
    frame: gpd.GeoDataFrame,
    *,
    name_col: str | None,
    detail_col: str | None = None,
    order_col: str | None = None,
) -> list[AreaLabel]:
    """Labels of the areas of ``frame``: ``"name\\n(detail)"`` at a point inside each area.

    Parameters
    ----------
    frame
        The areas to name (in the map's CRS).
    name_col, detail_col
        Columns of the main name (e.g. the ward) and a detail (e.g. the LSOA name).
    order_col
        Numbering order (ascending, e.g. a rank); default: the frame's order.
    """
    if order_col is not None and order_col in frame.columns:
        frame = frame.sort_values(order_col, kind="stable")
    pts = frame.geometry.representative_point()
    out = []
    for k, ((_, row), pt) in enumerate(zip(frame.iterrows(), pts, strict=True), start=1):
        main, detail = _name(row, name_col, detail_col)
        main = main or f"area {k}"
        text = f"{main}\n({detail})" if detail else main
        key = f"{main} ({detail})" if detail else main
        out.append(AreaLabel(k, text, key, float(pt.x), float(pt.y)))
    return out


# --------------------------------------------------------------------------------------
# geometry of the axes
# --------------------------------------------------------------------------------------


def _units_per_inch(ax: Axes) -> float:
    ax.apply_aspect()
    fig = ax.get_figure(root=True)
    assert fig is not None
    width_in = ax.get_position().width * fig.get_figwidth()
    x0, x1 = ax.get_xlim()
    return (x1 - x0) / width_in


def _text_size(text: str, size: float, unit: float) -> tuple[float, float]:
    """Width and height (data units) of a bold label in its box (padding included)."""
    lines = text.split("\n")
    w = max(text_width_in(line, size, "bold") for line in lines)
    h = len(lines) * size * LINE_SPACING / 72.0
    pad = 2 * 0.25 * size / 72.0 + 0.04
    return (w + pad) * unit, (h + pad) * unit


def _overlap(a: Box, b: Box) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def _outside(box: Box, frame: Box) -> float:
    area = (box[2] - box[0]) * (box[3] - box[1])
    return area - _overlap(box, frame)


def _box_at(x: float, y: float, dx: int, dy: int, w: float, h: float) -> Box:
    """The label box touching (x, y) on the side facing the direction (dx, dy)."""
    left = x if dx > 0 else (x - w if dx < 0 else x - w / 2)
    bottom = y if dy > 0 else (y - h if dy < 0 else y - h / 2)
    return left, bottom, left + w, bottom + h


@dataclass(frozen=True)
class _Scene:
    """What a label must keep clear of: labels placed, obstacles, points, the map frame."""

    placed: Sequence[Box]
    obstacles: Sequence[Box]
    points: np.ndarray
    frame: Box


def _points_in(box: Box, points: np.ndarray) -> int:
    if not len(points):
        return 0
    inside = (
        (points[:, 0] >= box[0])
        & (points[:, 0] <= box[2])
        & (points[:, 1] >= box[1])
        & (points[:, 1] <= box[3])
    )
    return int(inside.sum())


def _cost(box: Box, scene: _Scene, area: float) -> float:
    clash = sum(_overlap(box, b) for b in scene.placed)
    clash += sum(_overlap(box, b) for b in scene.obstacles)
    covered = 0.1 * _points_in(box, scene.points)  # hiding organisations costs a little
    return 100.0 * (clash + 2 * _outside(box, scene.frame)) / area + covered


def _best_box(
    x: float,
    y: float,
    w: float,
    h: float,
    unit: float,
    scene: _Scene,
    radii: Sequence[float] = _RADII_IN,
) -> Box:
    best: tuple[float, Box] | None = None
    for step, r in enumerate(radii):
        for k, (dx, dy) in enumerate(_DIRECTIONS):
            norm = math.hypot(dx, dy)
            cx, cy = x + dx / norm * r * unit, y + dy / norm * r * unit
            box = _box_at(cx, cy, dx, dy, w, h)
            cost = _cost(box, scene, w * h) + step + 0.01 * k
            if best is None or cost < best[0]:
                best = (cost, box)
        if best is not None and best[0] < step + 1:  # a free spot at this distance
            break
    assert best is not None
    return best[1]


def _nearest_edge(box: Box, x: float, y: float) -> tuple[float, float]:
    return min(max(x, box[0]), box[2]), min(max(y, box[1]), box[3])


def _anchor_boxes(labels: Sequence[AreaLabel], unit: float) -> list[Box]:
    r = 0.05 * unit
    return [(a.x - r, a.y - r, a.x + r, a.y + r) for a in labels]


_RING_BELOW_IN = 0.25  # areas smaller than this on the page get a ring
_RING_PT = 16.0


def _ring_pt(extent: float | None, unit: float) -> float | None:
    """Diameter (points) of the ring drawn round a small area (None: the area is big enough
    to be seen)."""
    if extent is not None and extent / unit >= _RING_BELOW_IN:
        return None
    return _RING_PT


def place_labels(
    ax: Axes,
    labels: Sequence[AreaLabel],
    *,
    obstacles: Sequence[Box] = (),
    points: np.ndarray | None = None,
    extents: Sequence[float] | None = None,
    fontsize: float = LABEL_PT,
    colour: str = "#111111",
    ring: str | None = None,
) -> list[Box]:
    """Draw each label near its area without overlaps, in a white box with a leader line.

    Parameters
    ----------
    ax
        Map axes with their final limits.
    labels
        The labels (:func:`area_labels`), placed in this order.
    obstacles
        Boxes (data units) to keep clear of, e.g. the scale bar.
    points
        Points (n x 2, data units) labels should not hide, e.g. organisations.
    extents
        Size of each area (data units, e.g. the diagonal of its bounds): with ``ring``, areas
        smaller than a quarter of an inch on the page get a ring so that they are seen
        (without ``extents`` every area does).
    fontsize, colour
        Label text size and colour (text, box edge, leader line).
    ring
        Colour of the rings round the areas (None: no rings).

    Returns
    -------
    list of Box
        The label boxes (data units), in the order of ``labels``.
    """
    unit = _units_per_inch(ax)

    def draw(lab: AreaLabel, box: Box, ring_colour: str | None, ring_pt: float) -> None:
        _draw_label(ax, lab, box, fontsize, colour, ring_colour, ring_pt)

    return _place_all(
        ax,
        labels,
        lambda lab: _text_size(lab.text, fontsize, unit),
        _RADII_IN,
        draw,
        _Around(obstacles, points, extents, ring),
    )


@dataclass(frozen=True)
class _Around:
    """What the labels of a map keep clear of, and the rings of the small areas."""

    obstacles: Sequence[Box]
    points: np.ndarray | None
    extents: Sequence[float] | None
    ring: str | None


def _place_all(
    ax: Axes,
    labels: Sequence[AreaLabel],
    size: Callable[[AreaLabel], tuple[float, float]],
    radii: Sequence[float],
    draw: Callable[[AreaLabel, Box, str | None, float], None],
    around: _Around,
) -> list[Box]:
    """Place each label (a box of ``size``, data units) at the free spot nearest its area,
    clear of the labels placed before it and of ``around``, and ``draw`` it there (with a
    ring when its area is small); returns the boxes in the order of ``labels``."""
    unit = _units_per_inch(ax)
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    pts = np.empty((0, 2)) if around.points is None else np.asarray(around.points, dtype=float)
    anchors = _anchor_boxes(labels, unit)
    placed: list[Box] = []
    for i, lab in enumerate(labels):
        w, h = size(lab)
        others = [b for j, b in enumerate(anchors) if j != i]
        scene = _Scene(placed, [*around.obstacles, *others], pts, (x0, y0, x1, y1))
        placed.append(_best_box(lab.x, lab.y, w, h, unit, scene, radii))
        ring_pt = _ring_pt(around.extents[i] if around.extents is not None else None, unit)
        draw(lab, placed[-1], around.ring if ring_pt else None, ring_pt or 0.0)
    return placed


def _ring(ax: Any, lab: Any, ring: str | None, size_pt: float, width: float, halo: Any) -> None:
    """An open circle of colour ``ring`` around the labelled point (none when ``ring`` is None)."""
    if ring is None:
        return
    ax.plot(
        [lab.x],
        [lab.y],
        marker="o",
        markersize=size_pt,
        markerfacecolor="none",
        markeredgecolor=ring,
        markeredgewidth=width,
        zorder=11,
        path_effects=halo,
    )


def _draw_label(
    ax: Axes,
    lab: AreaLabel,
    box: Box,
    fontsize: float,
    colour: str,
    ring: str | None,
    ring_pt: float,
) -> None:
    from matplotlib import patheffects

    halo = [patheffects.withStroke(linewidth=2.4, foreground=HALO)]
    ex, ey = _nearest_edge(box, lab.x, lab.y)
    ax.plot(
        [lab.x, ex],
        [lab.y, ey],
        color=colour,
        linewidth=0.9,
        zorder=11,
        path_effects=halo,
        solid_capstyle="round",
    )
    _ring(ax, lab, ring, ring_pt, 1.6, halo)
    ax.plot([lab.x], [lab.y], marker="o", markersize=3, color=colour, zorder=11)
    ax.text(
        (box[0] + box[2]) / 2,
        (box[1] + box[3]) / 2,
        lab.text,
        fontsize=fontsize,
        ha="center",
        va="center",
        color=colour,
        zorder=12,
        linespacing=LINE_SPACING,
        fontweight="bold",
        bbox={
            "boxstyle": "round,pad=0.25",
            "facecolor": "white",
            "alpha": 0.92,
            "edgecolor": colour,
            "linewidth": 0.6,
        },
    )


# --------------------------------------------------------------------------------------
# numbered markers
# --------------------------------------------------------------------------------------


def number_areas(
    ax: Axes,
    labels: Sequence[AreaLabel],
    *,
    obstacles: Sequence[Box] = (),
    points: np.ndarray | None = None,
    extents: Sequence[float] | None = None,
    fontsize: float = NUMBER_PT,
    colour: str = "#111111",
    ring: str | None = None,
) -> np.ndarray:
    """Draw a numbered white disc beside each area (clear of each other, a leader line).

    The discs are placed like labels (:func:`place_labels`, same arguments), close to their
    area but off it, so that small areas stay visible. Returns the disc centres (data units),
    in the order of ``labels``.
    """
    if not labels:
        return np.empty((0, 2))
    unit = _units_per_inch(ax)
    widest = max(text_width_in(str(a.number), fontsize, "bold") for a in labels)
    diameter = (max(widest, fontsize / 72.0) + 0.1) * unit

    def draw(lab: AreaLabel, box: Box, ring_colour: str | None, ring_pt: float) -> None:
        _draw_disc(ax, lab, box, fontsize, colour, ring_colour, ring_pt)

    placed = _place_all(
        ax,
        labels,
        lambda lab: (diameter, diameter),
        _DISC_RADII_IN,
        draw,
        _Around(obstacles, points, extents, ring),
    )
    return np.array([[(b[0] + b[2]) / 2, (b[1] + b[3]) / 2] for b in placed])


def _draw_disc(
    ax: Axes,
    lab: AreaLabel,
    box: Box,
    fontsize: float,
    colour: str,
    ring: str | None,
    ring_pt: float,
) -> None:
    from matplotlib import patheffects

    halo = [patheffects.withStroke(linewidth=2.0, foreground=HALO)]
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    ax.plot([lab.x, cx], [lab.y, cy], color=colour, linewidth=0.7, zorder=11, path_effects=halo)
    _ring(ax, lab, ring, ring_pt, 1.4, halo)
    ax.text(
        cx,
        cy,
        str(lab.number),
        fontsize=fontsize,
        fontweight="bold",
        ha="center",
        va="center",
        color=colour,
        zorder=12,
        bbox={
            "boxstyle": "circle,pad=0.18",
            "facecolor": "white",
            "edgecolor": colour,
            "linewidth": 0.8,
        },
    )
