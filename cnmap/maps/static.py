"""Static report maps (matplotlib): pages that stand alone in a committee paper.

Every map is drawn in British National Grid (EPSG:27700), so the scale bar is in true metres,
on a page 17 cm wide (A4 text width; no text under 8 pt at that width): a title naming the
place, a subtitle with the organisations and their lists, the walk (minutes, metres, speed)
and the data vintages, the map with a legend beside it, and a footer with definitions and the
source and licence line (see :mod:`cnmap.maps._figure_page`). Organisations are drawn with a
white halo and a dark edge so they show on every fill; thin areas are outlined and named
(directly when few, numbered with a key when many).

Figures are :class:`matplotlib.figure.Figure` objects (no pyplot state), safe in scripts,
tests and servers; :func:`save_figure` writes PNG (300 dpi) and PDF. matplotlib is imported
on first use. The equity charts are in :mod:`cnmap.maps.figures_equity`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast

import geopandas as gpd
import numpy as np
import pandas as pd

from ..columns import BNG, LSOA_CODE, LSOA_NAME, ORG_TYPE, POPULATION, WARD_NAME
from ..errors import CRSError, MissingColumnError, ValidationError
from ..geo import to_bng
from . import _style as S
from ._figure_labels import AreaLabel, Box, area_labels, number_areas, place_labels
from ._figure_page import (
    AUTO,
    LINE_SPACING,
    MARGIN_IN,
    NOTE_PT,
    PAGE_WIDTH_IN,
    Page,
    RunFacts,
    is_page,
    new_page,
    run_facts,
    source_text,
    subtitle_text,
    title_text,
    wrap_text,
)
from ._figure_shapes import draw_boundaries, fill_polygons, polygonal

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "static_map",
    "add_scale_bar",
    "coverage_figure",
    "imd_figure",
    "thin_figure",
    "bivariate_figure",
    "save_figure",
    "AUTO",
    "COVERAGE_BINS",
    "COVERAGE_COLOURS",
    "REPORT_DPI",
    "bin_index",
]

logger = logging.getLogger(__name__)

#: Class edges of the coverage maps: steps that matter when most areas are well covered.
COVERAGE_BINS: tuple[float, ...] = (0.0, 0.5, 0.75, 0.9, 0.95, 1.0)
#: One colour per class, dark (gaps) to pale (covered): ColorBrewer YlGnBu reversed, so that
#: the gaps stand out and the dark points and thin outlines show on the pale majority.
COVERAGE_COLOURS: tuple[str, ...] = tuple(reversed(S.SHARE_COLOURS))
#: Resolution of saved raster figures (report quality).
REPORT_DPI = 300

_POINT_COLOUR = "#111111"
_POINT_EDGE = "#1a1a1a"
_HALO = "white"
_POINT_PT = 3.4  # marker diameter, points
_HALO_PT = 1.0  # white ring around each marker, points
_OUTLINE = "#000000"
_DEPRIVED_COLOUR = "#fdbe85"
_OTHER_COLOUR = "#eeeeee"
_SIDE_IN = 1.95  # legend column
_GAP_IN = 0.12
_MAX_MAP_IN = 7.0
_LEGEND_PT = 8.0
_DIRECT_LABELS = 6  # more thin areas than this: numbered markers and a key
_KEY_COLUMNS = 2

_NICE_LENGTHS_M = (
    50,
    100,
    200,
    250,
    500,
    1_000,
    2_000,
    2_500,
    5_000,
    10_000,
    20_000,
    25_000,
    50_000,
    100_000,
    200_000,
)


def _bng(gdf: gpd.GeoDataFrame, label: str) -> gpd.GeoDataFrame:
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise ValidationError(f"{label} must be a GeoDataFrame, got {type(gdf).__name__}")
    if gdf.crs is None:
        raise CRSError(f"{label} has no CRS; set it first, e.g. gdf.set_crs('{BNG}')")
    return gdf if gdf.crs.to_epsg() == 27700 else to_bng(gdf, name=label)


def add_scale_bar(
    ax: Axes,
    *,
    length_m: float | None = None,
    segments: int = 2,
    location: str = "lower left",
    fontsize: float = 8,
) -> float:
    """Draw a metric scale bar on axes whose data units are metres (EPSG:27700).

    Parameters
    ----------
    ax
        Axes in a projected CRS with metre units.
    length_m
        Bar length in metres; default: a round length near a fifth of the map width.
    segments
        Number of alternating black/white blocks.
    location
        ``"lower left"`` or ``"lower right"``.
    fontsize
        Label font size.

    Returns
    -------
    float
        The bar length in metres.
    """
    from matplotlib.patches import Rectangle

    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    width, height = x1 - x0, y1 - y0
    if length_m is None:
        target = width / 5
        length_m = max([v for v in _NICE_LENGTHS_M if v <= target] or [_NICE_LENGTHS_M[0]])
    if length_m <= 0:
        raise ValidationError(f"scale bar length_m must be positive, got {length_m!r}")
    bar_h = height * 0.012
    pad = width * 0.04
    left = x0 + pad if location == "lower left" else x1 - pad - length_m
    bottom = y0 + height * 0.04
    step = length_m / segments
    for k in range(segments):
        ax.add_patch(
            Rectangle(
                (left + k * step, bottom),
                step,
                bar_h,
                facecolor="black" if k % 2 == 0 else "white",
                edgecolor="black",
                linewidth=0.8,
                zorder=10,
            )
        )
    label = f"{length_m / 1000:g} km" if length_m >= 1000 else f"{length_m:g} m"
    ax.text(left, bottom + bar_h * 1.6, "0", ha="center", va="bottom", fontsize=fontsize, zorder=10)
    ax.text(
        left + length_m,
        bottom + bar_h * 1.6,
        label,
        ha="center",
        va="bottom",
        fontsize=fontsize,
        zorder=10,
    )
    # a small north arrow (grid north) above the bar
    ax.annotate(
        "N",
        xy=(left, bottom + height * 0.13),
        xytext=(left, bottom + height * 0.07),
        ha="center",
        va="center",
        fontsize=fontsize + 1,
        fontweight="bold",
        arrowprops={"arrowstyle": "-|>", "color": "black", "lw": 1.2},
        zorder=10,
    )
    return float(length_m)


def _scale_bar_box(ax: Axes) -> Box:
    """The corner the scale bar and north arrow take (data units), for label placement."""
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    return x0, y0, x0 + 0.3 * (x1 - x0), y0 + 0.2 * (y1 - y0)


# --------------------------------------------------------------------------------------
# colouring
# --------------------------------------------------------------------------------------


@dataclass
class _Colouring:
    """Face colour per polygon, legend entries and (continuous colouring) the colour scale."""

    face: list[str]
    handles: list[Any] = field(default_factory=list)
    mappable: Any | None = None


def _patch(colour: str, label: str) -> Any:
    from matplotlib.patches import Patch

    return Patch(facecolor=colour, edgecolor="#555555", linewidth=0.5, label=label)


def _check_colouring(
    data: gpd.GeoDataFrame,
    column: str | None,
    colours: Mapping[Any, str] | None,
    bins: Sequence[float] | None,
    bin_colours: Sequence[str] | None,
) -> None:
    if column is not None and column not in data.columns:
        raise MissingColumnError(
            f"static_map: column {column!r} is not in the frame (columns: "
            f"{list(data.columns)[:20]})"
        )
    if colours is not None and bins is not None:
        raise ValidationError("static_map: give either colours (categories) or bins, not both")
    if bins is None:
        return
    if bin_colours is None or len(bin_colours) != len(bins) - 1:
        raise ValidationError(
            f"static_map: bins has {len(bins)} edges, so bin_colours needs {len(bins) - 1} colours"
        )
    if any(b1 <= b0 for b0, b1 in zip(bins[:-1], bins[1:], strict=True)):
        raise ValidationError(f"static_map: bins must be strictly ascending, got {list(bins)}")


def _categorical(
    values: pd.Series, colours: Mapping[Any, str], labels: Mapping[Any, str] | None
) -> _Colouring:
    missing = values.isna().to_numpy()
    face = [
        S.MISSING_COLOUR if miss else colours.get(v, S.MISSING_COLOUR)
        for v, miss in zip(values.tolist(), missing, strict=True)
    ]
    present = set(values.dropna().tolist())
    handles = [
        _patch(col, labels.get(key, str(key)) if labels else str(key))
        for key, col in colours.items()
        if key in present
    ]
    return _Colouring(face, handles)


def bin_index(values: pd.Series, bins: Sequence[float]) -> np.ndarray:
    """Class of each value (0 .. len(bins) - 2; values outside go to the end classes; NaN: -1)."""
    nums = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    idx = np.clip(np.searchsorted(np.asarray(bins[1:-1]), nums, side="right"), 0, len(bins) - 2)
    return np.where(np.isnan(nums), -1, idx)


def _binned(
    values: pd.Series,
    bins: Sequence[float],
    bin_colours: Sequence[str],
    labels: Mapping[Any, str] | None,
) -> _Colouring:
    idx = bin_index(values, bins)
    face = [S.MISSING_COLOUR if i < 0 else bin_colours[i] for i in idx]
    handles = [
        _patch(col, (labels.get(k) if labels else None) or f"{bins[k]:g} to {bins[k + 1]:g}")
        for k, col in enumerate(bin_colours)
    ]
    return _Colouring(face, handles)


def _continuous(values: pd.Series, cmap: str) -> _Colouring:
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize, to_hex

    nums = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    finite = nums[np.isfinite(nums)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    norm = Normalize(vmin=lo, vmax=hi if hi > lo else lo + 1)
    cm = colormaps[cmap]
    face = [S.MISSING_COLOUR if not np.isfinite(v) else to_hex(cm(norm(v))) for v in nums]
    return _Colouring(face, [], ScalarMappable(norm=norm, cmap=cm))


def _colouring(
    data: gpd.GeoDataFrame,
    column: str | None,
    *,
    colours: Mapping[Any, str] | None,
    labels: Mapping[Any, str] | None,
    bins: Sequence[float] | None,
    bin_colours: Sequence[str] | None,
    cmap: str,
    missing_label: str,
) -> _Colouring:
    if column is None:
        return _Colouring([S.MISSING_COLOUR] * len(data))
    values = data[column]
    if colours is not None:
        out = _categorical(values, colours, labels)
    elif bins is not None and bin_colours is not None:
        out = _binned(values, bins, bin_colours, labels)
    else:
        out = _continuous(values, cmap)
    n_missing = int(pd.to_numeric(values.isna(), errors="coerce").sum())
    if n_missing:
        out.handles.append(_patch(S.MISSING_COLOUR, f"{missing_label} ({n_missing})"))
    return out


# --------------------------------------------------------------------------------------
# organisations
# --------------------------------------------------------------------------------------


@dataclass
class _Points:
    x: np.ndarray
    y: np.ndarray
    colours: list[str]
    handles: list[Any]
    markers: list[str] = field(default_factory=list)  # matplotlib marker per point ("o" if empty)


#: the interactive map's symbol shapes as matplotlib markers (same symbol per type on both)
_MPL_MARKER = {"circle": "o", "square": "s", "diamond": "D", "triangle": "^"}


def _type_label(key: str) -> str:
    text = key.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def _marker_handle(colour: str, label: str, marker: str = "o") -> Any:
    from matplotlib.lines import Line2D

    return Line2D(
        [],
        [],
        marker=marker,
        linestyle="",
        markerfacecolor=colour,
        markeredgecolor=_POINT_EDGE,
        markeredgewidth=0.5,
        markersize=_POINT_PT + 1,
        label=label,
    )


def _points_plan(
    points: gpd.GeoDataFrame | None, points_column: str | None, points_label: str
) -> _Points | None:
    if points is None or not len(points):
        return None
    pts = _bng(points, "static_map points")
    pts = pts[~(pts.geometry.is_empty | pts.geometry.isna())]
    x, y = pts.geometry.x.to_numpy(), pts.geometry.y.to_numpy()
    if points_column is not None and points_column not in pts.columns:
        raise MissingColumnError(f"static_map: points have no column {points_column!r}")
    typed = points_column is not None and pts[points_column].notna().any()
    if not typed:
        handle = _marker_handle(_POINT_COLOUR, f"{points_label} ({len(pts):,})")
        return _Points(x, y, [_POINT_COLOUR] * len(pts), [handle])
    raw = pts[points_column].tolist()
    keys = ["unknown" if S._missing(v) or str(v) == "" else str(v) for v in raw]
    symbols = {k: (col, _MPL_MARKER[shape]) for k, (col, shape) in S.type_symbols(raw).items()}
    counts = pd.Series(keys).value_counts()
    handles = [
        _marker_handle(col, f"{_type_label(key)} ({int(counts.get(key, 0)):,})", mk)
        for key, (col, mk) in symbols.items()
    ]
    # the rarest types drawn last, so that the most frequent do not hide them
    order = np.argsort([-int(counts[k]) for k in keys], kind="stable")
    return _Points(
        x[order],
        y[order],
        [symbols[keys[i]][0] for i in order],
        handles,
        [symbols[keys[i]][1] for i in order],
    )


def _draw_points(ax: Axes, plan: _Points) -> None:
    """Markers with a dark edge inside a white halo: visible on pale and dark fills alike."""
    halo = (_POINT_PT + 2 * _HALO_PT) ** 2
    markers = np.asarray(plan.markers or ["o"] * len(plan.x))
    colours = np.asarray(plan.colours, dtype=object)
    for mk in dict.fromkeys(markers.tolist()):  # one pair of calls per shape, in drawing order
        sel = markers == mk
        ax.scatter(plan.x[sel], plan.y[sel], s=halo, c=_HALO, marker=mk, linewidths=0, zorder=5)
        ax.scatter(
            plan.x[sel],
            plan.y[sel],
            s=_POINT_PT**2,
            c=list(colours[sel]),
            marker=mk,
            edgecolors=_POINT_EDGE,
            linewidths=0.45,
            zorder=6,
        )


# --------------------------------------------------------------------------------------
# the page of a map
# --------------------------------------------------------------------------------------


@dataclass
class _MapLayout:
    fig: Figure
    ax: Axes
    page: Page | None = None
    side_left_in: float = 0.0
    side_top_in: float = 0.0
    side_width_in: float = _SIDE_IN
    map_bottom_in: float = 0.0


def _extent(data: gpd.GeoDataFrame) -> tuple[float, float, float, float]:
    minx, miny, maxx, maxy = data.total_bounds
    padx, pady = (maxx - minx) * 0.03, (maxy - miny) * 0.03
    return minx - padx, maxx + padx, miny - pady * 4, maxy + pady  # room for the scale bar


def _fit_labels(handles: Sequence[Any], width_in: float) -> None:
    """Wrap legend labels to the legend column (the marker takes about 0.4 in)."""
    for h in handles:
        h.set_label("\n".join(wrap_text(h.get_label(), _LEGEND_PT, width_in - 0.42)))


def _legend_height_in(handles: Sequence[Any], title: str | None) -> float:
    lines = sum(len(h.get_label().split("\n")) for h in handles)
    head = 0.18 * len(title.split("\n")) + 0.1 if title else 0.0
    return head + lines * _LEGEND_PT * LINE_SPACING / 72 + 0.07 * len(handles) + 0.1


@dataclass(frozen=True)
class _PageText:
    title: str | None
    subtitle: str | None
    notes: Sequence[str]
    source: str | None
    footer_extra_in: float
    width_in: float


def _map_layout(
    extent: tuple[float, float, float, float], text: _PageText, side_height_in: float
) -> _MapLayout:
    x0, x1, y0, y1 = extent
    aspect = (y1 - y0) / (x1 - x0) if x1 > x0 else 1.0
    map_w = text.width_in - 2 * MARGIN_IN - _SIDE_IN - _GAP_IN
    map_h = map_w * aspect
    if map_h > _MAX_MAP_IN:
        map_h, map_w = _MAX_MAP_IN, _MAX_MAP_IN / aspect
    body_h = max(map_h, side_height_in)
    page = new_page(
        title=text.title,
        subtitle=text.subtitle,
        body_height_in=body_h,
        notes=text.notes,
        source=text.source,
        footer_extra_in=text.footer_extra_in,
        width_in=text.width_in,
    )
    ax = page.add_axes(MARGIN_IN, body_h - map_h, map_w, map_h)
    return _MapLayout(
        page.fig, ax, page, MARGIN_IN + map_w + _GAP_IN, body_h, _SIDE_IN, body_h - map_h
    )


def _frame(ax: Axes, extent: tuple[float, float, float, float]) -> None:
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_aspect("equal", adjustable="box")
    ax.set_axis_off()


def _legend(layout: _MapLayout, handles: list[Any], title: str | None, top_in: float) -> None:
    if not handles:
        return
    if layout.page is None:
        layout.ax.legend(
            handles=handles,
            title=title,
            loc="upper left",
            bbox_to_anchor=(1.0, 1.0),
            fontsize=_LEGEND_PT,
            title_fontsize=_LEGEND_PT + 1,
            frameon=False,
        )
        return
    anchor = layout.page.figure_point(layout.side_left_in, top_in)
    leg = layout.ax.legend(
        handles=handles,
        title=title,
        loc="upper left",
        bbox_to_anchor=anchor,
        bbox_transform=layout.fig.transFigure,
        fontsize=_LEGEND_PT,
        title_fontsize=_LEGEND_PT + 1,
        frameon=False,
        alignment="left",
        borderaxespad=0.0,
        borderpad=0.0,
        handlelength=1.4,
        labelspacing=0.45,
    )
    leg.get_title().set_fontweight("bold")


def _colour_bar(layout: _MapLayout, mappable: Any, title: str | None) -> float:
    """A colour bar at the top of the legend column (or beside the axes); its height in in."""
    if layout.page is None:
        cb = layout.fig.colorbar(mappable, ax=layout.ax, shrink=0.6, pad=0.01)
        cb.set_label(title or "", fontsize=_LEGEND_PT)
        return 0.0
    height = 1.8
    cax = layout.page.add_axes(layout.side_left_in, layout.side_top_in - height, 0.16, height)
    cb = layout.fig.colorbar(mappable, cax=cax)
    cb.set_label(title or "", fontsize=_LEGEND_PT)
    cb.ax.tick_params(labelsize=_LEGEND_PT)
    return height + 0.2


def _axes_width_in(ax: Axes) -> float:
    fig = ax.get_figure(root=True)
    assert fig is not None
    return max(ax.get_position().width * fig.get_figwidth(), 1.0)


def _panel_text(ax: Axes, title: str | None, source: str | None) -> None:
    """Title above and licence line below a map drawn on given axes (a panel: no page)."""
    width = _axes_width_in(ax)
    if title:
        ax.set_title("\n".join(wrap_text(title, 11, width)), fontsize=11, loc="left")
    if source:
        ax.text(
            0.0,
            -0.01,
            "\n".join(wrap_text(source, NOTE_PT, width)),
            fontsize=NOTE_PT,
            color="#444444",
            ha="left",
            va="top",
            transform=ax.transAxes,
        )


def _draw_layers(
    ax: Axes,
    data: gpd.GeoDataFrame,
    face: list[str],
    boundaries: gpd.GeoDataFrame | None,
    outline: gpd.GeoDataFrame | None,
) -> None:
    """The polygons, the boundaries over them and the outlined areas over everything, from
    paths shared between the figures (:mod:`cnmap.maps._figure_shapes`)."""
    if polygonal(data):
        fill_polygons(ax, data, face)
    else:
        data.plot(ax=ax, color=face, edgecolor="white", linewidth=0.25)
    if boundaries is not None:
        _lines(ax, _bng(boundaries, "static_map boundaries"), S.WARD_LINE_COLOUR, 0.5)
    if outline is not None and len(outline):
        edge = _bng(outline, "static_map outline")
        _lines(ax, edge, _HALO, 2.6, zorder=7)
        _lines(ax, edge, _OUTLINE, 1.3, zorder=8)


def _lines(
    ax: Axes, frame: gpd.GeoDataFrame, colour: str, width: float, zorder: float | None = None
) -> None:
    """The boundaries of ``frame`` as lines (shared paths for polygons, else geopandas)."""
    if polygonal(frame):
        draw_boundaries(ax, frame, color=colour, linewidth=width, zorder=zorder)
        return
    kwargs = {} if zorder is None else {"zorder": zorder}
    frame.boundary.plot(ax=ax, color=colour, linewidth=width, **kwargs)


@dataclass(frozen=True)
class _Style:
    """How static_map colours the polygons and draws the rest."""

    column: str | None
    cmap: str = "viridis"
    colours: Mapping[Any, str] | None = None
    labels: Mapping[Any, str] | None = None
    bins: Sequence[float] | None = None
    bin_colours: Sequence[str] | None = None
    legend: bool = True
    legend_title: str | None = None
    missing_label: str = "no data"


def _draw_map(
    data: gpd.GeoDataFrame,
    style: _Style,
    text: _PageText,
    *,
    ax: Axes | None,
    layers: tuple[gpd.GeoDataFrame | None, gpd.GeoDataFrame | None],
    points: _Points | None,
    scale_bar: bool,
) -> _MapLayout:
    """Colour, lay out and draw a map; the layout tells where things went."""
    col = _colouring(
        data,
        style.column,
        colours=style.colours,
        labels=style.labels,
        bins=style.bins,
        bin_colours=style.bin_colours,
        cmap=style.cmap,
        missing_label=style.missing_label,
    )
    handles = col.handles + (points.handles if points is not None else [])
    legend_title = style.legend_title or style.column
    extent = _extent(data)
    if ax is None:
        _fit_labels(handles, _SIDE_IN)
        if legend_title:
            legend_title = "\n".join(
                wrap_text(legend_title, _LEGEND_PT + 1, _SIDE_IN, weight="bold")
            )
        side_h = _legend_height_in(handles, legend_title) + (2.0 if col.mappable else 0.0)
        layout = _map_layout(extent, text, side_h if style.legend else 0.0)
    else:
        layout = _MapLayout(ax.figure, ax)  # type: ignore[arg-type]
    _draw_layers(layout.ax, data, col.face, *layers)
    if points is not None:
        _draw_points(layout.ax, points)
    _frame(layout.ax, extent)
    top = layout.side_top_in
    if style.legend and col.mappable is not None:
        top -= _colour_bar(layout, col.mappable, legend_title)
    if style.legend:
        _legend(layout, handles, None if col.mappable else legend_title, top)
    if scale_bar:
        add_scale_bar(layout.ax)
    if ax is not None:
        _panel_text(layout.ax, text.title, text.source)
    return layout


def static_map(  # noqa: PLR0913 (public API: keyword-only options, as osmnx)
    gdf: gpd.GeoDataFrame,
    column: str | None,
    *,
    ax: Axes | None = None,
    title: str | None = None,
    subtitle: str | None = None,
    notes: Sequence[str] = (),
    cmap: str = "viridis",
    colours: Mapping[Any, str] | None = None,
    labels: Mapping[Any, str] | None = None,
    bins: Sequence[float] | None = None,
    bin_colours: Sequence[str] | None = None,
    legend: bool = True,
    legend_title: str | None = None,
    boundaries: gpd.GeoDataFrame | None = None,
    outline: gpd.GeoDataFrame | None = None,
    points: gpd.GeoDataFrame | None = None,
    points_column: str | None = None,
    points_label: str = "Organisations",
    scale_bar: bool = True,
    attribution: str | None = S.ATTRIBUTION_TEXT,
    missing_label: str = "no data",
    width_in: float = PAGE_WIDTH_IN,
) -> Figure:
    """A report map: polygons coloured by ``column``, optional outlines and points.

    Three ways to colour (choose one): ``colours`` (categorical: value -> colour, e.g. IMD
    deciles); ``bins`` + ``bin_colours`` (classed numbers: ``len(bins) - 1`` colours); or
    neither (a continuous ``cmap`` with a colour bar). Missing values are drawn light grey
    and listed in the legend as ``missing_label``.

    Without ``ax`` the map is a page ``width_in`` wide (default 17 cm): the title and
    subtitle above, the legend in a column beside the map, the notes and the attribution
    below; text is at least 8 pt. With ``ax`` it is drawn on those axes (for panels), the
    legend beside them.

    Parameters
    ----------
    gdf
        Polygons (any CRS; drawn in EPSG:27700).
    column
        Column to colour by; None draws plain grey polygons.
    ax
        Axes to draw on (a new page otherwise).
    title, subtitle
        Title and subtitle above the map (the subtitle only on a new page).
    notes
        Paragraphs under the map (definitions), above the attribution (new page only).
    cmap
        Matplotlib colormap name for continuous colouring.
    colours, labels
        Categorical colours and optional legend labels, by value (for ``bins``: by class
        number 0, 1, ...).
    bins, bin_colours
        Class edges (ascending; values outside go to the end classes) and one colour per
        class.
    legend, legend_title
        Draw a legend / colour bar and its title (default: ``column``).
    boundaries
        Outlines drawn over the polygons (e.g. wards).
    outline
        Polygons outlined in black over everything (e.g. the thin areas).
    points, points_column
        Points drawn on top (e.g. organisations) with a white halo, coloured by
        ``points_column`` if given (categorical, :func:`cnmap.maps._style.type_colours`).
    points_label
        Legend label of the points (when not coloured by a column).
    scale_bar
        Draw a metric scale bar and north arrow (:func:`add_scale_bar`).
    attribution
        Source and licence line at the foot of the figure; None for none.
    missing_label
        Legend label for missing values.
    width_in
        Width of a new page, inches.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    MissingColumnError
        ``column`` (or ``points_column``) is not in the frame.
    ValidationError
        Inconsistent colouring options.
    CRSError
        A frame has no CRS.
    """
    data = _bng(gdf, "static_map gdf")
    _check_colouring(data, column, colours, bins, bin_colours)
    style = _Style(
        column, cmap, colours, labels, bins, bin_colours, legend, legend_title, missing_label
    )
    text = _PageText(title, subtitle, tuple(notes), attribution, 0.0, width_in)
    plan = _points_plan(points, points_column, points_label)
    layout = _draw_map(
        data, style, text, ax=ax, layers=(boundaries, outline), points=plan, scale_bar=scale_bar
    )
    return layout.fig


# --------------------------------------------------------------------------------------
# naming the thin areas
# --------------------------------------------------------------------------------------


_KEY_NUMBER_IN = 0.25  # width of the number column of a key


def _key_column(labels: Sequence[AreaLabel], width_in: float) -> tuple[str, str]:
    """The numbers and the names of one key column, line for line (wrapped names)."""
    numbers: list[str] = []
    names: list[str] = []
    for a in labels:
        wrapped = wrap_text(a.key, NOTE_PT, width_in - _KEY_NUMBER_IN - 0.15)
        numbers += [str(a.number)] + [" "] * (len(wrapped) - 1)
        names += wrapped
    return "\n".join(numbers), "\n".join(names)


def _key_chunks(labels: Sequence[AreaLabel]) -> list[Sequence[AreaLabel]]:
    rows = -(-len(labels) // _KEY_COLUMNS)
    return [labels[c * rows : (c + 1) * rows] for c in range(_KEY_COLUMNS)]


def _key_height_in(labels: Sequence[AreaLabel], width_in: float) -> float:
    if not labels:
        return 0.0
    col_w = width_in / _KEY_COLUMNS
    lines = max(len(_key_column(chunk, col_w)[1].split("\n")) for chunk in _key_chunks(labels))
    return 0.28 + lines * NOTE_PT * LINE_SPACING / 72 + 0.05


def _draw_key(layout: _MapLayout, title: str, labels: Sequence[AreaLabel]) -> None:
    """The key to numbered areas, in columns under the map: numbers right-aligned, names."""
    assert layout.page is not None
    page = layout.page
    col_w = (page.width_in - 2 * MARGIN_IN) / _KEY_COLUMNS
    x, y = page.figure_point(MARGIN_IN, -0.06)
    layout.fig.text(x, y, title, fontsize=NOTE_PT, fontweight="bold", ha="left", va="top")
    for c, chunk in enumerate(_key_chunks(labels)):
        if not chunk:
            continue
        numbers, names = _key_column(chunk, col_w)
        left = MARGIN_IN + c * col_w
        for text, x_in, ha in (
            (numbers, left + _KEY_NUMBER_IN, "right"),
            (names, left + _KEY_NUMBER_IN + 0.08, "left"),
        ):
            x, y = page.figure_point(x_in, -0.26)
            layout.fig.text(x, y, text, fontsize=NOTE_PT, ha=ha, va="top", linespacing=LINE_SPACING)


@dataclass(frozen=True)
class _Named:
    """Areas to outline and name on a map, and how to name them."""

    frame: gpd.GeoDataFrame
    name_col: str | None
    detail_col: str | None
    order_col: str | None
    key_title: str
    ring: str | None = S.THIN_COLOUR
    direct: int = _DIRECT_LABELS

    def labels(self) -> list[AreaLabel]:
        return area_labels(
            self.frame, name_col=self.name_col, detail_col=self.detail_col, order_col=self.order_col
        )

    def key(self) -> list[AreaLabel]:
        """The areas of the key when they are too many to name directly (else none)."""
        return self.labels() if len(self.frame) > self.direct else []

    def extents(self) -> list[float]:
        frame = self.frame
        if self.order_col is not None and self.order_col in frame.columns:
            frame = frame.sort_values(self.order_col, kind="stable")
        b = frame.geometry.bounds
        return cast(list[float], np.hypot(b["maxx"] - b["minx"], b["maxy"] - b["miny"]).tolist())


def _name_areas(
    layout: _MapLayout, named: _Named, key: Sequence[AreaLabel], points: _Points | None
) -> None:
    """Name the areas on the map: directly, or numbered when a key was made."""
    labels = named.labels()
    pts = np.column_stack([points.x, points.y]) if points is not None else None
    draw = number_areas if key else place_labels
    draw(
        layout.ax,
        labels,
        obstacles=[_scale_bar_box(layout.ax)],
        points=pts,
        extents=named.extents(),
        ring=named.ring,
    )
    if key:
        _draw_key(layout, named.key_title, key)


# --------------------------------------------------------------------------------------
# the standard report figures
# --------------------------------------------------------------------------------------


def _minutes(result: Any, minutes: float | None) -> float:
    th = tuple(getattr(result, "thresholds", ()) or ())
    if minutes is None:
        if not th:
            raise ValidationError("the result has no thresholds; pass minutes=")
        return 15 if 15 in th else max(th)
    if th and minutes not in th:
        raise ValidationError(f"minutes={minutes!r} is not one of the result's thresholds {th}")
    return minutes


def _auto(value: str | None, computed: str | None) -> str | None:
    return computed if value == AUTO else value


def _headline(result: Any, minutes: float) -> str | None:
    """``"95.2% of residents (1,099,247 of 1,154,221) live within a 15-minute walk"``."""
    totals = getattr(result, "totals", None)
    if not isinstance(totals, pd.DataFrame) or "minutes" not in totals.columns:
        return None
    row = totals.loc[totals["minutes"] == minutes]
    if row.empty:
        return None
    r = row.iloc[0]
    return (
        f"{100 * float(r['share_covered']):.1f}% of residents ({float(r['pop_covered']):,.0f} "
        f"of {float(r['population']):,.0f}) live within a {minutes:g}-minute walk of an "
        "organisation"
    )


def _class_labels(frame: pd.DataFrame, col: str, unit: str) -> dict[int, str]:
    """``"95–100%: 412 LSOAs, 723,000 residents"`` for each coverage class."""
    idx = bin_index(frame[col], COVERAGE_BINS)
    pop = pd.to_numeric(
        frame.get(POPULATION, pd.Series(np.nan, index=frame.index)), errors="coerce"
    ).to_numpy(float)
    out = {}
    for k, (a, b) in enumerate(zip(COVERAGE_BINS[:-1], COVERAGE_BINS[1:], strict=True)):
        name = f"under {100 * b:.0f}%" if k == 0 else f"{100 * a:.0f}–{100 * b:.0f}%"
        n = int((idx == k).sum())
        people = np.nansum(pop[idx == k])
        label = f"{name}: {n:,} {unit}{'s' if n != 1 else ''}"
        out[k] = label + (f", {people:,.0f} residents" if np.isfinite(pop).any() else "")
    return out


def _thin_rows(thin: Any, result: Any) -> gpd.GeoDataFrame | None:
    if thin is None:
        return None
    frame = _thin_frame(thin, result)
    if "thin" not in frame.columns:
        raise MissingColumnError("thin.lsoas has no 'thin' column")
    return frame[frame["thin"].fillna(False).astype(bool)]


def _org_points(result: Any, organisations: bool) -> tuple[Any, str | None]:
    orgs = getattr(result, "organisations", None) if organisations else None
    if isinstance(orgs, pd.DataFrame) and "snapped" in orgs.columns:
        orgs = orgs[orgs["snapped"].fillna(False).astype(bool)]
    col = ORG_TYPE if isinstance(orgs, pd.DataFrame) and ORG_TYPE in orgs.columns else None
    return orgs, col


def _map_with_names(
    frame: gpd.GeoDataFrame,
    style: _Style,
    text: _PageText,
    *,
    ax: Axes | None,
    boundaries: gpd.GeoDataFrame | None,
    points: _Points | None,
    named: _Named | None,
) -> _MapLayout:
    """A map page whose ``named`` areas are outlined and named (a key under it if many)."""
    if named is not None:
        named = _Named(
            _bng(named.frame, "named areas"),
            named.name_col,
            named.detail_col,
            named.order_col,
            named.key_title,
            named.ring,
            named.direct,
        )
    key = named.key() if named is not None and ax is None else []
    if key:
        extra = _key_height_in(key, text.width_in - 2 * MARGIN_IN)
        text = _PageText(text.title, text.subtitle, text.notes, text.source, extra, text.width_in)
    outline = named.frame if named is not None else None
    layout = _draw_map(
        _bng(frame, "map frame"),
        style,
        text,
        ax=ax,
        layers=(boundaries, outline),
        points=points,
        scale_bar=True,
    )
    if named is not None and len(named.frame):
        _name_areas(layout, named, key, points)
    return layout


def coverage_figure(  # noqa: PLR0913 (public API: keyword-only options, as osmnx)
    result: Any,
    *,
    minutes: float | None = None,
    level: str = "lsoa",
    organisations: bool = True,
    thin: Any | None = None,
    title: str | None = AUTO,
    subtitle: str | None = AUTO,
    place: str | None = None,
    ax: Axes | None = None,
    attribution: str | None = AUTO,
) -> Figure:
    """Share of residents within ``minutes`` walk of an organisation, by LSOA or ward.

    Classes are the steps that matter when most areas are well covered (under 50%, 50–75%,
    75–90%, 90–95%, 95–100%), each with its number of areas and residents in the legend; the
    gaps are the dark colours.

    Parameters
    ----------
    result
        A coverage result (``lsoas``, ``wards``, ``organisations``, ``thresholds``, ``totals``,
        ``params``).
    minutes
        One of ``result.thresholds`` (default 15, else the largest).
    level
        ``"lsoa"`` or ``"ward"``.
    organisations
        Draw the organisations (coloured by type when the result has types).
    thin
        A thin-infrastructure result (:func:`cnmap.thin.thin_areas`): its thin LSOAs are
        outlined and named.
    title, subtitle
        ``AUTO`` (default): the place and what is shown / the headline, organisations, walk
        and data vintages; a string; or None for none.
    place
        Place name for the title (default: the result's area).
    ax
        Axes to draw on (a panel; no page).
    attribution
        ``AUTO`` (default): the sources and licences of the data shown; a string; or None.
    """
    t = _minutes(result, minutes)
    if level not in {"lsoa", "ward"}:
        raise ValidationError(f"level must be 'lsoa' or 'ward', got {level!r}")
    frame = result.lsoas if level == "lsoa" else result.wards
    col = f"share_covered_{t:g}min"
    if col not in frame.columns:
        raise MissingColumnError(f"coverage_figure: the {level} table has no {col!r} column")
    facts = run_facts(result, place=place)
    unit = "LSOA" if level == "lsoa" else "ward"
    named = _coverage_named(result, thin, level, col)
    text = _PageText(
        _auto(
            title,
            title_text(
                facts,
                f"residents within a {t:g}-minute walk of a community organisation, by {unit}",
            ),
        ),
        _auto(subtitle, subtitle_text(facts, t, lead=_headline(result, t))),
        _coverage_notes(level, t, named) if ax is None else (),
        _auto(attribution, source_text(facts, deprivation=thin is not None)),
        0.0,
        PAGE_WIDTH_IN,
    )
    style = _Style(
        col,
        colours=None,
        labels=_class_labels(frame, col, unit),
        bins=COVERAGE_BINS,
        bin_colours=COVERAGE_COLOURS,
        legend_title=f"Residents within a {t:g}-minute walk",
    )
    orgs, org_col = _org_points(result, organisations)
    return _map_with_names(
        frame,
        style,
        text,
        ax=ax,
        boundaries=result.wards,
        named=named,
        points=_points_plan(orgs, org_col, "Organisations"),
    ).fig


#: Wards below this share covered are named on the ward coverage map.
WARD_NAME_BELOW = 0.75


def _coverage_named(result: Any, thin: Any, level: str, col: str) -> _Named | None:
    if level == "ward":
        wards = result.wards
        low = wards[pd.to_numeric(wards[col], errors="coerce") < WARD_NAME_BELOW]
        return _Named(
            low,
            WARD_NAME,
            None,
            col,
            f"Wards where fewer than {100 * WARD_NAME_BELOW:.0f}% of residents are "
            "within the walk (number on the map)",
            ring=None,
        )
    rows = _thin_rows(thin, result)
    if rows is None:
        return None
    return _Named(rows, WARD_NAME, LSOA_NAME, "rank", _THIN_KEY_TITLE)


def _coverage_notes(level: str, minutes: float, named: _Named | None) -> list[str]:
    notes = [_coverage_note(level, minutes)]
    if named is not None and level == "lsoa":
        notes.append(_THIN_OUTLINE_NOTE)
    elif named is not None and len(named.frame):
        notes.append(
            f"Named: wards where fewer than {100 * WARD_NAME_BELOW:.0f}% of residents "
            "live within the walk."
        )
    return notes


_THIN_KEY_TITLE = "Thin areas, thinnest first (number on the map: ward, LSOA)"


def _coverage_note(level: str, minutes: float) -> str:
    what = (
        "LSOA: Lower layer Super Output Area, a statistical area of about 1,500 residents; "
        "grey lines: ward boundaries."
        if level == "lsoa"
        else "Electoral wards; a ward's residents are those living inside it."
    )
    return (
        f"Share of each area's residents who live within a {minutes:g}-minute walk of at "
        f"least one organisation (residents placed at postcode or street points). {what}"
    )


_THIN_OUTLINE_NOTE = (
    "Named, outlined and ringed in red: the LSOAs where community "
    "infrastructure is thin (see the thin areas figure)."
)


def _decile_labels(frame: pd.DataFrame) -> dict[int, str]:
    pop = pd.to_numeric(
        frame.get(POPULATION, pd.Series(np.nan, index=frame.index)), errors="coerce"
    )
    out = {}
    for d in range(1, 11):
        sel = frame["imd_decile"] == d
        name = {1: "1 (most deprived)", 10: "10 (least deprived)"}.get(d, str(d))
        people = f", {pop[sel].sum():,.0f} residents" if pop.notna().any() else ""
        out[d] = f"{name}: {int(sel.sum()):,} LSOAs{people}"
    return out


def _imd_lead(frame: pd.DataFrame) -> str | None:
    n = len(frame)
    if not n:
        return None
    d1 = frame["imd_decile"] == 1
    pop = pd.to_numeric(
        frame.get(POPULATION, pd.Series(np.nan, index=frame.index)), errors="coerce"
    )
    share = ""
    if pop.notna().any() and pop.sum() > 0:
        share = f" ({pop[d1].sum():,.0f} residents, {100 * pop[d1].sum() / pop.sum():.0f}%)"
    return f"{int(d1.sum()):,} of {n:,} LSOAs{share} are among the 10% most deprived in England"


def imd_figure(
    result: Any,
    *,
    organisations: bool = False,
    title: str | None = AUTO,
    subtitle: str | None = AUTO,
    place: str | None = None,
    ax: Axes | None = None,
    attribution: str | None = AUTO,
) -> Figure:
    """LSOAs by national IMD decile (1 = most deprived 10% in England), with ward outlines.

    Parameters are as :func:`coverage_figure`'s; ``organisations=True`` adds them.
    """
    lsoas = result.lsoas.copy()
    if "imd_decile" not in lsoas.columns:
        raise MissingColumnError("imd_figure: result.lsoas has no imd_decile column")
    lsoas["imd_decile"] = pd.to_numeric(lsoas["imd_decile"], errors="coerce").astype("Int64")
    facts = run_facts(result, place=place)
    shown = facts if organisations else _boundaries_only(facts)
    edition = f"IMD {facts.iod}" if facts.iod else "IMD"
    orgs, org_col = _org_points(result, organisations)
    return static_map(
        lsoas,
        "imd_decile",
        ax=ax,
        title=_auto(
            title, title_text(facts, f"deprivation of each LSOA, by national {edition} decile")
        ),
        subtitle=_auto(subtitle, subtitle_text(shown, None, lead=_imd_lead(lsoas))),
        notes=[
            "Deciles rank all LSOAs in England by the Index of Multiple Deprivation: decile 1 "
            "holds the 10% most deprived. Grey lines: ward boundaries."
        ],
        colours={d: c for d, c in enumerate(S.IMD_DECILE_COLOURS, start=1)},
        labels=_decile_labels(lsoas),
        legend_title=f"National {edition} decile",
        boundaries=getattr(result, "wards", None),
        points=orgs,
        points_column=org_col,
        attribution=_auto(attribution, source_text(shown, deprivation=True)),
    )


def _boundaries_only(facts: RunFacts) -> RunFacts:
    """The facts of a figure showing no walk and no organisation (boundaries and IoD only)."""
    return dataclasses.replace(
        facts,
        n_organisations=None,
        n_placed=None,
        lists=(),
        speed_kmh=None,
        mode=None,
        osm=None,
        uses_osm=False,
        postcodes=False,
    )


def _thin_frame(thin: Any, result: Any | None) -> gpd.GeoDataFrame:
    lsoas = thin.lsoas
    if isinstance(lsoas, gpd.GeoDataFrame) and lsoas.geometry.name in lsoas.columns:
        return lsoas
    if result is None:
        raise ValidationError(
            "thin.lsoas has no geometry: pass the coverage result too (result=...) so that "
            "LSOA boundaries can be joined by lsoa_code"
        )
    geom = result.lsoas[[LSOA_CODE, result.lsoas.geometry.name]]
    return gpd.GeoDataFrame(
        geom.merge(pd.DataFrame(lsoas), on=LSOA_CODE, how="left"),
        geometry=result.lsoas.geometry.name,
        crs=result.lsoas.crs,
    )


def _thin_facts(thin: Any, result: Any | None, place: str | None) -> RunFacts:
    """The run's facts from the coverage result, else from the coverage parameters the thin
    result keeps (``thin.params["coverage"]``)."""
    if result is not None:
        return run_facts(result, place=place)
    params = getattr(thin, "params", None) or {}
    kept = params.get("coverage") if isinstance(params, Mapping) else None
    source = SimpleNamespace(
        params=dict(kept) if isinstance(kept, Mapping) else {}, lsoas=getattr(thin, "lsoas", None)
    )
    return run_facts(source, place=place)


def _thin_rule(params: Mapping[str, Any]) -> str:
    """The thin rule in words, from the thin result's parameters."""
    need = {"max_decile", "min_share_covered", "minutes"}
    if not need <= set(params):
        return "Thin: LSOAs flagged by the thin-infrastructure rule (cnmap.thin.thin_areas)."
    d, share, t = params["max_decile"], float(params["min_share_covered"]), params["minutes"]
    index = params.get("domain_label") or "IMD"
    deciles = "decile 1" if d == 1 else f"deciles 1–{d}"
    domain = params.get("need_domain") or {}
    where = "most deprived in England"
    if domain.get("deciles") == "within the area":  # a need layer's column, ranked in the area
        where = f"of the area's LSOAs with the most need by {domain.get('column')}"
    return (
        f"Thin: the LSOA is among the {10 * d}% {where} ({index} "
        f"{deciles}) and fewer than {100 * share:.0f}% of its residents live within a "
        f"{t:g}-minute walk of an organisation. Pale orange: equally deprived LSOAs that are "
        "better reached."
    )


def _thin_lead(frame: pd.DataFrame, flag: pd.Series, minutes: Any) -> str:
    n = int(flag.sum())
    out = pd.to_numeric(
        frame.get("pop_out_of_reach", pd.Series(np.nan, index=frame.index)), errors="coerce"
    )[flag]
    lead = f"{n:,} LSOA{'s' if n != 1 else ''} where community infrastructure is thin"
    if n and out.notna().any() and minutes is not None:
        lead += (
            f"; {out.sum():,.0f} of their residents live more than a {minutes:g}-minute "
            "walk from any organisation"
        )
    return lead


def _thin_classes(frame: gpd.GeoDataFrame, flag: pd.Series) -> pd.Series:
    deprived = (
        frame["deprived"].fillna(False).astype(bool)
        if "deprived" in frame.columns
        else pd.Series(False, index=frame.index)
    )
    return pd.Series(
        np.where(flag, "thin", np.where(deprived, "deprived", "other")), index=frame.index
    )


def thin_figure(  # noqa: PLR0913 (public API: keyword-only options, as osmnx)
    thin: Any,
    *,
    result: Any | None = None,
    organisations: bool = True,
    title: str | None = AUTO,
    subtitle: str | None = AUTO,
    place: str | None = None,
    ax: Axes | None = None,
    attribution: str | None = AUTO,
    direct_labels: int = _DIRECT_LABELS,
) -> Figure:
    """Thin-infrastructure LSOAs in red, outlined and named, over the others in grey.

    Up to ``direct_labels`` thin areas are named on the map (ward and LSOA name, placed
    clear of each other with leader lines); more are numbered on the map (rank order, 1 =
    thinnest) with a key under it. Equally deprived LSOAs that are not thin are pale
    orange (when ``thin.lsoas`` has a ``deprived`` column); the organisations (with
    ``result``) show why an area is thin.

    Parameters are as :func:`coverage_figure`'s; ``result`` supplies LSOA boundaries when
    ``thin.lsoas`` has none, the organisations and the facts of the run.
    """
    frame = _thin_frame(thin, result).copy()
    if "thin" not in frame.columns:
        raise MissingColumnError("thin_figure: thin.lsoas has no 'thin' column")
    flag = frame["thin"].fillna(False).astype(bool)
    frame["_class"] = _thin_classes(frame, flag)
    wards = getattr(thin, "wards", None)
    if not isinstance(wards, gpd.GeoDataFrame) and result is not None:
        wards = result.wards
    params = getattr(thin, "params", {}) or {}
    facts = _thin_facts(thin, result, place)
    minutes = params.get("minutes")
    n = int(flag.sum())
    text = _PageText(
        _auto(
            title,
            title_text(
                facts, f"where community infrastructure is thin ({n:,} LSOA{'s' if n != 1 else ''})"
            ),
        ),
        _auto(subtitle, subtitle_text(facts, minutes, lead=_thin_lead(frame, flag, minutes))),
        [_thin_rule(params), "Grey lines: ward boundaries."] if ax is None else (),
        _auto(attribution, source_text(facts, deprivation=True)),
        0.0,
        PAGE_WIDTH_IN,
    )
    style = _Style(
        "_class",
        colours={"thin": S.THIN_COLOUR, "deprived": _DEPRIVED_COLOUR, "other": _OTHER_COLOUR},
        labels={
            "thin": f"thin infrastructure ({n} LSOAs)",
            "deprived": "as deprived, better reached",
            "other": "other LSOAs",
        },
        legend_title="LSOAs",
    )
    orgs, _ = _org_points(result, organisations and result is not None)
    named = _Named(
        frame[flag],
        WARD_NAME,
        LSOA_NAME,
        "rank",
        _THIN_KEY_TITLE,
        direct=max(int(direct_labels), 0),
    )
    return _map_with_names(
        frame,
        style,
        text,
        ax=ax,
        boundaries=wards if isinstance(wards, gpd.GeoDataFrame) else None,
        points=_points_plan(orgs, None, "Organisations"),
        named=named,
    ).fig


def _bivariate_key(layout: _MapLayout, place: str | None) -> None:
    from matplotlib.colors import to_rgb

    if layout.page is not None:
        key = layout.page.add_axes(
            layout.side_left_in + 0.55, layout.side_top_in - 1.35, 0.95, 0.95
        )
    else:
        key = layout.ax.inset_axes((1.02, 0.7, 0.22, 0.22))
    grid = np.array([[S.BIVARIATE_COLOURS[f"{d}-{p}"] for d in (1, 2, 3)] for p in (3, 2, 1)])
    key.imshow([[to_rgb(c) for c in row] for row in grid], origin="lower")
    key.set_xticks([0, 2], ["less", "more"], fontsize=8)
    key.set_yticks([0, 2], ["more", "less"], fontsize=8)
    key.set_xlabel("deprivation", fontsize=8)
    key.set_ylabel("provision", fontsize=8)
    key.tick_params(length=0)
    where = f"the rest of {place}" if place else "the rest of the area"
    key.set_title(f"Both relative to\n{where}", fontsize=8, loc="left")


def bivariate_figure(
    thin: Any,
    *,
    result: Any | None = None,
    title: str | None = AUTO,
    subtitle: str | None = AUTO,
    place: str | None = None,
    ax: Axes | None = None,
    attribution: str | None = AUTO,
) -> Figure:
    """LSOAs by ``bivariate_class`` (deprivation tercile x provision tercile), 3x3 key.

    Terciles are within the area: "less provision" means relative to the rest of the place,
    and the footer says what provision measures. Parameters are as :func:`thin_figure`'s.
    """
    frame = _thin_frame(thin, result)
    if "bivariate_class" not in frame.columns:
        raise MissingColumnError("bivariate_figure: thin.lsoas has no 'bivariate_class' column")
    params = getattr(thin, "params", {}) or {}
    facts = _thin_facts(thin, result, place)
    minutes = params.get("minutes")
    text = _PageText(
        _auto(title, title_text(facts, "deprivation against provision, by LSOA")),
        _auto(subtitle, subtitle_text(facts, minutes, lead=None)),
        [_bivariate_note(params, facts), _THIN_OUTLINE_NOTE] if ax is None else (),
        _auto(attribution, source_text(facts, deprivation=True)),
        0.0,
        PAGE_WIDTH_IN,
    )
    style = _Style("bivariate_class", colours=S.BIVARIATE_COLOURS, legend=False)
    wards = getattr(result, "wards", None) if result is not None else None
    named = None
    if "thin" in frame.columns:
        named = _Named(
            frame[frame["thin"].fillna(False).astype(bool)],
            WARD_NAME,
            LSOA_NAME,
            "rank",
            _THIN_KEY_TITLE,
        )
    layout = _map_with_names(frame, style, text, ax=ax, boundaries=wards, points=None, named=named)
    _bivariate_key(layout, facts.place)
    return layout.fig


def _bivariate_note(params: Mapping[str, Any], facts: RunFacts) -> str:
    measure = params.get("provision", "share_covered")
    minutes = params.get("minutes")
    what = {
        "share_covered": "the share of residents within a "
        + (f"{minutes:g}-minute " if minutes is not None else "")
        + "walk of an organisation",
        "mean_reachable": "the number of organisations within reach per resident",
        "orgs_per_1000": "organisations located in the LSOA per 1,000 residents",
        "mean_walk_min": "the mean walk to the nearest organisation (shorter = more)",
    }.get(str(measure), str(measure))
    where = facts.place or "the area"
    return (
        f"Each LSOA is placed in thirds of {where}'s LSOAs twice: by deprivation "
        f"({params.get('domain_label') or 'IMD'} rank) and by provision, measured as {what}. "
        f"'Less provision' is relative to the rest of {where}: an LSOA with 97% of residents "
        "within reach can be in the lower third where most are better reached. Darkest: "
        "more deprived and less provision."
    )


def save_figure(
    fig: Figure,
    path: str | Path,
    *,
    formats: Sequence[str] = ("png", "pdf"),
    dpi: int = REPORT_DPI,
) -> list[Path]:
    """Save a figure as PNG and PDF (or the given ``formats``) beside each other.

    Report pages (figures made without ``ax=``) are saved at their own size (17 cm wide),
    so their text keeps its printed size, and written fast: the PNG as RGB at zlib level 1
    (:data:`PNG_COMPRESS_LEVEL`; the pixels matplotlib's own PNG writer gives), the PDF's
    streams at zlib level 1 (:data:`PDF_COMPRESS_LEVEL`). Figures on given axes are cropped
    to their content.

    Parameters
    ----------
    fig
        A matplotlib figure (e.g. from :func:`coverage_figure`).
    path
        Output path; its suffix, if any, is replaced by each format's (``figures/coverage``
        writes ``figures/coverage.png`` and ``figures/coverage.pdf``).
    formats
        File formats to write.
    dpi
        Resolution of raster formats (default 300).

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    from matplotlib import rc_context

    base = Path(path)
    if base.suffix.lower().lstrip(".") in {"png", "pdf", "svg", "jpg", "jpeg"}:
        base = base.with_suffix("")
    base.parent.mkdir(parents=True, exist_ok=True)
    page = is_page(fig)
    out = []
    for fmt in formats:
        target = base.with_suffix(f".{fmt}")
        if page and fmt == "png":
            _save_png(fig, target, dpi)
        elif page:
            with rc_context({"pdf.compression": PDF_COMPRESS_LEVEL}):
                fig.savefig(target, format=fmt, dpi=dpi, facecolor="white")
        else:
            fig.savefig(
                target, format=fmt, dpi=dpi, facecolor="white", bbox_inches="tight", pad_inches=0.15
            )
        out.append(target)
    logger.info("save_figure: wrote %s", ", ".join(str(p) for p in out))
    return out


#: zlib level of the PNGs: level 1 (and RGB: a page is opaque) writes a report page in half
#: the time of matplotlib's default (level 6, RGBA), with the same pixels in a smaller file.
PNG_COMPRESS_LEVEL = 1
#: zlib level of the PDFs' streams: 1 saves a tenth of a page's PDF time (matplotlib's
#: default 6), for files about 13% larger.
PDF_COMPRESS_LEVEL = 1


def _save_png(fig: Figure, target: Path, dpi: int) -> None:
    """A page as an RGB PNG (the page is opaque: its alpha channel is all 255), drawn once
    by Agg and written with :data:`PNG_COMPRESS_LEVEL`; the same pixels as
    ``fig.savefig(target, dpi=dpi, facecolor="white")``."""
    import io

    import matplotlib
    from PIL import Image, PngImagePlugin

    buf = io.BytesIO()
    fig.savefig(buf, format="rgba", dpi=dpi, facecolor="white")
    size = (int(fig.get_figwidth() * dpi), int(fig.get_figheight() * dpi))
    if size[0] * size[1] * 4 != buf.getbuffer().nbytes:  # not the expected raster: plain save
        fig.savefig(
            target, format="png", dpi=dpi, facecolor="white", pil_kwargs={"compress_level": 6}
        )
        return
    image = Image.frombytes("RGB", size, buf.getbuffer(), "raw", "RGBX")
    info = PngImagePlugin.PngInfo()
    info.add_text(
        "Software", f"Matplotlib version{matplotlib.__version__}, https://matplotlib.org/"
    )
    image.save(
        target,
        format="png",
        dpi=(dpi, dpi),
        pnginfo=info,
        compress_level=PNG_COMPRESS_LEVEL,
    )
