"""Report pages for the static figures: the facts of a run, titles, source lines, page layout.

Every report figure is a page 17 cm wide (the text width of an A4 page with 2 cm margins),
laid out in inches so that no text is smaller than 8 pt when printed at that width:

- a header: the title (naming the place) and a subtitle (organisations and their lists, walking
  speed and distance, data vintages);
- a body: the map or chart, sized by the caller;
- a footer: notes (definitions, a key to numbered areas) and the source and licence line.

:func:`run_facts` reads what the header and footer state from a coverage result (its
``params``, its area's ``params`` and its organisations); :func:`subtitle_text` and
:func:`source_text` turn them into words. Text is wrapped to the page by measured width
(matplotlib's Agg renderer), not by a character count.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from . import _style as S

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "AUTO",
    "PAGE_WIDTH_IN",
    "MIN_FONT_PT",
    "RunFacts",
    "run_facts",
    "reach_text",
    "title_text",
    "subtitle_text",
    "source_text",
    "Page",
    "new_page",
    "is_page",
    "text_width_in",
    "wrap_text",
]

#: Use the words computed from the result (titles, subtitles, source lines).
AUTO = "auto"
#: 17 cm: the text width of an A4 page with 2 cm margins.
PAGE_WIDTH_IN = 17 / 2.54
#: The smallest font size on a page (points, at :data:`PAGE_WIDTH_IN`).
MIN_FONT_PT = 8.0
TITLE_PT = 12.5
SUBTITLE_PT = 9.0
BODY_PT = 8.5
NOTE_PT = 8.0
TEXT_COLOUR = "#222222"
MUTED_COLOUR = "#444444"
MARGIN_IN = 0.14
LINE_SPACING = 1.28
PAGE_LABEL = "cnmap report page"

_OSM_DATE = re.compile(r"((?:19|20)\d{2}-[01]\d(?:-[0-3]\d)?)")
_MID_YEAR = re.compile(r"(mid-(?:19|20)\d{2})")


# --------------------------------------------------------------------------------------
# the facts of a run
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunFacts:
    """What a figure must state about the run behind it (None: not known)."""

    place: str | None = None
    n_organisations: int | None = None
    n_placed: int | None = None
    lists: tuple[tuple[str, int], ...] = ()
    speed_kmh: float | None = None
    mode: str | None = None
    detour_factor: float | None = None
    lsoa_vintage: int | None = None
    iod: int | None = None
    osm: str | None = None
    uses_osm: bool = False
    postcodes: bool = False
    population: str | None = None
    population_from_iod: bool = False


def _params(obj: Any) -> Mapping[str, Any]:
    p = getattr(obj, "params", None)
    return p if isinstance(p, Mapping) else {}


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value is not None and not pd.isna(value) else None
    except (TypeError, ValueError):
        return None


def _float_or_none(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _place(result: Any) -> str | None:
    area = getattr(result, "area", None)
    name = getattr(area, "lad_name", None)
    if name:
        return str(name)
    lsoas = getattr(result, "lsoas", None)
    if isinstance(lsoas, pd.DataFrame) and "lad_name" in lsoas.columns:
        names = lsoas["lad_name"].dropna().astype(str).unique()
        if len(names) == 1:
            return str(names[0])
    return None


def _lists(orgs: Any) -> tuple[tuple[str, int], ...]:
    """(list label, organisations) per input list, from the pipeline's ``dataset`` column."""
    if not isinstance(orgs, pd.DataFrame) or "dataset" not in orgs.columns or orgs.empty:
        return ()
    counts = orgs["dataset"].dropna().astype(str).value_counts(sort=False)
    return tuple((str(k), int(v)) for k, v in counts.items())


def _network_source(params: Mapping[str, Any]) -> str:
    net = params.get("network")
    if isinstance(net, Mapping):
        return str(net.get("source") or "")
    return ""


def _osm_date(result: Any, params: Mapping[str, Any]) -> str | None:
    """The OpenStreetMap extract date when a file name or the area's sources give it."""
    found = _OSM_DATE.search(_network_source(params).rsplit("/", 1)[-1])
    if found:
        return found.group(1)
    sources = getattr(getattr(result, "area", None), "sources", None)
    if isinstance(sources, pd.DataFrame) and {"id", "vintage"} <= set(sources.columns):
        osm = sources[sources["id"].astype(str).str.startswith("osm")]
        for vintage in osm["vintage"].astype(str):
            found = _OSM_DATE.search(vintage)
            if found:
                return found.group(1)
    return None


