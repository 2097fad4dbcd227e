"""Colours, labels, attribution text and legend HTML shared by the interactive and static maps.

Every colour used by :mod:`cnmap.maps` is defined here, so that the HTML map and the report
figures agree. Legend HTML is built from constants and labels escaped by :func:`esc` only.
"""

from __future__ import annotations

import html
import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import cast

from ._safe import inert_html

logger = logging.getLogger(__name__)

__all__ = [
    "IMD_DECILE_COLOURS",
    "SHARE_BINS",
    "SHARE_COLOURS",
    "REFERRER_POLICY",
    "BIVARIATE_COLOURS",
    "ORG_TYPE_COLOURS",
    "OTHER_COLOUR",
    "MISSING_COLOUR",
    "THIN_COLOUR",
    "CATCHMENT_COLOUR",
    "WARD_LINE_COLOUR",
    "NEED_COLOURS",
    "quantile_edges",
    "quantile_class",
    "need_colours",
    "ATTRIBUTION_OS",
    "ATTRIBUTION_OGL",
    "ATTRIBUTION_OSM",
    "ATTRIBUTION_HTML",
    "ATTRIBUTION_TEXT",
    "esc",
    "fmt_int",
    "fmt_share",
    "fmt_minutes",
    "share_colour",
    "decile_colour",
    "bivariate_colour",
    "type_colours",
    "legend_html",
    "bivariate_legend_html",
    "COVERAGE_STEPS",
    "GAP_COLOURS",
    "THIN_LINE_COLOUR",
    "SHAPES",
    "DEFAULT_TYPE_LABELS",
    "type_label",
    "type_symbols",
    "coverage_edges",
    "class_of",
    "class_labels",
    "fmt_pct",
    "fmt_walk",
    "decile_words",
    "hours_in_words",
    "address_and_postcode",
    "symbol_svg",
]

# --------------------------------------------------------------------------------------
# colours
# --------------------------------------------------------------------------------------

#: IMD decile 1 (most deprived 10% in England) .. 10 (least deprived): a diverging
#: red-yellow-blue ramp (ColorBrewer RdYlBu, 10 classes), red = most deprived.
IMD_DECILE_COLOURS: tuple[str, ...] = (
    "#a50026",
    "#d73027",
    "#f46d43",
    "#fdae61",
    "#fee090",
    "#e0f3f8",
    "#abd9e9",
    "#74add1",
    "#4575b4",
    "#313695",
)

#: Class edges for the share of residents covered (0..1): five equal classes.
SHARE_BINS: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
#: One colour per share class, light (little coverage) to dark (full coverage); ColorBrewer
#: YlGnBu, 5 classes.
SHARE_COLOURS: tuple[str, ...] = ("#ffffcc", "#a1dab4", "#41b6c4", "#2c7fb8", "#253494")

#: Deprivation-by-provision classes "d-p" (d: deprivation tercile, 3 = most deprived;
#: p: provision tercile, 1 = least provision), Joshua Stevens' red-blue 3x3 scheme: the
#: more deprived the redder, the less provision the bluer; "3-1" (most deprived, least
#: provision: the thin-infrastructure corner) is the darkest.
BIVARIATE_COLOURS: dict[str, str] = {
    "1-3": "#e8e8e8",
    "2-3": "#e4acac",
    "3-3": "#c85a5a",
    "1-2": "#b0d5df",
    "2-2": "#ad9ea5",
    "3-2": "#985356",
    "1-1": "#64acbe",
    "2-1": "#627f8c",
    "3-1": "#574249",
}

#: Organisation type colours (Okabe-Ito, colour-blind safe), assigned to the most frequent
#: types first; beyond eight types the colours repeat and the HTML map changes the marker
#: shape (:func:`type_symbols`), so no two types share a symbol.
ORG_TYPE_COLOURS: tuple[str, ...] = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#D55E00",
    "#56B4E9",
    "#F0E442",
    "#000000",
)
OTHER_COLOUR = "#999999"
MISSING_COLOUR = "#d9d9d9"
THIN_COLOUR = "#e31a1c"
CATCHMENT_COLOUR = "#3182bd"
WARD_LINE_COLOUR = "#333333"

