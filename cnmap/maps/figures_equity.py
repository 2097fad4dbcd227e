"""The equity finding as figures: who is within walking reach, by deprivation and by group.

- :func:`decile_coverage`: the share of residents within each time limit by national decile of
  the IMD (or of any IoD domain on the result's LSOAs), with the residents of each decile;
- :func:`decile_figure`: that table as a bar chart, one bar per decile present (the headline
  limit, 15 minutes by default), markers for the other limits, a reference line for all the
  area's residents;
- :func:`groups_figure`: the "who is served" table of :func:`cnmap.groups.group_coverage` as
  bars per group (share within reach, the layer's reference line) beside the gap to all of
  the layer's residents in percentage points.

Both are report pages 17 cm wide with the place, organisations, walk and data vintages in the
header and the sources in the footer (:mod:`cnmap.maps._figure_page`); save them with
:func:`cnmap.maps.save_figure`. Colours are colour-blind safe (ColorBrewer RdYlBu deciles as on
the deprivation map; Okabe-Ito blue and vermillion for above and below).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..columns import POPULATION
from ..errors import MissingColumnError, ValidationError
from . import _style as S
from ._figure_page import (
    AUTO,
    LINE_SPACING,
    MARGIN_IN,
    Page,
    RunFacts,
    new_page,
    run_facts,
    source_text,
    subtitle_text,
    title_text,
    wrap_text,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "decile_coverage",
    "decile_figure",
    "groups_figure",
    "BELOW_COLOUR",
    "ABOVE_COLOUR",
    "SAME_COLOUR",
    "ALL_COLOUR",
]

#: Okabe-Ito vermillion: a group less often within reach than all residents.
BELOW_COLOUR = "#D55E00"
#: Okabe-Ito blue: a group more often within reach.
ABOVE_COLOUR = "#0072B2"
#: About the same as all residents (within the tolerance).
SAME_COLOUR = "#BBBBBB"
#: The layer's total ("all residents") row.
ALL_COLOUR = "#4D4D4D"
_REF_COLOUR = "#000000"
_TEXT_PT = 8.5
_TICK_PT = 8.0
_MARKERS = ("v", "s", "^", "D", "P", "X")
_BAR_W = 0.72


# --------------------------------------------------------------------------------------
# common
# --------------------------------------------------------------------------------------


def _headline_minutes(thresholds: Sequence[float], minutes: float | None) -> float:
    th = [float(t) for t in thresholds]
    if not th:
        raise ValidationError("no time limits to show")
    if minutes is None:
        return 15.0 if 15.0 in th else max(th)
    if float(minutes) not in th:
        raise ValidationError(f"minutes={minutes!r} is not one of the time limits {th}")
    return float(minutes)


def _auto(value: str | None, computed: str | None) -> str | None:
    return computed if value == AUTO else value


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def _percent_axis(ax: Axes, axis: str) -> None:
    from matplotlib.ticker import FuncFormatter

    fmt = FuncFormatter(lambda v, _: f"{v:.0f}%")
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(fmt)


def _luminance(colour: str) -> float:
    from matplotlib.colors import to_rgb

    r, g, b = to_rgb(colour)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _label_box(colour: str) -> dict[str, Any]:
    """A box of the bar's colour behind a value label, hiding the reference line under it."""
    return {"boxstyle": "square,pad=0.12", "facecolor": colour, "edgecolor": "none"}


def _style_axes(ax: Axes) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=_TICK_PT, length=3)


# --------------------------------------------------------------------------------------
# coverage by deprivation decile
# --------------------------------------------------------------------------------------


def _thresholds(result: Any) -> list[float]:
    th = list(getattr(result, "thresholds", ()) or ())
    if not th:
        raise ValidationError("the coverage result has no time limits (thresholds)")
    return th