def _orgs_from_osm(orgs: Any) -> bool:
    if not isinstance(orgs, pd.DataFrame):
        return False
    if any("osm" in str(c).lower() for c in orgs.columns):
        return True
    if "dataset" in orgs.columns:
        text = " ".join(orgs["dataset"].dropna().astype(str).unique()).lower()
        return "osm" in text or "openstreetmap" in text
    return False


def _uses_osm(result: Any, params: Mapping[str, Any]) -> bool:
    if params.get("mode") == "network" or _network_source(params):
        return True
    if params.get("residents") == "streets" or params.get("detour_calibration"):
        return True
    return _orgs_from_osm(getattr(result, "organisations", None))


def _population(area_params: Mapping[str, Any]) -> tuple[str | None, bool]:
    """(``"mid-2022"``, True) when the residents are IoD denominators of mid-2022."""
    source = str(area_params.get("population_source") or "")
    found = _MID_YEAR.search(source)
    from_iod = str(area_params.get("population") or "").lower().startswith("iod")
    return (found.group(1) if found else None), from_iod


def run_facts(result: Any, *, place: str | None = None) -> RunFacts:
    """The facts a figure states, read from a coverage result (anything missing is None).

    Parameters
    ----------
    result
        A coverage result (or an object with some of its attributes: ``params``, ``area``,
        ``organisations``, ``lsoas``, ``speed_kmh``, ``mode``).
    place
        The place name, overriding the result's (``area.lad_name``).
    """
    p = _params(result)
    ap = _params(getattr(result, "area", None))
    orgs = getattr(result, "organisations", None)
    population, from_iod = _population(ap)
    n_orgs = _int_or_none(p.get("n_organisations"))
    if n_orgs is None and isinstance(orgs, pd.DataFrame):
        n_orgs = len(orgs)
    return RunFacts(
        place=place or _place(result),
        n_organisations=n_orgs,
        n_placed=_int_or_none(p.get("n_organisations_placed")),
        lists=_lists(orgs),
        speed_kmh=_float_or_none(p.get("speed_kmh", getattr(result, "speed_kmh", None))),
        mode=p.get("mode", getattr(result, "mode", None)),
        detour_factor=_float_or_none(p.get("detour_factor")),
        lsoa_vintage=_int_or_none(p.get("lsoa_vintage", ap.get("lsoa_vintage"))),
        iod=_int_or_none(p.get("iod", ap.get("iod"))),
        osm=_osm_date(result, p),
        uses_osm=_uses_osm(result, p),
        postcodes=p.get("residents") == "postcodes",
        population=population,
        population_from_iod=from_iod,
    )


# --------------------------------------------------------------------------------------
# words
# --------------------------------------------------------------------------------------


def _organisations_text(f: RunFacts) -> str | None:
    if f.n_organisations is None:
        return None
    n = f.n_organisations
    head = f"{n:,} organisation{'s' if n != 1 else ''}"
    if len(f.lists) == 1:
        head += f": {f.lists[0][0]}"
    elif f.lists:
        parts = ", ".join(f"{label} {count:,}" for label, count in f.lists)
        head += f" from {len(f.lists)} lists: {parts}"
    if f.n_placed is not None and f.n_placed < n:
        head += f"; {n - f.n_placed:,} too far from a street to count"
    return head


def _how(f: RunFacts) -> str:
    if f.mode == "network":
        return "along the street network"
    if f.mode == "crow_flies":
        if f.detour_factor is not None:
            return f"straight line × {f.detour_factor:g} for detours"
        return "straight-line distance"
    return ""


def title_text(f: RunFacts, what: str) -> str:
    """``"Birmingham: residents within ..."``; without a place, ``"Residents within ..."``."""
    if f.place:
        return f"{f.place}: {what}"
    return what[:1].upper() + what[1:]


def reach_text(f: RunFacts, minutes: float | None) -> str | None:
    """``"15-minute walk = 1,200 m at 4.8 km/h, along the street network"`` (None: unknown)."""
    if minutes is None and f.speed_kmh is None:
        return None
    parts = []
    if minutes is not None:
        walk = f"{minutes:g}-minute walk"
        if f.speed_kmh is not None:
            walk += f" = {minutes * f.speed_kmh * 1000 / 60:,.0f} m at {f.speed_kmh:g} km/h"
        parts.append(walk)
    else:
        parts.append(f"walking at {f.speed_kmh:g} km/h")
    how = _how(f)
    return ", ".join(parts + ([how] if how else []))