#: Classes of the share of residents within the walk on the HTML map: fixed steps that matter
#: to a planner (under half, three quarters, nine in ten, 95%), so that areas that are nearly
#: all covered still show their differences. ``coverage_edges`` can also choose them from the
#: data (mapclassify).
COVERAGE_STEPS: tuple[float, ...] = (0.0, 0.5, 0.75, 0.9, 0.95, 1.0)
#: One colour per coverage class, the gaps darkest (ColorBrewer YlOrRd, 5 classes, reversed):
#: dark red = few residents within the walk, pale yellow = nearly all.
GAP_COLOURS: tuple[str, ...] = ("#bd0026", "#f03b20", "#fd8d3c", "#fecc5c", "#ffffb2")
#: Need layers of the HTML map (Census shares, DERI and IoD scores), light (least need) to
#: dark (most need): ColorBrewer Purples, 5 classes, a sequential ramp unlike the coverage
#: reds and the IMD red-blue, so a need layer is never read as coverage.
NEED_COLOURS: tuple[str, ...] = ("#f2f0f7", "#cbc9e2", "#9e9ac8", "#756bb1", "#54278f")
#: Outline of thin areas on the HTML map: stands out on every coverage colour.
THIN_LINE_COLOUR = "#111111"
#: Marker shapes of the HTML map, used in turn once the colours run out.
SHAPES: tuple[str, ...] = ("circle", "square", "diamond", "triangle")

# --------------------------------------------------------------------------------------
# attribution (the licences of the data shown on every map)
# --------------------------------------------------------------------------------------

ATTRIBUTION_OS = "Contains OS data © Crown copyright and database right"
ATTRIBUTION_OGL = (
    "Contains public sector information from ONS and MHCLG licensed under the "
    "Open Government Licence v3.0"
)
ATTRIBUTION_OSM = "© OpenStreetMap contributors (ODbL)"

#: Plain-text attribution for static figures.
ATTRIBUTION_TEXT = f"{ATTRIBUTION_OS}. {ATTRIBUTION_OGL}. Map data {ATTRIBUTION_OSM}."

#: HTML attribution for the Leaflet attribution control.
ATTRIBUTION_HTML = (
    f"{html.escape(ATTRIBUTION_OS)} | ONS and MHCLG data: "
    '<a href="https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/">'
    "Open Government Licence v3.0</a> | "
    '<a href="https://www.openstreetmap.org/copyright">© OpenStreetMap contributors</a> '
    '(<a href="https://opendatacommons.org/licenses/odbl/">ODbL</a>)'
)

# --------------------------------------------------------------------------------------
# formatting (every user-supplied text goes through esc())
# --------------------------------------------------------------------------------------


def _missing(value: object) -> bool:
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN, pd.NA raises TypeError on bool()
    except TypeError:
        return True


def esc(value: object, *, missing: str = "n/a") -> str:
    """Return ``value`` as HTML-safe text (``<``, ``>``, ``&`` and quotes escaped).

    Braces are written as ``&#123;`` / ``&#125;`` so that no Jinja2 delimiter reaches a
    folium template (:func:`cnmap.maps._safe.inert_html`); the browser shows the text as
    written. Missing values (None, NaN, ``pd.NA``) become ``missing``; line breaks become
    ``<br>`` after escaping.
    """
    if _missing(value):
        return missing
    return inert_html(value).replace("\r\n", "\n").replace("\n", "<br>")


def fmt_int(value: object) -> str:
    """``12345.4`` -> ``"12,345"``; missing -> ``"n/a"``."""
    if _missing(value):
        return "n/a"
    return f"{float(value):,.0f}"  # type: ignore[arg-type]


def fmt_share(value: object) -> str:
    """``0.634`` -> ``"63.4%"``; missing -> ``"n/a"``."""
    if _missing(value):
        return "n/a"
    return f"{100 * float(value):.1f}%"  # type: ignore[arg-type]


def fmt_minutes(value: object) -> str:
    """``7.46`` -> ``"7.5 min"``; infinite -> ``"out of reach"``; missing -> ``"n/a"``."""
    if _missing(value):
        return "n/a"
    v = float(value)  # type: ignore[arg-type]
    if math.isinf(v):
        return "out of reach"
    return f"{v:.1f} min"