def decile_coverage(result: Any, *, index: str = "imd") -> pd.DataFrame:
    """Residents and the share within each time limit, by national decile of an IoD index.

    Parameters
    ----------
    result
        A coverage result whose ``lsoas`` have ``population``, ``pop_covered_{T}min`` and
        ``{index}_decile``.
    index
        ``"imd"`` (default) or an IoD domain on the LSOAs (``"income"``, ``"health"``...).

    Returns
    -------
    pandas.DataFrame
        One row per decile present in the area (1 = most deprived 10% in England), in order:
        ``decile``, ``n_lsoas``, ``population``, then ``pop_covered_{T}min`` and
        ``share_covered_{T}min`` for each limit T.
    """
    lsoas = result.lsoas
    col = f"{index}_decile"
    th = _thresholds(result)
    needed = [col, POPULATION, *(f"pop_covered_{t:g}min" for t in th)]
    absent = [c for c in needed if c not in lsoas.columns]
    if absent:
        raise MissingColumnError(f"decile_coverage: result.lsoas has no {absent} column(s)")
    frame = pd.DataFrame({c: pd.to_numeric(lsoas[c], errors="coerce") for c in needed})
    frame = frame.dropna(subset=[col])
    frame[col] = frame[col].astype(int)
    agg = {POPULATION: "sum", **{f"pop_covered_{t:g}min": "sum" for t in th}}
    out = frame.groupby(col).agg(agg)
    out.insert(0, "n_lsoas", frame.groupby(col).size())
    out = out[out[POPULATION] > 0]
    for t in th:
        out[f"share_covered_{t:g}min"] = out[f"pop_covered_{t:g}min"] / out[POPULATION]
    return out.rename_axis("decile").reset_index()


def _overall_share(result: Any, minutes: float, table: pd.DataFrame) -> float:
    totals = getattr(result, "totals", None)
    if isinstance(totals, pd.DataFrame) and {"minutes", "share_covered"} <= set(totals.columns):
        row = totals.loc[totals["minutes"].astype(float) == minutes]
        if not row.empty:
            return float(row["share_covered"].iloc[0])
    col = f"pop_covered_{minutes:g}min"
    return float(table[col].sum() / table[POPULATION].sum())


def _index_name(index: str, iod: int | None) -> str:
    """``"IMD 2025"``, ``"Income domain (IoD2025)"``, ``"Adult Skills Sub-domain (IoD2025)"``."""
    from ..iod import DOMAIN_LABELS

    if index == "imd":
        return f"IMD {iod}" if iod else "IMD"
    name = DOMAIN_LABELS.get(index, index.replace("_", " "))
    if "domain" not in name.lower() and "index" not in name.lower():
        name += " domain"
    return f"{name} (IoD{iod})" if iod else name


def _decile_lead(table: pd.DataFrame, minutes: float, overall: float, place: str | None) -> str:
    col = f"share_covered_{minutes:g}min"
    first, last = table.iloc[0], table.iloc[-1]
    where = f"all of {place}" if place else "all residents"
    return (
        f"Within a {minutes:g}-minute walk: {_pct(first[col])} of residents in decile "
        f"{int(first['decile'])} (most deprived), {_pct(last[col])} in decile "
        f"{int(last['decile'])}, {_pct(overall)} across {where}"
    )


def _bars(ax: Axes, table: pd.DataFrame, minutes: float) -> list[Any]:
    """One bar per decile with its percentage, in the decile colours of the deprivation map."""
    x = np.arange(len(table), dtype=float)
    shares = 100 * table[f"share_covered_{minutes:g}min"].to_numpy(float)
    colours = [S.decile_colour(d) for d in table["decile"]]
    bars = ax.bar(
        x, shares, width=_BAR_W, color=colours, edgecolor="#333333", linewidth=0.6, zorder=2
    )
    for xi, v, c in zip(x, shares, colours, strict=True):
        inside = v > 12
        ax.text(
            float(xi),
            v - 1.5 if inside else v + 1.5,
            f"{v:.1f}%",
            ha="center",
            va="top" if inside else "bottom",
            fontsize=_TICK_PT,
            fontweight="bold",
            color="white" if inside and _luminance(c) < 0.45 else "#111111",
            zorder=4,
            bbox=_label_box(c if inside else "white"),
        )
    return list(bars)