def _vintages_text(f: RunFacts) -> str | None:
    parts = []
    if f.lsoa_vintage is not None:
        parts.append(f"LSOA {f.lsoa_vintage} boundaries")
    if f.iod is not None:
        parts.append(f"IoD{f.iod}")
    if f.population is not None:
        parts.append(f"{f.population} population")
    if f.osm is not None:
        parts.append(f"OpenStreetMap {f.osm}")
    elif f.uses_osm:
        parts.append("OpenStreetMap")
    return "Data: " + ", ".join(parts) if parts else None


def subtitle_text(f: RunFacts, minutes: float | None, *, lead: str | None = None) -> str:
    """One paragraph: organisations and lists, the walk, the data vintages (known parts only).

    Parameters
    ----------
    f
        The run's facts (:func:`run_facts`).
    minutes
        The time limit the figure shows (None: the figure shows several).
    lead
        A sentence put first (e.g. the headline figure).
    """
    parts = [lead, _organisations_text(f), reach_text(f, minutes), _vintages_text(f)]
    return ". ".join(p.rstrip(".") for p in parts if p) + "."


def source_text(
    f: RunFacts, *, deprivation: bool = True, extra: Sequence[str] = (), bodies: Sequence[str] = ()
) -> str:
    """The source and licence line: OS, ONS and MHCLG (OGL), Royal Mail and OSM as relevant.

    Parameters
    ----------
    f
        The run's facts (:func:`run_facts`).
    deprivation
        The figure shows Indices of Deprivation figures (adds MHCLG's IoD, as does a
        population taken from the IoD denominators).
    extra
        Further attributions (e.g. of a need layer), added before the OpenStreetMap credit.
    bodies
        Further publishers or datasets credited under the Open Government Licence (e.g.
        ``"Census 2021, © Crown copyright"``).
    """
    credited = ["ONS"]
    if deprivation or f.population_from_iod:
        credited.append(f"English Indices of Deprivation {f.iod}, MHCLG" if f.iod else "MHCLG")
    credited += [b for b in bodies if b and b not in credited]
    parts = [
        S.ATTRIBUTION_OS,
        f"Contains public sector information ({'; '.join(credited)}) licensed under the Open "
        "Government Licence v3.0",
    ]
    if f.postcodes:
        parts.append("Contains Royal Mail data © Royal Mail copyright and database right")
    parts += [e.strip().rstrip(".") for e in extra if e and e.strip()]
    if f.uses_osm:
        parts.append("© OpenStreetMap contributors, ODbL")
    return "Sources: " + ". ".join(dict.fromkeys(parts)) + "."


# --------------------------------------------------------------------------------------
# measuring and wrapping text
# --------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _renderer() -> Any:
    from matplotlib.backends.backend_agg import RendererAgg

    return RendererAgg(10, 10, 72)  # 72 dpi: one pixel is one point


@functools.lru_cache(maxsize=4096)
def text_width_in(text: str, size: float, weight: str = "normal") -> float:
    """Width in inches of one line of ``text`` at ``size`` points (the default font)."""
    from matplotlib.font_manager import FontProperties

    if not text:
        return 0.0
    w, _, _ = _renderer().get_text_width_height_descent(
        text, FontProperties(size=size, weight=weight), ismath=False
    )
    return float(w) / 72.0


def _wrap_paragraph(text: str, size: float, width_in: float, weight: str) -> list[str]:
    lines: list[str] = []
    line = ""
    for word in text.split():
        trial = f"{line} {word}" if line else word
        if line and text_width_in(trial, size, weight) > width_in:
            lines.append(line)
            line = word
        else:
            line = trial
    if line:
        lines.append(line)
    return lines or [""]


def wrap_text(text: str, size: float, width_in: float, *, weight: str = "normal") -> list[str]:
    """Lines of ``text`` no wider than ``width_in`` inches (existing line breaks kept).

    A single word wider than the width stays on its own line.
    """
    out: list[str] = []
    for paragraph in str(text).split("\n"):
        out += _wrap_paragraph(paragraph, size, width_in, weight)
    return out


def _lines_height_in(n_lines: int, size: float) -> float:
    return n_lines * size * LINE_SPACING / 72.0