def share_colour(value: object) -> str:
    """Colour of a share covered (0..1) in :data:`SHARE_COLOURS`; missing -> grey."""
    if _missing(value):
        return MISSING_COLOUR
    v = min(max(float(value), 0.0), 1.0)  # type: ignore[arg-type]
    for i in range(len(SHARE_COLOURS)):
        if v < SHARE_BINS[i + 1]:
            return SHARE_COLOURS[i]
    return SHARE_COLOURS[-1]


def share_labels() -> list[str]:
    """Legend labels of the share classes: ``"0-20%"`` .. ``"80-100%"``."""
    return [
        f"{100 * a:.0f}–{100 * b:.0f}%"
        for a, b in zip(SHARE_BINS[:-1], SHARE_BINS[1:], strict=True)
    ]


def decile_colour(value: object) -> str:
    """Colour of an IMD decile 1..10; anything else -> grey."""
    if _missing(value):
        return MISSING_COLOUR
    try:
        d = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return MISSING_COLOUR
    if 1 <= d <= 10:
        return cast(str, IMD_DECILE_COLOURS[d - 1])
    return MISSING_COLOUR


def bivariate_colour(value: object) -> str:
    """Colour of a bivariate class ``"d-p"``; unknown -> grey."""
    if _missing(value):
        return MISSING_COLOUR
    return BIVARIATE_COLOURS.get(str(value), MISSING_COLOUR)