def _other_limits(ax: Axes, table: pd.DataFrame, minutes: float, limits: Sequence[float]) -> None:
    """Markers for the other limits on the right edge of each bar (clear of the labels)."""
    x = np.arange(len(table), dtype=float) + _BAR_W / 2
    others = [t for t in limits if float(t) != minutes]
    for k, t in enumerate(others):
        y = 100 * table[f"share_covered_{t:g}min"].to_numpy(float)
        ax.plot(
            x,
            y,
            linestyle="",
            marker=_MARKERS[k % len(_MARKERS)],
            markersize=5.5,
            markerfacecolor="#111111",
            markeredgecolor="white",
            markeredgewidth=0.8,
            zorder=5,
            label=f"{t:g}-minute walk",
        )


def _decile_axes(ax: Axes, table: pd.DataFrame, index_name: str, place: str | None) -> None:
    x = np.arange(len(table))
    ticks = [f"{int(d)}\n{p:,.0f}" for d, p in zip(table["decile"], table[POPULATION], strict=True)]
    ax.set_xticks(x, ticks)
    ax.set_xlim(-0.6, len(table) - 0.4)
    ax.set_ylim(0, 100)
    ax.set_yticks(range(0, 101, 20))
    _percent_axis(ax, "y")
    ax.grid(axis="y", color="#dddddd", linewidth=0.6, zorder=0)
    ax.set_ylabel("Residents within walking reach (%)", fontsize=_TEXT_PT)
    who = f"residents of {place}" if place else "residents"
    ax.set_xlabel(
        f"National {index_name} decile (1 = most deprived 10% of LSOAs in England)\n"
        f"under each decile: its {who}",
        fontsize=_TEXT_PT,
        linespacing=LINE_SPACING,
    )
    _style_axes(ax)


def decile_figure(
    result: Any,
    *,
    index: str = "imd",
    minutes: float | None = None,
    title: str | None = AUTO,
    subtitle: str | None = AUTO,
    place: str | None = None,
    attribution: str | None = AUTO,
) -> Figure:
    """The equity chart: share of residents within reach by national deprivation decile.

    One bar per decile present in the area (1 = most deprived 10% in England) for
    ``minutes`` (default 15, else the largest limit), in the decile colours of the
    deprivation map and labelled with its percentage; markers for the other limits; a dashed
    line for all the area's residents; the residents of each decile under its number.

    Parameters
    ----------
    result
        A coverage result (:func:`cnmap.coverage.coverage`).
    index
        ``"imd"`` or another IoD index with a ``{index}_decile`` column on ``result.lsoas``.
    minutes
        The limit drawn as bars (one of the result's thresholds).
    title, subtitle, attribution
        ``AUTO`` (default): computed from the result; a string; or None for none.
    place
        Place name (default: the result's area).

    Returns
    -------
    matplotlib.figure.Figure
        A page 17 cm wide; save it with :func:`cnmap.maps.save_figure`.
    """
    table = decile_coverage(result, index=index)
    if table.empty:
        raise ValidationError(f"decile_figure: no LSOA of the result has a {index}_decile")
    limits = [float(t) for t in _thresholds(result)]
    t = _headline_minutes(limits, minutes)
    facts = run_facts(result, place=place)
    overall = _overall_share(result, t, table)
    name = _index_name(index, facts.iod)
    page = new_page(
        title=_auto(
            title,
            title_text(
                facts,
                f"residents within a {t:g}-minute walk of an "
                f"organisation, by national {name} decile",
            ),
        ),
        subtitle=_auto(
            subtitle, subtitle_text(facts, t, lead=_decile_lead(table, t, overall, facts.place))
        ),
        body_height_in=3.9,
        notes=[_decile_note(t, limits, name)],
        source=_auto(attribution, source_text(facts, deprivation=True)),
    )
    ax = page.add_axes(0.72, 0.92, page.width_in - 0.72 - MARGIN_IN - 0.05, 2.48)
    _bars(ax, table, t)
    _other_limits(ax, table, t, limits)
    label = f"All of {facts.place}" if facts.place else "All residents"
    ax.axhline(
        100 * overall,
        color=_REF_COLOUR,
        linestyle="--",
        linewidth=1.1,
        zorder=3,
        label=f"{label}, {t:g} minutes: {_pct(overall)}",
    )
    _decile_axes(ax, table, name, facts.place)
    _top_legend(ax, page, 3.9, t)
    return page.fig


