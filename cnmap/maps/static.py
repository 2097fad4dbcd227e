"""Static report maps (matplotlib): choropleth, points, legend, metric scale bar, attribution.

Everything is drawn in British National Grid (EPSG:27700), so the scale bar is in true
metres. Figures are built on :class:`matplotlib.figure.Figure` objects (no pyplot state),
so they are safe in scripts, tests and servers; :func:`save_figure` writes PNG and PDF.
matplotlib is imported on first use.
"""

from __future__ import annotations

import logging
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ..columns import BNG, LSOA_CODE, ORG_TYPE
from ..errors import CRSError, MissingColumnError, ValidationError
from . import _style as S

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
]

logger = logging.getLogger(__name__)

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
    return gdf if gdf.crs.to_epsg() == 27700 else gdf.to_crs(BNG)


def _new_axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax  # type: ignore[return-value]
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


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


def static_map(
    gdf: gpd.GeoDataFrame,
    column: str | None,
    *,
    ax: Axes | None = None,
    title: str | None = None,
    cmap: str = "viridis",
    colours: Mapping[Any, str] | None = None,
    labels: Mapping[Any, str] | None = None,
    bins: Sequence[float] | None = None,
    bin_colours: Sequence[str] | None = None,
    legend: bool = True,
    legend_title: str | None = None,
    boundaries: gpd.GeoDataFrame | None = None,
    points: gpd.GeoDataFrame | None = None,
    points_column: str | None = None,
    points_label: str = "Organisations",
    scale_bar: bool = True,
    attribution: str | None = S.ATTRIBUTION_TEXT,
    figsize: tuple[float, float] = (8.0, 8.5),
    missing_label: str = "no data",
) -> Figure:
    """A report map: polygons coloured by ``column``, optional outlines and points.

    Three ways to colour (choose one): ``colours`` (categorical: value -> colour, e.g. IMD
    deciles); ``bins`` + ``bin_colours`` (classed numbers: ``len(bins) - 1`` colours); or
    neither (a continuous ``cmap`` with a colour bar). Missing values are drawn light grey
    and listed in the legend as ``missing_label``.

    Parameters
    ----------
    gdf
        Polygons (any CRS; drawn in EPSG:27700).
    column
        Column to colour by; None draws plain grey polygons.
    ax
        Axes to draw on (a new figure otherwise).
    title
        Title above the map.
    cmap
        Matplotlib colormap name for continuous colouring.
    colours, labels
        Categorical colours and optional legend labels, by value.
    bins, bin_colours
        Class edges (ascending; values outside go to the end classes) and one colour per
        class.
    legend, legend_title
        Draw a legend / colour bar and its title (default: ``column``).
    boundaries
        Outlines drawn over the polygons (e.g. wards).
    points, points_column
        Points drawn on top (e.g. organisations), coloured by ``points_column`` if given
        (categorical, :func:`cnmap.maps._style.type_colours`).
    points_label
        Legend label of the points (when not coloured by a column).
    scale_bar
        Draw a metric scale bar and north arrow (:func:`add_scale_bar`).
    attribution
        Text at the foot of the figure (the data licences); None for none.
    figsize
        Size of a new figure, inches.
    missing_label
        Legend label for missing values.

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
    from matplotlib.colors import Normalize
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    data = _bng(gdf, "static_map gdf")
    if column is not None and column not in data.columns:
        raise MissingColumnError(
            f"static_map: column {column!r} is not in the frame (columns: "
            f"{list(data.columns)[:20]})"
        )
    if colours is not None and bins is not None:
        raise ValidationError("static_map: give either colours (categories) or bins, not both")
    if bins is not None:
        if bin_colours is None or len(bin_colours) != len(bins) - 1:
            raise ValidationError(
                f"static_map: bins has {len(bins)} edges, so bin_colours needs {len(bins) - 1} "
                "colours"
            )
        if any(b1 <= b0 for b0, b1 in zip(bins[:-1], bins[1:], strict=True)):
            raise ValidationError(f"static_map: bins must be strictly ascending, got {list(bins)}")
    fig, ax = _new_axes(ax, figsize)
    handles: list[Any] = []
    face: list[str] | np.ndarray
    if column is None:
        face = [S.MISSING_COLOUR] * len(data)
    else:
        values = data[column]
        missing = values.isna().to_numpy()
        if colours is not None:
            face = [
                S.MISSING_COLOUR if miss else colours.get(v, S.MISSING_COLOUR)
                for v, miss in zip(values.tolist(), missing, strict=True)
            ]
            present = set(values.dropna().tolist())
            for key, col in colours.items():
                if key in present:
                    name = labels.get(key, str(key)) if labels else str(key)
                    handles.append(Patch(facecolor=col, edgecolor="#555555", label=name))
        elif bins is not None and bin_colours is not None:  # both checked above
            classes = list(bin_colours)
            nums = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
            idx = np.clip(
                np.searchsorted(np.asarray(bins[1:-1]), nums, side="right"), 0, len(classes) - 1
            )
            face = [
                S.MISSING_COLOUR if np.isnan(v) else classes[i]
                for v, i in zip(nums, idx, strict=True)
            ]
            for k, col in enumerate(classes):
                text: str | None = labels.get(k) if labels else None
                handles.append(
                    Patch(
                        facecolor=col,
                        edgecolor="#555555",
                        label=text or f"{bins[k]:g} to {bins[k + 1]:g}",
                    )
                )
        else:
            from matplotlib import colormaps

            nums = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
            finite = nums[np.isfinite(nums)]
            lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
            norm = Normalize(vmin=lo, vmax=hi if hi > lo else lo + 1)
            cm = colormaps[cmap]
            from matplotlib.colors import to_hex

            face = [S.MISSING_COLOUR if not np.isfinite(v) else to_hex(cm(norm(v))) for v in nums]
            if legend:
                from matplotlib.cm import ScalarMappable

                sm = ScalarMappable(norm=norm, cmap=cm)
                cb = fig.colorbar(sm, ax=ax, shrink=0.6, pad=0.01)
                cb.set_label(legend_title or column)
        if missing.any():
            handles.append(
                Patch(
                    facecolor=S.MISSING_COLOUR,
                    edgecolor="#555555",
                    label=f"{missing_label} ({int(missing.sum())})",
                )
            )
    data.plot(ax=ax, color=face, edgecolor="white", linewidth=0.25)
    if boundaries is not None:
        _bng(boundaries, "static_map boundaries").boundary.plot(
            ax=ax, color=S.WARD_LINE_COLOUR, linewidth=0.6
        )
    if points is not None and len(points):
        pts = _bng(points, "static_map points")
        pts = pts[~(pts.geometry.is_empty | pts.geometry.isna())]
        if points_column is not None:
            if points_column not in pts.columns:
                raise MissingColumnError(f"static_map: points have no column {points_column!r}")
            keys = [
                "unknown" if S._missing(v) or str(v) == "" else str(v)
                for v in pts[points_column].tolist()
            ]
            pal = S.type_colours(pts[points_column].tolist())
            ax.scatter(
                pts.geometry.x,
                pts.geometry.y,
                s=9,
                c=[pal[k] for k in keys],
                edgecolors="#222222",
                linewidths=0.3,
                zorder=5,
            )
            counts = pd.Series(keys).value_counts()
            for key, col in pal.items():
                handles.append(
                    Line2D(
                        [],
                        [],
                        marker="o",
                        linestyle="",
                        markerfacecolor=col,
                        markeredgecolor="#222222",
                        markersize=5,
                        label=f"{key} ({int(counts.get(key, 0))})",
                    )
                )
        else:
            ax.scatter(
                pts.geometry.x,
                pts.geometry.y,
                s=9,
                c="#111111",
                edgecolors="white",
                linewidths=0.3,
                zorder=5,
            )
            handles.append(
                Line2D(
                    [],
                    [],
                    marker="o",
                    linestyle="",
                    markerfacecolor="#111111",
                    markeredgecolor="white",
                    markersize=5,
                    label=f"{points_label} ({len(pts)})",
                )
            )
    ax.set_aspect("equal")
    ax.set_axis_off()
    minx, miny, maxx, maxy = data.total_bounds
    padx, pady = (maxx - minx) * 0.03, (maxy - miny) * 0.03
    ax.set_xlim(minx - padx, maxx + padx)
    ax.set_ylim(miny - pady * 4, maxy + pady)  # room for the scale bar
    if legend and handles:
        ax.legend(
            handles=handles,
            title=legend_title or column,
            loc="upper left",
            bbox_to_anchor=(1.0, 1.0),
            fontsize=8,
            title_fontsize=9,
            frameon=False,
        )
    if scale_bar:
        add_scale_bar(ax)
    if title:
        ax.set_title(title, fontsize=12, loc="left")
    if attribution:
        fig.text(
            0.01,
            0.005,
            "\n".join(textwrap.wrap(attribution, 130)),
            fontsize=6,
            color="#444444",
            ha="left",
            va="bottom",
        )
    return fig


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


def coverage_figure(
    result: Any,
    *,
    minutes: float | None = None,
    level: str = "lsoa",
    organisations: bool = True,
    title: str | None = None,
    ax: Axes | None = None,
    attribution: str | None = S.ATTRIBUTION_TEXT,
) -> Figure:
    """Share of residents within ``minutes`` walk of an organisation, by LSOA or ward.

    Parameters
    ----------
    result
        A coverage result (``lsoas``, ``wards``, ``organisations``, ``thresholds``).
    minutes
        One of ``result.thresholds`` (default 15, else the largest).
    level
        ``"lsoa"`` or ``"ward"``.
    organisations
        Draw the organisations, coloured by type.
    title, ax, attribution
        As :func:`static_map`.
    """
    t = _minutes(result, minutes)
    if level not in {"lsoa", "ward"}:
        raise ValidationError(f"level must be 'lsoa' or 'ward', got {level!r}")
    frame = result.lsoas if level == "lsoa" else result.wards
    col = f"share_covered_{t:g}min"
    orgs = getattr(result, "organisations", None) if organisations else None
    return static_map(
        frame,
        col,
        ax=ax,
        title=title
        or (
            f"Residents within {t:g} minutes' walk of an organisation, by "
            + ("LSOA" if level == "lsoa" else "ward")
        ),
        bins=S.SHARE_BINS,
        bin_colours=S.SHARE_COLOURS,
        labels=dict(enumerate(S.share_labels())),
        legend_title=f"Within {t:g} min walk",
        boundaries=result.wards if level == "lsoa" else None,
        points=orgs,
        points_column=ORG_TYPE if orgs is not None and ORG_TYPE in orgs.columns else None,
        attribution=attribution,
    )


def imd_figure(
    result: Any,
    *,
    title: str | None = "Index of Multiple Deprivation decile, by LSOA",
    ax: Axes | None = None,
    attribution: str | None = S.ATTRIBUTION_TEXT,
) -> Figure:
    """LSOAs by IMD decile (1 = most deprived 10% in England), with ward outlines."""
    colours = {d: c for d, c in enumerate(S.IMD_DECILE_COLOURS, start=1)}
    labels = {d: f"{d}" for d in colours}
    labels[1] = "1 (most deprived)"
    labels[10] = "10 (least deprived)"
    lsoas = result.lsoas.copy()
    if "imd_decile" not in lsoas.columns:
        raise MissingColumnError("imd_figure: result.lsoas has no imd_decile column")
    lsoas["imd_decile"] = pd.to_numeric(lsoas["imd_decile"], errors="coerce").astype("Int64")
    return static_map(
        lsoas,
        "imd_decile",
        ax=ax,
        title=title,
        colours=colours,
        labels=labels,
        legend_title="IMD decile",
        boundaries=getattr(result, "wards", None),
        attribution=attribution,
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


def thin_figure(
    thin: Any,
    *,
    result: Any | None = None,
    title: str | None = "Where infrastructure is thin",
    ax: Axes | None = None,
    attribution: str | None = S.ATTRIBUTION_TEXT,
) -> Figure:
    """LSOAs flagged ``thin`` in red over the others in grey, with ward outlines."""
    frame = _thin_frame(thin, result).copy()
    if "thin" not in frame.columns:
        raise MissingColumnError("thin_figure: thin.lsoas has no 'thin' column")
    flag = frame["thin"].fillna(False).astype(bool)
    frame["_class"] = np.where(flag, "thin", "not thin")
    wards = getattr(thin, "wards", None)
    if not isinstance(wards, gpd.GeoDataFrame) and result is not None:
        wards = result.wards
    return static_map(
        frame,
        "_class",
        ax=ax,
        title=title,
        colours={"thin": S.THIN_COLOUR, "not thin": "#e6e6e6"},
        labels={
            "thin": f"thin infrastructure ({int(flag.sum())} LSOAs)",
            "not thin": "other LSOAs",
        },
        legend_title="LSOAs",
        boundaries=wards if isinstance(wards, gpd.GeoDataFrame) else None,
        attribution=attribution,
    )


def bivariate_figure(
    thin: Any,
    *,
    result: Any | None = None,
    title: str | None = "Deprivation by provision",
    ax: Axes | None = None,
    attribution: str | None = S.ATTRIBUTION_TEXT,
) -> Figure:
    """LSOAs by ``bivariate_class`` (deprivation tercile x provision tercile), 3x3 key."""
    frame = _thin_frame(thin, result)
    if "bivariate_class" not in frame.columns:
        raise MissingColumnError("bivariate_figure: thin.lsoas has no 'bivariate_class' column")
    fig = static_map(
        frame,
        "bivariate_class",
        ax=ax,
        title=title,
        colours=S.BIVARIATE_COLOURS,
        legend=False,
        attribution=attribution,
        boundaries=getattr(result, "wards", None) if result is not None else None,
    )
    axes = fig.axes[-1] if ax is None else ax
    key = axes.inset_axes((1.02, 0.7, 0.22, 0.22))
    grid = np.array([[S.BIVARIATE_COLOURS[f"{d}-{p}"] for d in (1, 2, 3)] for p in (3, 2, 1)])
    from matplotlib.colors import to_rgb

    key.imshow([[to_rgb(c) for c in row] for row in grid], origin="lower")
    key.set_xticks([0, 2], ["less", "more"], fontsize=7)
    key.set_yticks([0, 2], ["less", "more"], fontsize=7)
    key.set_xlabel("deprivation →", fontsize=7)
    key.set_ylabel("lack of provision →", fontsize=7)
    key.tick_params(length=0)
    return fig


def save_figure(
    fig: Figure,
    path: str | Path,
    *,
    formats: Sequence[str] = ("png", "pdf"),
    dpi: int = 200,
) -> list[Path]:
    """Save a figure as PNG and PDF (or the given ``formats``) beside each other.

    Parameters
    ----------
    fig
        A matplotlib figure (e.g. from :func:`static_map`).
    path
        Output path; its suffix, if any, is replaced by each format's.
    formats
        File formats to write.
    dpi
        Resolution of raster formats.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    base = Path(path)
    if base.suffix.lower().lstrip(".") in {"png", "pdf", "svg", "jpg", "jpeg"}:
        base = base.with_suffix("")
    base.parent.mkdir(parents=True, exist_ok=True)
    out = []
    for fmt in formats:
        target = base.with_suffix(f".{fmt}")
        fig.savefig(
            target, format=fmt, dpi=dpi, facecolor="white", bbox_inches="tight", pad_inches=0.15
        )
        out.append(target)
    logger.info("save_figure: wrote %s", ", ".join(str(p) for p in out))
    return out