# --------------------------------------------------------------------------------------
# the page
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Block:
    lines: tuple[str, ...]
    size: float
    weight: str = "normal"
    colour: str = TEXT_COLOUR
    gap_after_in: float = 0.04

    @property
    def height_in(self) -> float:
        return _lines_height_in(len(self.lines), self.size) + self.gap_after_in


@dataclass(frozen=True)
class Page:
    """A report page: the figure and its body, in inches from the bottom left corner."""

    fig: Figure
    width_in: float
    height_in: float
    body_bottom_in: float
    body_height_in: float

    def rect(
        self, left_in: float, bottom_in: float, width_in: float, height_in: float
    ) -> tuple[float, float, float, float]:
        """A rectangle given in inches within the body, as figure fractions."""
        return (
            left_in / self.width_in,
            (self.body_bottom_in + bottom_in) / self.height_in,
            width_in / self.width_in,
            height_in / self.height_in,
        )

    def add_axes(self, left_in: float, bottom_in: float, width_in: float, height_in: float) -> Axes:
        """New axes at a rectangle given in inches within the body."""
        return self.fig.add_axes(self.rect(left_in, bottom_in, width_in, height_in))

    def figure_point(self, x_in: float, y_in: float) -> tuple[float, float]:
        """A point given in inches within the body, as figure fractions."""
        return x_in / self.width_in, (self.body_bottom_in + y_in) / self.height_in


def _blocks(texts: Sequence[tuple[str | None, float, str, str]], width_in: float) -> list[_Block]:
    out = []
    for text, size, weight, colour in texts:
        if text:
            out.append(
                _Block(tuple(wrap_text(text, size, width_in, weight=weight)), size, weight, colour)
            )
    return out


def _draw_blocks(
    fig: Figure, blocks: Sequence[_Block], top_in: float, height_in: float, left_in: float
) -> None:
    y = top_in
    for b in blocks:
        fig.text(
            left_in / fig.get_figwidth(),
            y / height_in,
            "\n".join(b.lines),
            fontsize=b.size,
            fontweight=b.weight,
            color=b.colour,
            ha="left",
            va="top",
            linespacing=LINE_SPACING,
        )
        y -= b.height_in


def is_page(fig: Figure) -> bool:
    """True for a figure made by :func:`new_page` (saved at its own size, not cropped)."""
    return fig.get_label() == PAGE_LABEL


def new_page(
    *,
    title: str | None,
    subtitle: str | None,
    body_height_in: float,
    notes: Sequence[str] = (),
    source: str | None = None,
    footer_extra_in: float = 0.0,
    width_in: float = PAGE_WIDTH_IN,
) -> Page:
    """A page with header (title, subtitle), a body of the given height and a footer.

    Parameters
    ----------
    title, subtitle
        Header text (wrapped to the page; None or empty: left out).
    body_height_in
        Height of the body (map or chart) in inches.
    notes
        Footer paragraphs above the source line (definitions, method notes).
    source
        The source and licence line (:func:`source_text`).
    footer_extra_in
        Room (inches) left empty at the top of the footer, for a key drawn by the caller
        between the body and the notes.
    width_in
        Page width (default 17 cm).
    """
    from matplotlib.figure import Figure

    text_w = width_in - 2 * MARGIN_IN
    head = _blocks(
        [(title, TITLE_PT, "bold", TEXT_COLOUR), (subtitle, SUBTITLE_PT, "normal", MUTED_COLOUR)],
        text_w,
    )
    foot = _blocks(
        [
            *((n, NOTE_PT, "normal", TEXT_COLOUR) for n in notes),
            (source, NOTE_PT, "normal", MUTED_COLOUR),
        ],
        text_w,
    )
    head_h = sum(b.height_in for b in head) + (0.06 if head else 0.0)
    foot_h = sum(b.height_in for b in foot) + footer_extra_in + (0.06 if foot else 0.0)
    height = MARGIN_IN + head_h + body_height_in + foot_h + MARGIN_IN
    fig = Figure(figsize=(width_in, height), facecolor="white")
    fig.set_label(PAGE_LABEL)
    _draw_blocks(fig, head, height - MARGIN_IN, height, MARGIN_IN)
    _draw_blocks(fig, foot, MARGIN_IN + foot_h - footer_extra_in - 0.06, height, MARGIN_IN)
    return Page(
        fig=fig,
        width_in=width_in,
        height_in=height,
        body_bottom_in=MARGIN_IN + foot_h,
        body_height_in=body_height_in,
    )