def _legend_order(labels: Sequence[str]) -> list[int]:
    """Bars first, the reference line second, then the other limits."""
    return sorted(
        range(len(labels)),
        key=lambda i: (0 if "(bars)" in labels[i] else 1 if "minutes:" in labels[i] else 2, i),
    )


def _decile_note(minutes: float, limits: Sequence[float], name: str) -> str:
    others = [f"{t:g}" for t in limits if float(t) != minutes]
    markers = f"; markers: the same within {', '.join(others)} minutes" if others else ""
    return (
        f"Bars: share of each decile's residents who live within a {minutes:g}-minute walk "
        f"of at least one organisation{markers}. Deciles rank all LSOAs in England by the "
        f"{name}; each LSOA's residents take its decile. Deciles with no LSOA in the area "
        "are left out."
    )


def _top_legend(ax: Axes, page: Page, body_top_in: float, minutes: float) -> None:
    from matplotlib.patches import Patch

    handles, labels = ax.get_legend_handles_labels()
    handles.append(Patch(facecolor="#bbbbbb", edgecolor="#333333", linewidth=0.6))
    labels.append(f"{minutes:g}-minute walk (bars), in decile colours")
    order = _legend_order(labels)
    handles, labels = [handles[i] for i in order], [labels[i] for i in order]
    anchor = page.figure_point(MARGIN_IN, body_top_in)
    ax.legend(
        handles,
        labels,
        loc="upper left",
        bbox_to_anchor=anchor,
        bbox_transform=page.fig.transFigure,
        ncol=3,
        fontsize=_TICK_PT,
        frameon=False,
        borderaxespad=0.0,
        borderpad=0.0,
        columnspacing=1.2,
        handlelength=1.8,
    )


# --------------------------------------------------------------------------------------
# who is served: coverage by need-layer group
# --------------------------------------------------------------------------------------

_GROUP_COLUMNS = (
    "layer",
    "group",
    "label",
    "kind",
    "unit",
    "minutes",
    "residents",
    "share_covered",
    "gap_vs_all",
)
#: Headings of the layers of :func:`cnmap.layers.report_layers` (NeedLayer titles win).
LAYER_TITLES: dict[str, str] = {
    "ethnic_group": "Ethnic group (Census 2021)",
    "disability": "Disability (Census 2021)",
    "household_deprivation": "Households by deprivation dimensions (Census 2021)",
    "age": "Age (Census 2021)",
    "deri_score_bands": "Digital exclusion risk (DERI score quintiles of the area's LSOAs)",
}
_BAND = re.compile(
    r"(quintile|quartile|tercile|decile|band)\s+(\d+)\s+of\s+(\d+)\s+by\s+([\w.]+)", re.I
)
_LABEL_W_IN = 2.95
_COUNT_W_IN = 0.62
_SHARE_W_IN = 1.8
_GAP_W_IN = 1.3
_ROW_PT = 8.0


@dataclass(frozen=True)
class _Row:
    """One line of the chart: a layer heading (with the share of all, no bar) or a group."""

    text: str
    heading: bool
    layer: str
    share: float = float("nan")
    gap: float = float("nan")
    count: str = ""
    lines: int = 1