def _type_counts(types: Iterable[object]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for t in types:
        key = "unknown" if _missing(t) or str(t) == "" else str(t)
        counts[key] = counts.get(key, 0) + 1
    return counts


def _type_order(counts: dict[str, int]) -> list[str]:
    """Types most frequent first (ties: alphabetical), ``"unknown"`` last."""
    ordered = sorted((k for k in counts if k != "unknown"), key=lambda k: (-counts[k], k))
    return ordered + (["unknown"] if "unknown" in counts else [])


def type_colours(types: Iterable[object]) -> dict[str, str]:
    """Map organisation types to colours, most frequent first (ties: alphabetical).

    Missing types are labelled ``"unknown"`` and drawn in :data:`OTHER_COLOUR`; the others take
    :data:`ORG_TYPE_COLOURS` in turn (beyond eight types the colours repeat: the HTML map then
    changes the marker shape, see :func:`type_symbols`).
    """
    order = _type_order(_type_counts(types))
    known = [k for k in order if k != "unknown"]
    out = {k: ORG_TYPE_COLOURS[i % len(ORG_TYPE_COLOURS)] for i, k in enumerate(known)}
    if "unknown" in order:
        out["unknown"] = OTHER_COLOUR
    return out


def type_symbols(types: Iterable[object]) -> dict[str, tuple[str, str]]:
    """Map organisation types to a distinct (colour, shape), most frequent first.

    The first eight types are circles in the Okabe-Ito colours, the next eight squares, then
    diamonds and triangles (32 distinct symbols; further types start again and a warning says
    so). Missing types (``"unknown"``) take the next symbol after the named types: no type is
    drawn in a shared grey.
    """
    order = _type_order(_type_counts(types))
    n = len(ORG_TYPE_COLOURS)
    if len(order) > n * len(SHAPES):
        logger.warning(
            "%d organisation types: more than the %d distinct map symbols, so some "
            "share a symbol; group the types (type_labels) to tell them apart",
            len(order),
            n * len(SHAPES),
        )
    return {
        k: (ORG_TYPE_COLOURS[i % n], SHAPES[(i // n) % len(SHAPES)]) for i, k in enumerate(order)
    }


# --------------------------------------------------------------------------------------
# coverage classes
# --------------------------------------------------------------------------------------


def coverage_edges(
    values: Sequence[object], classes: str | Sequence[float] = "steps", k: int = 5
) -> tuple[float, ...]:
    """Class edges (0..1, ascending, first 0 and last 1) for shares of residents covered.

    ``classes``: ``"steps"`` (:data:`COVERAGE_STEPS`: under 50%, 50-75%, 75-90%, 90-95%,
    95-100%); ``"natural"`` (Fisher-Jenks natural breaks of the values, mapclassify) or
    ``"quantiles"`` (equal counts, mapclassify), ``k`` classes at most; or the inner edges
    themselves, e.g. ``(0.5, 0.8, 0.95)``.
    """
    if isinstance(classes, str):
        if classes == "steps":
            return COVERAGE_STEPS
        if classes not in ("natural", "quantiles"):
            raise ValueError(
                f"classes={classes!r}: use 'steps', 'natural', 'quantiles' or a "
                "sequence of edges between 0 and 1"
            )
        return _edges_from_data(values, classes, k)
    inner = sorted({float(e) for e in classes if 0.0 < float(e) < 1.0})
    if not inner:
        raise ValueError(f"classes={classes!r}: give at least one edge between 0 and 1")
    return (0.0, *inner, 1.0)


def _edges_from_data(values: Sequence[object], method: str, k: int) -> tuple[float, ...]:
    import mapclassify
    import numpy as np

    v = np.clip(np.asarray([_float(x) for x in values if not _missing(x)], dtype=float), 0, 1)
    kk = max(1, min(k, len(np.unique(v)) - 1))
    if len(v) == 0 or kk < 2:
        return (0.0, 1.0)
    fn = mapclassify.FisherJenks if method == "natural" else mapclassify.Quantiles
    bins = [float(b) for b in fn(v, k=kk).bins]
    inner = sorted({round(b, 4) for b in bins if 0.0 < round(b, 4) < 1.0})
    return (0.0, *inner, 1.0)


def _float(value: object) -> float:
    return float(value)  # type: ignore[arg-type]


def class_of(value: object, edges: Sequence[float]) -> int:
    """Index of the class of ``value`` (0..1) between ``edges``; -1 if missing.

    Classes are ``[e0, e1)``, ``[e1, e2)`` ... and the last one includes 1.
    """
    if _missing(value):
        return -1
    v = min(max(float(value), 0.0), 1.0)  # type: ignore[arg-type]
    for i in range(len(edges) - 2):
        if v < edges[i + 1]:
            return i
    return len(edges) - 2


def class_labels(edges: Sequence[float]) -> list[str]:
    """Plain labels of coverage classes: ``"under 50%"``, ``"50–75%"`` ... ``"95–100%"``."""
    pct = [f"{100 * e:.3g}" for e in edges]
    out = []
    for i in range(len(edges) - 1):
        out.append(f"under {pct[1]}%" if i == 0 else f"{pct[i]}–{pct[i + 1]}%")
    return out


def gap_colours(n: int) -> list[str]:
    """``n`` colours from dark red (gaps) to pale yellow (nearly all covered)."""
    if n == len(GAP_COLOURS):
        return list(GAP_COLOURS)
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    cmap = colormaps["YlOrRd_r"]
    return [to_hex(cmap(0.08 + 0.88 * i / max(n - 1, 1))) for i in range(n)]


def quantile_edges(values: Iterable[float], k: int = 5) -> tuple[float, ...]:
    """Edges of ``k`` quantile classes of the finite ``values``: ``numpy.quantile`` at 0, 1/k,
    ... 1 (linear interpolation), repeated edges dropped (ties: fewer classes). ``()`` when
    no value is finite."""
    import numpy as np

    v = np.fromiter(values, dtype=float)
    v = v[np.isfinite(v)]
    if not len(v):
        return ()
    qs = np.quantile(v, np.linspace(0.0, 1.0, k + 1))
    return tuple(float(q) for q in np.unique(qs))


def quantile_class(value: float, edges: Sequence[float]) -> int:
    """Class of ``value`` between quantile ``edges``: ``[e0, e1)``, ``[e1, e2)`` ... the last
    class includes its top edge; one edge is one class; -1 for a missing value (or no edges)."""
    if _missing(value) or not math.isfinite(value) or not edges:
        return -1
    k = sum(1 for e in edges[1:-1] if value >= e)
    return min(k, max(len(edges) - 2, 0))


def need_colours(n: int, *, reverse: bool = False) -> list[str]:
    """``n`` colours of :data:`NEED_COLOURS`, spread light to dark (dark to light if
    ``reverse``: when a lower value means more need)."""
    if n <= 0:
        return []
    last = len(NEED_COLOURS) - 1
    picks = [
        NEED_COLOURS[round(last * (i + 1) / n) if n < 3 else round(last * i / (n - 1))]
        for i in range(n)
    ]
    return picks[::-1] if reverse else picks


# --------------------------------------------------------------------------------------
# words for people
# --------------------------------------------------------------------------------------

#: Readable names of common organisation types (the ``type`` column's lower-case tokens).
DEFAULT_TYPE_LABELS: dict[str, str] = {
    "warm_space": "Warm space",
    "food_bank": "Food bank",
    "foodbank": "Food bank",
    "food": "Food support",
    "food_pantry": "Food pantry",
    "community_centre": "Community centre",
    "community_center": "Community centre",
    "community_anchor": "Community anchor organisation",
    "community_hub": "Community hub",
    "neighbourhood_forum": "Neighbourhood forum",
    "housing_trust": "Housing trust",
    "infrastructure_body": "Voluntary sector support body",
    "pioneer_place": "Pioneer place",
    "library": "Library",
    "faith": "Faith group or place of worship",
    "place_of_worship": "Place of worship",
    "advice": "Advice service",
    "youth": "Youth organisation",
    "recovery": "Recovery service",
    "school": "School",
    "other": "Other",
    "unknown": "Type not given",
}

_TOKEN = re.compile(r"[a-z0-9]+(?:_[a-z0-9]+)*")


def type_label(value: object, labels: Mapping[str, str] | None = None) -> str:
    """A readable name for an organisation type (plain text, not escaped).

    ``labels`` (the user's table) first, then :data:`DEFAULT_TYPE_LABELS`; a type that is a
    lower-case token (``food_bank``) becomes ``"Food bank"``; any other text is kept as written.
    """
    key = "unknown" if _missing(value) or str(value) == "" else str(value)
    for table in (labels or {}, DEFAULT_TYPE_LABELS):
        if key in table:
            return str(table[key])
    if _TOKEN.fullmatch(key):
        words = key.replace("_", " ")
        return words[0].upper() + words[1:]
    return key


def fmt_pct(value: object) -> str:
    """A share as a whole percentage for people: ``0.634`` -> ``"63%"``.

    Never rounds to 0% or 100% a share that is not: ``"under 1%"``, ``"over 99%"``.
    """
    if _missing(value):
        return "n/a"
    v = float(value)  # type: ignore[arg-type]
    if 0 < v < 0.005:
        return "under 1%"
    if 0.995 <= v < 1:
        return "over 99%"
    return f"{100 * v:.0f}%"


def fmt_walk(minutes: object) -> str:
    """A walk time for people: ``7.46`` -> ``"7 minutes"``; inf -> ``"out of reach"``."""
    if _missing(minutes):
        return "n/a"
    v = float(minutes)  # type: ignore[arg-type]
    if math.isinf(v):
        return "out of reach"
    if v < 1:
        return "under 1 minute"
    return f"{v:.0f} minute{'' if round(v) == 1 else 's'}"


def decile_words(value: object) -> str:
    """A national deprivation decile in words: ``2`` -> ``"2 of 10 (most deprived 20%)"``,
    ``9`` -> ``"9 of 10 (least deprived 20%)"``, ``5`` -> ``"5 of 10"``."""
    if _missing(value):
        return "n/a"
    try:
        d = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return "n/a"
    if d <= 3:
        return f"{d} of 10 (most deprived {10 * d}%)"
    if d >= 8:
        return f"{d} of 10 (least deprived {10 * (11 - d)}%)"
    return f"{d} of 10"


_DAY_WORDS = {
    "Mo": "Monday",
    "Tu": "Tuesday",
    "We": "Wednesday",
    "Th": "Thursday",
    "Fr": "Friday",
    "Sa": "Saturday",
    "Su": "Sunday",
}
_DAY_ORDER = list(_DAY_WORDS)
_TIME = r"(?:[01]?\d|2[0-4]):[0-5]\d"
_SPAN = rf"{_TIME}-{_TIME}"
_RULE = re.compile(
    rf"^(?:(?P<days>(?:Mo|Tu|We|Th|Fr|Sa|Su)(?:-(?:Mo|Tu|We|Th|Fr|Sa|Su))?"
    rf"(?:,(?:Mo|Tu|We|Th|Fr|Sa|Su)(?:-(?:Mo|Tu|We|Th|Fr|Sa|Su))?)*)\s+)?"
    rf"(?P<times>{_SPAN}(?:\s*,\s*{_SPAN})*|off|closed)$"
)


def _clock(text: str) -> str:
    h, m = (int(x) for x in text.split(":"))
    if h in (0, 24) and m == 0:
        return "midnight"
    if h == 12 and m == 0:
        return "noon"
    suffix = "am" if h < 12 or h == 24 else "pm"
    h12 = h % 12 or 12
    return f"{h12}{suffix}" if m == 0 else f"{h12}:{m:02d}{suffix}"


def _day_list(spec: str | None) -> list[str]:
    if not spec:
        return list(_DAY_ORDER)
    out: list[str] = []
    for part in spec.split(","):
        a, _, b = part.partition("-")
        i, j = _DAY_ORDER.index(a), _DAY_ORDER.index(b or a)
        span = range(i, j + 1) if i <= j else [*range(i, 7), *range(0, j + 1)]
        out += [_DAY_ORDER[k] for k in span if _DAY_ORDER[k] not in out]
    return out


def _days_words(days: list[str]) -> str:
    idx = sorted(_DAY_ORDER.index(d) for d in days)
    if len(idx) == 7:
        return "Every day"
    if len(idx) >= 3 and idx == list(range(idx[0], idx[-1] + 1)):
        return f"{_DAY_WORDS[_DAY_ORDER[idx[0]]]} to {_DAY_WORDS[_DAY_ORDER[idx[-1]]]}"
    names = [_DAY_WORDS[_DAY_ORDER[i]] for i in idx]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _times_words(times: str) -> str:
    if times in ("off", "closed"):
        return "closed"
    spans = [t.strip().split("-") for t in times.split(",")]
    return " and ".join(f"{_clock(a)} to {_clock(b)}" for a, b in spans)


def hours_in_words(value: object) -> str | None:
    """Opening hours in OpenStreetMap syntax, in plain English (None if not simple).

    ``"Tu 10:00-14:00; Th 18:00-20:00; Fr 10:00-14:00"`` gives ``"Tuesday and Friday 10am to
    2pm\\nThursday 6pm to 8pm"``: days with the same hours are grouped, one line per group.
    Rules of weekdays, time spans, ``off``/``closed``, ``24/7`` and ``PH off`` are read; any
    other text (comments, months, week numbers...) gives None, so the caller shows the text as
    written.
    """
    if _missing(value):
        return None
    text = str(value).strip()
    if text == "24/7":
        return "Open all day, every day"
    by_day: dict[str, list[str]] = {}
    extra = []
    for rule in (r.strip() for r in text.split(";")):
        if not rule:
            continue
        if rule in ("PH off", "PH closed"):
            extra.append("Closed on bank holidays")
            continue
        m = _RULE.fullmatch(rule)
        if m is None:
            return None
        for day in _day_list(m.group("days")):
            by_day.setdefault(day, []).append(_times_words(m.group("times")))
    groups: dict[str, list[str]] = {}
    for day in _DAY_ORDER:
        if day in by_day:
            groups.setdefault(" and ".join(dict.fromkeys(by_day[day])), []).append(day)
    lines = [f"{_days_words(days)} {times}" for times, days in groups.items()]
    return "\n".join(lines + extra) or None


_POSTCODE = re.compile(r"\b([A-Z]{1,2}\d[A-Z\d]?)\s*(\d[A-Z]{2})\b", re.I)


def _pc_key(text: str) -> str:
    return re.sub(r"\s+", "", text).upper()


def address_and_postcode(address: object, postcode: object) -> tuple[str | None, str | None]:
    """The address and the postcode to show, the postcode written once.

    A postcode repeated at the end of the address (``"... B36 8QS B36 8QS"``) is kept once,
    and the postcode is left out (None) when the address already holds it.
    """
    addr = None if _missing(address) or str(address).strip() == "" else str(address).strip()
    pc = None if _missing(postcode) or str(postcode).strip() == "" else str(postcode).strip()
    if addr is not None:
        found = list(_POSTCODE.finditer(addr))
        while (
            len(found) >= 2
            and _pc_key(found[-1].group(0)) == _pc_key(found[-2].group(0))
            and addr[found[-2].end() : found[-1].start()].strip(" ,") == ""
            and addr[found[-1].end() :].strip(" ,.") == ""
        ):
            addr = addr[: found[-2].end()]
            found = found[:-1]
        if pc is not None and any(_pc_key(f.group(0)) == _pc_key(pc) for f in found):
            pc = None
    return addr, pc


# --------------------------------------------------------------------------------------
# legends
# --------------------------------------------------------------------------------------

_BOX = (
    "background:rgba(255,255,255,0.94);padding:6px 8px;border-radius:4px;"
    "box-shadow:0 0 4px rgba(0,0,0,0.3);font:12px/1.35 Arial,Helvetica,sans-serif;"
    "max-width:260px;"
)
_SWATCH = "display:inline-block;width:14px;height:12px;margin-right:6px;vertical-align:middle;"

SHAPE_SVG = {
    "circle": '<circle cx="7" cy="7" r="5.5"/>',
    "square": '<rect x="2" y="2" width="10" height="10"/>',
    "diamond": '<polygon points="7,0.8 13.2,7 7,13.2 0.8,7"/>',
    "triangle": '<polygon points="7,1 13.3,12.6 0.7,12.6"/>',
}


def symbol_svg(colour: str, shape: str, *, approximate: bool = False, size: int = 14) -> str:
    """An organisation marker as inline SVG (the legend's swatch; the page draws the same).

    ``approximate``: hollow (white inside, dashed outline in the type's colour).
    """
    body = SHAPE_SVG[shape]
    c = _hex(colour)
    paint = (
        f'fill="#ffffff" stroke="{c}" stroke-width="2.6" stroke-dasharray="2.2 1.6"'
        if approximate
        else f'fill="{c}" stroke="#1a1a1a" stroke-width="1.4"'
    )
    return (
        f'<svg width="{size}" height="{size}" viewBox="0 0 14 14" '
        f'style="vertical-align:middle;margin-right:6px"><g {paint}>{body}</g></svg>'
    )


def _swatch(colour: str, shape: str) -> str:
    if shape in SHAPE_SVG:
        return symbol_svg(colour, shape)
    if shape == "outline":
        return (
            f'<span style="{_SWATCH}background:transparent;'
            f'border:3px solid {_hex(colour)};box-sizing:border-box"></span>'
        )
    if shape == "hollow":
        return symbol_svg(colour, "circle", approximate=True)
    return f'<span style="{_SWATCH}background:{_hex(colour)};border:1px solid #555"></span>'


def legend_html(
    title: str,
    items: Sequence[tuple[str, str] | tuple[str, str, str]],
    *,
    note: str | None = None,
    shape: str = "box",
) -> str:
    """HTML of a small legend box: a title and one (colour, label[, shape]) row per item.

    The box is a ``<details>`` element (open; the page closes it on a phone), whose summary is
    the title. ``shape``: ``"box"``, ``"outline"``, ``"hollow"`` or a marker shape of
    :data:`SHAPES`, for every item without its own. Titles, labels and the note are escaped
    here; colours must be hex strings.
    """
    rows = "".join(
        f"<div>{_swatch(item[0], item[2] if len(item) > 2 else shape)}{esc(item[1])}</div>"
        for item in items
    )
    foot = f'<div class="cnmap-note">{esc(note)}</div>' if note else ""
    return (
        f'<details class="cnmap-legend cnmap-fold" open style="{_BOX}">'
        f"<summary><b>{esc(title)}</b></summary>{rows}{foot}</details>"
    )


#: Provision bands of the bivariate view: share of residents within the walk (absolute, the
#: same in every city): under 75% (low), 75% to under 95% (middle), 95% or more (high).
PROVISION_EDGES: tuple[float, float] = (0.75, 0.95)
#: Deprivation bands of the bivariate view, national deciles: 1-2 (most deprived 20% in
#: England), 3-5, 6-10.
DEPRIVATION_BANDS: tuple[tuple[int, int], ...] = ((6, 10), (3, 5), (1, 2))


def provision_band(share: object) -> int:
    """1 (low), 2 (middle) or 3 (high) provision for a share covered; 0 if missing."""
    if _missing(share):
        return 0
    v = float(share)  # type: ignore[arg-type]
    return 1 if v < PROVISION_EDGES[0] else 2 if v < PROVISION_EDGES[1] else 3


def deprivation_band(decile: object) -> int:
    """1 (less deprived, deciles 6-10), 2 (3-5) or 3 (most deprived 20%, 1-2); 0 if missing."""
    if _missing(decile):
        return 0
    try:
        d = int(decile)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return 0
    for band, (lo, hi) in enumerate(DEPRIVATION_BANDS, start=1):
        if lo <= d <= hi:
            return band
    return 0


def provision_words(band: int, share: object, minutes: str) -> str:
    """``"high: 97% within a 15-minute walk"`` (bands: :data:`PROVISION_EDGES`, the same in
    every city)."""
    word = {1: "low", 2: "middle", 3: "high"}.get(band)
    return "n/a" if word is None else f"{word}: {fmt_pct(share)} within a {minutes}-minute walk"


def deprivation_words(band: int, decile: object) -> str:
    """``"high: decile 1 of 10"`` (national decile; bands: :data:`DEPRIVATION_BANDS`)."""
    word = {3: "high", 2: "middle", 1: "lower"}.get(band)
    return "n/a" if word is None else f"{word}: decile {int(decile)} of 10"  # type: ignore[call-overload]


def bivariate_legend_html(
    minutes: str = "15", domain: str = "IMD", title: str = "Deprivation × walking provision"
) -> str:
    """HTML of the 3x3 bivariate legend (rows: provision, columns: national deprivation)."""
    cell = "width:18px;height:18px;border:1px solid #fff;"
    rows = []
    for p in (1, 2, 3):  # top row: least provision
        cells = "".join(
            f'<td title="{esc(_bivariate_label(d, p))}" '
            f'style="{cell}background:{BIVARIATE_COLOURS[f"{d}-{p}"]}"></td>'
            for d in (1, 2, 3)
        )
        rows.append(f"<tr>{cells}</tr>")
    table = '<table style="border-collapse:collapse">' + "".join(rows) + "</table>"
    lo, hi = (f"{100 * e:.0f}%" for e in PROVISION_EDGES)
    note = (
        f"Provision: share of an area's residents within a {minutes}-minute walk of an "
        f"organisation (low: under {lo}; middle: {lo} to {hi}; high: {hi} or more), the "
        f"same bands in every place. Deprivation: national {domain} deciles (high: 1–2, "
        "the most deprived 20% in England; middle: 3–5; lower: 6–10)."
    )
    return (
        f'<details class="cnmap-legend cnmap-fold" open style="{_BOX}"><summary><b>'
        f"{esc(title)}</b></summary>"
        '<div style="display:flex;align-items:center;margin-top:4px">'
        '<div style="writing-mode:vertical-rl;transform:rotate(180deg);font-size:11px;'
        'margin-right:3px">less provision &rarr;</div>'
        f"{table}"
        '<div style="font-size:11px;color:#333;margin-left:8px">darkest corner: more '
        "deprived and less provision</div></div>"
        '<div style="font-size:11px;margin-left:16px">more deprived &rarr;</div>'
        f'<div class="cnmap-note">{esc(note)}</div></details>'
    )


_LEVEL = {1: "low", 2: "middle", 3: "high"}


def _bivariate_label(d: int, p: int) -> str:
    return f"deprivation {_LEVEL[d]} ({d} of 3), provision {_LEVEL[p]} ({p} of 3)"


def bivariate_label(value: object) -> str:
    """Plain-English label of a bivariate class ``"d-p"`` (``"n/a"`` if not one)."""
    if _missing(value):
        return "n/a"
    s = str(value)
    if s not in BIVARIATE_COLOURS:
        return "n/a"
    d, p = (int(x) for x in s.split("-"))
    return _bivariate_label(d, p)


def _hex(colour: str) -> str:
    c = str(colour)
    if not (
        c.startswith("#")
        and len(c) in (4, 7)
        and all(ch in "0123456789abcdefABCDEF" for ch in c[1:])
    ):
        raise ValueError(f"legend colour {colour!r} is not a hex colour like '#1a2b3c'")
    return c


#: The referrer policy of every page and tile request of cnmap's maps.
REFERRER_POLICY = "strict-origin-when-cross-origin"
