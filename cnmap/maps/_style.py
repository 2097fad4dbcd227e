"""Colours, labels, attribution text and legend HTML shared by the interactive and static maps.

Every colour used by :mod:`cnmap.maps` is defined here, so that the HTML map and the report
figures agree. Legend HTML is built from constants and labels escaped by :func:`esc` only.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence

from ._safe import inert_html

__all__ = [
    "IMD_DECILE_COLOURS",
    "SHARE_BINS",
    "SHARE_COLOURS",
    "BIVARIATE_COLOURS",
    "ORG_TYPE_COLOURS",
    "OTHER_COLOUR",
    "MISSING_COLOUR",
    "THIN_COLOUR",
    "CATCHMENT_COLOUR",
    "WARD_LINE_COLOUR",
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
#: types first; further types share :data:`OTHER_COLOUR`.
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
        return IMD_DECILE_COLOURS[d - 1]
    return MISSING_COLOUR


def bivariate_colour(value: object) -> str:
    """Colour of a bivariate class ``"d-p"``; unknown -> grey."""
    if _missing(value):
        return MISSING_COLOUR
    return BIVARIATE_COLOURS.get(str(value), MISSING_COLOUR)


def type_colours(types: Iterable[object]) -> dict[str, str]:
    """Map organisation types to colours, most frequent first (ties: alphabetical).

    Missing types are labelled ``"unknown"``; types beyond the palette share
    :data:`OTHER_COLOUR`.
    """
    counts: dict[str, int] = {}
    for t in types:
        key = "unknown" if _missing(t) or str(t) == "" else str(t)
        counts[key] = counts.get(key, 0) + 1
    ordered = sorted((k for k in counts if k != "unknown"), key=lambda k: (-counts[k], k))
    out: dict[str, str] = {}
    for i, k in enumerate(ordered):
        out[k] = ORG_TYPE_COLOURS[i] if i < len(ORG_TYPE_COLOURS) else OTHER_COLOUR
    if "unknown" in counts:
        out["unknown"] = OTHER_COLOUR
    return out


# --------------------------------------------------------------------------------------
# legends
# --------------------------------------------------------------------------------------

_BOX = (
    "background:rgba(255,255,255,0.92);padding:6px 8px;border-radius:4px;"
    "box-shadow:0 0 4px rgba(0,0,0,0.3);font:12px/1.35 Arial,Helvetica,sans-serif;"
    "max-width:240px;"
)
_SWATCH = "display:inline-block;width:14px;height:12px;margin-right:6px;vertical-align:middle;"


def legend_html(
    title: str,
    items: Sequence[tuple[str, str]],
    *,
    note: str | None = None,
    shape: str = "box",
) -> str:
    """HTML of a small legend box: a title and one (colour, label) row per item.

    Titles, labels and the note are escaped here; colours must be hex strings.
    """
    radius = "border-radius:50%;" if shape == "circle" else ""
    rows = "".join(
        f'<div><span style="{_SWATCH}{radius}background:{_hex(c)};border:1px solid #555"></span>'
        f"{esc(label)}</div>"
        for c, label in items
    )
    foot = f'<div style="margin-top:3px;color:#555">{esc(note)}</div>' if note else ""
    return f'<div class="cnmap-legend" style="{_BOX}"><b>{esc(title)}</b>{rows}{foot}</div>'


def bivariate_legend_html(title: str = "Deprivation × provision") -> str:
    """HTML of the 3x3 bivariate legend (rows: provision, columns: deprivation)."""
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
    return (
        f'<div class="cnmap-legend" style="{_BOX}"><b>{esc(title)}</b>'
        '<div style="display:flex;align-items:center;margin-top:4px">'
        '<div style="writing-mode:vertical-rl;transform:rotate(180deg);font-size:11px;'
        'margin-right:3px">less provision &rarr;</div>'
        f"{table}</div>"
        '<div style="font-size:11px;margin-left:16px">more deprived &rarr;</div>'
        '<div style="font-size:11px;color:#555;margin-top:2px">dark corner: most deprived, '
        "least provision</div></div>"
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