def _short_label(label: str) -> str:
    """``"Residents of LSOAs in quintile 1 of 5 by deri_score (...)"`` -> ``"DERI score
    quintile 1 of 5 (highest)"``; other labels unchanged."""
    m = _BAND.search(label)
    if not m:
        return label
    kind, k, n, by = m.group(1).lower(), int(m.group(2)), int(m.group(3)), m.group(4)
    words = by.split("_")
    words[0] = words[0].upper() if len(words[0]) <= 4 else words[0].capitalize()
    end = " (highest)" if k == 1 else (" (lowest)" if k == n else "")
    return f"{' '.join(words)} {kind} {k} of {n}{end}"


def _layer_title(name: str, layers: Mapping[str, Any]) -> str:
    ly = layers.get(name)
    title = getattr(ly, "title", None)
    if title:
        return str(title)
    return LAYER_TITLES.get(name, name.replace("_", " ").capitalize())


def _check_table(table: pd.DataFrame) -> None:
    if not isinstance(table, pd.DataFrame):
        raise ValidationError(
            f"groups_figure needs the table of cnmap.groups.group_coverage, "
            f"not {type(table).__name__}"
        )
    absent = [c for c in _GROUP_COLUMNS if c not in table.columns]
    if absent:
        raise MissingColumnError(
            f"groups_figure: the table has no {absent} column(s); is it "
            "cnmap.groups.group_coverage's?"
        )
    if table.empty:
        raise ValidationError("groups_figure: the table is empty")


def _heading(name: str, part: pd.DataFrame, layers: Mapping[str, Any]) -> _Row:
    """The layer's title with the share of all its residents (the reference of the gaps)."""
    title = _layer_title(name, layers)
    total = part[part["kind"] == "all"]
    share = float("nan")
    if not total.empty:
        r = total.iloc[0]
        unit = str(r["unit"]) or "residents"
        share = float(r["share_covered"])
        title += f". All {unit}: {_pct(share)} of {float(r['residents']):,.0f}"
    lines = wrap_text(title, _ROW_PT, _LABEL_W_IN + _SHARE_W_IN, weight="bold")
    return _Row("\n".join(lines), True, name, share=share, lines=len(lines))


def _group_rows(table: pd.DataFrame, layers: Mapping[str, Any]) -> list[_Row]:
    rows: list[_Row] = []
    width = _LABEL_W_IN - _COUNT_W_IN - 0.05
    for name, part in table.groupby("layer", sort=False):
        rows.append(_heading(str(name), part, layers))
        for r in part[part["kind"] != "all"].itertuples(index=False):
            lines = wrap_text(_short_label(str(r.label)), _ROW_PT, width)[:3]
            rows.append(
                _Row(
                    "\n".join(lines),
                    False,
                    str(name),
                    float(r.share_covered),
                    float(r.gap_vs_all),
                    f"{float(r.residents):,.0f}",
                    len(lines),
                )
            )
    return rows


def _row_positions(rows: Sequence[_Row]) -> tuple[np.ndarray, np.ndarray, float]:
    """Centre and height of each row, in inches from the top; and the total height."""
    line = _ROW_PT * LINE_SPACING / 72
    heights = np.array([r.lines * line + (0.15 if r.heading else 0.045) for r in rows])
    tops = np.concatenate([[0.0], np.cumsum(heights)[:-1]])
    return (
        tops + heights / 2 + np.array([0.05 if r.heading else 0.0 for r in rows]),
        heights,
        float(heights.sum()),
    )


def _bar_colour(row: _Row, tolerance: float) -> str:
    if not np.isfinite(row.gap) or abs(row.gap) < tolerance:
        return SAME_COLOUR
    return BELOW_COLOUR if row.gap < 0 else ABOVE_COLOUR


def _draw_labels(ax: Axes, rows: Sequence[_Row], centres: np.ndarray) -> None:
    """Group names and counts left of the share panel (the count column next to the bars)."""
    trans = ax.get_yaxis_transform()
    count_x = -0.04 / _SHARE_W_IN
    label_x = -(_COUNT_W_IN + 0.04) / _SHARE_W_IN
    for row, y in zip(rows, centres, strict=True):
        if row.heading:
            continue
        ax.text(
            label_x,
            y,
            row.text,
            transform=trans,
            ha="right",
            va="center",
            fontsize=_ROW_PT,
            linespacing=LINE_SPACING,
            color="#111111",
        )
        ax.text(
            count_x,
            y,
            row.count,
            transform=trans,
            ha="right",
            va="center",
            fontsize=_ROW_PT,
            color="#444444",
        )


def _bar_height(h: float, lines: int) -> float:
    return min(h * 0.75, 0.15) if lines == 1 else 0.15


def _share_panel(
    ax: Axes, rows: Sequence[_Row], centres: np.ndarray, heights: np.ndarray, tolerance: float
) -> None:
    bars = [(r, y, h) for r, y, h in zip(rows, centres, heights, strict=True) if not r.heading]
    for r, y, h in bars:
        colour = _bar_colour(r, tolerance)
        v = 100 * r.share
        ax.barh(y, v, height=_bar_height(h, r.lines), color=colour, zorder=2)
        ax.text(
            v - 1.5,
            y,
            f"{v:.1f}%",
            ha="right",
            va="center",
            fontsize=_ROW_PT,
            zorder=4,
            color="white" if _luminance(colour) < 0.45 else "#111111",
            bbox=_label_box(colour),
        )
    for head in (r for r in rows if r.heading and np.isfinite(r.share)):
        ys = [(y, h) for r, y, h in bars if r.layer == head.layer]
        if ys:
            top, bottom = ys[0][0] - ys[0][1] / 2, ys[-1][0] + ys[-1][1] / 2
            ax.plot(
                [100 * head.share] * 2,
                [top, bottom],
                color=_REF_COLOUR,
                linestyle="--",
                linewidth=1.0,
                zorder=3,
            )
    ax.set_xlim(0, 100)
    ax.set_xticks(range(0, 101, 25))
    _percent_axis(ax, "x")
    ax.set_xlabel("Share within reach (%)", fontsize=_TEXT_PT)


def _signed(points: float) -> str:
    return f"{points:+.1f}".replace("-", "−")


def _gap_panel(
    ax: Axes, rows: Sequence[_Row], centres: np.ndarray, heights: np.ndarray, tolerance: float
) -> None:
    gaps = [100 * r.gap for r in rows if not r.heading]
    lim = max([abs(g) for g in gaps if np.isfinite(g)] + [2.0]) * 1.5
    for r, y, h in zip(rows, centres, heights, strict=True):
        if r.heading or not np.isfinite(r.gap):
            continue
        g = 100 * r.gap
        ax.barh(y, g, height=_bar_height(h, r.lines), color=_bar_colour(r, tolerance), zorder=2)
        ax.text(
            g + (0.04 if g >= 0 else -0.04) * lim,
            y,
            _signed(g),
            ha="left" if g >= 0 else "right",
            va="center",
            fontsize=_ROW_PT,
            zorder=4,
        )
    ax.axvline(0, color="#111111", linewidth=0.8, zorder=3)
    ax.set_xlim(-lim, lim)
    ax.set_xlabel("Difference from all\n(percentage points)", fontsize=_TEXT_PT)


def _groups_legend(fig: Figure, page: Page, top_in: float, tolerance: float) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    pts = f"{100 * tolerance:g} point{'' if abs(tolerance - 0.01) < 1e-12 else 's'}"
    handles = [
        Patch(color=BELOW_COLOUR, label=f"less often within reach than all (by {pts} or more)"),
        Patch(color=ABOVE_COLOUR, label=f"more often within reach than all (by {pts} or more)"),
        Patch(color=SAME_COLOUR, label=f"about the same as all (within {pts})"),
        Line2D([], [], color=_REF_COLOUR, linestyle="--", label="share of all, for comparison"),
    ]
    fig.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=page.figure_point(MARGIN_IN, top_in),
        ncol=2,
        fontsize=_TICK_PT,
        frameon=False,
        borderaxespad=0.0,
        borderpad=0.0,
        columnspacing=1.0,
        handlelength=1.4,
    )


def _table_minutes(table: pd.DataFrame, minutes: float | None) -> float:
    th = sorted({float(t) for t in pd.to_numeric(table["minutes"], errors="coerce").dropna()})
    return _headline_minutes(th, minutes)


def _groups_facts(result: Any, place: str | None) -> RunFacts:
    if result is not None:
        return run_facts(result, place=place)
    return RunFacts(place=place)


_OGL = "Open Government Licence"


def _layer_attributions(layers: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """The layers' attributions: (bodies credited under the OGL, other sentences), each once.

    ``"Contains public sector information licensed under the Open Government Licence v3.0
    (DERI v1.6, GMCA)."`` gives the body ``"DERI v1.6, GMCA"``; a sentence in brackets only
    (``"(Census 2021, © Crown copyright.)"``) is a body too; OGL sentences naming no body are
    already said by the source line.
    """
    bodies: list[str] = []
    sentences: list[str] = []
    for ly in layers.values():
        text = str(getattr(ly, "attribution", "") or "")
        for part in (p.strip() for p in re.split(r"(?<=[.)])\s+(?=[A-Z(])", text)):
            inner = re.findall(r"\(([^()]*)\)", part)
            if part.startswith("(") or _OGL in part:
                bodies += [b.strip().rstrip(".") for b in inner if b.strip()]
            elif part:
                sentences.append(part)
    return list(dict.fromkeys(bodies)), list(dict.fromkeys(sentences))


def _layer_map(layers: Any) -> dict[str, Any]:
    if layers is None:
        return {}
    seq = [layers] if hasattr(layers, "name") else list(layers)
    return {str(ly.name): ly for ly in seq}


def groups_figure(  # noqa: PLR0913 (public API: keyword-only options, as osmnx)
    table: pd.DataFrame,
    *,
    result: Any | None = None,
    layers: Any | None = None,
    minutes: float | None = None,
    show_layers: Sequence[str] | None = None,
    tolerance: float = 0.01,
    title: str | None = AUTO,
    subtitle: str | None = AUTO,
    place: str | None = None,
    attribution: str | None = AUTO,
) -> Figure:
    """Who is served: the share of each group within reach, beside its gap to all residents.

    Parameters
    ----------
    table
        :func:`cnmap.groups.group_coverage`'s table (``layer``, ``group``, ``label``,
        ``kind``, ``unit``, ``minutes``, ``residents``, ``share_covered``, ``gap_vs_all``).
    result
        The coverage result behind it (for the place, organisations, walk and vintages).
    layers
        The need layers (:class:`cnmap.layers.NeedLayer`): their titles head the layers and
        their attributions join the source line.
    minutes
        The limit shown (default 15 if in the table, else the largest).
    show_layers
        Layer names to show, in that order (default: all, in table order).
    tolerance
        Gaps smaller than this (a share; 0.01 = 1 percentage point) count as "about the same".
    title, subtitle, attribution
        ``AUTO`` (default): computed; a string; or None for none.
    place
        Place name (default: the result's area).

    Returns
    -------
    matplotlib.figure.Figure
        A page 17 cm wide; save it with :func:`cnmap.maps.save_figure`.
    """
    _check_table(table)
    t = _table_minutes(table, minutes)
    part = table[pd.to_numeric(table["minutes"], errors="coerce").astype(float) == t]
    if show_layers is not None:
        unknown = sorted(set(show_layers) - set(part["layer"].astype(str)))
        if unknown:
            raise ValidationError(f"groups_figure: layers {unknown} are not in the table")
        part = pd.concat([part[part["layer"] == name] for name in show_layers])
    by_name = _layer_map(layers)
    bodies, credits = _layer_attributions(by_name)
    facts = _groups_facts(result, place)
    rows = _group_rows(part, by_name)
    centres, heights, total = _row_positions(rows)
    legend_h, axis_h = 0.5, 0.55
    page = new_page(
        title=_auto(
            title,
            title_text(facts, f"who is within a {t:g}-minute walk of an organisation, by group"),
        ),
        subtitle=_auto(subtitle, subtitle_text(facts, t, lead=_groups_lead(part, t))),
        body_height_in=legend_h + total + axis_h,
        notes=[_groups_note(t)],
        source=_auto(
            attribution,
            source_text(
                dataclasses.replace(facts, population_from_iod=False),
                deprivation=False,
                extra=credits,
                bodies=bodies,
            ),
        ),
    )
    _draw_groups(page, rows, (centres, heights, total), axis_h, tolerance)
    _groups_legend(page.fig, page, legend_h + total + axis_h, tolerance)
    return page.fig


def _draw_groups(
    page: Page,
    rows: Sequence[_Row],
    geometry: tuple[np.ndarray, np.ndarray, float],
    axis_h: float,
    tolerance: float,
) -> None:
    centres, heights, total = geometry
    left = MARGIN_IN + _LABEL_W_IN + 0.06
    share_ax = page.add_axes(left, axis_h, _SHARE_W_IN, total)
    gap_ax = page.add_axes(left + _SHARE_W_IN + 0.28, axis_h, _GAP_W_IN, total)
    for ax in (share_ax, gap_ax):
        ax.set_ylim(total, 0)
        ax.set_yticks([])
        _style_axes(ax)
        ax.spines["left"].set_visible(False)
    _share_panel(share_ax, rows, centres, heights, tolerance)
    _gap_panel(gap_ax, rows, centres, heights, tolerance)
    _draw_labels(share_ax, rows, centres)
    x, _ = page.figure_point(MARGIN_IN, 0)
    for r, y in zip(rows, centres, strict=True):
        if r.heading:
            page.fig.text(
                x,
                page.figure_point(0, axis_h + total - y)[1],
                r.text,
                ha="left",
                va="center",
                fontsize=_ROW_PT,
                fontweight="bold",
                linespacing=LINE_SPACING,
            )
    count_x, _ = page.figure_point(left - 0.04, 0)
    page.fig.text(
        count_x,
        page.figure_point(0, axis_h + total + 0.02)[1],
        "number",
        ha="right",
        va="bottom",
        fontsize=_ROW_PT,
        color="#444444",
    )


def _groups_lead(part: pd.DataFrame, minutes: float) -> str | None:
    groups = part[part["kind"] != "all"].dropna(subset=["gap_vs_all"])
    if groups.empty:
        return None
    low = groups.loc[groups["gap_vs_all"].idxmin()]
    high = groups.loc[groups["gap_vs_all"].idxmax()]
    return (
        f"Within a {minutes:g}-minute walk, furthest below all residents: "
        f"{_short_label(str(low['label']))}, {_pct(low['share_covered'])} "
        f"({_signed(100 * low['gap_vs_all'])} points); furthest above: "
        f"{_short_label(str(high['label']))}, {_pct(high['share_covered'])} "
        f"({_signed(100 * high['gap_vs_all'])} points)"
    )


def _groups_note(minutes: float) -> str:
    return (
        f"Each bar: share of the group's residents (households for household tables) who "
        f"live within a {minutes:g}-minute walk of at least one organisation; number: the "
        "group's residents (or households) in the area; dashed line: the share of all the "
        "layer's residents. Right: the group's share minus that of all, in percentage "
        "points. Within an LSOA each group is taken to live like its residents as a whole, "
        "so differences come from where groups live, LSOA by LSOA."
    )
